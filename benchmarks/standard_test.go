package benchmarks

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	phuslu "github.com/phuslu/log"
	"github.com/rs/zerolog"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"go.vlog.dev/handlers"
	"go.vlog.dev/vlog"
)

// The standard record: one "order created" event of an HTTP service, with the fixed fields
// (service, env, version) pre-bound, the request id of the request and six attributes of
// the common kinds. Variables, not constants, so that no library gets constant-folded input.
var (
	msg       = "order created"
	service   = "order-api"
	env       = "prod"
	version   = "1.4.2"
	requestID = "req-7f3a9c2e4b1d"
	orderID   = "ord-8f14e45fceea"
	userID    = 4242
	amount    = 19.99
	items     = 3
	duration  = 42 * time.Millisecond
	ok        = true
)

// discard is the writer of every library: stateless, so safe for concurrent use, and not
// io.Discard, which a library could recognise and skip.
type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// Libraries whose only knobs are package variables are configured here, once, for the whole
// test binary: durations as integer nanoseconds and timestamps in UTC with nanoseconds, as
// vlog's handler and slog.JSONHandler write them.
func init() {
	zerolog.TimeFieldFormat = time.RFC3339Nano
	zerolog.TimestampFunc = func() time.Time { return time.Now().UTC() }
	zerolog.DurationFieldUnit = time.Nanosecond
	zerolog.DurationFieldInteger = true
}

// lib is one logging library configured to write the standard record. Each func logs the
// standard record once.
type lib struct {
	name string
	// standard is a whole call: fields built inline, the logger carrying service/env/version.
	standard func()
	// prebound logs through a logger that also carries order_id and user_id.
	prebound func()
	// disabled is the standard call at Debug on an Info logger: nothing is written.
	disabled func()
	// handle calls slog.Handler.Handle with a record built once; nil for non-slog libraries.
	handle func()

	// The keys this library uses for the time and the message.
	timeKey, msgKey string
}

// newLibs returns every library configured to write to w.
func newLibs(w io.Writer) []*lib {
	return []*lib{newVlog(w), newVlogNew(w), newSlogJSON(w), newZap(w), newZerolog(w), newPhuslu(w)}
}

// orderAttrs are the six attributes of the standard record as slog attributes.
func orderAttrs() []slog.Attr {
	return []slog.Attr{
		slog.String("order_id", orderID),
		slog.Int("user_id", userID),
		slog.Float64("amount", amount),
		slog.Int("items", items),
		slog.Duration("duration", duration),
		slog.Bool("ok", ok),
	}
}

// newVlog: service/env/version through handlers.Options, request_id from the context.
func newVlog(w io.Writer) *lib {
	h := handlers.NewJSONHandler(w, &handlers.Options{
		Level:   slog.LevelInfo,
		Service: service,
		Env:     env,
		Version: version,
	})
	logger := slog.New(h)
	pre := logger.With(slog.String("order_id", orderID), slog.Int("user_id", userID))
	ctx := vlog.WithRequestID(context.Background(), requestID)
	rec := slog.NewRecord(time.Now(), slog.LevelInfo, msg, 0)
	rec.AddAttrs(orderAttrs()...)
	return &lib{
		name: "vlog",
		standard: func() {
			logger.LogAttrs(ctx, slog.LevelInfo, msg,
				slog.String("order_id", orderID),
				slog.Int("user_id", userID),
				slog.Float64("amount", amount),
				slog.Int("items", items),
				slog.Duration("duration", duration),
				slog.Bool("ok", ok))
		},
		prebound: func() {
			pre.LogAttrs(ctx, slog.LevelInfo, msg,
				slog.Float64("amount", amount),
				slog.Int("items", items),
				slog.Duration("duration", duration),
				slog.Bool("ok", ok))
		},
		disabled: func() {
			logger.LogAttrs(ctx, slog.LevelDebug, msg,
				slog.String("order_id", orderID),
				slog.Int("user_id", userID),
				slog.Float64("amount", amount),
				slog.Int("items", items),
				slog.Duration("duration", duration),
				slog.Bool("ok", ok))
		},
		handle: func() {
			_ = h.Handle(ctx, rec)
		},
		timeKey: "event_time",
		msgKey:  "msg",
	}
}

// newVlogNew: the logger a service gets from vlog.New: the same handler behind a
// output.Direct (a mutex and counters around the writer) and a *slog.LevelVar. The
// environment is not read (Environ is empty), so the settings are exactly those given here.
func newVlogNew(w io.Writer) *lib {
	l, err := vlog.New(&vlog.Options{
		Service: service,
		Env:     env,
		Version: version,
		Level:   slog.LevelInfo,
		Output:  "stdout",
		Writer:  w,
		Environ: []string{},
		// Synchronous stdout (an output.Direct), as this row has always measured: the handler
		// behind vlog's output layer, without the buffer (BenchmarkOutputs has the buffer).
		StdoutBuffered: vlog.Bool(false),
	})
	if err != nil {
		panic(err) // the options above are valid; TestEquivalentOutput would report this first
	}
	logger := l.Logger
	h := logger.Handler()
	pre := logger.With(slog.String("order_id", orderID), slog.Int("user_id", userID))
	ctx := vlog.WithRequestID(context.Background(), requestID)
	rec := slog.NewRecord(time.Now(), slog.LevelInfo, msg, 0)
	rec.AddAttrs(orderAttrs()...)
	return &lib{
		name: "vlog.New",
		standard: func() {
			logger.LogAttrs(ctx, slog.LevelInfo, msg,
				slog.String("order_id", orderID),
				slog.Int("user_id", userID),
				slog.Float64("amount", amount),
				slog.Int("items", items),
				slog.Duration("duration", duration),
				slog.Bool("ok", ok))
		},
		prebound: func() {
			pre.LogAttrs(ctx, slog.LevelInfo, msg,
				slog.Float64("amount", amount),
				slog.Int("items", items),
				slog.Duration("duration", duration),
				slog.Bool("ok", ok))
		},
		disabled: func() {
			logger.LogAttrs(ctx, slog.LevelDebug, msg,
				slog.String("order_id", orderID),
				slog.Int("user_id", userID),
				slog.Float64("amount", amount),
				slog.Int("items", items),
				slog.Duration("duration", duration),
				slog.Bool("ok", ok))
		},
		handle: func() {
			_ = h.Handle(ctx, rec)
		},
		timeKey: "event_time",
		msgKey:  "msg",
	}
}

// newSlogJSON: the standard library's handler; service/env/version through WithAttrs (the
// equivalent of pre-binding), request_id as a per-call attribute since slog.JSONHandler does
// not read the context.
func newSlogJSON(w io.Writer) *lib {
	h := slog.NewJSONHandler(w, &slog.HandlerOptions{Level: slog.LevelInfo}).WithAttrs([]slog.Attr{
		slog.String("service", service),
		slog.String("env", env),
		slog.String("version", version),
	})
	logger := slog.New(h)
	pre := logger.With(slog.String("order_id", orderID), slog.Int("user_id", userID))
	ctx := vlog.WithRequestID(context.Background(), requestID)
	rec := slog.NewRecord(time.Now(), slog.LevelInfo, msg, 0)
	rec.AddAttrs(slog.String("request_id", requestID))
	rec.AddAttrs(orderAttrs()...)
	return &lib{
		name: "slog",
		standard: func() {
			logger.LogAttrs(ctx, slog.LevelInfo, msg,
				slog.String("request_id", requestID),
				slog.String("order_id", orderID),
				slog.Int("user_id", userID),
				slog.Float64("amount", amount),
				slog.Int("items", items),
				slog.Duration("duration", duration),
				slog.Bool("ok", ok))
		},
		prebound: func() {
			pre.LogAttrs(ctx, slog.LevelInfo, msg,
				slog.String("request_id", requestID),
				slog.Float64("amount", amount),
				slog.Int("items", items),
				slog.Duration("duration", duration),
				slog.Bool("ok", ok))
		},
		disabled: func() {
			logger.LogAttrs(ctx, slog.LevelDebug, msg,
				slog.String("request_id", requestID),
				slog.String("order_id", orderID),
				slog.Int("user_id", userID),
				slog.Float64("amount", amount),
				slog.Int("items", items),
				slog.Duration("duration", duration),
				slog.Bool("ok", ok))
		},
		handle: func() {
			_ = h.Handle(ctx, rec)
		},
		timeKey: "time",
		msgKey:  "msg",
	}
}

// newZap: the production JSON encoder with RFC 3339 nanosecond times and nanosecond
// durations, no caller, no sampling; service/env/version pre-bound with With.
func newZap(w io.Writer) *lib {
	cfg := zap.NewProductionEncoderConfig()
	cfg.EncodeTime = zapcore.RFC3339NanoTimeEncoder
	cfg.EncodeDuration = zapcore.NanosDurationEncoder
	core := zapcore.NewCore(zapcore.NewJSONEncoder(cfg), zapcore.AddSync(w), zapcore.InfoLevel)
	logger := zap.New(core).With(
		zap.String("service", service),
		zap.String("env", env),
		zap.String("version", version),
	)
	pre := logger.With(zap.String("order_id", orderID), zap.Int("user_id", userID))
	return &lib{
		name: "zap",
		standard: func() {
			logger.Info(msg,
				zap.String("request_id", requestID),
				zap.String("order_id", orderID),
				zap.Int("user_id", userID),
				zap.Float64("amount", amount),
				zap.Int("items", items),
				zap.Duration("duration", duration),
				zap.Bool("ok", ok))
		},
		prebound: func() {
			pre.Info(msg,
				zap.String("request_id", requestID),
				zap.Float64("amount", amount),
				zap.Int("items", items),
				zap.Duration("duration", duration),
				zap.Bool("ok", ok))
		},
		disabled: func() {
			logger.Debug(msg,
				zap.String("request_id", requestID),
				zap.String("order_id", orderID),
				zap.Int("user_id", userID),
				zap.Float64("amount", amount),
				zap.Int("items", items),
				zap.Duration("duration", duration),
				zap.Bool("ok", ok))
		},
		timeKey: "ts",
		msgKey:  "msg",
	}
}

// newZerolog: timestamp and service/env/version pre-bound with With().
func newZerolog(w io.Writer) *lib {
	logger := zerolog.New(w).Level(zerolog.InfoLevel).With().
		Timestamp().
		Str("service", service).
		Str("env", env).
		Str("version", version).
		Logger()
	pre := logger.With().Str("order_id", orderID).Int("user_id", userID).Logger()
	return &lib{
		name: "zerolog",
		standard: func() {
			logger.Info().
				Str("request_id", requestID).
				Str("order_id", orderID).
				Int("user_id", userID).
				Float64("amount", amount).
				Int("items", items).
				Dur("duration", duration).
				Bool("ok", ok).
				Msg(msg)
		},
		prebound: func() {
			pre.Info().
				Str("request_id", requestID).
				Float64("amount", amount).
				Int("items", items).
				Dur("duration", duration).
				Bool("ok", ok).
				Msg(msg)
		},
		disabled: func() {
			logger.Debug().
				Str("request_id", requestID).
				Str("order_id", orderID).
				Int("user_id", userID).
				Float64("amount", amount).
				Int("items", items).
				Dur("duration", duration).
				Bool("ok", ok).
				Msg(msg)
		},
		timeKey: "time",
		msgKey:  "message",
	}
}

// newPhuslu: RFC 3339 nanosecond times in UTC, service/env/version pre-bound as the Logger's
// Context. phuslu's Dur writes fractional milliseconds, so the duration is written with Int64
// as integer nanoseconds, like every other library here.
func newPhuslu(w io.Writer) *lib {
	logger := phuslu.Logger{
		Level:        phuslu.InfoLevel,
		TimeFormat:   time.RFC3339Nano,
		TimeLocation: time.UTC,
		Writer:       phuslu.IOWriter{Writer: w},
		Context: phuslu.NewContext(nil).
			Str("service", service).
			Str("env", env).
			Str("version", version).
			Value(),
	}
	pre := logger
	pre.Context = phuslu.NewContext(bytes.Clone(logger.Context)).
		Str("order_id", orderID).
		Int("user_id", userID).
		Value()
	return &lib{
		name: "phuslu",
		standard: func() {
			logger.Info().
				Str("request_id", requestID).
				Str("order_id", orderID).
				Int("user_id", userID).
				Float64("amount", amount).
				Int("items", items).
				Int64("duration", int64(duration)).
				Bool("ok", ok).
				Msg(msg)
		},
		prebound: func() {
			pre.Info().
				Str("request_id", requestID).
				Float64("amount", amount).
				Int("items", items).
				Int64("duration", int64(duration)).
				Bool("ok", ok).
				Msg(msg)
		},
		disabled: func() {
			logger.Debug().
				Str("request_id", requestID).
				Str("order_id", orderID).
				Int("user_id", userID).
				Float64("amount", amount).
				Int("items", items).
				Int64("duration", int64(duration)).
				Bool("ok", ok).
				Msg(msg)
		},
		timeKey: "time",
		msgKey:  "message",
	}
}

// scenarios is the row axis of the matrix; a nil func means the library has no such scenario.
var scenarios = []struct {
	name     string
	parallel bool
	pick     func(*lib) func()
}{
	{"standard", false, func(l *lib) func() { return l.standard }},
	{"standard-parallel", true, func(l *lib) func() { return l.standard }},
	{"prebound", false, func(l *lib) func() { return l.prebound }},
	{"disabled", false, func(l *lib) func() { return l.disabled }},
	{"handle-only", false, func(l *lib) func() { return l.handle }},
}

// BenchmarkLog runs the scenario x library matrix. The names are
// Log/scenario=<scenario>/lib=<lib>, so that `benchstat -col /lib` puts the libraries side
// by side.
func BenchmarkLog(b *testing.B) {
	libs := newLibs(discard{})
	for _, sc := range scenarios {
		for _, l := range libs {
			f := sc.pick(l)
			if f == nil {
				continue
			}
			b.Run("scenario="+sc.name+"/lib="+l.name, func(b *testing.B) {
				b.ReportAllocs()
				if sc.parallel {
					b.ResetTimer()
					b.RunParallel(func(pb *testing.PB) {
						for pb.Next() {
							f()
						}
					})
					return
				}
				for b.Loop() {
					f()
				}
			})
		}
	}
}

// TestEquivalentOutput logs the standard record through every library and every scenario and
// checks that the outputs carry the same values, so that the benchmarks compare equal work.
func TestEquivalentOutput(t *testing.T) {
	want := map[string]string{
		"service":    `"order-api"`,
		"env":        `"prod"`,
		"version":    `"1.4.2"`,
		"request_id": `"req-7f3a9c2e4b1d"`,
		"order_id":   `"ord-8f14e45fceea"`,
		"user_id":    `4242`,
		"amount":     `19.99`,
		"items":      `3`,
		"duration":   `42000000`,
		"ok":         `true`,
	}
	for _, sc := range scenarios {
		if sc.parallel {
			continue // the same func as its single-goroutine scenario
		}
		var buf bytes.Buffer
		for _, l := range newLibs(&buf) {
			f := sc.pick(l)
			if f == nil {
				continue
			}
			buf.Reset()
			f()
			out := buf.String()
			name := sc.name + "/" + l.name
			if sc.name == "disabled" {
				if out != "" {
					t.Errorf("%s: wrote %q, want nothing", name, out)
				}
				continue
			}
			t.Logf("%-20s %s", name, strings.TrimSuffix(out, "\n"))
			if strings.Count(out, "\n") != 1 || !strings.HasSuffix(out, "\n") {
				t.Errorf("%s: want one line ending in a newline, got %q", name, out)
			}
			var got map[string]json.RawMessage
			if err := json.Unmarshal([]byte(out), &got); err != nil {
				t.Errorf("%s: invalid JSON: %v", name, err)
				continue
			}
			for k, v := range want {
				if string(got[k]) != v {
					t.Errorf("%s: %s = %s, want %s", name, k, got[k], v)
				}
			}
			if m := string(got[l.msgKey]); m != `"order created"` {
				t.Errorf("%s: %s = %s, want %q", name, l.msgKey, m, msg)
			}
			var lvl string
			if err := json.Unmarshal(got["level"], &lvl); err != nil || !strings.EqualFold(lvl, "info") {
				t.Errorf("%s: level = %s, want info", name, got["level"])
			}
			var ts string
			if err := json.Unmarshal(got[l.timeKey], &ts); err != nil {
				t.Errorf("%s: %s = %s, want an RFC 3339 string", name, l.timeKey, got[l.timeKey])
			} else if tm, err := time.Parse(time.RFC3339Nano, ts); err != nil {
				t.Errorf("%s: %s: %v", name, l.timeKey, err)
			} else if d := time.Since(tm); d < 0 || d > time.Minute {
				t.Errorf("%s: %s = %s, not the current time", name, l.timeKey, ts)
			}
			if n := len(want) + 3; len(got) != n {
				t.Errorf("%s: %d fields, want %d", name, len(got), n)
			}
		}
	}
}
