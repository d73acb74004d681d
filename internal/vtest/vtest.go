// Package vtest holds what the tests of the library's packages share, written once: the
// allocation check, the goroutine leak check, a strict JSON record decoder, one fake
// VictoriaLogs (VictoriaLogs) and one forward-protocol sink (ForwardSink). It is imported
// by tests only.
package vtest

import (
	"bytes"
	"encoding/json"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"go.vlog.dev/handlers/output"
)

// WantAllocs checks the allocations of one run of f. Under the race detector, which allocates
// on its own, the check is left out (and said so in the test log); the test goes on.
func WantAllocs(t testing.TB, want int, f func()) {
	t.Helper()
	if raceEnabled {
		t.Log("allocation count not checked under -race")
		return
	}
	if got := testing.AllocsPerRun(100, f); got != float64(want) {
		t.Errorf("got %v allocs, want %d", got, want)
	}
}

// CheckNoLeak fails the test when goroutines started during it are still running at its end
// (after a grace period of 2s for those on their way out).
func CheckNoLeak(t testing.TB) {
	before := runtime.NumGoroutine()
	t.Cleanup(func() {
		deadline := time.Now().Add(2 * time.Second)
		for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		if n := runtime.NumGoroutine(); n > before {
			buf := make([]byte, 1<<16)
			t.Errorf("%d goroutines left behind:\n%s", n-before, buf[:runtime.Stack(buf, true)])
		}
	})
}

// Decode decodes one JSON object, numbers as json.Number.
func Decode(t testing.TB, line []byte) map[string]any {
	t.Helper()
	var m map[string]any
	d := json.NewDecoder(bytes.NewReader(line))
	d.UseNumber()
	require.NoError(t, d.Decode(&m), "%q", line)
	return m
}

// CheckInvariant checks the accounting of an output: every record given to it is delivered
// or dropped, Enqueued == Delivered + Dropped.Total().
func CheckInvariant(t testing.TB, s output.Stats) {
	t.Helper()
	require.Equal(t, s.Enqueued, s.Delivered+s.Dropped.Total(), "%+v", s)
}
