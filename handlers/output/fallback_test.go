package output_test

import (
	"context"
	"errors"
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

// named gives a fakeTransport a name of its own.
type named struct {
	*outputtest.Transport
	name string
}

func (n named) Name() string { return n.name }

// down makes a fake fail with a retryable error while the flag is set.
func down(f *outputtest.Transport, flag *atomic.Bool, msg string) {
	f.SetFail(func(*output.Batch) error {
		if flag.Load() {
			return errors.New(msg)
		}
		return nil
	})
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

func newFallbackTest(t *testing.T) (*output.Fallback, *outputtest.Transport, *outputtest.Transport, *atomic.Bool, *atomic.Bool, *outputtest.Clock, *switchLog) {
	p, s := &outputtest.Transport{}, &outputtest.Transport{}
	var pDown, sDown atomic.Bool
	down(p, &pDown, "dial tcp 127.0.0.1:24224: connect: connection refused")
	down(s, &sDown, "victorialogs: 503")
	h := handlers.NewJSONHandler(nil, &handlers.Options{Service: "svc", Env: "test", Version: "1"})
	sw := &switchLog{}
	c := outputtest.NewClock(time.Date(2026, 11, 22, 3, 0, 0, 0, time.UTC))
	ft := output.NewFallback(named{p, "forward"}, named{s, "victorialogs"}, nil,
		output.Hooks{Notice: h.EncodeNotice, OnSwitch: sw.add, Clock: c})
	return ft, p, s, &pDown, &sDown, c, sw
}

func TestFallbackSwitchesAndBack(t *testing.T) {
	ft, p, s, pDown, _, c, sw := newFallbackTest(t)
	ctx := context.Background()
	send := func(i int) error { return ft.Send(ctx, outputtest.BatchOf(rec(i))) }

	require.NoError(t, send(0))
	require.Equal(t, "forward+victorialogs", ft.Name())
	require.Equal(t, output.FallbackStatus{Active: "forward"}, ft.FallbackStatus())

	// The router goes down: errors (the buffer retries) until it has been down for 2s.
	pDown.Store(true)
	require.ErrorContains(t, send(1), "connection refused")
	c.Add(time.Second)
	require.ErrorContains(t, send(1), "connection refused")
	require.False(t, ft.FallbackStatus().OnFallback)
	c.Add(time.Second)
	require.NoError(t, send(1), "2s: the batch goes to VictoriaLogs")
	st := ft.FallbackStatus()
	require.True(t, st.OnFallback)
	require.Equal(t, "victorialogs", st.Active)
	require.Equal(t, uint64(1), st.Switches)
	require.Equal(t, c.Now(), st.Since)
	require.Contains(t, st.Reason, "connection refused")
	require.Equal(t, []string{"forward>victorialogs: dial tcp 127.0.0.1:24224: connect: connection refused"}, sw.log)

	lines := s.Lines()
	require.Len(t, lines, 2, "the batch and the notice")
	require.Equal(t, string(rec(1)), lines[0])
	n := vtest.Decode(t, []byte(lines[1]))
	require.Equal(t, "warn", n["level"])
	require.Equal(t, "vlog: forward failing for 2s, sending to victorialogs directly", n["msg"])
	require.Equal(t, "svc", n["service"])
	require.Equal(t, "forward", n["vlog_fallback_from"])
	require.Equal(t, "victorialogs", n["vlog_fallback_to"])
	require.Contains(t, n["vlog_fallback_reason"], "connection refused")

	// On the fallback: the router is not tried again before the probe interval.
	p.Sends.Store(0)
	for i := range 5 {
		c.Add(900 * time.Millisecond)
		require.NoError(t, send(10+i))
	}
	require.Zero(t, p.Sends.Load())
	require.Len(t, s.Lines(), 7)
	c.Add(500 * time.Millisecond)
	require.NoError(t, send(20), "probe fails, batch to VictoriaLogs")
	require.Equal(t, int64(1), p.Sends.Load())
	require.Len(t, s.Lines(), 8)

	// The router is back: the next probe takes the batch and traffic switches back.
	pDown.Store(false)
	c.Add(4 * time.Second)
	require.NoError(t, send(21))
	require.Equal(t, int64(1), p.Sends.Load(), "not yet")
	c.Add(time.Second)
	require.NoError(t, send(22))
	st = ft.FallbackStatus()
	require.False(t, st.OnFallback)
	require.Equal(t, uint64(2), st.Switches)
	require.Equal(t, "forward", st.Active)
	require.Equal(t, "victorialogs>forward: <nil>", sw.log[1])
	require.NoError(t, send(23))
	got := p.Lines()
	require.Equal(t, []string{string(rec(0)), string(rec(22)), string(rec(23))}, got[:3])
	n = vtest.Decode(t, []byte(got[3]))
	require.Equal(t, "info", n["level"])
	require.Equal(t, "vlog: forward reachable again, sending through it", n["msg"])
	require.Len(t, got, 4)
}

func TestFallbackBothDown(t *testing.T) {
	ft, _, s, pDown, sDown, c, _ := newFallbackTest(t)
	ctx := context.Background()
	pDown.Store(true)
	sDown.Store(true)
	require.Error(t, ft.Send(ctx, outputtest.BatchOf(rec(1))))
	c.Add(3 * time.Second)
	err := ft.Send(ctx, outputtest.BatchOf(rec(1)))
	require.ErrorContains(t, err, "forward down since 2026-11-22T03:00:00Z, fallback failing: victorialogs: 503")
	require.False(t, output.IsPermanent(err))
	require.True(t, ft.FallbackStatus().OnFallback)

	// VictoriaLogs comes back: the batch and the notice arrive.
	sDown.Store(false)
	require.NoError(t, ft.Send(ctx, outputtest.BatchOf(rec(1))))
	require.Len(t, s.Lines(), 2)
	require.Contains(t, s.Lines()[1], "sending to victorialogs directly")
}

func TestFallbackImmediateAndPermanent(t *testing.T) {
	p, s := &outputtest.Transport{}, &outputtest.Transport{}
	ft := output.NewFallback(named{p, "forward"}, named{s, "victorialogs"}, &output.FallbackOptions{After: -1}, output.Hooks{})
	ctx := context.Background()

	// A batch the router refuses for good goes to VictoriaLogs, without a switch.
	p.SetFail(func(*output.Batch) error { return output.Permanent(errors.New("too large for the router")) })
	require.NoError(t, ft.Send(ctx, outputtest.BatchOf(rec(1))))
	require.Len(t, s.Lines(), 1)
	require.False(t, ft.FallbackStatus().OnFallback)
	s.SetFail(func(*output.Batch) error { return errors.New("503") })
	err := ft.Send(ctx, outputtest.BatchOf(rec(2)))
	require.True(t, output.IsPermanent(err))
	require.ErrorContains(t, err, "too large for the router (victorialogs: 503)")
	s.SetFail(func(*output.Batch) error { return nil })

	// After < 0: the first failure switches.
	p.SetFail(func(*output.Batch) error { return errors.New("reset") })
	require.NoError(t, ft.Send(ctx, outputtest.BatchOf(rec(3))))
	require.True(t, ft.FallbackStatus().OnFallback)
	require.Len(t, s.Lines(), 2, "no Notice configured: no notice record")
}

func TestFallbackCanceledDoesNotSwitch(t *testing.T) {
	ft, p, _, _, _, c, _ := newFallbackTest(t)
	p.Block.Store(true)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	c.Add(10 * time.Second)
	require.ErrorIs(t, ft.Send(ctx, outputtest.BatchOf(rec(1))), context.Canceled)
	c.Add(10 * time.Second)
	require.ErrorIs(t, ft.Send(ctx, outputtest.BatchOf(rec(1))), context.Canceled)
	require.False(t, ft.FallbackStatus().OnFallback)
}

func TestFallbackProbeTimeout(t *testing.T) {
	p, s := &outputtest.Transport{}, &outputtest.Transport{}
	ft := output.NewFallback(named{p, "forward"}, named{s, "victorialogs"},
		&output.FallbackOptions{After: -1, ProbeInterval: time.Nanosecond, ProbeTimeout: 50 * time.Millisecond}, output.Hooks{})
	ctx := context.Background()
	p.SetFail(func(*output.Batch) error { return errors.New("down") })
	require.NoError(t, ft.Send(ctx, outputtest.BatchOf(rec(1))))
	// The router hangs: the probe gives up after ProbeTimeout and the batch goes on.
	p.SetFail(func(*output.Batch) error { return nil })
	p.Block.Store(true)
	start := time.Now()
	require.NoError(t, ft.Send(ctx, outputtest.BatchOf(rec(2))))
	require.Less(t, time.Since(start), time.Second)
	require.Len(t, s.Lines(), 2)
}

// TestFallbackThroughBuffer runs the whole chain: records written while the router goes down
// and comes back all arrive, at one side or the other.
func TestFallbackThroughBuffer(t *testing.T) {
	vtest.CheckNoLeak(t)
	p, s := &outputtest.Transport{}, &outputtest.Transport{}
	var pDown atomic.Bool
	down(p, &pDown, "connection refused")
	ft := output.NewFallback(named{p, "forward"}, named{s, "victorialogs"},
		&output.FallbackOptions{After: 50 * time.Millisecond, ProbeInterval: 50 * time.Millisecond}, output.Hooks{})
	out := output.NewBuffered(ft, &output.BufferOptions{BatchAge: time.Millisecond, RetryMin: 5 * time.Millisecond, RetryMax: 20 * time.Millisecond}, output.Hooks{})
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
	for ft.FallbackStatus().OnFallback && time.Now().Before(deadline) {
		_, _ = out.Write(rec(n))
		time.Sleep(20 * time.Millisecond)
	}
	require.NoError(t, out.Close(context.Background()))
	st := out.Stats()
	vtest.CheckInvariant(t, st)
	require.Zero(t, st.Dropped.Total())
	seen := map[string]bool{}
	for _, l := range append(p.Lines(), s.Lines()...) {
		seen[l] = true
	}
	for i := range n {
		require.True(t, seen[string(rec(i))], "record %d lost", i)
	}
	require.NotEmpty(t, s.Lines(), "some went to the fallback")
	require.Equal(t, uint64(2), ft.FallbackStatus().Switches, "%+v", ft.FallbackStatus())
}

func TestFallbackLastResort(t *testing.T) {
	p, s, last := &outputtest.Transport{}, &outputtest.Transport{}, &outputtest.Transport{}
	ft := output.NewFallback(named{p, "forward"}, named{s, "victorialogs"}, &output.FallbackOptions{After: -1, LastResort: named{last, "stdout"}}, output.Hooks{})
	ctx := context.Background()
	p.SetFail(func(*output.Batch) error { return errors.New("down") })
	s.SetFail(func(*output.Batch) error { return errors.New("down too") })
	require.NoError(t, ft.Send(ctx, outputtest.BatchOf(rec(1))))
	require.Equal(t, []string{string(rec(1))}, last.Lines())
	require.Equal(t, uint64(1), ft.FallbackStatus().LastResort)
	require.Empty(t, s.Lines())
}
