package forward

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"testing"

	"github.com/IBM/fluent-forward-go/fluent/protocol"
	"github.com/tinylib/msgp/msgp"
)

// receiver is a forward-protocol server built on github.com/IBM/fluent-forward-go's protocol
// types (an implementation independent of vlog's): it accepts Message, Forward, PackedForward
// and CompressedPackedForward messages, answers acks, and records the "seq" field of every
// record it receives.
type receiver struct {
	t  *testing.T
	ln net.Listener

	mu       sync.Mutex
	seqs     map[int64]int // seq -> times received
	records  int
	messages int
	modes    map[string]int
	errs     []error
	conns    map[net.Conn]bool
	wg       sync.WaitGroup
	changed  chan struct{}
	tags     map[string]int
	run      string // only records with this "run" field are counted
}

// setRun makes the receiver count only the records of one run (a real Fluent Bit may still
// deliver records of an earlier test).
func (r *receiver) setRun(id string) {
	r.mu.Lock()
	r.run = id
	r.seqs = map[int64]int{}
	r.mu.Unlock()
}

func newReceiver(t *testing.T, addr string) *receiver {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	r := &receiver{t: t, ln: ln, seqs: map[int64]int{}, modes: map[string]int{}, conns: map[net.Conn]bool{},
		changed: make(chan struct{}, 1), tags: map[string]int{}}
	r.wg.Add(1)
	go r.accept()
	t.Cleanup(r.close)
	return r
}

func (r *receiver) addr() string { return r.ln.Addr().String() }

func (r *receiver) accept() {
	defer r.wg.Done()
	for {
		c, err := r.ln.Accept()
		if err != nil {
			return
		}
		r.mu.Lock()
		r.conns[c] = true
		r.mu.Unlock()
		r.wg.Add(1)
		go r.serve(c)
	}
}

func (r *receiver) close() {
	_ = r.ln.Close()
	r.mu.Lock()
	for c := range r.conns {
		_ = c.Close()
	}
	r.mu.Unlock()
	r.wg.Wait()
}

func (r *receiver) serve(c net.Conn) {
	defer r.wg.Done()
	defer func() {
		_ = c.Close()
		r.mu.Lock()
		delete(r.conns, c)
		r.mu.Unlock()
	}()
	rd := msgp.NewReader(c)
	var raw bytes.Buffer
	for {
		raw.Reset()
		if _, err := rd.CopyNext(&raw); err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) && !isReset(err) {
				r.fail(fmt.Errorf("read message: %w", err))
			}
			return
		}
		chunk, err := r.decode(raw.Bytes())
		if err != nil {
			r.fail(err)
			return
		}
		if chunk != "" {
			ack, err := (&protocol.AckMessage{Ack: chunk}).MarshalMsg(nil)
			if err != nil {
				r.fail(err)
				return
			}
			if _, err := c.Write(ack); err != nil {
				return
			}
		}
	}
}

func isReset(err error) bool {
	var ne *net.OpError
	return errors.As(err, &ne)
}

// decode decodes one message with the protocol types and returns its chunk option.
func (r *receiver) decode(b []byte) (string, error) {
	// The type of the second element tells the mode.
	rest, err := msgp.Skip(b[1:]) // array header is one byte for 2..4 elements
	if err != nil || len(b) == 0 || b[0]&0xf0 != 0x90 {
		return "", fmt.Errorf("not a forward message: % x", b[:min(len(b), 16)])
	}
	var tag string
	var entries protocol.EntryList
	var opts *protocol.MessageOptions
	mode := ""
	switch msgp.NextType(rest) {
	case msgp.BinType, msgp.StrType:
		mode = "PackedForward"
		var m protocol.PackedForwardMessage
		if _, err := m.UnmarshalMsg(b); err != nil {
			return "", fmt.Errorf("PackedForward: %w", err)
		}
		tag, opts = m.Tag, m.Options
		stream := m.EventStream
		if opts != nil && opts.Compressed == "gzip" {
			mode = "CompressedPackedForward"
			zr, err := gzip.NewReader(bytes.NewReader(stream))
			if err != nil {
				return "", err
			}
			if stream, err = io.ReadAll(zr); err != nil {
				return "", err
			}
		}
		if _, err := entries.UnmarshalPacked(stream); err != nil {
			return "", fmt.Errorf("PackedForward entries: %w", err)
		}
	case msgp.ArrayType:
		mode = "Forward"
		var m protocol.ForwardMessage
		if _, err := m.UnmarshalMsg(b); err != nil {
			return "", fmt.Errorf("Forward: %w", err)
		}
		tag, opts, entries = m.Tag, m.Options, m.Entries
	default:
		mode = "Message"
		var m protocol.MessageExt
		if _, err := m.UnmarshalMsg(b); err != nil {
			return "", fmt.Errorf("Message: %w", err)
		}
		tag, opts = m.Tag, m.Options
		entries = protocol.EntryList{{Timestamp: m.Timestamp, Record: m.Record}}
	}
	if opts != nil && opts.Size != nil && *opts.Size != len(entries) {
		return "", fmt.Errorf("size option %d, %d entries", *opts.Size, len(entries))
	}
	r.mu.Lock()
	r.messages++
	r.modes[mode]++
	r.tags[tag]++
	for _, e := range entries {
		r.records++
		rec, ok := e.Record.(map[string]any)
		if !ok {
			r.mu.Unlock()
			return "", fmt.Errorf("record of type %T", e.Record)
		}
		if s, ok := asInt(rec["seq"]); ok && rec["run"] == r.run {
			r.seqs[s]++
		}
	}
	r.mu.Unlock()
	select {
	case r.changed <- struct{}{}:
	default:
	}
	if opts != nil {
		return opts.Chunk, nil
	}
	return "", nil
}

func asInt(v any) (int64, bool) {
	switch v := v.(type) {
	case int64:
		return v, true
	case uint64:
		return int64(v), true
	case int8:
		return int64(v), true
	case int16:
		return int64(v), true
	case int32:
		return int64(v), true
	case uint8:
		return int64(v), true
	case uint16:
		return int64(v), true
	case uint32:
		return int64(v), true
	}
	return 0, false
}

func (r *receiver) fail(err error) {
	r.mu.Lock()
	r.errs = append(r.errs, err)
	r.mu.Unlock()
}

// count returns the distinct sequence numbers below n that arrived, and the duplicates.
func (r *receiver) count(n int64) (distinct, dups int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for s, k := range r.seqs {
		if s < n {
			distinct++
			dups += k - 1
		}
	}
	return distinct, dups
}

// missing lists (up to 10 of) the sequence numbers below n that did not arrive.
func (r *receiver) missing(n int64) []int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []int64
	for s := int64(0); s < n && len(out) < 10; s++ {
		if r.seqs[s] == 0 {
			out = append(out, s)
		}
	}
	return out
}

func (r *receiver) errors() []error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]error(nil), r.errs...)
}
