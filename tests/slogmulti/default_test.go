package slogmulti_test

import (
	"bytes"
	"log"
	"log/slog"
	"strings"
	"testing"

	slogmulti "github.com/samber/slog-multi"
	"github.com/stretchr/testify/require"

	"go.vlog.dev/handlers/schema"
)

// TestSetDefaultComposition is the recipe for installing a composition as the process's
// default logger: vlog.New (not Setup, whose slog.SetDefault would be replaced at once), then
// slog.SetDefault of the composed handler. slog's top-level functions and the standard log
// package then reach vlog and the foreign handler alike. (log.Fatal then goes through slog's
// own bridge, which does not wait for vlog's buffer: see docs/slog-multi.md.)
func TestSetDefaultComposition(t *testing.T) {
	prevDefault, prevOut, prevFlags := slog.Default(), log.Writer(), log.Flags()
	t.Cleanup(func() {
		slog.SetDefault(prevDefault)
		log.SetOutput(prevOut)
		log.SetFlags(prevFlags)
	})

	logger, vw := newVlog(t, nil)
	var foreign bytes.Buffer
	slog.SetDefault(slog.New(slogmulti.Fanout(logger.Handler(), slog.NewJSONHandler(&foreign, nil))))

	slog.Info("from slog", "k", "v")
	log.Print("from the log package")

	recs := vw.records(t)
	require.Len(t, recs, 2)
	require.Equal(t, "from slog", recs[0][schema.Message])
	require.Equal(t, "v", recs[0]["k"])
	require.Equal(t, "from the log package", recs[1][schema.Message])
	require.Equal(t, "info", recs[1][schema.Level])
	require.Equal(t, 2, strings.Count(foreign.String(), "\n"))
	require.Contains(t, foreign.String(), `"msg":"from the log package"`)
}
