package file

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"go.vlog.dev/handlers"
	"go.vlog.dev/handlers/output"
	"go.vlog.dev/handlers/output/outputtest"
	"go.vlog.dev/internal/vtest"
)

// ---- helpers ----

// record returns the JSON line of record seq, as the handler would write it.
func record(seq int) []byte {
	return fmt.Appendf(nil, `{"event_time":"2026-12-01T23:03:19.123456789Z","level":"info","msg":"order created","service":"order-api","seq":%d}`+"\n", seq)
}

// batchOf returns a batch of the records from..to-1.
func batchOf(from, to int) *output.Batch {
	b := &output.Batch{Seq: uint64(from + 1)}
	for i := from; i < to; i++ {
		b.Data = append(b.Data, record(i)...)
		b.Records++
	}
	return b
}

// newTransport returns a transport on dir/app.log with a clock that moves 1s per rotation.
func newTransport(t *testing.T, dir string, maxSize, maxFiles int) *Transport {
	t.Helper()
	tr, err := New(&Options{Path: filepath.Join(dir, "app.log"), MaxSize: maxSize, MaxFiles: maxFiles})
	require.NoError(t, err)
	t.Cleanup(func() { _ = tr.Close() })
	clock := time.Date(2026, 12, 1, 23, 3, 19, 0, time.UTC)
	tr.now = func() time.Time { clock = clock.Add(time.Second); return clock }
	return tr
}

// fastBuffer returns a Buffered in front of tr that retries within milliseconds.
func fastBuffer(tr output.Transport) *output.Buffered {
	return output.NewBuffered(tr, &output.BufferOptions{
		BatchSize: 4 << 10,
		BatchAge:  time.Millisecond,
		RetryMin:  time.Millisecond,
		RetryMax:  5 * time.Millisecond,
	}, output.Hooks{})
}

// logRange writes the records from..to-1 to o, one per Write, as a handler does.
func logRange(t *testing.T, o output.Output, from, to int) {
	t.Helper()
	for i := from; i < to; i++ {
		_, err := o.Write(record(i))
		require.NoError(t, err)
	}
}

// waitFor polls cond for up to 10s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func waitDelivered(t *testing.T, o *output.Buffered, n uint64) {
	t.Helper()
	waitFor(t, fmt.Sprintf("%d records delivered", n), func() bool { return o.Stats().Delivered >= n })
}

// closeOutput closes o and checks that every record was accounted for.
func closeOutput(t *testing.T, o *output.Buffered) output.Stats {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, o.Close(ctx))
	s := o.Stats()
	vtest.CheckInvariant(t, s)
	return s
}

// seqsIn returns the seq of every line of data, in order; every line must be one of record's.
func seqsIn(t *testing.T, data []byte) []int {
	t.Helper()
	var seqs []int
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var r struct{ Seq *int }
		require.NoError(t, json.Unmarshal(sc.Bytes(), &r), "line %q", sc.Bytes())
		require.NotNil(t, r.Seq, "line %q", sc.Bytes())
		require.Equal(t, string(record(*r.Seq)), sc.Text()+"\n")
		seqs = append(seqs, *r.Seq)
	}
	require.NoError(t, sc.Err())
	require.True(t, len(data) == 0 || data[len(data)-1] == '\n', "the file ends in the middle of a line")
	return seqs
}

func seqsOf(t *testing.T, paths ...string) []int {
	t.Helper()
	var all []int
	for _, p := range paths {
		data, err := os.ReadFile(p)
		require.NoError(t, err)
		all = append(all, seqsIn(t, data)...)
	}
	return all
}

func span(from, to int) []int {
	var s []int
	for i := from; i < to; i++ {
		s = append(s, i)
	}
	return s
}

// files returns the rotated files (oldest first) and then the live one.
func files(t *testing.T, tr *Transport) []string {
	t.Helper()
	names, _, err := tr.rotated()
	require.NoError(t, err)
	return append(names, tr.path)
}

// ---- options ----

func TestNewErrors(t *testing.T) {
	dir := t.TempDir()
	plain := filepath.Join(dir, "plain")
	require.NoError(t, os.WriteFile(plain, nil, 0o600))
	f := func(opts *Options, name, reason string) {
		t.Helper()
		tr, err := New(opts)
		require.Nil(t, tr)
		var oe *output.OptionError
		require.ErrorAs(t, err, &oe)
		require.Equal(t, name, oe.Name)
		require.Contains(t, oe.Reason, reason)
		require.Contains(t, err.Error(), "vlog: invalid "+name)
	}
	f(nil, "Path", "the file to write is needed")
	f(&Options{}, "Path", "the file to write is needed")
	f(&Options{Path: filepath.Join(dir, "missing", "app.log")}, "Path", "the directory "+filepath.Join(dir, "missing")+" does not exist")
	f(&Options{Path: filepath.Join(plain, "app.log")}, "Path", plain+" is not a directory")
	f(&Options{Path: filepath.Join(plain, "sub", "app.log")}, "Path", "is not a directory")
	f(&Options{Path: dir}, "Path", "is a directory; want the file in it, e.g. "+filepath.Join(dir, "app.log"))
	f(&Options{Path: dir + "/"}, "Path", "names a directory")
	f(&Options{Path: os.DevNull}, "Path", "is not a regular file")
	f(&Options{Path: filepath.Join(dir, "app.log"), MaxSize: -1}, "MaxSize", "want a positive size")
	f(&Options{Path: filepath.Join(dir, "app.log"), MaxFiles: -1}, "MaxFiles", "want at least 1")
	// Not writable. Root writes into a read-only directory anyway: then see
	// TestNewReadOnlyFileSystem (a read-only mount, which root cannot write either).
	if os.Geteuid() != 0 {
		ro := filepath.Join(dir, "ro")
		require.NoError(t, os.Mkdir(ro, 0o500))
		f(&Options{Path: filepath.Join(ro, "app.log")}, "Path", "cannot be opened for writing: permission denied")
	}
	// Nothing was created by the failures.
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	for _, e := range entries {
		require.Contains(t, []string{"plain", "ro"}, e.Name())
	}
}

func TestNewDefaults(t *testing.T) {
	dir := t.TempDir()
	tr, err := New(&Options{Path: filepath.Join(dir, ".", "app.log")})
	require.NoError(t, err)
	defer tr.Close()
	require.Equal(t, "file", tr.Name())
	require.Equal(t, int64(DefaultMaxSize), tr.maxSize)
	require.Equal(t, DefaultMaxFiles, tr.maxFiles)
	require.Equal(t, filepath.Join(dir, "app.log"), tr.path)
	// New creates the file at once: the agent can start tailing it before the first record.
	st, err := os.Stat(filepath.Join(dir, "app.log"))
	require.NoError(t, err)
	require.Zero(t, st.Size())
}

// An existing file is appended to, and its size counts toward MaxSize.
func TestExistingFileAppended(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "app.log")
	require.NoError(t, os.WriteFile(path, batchOf(0, 3).Data, 0o600))
	one := len(record(0))
	tr := newTransport(t, dir, 4*one, 5)
	require.NoError(t, tr.Send(context.Background(), batchOf(3, 4)))
	require.Equal(t, span(0, 4), seqsOf(t, path))
	require.Zero(t, tr.rotations)
	require.NoError(t, tr.Send(context.Background(), batchOf(4, 5)))
	require.Equal(t, 1, tr.rotations, "4 records fill MaxSize: the fifth goes into a new file")
	require.Equal(t, span(0, 5), seqsOf(t, files(t, tr)...))
}

// An existing file that ends in the middle of a line (the process died during a write): the
// first batch starts on a line of its own.
func TestExistingFileWithoutNewline(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "app.log")
	half := record(0)[:20]
	require.NoError(t, os.WriteFile(path, half, 0o640))
	tr := newTransport(t, dir, 1<<20, 5)
	require.NoError(t, tr.Send(context.Background(), batchOf(1, 3)))
	require.NoError(t, tr.Send(context.Background(), batchOf(3, 4)))
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, string(half)+"\n"+string(batchOf(1, 4).Data), string(data))
}

// ---- rotation ----

func TestRotation(t *testing.T) {
	dir := t.TempDir()
	one := len(record(0))
	tr := newTransport(t, dir, 3*one, 2)
	ctx := context.Background()
	send := func(from, to int) {
		t.Helper()
		require.NoError(t, tr.Send(ctx, batchOf(from, to)))
	}
	contents := func() [][]int {
		var out [][]int
		for _, p := range files(t, tr) {
			out = append(out, seqsOf(t, p))
		}
		return out
	}
	send(0, 2)
	send(2, 3) // exactly MaxSize: no rotation
	require.Equal(t, [][]int{{0, 1, 2}}, contents())
	send(3, 4) // would pass MaxSize: rotated first
	require.Equal(t, [][]int{{0, 1, 2}, {3}}, contents())
	send(4, 9) // larger than MaxSize: a file of its own, whole
	require.Equal(t, [][]int{{0, 1, 2}, {3}, {4, 5, 6, 7, 8}}, contents())
	send(9, 10) // the live file is over MaxSize: rotated; MaxFiles 2: the oldest goes
	require.Equal(t, [][]int{{3}, {4, 5, 6, 7, 8}, {9}}, contents())
	require.Equal(t, 3, tr.rotations)
	require.Equal(t, 1, tr.removed)

	// The names: the live name plus the time of the rotation, sorting by age.
	var names []string
	for _, p := range files(t, tr) {
		names = append(names, filepath.Base(p))
	}
	require.Equal(t, []string{
		"app.log.20261201T230321.000000000Z",
		"app.log.20261201T230322.000000000Z",
		"app.log",
	}, names)
	// A batch into an empty file never rotates it, however large.
	tr2 := newTransport(t, t.TempDir(), 10, 2)
	require.NoError(t, tr2.Send(ctx, batchOf(0, 3)))
	require.Zero(t, tr2.rotations)
}

// The files of others in the directory (and names that only look alike) are never removed.
func TestRotationRemovesOnlyItsOwn(t *testing.T) {
	dir := t.TempDir()
	keep := []string{"app.log.gz", "app.log.1", "app.log.20261201T230319Z", "other.log.20261201T230319.000000000Z", "app.log.bak"}
	for _, n := range keep {
		require.NoError(t, os.WriteFile(filepath.Join(dir, n), nil, 0o600))
	}
	require.NoError(t, os.Mkdir(filepath.Join(dir, "app.log.20000101T000000.000000000Z"), 0o700))
	tr := newTransport(t, dir, 1, 1)
	for i := range 5 {
		require.NoError(t, tr.Send(context.Background(), batchOf(i, i+1)))
	}
	require.Equal(t, 4, tr.rotations)
	require.Equal(t, 3, tr.removed)
	for _, n := range append(keep, "app.log.20000101T000000.000000000Z") {
		_, err := os.Stat(filepath.Join(dir, n))
		require.NoError(t, err, n)
	}
	require.Equal(t, []int{3, 4}, seqsOf(t, files(t, tr)...))
}

// Names keep sorting by age when the clock goes back or stands still, and after a restart.
func TestRotatedNamesMonotonic(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "app.log")
	at := time.Date(2026, 12, 1, 23, 3, 19, 0, time.UTC)
	clock := []time.Time{at, at, at.Add(-time.Hour), at.Add(time.Second)}
	tr, err := New(&Options{Path: path, MaxSize: 1, MaxFiles: 10})
	require.NoError(t, err)
	tr.now = func() time.Time { now := clock[0]; clock = clock[1:]; return now }
	for i := range 5 {
		require.NoError(t, tr.Send(context.Background(), batchOf(i, i+1)))
	}
	require.NoError(t, tr.Close())
	var names []string
	for _, p := range files(t, tr) {
		names = append(names, filepath.Base(p))
	}
	require.Equal(t, []string{
		"app.log.20261201T230319.000000000Z",
		"app.log.20261201T230319.000000001Z",
		"app.log.20261201T230319.000000002Z",
		"app.log.20261201T230320.000000000Z",
		"app.log",
	}, names)
	require.Equal(t, span(0, 5), seqsOf(t, files(t, tr)...))

	// A new process (a restart) with a clock behind the names on disk continues after them.
	tr2, err := New(&Options{Path: path, MaxSize: 1, MaxFiles: 10})
	require.NoError(t, err)
	defer tr2.Close()
	tr2.now = func() time.Time { return at.Add(-time.Hour) }
	require.NoError(t, tr2.Send(context.Background(), batchOf(5, 6)))
	require.Equal(t, span(0, 6), seqsOf(t, files(t, tr2)...))
	last, _, _ := tr2.rotated()
	require.Equal(t, "app.log.20261201T230320.000000001Z", filepath.Base(last[len(last)-1]))
}

// Rotation renames: an agent that holds the file open (by inode) reads the end of the old file,
// and the renamed file is the same inode.
func TestRotationKeepsInodes(t *testing.T) {
	dir := t.TempDir()
	one := len(record(0))
	tr := newTransport(t, dir, 10*one, 5)
	ctx := context.Background()
	require.NoError(t, tr.Send(ctx, batchOf(0, 5)))

	agent, err := os.Open(tr.path) // what tail does
	require.NoError(t, err)
	defer agent.Close()
	before, err := agent.Stat()
	require.NoError(t, err)
	head := make([]byte, 2*one)
	_, err = io.ReadFull(agent, head) // the agent has read two records so far

	require.NoError(t, err)
	require.NoError(t, tr.Send(ctx, batchOf(5, 10))) // fills the file
	require.NoError(t, tr.Send(ctx, batchOf(10, 12)))
	require.Equal(t, 1, tr.rotations)

	rest, err := io.ReadAll(agent) // the agent reads on from its offset, to the end
	require.NoError(t, err)
	require.Equal(t, span(0, 10), seqsIn(t, append(head, rest...)))

	names := files(t, tr)
	require.Len(t, names, 2)
	old, err := os.Stat(names[0])
	require.NoError(t, err)
	require.True(t, os.SameFile(before, old), "the rotated file is the inode the agent has open")
	live, err := os.Stat(names[1])
	require.NoError(t, err)
	require.False(t, os.SameFile(before, live), "the live name is a new inode")
	require.Equal(t, span(10, 12), seqsOf(t, names[1]))
}

// While the file rotates, the path never goes missing where the names can be exchanged
// (Linux on amd64 and arm64): an agent that sees the rename finds the new file at once. Without
// the exchange (forced here), rotation renames then creates, and the same contents result.
func TestRotationPathNeverMissing(t *testing.T) {
	for _, exchange := range []bool{true, false} {
		t.Run(fmt.Sprintf("exchange=%v", exchange), func(t *testing.T) {
			tr := newTransport(t, t.TempDir(), 1, 3)
			if !exchange {
				tr.exchange = func(a, b string) error { return syscall.EINVAL }
			}
			var stop atomic.Bool
			var looks, missing atomic.Int64
			var wg sync.WaitGroup
			wg.Add(1)
			go func() { // an agent looking at the path as fast as it can
				defer wg.Done()
				for !stop.Load() {
					if _, err := os.Stat(tr.path); errors.Is(err, fs.ErrNotExist) {
						missing.Add(1)
					}
					looks.Add(1)
				}
			}()
			const n = 1000
			for i := range n {
				require.NoError(t, tr.Send(context.Background(), batchOf(i, i+1)))
			}
			stop.Store(true)
			wg.Wait()
			require.Equal(t, n-1, tr.rotations)
			require.Equal(t, span(n-4, n), seqsOf(t, files(t, tr)...))
			t.Logf("the path was missing %d times of %d looks", missing.Load(), looks.Load())
			if !exchange {
				require.Zero(t, tr.exchanges)
				require.True(t, tr.noExchange)
				return
			}
			if runtime.GOOS != "linux" || (runtime.GOARCH != "amd64" && runtime.GOARCH != "arm64") {
				t.Skip("no exchange on " + runtime.GOOS + "/" + runtime.GOARCH)
			}
			require.Equal(t, tr.rotations, tr.exchanges)
			require.Zero(t, missing.Load(), "the path went missing during a rotation")
		})
	}
}

// Through a Buffered, with records logged concurrently by the JSON handler: every record lands
// exactly once, in the files in order of rotation, none dropped.
func TestBufferedRotationEndToEnd(t *testing.T) {
	vtest.CheckNoLeak(t)
	dir := t.TempDir()
	tr, err := New(&Options{Path: filepath.Join(dir, "app.log"), MaxSize: 64 << 10, MaxFiles: 1000})
	require.NoError(t, err)
	o := output.NewBuffered(tr, &output.BufferOptions{BatchSize: 16 << 10, MaxBatchSize: 16 << 10, BatchAge: 5 * time.Millisecond}, output.Hooks{})
	logger := slog.New(handlers.NewJSONHandler(o, &handlers.Options{Service: "order-api", Env: "test", Version: "1"}))
	const goroutines, each = 4, 5000
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				logger.Info("order created", "g", g, "i", i, "pad", strings.Repeat("x", i%200))
			}
		}()
	}
	wg.Wait()
	s := closeOutput(t, o)
	require.Equal(t, uint64(goroutines*each), s.Delivered)
	require.Greater(t, tr.rotations, 20)

	next := make([]int, goroutines) // per goroutine, records arrive in the order logged
	for _, p := range files(t, tr) {
		data, err := os.ReadFile(p)
		require.NoError(t, err)
		require.LessOrEqual(t, len(data), 64<<10+16<<10+8<<10, "%s: MaxSize plus at most one batch", p)
		for _, line := range bytes.SplitAfter(data, []byte("\n")) {
			if len(line) == 0 {
				continue
			}
			m := vtest.Decode(t, line)
			g, _ := m["g"].(json.Number).Int64()
			i, _ := m["i"].(json.Number).Int64()
			require.Equal(t, next[g], int(i), "goroutine %d", g)
			next[g]++
		}
	}
	require.Equal(t, []int{each, each, each, each}, next)
}

// ---- faults ----

// A full disk (injected: a write that stops halfway with ENOSPC, then writes that write
// nothing): Send fails, the buffer retries, and when space is back the file holds every record
// once, with no half line.
func TestDiskFull(t *testing.T) {
	dir := t.TempDir()
	tr := newTransport(t, dir, 1<<20, 5)
	var faults atomic.Int32
	var partials atomic.Int32
	tr.write = func(f *os.File, p []byte) (int, error) {
		switch n := faults.Load(); {
		case n <= 0:
			return f.Write(p)
		case n%3 == 0 && len(p) > 1:
			// The disk fills up in the middle of the write.
			faults.Add(-1)
			partials.Add(1)
			k, _ := f.Write(p[:len(p)/2])
			return k, syscall.ENOSPC
		default:
			faults.Add(-1)
			return 0, syscall.ENOSPC
		}
	}
	o := fastBuffer(tr)
	logRange(t, o, 0, 100)
	waitDelivered(t, o, 100)
	faults.Store(9)
	logRange(t, o, 100, 300)
	waitDelivered(t, o, 300)
	s := closeOutput(t, o)
	require.Equal(t, uint64(300), s.Delivered)
	require.Zero(t, s.Dropped.Total())
	require.GreaterOrEqual(t, s.Retried, uint64(9))
	require.Contains(t, s.LastError, "vlog: file "+tr.path+": write: no space left on device")
	require.Equal(t, int32(3), partials.Load())
	require.Equal(t, 9, tr.resumed, "every attempt after the first cut resumes the same batch")
	require.Equal(t, span(0, 300), seqsOf(t, tr.path), "each record once, no fragment")
}

// After a write cut short, a different batch (the buffer gave the first one up) ends the
// fragment with a newline first, so that its records are whole lines.
func TestShortWriteThenAnotherBatch(t *testing.T) {
	dir := t.TempDir()
	tr := newTransport(t, dir, 1<<20, 5)
	ctx := context.Background()
	a, b := batchOf(0, 4), batchOf(4, 6)
	cut := len(record(0)) + 10
	tr.write = func(f *os.File, p []byte) (int, error) {
		k, _ := f.Write(p[:cut])
		return k, syscall.EIO
	}
	require.ErrorIs(t, tr.Send(ctx, a), syscall.EIO)
	tr.write = (*os.File).Write
	require.NoError(t, tr.Send(ctx, b))
	data, err := os.ReadFile(tr.path)
	require.NoError(t, err)
	want := append(append(append([]byte(nil), a.Data[:cut]...), '\n'), b.Data...)
	require.Equal(t, string(want), string(data))
	// The same batch after that is not taken for the rest of the first one.
	require.NoError(t, tr.Send(ctx, a))
	data, err = os.ReadFile(tr.path)
	require.NoError(t, err)
	require.Equal(t, string(append(want, a.Data...)), string(data))
}

// A write cut short and the file removed before the batch comes again: the whole batch goes
// into the new file.
func TestShortWriteThenFileRemoved(t *testing.T) {
	dir := t.TempDir()
	tr := newTransport(t, dir, 1<<20, 5)
	ctx := context.Background()
	a := batchOf(0, 4)
	tr.write = func(f *os.File, p []byte) (int, error) {
		k, _ := f.Write(p[:len(p)/2])
		return k, syscall.ENOSPC
	}
	require.Error(t, tr.Send(ctx, a))
	require.NoError(t, os.Remove(tr.path))
	tr.write = (*os.File).Write
	require.NoError(t, tr.Send(ctx, a))
	require.Equal(t, span(0, 4), seqsOf(t, tr.path))
	require.Equal(t, 1, tr.reopens)
}

// The file deleted under the writer: the next batch notices (the open file is not what the
// name leads to any more), opens the name again and writes there; the deleted inode keeps what
// it had.
func TestFileDeleted(t *testing.T) {
	dir := t.TempDir()
	tr := newTransport(t, dir, 1<<20, 5)
	o := fastBuffer(tr)
	logRange(t, o, 0, 100)
	waitDelivered(t, o, 100)
	agent, err := os.Open(tr.path) // an agent still holding the deleted file
	require.NoError(t, err)
	defer agent.Close()
	require.NoError(t, os.Remove(tr.path))
	logRange(t, o, 100, 200)
	waitDelivered(t, o, 200)

	// Replaced by another file (someone moved a file over it): the same.
	require.NoError(t, os.WriteFile(tr.path+".new", nil, 0o640))
	require.NoError(t, os.Rename(tr.path+".new", tr.path))
	logRange(t, o, 200, 300)
	s := closeOutput(t, o)
	require.Equal(t, uint64(300), s.Delivered)
	require.Equal(t, 2, tr.reopens)
	require.Equal(t, span(200, 300), seqsOf(t, tr.path))
	old, err := io.ReadAll(agent)
	require.NoError(t, err)
	require.Equal(t, span(0, 100), seqsIn(t, old))
}

// The directory removed: Send fails (and the buffer retries) until it exists again; then the
// file is created and nothing is lost of what was logged meanwhile.
func TestDirectoryRemoved(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "logs")
	require.NoError(t, os.Mkdir(dir, 0o750))
	tr := newTransport(t, dir, 1<<20, 5)
	o := fastBuffer(tr)
	logRange(t, o, 0, 100)
	waitDelivered(t, o, 100)
	require.NoError(t, os.RemoveAll(dir))
	logRange(t, o, 100, 200)
	waitFor(t, "the open error", func() bool {
		s := o.Stats()
		return s.State == "failing" && strings.Contains(s.LastError, "open: no such file or directory")
	})
	require.Equal(t, uint64(100), o.Stats().Delivered)
	require.NoError(t, os.Mkdir(dir, 0o750))
	waitDelivered(t, o, 200)
	s := closeOutput(t, o)
	require.Equal(t, uint64(200), s.Delivered)
	require.Zero(t, s.Dropped.Total())
	require.Positive(t, s.Retried)
	require.Equal(t, span(100, 200), seqsOf(t, tr.path))
}

// Opening fails (permission denied, injected: root is never denied): errors until it works
// again; a file already open keeps taking writes.
func TestOpenDenied(t *testing.T) {
	dir := t.TempDir()
	tr := newTransport(t, dir, 1<<20, 5)
	var deny atomic.Bool
	tr.openFile = func(name string, flag int, perm fs.FileMode) (*os.File, error) {
		if deny.Load() {
			return nil, &fs.PathError{Op: "open", Path: name, Err: syscall.EACCES}
		}
		return os.OpenFile(name, flag, perm)
	}
	o := fastBuffer(tr)
	deny.Store(true)
	logRange(t, o, 0, 100) // the open file is written to: no open needed
	waitDelivered(t, o, 100)
	require.NoError(t, os.Remove(tr.path)) // now the name must be opened again
	logRange(t, o, 100, 200)
	waitFor(t, "the open error", func() bool {
		return strings.Contains(o.Stats().LastError, "vlog: file "+tr.path+": open: permission denied")
	})
	deny.Store(false)
	waitDelivered(t, o, 200)
	s := closeOutput(t, o)
	require.Equal(t, uint64(200), s.Delivered)
	require.Equal(t, span(100, 200), seqsOf(t, tr.path))
}

// Real permissions, for a user that is not root: a directory and a file made read-only keep
// the open file writable; the rotation (a rename) then fails until the permission is back.
func TestPermissionChanged(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root ignores permissions: TestOpenDenied injects the error, TestReadOnlyBindMount makes it for real")
	}
	dir := filepath.Join(t.TempDir(), "logs")
	require.NoError(t, os.Mkdir(dir, 0o750))
	one := len(record(0))
	tr := newTransport(t, dir, 150*one, 5)
	o := fastBuffer(tr)
	require.NoError(t, os.Chmod(tr.path, 0o400))
	require.NoError(t, os.Chmod(dir, 0o500))
	defer os.Chmod(dir, 0o750)
	logRange(t, o, 0, 100)
	waitDelivered(t, o, 100)
	logRange(t, o, 100, 200) // passes MaxSize: the rotation cannot rename
	waitFor(t, "the rename error", func() bool {
		return strings.Contains(o.Stats().LastError, "rotate: permission denied")
	})
	require.NoError(t, os.Chmod(dir, 0o750))
	waitDelivered(t, o, 200)
	closeOutput(t, o)
	require.Equal(t, span(0, 200), seqsOf(t, files(t, tr)...))
}

func TestSendAfterClose(t *testing.T) {
	tr := newTransport(t, t.TempDir(), 1<<20, 5)
	require.NoError(t, tr.Close())
	require.NoError(t, tr.Close())
	require.ErrorIs(t, tr.Send(context.Background(), batchOf(0, 1)), errClosed)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	tr2 := newTransport(t, t.TempDir(), 1<<20, 5)
	require.ErrorIs(t, tr2.Send(ctx, batchOf(0, 1)), context.Canceled)
	require.NoError(t, tr2.Send(context.Background(), &output.Batch{}))
}

// The outputtest fake and this transport see the same batches: the file is the concatenation.
func TestSameBatchesAsFake(t *testing.T) {
	tr := newTransport(t, t.TempDir(), 1<<20, 5)
	fake := &outputtest.Transport{}
	tee := teeTransport{tr, fake}
	o := fastBuffer(tee)
	logRange(t, o, 0, 1000)
	closeOutput(t, o)
	data, err := os.ReadFile(tr.path)
	require.NoError(t, err)
	require.Equal(t, string(bytes.Join(fake.Batches(), nil)), string(data))
}

type teeTransport struct {
	*Transport
	fake *outputtest.Transport
}

func (t teeTransport) Send(ctx context.Context, b *output.Batch) error {
	if err := t.Transport.Send(ctx, b); err != nil {
		return err
	}
	return t.fake.Send(ctx, b)
}

// FuzzShortWrites drives sends of batches through writes cut short at positions and with
// errors chosen by the input, with rotations, resending each batch until it succeeds as the
// buffer does: the files must hold every batch once, in order, with no fragment.
func FuzzShortWrites(f *testing.F) {
	f.Add([]byte{3, 200, 0, 7, 1, 255, 9, 40, 0, 0, 13})
	f.Add([]byte{1, 1, 1, 1, 1, 1, 1, 1, 0})
	f.Fuzz(func(t *testing.T, plan []byte) {
		dir := t.TempDir()
		tr, err := New(&Options{Path: filepath.Join(dir, "app.log"), MaxSize: 700, MaxFiles: 1000})
		require.NoError(t, err)
		defer tr.Close()
		next := func() int {
			if len(plan) == 0 {
				return 0
			}
			b := int(plan[0])
			plan = plan[1:]
			return b
		}
		tr.write = func(f *os.File, p []byte) (int, error) {
			switch c := next(); {
			case c == 0 || c >= 128:
				return f.Write(p)
			default:
				k, _ := f.Write(p[:min(len(p), c*7%len(p))])
				return k, syscall.ENOSPC
			}
		}
		seq := 0
		for range 20 {
			n := 1 + next()%9
			b := batchOf(seq, seq+n)
			for tries := 0; tr.Send(context.Background(), b) != nil; tries++ {
				require.Less(t, tries, 10000)
			}
			seq += n
		}
		require.Equal(t, span(0, seq), seqsOf(t, files(t, tr)...))
	})
}
