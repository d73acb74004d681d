package handlers

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"testing/slogtest"
	"time"

	"github.com/stretchr/testify/require"

	"go.vlog.dev/internal/ctxids"
	"go.vlog.dev/internal/vtest"
)

// volOpts are handler options with the schema fields and o's volume controls.
func volOpts(level slog.Level, o Options) *Options {
	o.Service, o.Env, o.Version, o.Level = "svc", "test", "1.0.0", level
	return &o
}

// msgs returns the messages of the records captured, in order.
func (c *capture) msgs(t testing.TB) []string {
	t.Helper()
	c.mu.Lock()
	lines := append([][]byte(nil), c.lines...)
	c.mu.Unlock()
	var out []string
	for _, l := range lines {
		checkLine(t, l)
		out = append(out, decode(t, l)["msg"].(string))
	}
	return out
}

func (c *capture) maps(t testing.TB) []map[string]any {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []map[string]any
	for _, l := range c.lines {
		checkLine(t, l)
		var m map[string]any // numbers as float64
		require.NoError(t, json.Unmarshal(l, &m))
		out = append(out, m)
	}
	return out
}

// checkAccounting checks the identity of the held records' counters.
func checkAccounting(t testing.TB, st *VolumeStats) {
	t.Helper()
	require.Equal(t, st.Held, st.Flushed+st.Discarded+st.Evicted()+uint64(st.HeldRecords), "%+v", st)
}

func TestHoldDiscardedWhenTheScopeSucceeds(t *testing.T) {
	h, c := newTestHandler(volOpts(slog.LevelInfo, Options{Hold: &HoldOptions{}}))
	l := slog.New(h)
	ctx, scope := h.StartScope(ctxids.With(context.Background(), ctxids.IDs{RequestID: "r1"}))
	require.NotNil(t, scope)
	l.DebugContext(ctx, "step 1")
	l.DebugContext(ctx, "step 2")
	l.InfoContext(ctx, "done")
	l.Debug("no scope: disabled")
	require.Equal(t, []string{"done"}, c.msgs(t))
	st := h.VolumeStats()
	require.Equal(t, uint64(2), st.Held)
	require.Equal(t, int64(2), st.HeldRecords)
	require.Positive(t, st.HeldBytes)
	scope.End()
	scope.End() // twice is fine
	st = h.VolumeStats()
	require.Equal(t, uint64(2), st.Discarded)
	require.Zero(t, st.HeldBytes)
	require.Zero(t, st.HeldRecords)
	require.Equal(t, uint64(1), st.Scopes)
	checkAccounting(t, st)
	l.DebugContext(ctx, "after End: disabled")
	l.ErrorContext(ctx, "after End: written, nothing flushed")
	require.Equal(t, []string{"done", "after End: written, nothing flushed"}, c.msgs(t))
}

func TestHoldFlushedOnError(t *testing.T) {
	h, c := newTestHandler(volOpts(slog.LevelInfo, Options{Hold: &HoldOptions{}}))
	ctx, scope := h.StartScope(ctxids.With(context.Background(), ctxids.IDs{RequestID: "r1", TraceID: "t1"}))
	defer scope.End()
	t0 := time.Date(2026, 11, 22, 1, 2, 3, 0, time.UTC)
	rec := func(level slog.Level, msg string, i int) {
		r := slog.NewRecord(t0.Add(time.Duration(i)*time.Millisecond), level, msg, 0)
		r.AddAttrs(slog.Int("i", i))
		require.True(t, h.Enabled(ctx, level))
		require.NoError(t, h.Handle(ctx, r))
	}
	rec(slog.LevelDebug, "d1", 1)
	rec(slog.LevelInfo, "i2", 2)
	rec(slog.LevelDebug-4, "trace3", 3) // any level below Below
	rec(slog.LevelDebug, "d4", 4)
	require.Equal(t, []string{"i2"}, c.msgs(t))
	rec(slog.LevelError, "failed", 5)
	require.False(t, scope.Failed() == false)
	rec(slog.LevelDebug, "d6 after the failure: at once", 6)
	recs := c.maps(t)
	var got []string
	for _, m := range recs {
		got = append(got, m["msg"].(string))
	}
	require.Equal(t, []string{"i2", "d1", "trace3", "d4",
		"vlog: wrote 3 held records of this scope, held below info", "failed", "d6 after the failure: at once"}, got)
	// The held records are the records as they would have been written, with their own time.
	require.Equal(t, "2026-11-22T01:02:03.001000000Z", recs[1]["event_time"])
	require.Equal(t, "debug", recs[1]["level"])
	require.Equal(t, "debug-4", recs[2]["level"])
	require.Equal(t, 4.0, recs[3]["i"])
	require.Equal(t, "r1", recs[3]["request_id"])
	require.Equal(t, "t1", recs[3]["trace_id"])
	notice := recs[4]
	require.Equal(t, "info", notice["level"])
	require.Equal(t, "r1", notice["request_id"], "the notice carries the scope's ids")
	require.Equal(t, 3.0, notice["vlog_held_written"])
	require.NotContains(t, notice, "vlog_held_evicted")
	st := h.VolumeStats()
	require.Equal(t, uint64(3), st.Flushed)
	require.Zero(t, st.HeldBytes)
	checkAccounting(t, st)
	require.True(t, scope.Failed())
	scope.Flush() // a second time: nothing
	require.Len(t, c.maps(t), 7)
}

// TestHeldRecordIsTheWrittenRecord: a held record, once flushed, is byte for byte what the
// handler writes for it without holding.
func TestHeldRecordIsTheWrittenRecord(t *testing.T) {
	plain, pc := newTestHandler(volOpts(slog.LevelDebug, Options{}))
	h, c := newTestHandler(volOpts(slog.LevelInfo, Options{Hold: &HoldOptions{}}))
	ctx, scope := h.StartScope(ctxids.With(context.Background(), ctxids.IDs{RequestID: "r"}))
	r := slog.NewRecord(time.Now(), slog.LevelDebug, "query", 0)
	r.AddAttrs(slog.String("sql", "select 1"), slog.Group("g", slog.Int("n", 1)))
	lh := h.WithGroup("req").WithAttrs([]slog.Attr{slog.String("route", "/x")})
	lp := plain.WithGroup("req").WithAttrs([]slog.Attr{slog.String("route", "/x")})
	require.NoError(t, lh.Handle(ctx, r))
	require.NoError(t, lp.Handle(ctxids.With(context.Background(), ctxids.IDs{RequestID: "r"}), r))
	scope.Flush()
	require.Equal(t, string(pc.lines[0]), string(c.lines[0]))
}

func TestHoldLevels(t *testing.T) {
	// The logger at warn, holding below info: debug is held, info is disabled.
	h, c := newTestHandler(volOpts(slog.LevelWarn, Options{Hold: &HoldOptions{}}))
	ctx, scope := h.StartScope(context.Background())
	require.True(t, h.Enabled(ctx, slog.LevelDebug))
	require.False(t, h.Enabled(ctx, slog.LevelInfo))
	require.True(t, h.Enabled(ctx, slog.LevelWarn))
	require.False(t, h.Enabled(context.Background(), slog.LevelDebug), "no scope")
	require.False(t, h.Enabled(nil, slog.LevelDebug)) //nolint:staticcheck // a nil context is allowed
	l := slog.New(h)
	l.DebugContext(ctx, "held")
	l.InfoContext(ctx, "disabled")
	l.WarnContext(ctx, "written")
	scope.Flush()
	require.Equal(t, []string{"written", "held", "vlog: wrote 1 held records of this scope, held below info"}, c.msgs(t))
	scope.End()
	require.False(t, h.Enabled(ctx, slog.LevelDebug), "ended")

	// The level enables debug: debug is written at once, never held.
	h, c = newTestHandler(volOpts(slog.LevelDebug, Options{Hold: &HoldOptions{}}))
	ctx, scope = h.StartScope(context.Background())
	slog.New(h).DebugContext(ctx, "written")
	scope.End()
	require.Equal(t, []string{"written"}, c.msgs(t))
	require.Zero(t, h.VolumeStats().Held)

	// Holding below warn, flushing at warn.
	h, c = newTestHandler(volOpts(slog.LevelError, Options{Hold: &HoldOptions{Below: slog.LevelWarn, FlushLevel: slog.LevelWarn}}))
	ctx, scope = h.StartScope(context.Background())
	l = slog.New(h)
	l.InfoContext(ctx, "held")
	require.False(t, h.Enabled(ctx, slog.LevelWarn), "below the level, not below Below: disabled")
	l.ErrorContext(ctx, "flushes")
	require.Equal(t, []string{"held", "vlog: wrote 1 held records of this scope, held below warn", "flushes"}, c.msgs(t))
	scope.End()
}

// TestHoldDerivedHandlersShareTheScope: loggers made with With and WithGroup hold into the
// request's scope and are flushed with it, in order.
func TestHoldDerivedHandlersShareTheScope(t *testing.T) {
	h, c := newTestHandler(volOpts(slog.LevelInfo, Options{Hold: &HoldOptions{}}))
	ctx, scope := h.StartScope(context.Background())
	defer scope.End()
	l := slog.New(h)
	db := l.With("component", "db").WithGroup("q")
	db.DebugContext(ctx, "query", "sql", "select 1")
	l.DebugContext(ctx, "root")
	db.ErrorContext(ctx, "query failed")
	recs := c.maps(t)
	require.Len(t, recs, 4)
	require.Equal(t, "query", recs[0]["msg"])
	require.Equal(t, "db", recs[0]["component"])
	require.Equal(t, map[string]any{"sql": "select 1"}, recs[0]["q"])
	require.Equal(t, "root", recs[1]["msg"])
	require.Equal(t, "query failed", recs[3]["msg"])
}

// TestHoldScopeCap: a scope holds at most ScopeSize bytes; the oldest go first, and the flush
// says how many.
func TestHoldScopeCap(t *testing.T) {
	h, c := newTestHandler(volOpts(slog.LevelInfo, Options{Hold: &HoldOptions{ScopeSize: 3000}})) // 2 chunks
	ctx, scope := h.StartScope(context.Background())
	l := slog.New(h)
	pad := strings.Repeat("x", 150)
	for i := range 40 {
		l.DebugContext(ctx, "step", "i", i, "pad", pad)
		require.LessOrEqual(t, h.VolumeStats().HeldBytes, int64(4096))
	}
	st := h.VolumeStats()
	require.Equal(t, int64(4096), st.HeldBytes)
	require.Equal(t, uint64(40), st.Held)
	require.Positive(t, st.EvictedScopeCap)
	checkAccounting(t, st)
	kept := st.HeldRecords
	l.DebugContext(ctx, strings.Repeat("y", 5000)) // larger than the scope's cap: never held
	scope.Flush()
	recs := c.maps(t)
	require.Len(t, recs, int(kept)+1)
	for k, m := range recs[:kept] {
		require.Equal(t, float64(40-int(kept)+k), m["i"], "the newest records, in order")
	}
	notice := recs[kept]
	evicted := 40 - kept + 1
	require.Equal(t, fmt.Sprintf("vlog: wrote %d held records of this scope, held below info (%d evicted: %d by the scope's cap, 0 by the total cap)", kept, evicted, evicted), notice["msg"])
	require.Equal(t, float64(evicted), notice["vlog_held_evicted"])
	st = h.VolumeStats()
	require.Equal(t, uint64(evicted), st.EvictedScopeCap)
	checkAccounting(t, st)
	scope.End()
}

// TestHoldTotalCap: all the scopes together hold at most TotalSize bytes.
func TestHoldTotalCap(t *testing.T) {
	h, c := newTestHandler(volOpts(slog.LevelInfo, Options{Hold: &HoldOptions{ScopeSize: 8 << 10, TotalSize: 6 << 10}}))
	l := slog.New(h)
	var scopes []*Scope
	var ctxs []context.Context
	for range 10 {
		ctx, s := h.StartScope(context.Background())
		scopes, ctxs = append(scopes, s), append(ctxs, ctx)
	}
	pad := strings.Repeat("x", 200)
	for i := range 30 {
		for _, ctx := range ctxs {
			l.DebugContext(ctx, "step", "i", i, "pad", pad)
		}
		require.LessOrEqual(t, h.VolumeStats().HeldBytes, int64(6<<10))
	}
	st := h.VolumeStats()
	require.Positive(t, st.EvictedTotalCap)
	checkAccounting(t, st)
	// A scope that got room holds its newest records.
	scopes[0].Flush()
	require.NotEmpty(t, c.msgs(t))
	for _, s := range scopes {
		s.End()
	}
	st = h.VolumeStats()
	require.Zero(t, st.HeldBytes)
	require.Zero(t, st.HeldRecords)
	checkAccounting(t, st)
}

// TestHoldQueueMatchesAModel logs records of random sizes into a small scope, so that they
// span chunks and are evicted, and checks the flush against a plain FIFO queue of the same
// records under the same rule: the stream of held bytes is cut into chunks of heldChunkData,
// and the oldest records go while the chunks would pass the scope's cap.
func TestHoldQueueMatchesAModel(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	const d = heldChunkData
	for round := range 300 {
		maxChunks := 1 + rng.IntN(4)
		h, c := newTestHandler(volOpts(slog.LevelInfo, Options{Hold: &HoldOptions{ScopeSize: maxChunks * heldChunkSize}}))
		plain, pc := newTestHandler(volOpts(slog.LevelDebug, Options{}))
		ctx, scope := h.StartScope(context.Background())
		var queue [][]byte
		head, tail := 0, 0 // offsets of the held bytes in the stream
		chunks := func() int {
			if tail == 0 {
				return 0
			}
			return (tail+d-1)/d - head/d
		}
		extra := func(need int) int {
			room := 0
			if tail%d != 0 {
				room = d - tail%d
			}
			if need <= room {
				return 0
			}
			return (need - room + d - 1) / d
		}
		for i := range 1 + rng.IntN(80) {
			r := slog.NewRecord(time.Now(), slog.LevelDebug, "m", 0)
			r.AddAttrs(slog.Int("i", i), slog.String("pad", strings.Repeat("p", rng.IntN(maxChunks*d))))
			require.NoError(t, h.Handle(ctx, r))
			require.NoError(t, plain.Handle(context.Background(), r))
			rec := pc.lines[len(pc.lines)-1]
			need := heldLenSize + len(rec)
			if (need+d-1)/d > maxChunks {
				continue
			}
			for len(queue) > 0 && chunks()+extra(need) > maxChunks {
				head += heldLenSize + len(queue[0])
				queue = queue[1:]
				if len(queue) == 0 {
					head, tail = 0, 0
				}
			}
			queue, tail = append(queue, rec), tail+need
			require.Equal(t, int64(chunks()*heldChunkSize), h.VolumeStats().HeldBytes, "round %d record %d", round, i)
		}
		scope.Flush()
		got := c.lines
		if len(queue) > 0 || h.VolumeStats().Evicted() > 0 {
			got = got[:len(got)-1] // the notice
		}
		require.Equal(t, len(queue), len(got), "round %d", round)
		for i := range queue {
			require.True(t, bytes.Equal(queue[i], got[i]), "round %d record %d", round, i)
		}
		require.Zero(t, h.VolumeStats().HeldBytes)
		checkAccounting(t, h.VolumeStats())
		scope.End()
	}
}

// TestHoldMaxAge: what a scope that is never ended holds is discarded after MaxAge.
func TestHoldMaxAge(t *testing.T) {
	h, c := newTestHandler(volOpts(slog.LevelInfo, Options{Hold: &HoldOptions{MaxAge: 10 * time.Millisecond}}))
	ctx, scope := h.StartScope(context.Background())
	l := slog.New(h)
	l.DebugContext(ctx, "forgotten")
	require.Eventually(t, func() bool { return h.VolumeStats().Discarded == 1 }, 5*time.Second, time.Millisecond)
	require.Zero(t, h.VolumeStats().HeldBytes)
	// The scope goes on holding.
	l.DebugContext(ctx, "later")
	l.ErrorContext(ctx, "failed")
	require.Equal(t, []string{"later", "vlog: wrote 1 held records of this scope, held below info", "failed"}, c.msgs(t))
	checkAccounting(t, h.VolumeStats())
	scope.End()
}

// TestHoldConcurrent: many goroutines per scope, many scopes, some failing; run with -race.
func TestHoldConcurrent(t *testing.T) {
	h, c := newTestHandler(volOpts(slog.LevelInfo, Options{Hold: &HoldOptions{ScopeSize: 2 << 10, TotalSize: 64 << 10},
		DebugSampleRate: 0.2, RateLimit: &RateLimitOptions{First: 50, Thereafter: 10}}))
	l := slog.New(h)
	var wg sync.WaitGroup
	for s := range 40 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, scope := h.StartScope(context.Background())
			defer scope.End()
			lg := l.With("scope", s)
			var inner sync.WaitGroup
			for g := range 4 {
				inner.Add(1)
				go func() {
					defer inner.Done()
					for i := range 50 {
						lg.DebugContext(ctx, "step", "g", g, "i", i)
						if s%5 == 0 && g == 0 && i == 25 {
							lg.ErrorContext(ctx, "failed")
						}
					}
				}()
			}
			inner.Wait()
		}()
	}
	wg.Wait()
	st := h.VolumeStats()
	checkAccounting(t, st)
	require.Zero(t, st.HeldRecords)
	require.Zero(t, st.HeldBytes)
	require.Equal(t, uint64(40), st.Scopes)
	require.Positive(t, st.Flushed)
	for _, m := range c.maps(t) {
		_ = m // every line is one valid record
	}
}

func TestDebugSampling(t *testing.T) {
	h, c := newTestHandler(volOpts(slog.LevelInfo, Options{DebugSampleRate: 1}))
	l := slog.New(h)
	ctx, scope := h.StartScope(ctxids.With(context.Background(), ctxids.IDs{RequestID: "r"}))
	require.True(t, scope.Sampled())
	require.True(t, h.Enabled(ctx, slog.LevelDebug))
	require.False(t, h.Enabled(ctx, slog.LevelDebug-1), "debug in full, not below")
	l.DebugContext(ctx, "sampled debug")
	l.InfoContext(ctx, "info")
	l.Debug("no scope")
	recs := c.maps(t)
	require.Len(t, recs, 2)
	for _, m := range recs {
		require.Equal(t, true, m["vlog_debug_sampled"])
		require.Equal(t, 1.0, m["vlog_debug_sample_rate"])
	}
	require.Equal(t, []string{"event_time", "level", "msg", "service", "env", "version", "request_id",
		"vlog_debug_sampled", "vlog_debug_sample_rate"}, keys(t, c.lines[0]))
	scope.End()

	// A fraction: drawn per scope.
	h, _ = newTestHandler(volOpts(slog.LevelInfo, Options{DebugSampleRate: 0.25}))
	sampled := 0
	for range 4000 {
		_, s := h.StartScope(context.Background())
		if s.Sampled() {
			sampled++
		}
		s.End()
	}
	require.InDelta(t, 1000, sampled, 150)
	st := h.VolumeStats()
	require.Equal(t, uint64(sampled), st.SampledScopes)
	require.Equal(t, uint64(4000), st.Scopes)

	// With holding on too: an unsampled scope holds, a sampled one writes.
	h, c = newTestHandler(volOpts(slog.LevelInfo, Options{DebugSampleRate: 0.5, Hold: &HoldOptions{}}))
	l = slog.New(h)
	for range 20 {
		ctx, s := h.StartScope(context.Background())
		l.DebugContext(ctx, "d", "sampled", s.Sampled())
		s.End()
	}
	for _, m := range c.maps(t) {
		require.Equal(t, true, m["sampled"])
		require.Equal(t, true, m["vlog_debug_sampled"])
	}
}

func TestNoScopeWhenOff(t *testing.T) {
	h, _ := newTestHandler(nil)
	ctx := context.Background()
	ctx2, s := h.StartScope(ctx)
	require.Nil(t, s)
	require.Equal(t, ctx, ctx2)
	s.Flush()
	s.End()
	require.False(t, s.Sampled())
	require.False(t, s.Failed())
	require.Nil(t, h.VolumeStats())
	h.ReportSuppressed()
	// A rate limit alone starts no scopes either.
	h, _ = newTestHandler(volOpts(slog.LevelInfo, Options{RateLimit: &RateLimitOptions{}}))
	_, s = StartScope(ctx, h)
	require.Nil(t, s)
	// Nor does a handler that is not ours.
	_, s = StartScope(ctx, slog.DiscardHandler)
	require.Nil(t, s)
	// A scope of another handler is not this handler's.
	h1, _ := newTestHandler(volOpts(slog.LevelInfo, Options{Hold: &HoldOptions{}}))
	h2, _ := newTestHandler(volOpts(slog.LevelInfo, Options{Hold: &HoldOptions{}}))
	ctx, s = h1.StartScope(ctx)
	require.True(t, h1.Enabled(ctx, slog.LevelDebug))
	require.False(t, h2.Enabled(ctx, slog.LevelDebug))
	s.End()
}

// TestRateLimit: zap's sampler semantics per level and message, and the suppression record.
func TestRateLimit(t *testing.T) {
	h, c := newTestHandler(volOpts(slog.LevelDebug, Options{RateLimit: &RateLimitOptions{
		First: 3, Thereafter: 5, Interval: time.Second, Exempt: []string{"http request"}}}))
	t0 := time.Date(2026, 11, 22, 1, 2, 3, 0, time.UTC)
	log := func(at time.Duration, level slog.Level, msg string, i int) {
		r := slog.NewRecord(t0.Add(at), level, msg, 0)
		r.AddAttrs(slog.Int("i", i))
		require.NoError(t, h.Handle(context.Background(), r))
	}
	for i := 1; i <= 20; i++ {
		log(time.Duration(i)*time.Millisecond, slog.LevelInfo, "m", i)
		log(time.Duration(i)*time.Millisecond, slog.LevelDebug, "m", i) // another level: counted apart
		log(time.Duration(i)*time.Millisecond, slog.LevelError, "m", i) // not limited
		log(time.Duration(i)*time.Millisecond, slog.LevelInfo, "http request", i)
	}
	var info []float64
	n := map[string]int{}
	for _, m := range c.maps(t) {
		n[m["level"].(string)+" "+m["msg"].(string)]++
		if m["level"] == "info" && m["msg"] == "m" {
			info = append(info, m["i"].(float64))
		}
	}
	require.Equal(t, []float64{1, 2, 3, 8, 13, 18}, info)
	require.Equal(t, map[string]int{"info m": 6, "debug m": 6, "error m": 20, "info http request": 20}, n)
	require.Equal(t, uint64(28), h.VolumeStats().Suppressed)

	// The next interval: the first record of the message reports the previous one's gap.
	c.lines = nil
	log(time.Second+5*time.Millisecond, slog.LevelInfo, "m", 21)
	recs := c.maps(t)
	require.Len(t, recs, 2)
	require.Equal(t, `vlog: suppressed 14 records like "m" (level info) since 2026-11-22T01:02:03.004Z`, recs[0]["msg"])
	require.Equal(t, 14.0, recs[0]["vlog_suppressed"])
	require.Equal(t, "m", recs[0]["vlog_suppressed_msg"])
	require.Equal(t, "info", recs[0]["vlog_suppressed_level"])
	require.Equal(t, "2026-11-22T01:02:03.004000000Z", recs[0]["vlog_suppressed_since"])
	require.Equal(t, 21.0, recs[1]["i"])

	// The debug "m" is no longer logged: a sweep reports it after its interval, when another
	// limited record is written.
	c.lines = nil
	log(1500*time.Millisecond, slog.LevelInfo, "other", 0)
	got := c.msgs(t)
	require.Equal(t, []string{`vlog: suppressed 14 records like "m" (level debug) since 2026-11-22T01:02:03.004Z`, "other"}, got)
	require.Equal(t, uint64(28), h.VolumeStats().Suppressed)

	// ReportSuppressed reports what is pending without waiting for the interval.
	c.lines = nil
	for i := range 10 {
		log(1600*time.Millisecond, slog.LevelInfo, "burst", i)
	}
	h.ReportSuppressed()
	got = c.msgs(t)
	require.Len(t, got, 5, "1, 2, 3 and 8 written")
	require.Contains(t, got[4], `vlog: suppressed 6 records like "burst" (level info)`)
	h.ReportSuppressed()
	require.Len(t, c.msgs(t), 5, "reported once")
}

func TestRateLimitDefaultsAndLevels(t *testing.T) {
	h, c := newTestHandler(volOpts(slog.LevelDebug, Options{RateLimit: &RateLimitOptions{Below: slog.LevelError + 1, Thereafter: -1}}))
	l := slog.New(h)
	for range 250 {
		l.Error("e") // limited too: Below is above error
	}
	require.Len(t, c.lines, DefaultRateLimitFirst, "none past First")
	require.Equal(t, uint64(150), h.VolumeStats().Suppressed)
	// A long message is quoted cut short in the report, in full in its attribute.
	long := strings.Repeat("z", 300)
	for range 101 {
		l.Error(long)
	}
	c.lines = nil
	h.ReportSuppressed()
	for _, m := range c.maps(t) {
		if m["vlog_suppressed_msg"] == long {
			require.Contains(t, m["msg"], `"`+long[:maxReportedMsg]+`..."`)
			return
		}
	}
	t.Fatal("no report for the long message")
}

// TestRateLimitManyMessages: more messages than slots: the ones without a slot are not limited,
// and a slot is taken back from a message that stopped.
func TestRateLimitManyMessages(t *testing.T) {
	h, _ := newTestHandler(volOpts(slog.LevelDebug, Options{RateLimit: &RateLimitOptions{First: 1, Thereafter: -1}}))
	t0 := time.Now()
	for i := range 3 * limiterSlots {
		r := slog.NewRecord(t0, slog.LevelInfo, fmt.Sprint("m", i), 0)
		require.NoError(t, h.Handle(context.Background(), r))
	}
	require.Zero(t, h.VolumeStats().Suppressed, "each message once")
	// Long after, new messages take the slots back.
	later := t0.Add(time.Minute)
	for range 2 {
		r := slog.NewRecord(later, slog.LevelInfo, "new", 0)
		require.NoError(t, h.Handle(context.Background(), r))
	}
	require.Equal(t, uint64(1), h.VolumeStats().Suppressed)
}

func TestVolumeSlogtest(t *testing.T) {
	var buf bytes.Buffer
	h := NewJSONHandler(&buf, &Options{Hold: &HoldOptions{}, DebugSampleRate: 0.5,
		RateLimit: &RateLimitOptions{First: 1 << 30}})
	results := func() []map[string]any {
		var out []map[string]any
		for _, line := range bytes.Split(bytes.TrimSpace(buf.Bytes()), []byte("\n")) {
			m := decode(t, line)
			if ts, ok := m["event_time"]; ok {
				m[slog.TimeKey] = ts
			}
			m[slog.MessageKey] = m["msg"]
			m[slog.LevelKey] = strings.ToUpper(m["level"].(string))
			out = append(out, m)
		}
		return out
	}
	require.NoError(t, slogtest.TestHandler(h, results))
}

// TestVolumeAllocs: a held record, a record the rate limit passes and one it suppresses cost
// no allocation once the pools are warm.
func TestVolumeAllocs(t *testing.T) {
	h := NewJSONHandler(discardWriter{}, volOpts(slog.LevelInfo, Options{Hold: &HoldOptions{ScopeSize: 4 << 10},
		RateLimit: &RateLimitOptions{First: 1 << 40}}))
	ctx, scope := h.StartScope(ctxids.With(context.Background(), ctxids.IDs{RequestID: "req-1"}))
	defer scope.End()
	l := slog.New(h)
	held := func() {
		l.LogAttrs(ctx, slog.LevelDebug, "query", slog.String("sql", "select 1"), slog.Int("rows", 3),
			slog.Duration("took", time.Millisecond), slog.Bool("ok", true))
	}
	for range 100 {
		held() // fills the scope to its cap: from then on, each record evicts the oldest
	}
	vtest.WantAllocs(t, 0, held)
	vtest.WantAllocs(t, 0, func() { l.LogAttrs(ctx, slog.LevelInfo, "order created", slog.Int("n", 1)) })

	hs := NewJSONHandler(discardWriter{}, volOpts(slog.LevelInfo, Options{RateLimit: &RateLimitOptions{First: 1, Thereafter: -1}}))
	ls := slog.New(hs)
	ls.Info("flood")
	flood := func() { ls.LogAttrs(context.Background(), slog.LevelInfo, "flood", slog.Int("n", 1)) }
	flood()
	require.Equal(t, uint64(1), hs.VolumeStats().Suppressed)
	vtest.WantAllocs(t, 0, flood)
}

type discardWriter struct{}

func (discardWriter) Write(p []byte) (int, error) { return len(p), nil }

// TestEnabledMatchesHandle: for every level and scope state, Enabled is true exactly when
// Handle writes or holds the record.
func TestEnabledMatchesHandle(t *testing.T) {
	for _, handlerLevel := range []slog.Level{slog.LevelDebug, slog.LevelInfo, slog.LevelWarn, slog.LevelError} {
		for _, state := range []string{"none", "active", "sampled", "failed", "ended"} {
			for level := slog.LevelDebug - 8; level <= slog.LevelError+4; level++ {
				h, c := newTestHandler(volOpts(handlerLevel, Options{Hold: &HoldOptions{}, DebugSampleRate: 1e-300}))
				ctx := context.Background()
				var s *Scope
				if state != "none" {
					ctx, s = h.StartScope(ctx)
					s.sampled = state == "sampled"
					switch state {
					case "failed":
						s.Flush()
					case "ended":
						s.End()
					}
				}
				enabled := h.Enabled(ctx, level)
				before := h.VolumeStats().Held
				require.NoError(t, h.Handle(ctx, slog.NewRecord(time.Now(), level, "m", 0)))
				did := len(c.lines) > 0 || h.VolumeStats().Held > before
				require.Equal(t, did, enabled, "handler %v, scope %s, record %v", handlerLevel, state, level)
				s.End()
			}
		}
	}
}
