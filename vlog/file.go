package vlog

import (
	"go.vlog.dev/handlers/file"
	"go.vlog.dev/handlers/output"
)

// newFileTransport builds the file output's transport: the file is opened (and its directory
// checked) here, so that a missing or read-only directory is an error at setup.
func newFileTransport(c *config) (output.Transport, error) {
	if c.opts.File.Path == "" {
		return nil, &ConfigError{Name: "VLOG_FILE_PATH", Value: "",
			Reason: "not set: the file output needs the file's path, on a volume the sidecar agent reads"}
	}
	t, err := file.New(c.opts.File)
	if err != nil {
		return nil, c.settingError("File", err)
	}
	return t, nil
}
