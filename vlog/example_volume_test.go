package vlog_test

import (
	"context"
	"errors"
	"fmt"

	"go.vlog.dev/vlog"
)

// A queue consumer with holding on: the debug records of each message are held, and written
// only for the message that fails, before its error record.
func ExampleLogger_StartScope() {
	logger, err := vlog.New(&vlog.Options{
		Writer:         timeless{},
		StdoutBuffered: vlog.Bool(false),
		Environ:        []string{"SERVICE=billing", "ENV=prod", "VERSION=2.0.0", "VLOG_HOLD=true"},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer logger.Close(context.Background())

	process := func(id string, fail bool) {
		ctx, scope := logger.StartScope(vlog.WithRequestID(context.Background(), id))
		defer scope.End() // discards what is held, unless the message failed
		logger.DebugContext(ctx, "charging card", "attempt", 1)
		if fail {
			logger.ErrorContext(ctx, "charge failed", "err", errors.New("card declined"))
		}
	}
	process("msg-1", false)
	process("msg-2", true)
	process("msg-3", false)
	// Output:
	// {"level":"debug","msg":"charging card","service":"billing","env":"prod","version":"2.0.0","request_id":"msg-2","attempt":1}
	// {"level":"info","msg":"vlog: wrote 1 held records of this scope, held below info","service":"billing","env":"prod","version":"2.0.0","request_id":"msg-2","vlog_held_written":1}
	// {"level":"error","msg":"charge failed","service":"billing","env":"prod","version":"2.0.0","request_id":"msg-2","err":"card declined"}
}
