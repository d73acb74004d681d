package vtest

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/klauspost/compress/zstd"
)

// DefaultEncoding is the Content-Encoding of the VictoriaLogs transport's default compression
// (victorialogs.DefaultCompression, which this package cannot import: the transport's tests
// import it), what the fake expects unless told otherwise.
const DefaultEncoding = "gzip"

// VictoriaLogs is the one fake VictoriaLogs of the test suites: an httptest server that checks
// every request the way VictoriaLogs' /insert/jsonline does, and more strictly (the test fails
// instead of a line being skipped): POST, the path, the content type, the encoding, the
// _msg_field/_time_field/_stream_fields parameters, the tenancy headers, the auth; every line
// one JSON object with event_time, under the line limit. It keeps what it accepted.
//
// It also serves GET /health and /select/logsql/query (field:"value" filters only) over the
// records kept, stored as VictoriaLogs stores them (_msg, _stream), for tests of a program
// that checks a VictoriaLogs end to end (vlog-verify). Any other path fails the test.
//
// The Want fields are the expectations, the Status fields and HideRows the answers, all set
// before the first request. SetFault answers requests instead (to play an outage, a slow
// server, a 400).
type VictoriaLogs struct {
	// URL is the server's base URL, http://127.0.0.1:port.
	URL string

	// WantAuth is the Authorization header expected ("" : none).
	WantAuth string
	// WantAccount is "AccountID:ProjectID" expected ("": no tenancy headers).
	WantAccount string
	// WantStream is _stream_fields expected. Default service,env,ecs_cluster,container.
	WantStream string
	// WantEncoding is the Content-Encoding expected: "gzip", "zstd", or "none" for
	// uncompressed bodies (no Content-Encoding header). Default (""): DefaultEncoding (gzip)
	// when WantGzip is true, "none" when it is false. Bodies are decoded with compress/gzip (a
	// decoder independent of the transport's klauspost/compress gzip) and klauspost/compress's
	// zstd (VictoriaLogs' decoder).
	WantEncoding string
	// WantGzip expects gzip bodies (the default) or, false, uncompressed ones: the older
	// spelling of WantEncoding, ignored when that is set.
	WantGzip bool
	// MaxLine is the largest line accepted, newline included. Default 256 KiB.
	MaxLine int
	// Required are the fields every record must have as strings, besides event_time (an RFC
	// 3339 time) and msg (a string), which every record must have.
	Required []string

	// HealthStatus, non-zero, is the status /health answers instead of 200 OK (an unhealthy
	// VictoriaLogs).
	HealthStatus int
	// InsertStatus, non-zero, is the status inserts are answered with once checked, their
	// lines not kept (a VictoriaLogs that refuses them).
	InsertStatus int
	// HideRows makes queries find nothing (a VictoriaLogs that answered 200 but skipped the
	// lines).
	HideRows bool

	t        testing.TB
	srv      *httptest.Server
	fault    atomic.Pointer[func(n int64, w http.ResponseWriter, r *http.Request) int]
	requests atomic.Int64
	inFlight atomic.Int64
	maxIn    atomic.Int64

	mu    sync.Mutex
	lines []map[string]any
	raw   [][]byte
	reqs  []Request
	rows  []storedRow
}

// storedRow is a record kept with the ingestion parameters it came with: the row as
// VictoriaLogs stores it is made when a query reads it (see row), not for every insert.
type storedRow struct {
	rec                    map[string]any
	msgField, streamFields string
}

// Request is what VictoriaLogs keeps of an accepted request.
type Request struct {
	URL    *url.URL
	Header http.Header
}

// NewVictoriaLogs starts a fake VictoriaLogs, closed at the end of the test.
func NewVictoriaLogs(t testing.TB) *VictoriaLogs {
	f := &VictoriaLogs{t: t, WantGzip: true, WantStream: "service,env,ecs_cluster,container", MaxLine: 256 << 10}
	f.srv = httptest.NewServer(f)
	f.URL = f.srv.URL
	t.Cleanup(f.srv.Close)
	return f
}

// Host returns host:port.
func (f *VictoriaLogs) Host() string { return strings.TrimPrefix(f.URL, "http://") }

// Client returns the server's HTTP client.
func (f *VictoriaLogs) Client() *http.Client { return f.srv.Client() }

// SetFault makes fn see every request first (n counts them from 1); when it returns non-zero
// (the status it answered), the request is not checked or kept. nil removes it.
func (f *VictoriaLogs) SetFault(fn func(n int64, w http.ResponseWriter, r *http.Request) int) {
	if fn == nil {
		f.fault.Store(nil)
		return
	}
	f.fault.Store(&fn)
}

// ServeHTTP serves /insert/jsonline, /health and /select/logsql/query (a test may mount it on
// a server of its own, a TLS one).
func (f *VictoriaLogs) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n := f.requests.Add(1)
	in := f.inFlight.Add(1)
	defer f.inFlight.Add(-1)
	for m := f.maxIn.Load(); in > m && !f.maxIn.CompareAndSwap(m, in); m = f.maxIn.Load() {
	}
	if fp := f.fault.Load(); fp != nil && (*fp)(n, w, r) != 0 {
		return
	}
	fail := func(format string, args ...any) {
		f.t.Errorf("fake VictoriaLogs: "+format, args...)
		http.Error(w, fmt.Sprintf(format, args...), http.StatusBadRequest)
	}
	switch r.URL.Path {
	case "/health":
		f.serveHealth(w, r, fail)
		return
	case "/select/logsql/query":
		f.serveQuery(w, r, fail)
		return
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
	for k, v := range map[string]string{"_msg_field": "msg", "_time_field": "event_time", "_stream_fields": f.WantStream} {
		if q.Get(k) != v {
			fail("query %s=%q, want %q (%s)", k, q.Get(k), v, r.URL.RawQuery)
			return
		}
	}
	if got := r.Header.Get("Authorization"); got != f.WantAuth {
		fail("Authorization %q, want %q", got, f.WantAuth)
		return
	}
	if got := r.Header.Get("AccountID") + ":" + r.Header.Get("ProjectID"); f.WantAccount != "" && got != f.WantAccount || f.WantAccount == "" && got != ":" {
		fail("tenant %q, want %q", got, f.WantAccount)
		return
	}
	want := f.WantEncoding
	switch {
	case want == "" && f.WantGzip:
		want = DefaultEncoding
	case want == "":
		want = "none"
	case want != "none" && want != "gzip" && want != "zstd":
		fail("WantEncoding %q: the fake knows gzip, zstd and none", want)
		return
	}
	encs := r.Header.Values("Content-Encoding")
	enc := r.Header.Get("Content-Encoding")
	if want == "none" && len(encs) > 0 || want != "none" && (len(encs) != 1 || enc != want) {
		fail("Content-Encoding %q, want %q", encs, want)
		return
	}
	var body io.Reader = r.Body
	switch enc {
	case "gzip":
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			fail("gzip: %v", err)
			return
		}
		body = zr
	case "zstd":
		zr, err := zstd.NewReader(r.Body, zstd.WithDecoderConcurrency(1))
		if err != nil {
			fail("zstd: %v", err)
			return
		}
		defer zr.Close()
		body = zr
	}
	data, err := io.ReadAll(body)
	if err != nil {
		fail("body (Content-Encoding %q): %v", enc, err)
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
		if len(line) > f.MaxLine {
			fail("line of %d bytes over the limit %d", len(line), f.MaxLine)
			return
		}
		var m map[string]any
		d := json.NewDecoder(bytes.NewReader(line))
		d.UseNumber()
		if err := d.Decode(&m); err != nil || d.More() {
			fail("line is not one JSON object: %v: %.200q", err, line)
			return
		}
		if !utf8.Valid(line) {
			fail("line is not valid UTF-8: %.200q", line)
			return
		}
		if et, _ := m["event_time"].(string); !rfc3339(et) {
			fail("line without an RFC 3339 event_time: %.200q", line)
			return
		}
		if _, ok := m["msg"].(string); !ok {
			fail("line whose msg is not a string: %.200q", line)
			return
		}
		for _, k := range f.Required {
			if _, ok := m[k].(string); !ok {
				fail("line without the string %s: %.300q", k, line)
				return
			}
		}
		got = append(got, m)
	}
	if f.InsertStatus != 0 {
		http.Error(w, "cannot parse the request", f.InsertStatus)
		return
	}
	msgField, streamFields := q.Get("_msg_field"), q.Get("_stream_fields")
	f.mu.Lock()
	f.lines = append(f.lines, got...)
	f.raw = append(f.raw, data)
	f.reqs = append(f.reqs, Request{URL: r.URL, Header: r.Header.Clone()})
	for _, m := range got {
		f.rows = append(f.rows, storedRow{m, msgField, streamFields})
	}
	f.mu.Unlock()
}

// serveHealth answers GET /health as VictoriaLogs does: 200 "OK", or HealthStatus.
func (f *VictoriaLogs) serveHealth(w http.ResponseWriter, r *http.Request, fail func(string, ...any)) {
	if r.Method != http.MethodGet {
		fail("want GET /health, got %s", r.Method)
		return
	}
	if f.HealthStatus != 0 {
		http.Error(w, "unhealthy", f.HealthStatus)
		return
	}
	_, _ = io.WriteString(w, "OK")
}

// queryFilter is a LogsQL term the fake evaluates: field:"value", an exact match; _time:... is
// accepted and ignored (every row kept is recent).
var (
	queryFilter = regexp.MustCompile(`([A-Za-z0-9_.]+):("(?:[^"\\]|\\.)*")`)
	queryTime   = regexp.MustCompile(`(^|\s)_time:\S+`)
)

// serveQuery answers /select/logsql/query: the rows kept that match every field:"value" filter
// of the query, as JSON lines, at most limit of them.
func (f *VictoriaLogs) serveQuery(w http.ResponseWriter, r *http.Request, fail func(string, ...any)) {
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		fail("want GET or POST /select/logsql/query, got %s", r.Method)
		return
	}
	query := r.FormValue("query")
	want := map[string]string{}
	for _, m := range queryFilter.FindAllStringSubmatch(query, -1) {
		v, err := strconv.Unquote(m[2])
		if err != nil {
			fail("query %q: %v", query, err)
			return
		}
		want[m[1]] = v
	}
	if rest := strings.TrimSpace(queryTime.ReplaceAllString(queryFilter.ReplaceAllString(query, " "), " ")); rest != "" || len(want) == 0 {
		fail("query %q: the fake evaluates field:\"value\" filters (and ignores _time:), not %q", query, rest)
		return
	}
	limit := -1
	if s := r.FormValue("limit"); s != "" {
		var err error
		if limit, err = strconv.Atoi(s); err != nil {
			fail("limit %q", s)
			return
		}
	}
	if f.HideRows {
		return
	}
	f.mu.Lock()
	rows := append([]storedRow(nil), f.rows...)
	f.mu.Unlock()
	for _, sr := range rows {
		if limit == 0 {
			break
		}
		row := sr.row()
		match := true
		for k, v := range want {
			got, ok := row[k]
			match = match && ok && fmt.Sprint(got) == v
		}
		if !match {
			continue
		}
		b, err := json.Marshal(row)
		if err != nil {
			fail("row %v: %v", row, err)
			return
		}
		_, _ = w.Write(append(b, '\n'))
		limit--
	}
}

// row returns the record as VictoriaLogs stores it: _msg from the first non-empty of the
// _msg_field fields (which it replaces), _stream from the _stream_fields with a string value.
func (sr storedRow) row() map[string]any {
	row := make(map[string]any, len(sr.rec)+2)
	for k, v := range sr.rec {
		row[k] = v
	}
	for _, k := range strings.Split(sr.msgField, ",") {
		if v, ok := sr.rec[k]; ok && v != "" {
			row["_msg"] = v
			delete(row, k)
			break
		}
	}
	var stream []string
	for _, k := range strings.Split(sr.streamFields, ",") {
		if v, ok := sr.rec[k].(string); ok && v != "" {
			stream = append(stream, fmt.Sprintf("%s=%q", k, v))
		}
	}
	row["_stream"] = "{" + strings.Join(stream, ",") + "}"
	return row
}

// Store keeps rec for the queries as if it had been ingested with these _msg_field and
// _stream_fields, without a request: for a stand-in that delivers on its own, such as a fake
// router forwarding what it received. Lines, Count and Requests do not include it.
func (f *VictoriaLogs) Store(rec map[string]any, msgField, streamFields string) {
	f.mu.Lock()
	f.rows = append(f.rows, storedRow{rec, msgField, streamFields})
	f.mu.Unlock()
}

// Lines returns the records accepted, in order of arrival.
func (f *VictoriaLogs) Lines() []map[string]any {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]map[string]any(nil), f.lines...)
}

// Count returns the number of records accepted.
func (f *VictoriaLogs) Count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.lines)
}

// Raw returns the decompressed body of each accepted request.
func (f *VictoriaLogs) Raw() [][]byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([][]byte(nil), f.raw...)
}

// Requests returns the URL and headers of each accepted request.
func (f *VictoriaLogs) Requests() []Request {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Request(nil), f.reqs...)
}

// InFlight returns the number of requests being served now.
func (f *VictoriaLogs) InFlight() int64 { return f.inFlight.Load() }

// Close stops the server (as a VictoriaLogs that went away).
func (f *VictoriaLogs) Close() { f.srv.Close() }

// Received counts every request, faulted ones included.
func (f *VictoriaLogs) Received() int64 { return f.requests.Load() }

// MaxInFlight returns the most requests that were being served at once.
func (f *VictoriaLogs) MaxInFlight() int64 { return f.maxIn.Load() }

// ByField returns the records accepted by the value of field, and fails the test on a value
// that came twice.
func (f *VictoriaLogs) ByField(t testing.TB, field string) map[string]map[string]any {
	t.Helper()
	m := map[string]map[string]any{}
	for _, r := range f.Lines() {
		id, _ := r[field].(string)
		if _, dup := m[id]; dup {
			t.Errorf("record %s=%s delivered twice", field, id)
		}
		m[id] = r
	}
	return m
}

// rfc3339 reports whether s is a time as the JSON handler writes event_time.
func rfc3339(s string) bool {
	_, err := time.Parse(time.RFC3339Nano, s)
	return err == nil
}

// Seqs returns how many times each value of the field "seq" arrived.
func (f *VictoriaLogs) Seqs() map[int64]int {
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
