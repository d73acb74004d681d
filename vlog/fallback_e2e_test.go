package vlog

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.vlog.dev/internal/vtest"
)

// TestFallbackEndToEnd: FireLens variables point at a router that is not there, VICTORIALOGS_URL
// at a local VictoriaLogs stand-in; everything logged reaches VictoriaLogs, and the switch shows
// in Stats, in the metrics and in one record of the stream.
func TestFallbackEndToEnd(t *testing.T) {
	vl := vtest.NewVictoriaLogs(t)

	// A port nothing listens on.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	port := ln.Addr().(*net.TCPAddr).Port
	require.NoError(t, ln.Close())

	l, err := New(&Options{Environ: []string{
		"SERVICE=order-api", "ENV=test",
		"FLUENT_HOST=127.0.0.1", fmt.Sprintf("FLUENT_PORT=%d", port),
		"VICTORIALOGS_URL=" + vl.URL,
		"VLOG_FALLBACK_AFTER=0", "VLOG_BATCH_AGE=10ms", "VLOG_FLUENT_TIMEOUT=200ms",
	}})
	require.NoError(t, err)
	require.Equal(t, OutputForward, l.Output())
	for i := 0; i < 100; i++ {
		l.Info("order created", "seq", i)
	}
	require.Eventually(t, func() bool { return l.Stats().Delivered >= 100 }, 10*time.Second, 10*time.Millisecond)
	st := l.Stats()
	require.NotNil(t, st.Fallback)
	require.True(t, st.Fallback.OnFallback)
	require.Equal(t, uint64(1), st.Fallback.Switches)

	rec := httptest.NewRecorder()
	l.MetricsHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	require.Contains(t, rec.Body.String(), "vlog_fallback_active 1\n")
	require.Contains(t, rec.Body.String(), "vlog_fallback_switches_total 1\n")

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(t, l.Close(ctx))
	st = l.Stats()
	require.Equal(t, st.Enqueued, st.Delivered+st.Dropped.Total())

	seen := map[string]bool{}
	switches := 0
	for _, m := range vl.Lines() {
		require.Equal(t, "order-api", m["service"])
		if s, ok := m["seq"].(json.Number); ok {
			seen[s.String()] = true
		}
		if msg, _ := m["msg"].(string); strings.Contains(msg, "sending to victorialogs directly") {
			switches++
		}
	}
	require.Len(t, seen, 100, "every record reached VictoriaLogs")
	require.Equal(t, 1, switches, "one record in the stream says the output switched")
}

// TestFallbackStdoutLastResort: with VLOG_FALLBACK_STDOUT=true and both the router and
// VictoriaLogs down, the records reach the writer (stdout) instead of waiting in the buffer;
// without it they wait and are counted as not delivered at Close.
func TestFallbackStdoutLastResort(t *testing.T) {
	vl := vtest.NewVictoriaLogs(t)
	vl.SetFault(func(_ int64, w http.ResponseWriter, _ *http.Request) int {
		http.Error(w, "overloaded", http.StatusServiceUnavailable)
		return http.StatusServiceUnavailable
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	port := ln.Addr().(*net.TCPAddr).Port
	require.NoError(t, ln.Close())

	for _, on := range []bool{true, false} {
		t.Run(fmt.Sprint("stdout=", on), func(t *testing.T) {
			var out lockedBuffer
			l, err := New(&Options{Writer: &out, Environ: []string{
				"SERVICE=order-api", "ENV=test",
				"FLUENT_HOST=127.0.0.1", fmt.Sprintf("FLUENT_PORT=%d", port),
				"VICTORIALOGS_URL=" + vl.URL, fmt.Sprint("VLOG_FALLBACK_STDOUT=", on),
				"VLOG_FALLBACK_AFTER=0", "VLOG_BATCH_AGE=10ms", "VLOG_FLUENT_TIMEOUT=200ms",
			}})
			require.NoError(t, err)
			for i := range 50 {
				l.Info("order created", "seq", i)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			err = l.Close(ctx)
			st := l.Stats()
			seqs := map[float64]int{}
			for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
				if line == "" {
					continue
				}
				var m map[string]any
				require.NoError(t, json.Unmarshal([]byte(line), &m), line)
				if s, ok := m["seq"].(float64); ok {
					require.Equal(t, "order-api", m["service"])
					seqs[s]++
				}
			}
			if on {
				require.NoError(t, err)
				require.Equal(t, uint64(51), st.Delivered, "%+v", st) // +1: the startup record
				require.Len(t, seqs, 50)
				require.NotZero(t, st.Fallback.LastResort)
			} else {
				require.ErrorContains(t, err, "not delivered")
				require.Zero(t, st.Delivered)
				require.Equal(t, uint64(51), st.Dropped.Closed)
				require.Empty(t, seqs)
			}
		})
	}
}

type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
