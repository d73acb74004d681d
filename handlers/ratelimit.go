package handlers

import (
	"hash/maphash"
	"log/slog"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// The rate limit (Options.RateLimit): for each level and message, within each interval, the
// first First records are written, then one in Thereafter; what it suppressed is reported in
// the stream itself, once per interval per message, by a record
//
//	vlog: suppressed 4900 records like "cache miss" (level debug) since 2026-11-22T02:55:54.1Z
//
// written when the message is next logged after its interval ended, or, for a message that is
// not, at the first log call of any limited record after the interval (a sweep), or at
// ReportSuppressed (vlog calls it in Flush and Close).
//
// The counters are a fixed table of limiterSlots slots, each owned by one (level, message),
// found by hashing the message with two choices; a message whose two slots are owned by other
// messages that are still in use is not limited (a slot is taken back when its message was not
// logged for limiterIdle intervals and has nothing left to report). There is no lock: each slot
// is a few atomics, like zap's sampler, and the same races are accepted: at the turn of an
// interval a record or two more or fewer than First may be written. The record's own time
// decides the interval, so the limiter reads no clock.

const (
	limiterSlots = 4096 // a power of two
	// limiterIdle: a slot whose message was not logged for this many intervals may be taken
	// by another message.
	limiterIdle = 10
	// maxReportedMsg caps the message quoted in a suppression record (it is in full in the
	// record's vlog_suppressed_msg).
	maxReportedMsg = 120
)

type limiter struct {
	first, thereafter uint64 // thereafter 0: none past first
	interval          int64  // nanoseconds
	below             slog.Leveler
	exempt            []string
	seed              maphash.Seed

	// dirty: a slot has suppressed records not reported yet; nextSweep: when the next sweep may
	// look for the ones whose message is no longer logged.
	dirty     atomic.Bool
	nextSweep atomic.Int64
	// reported counts the suppressed records already reported; with the slots' pending counts,
	// the total.
	reported atomic.Uint64

	slots [limiterSlots]rateSlot
}

// rateKey is what a slot counts.
type rateKey struct {
	level slog.Level
	msg   string
}

type rateSlot struct {
	key        atomic.Pointer[rateKey] // nil: free
	resetAt    atomic.Int64            // the end of the current interval, Unix ns
	count      atomic.Uint64           // records in the current interval
	suppressed atomic.Uint64           // suppressed and not reported yet
	since      atomic.Int64            // when the first of those was logged, Unix ns
}

func newLimiter(o *RateLimitOptions) *limiter {
	l := &limiter{first: DefaultRateLimitFirst, thereafter: DefaultRateLimitThereafter,
		interval: int64(DefaultRateLimitInterval), below: o.Below, seed: maphash.MakeSeed()}
	if o.First > 0 {
		l.first = uint64(o.First)
	}
	switch {
	case o.Thereafter > 0:
		l.thereafter = uint64(o.Thereafter)
	case o.Thereafter < 0:
		l.thereafter = 0
	}
	if o.Interval > 0 {
		l.interval = int64(o.Interval)
	}
	if l.below == nil {
		l.below = slog.LevelError
	}
	l.exempt = append([]string(nil), o.Exempt...)
	return l
}

// allow reports whether a record (level, msg, at t) may be written, and writes the
// suppression record of its message when its previous interval suppressed some.
func (l *limiter) allow(v *volume, level slog.Level, msg string, t time.Time) bool {
	for _, m := range l.exempt {
		if m == msg {
			return true
		}
	}
	var now int64
	if t.IsZero() {
		now = time.Now().UnixNano()
	} else {
		now = t.UnixNano()
	}
	s := l.slot(level, msg, now)
	if s == nil {
		return true // the table is full of other messages: not limited
	}
	if reset := s.resetAt.Load(); now >= reset && s.resetAt.CompareAndSwap(reset, now+l.interval) {
		s.count.Store(0)
		if n := s.suppressed.Swap(0); n > 0 {
			l.report(v, s.key.Load(), n, s.since.Load())
		}
	}
	n := s.count.Add(1)
	if n <= l.first || l.thereafter > 0 && (n-l.first)%l.thereafter == 0 {
		if l.dirty.Load() && now >= l.nextSweep.Load() {
			l.sweep(v, now, false)
		}
		return true
	}
	if s.suppressed.Add(1) == 1 {
		s.since.Store(now)
	}
	if !l.dirty.Load() {
		l.dirty.Store(true)
	}
	return false
}

// slot returns the slot of (level, msg), taking a free or idle one for it if it has none; nil
// when both of its choices are owned by messages in use.
func (l *limiter) slot(level slog.Level, msg string, now int64) *rateSlot {
	h := maphash.String(l.seed, msg) + uint64(level)*0x9e3779b97f4a7c15
	i, j := h&(limiterSlots-1), (h>>32)&(limiterSlots-1)
	if j == i {
		j = (i + 1) & (limiterSlots - 1)
	}
	a, b := &l.slots[i], &l.slots[j]
	if k := a.key.Load(); k != nil && k.level == level && k.msg == msg {
		return a
	}
	if k := b.key.Load(); k != nil && k.level == level && k.msg == msg {
		return b
	}
	for _, s := range [2]*rateSlot{a, b} {
		k := s.key.Load()
		if k != nil && (now-s.resetAt.Load() < limiterIdle*l.interval || s.suppressed.Load() > 0) {
			continue
		}
		if s.key.CompareAndSwap(k, &rateKey{level: level, msg: strings.Clone(msg)}) {
			s.count.Store(0)
			s.resetAt.Store(0)
			return s
		}
		if k := s.key.Load(); k != nil && k.level == level && k.msg == msg {
			return s // another goroutine took it for the same message
		}
	}
	return nil
}

// sweep reports the suppressed records of the slots whose interval ended (all of them when
// all is set), at most once per interval unless all is set.
func (l *limiter) sweep(v *volume, now int64, all bool) {
	if !all {
		next := l.nextSweep.Load()
		if now < next || !l.nextSweep.CompareAndSwap(next, now+l.interval) {
			return
		}
	}
	l.dirty.Store(false)
	pending := false
	for i := range l.slots {
		s := &l.slots[i]
		if s.suppressed.Load() == 0 {
			continue
		}
		if !all && now < s.resetAt.Load() {
			pending = true // reported when its interval ends
			continue
		}
		if n := s.suppressed.Swap(0); n > 0 {
			l.report(v, s.key.Load(), n, s.since.Load())
		}
	}
	if pending {
		l.dirty.Store(true)
	}
}

// report writes the record that says n records like k's were suppressed since since.
func (l *limiter) report(v *volume, k *rateKey, n uint64, since int64) {
	l.reported.Add(n)
	if k == nil {
		return
	}
	t := time.Unix(0, since).UTC()
	quoted := k.msg
	if len(quoted) > maxReportedMsg {
		quoted = quoted[:maxReportedMsg] + "..."
	}
	msg := make([]byte, 0, 96+len(quoted))
	msg = append(msg, "vlog: suppressed "...)
	msg = strconv.AppendUint(msg, n, 10)
	msg = append(msg, " records like "...)
	msg = strconv.AppendQuote(msg, quoted)
	msg = append(msg, " (level "...)
	msg = appendLevelName(msg, k.level)
	msg = append(msg, ") since "...)
	msg = t.AppendFormat(msg, time.RFC3339Nano)
	v.notice(nil, nil, slog.LevelInfo, string(msg),
		slog.Uint64("vlog_suppressed", n),
		slog.String("vlog_suppressed_msg", k.msg),
		slog.String("vlog_suppressed_level", string(appendLevelName(nil, k.level))),
		slog.Time("vlog_suppressed_since", t))
}

// suppressedTotal returns the records suppressed so far, reported or not.
func (l *limiter) suppressedTotal() uint64 {
	n := l.reported.Load()
	for i := range l.slots {
		n += l.slots[i].suppressed.Load()
	}
	return n
}
