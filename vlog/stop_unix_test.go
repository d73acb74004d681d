//go:build unix

package vlog

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestStopOnSignalInProcess(t *testing.T) {
	l, out, buf := stopLogger(2 * time.Second)
	// SIGUSR1, not SIGTERM: if the handler were not installed, the test binary would not die.
	ctx, stop := l.stopOn(context.Background(), syscall.SIGUSR1)
	require.NoError(t, syscall.Kill(os.Getpid(), syscall.SIGUSR1))
	select {
	case <-ctx.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("the signal did not cancel ctx")
	}
	var se *SignalError
	require.ErrorAs(t, context.Cause(ctx), &se)
	require.Equal(t, syscall.SIGUSR1, se.Signal)
	require.WithinDuration(t, time.Now(), se.At, 5*time.Second)

	time.Sleep(50 * time.Millisecond) // the deadline counts from the signal, not from stop
	require.NoError(t, stop())
	require.Equal(t, se.At.Add(2*time.Second), out.deadline)

	recs := records(t, buf.String())
	require.Len(t, recs, 1)
	require.Equal(t, "vlog: stopping", recs[0]["msg"])
	require.Equal(t, "user defined signal 1", recs[0]["signal"])
	require.Equal(t, "2s", recs[0]["stop_timeout"])
}

// syncedWriter holds records in memory until Sync, which output.WriterTransport.Close calls: records are
// delivered only if the Logger is closed.
type syncedWriter struct{ *bufio.Writer }

func (w syncedWriter) Sync() error { return w.Flush() }

const childEnv = "VLOG_TEST_STOP_CHILD"

// TestStopOnSIGTERMDeliversEverything runs itself as a child process that logs from several
// goroutines into a 1 MiB in-memory buffer (flushed only by Close) and stops on SIGTERM with
// StopOnSignal. The parent sends SIGTERM while the child logs and checks that every record the
// child logged reached its stdout.
func TestStopOnSIGTERMDeliversEverything(t *testing.T) {
	if os.Getenv(childEnv) == "1" {
		stopChild()
		return
	}
	if testing.Short() {
		t.Skip("runs a child process")
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestStopOnSIGTERMDeliversEverything$")
	cmd.Env = append(os.Environ(), childEnv+"=1")
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	stderr, err := cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	defer func() { _ = cmd.Process.Kill() }()

	var out []byte
	outDone := make(chan struct{})
	go func() {
		defer close(outDone)
		buf := new(strings.Builder)
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			buf.WriteString(sc.Text())
			buf.WriteByte('\n')
		}
		out = []byte(buf.String())
	}()

	errLines := bufio.NewScanner(stderr)
	require.True(t, errLines.Scan(), "child said nothing")
	require.Equal(t, "ready", errLines.Text())
	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))

	var logged int
	var rest []string
	for errLines.Scan() {
		if n, ok := strings.CutPrefix(errLines.Text(), "logged "); ok {
			logged, err = strconv.Atoi(n)
			require.NoError(t, err)
			continue
		}
		rest = append(rest, errLines.Text())
	}
	<-outDone
	require.NoError(t, cmd.Wait(), "child stderr: %s", strings.Join(rest, "\n"))
	require.GreaterOrEqual(t, logged, 2000)

	seen := make([]bool, logged)
	stopping := 0
	for _, line := range strings.Split(strings.TrimSuffix(string(out), "\n"), "\n") {
		var rec struct {
			Msg    string `json:"msg"`
			Seq    *int   `json:"seq"`
			Signal string `json:"signal"`
		}
		if !strings.HasPrefix(line, "{") {
			continue // the testing package's own output
		}
		require.NoError(t, json.Unmarshal([]byte(line), &rec), line)
		if rec.Msg == "vlog: stopping" {
			stopping++
			require.Equal(t, "SIGTERM", rec.Signal)
			continue
		}
		require.NotNil(t, rec.Seq, line)
		require.Less(t, *rec.Seq, logged)
		require.False(t, seen[*rec.Seq], "seq %d twice", *rec.Seq)
		seen[*rec.Seq] = true
	}
	missing := 0
	for _, ok := range seen {
		if !ok {
			missing++
		}
	}
	require.Zero(t, missing, "of %d records logged", logged)
	require.Equal(t, 1, stopping)
}

// stopChild is the child of TestStopOnSIGTERMDeliversEverything. It exits the process.
func stopChild() {
	w := syncedWriter{bufio.NewWriterSize(os.Stdout, 1<<20)}
	l, err := New(&Options{Writer: w, Environ: []string{"SERVICE=stop-child", "VLOG_STOP_TIMEOUT=10s"}})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(3)
	}
	ctx, stop := l.StopOnSignal(context.Background())
	var seq atomic.Int64
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				l.Info("tick", "seq", seq.Add(1)-1)
			}
		}()
	}
	for seq.Load() < 2000 {
		time.Sleep(time.Millisecond)
	}
	fmt.Fprintln(os.Stderr, "ready")
	<-ctx.Done()
	wg.Wait()
	err = stop()
	fmt.Fprintf(os.Stderr, "logged %d\n", seq.Load())
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(4)
	}
	os.Exit(0)
}
