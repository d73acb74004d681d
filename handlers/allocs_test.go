package handlers

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"go.vlog.dev/internal/ctxids"
	"go.vlog.dev/internal/vtest"
	"go.vlog.dev/redact"
)

// userID is a LogValuer. (One that returns slog.GroupValue allocates in LogValue itself,
// outside the handler's control.)
type userID int

func (u userID) LogValue() slog.Value { return slog.IntValue(int(u)) }

var errBoom = errors.New("boom")

// TestHandleAllocs pins the promise: no allocation per record inside the handler for the common
// kinds.
func TestHandleAllocs(t *testing.T) {
	h := NewJSONHandler(io.Discard, &Options{Service: "order-api", Env: "prod", Version: "1.4.2",
		Metadata: []slog.Attr{slog.String("ecs_cluster", "main")}})
	ctx := ctxids.With(context.Background(), ctxids.IDs{RequestID: "req-1", TraceID: "t", SpanID: "s"})
	tm := time.Date(2026, 11, 22, 1, 2, 3, 4, time.UTC)
	r := slog.NewRecord(tm, slog.LevelInfo, "order created", 0)
	r.AddAttrs(
		slog.String("order_id", "ord-1"), slog.Int("user_id", 42), slog.Uint64("u", 7),
		slog.Float64("amount", 19.99), slog.Int("items", 3), slog.Duration("duration", time.Millisecond),
		slog.Bool("ok", true), slog.Time("at", tm), slog.Any("err", errBoom),
		slog.Group("g", slog.String("a", "b"), slog.Group("h", slog.Int("c", 1))),
		slog.Any("user", userID(7)), slog.String("esc", "quote\" and\nnewline \xff é"),
	)
	vtest.WantAllocs(t, 0, func() { _ = h.Handle(ctx, r) })

	hw := h.WithGroup("req").WithAttrs([]slog.Attr{slog.String("pre", "x")})
	vtest.WantAllocs(t, 0, func() { _ = hw.Handle(ctx, r) })
}

// TestLoggerAllocs measures the whole slog.Logger call: slog itself allocates nothing for up to
// five attributes passed to LogAttrs.
func TestLoggerAllocs(t *testing.T) {
	l := slog.New(NewJSONHandler(io.Discard, &Options{Service: "s", Env: "e", Version: "v"}))
	ctx := context.Background()
	vtest.WantAllocs(t, 0, func() {
		l.LogAttrs(ctx, slog.LevelInfo, "order created",
			slog.String("order_id", "ord-1"), slog.Int("user_id", 42), slog.Float64("amount", 19.99),
			slog.Duration("duration", time.Millisecond), slog.Bool("ok", true))
	})
	vtest.WantAllocs(t, 0, func() { l.Debug("disabled", "a", 1) })
}

// TestHandleAllocsRedacted: redaction keeps the handler at 0 allocations when there is no
// secret in the record.
func TestHandleAllocsRedacted(t *testing.T) {
	red, err := redact.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	h := NewJSONHandler(io.Discard, &Options{Service: "order-api", Env: "prod", Version: "1.4.2", Redactor: red})
	ctx := ctxids.With(context.Background(), ctxids.IDs{RequestID: "4bf92f3577b34da6a3ce929d0e0e4736"})
	r := slog.NewRecord(time.Now(), slog.LevelInfo, "order created", 0)
	r.AddAttrs(slog.String("order_id", "ord-1234567"), slog.Int("user_id", 42), slog.Float64("amount", 19.99),
		slog.Int("items", 3), slog.Duration("duration", time.Millisecond), slog.Bool("ok", true),
		slog.Any("err", errBoom), slog.Group("g", slog.String("path", "/orders/7")))
	vtest.WantAllocs(t, 0, func() { _ = h.Handle(ctx, r) })
}

// TestMessageCache: a message the redactor found clean is remembered, one with a secret never
// is, and a message with the same length and ends as a cached one is still scanned.
func TestMessageCache(t *testing.T) {
	red, err := redact.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	c := &capture{}
	l := slog.New(NewJSONHandler(c, &Options{Redactor: red}))
	for i := 0; i < 3; i++ {
		l.Info("order created")
		if got := c.lastMap(t)["msg"]; got != "order created" {
			t.Fatalf("got %q", got)
		}
		l.Info("login password=hunter2 ok")
		if got := c.lastMap(t)["msg"]; got != "login password=[REDACTED] ok" {
			t.Fatalf("got %q", got)
		}
		l.Info("login password=hunter3 ok") // same length and ends as the previous one
		if got := c.lastMap(t)["msg"]; got != "login password=[REDACTED] ok" {
			t.Fatalf("got %q", got)
		}
	}
	if n := red.Counts()["key_value"]; n != 6 {
		t.Fatalf("key_value count %d, want 6", n)
	}
}
