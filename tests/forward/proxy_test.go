package forward

import (
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// proxy is a TCP proxy in front of a forward server, to inject faults:
//   - pass: copy both ways;
//   - stall: stop reading from the clients (the router accepts but never reads); new
//     connections are accepted and stalled too;
//   - delay: read at most 16 KiB from a client every 10 ms (a slow router);
//   - resetAfter: reset (RST) each client connection after it forwarded n more bytes, in the
//     middle of a message;
//   - closeConns: close every connection gracefully (FIN) and keep accepting (a router that
//     drops its clients, e.g. when it hits its memory limit);
//   - down/up: close every connection and refuse new ones (a router restart), then listen again
//     on the same address.
type proxy struct {
	t        *testing.T
	addr     string
	upstream string

	mu         sync.Mutex
	ln         net.Listener
	mode       string
	resetAfter int
	conns      map[net.Conn]bool
	cond       *sync.Cond
	wg         sync.WaitGroup
	resets     int
}

func newProxy(t *testing.T, upstream string) *proxy {
	t.Helper()
	p := &proxy{t: t, upstream: upstream, mode: "pass", conns: map[net.Conn]bool{}}
	p.cond = sync.NewCond(&p.mu)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p.addr = ln.Addr().String()
	p.serve(ln)
	t.Cleanup(p.close)
	return p
}

func (p *proxy) serve(ln net.Listener) {
	p.ln = ln
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", p.upstream)
			if err != nil {
				_ = c.Close()
				continue
			}
			p.mu.Lock()
			p.conns[c], p.conns[up] = true, true
			p.mu.Unlock()
			p.wg.Add(2)
			go p.pipe(c, up, true)
			go p.pipe(up, c, false)
		}
	}()
}

// pipe copies src to dst; fromClient applies the fault modes.
func (p *proxy) pipe(src, dst net.Conn, fromClient bool) {
	defer p.wg.Done()
	defer func() {
		_ = src.Close()
		_ = dst.Close()
		p.mu.Lock()
		delete(p.conns, src)
		delete(p.conns, dst)
		p.mu.Unlock()
	}()
	if !fromClient {
		_, _ = io.Copy(dst, src)
		return
	}
	buf := make([]byte, 64<<10)
	budget := -1
	for {
		p.mu.Lock()
		for p.mode == "stall" {
			p.cond.Wait()
		}
		mode, n := p.mode, len(buf)
		if mode == "reset" && budget < 0 {
			budget = p.resetAfter
		}
		if mode != "reset" {
			budget = -1
		}
		p.mu.Unlock()
		if mode == "delay" {
			n = 16 << 10
			time.Sleep(10 * time.Millisecond)
		}
		if budget >= 0 {
			if budget == 0 {
				if tc, ok := src.(*net.TCPConn); ok {
					_ = tc.SetLinger(0) // RST, not FIN
				}
				p.mu.Lock()
				p.resets++
				p.mu.Unlock()
				return
			}
			n = min(n, budget)
		}
		k, err := src.Read(buf[:n])
		if k > 0 {
			if budget > 0 {
				budget -= k
			}
			if _, werr := dst.Write(buf[:k]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func (p *proxy) set(mode string) {
	p.mu.Lock()
	p.mode = mode
	p.cond.Broadcast()
	p.mu.Unlock()
}

// setReset resets every client connection after it forwarded n more bytes.
func (p *proxy) setReset(n int) {
	p.mu.Lock()
	p.mode, p.resetAfter = "reset", n
	p.cond.Broadcast()
	p.mu.Unlock()
}

// down closes the listener and every connection (with RST), so that new dials are refused.
func (p *proxy) down() {
	p.mu.Lock()
	_ = p.ln.Close()
	for c := range p.conns {
		if tc, ok := c.(*net.TCPConn); ok {
			_ = tc.SetLinger(0)
		}
		_ = c.Close()
	}
	p.mu.Unlock()
}

// closeConns closes every connection with a FIN; new connections are accepted as before.
func (p *proxy) closeConns() {
	p.mu.Lock()
	for c := range p.conns {
		_ = c.Close()
	}
	p.mu.Unlock()
}

// up listens again on the same address.
func (p *proxy) up() {
	p.t.Helper()
	var ln net.Listener
	var err error
	for range 50 {
		if ln, err = net.Listen("tcp", p.addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		p.t.Fatal(err)
	}
	p.mu.Lock()
	p.serve(ln)
	p.mu.Unlock()
}

func (p *proxy) close() {
	p.set("pass")
	p.down()
	p.wg.Wait()
}
