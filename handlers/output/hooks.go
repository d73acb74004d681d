package output

import (
	"log/slog"
	"time"
)

// Hooks are how an output reports on itself and tells time. They are not settings: vlog fills
// them in. The zero value reports nothing and uses the system clock.
type Hooks struct {
	// Notice encodes the records an output writes into the stream about itself: Buffered's
	// drop notice, Fallback's switch records. handlers.JSONHandler.EncodeNotice fits. Default
	// nil: no such records.
	Notice NoticeFunc
	// OnError is called, from Buffered's background goroutine, with every delivery error. It
	// must not log through the same logger synchronously. Default nil.
	OnError func(error)
	// OnSwitch is called by Fallback at each switch, on the goroutine calling Send, with the
	// names of the transports and, when switching to the secondary, the primary's last error
	// (nil when switching back). It must not block. Default nil.
	OnSwitch func(from, to string, reason error)
	// Clock tells time: batch ages, backoffs, the notice interval, the fallback's timers.
	// Default the system clock; tests inject one to control time without sleeping.
	Clock Clock
}

// NoticeFunc appends to dst a record of the library's own, in the schema of the service's
// records (see Hooks.Notice).
type NoticeFunc func(dst []byte, level slog.Level, msg string, attrs ...slog.Attr) []byte

func (h Hooks) clock() Clock {
	if h.Clock == nil {
		return SystemClock{}
	}
	return h.Clock
}

func (h Hooks) onError(err error) {
	if h.OnError != nil {
		h.OnError(err)
	}
}

// Clock is the source of time of the outputs.
type Clock interface {
	Now() time.Time
	// NewTimer returns a timer that sends the time on its channel once, after d.
	NewTimer(d time.Duration) Timer
}

// Timer is what Clock.NewTimer returns: the part of *time.Timer the outputs use.
type Timer interface {
	C() <-chan time.Time
	Stop() bool
	Reset(d time.Duration) bool
}

// SystemClock is the real clock: time.Now and time.NewTimer.
type SystemClock struct{}

// Now returns time.Now().
func (SystemClock) Now() time.Time { return time.Now() }

// NewTimer returns a *time.Timer.
func (SystemClock) NewTimer(d time.Duration) Timer { return systemTimer{time.NewTimer(d)} }

type systemTimer struct{ t *time.Timer }

func (t systemTimer) C() <-chan time.Time        { return t.t.C }
func (t systemTimer) Stop() bool                 { return t.t.Stop() }
func (t systemTimer) Reset(d time.Duration) bool { return t.t.Reset(d) }
