package slogmulti_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"testing/slogtest"

	slogmulti "github.com/samber/slog-multi"
	"github.com/stretchr/testify/require"

	"go.vlog.dev/handlers/schema"
	"go.vlog.dev/vlog"
)

// TestFanoutDualWrite is the recipe "dual-write with a foreign handler": vlog's handler and
// slog.JSONHandler side by side in slogmulti.Fanout. One call gives exactly one vlog record and
// one foreign line, both with the With attributes, the WithGroup group and the record's
// attributes; vlog's record has the context's request and trace ids.
func TestFanoutDualWrite(t *testing.T) {
	logger, vw := newVlog(t, nil)
	var foreign bytes.Buffer
	log := slog.New(slogmulti.Fanout(
		logger.Handler(),
		slog.NewJSONHandler(&foreign, nil),
	))

	ctx := vlog.WithRequestID(context.Background(), "req-1")
	ctx = vlog.WithTraceID(ctx, "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7")
	log.With("order_id", "ord-7").WithGroup("payment").
		InfoContext(ctx, "order created", "amount", 19.99, "currency", "EUR")

	require.Equal(t, 1, vw.count(t), "one vlog record per call")
	got := vw.only(t)
	require.Equal(t, "order created", got[schema.Message])
	require.Equal(t, "info", got[schema.Level])
	require.Equal(t, map[string]any{
		schema.RequestID: "req-1",
		schema.TraceID:   "4bf92f3577b34da6a3ce929d0e0e4736",
		schema.SpanID:    "00f067aa0ba902b7",
		"order_id":       "ord-7",
		"payment":        map[string]any{"amount": 19.99, "currency": "EUR"},
	}, attrsOf(got))

	var f map[string]any
	require.Equal(t, 1, strings.Count(foreign.String(), "\n"))
	require.NoError(t, json.Unmarshal(foreign.Bytes(), &f))
	require.Equal(t, map[string]any{
		"order_id": "ord-7",
		"payment":  map[string]any{"amount": 19.99, "currency": "EUR"},
	}, foreignAttrsOf(f), "the foreign handler knows nothing of vlog's context ids")

	// Each handler keeps its own level: a debug record reaches only the foreign handler
	// when it is the one at debug.
	foreign.Reset()
	log = slog.New(slogmulti.Fanout(logger.Handler(), slog.NewJSONHandler(&foreign, &slog.HandlerOptions{Level: slog.LevelDebug})))
	log.Debug("cache miss")
	require.Equal(t, 1, vw.count(t), "vlog is at info: no record for a debug call")
	require.Contains(t, foreign.String(), `"msg":"cache miss"`)
}

// TestFanoutGroupsOracle logs a sequence of With and WithGroup, with attributes in the record
// and without, through Fanout(vlog, slog.JSONHandler): vlog's attributes must equal
// slog.JSONHandler's, record for record (slog's own handler is the oracle of how WithAttrs and
// WithGroup nest, empty groups included).
func TestFanoutGroupsOracle(t *testing.T) {
	logger, vw := newVlog(t, nil)
	var foreign bytes.Buffer
	root := slog.New(slogmulti.Fanout(logger.Handler(), slog.NewJSONHandler(&foreign, nil)))

	a := root.With("team", "orders")
	b := a.WithGroup("req").With("method", "POST")
	c := b.WithGroup("db")
	d := c.With("table", "orders").WithGroup("query")
	a.Info("a", "n", 1)
	b.Info("b", "n", 2)
	c.Info("c") // an empty group is left out
	c.Info("c2", "rows", 3)
	d.Info("d")
	d.Info("d2", slog.Group("plan", "scan", "index"), "ms", 1.5)
	root.WithGroup("empty").Info("e")

	vrecs := vw.records(t)
	var frecs []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(foreign.String()), "\n") {
		var m map[string]any
		require.NoError(t, json.Unmarshal([]byte(line), &m))
		frecs = append(frecs, m)
	}
	require.Len(t, vrecs, 7, "one vlog record per call")
	require.Len(t, frecs, 7)
	for i := range vrecs {
		require.Equal(t, frecs[i][slog.MessageKey], vrecs[i][schema.Message])
		require.Equal(t, foreignAttrsOf(frecs[i]), attrsOf(vrecs[i]), "record %d (%s)", i, vrecs[i][schema.Message])
	}
}

// TestFanoutOneWritePerRecord: Fanout calls vlog's Handle once per record, and Handle encodes
// once and writes once. With stdout written synchronously (StdoutBuffered false) that is one
// Write per call, a whole record; with the buffer (the default) the Writes are batches of
// whole records, as many records as calls.
func TestFanoutOneWritePerRecord(t *testing.T) {
	for _, buffered := range []bool{false, true} {
		logger, vw := newVlog(t, &vlog.Options{StdoutBuffered: vlog.Bool(buffered)})
		log := slog.New(slogmulti.Fanout(logger.Handler(), slog.NewJSONHandler(&bytes.Buffer{}, nil)))
		for i := range 10 {
			log.With("i", i).Info("tick")
		}
		recs := vw.records(t)
		require.Len(t, recs, 10, "buffered=%v", buffered)
		for i, m := range recs {
			require.Equal(t, float64(i), m["i"])
		}
		if buffered {
			require.LessOrEqual(t, vw.writeCount(), 10)
		} else {
			require.Equal(t, 10, vw.writeCount())
		}
		require.Equal(t, uint64(10), logger.Stats().Delivered)
	}
}

// TestFanoutNested: Fanout flattens a Fanout given to it; vlog's handler, given once, still
// gets each record once.
func TestFanoutNested(t *testing.T) {
	logger, vw := newVlog(t, nil)
	var a, b bytes.Buffer
	h := slogmulti.Fanout(
		slogmulti.Fanout(logger.Handler(), slog.NewJSONHandler(&a, nil)),
		slog.NewTextHandler(&b, nil),
	)
	log := slog.New(h).With("k", "v")
	for range 3 {
		log.Info("tick")
	}
	require.Equal(t, 3, vw.count(t))
	require.Equal(t, 3, strings.Count(a.String(), "\n"))
	require.Equal(t, 3, strings.Count(b.String(), "\n"))
	require.Equal(t, uint64(3), logger.Stats().Delivered)
}

// TestFanoutConcurrent logs from many goroutines through one Fanout (run it with -race): every
// call is one whole vlog Write, none lost, none doubled, and vlog's counters agree.
func TestFanoutConcurrent(t *testing.T) {
	logger, vw := newVlog(t, nil)
	var mu sync.Mutex
	var foreign bytes.Buffer
	lw := writerFunc(func(p []byte) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		return foreign.Write(p)
	})
	log := slog.New(slogmulti.Fanout(logger.Handler(), slog.NewJSONHandler(lw, nil))).With("worker_pool", "a")

	const goroutines, perG = 8, 200
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l := log.WithGroup("job").With("g", g)
			ctx := vlog.WithRequestID(context.Background(), "req-"+string(rune('a'+g)))
			for i := range perG {
				l.InfoContext(ctx, "step", "i", i)
			}
		}()
	}
	wg.Wait()

	recs := vw.records(t)
	require.Len(t, recs, goroutines*perG)
	seen := make(map[[2]float64]bool)
	for _, m := range recs {
		job := m["job"].(map[string]any)
		g := job["g"].(float64)
		require.Equal(t, "req-"+string(rune('a'+int(g))), m[schema.RequestID], "the id of the goroutine's own context")
		key := [2]float64{g, job["i"].(float64)}
		require.False(t, seen[key], "record %v twice", key)
		seen[key] = true
	}
	require.Equal(t, goroutines*perG, strings.Count(foreign.String(), "\n"))
	st := logger.Stats()
	require.Equal(t, uint64(goroutines*perG), st.Delivered)
	require.Zero(t, st.Dropped.WriteError)
}

// TestFanoutSlogtest runs testing/slogtest on Fanout(vlog, slog.JSONHandler), reading vlog's
// output: the combinator hands WithAttrs, WithGroup and records on to vlog as slog requires.
func TestFanoutSlogtest(t *testing.T) {
	var vw *recorder
	slogtest.Run(t, func(t *testing.T) slog.Handler {
		var logger *vlog.Logger
		logger, vw = newVlog(t, nil)
		return slogmulti.Fanout(logger.Handler(), slog.NewJSONHandler(&bytes.Buffer{}, nil))
	}, func(t *testing.T) map[string]any { return slogtestResult(t, vw) })
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }
