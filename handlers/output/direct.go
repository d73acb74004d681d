package output

import (
	"context"
	"sync"
	"sync/atomic"
)

// Direct is an unbuffered Output: each record is sent through the transport synchronously, on
// the caller's goroutine, as a batch of one, under a mutex, so records from concurrent
// goroutines never interleave. A failed send drops the record (counted as WriteError) and is
// not retried: a partial line may have reached the destination. It suits a destination that
// is always there and fast, such as stdout through a WriterTransport (vlog's default).
//
// Close closes the transport (a WriterTransport syncs its writer) but does not stop the
// output: a record logged after Close (by a goroutine still running during shutdown) is still
// sent, since there is nothing to release and dropping it would help nobody.
type Direct struct {
	t     Transport
	clock Clock

	mu    sync.Mutex
	batch Batch // reused under mu

	enqueued, delivered, writeErrors atomic.Uint64
	lastErr                          atomic.Pointer[errorAt]
	failing                          atomic.Bool
}

var _ Output = (*Direct)(nil)

// NewDirect returns an output that sends every record through t at once. Only hooks.Clock is
// used (for the time of the last error).
func NewDirect(t Transport, hooks Hooks) *Direct {
	return &Direct{t: t, clock: hooks.clock()}
}

// Write sends one record. It returns the transport's error, if any.
func (o *Direct) Write(p []byte) (int, error) {
	o.enqueued.Add(1)
	o.mu.Lock()
	o.batch.Data, o.batch.Records = p, 1
	err := o.t.Send(context.Background(), &o.batch)
	o.batch.Data = nil
	o.mu.Unlock()
	if err != nil {
		o.writeErrors.Add(1)
		o.failing.Store(true)
		o.lastErr.Store(&errorAt{msg: err.Error(), at: o.clock.Now()})
		return 0, err
	}
	o.delivered.Add(1)
	o.failing.Store(false)
	return len(p), nil
}

// Flush does nothing: every record was sent when it was written.
func (o *Direct) Flush(context.Context) error { return nil }

// Close closes the transport.
func (o *Direct) Close(context.Context) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.t.Close()
}

// Stats returns the output's counters.
func (o *Direct) Stats() Stats {
	s := Stats{
		Output:    o.t.Name(),
		State:     "ok",
		Enqueued:  o.enqueued.Load(),
		Delivered: o.delivered.Load(),
		Dropped:   Drops{WriteError: o.writeErrors.Load()},
	}
	if e := o.lastErr.Load(); e != nil {
		s.LastError, s.LastErrorTime = e.msg, e.at
	}
	if o.failing.Load() {
		s.State = "failing"
	}
	return s
}
