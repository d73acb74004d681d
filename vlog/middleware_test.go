package vlog

import (
	"bufio"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"net/textproto"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"go.vlog.dev/internal/ctxids"
)

// captured is one record seen by captureHandler.
type captured struct {
	Level slog.Level
	Msg   string
	Keys  []string // attribute keys, in order
	Attrs map[string]slog.Value
	IDs   ctxids.IDs // the ids carried by the context passed to Handle
}

// captureHandler keeps every record, with the ids of its context, so tests do not depend on
// the module's own handlers.
type captureHandler struct {
	min  slog.Level
	mu   sync.Mutex
	recs []captured
}

func (h *captureHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= h.min }

func (h *captureHandler) Handle(ctx context.Context, r slog.Record) error {
	c := captured{Level: r.Level, Msg: r.Message, Attrs: map[string]slog.Value{}, IDs: ctxids.From(ctx)}
	r.Attrs(func(a slog.Attr) bool {
		c.Keys = append(c.Keys, a.Key)
		c.Attrs[a.Key] = a.Value
		return true
	})
	h.mu.Lock()
	h.recs = append(h.recs, c)
	h.mu.Unlock()
	return nil
}

func (h *captureHandler) WithAttrs([]slog.Attr) slog.Handler { panic("not used") }
func (h *captureHandler) WithGroup(string) slog.Handler      { panic("not used") }

func (h *captureHandler) records() []captured {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]captured(nil), h.recs...)
}

// only returns the single record captured so far.
func (h *captureHandler) only(t *testing.T) captured {
	t.Helper()
	recs := h.records()
	require.Len(t, recs, 1)
	return recs[0]
}

// serve runs one request through Middleware(logger, next) with a ResponseRecorder.
func serve(next http.Handler, req *http.Request) (*httptest.ResponseRecorder, *captureHandler) {
	h := &captureHandler{}
	rec := httptest.NewRecorder()
	Middleware(slog.New(h), next).ServeHTTP(rec, req)
	return rec, h
}

// serveReal starts a server running Middleware(logger, next) and returns its URL and a
// function that waits until the middleware returned from n requests.
func serveReal(t *testing.T, h *captureHandler, next http.Handler) (url string, wait func(n int)) {
	t.Helper()
	mw := Middleware(slog.New(h), next)
	done := make(chan struct{}, 16)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() { done <- struct{}{} }()
		mw.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL, func(n int) {
		for range n {
			<-done
		}
	}
}

func TestParseTraceparent(t *testing.T) {
	f := func(in, wantTrace, wantParent string) {
		t.Helper()
		trace, parent, ok := parseTraceparent(in)
		require.Equal(t, wantTrace != "", ok, "ok for %q", in)
		require.Equal(t, wantTrace, trace, "trace id of %q", in)
		require.Equal(t, wantParent, parent, "parent id of %q", in)
	}
	const tr, sp = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"

	// valid
	f("00-"+tr+"-"+sp+"-01", tr, sp)
	f("00-"+tr+"-"+sp+"-00", tr, sp)
	f("00-"+tr+"-"+sp+"-ff", tr, sp)                       // unknown flags are kept as they are
	f("01-"+tr+"-"+sp+"-01", tr, sp)                       // future version, no extra fields
	f("cc-"+tr+"-"+sp+"-09-what-the-future-holds", tr, sp) // future version, extra fields
	f("fe-"+tr+"-"+sp+"-01-", tr, sp)

	// invalid
	f("", "", "")
	f("00", "", "")
	f("ff-"+tr+"-"+sp+"-01", "", "")                           // version ff is forbidden
	f("00-"+strings.ToUpper(tr)+"-"+sp+"-01", "", "")          // uppercase trace id
	f("00-"+tr+"-00F067AA0BA902B7-01", "", "")                 // uppercase parent id
	f("0A-"+tr+"-"+sp+"-01", "", "")                           // uppercase version
	f("00-"+tr+"-"+sp+"-0A", "", "")                           // uppercase flags
	f("00-00000000000000000000000000000000-"+sp+"-01", "", "") // all-zero trace id
	f("00-"+tr+"-0000000000000000-01", "", "")                 // all-zero parent id
	f("00-"+tr[1:]+"-"+sp+"-01", "", "")                       // trace id too short
	f("00-"+tr+"0-"+sp+"-01", "", "")                          // trace id too long
	f("00-"+tr+"-"+sp[1:]+"-01", "", "")                       // parent id too short
	f("00-"+tr+"-"+sp+"0-01", "", "")                          // parent id too long
	f("00-"+tr+"-"+sp+"-1", "", "")                            // flags too short
	f("00-"+tr+"-"+sp+"-011", "", "")                          // flags too long
	f("0-"+tr+"-"+sp+"-01", "", "")                            // version too short
	f("000-"+tr+"-"+sp+"-01", "", "")                          // version too long
	f("00-"+tr+"-"+sp+"-01-extra", "", "")                     // version 00 has no more fields
	f("01-"+tr+"-"+sp+"-01extra", "", "")                      // extra fields need a '-'
	f("00_"+tr+"_"+sp+"_01", "", "")                           // wrong separators
	f(" 00-"+tr+"-"+sp+"-01", "", "")
	f("00-"+tr[:31]+"g-"+sp+"-01", "", "") // not hex
	f("00-"+tr+"-"+sp[:15]+"z-01", "", "")
	f("xx-"+tr+"-"+sp+"-01", "", "")
}

func TestParseAmznTraceID(t *testing.T) {
	f := func(in, wantRoot, wantParent string) {
		t.Helper()
		root, parent, ok := parseAmznTraceID(in)
		require.Equal(t, wantRoot != "", ok, "ok for %q", in)
		require.Equal(t, wantRoot, root, "root of %q", in)
		require.Equal(t, wantParent, parent, "parent of %q", in)
	}
	const root, parent = "1-5759e988-bd862e3fe1be46a994272793", "53995c3f42cd8ad8"

	// valid
	f("Root="+root+";Parent="+parent+";Sampled=1", root, parent)
	f("Root="+root, root, "")
	f("Sampled=0;Parent="+parent+";Root="+root, root, parent) // any order
	f(" Root = "+root+" ; Parent="+parent+" ;Sampled=1 ", root, parent)
	f("Root="+root+";", root, "")
	f(";;Root="+root+";;junk;Lineage=a87bd80c:1|68fd508a:5", root, "")
	f("Self=1-67891234-12456789abcdef012345678;Root="+root, root, "") // ALB adds Self
	f("Root=1-5759E988-BD862E3FE1BE46A994272793", "1-5759E988-BD862E3FE1BE46A994272793", "")
	f("Root="+root+";Parent=53995c3f42cd8ad", root, "")                   // invalid parent is dropped
	f("Root="+root+";Parent=53995c3f42cd8adx", root, "")                  // invalid parent is dropped
	f("Root="+root+";Root=1-00000000-000000000000000000000000", root, "") // first Root counts

	// invalid
	f("", "", "")
	f("Parent="+parent, "", "")
	f("Root=", "", "")
	f("root="+root, "", "")                               // keys are case-sensitive
	f("Root=2-5759e988-bd862e3fe1be46a994272793", "", "") // unknown version
	f("Root=1-5759e98-bd862e3fe1be46a994272793", "", "")  // time too short
	f("Root=1-5759e988-bd862e3fe1be46a99427279", "", "")  // id too short
	f("Root=1-5759e988-bd862e3fe1be46a9942727933", "", "")
	f("Root=1-5759e988_bd862e3fe1be46a994272793", "", "")
	f("Root=1-5759e988-bd862e3fe1be46a99427279g", "", "")
	f("Root=\"1-5759e988-bd862e3fe1be46a994272793\"", "", "")
	f(root, "", "")
}

func TestParseTraceHeadersDoNotAllocate(t *testing.T) {
	h := http.Header{}
	h.Set("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	a := http.Header{}
	a.Set("X-Amzn-Trace-Id", "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1")
	allocs := testing.AllocsPerRun(100, func() {
		_, _ = traceIDsFromHeader(h)
		_, _ = traceIDsFromHeader(a)
	})
	require.Zero(t, allocs)
}

func TestMiddlewareTraceHeaders(t *testing.T) {
	const (
		tp     = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
		tpBad  = "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01"
		amzn   = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
		w3cTr  = "4bf92f3577b34da6a3ce929d0e0e4736"
		w3cSp  = "00f067aa0ba902b7"
		awsTr  = "1-5759e988-bd862e3fe1be46a994272793"
		awsSp  = "53995c3f42cd8ad8"
		noHdr  = ""
		absent = "<absent>"
	)
	f := func(traceparents []string, amznHeader, wantTrace, wantSpan string) {
		t.Helper()
		req := httptest.NewRequest("GET", "/", nil)
		for _, v := range traceparents {
			req.Header.Add("traceparent", v)
		}
		if amznHeader != absent {
			req.Header.Set("X-Amzn-Trace-Id", amznHeader)
		}
		var seen ctxids.IDs
		_, h := serve(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			seen = ctxids.From(r.Context())
			require.Equal(t, TraceID(r.Context()), seen.TraceID)
			require.Equal(t, SpanID(r.Context()), seen.SpanID)
		}), req)
		require.Equal(t, wantTrace, seen.TraceID)
		require.Equal(t, wantSpan, seen.SpanID)
		require.Equal(t, seen, h.only(t).IDs, "the access record carries the handler's ids")
	}
	f(nil, absent, "", "")
	f([]string{tp}, absent, w3cTr, w3cSp)
	f(nil, amzn, awsTr, awsSp)
	f([]string{tp}, amzn, w3cTr, w3cSp)     // traceparent wins
	f([]string{tpBad}, amzn, awsTr, awsSp)  // an invalid traceparent is ignored
	f([]string{tp, tp}, amzn, awsTr, awsSp) // several traceparent headers are invalid
	f([]string{tp, tp}, absent, "", "")     // and no fallback means no trace
	f([]string{tpBad}, absent, "", "")
	f([]string{tpBad}, "Root=garbage", "", "")
	f(nil, noHdr, "", "")
	f(nil, "Root=1-5759e988-bd862e3fe1be46a994272793", awsTr, "")
}

func TestMiddlewareRequestID(t *testing.T) {
	const absent = "<absent>"
	f := func(header string, keep bool) string {
		t.Helper()
		req := httptest.NewRequest("GET", "/", nil)
		if header != absent {
			req.Header.Set("X-Request-Id", header)
		}
		var seen string
		rec, h := serve(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			seen = RequestID(r.Context())
			require.Equal(t, seen, w.Header().Get("X-Request-Id"), "echoed before the handler runs")
		}), req)
		if keep {
			require.Equal(t, header, seen)
		} else {
			require.Regexp(t, "^[0-9a-f]{32}$", seen, "generated for %q", header)
		}
		require.Equal(t, seen, rec.Header().Get("X-Request-Id"))
		require.Equal(t, seen, h.only(t).IDs.RequestID)
		return seen
	}
	// sane ids are kept
	f("abc", true)
	f("x", true)
	f("0c1ab3f2-7e55-4b0c-9d1e-0123456789ab", true)
	f("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8", true)
	f("!#$%&()*+,-./:;<=>?@[]^_`{|}~", true)
	f(strings.Repeat("a", 128), true)

	// others are replaced
	f(absent, false)
	f("", false)
	f(strings.Repeat("a", 129), false)
	f("has space", false)
	f("tab\there", false)
	f(`quo"te`, false)
	f("quo'te", false)
	f(`back\slash`, false)
	f("caf\u00e9", false)
	f("del\x7f", false)
	f("nul\x00", false)

	// generated ids are unique
	seen := map[string]bool{}
	for range 100 {
		id := f(absent, false)
		require.False(t, seen[id], "duplicate id %s", id)
		seen[id] = true
	}
}

func TestMiddlewareAccessRecord(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /orders/{id}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = io.WriteString(w, "order "+r.PathValue("id"))
	})
	req := httptest.NewRequest("GET", "/orders/42?token=secret", nil)
	req.Header.Set("User-Agent", "test-agent/1.0")
	req.Header.Set("X-Request-Id", "req-42")
	req.Header.Set("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	rec, h := serve(mux, req)
	require.Equal(t, "order 42", rec.Body.String())

	r := h.only(t)
	require.Equal(t, slog.LevelInfo, r.Level)
	require.Equal(t, "http request", r.Msg)
	require.Equal(t, []string{"method", "route", "path", "status", "bytes", "duration_ms", "remote_ip", "user_agent"}, r.Keys)
	require.Equal(t, "GET", r.Attrs["method"].String())
	require.Equal(t, "GET /orders/{id}", r.Attrs["route"].String())
	require.Equal(t, "/orders/42", r.Attrs["path"].String())
	require.Equal(t, slog.KindInt64, r.Attrs["status"].Kind())
	require.Equal(t, int64(200), r.Attrs["status"].Int64())
	require.Equal(t, slog.KindInt64, r.Attrs["bytes"].Kind())
	require.Equal(t, int64(len("order 42")), r.Attrs["bytes"].Int64())
	require.Equal(t, slog.KindFloat64, r.Attrs["duration_ms"].Kind())
	require.GreaterOrEqual(t, r.Attrs["duration_ms"].Float64(), 0.0)
	require.Equal(t, "192.0.2.1", r.Attrs["remote_ip"].String()) // httptest.NewRequest's RemoteAddr
	require.Equal(t, "test-agent/1.0", r.Attrs["user_agent"].String())
	require.Equal(t, ctxids.IDs{
		RequestID: "req-42",
		TraceID:   "4bf92f3577b34da6a3ce929d0e0e4736",
		SpanID:    "00f067aa0ba902b7",
	}, r.IDs)
	for k, v := range r.Attrs {
		require.NotContains(t, v.String(), "secret", "attribute %s leaks the query", k)
	}
}

func TestMiddlewareAccessRecordOptionalAttrs(t *testing.T) {
	// No ServeMux, no RemoteAddr, no User-Agent: route, remote_ip and user_agent are omitted.
	req := httptest.NewRequest("POST", "/x", nil)
	req.RemoteAddr = ""
	_, h := serve(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}), req)
	require.Equal(t, []string{"method", "path", "status", "bytes", "duration_ms"}, h.only(t).Keys)

	f := func(remoteAddr, want string) {
		t.Helper()
		req := httptest.NewRequest("GET", "/", nil)
		req.RemoteAddr = remoteAddr
		_, h := serve(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}), req)
		require.Equal(t, want, h.only(t).Attrs["remote_ip"].String())
	}
	f("10.0.1.7:52100", "10.0.1.7")
	f("[2001:db8::1]:443", "2001:db8::1")
	f("10.0.1.7", "10.0.1.7")
	f("@", "@")
}

func TestMiddlewareRouteWhenInsideMux(t *testing.T) {
	// Middleware used per route: the mux set Pattern before the middleware ran.
	h := &captureHandler{}
	mux := http.NewServeMux()
	mux.Handle("DELETE /orders/{id}", Middleware(slog.New(h), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	})))
	mux.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("DELETE", "/orders/7", nil))
	r := h.only(t)
	require.Equal(t, "DELETE /orders/{id}", r.Attrs["route"].String())
	require.Equal(t, int64(204), r.Attrs["status"].Int64())
}

func TestMiddlewareStatusAndLevel(t *testing.T) {
	f := func(next http.HandlerFunc, wantStatus int, wantBytes int64, wantLevel slog.Level) {
		t.Helper()
		_, h := serve(next, httptest.NewRequest("GET", "/", nil))
		r := h.only(t)
		require.Equal(t, int64(wantStatus), r.Attrs["status"].Int64())
		require.Equal(t, wantBytes, r.Attrs["bytes"].Int64())
		require.Equal(t, wantLevel, r.Level)
	}
	status := func(code int) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(code) }
	}
	f(func(http.ResponseWriter, *http.Request) {}, 200, 0, slog.LevelInfo)
	f(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("hello")) }, 200, 5, slog.LevelInfo)
	f(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "héllo") }, 200, 6, slog.LevelInfo)
	f(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("ab"))
		w.WriteHeader(500) // superfluous: the client got 200
		_, _ = w.Write([]byte("cd"))
	}, 200, 4, slog.LevelInfo)
	f(status(201), 201, 0, slog.LevelInfo)
	f(status(302), 302, 0, slog.LevelInfo)
	f(status(399), 399, 0, slog.LevelInfo)
	f(status(400), 400, 0, slog.LevelWarn)
	f(status(404), 404, 0, slog.LevelWarn)
	f(status(499), 499, 0, slog.LevelWarn)
	f(status(500), 500, 0, slog.LevelError)
	f(status(503), 503, 0, slog.LevelError)
	f(func(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) }, 404, int64(len("404 page not found\n")), slog.LevelWarn)
	f(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusEarlyHints)
		w.WriteHeader(http.StatusContinue)
		w.WriteHeader(http.StatusCreated)
	}, 201, 0, slog.LevelInfo)
	f(status(http.StatusSwitchingProtocols), 101, 0, slog.LevelInfo) // 101 is final
}

func TestMiddlewareInformationalThenFinal(t *testing.T) {
	h := &captureHandler{}
	url, wait := serveReal(t, h, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Link", "</app.css>; rel=preload; as=style")
		w.WriteHeader(http.StatusEarlyHints)
		w.WriteHeader(http.StatusCreated)
		_, _ = io.WriteString(w, "created")
	}))
	var got1xx []int
	trace := &httptrace.ClientTrace{Got1xxResponse: func(code int, _ textproto.MIMEHeader) error {
		got1xx = append(got1xx, code)
		return nil
	}}
	req, err := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace), "POST", url+"/orders", nil)
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	wait(1)

	require.Equal(t, []int{103}, got1xx)
	require.Equal(t, 201, resp.StatusCode)
	require.Equal(t, "created", string(body))
	r := h.only(t)
	require.Equal(t, int64(201), r.Attrs["status"].Int64())
	require.Equal(t, int64(7), r.Attrs["bytes"].Int64())
	require.Equal(t, "127.0.0.1", r.Attrs["remote_ip"].String())
	require.Equal(t, "Go-http-client/1.1", r.Attrs["user_agent"].String())
	require.Equal(t, resp.Header.Get("X-Request-Id"), r.IDs.RequestID)
}

func TestMiddlewareOptionsLevel(t *testing.T) {
	h := &captureHandler{} // minimum level: Info
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Has("fail") {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	})
	mux.HandleFunc("GET /orders", func(http.ResponseWriter, *http.Request) {})
	mw := MiddlewareWith(slog.New(h), &MiddlewareOptions{
		Level: func(r *http.Request, status int) slog.Level {
			if r.Pattern == "GET /healthz" && status < 400 {
				return slog.LevelDebug
			}
			return StatusLevel(status)
		},
	}, mux)
	for _, target := range []string{"/healthz", "/orders", "/healthz?fail", "/healthz"} {
		mw.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", target, nil))
	}
	recs := h.records()
	require.Len(t, recs, 2)
	require.Equal(t, "/orders", recs[0].Attrs["path"].String())
	require.Equal(t, slog.LevelInfo, recs[0].Level)
	require.Equal(t, "/healthz", recs[1].Attrs["path"].String())
	require.Equal(t, slog.LevelError, recs[1].Level)

	// nil options and zero options are the defaults
	for _, opts := range []*MiddlewareOptions{nil, {}} {
		h := &captureHandler{}
		MiddlewareWith(slog.New(h), opts, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(404)
		})).ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
		require.Equal(t, slog.LevelWarn, h.only(t).Level)
	}
}

func TestStatusLevel(t *testing.T) {
	f := func(status int, want slog.Level) {
		t.Helper()
		require.Equal(t, want, StatusLevel(status), "status %d", status)
	}
	f(0, slog.LevelInfo)
	f(101, slog.LevelInfo)
	f(200, slog.LevelInfo)
	f(304, slog.LevelInfo)
	f(400, slog.LevelWarn)
	f(429, slog.LevelWarn)
	f(500, slog.LevelError)
	f(599, slog.LevelError)
}

func TestMiddlewareNilLoggerUsesDefaultAtRequestTime(t *testing.T) {
	mw := Middleware(nil, http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	h := &captureHandler{}
	old := slog.Default()
	slog.SetDefault(slog.New(h)) // after Middleware was called
	t.Cleanup(func() { slog.SetDefault(old) })
	mw.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/late", nil))
	require.Equal(t, "/late", h.only(t).Attrs["path"].String())
}

// plainWriter is an http.ResponseWriter with no optional interfaces.
type plainWriter struct {
	header http.Header
	body   strings.Builder
	code   int
}

func (w *plainWriter) Header() http.Header { return w.header }
func (w *plainWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
}

func (w *plainWriter) Write(p []byte) (int, error) {
	if w.code == 0 {
		w.code = 200
	}
	return w.body.Write(p)
}

func TestMiddlewareFlush(t *testing.T) {
	// Through http.ResponseController and through the http.Flusher interface.
	rec, h := serve(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		require.NoError(t, http.NewResponseController(w).Flush())
		w.(http.Flusher).Flush()
	}), httptest.NewRequest("GET", "/", nil))
	require.True(t, rec.Flushed)
	require.Equal(t, int64(200), h.only(t).Attrs["status"].Int64())

	// A writer that cannot flush: the error reaches ResponseController callers.
	pw := &plainWriter{header: http.Header{}}
	h = &captureHandler{}
	Middleware(slog.New(h), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		err := http.NewResponseController(w).Flush()
		require.ErrorIs(t, err, http.ErrNotSupported)
		w.(http.Flusher).Flush() // does nothing
		_, _, err = w.(http.Hijacker).Hijack()
		require.ErrorIs(t, err, http.ErrNotSupported)
		w.WriteHeader(http.StatusAccepted)
	})).ServeHTTP(pw, httptest.NewRequest("GET", "/", nil))
	require.Equal(t, http.StatusAccepted, pw.code)
	require.Equal(t, int64(202), h.only(t).Attrs["status"].Int64())
}

func TestMiddlewareFlushStreams(t *testing.T) {
	// The first chunk must reach the client while the handler is still running.
	h := &captureHandler{}
	firstRead := make(chan struct{})
	url, wait := serveReal(t, h, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "first\n")
		if err := http.NewResponseController(w).Flush(); err != nil {
			t.Errorf("Flush: %v", err) // not require: this is the server's goroutine
		}
		<-firstRead
		_, _ = io.WriteString(w, "second\n")
	}))
	resp, err := http.Get(url)
	require.NoError(t, err)
	br := bufio.NewReader(resp.Body)
	line, err := br.ReadString('\n')
	require.NoError(t, err)
	require.Equal(t, "first\n", line)
	close(firstRead)
	rest, err := io.ReadAll(br)
	require.NoError(t, err)
	require.Equal(t, "second\n", string(rest))
	require.NoError(t, resp.Body.Close())
	wait(1)
	require.Equal(t, int64(len("first\nsecond\n")), h.only(t).Attrs["bytes"].Int64())
}

func TestMiddlewareResponseControllerUnwrap(t *testing.T) {
	// Deadlines are not implemented by the wrapper: ResponseController finds them via Unwrap.
	h := &captureHandler{}
	url, wait := serveReal(t, h, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc := http.NewResponseController(w)
		if err := rc.SetWriteDeadline(time.Now().Add(time.Minute)); err != nil {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		if err := rc.EnableFullDuplex(); err != nil {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		if w.(interface{ Unwrap() http.ResponseWriter }).Unwrap() != w.(*statusWriter).ResponseWriter {
			t.Errorf("Unwrap does not return the original writer")
		}
	}))
	resp, err := http.Get(url)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	wait(1)
	require.Equal(t, 200, resp.StatusCode)
	require.Equal(t, int64(200), h.only(t).Attrs["status"].Int64())
}

func TestMiddlewareReadFrom(t *testing.T) {
	dir := t.TempDir()
	content := strings.Repeat("0123456789", 10000)
	name := filepath.Join(dir, "f.txt")
	require.NoError(t, os.WriteFile(name, []byte(content), 0o600))
	copyFile := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f, err := os.Open(name)
		if err != nil {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		defer f.Close()
		_, _ = io.Copy(w, f) // uses ReadFrom
	})

	// ResponseRecorder has no ReadFrom: the wrapper falls back to io.Copy.
	rec, h := serve(copyFile, httptest.NewRequest("GET", "/", nil))
	require.Equal(t, content, rec.Body.String())
	require.Equal(t, int64(len(content)), h.only(t).Attrs["bytes"].Int64())

	// The net/http writer has ReadFrom (sendfile).
	h = &captureHandler{}
	url, wait := serveReal(t, h, copyFile)
	resp, err := http.Get(url)
	require.NoError(t, err)
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	wait(1)
	require.Equal(t, content, string(body))
	r := h.only(t)
	require.Equal(t, int64(200), r.Attrs["status"].Int64())
	require.Equal(t, int64(len(content)), r.Attrs["bytes"].Int64())
}

func TestMiddlewareHijack(t *testing.T) {
	h := &captureHandler{}
	url, wait := serveReal(t, h, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, brw, err := w.(http.Hijacker).Hijack() // type assertion, as older websocket libraries do
		if err != nil {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		defer conn.Close()
		_, _ = brw.WriteString("HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n")
		_ = brw.Flush()
	}))
	resp, err := http.Get(url)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	wait(1)
	require.Equal(t, 204, resp.StatusCode)
	r := h.only(t)
	require.Equal(t, int64(101), r.Attrs["status"].Int64())
	require.Equal(t, int64(0), r.Attrs["bytes"].Int64())
}

func TestMiddlewarePanic(t *testing.T) {
	req := httptest.NewRequest("GET", "/boom", nil)
	req.Header.Set("X-Request-Id", "req-boom")
	rec, h := serve(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", "1000")
		panic(errors.New("boom"))
	}), req)
	require.Equal(t, 500, rec.Code)
	require.Equal(t, "Internal Server Error\n", rec.Body.String())
	require.Equal(t, "text/plain; charset=utf-8", rec.Header().Get("Content-Type"))
	require.Empty(t, rec.Header().Get("Content-Length"))
	require.Equal(t, "req-boom", rec.Header().Get("X-Request-Id"))

	recs := h.records()
	require.Len(t, recs, 2)
	p, a := recs[0], recs[1]
	require.Equal(t, "http handler panic", p.Msg)
	require.Equal(t, slog.LevelError, p.Level)
	require.Equal(t, []string{"panic", "stack"}, p.Keys)
	require.Equal(t, "boom", p.Attrs["panic"].String())
	require.Contains(t, p.Attrs["stack"].String(), "TestMiddlewarePanic")
	require.Contains(t, p.Attrs["stack"].String(), "middleware_test.go")
	require.Equal(t, "req-boom", p.IDs.RequestID)

	require.Equal(t, "http request", a.Msg)
	require.Equal(t, slog.LevelError, a.Level)
	require.Equal(t, int64(500), a.Attrs["status"].Int64())
	require.Equal(t, int64(len("Internal Server Error\n")), a.Attrs["bytes"].Int64())
	require.Equal(t, "req-boom", a.IDs.RequestID)
}

func TestMiddlewarePanicAfterWrite(t *testing.T) {
	rec, h := serve(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "partial")
		panic("late")
	}), httptest.NewRequest("GET", "/", nil))
	require.Equal(t, 200, rec.Code, "the status already sent stays")
	require.Equal(t, "partial", rec.Body.String(), "nothing is appended")
	recs := h.records()
	require.Len(t, recs, 2)
	require.Equal(t, "late", recs[0].Attrs["panic"].String())
	require.Equal(t, int64(500), recs[1].Attrs["status"].Int64())
	require.Equal(t, slog.LevelError, recs[1].Level)
}

func TestMiddlewarePanicRealServer(t *testing.T) {
	h := &captureHandler{}
	url, wait := serveReal(t, h, http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		var m map[string]int
		m["x"] = 1 // runtime error
	}))
	resp, err := http.Get(url)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	wait(1)
	require.Equal(t, 500, resp.StatusCode)
	recs := h.records()
	require.Len(t, recs, 2)
	require.Contains(t, recs[0].Attrs["panic"].String(), "assignment to entry in nil map")
	require.Equal(t, int64(500), recs[1].Attrs["status"].Int64())
}

func TestMiddlewareErrAbortHandler(t *testing.T) {
	h := &captureHandler{}
	mw := Middleware(slog.New(h), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "par")
		panic(http.ErrAbortHandler)
	}))
	rec := httptest.NewRecorder()
	require.PanicsWithValue(t, http.ErrAbortHandler, func() {
		mw.ServeHTTP(rec, httptest.NewRequest("GET", "/proxy", nil))
	})
	r := h.only(t) // no "http handler panic" record
	require.Equal(t, "http request", r.Msg)
	require.Equal(t, slog.LevelWarn, r.Level)
	require.Equal(t, int64(200), r.Attrs["status"].Int64())
	require.Equal(t, int64(3), r.Attrs["bytes"].Int64())
	require.True(t, r.Attrs["aborted"].Bool())
	require.Equal(t, "par", rec.Body.String(), "no 500 is written")
}

// discardHandler is an enabled slog.Handler that drops every record.
type discardHandler struct{}

func (discardHandler) Enabled(context.Context, slog.Level) bool  { return true }
func (discardHandler) Handle(context.Context, slog.Record) error { return nil }
func (h discardHandler) WithAttrs([]slog.Attr) slog.Handler      { return h }
func (h discardHandler) WithGroup(string) slog.Handler           { return h }

func BenchmarkMiddleware(b *testing.B) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /orders/{id}", func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte("ok"))
	})
	mw := Middleware(slog.New(discardHandler{}), mux)
	req := httptest.NewRequest("GET", "/orders/42", nil)
	req.Header.Set("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	req.Header.Set("User-Agent", "bench")
	w := &plainWriter{header: http.Header{}}
	b.ReportAllocs()
	for b.Loop() {
		mw.ServeHTTP(w, req)
	}
}
