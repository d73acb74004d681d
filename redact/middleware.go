package redact

import "log/slog"

// Middleware returns a handler middleware, the func(slog.Handler) slog.Handler shape that
// github.com/samber/slog-multi calls a Middleware, which wraps the next handler in a [Handler]
// redacting with r:
//
//	h := slogmulti.Pipe(r.Middleware()).Handler(sentryHandler)
//
// puts r in front of a handler that does not redact by itself, so it masks the same secrets
// as the handler r came from (vlog's Logger.Redactor, for instance). Every handler the
// middleware returns shares r, and so r's counters. A nil r means a Redactor with the default
// options, made once here. Like [NewHandler], the returned function panics if next is nil.
func (r *Redactor) Middleware() func(next slog.Handler) slog.Handler {
	if r == nil {
		r, _ = New(nil)
	}
	return func(next slog.Handler) slog.Handler { return NewHandler(next, r) }
}
