package vlog

import (
	"context"
	"log"
	"log/slog"
	"slices"
	"strings"

	"go.vlog.dev/handlers"
	"go.vlog.dev/handlers/output"
	"go.vlog.dev/redact"
)

// Logger is a ready *slog.Logger plus the handle that owns its output. The embedded
// *slog.Logger is what the service logs with (or installs with slog.SetDefault, which Setup
// does).
type Logger struct {
	*slog.Logger

	level    *slog.LevelVar
	h        *handlers.JSONHandler // the root handler; nil in tests that build a Logger by hand
	output   output.Output
	cfg      *config
	redactor *redact.Redactor // nil when redaction is off
}

// Stats are the counters of a Logger's output.
type Stats = output.Stats

// New builds a Logger from opts and the environment (see Options). It never panics; an
// invalid setting makes it return an error that names the variable and the value (several at
// once, joined, when there are several). It waits on the network only on ECS
// (ECS_CONTAINER_METADATA_URI_V4 set), to read the task metadata, and for at most
// Options.ECSMetadataTimeout (1s by default): a failed read never fails New, it leaves the
// ECS fields out and is reported (see Logger.ECS).
func New(opts *Options) (*Logger, error) {
	cfg, err := resolve(opts)
	if err != nil {
		return nil, err
	}
	red, err := newRedactor(cfg)
	if err != nil {
		return nil, err
	}
	var h *handlers.JSONHandler
	out, err := newOutput(cfg, func(dst []byte, level slog.Level, msg string, attrs ...slog.Attr) []byte {
		return h.EncodeNotice(dst, level, msg, attrs...)
	})
	if err != nil {
		return nil, err
	}
	hopts := cfg.handlerOptions()
	if red != nil {
		hopts.Redactor = red
	}
	h = handlers.NewJSONHandler(out, hopts)
	l := &Logger{Logger: slog.New(h), level: cfg.level, h: h, output: out, cfg: cfg, redactor: red}
	l.reportStart()
	l.warnECS()
	return l, nil
}

// handlerOptions are the JSONHandler options of the resolved configuration: the schema's fixed
// fields, the ECS metadata and the static fields, the level and the source option, and the
// volume controls that are on.
func (c *config) handlerOptions() *handlers.Options {
	o := c.baseHandlerOptions()
	if isTrue(c.opts.Holding) {
		ho := *c.opts.Hold
		o.Hold = &ho
	}
	if c.opts.DebugSampleRate > 0 {
		o.DebugSampleRate = c.opts.DebugSampleRate
	}
	if isTrue(c.opts.RateLimiting) {
		rl := *c.opts.RateLimit
		rl.Exempt = append(slices.Clip(rl.Exempt), accessMessage)
		o.RateLimit = &rl
	}
	return o
}

// baseHandlerOptions are handlerOptions without the volume controls, for the handlers that
// encode only the library's own records.
func (c *config) baseHandlerOptions() *handlers.Options {
	return &handlers.Options{
		Level:      c.level,
		FlushLevel: c.flushLevel,
		AddSource:  c.addSource,
		Service:    c.service,
		Env:        c.env,
		Version:    c.version,
		Metadata:   append(c.ecs.meta.attrs(), c.opts.Fields...),

		TraceContext: c.opts.TraceContext,
	}
}

// reportStart writes, unless stdout is the only output, the one record that says where the
// records go, so the chosen path is visible in the stream itself (it is always in
// Stats().Output; on stdout alone the stream is its own evidence, and an extra record would
// only be noise).
func (l *Logger) reportStart() {
	c := l.cfg
	if len(c.outputs) == 1 && c.outputs[0] == OutputStdout {
		return
	}
	outputs := strings.Join(c.outputs, ",")
	attrs := []slog.Attr{slog.String("output", outputs)}
	if slices.Contains(c.outputs, OutputForward) {
		attrs = append(attrs, slog.String("router", c.opts.Forward.Address))
		if c.hasFallback() {
			attrs = append(attrs, slog.String("fallback", OutputVictoriaLogs))
		}
	}
	if slices.Contains(c.outputs, OutputFile) {
		attrs = append(attrs, slog.String("file", c.opts.File.Path))
	}
	size := c.opts.Buffer.Size
	if size <= 0 {
		size = output.DefaultBufferSize
	}
	attrs = append(attrs, slog.Int("buffer_bytes", size))
	attrs = append(attrs, slog.Bool("redaction", l.redactor != nil))
	l.LogAttrs(context.Background(), slog.LevelInfo, "vlog: logging to "+outputs, attrs...)
}

// Setup is New followed by slog.SetDefault: afterwards slog's top-level functions and the
// standard log package (at level info) write through the returned Logger. A log.Fatal* or
// log.Panic* call is logged at level error and waits (at most Options.ExitFlushTimeout) for
// its record, and those before it, to be delivered before the process exits or panics.
func Setup(opts *Options) (*Logger, error) {
	l, err := New(opts)
	if err != nil {
		return nil, err
	}
	slog.SetDefault(l.Logger)
	log.SetOutput(logBridge{l})
	return l, nil
}

// Flush delivers what is buffered, by ctx's deadline, without closing the Logger: before
// os.Exit, at the end of a short-lived job, after a record that must not be lost. It reports
// what it could not deliver in time (those records stay buffered). With the rate limit on, the
// records it suppressed and has not reported yet are reported first.
func (l *Logger) Flush(ctx context.Context) error {
	l.reportSuppressed()
	return l.output.Flush(ctx)
}

// Close delivers what is still pending by ctx's deadline and releases the output. Call it once,
// at shutdown; see the output's documentation for records logged afterwards. With the rate
// limit on, the records it suppressed and has not reported yet are reported first.
func (l *Logger) Close(ctx context.Context) error {
	l.reportSuppressed()
	return l.output.Close(ctx)
}

func (l *Logger) reportSuppressed() {
	if l.h != nil {
		l.h.ReportSuppressed()
	}
}

// Stats returns a snapshot of the output's counters, with the redaction counts and the volume
// controls' counts (Stats().Volume, nil when they are off).
func (l *Logger) Stats() Stats {
	s := l.output.Stats()
	if l.redactor != nil {
		s.Redacted = l.redactor.Counts()
	}
	if l.h != nil {
		if v := l.h.VolumeStats(); v != nil {
			s.Volume = (*output.VolumeStats)(v) // the same fields: the compiler checks it
		}
	}
	return s
}

// Scope is one unit of work (a request, a queue message) whose records are held or sampled
// together: see handlers.Scope, StartScope and docs/volume.md.
type Scope = handlers.Scope

// StartScope starts a scope for work that is not an HTTP request served through Middleware (a
// queue message, a batch job's item) on the Logger: the records logged with the returned
// context (or one derived from it) below VLOG_HOLD_BELOW are held, with holding on, and
// written only if the work fails (a record at VLOG_HOLD_FLUSH_LEVEL, or scope.Flush()); with
// VLOG_DEBUG_SAMPLE_RATE, the scope may log at debug in full. End the scope when the work is
// done:
//
//	ctx, scope := logger.StartScope(ctx)
//	defer scope.End()
//
// With neither holding nor sampling on, it returns ctx and a nil *Scope, whose methods do
// nothing.
func (l *Logger) StartScope(ctx context.Context) (context.Context, *Scope) {
	if l.h == nil {
		return ctx, nil
	}
	return l.h.StartScope(ctx)
}

// StartScope is Logger.StartScope on the handler of slog.Default() (the Logger that Setup
// installed), or does nothing (ctx and a nil *Scope) when that handler is not vlog's.
func StartScope(ctx context.Context) (context.Context, *Scope) {
	return handlers.StartScope(ctx, slog.Default().Handler())
}

// Redactor returns the redactor the Logger applies, nil when redaction is off. It can wrap other
// handlers (redact.NewHandler) so that they mask the same secrets.
func (l *Logger) Redactor() *redact.Redactor { return l.redactor }

// LevelVar returns the variable holding the logger's minimum level: Set changes it at run time
// for this Logger and everything derived from it.
func (l *Logger) LevelVar() *slog.LevelVar { return l.level }

// Service, Env and Version return the schema's fixed fields as resolved at setup.
func (l *Logger) Service() string { return l.cfg.service }

// Env returns the deployment environment resolved at setup.
func (l *Logger) Env() string { return l.cfg.env }

// Version returns the service version resolved at setup.
func (l *Logger) Version() string { return l.cfg.version }

// Output returns the names of the chosen outputs, comma-separated ("stdout",
// "stdout,victorialogs").
func (l *Logger) Output() string { return strings.Join(l.cfg.outputs, ",") }
