package handlers

import (
	"os/exec"
	"strings"
	"testing"
)

// TestHandlerDependencies: the handler builds without the transports, so that a user who
// wants only the handler does not link net/http, crypto/tls or compress/gzip (the layout's
// reason: see the README).
func TestHandlerDependencies(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "go.vlog.dev/handlers").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	deps := strings.Fields(string(out))
	if !strings.Contains(" "+string(out), "\nlog/slog\n") {
		t.Fatalf("go list -deps does not list log/slog: %s", out)
	}
	for _, d := range deps {
		switch {
		case d == "net" || strings.HasPrefix(d, "net/") || strings.HasPrefix(d, "crypto/tls") || strings.HasPrefix(d, "compress/"),
			strings.HasPrefix(d, "go.vlog.dev/") && d != "go.vlog.dev/handlers" && d != "go.vlog.dev/handlers/schema" &&
				!strings.HasPrefix(d, "go.vlog.dev/internal/"):
			t.Errorf("go.vlog.dev/handlers depends on %s", d)
		}
	}
}
