package output_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"go.vlog.dev/handlers"
	"go.vlog.dev/handlers/output"
	"go.vlog.dev/handlers/output/outputtest"
	"go.vlog.dev/internal/vtest"
)

func rec(i int) []byte { return []byte(`{"seq":` + strconv.Itoa(i) + "}\n") }

func TestBufferDeliversInOrder(t *testing.T) {
	vtest.CheckNoLeak(t)
	ft := &outputtest.Transport{}
	o := output.NewBuffered(ft, &output.BufferOptions{BatchSize: 100, BatchAge: 20 * time.Millisecond}, output.Hooks{})
	for i := 0; i < 1000; i++ {
		_, err := o.Write(rec(i))
		require.NoError(t, err)
	}
	require.NoError(t, o.Close(context.Background()))
	lines := ft.Lines()
	require.Len(t, lines, 1000)
	for i, l := range lines {
		require.Equal(t, string(rec(i)), l)
	}
	for i, s := range ft.Seqs() {
		require.Equal(t, uint64(i+1), s)
	}
	s := o.Stats()
	require.Equal(t, uint64(1000), s.Delivered)
	require.Equal(t, "closed", s.State)
	require.Zero(t, s.BufferedBytes)
	vtest.CheckInvariant(t, s)
}

// TestBufferFlushesByAge: a batch that does not fill up goes out when its first record is
// BatchAge old, not before (on an injected clock: no sleeps, no timing windows).
func TestBufferFlushesByAge(t *testing.T) {
	vtest.CheckNoLeak(t)
	const age = 30 * time.Millisecond // below IdleCheckMin: the first record wakes the sender
	clock := outputtest.NewClock(time.Date(2026, 11, 22, 3, 0, 0, 0, time.UTC))
	ft := &outputtest.Transport{}
	o := output.NewBuffered(ft, &output.BufferOptions{BatchAge: age}, output.Hooks{Clock: clock})
	defer o.Close(context.Background())
	for i := 1; i <= 2; i++ {
		_, _ = o.Write(rec(i))
		waitTimer(t, clock)
		clock.Add(age - time.Nanosecond)
		waitTimer(t, clock)
		require.Len(t, ft.Lines(), i-1, "batch %d sent before its age", i)
		clock.Add(time.Nanosecond)
		require.Eventually(t, func() bool { return len(ft.Lines()) == i }, 2*time.Second, time.Millisecond)
	}
	require.Equal(t, int64(2), ft.Sends.Load())
}

// waitTimer waits until a background goroutine waits on the clock (the sender between two
// batches): then moving the clock is what wakes it.
func waitTimer(t *testing.T, clock *outputtest.Clock) {
	t.Helper()
	require.Eventually(t, func() bool { return clock.Waiting() > 0 }, 2*time.Second, 100*time.Microsecond)
}

func TestBufferFullDropsNewest(t *testing.T) {
	vtest.CheckNoLeak(t)
	ft := &outputtest.Transport{}
	ft.SetFail(func(*output.Batch) error { return errors.New("connection refused") })
	o := output.NewBuffered(ft, &output.BufferOptions{Size: 1000, BatchSize: 100, RetryMin: time.Millisecond, RetryMax: 5 * time.Millisecond}, output.Hooks{})
	n := 0
	for i := 0; i < 500; i++ {
		if _, err := o.Write(rec(i)); err == nil {
			n++
		}
	}
	s := o.Stats()
	require.LessOrEqual(t, s.BufferedBytes, int64(1000))
	require.Equal(t, uint64(500-n), s.Dropped.BufferFull)
	require.Eventually(t, func() bool { return o.Stats().State == "failing" }, 2*time.Second, time.Millisecond)
	require.Equal(t, "connection refused", o.Stats().LastError)

	// The destination comes back: the records that were kept arrive, the oldest first.
	ft.SetFail(func(*output.Batch) error { return nil })
	require.Eventually(t, func() bool { return o.Stats().Delivered == uint64(n) }, 2*time.Second, time.Millisecond)
	lines := ft.Lines()
	require.Equal(t, string(rec(0)), lines[0])
	require.NoError(t, o.Close(context.Background()))
	s = o.Stats()
	require.Greater(t, s.Retried, uint64(0))
	vtest.CheckInvariant(t, s)
}

func TestBufferFullDropsOldest(t *testing.T) {
	vtest.CheckNoLeak(t)
	ft := &outputtest.Transport{}
	ft.SetFail(func(*output.Batch) error { return errors.New("down") })
	o := output.NewBuffered(ft, &output.BufferOptions{Size: 1000, BatchSize: 100, DropPolicy: output.DropOldest,
		RetryMin: time.Millisecond, RetryMax: 2 * time.Millisecond}, output.Hooks{})
	for i := 0; i < 500; i++ {
		_, err := o.Write(rec(i))
		require.NoError(t, err)
	}
	ft.SetFail(func(*output.Batch) error { return nil })
	require.NoError(t, o.Close(context.Background()))
	s := o.Stats()
	vtest.CheckInvariant(t, s)
	require.Greater(t, s.Dropped.BufferFull, uint64(0))
	lines := ft.Lines()
	// The newest records survived.
	require.Equal(t, string(rec(499)), lines[len(lines)-1])
}

func TestBufferOversize(t *testing.T) {
	ft := &outputtest.Transport{}
	o := output.NewBuffered(ft, &output.BufferOptions{MaxRecordSize: 10}, output.Hooks{})
	_, err := o.Write([]byte(strings.Repeat("x", 11) + "\n"))
	require.Error(t, err)
	require.NoError(t, o.Close(context.Background()))
	s := o.Stats()
	require.Equal(t, uint64(1), s.Dropped.Oversize)
	vtest.CheckInvariant(t, s)
}

// TestBufferBatchesGrowWhileSending: while a batch is in flight the open batch fills past
// BatchSize up to MaxBatchSize and goes out as soon as the send ends; without a send in
// flight, batches close at BatchSize.
func TestBufferBatchesGrowWhileSending(t *testing.T) {
	vtest.CheckNoLeak(t)
	ft := &outputtest.Transport{Gate: make(chan struct{})}
	o := output.NewBuffered(ft, &output.BufferOptions{BatchSize: 100, MaxBatchSize: 1000, Size: 1 << 20, BatchAge: time.Hour}, output.Hooks{})
	n := 0
	write := func(bytes int) {
		for end := n + bytes/len(rec(n)); n < end; n++ {
			_, err := o.Write(rec(n))
			require.NoError(t, err)
		}
	}
	write(110) // one batch of >= 100 bytes: sealed and sent, held at the gate
	require.Eventually(t, func() bool { return ft.Sends.Load() == 1 }, 2*time.Second, time.Millisecond)
	write(2500) // grows to 1000 bytes twice, then a third batch stays open
	ft.Gate <- struct{}{}
	require.Eventually(t, func() bool { return ft.Sends.Load() == 2 }, 2*time.Second, time.Millisecond)
	close(ft.Gate) // the rest goes through at once
	require.NoError(t, o.Close(context.Background()))

	lines := ft.Lines()
	require.Len(t, lines, n)
	for i, l := range lines {
		require.Equal(t, string(rec(i)), l)
	}
	var sizes []int
	for _, b := range ft.Batches() {
		sizes = append(sizes, len(b))
	}
	require.GreaterOrEqual(t, len(sizes), 4, "sizes %v", sizes)
	require.Less(t, sizes[0], 100+len(rec(n)), "sizes %v", sizes)
	for _, s := range sizes[1:3] {
		require.GreaterOrEqual(t, s, 1000, "sizes %v", sizes)
		require.Less(t, s, 1000+len(rec(n)), "sizes %v", sizes)
	}
	vtest.CheckInvariant(t, o.Stats())
}

// TestBufferBatchesDoNotGrowWhileFailing: during an outage batches keep BatchSize, so a full
// buffer under output.DropOldest gives up small batches, not MaxBatchSize ones.
func TestBufferBatchesDoNotGrowWhileFailing(t *testing.T) {
	vtest.CheckNoLeak(t)
	ft := &outputtest.Transport{}
	var fail atomic.Bool
	fail.Store(true)
	ft.SetFail(func(*output.Batch) error {
		if fail.Load() {
			return errors.New("refused")
		}
		return nil
	})
	o := output.NewBuffered(ft, &output.BufferOptions{BatchSize: 100, MaxBatchSize: 1000, Size: 1 << 20, BatchAge: time.Hour, RetryMin: time.Millisecond, RetryMax: 5 * time.Millisecond}, output.Hooks{})
	_, _ = o.Write(rec(0))
	_, _ = o.Write([]byte(strings.Repeat(" ", 100) + "\n"))
	require.Eventually(t, func() bool { return o.Stats().State == "failing" }, 2*time.Second, time.Millisecond)
	for i := 1; i < 300; i++ {
		_, _ = o.Write(rec(i))
	}
	fail.Store(false)
	require.NoError(t, o.Close(context.Background()))
	for _, b := range ft.Batches() {
		require.Less(t, len(b), 100+len(rec(300)), "batch of %d bytes while failing", len(b))
	}
	vtest.CheckInvariant(t, o.Stats())
}

func TestBufferRetriesUntilDelivered(t *testing.T) {
	vtest.CheckNoLeak(t)
	ft := &outputtest.Transport{}
	var calls atomic.Int64
	ft.SetFail(func(*output.Batch) error {
		if calls.Add(1) <= 3 {
			return errors.New("503")
		}
		return nil
	})
	var errs atomic.Int64
	o := output.NewBuffered(ft, &output.BufferOptions{RetryMin: time.Millisecond}, output.Hooks{OnError: func(error) { errs.Add(1) }})
	for i := 0; i < 10; i++ {
		_, _ = o.Write(rec(i))
	}
	require.NoError(t, o.Close(context.Background()))
	s := o.Stats()
	require.Equal(t, uint64(10), s.Delivered)
	require.Equal(t, uint64(3), s.Retried)
	require.Equal(t, int64(3), errs.Load())
	require.Len(t, ft.Lines(), 10)
	vtest.CheckInvariant(t, s)
}

func TestBufferPermanentErrorDrops(t *testing.T) {
	ft := &outputtest.Transport{}
	ft.SetFail(func(*output.Batch) error { return output.Permanent(errors.New("400 bad request")) })
	o := output.NewBuffered(ft, nil, output.Hooks{})
	_, _ = o.Write(rec(1))
	require.NoError(t, o.Close(context.Background()))
	s := o.Stats()
	require.Equal(t, uint64(1), s.Dropped.WriteError)
	require.Zero(t, s.Retried)
	require.Equal(t, "400 bad request", s.LastError)
	vtest.CheckInvariant(t, s)
}

func TestBufferCloseDeadlineWithDeadDestination(t *testing.T) {
	vtest.CheckNoLeak(t)
	ft := &outputtest.Transport{}
	ft.SetFail(func(*output.Batch) error { return errors.New("refused") })
	o := output.NewBuffered(ft, &output.BufferOptions{RetryMin: time.Millisecond}, output.Hooks{})
	for i := 0; i < 100; i++ {
		_, _ = o.Write(rec(i))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := o.Close(ctx)
	require.Less(t, time.Since(start), 2*time.Second)
	require.ErrorContains(t, err, "100 records not delivered")
	require.ErrorContains(t, err, "refused")
	s := o.Stats()
	require.Equal(t, uint64(100), s.Dropped.Closed)
	vtest.CheckInvariant(t, s)

	// Records after Close are dropped and counted.
	_, err = o.Write(rec(1))
	require.Error(t, err)
	s = o.Stats()
	require.Equal(t, uint64(101), s.Dropped.Closed)
	vtest.CheckInvariant(t, s)
	require.NoError(t, o.Close(context.Background()), "a second Close is a no-op")
}

func TestBufferCloseDeadlineWithStalledDestination(t *testing.T) {
	vtest.CheckNoLeak(t)
	ft := &outputtest.Transport{}
	ft.Block.Store(true)
	o := output.NewBuffered(ft, &output.BufferOptions{BatchAge: time.Millisecond}, output.Hooks{})
	for i := 0; i < 10; i++ {
		_, _ = o.Write(rec(i))
	}
	require.Eventually(t, func() bool { return ft.Sends.Load() > 0 }, time.Second, time.Millisecond)
	// The caller is never blocked by the stalled send.
	for i := 0; i < 1000; i++ {
		_, _ = o.Write(rec(i))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	require.Error(t, o.Close(ctx))
	s := o.Stats()
	require.Equal(t, uint64(1010), s.Dropped.Closed)
	vtest.CheckInvariant(t, s)
}

func TestBufferDropNotice(t *testing.T) {
	vtest.CheckNoLeak(t)
	ft := &outputtest.Transport{}
	ft.SetFail(func(*output.Batch) error { return errors.New("down") })
	h := handlers.NewJSONHandler(nil, &handlers.Options{Service: "svc", Env: "e", Version: "v"})
	o := output.NewBuffered(ft, &output.BufferOptions{Size: 2000, BatchSize: 100, RetryMin: time.Millisecond, RetryMax: time.Millisecond}, output.Hooks{Notice: h.EncodeNotice})
	for i := 0; i < 400; i++ {
		_, _ = o.Write(rec(i))
	}
	dropped := o.Stats().Dropped.BufferFull
	require.Greater(t, dropped, uint64(0))
	ft.SetFail(func(*output.Batch) error { return nil })
	var notice map[string]any
	require.Eventually(t, func() bool {
		for _, l := range ft.Lines() {
			if strings.Contains(l, "vlog: dropped") {
				notice = vtest.Decode(t, []byte(l))
				return true
			}
		}
		return false
	}, 2*time.Second, time.Millisecond)
	require.True(t, strings.HasPrefix(notice["msg"].(string), fmt.Sprintf("vlog: dropped %d records since ", dropped)), notice["msg"])
	require.Contains(t, notice["msg"], fmt.Sprintf("buffer full %d", dropped))
	require.Equal(t, "warn", notice["level"])
	require.Equal(t, "svc", notice["service"])
	require.Equal(t, fmt.Sprint(dropped), fmt.Sprint(notice["vlog_dropped_buffer_full_total"]))
	require.Equal(t, "fake", notice["vlog_output"], "the notice names its output")
	require.Contains(t, notice, "vlog_dropped_since")
	require.NoError(t, o.Close(context.Background()))
	vtest.CheckInvariant(t, o.Stats())
}

func TestBufferConcurrentWriters(t *testing.T) {
	vtest.CheckNoLeak(t)
	ft := &outputtest.Transport{}
	o := output.NewBuffered(ft, &output.BufferOptions{Size: 64 << 10, BatchSize: 4 << 10}, output.Hooks{})
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 2000; i++ {
				_, _ = o.Write(rec(g*100000 + i))
			}
		}()
	}
	wg.Wait()
	require.NoError(t, o.Close(context.Background()))
	s := o.Stats()
	vtest.CheckInvariant(t, s)
	require.Equal(t, uint64(16000), s.Enqueued)
	require.Equal(t, int(s.Delivered), len(ft.Lines()))
	// Per writer, the delivered records keep their order and have no duplicates.
	last := map[int]int{}
	for _, l := range ft.Lines() {
		n, err := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(l, `{"seq":`), "}\n"))
		require.NoError(t, err)
		g, i := n/100000, n%100000
		if prev, ok := last[g]; ok {
			require.Greater(t, i, prev)
		}
		last[g] = i
	}
}

func TestBufferThroughHandler(t *testing.T) {
	var out bytes.Buffer
	o := output.NewBuffered(output.NewWriterTransport("stdout", &out), nil, output.Hooks{})
	l := slog.New(handlers.NewJSONHandler(o, &handlers.Options{Service: "s"}))
	for i := 0; i < 100; i++ {
		l.Info("m", "i", i)
	}
	require.NoError(t, o.Close(context.Background()))
	require.Equal(t, 100, strings.Count(out.String(), "\n"))
	require.Equal(t, "stdout", o.Stats().Output)
}

// TestBufferPipelined: with a Pipelined, up to MaxInFlight batches are in flight at
// once; output.DropOldest never drops one of them; every record is delivered or counted once.
func TestBufferPipelined(t *testing.T) {
	vtest.CheckNoLeak(t)
	ft := &outputtest.Transport{Gate: make(chan struct{})}
	o := output.NewBuffered(outputtest.Pipelined{Transport: ft, N: 3}, &output.BufferOptions{BatchSize: 100, MaxBatchSize: 100, Size: 1000,
		BatchAge: time.Hour, DropPolicy: output.DropOldest}, output.Hooks{})
	const inFlight = 30 // 3 batches of 10 records: rec(0)-rec(9) are 10 bytes, then 11
	n := 0
	for ; n < inFlight+1; n++ { // 3 batches sealed, and a record in the next
		_, err := o.Write(rec(n))
		require.NoError(t, err)
	}
	require.Eventually(t, func() bool { return ft.Sends.Load() == 3 }, 2*time.Second, time.Millisecond)
	require.GreaterOrEqual(t, int(o.Stats().BufferedRecords), inFlight)
	// Overflow the buffer: the oldest batches not in flight go, the three in flight stay.
	for end := n + 500; n < end; n++ {
		_, _ = o.Write(rec(n))
	}
	require.Positive(t, o.Stats().Dropped.BufferFull)
	close(ft.Gate)
	require.NoError(t, o.Close(context.Background()))
	s := o.Stats()
	vtest.CheckInvariant(t, s)
	got := map[string]int{}
	for _, l := range ft.Lines() {
		got[l]++
	}
	for i := range inFlight {
		require.Equal(t, 1, got[string(rec(i))], "record %d was in flight", i)
	}
	for l, c := range got {
		require.Equal(t, 1, c, "%q delivered %d times", l, c)
	}
	require.Equal(t, s.Delivered, uint64(len(got)))
	require.Equal(t, int64(3), ft.MaxInFlight(), "three batches in flight at most")
}

// TestBufferPipelinedCloseDeadline: Close returns by its deadline with every sender stuck, and
// leaves no goroutine behind.
func TestBufferPipelinedCloseDeadline(t *testing.T) {
	vtest.CheckNoLeak(t)
	ft := &outputtest.Transport{}
	ft.Block.Store(true)
	o := output.NewBuffered(outputtest.Pipelined{Transport: ft, N: 4}, &output.BufferOptions{BatchSize: 100, MaxBatchSize: 100}, output.Hooks{})
	for i := range 1000 {
		_, _ = o.Write(rec(i))
	}
	require.Eventually(t, func() bool { return ft.Sends.Load() == 4 }, 2*time.Second, time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := o.Close(ctx)
	require.Less(t, time.Since(start), time.Second)
	require.ErrorContains(t, err, "1000 records not delivered")
	vtest.CheckInvariant(t, o.Stats())
}

// TestBufferSpareBatchWhileFailing: while the destination is down (no batch comes back to be
// reused), the background goroutine keeps a spare batch ready, and a caller starting a batch
// takes it instead of allocating one.
func TestBufferSpareBatchWhileFailing(t *testing.T) {
	vtest.CheckNoLeak(t)
	ft := &outputtest.Transport{}
	ft.SetFail(func(*output.Batch) error { return errors.New("refused") })
	o := output.NewBuffered(ft, &output.BufferOptions{BatchSize: 4096, Size: 1 << 20, BatchAge: time.Hour, RetryMin: time.Hour}, output.Hooks{})
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		_ = o.Close(ctx)
	}()
	line := append(bytes.Repeat([]byte("x"), 99), '\n')
	fill := func() { // 41 records of 100 bytes seal a batch of 4096
		for range 41 {
			_, err := o.Write(line)
			require.NoError(t, err)
		}
	}
	fill()
	require.Eventually(t, func() bool { return ft.Sends.Load() == 1 }, 2*time.Second, time.Millisecond)
	spare := func() *output.Batch { return output.SpareBatch(o) }
	for i := range 5 {
		require.Eventually(t, func() bool { return spare() != nil }, 2*time.Second, time.Millisecond, "batch %d", i)
		want := spare()
		fill()
		got := output.LastQueued(o)
		require.Same(t, want, got, "batch %d", i)
	}
	require.Equal(t, int64(1), ft.Sends.Load(), "still backing off")
}

// TestBufferFirstRecordDoesNotWake: with BatchAge >= IdleCheckMin, a caller starting a batch
// does not wake the sender (which checks on a timer), yet every record still leaves exactly
// BatchAge after its batch's first record, wherever in the sender's period it came; sealing a
// batch still wakes it. With a shorter BatchAge the first record wakes it, as before.
func TestBufferFirstRecordDoesNotWake(t *testing.T) {
	vtest.CheckNoLeak(t)
	const age = 100 * time.Millisecond
	clock := outputtest.NewClock(time.Date(2026, 11, 22, 3, 0, 0, 0, time.UTC))
	ft := &outputtest.Transport{}
	o := output.NewBuffered(ft, &output.BufferOptions{BatchSize: 1000, BatchAge: age}, output.Hooks{Clock: clock})
	defer o.Close(context.Background())
	_, _ = o.Write(rec(0)) // starts the sender
	waitTimer(t, clock)
	clock.Add(age)
	require.Eventually(t, func() bool { return len(ft.Lines()) == 1 }, 2*time.Second, time.Millisecond)
	for i := 1; i < 5; i++ {
		waitTimer(t, clock) // idle: the sender checks every BatchAge
		into := time.Duration(i) * age / 5
		clock.Add(into) // land anywhere in the idle sender's period
		_, err := o.Write(rec(i))
		require.NoError(t, err)
		clock.Add(age - into) // the idle check finds the batch, and waits for the rest of its age
		waitTimer(t, clock)
		clock.Add(into - time.Nanosecond)
		waitTimer(t, clock)
		require.Len(t, ft.Lines(), i, "record %d sent before BatchAge", i)
		clock.Add(time.Nanosecond)
		require.Eventually(t, func() bool { return len(ft.Lines()) == i+1 }, 2*time.Second, time.Millisecond, "record %d", i)
	}
	require.Zero(t, output.Signals(o), "the first record of a batch woke the sender")

	for i := 0; output.Signals(o) == 0; i++ { // fill a batch: sealing it wakes the sender
		_, _ = o.Write(rec(100 + i))
		require.Less(t, i, 200)
	}
	require.Equal(t, uint64(1), output.Signals(o))

	fast := output.NewBuffered(&outputtest.Transport{}, &output.BufferOptions{BatchSize: 1000, BatchAge: output.IdleCheckMin / 2}, output.Hooks{})
	defer fast.Close(context.Background())
	_, _ = fast.Write(rec(1))
	require.Equal(t, uint64(1), output.Signals(fast), "a short BatchAge: the first record wakes the sender")
}
