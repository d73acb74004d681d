package vlog

import (
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.vlog.dev/handlers/output"
	"go.vlog.dev/handlers/schema"
	"go.vlog.dev/handlers/victorialogs"
	"go.vlog.dev/internal/envtext"
)

// A setting is one configuration value, declared once: the environment variable, the Options
// field that sets it in code, the default and the meaning as the README's configuration table
// states them (that table is generated from this one: see TestREADMESettings), and how the
// variable's text is read and the value checked. KnownVariables, the "did you mean" of an
// unknown VLOG_ variable and the error messages all come from settings.
//
// A field set in code (not its zero value: nil for the *bool fields and Level, DropDefault
// for the drop policy) wins over its variable. The variable's text is trimmed; an empty
// variable counts as unset.
type setting struct {
	Var     string
	Field   string // the Options field, as Go code names it; "" when only ECS sets it
	Default string
	Doc     string
	bind    binding
}

// A binding connects a setting to its Options field.
type binding struct {
	// set reports whether the field has a value (from code, or parsed from the variable).
	set func(o *Options) bool
	// parse reads the variable's text into the field. env is the whole environment, for the
	// settings read from two variables (FLUENT_HOST and FLUENT_PORT).
	parse func(o *Options, text string, env map[string]string) error
	// check validates the field's value, from code or from the variable. nil: every value
	// parse produces, or code sets, is valid.
	check func(o *Options) error
	// show formats the field's value for an error message about a value set in code.
	show func(o *Options) string
	// merge: the variable's value is added to the field's (lists), not replaced by it.
	merge bool
	// raw: the variable's text is taken as it is, blanks included (passwords, the mask).
	raw bool
	// inCode, when set, decides whether code set the field (instead of set, before any
	// variable is read): the credentials are taken from code or from the environment as a
	// whole, never mixed.
	inCode func(o *Options) bool
}

// field binds a setting to the field ptr returns: parse reads the variable, check (optional)
// validates the value.
func field[T any](ptr func(*Options) *T, parse func(string) (T, error), check func(T) error) binding {
	b := binding{
		set: func(o *Options) bool { return !reflect.ValueOf(ptr(o)).Elem().IsZero() },
		parse: func(o *Options, text string, _ map[string]string) error {
			v, err := parse(text)
			if err == nil {
				*ptr(o) = v
			}
			return err
		},
		show: func(o *Options) string { return showValue(*ptr(o)) },
	}
	if check != nil {
		b.check = func(o *Options) error { return check(*ptr(o)) }
	}
	return b
}

// rawField is field for a text taken as it is.
func rawField(ptr func(*Options) *string) binding {
	b := field(ptr, parseRaw, nil)
	b.raw = true
	return b
}

// credential binds one of the VictoriaLogs credentials: set in code, any of them keeps all
// three variables out.
func credential(b binding) binding {
	b.inCode = func(o *Options) bool {
		v := o.VictoriaLogs
		return v.Username != "" || v.Password != "" || v.BearerToken != ""
	}
	return b
}

// listField binds a list the variable adds to (comma-separated).
func listField(ptr func(*Options) *[]string) binding {
	b := field(ptr, parseList, nil)
	b.merge = true
	b.parse = func(o *Options, text string, _ map[string]string) error {
		l, _ := parseList(text)
		*ptr(o) = append((*ptr(o))[:len(*ptr(o)):len(*ptr(o))], l...)
		return nil
	}
	return b
}

func showValue(v any) string {
	rv := reflect.ValueOf(v)
	if rv.Kind() == reflect.Pointer && !rv.IsNil() {
		v = rv.Elem().Interface()
	}
	switch v := v.(type) {
	case []string:
		return strings.Join(v, ",")
	case output.DropPolicy:
		return dropPolicyNames[v]
	}
	return fmt.Sprint(v)
}

// settings is the table of every setting. Order: as in the README.
var settings = []setting{
	{"SERVICE", "Service", "executable name", "the schema's `service` field",
		field(func(o *Options) *string { return &o.Service }, parseText, nil)},
	{"ENV", "Env", "`unknown`", "the schema's `env` field (prod, staging, ...)",
		field(func(o *Options) *string { return &o.Env }, parseText, nil)},
	{"VERSION", "Version", "build info", "the schema's `version` field; default: the main module's version, else the VCS revision",
		field(func(o *Options) *string { return &o.Version }, parseText, nil)},
	{"VLOG_LEVEL", "Level", "`info`", "`debug`, `info`, `warn`, `error`, or an offset such as `warn+2`; changeable at run time with `Logger.LevelVar().Set`",
		field(func(o *Options) *slog.Leveler { return &o.Level }, parseLevel, nil)},
	{"VLOG_ADD_SOURCE", "AddSource", "`false`", "add `caller` to every record",
		field(func(o *Options) **bool { return &o.AddSource }, parseBoolPtr, nil)},

	{"VLOG_OUTPUT", "Output", "`auto`", "`auto` (forward if `FLUENT_HOST`+`FLUENT_PORT`, else victorialogs if `VICTORIALOGS_URL`, else stdout), or a list of outputs: `stdout`, `forward`, `victorialogs`, `file` (`stdout,victorialogs`: dual-write), each with its own buffer",
		field(func(o *Options) *string { return &o.Output }, parseLower, checkOutputs)},
	{"VLOG_STDOUT_BUFFERED", "StdoutBuffered", "`true`", "stdout behind the buffer, so a blocked pipe cannot stall the service (drops counted); `false`: written synchronously by the log call",
		field(func(o *Options) **bool { return &o.StdoutBuffered }, parseBoolPtr, nil)},

	{"VLOG_FLUSH_LEVEL", "FlushLevel", "`error`", "a record at or above this level is sent at once, without waiting for `VLOG_BATCH_AGE`",
		field(func(o *Options) *slog.Leveler { return &o.FlushLevel }, parseLevel, nil)},
	{"VLOG_EXIT_FLUSH_TIMEOUT", "ExitFlushTimeout", "`1s`", "how long a `log.Fatal*` or `log.Panic*` call waits for its record (and those before it) to be delivered before the process exits",
		field(func(o *Options) *time.Duration { return &o.ExitFlushTimeout }, parseDuration, positive[time.Duration])},
	{"VLOG_BUFFER_SIZE", "Buffer.Size", "`8MiB`", "bound of the in-memory buffer (`KiB`/`MiB`/`GiB`/`KB`/`MB` suffixes)",
		field(func(o *Options) *int { return &o.Buffer.Size }, parseSize, positive[int])},
	{"VLOG_BATCH_SIZE", "Buffer.BatchSize", "`256KiB`", "a batch is sent when it reaches this size...",
		field(func(o *Options) *int { return &o.Buffer.BatchSize }, parseSize, positive[int])},
	{"VLOG_BATCH_AGE", "Buffer.BatchAge", "`200ms`", "...or this age",
		field(func(o *Options) *time.Duration { return &o.Buffer.BatchAge }, parseDuration, positive[time.Duration])},
	{"VLOG_BATCH_MAX_SIZE", "Buffer.MaxBatchSize", "a quarter of `VLOG_BUFFER_SIZE`", "while a batch is being sent, the next one keeps filling up to this size and goes out when the send ends: a slow destination gets fewer, larger requests",
		field(func(o *Options) *int { return &o.Buffer.MaxBatchSize }, parseSize, positive[int])},
	{"VLOG_MAX_RECORD_SIZE", "Buffer.MaxRecordSize", "`1MiB`", "larger records are dropped, counted as `oversize`",
		field(func(o *Options) *int { return &o.Buffer.MaxRecordSize }, parseSize, positive[int])},
	{"VLOG_DROP_POLICY", "Buffer.DropPolicy", "`newest`", "what a full buffer drops: `newest` (the record being logged) or `oldest` (the oldest batches not in flight)",
		field(func(o *Options) *output.DropPolicy { return &o.Buffer.DropPolicy }, parseDropPolicy, checkDropPolicy)},
	{"VLOG_RETRY_MIN", "Buffer.RetryMin", "`100ms`", "first backoff before a failed batch is sent again; it doubles up to `VLOG_RETRY_MAX` (±20% jitter)",
		field(func(o *Options) *time.Duration { return &o.Buffer.RetryMin }, parseDuration, positive[time.Duration])},
	{"VLOG_RETRY_MAX", "Buffer.RetryMax", "`5s`", "longest backoff between two attempts",
		field(func(o *Options) *time.Duration { return &o.Buffer.RetryMax }, parseDuration, positive[time.Duration])},

	{"FLUENT_HOST", "Forward.Address", "set by ECS", "the FireLens router's forward input, with `FLUENT_PORT`; `unix:///path` for a socket",
		binding{set: forwardAddressSet, parse: parseFluentHost, show: func(o *Options) string { return o.Forward.Address }}},
	{"FLUENT_PORT", "Forward.Address", "set by ECS", "the router's port (24224 with FireLens)",
		binding{set: forwardAddressSet, parse: parseFluentPort, show: func(o *Options) string { return o.Forward.Address }}},
	{"VLOG_FLUENT_TAG", "Forward.Tag", "`<container>-firelens-<task id>` when the ECS container name is known, else the service name", "forward tag (FireLens routes by the `<container>-firelens` prefix)",
		field(func(o *Options) *string { return &o.Forward.Tag }, parseText, nil)},
	{"VLOG_FLUENT_ACK", "Forward.Ack", "`true`", "a batch counts as delivered only when the router acks it; otherwise it is sent again",
		field(func(o *Options) **bool { return &o.Forward.Ack }, parseBoolPtr, nil)},
	{"VLOG_FLUENT_COMPRESS", "Forward.Compression", "`none`", "or `gzip` (CompressedPackedForward)",
		field(func(o *Options) *string { return &o.Forward.Compression }, parseLower, oneOf("none", "gzip"))},
	{"VLOG_FLUENT_TIMEOUT", "Forward.Timeout", "`5s`", "bounds dialing, a write that makes no progress, the wait for an ack",
		field(func(o *Options) *time.Duration { return &o.Forward.Timeout }, parseDuration, positive[time.Duration])},
	{"VLOG_FLUENT_MAX_MESSAGE_SIZE", "Forward.MaxMessageSize", "`6144000`", "largest forward message (Fluent Bit's `buffer_max_size`); larger batches go as several",
		field(func(o *Options) *int { return &o.Forward.MaxMessageSize }, parseSize, positive[int])},
	{"VLOG_FLUENT_MAX_LINE_SIZE", "Forward.MaxLineSize", "`64KiB`", "longer records are cut (schema fields kept, `vlog_truncated` added); 1 KiB to 256 KiB less one byte",
		field(func(o *Options) *int { return &o.Forward.MaxLineSize }, parseSize, schema.CheckMaxLineSize)},

	{"VICTORIALOGS_URL", "VictoriaLogs.URLs", "", "VictoriaLogs base URL(s), comma-separated, or a full `/insert/jsonline` URL; credentials in it become basic auth",
		field(func(o *Options) *[]string { return &o.VictoriaLogs.URLs }, parseURLs, nil)},
	{"VLOG_VICTORIALOGS_STREAM_FIELDS", "VictoriaLogs.StreamFields", "`service,env,ecs_cluster,container`", "stream fields; high-cardinality names (`request_id`, `*_id`, `ip`, `url`, `path`, ...) are refused",
		field(func(o *Options) *[]string { return &o.VictoriaLogs.StreamFields }, parseList, victorialogs.CheckStreamFields)},
	{"VLOG_VICTORIALOGS_IGNORE_FIELDS", "VictoriaLogs.IgnoreFields", "", "fields VictoriaLogs drops on ingestion (`ignore_fields`), comma-separated",
		field(func(o *Options) *[]string { return &o.VictoriaLogs.IgnoreFields }, parseList, nil)},
	{"VLOG_VICTORIALOGS_EXTRA_FIELDS", "VictoriaLogs.ExtraFields", "", "fields VictoriaLogs adds to every record (`extra_fields`), `name=value,...`",
		field(func(o *Options) *map[string]string { return &o.VictoriaLogs.ExtraFields }, parseKeyValues, nil)},
	{"VLOG_VICTORIALOGS_ACCOUNT_ID", "VictoriaLogs.AccountID", "`0`", "tenant: the `AccountID` header",
		field(func(o *Options) *uint32 { return &o.VictoriaLogs.AccountID }, parseUint32, nil)},
	{"VLOG_VICTORIALOGS_PROJECT_ID", "VictoriaLogs.ProjectID", "`0`", "tenant: the `ProjectID` header",
		field(func(o *Options) *uint32 { return &o.VictoriaLogs.ProjectID }, parseUint32, nil)},
	{"VLOG_VICTORIALOGS_USER", "VictoriaLogs.Username", "", "basic auth",
		credential(rawField(func(o *Options) *string { return &o.VictoriaLogs.Username }))},
	{"VLOG_VICTORIALOGS_PASSWORD", "VictoriaLogs.Password", "", "basic auth",
		credential(rawField(func(o *Options) *string { return &o.VictoriaLogs.Password }))},
	{"VLOG_VICTORIALOGS_BEARER_TOKEN", "VictoriaLogs.BearerToken", "", "bearer auth (not with basic auth)",
		credential(field(func(o *Options) *string { return &o.VictoriaLogs.BearerToken }, parseText, nil))},
	{"VLOG_VICTORIALOGS_CA_FILE", "VictoriaLogs.CAFile", "", "extra CA certificates (PEM) for https",
		field(func(o *Options) *string { return &o.VictoriaLogs.CAFile }, parseText, nil)},
	{"VLOG_VICTORIALOGS_TIMEOUT", "VictoriaLogs.Timeout", "`10s`", "per request",
		field(func(o *Options) *time.Duration { return &o.VictoriaLogs.Timeout }, parseDuration, positive[time.Duration])},
	{"VLOG_VICTORIALOGS_MAX_LINE_SIZE", "VictoriaLogs.MaxLineSize", "`64KiB`", "longer records are cut (schema and stream fields kept, `vlog_truncated` added); 1 KiB to 256 KiB less one byte",
		field(func(o *Options) *int { return &o.VictoriaLogs.MaxLineSize }, parseSize, schema.CheckMaxLineSize)},
	{"VLOG_VICTORIALOGS_IN_FLIGHT", "VictoriaLogs.InFlight", "`2`", "batches sent at once (1 to 16)",
		field(func(o *Options) *int { return &o.VictoriaLogs.InFlight }, parseInt, between(1, 16))},
	{"VLOG_VICTORIALOGS_CONCURRENCY", "VictoriaLogs.Concurrency", "`1`", "requests one batch is split into (1 to 64)",
		field(func(o *Options) *int { return &o.VictoriaLogs.Concurrency }, parseInt, between(1, 64))},
	{"VLOG_VICTORIALOGS_COMPRESS", "VictoriaLogs.Compression", "`gzip`", "`gzip`, `zstd` (bodies 17% smaller for ~0.2 us more CPU per record; only where every hop passes zstd) or `none` (uncompressed: loopback only)",
		field(func(o *Options) *string { return &o.VictoriaLogs.Compression }, parseLower, oneOf("gzip", "zstd", "none"))},
	{"VLOG_VICTORIALOGS_GZIP_LEVEL", "VictoriaLogs.GzipLevel", "`1`", "a gzip level, numbered as compress/gzip numbers them: 1 to 9, -1 (the encoder's default) or -2 (Huffman only); 0 (no compression) is refused: use `VLOG_VICTORIALOGS_COMPRESS=none`",
		field(func(o *Options) *int { return &o.VictoriaLogs.GzipLevel }, parseInt, victorialogs.CheckGzipLevel)},

	{"VLOG_FILE_PATH", "File.Path", "", "the file output's file, on a volume shared with the sidecar agent; its directory must exist and be writable",
		field(func(o *Options) *string { return &o.File.Path }, parseText, nil)},
	{"VLOG_FILE_MAX_SIZE", "File.MaxSize", "`64MiB`", "the file is rotated (renamed, and a new one opened) before it grows past this size",
		field(func(o *Options) *int { return &o.File.MaxSize }, parseSize, positive[int])},
	{"VLOG_FILE_MAX_FILES", "File.MaxFiles", "`5`", "rotated files kept besides the live one; older ones are removed",
		field(func(o *Options) *int { return &o.File.MaxFiles }, parseInt, positive[int])},

	{"VLOG_FALLBACK_AFTER", "Fallback.After", "`2s`", "how long the router must fail before batches go to VictoriaLogs (`0`: at the first failure; in code a negative value)",
		field(func(o *Options) *time.Duration { return &o.Fallback.After }, parseDurationZeroMeansNow, nil)},
	{"VLOG_FALLBACK_PROBE_INTERVAL", "Fallback.ProbeInterval", "`5s`", "how often the router is tried again while on VictoriaLogs",
		field(func(o *Options) *time.Duration { return &o.Fallback.ProbeInterval }, parseDuration, positive[time.Duration])},
	{"VLOG_FALLBACK_PROBE_TIMEOUT", "Fallback.ProbeTimeout", "`1s`", "bound of such a try, so a hanging router delays a batch at most this much",
		field(func(o *Options) *time.Duration { return &o.Fallback.ProbeTimeout }, parseDuration, positive[time.Duration])},
	{"VLOG_FALLBACK_STDOUT", "FallbackStdout", "`false`", "`true`: a batch that both the router and VictoriaLogs failed is written to stdout (where the container runtime keeps it) instead of waiting in the buffer",
		field(func(o *Options) **bool { return &o.FallbackStdout }, parseBoolPtr, nil)},

	{"VLOG_REDACT", "Redaction", "`true`", "`false` turns secret redaction off",
		field(func(o *Options) **bool { return &o.Redaction }, parseBoolPtr, nil)},
	{"VLOG_REDACT_KEYS", "Redact.Keys", "", "more secret key names, comma-separated (added to the field's)",
		listField(func(o *Options) *[]string { return &o.Redact.Keys })},
	{"VLOG_REDACT_IGNORE_KEYS", "Redact.IgnoreKeys", "", "built-in secret key names not to treat as secret (added to the field's)",
		listField(func(o *Options) *[]string { return &o.Redact.IgnoreKeys })},
	{"VLOG_REDACT_DISABLE_RULES", "Redact.DisableRules", "", "value rules to turn off by name (`redact.RuleNames`; added to the field's)",
		listField(func(o *Options) *[]string { return &o.Redact.DisableRules })},
	{"VLOG_REDACT_MASK", "Redact.Mask", "`[REDACTED]`", "the mask written instead of a secret",
		rawField(func(o *Options) *string { return &o.Redact.Mask })},
	{"VLOG_REDACT_HASH_KEY", "Redact.HashKey", "", "16+ bytes: a secret becomes a short keyed hash, so equal secrets can be correlated",
		field(func(o *Options) *[]byte { return &o.Redact.HashKey }, func(s string) ([]byte, error) { return []byte(s), nil }, nil)},

	{"VLOG_HOLD", "Holding", "`false`", "`true`: each request's (or `StartScope` scope's) records below `VLOG_HOLD_BELOW` are held, even when `VLOG_LEVEL` drops them, and written only if it fails (a record at `VLOG_HOLD_FLUSH_LEVEL`, a 5xx, a panic); otherwise discarded (docs/volume.md)",
		field(func(o *Options) **bool { return &o.Holding }, parseBoolPtr, nil)},
	{"VLOG_HOLD_BELOW", "Hold.Below", "`info`", "records below this level (and below `VLOG_LEVEL`: what the level enables is written) are held",
		field(func(o *Options) *slog.Leveler { return &o.Hold.Below }, parseLevel, nil)},
	{"VLOG_HOLD_FLUSH_LEVEL", "Hold.FlushLevel", "`error`", "a record at or above this level makes its request fail: what it held is written first, and its records below `VLOG_HOLD_BELOW` from then on",
		field(func(o *Options) *slog.Leveler { return &o.Hold.FlushLevel }, parseLevel, nil)},
	{"VLOG_HOLD_SCOPE_SIZE", "Hold.ScopeSize", "`64KiB`", "the memory one request holds its records in (chunks of 2 KiB, up to 16 MiB); beyond it the oldest are evicted, counted",
		field(func(o *Options) *int { return &o.Hold.ScopeSize }, parseSize, sizeBetween(2<<10, 16<<20))},
	{"VLOG_HOLD_TOTAL_SIZE", "Hold.TotalSize", "`32MiB`", "the memory of all the requests' held records together; beyond it a request evicts its own oldest, or does not hold, counted",
		field(func(o *Options) *int { return &o.Hold.TotalSize }, parseSize, positive[int])},
	{"VLOG_HOLD_MAX_AGE", "Hold.MaxAge", "`1m`", "what a request holds is discarded this long after the oldest of it was held, so a scope never ended gives its memory back",
		field(func(o *Options) *time.Duration { return &o.Hold.MaxAge }, parseDuration, positive[time.Duration])},
	{"VLOG_DEBUG_SAMPLE_RATE", "DebugSampleRate", "`0`", "fraction (0 to 1) of requests and scopes that log at debug in full, drawn when each starts; their records carry `vlog_debug_sampled` and `vlog_debug_sample_rate`",
		field(func(o *Options) *float64 { return &o.DebugSampleRate }, parseRate, checkRate)},
	{"VLOG_RATE_LIMIT", "RateLimiting", "`false`", "`true`: records below `VLOG_RATE_LIMIT_BELOW` are limited per level and message; what is suppressed is reported in the stream (`vlog: suppressed N records like ...`) once per interval",
		field(func(o *Options) **bool { return &o.RateLimiting }, parseBoolPtr, nil)},
	{"VLOG_RATE_LIMIT_FIRST", "RateLimit.First", "`100`", "records of one level and message written per interval before the limit applies",
		field(func(o *Options) *int { return &o.RateLimit.First }, parsePositiveInt, positive[int])},
	{"VLOG_RATE_LIMIT_THEREAFTER", "RateLimit.Thereafter", "`100`", "past the first, one record in this many is written (`0`: none; in code a negative value)",
		field(func(o *Options) *int { return &o.RateLimit.Thereafter }, parseCountZeroMeansNone, nil)},
	{"VLOG_RATE_LIMIT_INTERVAL", "RateLimit.Interval", "`1s`", "the period of the rate limit's counts",
		field(func(o *Options) *time.Duration { return &o.RateLimit.Interval }, parseDuration, positive[time.Duration])},
	{"VLOG_RATE_LIMIT_BELOW", "RateLimit.Below", "`error`", "records at or above this level are never limited (`error+1` limits errors too)",
		field(func(o *Options) *slog.Leveler { return &o.RateLimit.Below }, parseLevel, nil)},
	{"VLOG_RATE_LIMIT_EXEMPT", "RateLimit.Exempt", "", "messages never limited, comma-separated (added to the field's; the access record, `http request`, always is)",
		listField(func(o *Options) *[]string { return &o.RateLimit.Exempt })},

	{"ECS_CONTAINER_METADATA_URI_V4", "", "set by ECS", "the task metadata endpoint, read once at setup for the ECS fields",
		binding{}},
	{"VLOG_ECS_METADATA_TIMEOUT", "ECSMetadataTimeout", "`1s`", "bound of the ECS metadata read at setup; `0` turns it off (in code a negative value)",
		field(func(o *Options) *time.Duration { return &o.ECSMetadataTimeout }, parseDurationZeroMeansNow, nil)},
	{"VLOG_STOP_TIMEOUT", "StopTimeout", "`25s`", "how long `StopOnSignal`'s stop may take after SIGTERM",
		field(func(o *Options) *time.Duration { return &o.StopTimeout }, parseDuration, positive[time.Duration])},
}

// KnownVariables returns the names of all the environment variables New reads: SERVICE, ENV,
// VERSION, the VLOG_ settings and the variables set by ECS. A VLOG_ variable not in the list
// (outside VLOG_TEST_, which belongs to the test suites) makes New fail. The slice is a new
// copy.
func KnownVariables() []string {
	names := make([]string, len(settings))
	for i, s := range settings {
		names[i] = s.Var
	}
	return names
}

// settingOf returns the setting of the Options field, nil if none.
func settingOf(field string) *setting {
	for i := range settings {
		if settings[i].Field == field {
			return &settings[i]
		}
	}
	return nil
}

// apply merges the environment into o (a copy of the caller's Options with every section
// allocated): each setting whose field o does not set is parsed from its variable. It
// reports every invalid value, naming the variable, or the Options field when the value came
// from code, and returns the fields that took their value from the environment.
func (o *Options) apply(env map[string]string) (fromEnv map[string]bool, errs []error) {
	inCode := make([]bool, len(settings)) // decided before any variable is read
	for i, s := range settings {
		switch {
		case s.bind.inCode != nil:
			inCode[i] = s.bind.inCode(o)
		case s.bind.set != nil:
			inCode[i] = s.bind.set(o)
		}
	}
	fromEnv = map[string]bool{}
	for i := range settings {
		s := &settings[i]
		if s.bind.set == nil {
			continue // read by its user (ECS_CONTAINER_METADATA_URI_V4)
		}
		raw := env[s.Var]
		text := strings.TrimSpace(raw)
		if text != "" && (!inCode[i] || s.bind.merge) {
			if s.bind.raw {
				text = raw
			}
			if err := s.bind.parse(o, text, env); err != nil {
				errs = append(errs, &ConfigError{Name: s.Var, Value: envtext.HideSecret(s.Var, raw), Reason: err.Error()})
				continue
			}
			if !inCode[i] {
				fromEnv[s.Field] = true
			}
		}
		if s.bind.check == nil || !s.bind.set(o) {
			continue
		}
		if err := s.bind.check(o); err != nil {
			name, value := "Options."+s.Field, s.bind.show(o)
			if fromEnv[s.Field] {
				name, value = s.Var, raw
			}
			errs = append(errs, &ConfigError{Name: name, Value: envtext.HideSecret(name, value), Reason: err.Error()})
		}
	}
	return fromEnv, errs
}

// unknownVariables reports the VLOG_ variables that are not settings, with the nearest known
// name.
func unknownVariables(env map[string]string) []error {
	known := KnownVariables()
	var errs []error
	for _, k := range slices.Sorted(maps.Keys(env)) {
		v := env[k]
		if !strings.HasPrefix(k, "VLOG_") || strings.HasPrefix(k, "VLOG_TEST_") || isKnown(k) {
			continue
		}
		reason := "unknown vlog variable (KnownVariables lists them)"
		if near := envtext.Closest(k, known); near != "" {
			reason = "unknown vlog variable; did you mean " + near + "?"
		}
		errs = append(errs, &ConfigError{Name: k, Value: envtext.HideSecret(k, v), Reason: reason})
	}
	return errs
}

func isKnown(name string) bool {
	for _, s := range settings {
		if s.Var == name {
			return true
		}
	}
	return false
}

// The parse rules. Each returns the reason a text is invalid.

func parseRaw(s string) (string, error) { return s, nil }

// parseText refuses control characters (a value that would break the records it is in).
func parseText(s string) (string, error) {
	if strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return "", errors.New("contains control characters")
	}
	return s, nil
}

func parseLower(s string) (string, error) { return strings.ToLower(s), nil }

func parseLevel(s string) (slog.Leveler, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return nil, errors.New("want debug, info, warn or error, optionally with an offset such as warn+2")
	}
	return l, nil
}

// parseBoolPtr parses a strconv.ParseBool value.
func parseBoolPtr(s string) (*bool, error) {
	b, err := strconv.ParseBool(s)
	if err != nil {
		return nil, errors.New("want true or false")
	}
	return &b, nil
}

// parseDurationZeroMeansNow parses a duration where "0" means "none" (at once, or off): it
// becomes -1, the value that says so in code, since a zero field means "not set".
func parseDurationZeroMeansNow(s string) (time.Duration, error) {
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, errors.New("want a duration such as 500ms or 2s (0: none)")
	}
	if d == 0 {
		d = -1
	}
	return d, nil
}

// The parsers shared with the bridge (go.vlog.dev/internal/envtext), and the list parsers in
// the form field takes.
var (
	parseSize      = envtext.Size
	parseDuration  = envtext.Duration
	parseInt       = envtext.Int
	parseUint32    = envtext.Uint32
	parseKeyValues = envtext.KeyValues
)

func parseList(s string) ([]string, error) { return envtext.List(s), nil }

func parseURLs(s string) ([]string, error) { return envtext.URLs(s), nil }

var dropPolicyNames = map[output.DropPolicy]string{output.DropNewest: "newest", output.DropOldest: "oldest"}

func parseDropPolicy(s string) (output.DropPolicy, error) {
	for p, name := range dropPolicyNames {
		if strings.EqualFold(s, name) {
			return p, nil
		}
	}
	return output.DropDefault, errors.New("want newest or oldest")
}

func checkDropPolicy(p output.DropPolicy) error {
	if _, ok := dropPolicyNames[p]; !ok {
		return errors.New("want output.DropNewest or output.DropOldest")
	}
	return nil
}

// parseRate parses a fraction from 0 to 1; "0" becomes -1, the value that says "none" in code,
// since a zero field means "not set".
func parseRate(s string) (float64, error) {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f < 0 || f > 1 {
		return 0, errors.New("want a fraction from 0 to 1, such as 0.01")
	}
	if f == 0 {
		f = -1
	}
	return f, nil
}

// checkRate accepts a fraction up to 1 (a negative one means none).
func checkRate(f float64) error {
	if f > 1 || f != f {
		return errors.New("want a fraction from 0 to 1 (negative: none)")
	}
	return nil
}

// parsePositiveInt parses a count of 1 or more.
func parsePositiveInt(s string) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil || n <= 0 {
		return 0, errors.New("want a count, 1 or more")
	}
	return n, nil
}

// parseCountZeroMeansNone parses a count where "0" means "none": it becomes -1, the value that
// says so in code.
func parseCountZeroMeansNone(s string) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return 0, errors.New("want a count, 0 or more")
	}
	if n == 0 {
		n = -1
	}
	return n, nil
}

// forwardAddressSet reports whether the router's address is set (FLUENT_HOST and FLUENT_PORT
// both bind to it).
func forwardAddressSet(o *Options) bool { return o.Forward.Address != "" }

// parseFluentHost sets the router's address from FLUENT_HOST and FLUENT_PORT (which the
// FLUENT_PORT setting checks): host:port, or a unix socket as unix:///path.
func parseFluentHost(o *Options, host string, env map[string]string) error {
	if path, ok := strings.CutPrefix(host, "unix://"); ok {
		if path == "" {
			return errors.New("want unix:///path/to/socket")
		}
		o.Forward.Network, o.Forward.Address = "unix", path
		return nil
	}
	port := strings.TrimSpace(env["FLUENT_PORT"])
	if checkPort(port) != nil {
		return nil // FLUENT_PORT says what is wrong
	}
	o.Forward.Address = net.JoinHostPort(host, port)
	return nil
}

// parseFluentPort checks FLUENT_PORT; the address is set with FLUENT_HOST.
func parseFluentPort(_ *Options, port string, _ map[string]string) error { return checkPort(port) }

func checkPort(port string) error {
	if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
		return errors.New("want a port number in 1..65535")
	}
	return nil
}

// The checks.

func positive[T int | time.Duration](v T) error {
	if v > 0 {
		return nil
	}
	if _, ok := any(v).(time.Duration); ok {
		return errors.New("want a positive duration")
	}
	return errors.New("want a positive size")
}

// sizeBetween checks a size in bytes against bounds given in KiB or MiB.
func sizeBetween(lo, hi int) func(int) error {
	return func(n int) error {
		if n < lo || n > hi {
			return fmt.Errorf("want %s to %s", showSize(lo), showSize(hi))
		}
		return nil
	}
}

func showSize(n int) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return strconv.Itoa(n>>20) + "MiB"
	case n >= 1<<10 && n%(1<<10) == 0:
		return strconv.Itoa(n>>10) + "KiB"
	}
	return strconv.Itoa(n)
}

func between(lo, hi int) func(int) error {
	return func(n int) error {
		if n < lo || n > hi {
			return fmt.Errorf("want %d to %d", lo, hi)
		}
		return nil
	}
}

func oneOf(values ...string) func(string) error {
	return func(s string) error {
		for _, v := range values {
			if s == v {
				return nil
			}
		}
		return errors.New("want " + strings.Join(values[:len(values)-1], ", ") + " or " + values[len(values)-1])
	}
}
