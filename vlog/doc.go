// Package vlog sets up standardized structured logging for Go services on Amazon ECS whose logs
// end up in VictoriaLogs.
//
// One call configures everything from the environment (SERVICE, ENV, VERSION, VLOG_*):
//
//	logger, err := vlog.Setup(nil) // also slog.SetDefault
//	if err != nil {
//		return err
//	}
//	defer logger.Close(context.Background())
//	slog.Info("order created", "order_id", id)
//
// Every record leaves the process as one JSON object on one line, in a fixed order: event_time,
// level, msg, service, env, version, request_id, trace_id, span_id (from the context, see
// WithRequestID and Middleware), then the caller's attributes. See the handlers package for the
// encoding rules.
//
// Log volume (docs/volume.md), each off by default: VLOG_HOLD holds each request's debug
// records and writes them only if the request fails (Middleware, or StartScope for other
// work); VLOG_DEBUG_SAMPLE_RATE logs a fraction of the requests at debug in full;
// VLOG_RATE_LIMIT limits the records per level and message and reports the gaps in the stream.
package vlog
