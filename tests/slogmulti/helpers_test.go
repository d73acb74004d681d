// Package slogmulti_test runs vlog's handler inside github.com/samber/slog-multi (Fanout,
// Router, Failover, Pipe) and next to the OpenTelemetry slog bridge. Its tests are the recipes
// of docs/slog-multi.md; each recipe there names the test that runs it. The module is separate
// so that slog-multi and OpenTelemetry never enter the library's go.mod.
package slogmulti_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"go.vlog.dev/handlers/schema"
	"go.vlog.dev/vlog"
)

// recorder is the io.Writer of a test's vlog Logger. It keeps every Write apart, so a test
// can tell whole records from pieces and count the records of each call. It is safe for
// concurrent use.
type recorder struct {
	mu     sync.Mutex
	writes [][]byte
	err    error // returned by every Write when set

	// flush, set by newVlog, delivers what the Logger holds in its buffer (stdout is
	// buffered by default) before the records are read.
	flush func()
}

func (w *recorder) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil {
		return 0, w.err
	}
	w.writes = append(w.writes, bytes.Clone(p))
	return len(p), nil
}

// setErr makes every Write from now on fail with err (nil: succeed again).
func (w *recorder) setErr(err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.err = err
}

// writeCount returns the number of successful Writes so far, after a flush.
func (w *recorder) writeCount() int {
	if w.flush != nil {
		w.flush()
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.writes)
}

// count returns the number of records written so far, after a flush.
func (w *recorder) count(t *testing.T) int {
	t.Helper()
	return len(w.records(t))
}

// records flushes the Logger and decodes what it wrote: every Write is one or more whole
// records (a batch), each one line of one JSON object.
func (w *recorder) records(t *testing.T) []map[string]any {
	t.Helper()
	if w.flush != nil {
		w.flush()
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []map[string]any
	for _, p := range w.writes {
		require.NotEmpty(t, p)
		require.Equal(t, byte('\n'), p[len(p)-1], "a Write ends with a whole record: %q", p)
		for _, line := range bytes.Split(p[:len(p)-1], []byte{'\n'}) {
			var m map[string]any
			require.NoError(t, json.Unmarshal(line, &m), "%q", line)
			out = append(out, m)
		}
	}
	return out
}

// only decodes the single record written so far.
func (w *recorder) only(t *testing.T) map[string]any {
	t.Helper()
	recs := w.records(t)
	require.Len(t, recs, 1)
	return recs[0]
}

var errBroken = errors.New("broken pipe")

// newVlog returns a vlog Logger writing to a recorder through the stdout output (buffered, the
// default, unless opts says otherwise), with an empty environment (nothing of the machine's
// leaks in), as an embedding service would build it. opts may be nil; its Writer, Environ and
// Output are set here, and Service, Env and Version when empty.
func newVlog(t *testing.T, opts *vlog.Options) (*vlog.Logger, *recorder) {
	t.Helper()
	w := &recorder{}
	var o vlog.Options
	if opts != nil {
		o = *opts
	}
	o.Writer, o.Environ, o.Output = w, []string{}, vlog.OutputStdout
	if o.Service == "" {
		o.Service = "order-api"
	}
	if o.Env == "" {
		o.Env = "test"
	}
	if o.Version == "" {
		o.Version = "1.0.0"
	}
	l, err := vlog.New(&o)
	require.NoError(t, err)
	w.flush = func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		require.NoError(t, l.Flush(ctx))
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = l.Close(ctx)
	})
	return l, w
}

// attrsOf returns a vlog record without the schema's fixed fields (time, level, message,
// service, env, version): what is left are the correlation ids and the caller's attributes.
func attrsOf(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		switch k {
		case schema.EventTime, schema.Level, schema.Message, schema.Service, schema.Env, schema.Version:
			continue
		}
		out[k] = v
	}
	return out
}

// foreignAttrsOf returns a slog.JSONHandler record without its time, level and message.
func foreignAttrsOf(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		switch k {
		case slog.TimeKey, slog.LevelKey, slog.MessageKey:
			continue
		}
		out[k] = v
	}
	return out
}

// slogtestResult returns the one record vlog wrote to w, with the schema's keys mapped back to
// the ones testing/slogtest expects (event_time is slog's time).
func slogtestResult(t *testing.T, w *recorder) map[string]any {
	t.Helper()
	m := w.only(t)
	if v, ok := m[schema.EventTime]; ok {
		m[slog.TimeKey] = v
		delete(m, schema.EventTime)
	}
	return m
}
