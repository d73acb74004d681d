package vlog

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.vlog.dev/handlers/output"
)

func newTest(t *testing.T, opts *Options) (*Logger, *bytes.Buffer) {
	t.Helper()
	var buf bytes.Buffer
	if opts == nil {
		opts = &Options{}
	}
	opts.Writer = &buf
	if opts.StdoutBuffered == nil {
		opts.StdoutBuffered = Bool(false) // the tests read the records at once
	}
	if opts.Environ == nil {
		opts.Environ = []string{}
	}
	l, err := New(opts)
	require.NoError(t, err)
	return l, &buf
}

func lastRecord(t *testing.T, buf *bytes.Buffer) map[string]any {
	t.Helper()
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	var m map[string]any
	require.NoError(t, json.Unmarshal([]byte(lines[len(lines)-1]), &m), buf.String())
	return m
}

func TestFromEnvironment(t *testing.T) {
	l, buf := newTest(t, &Options{Environ: []string{
		"SERVICE=order-api", "ENV=prod", "VERSION= 1.4.2 ", "VLOG_LEVEL=WARN", "VLOG_ADD_SOURCE=1",
		"VLOG_OUTPUT=stdout", "VLOG_TEST_FLUENT_ADDR=127.0.0.1:24224", "PATH=/bin", "UNRELATED",
	}})
	require.Equal(t, "order-api", l.Service())
	require.Equal(t, "prod", l.Env())
	require.Equal(t, "1.4.2", l.Version())
	require.Equal(t, "stdout", l.Output())
	require.Equal(t, slog.LevelWarn, l.LevelVar().Level())
	l.Info("hidden")
	require.Zero(t, buf.Len())
	l.Warn("shown")
	m := lastRecord(t, buf)
	require.Equal(t, "order-api", m["service"])
	require.Equal(t, "prod", m["env"])
	require.Equal(t, "1.4.2", m["version"])
	require.Contains(t, m, "caller")
}

func TestOptionsWin(t *testing.T) {
	lv := new(slog.LevelVar)
	lv.Set(slog.LevelDebug)
	l, buf := newTest(t, &Options{
		Service: "code", Env: "code-env", Version: "code-v", Level: lv, Output: "auto",
		Environ: []string{"SERVICE=env", "ENV=env", "VERSION=env", "VLOG_LEVEL=error", "VLOG_OUTPUT=bogus"},
	})
	require.Same(t, lv, l.LevelVar())
	l.Debug("m")
	m := lastRecord(t, buf)
	require.Equal(t, "code", m["service"])
	require.Equal(t, "code-env", m["env"])
	require.Equal(t, "code-v", m["version"])

	// A plain Leveler is copied into a new LevelVar.
	l2, _ := newTest(t, &Options{Level: slog.LevelError, Environ: []string{"VLOG_LEVEL=debug"}})
	require.Equal(t, slog.LevelError, l2.LevelVar().Level())
}

func TestDefaults(t *testing.T) {
	l, buf := newTest(t, nil)
	require.Equal(t, strings.TrimSuffix(filepath.Base(os.Args[0]), ".exe"), l.Service())
	require.Equal(t, "unknown", l.Env())
	require.NotEmpty(t, l.Version())
	require.Equal(t, slog.LevelInfo, l.LevelVar().Level())
	l.Info("m")
	m := lastRecord(t, buf)
	require.NotContains(t, m, "caller")
	require.Equal(t, "unknown", m["env"])
}

func TestInvalidEnvironment(t *testing.T) {
	f := func(kv, wantVar, wantValue string) {
		t.Helper()
		_, err := New(&Options{Environ: []string{kv}, Writer: &bytes.Buffer{}})
		require.Error(t, err, kv)
		var ce *ConfigError
		require.True(t, errors.As(err, &ce), "%v", err)
		require.Equal(t, wantVar, ce.Name)
		require.Equal(t, wantValue, ce.Value)
		require.Contains(t, err.Error(), wantVar)
		require.Contains(t, err.Error(), strconv.Quote(wantValue))
	}
	f("VLOG_LEVEL=verbose", "VLOG_LEVEL", "verbose")
	f("VLOG_LEVEL=warn+x", "VLOG_LEVEL", "warn+x")
	f("VLOG_ADD_SOURCE=yes please", "VLOG_ADD_SOURCE", "yes please")
	f("VLOG_OUTPUT=kafka", "VLOG_OUTPUT", "kafka")
	f("VLOG_BUFFER_SIZE=lots", "VLOG_BUFFER_SIZE", "lots")
	f("VLOG_BUFFER_SIZE=-1", "VLOG_BUFFER_SIZE", "-1")
	f("VLOG_BATCH_AGE=soon", "VLOG_BATCH_AGE", "soon")
	f("VLOG_BATCH_MAX_SIZE=big", "VLOG_BATCH_MAX_SIZE", "big")
	f("VLOG_DROP_POLICY=random", "VLOG_DROP_POLICY", "random")
	f("VLOG_STDOUT_BUFFERED=maybe", "VLOG_STDOUT_BUFFERED", "maybe")
	f("VLOG_TOTALLY_UNKNOWN=1", "VLOG_TOTALLY_UNKNOWN", "1")
	f("VLOG_LEVLE=debug", "VLOG_LEVLE", "debug")
	f("SERVICE=bad\x01name", "SERVICE", "bad\x01name")

	_, err := New(&Options{Output: "kafka", Environ: []string{}})
	require.EqualError(t, err, `vlog: invalid Options.Output="kafka": want auto, or outputs among stdout, forward, victorialogs, file (comma-separated)`)
	_, err = New(&Options{Output: "stdout,auto", Environ: []string{}})
	require.ErrorContains(t, err, "auto stands alone")
	_, err = New(&Options{Environ: []string{"VLOG_OUTPUT=stdout,victorialogs,stdout"}})
	require.ErrorContains(t, err, `invalid VLOG_OUTPUT="stdout,victorialogs,stdout": stdout listed twice`)

	// The value of an unknown variable whose name suggests a secret is not shown.
	_, err = New(&Options{Environ: []string{"VLOG_VICTORIALOGS_PASSWROD=hunter2hunter2"}, Writer: &bytes.Buffer{}})
	require.ErrorContains(t, err, "VLOG_VICTORIALOGS_PASSWROD")
	require.ErrorContains(t, err, "did you mean VLOG_VICTORIALOGS_PASSWORD?")
	require.NotContains(t, err.Error(), "hunter2")

	// All problems are reported at once.
	_, err = New(&Options{Environ: []string{"VLOG_LEVEL=x", "VLOG_OUTPUT=y"}})
	require.ErrorContains(t, err, "VLOG_LEVEL")
	require.ErrorContains(t, err, "VLOG_OUTPUT")
}

func TestLevelOffsets(t *testing.T) {
	f := func(v string, want slog.Level) {
		t.Helper()
		l, _ := newTest(t, &Options{Environ: []string{"VLOG_LEVEL=" + v}})
		require.Equal(t, want, l.LevelVar().Level())
	}
	f("debug", slog.LevelDebug)
	f("INFO", slog.LevelInfo)
	f("warn+2", slog.LevelWarn+2)
	f("Error-1", slog.LevelError-1)
	f("", slog.LevelInfo)
}

func TestRuntimeLevelChange(t *testing.T) {
	l, buf := newTest(t, nil)
	child := l.With("component", "db")
	child.Debug("hidden")
	require.Zero(t, buf.Len())
	l.LevelVar().Set(slog.LevelDebug)
	child.Debug("shown")
	require.Equal(t, "shown", lastRecord(t, buf)["msg"])
}

func TestSetupInstallsDefault(t *testing.T) {
	defer slog.SetDefault(slog.Default())
	var buf bytes.Buffer
	l, err := Setup(&Options{Writer: &buf, StdoutBuffered: Bool(false), Environ: []string{"SERVICE=s"}})
	require.NoError(t, err)
	slog.Info("via slog")
	require.Equal(t, "via slog", lastRecord(t, &buf)["msg"])
	log.Printf("via log %d", 7)
	m := lastRecord(t, &buf)
	require.Equal(t, "via log 7", m["msg"])
	require.Equal(t, "info", m["level"])
	require.Equal(t, "s", m["service"])

	st := l.Stats()
	require.Equal(t, "stdout", st.Output)
	require.Equal(t, uint64(2), st.Enqueued)
	require.Equal(t, uint64(2), st.Delivered)
	require.NoError(t, l.Close(context.Background()))
	st = l.Stats()
	require.Equal(t, st.Enqueued, st.Delivered+st.Dropped.Total())
}

type brokenWriter struct{}

func (brokenWriter) Write([]byte) (int, error) { return 0, errors.New("broken pipe") }

func TestWriteErrorsCounted(t *testing.T) {
	l, err := New(&Options{Writer: brokenWriter{}, StdoutBuffered: Bool(false), Environ: []string{}})
	require.NoError(t, err)
	l.Info("lost")
	l.Info("lost")
	st := l.Stats()
	require.Equal(t, uint64(2), st.Enqueued)
	require.Equal(t, uint64(0), st.Delivered)
	require.Equal(t, uint64(2), st.Dropped.WriteError)
	require.Equal(t, "failing", st.State)
	require.Equal(t, "broken pipe", st.LastError)
	require.False(t, st.LastErrorTime.IsZero())
}

func TestStaticFields(t *testing.T) {
	l, buf := newTest(t, &Options{Fields: []slog.Attr{slog.String("team", "payments")}})
	l.Info("m", "a", 1)
	m := lastRecord(t, buf)
	require.Equal(t, "payments", m["team"])
}

func TestAutoOutput(t *testing.T) {
	f := func(env []string, want string) {
		t.Helper()
		c, err := resolve(&Options{Environ: append([]string{"VLOG_ECS_METADATA_TIMEOUT=0"}, env...)})
		require.NoError(t, err)
		require.Equal(t, want, strings.Join(c.outputs, ","))
	}
	f(nil, OutputStdout)
	f([]string{"FLUENT_HOST=127.0.0.1", "FLUENT_PORT=24224"}, OutputForward)
	f([]string{"FLUENT_HOST=127.0.0.1", "FLUENT_PORT=24224", "VICTORIALOGS_URL=http://vl:9428"}, OutputForward)
	f([]string{"FLUENT_HOST=127.0.0.1"}, OutputStdout)
	f([]string{"VICTORIALOGS_URL=http://vl:9428"}, OutputVictoriaLogs)
}

func TestStdoutBuffered(t *testing.T) {
	var buf bytes.Buffer
	l, err := New(&Options{Writer: &buf, Environ: []string{"VLOG_STDOUT_BUFFERED=true", "VLOG_BATCH_AGE=1ms", "VLOG_BUFFER_SIZE=1MiB"}})
	require.NoError(t, err)
	for i := 0; i < 100; i++ {
		l.Info("m", "i", i)
	}
	require.NoError(t, l.Close(context.Background()))
	require.Equal(t, 100, strings.Count(buf.String(), "\n"))
	st := l.Stats()
	require.Equal(t, uint64(100), st.Delivered)
	require.Equal(t, "closed", st.State)
}

// TestBufferConfigFromEnv: the buffer variables reach output.BufferOptions, and a field set in
// code wins over its variable.
func TestBufferConfigFromEnv(t *testing.T) {
	env := []string{"VLOG_BUFFER_SIZE=16MiB", "VLOG_BATCH_SIZE=512KiB", "VLOG_BATCH_MAX_SIZE=4MiB",
		"VLOG_BATCH_AGE=50ms", "VLOG_MAX_RECORD_SIZE=64KiB", "VLOG_DROP_POLICY=oldest",
		"VLOG_RETRY_MIN=10ms", "VLOG_RETRY_MAX=1s"}
	c, err := resolve(&Options{Environ: env})
	require.NoError(t, err)
	require.Equal(t, output.BufferOptions{Size: 16 << 20, BatchSize: 512 << 10, MaxBatchSize: 4 << 20,
		BatchAge: 50 * time.Millisecond, MaxRecordSize: 64 << 10, DropPolicy: output.DropOldest,
		RetryMin: 10 * time.Millisecond, RetryMax: time.Second}, *c.opts.Buffer)

	code := &output.BufferOptions{MaxBatchSize: 1 << 20, DropPolicy: output.DropNewest}
	c, err = resolve(&Options{Buffer: code, Environ: env})
	require.NoError(t, err)
	require.Equal(t, 1<<20, c.opts.Buffer.MaxBatchSize)
	require.Equal(t, output.DropNewest, c.opts.Buffer.DropPolicy, "code forces DropNewest over VLOG_DROP_POLICY=oldest")
	require.Equal(t, output.BufferOptions{MaxBatchSize: 1 << 20, DropPolicy: output.DropNewest}, *code, "the caller's options are not written to")
}
