package handlers

import (
	"context"
	"io"
	"sync"
	"sync/atomic"
	"time"
)

// Output is where a handler's encoded records go. Write receives exactly one complete record
// per call and must not keep p after it returns. Outputs count every record they are given:
// after Close, Stats().Enqueued == Stats().Delivered + Stats().Dropped.Total().
type Output interface {
	io.Writer
	// Close delivers what is still pending, by ctx's deadline, and releases the output's
	// resources. It reports what it could not deliver.
	Close(ctx context.Context) error
	// Stats returns a snapshot of the output's counters.
	Stats() Stats
}

// Stats are an output's counters. All counts are records, not bytes, unless named otherwise.
type Stats struct {
	// Output names the destination: "stdout", "writer", ...
	Output string
	// State is "ok", "failing" (the last write failed) or "closed".
	State string
	// Enqueued counts the records given to the output.
	Enqueued uint64
	// Delivered counts the records written to the destination without error.
	Delivered uint64
	// Dropped counts the records given up, by reason.
	Dropped Drops
	// Retried counts the attempts to deliver a record again after a failure.
	Retried uint64
	// BufferedBytes and BufferedRecords are what waits in the output's buffer now.
	BufferedBytes, BufferedRecords int64
	// LastError is the most recent delivery error, "" if none, with credentials removed.
	LastError string
	// LastErrorTime is when LastError happened.
	LastErrorTime time.Time
	// Redacted counts the values masked by redaction, by rule (see go.vlog.dev/redact); nil
	// when redaction is off. Filled in by vlog.Logger.Stats.
	Redacted map[string]uint64
	// Fallback is the state of the router -> VictoriaLogs fallback; nil without one.
	Fallback *FallbackStatus
}

// Drops counts dropped records by reason.
type Drops struct {
	// BufferFull: the buffer had no room.
	BufferFull uint64
	// WriteError: the destination refused or failed the write and it was not retried.
	WriteError uint64
	// Oversize: the record was larger than the destination accepts.
	Oversize uint64
	// Closed: the record arrived after Close, or Close's deadline passed before it was sent.
	Closed uint64
}

// Total returns the sum of all reasons.
func (d Drops) Total() uint64 { return d.BufferFull + d.WriteError + d.Oversize + d.Closed }

// WriterOutput is an unbuffered Output over an io.Writer (os.Stdout by default in vlog): each
// record is written synchronously, on the caller's goroutine, under a mutex, so records from
// concurrent goroutines never interleave. A failed write drops the record (counted as
// WriteError) and is not retried: a partial line may have reached the writer.
//
// Close syncs the writer but does not stop the output: a record logged after Close (by a
// goroutine still running during shutdown) is still written, since there is nothing to release
// and dropping it would help nobody.
type WriterOutput struct {
	name string

	mu sync.Mutex
	w  io.Writer

	enqueued, delivered, writeErrors atomic.Uint64
	lastErr                          atomic.Pointer[errorAt]
	failing                          atomic.Bool
}

type errorAt struct {
	msg string
	at  time.Time
}

var _ Output = (*WriterOutput)(nil)

// NewWriterOutput returns an output that writes to w; name is reported in Stats().Output.
func NewWriterOutput(name string, w io.Writer) *WriterOutput {
	return &WriterOutput{name: name, w: w}
}

// Write writes one record. It returns the writer's error, if any.
func (o *WriterOutput) Write(p []byte) (int, error) {
	o.enqueued.Add(1)
	o.mu.Lock()
	n, err := o.w.Write(p)
	o.mu.Unlock()
	if err == nil && n < len(p) {
		err = io.ErrShortWrite
	}
	if err != nil {
		o.writeErrors.Add(1)
		o.failing.Store(true)
		o.lastErr.Store(&errorAt{msg: err.Error(), at: time.Now()})
		return n, err
	}
	o.delivered.Add(1)
	o.failing.Store(false)
	return n, nil
}

// Close calls Sync on the writer if it has one (an *os.File does); the writer itself is not
// closed.
func (o *WriterOutput) Close(context.Context) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if s, ok := o.w.(interface{ Sync() error }); ok {
		// Sync on a pipe or terminal fails with EINVAL; that is not a delivery failure.
		_ = s.Sync()
	}
	return nil
}

// Stats returns the output's counters.
func (o *WriterOutput) Stats() Stats {
	s := Stats{
		Output:    o.name,
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
