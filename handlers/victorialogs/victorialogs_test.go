package victorialogs

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.vlog.dev/handlers"
	"go.vlog.dev/handlers/output"
	"go.vlog.dev/handlers/output/outputtest"
	"go.vlog.dev/handlers/schema"
	"go.vlog.dev/internal/vtest"
)

func line(i int, extra string) []byte {
	return []byte(fmt.Sprintf(`{"event_time":"2026-11-22T02:55:54.123456789Z","level":"info","msg":"m","service":"svc","env":"test","seq":%d%s}`+"\n", i, extra))
}

func newVLT(t *testing.T, opts *Options) *Transport {
	t.Helper()
	vt, err := New(opts)
	require.NoError(t, err)
	t.Cleanup(func() { _ = vt.Close() })
	return vt
}

func TestVictoriaLogsThroughHandler(t *testing.T) {
	vtest.CheckNoLeak(t)
	f := vtest.NewVictoriaLogs(t)
	f.WantAccount = "12:34"
	f.WantAuth = "Bearer s3cret"
	vt := newVLT(t, &Options{URLs: []string{f.URL}, AccountID: 12, ProjectID: 34, BearerToken: "s3cret"})
	out := output.NewBuffered(vt, &output.BufferOptions{BatchSize: 4 << 10}, output.Hooks{})
	h := handlers.NewJSONHandler(out, &handlers.Options{Service: "order-api", Env: "prod", Version: "1.0"})
	l := slog.New(h)
	t0 := time.Date(2026, 11, 22, 2, 55, 54, 123456789, time.UTC)
	const n = 1000
	for i := range n {
		r := slog.NewRecord(t0.Add(time.Duration(i)), slog.LevelInfo, "order created", 0)
		r.AddAttrs(slog.Int("seq", i), slog.String("text", "a \"quoted\"\nline"))
		require.NoError(t, l.Handler().Handle(context.Background(), r))
	}
	require.NoError(t, out.Close(context.Background()))
	s := out.Stats()
	require.Equal(t, uint64(n), s.Delivered, "%+v", s)
	require.Equal(t, n, f.Count())
	seqs := f.Seqs()
	for i := range n {
		require.Equal(t, 1, seqs[int64(i)], "seq %d", i)
	}
	var m map[string]any // seq 7 (batches in flight at once may arrive in any order)
	for _, l := range f.Lines() {
		if l["seq"] == json.Number("7") {
			m = l
		}
	}
	require.Equal(t, "2026-11-22T02:55:54.123456796Z", m["event_time"])
	require.Equal(t, "order created", m["msg"])
	require.Equal(t, "order-api", m["service"])
	require.Equal(t, "prod", m["env"])
	vs := vt.Stats()
	require.Equal(t, uint64(n), vs.Records)
	require.Less(t, vs.BytesSent, vs.BytesRaw/4, "compressed")
	require.Zero(t, vs.RequestErrors)
}

func TestVictoriaLogsURLs(t *testing.T) {
	f := func(in string, opts Options, want, wantAuth string) {
		t.Helper()
		opts.URLs = []string{in}
		vt, err := New(&opts)
		require.NoError(t, err, in)
		require.Equal(t, []string{want}, vt.Endpoints(), in)
		require.Equal(t, wantAuth, vt.endpoints[0].auth, in)
	}
	const q = "?_msg_field=msg&_stream_fields=service%2Cenv%2Cecs_cluster%2Ccontainer&_time_field=event_time"
	f("http://vl:9428", Options{}, "http://vl:9428/insert/jsonline"+q, "")
	f("http://vl:9428/", Options{}, "http://vl:9428/insert/jsonline"+q, "")
	f(" https://vl.example.com/insert/jsonline ", Options{}, "https://vl.example.com/insert/jsonline"+q, "")
	f("http://proxy/logs/", Options{}, "http://proxy/logs/insert/jsonline"+q, "")
	f("http://u:p%40ss@vl:9428", Options{}, "http://vl:9428/insert/jsonline"+q, "Basic dTpwQHNz")
	f("http://vl:9428", Options{Username: "u", Password: "p@ss"}, "http://vl:9428/insert/jsonline"+q, "Basic dTpwQHNz")
	f("http://vl:9428", Options{BearerToken: "tok"}, "http://vl:9428/insert/jsonline"+q, "Bearer tok")
	f("http://vl:9428/insert/jsonline?_stream_fields=service,container&ignore_fields=password&extra_fields=team=a&_msg_field=msg",
		Options{},
		"http://vl:9428/insert/jsonline?_msg_field=msg&_stream_fields=service%2Ccontainer&_time_field=event_time&extra_fields=team%3Da&ignore_fields=password", "")
	f("http://vl:9428/insert/jsonline?_stream_fields=service,container", Options{StreamFields: []string{"service"}},
		"http://vl:9428/insert/jsonline?_msg_field=msg&_stream_fields=service&_time_field=event_time", "")
	f("http://vl:9428", Options{IgnoreFields: []string{"a", "b"}, ExtraFields: map[string]string{"z": "1", "team": "pay"}},
		"http://vl:9428/insert/jsonline"+q+"&extra_fields=team%3Dpay%2Cz%3D1&ignore_fields=a%2Cb", "")
}

func TestVictoriaLogsOptionErrors(t *testing.T) {
	f := func(opts Options, field, wantIn string) {
		t.Helper()
		_, err := New(&opts)
		require.Error(t, err)
		var oe *output.OptionError
		require.ErrorAs(t, err, &oe)
		require.Equal(t, field, oe.Name, "%v", err)
		require.Contains(t, err.Error(), wantIn)
		for _, secret := range []string{"hunter2", "tok3n"} {
			require.NotContains(t, err.Error(), secret, "credentials in the error")
		}
	}
	u := func(s ...string) []string { return s }
	f(Options{}, "URLs", "at least one")
	f(Options{URLs: u("vl:9428")}, "URLs", "http:// or https://")
	f(Options{URLs: u("ftp://u:hunter2@vl")}, "URLs", `"ftp://u:xxxxx@vl"`)
	f(Options{URLs: u("http://u:hunter2@vl:port")}, "URLs", "xxxxx")
	f(Options{URLs: u("http://u:hunter2@vl:9428 x/")}, "URLs", "")
	f(Options{URLs: u("http://u:hunter2@vl/?_msg_field=message")}, "URLs", "_msg_field must be msg")
	f(Options{URLs: u("http://vl/?_time_field=ts")}, "URLs", "_time_field must be event_time")
	f(Options{URLs: u("http://vl/?_stream_fields=service,request_id")}, "URLs", `"request_id" looks like a high-cardinality field`)
	f(Options{URLs: u("http://u:hunter2@vl/"), BearerToken: "tok3n"}, "URLs", "exclude each other")
	f(Options{URLs: u("http://vl"), BearerToken: "tok3n", Username: "u"}, "BearerToken", "exclude each other")
	f(Options{URLs: u("http://vl"), Password: "hunter2"}, "Password", "needs a Username")
	f(Options{URLs: u("http://vl"), StreamFields: u("service", "trace_id")}, "StreamFields", "trace_id")
	f(Options{URLs: u("http://vl"), StreamFields: []string{}}, "StreamFields", "no stream field")
	f(Options{URLs: u("http://vl"), IgnoreFields: u("a,b")}, "IgnoreFields", "not a usable field name")
	f(Options{URLs: u("http://vl"), ExtraFields: map[string]string{"a": "1,2"}}, "ExtraFields", "comma")
	f(Options{URLs: u("http://vl"), MaxLineSize: 512 << 10}, "MaxLineSize", "256 KiB")
	f(Options{URLs: u("http://vl"), Concurrency: -1}, "Concurrency", "1 to 64")
	f(Options{URLs: u("http://vl"), GzipLevel: 10}, "GzipLevel", "1 to 9")
	f(Options{URLs: u("http://vl"), GzipLevel: -3}, "GzipLevel", "1 to 9")
	f(Options{URLs: u("http://vl"), Compression: "br"}, "Compression", "want gzip, zstd or none")
	f(Options{URLs: u("http://vl"), Compression: "GZIP"}, "Compression", "want gzip, zstd or none")
	f(Options{URLs: u("http://vl"), Compression: "zstd", GzipLevel: 6}, "GzipLevel", "Compression zstd")
	f(Options{URLs: u("http://vl"), Compression: "gzip", GzipLevel: 10}, "GzipLevel", "1 to 9")
	f(Options{URLs: u("http://vl"), Timeout: -time.Second}, "Timeout", "positive")
	f(Options{URLs: u("https://vl"), CAFile: "/nonexistent/ca.pem"}, "CAFile", "no such file")
	f(Options{URLs: u("https://vl"), CAFile: writeFile(t, "not a certificate")}, "CAFile", "no PEM certificate")
}

func writeFile(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "f")
	require.NoError(t, os.WriteFile(p, []byte(content), 0o600))
	return p
}

func TestCheckStreamFields(t *testing.T) {
	f := func(ok bool, fields ...string) {
		t.Helper()
		err := CheckStreamFields(fields)
		if ok {
			require.NoError(t, err, "%v", fields)
		} else {
			require.Error(t, err, "%v", fields)
		}
	}
	f(true, "service", "env", "ecs_cluster", "container")
	f(true, "service", "ecs_task_definition", "ecs_task_arn", "level", "version", "http.method", "region")
	for _, bad := range []string{"request_id", "trace_id", "span_id", "user_id", "order_id", "session_id",
		"ip", "remote_ip", "client_ip", "remote_addr", "url", "uri", "path", "http.url", "http.path",
		"user.id", "Request_ID", "event_time", "msg", "_msg", "_time", "error", "req.remote_addr", "target_url"} {
		f(false, "service", bad)
	}
	f(false)
	f(false, "service", "service")
	f(false, "service", "")
	f(false, "service", " env")
}

func TestVictoriaLogsFaults(t *testing.T) {
	vtest.CheckNoLeak(t)
	f := vtest.NewVictoriaLogs(t)
	vt := newVLT(t, &Options{URLs: []string{"http://user:hunter2@" + strings.TrimPrefix(f.URL, "http://")}, Timeout: 300 * time.Millisecond})
	f.WantAuth = basicAuth("user", "hunter2")
	ctx := context.Background()

	check := func(name string, fault func(n int64, w http.ResponseWriter, r *http.Request) int, permanent bool, wantIn ...string) {
		t.Helper()
		f.SetFault(fault)
		err := vt.Send(ctx, outputtest.BatchOf(line(1, "")))
		require.Error(t, err, name)
		require.Equal(t, permanent, output.IsPermanent(err), "%s: %v", name, err)
		for _, s := range wantIn {
			require.Contains(t, err.Error(), s, name)
		}
		require.NotContains(t, err.Error(), "hunter2", name)
		require.NotContains(t, err.Error(), "_stream_fields", "%s: the error names the URL without its query", name)
		f.SetFault(nil)
		require.NoError(t, vt.Send(ctx, outputtest.BatchOf(line(1, ""))), name+": then delivered")
	}
	respond := func(code int, body string) func(int64, http.ResponseWriter, *http.Request) int {
		return func(_ int64, w http.ResponseWriter, _ *http.Request) int {
			w.WriteHeader(code)
			_, _ = io.WriteString(w, body)
			return code
		}
	}
	check("429", respond(429, "cannot write: storage is read-only"), false, "429 Too Many Requests", "read-only")
	check("503", respond(503, "overloaded"), false, "503 Service Unavailable: overloaded")
	check("500", respond(500, ""), false, "500 Internal Server Error")
	check("400", respond(400, "cannot parse JSON line\nline contents: \"x\""), true,
		"400 Bad Request: cannot parse JSON line line contents:", f.URL+"/insert/jsonline")
	check("400 long", respond(400, strings.Repeat("é", 1000)), true, strings.Repeat("é", 256)+"...")
	check("401", respond(401, "who are you"), true, "401 Unauthorized: who are you")
	check("slow", func(int64, http.ResponseWriter, *http.Request) int {
		time.Sleep(time.Second)
		return 200
	}, false, "no response within 300ms")
	check("reset", func(_ int64, w http.ResponseWriter, _ *http.Request) int {
		conn, _, err := w.(http.Hijacker).Hijack()
		require.NoError(t, err)
		_ = conn.Close()
		return -1
	}, false, "POST "+f.URL+"/insert/jsonline")
	s := vt.Stats()
	require.Equal(t, uint64(3), s.Rejected, "400, 400 long, 401")
	require.Equal(t, uint64(8), s.RequestErrors)

	// Down altogether.
	f.Close()
	err := vt.Send(ctx, outputtest.BatchOf(line(1, "")))
	require.Error(t, err)
	require.False(t, output.IsPermanent(err))
	require.Contains(t, err.Error(), "connect: connection refused")
}

func TestVictoriaLogsContextCanceled(t *testing.T) {
	f := vtest.NewVictoriaLogs(t)
	vt := newVLT(t, &Options{URLs: []string{f.URL}})
	release := make(chan struct{})
	f.SetFault(func(int64, http.ResponseWriter, *http.Request) int { <-release; return 200 })
	defer close(release)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	err := vt.Send(ctx, outputtest.BatchOf(line(1, "")))
	require.ErrorIs(t, err, context.Canceled)
}

func TestVictoriaLogsBadRequestInStats(t *testing.T) {
	f := vtest.NewVictoriaLogs(t)
	f.SetFault(func(_ int64, w http.ResponseWriter, _ *http.Request) int {
		http.Error(w, `cannot process jsonline request; error: cannot parse JSON: unexpected tail`, 400)
		return 400
	})
	out := output.NewBuffered(newVLT(t, &Options{URLs: []string{f.URL}}), nil, output.Hooks{})
	_, _ = out.Write(line(1, ""))
	require.NoError(t, out.Close(context.Background()))
	s := out.Stats()
	require.Equal(t, uint64(1), s.Dropped.WriteError)
	require.Contains(t, s.LastError, "400 Bad Request: cannot process jsonline request; error: cannot parse JSON: unexpected tail")
}

func TestVictoriaLogsEndpoints(t *testing.T) {
	a, b := vtest.NewVictoriaLogs(t), vtest.NewVictoriaLogs(t)
	vt := newVLT(t, &Options{URLs: []string{a.URL, b.URL}})
	ctx := context.Background()
	for i := range 10 {
		require.NoError(t, vt.Send(ctx, outputtest.BatchOf(line(i, ""))))
	}
	require.Equal(t, 5, a.Count(), "round-robin")
	require.Equal(t, 5, b.Count(), "round-robin")

	// a fails: every batch goes to b, at once, and a is skipped for a while.
	a.SetFault(func(_ int64, w http.ResponseWriter, _ *http.Request) int { w.WriteHeader(503); return 503 })
	for i := range 10 {
		require.NoError(t, vt.Send(ctx, outputtest.BatchOf(line(i, ""))))
	}
	require.Equal(t, 15, b.Count())
	require.Equal(t, int64(6), a.Received(), "a tried once, then skipped")
	require.Equal(t, uint64(1), vt.Stats().Failovers)

	// 400 is about the body: no failover.
	b.SetFault(func(_ int64, w http.ResponseWriter, _ *http.Request) int { w.WriteHeader(400); return 400 })
	a.SetFault(nil)
	before := a.Received()
	err := vt.Send(ctx, outputtest.BatchOf(line(1, "")))
	require.True(t, output.IsPermanent(err), "%v", err)
	require.Equal(t, before, a.Received())

	// Both down: a retryable error naming the last one tried.
	a.Close()
	b.SetFault(func(_ int64, w http.ResponseWriter, _ *http.Request) int { w.WriteHeader(503); return 503 })
	err = vt.Send(ctx, outputtest.BatchOf(line(1, "")))
	require.Error(t, err)
	require.False(t, output.IsPermanent(err))
}

// bigBatch returns n records of about size bytes each.
func bigBatch(n, size int) *output.Batch {
	b := &output.Batch{Seq: 7}
	pad := `,"pad":"` + strings.Repeat("x", max(0, size-120)) + `"`
	for i := range n {
		b.Data = append(b.Data, line(i, pad)...)
		b.Records++
	}
	return b
}

func TestVictoriaLogsSplitsAndResumes(t *testing.T) {
	f := vtest.NewVictoriaLogs(t)
	vt := newVLT(t, &Options{URLs: []string{f.URL}, Concurrency: 4})
	release := make(chan struct{})
	var fail atomic.Bool
	fail.Store(true)
	f.SetFault(func(n int64, w http.ResponseWriter, r *http.Request) int {
		if n <= 4 {
			<-release // hold the first 4 until all are in flight
		}
		if fail.Load() && n == 2 {
			w.WriteHeader(503)
			return 503
		}
		return 0
	})
	b := bigBatch(2000, 300) // 600 KB: 4 parts
	go func() {
		for f.InFlight() < 4 {
			time.Sleep(time.Millisecond)
		}
		close(release)
	}()
	err := vt.Send(context.Background(), b)
	require.Error(t, err, "one part failed")
	require.Equal(t, int64(4), f.MaxInFlight(), "4 requests in flight at once")
	got := f.Count()
	require.Greater(t, got, 1000)
	require.Less(t, got, 2000)

	fail.Store(false)
	require.NoError(t, vt.Send(context.Background(), b))
	require.Equal(t, int64(5), f.Received(), "only the failed part was sent again")
	seqs := f.Seqs()
	require.Len(t, seqs, 2000)
	for i, c := range seqs {
		require.Equal(t, 1, c, "seq %d", i)
	}

	// A new batch with the same Seq but other contents is sent whole.
	b2 := bigBatch(1000, 300)
	require.NoError(t, vt.Send(context.Background(), b2))
	require.Equal(t, 3000, f.Count())
}

func TestVictoriaLogsSmallBatchOneRequest(t *testing.T) {
	f := vtest.NewVictoriaLogs(t)
	vt := newVLT(t, &Options{URLs: []string{f.URL}})
	require.NoError(t, vt.Send(context.Background(), bigBatch(400, 300))) // 120 KB
	require.Equal(t, int64(1), f.Received())
	require.Equal(t, 400, f.Count())
}

func TestVictoriaLogsUncompressed(t *testing.T) {
	f := vtest.NewVictoriaLogs(t)
	f.WantGzip = false // the older spelling of WantEncoding "none"
	vt := newVLT(t, &Options{URLs: []string{f.URL}, Compression: "none"})
	require.NoError(t, vt.Send(context.Background(), bigBatch(1000, 300)))
	require.Equal(t, 1000, f.Count())
	require.Empty(t, f.Requests()[0].Header.Values("Content-Encoding"))
	require.Equal(t, vt.Stats().BytesRaw, vt.Stats().BytesSent)
}

// TestVictoriaLogsCompressions: each compression sends its Content-Encoding and a body that
// decodes to the batch (the fake decodes gzip with compress/gzip, independent of the
// transport's klauspost/compress encoder); the default is gzip level 1; zstd's bodies are the
// smallest.
func TestVictoriaLogsCompressions(t *testing.T) {
	require.Equal(t, vtest.DefaultEncoding, DefaultCompression, "the fake expects the default")
	f := func(opts Options, wantEncoding string) uint64 {
		t.Helper()
		vl := vtest.NewVictoriaLogs(t)
		vl.WantEncoding = wantEncoding
		opts.URLs = []string{vl.URL}
		vt := newVLT(t, &opts)
		b := bigBatch(1000, 300)
		require.NoError(t, vt.Send(context.Background(), b))
		require.Equal(t, [][]byte{b.Data}, vl.Raw(), "the body decodes to the batch")
		got := vl.Requests()[0].Header.Values("Content-Encoding")
		if wantEncoding == "none" {
			require.Empty(t, got)
		} else {
			require.Equal(t, []string{wantEncoding}, got)
		}
		s := vt.Stats()
		require.Equal(t, uint64(len(b.Data)), s.BytesRaw)
		return s.BytesSent
	}
	dflt, gz1, zs := f(Options{}, "gzip"), f(Options{Compression: "gzip", GzipLevel: gzip.BestSpeed}, "gzip"), f(Options{Compression: "zstd"}, "zstd")
	gz9, none := f(Options{GzipLevel: gzip.BestCompression}, "gzip"), f(Options{Compression: "none"}, "none")
	require.Equal(t, none, f(Options{Compression: "none", GzipLevel: 6}, "none"), "no level without compression")
	require.Equal(t, gz1, dflt, "the default is gzip level 1")
	require.Less(t, gz9, gz1)
	require.Less(t, zs, gz1)
	require.Less(t, gz1, none/4)

	// The fake itself refuses another encoding than the one it expects.
	ft := &fakeTB{TB: t}
	vl := vtest.NewVictoriaLogs(ft)
	vl.WantEncoding = "zstd"
	vt := newVLT(t, &Options{URLs: []string{vl.URL}})
	require.Error(t, vt.Send(context.Background(), outputtest.BatchOf(line(1, ""))))
	require.Contains(t, ft.errors, `fake VictoriaLogs: Content-Encoding ["gzip"], want "zstd"`)
}

// fakeTB records the errors of the fake VictoriaLogs instead of failing the test.
type fakeTB struct {
	testing.TB
	mu     sync.Mutex
	errors string
}

func (f *fakeTB) Errorf(format string, args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.errors += fmt.Sprintf(format, args...) + "\n"
}

// TestVictoriaLogsZstdConcurrent: batches compressed at once each get a zstd encoder of their
// own (the -race run checks that none is shared), and every record arrives once; the encoders
// start no goroutine.
func TestVictoriaLogsZstdConcurrent(t *testing.T) {
	vtest.CheckNoLeak(t)
	vl := vtest.NewVictoriaLogs(t)
	vl.WantEncoding = "zstd"
	vt := newVLT(t, &Options{URLs: []string{vl.URL}, Concurrency: 4, InFlight: 4, Compression: "zstd"})
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// 300 KB: 4 parts of one batch compressed in parallel.
			b := &output.Batch{Seq: uint64(i + 1), Records: 1000}
			pad := `,"pad":"` + strings.Repeat("x", 180) + `"`
			for j := range 1000 {
				b.Data = append(b.Data, line(i*1000+j, pad)...)
			}
			require.NoError(t, vt.Send(context.Background(), b))
		}()
	}
	wg.Wait()
	require.Equal(t, 8000, vl.Count())
	require.Len(t, vl.Seqs(), 8000)
	require.Equal(t, uint64(8000), vt.Stats().Records)
}

// TestVictoriaLogsGzipLevels: a level means what compress/gzip says; zero is the default
// level (gzip.BestSpeed), and no level turns compression off (the fake VictoriaLogs refuses
// an uncompressed body here).
func TestVictoriaLogsGzipLevels(t *testing.T) {
	f := vtest.NewVictoriaLogs(t)
	f.WantEncoding = "gzip"
	sizes := map[int]int{}
	for _, level := range []int{0, gzip.BestSpeed, gzip.DefaultCompression, gzip.BestCompression, gzip.HuffmanOnly} {
		vt := newVLT(t, &Options{URLs: []string{f.URL}, Compression: "gzip", GzipLevel: level})
		body := bigBatch(1000, 300)
		require.NoError(t, vt.Send(context.Background(), body))
		sizes[level] = int(vt.Stats().BytesSent)
	}
	require.Equal(t, 5000, f.Count())
	require.Equal(t, sizes[gzip.BestSpeed], sizes[0], "zero is gzip.BestSpeed")
	require.Less(t, sizes[gzip.DefaultCompression], sizes[gzip.BestSpeed], "gzip's default level compresses harder than level 1")
	require.Greater(t, sizes[gzip.HuffmanOnly], sizes[gzip.BestSpeed])
	require.NoError(t, CheckGzipLevel(gzip.DefaultCompression))
	require.ErrorContains(t, CheckGzipLevel(gzip.NoCompression), "none")
}

func TestVictoriaLogsTLS(t *testing.T) {
	f := vtest.NewVictoriaLogs(t)
	srv := httptest.NewUnstartedServer(f)
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the handshake without the CA fails
	srv.StartTLS()
	defer srv.Close()
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})

	vt := newVLT(t, &Options{URLs: []string{srv.URL}})
	err := vt.Send(context.Background(), outputtest.BatchOf(line(1, "")))
	require.ErrorContains(t, err, "certificate", "unknown CA")

	vt = newVLT(t, &Options{URLs: []string{srv.URL}, CAFile: writeFile(t, string(ca))})
	require.NoError(t, vt.Send(context.Background(), outputtest.BatchOf(line(1, ""))))
	require.Equal(t, 1, f.Count())
}

func TestVictoriaLogsTruncates(t *testing.T) {
	f := vtest.NewVictoriaLogs(t)
	f.MaxLine = 4<<10 + 1
	f.WantStream = "service,env,region"
	vt := newVLT(t, &Options{URLs: []string{f.URL}, MaxLineSize: 4 << 10, StreamFields: []string{"service", "env", "region"}})
	big := `{"event_time":"2026-11-22T02:55:54.123456789Z","level":"error","msg":"` + strings.Repeat("m", 10000) +
		`","service":"svc","env":"prod","version":"1","request_id":"r1","region":"eu","small":1,"obj":{"a":"` +
		strings.Repeat("o", 5000) + `"},"s":"` + strings.Repeat("s", 5000) + `","after":true}`
	b := outputtest.BatchOf(line(1, ""), []byte(big+"\n"), line(2, ""))
	require.NoError(t, vt.Send(context.Background(), b))
	require.Equal(t, 3, f.Count(), "the lines around the long one arrive too")
	m := f.Lines()[1]
	require.Equal(t, "2026-11-22T02:55:54.123456789Z", m["event_time"])
	require.Equal(t, "error", m["level"])
	require.Equal(t, "svc", m["service"])
	require.Equal(t, "prod", m["env"])
	require.Equal(t, "1", m["version"])
	require.Equal(t, "r1", m["request_id"])
	require.Equal(t, "eu", m["region"])
	require.Equal(t, json.Number("1"), m["small"])
	require.Equal(t, json.Number(strconv.Itoa(len(big))), m[schema.Truncated])
	require.Equal(t, strings.Repeat("m", 2<<10-2), m["msg"], "msg cut to half the limit")
	require.NotContains(t, m, "obj", "an object that does not fit is left out")
	require.Contains(t, m["s"], "sss", "a string is cut to the room left")
	require.Equal(t, uint64(1), vt.Stats().Truncated)
	require.Equal(t, string(line(1, "")), string(f.Raw()[0][:len(line(1, ""))]), "short lines untouched")
	require.Equal(t, []byte(big+"\n"), b.Data[len(line(1, "")):len(b.Data)-len(line(2, ""))], "the batch itself is not modified")
}

// TestVictoriaLogsResumesConcurrentBatches: two batches sent at once, each delivered in part,
// are each resumed with only their own failed part.
func TestVictoriaLogsResumesConcurrentBatches(t *testing.T) {
	f := vtest.NewVictoriaLogs(t)
	vt := newVLT(t, &Options{URLs: []string{f.URL}, Concurrency: 2})
	var fail atomic.Bool
	fail.Store(true)
	f.SetFault(func(n int64, w http.ResponseWriter, r *http.Request) int {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		require.Equal(t, "gzip", r.Header.Get("Content-Encoding"))
		zr, err := gzip.NewReader(bytes.NewReader(body))
		require.NoError(t, err)
		plain, err := io.ReadAll(zr)
		require.NoError(t, err)
		// The second half of each batch fails: its first line has a seq of 400-999 or 1400-1999.
		var first struct{ Seq int }
		require.NoError(t, json.Unmarshal(plain[:bytes.IndexByte(plain, '\n')], &first))
		if fail.Load() && first.Seq%1000 >= 400 {
			w.WriteHeader(503)
			return 503
		}
		return 0
	})
	a, b := bigBatch(1000, 300), bigBatch(2000, 300)
	b.Data = b.Data[bytes.Index(b.Data, []byte(`"seq":1000,`))-len(`{"event_time":"2026-11-22T02:55:54.123456789Z","level":"info","msg":"m","service":"svc","env":"test",`):] // seqs 1000-1999
	a.Seq, b.Seq, b.Records = 1, 2, 1000
	var wg sync.WaitGroup
	for _, x := range []*output.Batch{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			require.Error(t, vt.Send(context.Background(), x))
		}()
	}
	wg.Wait()
	require.InDelta(t, 1000, f.Count(), 100, "about the first halves")
	fail.Store(false)
	for _, x := range []*output.Batch{b, a} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			require.NoError(t, vt.Send(context.Background(), x))
		}()
	}
	wg.Wait()
	require.Equal(t, int64(6), f.Received(), "only the failed parts were sent again")
	seqs := f.Seqs()
	require.Len(t, seqs, 2000)
	for i, c := range seqs {
		require.Equal(t, 1, c, "seq %d", i)
	}
}

// TestVictoriaLogsPipelined: through an output.Buffered, InFlight batches are sent at once, and
// every record arrives once.
func TestVictoriaLogsPipelined(t *testing.T) {
	vtest.CheckNoLeak(t)
	f := vtest.NewVictoriaLogs(t)
	release := make(chan struct{})
	f.SetFault(func(n int64, w http.ResponseWriter, r *http.Request) int {
		<-release
		return 0
	})
	vt := newVLT(t, &Options{URLs: []string{f.URL}, Concurrency: 1, InFlight: 3})
	o := output.NewBuffered(vt, &output.BufferOptions{BatchSize: 10 << 10, MaxBatchSize: 10 << 10}, output.Hooks{})
	pad := `,"pad":"` + strings.Repeat("x", 200) + `"`
	for i := range 1000 {
		_, err := o.Write(line(i, pad))
		require.NoError(t, err)
	}
	require.Eventually(t, func() bool { return f.InFlight() == 3 }, 5*time.Second, time.Millisecond)
	time.Sleep(20 * time.Millisecond)
	require.Equal(t, int64(3), f.InFlight(), "no more than InFlight batches at once")
	close(release)
	require.NoError(t, o.Close(context.Background()))
	seqs := f.Seqs()
	require.Len(t, seqs, 1000)
	for i, c := range seqs {
		require.Equal(t, 1, c, "seq %d", i)
	}
	vtest.CheckInvariant(t, o.Stats())
	require.Equal(t, int64(3), f.MaxInFlight())
}
