package vlog

import (
	"bytes"
	"context"
	"net"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"go.vlog.dev/internal/vtest"
)

// TestDualWrite: VLOG_OUTPUT=stdout,victorialogs writes every record to both, each output with
// its own accounting, in Stats and in the metrics.
func TestDualWrite(t *testing.T) {
	vl := vtest.NewVictoriaLogs(t)
	var out lockedBuffer
	l, err := New(&Options{Writer: &out, Environ: []string{
		"SERVICE=order-api", "VLOG_OUTPUT=stdout,victorialogs", "VICTORIALOGS_URL=" + vl.URL,
	}})
	require.NoError(t, err)
	require.Equal(t, "stdout,victorialogs", l.Output())
	for i := range 100 {
		l.Info("order created", "seq", i)
	}
	require.NoError(t, l.Close(context.Background()))
	require.Equal(t, 101, vl.Count(), "100 records and the startup record")
	require.Equal(t, 101, strings.Count(out.String(), "\n"))
	require.Contains(t, out.String(), `"msg":"vlog: logging to stdout,victorialogs"`)

	s := l.Stats()
	require.Equal(t, "stdout,victorialogs", s.Output)
	require.Len(t, s.Outputs, 2)
	for _, o := range s.Outputs {
		require.Equal(t, uint64(101), o.Delivered, o.Output)
		vtest.CheckInvariant(t, o)
	}
	require.Equal(t, uint64(202), s.Delivered)
	vtest.CheckInvariant(t, s)
	require.Nil(t, s.Fallback)

	rec := httptest.NewRecorder()
	l.MetricsHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	require.Contains(t, rec.Body.String(), "\nvlog_records_delivered_total 202\n")
	require.Contains(t, rec.Body.String(), "\nvlog_output_records_delivered_total{output=\"stdout\"} 101\n")
	require.Contains(t, rec.Body.String(), "\nvlog_output_records_delivered_total{output=\"victorialogs\"} 101\n")
	require.Contains(t, rec.Body.String(), "\nvlog_output_buffer_size_bytes{output=\"victorialogs\"} 8388608\n")
}

// TestForwardAndVictoriaLogsListed: with both listed, VictoriaLogs gets every record directly,
// and the forward output has no fallback (it would send VictoriaLogs the same records twice).
func TestForwardAndVictoriaLogsListed(t *testing.T) {
	vl := vtest.NewVictoriaLogs(t)
	sink := vtest.NewForwardSink(t, "tcp", "127.0.0.1:0", "ack")
	host, port, _ := net.SplitHostPort(sink.Addr())
	l, err := New(&Options{Environ: []string{"VLOG_OUTPUT=forward,victorialogs", "VICTORIALOGS_URL=" + vl.URL,
		"FLUENT_HOST=" + host, "FLUENT_PORT=" + port}})
	require.NoError(t, err)
	l.Info("m")
	require.NoError(t, l.Close(context.Background()))
	sink.CheckErrors()
	require.Len(t, sink.Records(), 2)
	require.Equal(t, 2, vl.Count())
	require.Nil(t, l.Stats().Fallback)
	require.Equal(t, "forward,victorialogs", l.Stats().Output)
}

// blockedWriter blocks every Write until released: a stdout pipe nobody reads.
type blockedWriter struct {
	release chan struct{}
	mu      sync.Mutex
	buf     bytes.Buffer
}

func (w *blockedWriter) Write(p []byte) (int, error) {
	<-w.release
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.Write(p)
}

// TestStdoutNeverStallsByDefault: with stdout not read (a stalled log driver), log calls
// return and what does not fit is dropped and counted; once the pipe drains, the rest arrives.
func TestStdoutNeverStallsByDefault(t *testing.T) {
	w := &blockedWriter{release: make(chan struct{})}
	l, err := New(&Options{Writer: w, Environ: []string{"VLOG_BUFFER_SIZE=64KiB", "VLOG_BATCH_SIZE=4KiB"}})
	require.NoError(t, err)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 20_000 {
			l.Info("order created", "seq", i)
		}
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("log calls blocked on a stalled stdout")
	}
	s := l.Stats()
	require.Positive(t, s.Dropped.BufferFull, "the buffer filled up and dropped")
	close(w.release)
	require.NoError(t, l.Flush(context.Background())) // the pipe drains (then Close writes the drop notice)
	require.NoError(t, l.Close(context.Background()))
	s = l.Stats()
	vtest.CheckInvariant(t, s)
	require.Positive(t, s.Delivered)
	w.mu.Lock()
	defer w.mu.Unlock()
	require.Equal(t, int(s.Delivered), strings.Count(w.buf.String(), "\n"))
	require.Contains(t, w.buf.String(), "vlog: dropped", "the drop notice reached the stream")
}

// TestStdoutSynchronousMode: VLOG_STDOUT_BUFFERED=false writes each record on the log call.
func TestStdoutSynchronousMode(t *testing.T) {
	var out bytes.Buffer
	l, err := New(&Options{Writer: &out, Environ: []string{"VLOG_STDOUT_BUFFERED=false"}})
	require.NoError(t, err)
	l.Info("m")
	require.Equal(t, 1, strings.Count(out.String(), "\n"), "written before Info returned")
}

// TestErrorRecordSentAtOnce: a record at VLOG_FLUSH_LEVEL or above leaves without waiting for
// the batch age (an hour here); one below waits.
func TestErrorRecordSentAtOnce(t *testing.T) {
	var out lockedBuffer
	l, err := New(&Options{Writer: &out, Environ: []string{"VLOG_BATCH_AGE=1h", "VLOG_FLUSH_LEVEL=warn"}})
	require.NoError(t, err)
	defer l.Close(context.Background())
	l.Info("waits")
	require.Equal(t, int64(1), l.Stats().BufferedRecords, "below the flush level: in the buffer, for an hour")
	l.Warn("at once")
	require.Eventually(t, func() bool { return strings.Count(out.String(), "\n") == 2 }, 5*time.Second, time.Millisecond)
}

// TestFlush: Flush delivers what is buffered and leaves the Logger open.
func TestFlush(t *testing.T) {
	var out lockedBuffer
	l, err := New(&Options{Writer: &out, Environ: []string{"VLOG_BATCH_AGE=1h"}})
	require.NoError(t, err)
	l.Info("one")
	require.NoError(t, l.Flush(context.Background()))
	require.Equal(t, 1, strings.Count(out.String(), "\n"))
	l.Info("two")
	require.NoError(t, l.Flush(context.Background()))
	require.Equal(t, 2, strings.Count(out.String(), "\n"))
	require.NoError(t, l.Close(context.Background()))
}
