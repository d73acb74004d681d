package slogmulti_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"testing/slogtest"
	"time"

	slogmulti "github.com/samber/slog-multi"
	"github.com/stretchr/testify/require"

	"go.vlog.dev/handlers/output"
	"go.vlog.dev/handlers/schema"
	"go.vlog.dev/vlog"
)

// TestFailoverFromVlog is the recipe "Failover": vlog first, a last-resort handler (stderr in
// a service; a buffer here) second, with vlog writing stdout synchronously (StdoutBuffered
// false), so that its Handle fails when the write fails. While vlog's writer works, the last
// resort gets nothing; when a Write fails, vlog's Handle returns the error, counts the record
// as dropped (WriteError), and Failover hands the same record, With attributes and group
// included, to the last resort.
func TestFailoverFromVlog(t *testing.T) {
	logger, vw := newVlog(t, &vlog.Options{StdoutBuffered: vlog.Bool(false)})
	var lastResort bytes.Buffer
	log := slog.New(slogmulti.Failover()(
		logger.Handler(),
		slog.NewJSONHandler(&lastResort, nil),
	)).With("order_id", "ord-7").WithGroup("payment")

	log.Info("charged", "amount", 19.99)
	require.Equal(t, 1, vw.count(t))
	require.Zero(t, lastResort.Len())

	vw.setErr(errBroken)
	log.Info("refunded", "amount", 5.0)
	require.Equal(t, 1, vw.count(t), "the failed Write kept nothing")
	st := logger.Stats()
	require.Equal(t, uint64(1), st.Dropped.WriteError)
	require.Equal(t, uint64(1), st.Delivered)

	var m map[string]any
	require.NoError(t, json.Unmarshal(lastResort.Bytes(), &m))
	require.Equal(t, "refunded", m[slog.MessageKey])
	require.Equal(t, map[string]any{"order_id": "ord-7", "payment": map[string]any{"amount": 5.0}}, foreignAttrsOf(m))
}

// TestFailoverToVlog: a foreign primary that fails (its writer is broken) falls back to vlog,
// which gets the record with the With attributes, the group and the context's ids.
func TestFailoverToVlog(t *testing.T) {
	logger, vw := newVlog(t, nil)
	broken := &recorder{err: errBroken}
	log := slog.New(slogmulti.Failover()(
		slog.NewJSONHandler(broken, nil),
		logger.Handler(),
	)).With("order_id", "ord-7").WithGroup("payment")
	ctx := vlog.WithTraceID(vlog.WithRequestID(context.Background(), "req-1"), "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7")

	log.InfoContext(ctx, "charged", "amount", 19.99)
	require.Equal(t, map[string]any{
		schema.RequestID: "req-1",
		schema.TraceID:   "4bf92f3577b34da6a3ce929d0e0e4736",
		schema.SpanID:    "00f067aa0ba902b7",
		"order_id":       "ord-7",
		"payment":        map[string]any{"amount": 19.99},
	}, attrsOf(vw.only(t)))
}

// TestFailoverBuffered: with vlog's buffer in front of stdout (the default) or of the network,
// Handle succeeds as soon as the record is buffered, so Failover moves on only for records
// vlog drops at once: one larger than Buffer.MaxRecordSize, one that finds the buffer full,
// or one logged after Close. A destination that fails is vlog's business (retries, its own
// fallback, its counters), not Failover's: a broken stdout does not reach the last resort.
func TestFailoverBuffered(t *testing.T) {
	logger, vw := newVlog(t, &vlog.Options{Buffer: &output.BufferOptions{MaxRecordSize: 1 << 10}})
	var lastResort bytes.Buffer
	log := slog.New(slogmulti.Failover()(logger.Handler(), slog.NewJSONHandler(&lastResort, nil)))

	log.Info("small")
	log.Info("large", "blob", strings.Repeat("x", 2<<10))
	require.Equal(t, 1, strings.Count(lastResort.String(), "\n"))
	require.Contains(t, lastResort.String(), `"msg":"large"`)
	require.Equal(t, uint64(1), logger.Stats().Dropped.Oversize)

	vw.setErr(errBroken)
	log.Info("while stdout is broken")
	short, cancelShort := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancelShort()
	require.Error(t, logger.Flush(short), "the send fails and is retried: the record stays buffered")
	require.Equal(t, 1, strings.Count(lastResort.String(), "\n"), "buffered: vlog's to retry, not Failover's")
	vw.setErr(nil)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, logger.Close(ctx))
	log.Info("after close")
	require.Equal(t, 2, strings.Count(lastResort.String(), "\n"))
	require.Contains(t, lastResort.String(), `"msg":"after close"`)

	recs := vw.records(t)
	require.Len(t, recs, 2, "the small record and the one logged while stdout was broken reached vlog's writer")
	require.Equal(t, "small", recs[0][schema.Message])
	require.Equal(t, "while stdout is broken", recs[1][schema.Message])
}

// TestFailoverSlogtest runs testing/slogtest on Failover(vlog, slog.JSONHandler).
func TestFailoverSlogtest(t *testing.T) {
	var vw *recorder
	slogtest.Run(t, func(t *testing.T) slog.Handler {
		var logger *vlog.Logger
		logger, vw = newVlog(t, nil)
		return slogmulti.Failover()(logger.Handler(), slog.NewJSONHandler(&bytes.Buffer{}, nil))
	}, func(t *testing.T) map[string]any { return slogtestResult(t, vw) })
}
