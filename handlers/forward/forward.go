// Package forward is the Fluent forward protocol transport: batches of vlog's JSON records
// sent to a Fluent Bit or Fluentd forward input (the FireLens router on ECS) as PackedForward
// messages, optionally gzip-compressed and acknowledged. It plugs into
// go.vlog.dev/handlers/output as an output.Transport; docs/forward.md has the measurements.
package forward

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"go.vlog.dev/handlers/output"
	"go.vlog.dev/handlers/schema"
	"io"
	"net"
	"os"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// Options configure a Transport. The zero value means the defaults stated per
// field, except Address, which is required.
type Options struct {
	// Network is "tcp" (default) or "unix".
	Network string
	// Address is host:port for tcp (FLUENT_HOST:FLUENT_PORT on ECS) or the socket's path for
	// unix.
	Address string
	// TLS, if set, makes the transport speak TLS with this configuration (Fluent Bit's forward
	// input with tls on). When its ServerName is empty, the host of Address is used. Default
	// nil: plain TCP, which is what FireLens listens on.
	TLS *tls.Config
	// Tag is the forward protocol's tag of every record. FireLens routes a record to the
	// container's configured output only when the tag starts with "<containerName>-firelens";
	// vlog builds that default. Default here "vlog".
	Tag string
	// Ack asks the router to acknowledge every message. Default (nil) true: every message
	// carries the chunk option and a batch counts as delivered only when the router answered
	// {"ack": chunk}; a missing ack makes the batch go again (records may then arrive twice,
	// never go missing). With false a batch counts as delivered once the kernel took it: the
	// records in flight when the router dies or resets the connection are lost without
	// notice (at most one batch, plus what the router had read but not yet stored).
	Ack *bool
	// Compression is "none" (default; "" too) or "gzip" (CompressedPackedForward, level 1).
	// Compression costs the application CPU per record and the router CPU to decompress; on a
	// loopback connection (FireLens in awsvpc mode) it gains nothing. Use it when the router
	// is across a network.
	Compression string
	// Timeout bounds dialing (with the TLS handshake), every stretch of a write that makes no
	// progress, and the wait for an ack. Default 5s. A router that accepts connections but
	// never reads therefore holds a batch at most this long before it is retried.
	Timeout time.Duration
	// MaxMessageSize bounds one forward message on the wire, and its entries before
	// compression. A batch larger than that is sent as several messages. Default 6,144,000
	// (Fluent Bit's buffer_max_size, which also applies to decompressed data; a larger message
	// makes Fluent Bit close the connection). A single record that does not fit is replaced
	// by a short record saying so.
	MaxMessageSize int
	// Dial, if set, opens the connection instead of a net.Dialer (tests, proxies).
	Dial func(ctx context.Context, network, address string) (net.Conn, error)
	// MaxLineSize cuts a record whose JSON line is longer, with schema.Truncate (the schema's
	// fields kept, "vlog_truncated" added), before it is sent. Default
	// schema.DefaultMaxLineSize (64 KiB): the router's http output passes records on to
	// VictoriaLogs line by line, and VictoriaLogs drops a line over 256 KiB (v1.26 also loses
	// the lines after it in the same request). 1 KiB to 256 KiB (schema.CheckMaxLineSize).
	MaxLineSize int
}

// DefaultTimeout is Options.Timeout's default.
const DefaultTimeout = 5 * time.Second

// DefaultMaxMessageSize is Options.MaxMessageSize's default: Fluent Bit's
// in_forward buffer_max_size.
const DefaultMaxMessageSize = 6144000

// Transport is an output.Transport that delivers batches to a Fluent Bit or Fluentd forward
// input (the FireLens router on ECS) over the Fluent forward protocol v1.
//
// Each batch of JSON lines is transcoded, on the buffer's background goroutine, into one
// PackedForward message (or several, each at most MaxMessageSize):
//
//	[tag, bin(concatenated [EventTime, {record}]), {"size": n, "chunk": id, "compressed": "gzip"}]
//
// Every JSON object becomes a msgpack map with the same keys in the same order, so the
// records' fields arrive as top-level fields and no parser is needed in the router. The
// entry's time is the record's event_time (kept in the map too), to the nanosecond. A line
// that is not a JSON object is sent as {"log": line}.
//
// The connection is opened on the first Send (dialing honours ctx and Timeout), kept open,
// and closed on any error: the buffer then sends the batch again, after a backoff, on a new
// connection. Before a batch is written on a connection that was idle, the transport checks
// that the router has not closed it, so a router restart between batches costs nothing even
// without acks. With acks (the default), Send returns nil only when every message of the
// batch was acknowledged: resends may duplicate records, but none is lost. The chunk id is
// the base64 of a random per-transport prefix, the batch's Seq and the message's index,
// stable across resends.
//
// Why not github.com/fluent/fluent-logger-golang: it sends Message mode, one record per write,
// takes records as Go maps or structs (reflection), and its exported API has no way to send
// pre-framed bytes on its connection; its dialing is unexported, and its EventTime is a
// 4-line type (with a 2038 overflow: seconds as int32). Its only reusable pieces would have
// brought a dependency for nothing. Measured here side by side (benchmarks/README.md, ~220-byte
// records, 2 cores): to a local forward server it delivers ~124k records/s async at 8.0 us of
// application CPU per record, where vlog delivers ~480k/s at 2.3 us (of which 0.7-1.0 us is
// this transport); into a real Fluent Bit, each of its records costs Fluent Bit 9.8-10.9 us of
// CPU against 1.4-1.9 us for a record in a PackedForward batch; and its sync mode blocks the
// caller while the router is away. So the library writes the framing itself on a net.Conn and
// depends on no Fluent client.
type Transport struct {
	opts   Options
	ack    bool    // opts.Ack, resolved
	prefix [8]byte // random per transport, first part of every chunk id

	conn   net.Conn
	fresh  bool // conn was just dialed: no need to check it before writing
	tr     jsonTranscoder
	msgs   []fwdMessage // messages of the batch being sent; reused
	zw     *gzip.Writer
	zbuf   bytes.Buffer
	ackBuf []byte
	trunc  []byte // a record cut to MaxLineSize
	seq    uint64 // the Seq of the batch being sent
	now    func() time.Time

	// mu guards the deadline changes that cancellation makes.
	mu       sync.Mutex
	canceled bool
	closed   bool
}

type fwdMessage struct {
	buf     []byte // the whole message, ready to write
	records int
	chunk   string
}

var _ output.Transport = (*Transport)(nil)

// New checks opts and returns a transport. It does not connect: the first
// Send does.
func New(opts *Options) (*Transport, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	bad := func(name, value, reason string) error {
		return &output.OptionError{Name: name, Value: value, Reason: reason}
	}
	switch o.Network {
	case "":
		o.Network = "tcp"
	case "tcp", "tcp4", "tcp6", "unix":
	default:
		return nil, bad("Network", o.Network, "want tcp or unix")
	}
	if o.Address == "" {
		return nil, bad("Address", "", "the router's address is needed")
	}
	if o.Network != "unix" {
		host, port, err := net.SplitHostPort(o.Address)
		if err != nil {
			return nil, bad("Address", o.Address, "want host:port")
		}
		if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 || host == "" {
			return nil, bad("Address", o.Address, "want a host and a port in 1..65535")
		}
		if o.TLS != nil && o.TLS.ServerName == "" && !o.TLS.InsecureSkipVerify {
			o.TLS = o.TLS.Clone()
			o.TLS.ServerName = host
		}
	}
	switch o.Compression {
	case "", "none":
		o.Compression = "none"
	case "gzip":
	default:
		return nil, bad("Compression", o.Compression, "want none or gzip")
	}
	if o.Tag == "" {
		o.Tag = "vlog"
	}
	switch {
	case o.Timeout == 0:
		o.Timeout = DefaultTimeout
	case o.Timeout < 0:
		return nil, bad("Timeout", o.Timeout.String(), "want a positive duration")
	}
	switch {
	case o.MaxMessageSize == 0:
		o.MaxMessageSize = DefaultMaxMessageSize
	case o.MaxMessageSize < 4096+len(o.Tag):
		return nil, bad("MaxMessageSize", strconv.Itoa(o.MaxMessageSize), "want at least "+strconv.Itoa(4096+len(o.Tag)))
	}
	if o.MaxLineSize == 0 {
		o.MaxLineSize = schema.DefaultMaxLineSize
	}
	if err := schema.CheckMaxLineSize(o.MaxLineSize); err != nil {
		return nil, bad("MaxLineSize", strconv.Itoa(o.MaxLineSize), err.Error())
	}
	t := &Transport{opts: o, ack: o.Ack == nil || *o.Ack, now: time.Now}
	if _, err := rand.Read(t.prefix[:]); err != nil {
		return nil, fmt.Errorf("vlog: forward: chunk id prefix: %w", err)
	}
	return t, nil
}

// Name returns "forward".
func (t *Transport) Name() string { return "forward" }

// Close closes the connection. A Send after Close fails.
func (t *Transport) Close() error {
	t.mu.Lock()
	t.closed = true
	t.mu.Unlock()
	t.closeConn()
	return nil
}

func (t *Transport) closeConn() {
	if t.conn != nil {
		_ = t.conn.Close()
		t.conn = nil
	}
}

var errForwardClosed = errors.New("vlog: forward: transport closed")

// Send transcodes b into forward messages and writes them; with acks, it waits for each
// message's ack. See Transport for the guarantees. On any error the connection is closed
// and the error returned, for the buffer to retry. Send returns promptly when ctx is done (the
// connection's deadlines are moved to the past). Calls to Send must not overlap; output.Buffered
// and output.Fallback make one at a time.
func (t *Transport) Send(ctx context.Context, b *output.Batch) error {
	t.mu.Lock()
	closed := t.closed
	t.mu.Unlock()
	if closed {
		return errForwardClosed
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	t.seq = b.Seq
	t.encode(b)
	if err := t.send(ctx); err != nil {
		t.closeConn()
		if ctx.Err() != nil {
			err = fmt.Errorf("%w (%v)", ctx.Err(), err)
		}
		return fmt.Errorf("vlog: forward %s: %w", t.opts.Address, err)
	}
	return nil
}

func (t *Transport) send(ctx context.Context) error {
	if t.conn != nil && !t.fresh && !t.alive() {
		t.closeConn()
	}
	if t.conn == nil {
		if err := t.dial(ctx); err != nil {
			return err
		}
	}
	t.fresh = false
	conn := t.conn
	t.mu.Lock()
	t.canceled = false
	t.mu.Unlock()
	stop := context.AfterFunc(ctx, func() {
		t.mu.Lock()
		t.canceled = true
		_ = conn.SetDeadline(time.Unix(1, 0))
		t.mu.Unlock()
	})
	defer stop()
	for i := range t.msgs {
		if err := t.write(ctx, t.msgs[i].buf); err != nil {
			return err
		}
	}
	if !t.ack {
		return nil
	}
	for i := range t.msgs {
		if err := t.readAck(ctx, t.msgs[i].chunk); err != nil {
			return err
		}
	}
	if !stop() {
		// The cancellation fired after the last ack: the connection's deadline is in the
		// past; start afresh next time.
		t.closeConn()
	}
	return nil
}

// deadline returns now+Timeout, or ctx's deadline if earlier, unless ctx was canceled: then
// it reports false. Called with mu held.
func (t *Transport) deadline(ctx context.Context) (time.Time, bool) {
	if t.canceled {
		return time.Time{}, false
	}
	d := t.now().Add(t.opts.Timeout)
	if cd, ok := ctx.Deadline(); ok && cd.Before(d) {
		d = cd
	}
	return d, true
}

// writeChunk is the most written between two refreshes of the write deadline: Timeout bounds
// a stretch without progress, not the whole message.
const writeChunk = 1 << 20

func (t *Transport) write(ctx context.Context, p []byte) error {
	for len(p) > 0 {
		n := min(len(p), writeChunk)
		t.mu.Lock()
		d, ok := t.deadline(ctx)
		if ok {
			_ = t.conn.SetWriteDeadline(d)
		}
		t.mu.Unlock()
		if !ok {
			return ctx.Err()
		}
		k, err := t.conn.Write(p[:n])
		p = p[k:]
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				return fmt.Errorf("write: no progress for %v: %w", t.opts.Timeout, err)
			}
			return fmt.Errorf("write: %w", err)
		}
	}
	return nil
}

// alive reports whether the idle connection can still be written: the router has not closed
// or reset it and, on a plain connection, has sent nothing (a forward input sends nothing but
// acks, and none is due). It peeks at the socket without blocking (see peek).
func (t *Transport) alive() bool {
	c := t.conn
	plain := true
	if tc, ok := c.(*tls.Conn); ok {
		// TLS 1.3 servers send session tickets after the handshake: data is no sign of
		// trouble there.
		c, plain = tc.NetConn(), false
	}
	sc, ok := c.(syscall.Conn)
	if !ok {
		return true
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return true
	}
	data, closed := peek(rc)
	return !closed && !(plain && data)
}

func (t *Transport) dial(ctx context.Context) error {
	dctx, cancel := context.WithTimeout(ctx, t.opts.Timeout)
	defer cancel()
	var conn net.Conn
	var err error
	if t.opts.Dial != nil {
		conn, err = t.opts.Dial(dctx, t.opts.Network, t.opts.Address)
	} else {
		d := net.Dialer{KeepAlive: 30 * time.Second}
		conn, err = d.DialContext(dctx, t.opts.Network, t.opts.Address)
	}
	if err != nil {
		return fmt.Errorf("dial: %w", err)
	}
	if t.opts.TLS != nil {
		tc := tls.Client(conn, t.opts.TLS)
		if err := tc.HandshakeContext(dctx); err != nil {
			_ = conn.Close()
			return fmt.Errorf("tls handshake: %w", err)
		}
		conn = tc
	}
	t.conn, t.fresh, t.ackBuf = conn, true, t.ackBuf[:0]
	return nil
}

var errAckMismatch = errors.New("ack for another chunk")

// readAck reads one ack and checks it answers chunk.
func (t *Transport) readAck(ctx context.Context, chunk string) error {
	for {
		if id, n, ok, err := parseAck(t.ackBuf); err != nil {
			return fmt.Errorf("ack: %w", err)
		} else if ok {
			if string(id) != chunk {
				return fmt.Errorf("ack %q, want %q: %w", id, chunk, errAckMismatch)
			}
			t.ackBuf = t.ackBuf[:copy(t.ackBuf, t.ackBuf[n:])]
			return nil
		}
		t.mu.Lock()
		d, ok := t.deadline(ctx)
		if ok {
			_ = t.conn.SetReadDeadline(d)
		}
		t.mu.Unlock()
		if !ok {
			return ctx.Err()
		}
		if cap(t.ackBuf)-len(t.ackBuf) < 256 {
			t.ackBuf = append(t.ackBuf, make([]byte, 256)...)[:len(t.ackBuf)]
		}
		n, err := t.conn.Read(t.ackBuf[len(t.ackBuf):cap(t.ackBuf)])
		t.ackBuf = t.ackBuf[:len(t.ackBuf)+n]
		if err != nil && n == 0 {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				return fmt.Errorf("no ack within %v: %w", t.opts.Timeout, err)
			}
			if errors.Is(err, io.EOF) {
				return errors.New("connection closed by the router before the ack")
			}
			return fmt.Errorf("read ack: %w", err)
		}
	}
}

var errBadAck = errors.New("unexpected data from the router (want {\"ack\": chunk})")

// parseAck parses {"ack": id} at the start of b. ok is false when b holds only a prefix of it.
func parseAck(b []byte) (id []byte, n int, ok bool, err error) {
	if len(b) == 0 {
		return nil, 0, false, nil
	}
	if b[0] != 0x81 {
		return nil, 0, false, errBadAck
	}
	key, i, ok, err := parseStr(b, 1)
	if !ok || err != nil {
		return nil, 0, ok, err
	}
	if string(key) != "ack" {
		return nil, 0, false, errBadAck
	}
	id, n, ok, err = parseStr(b, i)
	return id, n, ok, err
}

// parseStr parses a msgpack str (or bin) at b[i:].
func parseStr(b []byte, i int) ([]byte, int, bool, error) {
	if i >= len(b) {
		return nil, 0, false, nil
	}
	var n, h int
	switch c := b[i]; {
	case c&0xe0 == 0xa0:
		n, h = int(c&0x1f), 1
	case c == 0xd9 || c == 0xc4:
		if i+2 > len(b) {
			return nil, 0, false, nil
		}
		n, h = int(b[i+1]), 2
	case c == 0xda || c == 0xc5:
		if i+3 > len(b) {
			return nil, 0, false, nil
		}
		n, h = int(binary.BigEndian.Uint16(b[i+1:])), 3
	default:
		return nil, 0, false, errBadAck
	}
	if i+h+n > len(b) {
		return nil, 0, false, nil
	}
	return b[i+h : i+h+n], i + h + n, true, nil
}

// encode transcodes b into t.msgs.
func (t *Transport) encode(b *output.Batch) {
	for i := range t.msgs {
		t.msgs[i].buf, t.msgs[i].records = t.msgs[i].buf[:0], 0
	}
	t.msgs = t.msgs[:0]
	m := t.newMessage()
	start := len(t.msgs[m].buf) // where the entries start
	// The entries of one message may take limit bytes: the rest of MaxMessageSize is for the
	// header, the options and, with gzip, the worst-case growth of incompressible data.
	limit := t.opts.MaxMessageSize - start - 128
	if t.opts.Compression == "gzip" {
		limit -= limit/1000 + 64
	}
	in := b.Data
	var now time.Time
	for len(in) > 0 {
		buf := t.msgs[m].buf
		at := len(buf)
		buf = append(buf, 0x92, 0xd7, 0, 0, 0, 0, 0, 0, 0, 0, 0)
		var et eventTime
		var err error
		rest := in
		src, after := in, []byte(nil)
		if max := t.opts.MaxLineSize; len(in) > max {
			n := bytes.IndexByte(in, '\n')
			if n < 0 {
				n = len(in)
			}
			if n > max {
				t.trunc = append(schema.Truncate(t.trunc[:0], in[:n], max), '\n')
				src = t.trunc
				if n < len(in) {
					after = in[n+1:]
				}
			}
		}
		buf, rest, et, err = t.tr.appendRecord(buf, src)
		if len(src) != 0 && &src[0] != &in[0] {
			rest = after // the cut copy was transcoded: go on after the original line
		}
		if err != nil {
			// Not a JSON object: send the line as {"log": line}.
			line := in
			if i := bytes.IndexByte(in, '\n'); i >= 0 {
				line, rest = in[:i], in[i+1:]
			} else {
				rest = nil
			}
			buf = append(appendStrHeader(append(buf, 0x81, 0xa3, 'l', 'o', 'g'), len(line)), line...)
		}
		in = rest
		if !et.ok {
			if now.IsZero() {
				now = t.now()
			}
			et = toEventTime(now)
		}
		putEventTime(buf[at+3:at+11], et)
		if size := len(buf) - at; size > limit {
			buf = t.appendOversize(buf[:at], et, size)
		}
		t.msgs[m].buf = buf
		if len(buf)-start > limit && t.msgs[m].records > 0 {
			// This entry starts the next message.
			next := t.newMessage()
			t.msgs[next].buf = append(t.msgs[next].buf, buf[at:]...)
			t.msgs[m].buf = buf[:at]
			t.finish(m)
			m = next
		}
		t.msgs[m].records++
	}
	t.finish(m)
}

// newMessage adds a message to t.msgs, with its header (array, tag, bin32 header) written, and
// returns its index.
func (t *Transport) newMessage() int {
	if len(t.msgs) < cap(t.msgs) {
		t.msgs = t.msgs[:len(t.msgs)+1]
	} else {
		t.msgs = append(t.msgs, fwdMessage{})
	}
	m := &t.msgs[len(t.msgs)-1]
	m.buf = appendMsgpackString(append(m.buf[:0], 0x93), t.opts.Tag)
	m.buf = append(m.buf, 0xc6, 0, 0, 0, 0)
	m.records = 0
	return len(t.msgs) - 1
}

// finish writes the bin length and the options of m, compressing the entries if asked.
func (t *Transport) finish(i int) {
	m := &t.msgs[i]
	head := 1 + strHeaderLen(len(t.opts.Tag)) + len(t.opts.Tag) + 5
	if t.opts.Compression == "gzip" {
		t.zbuf.Reset()
		if t.zw == nil {
			t.zw, _ = gzip.NewWriterLevel(&t.zbuf, gzip.BestSpeed)
		} else {
			t.zw.Reset(&t.zbuf)
		}
		_, _ = t.zw.Write(m.buf[head:])
		_ = t.zw.Close()
		m.buf = append(m.buf[:head], t.zbuf.Bytes()...)
		if t.zbuf.Cap() > 4*writeChunk+t.opts.MaxMessageSize {
			t.zbuf = bytes.Buffer{}
		}
	}
	binary.BigEndian.PutUint32(m.buf[head-4:], uint32(len(m.buf)-head))
	nopts := 1
	if t.ack {
		nopts++
	}
	if t.opts.Compression == "gzip" {
		nopts++
	}
	m.buf = append(m.buf, 0x80|byte(nopts), 0xa4, 's', 'i', 'z', 'e')
	m.buf = appendMsgpackUint(m.buf, uint64(m.records))
	if t.ack {
		m.chunk = t.chunkID(i)
		m.buf = appendMsgpackString(append(m.buf, 0xa5, 'c', 'h', 'u', 'n', 'k'), m.chunk)
	}
	if t.opts.Compression == "gzip" {
		m.buf = append(m.buf, 0xaa, 'c', 'o', 'm', 'p', 'r', 'e', 's', 's', 'e', 'd', 0xa4, 'g', 'z', 'i', 'p')
	}
}

// chunkID returns the chunk id of message part of the batch being sent.
func (t *Transport) chunkID(part int) string {
	var id [18]byte
	copy(id[:8], t.prefix[:])
	binary.BigEndian.PutUint64(id[8:], t.seq)
	binary.BigEndian.PutUint16(id[16:], uint16(part))
	return base64.StdEncoding.EncodeToString(id[:])
}

// appendOversize appends, instead of a record too large for one message, an entry saying so,
// with the start of the record.
func (t *Transport) appendOversize(dst []byte, et eventTime, size int) []byte {
	dst = appendEventTime(append(dst, 0x92), et)
	dst = append(dst, 0x83)
	dst = appendMsgpackString(dst, schema.Level)
	dst = appendMsgpackString(dst, "error")
	dst = appendMsgpackString(dst, schema.Message)
	dst = appendMsgpackString(dst, "vlog: record dropped by the forward transport: "+strconv.Itoa(size)+
		" bytes, more than one forward message may carry")
	dst = appendMsgpackString(dst, "vlog_dropped_oversize")
	return appendMsgpackUint(dst, 1)
}
