package file

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"

	"go.vlog.dev/handlers/output"
)

// Faults made for real with mounts: a full tmpfs, a read-only file system. They need the
// right to mount (root, outside a restricted container); without it they are skipped, and the
// injected versions (TestDiskFull, TestOpenDenied) still run.

// mount mounts and unmounts at the end of the test, or skips it when mounting is not allowed.
func mount(t *testing.T, source, target, fstype string, flags uintptr, data string) {
	t.Helper()
	if err := syscall.Mount(source, target, fstype, flags, data); err != nil {
		if errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.EACCES) {
			t.Skipf("mount %s: %v (needs root)", target, err)
		}
		t.Fatalf("mount %s: %v", target, err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(target, syscall.MNT_DETACH); err != nil && !errors.Is(err, syscall.EINVAL) {
			t.Errorf("unmount %s: %v", target, err)
		}
	})
}

// A read-only file system: root cannot write there either, so this is the "not writable" case
// of New as root.
func TestNewReadOnlyFileSystem(t *testing.T) {
	dir := t.TempDir()
	mount(t, "tmpfs", dir, "tmpfs", syscall.MS_RDONLY, "size=64k")
	_, err := New(&Options{Path: filepath.Join(dir, "app.log")})
	var oe *output.OptionError
	require.ErrorAs(t, err, &oe)
	require.Equal(t, "Path", oe.Name)
	require.Equal(t, "cannot be opened for writing: read-only file system", oe.Reason)
}

// A real full disk: a 64 KiB tmpfs filled up by another file. Writes stop at a page boundary
// in the middle of a batch (a real short write), the buffer retries, and once the other file is
// removed everything is delivered, each record once, no half line.
func TestDiskFullTmpfs(t *testing.T) {
	dir := t.TempDir()
	mount(t, "tmpfs", dir, "tmpfs", 0, "size=64k")
	tr := newTransport(t, dir, 1<<20, 5)
	// Leave about 6 KiB free.
	ballast := filepath.Join(dir, "ballast")
	f, err := os.Create(ballast)
	require.NoError(t, err)
	for {
		if _, err := f.Write(make([]byte, 1024)); err != nil {
			require.ErrorIs(t, err, syscall.ENOSPC)
			break
		}
	}
	st, err := f.Stat()
	require.NoError(t, err)
	require.NoError(t, f.Truncate(st.Size()-6<<10))
	require.NoError(t, f.Close())

	o := fastBuffer(tr)
	logRange(t, o, 0, 200) // about 24 KiB
	waitFor(t, "the disk to be full", func() bool {
		s := o.Stats()
		return s.State == "failing" && strings.Contains(s.LastError, "write: no space left on device")
	})
	require.Less(t, o.Stats().Delivered, uint64(200))
	require.NoError(t, os.Remove(ballast))
	waitDelivered(t, o, 200)
	s := closeOutput(t, o)
	require.Equal(t, uint64(200), s.Delivered)
	require.Zero(t, s.Dropped.Total())
	require.Equal(t, span(0, 200), seqsOf(t, tr.path))
	require.Positive(t, tr.resumed, "no write was cut short: the test did not test that")
}

// Permissions taken away for real, for root too: the directory becomes a read-only bind mount
// of itself. The file already open keeps taking writes (it was opened through the writable
// mount); the rotation cannot rename (EROFS) and fails until the mount is gone.
func TestReadOnlyBindMount(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "logs")
	require.NoError(t, os.Mkdir(dir, 0o750))
	one := len(record(0))
	tr := newTransport(t, dir, 150*one, 5)
	o := fastBuffer(tr)
	logRange(t, o, 0, 10)
	waitDelivered(t, o, 10)

	mount(t, dir, dir, "", syscall.MS_BIND, "")
	mount(t, "", dir, "", syscall.MS_REMOUNT|syscall.MS_BIND|syscall.MS_RDONLY, "")
	_, err := os.OpenFile(filepath.Join(dir, "probe"), os.O_CREATE|os.O_WRONLY, 0o640)
	require.ErrorIs(t, err, syscall.EROFS)

	logRange(t, o, 10, 100) // into the open file: fine
	waitDelivered(t, o, 100)
	require.Empty(t, o.Stats().LastError)
	logRange(t, o, 100, 200) // passes MaxSize: the rotation cannot rename
	waitFor(t, "the rename error", func() bool {
		return strings.Contains(o.Stats().LastError, "rotate: read-only file system")
	})
	require.NoError(t, syscall.Unmount(dir, syscall.MNT_DETACH))
	waitDelivered(t, o, 200)
	s := closeOutput(t, o)
	require.Equal(t, uint64(200), s.Delivered)
	require.Equal(t, span(0, 200), seqsOf(t, files(t, tr)...))
	require.Equal(t, 1, tr.rotations)
}
