// Package output is the seam between the slog handler and the destinations: an Output takes
// one encoded record per Write and accounts for every record (delivered, or dropped by
// reason). Direct writes each record synchronously through a Transport; Buffered copies it into
// a bounded buffer and sends batches from a background goroutine, never blocking the caller;
// Fallback is a Transport that switches from one transport to another while the first is down.
//
// A destination is added by implementing Transport in a package of its own (see
// go.vlog.dev/handlers/forward and go.vlog.dev/handlers/victorialogs); nothing here changes.
package output

import (
	"context"
	"io"
	"time"
)

// Output is where a handler's encoded records go. Write receives exactly one complete record
// per call and must not keep p after it returns. Outputs count every record they are given:
// after Close, Stats().Enqueued == Stats().Delivered + Stats().Dropped.Total().
type Output interface {
	io.Writer
	// Flush delivers what was written before the call, by ctx's deadline, without closing
	// the output (before os.Exit, at the end of a short-lived job). It reports what it could
	// not deliver in time.
	Flush(ctx context.Context) error
	// Close delivers what is still pending, by ctx's deadline, and releases the output's
	// resources. It reports what it could not deliver.
	Close(ctx context.Context) error
	// Stats returns a snapshot of the output's counters.
	Stats() Stats
}

// Stats are an output's counters. All counts are records, not bytes, unless named otherwise.
type Stats struct {
	// Output names the destination: the transport's Name ("stdout", "forward",
	// "victorialogs", "forward+victorialogs").
	Output string
	// State is "ok", "failing" (the last write failed) or "closed".
	State string
	// Enqueued counts the records given to the output.
	Enqueued uint64
	// Delivered counts the records written to the destination without error.
	Delivered uint64
	// Dropped counts the records given up, by reason.
	Dropped Drops
	// Retried counts the attempts to deliver a record again after a failure.
	Retried uint64
	// BufferedBytes and BufferedRecords are what waits in the output's buffer now.
	BufferedBytes, BufferedRecords int64
	// BufferSize is the bound of the output's buffer in bytes (BufferOptions.Size); 0 for an
	// output without a buffer (Direct).
	BufferSize int64
	// LastError is the most recent delivery error, "" if none, with credentials removed.
	LastError string
	// LastErrorTime is when LastError happened.
	LastErrorTime time.Time
	// Redacted counts the values masked by redaction, by rule (see go.vlog.dev/redact); nil
	// when redaction is off. Filled in by vlog.Logger.Stats.
	Redacted map[string]uint64
	// Volume are the counters of the handler's volume controls (held records, sampled
	// scopes, the rate limit: records that never reached the output, so none of them is a
	// drop); nil when they are all off. Filled in by vlog.Logger.Stats.
	Volume *VolumeStats
	// Fallback is the state of the router -> VictoriaLogs fallback; nil without one.
	Fallback *FallbackStatus
	// Outputs are the counters of each output of a Multi, in order (the fields above are
	// then their totals); nil for a single output.
	Outputs []Stats
}

// Drops counts dropped records by reason.
type Drops struct {
	// BufferFull: the buffer had no room.
	BufferFull uint64
	// WriteError: the destination refused or failed the write and it was not retried.
	WriteError uint64
	// Oversize: the record was larger than the destination accepts.
	Oversize uint64
	// Closed: the record arrived after Close, or Close's deadline passed before it was sent.
	Closed uint64
}

// Total returns the sum of all reasons.
func (d Drops) Total() uint64 { return d.BufferFull + d.WriteError + d.Oversize + d.Closed }

// errorAt is an error message and when it happened.
type errorAt struct {
	msg string
	at  time.Time
}

// VolumeStats are the counters of the handler's volume controls: the fields of
// handlers.VolumeStats (this package cannot import the handler's), which documents them.
type VolumeStats struct {
	Scopes, SampledScopes            uint64
	Held, Flushed, Discarded         uint64
	EvictedScopeCap, EvictedTotalCap uint64
	HeldRecords, HeldBytes           int64
	Suppressed                       uint64
}
