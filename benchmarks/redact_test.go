package benchmarks

import (
	"context"
	"errors"
	"fmt"
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
// handler: the standard record, which has no secret, with redaction off and on; a record with
// three secrets in nested values (a group, an http.Header, a struct); and the records of
// cleanEncodedRecord, newFormatsRecord and encodedSecretsRecord.
//
//	benchstat -col /redact: the goal is 0 allocs for case=standard and, in instructions
//	(callgrind.sh), redact=on minus redact=off at most 15% of the standard log call.
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
	}{
		{"standard", standard}, {"3-secrets-nested", secrets},
		{"clean-encoded", cleanEncodedRecord()}, {"3-secrets-new-formats", newFormatsRecord()},
		{"3-secrets-encoded", encodedSecretsRecord()},
	} {
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

// The records of the cases added with the formats and the decoders (issue 12). Each has the
// standard record's attributes plus three values: without a secret but with escapes to decode
// (a percent-encoded URL, a JSON document in a string, an ARN), with three secrets of the new
// formats (an OpenAI key in the message, a Slack webhook URL, a GitLab token in an error),
// and with three encoded secrets (a Bearer token in a query, a form-encoded card number, a
// JSON-escaped document with a token).
const (
	benchOpenAIKey = "sk-proj-Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4zAB7CD0EF3GH6IJ9KL2MN5OP8QR1ST4UV7WX0YZ3ab6cd9ef"
	benchWebhook   = "https://hooks.slack.com/services/T024BE7LD/B01ABCDEFGH/abcdefghijklmnopqrstuvwx"
	benchGitLab    = "glpat-a1B2c3D4e5F6g7H8i9J0"
	benchJWT       = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"
)

func cleanEncodedRecord() slog.Record {
	r := slog.NewRecord(time.Now(), slog.LevelInfo, msg, 0)
	r.AddAttrs(orderAttrs()...)
	r.AddAttrs(
		slog.String("url", "https://api.example.com/v1/search?q=hello%20world&sort=asc&next=%2Forders%3Fpage%3D2"),
		slog.String("payload", `{"user":"bob","path":"\/var\/lib\/orders","n":3}`),
		slog.String("role", "arn:aws:iam::123456789012:role/orders-api-task-role"),
	)
	return r
}

func newFormatsRecord() slog.Record {
	r := slog.NewRecord(time.Now(), slog.LevelInfo, "calling openai with "+benchOpenAIKey, 0)
	r.AddAttrs(orderAttrs()...)
	r.AddAttrs(slog.String("hook", benchWebhook), slog.Any("err", errors.New("gitlab: 401 for token "+benchGitLab)))
	return r
}

func encodedSecretsRecord() slog.Record {
	r := slog.NewRecord(time.Now(), slog.LevelInfo, msg, 0)
	r.AddAttrs(orderAttrs()...)
	r.AddAttrs(
		slog.String("url", "https://api.example.com/cb?auth=Bearer%20"+benchJWT+"&page=2"),
		slog.String("body", "amount=19.99&card=4111+1111+1111+1111&exp=12%2F29"),
		slog.String("payload", `{"user":"bob","token":"tok-8f14e45fceea167a"}`),
	)
	return r
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

	before := red.Counts()
	buf.Reset()
	h := handlers.NewJSONHandler(&lockedBuilder{b: &buf}, &handlers.Options{Service: service, Redactor: red})
	ctx := context.Background()
	_ = h.Handle(ctx, cleanEncodedRecord())
	if out := buf.String(); strings.Contains(out, "REDACTED") || !strings.Contains(out, "hello%20world") || fmt.Sprint(red.Counts()) != fmt.Sprint(before) {
		t.Errorf("clean-encoded record changed: %s", out)
	}
	buf.Reset()
	_ = h.Handle(ctx, newFormatsRecord())
	_ = h.Handle(ctx, encodedSecretsRecord())
	out = buf.String()
	for _, s := range []string{benchOpenAIKey[8:], benchWebhook[33:], benchGitLab[6:], benchJWT[20:], "1111+1111", "tok-8f14e45fceea167a"} {
		if strings.Contains(out, s) {
			t.Errorf("secret %q in %s", s, out)
		}
	}
}

type lockedBuilder struct{ b *strings.Builder }

func (w *lockedBuilder) Write(p []byte) (int, error) { return w.b.Write(p) }
