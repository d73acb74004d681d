package vlog

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.vlog.dev/handlers"
	"go.vlog.dev/redact"
)

// Options configure New and Setup. The zero value (and nil) means: every setting from the
// environment, the documented default for the rest. A field set in code wins over its
// environment variable.
type Options struct {
	// Service names the service. Env SERVICE; default: the executable's base name.
	Service string
	// Env names the deployment environment (prod, staging, ...). Env ENV; default "unknown".
	Env string
	// Version is the service's version. Env VERSION; default: the main module's version from
	// the build info, else the VCS revision (12 characters, "-dirty" when modified), else
	// "unknown".
	Version string

	// Level is the minimum level. Env VLOG_LEVEL (debug, info, warn, error, or an offset such
	// as warn+2); default info. When Level is a *slog.LevelVar, the logger uses that variable,
	// so the caller can change the level at run time; otherwise Logger.LevelVar returns a new
	// variable set to it.
	Level slog.Leveler

	// AddSource adds a "caller" object (function, file, line) to every record. Env
	// VLOG_ADD_SOURCE (a strconv.ParseBool value); default false. Code can turn it on, not off.
	AddSource bool

	// Output chooses the destination. Env VLOG_OUTPUT; default "auto": forward when ECS
	// injected FLUENT_HOST and FLUENT_PORT (FireLens), victorialogs when only VICTORIALOGS_URL
	// is set, stdout otherwise. "stdout", "forward" and "victorialogs" force one.
	Output string

	// Buffer configures the bounded buffer between the logging goroutines and the network
	// (see handlers.BufferOptions for the defaults). Non-zero fields win over VLOG_BUFFER_SIZE,
	// VLOG_BATCH_SIZE, VLOG_BATCH_MAX_SIZE, VLOG_BATCH_AGE, VLOG_MAX_RECORD_SIZE and VLOG_DROP_POLICY.
	Buffer *handlers.BufferOptions

	// StdoutBuffered puts the stdout output behind the buffer, so a blocked log pipe cannot
	// stall the service (records are dropped and counted instead). Env VLOG_STDOUT_BUFFERED;
	// default false. Code can turn it on, not off.
	StdoutBuffered bool

	// VictoriaLogs configures the victorialogs output, and the fallback from the router to
	// VictoriaLogs. Non-zero fields win over VICTORIALOGS_URL and the VLOG_VICTORIALOGS_
	// variables (see docs/victorialogs.md). Default nil: all from the environment.
	VictoriaLogs *handlers.VictoriaLogsOptions

	// Forward configures the forward output (FireLens). Non-zero fields win over FLUENT_HOST,
	// FLUENT_PORT and the VLOG_FLUENT_ variables (see docs/forward.md). Default nil: all from
	// the environment.
	Forward *handlers.ForwardOptions

	// Redact configures secret redaction, which is on by default (see go.vlog.dev/redact for
	// what is masked). The VLOG_REDACT_ variables add to it. Default nil: the built-in rules.
	Redact *redact.Options

	// DisableRedaction turns redaction off (as VLOG_REDACT=false does).
	DisableRedaction bool

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

	// ECSMetadataTimeout bounds the read of the ECS task metadata (see ECSMetadata), done
	// once in New when ECS_CONTAINER_METADATA_URI_V4 is set. Env VLOG_ECS_METADATA_TIMEOUT
	// (a time.ParseDuration value; "0" disables the lookup); default
	// DefaultECSMetadataTimeout (1s). A negative value disables the lookup.
	ECSMetadataTimeout time.Duration

	// StopTimeout is how long the stop started by Logger.StopOnSignal may take, counted from
	// the signal. Env VLOG_STOP_TIMEOUT (a time.ParseDuration value, > 0); default
	// DefaultStopTimeout (25s, under ECS's default stopTimeout of 30s).
	StopTimeout time.Duration
}

// Environment variables read by New. Every vlog setting is under the VLOG_ prefix except the
// three names that ECS task definitions conventionally use.
const (
	EnvService   = "SERVICE"
	EnvEnv       = "ENV"
	EnvVersion   = "VERSION"
	EnvLevel     = "VLOG_LEVEL"
	EnvAddSource = "VLOG_ADD_SOURCE"
	EnvOutput    = "VLOG_OUTPUT"

	EnvECSMetadataTimeout = "VLOG_ECS_METADATA_TIMEOUT"
	EnvStopTimeout        = "VLOG_STOP_TIMEOUT"
)

// knownVLOG lists the VLOG_ variables this version understands. A VLOG_ variable not in the list
// is a configuration error (most likely a typo), except those under VLOG_TEST_, which belong to
// the test suites.
var knownVLOG = []string{EnvRedact, EnvRedactKeys, EnvRedactIgnoreKeys, EnvRedactDisableRules, EnvRedactMask, EnvRedactHashKey,
	EnvLevel, EnvAddSource, EnvOutput, EnvECSMetadataTimeout, EnvStopTimeout,
	EnvBufferSize, EnvBatchSize, EnvBatchMaxSize, EnvBatchAge, EnvMaxRecordSize, EnvDropPolicy, EnvStdoutBuffered, EnvVictoriaLogsStreamFields, EnvVictoriaLogsAccountID, EnvVictoriaLogsProjectID, EnvVictoriaLogsUser, EnvVictoriaLogsPassword, EnvVictoriaLogsBearerToken, EnvVictoriaLogsCAFile, EnvVictoriaLogsTimeout, EnvFallbackAfter, EnvFallbackProbeInterval, EnvFallbackStdout, EnvFluentTag, EnvFluentAck, EnvFluentCompress, EnvFluentTimeout}

// knownOther lists the variables outside VLOG_ that New reads.
var knownOther = []string{EnvService, EnvEnv, EnvVersion, EnvECSMetadataURI, EnvFluentHost, EnvFluentPort, EnvVictoriaLogsURL}

// KnownVariables returns the names of all the environment variables New reads: SERVICE, ENV,
// VERSION, the VLOG_ settings and the variables set by ECS. A VLOG_ variable not in the list
// (outside VLOG_TEST_) makes New fail. The slice is a new copy.
func KnownVariables() []string {
	return append(slices.Clone(knownOther), knownVLOG...)
}

// ConfigError reports an invalid setting: the variable (or option), its value, and why.
type ConfigError struct {
	Var    string
	Value  string
	Reason string
}

func (e *ConfigError) Error() string {
	return fmt.Sprintf("vlog: invalid %s=%q: %s", e.Var, e.Value, e.Reason)
}

// config is the resolved configuration.
type config struct {
	service, env, version string
	level                 *slog.LevelVar
	addSource             bool
	output                string
	writer                io.Writer
	fields                []slog.Attr

	// environ is the environment as read, for the outputs' own settings (output.go).
	environ        map[string]string
	buffer         handlers.BufferOptions
	stdoutBuffered bool
	victoriaLogs   *handlers.VictoriaLogsOptions // Options.VictoriaLogs (victorialogs.go)
	forward        *handlers.ForwardOptions      // Options.Forward (forward.go)

	// ecs is the ECS task metadata, read at the end of resolve (ecs.go); ecs.meta.Container
	// is the container name the FireLens tag is built from.
	ecs         ecsLookup
	stopTimeout time.Duration
}

// resolve merges opts over the environment and applies the defaults. It reports every invalid
// setting at once.
func resolve(opts *Options) (*config, error) {
	if opts == nil {
		opts = &Options{}
	}
	environ := opts.Environ
	if environ == nil {
		environ = os.Environ()
	}
	env := make(map[string]string, 8)
	var errs []error
	for _, kv := range environ {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
		if strings.HasPrefix(k, "VLOG_") && !strings.HasPrefix(k, "VLOG_TEST_") && !slices.Contains(knownVLOG, k) {
			reason := "unknown vlog variable (KnownVariables lists them)"
			if near := closest(k, knownVLOG); near != "" {
				reason = "unknown vlog variable; did you mean " + near + "?"
			}
			errs = append(errs, &ConfigError{Var: k, Value: hideIfSecret(k, v), Reason: reason})
		}
	}

	c := &config{writer: opts.Writer, fields: opts.Fields, addSource: opts.AddSource}
	text := func(opt, name string) string {
		if opt != "" {
			return opt
		}
		v := strings.TrimSpace(env[name])
		if strings.ContainsFunc(v, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
			errs = append(errs, &ConfigError{Var: name, Value: v, Reason: "contains control characters"})
			return ""
		}
		return v
	}
	c.service = text(opts.Service, EnvService)
	if c.service == "" {
		c.service = strings.TrimSuffix(filepath.Base(os.Args[0]), ".exe")
	}
	c.env = text(opts.Env, EnvEnv)
	if c.env == "" {
		c.env = "unknown"
	}
	c.version = text(opts.Version, EnvVersion)
	if c.version == "" {
		c.version = buildVersion()
	}

	switch lv := opts.Level.(type) {
	case *slog.LevelVar:
		c.level = lv
	case nil:
		c.level = new(slog.LevelVar)
		if v, ok := env[EnvLevel]; ok && v != "" {
			var l slog.Level
			if err := l.UnmarshalText([]byte(strings.TrimSpace(v))); err != nil {
				errs = append(errs, &ConfigError{Var: EnvLevel, Value: v,
					Reason: "want debug, info, warn or error, optionally with an offset such as warn+2"})
			}
			c.level.Set(l)
		}
	default:
		c.level = new(slog.LevelVar)
		c.level.Set(lv.Level())
	}

	if v, ok := env[EnvAddSource]; ok && v != "" && !c.addSource {
		b, err := parseBool(EnvAddSource, v)
		if err != nil {
			errs = append(errs, err)
		}
		c.addSource = b
	}

	c.output = opts.Output
	name := "Options.Output"
	if c.output == "" {
		c.output, name = strings.TrimSpace(env[EnvOutput]), EnvOutput
	}
	switch c.output {
	case "", OutputAuto:
		c.output = chooseOutput(OutputAuto, env, opts.VictoriaLogs != nil && len(opts.VictoriaLogs.URLs) > 0)
	case OutputStdout, OutputForward, OutputVictoriaLogs:
	default:
		errs = append(errs, &ConfigError{Var: name, Value: c.output, Reason: "want auto, stdout, forward or victorialogs"})
	}
	c.environ = env
	var berrs []error
	c.buffer, berrs = bufferConfig(opts, env)
	errs = append(errs, berrs...)
	c.stdoutBuffered = opts.StdoutBuffered
	c.victoriaLogs = opts.VictoriaLogs
	c.forward = opts.Forward
	if v, ok := env[EnvStdoutBuffered]; ok && v != "" && !c.stdoutBuffered {
		b, err := parseBool(EnvStdoutBuffered, v)
		if err != nil {
			errs = append(errs, err)
		}
		c.stdoutBuffered = b
	}
	if c.writer == nil {
		c.writer = os.Stdout
	}
	ecsTimeout, err := envDuration(opts.ECSMetadataTimeout, env, EnvECSMetadataTimeout, DefaultECSMetadataTimeout)
	if err != nil {
		errs = append(errs, err)
	}
	c.stopTimeout, err = envDuration(opts.StopTimeout, env, EnvStopTimeout, DefaultStopTimeout)
	if err != nil {
		errs = append(errs, err)
	} else if c.stopTimeout <= 0 {
		name := EnvStopTimeout
		if opts.StopTimeout != 0 {
			name = "Options.StopTimeout"
		}
		errs = append(errs, &ConfigError{Var: name, Value: c.stopTimeout.String(), Reason: "want a positive duration"})
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	// Last, once the settings are known to be valid: the only step that may wait (at most
	// ecsTimeout) on the network.
	c.ecs = lookupECS(env[EnvECSMetadataURI], ecsTimeout)
	return c, nil
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

// hideIfSecret returns v, or a placeholder when the variable's name suggests it holds a secret:
// a misspelled VLOG_VICTORIALOGS_PASSWROD must not print the password in the error.
func hideIfSecret(name, v string) string {
	upper := strings.ToUpper(name)
	for _, w := range []string{"PASS", "PWD", "TOKEN", "SECRET", "KEY", "CRED", "AUTH", "COOKIE", "SESSION"} {
		if strings.Contains(upper, w) {
			return "(" + strconv.Itoa(len(v)) + " bytes, not shown)"
		}
	}
	return v
}

// closest returns the name in names nearest to s by edit distance, if it is near enough to be a
// typo (at most a third of the length), else "".
func closest(s string, names []string) string {
	best, bestD := "", len(s)/3+1
	for _, n := range names {
		if d := editDistance(s, n); d < bestD {
			best, bestD = n, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b (bytes).
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
