package handlers

import (
	"context"
	"io"
	"log/slog"
	"strconv"
	"sync/atomic"
	"time"
)

// This file holds the volume controls of a JSONHandler (docs/volume.md has the why): holding
// the records of a scope until it fails (Options.Hold, Scope), sampling scopes that log at
// debug in full (Options.DebugSampleRate), and rate limits per level and message
// (Options.RateLimit). They are all off by default, and then cost the log call one nil check.

// HoldOptions configure the holding of the records of scopes (see Options.Hold and Scope).
// The zero value means the defaults stated per field.
type HoldOptions struct {
	// Below: records below this level (and below the handler's level: a record the level
	// enables is always written) logged with a scope's context are held. Default
	// slog.LevelInfo: debug records are held.
	Below slog.Leveler

	// FlushLevel: a record at or above it (and at or above Below), logged with a scope's
	// context, makes the scope fail: what it holds is written first. Default slog.LevelError.
	FlushLevel slog.Leveler

	// ScopeSize caps the memory one scope holds its records in (chunks of 2 KiB: it is rounded
	// up to a multiple of 2 KiB, 2 KiB to 16 MiB); beyond it, the oldest records are evicted
	// first. Default DefaultHoldScopeSize (64 KiB: about 200 records of 300 bytes).
	ScopeSize int

	// TotalSize caps the memory of all the scopes of the handler (and of the handlers derived
	// from it) together: with one logger per process, the process's. A scope that cannot grow
	// evicts its own oldest records; one that holds none does not hold the record. Default
	// DefaultHoldTotalSize (32 MiB).
	TotalSize int

	// MaxAge: what a scope holds is discarded this long after the oldest of it was held, so a
	// scope that is never ended gives its memory (and its share of TotalSize) back. There is no
	// "never": a forgotten scope would keep its share for the life of the process. Default
	// (and for 0 or less) DefaultHoldMaxAge, 1 minute.
	MaxAge time.Duration
}

// The defaults of HoldOptions.
const (
	DefaultHoldScopeSize = 64 << 10
	DefaultHoldTotalSize = 32 << 20
	DefaultHoldMaxAge    = time.Minute
)

// RateLimitOptions configure the rate limit of Options.RateLimit: for each level and message,
// within each Interval, the First records are written, then one in Thereafter (the semantics
// of zap's sampler). The zero value means the defaults stated per field.
type RateLimitOptions struct {
	// First is how many records of one level and message are written in each interval before
	// the limit applies. Default 100.
	First int
	// Thereafter: past First, one record in Thereafter is written. Default 100. Negative:
	// none past First.
	Thereafter int
	// Interval is the period the counts start again from zero. Default 1s.
	Interval time.Duration
	// Below: records at or above this level are not limited. Default slog.LevelError: errors
	// are always written.
	Below slog.Leveler
	// Exempt are messages that are never limited (vlog adds its access record's, "http
	// request").
	Exempt []string
}

// The defaults of RateLimitOptions.
const (
	DefaultRateLimitFirst      = 100
	DefaultRateLimitThereafter = 100
	DefaultRateLimitInterval   = time.Second
)

// VolumeStats are the counters of a handler's volume controls. Held records are accounted
// for: Held == Flushed + Discarded + Evicted() + HeldRecords. None of them is a drop of the
// output: a record that was never written was never given to it. (output.VolumeStats, which
// vlog.Logger.Stats fills, has the same fields.)
type VolumeStats struct {
	// Scopes counts the scopes started; SampledScopes those that log at debug in full.
	Scopes, SampledScopes uint64
	// Held counts the records held (or, for those no cap let in, that would have been).
	Held uint64
	// Flushed counts the held records written because their scope failed.
	Flushed uint64
	// Discarded counts the held records discarded: their scope ended without failing, or
	// they were held longer than HoldOptions.MaxAge.
	Discarded uint64
	// EvictedScopeCap and EvictedTotalCap count the held records evicted (or not let in) by
	// HoldOptions.ScopeSize, one scope's cap, and by HoldOptions.TotalSize, the cap of all the
	// scopes together.
	EvictedScopeCap, EvictedTotalCap uint64
	// HeldRecords and HeldBytes are what is held now: the records, and the memory of the
	// scopes' buffers (which HoldOptions.TotalSize bounds).
	HeldRecords, HeldBytes int64
	// Suppressed counts the records the rate limit did not write (reported in the stream by
	// "vlog: suppressed N records like ..." records).
	Suppressed uint64
}

// Evicted returns the records evicted by either cap.
func (s *VolumeStats) Evicted() uint64 { return s.EvictedScopeCap + s.EvictedTotalCap }

// evictions count a scope's evictions since its last flush, by cap, for the flush notice.
type evictions struct{ scopeCap, totalCap uint64 }

func (e evictions) total() uint64 { return e.scopeCap + e.totalCap }

// Keys of the attributes the volume controls add to records.
const (
	keyDebugSampled    = "vlog_debug_sampled"
	keyDebugSampleRate = "vlog_debug_sample_rate"
)

// volume is the state of the volume controls, shared by a handler and those derived from it.
type volume struct {
	root   *JSONHandler // notices are encoded in its schema
	w      io.Writer
	sender Sender // nil when the writer is not one

	// scoped: StartScope starts scopes (holding or sampling is on).
	scoped bool

	hold        bool
	holdBelow   slog.Leveler
	holdFlush   slog.Leveler
	scopeChunks int // HoldOptions.ScopeSize in chunks
	maxAge      time.Duration
	budget      holdBudget
	sampleRate  float64
	// sampledAttrs are the attributes of a sampled scope's records, encoded once.
	sampledAttrs []byte

	limiter *limiter // nil: no rate limit

	scopes, sampledScopes                  atomic.Uint64
	held, flushed, discarded               atomic.Uint64
	evictedScope, evictedTotal, suppressed atomic.Uint64
}

// newVolume returns the volume controls of opts, nil when they are all off.
func newVolume(root *JSONHandler, w io.Writer, opts *Options) *volume {
	if opts.Hold == nil && opts.DebugSampleRate <= 0 && opts.RateLimit == nil {
		return nil
	}
	v := &volume{root: root, w: w}
	v.sender, _ = w.(Sender)
	if ho := opts.Hold; ho != nil {
		v.hold = true
		v.holdBelow, v.holdFlush = ho.Below, ho.FlushLevel
		if v.holdBelow == nil {
			v.holdBelow = slog.LevelInfo
		}
		if v.holdFlush == nil {
			v.holdFlush = slog.LevelError
		}
		size := ho.ScopeSize
		if size <= 0 {
			size = DefaultHoldScopeSize
		}
		size = min(max(size, minHeldSize), maxHeldSize)
		v.scopeChunks = (size + heldChunkSize - 1) / heldChunkSize
		v.budget.limit = int64(ho.TotalSize)
		if v.budget.limit <= 0 {
			v.budget.limit = DefaultHoldTotalSize
		}
		v.maxAge = ho.MaxAge
		if v.maxAge <= 0 {
			v.maxAge = DefaultHoldMaxAge
		}
	}
	if r := opts.DebugSampleRate; r > 0 {
		v.sampleRate = min(r, 1)
		b := append([]byte(nil), `,"`+keyDebugSampled+`":true,"`+keyDebugSampleRate+`":`...)
		v.sampledAttrs = appendFloat(b, v.sampleRate)
	}
	v.scoped = v.hold || v.sampleRate > 0
	if opts.RateLimit != nil {
		v.limiter = newLimiter(opts.RateLimit)
	}
	return v
}

// scopeOf returns the scope of ctx when it is one of v's, else nil.
func (v *volume) scopeOf(ctx context.Context) *Scope {
	if !v.scoped || ctx == nil {
		return nil
	}
	s, _ := ctx.Value(scopeKey{}).(*Scope)
	if s == nil || s.v != v {
		return nil
	}
	return s
}

// enabledVolume is Enabled with the volume controls on.
func (h *JSONHandler) enabledVolume(ctx context.Context, level slog.Level) bool {
	return level >= h.c.level.Level() || h.c.vol.scopeOf(ctx).mode(level) != modeOff
}

// handleVolume is Handle with the volume controls on. r is Handle's own copy, passed by
// pointer so that the paths that write nothing do not copy it again.
func (h *JSONHandler) handleVolume(ctx context.Context, r *slog.Record) error {
	v := h.c.vol
	s := v.scopeOf(ctx)
	if r.Level < h.c.level.Level() {
		switch s.mode(r.Level) {
		case modeOff:
			return nil
		case modeHold:
			h.hold(s, ctx, r)
			return nil
		}
	}
	if s != nil && v.hold && r.Level >= v.holdFlush.Level() && r.Level >= v.holdBelow.Level() {
		s.Flush() // what the scope holds goes first
	}
	if l := v.limiter; l != nil && r.Level < l.below.Level() && !l.allow(v, r.Level, r.Message, r.Time) {
		return nil
	}
	var extra []byte
	if s.Sampled() {
		extra = v.sampledAttrs
	}
	bp := getBuffer()
	buf := h.appendRecord((*bp)[:0], ctx, *r, extra)
	_, err := h.w.Write(buf)
	*bp = buf
	putBuffer(bp)
	if h.c.sender != nil && r.Level >= h.c.flushLevel.Level() {
		h.c.sender.SendNow()
	}
	return err
}

// hold encodes r and holds it in s; when s failed or ended meanwhile, it writes or drops it.
func (h *JSONHandler) hold(s *Scope, ctx context.Context, r *slog.Record) {
	bp := getBuffer()
	buf := h.appendRecord((*bp)[:0], ctx, *r, nil)
	if s.add(buf) == holdWrite {
		_, _ = h.w.Write(buf)
	}
	*bp = buf
	putBuffer(bp)
}

// writeHeld writes the records a failed scope held, oldest first, then the notice that says
// so, and gives the chunks back.
func (v *volume) writeHeld(s *Scope, q *heldQueue, ev evictions) {
	n, chunks := q.n, q.chunks
	if n > 0 {
		scratch := getBuffer()
		q.each(scratch, func(rec []byte) { _, _ = v.w.Write(rec) })
		putBuffer(scratch)
	}
	q.reset()
	v.budget.give(chunks)
	v.flushed.Add(uint64(n))
	if n == 0 && ev.total() == 0 {
		return
	}
	msg := make([]byte, 0, 160)
	msg = append(msg, "vlog: wrote "...)
	msg = strconv.AppendInt(msg, int64(n), 10)
	msg = append(msg, " held records of this scope, held below "...)
	msg = appendLevelName(msg, v.holdBelow.Level())
	attrs := []slog.Attr{slog.Int("vlog_held_written", n)}
	if ev.total() > 0 {
		msg = append(msg, " ("...)
		msg = strconv.AppendUint(msg, ev.total(), 10)
		msg = append(msg, " evicted: "...)
		msg = strconv.AppendUint(msg, ev.scopeCap, 10)
		msg = append(msg, " by the scope's cap, "...)
		msg = strconv.AppendUint(msg, ev.totalCap, 10)
		msg = append(msg, " by the total cap)"...)
		attrs = append(attrs, slog.Uint64("vlog_held_evicted", ev.total()))
	}
	var extra []byte
	if s.sampled {
		extra = v.sampledAttrs
	}
	v.notice(s.ctx, extra, slog.LevelInfo, string(msg), attrs...)
	if v.sender != nil {
		v.sender.SendNow()
	}
}

// notice writes a record of the library's own, in the root handler's schema.
func (v *volume) notice(ctx context.Context, extra []byte, level slog.Level, msg string, attrs ...slog.Attr) {
	r := slog.NewRecord(time.Now(), level, msg, 0)
	r.AddAttrs(attrs...)
	bp := getBuffer()
	buf := v.root.appendRecord((*bp)[:0], ctx, r, extra)
	_, _ = v.w.Write(buf)
	*bp = buf
	putBuffer(bp)
}

// stats returns a snapshot of the counters.
func (v *volume) stats() *VolumeStats {
	s := &VolumeStats{
		Scopes:          v.scopes.Load(),
		SampledScopes:   v.sampledScopes.Load(),
		Held:            v.held.Load(),
		Flushed:         v.flushed.Load(),
		Discarded:       v.discarded.Load(),
		EvictedScopeCap: v.evictedScope.Load(),
		EvictedTotalCap: v.evictedTotal.Load(),
		HeldBytes:       v.budget.used.Load(),
	}
	if v.limiter != nil {
		s.Suppressed = v.limiter.suppressedTotal()
	}
	// Read apart, the counters may be a record apart.
	s.HeldRecords = max(0, int64(s.Held)-int64(s.Flushed+s.Discarded+s.Evicted()))
	return s
}

// VolumeStats returns the counters of the volume controls, nil when they are all off.
func (h *JSONHandler) VolumeStats() *VolumeStats {
	if h.c.vol == nil {
		return nil
	}
	return h.c.vol.stats()
}

// ReportSuppressed writes the "vlog: suppressed ..." records of every message the rate limit
// suppressed records of and has not reported yet, without waiting for the end of their
// interval: before a Flush or a Close, so the last interval's gaps are visible too. It does
// nothing without Options.RateLimit.
func (h *JSONHandler) ReportSuppressed() {
	if v := h.c.vol; v != nil && v.limiter != nil {
		v.limiter.sweep(v, time.Now().UnixNano(), true)
	}
}

// appendLevelName appends the schema's name of l without quotes: debug, info, warn+2, ...
func appendLevelName(dst []byte, l slog.Level) []byte {
	n := len(dst)
	dst = appendLevel(dst, l)
	// appendLevel quotes the name: drop the quotes.
	copy(dst[n:], dst[n+1:len(dst)-1])
	return dst[:len(dst)-2]
}
