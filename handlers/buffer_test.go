package handlers

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// fakeTransport records what it is sent; its behaviour is switched by the test.
type fakeTransport struct {
	mu      sync.Mutex
	batches [][]byte
	seqs    []uint64
	sends   atomic.Int64
	// fail, when set, decides the result of a send.
	fail  atomic.Pointer[func(b *Batch) error]
	block atomic.Bool // block until ctx is done
	// gate, when set, makes every send wait for a value from it.
	gate chan struct{}
}

func (f *fakeTransport) Send(ctx context.Context, b *Batch) error {
	f.sends.Add(1)
	if f.block.Load() {
		<-ctx.Done()
		return ctx.Err()
	}
	if f.gate != nil {
		select {
		case <-f.gate:
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
		return Permanent(fmt.Errorf("batch says %d records, has %d lines", b.Records, n))
	}
	f.mu.Lock()
	f.batches = append(f.batches, bytes.Clone(b.Data))
	f.seqs = append(f.seqs, b.Seq)
	f.mu.Unlock()
	return nil
}

func (f *fakeTransport) setFail(fn func(b *Batch) error) { f.fail.Store(&fn) }
func (f *fakeTransport) Close() error                    { return nil }
func (f *fakeTransport) Name() string                    { return "fake" }

// lines returns the delivered records.
func (f *fakeTransport) lines() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, b := range f.batches {
		out = append(out, strings.SplitAfter(string(b), "\n")...)
	}
	var res []string
	for _, l := range out {
		if l != "" {
			res = append(res, l)
		}
	}
	return res
}

func rec(i int) []byte { return []byte(`{"seq":` + strconv.Itoa(i) + "}\n") }

// checkNoLeak fails when goroutines started during the test are still running.
func checkNoLeak(t *testing.T) {
	before := runtime.NumGoroutine()
	t.Cleanup(func() {
		deadline := time.Now().Add(2 * time.Second)
		for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		if n := runtime.NumGoroutine(); n > before {
			buf := make([]byte, 1<<16)
			t.Errorf("%d goroutines left behind:\n%s", n-before, buf[:runtime.Stack(buf, true)])
		}
	})
}

func checkInvariant(t *testing.T, s Stats) {
	t.Helper()
	require.Equal(t, s.Enqueued, s.Delivered+s.Dropped.Total(), "%+v", s)
}

func TestBufferDeliversInOrder(t *testing.T) {
	checkNoLeak(t)
	ft := &fakeTransport{}
	o := NewBufferedOutput(ft, &BufferOptions{BatchSize: 100, BatchAge: 20 * time.Millisecond})
	for i := 0; i < 1000; i++ {
		_, err := o.Write(rec(i))
		require.NoError(t, err)
	}
	require.NoError(t, o.Close(context.Background()))
	lines := ft.lines()
	require.Len(t, lines, 1000)
	for i, l := range lines {
		require.Equal(t, string(rec(i)), l)
	}
	for i, s := range ft.seqs {
		require.Equal(t, uint64(i+1), s)
	}
	s := o.Stats()
	require.Equal(t, uint64(1000), s.Delivered)
	require.Equal(t, "closed", s.State)
	require.Zero(t, s.BufferedBytes)
	checkInvariant(t, s)
}

func TestBufferFlushesByAge(t *testing.T) {
	checkNoLeak(t)
	ft := &fakeTransport{}
	o := NewBufferedOutput(ft, &BufferOptions{BatchAge: 30 * time.Millisecond})
	defer o.Close(context.Background())
	_, _ = o.Write(rec(1))
	require.Eventually(t, func() bool { return len(ft.lines()) == 1 }, 2*time.Second, 5*time.Millisecond)
	_, _ = o.Write(rec(2))
	require.Eventually(t, func() bool { return len(ft.lines()) == 2 }, 2*time.Second, 5*time.Millisecond)
	require.Equal(t, int64(2), ft.sends.Load())
}

func TestBufferFullDropsNewest(t *testing.T) {
	checkNoLeak(t)
	ft := &fakeTransport{}
	ft.setFail(func(*Batch) error { return errors.New("connection refused") })
	o := NewBufferedOutput(ft, &BufferOptions{Size: 1000, BatchSize: 100, RetryMin: time.Millisecond, RetryMax: 5 * time.Millisecond})
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
	ft.setFail(func(*Batch) error { return nil })
	require.Eventually(t, func() bool { return o.Stats().Delivered == uint64(n) }, 2*time.Second, time.Millisecond)
	lines := ft.lines()
	require.Equal(t, string(rec(0)), lines[0])
	require.NoError(t, o.Close(context.Background()))
	s = o.Stats()
	require.Greater(t, s.Retried, uint64(0))
	checkInvariant(t, s)
}

func TestBufferFullDropsOldest(t *testing.T) {
	checkNoLeak(t)
	ft := &fakeTransport{}
	ft.setFail(func(*Batch) error { return errors.New("down") })
	o := NewBufferedOutput(ft, &BufferOptions{Size: 1000, BatchSize: 100, DropPolicy: DropOldest,
		RetryMin: time.Millisecond, RetryMax: 2 * time.Millisecond})
	for i := 0; i < 500; i++ {
		_, err := o.Write(rec(i))
		require.NoError(t, err)
	}
	ft.setFail(func(*Batch) error { return nil })
	require.NoError(t, o.Close(context.Background()))
	s := o.Stats()
	checkInvariant(t, s)
	require.Greater(t, s.Dropped.BufferFull, uint64(0))
	lines := ft.lines()
	// The newest records survived.
	require.Equal(t, string(rec(499)), lines[len(lines)-1])
}

func TestBufferOversize(t *testing.T) {
	ft := &fakeTransport{}
	o := NewBufferedOutput(ft, &BufferOptions{MaxRecordSize: 10})
	_, err := o.Write([]byte(strings.Repeat("x", 11) + "\n"))
	require.Error(t, err)
	require.NoError(t, o.Close(context.Background()))
	s := o.Stats()
	require.Equal(t, uint64(1), s.Dropped.Oversize)
	checkInvariant(t, s)
}

// TestBufferBatchesGrowWhileSending: while a batch is in flight the open batch fills past
// BatchSize up to MaxBatchSize and goes out as soon as the send ends; without a send in
// flight, batches close at BatchSize.
func TestBufferBatchesGrowWhileSending(t *testing.T) {
	checkNoLeak(t)
	ft := &fakeTransport{gate: make(chan struct{})}
	o := NewBufferedOutput(ft, &BufferOptions{BatchSize: 100, MaxBatchSize: 1000, Size: 1 << 20, BatchAge: time.Hour})
	n := 0
	write := func(bytes int) {
		for end := n + bytes/len(rec(n)); n < end; n++ {
			_, err := o.Write(rec(n))
			require.NoError(t, err)
		}
	}
	write(110) // one batch of >= 100 bytes: sealed and sent, held at the gate
	require.Eventually(t, func() bool { return ft.sends.Load() == 1 }, 2*time.Second, time.Millisecond)
	write(2500) // grows to 1000 bytes twice, then a third batch stays open
	ft.gate <- struct{}{}
	require.Eventually(t, func() bool { return ft.sends.Load() == 2 }, 2*time.Second, time.Millisecond)
	close(ft.gate) // the rest goes through at once
	require.NoError(t, o.Close(context.Background()))

	lines := ft.lines()
	require.Len(t, lines, n)
	for i, l := range lines {
		require.Equal(t, string(rec(i)), l)
	}
	var sizes []int
	for _, b := range ft.batches {
		sizes = append(sizes, len(b))
	}
	require.GreaterOrEqual(t, len(sizes), 4, "sizes %v", sizes)
	require.Less(t, sizes[0], 100+len(rec(n)), "sizes %v", sizes)
	for _, s := range sizes[1:3] {
		require.GreaterOrEqual(t, s, 1000, "sizes %v", sizes)
		require.Less(t, s, 1000+len(rec(n)), "sizes %v", sizes)
	}
	checkInvariant(t, o.Stats())
}

// TestBufferBatchesDoNotGrowWhileFailing: during an outage batches keep BatchSize, so a full
// buffer under DropOldest gives up small batches, not MaxBatchSize ones.
func TestBufferBatchesDoNotGrowWhileFailing(t *testing.T) {
	checkNoLeak(t)
	ft := &fakeTransport{}
	var fail atomic.Bool
	fail.Store(true)
	ft.setFail(func(*Batch) error {
		if fail.Load() {
			return errors.New("refused")
		}
		return nil
	})
	o := NewBufferedOutput(ft, &BufferOptions{BatchSize: 100, MaxBatchSize: 1000, Size: 1 << 20, BatchAge: time.Hour, RetryMin: time.Millisecond, RetryMax: 5 * time.Millisecond})
	_, _ = o.Write(rec(0))
	_, _ = o.Write([]byte(strings.Repeat(" ", 100) + "\n"))
	require.Eventually(t, func() bool { return o.Stats().State == "failing" }, 2*time.Second, time.Millisecond)
	for i := 1; i < 300; i++ {
		_, _ = o.Write(rec(i))
	}
	fail.Store(false)
	require.NoError(t, o.Close(context.Background()))
	for _, b := range ft.batches {
		require.Less(t, len(b), 100+len(rec(300)), "batch of %d bytes while failing", len(b))
	}
	checkInvariant(t, o.Stats())
}

func TestBufferRetriesUntilDelivered(t *testing.T) {
	checkNoLeak(t)
	ft := &fakeTransport{}
	var calls atomic.Int64
	ft.setFail(func(*Batch) error {
		if calls.Add(1) <= 3 {
			return errors.New("503")
		}
		return nil
	})
	var errs atomic.Int64
	o := NewBufferedOutput(ft, &BufferOptions{RetryMin: time.Millisecond, OnError: func(error) { errs.Add(1) }})
	for i := 0; i < 10; i++ {
		_, _ = o.Write(rec(i))
	}
	require.NoError(t, o.Close(context.Background()))
	s := o.Stats()
	require.Equal(t, uint64(10), s.Delivered)
	require.Equal(t, uint64(3), s.Retried)
	require.Equal(t, int64(3), errs.Load())
	require.Len(t, ft.lines(), 10)
	checkInvariant(t, s)
}

func TestBufferPermanentErrorDrops(t *testing.T) {
	ft := &fakeTransport{}
	ft.setFail(func(*Batch) error { return Permanent(errors.New("400 bad request")) })
	o := NewBufferedOutput(ft, nil)
	_, _ = o.Write(rec(1))
	require.NoError(t, o.Close(context.Background()))
	s := o.Stats()
	require.Equal(t, uint64(1), s.Dropped.WriteError)
	require.Zero(t, s.Retried)
	require.Equal(t, "400 bad request", s.LastError)
	checkInvariant(t, s)
}

func TestBufferCloseDeadlineWithDeadDestination(t *testing.T) {
	checkNoLeak(t)
	ft := &fakeTransport{}
	ft.setFail(func(*Batch) error { return errors.New("refused") })
	o := NewBufferedOutput(ft, &BufferOptions{RetryMin: time.Millisecond})
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
	checkInvariant(t, s)

	// Records after Close are dropped and counted.
	_, err = o.Write(rec(1))
	require.Error(t, err)
	s = o.Stats()
	require.Equal(t, uint64(101), s.Dropped.Closed)
	checkInvariant(t, s)
	require.NoError(t, o.Close(context.Background()), "a second Close is a no-op")
}

func TestBufferCloseDeadlineWithStalledDestination(t *testing.T) {
	checkNoLeak(t)
	ft := &fakeTransport{}
	ft.block.Store(true)
	o := NewBufferedOutput(ft, &BufferOptions{BatchAge: time.Millisecond})
	for i := 0; i < 10; i++ {
		_, _ = o.Write(rec(i))
	}
	require.Eventually(t, func() bool { return ft.sends.Load() > 0 }, time.Second, time.Millisecond)
	// The caller is never blocked by the stalled send.
	for i := 0; i < 1000; i++ {
		_, _ = o.Write(rec(i))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	require.Error(t, o.Close(ctx))
	s := o.Stats()
	require.Equal(t, uint64(1010), s.Dropped.Closed)
	checkInvariant(t, s)
}

func TestBufferDropNotice(t *testing.T) {
	checkNoLeak(t)
	ft := &fakeTransport{}
	ft.setFail(func(*Batch) error { return errors.New("down") })
	h := NewJSONHandler(nil, &Options{Service: "svc", Env: "e", Version: "v"})
	o := NewBufferedOutput(ft, &BufferOptions{Size: 2000, BatchSize: 100, RetryMin: time.Millisecond, RetryMax: time.Millisecond,
		Notice: h.EncodeNotice})
	for i := 0; i < 400; i++ {
		_, _ = o.Write(rec(i))
	}
	dropped := o.Stats().Dropped.BufferFull
	require.Greater(t, dropped, uint64(0))
	ft.setFail(func(*Batch) error { return nil })
	var notice map[string]any
	require.Eventually(t, func() bool {
		for _, l := range ft.lines() {
			if strings.Contains(l, "vlog: dropped") {
				notice = decode(t, []byte(l))
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
	require.Contains(t, notice, "vlog_dropped_since")
	require.NoError(t, o.Close(context.Background()))
	checkInvariant(t, o.Stats())
}

func TestBufferConcurrentWriters(t *testing.T) {
	checkNoLeak(t)
	ft := &fakeTransport{}
	o := NewBufferedOutput(ft, &BufferOptions{Size: 64 << 10, BatchSize: 4 << 10})
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
	checkInvariant(t, s)
	require.Equal(t, uint64(16000), s.Enqueued)
	require.Equal(t, int(s.Delivered), len(ft.lines()))
	// Per writer, the delivered records keep their order and have no duplicates.
	last := map[int]int{}
	for _, l := range ft.lines() {
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
	o := NewBufferedOutput(NewWriterTransport("stdout", &out), nil)
	l := slog.New(NewJSONHandler(o, &Options{Service: "s"}))
	for i := 0; i < 100; i++ {
		l.Info("m", "i", i)
	}
	require.NoError(t, o.Close(context.Background()))
	require.Equal(t, 100, strings.Count(out.String(), "\n"))
	require.Equal(t, "stdout", o.Stats().Output)
}

// pipelinedFake is a fakeTransport that takes several sends at once.
type pipelinedFake struct {
	*fakeTransport
	n int
}

func (p pipelinedFake) MaxInFlight() int { return p.n }

// TestBufferPipelined: with a PipelinedTransport, up to MaxInFlight batches are in flight at
// once; DropOldest never drops one of them; every record is delivered or counted once.
func TestBufferPipelined(t *testing.T) {
	checkNoLeak(t)
	ft := &fakeTransport{gate: make(chan struct{})}
	o := NewBufferedOutput(pipelinedFake{ft, 3}, &BufferOptions{BatchSize: 100, MaxBatchSize: 100, Size: 1000,
		BatchAge: time.Hour, DropPolicy: DropOldest})
	n := 0
	for ; ft.sends.Load() < 3; n++ {
		_, err := o.Write(rec(n))
		require.NoError(t, err)
		time.Sleep(time.Millisecond)
	}
	time.Sleep(20 * time.Millisecond)
	require.Equal(t, int64(3), ft.sends.Load(), "three batches in flight, not more")
	const inFlight = 30 // 3 batches of 10 records: rec(0)-rec(9) are 10 bytes, then 11
	require.GreaterOrEqual(t, int(o.Stats().BufferedRecords), inFlight)
	// Overflow the buffer: the oldest batches not in flight go, the three in flight stay.
	for end := n + 500; n < end; n++ {
		_, _ = o.Write(rec(n))
	}
	require.Positive(t, o.Stats().Dropped.BufferFull)
	close(ft.gate)
	require.NoError(t, o.Close(context.Background()))
	s := o.Stats()
	checkInvariant(t, s)
	got := map[string]int{}
	for _, l := range ft.lines() {
		got[l]++
	}
	for i := range inFlight {
		require.Equal(t, 1, got[string(rec(i))], "record %d was in flight", i)
	}
	for l, c := range got {
		require.Equal(t, 1, c, "%q delivered %d times", l, c)
	}
	require.Equal(t, s.Delivered, uint64(len(got)))
}

// TestBufferPipelinedCloseDeadline: Close returns by its deadline with every sender stuck, and
// leaves no goroutine behind.
func TestBufferPipelinedCloseDeadline(t *testing.T) {
	checkNoLeak(t)
	ft := &fakeTransport{}
	ft.block.Store(true)
	o := NewBufferedOutput(pipelinedFake{ft, 4}, &BufferOptions{BatchSize: 100, MaxBatchSize: 100})
	for i := range 1000 {
		_, _ = o.Write(rec(i))
	}
	require.Eventually(t, func() bool { return ft.sends.Load() == 4 }, 2*time.Second, time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := o.Close(ctx)
	require.Less(t, time.Since(start), time.Second)
	require.ErrorContains(t, err, "1000 records not delivered")
	checkInvariant(t, o.Stats())
}

// TestBufferSpareBatchWhileFailing: while the destination is down (no batch comes back to be
// reused), the background goroutine keeps a spare batch ready, and a caller starting a batch
// takes it instead of allocating one.
func TestBufferSpareBatchWhileFailing(t *testing.T) {
	checkNoLeak(t)
	ft := &fakeTransport{}
	ft.setFail(func(*Batch) error { return errors.New("refused") })
	o := NewBufferedOutput(ft, &BufferOptions{BatchSize: 4096, Size: 1 << 20, BatchAge: time.Hour, RetryMin: time.Hour})
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
	require.Eventually(t, func() bool { return ft.sends.Load() == 1 }, 2*time.Second, time.Millisecond)
	spare := func() *Batch {
		o.mu.Lock()
		defer o.mu.Unlock()
		if len(o.free) == 0 {
			return nil
		}
		return o.free[len(o.free)-1]
	}
	for i := range 5 {
		require.Eventually(t, func() bool { return spare() != nil }, 2*time.Second, time.Millisecond, "batch %d", i)
		want := spare()
		fill()
		o.mu.Lock()
		got := o.queue[len(o.queue)-1]
		o.mu.Unlock()
		require.Same(t, want, got, "batch %d", i)
	}
	require.Equal(t, int64(1), ft.sends.Load(), "still backing off")
}

// TestBufferFirstRecordDoesNotWake: with BatchAge >= idleCheckMin, a caller starting a batch
// does not wake the sender (which checks on a timer), yet every record still leaves within
// BatchAge of its batch's first record; sealing a batch still wakes it. With a shorter
// BatchAge the first record wakes it, as before.
func TestBufferFirstRecordDoesNotWake(t *testing.T) {
	checkNoLeak(t)
	const age = 100 * time.Millisecond
	ft := &fakeTransport{}
	o := NewBufferedOutput(ft, &BufferOptions{BatchSize: 1000, BatchAge: age})
	defer o.Close(context.Background())
	var waits []time.Duration
	for i := range 5 {
		time.Sleep(time.Duration(i) * age / 5) // land anywhere in the idle sender's period
		start := time.Now()
		_, err := o.Write(rec(i))
		require.NoError(t, err)
		require.Eventually(t, func() bool { return len(ft.lines()) == i+1 }, 5*time.Second, time.Millisecond)
		waits = append(waits, time.Since(start))
	}
	require.Zero(t, o.signals.Load(), "the first record of a batch woke the sender")
	slices.Sort(waits)
	require.GreaterOrEqual(t, waits[0], age-5*time.Millisecond, "a batch went out before its age: %v", waits)
	require.Less(t, waits[2], age+age/4, "records waited past BatchAge: %v", waits)

	for i := 0; o.signals.Load() == 0; i++ { // fill a batch: sealing it wakes the sender
		_, _ = o.Write(rec(100 + i))
		require.Less(t, i, 200)
	}
	require.Equal(t, uint64(1), o.signals.Load())

	fast := NewBufferedOutput(&fakeTransport{}, &BufferOptions{BatchSize: 1000, BatchAge: idleCheckMin / 2})
	defer fast.Close(context.Background())
	_, _ = fast.Write(rec(1))
	require.Equal(t, uint64(1), fast.signals.Load(), "a short BatchAge: the first record wakes the sender")
}
