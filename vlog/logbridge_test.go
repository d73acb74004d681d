package vlog

import (
	"encoding/json"
	"log"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

const fatalChildEnv = "VLOG_TEST_FATAL_CHILD"

// TestLogFatalDeliversItsRecord runs itself as a child process that logs through Setup with
// stdout behind the buffer (the default) and a batch age of an hour, then calls log.Fatal: the
// records before it and the fatal one (at level error) still reach stdout before the exit.
func TestLogFatalDeliversItsRecord(t *testing.T) {
	if os.Getenv(fatalChildEnv) == "1" {
		fatalChild()
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestLogFatalDeliversItsRecord$")
	cmd.Env = append(os.Environ(), fatalChildEnv+"=1")
	out, err := cmd.Output()
	var exit *exec.ExitError
	require.ErrorAs(t, err, &exit, "log.Fatal exits with status 1")
	require.Equal(t, 1, exit.ExitCode())
	var msgs, levels []string
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) != nil {
			continue // the testing package's own output
		}
		msgs = append(msgs, m["msg"].(string))
		levels = append(levels, m["level"].(string))
	}
	require.Equal(t, []string{"before", "via log", "fatal: boom"}, msgs)
	require.Equal(t, []string{"info", "info", "error"}, levels)
}

func fatalChild() {
	_, err := Setup(&Options{Writer: os.Stdout, Environ: []string{"SERVICE=fatal-child", "VLOG_BATCH_AGE=1h"}})
	if err != nil {
		os.Exit(3)
	}
	slog.Info("before")
	log.Print("via log")
	log.Fatal("fatal: boom")
}
