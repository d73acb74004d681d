//go:build unix

package file

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"
)

// Files are created 0640 whatever the umask (the agent reads them through its group), also
// after a rotation; an existing file keeps its mode.
func TestMode0640(t *testing.T) {
	for _, umask := range []int{0o077, 0o022, 0o000} {
		old := syscall.Umask(umask)
		dir := t.TempDir()
		tr := newTransport(t, dir, 1, 5)
		ctx := context.Background()
		require.NoError(t, tr.Send(ctx, batchOf(0, 1)))
		require.NoError(t, tr.Send(ctx, batchOf(1, 2))) // rotates: a new file
		syscall.Umask(old)
		for _, p := range files(t, tr) {
			st, err := os.Stat(p)
			require.NoError(t, err)
			require.Equal(t, fs.FileMode(0o640), st.Mode().Perm(), "%s with umask %#o", p, umask)
		}
	}

	dir := t.TempDir()
	path := filepath.Join(dir, "app.log")
	require.NoError(t, os.WriteFile(path, nil, 0o600))
	require.NoError(t, os.Chmod(path, 0o604))
	tr := newTransport(t, dir, 1<<20, 5)
	require.NoError(t, tr.Send(context.Background(), batchOf(0, 1)))
	st, err := os.Stat(path)
	require.NoError(t, err)
	require.Equal(t, fs.FileMode(0o604), st.Mode().Perm(), "an existing file keeps its mode")
}
