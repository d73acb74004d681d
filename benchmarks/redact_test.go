package benchmarks

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.vlog.dev/handlers"
	"go.vlog.dev/redact"
	"go.vlog.dev/vlog"
)

// BenchmarkRedact measures what secret redaction (on by default in vlog.Setup) adds to the
// handler: the standard record, which has no secret, with redaction off and on; and a record
// with three secrets in nested values (a group, an http.Header, a struct), with redaction on.
//
//	benchstat -col /redact: the goal is <= 1.15x and 0 allocs for case=standard.
func BenchmarkRedact(b *testing.B) {
	red, err := redact.New(nil)
	if err != nil {
		b.Fatal(err)
	}
	ctx := vlog.WithRequestID(context.Background(), requestID)
	standard := slog.NewRecord(time.Now(), slog.LevelInfo, msg, 0)
	standard.AddAttrs(orderAttrs()...)

	hdr := http.Header{}
	hdr.Set("Authorization", "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U")
	hdr.Set("Accept", "application/json")
	type login struct {
		User     string `json:"user"`
		Password string `json:"password"`
	}
	secrets := slog.NewRecord(time.Now(), slog.LevelInfo, "login", 0)
	secrets.AddAttrs(
		slog.Group("db", slog.String("dsn", "postgres://app:s3cr3t@db.internal:5432/orders")),
		slog.Any("headers", hdr),
		slog.Any("req", login{User: "alice", Password: "hunter2"}),
	)

	for _, c := range []struct {
		name string
		rec  slog.Record
	}{{"standard", standard}, {"3-secrets-nested", secrets}} {
		for _, mode := range []string{"off", "on"} {
			opts := &handlers.Options{Service: service, Env: env, Version: version}
			if mode == "on" {
				opts.Redactor = red
			}
			h := handlers.NewJSONHandler(discard{}, opts)
			b.Run("case="+c.name+"/redact="+mode, func(b *testing.B) {
				b.ReportAllocs()
				for i := 0; i < b.N; i++ {
					_ = h.Handle(ctx, c.rec)
				}
			})
		}
	}
}

// TestRedactBenchmarkRecords checks that the benchmark's secrets are really masked (and the
// standard record untouched), so the benchmark measures the work it claims to.
func TestRedactBenchmarkRecords(t *testing.T) {
	red, err := redact.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	var buf strings.Builder
	l := slog.New(handlers.NewJSONHandler(&lockedBuilder{b: &buf}, &handlers.Options{Service: service, Redactor: red}))
	hdr := http.Header{}
	hdr.Set("Authorization", "Bearer abc.def.ghi-secret")
	l.Info("login", slog.Group("db", slog.String("dsn", "postgres://app:s3cr3t@db.internal:5432/orders")), "headers", hdr)
	l.LogAttrs(context.Background(), slog.LevelInfo, msg, orderAttrs()...)
	out := buf.String()
	for _, s := range []string{"s3cr3t", "abc.def.ghi-secret"} {
		if strings.Contains(out, s) {
			t.Errorf("secret %q in %s", s, out)
		}
	}
	if !strings.Contains(out, orderID) || strings.Contains(out, "REDACTED\",\"order") {
		t.Errorf("standard record changed: %s", out)
	}
}

type lockedBuilder struct{ b *strings.Builder }

func (w *lockedBuilder) Write(p []byte) (int, error) { return w.b.Write(p) }
