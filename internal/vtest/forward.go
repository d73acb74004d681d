package vtest

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tinylib/msgp/msgp"
)

// ForwardMessage is one forward message as the test server decoded it.
type ForwardMessage struct {
	Tag        string
	Mode       string // "packed" (the only mode the transport sends)
	Size       int    // the size option, -1 if absent
	Chunk      string
	Compressed string
	Entries    []ForwardEntry
	BinLen     int // length of the bin as received
	PlainLen   int // length of the entries after decompression
}

type ForwardEntry struct {
	Sec, Nsec uint32
	Rec       map[string]any
}

// ForwardSink is the one forward-protocol sink of the test suites: a small server that
// decodes PackedForward messages strictly (the test fails on anything else: see
// CheckErrors) and answers acks according to its mode.
type ForwardSink struct {
	t    testing.TB
	ln   net.Listener
	mode string // "ack" (answer acks), "noack" (never answer), "wrongack", "noread" (accept, never read), "close" (close after reading one message)

	mu    sync.Mutex
	msgs  []ForwardMessage
	conns []net.Conn
	errs  []error
	wg    sync.WaitGroup
}

func NewForwardSink(t testing.TB, network, addr, mode string) *ForwardSink {
	t.Helper()
	ln, err := net.Listen(network, addr)
	if err != nil {
		t.Fatal(err)
	}
	s := &ForwardSink{t: t, ln: ln, mode: mode}
	s.wg.Add(1)
	go s.accept()
	t.Cleanup(s.Stop)
	return s
}

func (s *ForwardSink) Addr() string { return s.ln.Addr().String() }

func (s *ForwardSink) accept() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		s.conns = append(s.conns, c)
		s.mu.Unlock()
		if s.mode == "noread" {
			continue
		}
		s.wg.Add(1)
		go s.serve(c)
	}
}

// Stop closes the listener and every connection and waits for the goroutines.
func (s *ForwardSink) Stop() {
	_ = s.ln.Close()
	s.mu.Lock()
	for _, c := range s.conns {
		_ = c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}

func (s *ForwardSink) Messages() []ForwardMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]ForwardMessage(nil), s.msgs...)
}

func (s *ForwardSink) Records() []map[string]any {
	var out []map[string]any
	for _, m := range s.Messages() {
		for _, e := range m.Entries {
			out = append(out, e.Rec)
		}
	}
	return out
}

// WaitRecords waits (up to 5s) until the server decoded n records: without acks, Send returns
// before the server has read them.
func (s *ForwardSink) WaitRecords(n int) {
	deadline := time.Now().Add(5 * time.Second)
	for len(s.Records()) < n && time.Now().Before(deadline) {
		time.Sleep(2 * time.Millisecond)
	}
}

// AsInt returns an integer decoded from msgpack (int64 or, from 128 up, uint64), -1 otherwise.
func AsInt(v any) int64 {
	switch v := v.(type) {
	case int64:
		return v
	case uint64:
		return int64(v)
	}
	return -1
}

func (s *ForwardSink) fail(err error) {
	s.mu.Lock()
	s.errs = append(s.errs, err)
	s.mu.Unlock()
}

func (s *ForwardSink) CheckErrors() {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, err := range s.errs {
		s.t.Error("server:", err)
	}
}

func (s *ForwardSink) serve(c net.Conn) {
	defer s.wg.Done()
	defer c.Close()
	r := msgp.NewReader(c)
	for {
		m, err := ReadForwardMessage(r)
		if err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) && !strings.Contains(err.Error(), "reset") {
				s.fail(err)
			}
			return
		}
		s.mu.Lock()
		s.msgs = append(s.msgs, m)
		s.mu.Unlock()
		switch s.mode {
		case "ack":
			if m.Chunk != "" {
				ack := msgp.AppendString(msgp.AppendString(msgp.AppendMapHeader(nil, 1), "ack"), m.Chunk)
				if _, err := c.Write(ack); err != nil {
					return
				}
			}
		case "wrongack":
			ack := msgp.AppendString(msgp.AppendString(msgp.AppendMapHeader(nil, 1), "ack"), "nope")
			_, _ = c.Write(ack)
		case "close":
			return
		}
	}
}

// ReadForwardMessage reads one PackedForward message strictly: [tag, bin, options].
func ReadForwardMessage(r *msgp.Reader) (ForwardMessage, error) {
	m := ForwardMessage{Size: -1, Mode: "packed"}
	n, err := r.ReadArrayHeader()
	if err != nil {
		return m, err
	}
	if n != 3 {
		return m, fmt.Errorf("message of %d elements, want 3", n)
	}
	if m.Tag, err = r.ReadString(); err != nil {
		return m, fmt.Errorf("tag: %w", err)
	}
	if typ, _ := r.NextType(); typ != msgp.BinType {
		return m, fmt.Errorf("entries of type %v, want bin (PackedForward)", typ)
	}
	bin, err := r.ReadBytes(nil)
	if err != nil {
		return m, fmt.Errorf("entries: %w", err)
	}
	m.BinLen = len(bin)
	no, err := r.ReadMapHeader()
	if err != nil {
		return m, fmt.Errorf("options: %w", err)
	}
	for range no {
		k, err := r.ReadString()
		if err != nil {
			return m, err
		}
		switch k {
		case "size":
			if m.Size, err = r.ReadInt(); err != nil {
				return m, err
			}
		case "chunk":
			if m.Chunk, err = r.ReadString(); err != nil {
				return m, err
			}
		case "compressed":
			if m.Compressed, err = r.ReadString(); err != nil {
				return m, err
			}
		default:
			return m, fmt.Errorf("unknown option %q", k)
		}
	}
	if m.Compressed == "gzip" {
		zr, err := gzip.NewReader(bytes.NewReader(bin))
		if err != nil {
			return m, err
		}
		if bin, err = io.ReadAll(zr); err != nil {
			return m, err
		}
	} else if m.Compressed != "" {
		return m, fmt.Errorf("compressed %q", m.Compressed)
	}
	m.PlainLen = len(bin)
	for len(bin) > 0 {
		var e ForwardEntry
		if len(bin) < 11 || bin[0] != 0x92 || bin[1] != 0xd7 || bin[2] != 0 {
			return m, fmt.Errorf("entry does not start with [EventTime: % x", bin[:min(len(bin), 11)])
		}
		e.Sec, e.Nsec = binary.BigEndian.Uint32(bin[3:]), binary.BigEndian.Uint32(bin[7:])
		v, rest, err := DecodeMsgpack(bin[11:])
		if err != nil {
			return m, fmt.Errorf("record: %w", err)
		}
		rec, ok := v.(map[string]any)
		if !ok {
			return m, fmt.Errorf("record of type %T", v)
		}
		e.Rec, bin = rec, rest
		m.Entries = append(m.Entries, e)
	}
	if m.Size != len(m.Entries) {
		return m, fmt.Errorf("size option %d, %d entries", m.Size, len(m.Entries))
	}
	return m, nil
}

// NewForwardSinkOn is NewForwardSink serving connections from ln (a TLS listener, say) instead of its own.
func NewForwardSinkOn(t testing.TB, ln net.Listener, mode string) *ForwardSink {
	s := &ForwardSink{t: t, ln: ln, mode: mode}
	s.wg.Add(1)
	go s.accept()
	t.Cleanup(s.Stop)
	return s
}

// Tags returns the tag of every record received, in order.
func (s *ForwardSink) Tags() []string {
	var out []string
	for _, m := range s.Messages() {
		for range m.Entries {
			out = append(out, m.Tag)
		}
	}
	return out
}

// DecodeMsgpack decodes one msgpack value with tinylib/msgp's primitives. (msgp.ReadIntfBytes
// itself fails on maps with duplicate empty keys, such as {"":"","":""}; the primitives are
// what is being used as the oracle.)
func DecodeMsgpack(b []byte) (any, []byte, error) {
	switch msgp.NextType(b) {
	case msgp.MapType:
		n, b, err := msgp.ReadMapHeaderBytes(b)
		if err != nil {
			return nil, b, err
		}
		m := make(map[string]any, n)
		for range n {
			var k string
			var v any
			if k, b, err = msgp.ReadStringBytes(b); err != nil {
				return nil, b, err
			}
			if v, b, err = DecodeMsgpack(b); err != nil {
				return nil, b, err
			}
			m[k] = v
		}
		return m, b, nil
	case msgp.ArrayType:
		n, b, err := msgp.ReadArrayHeaderBytes(b)
		if err != nil {
			return nil, b, err
		}
		a := make([]any, n)
		for i := range a {
			if a[i], b, err = DecodeMsgpack(b); err != nil {
				return nil, b, err
			}
		}
		return a, b, nil
	}
	return msgp.ReadIntfBytes(b)
}
