package output

import (
	"context"
	"errors"
)

// Batch is a run of encoded records handed to a Transport: each record is one JSON object ending
// in '\n' (the JSONHandler's output), concatenated in the order they were logged.
type Batch struct {
	// Data holds the records. The transport must not keep it after Send returns.
	Data []byte
	// Records is the number of records in Data.
	Records int
	// Seq numbers the batches of one Buffered from 1; a batch keeps its number when it is
	// sent again after a failure, so a transport can use it to build an idempotency key.
	Seq uint64

	sending bool // in flight (Buffered's bookkeeping)
}

// Transport delivers batches to a destination. Buffered calls Send from one goroutine at a
// time (unless the transport is a Pipelined) and never concurrently with Close.
type Transport interface {
	// Send delivers b. It returns nil only when the destination has the records (acknowledged,
	// when the transport uses acks). It must return promptly when ctx is done. An error wrapped
	// with Permanent means that sending b again cannot succeed: the batch is dropped and counted
	// as WriteError; any other error makes the buffer send the same batch again after a backoff.
	Send(ctx context.Context, b *Batch) error
	// Close releases the transport's connections.
	Close() error
	// Name names the destination in Stats, e.g. "forward", "victorialogs", "stdout".
	Name() string
}

// Pipelined is a Transport whose Send may be called from several goroutines at once.
// Buffered then keeps up to MaxInFlight batches in flight, each sent by its own
// goroutine, so that the destination does not wait while the next batch is being prepared
// (compressed, for VictoriaLogs). Batches may then arrive out of order.
type Pipelined interface {
	Transport
	MaxInFlight() int
}

// Permanent marks err as not worth retrying (see Transport.Send).
func Permanent(err error) error { return permanentError{err} }

// IsPermanent reports whether err was marked with Permanent.
func IsPermanent(err error) bool { return errors.As(err, new(permanentError)) }

type permanentError struct{ err error }

func (e permanentError) Error() string { return e.err.Error() }
func (e permanentError) Unwrap() error { return e.err }
