package vlog

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// volumeMetrics counts the rows of the metrics table that exist only with the volume
// controls on.
func volumeMetrics() int {
	n := 0
	for _, m := range metrics {
		for _, p := range []string{"vlog_scopes_", "vlog_held_", "vlog_suppressed_"} {
			if strings.HasPrefix(m.name, p) {
				n++
			}
		}
	}
	return n
}

// lines is a concurrency-safe writer that keeps the records.
type lines struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *lines) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *lines) records(t *testing.T) []map[string]any {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(l.buf.String()), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		require.NoError(t, json.Unmarshal([]byte(line), &m), line)
		out = append(out, m)
	}
	return out
}

// msgsOf returns "request_id msg" for each record.
func msgsOf(recs []map[string]any) []string {
	var out []string
	for _, m := range recs {
		id, _ := m["request_id"].(string)
		out = append(out, strings.TrimSpace(id+" "+m["msg"].(string)))
	}
	return out
}

func newVolumeLogger(t *testing.T, env ...string) (*Logger, *lines) {
	t.Helper()
	w := &lines{}
	l, err := New(&Options{Environ: env, StdoutBuffered: Bool(false), Writer: w, Service: "svc", Env: "test", Version: "1"})
	require.NoError(t, err)
	t.Cleanup(func() { _ = l.Close(context.Background()) })
	return l, w
}

// TestMiddlewareHoldsUntilTheRequestFails: the debug records of a request that succeeds are
// discarded; those of a request that fails (a 5xx, an error record, a panic) are written before
// the record that says it failed.
func TestMiddlewareHoldsUntilTheRequestFails(t *testing.T) {
	l, w := newVolumeLogger(t, "VLOG_HOLD=true")
	mux := http.NewServeMux()
	mux.HandleFunc("/ok", func(w http.ResponseWriter, r *http.Request) {
		l.DebugContext(r.Context(), "step")
	})
	mux.HandleFunc("/503", func(w http.ResponseWriter, r *http.Request) {
		l.DebugContext(r.Context(), "step")
		w.WriteHeader(http.StatusServiceUnavailable)
	})
	mux.HandleFunc("/error", func(w http.ResponseWriter, r *http.Request) {
		l.DebugContext(r.Context(), "step")
		l.ErrorContext(r.Context(), "store failed")
		l.DebugContext(r.Context(), "after the failure")
		w.WriteHeader(http.StatusBadGateway)
	})
	mux.HandleFunc("/panic", func(w http.ResponseWriter, r *http.Request) {
		l.With("component", "x").DebugContext(r.Context(), "step")
		panic("boom")
	})
	srv := Middleware(l.Logger, mux)
	for _, path := range []string{"/ok", "/503", "/error", "/panic"} {
		req := httptest.NewRequest(http.MethodGet, path, nil)
		req.Header.Set("X-Request-Id", strings.TrimPrefix(path, "/"))
		srv.ServeHTTP(httptest.NewRecorder(), req)
	}
	held := "vlog: wrote 1 held records of this scope, held below info"
	require.Equal(t, []string{
		"ok http request",
		"503 step", "503 " + held, "503 http request",
		"error step", "error " + held, "error store failed", "error after the failure", "error http request",
		"panic step", "panic " + held, "panic http handler panic", "panic http request",
	}, msgsOf(w.records(t)))
	st := l.Stats().Volume
	require.NotNil(t, st)
	require.Equal(t, uint64(4), st.Scopes)
	require.Equal(t, uint64(4), st.Held)
	require.Equal(t, uint64(3), st.Flushed)
	require.Equal(t, uint64(1), st.Discarded)
	require.Zero(t, st.HeldBytes)
	require.Equal(t, uint64(0), l.Stats().Dropped.Total(), "none of it is a drop")

	text := metricsText(t, l)
	require.Contains(t, text, "\nvlog_held_flushed_total 3\n")
	require.Contains(t, text, "\nvlog_held_discarded_total 1\n")
	require.Contains(t, text, "\nvlog_held_evicted_total{cap=\"scope\"} 0\n")
	require.Contains(t, text, "\nvlog_scopes_total 4\n")
}

// TestMiddlewareWithoutVolumeControls: no scope, no volume counters, no volume metrics.
func TestMiddlewareWithoutVolumeControls(t *testing.T) {
	l, w := newVolumeLogger(t)
	srv := Middleware(l.Logger, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, s := l.StartScope(r.Context())
		require.Nil(t, s)
		l.DebugContext(r.Context(), "disabled")
		w.WriteHeader(http.StatusInternalServerError)
	}))
	srv.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/", nil))
	require.Len(t, w.records(t), 1)
	require.Nil(t, l.Stats().Volume)
	require.NotContains(t, metricsText(t, l), "vlog_held")
}

// TestStartScopeForQueueWork: a scope for work that is not an HTTP request.
func TestStartScopeForQueueWork(t *testing.T) {
	l, w := newVolumeLogger(t, "VLOG_HOLD=true", "VLOG_LEVEL=warn")
	work := func(ctx context.Context, msgID string, fail bool) {
		ctx = WithRequestID(ctx, msgID)
		ctx, scope := l.StartScope(ctx)
		defer scope.End()
		l.DebugContext(ctx, "decoded")
		if fail {
			scope.Flush() // no error record: the work is retried, say
		}
	}
	work(context.Background(), "m1", false)
	work(context.Background(), "m2", true)
	require.Equal(t, []string{"m2 decoded", "m2 vlog: wrote 1 held records of this scope, held below info"}, msgsOf(w.records(t)))

	// The package function uses slog.Default().
	prev := slog.Default()
	defer slog.SetDefault(prev)
	slog.SetDefault(l.Logger)
	ctx, scope := StartScope(context.Background())
	require.NotNil(t, scope)
	require.True(t, l.Enabled(ctx, slog.LevelDebug))
	scope.End()
	slog.SetDefault(slog.New(slog.DiscardHandler))
	_, scope = StartScope(context.Background())
	require.Nil(t, scope, "not vlog's handler")
}

func TestDebugSampleRateSetting(t *testing.T) {
	l, w := newVolumeLogger(t, "VLOG_DEBUG_SAMPLE_RATE=1")
	srv := Middleware(l.Logger, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		l.DebugContext(r.Context(), "detail")
	}))
	srv.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/", nil))
	recs := w.records(t)
	require.Equal(t, []string{"detail", "http request"}, []string{recs[0]["msg"].(string), recs[1]["msg"].(string)})
	for _, m := range recs {
		require.Equal(t, true, m["vlog_debug_sampled"])
		require.Equal(t, 1.0, m["vlog_debug_sample_rate"])
	}
	require.Equal(t, uint64(1), l.Stats().Volume.SampledScopes)

	// Invalid values, named by their variable.
	for _, env := range []string{"VLOG_DEBUG_SAMPLE_RATE=2", "VLOG_DEBUG_SAMPLE_RATE=-0.1", "VLOG_DEBUG_SAMPLE_RATE=often",
		"VLOG_HOLD_SCOPE_SIZE=100", "VLOG_HOLD_SCOPE_SIZE=1GiB", "VLOG_RATE_LIMIT_THEREAFTER=-1", "VLOG_RATE_LIMIT_FIRST=0",
		"VLOG_HOLD_BELOW=loud"} {
		_, err := New(&Options{Environ: []string{env}})
		var ce *ConfigError
		require.True(t, errors.As(err, &ce), env)
		require.Equal(t, strings.Split(env, "=")[0], ce.Name, env)
	}
	_, err := New(&Options{Environ: []string{"VLOG_HOLD_SCOPE_SIZE=100"}})
	require.ErrorContains(t, err, "want 2KiB to 16MiB")
	_, err = New(&Options{DebugSampleRate: 1.5, Environ: []string{}})
	require.ErrorContains(t, err, "Options.DebugSampleRate")
	// In code, a negative rate turns sampling off over the variable.
	l, _ = newVolumeLogger(t)
	l2, err := New(&Options{DebugSampleRate: -1, Environ: []string{"VLOG_DEBUG_SAMPLE_RATE=1"}, Writer: &lines{}})
	require.NoError(t, err)
	require.Nil(t, l2.Stats().Volume)
	require.NoError(t, l2.Close(context.Background()))
}

// TestRateLimitSetting: the rate limit from the environment; the access record is never
// limited; Close reports what is pending.
func TestRateLimitSetting(t *testing.T) {
	w := &lines{}
	l, err := New(&Options{Environ: []string{"VLOG_RATE_LIMIT=true", "VLOG_RATE_LIMIT_FIRST=2", "VLOG_RATE_LIMIT_THEREAFTER=0",
		"VLOG_RATE_LIMIT_EXEMPT=audit"}, StdoutBuffered: Bool(false), Writer: w})
	require.NoError(t, err)
	srv := Middleware(l.Logger, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		l.InfoContext(r.Context(), "cache miss")
		l.InfoContext(r.Context(), "audit")
		l.ErrorContext(r.Context(), "errors are not limited")
	}))
	for range 10 {
		srv.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/", nil))
	}
	n := map[string]int{}
	for _, m := range w.records(t) {
		n[m["msg"].(string)]++
	}
	require.Equal(t, map[string]int{"cache miss": 2, "audit": 10, "errors are not limited": 10, "http request": 10}, n)
	require.Equal(t, uint64(8), l.Stats().Volume.Suppressed)
	require.Contains(t, metricsText(t, l), "\nvlog_suppressed_records_total 8\n")
	require.NoError(t, l.Close(context.Background()))
	recs := w.records(t)
	last := recs[len(recs)-1]
	require.Contains(t, last["msg"], `vlog: suppressed 8 records like "cache miss" (level info) since `)
	require.Equal(t, 8.0, last["vlog_suppressed"])
}

// TestMiddlewareScopeEdges: a 4xx is not a failure; an aborted handler ends its scope before
// the panic goes on; a goroutine that outlives its request logs as if it had no scope.
func TestMiddlewareScopeEdges(t *testing.T) {
	l, w := newVolumeLogger(t, "VLOG_HOLD=true")
	late := make(chan context.Context, 1)
	mux := http.NewServeMux()
	mux.HandleFunc("/404", func(w http.ResponseWriter, r *http.Request) {
		l.DebugContext(r.Context(), "step")
		http.NotFound(w, r)
	})
	mux.HandleFunc("/abort", func(w http.ResponseWriter, r *http.Request) {
		l.DebugContext(r.Context(), "step")
		panic(http.ErrAbortHandler)
	})
	mux.HandleFunc("/late", func(w http.ResponseWriter, r *http.Request) {
		l.DebugContext(r.Context(), "step")
		late <- r.Context()
	})
	srv := Middleware(l.Logger, mux)
	for _, path := range []string{"/404", "/abort", "/late"} {
		req := httptest.NewRequest(http.MethodGet, path, nil)
		req.Header.Set("X-Request-Id", strings.TrimPrefix(path, "/"))
		func() {
			defer func() { _ = recover() }()
			srv.ServeHTTP(httptest.NewRecorder(), req)
		}()
	}
	ctx := <-late
	require.False(t, l.Enabled(ctx, slog.LevelDebug), "the scope ended with the request")
	l.DebugContext(ctx, "late debug")
	l.ErrorContext(ctx, "late error")
	require.Equal(t, []string{"404 http request", "abort http request", "late http request", "late late error"}, msgsOf(w.records(t)))
	st := l.Stats().Volume
	require.Equal(t, uint64(3), st.Discarded)
	require.Zero(t, st.Flushed)
	require.Zero(t, st.HeldBytes)
}
