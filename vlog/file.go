package vlog

import (
	"errors"

	"go.vlog.dev/handlers/output"
)

// newFileTransport builds the file output's transport.
func newFileTransport(c *config) (output.Transport, error) {
	return nil, errors.New("vlog: the file output is not built yet")
}
