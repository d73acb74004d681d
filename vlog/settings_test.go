package vlog

import (
	"flag"
	"log/slog"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"go.vlog.dev/handlers/forward"
	"go.vlog.dev/handlers/output"
	"go.vlog.dev/handlers/victorialogs"
	"go.vlog.dev/redact"
)

var updateREADME = flag.Bool("update", false, "rewrite the configuration table of ../README.md from the settings")

const (
	tableStart = "<!-- settings table: generated from vlog/settings.go by `go test ./vlog -run TestREADMESettings -update` -->\n"
	tableEnd   = "<!-- end of settings table -->\n"
)

// settingsTable renders the README's configuration table from settings.
func settingsTable() string {
	var b strings.Builder
	b.WriteString("| variable | `Options` field | default | meaning |\n| --- | --- | --- | --- |\n")
	for _, s := range settings {
		field := ""
		if s.Field != "" {
			field = "`" + s.Field + "`"
		}
		b.WriteString("| `" + s.Var + "` | " + field + " | " + s.Default + " | " + s.Doc + " |\n")
	}
	return b.String()
}

// TestREADMESettings: the README's configuration table is the settings table, row for row.
func TestREADMESettings(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	require.NoError(t, err)
	s := string(readme)
	start, end := strings.Index(s, tableStart), strings.Index(s, tableEnd)
	require.True(t, start >= 0 && end > start, "README.md has no generated settings table (markers %q ... %q)", tableStart, tableEnd)
	got, want := s[start+len(tableStart):end], settingsTable()
	if *updateREADME {
		s = s[:start+len(tableStart)] + want + s[end:]
		require.NoError(t, os.WriteFile("../README.md", []byte(s), 0o644))
		return
	}
	require.Equal(t, want, got, "README.md's configuration table differs from vlog/settings.go: run go test ./vlog -run TestREADMESettings -update")
}

// codeOnly are the Options fields that have no variable, and why.
var codeOnly = map[string]string{
	"OnError":                 "a function",
	"Writer":                  "an io.Writer",
	"Fields":                  "slog attributes",
	"Environ":                 "the environment itself",
	"TraceContext":            "a function",
	"Forward.Network":         "set with the address (FLUENT_HOST=unix:///path)",
	"Forward.TLS":             "a *tls.Config",
	"Forward.Dial":            "a function",
	"VictoriaLogs.TLSConfig":  "a *tls.Config (VLOG_VICTORIALOGS_CA_FILE adds CAs)",
	"VictoriaLogs.HTTPClient": "an *http.Client",
	"Fallback.LastResort":     "a Transport (VLOG_FALLBACK_STDOUT sets stdout)",
}

// TestSettingsCoverOptions: every setting names an Options field that exists, and every field of
// Options and of its sections is a setting or is listed in codeOnly: an option that exists as a
// variable exists in code and the reverse.
func TestSettingsCoverOptions(t *testing.T) {
	fields := map[string]bool{}
	typ := reflect.TypeOf(Options{})
	for i := range typ.NumField() {
		f := typ.Field(i)
		ft := f.Type
		if ft.Kind() == reflect.Pointer && ft.Elem().Kind() == reflect.Struct {
			for j := range ft.Elem().NumField() {
				if sf := ft.Elem().Field(j); sf.IsExported() {
					fields[f.Name+"."+sf.Name] = true
				}
			}
			continue
		}
		fields[f.Name] = true
	}
	bound := map[string]bool{}
	vars := map[string]bool{}
	for _, s := range settings {
		require.False(t, vars[s.Var], "%s declared twice", s.Var)
		vars[s.Var] = true
		require.NotEmpty(t, s.Doc, s.Var)
		if s.Field == "" {
			continue
		}
		require.True(t, fields[s.Field], "%s: no field Options.%s", s.Var, s.Field)
		bound[s.Field] = true
	}
	for f := range fields {
		if bound[f] {
			continue
		}
		_, ok := codeOnly[f]
		require.True(t, ok, "Options.%s has no variable: add a setting, or list it in codeOnly with the reason", f)
	}
	for f := range codeOnly {
		require.True(t, fields[f] && !bound[f], "codeOnly lists %s, which is not a code-only field", f)
	}
}

// TestCodeWinsOverEveryVariable: for every setting, a value set in code wins over a different
// valid value of its variable, bools and enums included.
func TestCodeWinsOverEveryVariable(t *testing.T) {
	type sample struct {
		env  string         // a valid value of the variable
		code func(*Options) // sets another valid value in code
	}
	samples := map[string]sample{
		"SERVICE":                         {"env", func(o *Options) { o.Service = "code" }},
		"ENV":                             {"env", func(o *Options) { o.Env = "code" }},
		"VERSION":                         {"env", func(o *Options) { o.Version = "code" }},
		"VLOG_LEVEL":                      {"debug", func(o *Options) { o.Level = slog.LevelError }},
		"VLOG_ADD_SOURCE":                 {"true", func(o *Options) { o.AddSource = Bool(false) }},
		"VLOG_OUTPUT":                     {"victorialogs", func(o *Options) { o.Output = "stdout" }},
		"VLOG_STDOUT_BUFFERED":            {"true", func(o *Options) { o.StdoutBuffered = Bool(false) }},
		"VLOG_FLUSH_LEVEL":                {"warn", func(o *Options) { o.FlushLevel = slog.LevelError + 4 }},
		"VLOG_EXIT_FLUSH_TIMEOUT":         {"5s", func(o *Options) { o.ExitFlushTimeout = time.Second }},
		"VLOG_BUFFER_SIZE":                {"16MiB", func(o *Options) { o.Buffer.Size = 1 << 20 }},
		"VLOG_BATCH_SIZE":                 {"1MiB", func(o *Options) { o.Buffer.BatchSize = 1 << 10 }},
		"VLOG_BATCH_AGE":                  {"1s", func(o *Options) { o.Buffer.BatchAge = time.Millisecond }},
		"VLOG_BATCH_MAX_SIZE":             {"4MiB", func(o *Options) { o.Buffer.MaxBatchSize = 1 << 20 }},
		"VLOG_MAX_RECORD_SIZE":            {"2MiB", func(o *Options) { o.Buffer.MaxRecordSize = 1 << 10 }},
		"VLOG_DROP_POLICY":                {"oldest", func(o *Options) { o.Buffer.DropPolicy = output.DropNewest }},
		"VLOG_RETRY_MIN":                  {"1s", func(o *Options) { o.Buffer.RetryMin = time.Millisecond }},
		"VLOG_RETRY_MAX":                  {"1m", func(o *Options) { o.Buffer.RetryMax = time.Second }},
		"FLUENT_HOST":                     {"10.0.0.1", func(o *Options) { o.Forward.Address = "127.0.0.1:1" }},
		"FLUENT_PORT":                     {"24224", func(o *Options) { o.Forward.Address = "127.0.0.1:1" }},
		"VLOG_FLUENT_TAG":                 {"env", func(o *Options) { o.Forward.Tag = "code" }},
		"VLOG_FLUENT_ACK":                 {"false", func(o *Options) { o.Forward.Ack = Bool(true) }},
		"VLOG_FLUENT_COMPRESS":            {"gzip", func(o *Options) { o.Forward.Compression = "none" }},
		"VLOG_FLUENT_TIMEOUT":             {"1m", func(o *Options) { o.Forward.Timeout = time.Second }},
		"VLOG_FLUENT_MAX_MESSAGE_SIZE":    {"1MiB", func(o *Options) { o.Forward.MaxMessageSize = 64 << 10 }},
		"VLOG_FLUENT_MAX_LINE_SIZE":       {"128KiB", func(o *Options) { o.Forward.MaxLineSize = 4 << 10 }},
		"VICTORIALOGS_URL":                {"http://env:9428", func(o *Options) { o.VictoriaLogs.URLs = []string{"http://code:9428"} }},
		"VLOG_VICTORIALOGS_STREAM_FIELDS": {"service", func(o *Options) { o.VictoriaLogs.StreamFields = []string{"env"} }},
		"VLOG_VICTORIALOGS_IGNORE_FIELDS": {"a", func(o *Options) { o.VictoriaLogs.IgnoreFields = []string{"b"} }},
		"VLOG_VICTORIALOGS_EXTRA_FIELDS":  {"a=1", func(o *Options) { o.VictoriaLogs.ExtraFields = map[string]string{"b": "2"} }},
		"VLOG_VICTORIALOGS_ACCOUNT_ID":    {"1", func(o *Options) { o.VictoriaLogs.AccountID = 2 }},
		"VLOG_VICTORIALOGS_PROJECT_ID":    {"1", func(o *Options) { o.VictoriaLogs.ProjectID = 2 }},
		"VLOG_VICTORIALOGS_USER":          {"env", func(o *Options) { o.VictoriaLogs.Username = "code" }},
		"VLOG_VICTORIALOGS_PASSWORD":      {"env", func(o *Options) { o.VictoriaLogs.Username, o.VictoriaLogs.Password = "code", "code" }},
		"VLOG_VICTORIALOGS_BEARER_TOKEN":  {"env", func(o *Options) { o.VictoriaLogs.BearerToken = "code" }},
		"VLOG_VICTORIALOGS_CA_FILE":       {"/env.pem", func(o *Options) { o.VictoriaLogs.CAFile = "/code.pem" }},
		"VLOG_VICTORIALOGS_TIMEOUT":       {"1m", func(o *Options) { o.VictoriaLogs.Timeout = time.Second }},
		"VLOG_VICTORIALOGS_MAX_LINE_SIZE": {"128KiB", func(o *Options) { o.VictoriaLogs.MaxLineSize = 4 << 10 }},
		"VLOG_VICTORIALOGS_IN_FLIGHT":     {"4", func(o *Options) { o.VictoriaLogs.InFlight = 1 }},
		"VLOG_VICTORIALOGS_CONCURRENCY":   {"4", func(o *Options) { o.VictoriaLogs.Concurrency = 1 }},
		"VLOG_VICTORIALOGS_COMPRESS":      {"zstd", func(o *Options) { o.VictoriaLogs.Compression = "gzip" }},
		"VLOG_VICTORIALOGS_GZIP_LEVEL":    {"-1", func(o *Options) { o.VictoriaLogs.GzipLevel = 9 }},
		"VLOG_FILE_PATH":                  {"/env/app.log", func(o *Options) { o.File.Path = "/code/app.log" }},
		"VLOG_FILE_MAX_SIZE":              {"1MiB", func(o *Options) { o.File.MaxSize = 2 << 20 }},
		"VLOG_FILE_MAX_FILES":             {"3", func(o *Options) { o.File.MaxFiles = 7 }},
		"VLOG_FALLBACK_AFTER":             {"0", func(o *Options) { o.Fallback.After = time.Minute }},
		"VLOG_FALLBACK_PROBE_INTERVAL":    {"1m", func(o *Options) { o.Fallback.ProbeInterval = time.Second }},
		"VLOG_FALLBACK_PROBE_TIMEOUT":     {"1m", func(o *Options) { o.Fallback.ProbeTimeout = time.Second }},
		"VLOG_FALLBACK_STDOUT":            {"true", func(o *Options) { o.FallbackStdout = Bool(false) }},
		"VLOG_REDACT":                     {"false", func(o *Options) { o.Redaction = Bool(true) }},
		"VLOG_REDACT_MASK":                {"***", func(o *Options) { o.Redact.Mask = "###" }},
		"VLOG_REDACT_HASH_KEY":            {"0123456789abcdef-env", func(o *Options) { o.Redact.HashKey = []byte("0123456789abcdef-code") }},
		"VLOG_HOLD":                       {"true", func(o *Options) { o.Holding = Bool(false) }},
		"VLOG_HOLD_BELOW":                 {"warn", func(o *Options) { o.Hold.Below = slog.LevelDebug }},
		"VLOG_HOLD_FLUSH_LEVEL":           {"warn", func(o *Options) { o.Hold.FlushLevel = slog.LevelError + 4 }},
		"VLOG_HOLD_SCOPE_SIZE":            {"1MiB", func(o *Options) { o.Hold.ScopeSize = 4 << 10 }},
		"VLOG_HOLD_TOTAL_SIZE":            {"1GiB", func(o *Options) { o.Hold.TotalSize = 1 << 20 }},
		"VLOG_HOLD_MAX_AGE":               {"5m", func(o *Options) { o.Hold.MaxAge = time.Minute }},
		"VLOG_DEBUG_SAMPLE_RATE":          {"0.5", func(o *Options) { o.DebugSampleRate = -1 }},
		"VLOG_RATE_LIMIT":                 {"true", func(o *Options) { o.RateLimiting = Bool(false) }},
		"VLOG_RATE_LIMIT_FIRST":           {"10", func(o *Options) { o.RateLimit.First = 1000 }},
		"VLOG_RATE_LIMIT_THEREAFTER":      {"0", func(o *Options) { o.RateLimit.Thereafter = 10 }},
		"VLOG_RATE_LIMIT_INTERVAL":        {"1m", func(o *Options) { o.RateLimit.Interval = time.Second }},
		"VLOG_RATE_LIMIT_BELOW":           {"warn", func(o *Options) { o.RateLimit.Below = slog.LevelError + 1 }},
		"VLOG_ECS_METADATA_TIMEOUT":       {"0", func(o *Options) { o.ECSMetadataTimeout = time.Second }},
		"VLOG_STOP_TIMEOUT":               {"1m", func(o *Options) { o.StopTimeout = time.Second }},
	}
	// The lists the variables add to, and what ECS sets, are not "code wins" settings.
	adds := map[string]bool{"VLOG_REDACT_KEYS": true, "VLOG_REDACT_IGNORE_KEYS": true, "VLOG_REDACT_DISABLE_RULES": true,
		"VLOG_RATE_LIMIT_EXEMPT": true}
	for _, s := range settings {
		if s.Field == "" || adds[s.Var] {
			require.False(t, s.Field == "" && s.bind.set != nil, "%s: a binding without a field", s.Var)
			continue
		}
		sm, ok := samples[s.Var]
		require.True(t, ok, "%s: no sample in this test", s.Var)
		t.Run(s.Var, func(t *testing.T) {
			env := []string{s.Var + "=" + sm.env}
			if s.Var == "FLUENT_HOST" || s.Var == "FLUENT_PORT" {
				env = []string{"FLUENT_HOST=10.0.0.1", "FLUENT_PORT=24224"}
			}
			fromEnv, err := resolve(&Options{Environ: env, ECSMetadataTimeout: -1})
			if s.Var == "VLOG_ECS_METADATA_TIMEOUT" {
				fromEnv, err = resolve(&Options{Environ: env})
			}
			require.NoError(t, err)
			code := &Options{Environ: env, ECSMetadataTimeout: -1}
			code = code.withSections()
			sm.code(code)
			want := s.bind.show(code)
			fromCode, err := resolve(code)
			require.NoError(t, err)
			require.NotEqual(t, want, s.bind.show(fromEnv.opts), "the sample's two values are the same")
			require.Equal(t, want, s.bind.show(fromCode.opts), "the value set in code did not win")
		})
	}
}

// TestCredentialsNotMixed: credentials come from code or from the environment, never mixed
// (a username in code and a password in the environment is not a login anybody meant).
func TestCredentialsNotMixed(t *testing.T) {
	c, err := resolve(&Options{VictoriaLogs: &victorialogs.Options{BearerToken: "code"},
		Environ: []string{"VLOG_VICTORIALOGS_USER=u", "VLOG_VICTORIALOGS_PASSWORD=p"}})
	require.NoError(t, err)
	require.Equal(t, victorialogs.Options{BearerToken: "code"}, *c.opts.VictoriaLogs)
}

// TestZeroValues: the zero value of every section means "the defaults"; the Options given are
// never written to.
func TestZeroValues(t *testing.T) {
	opts := &Options{Buffer: &output.BufferOptions{}, Forward: &forward.Options{}, Redact: &redact.Options{},
		Environ: []string{"VLOG_BUFFER_SIZE=1MiB", "VLOG_FLUENT_TAG=t", "VLOG_REDACT_KEYS=ssn"}}
	c, err := resolve(opts)
	require.NoError(t, err)
	require.Equal(t, 1<<20, c.opts.Buffer.Size)
	require.Equal(t, "t", c.opts.Forward.Tag)
	require.Equal(t, []string{"ssn"}, c.opts.Redact.Keys)
	require.Equal(t, output.BufferOptions{}, *opts.Buffer)
	require.Equal(t, forward.Options{}, *opts.Forward)
	require.Empty(t, opts.Redact.Keys)
}
