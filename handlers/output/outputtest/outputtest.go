// Package outputtest provides a fake Transport and a manual Clock for testing code built on
// go.vlog.dev/handlers/output, as net/http/httptest does for HTTP: the outputs' own tests,
// vlog's, and a service's that wants to see what its logger delivers.
package outputtest

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"

	"go.vlog.dev/handlers/output"
)

// Transport records the batches it is sent. Its behaviour is switched by the test: SetFail
// decides the result of each send, Block makes sends wait for their context, Gate (when not
// nil) makes every send wait for a value from it. A batch whose Records does not match its
// lines is refused as a Permanent error. The zero value is ready to use; Name is "fake"
// unless TransportName is set.
type Transport struct {
	TransportName string
	Gate          chan struct{}
	Block         atomic.Bool
	// Sends counts the calls to Send.
	Sends atomic.Int64

	inFlight, maxInFlight atomic.Int64

	fail    atomic.Pointer[func(b *output.Batch) error]
	mu      sync.Mutex
	batches [][]byte
	seqs    []uint64
}

var _ output.Transport = (*Transport)(nil)

// Send records b, unless SetFail's function returns an error for it.
func (f *Transport) Send(ctx context.Context, b *output.Batch) error {
	f.Sends.Add(1)
	n := f.inFlight.Add(1)
	defer f.inFlight.Add(-1)
	for m := f.maxInFlight.Load(); n > m && !f.maxInFlight.CompareAndSwap(m, n); m = f.maxInFlight.Load() {
	}
	if f.Block.Load() {
		<-ctx.Done()
		return ctx.Err()
	}
	if f.Gate != nil {
		select {
		case <-f.Gate:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if fp := f.fail.Load(); fp != nil {
		if err := (*fp)(b); err != nil {
			return err
		}
	}
	if n := bytes.Count(b.Data, []byte("\n")); n != b.Records {
		return output.Permanent(fmt.Errorf("batch says %d records, has %d lines", b.Records, n))
	}
	f.mu.Lock()
	f.batches = append(f.batches, bytes.Clone(b.Data))
	f.seqs = append(f.seqs, b.Seq)
	f.mu.Unlock()
	return nil
}

// SetFail sets the function that decides the result of every send (nil: deliver).
func (f *Transport) SetFail(fn func(b *output.Batch) error) {
	if fn == nil {
		f.fail.Store(nil)
		return
	}
	f.fail.Store(&fn)
}

// Close does nothing.
func (f *Transport) Close() error { return nil }

// Name returns TransportName, or "fake".
func (f *Transport) Name() string {
	if f.TransportName != "" {
		return f.TransportName
	}
	return "fake"
}

// MaxInFlight returns the most sends that were in progress at once.
func (f *Transport) MaxInFlight() int64 { return f.maxInFlight.Load() }

// Batches returns the data of the delivered batches, in order.
func (f *Transport) Batches() [][]byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([][]byte(nil), f.batches...)
}

// Seqs returns the Seq of the delivered batches, in order.
func (f *Transport) Seqs() []uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]uint64(nil), f.seqs...)
}

// Lines returns the delivered records, each with its newline.
func (f *Transport) Lines() []string {
	var res []string
	for _, b := range f.Batches() {
		for _, l := range strings.SplitAfter(string(b), "\n") {
			if l != "" {
				res = append(res, l)
			}
		}
	}
	return res
}

// Pipelined is a Transport that takes N sends at once (an output.Pipelined).
type Pipelined struct {
	*Transport
	N int
}

var _ output.Pipelined = Pipelined{}

// MaxInFlight returns N.
func (p Pipelined) MaxInFlight() int { return p.N }

// BatchOf returns a batch (Seq 1) of the given records, each ending in '\n'.
func BatchOf(recs ...[]byte) *output.Batch {
	b := &output.Batch{Seq: 1}
	for _, r := range recs {
		b.Data = append(b.Data, r...)
		b.Records++
	}
	return b
}
