package output

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// Defaults of FallbackOptions.
const (
	DefaultFallbackAfter         = 2 * time.Second
	DefaultFallbackProbeInterval = 5 * time.Second
	DefaultFallbackProbeTimeout  = 1 * time.Second
)

// FallbackOptions configure a Fallback. The zero value means the defaults stated per
// field.
type FallbackOptions struct {
	// After is how long the primary must have been failing, counted from the start of the first
	// failed attempt in a row, before batches go to the secondary. Default
	// DefaultFallbackAfter (2s). A negative value switches at the first failure.
	After time.Duration
	// ProbeInterval is, while on the secondary, how often a batch is offered to the primary
	// first: when the primary takes it, traffic switches back. Default
	// DefaultFallbackProbeInterval (5s).
	ProbeInterval time.Duration
	// ProbeTimeout bounds such an attempt, so that a primary that hangs delays a batch by at
	// most this much. Default DefaultFallbackProbeTimeout (1s).
	ProbeTimeout time.Duration

	// LastResort, if set, takes a batch that both the primary and the secondary failed, while
	// on the secondary (e.g. NewWriterTransport("stdout", os.Stdout), where the container
	// runtime keeps it): Send then returns nil, so the records leave the buffer. Default nil:
	// the batch stays in the buffer and is sent again.
	LastResort Transport
}

// Fallback sends batches through a primary transport (the FireLens router, over the
// forward protocol) and, while the primary is down, through a secondary one (VictoriaLogs
// directly). Both receive the same bytes (JSON lines); each encodes them for its own wire.
//
// The rules:
//   - A batch goes to the primary. When the primary fails, the error is returned (the
//     Buffered backs off and sends the batch again) until the primary has been failing
//     for After; then the batch, and those that follow, go to the secondary.
//   - While on the secondary, every ProbeInterval one batch is offered to the primary first
//     (for at most ProbeTimeout); when the primary takes it, traffic switches back.
//   - A batch the primary refuses for good (a Permanent error) is offered to the secondary
//     once, whatever the state.
//   - When both fail, Send returns the error: the records stay in the Buffered's
//     bounded buffer and are sent again; what does not fit is dropped and counted there.
//     With LastResort set, the batch is written there instead and Send returns nil.
//
// No record is lost in a switch: Send returns nil only when one of the transports delivered
// the batch. A record may be delivered twice: a batch that the primary received but failed to
// acknowledge (a timeout, a connection reset before the ack) is then also sent to the
// secondary.
//
// Each switch calls Hooks.OnSwitch and, with Hooks.Notice set, writes one record (level warn when falling
// back, info when switching back) with the fields vlog_fallback_from, vlog_fallback_to and
// vlog_fallback_reason into the first batch delivered after it. Status reports the state.
type Fallback struct {
	primary, secondary Transport
	opts               FallbackOptions
	hooks              Hooks
	clock              Clock

	// Touched by Send only.
	failingSince time.Time // start of the first failed attempt in a row on the primary
	nextProbe    time.Time
	pending      []byte // notice records not delivered yet
	pendingN     int
	scratch      Batch

	mu     sync.Mutex
	status FallbackStatus
}

var _ Transport = (*Fallback)(nil)

// FallbackStatus is the state of a Fallback.
type FallbackStatus struct {
	// Active names the transport batches go to now.
	Active string
	// OnFallback is true while batches go to the secondary.
	OnFallback bool
	// Switches counts the switches, either way.
	Switches uint64
	// Since is the time of the last switch, zero if none.
	Since time.Time
	// Reason is the primary's error that caused the last switch to the secondary.
	Reason string
	// LastResort counts the batches written to FallbackOptions.LastResort.
	LastResort uint64
}

// NewFallback returns a transport that sends through primary and falls back to
// secondary. It owns both: Close closes them. hooks.Notice encodes the switch records,
// hooks.OnSwitch hears of every switch, hooks.Clock times them.
func NewFallback(primary, secondary Transport, opts *FallbackOptions, hooks Hooks) *Fallback {
	var o FallbackOptions
	if opts != nil {
		o = *opts
	}
	if o.After == 0 {
		o.After = DefaultFallbackAfter
	}
	if o.ProbeInterval <= 0 {
		o.ProbeInterval = DefaultFallbackProbeInterval
	}
	if o.ProbeTimeout <= 0 {
		o.ProbeTimeout = DefaultFallbackProbeTimeout
	}
	t := &Fallback{primary: primary, secondary: secondary, opts: o, hooks: hooks, clock: hooks.clock()}
	t.status.Active = primary.Name()
	return t
}

// Name returns "<primary>+<secondary>", e.g. "forward+victorialogs".
func (t *Fallback) Name() string { return t.primary.Name() + "+" + t.secondary.Name() }

// FallbackReporter is implemented by a Transport that falls back from one destination to
// another (Fallback): Buffered puts its status in Stats.Fallback.
type FallbackReporter interface {
	FallbackStatus() FallbackStatus
}

var _ FallbackReporter = (*Fallback)(nil)

// FallbackStatus returns the transport's state.
func (t *Fallback) FallbackStatus() FallbackStatus {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.status
}

// Close closes both transports, and the last resort.
func (t *Fallback) Close() error {
	err := errors.Join(t.primary.Close(), t.secondary.Close())
	if t.opts.LastResort != nil {
		err = errors.Join(err, t.opts.LastResort.Close())
	}
	return err
}

// Send delivers b through the active transport (see Fallback).
func (t *Fallback) Send(ctx context.Context, b *Batch) error {
	start := t.clock.Now()
	if !t.onFallback() {
		err := t.primary.Send(ctx, t.withPending(b))
		if err == nil {
			t.delivered()
			t.failingSince = time.Time{}
			return nil
		}
		if ctx.Err() != nil {
			return err
		}
		if IsPermanent(err) {
			return t.rescue(ctx, b, err)
		}
		if t.failingSince.IsZero() {
			t.failingSince = start
		}
		if t.opts.After > 0 && t.clock.Now().Sub(t.failingSince) < t.opts.After {
			return err
		}
		t.switchTo(true, err)
	} else if !t.clock.Now().Before(t.nextProbe) {
		pctx, cancel := context.WithTimeout(ctx, t.opts.ProbeTimeout)
		err := t.primary.Send(pctx, t.withPending(b))
		cancel()
		if err == nil {
			t.delivered()
			t.switchTo(false, nil)
			return nil
		}
		if ctx.Err() != nil {
			return err
		}
		t.nextProbe = t.clock.Now().Add(t.opts.ProbeInterval)
	}
	err := t.secondary.Send(ctx, t.withPending(b))
	if err == nil {
		t.delivered()
		return nil
	}
	if ctx.Err() != nil {
		return err
	}
	err = fmt.Errorf("%s down since %s, fallback failing: %w",
		t.primary.Name(), t.failingSince.UTC().Format(time.RFC3339), err)
	if t.opts.LastResort != nil {
		if lerr := t.opts.LastResort.Send(ctx, t.withPending(b)); lerr == nil {
			t.delivered()
			t.mu.Lock()
			t.status.LastResort++
			t.mu.Unlock()
			return nil
		}
	}
	return err
}

// rescue offers a batch that the primary refused for good to the secondary.
func (t *Fallback) rescue(ctx context.Context, b *Batch, perr error) error {
	err := t.secondary.Send(ctx, t.withPending(b))
	if err == nil {
		t.delivered()
		return nil
	}
	return Permanent(fmt.Errorf("%w (%s: %v)", perr, t.secondary.Name(), err))
}

func (t *Fallback) onFallback() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.status.OnFallback
}

// switchTo records a switch, queues its notice and calls Hooks.OnSwitch.
func (t *Fallback) switchTo(fallback bool, reason error) {
	from, to := t.primary.Name(), t.secondary.Name()
	if !fallback {
		from, to = to, from
	}
	now := t.clock.Now()
	t.mu.Lock()
	t.status.Active = to
	t.status.OnFallback = fallback
	t.status.Switches++
	t.status.Since = now
	if reason != nil {
		t.status.Reason = reason.Error()
	}
	t.mu.Unlock()
	if fallback {
		t.nextProbe = now.Add(t.opts.ProbeInterval)
	} else {
		t.failingSince = time.Time{}
	}
	if t.hooks.Notice != nil {
		level, msg := slog.LevelInfo, fmt.Sprintf("vlog: %s reachable again, sending through it", to)
		attrs := []slog.Attr{slog.String("vlog_fallback_from", from), slog.String("vlog_fallback_to", to)}
		if fallback {
			level = slog.LevelWarn
			msg = fmt.Sprintf("vlog: %s failing for %s, sending to %s directly", from,
				now.Sub(t.failingSince).Round(time.Millisecond), to)
			attrs = append(attrs, slog.String("vlog_fallback_reason", reason.Error()))
		}
		t.pending = t.hooks.Notice(t.pending, level, msg, attrs...)
		t.pendingN++
	}
	if t.hooks.OnSwitch != nil {
		t.hooks.OnSwitch(from, to, reason)
	}
}

// withPending returns b, or a copy of b with the pending notices appended.
func (t *Fallback) withPending(b *Batch) *Batch {
	if t.pendingN == 0 {
		return b
	}
	t.scratch.Data = append(append(t.scratch.Data[:0], b.Data...), t.pending...)
	t.scratch.Records = b.Records + t.pendingN
	t.scratch.Seq = b.Seq
	return &t.scratch
}

// delivered forgets the pending notices after a delivery that carried them.
func (t *Fallback) delivered() {
	t.pending, t.pendingN = t.pending[:0], 0
	if cap(t.scratch.Data) > 4<<20 {
		t.scratch.Data = nil
	}
}
