package handlers

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"
)

// A Scope is one unit of work, an HTTP request or a queue message, whose records are held or
// sampled together (see Options.Hold and Options.DebugSampleRate). It lives in the context that
// StartScope returns: every record logged with that context, or one derived from it, through
// the handler that started the scope or any handler derived from it with WithAttrs or
// WithGroup, belongs to the scope.
//
// Held records. While the scope is active, a record below both the handler's level and
// HoldOptions.Below is encoded, as it would be written, and held in the scope instead of being
// written. When the scope fails (a record at HoldOptions.FlushLevel or above is logged with its
// context, or Flush is called: vlog's middleware does for a 5xx and for a panic), the held
// records are written first, oldest first, with their own event_time, followed by one notice
// ("vlog: wrote N held records of this scope ..."); from then on the scope writes such records
// at once, since the unit of work has failed and its detail is wanted. When the scope ends
// without failing, what it holds is discarded.
//
// Sampled scopes. With a DebugSampleRate, StartScope draws, once, whether the scope logs at
// debug in full: its records at slog.LevelDebug and above are then written at once, and every
// record of the scope carries "vlog_debug_sampled":true and "vlog_debug_sample_rate".
//
// Bounds. A scope holds its records in at most HoldOptions.ScopeSize bytes of memory (the
// oldest records are evicted first), all the scopes of a handler together in at most
// HoldOptions.TotalSize (a scope that may not grow evicts its own oldest records; with none,
// the new record is not held), and what
// a scope holds is discarded HoldOptions.MaxAge after its oldest record was held, so a scope
// that is never ended (a goroutine that outlives its request) pins nothing for long. Every
// such record is counted (VolumeStats).
//
// A Scope is safe for concurrent use: the goroutines of one request may log with its context
// at once. The methods of a nil *Scope do nothing (StartScope returns nil when the handler has
// neither holding nor sampling on).
type Scope struct {
	v       *volume
	ctx     context.Context // the scope's context, for the ids of the flush notice
	sampled bool
	state   atomic.Int32 // scopeActive, scopeFailed, scopeEnded

	mu      sync.Mutex
	held    heldQueue
	evicted evictions   // since the last flush, for the flush notice
	timer   *time.Timer // discards what is held after MaxAge; nil until the first record
}

const (
	scopeActive int32 = iota
	scopeFailed
	scopeEnded
)

// scopeKey is the context key of the scope.
type scopeKey struct{}

// StartScope starts a scope on h, when h is a handler of this package (or any handler with a
// StartScope method of this signature), and returns the context that carries it. Without one,
// or when h has neither holding nor sampling on, it returns ctx and a nil *Scope, whose methods
// do nothing. End the scope when the unit of work is done (defer scope.End()).
func StartScope(ctx context.Context, h slog.Handler) (context.Context, *Scope) {
	if s, ok := h.(interface {
		StartScope(context.Context) (context.Context, *Scope)
	}); ok {
		return s.StartScope(ctx)
	}
	return ctx, nil
}

// StartScope starts a scope for the records that h and the handlers derived from it log with
// the returned context (see Scope). It returns ctx and a nil *Scope when h has neither
// Options.Hold nor Options.DebugSampleRate. A scope started on a context that already has one
// replaces it for the new context: scopes do not nest.
func (h *JSONHandler) StartScope(ctx context.Context) (context.Context, *Scope) {
	v := h.c.vol
	if v == nil || !v.scoped {
		return ctx, nil
	}
	if ctx == nil {
		ctx = context.Background()
	}
	s := &Scope{v: v}
	if v.sampleRate > 0 && (v.sampleRate >= 1 || rand.Float64() < v.sampleRate) {
		s.sampled = true
		v.sampledScopes.Add(1)
	}
	v.scopes.Add(1)
	s.ctx = context.WithValue(ctx, scopeKey{}, s)
	return s.ctx, s
}

// Sampled reports whether the scope logs at debug in full (see Options.DebugSampleRate).
func (s *Scope) Sampled() bool { return s != nil && s.sampled }

// Failed reports whether the scope has failed: its held records were written and its records
// below HoldOptions.Below are now written at once.
func (s *Scope) Failed() bool { return s != nil && s.state.Load() == scopeFailed }

// Flush makes the scope fail: it writes the held records now, oldest first, then a notice, and
// from then on the scope writes its records below HoldOptions.Below at once. Logging a record
// at HoldOptions.FlushLevel with the scope's context does the same; vlog's middleware calls
// Flush for a response of 500 or more and for a panic. It does nothing after End, nor a second
// time.
func (s *Scope) Flush() {
	if s == nil || !s.v.hold || s.state.Load() != scopeActive {
		return
	}
	s.mu.Lock()
	if s.state.Load() != scopeActive {
		s.mu.Unlock()
		return
	}
	s.state.Store(scopeFailed)
	r := s.held.take()
	ev := s.evicted
	s.evicted = evictions{}
	if s.timer != nil {
		s.timer.Stop()
	}
	s.mu.Unlock()
	s.v.writeHeld(s, &r, ev)
}

// End ends the scope: what it holds is discarded (counted in VolumeStats.Discarded), and the
// records logged with its context afterwards are handled as if it had none (below the level:
// not written; at the flush level: written, nothing flushed). It is safe to call more than once.
func (s *Scope) End() {
	if s == nil {
		return
	}
	s.mu.Lock()
	if s.state.Load() == scopeEnded {
		s.mu.Unlock()
		return
	}
	s.state.Store(scopeEnded)
	r := s.held.take()
	if s.timer != nil {
		s.timer.Stop()
	}
	s.mu.Unlock()
	s.v.discarded.Add(uint64(r.n))
	r.release(&s.v.budget)
}

// What to do with a record below the handler's level, for a scope.
const (
	modeOff   = iota // not written (disabled)
	modeHold         // held
	modeWrite        // written at once (a sampled or failed scope)
)

// mode decides the fate of a record at level, below the handler's level. s may be nil.
func (s *Scope) mode(level slog.Level) int {
	if s == nil {
		return modeOff
	}
	st := s.state.Load()
	if st == scopeEnded {
		return modeOff
	}
	if s.sampled && level >= slog.LevelDebug {
		return modeWrite
	}
	if s.v.hold && level < s.v.holdBelow.Level() {
		if st == scopeFailed {
			return modeWrite
		}
		return modeHold
	}
	return modeOff
}

// The results of add.
const (
	holdDone  = iota // held, or counted as evicted
	holdWrite        // the scope failed meanwhile: write the record at once
	holdDrop         // the scope ended meanwhile: drop it
)

// add holds rec, a copy of which goes into the scope's queue, evicting the oldest records when
// a cap requires it.
func (s *Scope) add(rec []byte) int {
	v := s.v
	need := heldLenSize + len(rec)
	s.mu.Lock()
	switch s.state.Load() {
	case scopeFailed:
		s.mu.Unlock()
		return holdWrite
	case scopeEnded:
		s.mu.Unlock()
		return holdDrop
	}
	v.held.Add(1)
	if chunksFor(need) > v.scopeChunks {
		v.evictedScope.Add(1) // larger than the scope's cap: never held
		s.evicted.scopeCap++
		s.mu.Unlock()
		return holdDone
	}
	q := &s.held
	for q.n > 0 && q.chunks+q.extra(need) > v.scopeChunks {
		v.budget.give(q.evictOldest())
		v.evictedScope.Add(1)
		s.evicted.scopeCap++
	}
	for extra := q.extra(need); extra > 0 && !v.budget.take(extra); extra = q.extra(need) {
		if q.n == 0 {
			v.evictedTotal.Add(1) // no room at all: not held
			s.evicted.totalCap++
			s.mu.Unlock()
			return holdDone
		}
		// The budget is spent: make room with this scope's own oldest records.
		v.budget.give(q.evictOldest())
		v.evictedTotal.Add(1)
		s.evicted.totalCap++
	}
	first := q.n == 0
	q.append(rec)
	if first {
		if s.timer == nil {
			s.timer = time.AfterFunc(v.maxAge, s.expire)
		} else {
			s.timer.Reset(v.maxAge)
		}
	}
	s.mu.Unlock()
	return holdDone
}

// expire discards what the scope holds, MaxAge after the oldest of it was held.
func (s *Scope) expire() {
	s.mu.Lock()
	r := s.held.take()
	s.mu.Unlock()
	s.v.discarded.Add(uint64(r.n))
	r.release(&s.v.budget)
}
