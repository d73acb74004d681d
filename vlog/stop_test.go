package vlog

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"go.vlog.dev/handlers"
	"go.vlog.dev/handlers/output"
)

// closeRecorder is an Output that records how Close was called.
type closeRecorder struct {
	output.Output
	mu       sync.Mutex
	closes   int
	deadline time.Time
	ctxErr   error // ctx.Err() when Close was called
	err      error // returned by Close
}

func (c *closeRecorder) Close(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closes++
	c.deadline, _ = ctx.Deadline()
	c.ctxErr = ctx.Err()
	return c.err
}

// stopLogger returns a Logger writing to a buffer, with the given stop timeout, whose Close is
// recorded.
func stopLogger(timeout time.Duration) (*Logger, *closeRecorder, *bytes.Buffer) {
	var buf bytes.Buffer
	out := &closeRecorder{Output: output.NewDirect(output.NewWriterTransport("stdout", &buf), output.Hooks{})}
	l := &Logger{
		Logger: slog.New(handlers.NewJSONHandler(out, nil)),
		output: out,
		cfg:    &config{stopTimeout: timeout},
	}
	return l, out, &buf
}

func TestStopAfterParentDone(t *testing.T) {
	l, out, buf := stopLogger(10 * time.Second)
	parent, cancel := context.WithCancel(context.Background())
	ctx, stop := l.StopOnSignal(parent)
	require.NoError(t, ctx.Err())
	cancel()
	<-ctx.Done()
	require.ErrorIs(t, context.Cause(ctx), context.Canceled)

	var fnDeadline time.Time
	start := time.Now()
	err := stop(func(ctx context.Context) error {
		fnDeadline, _ = ctx.Deadline()
		return nil
	}, nil)
	require.NoError(t, err)
	// No signal: the deadline counts from the call. The shutdown functions get four fifths of
	// it, Close all of it.
	require.WithinDuration(t, start.Add(8*time.Second), fnDeadline, time.Second)
	require.WithinDuration(t, start.Add(10*time.Second), out.deadline, time.Second)
	require.Equal(t, 1, out.closes)
	require.NoError(t, out.ctxErr)
	require.Zero(t, buf.Len(), "no record without a signal")
}

func TestStopOnce(t *testing.T) {
	l, out, _ := stopLogger(time.Second)
	out.err = errors.New("close failed")
	_, stop := l.StopOnSignal(context.Background())
	calls := 0
	fail := func(context.Context) error { calls++; return errors.New("shutdown failed") }
	err := stop(fail, fail)
	require.ErrorContains(t, err, "shutdown failed")
	require.ErrorContains(t, err, "close failed")
	require.Equal(t, 2, calls)

	err2 := stop(fail)
	require.Equal(t, err, err2, "later calls return the first result")
	require.Equal(t, 2, calls, "and run nothing")
	require.Equal(t, 1, out.closes)
}

func TestStopKeepsTimeForClose(t *testing.T) {
	l, out, _ := stopLogger(500 * time.Millisecond)
	_, stop := l.StopOnSignal(context.Background())
	// A shutdown function that uses all the time it is given.
	var fnDeadline time.Time
	err := stop(func(ctx context.Context) error {
		fnDeadline, _ = ctx.Deadline()
		<-ctx.Done()
		return ctx.Err()
	})
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.Equal(t, 1, out.closes)
	require.Equal(t, 100*time.Millisecond, out.deadline.Sub(fnDeadline), "a fifth is kept for Close")
}

func TestStopConcurrentCalls(t *testing.T) {
	l, out, _ := stopLogger(time.Second)
	ctx, stop := l.StopOnSignal(context.Background())
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = stop()
		}()
	}
	wg.Wait()
	require.Equal(t, 1, out.closes)
	require.Error(t, ctx.Err(), "stop cancels ctx")
}

func TestStopLeavesNoGoroutine(t *testing.T) {
	l, _, _ := stopLogger(time.Second)
	before := runtime.NumGoroutine()
	for range 20 {
		_, stop := l.StopOnSignal(context.Background())
		_ = stop()
	}
	deadline := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	require.LessOrEqual(t, runtime.NumGoroutine(), before)
}

func TestStopTimeoutSetting(t *testing.T) {
	f := func(o *Options, want time.Duration) {
		t.Helper()
		l, _ := newTest(t, o)
		require.Equal(t, want, l.StopTimeout())
	}
	f(&Options{}, DefaultStopTimeout)
	f(&Options{Environ: []string{"VLOG_STOP_TIMEOUT=100s"}}, 100*time.Second)
	f(&Options{StopTimeout: 5 * time.Second, Environ: []string{"VLOG_STOP_TIMEOUT=100s"}}, 5*time.Second)

	for _, env := range []string{"VLOG_STOP_TIMEOUT=0", "VLOG_STOP_TIMEOUT=soon", "VLOG_STOP_TIMEOUT=-1s"} {
		_, err := New(&Options{Writer: &bytes.Buffer{}, Environ: []string{env}})
		require.ErrorContains(t, err, "VLOG_STOP_TIMEOUT", env)
	}
	_, err := New(&Options{Writer: &bytes.Buffer{}, StopTimeout: -time.Second, Environ: []string{}})
	require.ErrorContains(t, err, "Options.StopTimeout")
}
