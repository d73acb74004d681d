package redact_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"testing"

	"go.vlog.dev/redact"
)

var benchStrings = []string{
	"user 42 logged in from 10.0.0.1",
	"GET /api/v1/orders?page=2&limit=50 200 13.2ms",
	"order ord_12345678901234 shipped at 2024-05-01T12:34:56Z to warehouse eu-west-1",
	"GET /search?q=hello%20world&sort=asc&next=%2Forders%3Fpage%3D2 200",
	`{\"user\":\"bob\",\"path\":\"\/var\/lib\/orders\",\"n\":3}`,
}

var (
	sinkStr string
	sinkOK  bool
)

func BenchmarkString(b *testing.B) {
	r := mustNew(b, nil)
	for i, name := range []string{"short", "request", "order", "encoded", "json-escaped"} {
		s := benchStrings[i]
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(s)))
			for i := 0; i < b.N; i++ {
				sinkStr, _ = r.String(s)
			}
		})
	}
}

func BenchmarkStringSecret(b *testing.B) {
	r := mustNew(b, nil)
	for name, s := range map[string]string{
		"kv":             "connecting with password=hunter2 to db.internal",
		"url":            "dial postgres://app:s3cr3t@db.internal:5432/orders failed",
		"jwt":            "Authorization: Bearer " + jwt,
		"card":           "paid with 4111 1111 1111 1111 at store 42",
		"openai":         "calling with sk-proj-Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4zAB7CD0EF3GH6IJ9KL2MN5OP8QR1ST4UV7WX0YZ3ab6cd9ef",
		"webhook":        "posting to https://hooks.slack.com/services/T024BE7LD/B01ABCDEFGH/abcdefghijklmnopqrstuvwx",
		"encoded-bearer": "GET /cb?auth=Bearer%20abc123def456ghi789&page=2",
	} {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(s)))
			for i := 0; i < b.N; i++ {
				sinkStr, _ = r.String(s)
			}
		})
	}
}

func BenchmarkIsSecretKey(b *testing.B) {
	r := mustNew(b, nil)
	for _, key := range []string{"user_id", "X-Api-Key", "request.duration_ms"} {
		b.Run(key, func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				sinkOK = r.IsSecretKey(key)
			}
		})
	}
}

func BenchmarkAppendJSON(b *testing.B) {
	r := mustNew(b, nil)
	js, _ := json.Marshal(map[string]any{
		"user": "bob", "roles": []string{"admin", "dev"}, "password": "hunter2",
		"nested": map[string]any{"host": "db", "port": 5432, "note": "GET /x?y=1"},
	})
	buf := make([]byte, 0, 512)
	b.ReportAllocs()
	b.SetBytes(int64(len(js)))
	for i := 0; i < b.N; i++ {
		buf = r.AppendJSON(buf[:0], js)
	}
}

// BenchmarkHandler measures NewHandler over a handler that does nothing: the redaction alone.
func BenchmarkHandler(b *testing.B) {
	r := mustNew(b, nil)
	logger := slog.New(redact.NewHandler(discard{}, r))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		logger.LogAttrs(context.Background(), slog.LevelInfo, benchStrings[1],
			slog.String("user", "bob"), slog.Int("status", 200), slog.String("path", "/api/v1/orders"))
	}
}

type discard struct{}

func (discard) Enabled(context.Context, slog.Level) bool  { return true }
func (discard) Handle(context.Context, slog.Record) error { return nil }
func (d discard) WithAttrs([]slog.Attr) slog.Handler      { return d }
func (d discard) WithGroup(string) slog.Handler           { return d }
