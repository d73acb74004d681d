// Package file is the file transport of "path D": batches of vlog's JSON records appended to a
// log file on a volume shared with an agent that tails it (a Fluent Bit sidecar with the tail
// input), rotated by size by renaming, never by copying and truncating. It plugs into
// go.vlog.dev/handlers/output as an output.Transport, behind an output.Buffered like the network
// transports: Send runs on the buffer's goroutine, so a slow or failing disk never blocks a log
// call; the buffer retries a failed batch with backoff and counts what it drops.
//
// # Rotation and the agent
//
// When a batch would take the file past MaxSize, the file moves to
// <name>.<UTC time of the rotation> (app.log -> app.log.20261201T230319.123456789Z: fixed width,
// so the names sort by age; the time never goes backwards, even when the clock does or after a
// restart) and a new file takes the name. On Linux (amd64, arm64; ext4, xfs, btrfs, tmpfs,
// overlayfs) the new file is created at the rotated name and the two names are exchanged in one
// step (renameat2 RENAME_EXCHANGE), so the live name never goes missing; elsewhere (NFS, other
// systems) the file is renamed, then the new one created. Nothing is copied or truncated: an
// agent following files by inode (Fluent Bit's tail) reads the moved file to its end, within its
// Rotate_Wait, and opens the new one as soon as it sees the move. Beyond MaxFiles rotated files,
// the oldest are removed, synchronously, in the Send that rotates: the transport has no
// goroutine of its own.
//
// Point the agent at the live name only: Fluent Bit `Path /var/log/app/app.log`, not
// `app.log*`. A pattern that also matches the rotated names makes the agent read a rotated file
// a second time, as a new file, once its Rotate_Wait is over: every record twice. No record is
// lost as long as (1) the agent stays behind the writer by less than its Rotate_Wait, (2) by
// less than MaxFiles files (Fluent Bit drops a file removed under it with what it had not read
// yet), and (3) a file lasts longer than the agent takes to find the new one: at once with the
// exchange, else at the agent's next scan (Refresh_Interval). examples/fluent-bit/sidecar.conf
// is a configuration that meets this, with the numbers explained; the gated test
// TestSidecarFluentBit runs it with a real Fluent Bit.
//
// # Faults
//
// Send returns an error, for the buffer to retry the batch after a backoff (the error shows in
// Stats.LastError and Hooks.OnError), and never panics:
//
//   - A write error (disk full: ENOSPC, EDQUOT; EIO) fails the batch. When the write was cut
//     short, the bytes that made it stay in the file and the transport remembers how many: when
//     the same batch comes again (the same bytes: the buffer sends a failed batch again as is),
//     only the rest is written, so the file holds every record of the batch once and no half
//     line. (Truncating the file back instead would make a tailing agent see a truncation and
//     read the file again from its start.) If a different batch comes first (the buffer gave the
//     failed one up at Close's deadline), the fragment is ended with a newline: the agent then
//     sees one line that is not JSON (kept as text in "log"), and the records of the given-up
//     batch are counted as dropped although its first ones are in the file. An existing file
//     that ends in the middle of a line (the process died during a write) is ended the same
//     way before the first batch.
//   - The file removed or replaced under the writer: before each batch the transport compares
//     the open file with what the name leads to (os.SameFile: device and inode; one stat per
//     batch) and, if they differ, opens the name again, creating the file, so records never go
//     on into a deleted inode that nobody reads. Only the batches written between the removal
//     and the next Send are in the removed file.
//   - The directory removed: opening fails (ENOENT), Send fails until the directory exists
//     again, then the file is created and the batch written.
//   - Permissions changed: a file already open is written to as before; opening, and renaming at
//     rotation, fail (EACCES, EROFS) until the permission is back.
//
// A write that blocks in the kernel (a hung network file system) blocks the buffer's goroutine,
// and Close with it: use a local volume (on ECS, a task volume, on the task's ephemeral
// storage). Send does not fsync: the agent reads from the page cache; Close does. One transport
// writes one file: two on the same name would rotate each other's files.
//
// # Why not lumberjack
//
// gopkg.in/natefinch/lumberjack.v2, the Go ecosystem's rotating writer, renames and reopens too,
// but does not fit behind the buffer: a Write larger than MaxSize fails (a batch of up to
// MaxBatchSize would be retried forever), MaxSize is in whole megabytes, it removes and
// compresses old files in a goroutine of its own that Close does not stop, its rotated names
// (app-<time>.log, to the millisecond) keep the extension (a tail Path of *.log matches them:
// read twice) and collide within a millisecond (the rename then replaces a rotated file), it
// creates files 0600 (or with the old file's mode) subject to the umask, it does not notice a
// deleted file and writes on into the deleted inode, a write cut short leaves half a line that a
// retry duplicates, the live name is missing between its rename and its create, and it has a
// mutex of its own. This package is about 400 lines; the library's go.mod stays without it.
package file

import (
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"go.vlog.dev/handlers/output"
)

// DefaultMaxSize is Options.MaxSize's default: 64 MiB. With DefaultMaxFiles, at most
// 6 x 64 MiB = 384 MiB of a task's ephemeral storage (20 GiB on Fargate by default). A file
// lasts 64 MiB / write rate: 13 s at 5 MB/s (20,000 records/s of 250 bytes), far above the
// second an agent takes to notice a new file; and a rotated file stays 5 rotations (a minute at
// that rate), so the agent may fall behind by that much before a file is removed under it.
// Smaller files leave the agent less of both margins for the same storage; larger ones take
// more storage for the same number of files.
const DefaultMaxSize = 64 << 20

// DefaultMaxFiles is Options.MaxFiles' default: 5 rotated files kept besides the current one.
const DefaultMaxFiles = 5

// Options configure a Transport. The zero value means the defaults stated per field, except
// Path, which is required.
type Options struct {
	// Path is the file written, e.g. /var/log/app/app.log. Its directory must exist and be
	// writable; the file is created (mode 0640, whatever the umask) or appended to (an
	// existing file keeps its mode). Required.
	Path string
	// MaxSize is the size in bytes past which the file is rotated: a batch that would take the
	// file past it goes into a new file. A single batch larger than MaxSize still goes into
	// one file, whole: a line is never split. Default DefaultMaxSize (64 MiB).
	MaxSize int
	// MaxFiles is the number of rotated files kept besides the current one; the oldest beyond
	// it are removed at each rotation. Default DefaultMaxFiles (5).
	MaxFiles int
}

// Transport is an output.Transport that appends each batch to a file with one write, rotating
// by size (see the package documentation for the rotation, the agent and the faults). It is
// safe for concurrent use, although output.Buffered makes one Send at a time.
type Transport struct {
	path     string // Options.Path, cleaned
	dir      string
	base     string
	maxSize  int64
	maxFiles int

	mu       sync.Mutex
	f        *os.File
	fi       os.FileInfo // of f, for os.SameFile
	size     int64       // bytes in f
	partial  *partial    // the batch a failed write cut short, if any
	lastName time.Time   // time in the newest rotated name: the next one is later
	closed   bool

	noExchange bool // the file system cannot exchange names (see rotate)

	// Counters, for tests.
	rotations, exchanges, reopens, removed, resumed int

	// Seams for tests; the os functions otherwise.
	openFile func(name string, flag int, perm fs.FileMode) (*os.File, error)
	write    func(f *os.File, p []byte) (int, error)
	exchange func(a, b string) error
	now      func() time.Time
}

// partial is a batch whose write was cut short: the first written bytes of a batch of size
// bytes (whose checksum is sum) are in the file fi, which then had end bytes.
type partial struct {
	size, written int
	sum           uint32
	fi            os.FileInfo
	end           int64
}

var _ output.Transport = (*Transport)(nil)

// rotatedLayout is the time in a rotated file's name: UTC, fixed width, so that names sort
// by age.
const rotatedLayout = "20060102T150405.000000000Z"

// perm is the mode of the files created: the owner writes, the group (the agent's) reads.
const perm fs.FileMode = 0o640

// New checks opts and opens the file (creating it if needed), so that a wrong path, a missing
// directory or a file that cannot be written fails at setup. Errors about the path are
// *output.OptionError with Name "Path".
func New(opts *Options) (*Transport, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	bad := func(name, value, reason string) error {
		return &output.OptionError{Name: name, Value: value, Reason: reason}
	}
	if o.Path == "" {
		return nil, bad("Path", "", "the file to write is needed, e.g. /var/log/app/app.log")
	}
	if strings.HasSuffix(o.Path, "/") || strings.HasSuffix(o.Path, string(filepath.Separator)) {
		return nil, bad("Path", o.Path, "names a directory; want the file in it, e.g. "+filepath.Join(o.Path, "app.log"))
	}
	switch {
	case o.MaxSize == 0:
		o.MaxSize = DefaultMaxSize
	case o.MaxSize < 0:
		return nil, bad("MaxSize", strconv.Itoa(o.MaxSize), "want a positive size in bytes")
	}
	switch {
	case o.MaxFiles == 0:
		o.MaxFiles = DefaultMaxFiles
	case o.MaxFiles < 0:
		return nil, bad("MaxFiles", strconv.Itoa(o.MaxFiles), "want at least 1: the agent reads a rotated file after the rotation")
	}
	path := filepath.Clean(o.Path)
	t := &Transport{
		path:     path,
		dir:      filepath.Dir(path),
		base:     filepath.Base(path),
		maxSize:  int64(o.MaxSize),
		maxFiles: o.MaxFiles,
		openFile: os.OpenFile,
		write:    (*os.File).Write,
		exchange: exchange,
		now:      time.Now,
	}
	if st, err := os.Stat(t.dir); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, bad("Path", o.Path, "the directory "+t.dir+" does not exist")
		}
		if errors.Is(err, syscall.ENOTDIR) {
			return nil, bad("Path", o.Path, "a parent of "+t.dir+" is not a directory")
		}
		return nil, bad("Path", o.Path, "the directory: "+errText(err))
	} else if !st.IsDir() {
		return nil, bad("Path", o.Path, t.dir+" is not a directory")
	}
	if st, err := os.Stat(path); err == nil && !st.Mode().IsRegular() {
		if st.IsDir() {
			return nil, bad("Path", o.Path, "is a directory; want the file in it, e.g. "+filepath.Join(path, "app.log"))
		}
		return nil, bad("Path", o.Path, "is not a regular file ("+st.Mode().Type().String()+"): it could not be rotated")
	}
	if err := t.open(); err != nil {
		if inner := errors.Unwrap(err); inner != nil {
			err = inner // without open's "open: "
		}
		return nil, bad("Path", o.Path, "cannot be opened for writing: "+errText(err))
	}
	t.lastName = t.newestRotated()
	return t, nil
}

// errText is err's message without the path that os errors repeat.
func errText(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

// Name returns "file".
func (t *Transport) Name() string { return "file" }

// Close syncs and closes the file. A Send after Close fails.
func (t *Transport) Close() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return nil
	}
	t.closed = true
	if t.f == nil {
		return nil
	}
	_ = t.f.Sync()
	err := t.f.Close()
	t.f = nil
	if err != nil {
		return fmt.Errorf("vlog: file %s: close: %w", t.path, err)
	}
	return nil
}

var errClosed = errors.New("vlog: file: transport closed")

// Send appends b.Data to the file with one write, rotating first when the file would grow past
// MaxSize (unless it is empty). It returns nil when the whole batch is in the file (in the
// kernel's page cache, where the agent reads it; it does not fsync). On an error the buffer sends
// the batch again; see the package documentation for what is written then. A write cannot be
// interrupted: ctx is checked before it.
func (t *Transport) Send(ctx context.Context, b *output.Batch) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return errClosed
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if len(b.Data) == 0 {
		return nil
	}
	if err := t.send(b.Data); err != nil {
		return fmt.Errorf("vlog: file %s: %w", t.path, err)
	}
	return nil
}

func (t *Transport) send(data []byte) error {
	if err := t.check(); err != nil {
		return err
	}
	skip := 0 // bytes of data already in the file
	if p := t.partial; p != nil {
		inPlace := os.SameFile(p.fi, t.fi) && p.end == t.size
		switch {
		case inPlace && p.size == len(data) && crc32.ChecksumIEEE(data[:p.written]) == p.sum:
			skip = p.written // the same batch again: write the rest
			t.resumed++
		case inPlace:
			// Another batch: end the fragment, so that its first record starts a line.
			if err := t.writeAll([]byte{'\n'}, 0, nil); err != nil {
				return err // the fragment is still open: t.partial stays
			}
		}
		// Otherwise the fragment is in a file that was removed or replaced since.
		t.partial = nil
	}
	if skip == 0 && t.size > 0 && t.size+int64(len(data)) > t.maxSize {
		if err := t.rotate(); err != nil {
			return err
		}
	}
	return t.writeAll(data, skip, data)
}

// writeAll writes p[skip:]; on an error after a partial write it remembers, for batch (nil for
// the newline), what made it into the file.
func (t *Transport) writeAll(p []byte, skip int, batch []byte) error {
	n, err := t.write(t.f, p[skip:])
	t.size += int64(n)
	if err == nil && skip+n < len(p) {
		err = errors.New("short write")
	}
	if err == nil {
		return nil
	}
	if done := skip + n; done > 0 {
		if batch == nil {
			// The newline ending a fragment did not make it: the fragment is still open.
			return fmt.Errorf("write: %w", unwrapPath(err))
		}
		t.partial = &partial{size: len(batch), written: done, sum: crc32.ChecksumIEEE(batch[:done]), fi: t.fi, end: t.size}
	}
	return fmt.Errorf("write: %w", unwrapPath(err))
}

// unwrapPath drops the *fs.PathError around err: Send names the file once.
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// check makes t.f the file the path leads to: it opens the path if no file is open, or if the
// open one was removed or replaced (then records would go to an inode nobody reads).
func (t *Transport) check() error {
	if t.f != nil {
		st, err := os.Stat(t.path)
		switch {
		case err == nil && os.SameFile(st, t.fi):
			return nil
		case err == nil, errors.Is(err, fs.ErrNotExist), errors.Is(err, syscall.ENOTDIR):
			// Removed, or replaced by another file: open the name again.
			_ = t.f.Close()
			t.f, t.fi = nil, nil
			t.reopens++
		default:
			// Cannot tell (the directory is not searchable any more): the open file still
			// takes writes.
			return nil
		}
	}
	return t.open()
}

// open opens the path for appending, creating it with mode 0640 if it does not exist.
func (t *Transport) open() error {
	f, st, err := t.openAt(t.path, false)
	if err != nil {
		return fmt.Errorf("open: %w", err)
	}
	t.f, t.fi, t.size = f, st, st.Size()
	if t.size > 0 && !endsLine(t.path, t.size) {
		// An existing file ending in the middle of a line (a crash during a write): the next
		// batch ends that line first (see send).
		t.partial = &partial{size: -1, fi: st, end: t.size}
	}
	return nil
}

// endsLine reports whether the file at name, of size bytes, ends with a newline (or cannot be
// read: then nothing is added).
func endsLine(name string, size int64) bool {
	f, err := os.Open(name)
	if err != nil {
		return true
	}
	defer f.Close()
	var b [1]byte
	if _, err := f.ReadAt(b[:], size-1); err != nil {
		return true
	}
	return b[0] == '\n'
}

// openAt opens name for appending, creating it with mode 0640 if it does not exist; with
// create, it must not exist.
func (t *Transport) openAt(name string, create bool) (*os.File, os.FileInfo, error) {
	f, err := t.openFile(name, os.O_WRONLY|os.O_APPEND|os.O_CREATE|os.O_EXCL, perm)
	created := err == nil
	if !create && errors.Is(err, fs.ErrExist) {
		f, err = t.openFile(name, os.O_WRONLY|os.O_APPEND, 0)
	}
	if err != nil {
		return nil, nil, unwrapPath(err)
	}
	st, err := f.Stat()
	if err == nil && !st.Mode().IsRegular() {
		err = errors.New("not a regular file")
	}
	if err == nil && created && st.Mode().Perm() != perm {
		err = f.Chmod(perm) // the umask took bits away
	}
	if err != nil {
		_ = f.Close()
		return nil, nil, unwrapPath(err)
	}
	return f, st, nil
}

// rotate moves the file to its rotated name, puts a new one at the path, and removes the
// oldest rotated files beyond MaxFiles.
//
// Where it can (Linux on amd64 and arm64, on ext4, xfs, btrfs, tmpfs, overlayfs), it creates
// the new file at the rotated name and exchanges the two names in one step (renameat2 with
// RENAME_EXCHANGE), so that the path never goes missing: an agent that sees the old file
// renamed finds the new one at the path at once. Elsewhere (NFS, other systems) it renames,
// then creates the new file: an agent looking in between (microseconds) finds the new file
// only at its next scan of the path (Fluent Bit's Refresh_Interval).
func (t *Transport) rotate() error {
	ts := t.now().UTC().Truncate(0)
	if !ts.After(t.lastName) {
		ts = t.lastName.Add(time.Nanosecond) // the clock went back, or two rotations in 1 ns
	}
	name := t.rotatedName(ts)
	for i := 0; i < 100; i++ {
		if _, err := os.Lstat(name); errors.Is(err, fs.ErrNotExist) {
			break
		}
		ts = ts.Add(time.Nanosecond) // taken (by a file of an earlier process)
		name = t.rotatedName(ts)
	}
	if !t.noExchange {
		f, st, err := t.openAt(name, true)
		if err != nil {
			return fmt.Errorf("rotate: %w", err)
		}
		err = t.exchange(name, t.path)
		if err == nil {
			_ = t.f.Close()
			t.f, t.fi, t.size = f, st, 0
			t.lastName = ts
			t.rotations++
			t.exchanges++
			return t.removeOld()
		}
		_ = f.Close()
		_ = os.Remove(name)
		// Rename, then create, instead: for good where the exchange is not available (EINVAL:
		// not on this file system; ENOSYS: an old kernel; EPERM: a seccomp filter), this
		// time for any other error (the rename reports it if it fails too).
		if errors.Is(err, syscall.EINVAL) || errors.Is(err, syscall.ENOSYS) || errors.Is(err, syscall.EPERM) {
			t.noExchange = true
		}
	}
	if err := os.Rename(t.path, name); err != nil {
		return fmt.Errorf("rotate: %w", unwrapLink(err))
	}
	t.lastName = ts
	t.rotations++
	_ = t.f.Close()
	t.f, t.fi = nil, nil
	if err := t.open(); err != nil {
		return err
	}
	return t.removeOld()
}

func unwrapLink(err error) error {
	var le *os.LinkError
	if errors.As(err, &le) {
		return le.Err
	}
	return err
}

func (t *Transport) rotatedName(ts time.Time) string {
	return filepath.Join(t.dir, t.base+"."+ts.Format(rotatedLayout))
}

// rotated returns the rotated files of the path, oldest first, with their times.
func (t *Transport) rotated() ([]string, []time.Time, error) {
	entries, err := os.ReadDir(t.dir)
	if err != nil {
		return nil, nil, err
	}
	var names []string
	var times []time.Time
	prefix := t.base + "."
	for _, e := range entries { // sorted by name: by age
		name := e.Name()
		if !strings.HasPrefix(name, prefix) || len(name) != len(prefix)+len(rotatedLayout) {
			continue
		}
		ts, err := time.Parse(rotatedLayout, name[len(prefix):])
		if err != nil || !e.Type().IsRegular() {
			continue // not one of ours
		}
		names = append(names, filepath.Join(t.dir, name))
		times = append(times, ts)
	}
	return names, times, nil
}

// newestRotated returns the time of the newest rotated file, zero if none.
func (t *Transport) newestRotated() time.Time {
	_, times, _ := t.rotated()
	if len(times) == 0 {
		return time.Time{}
	}
	return times[len(times)-1]
}

// removeOld removes the oldest rotated files beyond MaxFiles.
func (t *Transport) removeOld() error {
	names, _, err := t.rotated()
	if err != nil {
		return fmt.Errorf("list rotated files: %w", unwrapPath(err))
	}
	var errs []error
	for _, name := range names[:max(0, len(names)-t.maxFiles)] {
		if err := os.Remove(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
			continue
		}
		t.removed++
	}
	if len(errs) > 0 {
		return fmt.Errorf("remove rotated files: %w", errors.Join(errs...))
	}
	return nil
}
