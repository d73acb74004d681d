package forward

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tinylib/msgp/msgp"
	"go.vlog.dev/handlers"
	"go.vlog.dev/handlers/output"
	"go.vlog.dev/handlers/schema"
	"go.vlog.dev/internal/vtest"
)

// lines makes a batch of n JSON records with a sequence number and a fixed time.
func lines(n, pad int) *output.Batch {
	var b output.Batch
	for i := range n {
		b.Data = fmt.Appendf(b.Data, `{"event_time":"2026-11-22T02:55:54.%09dZ","level":"info","msg":"m","seq":%d,"pad":"%s"}`+"\n",
			i, i, strings.Repeat("x", pad))
		b.Records++
	}
	b.Seq = 7
	return &b
}

func newTestForward(t *testing.T, o Options) *Transport {
	t.Helper()
	tr, err := New(&o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tr.Close() })
	return tr
}

func TestForwardFraming(t *testing.T) {
	for _, comp := range []string{"none", "gzip"} {
		t.Run(comp, func(t *testing.T) {
			s := vtest.NewForwardSink(t, "tcp", "127.0.0.1:0", "ack")
			tr := newTestForward(t, Options{Address: s.Addr(), Tag: "app-firelens-123", Compression: comp})
			b := lines(3, 10)
			b.Data = append(b.Data, "not json\n"...)
			b.Data = append(b.Data, `{"event_time":"bad","n":-5,"f":1.5,"o":{"a":[true,null]}}`+"\n"...)
			b.Records += 2
			before := time.Now()
			if err := tr.Send(context.Background(), b); err != nil {
				t.Fatal(err)
			}
			s.Stop()
			s.CheckErrors()
			msgs := s.Messages()
			if len(msgs) != 1 {
				t.Fatalf("%d messages, want 1", len(msgs))
			}
			m := msgs[0]
			if m.Tag != "app-firelens-123" || m.Size != 5 || (comp == "gzip") != (m.Compressed == "gzip") {
				t.Errorf("tag %q size %d compressed %q", m.Tag, m.Size, m.Compressed)
			}
			id, err := base64.StdEncoding.DecodeString(m.Chunk)
			if err != nil || len(id) != 18 || !bytes.Equal(id[:8], tr.prefix[:]) ||
				binary.BigEndian.Uint64(id[8:]) != 7 || binary.BigEndian.Uint16(id[16:]) != 0 {
				t.Errorf("chunk %q: % x", m.Chunk, id)
			}
			for i, e := range m.Entries[:3] {
				if e.Sec != uint32(time.Date(2026, 11, 22, 2, 55, 54, 0, time.UTC).Unix()) || e.Nsec != uint32(i) {
					t.Errorf("entry %d: time %d.%09d", i, e.Sec, e.Nsec)
				}
				if vtest.AsInt(e.Rec["seq"]) != int64(i) || e.Rec["msg"] != "m" || e.Rec["event_time"] == nil {
					t.Errorf("entry %d: %v", i, e.Rec)
				}
			}
			if got := m.Entries[3].Rec; len(got) != 1 || got["log"] != "not json" {
				t.Errorf("invalid line sent as %v", got)
			}
			e := m.Entries[4]
			if e.Rec["n"] != int64(-5) || e.Rec["f"] != 1.5 || e.Rec["event_time"] != "bad" {
				t.Errorf("record %v", e.Rec)
			}
			if tm := time.Unix(int64(e.Sec), int64(e.Nsec)); tm.Before(before.Truncate(time.Second)) || time.Since(tm) > time.Minute {
				t.Errorf("time of a record without event_time: %v, want now", tm)
			}
		})
	}
}

// recordingConn records the size of every Write.
type recordingConn struct {
	net.Conn
	mu     sync.Mutex
	writes []int
}

func (c *recordingConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	c.writes = append(c.writes, len(p))
	c.mu.Unlock()
	return c.Conn.Write(p)
}

// TestForwardSplit checks that a batch larger than MaxMessageSize goes as several messages,
// each within the limit on the wire and after decompression, in order, with distinct chunks,
// and that a record too large for any message is replaced by a notice.
func TestForwardSplit(t *testing.T) {
	for _, comp := range []string{"none", "gzip"} {
		t.Run(comp, func(t *testing.T) {
			s := vtest.NewForwardSink(t, "tcp", "127.0.0.1:0", "ack")
			var rc *recordingConn
			const max = 8192
			tr := newTestForward(t, Options{Address: s.Addr(), Compression: comp, MaxMessageSize: max,
				Dial: func(ctx context.Context, network, addr string) (net.Conn, error) {
					c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
					if err != nil {
						return nil, err
					}
					rc = &recordingConn{Conn: c}
					return rc, nil
				}})
			b := lines(200, 150)
			big := `{"msg":"big","pad":"` + strings.Repeat("y", 3*max) + `"}` + "\n"
			b.Data = append(b.Data, big...)
			b.Data = append(b.Data, `{"msg":"after"}`+"\n"...)
			b.Records += 2
			if err := tr.Send(context.Background(), b); err != nil {
				t.Fatal(err)
			}
			s.Stop()
			s.CheckErrors()
			msgs := s.Messages()
			if len(msgs) < 4 {
				t.Fatalf("%d messages, want several", len(msgs))
			}
			chunks := map[string]bool{}
			var seq []int64
			var last map[string]any
			for _, m := range msgs {
				if m.PlainLen > max || m.BinLen > max {
					t.Errorf("message entries of %d bytes (%d on the wire), limit %d", m.PlainLen, m.BinLen, max)
				}
				chunks[m.Chunk] = true
				for _, e := range m.Entries {
					if v := e.Rec["seq"]; v != nil {
						seq = append(seq, vtest.AsInt(v))
					}
					last = e.Rec
				}
			}
			for _, w := range rc.writes {
				if w > max {
					t.Errorf("a write of %d bytes, limit %d", w, max)
				}
			}
			if len(chunks) != len(msgs) {
				t.Errorf("%d distinct chunks for %d messages", len(chunks), len(msgs))
			}
			for i, v := range seq {
				if v != int64(i) {
					t.Fatalf("records out of order or missing: %v", seq)
				}
			}
			if len(seq) != 200 || last["msg"] != "after" {
				t.Errorf("%d sequenced records, last %v", len(seq), last)
			}
			var notice map[string]any
			for _, r := range s.Records() {
				if r["vlog_dropped_oversize"] != nil {
					notice = r
				}
			}
			if notice == nil || !strings.Contains(notice["msg"].(string), "record dropped") {
				t.Errorf("no notice for the oversized record: %v", notice)
			}
		})
	}
}

func TestForwardAckFailures(t *testing.T) {
	for _, mode := range []string{"noack", "wrongack", "close"} {
		t.Run(mode, func(t *testing.T) {
			s := vtest.NewForwardSink(t, "tcp", "127.0.0.1:0", mode)
			tr := newTestForward(t, Options{Address: s.Addr(), Timeout: 200 * time.Millisecond})
			err := tr.Send(context.Background(), lines(3, 0))
			if err == nil {
				t.Fatal("no error")
			}
			if tr.conn != nil {
				t.Error("connection kept after an error")
			}
			t.Log(err)
		})
	}
	// Without acks, the same servers count as delivered.
	s := vtest.NewForwardSink(t, "tcp", "127.0.0.1:0", "noack")
	tr := newTestForward(t, Options{Address: s.Addr(), Ack: ptr(false)})
	if err := tr.Send(context.Background(), lines(3, 0)); err != nil {
		t.Fatal(err)
	}
	s.WaitRecords(3)
	s.Stop()
	if m := s.Messages(); len(m) != 1 || m[0].Chunk != "" {
		t.Fatalf("messages %+v", m)
	}
}

// TestForwardNeverReads: a router that accepts but never reads holds a batch at most Timeout
// (without progress), and a cancelled ctx ends the wait at once.
func TestForwardNeverReads(t *testing.T) {
	s := vtest.NewForwardSink(t, "tcp", "127.0.0.1:0", "noread")
	b := lines(40000, 500) // ~22 MB: more than the socket buffers hold
	tr := newTestForward(t, Options{Address: s.Addr(), Timeout: 300 * time.Millisecond})
	err := tr.Send(context.Background(), b)
	if err == nil || !strings.Contains(err.Error(), "no progress") {
		t.Fatalf("got %v, want a write timeout", err)
	}

	tr = newTestForward(t, Options{Address: s.Addr(), Timeout: time.Hour})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- tr.Send(ctx, b) }()
	time.Sleep(100 * time.Millisecond)
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("got %v, want context.Canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Send ignores the cancellation of its context")
	}
}

// TestForwardReconnect: refused until the router is up; a router restart between batches is
// noticed before writing, so nothing is lost even without acks.
func TestForwardReconnect(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	for _, ack := range []bool{true, false} {
		t.Run(fmt.Sprint("ack=", ack), func(t *testing.T) {
			tr := newTestForward(t, Options{Address: addr, Ack: ptr(ack), Timeout: time.Second})
			if err := tr.Send(context.Background(), lines(1, 0)); err == nil {
				t.Fatal("no error with no router")
			}
			var total int
			for round := range 3 {
				s := vtest.NewForwardSink(t, "tcp", addr, "ack")
				for range 2 {
					if err := tr.Send(context.Background(), lines(5, 0)); err != nil {
						t.Fatalf("round %d: %v", round, err)
					}
				}
				// The last message may still be on its way when no ack is awaited.
				s.WaitRecords(10)
				s.Stop() // a router restart: the connection is closed under the transport
				s.CheckErrors()
				total += len(s.Records())
			}
			if total != 30 {
				t.Fatalf("%d records delivered, want 30", total)
			}
		})
	}
}

func TestForwardUnix(t *testing.T) {
	path := filepath.Join(t.TempDir(), "fluent.sock")
	s := vtest.NewForwardSink(t, "unix", path, "ack")
	tr := newTestForward(t, Options{Network: "unix", Address: path})
	if err := tr.Send(context.Background(), lines(4, 0)); err != nil {
		t.Fatal(err)
	}
	s.Stop()
	if n := len(s.Records()); n != 4 {
		t.Fatalf("%d records", n)
	}
}

func TestForwardTLS(t *testing.T) {
	cert := selfSigned(t)
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}})
	if err != nil {
		t.Fatal(err)
	}
	s := vtest.NewForwardSinkOn(t, ln, "ack")
	pool := x509.NewCertPool()
	pool.AddCert(cert.Leaf)
	tr := newTestForward(t, Options{Address: s.Addr(), TLS: &tls.Config{RootCAs: pool}})
	for range 2 {
		if err := tr.Send(context.Background(), lines(4, 0)); err != nil {
			t.Fatal(err)
		}
	}
	s.Stop()
	s.CheckErrors()
	if n := len(s.Records()); n != 8 {
		t.Fatalf("%d records", n)
	}
	// A certificate the client does not trust fails the handshake.
	tr = newTestForward(t, Options{Address: s.Addr(), TLS: &tls.Config{}})
	if err := tr.Send(context.Background(), lines(1, 0)); err == nil {
		t.Fatal("untrusted certificate accepted")
	}
}

func selfSigned(t *testing.T) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
}

func TestForwardOptions(t *testing.T) {
	f := func(o Options, wantErr string) {
		t.Helper()
		_, err := New(&o)
		if (err == nil) != (wantErr == "") || err != nil && !strings.Contains(err.Error(), wantErr) {
			t.Errorf("%+v: got %v, want %q", o, err, wantErr)
		}
	}
	f(Options{Address: "127.0.0.1:24224"}, "")
	f(Options{Network: "unix", Address: "/x"}, "")
	f(Options{}, "Address")
	f(Options{Network: "udp", Address: "h:1"}, "Network")
	f(Options{Address: "localhost"}, "host:port")
	f(Options{Address: "localhost:0"}, "1..65535")
	f(Options{Address: "localhost:65536"}, "1..65535")
	f(Options{Address: ":24224"}, "1..65535")
	f(Options{Address: "h:1", Compression: "zstd"}, "Compression")
	f(Options{Address: "h:1", Timeout: -time.Second}, "Timeout")
	f(Options{Address: "h:1", MaxLineSize: -1}, "MaxLineSize")
	f(Options{Address: "h:1", MaxMessageSize: 100}, "MaxMessageSize")
	if _, err := New(nil); err == nil {
		t.Error("nil options: no error")
	}
}

// TestForwardBuffered runs the whole path: JSONHandler -> output.Buffered -> Transport ->
// server, with the accounting invariant at Close.
func TestForwardBuffered(t *testing.T) {
	s := vtest.NewForwardSink(t, "tcp", "127.0.0.1:0", "ack")
	tr := newTestForward(t, Options{Address: s.Addr(), Tag: "svc"})
	out := output.NewBuffered(tr, &output.BufferOptions{BatchSize: 4096, BatchAge: 10 * time.Millisecond}, output.Hooks{})
	l := slog.New(handlers.NewJSONHandler(out, &handlers.Options{Service: "svc", Env: "test", Version: "1"}))
	for i := range 1000 {
		l.Info("hello", "i", i, "user", map[string]any{"id": i})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := out.Close(ctx); err != nil {
		t.Fatal(err)
	}
	st := out.Stats()
	if st.Enqueued != 1000 || st.Delivered != 1000 || st.Dropped.Total() != 0 {
		t.Fatalf("stats %+v", st)
	}
	s.Stop()
	s.CheckErrors()
	recs := s.Records()
	if len(recs) != 1000 {
		t.Fatalf("%d records", len(recs))
	}
	for i, r := range recs {
		if vtest.AsInt(r["i"]) != int64(i) || r["service"] != "svc" || vtest.AsInt(r["user"].(map[string]any)["id"]) != int64(i) {
			t.Fatalf("record %d: %v", i, r)
		}
	}
}

// TestForwardCloseDeadline: Close returns by its deadline with a router that never reads, and
// reports what it could not deliver.
func TestForwardCloseDeadline(t *testing.T) {
	s := vtest.NewForwardSink(t, "tcp", "127.0.0.1:0", "noread")
	tr := newTestForward(t, Options{Address: s.Addr(), Timeout: time.Hour})
	out := output.NewBuffered(tr, &output.BufferOptions{Size: 64 << 20, BatchSize: 8 << 20}, output.Hooks{})
	rec := []byte(`{"msg":"` + strings.Repeat("z", 1000) + `"}` + "\n")
	for range 30000 {
		_, _ = out.Write(rec)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- out.Close(ctx) }()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "not delivered") {
			t.Fatalf("got %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Close does not return by its deadline")
	}
	st := out.Stats()
	if st.Enqueued != st.Delivered+st.Dropped.Total() {
		t.Fatalf("stats %+v", st)
	}
}

func TestParseAck(t *testing.T) {
	ack := msgp.AppendString(msgp.AppendString(msgp.AppendMapHeader(nil, 1), "ack"), "abc")
	for i := range ack {
		if _, _, ok, err := parseAck(ack[:i]); ok || err != nil {
			t.Fatalf("prefix %d: ok %v err %v", i, ok, err)
		}
	}
	id, n, ok, err := parseAck(append(ack, 0x81))
	if string(id) != "abc" || n != len(ack) || !ok || err != nil {
		t.Fatalf("got %q %d %v %v", id, n, ok, err)
	}
	long := strings.Repeat("c", 300)
	ack = msgp.AppendString(msgp.AppendString(msgp.AppendMapHeader(nil, 1), "ack"), long)
	if id, _, ok, _ := parseAck(ack); string(id) != long || !ok {
		t.Fatal("str16 ack")
	}
	for _, bad := range [][]byte{{0x82}, {0x81, 0xa3, 'a', 'c', 'x'}, {0x81, 0x01}, {0x81, 0xa3, 'a', 'c', 'k', 0x01}} {
		if _, _, _, err := parseAck(bad); err == nil {
			t.Errorf("% x: no error", bad)
		}
	}
}

// TestForwardEncodeAllocs pins the steady state: transcoding and framing a batch allocates
// nothing beyond the chunk id.
func TestForwardEncodeAllocs(t *testing.T) {
	tr := newTestForward(t, Options{Address: "127.0.0.1:1", Ack: ptr(false)})
	b := lines(100, 100)
	tr.encode(b)
	vtest.WantAllocs(t, 0, func() { tr.encode(b) })
}

// BenchmarkForwardEncode measures the transport's own work per record: transcoding a batch of
// the standard record (~220 bytes of JSON) to msgpack and framing it as PackedForward.
func BenchmarkForwardEncode(b *testing.B) {
	for _, comp := range []string{"none", "gzip"} {
		b.Run("compression="+comp, func(b *testing.B) {
			tr, err := New(&Options{Address: "127.0.0.1:1", Compression: comp})
			if err != nil {
				b.Fatal(err)
			}
			var batch output.Batch
			for i := range 1000 {
				batch.Data = fmt.Appendf(batch.Data, `{"event_time":"2026-11-22T02:55:54.123456789Z","level":"info","msg":"order created","service":"order-api","env":"prod","version":"1.4.2","order_id":"ord-8f14e45fceea","user_id":4242,"amount":19.99,"items":3,"seq":%d}`+"\n", i)
				batch.Records++
			}
			b.SetBytes(int64(len(batch.Data)))
			for b.Loop() {
				tr.encode(&batch)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*batch.Records), "ns/record")
		})
	}
}

// TestForwardCutsLongLines: a record longer than MaxLineSize reaches the router cut, with the
// schema fields and vlog_truncated, and the records around it arrive whole.
func TestForwardCutsLongLines(t *testing.T) {
	s := vtest.NewForwardSink(t, "tcp", "127.0.0.1:0", "ack")
	tr := newTestForward(t, Options{Address: s.Addr(), MaxLineSize: 2048})
	big := `{"event_time":"2026-11-22T02:55:54.123456789Z","level":"info","msg":"big","service":"s","env":"e","version":"v","blob":"` +
		strings.Repeat("x", 10000) + `"}`
	data := []byte(`{"msg":"before","seq":1}` + "\n" + big + "\n" + `{"msg":"after","seq":3}` + "\n")
	if err := tr.Send(context.Background(), &output.Batch{Data: data, Records: 3, Seq: 1}); err != nil {
		t.Fatal(err)
	}
	s.WaitRecords(3)
	s.Stop()
	s.CheckErrors()
	recs := s.Records()
	if len(recs) != 3 || recs[0]["msg"] != "before" || recs[1]["msg"] != "big" || recs[2]["msg"] != "after" {
		t.Fatalf("records %v", recs)
	}
	if recs[1]["service"] != "s" || recs[1][schema.Truncated] == nil {
		t.Errorf("cut record %v", recs[1])
	}
	if blob, _ := recs[1]["blob"].(string); len(blob) > 2048 {
		t.Errorf("blob of %d bytes not cut", len(blob))
	}
}

func ptr[T any](v T) *T { return &v }
