package redact_test

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// wantAllocs checks that f allocates want times per run on average. The race detector makes
// code allocate, so the check is skipped under it.
func wantAllocs(t *testing.T, want float64, f func()) {
	t.Helper()
	if raceEnabled {
		return
	}
	require.Equal(t, want, testing.AllocsPerRun(100, f))
}
