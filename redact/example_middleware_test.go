package redact_test

import (
	"log/slog"
	"os"

	"go.vlog.dev/redact"
)

// The middleware in front of slog.JSONHandler, as slogmulti.Pipe(r.Middleware()).Handler(h)
// builds it: the foreign handler masks the same secrets as vlog's own.
func ExampleRedactor_Middleware() {
	r, err := redact.New(nil)
	if err != nil {
		panic(err)
	}
	mw := r.Middleware() // a func(slog.Handler) slog.Handler: a slogmulti.Middleware
	logger := slog.New(mw(slog.NewJSONHandler(os.Stdout, &slog.HandlerOptions{ReplaceAttr: dropTime})))

	logger.With("api_key", "k-123").WithGroup("req").Info("retrying with Authorization: Bearer abc123def456",
		"user", "bob", "password", "hunter2")
	// Output:
	// {"level":"INFO","msg":"retrying with Authorization: Bearer [REDACTED]","api_key":"[REDACTED]","req":{"user":"bob","password":"[REDACTED]"}}
}
