package handlers

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
)

// fakeVL is an httptest server that checks a request the way VictoriaLogs' /insert/jsonline
// does and more strictly (a test fails instead of a line being skipped): POST, the path, the
// content type, the encoding, the parameters, the tenancy headers, the auth; every line one
// JSON object, under the line limit, with the time and message fields. It keeps the lines.
type fakeVL struct {
	t   testing.TB
	srv *httptest.Server

	// want are the checks; zero values are not checked.
	wantAuth    string
	wantAccount string
	wantStream  string
	wantGzip    bool
	maxLine     int

	// fault, when set, answers a request instead (by its number, from 1); returning 0
	// accepts it.
	fault atomic.Pointer[func(n int64, w http.ResponseWriter, r *http.Request) int]

	requests atomic.Int64
	inFlight atomic.Int64
	maxIn    atomic.Int64
	mu       sync.Mutex
	lines    []map[string]any
	raw      [][]byte
	queries  []string
}

func newFakeVL(t testing.TB) *fakeVL {
	f := &fakeVL{t: t, wantGzip: true, wantStream: "service,env,ecs_cluster,container", maxLine: 256 << 10}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeVL) setFault(fn func(n int64, w http.ResponseWriter, r *http.Request) int) {
	if fn == nil {
		f.fault.Store(nil)
		return
	}
	f.fault.Store(&fn)
}

func (f *fakeVL) serve(w http.ResponseWriter, r *http.Request) {
	n := f.requests.Add(1)
	in := f.inFlight.Add(1)
	defer f.inFlight.Add(-1)
	for m := f.maxIn.Load(); in > m && !f.maxIn.CompareAndSwap(m, in); m = f.maxIn.Load() {
	}
	if fp := f.fault.Load(); fp != nil {
		if code := (*fp)(n, w, r); code != 0 {
			return
		}
	}
	fail := func(format string, args ...any) {
		f.t.Errorf("fakeVL: "+format, args...)
		http.Error(w, fmt.Sprintf(format, args...), http.StatusBadRequest)
	}
	if r.Method != http.MethodPost || r.URL.Path != "/insert/jsonline" {
		fail("want POST /insert/jsonline, got %s %s", r.Method, r.URL.Path)
		return
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/stream+json" {
		fail("Content-Type %q", ct)
		return
	}
	q := r.URL.Query()
	for k, v := range map[string]string{"_msg_field": "msg", "_time_field": "event_time", "_stream_fields": f.wantStream} {
		if q.Get(k) != v {
			fail("query %s=%q, want %q (%s)", k, q.Get(k), v, r.URL.RawQuery)
			return
		}
	}
	if got := r.Header.Get("Authorization"); got != f.wantAuth {
		fail("Authorization %q, want %q", got, f.wantAuth)
		return
	}
	if got := r.Header.Get("AccountID") + ":" + r.Header.Get("ProjectID"); f.wantAccount != "" && got != f.wantAccount || f.wantAccount == "" && got != ":" {
		fail("tenant %q, want %q", got, f.wantAccount)
		return
	}
	var body io.Reader = r.Body
	if enc := r.Header.Get("Content-Encoding"); f.wantGzip != (enc == "gzip") {
		fail("Content-Encoding %q", enc)
		return
	} else if enc == "gzip" {
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			fail("gzip: %v", err)
			return
		}
		body = zr
	}
	data, err := io.ReadAll(body)
	if err != nil {
		fail("body: %v", err)
		return
	}
	var got []map[string]any
	for _, line := range bytes.SplitAfter(data, []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		if !bytes.HasSuffix(line, []byte("\n")) {
			fail("last line without a newline")
			return
		}
		if len(line) > f.maxLine {
			fail("line of %d bytes over the limit %d", len(line), f.maxLine)
			return
		}
		var m map[string]any
		d := json.NewDecoder(bytes.NewReader(line))
		d.UseNumber()
		if err := d.Decode(&m); err != nil || d.More() {
			fail("line is not one JSON object: %v: %.200q", err, line)
			return
		}
		if _, ok := m["event_time"]; !ok {
			fail("line without event_time: %.200q", line)
			return
		}
		got = append(got, m)
	}
	f.mu.Lock()
	f.lines = append(f.lines, got...)
	f.raw = append(f.raw, data)
	f.queries = append(f.queries, r.URL.RawQuery)
	f.mu.Unlock()
}

func (f *fakeVL) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.lines)
}

// seqs returns how many times each "seq" arrived.
func (f *fakeVL) seqs() map[int64]int {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[int64]int{}
	for _, m := range f.lines {
		if n, ok := m["seq"].(json.Number); ok {
			i, _ := n.Int64()
			out[i]++
		}
	}
	return out
}

func batchOf(recs ...[]byte) *Batch {
	b := &Batch{Seq: 1}
	for _, r := range recs {
		b.Data = append(b.Data, r...)
		b.Records++
	}
	return b
}

func line(i int, extra string) []byte {
	return []byte(fmt.Sprintf(`{"event_time":"2026-11-22T02:55:54.123456789Z","level":"info","msg":"m","service":"svc","env":"test","seq":%d%s}`+"\n", i, extra))
}

func newVLT(t *testing.T, opts *VictoriaLogsOptions) *VictoriaLogsTransport {
	t.Helper()
	vt, err := NewVictoriaLogsTransport(opts)
	require.NoError(t, err)
	t.Cleanup(func() { _ = vt.Close() })
	return vt
}

func TestVictoriaLogsThroughHandler(t *testing.T) {
	checkNoLeak(t)
	f := newFakeVL(t)
	f.wantAccount = "12:34"
	f.wantAuth = "Bearer s3cret"
	vt := newVLT(t, &VictoriaLogsOptions{URLs: []string{f.srv.URL}, AccountID: 12, ProjectID: 34, BearerToken: "s3cret"})
	out := NewBufferedOutput(vt, &BufferOptions{BatchSize: 4 << 10})
	h := NewJSONHandler(out, &Options{Service: "order-api", Env: "prod", Version: "1.0"})
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
	require.Equal(t, n, f.count())
	seqs := f.seqs()
	for i := range n {
		require.Equal(t, 1, seqs[int64(i)], "seq %d", i)
	}
	var m map[string]any // seq 7 (batches in flight at once may arrive in any order)
	for _, l := range f.lines {
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
	require.Less(t, vs.BytesSent, vs.BytesRaw/4, "gzip")
	require.Zero(t, vs.RequestErrors)
}

func TestVictoriaLogsURLs(t *testing.T) {
	f := func(in string, opts VictoriaLogsOptions, want, wantAuth string) {
		t.Helper()
		opts.URLs = []string{in}
		vt, err := NewVictoriaLogsTransport(&opts)
		require.NoError(t, err, in)
		require.Equal(t, []string{want}, vt.Endpoints(), in)
		require.Equal(t, wantAuth, vt.endpoints[0].auth, in)
	}
	const q = "?_msg_field=msg&_stream_fields=service%2Cenv%2Cecs_cluster%2Ccontainer&_time_field=event_time"
	f("http://vl:9428", VictoriaLogsOptions{}, "http://vl:9428/insert/jsonline"+q, "")
	f("http://vl:9428/", VictoriaLogsOptions{}, "http://vl:9428/insert/jsonline"+q, "")
	f(" https://vl.example.com/insert/jsonline ", VictoriaLogsOptions{}, "https://vl.example.com/insert/jsonline"+q, "")
	f("http://proxy/logs/", VictoriaLogsOptions{}, "http://proxy/logs/insert/jsonline"+q, "")
	f("http://u:p%40ss@vl:9428", VictoriaLogsOptions{}, "http://vl:9428/insert/jsonline"+q, "Basic dTpwQHNz")
	f("http://vl:9428", VictoriaLogsOptions{Username: "u", Password: "p@ss"}, "http://vl:9428/insert/jsonline"+q, "Basic dTpwQHNz")
	f("http://vl:9428", VictoriaLogsOptions{BearerToken: "tok"}, "http://vl:9428/insert/jsonline"+q, "Bearer tok")
	f("http://vl:9428/insert/jsonline?_stream_fields=service,container&ignore_fields=password&extra_fields=team=a&_msg_field=msg",
		VictoriaLogsOptions{},
		"http://vl:9428/insert/jsonline?_msg_field=msg&_stream_fields=service%2Ccontainer&_time_field=event_time&extra_fields=team%3Da&ignore_fields=password", "")
	f("http://vl:9428/insert/jsonline?_stream_fields=service,container", VictoriaLogsOptions{StreamFields: []string{"service"}},
		"http://vl:9428/insert/jsonline?_msg_field=msg&_stream_fields=service&_time_field=event_time", "")
	f("http://vl:9428", VictoriaLogsOptions{IgnoreFields: []string{"a", "b"}, ExtraFields: map[string]string{"z": "1", "team": "pay"}},
		"http://vl:9428/insert/jsonline"+q+"&extra_fields=team%3Dpay%2Cz%3D1&ignore_fields=a%2Cb", "")
}

func TestVictoriaLogsOptionErrors(t *testing.T) {
	f := func(opts VictoriaLogsOptions, field, wantIn string) {
		t.Helper()
		_, err := NewVictoriaLogsTransport(&opts)
		require.Error(t, err)
		var oe *VictoriaLogsOptionError
		require.ErrorAs(t, err, &oe)
		require.Equal(t, field, oe.Field, "%v", err)
		require.Contains(t, err.Error(), wantIn)
		for _, secret := range []string{"hunter2", "tok3n"} {
			require.NotContains(t, err.Error(), secret, "credentials in the error")
		}
	}
	u := func(s ...string) []string { return s }
	f(VictoriaLogsOptions{}, "URLs", "at least one")
	f(VictoriaLogsOptions{URLs: u("vl:9428")}, "URLs", "http:// or https://")
	f(VictoriaLogsOptions{URLs: u("ftp://u:hunter2@vl")}, "URLs", `"ftp://u:xxxxx@vl"`)
	f(VictoriaLogsOptions{URLs: u("http://u:hunter2@vl:port")}, "URLs", "xxxxx")
	f(VictoriaLogsOptions{URLs: u("http://u:hunter2@vl:9428 x/")}, "URLs", "")
	f(VictoriaLogsOptions{URLs: u("http://u:hunter2@vl/?_msg_field=message")}, "URLs", "_msg_field must be msg")
	f(VictoriaLogsOptions{URLs: u("http://vl/?_time_field=ts")}, "URLs", "_time_field must be event_time")
	f(VictoriaLogsOptions{URLs: u("http://vl/?_stream_fields=service,request_id")}, "URLs", `"request_id" looks like a high-cardinality field`)
	f(VictoriaLogsOptions{URLs: u("http://u:hunter2@vl/"), BearerToken: "tok3n"}, "URLs", "exclude each other")
	f(VictoriaLogsOptions{URLs: u("http://vl"), BearerToken: "tok3n", Username: "u"}, "BearerToken", "exclude each other")
	f(VictoriaLogsOptions{URLs: u("http://vl"), Password: "hunter2"}, "Password", "needs a Username")
	f(VictoriaLogsOptions{URLs: u("http://vl"), StreamFields: u("service", "trace_id")}, "StreamFields", "trace_id")
	f(VictoriaLogsOptions{URLs: u("http://vl"), StreamFields: []string{}}, "StreamFields", "no stream field")
	f(VictoriaLogsOptions{URLs: u("http://vl"), IgnoreFields: u("a,b")}, "IgnoreFields", "not a usable field name")
	f(VictoriaLogsOptions{URLs: u("http://vl"), ExtraFields: map[string]string{"a": "1,2"}}, "ExtraFields", "comma")
	f(VictoriaLogsOptions{URLs: u("http://vl"), MaxLineSize: 512 << 10}, "MaxLineSize", "256 KiB")
	f(VictoriaLogsOptions{URLs: u("http://vl"), Concurrency: -1}, "Concurrency", "1 to 64")
	f(VictoriaLogsOptions{URLs: u("http://vl"), GzipLevel: 10}, "GzipLevel", "1 to 9")
	f(VictoriaLogsOptions{URLs: u("http://vl"), Timeout: -time.Second}, "Timeout", "positive")
	f(VictoriaLogsOptions{URLs: u("https://vl"), CAFile: "/nonexistent/ca.pem"}, "CAFile", "no such file")
	f(VictoriaLogsOptions{URLs: u("https://vl"), CAFile: writeFile(t, "not a certificate")}, "CAFile", "no PEM certificate")
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
	checkNoLeak(t)
	f := newFakeVL(t)
	vt := newVLT(t, &VictoriaLogsOptions{URLs: []string{"http://user:hunter2@" + strings.TrimPrefix(f.srv.URL, "http://")}, Timeout: 300 * time.Millisecond})
	f.wantAuth = basicAuth("user", "hunter2")
	ctx := context.Background()

	check := func(name string, fault func(n int64, w http.ResponseWriter, r *http.Request) int, permanent bool, wantIn ...string) {
		t.Helper()
		f.setFault(fault)
		err := vt.Send(ctx, batchOf(line(1, "")))
		require.Error(t, err, name)
		require.Equal(t, permanent, IsPermanent(err), "%s: %v", name, err)
		for _, s := range wantIn {
			require.Contains(t, err.Error(), s, name)
		}
		require.NotContains(t, err.Error(), "hunter2", name)
		require.NotContains(t, err.Error(), "_stream_fields", "%s: the error names the URL without its query", name)
		f.setFault(nil)
		require.NoError(t, vt.Send(ctx, batchOf(line(1, ""))), name+": then delivered")
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
		"400 Bad Request: cannot parse JSON line line contents:", f.srv.URL+"/insert/jsonline")
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
	}, false, "POST "+f.srv.URL+"/insert/jsonline")
	s := vt.Stats()
	require.Equal(t, uint64(3), s.Rejected, "400, 400 long, 401")
	require.Equal(t, uint64(8), s.RequestErrors)

	// Down altogether.
	f.srv.Close()
	err := vt.Send(ctx, batchOf(line(1, "")))
	require.Error(t, err)
	require.False(t, IsPermanent(err))
	require.Contains(t, err.Error(), "connect: connection refused")
}

func TestVictoriaLogsContextCanceled(t *testing.T) {
	f := newFakeVL(t)
	vt := newVLT(t, &VictoriaLogsOptions{URLs: []string{f.srv.URL}})
	release := make(chan struct{})
	f.setFault(func(int64, http.ResponseWriter, *http.Request) int { <-release; return 200 })
	defer close(release)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	err := vt.Send(ctx, batchOf(line(1, "")))
	require.ErrorIs(t, err, context.Canceled)
}

func TestVictoriaLogsBadRequestInStats(t *testing.T) {
	f := newFakeVL(t)
	f.setFault(func(_ int64, w http.ResponseWriter, _ *http.Request) int {
		http.Error(w, `cannot process jsonline request; error: cannot parse JSON: unexpected tail`, 400)
		return 400
	})
	out := NewBufferedOutput(newVLT(t, &VictoriaLogsOptions{URLs: []string{f.srv.URL}}), nil)
	_, _ = out.Write(line(1, ""))
	require.NoError(t, out.Close(context.Background()))
	s := out.Stats()
	require.Equal(t, uint64(1), s.Dropped.WriteError)
	require.Contains(t, s.LastError, "400 Bad Request: cannot process jsonline request; error: cannot parse JSON: unexpected tail")
}

func TestVictoriaLogsEndpoints(t *testing.T) {
	a, b := newFakeVL(t), newFakeVL(t)
	vt := newVLT(t, &VictoriaLogsOptions{URLs: []string{a.srv.URL, b.srv.URL}})
	ctx := context.Background()
	for i := range 10 {
		require.NoError(t, vt.Send(ctx, batchOf(line(i, ""))))
	}
	require.Equal(t, 5, a.count(), "round-robin")
	require.Equal(t, 5, b.count(), "round-robin")

	// a fails: every batch goes to b, at once, and a is skipped for a while.
	a.setFault(func(_ int64, w http.ResponseWriter, _ *http.Request) int { w.WriteHeader(503); return 503 })
	for i := range 10 {
		require.NoError(t, vt.Send(ctx, batchOf(line(i, ""))))
	}
	require.Equal(t, 15, b.count())
	require.Equal(t, int64(6), a.requests.Load(), "a tried once, then skipped")
	require.Equal(t, uint64(1), vt.Stats().Failovers)

	// 400 is about the body: no failover.
	b.setFault(func(_ int64, w http.ResponseWriter, _ *http.Request) int { w.WriteHeader(400); return 400 })
	a.setFault(nil)
	a.requests.Store(0)
	err := vt.Send(ctx, batchOf(line(1, "")))
	require.True(t, IsPermanent(err), "%v", err)
	require.Zero(t, a.requests.Load())

	// Both down: a retryable error naming the last one tried.
	a.srv.Close()
	b.setFault(func(_ int64, w http.ResponseWriter, _ *http.Request) int { w.WriteHeader(503); return 503 })
	err = vt.Send(ctx, batchOf(line(1, "")))
	require.Error(t, err)
	require.False(t, IsPermanent(err))
}

// bigBatch returns n records of about size bytes each.
func bigBatch(n, size int) *Batch {
	b := &Batch{Seq: 7}
	pad := `,"pad":"` + strings.Repeat("x", max(0, size-120)) + `"`
	for i := range n {
		b.Data = append(b.Data, line(i, pad)...)
		b.Records++
	}
	return b
}

func TestVictoriaLogsSplitsAndResumes(t *testing.T) {
	f := newFakeVL(t)
	vt := newVLT(t, &VictoriaLogsOptions{URLs: []string{f.srv.URL}, Concurrency: 4})
	release := make(chan struct{})
	var fail atomic.Bool
	fail.Store(true)
	f.setFault(func(n int64, w http.ResponseWriter, r *http.Request) int {
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
		for f.inFlight.Load() < 4 {
			time.Sleep(time.Millisecond)
		}
		close(release)
	}()
	err := vt.Send(context.Background(), b)
	require.Error(t, err, "one part failed")
	require.Equal(t, int64(4), f.maxIn.Load(), "4 requests in flight at once")
	got := f.count()
	require.Greater(t, got, 1000)
	require.Less(t, got, 2000)

	fail.Store(false)
	require.NoError(t, vt.Send(context.Background(), b))
	require.Equal(t, int64(5), f.requests.Load(), "only the failed part was sent again")
	seqs := f.seqs()
	require.Len(t, seqs, 2000)
	for i, c := range seqs {
		require.Equal(t, 1, c, "seq %d", i)
	}

	// A new batch with the same Seq but other contents is sent whole.
	b2 := bigBatch(1000, 300)
	require.NoError(t, vt.Send(context.Background(), b2))
	require.Equal(t, 3000, f.count())
}

func TestVictoriaLogsSmallBatchOneRequest(t *testing.T) {
	f := newFakeVL(t)
	vt := newVLT(t, &VictoriaLogsOptions{URLs: []string{f.srv.URL}})
	require.NoError(t, vt.Send(context.Background(), bigBatch(400, 300))) // 120 KB
	require.Equal(t, int64(1), f.requests.Load())
	require.Equal(t, 400, f.count())
}

func TestVictoriaLogsUncompressed(t *testing.T) {
	f := newFakeVL(t)
	f.wantGzip = false
	vt := newVLT(t, &VictoriaLogsOptions{URLs: []string{f.srv.URL}, GzipLevel: -1})
	require.NoError(t, vt.Send(context.Background(), bigBatch(1000, 300)))
	require.Equal(t, 1000, f.count())
}

func TestVictoriaLogsTLS(t *testing.T) {
	f := newFakeVL(t)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(f.serve))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the handshake without the CA fails
	srv.StartTLS()
	defer srv.Close()
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})

	vt := newVLT(t, &VictoriaLogsOptions{URLs: []string{srv.URL}})
	err := vt.Send(context.Background(), batchOf(line(1, "")))
	require.ErrorContains(t, err, "certificate", "unknown CA")

	vt = newVLT(t, &VictoriaLogsOptions{URLs: []string{srv.URL}, CAFile: writeFile(t, string(ca))})
	require.NoError(t, vt.Send(context.Background(), batchOf(line(1, ""))))
	require.Equal(t, 1, f.count())
}

func TestVictoriaLogsTruncates(t *testing.T) {
	f := newFakeVL(t)
	f.maxLine = 4<<10 + 1
	f.wantStream = "service,env,region"
	vt := newVLT(t, &VictoriaLogsOptions{URLs: []string{f.srv.URL}, MaxLineSize: 4 << 10, StreamFields: []string{"service", "env", "region"}})
	big := `{"event_time":"2026-11-22T02:55:54.123456789Z","level":"error","msg":"` + strings.Repeat("m", 10000) +
		`","service":"svc","env":"prod","version":"1","request_id":"r1","region":"eu","small":1,"obj":{"a":"` +
		strings.Repeat("o", 5000) + `"},"s":"` + strings.Repeat("s", 5000) + `","after":true}`
	b := batchOf(line(1, ""), []byte(big+"\n"), line(2, ""))
	require.NoError(t, vt.Send(context.Background(), b))
	require.Equal(t, 3, f.count(), "the lines around the long one arrive too")
	m := f.lines[1]
	require.Equal(t, "2026-11-22T02:55:54.123456789Z", m["event_time"])
	require.Equal(t, "error", m["level"])
	require.Equal(t, "svc", m["service"])
	require.Equal(t, "prod", m["env"])
	require.Equal(t, "1", m["version"])
	require.Equal(t, "r1", m["request_id"])
	require.Equal(t, "eu", m["region"])
	require.Equal(t, json.Number("1"), m["small"])
	require.Equal(t, json.Number(strconv.Itoa(len(big))), m[TruncatedKey])
	require.Equal(t, strings.Repeat("m", 2<<10-2), m["msg"], "msg cut to half the limit")
	require.NotContains(t, m, "obj", "an object that does not fit is left out")
	require.Contains(t, m["s"], "sss", "a string is cut to the room left")
	require.Equal(t, uint64(1), vt.Stats().Truncated)
	require.Equal(t, string(line(1, "")), string(f.raw[0][:len(line(1, ""))]), "short lines untouched")
	require.Equal(t, []byte(big+"\n"), b.Data[len(line(1, "")):len(b.Data)-len(line(2, ""))], "the batch itself is not modified")
}

func TestTruncateLine(t *testing.T) {
	keep := func(k string) bool { return k == "container" }
	f := func(in string, max int, want string) {
		t.Helper()
		got := string(truncateLine(nil, []byte(in), max, keep))
		require.LessOrEqual(t, len(got), max, got)
		require.True(t, json.Valid([]byte(got)), got)
		if strings.HasSuffix(want, "}") {
			require.Equal(t, want, got)
		} else {
			require.True(t, strings.HasPrefix(got, want), got)
		}
	}
	f(`{"msg":"`+strings.Repeat("a", 100)+`"}`, 60, `{"msg":"aaaaaaaaaaaaaaaaaaaaaaaaaaaa","vlog_truncated":110}`)
	f(`{"level":"info","x":"`+strings.Repeat("é", 100)+`","y":1}`, 80, `{"level":"info","x":"éééééééééééééééééé","vlog_truncated":229}`)
	f(`{"a":[`+strings.Repeat("1,", 100)+`1],"container":"c"}`, 64, `{"container":"c","vlog_truncated":225}`)
	f(`{"msg":"`+strings.Repeat(`\u0001`, 100)+`"}`, 100, `{"msg":"`+strings.Repeat(`\u0001`, 8)+`","vlog_truncated":610}`)
	f(`{"msg":"x","a":"`+strings.Repeat("\x01", 100)+`"}`, 1024, `{"event_time":"`)
	f(`{"vlog_truncated":5,"msg":"`+strings.Repeat("a", 100)+`"}`, 64, `{"msg":"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa","vlog_truncated":129}`)
	f(`not json`+strings.Repeat("a", 100), 1024, "")
	f(`{"event_time":"2026-11-22T02:55:54.123456789Z","msg":"`+strings.Repeat("a", 100)+`"`, 1024, "")
}

func TestTruncateRecord(t *testing.T) {
	rec := []byte(`{"event_time":"2026-11-22T02:55:54.123456789Z","level":"info","msg":"m","service":"s","http":{"route":"/x"},"big":"` +
		strings.Repeat("b", 5000) + `"}`)
	got := TruncateRecord([]byte("x"), rec, 1024, "service", "http.route")
	require.Equal(t, byte('x'), got[0], "appends")
	m := decode(t, append(got[1:], '\n'))
	require.LessOrEqual(t, len(got)-1, 1024)
	require.Equal(t, map[string]any{"route": "/x"}, m["http"], "a stream field inside an object keeps the object")
	require.Equal(t, json.Number(strconv.Itoa(len(rec))), m[TruncatedKey])
	require.Contains(t, m["big"], "bbb")
}

func FuzzTruncateLine(f *testing.F) {
	f.Add([]byte(`{"event_time":"2026-11-22T02:55:54.123456789Z","level":"info","msg":"hello","service":"s","a":{"b":[1,2,"x"]},"c":"déjà vu"}`), 40)
	f.Add([]byte(`{"msg":"\u2028\ud83d\ude00","x":null,"y":true}`), 30)
	f.Fuzz(func(t *testing.T, in []byte, max int) {
		max = 40 + abs(max)%400
		out := truncateLine(nil, in, max, func(k string) bool { return k == "container" })
		if len(out) > max {
			t.Fatalf("%d bytes > %d: %s", len(out), max, out)
		}
		var m map[string]any
		if err := json.Unmarshal(out, &m); err != nil {
			t.Fatalf("invalid JSON %s: %v", out, err)
		}
		if bytes.ContainsAny(out, "\n\r") {
			t.Fatalf("not one line: %q", out)
		}
		if _, ok := m[TruncatedKey]; !ok {
			t.Fatalf("no marker: %s", out)
		}
	})
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}

// TestVictoriaLogsResumesConcurrentBatches: two batches sent at once, each delivered in part,
// are each resumed with only their own failed part.
func TestVictoriaLogsResumesConcurrentBatches(t *testing.T) {
	f := newFakeVL(t)
	vt := newVLT(t, &VictoriaLogsOptions{URLs: []string{f.srv.URL}, Concurrency: 2})
	var fail atomic.Bool
	fail.Store(true)
	f.setFault(func(n int64, w http.ResponseWriter, r *http.Request) int {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		zr, err := gzip.NewReader(bytes.NewReader(body))
		require.NoError(t, err)
		plain, _ := io.ReadAll(zr)
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
	for _, x := range []*Batch{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			require.Error(t, vt.Send(context.Background(), x))
		}()
	}
	wg.Wait()
	require.InDelta(t, 1000, f.count(), 100, "about the first halves")
	fail.Store(false)
	for _, x := range []*Batch{b, a} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			require.NoError(t, vt.Send(context.Background(), x))
		}()
	}
	wg.Wait()
	require.Equal(t, int64(6), f.requests.Load(), "only the failed parts were sent again")
	seqs := f.seqs()
	require.Len(t, seqs, 2000)
	for i, c := range seqs {
		require.Equal(t, 1, c, "seq %d", i)
	}
}

// TestVictoriaLogsPipelined: through a BufferedOutput, InFlight batches are sent at once, and
// every record arrives once.
func TestVictoriaLogsPipelined(t *testing.T) {
	checkNoLeak(t)
	f := newFakeVL(t)
	release := make(chan struct{})
	f.setFault(func(n int64, w http.ResponseWriter, r *http.Request) int {
		<-release
		return 0
	})
	vt := newVLT(t, &VictoriaLogsOptions{URLs: []string{f.srv.URL}, Concurrency: 1, InFlight: 3})
	o := NewBufferedOutput(vt, &BufferOptions{BatchSize: 10 << 10, MaxBatchSize: 10 << 10})
	pad := `,"pad":"` + strings.Repeat("x", 200) + `"`
	for i := range 1000 {
		_, err := o.Write(line(i, pad))
		require.NoError(t, err)
	}
	require.Eventually(t, func() bool { return f.inFlight.Load() == 3 }, 5*time.Second, time.Millisecond)
	time.Sleep(20 * time.Millisecond)
	require.Equal(t, int64(3), f.inFlight.Load(), "no more than InFlight batches at once")
	close(release)
	require.NoError(t, o.Close(context.Background()))
	seqs := f.seqs()
	require.Len(t, seqs, 1000)
	for i, c := range seqs {
		require.Equal(t, 1, c, "seq %d", i)
	}
	checkInvariant(t, o.Stats())
	require.Equal(t, int64(3), f.maxIn.Load())
}
