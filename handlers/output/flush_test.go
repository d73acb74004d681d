package output_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"go.vlog.dev/handlers/output"
	"go.vlog.dev/handlers/output/outputtest"
	"go.vlog.dev/internal/vtest"
)

// TestBufferFlush: Flush delivers what was written before it without waiting for the batch
// age, and the output stays open.
func TestBufferFlush(t *testing.T) {
	vtest.CheckNoLeak(t)
	ft := &outputtest.Transport{}
	o := output.NewBuffered(ft, &output.BufferOptions{BatchAge: time.Hour}, output.Hooks{})
	for i := range 10 {
		_, _ = o.Write(rec(i))
	}
	require.NoError(t, o.Flush(context.Background()))
	require.Len(t, ft.Lines(), 10)
	_, _ = o.Write(rec(10))
	require.NoError(t, o.Flush(context.Background()))
	require.Len(t, ft.Lines(), 11, "still open after a Flush")
	require.NoError(t, o.Flush(context.Background()), "nothing to flush")
	require.NoError(t, o.Close(context.Background()))
	vtest.CheckInvariant(t, o.Stats())
}

// TestBufferFlushDeadline: with the destination down, Flush returns at its deadline, says how
// many records are still buffered, and keeps them.
func TestBufferFlushDeadline(t *testing.T) {
	vtest.CheckNoLeak(t)
	ft := &outputtest.Transport{}
	ft.SetFail(func(*output.Batch) error { return errors.New("connection refused") })
	o := output.NewBuffered(ft, &output.BufferOptions{BatchAge: time.Hour, RetryMin: time.Millisecond, RetryMax: 5 * time.Millisecond}, output.Hooks{})
	for i := range 5 {
		_, _ = o.Write(rec(i))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	err := o.Flush(ctx)
	require.ErrorContains(t, err, "5 records not delivered in time")
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.Equal(t, int64(5), o.Stats().BufferedRecords)
	ft.SetFail(nil)
	require.NoError(t, o.Flush(context.Background()), "delivered once the destination is back")
	require.Len(t, ft.Lines(), 5)
	require.NoError(t, o.Close(context.Background()))
	vtest.CheckInvariant(t, o.Stats())
}

// TestBufferSendNow: SendNow sends the open batch at once, not at its age.
func TestBufferSendNow(t *testing.T) {
	vtest.CheckNoLeak(t)
	clock := outputtest.NewClock(time.Date(2026, 11, 22, 3, 0, 0, 0, time.UTC))
	ft := &outputtest.Transport{}
	o := output.NewBuffered(ft, &output.BufferOptions{BatchAge: time.Hour}, output.Hooks{Clock: clock})
	defer o.Close(context.Background())
	_, _ = o.Write(rec(1))
	_, _ = o.Write(rec(2))
	o.SendNow()
	require.Eventually(t, func() bool { return len(ft.Lines()) == 2 }, 2*time.Second, time.Millisecond, "sent without the clock moving")
	o.SendNow() // nothing open: nothing happens
	require.Equal(t, int64(1), ft.Sends.Load())
}

// TestMultiStalledOutputDoesNotHoldBackTheOther: one output stalled, the other delivers every
// record; the stalled one drops what does not fit and counts it; every output keeps its own
// accounting; Close drains both within the one deadline.
func TestMultiStalledOutputDoesNotHoldBackTheOther(t *testing.T) {
	vtest.CheckNoLeak(t)
	stalled := &outputtest.Transport{TransportName: "stalled"}
	stalled.Block.Store(true)
	healthy := &outputtest.Transport{TransportName: "healthy"}
	opts := &output.BufferOptions{Size: 64 << 10, BatchSize: 4 << 10, BatchAge: time.Millisecond}
	m := output.NewMulti(output.NewBuffered(stalled, opts, output.Hooks{}), output.NewBuffered(healthy, opts, output.Hooks{}))
	const n = 100_000
	for i := range n {
		_, _ = m.Write(rec(i))
		if i%1000 == 999 {
			// The healthy output keeps up: nothing of it is ever dropped.
			require.NoError(t, m.Outputs()[1].Flush(context.Background()))
		}
	}
	require.NoError(t, m.Outputs()[1].Flush(context.Background()))
	require.Len(t, healthy.Lines(), n, "the healthy output delivered every record")
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	err := m.Close(ctx)
	require.ErrorContains(t, err, "stalled", "the stalled output's records are reported")
	s := m.Stats()
	require.Equal(t, "stalled,healthy", s.Output)
	require.Len(t, s.Outputs, 2)
	for _, os := range s.Outputs {
		vtest.CheckInvariant(t, os)
		require.Equal(t, uint64(n), os.Enqueued)
	}
	require.Equal(t, uint64(n), s.Outputs[1].Delivered)
	require.Zero(t, s.Outputs[1].Dropped.Total())
	require.Zero(t, s.Outputs[0].Delivered)
	require.Positive(t, s.Outputs[0].Dropped.BufferFull, "the stalled output's buffer filled up")
	vtest.CheckInvariant(t, s)
	require.Equal(t, uint64(2*n), s.Enqueued)
}

// TestMultiStats: totals, the most recent error, the state.
func TestMultiStats(t *testing.T) {
	a, b := &outputtest.Transport{TransportName: "a"}, &outputtest.Transport{TransportName: "b"}
	b.SetFail(func(*output.Batch) error { return errors.New("b is down") })
	m := output.NewMulti(output.NewDirect(a, output.Hooks{}), output.NewDirect(b, output.Hooks{}))
	_, err := m.Write(rec(1))
	require.NoError(t, err, "a took the record")
	s := m.Stats()
	require.Equal(t, "failing", s.State)
	require.Equal(t, "b is down", s.LastError)
	require.Equal(t, uint64(2), s.Enqueued)
	require.Equal(t, uint64(1), s.Delivered)
	require.Equal(t, uint64(1), s.Dropped.WriteError)
	a.SetFail(func(*output.Batch) error { return errors.New("a is down too") })
	_, err = m.Write(rec(2))
	require.ErrorContains(t, err, "a is down too", "no output took the record")
	require.NoError(t, m.Flush(context.Background()))
	require.NoError(t, m.Close(context.Background()))
}
