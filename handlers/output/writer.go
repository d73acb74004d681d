package output

import (
	"context"
	"io"
)

// WriterTransport is a Transport that writes each batch to an io.Writer with one Write call:
// stdout, either directly (Direct) or behind a Buffered output, so that a slow or blocked log
// pipe cannot stall the service. A failed write behind a Buffered output is retried, so a
// record may appear twice after a partial write.
type WriterTransport struct {
	name string
	w    io.Writer
}

var _ Transport = (*WriterTransport)(nil)

// NewWriterTransport returns a transport that writes to w; name is reported in Stats.
func NewWriterTransport(name string, w io.Writer) *WriterTransport {
	return &WriterTransport{name: name, w: w}
}

// Send writes b.Data. A Write that blocks cannot be interrupted: ctx is checked before it.
func (t *WriterTransport) Send(ctx context.Context, b *Batch) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	n, err := t.w.Write(b.Data)
	if err == nil && n < len(b.Data) {
		err = io.ErrShortWrite
	}
	return err
}

// Close calls Sync on the writer if it has one (an *os.File does); the writer itself is not
// closed: it belongs to the caller.
func (t *WriterTransport) Close() error {
	if s, ok := t.w.(interface{ Sync() error }); ok {
		// Sync on a pipe or terminal fails with EINVAL; that is not a delivery failure.
		_ = s.Sync()
	}
	return nil
}

// Name returns the name given to NewWriterTransport.
func (t *WriterTransport) Name() string { return t.name }
