package vlog

import (
	"context"
	"log/slog"
	"runtime"
	"strings"
	"time"
)

// logBridge is the standard log package's output after Setup: each line becomes a record of
// the Logger, as slog.SetDefault's own bridge makes it (level info, the caller of log.Print* as
// the source), except that the line of a log.Fatal* or log.Panic* call is logged at level
// error and waits, at most ExitFlushTimeout, for the records to be delivered: log.Fatal calls
// os.Exit right after, and the buffer's records would die with the process.
type logBridge struct{ l *Logger }

func (b logBridge) Write(p []byte) (int, error) {
	exiting := calledByFatalOrPanic()
	level := slog.LevelInfo
	if exiting {
		level = slog.LevelError
	}
	ctx := context.Background()
	h := b.l.Handler()
	if !h.Enabled(ctx, level) {
		return len(p), nil
	}
	var pcs [1]uintptr
	runtime.Callers(4, pcs[:]) // skip runtime.Callers, Write, log.(*Logger).output, log.Print*
	r := slog.NewRecord(time.Now(), level, strings.TrimSuffix(string(p), "\n"), pcs[0])
	err := h.Handle(ctx, r)
	if exiting {
		ctx, cancel := context.WithTimeout(ctx, b.l.cfg.exitFlush)
		_ = b.l.Flush(ctx) // what is not delivered in time is counted when the process ends: nowhere
		cancel()
	}
	return len(p), err
}

// calledByFatalOrPanic reports whether the log line comes from log.Fatal*, log.Panic* or the
// same methods of a *log.Logger writing to the bridge.
func calledByFatalOrPanic() bool {
	var pcs [8]uintptr
	frames := runtime.CallersFrames(pcs[:runtime.Callers(3, pcs[:])])
	for {
		f, more := frames.Next()
		if name, ok := strings.CutPrefix(f.Function, "log."); ok {
			name = strings.TrimPrefix(name, "(*Logger).")
			if strings.HasPrefix(name, "Fatal") || strings.HasPrefix(name, "Panic") {
				return true
			}
		}
		if !more {
			return false
		}
	}
}
