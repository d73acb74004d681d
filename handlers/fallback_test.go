package handlers

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// named gives a fakeTransport a name of its own.
type named struct {
	*fakeTransport
	name string
}

func (n named) Name() string { return n.name }

// down makes a fake fail with a retryable error while the flag is set.
func down(f *fakeTransport, flag *atomic.Bool, msg string) {
	f.setFail(func(*Batch) error {
		if flag.Load() {
			return errors.New(msg)
		}
		return nil
	})
}

// clock is a manual clock for the fallback's timing.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

type switchLog struct {
	mu  sync.Mutex
	log []string
}

func (s *switchLog) add(from, to string, reason error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := "<nil>"
	if reason != nil {
		r = reason.Error()
	}
	s.log = append(s.log, from+">"+to+": "+r)
}

func newFallbackTest(t *testing.T) (*FallbackTransport, *fakeTransport, *fakeTransport, *atomic.Bool, *atomic.Bool, *clock, *switchLog) {
	p, s := &fakeTransport{}, &fakeTransport{}
	var pDown, sDown atomic.Bool
	down(p, &pDown, "dial tcp 127.0.0.1:24224: connect: connection refused")
	down(s, &sDown, "victorialogs: 503")
	h := NewJSONHandler(nil, &Options{Service: "svc", Env: "test", Version: "1"})
	sw := &switchLog{}
	ft := NewFallbackTransport(named{p, "forward"}, named{s, "victorialogs"}, &FallbackOptions{
		Notice:   h.EncodeNotice,
		OnSwitch: sw.add,
	})
	c := &clock{now: time.Date(2026, 11, 22, 3, 0, 0, 0, time.UTC)}
	ft.now = c.Now
	return ft, p, s, &pDown, &sDown, c, sw
}

func TestFallbackSwitchesAndBack(t *testing.T) {
	ft, p, s, pDown, _, c, sw := newFallbackTest(t)
	ctx := context.Background()
	send := func(i int) error { return ft.Send(ctx, batchOf(rec(i))) }

	require.NoError(t, send(0))
	require.Equal(t, "forward+victorialogs", ft.Name())
	require.Equal(t, FallbackStatus{Active: "forward"}, ft.Status())

	// The router goes down: errors (the buffer retries) until it has been down for 2s.
	pDown.Store(true)
	require.ErrorContains(t, send(1), "connection refused")
	c.Add(time.Second)
	require.ErrorContains(t, send(1), "connection refused")
	require.False(t, ft.Status().OnFallback)
	c.Add(time.Second)
	require.NoError(t, send(1), "2s: the batch goes to VictoriaLogs")
	st := ft.Status()
	require.True(t, st.OnFallback)
	require.Equal(t, "victorialogs", st.Active)
	require.Equal(t, uint64(1), st.Switches)
	require.Equal(t, c.Now(), st.Since)
	require.Contains(t, st.Reason, "connection refused")
	require.Equal(t, []string{"forward>victorialogs: dial tcp 127.0.0.1:24224: connect: connection refused"}, sw.log)

	lines := s.lines()
	require.Len(t, lines, 2, "the batch and the notice")
	require.Equal(t, string(rec(1)), lines[0])
	n := decode(t, []byte(lines[1]))
	require.Equal(t, "warn", n["level"])
	require.Equal(t, "vlog: forward failing for 2s, sending to victorialogs directly", n["msg"])
	require.Equal(t, "svc", n["service"])
	require.Equal(t, "forward", n["vlog_fallback_from"])
	require.Equal(t, "victorialogs", n["vlog_fallback_to"])
	require.Contains(t, n["vlog_fallback_reason"], "connection refused")

	// On the fallback: the router is not tried again before the probe interval.
	p.sends.Store(0)
	for i := range 5 {
		c.Add(900 * time.Millisecond)
		require.NoError(t, send(10+i))
	}
	require.Zero(t, p.sends.Load())
	require.Len(t, s.lines(), 7)
	c.Add(500 * time.Millisecond)
	require.NoError(t, send(20), "probe fails, batch to VictoriaLogs")
	require.Equal(t, int64(1), p.sends.Load())
	require.Len(t, s.lines(), 8)

	// The router is back: the next probe takes the batch and traffic switches back.
	pDown.Store(false)
	c.Add(4 * time.Second)
	require.NoError(t, send(21))
	require.Equal(t, int64(1), p.sends.Load(), "not yet")
	c.Add(time.Second)
	require.NoError(t, send(22))
	st = ft.Status()
	require.False(t, st.OnFallback)
	require.Equal(t, uint64(2), st.Switches)
	require.Equal(t, "forward", st.Active)
	require.Equal(t, "victorialogs>forward: <nil>", sw.log[1])
	require.NoError(t, send(23))
	got := p.lines()
	require.Equal(t, []string{string(rec(0)), string(rec(22)), string(rec(23))}, got[:3])
	n = decode(t, []byte(got[3]))
	require.Equal(t, "info", n["level"])
	require.Equal(t, "vlog: forward reachable again, sending through it", n["msg"])
	require.Len(t, got, 4)
}

func TestFallbackBothDown(t *testing.T) {
	ft, _, s, pDown, sDown, c, _ := newFallbackTest(t)
	ctx := context.Background()
	pDown.Store(true)
	sDown.Store(true)
	require.Error(t, ft.Send(ctx, batchOf(rec(1))))
	c.Add(3 * time.Second)
	err := ft.Send(ctx, batchOf(rec(1)))
	require.ErrorContains(t, err, "forward down since 2026-11-22T03:00:00Z, fallback failing: victorialogs: 503")
	require.False(t, IsPermanent(err))
	require.True(t, ft.Status().OnFallback)

	// VictoriaLogs comes back: the batch and the notice arrive.
	sDown.Store(false)
	require.NoError(t, ft.Send(ctx, batchOf(rec(1))))
	require.Len(t, s.lines(), 2)
	require.Contains(t, s.lines()[1], "sending to victorialogs directly")
}

func TestFallbackImmediateAndPermanent(t *testing.T) {
	p, s := &fakeTransport{}, &fakeTransport{}
	ft := NewFallbackTransport(named{p, "forward"}, named{s, "victorialogs"}, &FallbackOptions{After: -1})
	ctx := context.Background()

	// A batch the router refuses for good goes to VictoriaLogs, without a switch.
	p.setFail(func(*Batch) error { return Permanent(errors.New("too large for the router")) })
	require.NoError(t, ft.Send(ctx, batchOf(rec(1))))
	require.Len(t, s.lines(), 1)
	require.False(t, ft.Status().OnFallback)
	s.setFail(func(*Batch) error { return errors.New("503") })
	err := ft.Send(ctx, batchOf(rec(2)))
	require.True(t, IsPermanent(err))
	require.ErrorContains(t, err, "too large for the router (victorialogs: 503)")
	s.setFail(func(*Batch) error { return nil })

	// After < 0: the first failure switches.
	p.setFail(func(*Batch) error { return errors.New("reset") })
	require.NoError(t, ft.Send(ctx, batchOf(rec(3))))
	require.True(t, ft.Status().OnFallback)
	require.Len(t, s.lines(), 2, "no Notice configured: no notice record")
}

func TestFallbackCanceledDoesNotSwitch(t *testing.T) {
	ft, p, _, _, _, c, _ := newFallbackTest(t)
	p.block.Store(true)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	c.Add(10 * time.Second)
	require.ErrorIs(t, ft.Send(ctx, batchOf(rec(1))), context.Canceled)
	c.Add(10 * time.Second)
	require.ErrorIs(t, ft.Send(ctx, batchOf(rec(1))), context.Canceled)
	require.False(t, ft.Status().OnFallback)
}

func TestFallbackProbeTimeout(t *testing.T) {
	p, s := &fakeTransport{}, &fakeTransport{}
	ft := NewFallbackTransport(named{p, "forward"}, named{s, "victorialogs"},
		&FallbackOptions{After: -1, ProbeInterval: time.Nanosecond, ProbeTimeout: 50 * time.Millisecond})
	ctx := context.Background()
	p.setFail(func(*Batch) error { return errors.New("down") })
	require.NoError(t, ft.Send(ctx, batchOf(rec(1))))
	// The router hangs: the probe gives up after ProbeTimeout and the batch goes on.
	p.setFail(func(*Batch) error { return nil })
	p.block.Store(true)
	start := time.Now()
	require.NoError(t, ft.Send(ctx, batchOf(rec(2))))
	require.Less(t, time.Since(start), time.Second)
	require.Len(t, s.lines(), 2)
}

// TestFallbackThroughBuffer runs the whole chain: records written while the router goes down
// and comes back all arrive, at one side or the other.
func TestFallbackThroughBuffer(t *testing.T) {
	checkNoLeak(t)
	p, s := &fakeTransport{}, &fakeTransport{}
	var pDown atomic.Bool
	down(p, &pDown, "connection refused")
	ft := NewFallbackTransport(named{p, "forward"}, named{s, "victorialogs"},
		&FallbackOptions{After: 50 * time.Millisecond, ProbeInterval: 50 * time.Millisecond})
	out := NewBufferedOutput(ft, &BufferOptions{BatchAge: time.Millisecond, RetryMin: 5 * time.Millisecond, RetryMax: 20 * time.Millisecond})
	const n = 3000
	for i := range n {
		switch i {
		case 1000:
			pDown.Store(true)
		case 2000:
			pDown.Store(false)
		}
		_, err := out.Write(rec(i))
		require.NoError(t, err)
		if i%10 == 0 {
			time.Sleep(time.Millisecond)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for ft.Status().OnFallback && time.Now().Before(deadline) {
		_, _ = out.Write(rec(n))
		time.Sleep(20 * time.Millisecond)
	}
	require.NoError(t, out.Close(context.Background()))
	st := out.Stats()
	checkInvariant(t, st)
	require.Zero(t, st.Dropped.Total())
	seen := map[string]bool{}
	for _, l := range append(p.lines(), s.lines()...) {
		seen[l] = true
	}
	for i := range n {
		require.True(t, seen[string(rec(i))], "record %d lost", i)
	}
	require.NotEmpty(t, s.lines(), "some went to the fallback")
	require.Equal(t, uint64(2), ft.Status().Switches, "%+v", ft.Status())
}

func TestFallbackLastResort(t *testing.T) {
	p, s, last := &fakeTransport{}, &fakeTransport{}, &fakeTransport{}
	ft := NewFallbackTransport(named{p, "forward"}, named{s, "victorialogs"}, &FallbackOptions{After: -1, LastResort: named{last, "stdout"}})
	ctx := context.Background()
	p.setFail(func(*Batch) error { return errors.New("down") })
	s.setFail(func(*Batch) error { return errors.New("down too") })
	require.NoError(t, ft.Send(ctx, batchOf(rec(1))))
	require.Equal(t, []string{string(rec(1))}, last.lines())
	require.Equal(t, uint64(1), ft.Status().LastResort)
	require.Empty(t, s.lines())
}
