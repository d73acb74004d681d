package vlog

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestFileOutput: VLOG_OUTPUT=stdout,file writes every record to the file too, and a
// directory that does not exist is an error at setup naming the variable.
func TestFileOutput(t *testing.T) {
	path := filepath.Join(t.TempDir(), "app.log")
	var out lockedBuffer
	l, err := New(&Options{Writer: &out, Environ: []string{"SERVICE=order-api", "VLOG_OUTPUT=stdout,file",
		"VLOG_FILE_PATH=" + path, "VLOG_FILE_MAX_SIZE=1MiB", "VLOG_FILE_MAX_FILES=2"}})
	require.NoError(t, err)
	for i := range 10 {
		l.Info("order created", "seq", i)
	}
	require.NoError(t, l.Close(context.Background()))
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, 11, strings.Count(string(data), "\n"), "10 records and the startup record")
	require.Contains(t, string(data), `"file":"`+path+`"`)
	require.Equal(t, string(data), out.String(), "the same bytes in both outputs")
	require.Equal(t, "stdout,file", l.Stats().Output)

	_, err = New(&Options{Environ: []string{"VLOG_OUTPUT=file", "VLOG_FILE_PATH=/nonexistent/dir/app.log"}})
	var ce *ConfigError
	require.True(t, errors.As(err, &ce), "%v", err)
	require.Equal(t, "VLOG_FILE_PATH", ce.Name)
	_, err = New(&Options{Environ: []string{"VLOG_OUTPUT=file"}})
	require.ErrorContains(t, err, "VLOG_FILE_PATH")
}
