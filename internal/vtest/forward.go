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
	Mode       string // "packed" (the only mode the transport sends) or, with WithMessageMode, "message"
	Size       int    // the size option, -1 if absent
	Chunk      string
	Compressed string
	Entries    []ForwardEntry
	BinLen     int // length of the bin as received
	PlainLen   int // length of the entries after decompression
	// Raw is, in Message mode only, the message's elements as msgp (an independent decoder)
	// reads them: tag, time (*msgp.RawExtension for an EventTime), record, option if sent. It is
	// for tests that check the wire form.
	Raw []any
}

// ForwardEntry is one event of a message: its time and record.
type ForwardEntry struct {
	Sec, Nsec uint32
	Rec       map[string]any
}

// ForwardSink is the one forward-protocol sink of the test suites: a small server that
// decodes PackedForward messages strictly (the test fails on anything else: see
// CheckErrors) and answers acks according to its mode and options.
type ForwardSink struct {
	t    testing.TB
	ln   net.Listener
	mode string // see NewForwardSink

	// The options, set by the ForwardOptions before the first connection.
	messageMode bool
	wrongAck    string
	forward     func(tag string, rec map[string]any)

	mu    sync.Mutex
	msgs  []ForwardMessage
	conns []net.Conn
	errs  []error
	wg    sync.WaitGroup
}

// ForwardOption is an option of NewForwardSink and NewForwardSinkOn: the sink reads and
// answers as the options say from its first connection on.
type ForwardOption func(*ForwardSink)

// WithMessageMode accepts Message-mode messages, [tag, time, record, option?] (what
// vlog-verify sends), besides PackedForward ones.
func WithMessageMode() ForwardOption { return func(s *ForwardSink) { s.messageMode = true } }

// WithWrongAck sets the chunk id mode "wrongack" acknowledges (default "nope"), for a test that
// checks the client names it.
func WithWrongAck(chunk string) ForwardOption { return func(s *ForwardSink) { s.wrongAck = chunk } }

// WithForward gives fn every record received, with its tag, before the ack, as a router's
// output would be (to deliver it to a fake VictoriaLogs with Store, say). fn runs on the
// connection's goroutine.
func WithForward(fn func(tag string, rec map[string]any)) ForwardOption {
	return func(s *ForwardSink) { s.forward = fn }
}

// NewForwardSink starts a sink listening on network and addr, stopped at the end of the test.
// mode is "ack" (answer acks), "noack" (never answer), "wrongack" (acknowledge another chunk:
// see WithWrongAck), "noread" (accept, never read), "close" (close after reading one message)
// or "reset" (read one byte, then reset the connection, as Fluent Bit does on a message it
// rejects).
func NewForwardSink(t testing.TB, network, addr, mode string, opts ...ForwardOption) *ForwardSink {
	t.Helper()
	ln, err := net.Listen(network, addr)
	if err != nil {
		t.Fatal(err)
	}
	return NewForwardSinkOn(t, ln, mode, opts...)
}

func (s *ForwardSink) start() {
	s.wg.Add(1)
	go s.accept()
	s.t.Cleanup(s.Stop)
}

// Addr returns the address the sink listens on.
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

// Messages returns the messages decoded, in order of arrival.
func (s *ForwardSink) Messages() []ForwardMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]ForwardMessage(nil), s.msgs...)
}

// Records returns the record of every entry decoded, in order.
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

// CheckErrors fails the test with every message the sink could not decode.
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
	if s.mode == "reset" {
		_, _ = c.Read(make([]byte, 1))
		if tc, ok := c.(*net.TCPConn); ok {
			_ = tc.SetLinger(0) // the close sends a RST
		}
		return
	}
	r := msgp.NewReader(c)
	for {
		m, err := readForwardMessage(r, s.messageMode)
		if err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) && !strings.Contains(err.Error(), "reset") {
				s.fail(err)
			}
			return
		}
		s.mu.Lock()
		s.msgs = append(s.msgs, m)
		s.mu.Unlock()
		if s.forward != nil {
			for _, e := range m.Entries {
				s.forward(m.Tag, e.Rec)
			}
		}
		switch s.mode {
		case "ack":
			if m.Chunk != "" {
				ack := msgp.AppendString(msgp.AppendString(msgp.AppendMapHeader(nil, 1), "ack"), m.Chunk)
				if _, err := c.Write(ack); err != nil {
					return
				}
			}
		case "wrongack":
			ack := msgp.AppendString(msgp.AppendString(msgp.AppendMapHeader(nil, 1), "ack"), s.wrongAck)
			_, _ = c.Write(ack)
		case "close":
			return
		}
	}
}

// ReadForwardMessage reads one PackedForward message strictly: [tag, bin, options].
func ReadForwardMessage(r *msgp.Reader) (ForwardMessage, error) {
	return readForwardMessage(r, false)
}

// readForwardMessage is ReadForwardMessage reading, with messageMode, Message-mode messages
// too.
func readForwardMessage(r *msgp.Reader, messageMode bool) (ForwardMessage, error) {
	m := ForwardMessage{Size: -1, Mode: "packed"}
	n, err := r.ReadArrayHeader()
	if err != nil {
		return m, err
	}
	if n != 3 && !messageMode {
		return m, fmt.Errorf("message of %d elements, want 3", n)
	}
	if m.Tag, err = r.ReadString(); err != nil {
		return m, fmt.Errorf("tag: %w", err)
	}
	typ, _ := r.NextType()
	if messageMode && typ != msgp.BinType {
		return readMessageMode(r, m, n)
	}
	if n != 3 {
		return m, fmt.Errorf("message of %d elements, want 3", n)
	}
	if typ != msgp.BinType {
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

// readMessageMode reads the rest of a Message-mode message, [tag, time, record, option?], of n
// elements whose tag was read: the time an EventTime or an integer, the only option chunk.
func readMessageMode(r *msgp.Reader, m ForwardMessage, n uint32) (ForwardMessage, error) {
	m.Mode = "message"
	if n != 3 && n != 4 {
		return m, fmt.Errorf("message-mode message of %d elements, want 3 or 4", n)
	}
	m.Raw = []any{m.Tag}
	var e ForwardEntry
	for i := uint32(1); i < n; i++ {
		var raw msgp.Raw
		if err := raw.DecodeMsg(r); err != nil {
			return m, fmt.Errorf("element %d: %w", i, err)
		}
		var v any
		var err error
		if i == 1 {
			v, _, err = msgp.ReadIntfBytes(raw)
		} else {
			v, _, err = DecodeMsgpack(raw)
		}
		if err != nil {
			return m, fmt.Errorf("element %d: %w", i, err)
		}
		m.Raw = append(m.Raw, v)
		switch i {
		case 1:
			switch t := v.(type) {
			case *msgp.RawExtension:
				if t.Type != 0 || len(t.Data) != 8 {
					return m, fmt.Errorf("time: extension type %d of %d bytes, want an EventTime (type 0, 8 bytes)", t.Type, len(t.Data))
				}
				e.Sec, e.Nsec = binary.BigEndian.Uint32(t.Data), binary.BigEndian.Uint32(t.Data[4:])
			case int64, uint64:
				if AsInt(t) < 0 || AsInt(t) > 1<<32-1 {
					return m, fmt.Errorf("time %v out of range", t)
				}
				e.Sec = uint32(AsInt(t))
			default:
				return m, fmt.Errorf("time of type %T, want an EventTime or an integer", v)
			}
		case 2:
			rec, ok := v.(map[string]any)
			if !ok {
				return m, fmt.Errorf("record of type %T", v)
			}
			e.Rec = rec
		case 3:
			opts, ok := v.(map[string]any)
			if !ok {
				return m, fmt.Errorf("option of type %T", v)
			}
			for k, o := range opts {
				if k != "chunk" {
					return m, fmt.Errorf("unknown option %q", k)
				}
				if m.Chunk, ok = o.(string); !ok || m.Chunk == "" {
					return m, fmt.Errorf("chunk %#v, want a non-empty string", o)
				}
			}
		}
	}
	m.Entries = []ForwardEntry{e}
	return m, nil
}

// NewForwardSinkOn is NewForwardSink serving connections from ln (a TLS listener, say) instead of its own.
func NewForwardSinkOn(t testing.TB, ln net.Listener, mode string, opts ...ForwardOption) *ForwardSink {
	s := &ForwardSink{t: t, ln: ln, mode: mode, wrongAck: "nope"}
	for _, o := range opts {
		o(s)
	}
	s.start()
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
