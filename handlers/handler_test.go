package handlers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"go.vlog.dev/internal/ctxids"
	"go.vlog.dev/redact"
)

func TestSchemaOrder(t *testing.T) {
	h, c := newTestHandler(&Options{
		Service: "order-api", Env: "prod", Version: "1.4.2",
		Metadata: []slog.Attr{slog.String("ecs_cluster", "main"), slog.String("container", "app")},
	})
	ctx := ctxids.With(context.Background(), ctxids.IDs{RequestID: "r1", TraceID: "t1", SpanID: "s1"})
	slog.New(h).InfoContext(ctx, "order created", "order_id", "o-1", "user_id", 42)
	line := c.last(t)
	require.Equal(t, []string{
		"event_time", "level", "msg", "service", "env", "version",
		"request_id", "trace_id", "span_id", "ecs_cluster", "container", "order_id", "user_id",
	}, keys(t, line))
	m := decode(t, line)
	require.Equal(t, "info", m["level"])
	require.Equal(t, "order created", m["msg"])
	require.Equal(t, "order-api", m["service"])
	require.Equal(t, "r1", m["request_id"])
	require.Equal(t, json.Number("42"), m["user_id"])
}

func TestContextIDsAbsent(t *testing.T) {
	h, c := newTestHandler(nil)
	l := slog.New(h)
	l.Info("no ctx")
	require.NotContains(t, c.lastMap(t), "request_id")
	l.InfoContext(ctxids.With(context.Background(), ctxids.IDs{TraceID: "t"}), "only trace")
	m := c.lastMap(t)
	require.NotContains(t, m, "request_id")
	require.NotContains(t, m, "span_id")
	require.Equal(t, "t", m["trace_id"])
	// A nil context passed straight to Handle is tolerated.
	require.NoError(t, h.Handle(nil, slog.NewRecord(time.Now(), slog.LevelInfo, "nil ctx", 0))) //nolint:staticcheck
	require.Equal(t, "nil ctx", c.lastMap(t)["msg"])
}

func TestEventTime(t *testing.T) {
	h, c := newTestHandler(nil)
	loc := time.FixedZone("X", 5*3600)
	f := func(in time.Time, want string) {
		t.Helper()
		require.NoError(t, h.Handle(context.Background(), slog.NewRecord(in, slog.LevelInfo, "m", 0)))
		m := c.lastMap(t)
		require.Equal(t, want, m["event_time"])
		got, err := time.Parse(time.RFC3339Nano, want)
		require.NoError(t, err)
		require.True(t, got.Equal(in))
	}
	f(time.Date(2026, 11, 22, 2, 55, 54, 123456789, time.UTC), "2026-11-22T02:55:54.123456789Z")
	f(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), "2026-01-02T03:04:05.000000000Z")
	f(time.Date(2026, 1, 2, 8, 4, 5, 1, loc), "2026-01-02T03:04:05.000000001Z")
	f(time.Date(1, 1, 1, 0, 0, 0, 1, time.UTC), "0001-01-01T00:00:00.000000001Z")
	f(time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC), "9999-12-31T23:59:59.999999999Z")

	// Zero time: no event_time (slog's rule for handlers).
	require.NoError(t, h.Handle(context.Background(), slog.NewRecord(time.Time{}, slog.LevelInfo, "m", 0)))
	require.NotContains(t, c.lastMap(t), "event_time")

	// Years that RFC 3339 cannot hold in four digits still give valid JSON.
	require.NoError(t, h.Handle(context.Background(), slog.NewRecord(time.Date(12345, 1, 1, 0, 0, 0, 0, time.UTC), slog.LevelInfo, "m", 0)))
	require.Equal(t, "12345-01-01T00:00:00Z", c.lastMap(t)["event_time"])
}

func TestLevels(t *testing.T) {
	h, c := newTestHandler(&Options{Level: slog.Level(-100)})
	f := func(l slog.Level, want string) {
		t.Helper()
		require.NoError(t, h.Handle(context.Background(), slog.NewRecord(time.Now(), l, "m", 0)))
		require.Equal(t, want, c.lastMap(t)["level"])
	}
	f(slog.LevelDebug, "debug")
	f(slog.LevelInfo, "info")
	f(slog.LevelWarn, "warn")
	f(slog.LevelError, "error")
	f(slog.LevelWarn+2, "warn+2")
	f(slog.LevelInfo+1, "info+1")
	f(slog.LevelDebug-1, "debug-1")
	f(slog.LevelError+4, "error+4")
	for l := slog.Level(-20); l < 20; l++ {
		f(l, strings.ToLower(l.String()))
	}
}

func TestLevelVar(t *testing.T) {
	var lv slog.LevelVar
	h, c := newTestHandler(&Options{Level: &lv})
	l := slog.New(h)
	l.Debug("hidden")
	require.Empty(t, c.lines)
	lv.Set(slog.LevelDebug)
	l.Debug("shown")
	require.Equal(t, "shown", c.lastMap(t)["msg"])
	lv.Set(slog.LevelError)
	l.Warn("hidden")
	require.Len(t, c.lines, 1)
}

func TestReservedKeysRenamed(t *testing.T) {
	h, c := newTestHandler(&Options{Service: "svc", Metadata: []slog.Attr{slog.String("ecs_cluster", "c")}})
	ctx := ctxids.With(context.Background(), ctxids.IDs{RequestID: "ctx-id"})
	l := slog.New(h).With("service", "other", "env", "x")
	l.InfoContext(ctx, "m", "msg", "m2", "level", 3, "request_id", "attr-id", "ecs_cluster", "z",
		"event_time", "t", "caller", "me", slog.Group("", slog.String("version", "inline")),
		slog.Group("g", slog.String("msg", "in group")))
	line := c.last(t)
	ks := keys(t, line)
	seen := map[string]bool{}
	for _, k := range ks {
		require.False(t, seen[k], "duplicate key %q in %s", k, line)
		seen[k] = true
	}
	m := decode(t, line)
	require.Equal(t, "svc", m["service"])
	require.Equal(t, "other", m["attr.service"])
	require.Equal(t, "x", m["attr.env"])
	require.Equal(t, "m", m["msg"])
	require.Equal(t, "m2", m["attr.msg"])
	require.Equal(t, json.Number("3"), m["attr.level"])
	require.Equal(t, "ctx-id", m["request_id"])
	require.Equal(t, "attr-id", m["attr.request_id"])
	require.Equal(t, "c", m["ecs_cluster"])
	require.Equal(t, "z", m["attr.ecs_cluster"])
	require.Equal(t, "t", m["attr.event_time"])
	require.Equal(t, "me", m["attr.caller"])
	require.Equal(t, "inline", m["attr.version"])
	require.Equal(t, map[string]any{"msg": "in group"}, m["g"])
	// Under WithGroup nothing collides.
	slog.New(h).WithGroup("req").Info("m", "msg", "kept")
	require.Equal(t, map[string]any{"msg": "kept"}, c.lastMap(t)["req"])
}

func TestGroupsAndWith(t *testing.T) {
	h, c := newTestHandler(nil)
	l := slog.New(h)
	f := func(l *slog.Logger, attrs []any, want string) {
		t.Helper()
		l.Info("m", attrs...)
		line := c.last(t)
		i := strings.Index(string(line), `"version":"1.0.0"`) + len(`"version":"1.0.0"`)
		require.Equal(t, want, string(line[i:len(line)-1]))
	}
	f(l, nil, `}`)
	f(l, []any{"a", 1}, `,"a":1}`)
	f(l.With("a", 1), []any{"b", 2}, `,"a":1,"b":2}`)
	f(l.WithGroup("G"), nil, `}`)
	f(l.WithGroup("G"), []any{"b", 2}, `,"G":{"b":2}}`)
	f(l.WithGroup("G").With("a", 1), nil, `,"G":{"a":1}}`)
	f(l.WithGroup("G").With("a", 1), []any{"b", 2}, `,"G":{"a":1,"b":2}}`)
	f(l.WithGroup("G").With("a", 1).WithGroup("H"), nil, `,"G":{"a":1}}`)
	f(l.WithGroup("G").With("a", 1).WithGroup("H"), []any{"b", 2}, `,"G":{"a":1,"H":{"b":2}}}`)
	f(l.WithGroup("G").WithGroup("H").With("a", 1), []any{"b", 2}, `,"G":{"H":{"a":1,"b":2}}}`)
	f(l.WithGroup("G").With(slog.Group("empty")), []any{"b", 2}, `,"G":{"b":2}}`)
	f(l.WithGroup("G").With(slog.Group("empty")), nil, `}`)
	f(l.WithGroup("G"), []any{slog.Group("e"), slog.Attr{}}, `}`)
	f(l.WithGroup("G"), []any{slog.Attr{}, "b", 2}, `,"G":{"b":2}}`)
	f(l.WithGroup(""), []any{"b", 2}, `,"b":2}`)
	f(l, []any{slog.Group("g", slog.Group("h", slog.Group("i"))), "b", 2}, `,"b":2}`)
	f(l, []any{slog.Group("g", "a", 1, slog.Group("h", "c", 3))}, `,"g":{"a":1,"h":{"c":3}}}`)
	f(l, []any{slog.Group("", "a", 1), "b", 2}, `,"a":1,"b":2}`)
	f(l, []any{slog.Attr{}, "b", 2}, `,"b":2}`)
	f(l, []any{"", 1}, `,"":1}`)
}

// TestWithAliasing checks that handlers derived from one parent do not share pre-encoded bytes.
func TestWithAliasing(t *testing.T) {
	h, c := newTestHandler(nil)
	base := slog.New(h).With("a", 1)
	l1 := base.With("b", 2)
	l2 := base.With("c", 3)
	l1.Info("m")
	require.Contains(t, string(c.last(t)), `"a":1,"b":2}`)
	l2.Info("m")
	require.Contains(t, string(c.last(t)), `"a":1,"c":3}`)
	g := slog.New(h).WithGroup("G")
	g1 := g.WithGroup("H1")
	g2 := g.WithGroup("H2")
	g1.Info("m", "x", 1)
	require.Contains(t, string(c.last(t)), `"G":{"H1":{"x":1}}}`)
	g2.Info("m", "x", 1)
	require.Contains(t, string(c.last(t)), `"G":{"H2":{"x":1}}}`)

	// Concurrent use of derived loggers.
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l := base.With("i", i)
			for j := 0; j < 200; j++ {
				l.Info("m", "j", j)
			}
		}()
	}
	wg.Wait()
	for _, line := range c.lines {
		checkLine(t, line)
	}
}

// TestOracle checks the encoding of each kind against encoding/json.
func TestOracle(t *testing.T) {
	h, c := newTestHandler(nil)
	l := slog.New(h)
	type point struct {
		X, Y int
		Name string `json:"name"`
	}
	f := func(v any) {
		t.Helper()
		l.Info("m", slog.Any("v", v))
		m := c.lastMap(t)
		require.Equal(t, oracle(t, v), m["v"], "value %#v", v)
	}
	for _, v := range []any{
		"plain", "", "quote\" back\\slash", "nl\nret\rtab\t", "\x00\x01\x1f\x7f", "héllo wörld ✓ 🎉",
		"\u2028\u2029", "<script>&amp;</script>", "\xff\xfe invalid", "a\xc3", "\xed\xa0\x80 surrogate",
		0, 1, -1, math.MaxInt64, math.MinInt64, uint64(math.MaxUint64), int8(-5), uint16(7),
		0.0, 1.5, -2.25, 1e20, 1e21, 1e-6, 1e-7, 123456789.123, math.MaxFloat64, math.SmallestNonzeroFloat64,
		true, false, nil,
		[]int{1, 2}, map[string]any{"k": []any{1, "x", nil}}, point{1, 2, "p"}, &point{3, 4, "q"},
		json.RawMessage(`{"a" : [1, 2]}`),
	} {
		f(v)
	}
}

func TestKinds(t *testing.T) {
	h, c := newTestHandler(nil)
	l := slog.New(h)
	tm := time.Date(2026, 11, 22, 1, 2, 3, 4, time.FixedZone("Z", 3600))
	l.Info("m", "d", 1500*time.Millisecond, "t", tm, "err", errors.New("boom\nline2"),
		"f", math.NaN(), "pinf", math.Inf(1), "ninf", math.Inf(-1), "b", []byte("bytes"),
		"u", uint64(7), "wrapped", fmt.Errorf("ctx: %w", errors.New("inner")))
	m := c.lastMap(t)
	require.Equal(t, json.Number("1500000000"), m["d"])
	require.Equal(t, "2026-11-22T00:02:03.000000004Z", m["t"])
	require.Equal(t, "boom\nline2", m["err"])
	require.Equal(t, "NaN", m["f"])
	require.Equal(t, "+Inf", m["pinf"])
	require.Equal(t, "-Inf", m["ninf"])
	require.Equal(t, "bytes", m["b"])
	require.Equal(t, json.Number("7"), m["u"])
	require.Equal(t, "ctx: inner", m["wrapped"])
}

type stringer struct{}

func (stringer) String() string { return "from String" }

type textM struct{}

func (textM) MarshalText() ([]byte, error) { return []byte("from text"), nil }

type jsonM struct{}

func (jsonM) MarshalJSON() ([]byte, error) { return []byte(`{"from":"json"}`), nil }

type panicky struct{ msg string }

func (p panicky) LogValue() slog.Value { panic(p.msg) }

type panicJSON struct{}

func (panicJSON) MarshalJSON() ([]byte, error) { panic("json boom") }

type panicStr struct{}

func (panicStr) String() string { panic("string boom") }

type panicText struct{}

func (panicText) MarshalText() ([]byte, error) { panic("text boom") }

type errText struct{}

func (errText) MarshalText() ([]byte, error) { return nil, errors.New("no text") }

type badJSON struct{}

func (badJSON) MarshalJSON() ([]byte, error) { return []byte(`{"unterminated`), nil }

type panicErr struct{}

func (*panicErr) Error() string { panic("error boom") }

type node struct {
	Name string
	Next *node
}

type panicPanic struct{}

func (panicPanic) Error() string { panic("nested") }

type loopValuer struct{}

func (l loopValuer) LogValue() slog.Value { return slog.AnyValue(l) }

type groupValuer struct{}

func (groupValuer) LogValue() slog.Value {
	return slog.GroupValue(slog.String("user", "u1"), slog.Int("n", 2))
}

// TestBadValues checks that no value crashes the caller or breaks the record.
func TestBadValues(t *testing.T) {
	h, c := newTestHandler(nil)
	l := slog.New(h)
	f := func(v any, want string) {
		t.Helper()
		require.NotPanics(t, func() { l.Info("m", "v", v) })
		m := c.lastMap(t)
		got := fmt.Sprint(m["v"])
		require.True(t, strings.HasPrefix(got, want), "got %q, want prefix %q", got, want)
	}
	f(stringer{}, "from String")
	f(textM{}, "from text")
	f(jsonM{}, "map[from:json]")
	f(panicky{"logvalue boom"}, "LogValue panicked")
	f(panicJSON{}, "!PANIC: json boom")
	f(panicStr{}, "!PANIC: string boom")
	f(panicText{}, "!PANIC: text boom")
	f(errText{}, "!ERROR: no text")
	f(badJSON{}, "!ERROR: json: error calling MarshalJSON")
	var nilErr *panicErr
	f(error(nilErr), "!PANIC: error boom")
	f(make(chan int), "!ERROR: json: unsupported type")
	f(func() {}, "!ERROR: json: unsupported type")
	f(loopValuer{}, "LogValue called too many times")
	f(panicky{}, "LogValue panicked")

	// A panic value whose formatting panics too.
	require.True(t, strings.HasPrefix(panicStringFor(panicPanic{}), "!PANIC: "))

	// Cycles: a pointer cycle and a map that contains itself.
	n := &node{Name: "a"}
	n.Next = n
	f(n, "!ERROR: json: unsupported value: encountered a cycle")
	mm := map[string]any{}
	mm["self"] = mm
	f(mm, "!ERROR: json: unsupported value: encountered a cycle")
	s := []any{nil}
	s[0] = s
	f(s, "!ERROR: json: unsupported value: encountered a cycle")

	// A LogValuer resolving to a group becomes an object.
	l.Info("m", "v", groupValuer{})
	require.Equal(t, map[string]any{"user": "u1", "n": json.Number("2")}, c.lastMap(t)["v"])
}

func panicStringFor(v any) string { return panicString(v) }

func TestDeepGroups(t *testing.T) {
	h, c := newTestHandler(nil)
	a := slog.Int("leaf", 1)
	for i := 0; i < 200; i++ {
		a = slog.Group(fmt.Sprintf("g%d", i), a)
	}
	slog.New(h).Info("deep", a)
	line := c.last(t)
	require.Contains(t, string(line), `"!DEPTH"`)
	require.Equal(t, maxDepth, strings.Count(string(line), "{")-1)

	// Deep WithGroup chains count too.
	l := slog.New(h)
	for i := 0; i < 100; i++ {
		l = l.WithGroup("w")
	}
	l.Info("m", slog.Group("g", "x", 1))
	require.Contains(t, string(c.last(t)), `"g":"!DEPTH"`)
}

func TestHugeAndInvalid(t *testing.T) {
	h, c := newTestHandler(nil)
	big := strings.Repeat("x\n\"", 1<<20)
	slog.New(h).Info(big, "\xffkey\n", big, "k", strings.Repeat("\xff", 10))
	m := c.lastMap(t)
	require.Equal(t, big, m["msg"])
	require.Equal(t, big, m["\ufffdkey\n"])
	require.Equal(t, strings.Repeat("\ufffd", 10), m["k"])
	// The pool does not keep huge buffers.
	slog.New(h).Info("small")
	c.last(t)
}

func TestAddSource(t *testing.T) {
	h, c := newTestHandler(&Options{AddSource: true})
	slog.New(h).Info("m", "a", 1)
	line := c.last(t)
	m := decode(t, line)
	caller, ok := m["caller"].(map[string]any)
	require.True(t, ok, "%s", line)
	require.Contains(t, caller["function"], "TestAddSource")
	require.True(t, strings.HasSuffix(caller["file"].(string), "handler_test.go"))
	require.NotZero(t, caller["line"])
	require.Equal(t, []string{"event_time", "level", "msg", "service", "env", "version", "caller", "a"}, keys(t, line))
	// No PC, no caller.
	require.NoError(t, h.Handle(context.Background(), slog.NewRecord(time.Now(), slog.LevelInfo, "m", 0)))
	require.NotContains(t, c.lastMap(t), "caller")
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestHandleReturnsWriteError(t *testing.T) {
	h := NewJSONHandler(failWriter{}, nil)
	err := h.Handle(context.Background(), slog.NewRecord(time.Now(), slog.LevelInfo, "m", 0))
	require.EqualError(t, err, "disk full")
}

// TestSharedGroupsDoNotExplode: groups sharing their members (cheap to build, exponential to
// expand within the depth cap) are cut at maxAttrs, quickly, with a visible marker.
func TestSharedGroupsDoNotExplode(t *testing.T) {
	h, c := newTestHandler(nil)
	g := slog.Int("leaf", 1)
	for i := 0; i < 30; i++ {
		g = slog.Group("g", g, g) // 2^30 leaves if expanded
	}
	slog.New(h).Info("dag", g, "after", 1)
	line := c.last(t)
	require.Contains(t, string(line), `"!LIMIT":"more than 65536 attributes"`)
	require.Equal(t, 1, strings.Count(string(line), "!LIMIT"))
}

// TestTraceContext: the hook gives the trace ids of a context without vlog's own; vlog's own
// win when present.
func TestTraceContext(t *testing.T) {
	type otelKey struct{}
	h, c := newTestHandler(&Options{Service: "svc", TraceContext: func(ctx context.Context) (string, string) {
		if v, ok := ctx.Value(otelKey{}).(string); ok {
			return v, "00f067aa0ba902b7"
		}
		return "", ""
	}})
	l := slog.New(h)
	l.InfoContext(context.WithValue(context.Background(), otelKey{}, "4bf92f3577b34da6a3ce929d0e0e4736"), "m")
	m := c.lastMap(t)
	require.Equal(t, "4bf92f3577b34da6a3ce929d0e0e4736", m["trace_id"])
	require.Equal(t, "00f067aa0ba902b7", m["span_id"])
	l.InfoContext(context.Background(), "m")
	require.NotContains(t, c.lastMap(t), "trace_id")
	own := ctxids.With(context.WithValue(context.Background(), otelKey{}, "x"), ctxids.IDs{TraceID: "own"})
	l.InfoContext(own, "m")
	m = c.lastMap(t)
	require.Equal(t, "own", m["trace_id"])
	require.NotContains(t, m, "span_id")
}

// sendCounter is a writer that counts SendNow calls.
type sendCounter struct {
	capture
	sends int
}

func (s *sendCounter) SendNow() { s.sends++ }

// TestFlushLevel: a record at or above FlushLevel asks the writer to send at once; below it,
// or without FlushLevel, nothing is asked.
func TestFlushLevel(t *testing.T) {
	w := &sendCounter{}
	l := slog.New(NewJSONHandler(w, &Options{Level: slog.LevelDebug, FlushLevel: slog.LevelError}))
	l.Info("m")
	l.Warn("m")
	require.Zero(t, w.sends)
	l.Error("m")
	l.Log(context.Background(), slog.LevelError+4, "m")
	require.Equal(t, 2, w.sends)
	require.Len(t, w.lines, 4)

	w2 := &sendCounter{}
	slog.New(NewJSONHandler(w2, nil)).Error("m")
	require.Zero(t, w2.sends, "no FlushLevel: never")
}

// TestSecretGroupName: under a WithGroup whose name is a secret key, every value is masked,
// whether it comes with the record or from WithAttrs (as redact.Handler does); the message and
// attributes outside the group are not.
func TestSecretGroupName(t *testing.T) {
	red, err := redact.New(nil)
	require.NoError(t, err)
	h, c := newTestHandler(&Options{Service: "svc", Redactor: red})
	l := slog.New(h).With("plain", "p")
	g := l.WithGroup("credentials")
	g.Info("a", "user", "u1")
	m := c.lastMap(t)
	require.Equal(t, map[string]any{"user": "[REDACTED]"}, m["credentials"])
	require.Equal(t, "p", m["plain"])
	g.With("user", "u2").Info("b", slog.Group("inner", "k", 1))
	m = c.lastMap(t)
	require.Equal(t, map[string]any{"user": "[REDACTED]", "inner": "[REDACTED]"}, m["credentials"])
	require.Equal(t, "b", m["msg"])
	l.WithGroup("request").Info("c", "user", "u3")
	require.Equal(t, map[string]any{"user": "u3"}, c.lastMap(t)["request"], "a plain group name masks nothing")
}
