package outputtest

import (
	"sync"
	"time"

	"go.vlog.dev/handlers/output"
)

// Clock is an output.Clock that moves only when told: Add advances it and fires the timers
// that are due. Waiting reports how many timers are armed, so a test can tell that a
// background goroutine is waiting before it moves the clock.
type Clock struct {
	mu     sync.Mutex
	now    time.Time
	timers map[*timer]struct{}
}

var _ output.Clock = (*Clock)(nil)

// NewClock returns a clock set to start.
func NewClock(start time.Time) *Clock {
	return &Clock{now: start, timers: make(map[*timer]struct{})}
}

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Add moves the clock forward by d and fires every timer due by then.
func (c *Clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	for t := range c.timers {
		if !t.at.After(c.now) {
			delete(c.timers, t)
			select {
			case t.c <- c.now:
			default:
			}
		}
	}
}

// Waiting returns the number of armed timers.
func (c *Clock) Waiting() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.timers)
}

// NewTimer returns a timer that fires when the clock reaches now+d.
func (c *Clock) NewTimer(d time.Duration) output.Timer {
	t := &timer{clock: c, c: make(chan time.Time, 1)}
	t.Reset(d)
	return t
}

type timer struct {
	clock *Clock
	c     chan time.Time
	at    time.Time
}

func (t *timer) C() <-chan time.Time { return t.c }

func (t *timer) Stop() bool {
	t.clock.mu.Lock()
	defer t.clock.mu.Unlock()
	_, armed := t.clock.timers[t]
	delete(t.clock.timers, t)
	return armed
}

func (t *timer) Reset(d time.Duration) bool {
	c := t.clock
	c.mu.Lock()
	defer c.mu.Unlock()
	_, armed := c.timers[t]
	t.at = c.now.Add(d)
	if d <= 0 {
		delete(c.timers, t)
		select {
		case t.c <- c.now:
		default:
		}
		return armed
	}
	c.timers[t] = struct{}{}
	return armed
}
