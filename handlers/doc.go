// Package handlers is vlog's slog handler: JSONHandler encodes each record, on the caller's
// goroutine, as one line of JSON in the vlog schema (event_time, level, msg, service, env,
// version, the context's ids, the fixed metadata, then the caller's attributes; the keys are
// named in go.vlog.dev/handlers/schema) and hands it to an io.Writer with exactly one Write.
// Encoders are append functions checked against encoding/json and fuzzed; a record costs no
// allocation for the common kinds of values.
//
// The volume controls, off by default (Options.Hold, Options.DebugSampleRate,
// Options.RateLimit; docs/volume.md): a Scope, started with StartScope and carried by a
// context, holds its records below a level and writes them only if it fails; a sampled scope
// logs at debug in full; the rate limit writes the first records of each level and message per
// interval, then one in so many, and reports what it suppressed in the stream.
//
// Where the bytes go is the business of the packages under it, which this one does not import:
//
//   - go.vlog.dev/handlers/output: the Output seam (the handler's writer, accounting for
//     every record), Direct and the bounded, never-blocking Buffered, the Transport interface
//     and the Fallback between two transports;
//   - go.vlog.dev/handlers/forward: the Fluent forward protocol (the FireLens router);
//   - go.vlog.dev/handlers/victorialogs: VictoriaLogs' /insert/jsonline;
//   - go.vlog.dev/handlers/schema: the schema's keys and the truncation of long records.
//
// go.vlog.dev/vlog puts them together from the environment; a program may also compose them
// by hand, as the package examples and benchmarks do.
package handlers
