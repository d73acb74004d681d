package vlog

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"
)

// DefaultStopTimeout is the default of Options.StopTimeout: ECS sends SIGTERM, waits for the
// task definition's stopTimeout (30s unless set) and then sends SIGKILL, so 25s leaves 5s of
// headroom. A task definition with a longer stopTimeout (Fargate allows up to 120s) can raise
// it with VLOG_STOP_TIMEOUT; keep it a few seconds below the stopTimeout.
const DefaultStopTimeout = 25 * time.Second

// StopFunc shuts a program down in order, within the stop deadline, and returns what went
// wrong. It calls each function of shutdown in turn (http.Server.Shutdown is one) with a
// context whose deadline is the stop deadline less a fifth of the stop timeout, then closes
// the Logger with a context whose deadline is the stop deadline: the fifth (5s by default) is
// kept for delivering the last records, however long the other functions take. The stop
// deadline is the stop timeout counted from the signal, or from the call when no signal came.
//
// The result joins the errors of the functions and of Close. Only the first call does
// anything; later calls return its result and ignore their arguments, so a deferred call
// after an explicit one is harmless.
type StopFunc func(shutdown ...func(context.Context) error) error

// SignalError is the cause (see context.Cause) of the cancellation of a context returned by
// StopOnSignal when a signal ended it.
type SignalError struct {
	// Signal is the signal received: syscall.SIGTERM or os.Interrupt.
	Signal os.Signal
	// At is when it was received; the stop deadline is counted from it.
	At time.Time
}

func (e *SignalError) Error() string { return "vlog: received " + signalName(e.Signal) }

// StopOnSignal ties the Logger's Close to the signals that stop a process: SIGTERM (what ECS,
// Docker and Kubernetes send) and SIGINT (Ctrl-C). It returns ctx, which is cancelled when the
// first of them arrives (its cause is then a *SignalError) or when parent is done, and stop,
// which the program calls once it has stopped taking work:
//
//	logger, err := vlog.Setup(nil)
//	...
//	ctx, stop := logger.StopOnSignal(context.Background())
//	defer stop() // on early returns too: delivers what was logged
//	srv := &http.Server{Addr: ":3000", Handler: h}
//	go func() { errc <- srv.ListenAndServe() }()
//	select {
//	case <-ctx.Done(): // SIGTERM
//	case err = <-errc:
//	}
//	return stop(srv.Shutdown) // drains requests, then the logger, within the deadline
//
// When the signal arrives, StopOnSignal writes one record at level info ("vlog: stopping",
// with the signal and the stop timeout) and stops catching the signals: a second SIGINT or
// SIGTERM ends the process at once, as it would without vlog. Until then, SIGTERM and SIGINT
// do not end the process by themselves: the program must watch ctx.
//
// stop closes the Logger; the program must not call Close as well. The stop timeout is
// Options.StopTimeout (VLOG_STOP_TIMEOUT, default DefaultStopTimeout).
func (l *Logger) StopOnSignal(parent context.Context) (ctx context.Context, stop StopFunc) {
	return l.stopOn(parent, syscall.SIGTERM, os.Interrupt)
}

// StopTimeout returns the stop timeout resolved at setup (see Options.StopTimeout).
func (l *Logger) StopTimeout() time.Duration { return l.cfg.stopTimeout }

// stopOn is StopOnSignal for the given signals (tests use others).
func (l *Logger) stopOn(parent context.Context, sigs ...os.Signal) (context.Context, StopFunc) {
	ctx, cancel := context.WithCancelCause(parent)
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, sigs...)
	quit := make(chan struct{})
	exited := make(chan struct{})
	var got *SignalError // written by the goroutine, read after exited is closed
	go func() {
		defer close(exited)
		select {
		case s := <-ch:
			signal.Stop(ch)
			got = &SignalError{Signal: s, At: time.Now()}
			l.LogAttrs(context.Background(), slog.LevelInfo, "vlog: stopping",
				slog.String("signal", signalName(s)),
				slog.String("stop_timeout", l.cfg.stopTimeout.String()))
			cancel(got)
		case <-quit:
		}
	}()

	var once sync.Once
	var result error
	stop := func(shutdown ...func(context.Context) error) error {
		once.Do(func() {
			close(quit)
			<-exited
			signal.Stop(ch)
			cancel(context.Canceled)
			start := time.Now()
			if got != nil {
				start = got.At
			}
			timeout := l.cfg.stopTimeout
			end := start.Add(timeout)
			var errs []error
			if len(shutdown) > 0 {
				sctx, scancel := context.WithDeadline(context.Background(), end.Add(-timeout/5))
				for _, f := range shutdown {
					if f == nil {
						continue
					}
					if err := f(sctx); err != nil {
						errs = append(errs, err)
					}
				}
				scancel()
			}
			cctx, ccancel := context.WithDeadline(context.Background(), end)
			if err := l.Close(cctx); err != nil {
				errs = append(errs, err)
			}
			ccancel()
			result = errors.Join(errs...)
		})
		return result
	}
	return ctx, stop
}

// signalName returns the conventional name of the signals StopOnSignal catches.
func signalName(s os.Signal) string {
	switch s {
	case syscall.SIGTERM:
		return "SIGTERM"
	case os.Interrupt:
		return "SIGINT"
	}
	return s.String()
}
