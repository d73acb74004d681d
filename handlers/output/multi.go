package output

import (
	"context"
	"errors"
	"strings"
	"sync"
)

// Multi writes every record to several outputs: the record is encoded once, by the handler,
// and each output copies the bytes into its own buffer and has its own batching, retries,
// fallback and accounting. An output that is down or stalled does not slow the others down,
// as long as every output is one that never blocks (a Buffered; a Direct blocks when its
// writer does).
type Multi struct {
	outs []Output
}

var _ Output = (*Multi)(nil)

// NewMulti returns an output that writes to each of outs. It owns them: Close closes them.
func NewMulti(outs ...Output) *Multi { return &Multi{outs: outs} }

// Outputs returns the outputs, in order.
func (m *Multi) Outputs() []Output { return m.outs }

// Write gives p to every output. It returns an error (the first output's) only when no output
// took the record: a handler composed for failover (slog-multi's Failover) then hands the
// record on, and does not when one output has it (which would duplicate it there).
func (m *Multi) Write(p []byte) (int, error) {
	var first error
	took := false
	for _, o := range m.outs {
		if _, err := o.Write(p); err == nil {
			took = true
		} else if first == nil {
			first = err
		}
	}
	if took {
		return len(p), nil
	}
	return 0, first
}

// SendNow asks every output that holds records back to send them at once (see Buffered.SendNow).
func (m *Multi) SendNow() {
	for _, o := range m.outs {
		if s, ok := o.(sender); ok {
			s.SendNow()
		}
	}
}

// sender is an output that holds records back and can be told to send them at once
// (Buffered, Multi; handlers.Sender is the same interface, seen from the handler).
type sender interface{ SendNow() }

// Flush flushes every output at once, within ctx's one deadline.
func (m *Multi) Flush(ctx context.Context) error {
	return m.each(func(o Output) error { return o.Flush(ctx) })
}

// Close closes every output at once, within ctx's one deadline.
func (m *Multi) Close(ctx context.Context) error {
	return m.each(func(o Output) error { return o.Close(ctx) })
}

// each runs f on every output concurrently and joins the errors, in the outputs' order.
func (m *Multi) each(f func(Output) error) error {
	errs := make([]error, len(m.outs))
	var wg sync.WaitGroup
	for i, o := range m.outs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = f(o)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// Stats returns the totals of the outputs, with each output's own Stats in Outputs. Output
// joins their names with ","; State is "failing" when one is failing, "closed" when all are;
// LastError is the most recent one; Fallback is the first output's that has one.
func (m *Multi) Stats() Stats {
	var t Stats
	names := make([]string, 0, len(m.outs))
	closed := 0
	for _, o := range m.outs {
		s := o.Stats()
		t.Outputs = append(t.Outputs, s)
		names = append(names, s.Output)
		t.Enqueued += s.Enqueued
		t.Delivered += s.Delivered
		t.Retried += s.Retried
		t.Dropped.BufferFull += s.Dropped.BufferFull
		t.Dropped.WriteError += s.Dropped.WriteError
		t.Dropped.Oversize += s.Dropped.Oversize
		t.Dropped.Closed += s.Dropped.Closed
		t.BufferedBytes += s.BufferedBytes
		t.BufferedRecords += s.BufferedRecords
		t.BufferSize += s.BufferSize
		if s.LastErrorTime.After(t.LastErrorTime) {
			t.LastError, t.LastErrorTime = s.LastError, s.LastErrorTime
		}
		if t.Fallback == nil {
			t.Fallback = s.Fallback
		}
		switch s.State {
		case "failing":
			t.State = "failing"
		case "closed":
			closed++
		}
	}
	t.Output = strings.Join(names, ",")
	switch {
	case t.State != "":
	case closed == len(m.outs) && closed > 0:
		t.State = "closed"
	default:
		t.State = "ok"
	}
	return t
}
