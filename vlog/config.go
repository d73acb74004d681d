package vlog

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"time"

	"go.vlog.dev/handlers"
	"go.vlog.dev/handlers/file"
	"go.vlog.dev/handlers/forward"
	"go.vlog.dev/handlers/output"
	"go.vlog.dev/handlers/victorialogs"
	"go.vlog.dev/redact"
)

// Options configure New and Setup. The zero value (and nil) means: every setting from the
// environment, the documented default for the rest.
//
// Every setting has a variable and a field (the README's configuration table lists them; the
// table in settings.go is their one declaration). A field set in code wins over its variable:
// a field is set when it is not its zero value, so the fields whose zero value means
// something (the booleans) are pointers, nil meaning "not set" (Bool makes one), and the drop
// policy's zero value is output.DropDefault. A duration whose variable takes 0 for "none"
// (VLOG_FALLBACK_AFTER, VLOG_ECS_METADATA_TIMEOUT) takes a negative value for it in code.
// The VLOG_REDACT_ lists are added to the Redact lists set in code.
type Options struct {
	// Service names the service (SERVICE). Default: the executable's base name.
	Service string
	// Env names the deployment environment, prod, staging, ... (ENV). Default "unknown".
	Env string
	// Version is the service's version (VERSION). Default: the main module's version from
	// the build info, else the VCS revision (12 characters, "-dirty" when modified), else
	// "unknown".
	Version string

	// Level is the minimum level (VLOG_LEVEL). Default info. When Level is a *slog.LevelVar,
	// the logger uses that variable, so the caller can change the level at run time;
	// otherwise Logger.LevelVar returns a new variable set to it.
	Level slog.Leveler

	// FlushLevel: a record at or above it is sent at once, without waiting for the batch age,
	// so the records just before a crash are the ones most likely to have left the process
	// (VLOG_FLUSH_LEVEL). Default error.
	FlushLevel slog.Leveler

	// ExitFlushTimeout bounds how long a log.Fatal*, log.Fatalf, log.Panic* call (the
	// standard log package, which Setup routes to the Logger) waits for its record, and
	// those before it, to be delivered before the process exits or panics
	// (VLOG_EXIT_FLUSH_TIMEOUT). Default 1s.
	ExitFlushTimeout time.Duration

	// AddSource adds a "caller" object (function, file, line) to every record
	// (VLOG_ADD_SOURCE). Default false.
	AddSource *bool

	// Output chooses the destination (VLOG_OUTPUT). Default "auto": forward when ECS
	// injected FLUENT_HOST and FLUENT_PORT (FireLens) or Forward.Address is set, victorialogs
	// when VictoriaLogs has a URL, stdout otherwise. "stdout", "forward" and "victorialogs"
	// force one.
	Output string

	// StdoutBuffered puts the stdout output behind the buffer, so a blocked log pipe (a
	// stalled log driver or router) cannot stall the service: records are dropped and counted
	// instead (VLOG_STDOUT_BUFFERED). Default true. False writes each record synchronously on
	// the logging goroutine: nothing is dropped by vlog, and a blocked pipe blocks the log call.
	StdoutBuffered *bool

	// Buffer configures the bounded buffer between the logging goroutines and the network
	// (VLOG_BUFFER_SIZE, VLOG_BATCH_*, VLOG_MAX_RECORD_SIZE, VLOG_DROP_POLICY, VLOG_RETRY_*;
	// output.BufferOptions states the defaults).
	Buffer *output.BufferOptions

	// Forward configures the forward output to the FireLens router (FLUENT_HOST,
	// FLUENT_PORT, VLOG_FLUENT_*; see docs/forward.md). Its TLS and Dial fields exist in
	// code only.
	Forward *forward.Options

	// VictoriaLogs configures the victorialogs output, and the fallback from the router to
	// VictoriaLogs (VICTORIALOGS_URL, VLOG_VICTORIALOGS_*; see docs/victorialogs.md). Its
	// TLSConfig and HTTPClient fields exist in code only.
	VictoriaLogs *victorialogs.Options

	// File configures the file output, for a sidecar agent that tails the file on a shared
	// volume (VLOG_FILE_PATH, VLOG_FILE_MAX_SIZE, VLOG_FILE_MAX_FILES; see file.Options).
	File *file.Options

	// Fallback configures the switch from the router to VictoriaLogs while the router is
	// down, used when both are configured (VLOG_FALLBACK_*). Its LastResort, set in code,
	// wins over FallbackStdout.
	Fallback *output.FallbackOptions
	// FallbackStdout makes stdout (Writer) the last resort: a batch that both the router and
	// VictoriaLogs failed is written there, where the container runtime keeps it, instead of
	// waiting in the buffer (VLOG_FALLBACK_STDOUT). Default false.
	FallbackStdout *bool

	// Redaction turns secret redaction on or off (VLOG_REDACT). Default true.
	Redaction *bool
	// Redact configures redaction (see go.vlog.dev/redact for what is masked); the
	// VLOG_REDACT_ variables add to it. Default nil: the built-in rules.
	Redact *redact.Options

	// Holding turns on the holding of each request's records below Hold.Below (debug): they
	// are written only if the request fails (a record at Hold.FlushLevel, a 5xx, a panic) and
	// discarded otherwise (VLOG_HOLD). Middleware starts a scope per request; StartScope starts
	// one for other work. Default false. See docs/volume.md.
	Holding *bool
	// Hold configures holding (VLOG_HOLD_*; handlers.HoldOptions states the defaults).
	Hold *handlers.HoldOptions

	// DebugSampleRate is the fraction, 0 to 1, of requests (and scopes) that log at debug in
	// full, drawn when each starts; their records carry vlog_debug_sampled and
	// vlog_debug_sample_rate (VLOG_DEBUG_SAMPLE_RATE, where "0" means none). Default 0: none.
	// Negative in code: none, whatever the variable says.
	DebugSampleRate float64

	// RateLimiting turns on the rate limit of the records below RateLimit.Below (error) per
	// level and message: the first RateLimit.First in each RateLimit.Interval, then one in
	// RateLimit.Thereafter; what it suppressed is reported in the stream once per interval
	// and message (VLOG_RATE_LIMIT). The access record of Middleware is never limited.
	// Default false.
	RateLimiting *bool
	// RateLimit configures the rate limit (VLOG_RATE_LIMIT_*; handlers.RateLimitOptions
	// states the defaults). A Thereafter whose variable takes 0 for "none past First" takes a
	// negative value in code.
	RateLimit *handlers.RateLimitOptions

	// ECSMetadataTimeout bounds the read of the ECS task metadata (see ECSMetadata), done
	// once in New when ECS_CONTAINER_METADATA_URI_V4 is set (VLOG_ECS_METADATA_TIMEOUT, where
	// "0" turns the read off). Default DefaultECSMetadataTimeout (1s). Negative: no read.
	ECSMetadataTimeout time.Duration

	// StopTimeout is how long the stop started by Logger.StopOnSignal may take, counted from
	// the signal (VLOG_STOP_TIMEOUT). Default DefaultStopTimeout (25s, under ECS's default
	// stopTimeout of 30s).
	StopTimeout time.Duration

	// The fields below exist in code only.

	// OnError, if set, is called from the output's background goroutine with every delivery
	// error (with credentials removed). vlog never prints about itself; this is the hook.
	OnError func(error)

	// Writer is where the stdout output writes. Default os.Stdout. Tests and embedders use it
	// to capture the records.
	Writer io.Writer

	// Fields are static attributes added to every record after the schema's fields, encoded
	// once (a team name, a region). Their keys must not be schema keys.
	Fields []slog.Attr

	// Environ is the environment to read, in the form os.Environ returns. Default
	// os.Environ(). Tests pass their own so they need not touch the process environment.
	Environ []string

	// TraceContext, if set, gives the trace and span ids of a context that carries none of
	// vlog's own (WithTraceID, Middleware): an OpenTelemetry span's, without vlog importing
	// OpenTelemetry (docs/slog-multi.md has the recipe). See handlers.Options.TraceContext.
	TraceContext func(ctx context.Context) (traceID, spanID string)
}

// DefaultExitFlushTimeout is Options.ExitFlushTimeout's default.
const DefaultExitFlushTimeout = time.Second

// Bool returns a pointer to v, for the *bool fields of Options (new(v) from Go 1.26 on).
func Bool(v bool) *bool { return &v }

// withSections returns a copy of o with every section allocated (and copied, so that merging
// the environment never writes to the caller's structs).
func (o *Options) withSections() *Options {
	var c Options
	if o != nil {
		c = *o
	}
	c.Buffer = copyOrNew(c.Buffer)
	c.Forward = copyOrNew(c.Forward)
	c.VictoriaLogs = copyOrNew(c.VictoriaLogs)
	c.Fallback = copyOrNew(c.Fallback)
	c.File = copyOrNew(c.File)
	c.Redact = copyOrNew(c.Redact)
	c.Hold = copyOrNew(c.Hold)
	c.RateLimit = copyOrNew(c.RateLimit)
	return &c
}

func copyOrNew[T any](p *T) *T {
	var v T
	if p != nil {
		v = *p
	}
	return &v
}

// ConfigError reports an invalid setting: Name is the variable the value came from, or the
// Options field ("Options.Buffer.Size") when it was set in code; the value (credentials not
// shown) and why. New and Setup return every problem at once, joined.
type ConfigError = output.OptionError

// config is the resolved configuration.
type config struct {
	// opts are the options with the environment merged in and every section allocated;
	// fromEnv names the fields that took their value from the environment.
	opts    *Options
	fromEnv map[string]bool
	environ map[string]string

	service, env, version string
	level                 *slog.LevelVar
	flushLevel            slog.Leveler
	exitFlush             time.Duration
	addSource             bool
	outputs               []string
	writer                io.Writer

	// ecs is the ECS task metadata, read at the end of resolve (ecs.go); ecs.meta.Container
	// is the container name the FireLens tag is built from.
	ecs         ecsLookup
	stopTimeout time.Duration
}

// resolve merges opts over the environment and applies the defaults. It reports every invalid
// setting at once.
func resolve(opts *Options) (*config, error) {
	environ := os.Environ()
	if opts != nil && opts.Environ != nil {
		environ = opts.Environ
	}
	env := make(map[string]string, 8)
	for _, kv := range environ {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	o := opts.withSections()
	errs := unknownVariables(env)
	fromEnv, serrs := o.apply(env)
	errs = append(errs, serrs...)
	c := &config{opts: o, fromEnv: fromEnv, environ: env, writer: o.Writer}

	c.service = o.Service
	if c.service == "" {
		c.service = strings.TrimSuffix(filepath.Base(os.Args[0]), ".exe")
	}
	c.env = o.Env
	if c.env == "" {
		c.env = "unknown"
	}
	c.version = o.Version
	if c.version == "" {
		c.version = buildVersion()
	}
	if lv, ok := o.Level.(*slog.LevelVar); ok {
		c.level = lv
	} else {
		c.level = new(slog.LevelVar)
		if o.Level != nil {
			c.level.Set(o.Level.Level())
		}
	}
	c.addSource = isTrue(o.AddSource)
	c.flushLevel = o.FlushLevel
	if c.flushLevel == nil {
		c.flushLevel = slog.LevelError
	}
	c.exitFlush = o.ExitFlushTimeout
	if c.exitFlush == 0 {
		c.exitFlush = DefaultExitFlushTimeout
	}
	c.outputs = chooseOutputs(o)
	if c.writer == nil {
		c.writer = os.Stdout
	}
	ecsTimeout := o.ECSMetadataTimeout
	if ecsTimeout == 0 {
		ecsTimeout = DefaultECSMetadataTimeout
	}
	c.stopTimeout = o.StopTimeout
	if c.stopTimeout == 0 {
		c.stopTimeout = DefaultStopTimeout
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	// Last, once the settings are known to be valid: the only step that may wait (at most
	// ecsTimeout) on the network.
	c.ecs = lookupECS(env["ECS_CONTAINER_METADATA_URI_V4"], ecsTimeout)
	return c, nil
}

// isTrue reports whether a *bool option is set and true.
func isTrue(b *bool) bool { return b != nil && *b }

// settingError turns the error of a constructor in the handlers tree into a ConfigError that
// names the setting as the user gave it: the variable when the value came from the
// environment, else the Options field. section is the Options field of the constructor's
// options ("VictoriaLogs").
func (c *config) settingError(section string, err error) error {
	var oe *output.OptionError
	if !errors.As(err, &oe) {
		return err
	}
	field := section + "." + oe.Name
	name := "Options." + field
	if s := settingOf(field); s != nil && c.fromEnv[field] {
		name = s.Var
	}
	return &ConfigError{Name: name, Value: oe.Value, Reason: oe.Reason}
}

// buildVersion returns the version recorded in the binary's build info.
func buildVersion() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	var rev string
	var dirty bool
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if rev == "" {
		return "unknown"
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if dirty {
		rev += "-dirty"
	}
	return rev
}
