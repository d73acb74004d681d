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
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// VictoriaLogs is the one fake VictoriaLogs of the test suites: an httptest server that checks
// every request the way VictoriaLogs' /insert/jsonline does, and more strictly (the test fails
// instead of a line being skipped): POST, the path, the content type, the encoding, the
// _msg_field/_time_field/_stream_fields parameters, the tenancy headers, the auth; every line
// one JSON object with event_time, under the line limit. It keeps what it accepted.
//
// The Want fields are the expectations, set before the first request. SetFault answers
// requests instead (to play an outage, a slow server, a 400).
type VictoriaLogs struct {
	// URL is the server's base URL, http://127.0.0.1:port.
	URL string

	// WantAuth is the Authorization header expected ("" : none).
	WantAuth string
	// WantAccount is "AccountID:ProjectID" expected ("": no tenancy headers).
	WantAccount string
	// WantStream is _stream_fields expected. Default service,env,ecs_cluster,container.
	WantStream string
	// WantGzip expects gzip bodies (the default) or, false, uncompressed ones.
	WantGzip bool
	// MaxLine is the largest line accepted, newline included. Default 256 KiB.
	MaxLine int

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

// ServeHTTP serves /insert/jsonline (a test may mount it on a server of its own, a TLS one).
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
	var body io.Reader = r.Body
	if enc := r.Header.Get("Content-Encoding"); f.WantGzip != (enc == "gzip") {
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
		if _, ok := m["event_time"]; !ok {
			fail("line without event_time: %.200q", line)
			return
		}
		got = append(got, m)
	}
	f.mu.Lock()
	f.lines = append(f.lines, got...)
	f.raw = append(f.raw, data)
	f.reqs = append(f.reqs, Request{URL: r.URL, Header: r.Header.Clone()})
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
