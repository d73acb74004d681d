package benchmarks

// Benchmarks of the forward output (issue 3, item 7), side by side with
// github.com/fluent/fluent-logger-golang used directly, sync and async. They print tables
// instead of asserting timings; the forward server is a separate process (this test binary
// started again in server mode), so the application's CPU time is the test process's own.
//
//	VLOG_BENCH_REPORT=1 go test -run 'TestForwardLatencyReport' -v -timeout 20m   # (a)
//	VLOG_BENCH_REPORT=1 go test -run 'TestForwardThroughputReport' -v             # (b)
//	VLOG_BENCH_FLUENT_ADDR=127.0.0.1:24224 VLOG_BENCH_FLUENT_PID=$(pidof fluent-bit) \
//	    go test -run 'TestForwardFluentBitReport' -v                              # (c)
//	(VLOG_BENCH_CELLS=<regexp> selects rows of (b) and (c) by name)
//	VLOG_LONG=1 go test -run 'TestForwardOutageRSS' -v                            # (d)

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/fluent/fluent-logger-golang/fluent"
	"github.com/tinylib/msgp/msgp"

	"go.vlog.dev/vlog"
)

// ---- the forward server process ----

// TestHelperForwardServer is not a test: it is the forward server process of these
// benchmarks, run when VLOG_BENCH_SERVER is set to "mode addr" (mode: fast, stall, slow). It
// prints "ready", then the number of records received whenever it changes (at most every 5ms).
func TestHelperForwardServer(t *testing.T) {
	spec := os.Getenv("VLOG_BENCH_SERVER")
	if spec == "" {
		t.Skip("helper process")
	}
	mode, addr, _ := strings.Cut(spec, " ")
	var lc net.ListenConfig
	if mode == "stall" {
		// A small receive buffer, so that a client that keeps writing to the stalled router
		// meets the stall within seconds rather than after the kernel's autotuned megabytes.
		lc.Control = func(_, _ string, c syscall.RawConn) error {
			return c.Control(func(fd uintptr) {
				_ = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 64<<10)
			})
		}
	}
	ln, err := lc.Listen(context.Background(), "tcp", addr)
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	var count atomic.Int64
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			if mode == "stall" {
				defer c.Close() // kept open, never read
				continue
			}
			go serveCount(c, &count, mode == "slow")
		}
	}()
	fmt.Println("ready")
	last := int64(-1)
	for {
		if n := count.Load(); n != last {
			fmt.Println(n)
			last = n
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// serveCount reads forward messages (Message, Forward, PackedForward), counts their records
// without decoding them, and answers the acks asked for. slow reads 16 KiB every 10 ms.
func serveCount(c net.Conn, count *atomic.Int64, slow bool) {
	defer c.Close()
	buf := make([]byte, 0, 1<<20)
	off := 0
	for {
		for off < len(buf) {
			rest, err := msgp.Skip(buf[off:])
			if errors.Is(err, msgp.ErrShortBytes) {
				break
			}
			if err != nil {
				return
			}
			msg := buf[off : len(buf)-len(rest)]
			off = len(buf) - len(rest)
			n, chunk := countMessage(msg)
			count.Add(int64(n))
			if chunk != nil {
				ack := msgp.AppendString(msgp.AppendString(msgp.AppendMapHeader(nil, 1), "ack"), string(chunk))
				if _, err := c.Write(ack); err != nil {
					return
				}
			}
		}
		buf = buf[:copy(buf, buf[off:])]
		off = 0
		if len(buf) == cap(buf) {
			buf = slices.Grow(buf, cap(buf))
		}
		want := cap(buf)
		if slow {
			time.Sleep(10 * time.Millisecond)
			want = min(want, len(buf)+16<<10)
		}
		n, err := c.Read(buf[len(buf):want])
		buf = buf[:len(buf)+n]
		if err != nil {
			return
		}
	}
}

// countMessage returns the records of one forward message and its chunk option.
func countMessage(b []byte) (int, []byte) {
	sz, b, err := msgp.ReadArrayHeaderBytes(b)
	if err != nil || sz < 2 {
		return 0, nil
	}
	if b, err = msgp.Skip(b); err != nil { // tag
		return 0, nil
	}
	n := 1
	switch msgp.NextType(b) {
	case msgp.BinType: // PackedForward: the size option, else count
		var bin []byte
		bin, b, _ = msgp.ReadBytesZC(b)
		n = -1
		if sz < 3 || !optionSize(b, &n) {
			n = 0
			for len(bin) > 0 {
				if bin, err = msgp.Skip(bin); err != nil {
					break
				}
				n++
			}
		}
		return n, optionChunk(b, sz, 2)
	case msgp.ArrayType: // Forward
		var k uint32
		k, _, _ = msgp.ReadArrayHeaderBytes(b)
		b, _ = msgp.Skip(b)
		return int(k), optionChunk(b, sz, 2)
	}
	// Message: time, record, options?
	b, _ = msgp.Skip(b)
	b, _ = msgp.Skip(b)
	return n, optionChunk(b, sz, 3)
}

func optionSize(b []byte, n *int) bool {
	m, b, err := msgp.ReadMapHeaderBytes(b)
	if err != nil {
		return false
	}
	for range m {
		var k []byte
		if k, b, err = msgp.ReadStringZC(b); err != nil {
			return false
		}
		if string(k) == "size" {
			v, _, err := msgp.ReadIntBytes(b)
			*n = v
			return err == nil
		}
		if b, err = msgp.Skip(b); err != nil {
			return false
		}
	}
	return false
}

// optionChunk returns the chunk option of a message of sz elements whose options, if any, are
// element `at` and start at b.
func optionChunk(b []byte, sz uint32, at uint32) []byte {
	if sz <= at {
		return nil
	}
	m, b, err := msgp.ReadMapHeaderBytes(b)
	if err != nil {
		return nil
	}
	for range m {
		var k []byte
		if k, b, err = msgp.ReadStringZC(b); err != nil {
			return nil
		}
		if string(k) == "chunk" {
			v, _, err := msgp.ReadStringZC(b)
			if err != nil {
				return nil
			}
			return v
		}
		if b, err = msgp.Skip(b); err != nil {
			return nil
		}
	}
	return nil
}

// server is a running server process.
type server struct {
	addr  string
	cmd   *exec.Cmd
	count atomic.Int64
	done  chan struct{}
}

// startServer starts the server process in mode fast, stall or slow; mode "refused" starts
// nothing and returns an address where nothing listens.
func startServer(t testing.TB, mode string) *server {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &server{addr: ln.Addr().String(), done: make(chan struct{})}
	_ = ln.Close()
	if mode == "refused" {
		close(s.done)
		return s
	}
	s.cmd = exec.Command(os.Args[0], "-test.run=^TestHelperForwardServer$")
	s.cmd.Env = append(os.Environ(), "VLOG_BENCH_SERVER="+mode+" "+s.addr)
	out, err := s.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(out)
	if !sc.Scan() || sc.Text() != "ready" {
		t.Fatalf("server: %q", sc.Text())
	}
	go func() {
		defer close(s.done)
		for sc.Scan() {
			if n, err := strconv.ParseInt(sc.Text(), 10, 64); err == nil {
				s.count.Store(n)
			}
		}
	}()
	t.Cleanup(s.stop)
	return s
}

func (s *server) stop() {
	if s.cmd != nil && s.cmd.Process != nil {
		_ = s.cmd.Process.Kill()
		_ = s.cmd.Wait()
	}
	<-s.done
}

// waitCount waits until the server counted n records or the count stopped moving for quiet.
func (s *server) waitCount(n int64, quiet time.Duration) int64 {
	last, since := s.count.Load(), time.Now()
	for {
		c := s.count.Load()
		if c >= n {
			return c
		}
		if c != last {
			last, since = c, time.Now()
		} else if time.Since(since) > quiet {
			return c
		}
		time.Sleep(time.Millisecond)
	}
}

// ---- the clients ----

// fwClient is one library logging the standard record to a forward server: for vlog, with the
// fixed fields, ~220 bytes of JSON (5 attributes, which slog keeps inline in the record); for
// fluent-logger-golang, the same fields in a map.
type fwClient struct {
	name   string
	log    func(seq int) error // one log call; an error means the record was rejected
	close  func() error
	stats  func() (accepted, dropped uint64) // nil: count from log's errors
	closer chan struct{}
}

func newVlogClient(addr string, env ...string) (*fwClient, error) {
	host, port, _ := net.SplitHostPort(addr)
	l, err := vlog.New(&vlog.Options{Environ: append([]string{"SERVICE=order-api", "ENV=prod", "VERSION=1.4.2",
		"FLUENT_HOST=" + host, "FLUENT_PORT=" + port}, env...)})
	if err != nil {
		return nil, err
	}
	ctx := context.Background()
	return &fwClient{
		name: "vlog",
		log: func(seq int) error {
			l.LogAttrs(ctx, slog.LevelInfo, "order created",
				slog.String("order_id", "ord-8f14e45fceea"), slog.Int("user_id", 4242),
				slog.Float64("amount", 19.99), slog.Int("items", 3), slog.Int("seq", seq))
			return nil
		},
		close: func() error {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			return l.Close(ctx)
		},
		stats: func() (uint64, uint64) {
			st := l.Stats()
			return st.Enqueued - st.Dropped.Total(), st.Dropped.Total()
		},
	}, nil
}

func newFluentClient(addr string, async bool) (*fwClient, error) {
	host, port, _ := net.SplitHostPort(addr)
	p, _ := strconv.Atoi(port)
	f, err := fluent.New(fluent.Config{FluentHost: host, FluentPort: p, Async: async, SubSecondPrecision: true})
	if err != nil {
		return nil, err
	}
	name := "fluent-logger-golang sync"
	if async {
		name = "fluent-logger-golang async"
	}
	rec := map[string]any{"level": "info", "msg": "order created", "service": "order-api", "env": "prod",
		"version": "1.4.2", "order_id": "ord-8f14e45fceea", "user_id": 4242, "amount": 19.99, "items": 3, "seq": 0}
	return &fwClient{
		name: name,
		log: func(seq int) error {
			rec["seq"] = seq // the caller's goroutine only
			return f.PostWithTime("order-api", time.Now(), rec)
		},
		close: f.Close,
	}, nil
}

// ---- (a) latency ----

type discardWriter struct{}

func (discardWriter) Write(p []byte) (int, error) { return len(p), nil }

type latencyResult struct {
	lib, scenario       string
	calls, rejected     int
	p50, p99, p999, max time.Duration
	blocked             bool // a call was still running when the cell ended
	delivered           int64
	note                string
	closeTook           time.Duration
	closeReturned       bool
}

// runLatency logs at rate records/s for d and records every call's duration.
func runLatency(t *testing.T, c *fwClient, s *server, scenario string, rate int, d time.Duration) latencyResult {
	n := int(float64(rate) * d.Seconds())
	samples := make([]int64, n)
	var done atomic.Int64
	var rejected atomic.Int64
	var callStart atomic.Int64 // unix ns of the call in progress, 0 if none
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		start := time.Now()
		interval := time.Second / time.Duration(rate)
		spin := os.Getenv("VLOG_BENCH_SPIN") != ""
		for i := range n {
			if wait := time.Until(start.Add(time.Duration(i) * interval)); wait > 0 {
				if spin {
					// A busy caller: the goroutine keeps its CPU between calls.
					for time.Until(start.Add(time.Duration(i)*interval)) > 0 {
					}
				} else {
					time.Sleep(wait)
				}
			}
			t0 := time.Now()
			callStart.Store(t0.UnixNano())
			if err := c.log(i); err != nil {
				rejected.Add(1)
			}
			samples[i] = int64(time.Since(t0))
			callStart.Store(0)
			done.Store(int64(i + 1))
		}
	}()
	res := latencyResult{lib: c.name, scenario: scenario}
	select {
	case <-finished:
	case <-time.After(d + 3*time.Second):
		res.blocked = true
	}
	k := int(done.Load())
	got := slices.Clone(samples[:k])
	if cs := callStart.Load(); cs != 0 {
		got = append(got, time.Now().UnixNano()-cs)
	}
	slices.Sort(got)
	res.calls, res.rejected = k, int(rejected.Load())
	if len(got) > 0 {
		q := func(p float64) time.Duration { return time.Duration(got[min(len(got)-1, int(p*float64(len(got))))]) }
		res.p50, res.p99, res.p999, res.max = q(0.5), q(0.99), q(0.999), time.Duration(got[len(got)-1])
	}
	if c.stats != nil {
		_, dropped := c.stats()
		res.rejected = int(dropped)
	}
	// Close, bounded: a library whose Close never returns is reported as such.
	closed := make(chan struct{})
	start := time.Now()
	go func() { _ = c.close(); close(closed) }()
	select {
	case <-closed:
		res.closeReturned = true
	case <-time.After(5 * time.Second):
	}
	res.closeTook = time.Since(start)
	res.delivered = s.waitCount(int64(k), 300*time.Millisecond)
	return res
}

func benchReport(t *testing.T) {
	if os.Getenv("VLOG_BENCH_REPORT") == "" {
		t.Skip("set VLOG_BENCH_REPORT=1 to run the report (see the top of forward_test.go)")
	}
}

// TestForwardLatencyReport is benchmark (a): the latency of a log call with the router
// healthy, refused, stalled and slow, for vlog and fluent-logger-golang (sync and async),
// 10k records/s for 3s per cell. Timings are printed, never asserted.
func TestForwardLatencyReport(t *testing.T) {
	benchReport(t)
	rate, d := 10000, 3*time.Second
	if v, err := strconv.Atoi(os.Getenv("VLOG_BENCH_RATE")); err == nil {
		rate = v
	}
	var rows []latencyResult
	// The floor of the harness on this machine: the same loop around an empty call.
	{
		s := startServer(t, "refused")
		noop := &fwClient{name: "(empty call: the harness's floor)", log: func(int) error { return nil }, close: func() error { return nil }}
		rows = append(rows, runLatency(t, noop, s, "-", rate, d))
		// The same log call through vlog's handler into a discarding writer, no buffer.
		l, err := vlog.New(&vlog.Options{Environ: []string{"SERVICE=order-api", "ENV=prod", "VERSION=1.4.2"},
			Output: vlog.OutputStdout, Writer: discardWriter{}})
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		h := &fwClient{name: "(vlog to a discarding writer: encoding only)", close: func() error { return nil },
			log: func(seq int) error {
				l.LogAttrs(ctx, slog.LevelInfo, "order created",
					slog.String("order_id", "ord-8f14e45fceea"), slog.Int("user_id", 4242),
					slog.Float64("amount", 19.99), slog.Int("items", 3), slog.Int("seq", seq))
				return nil
			}}
		rows = append(rows, runLatency(t, h, s, "-", rate, d))
	}
	for _, scenario := range []string{"healthy", "refused", "stalled", "slow"} {
		for _, lib := range []string{"vlog", "fluent-async", "fluent-sync"} {
			// refused: the router is up when the client starts (fluent-logger-golang's sync
			// mode fails New otherwise), then gone: every connection attempt is refused.
			s := startServer(t, map[string]string{"healthy": "fast", "refused": "fast", "stalled": "stall", "slow": "slow"}[scenario])
			var c *fwClient
			var err error
			switch lib {
			case "vlog":
				c, err = newVlogClient(s.addr)
			case "fluent-async":
				c, err = newFluentClient(s.addr, true)
			case "fluent-sync":
				c, err = newFluentClient(s.addr, false)
			}
			if err != nil {
				t.Fatal(err)
			}
			if scenario == "refused" {
				_ = c.log(-1) // connect
				time.Sleep(100 * time.Millisecond)
				s.stop()
			}
			r := runLatency(t, c, s, scenario, rate, d)
			rows = append(rows, r)
			s.stop()
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "\nlog-call latency, %d records/s for %v per cell (GOMAXPROCS=%s)\n", rate, d, os.Getenv("GOMAXPROCS"))
	fmt.Fprintf(&b, "| router | library | calls made | p50 | p99 | p99.9 | max | rejected/dropped | delivered | Close |\n|---|---|---|---|---|---|---|---|---|---|\n")
	for _, r := range rows {
		max := r.max.String()
		if r.blocked {
			max = ">= " + r.max.Round(time.Millisecond).String() + " (blocked)"
		}
		cl := r.closeTook.Round(time.Millisecond).String()
		if !r.closeReturned {
			cl = "no return in 5s"
		}
		fmt.Fprintf(&b, "| %s | %s | %d | %v | %v | %v | %s | %d | %d | %s |\n", r.scenario, r.lib, r.calls,
			r.p50, r.p99, r.p999, max, r.rejected, r.delivered, cl)
	}
	t.Log(b.String())
}

// ---- (b) throughput and CPU ----

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

type throughputResult struct {
	lib                    string
	logged, rejected       int64
	delivered              int64
	wall, cpu              time.Duration
	logRate, deliveredRate float64
	cpuPerRecord           time.Duration
	extCPU                 time.Duration // the router's CPU (real Fluent Bit), if known
}

// runThroughput logs up to n records from `producers` goroutines (flat out, or paced at rate
// records/s in all when rate > 0) for at most d, then waits for the deliveries.
func runThroughput(t *testing.T, c *fwClient, count func() int64, n, producers, rate int, d time.Duration, routerCPU func() time.Duration) throughputResult {
	debugGC()
	cpu0, rcpu0, start := cpuTime(), time.Duration(0), time.Now()
	if routerCPU != nil {
		rcpu0 = routerCPU()
	}
	var logged, rejected atomic.Int64
	var wg sync.WaitGroup
	for p := range producers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var nl, nr int64
			for i := 0; i < n/producers; i++ {
				if err := c.log(p*n + i); err != nil {
					nr++
				}
				nl++
				if i%1024 == 0 {
					el := time.Since(start)
					if el > d {
						break
					}
					if rate > 0 {
						if ahead := time.Duration(float64(i)/float64(rate/producers)*float64(time.Second)) - el; ahead > 0 {
							time.Sleep(ahead)
						}
					}
				}
			}
			logged.Add(nl)
			rejected.Add(nr)
		}()
	}
	wg.Wait()
	logWall := time.Since(start)
	want := logged.Load() - rejected.Load()
	if c.stats != nil {
		accepted, dropped := c.stats()
		want = int64(accepted)
		rejected.Store(int64(dropped))
	}
	// Wait for the deliveries, up to 10s without progress.
	var delivered int64
	last, since := int64(-1), time.Now()
	for {
		delivered = count()
		if delivered >= want {
			break
		}
		if delivered != last {
			last, since = delivered, time.Now()
		} else if time.Since(since) > 2*time.Second {
			break
		}
		time.Sleep(200 * time.Microsecond)
	}
	wall, cpu := time.Since(start), cpuTime()-cpu0
	r := throughputResult{lib: c.name, logged: logged.Load(), rejected: rejected.Load(), delivered: delivered, wall: wall, cpu: cpu}
	if routerCPU != nil {
		r.extCPU = routerCPU() - rcpu0
	}
	r.logRate = float64(r.logged) / logWall.Seconds()
	r.deliveredRate = float64(delivered) / wall.Seconds()
	if delivered > 0 {
		r.cpuPerRecord = cpu / time.Duration(delivered)
	}
	closed := make(chan struct{})
	go func() { _ = c.close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Logf("%s: Close did not return in 5s", c.name)
	}
	return r
}

type cell struct {
	name      string
	make      func(addr string) (*fwClient, error)
	n         int
	producers int
	rate      int
	limit     time.Duration
}

func throughputCells() []cell {
	v := func(env ...string) func(string) (*fwClient, error) {
		return func(a string) (*fwClient, error) { return newVlogClient(a, env...) }
	}
	f := func(async bool) func(string) (*fwClient, error) {
		return func(a string) (*fwClient, error) { return newFluentClient(a, async) }
	}
	const n, d = 4_000_000, 3 * time.Second
	return []cell{
		{"vlog (defaults: ack, no compression), 1 goroutine", v(), n, 1, 0, d},
		{"vlog (defaults), 2 goroutines", v(), n, 2, 0, d},
		{"vlog (defaults), 2 goroutines paced at 1M/s", v(), n, 2, 1_000_000, d},
		{"vlog, VLOG_FLUENT_ACK=false, 2 goroutines", v("VLOG_FLUENT_ACK=false"), n, 2, 0, d},
		{"vlog, VLOG_FLUENT_COMPRESS=gzip, 2 goroutines", v("VLOG_FLUENT_COMPRESS=gzip"), n, 2, 0, d},
		{"fluent-logger-golang async, 1 goroutine", f(true), n, 1, 0, d},
		{"fluent-logger-golang sync, 1 goroutine", f(false), n, 1, 0, d},
	}
}

func printThroughput(t *testing.T, title string, rows []throughputResult, ext bool) {
	var b strings.Builder
	fmt.Fprintf(&b, "\n%s\n", title)
	fmt.Fprintf(&b, "| client | logged | rejected/dropped | delivered | log calls/s | delivered/s | app CPU per delivered record |")
	if ext {
		fmt.Fprintf(&b, " Fluent Bit CPU per delivered record |")
	}
	fmt.Fprintf(&b, "\n|---|---|---|---|---|---|---|%s\n", map[bool]string{true: "---|"}[ext])
	for _, r := range rows {
		fmt.Fprintf(&b, "| %s | %d | %d | %d | %.0f | %.0f | %.2f us |", r.lib, r.logged, r.rejected, r.delivered,
			r.logRate, r.deliveredRate, float64(r.cpuPerRecord)/1e3)
		if ext {
			per := 0.0
			if r.delivered > 0 {
				per = float64(r.extCPU) / float64(r.delivered) / 1e3
			}
			fmt.Fprintf(&b, " %.2f us |", per)
		}
		b.WriteString("\n")
	}
	t.Log(b.String())
}

// TestForwardThroughputReport is benchmark (b): delivered records/s and the application's CPU
// per delivered record, ~200-byte records, to a local forward server process that counts them.
func TestForwardThroughputReport(t *testing.T) {
	benchReport(t)
	only := regexp.MustCompile(os.Getenv("VLOG_BENCH_CELLS"))
	var rows []throughputResult
	for _, c := range throughputCells() {
		if !only.MatchString(c.name) {
			continue
		}
		s := startServer(t, "fast")
		cl, err := c.make(s.addr)
		if err != nil {
			t.Fatal(err)
		}
		r := runThroughput(t, cl, s.count.Load, c.n, c.producers, c.rate, c.limit, nil)
		r.lib = c.name
		rows = append(rows, r)
		s.stop()
	}
	printThroughput(t, "throughput to a local forward server (records of ~200 bytes, one logging goroutine)", rows, false)
}

// ---- (c) a real Fluent Bit ----

// fluentBitCPU reads the CPU time of process pid from /proc (utime + stime, clock ticks of
// 10ms).
func fluentBitCPU(pid string) func() time.Duration {
	return func() time.Duration {
		b, err := os.ReadFile("/proc/" + pid + "/stat")
		if err != nil {
			return 0
		}
		s := string(b)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
		ut, _ := strconv.ParseInt(f[11], 10, 64)
		st, _ := strconv.ParseInt(f[12], 10, 64)
		return time.Duration(ut+st) * 10 * time.Millisecond
	}
}

// TestForwardFluentBitReport is benchmark (c): the same clients into a real Fluent Bit
// (tests/forward/testdata/fluent-bit-null.conf: forward input, null output) at
// VLOG_BENCH_FLUENT_ADDR, with its CPU read from /proc/$VLOG_BENCH_FLUENT_PID/stat. Delivered
// means acknowledged by Fluent Bit for vlog (acks on), and accepted by Post for
// fluent-logger-golang (which has no way to know more).
func TestForwardFluentBitReport(t *testing.T) {
	addr, pid := os.Getenv("VLOG_BENCH_FLUENT_ADDR"), os.Getenv("VLOG_BENCH_FLUENT_PID")
	if addr == "" || pid == "" {
		t.Skip("set VLOG_BENCH_FLUENT_ADDR and VLOG_BENCH_FLUENT_PID (a Fluent Bit with tests/forward/testdata/fluent-bit-null.conf)")
	}
	v := func(env ...string) func(string) (*fwClient, error) {
		return func(a string) (*fwClient, error) { return newVlogClient(a, env...) }
	}
	const n, d = 4_000_000, 3 * time.Second
	cells := []cell{
		{"vlog (defaults: ack, no compression), flat out", v(), n, 1, 0, d},
		{"vlog (defaults), paced at 100k/s", v(), n, 1, 100_000, d},
		{"vlog (defaults), paced at 200k/s", v(), n, 1, 200_000, d},
		{"vlog (defaults), paced at 300k/s", v(), n, 1, 300_000, d},
		{"vlog, VLOG_BATCH_MAX_SIZE=256KiB (batches not growing), paced at 300k/s", v("VLOG_BATCH_MAX_SIZE=256KiB"), n, 1, 300_000, d},
		{"vlog, VLOG_BATCH_SIZE=64KiB (not growing), paced at 300k/s", v("VLOG_BATCH_SIZE=64KiB", "VLOG_BATCH_MAX_SIZE=64KiB"), n, 1, 300_000, d},
		{"vlog, VLOG_FLUENT_ACK=false, paced at 300k/s", v("VLOG_FLUENT_ACK=false"), n, 1, 300_000, d},
		{"vlog, VLOG_FLUENT_COMPRESS=gzip, paced at 100k/s", v("VLOG_FLUENT_COMPRESS=gzip"), n, 1, 100_000, d},
		{"fluent-logger-golang async, flat out", func(a string) (*fwClient, error) { return newFluentClient(a, true) }, n, 1, 0, d},
		{"fluent-logger-golang sync, flat out", func(a string) (*fwClient, error) { return newFluentClient(a, false) }, n, 1, 0, d},
	}
	only := regexp.MustCompile(os.Getenv("VLOG_BENCH_CELLS"))
	var rows []throughputResult
	for _, c := range cells {
		if !only.MatchString(c.name) {
			continue
		}
		cl, err := c.make(addr)
		if err != nil {
			t.Fatal(err)
		}
		var count func() int64
		if cl.stats != nil {
			// vlog: what the buffer counts as delivered (acknowledged, with acks on).
			l := cl
			count = func() int64 { a, _ := l.stats(); return int64(a) }
		}
		var posted atomic.Int64
		if count == nil {
			inner := cl.log
			cl.log = func(seq int) error {
				err := inner(seq)
				if err == nil {
					posted.Add(1)
				}
				return err
			}
			count = posted.Load
		}
		r := runThroughput(t, cl, count, c.n, c.producers, c.rate, c.limit, fluentBitCPU(pid))
		r.lib = c.name
		if cl.stats != nil {
			// Delivered by vlog's own count: re-read after Close.
			r.delivered = count()
		}
		rows = append(rows, r)
		time.Sleep(2 * time.Second) // let Fluent Bit drain before the next client
	}
	printThroughput(t, "throughput into a real Fluent Bit (forward input, null output)", rows, true)
}

// ---- (d) memory during an outage ----

func rss() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// TestForwardOutageRSS is benchmark (d): a 60s router outage (connection refused) at 50k
// records/s; the resident memory must stay within the buffer size plus a fixed overhead.
// VLOG_LONG=1 runs it; VLOG_OUTAGE=10s shortens it.
func TestForwardOutageRSS(t *testing.T) {
	if os.Getenv("VLOG_LONG") == "" {
		t.Skip("set VLOG_LONG=1 to run the 60s outage")
	}
	outage := 60 * time.Second
	if d, err := time.ParseDuration(os.Getenv("VLOG_OUTAGE")); err == nil {
		outage = d
	}
	s := startServer(t, "refused")
	c, err := newVlogClient(s.addr)
	if err != nil {
		t.Fatal(err)
	}
	const bufSize = 8 << 20
	debugGC()
	base := rss()
	var peak int64
	start := time.Now()
	const rate = 50000
	for i := 0; time.Since(start) < outage; i++ {
		_ = c.log(i)
		if i%500 == 0 {
			if ahead := time.Duration(float64(i)/rate*float64(time.Second)) - time.Since(start); ahead > 0 {
				time.Sleep(ahead)
			}
		}
		if i%rate == 0 {
			r := rss()
			peak = max(peak, r)
			if i%(10*rate) == 0 {
				acc, dropped := c.stats()
				t.Logf("t=%v rss=%.1f MiB (base %.1f MiB) buffered+sent=%d dropped=%d", time.Since(start).Round(time.Second),
					float64(r)/(1<<20), float64(base)/(1<<20), acc, dropped)
			}
		}
	}
	_ = c.close()
	growth := peak - base
	t.Logf("outage %v at %d records/s: peak RSS %.1f MiB, growth over the start %.1f MiB (buffer %d MiB)",
		outage, rate, float64(peak)/(1<<20), float64(growth)/(1<<20), bufSize>>20)
	// The bound: the buffer, once more for the batches recycled beside it, and 16 MiB of
	// runtime overhead (GC headroom, goroutine stacks).
	if limit := int64(2*bufSize + 16<<20); growth > limit {
		t.Fatalf("RSS grew %d MiB, more than %d MiB", growth>>20, limit>>20)
	}
}

func debugGC() { runtime.GC() }
