package bridge

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"go.vlog.dev/handlers/output"
	"go.vlog.dev/handlers/schema"
	"go.vlog.dev/handlers/victorialogs"
	"go.vlog.dev/internal/envtext"
)

// The bridge is configured by the function's environment variables. The VictoriaLogs,
// batching and redaction settings have the names and the meaning of vlog's own
// (vlog/settings.go), so that one VictoriaLogs configuration reads the same in a service and
// in the bridge; the defaults that differ for a Lambda are marked in the table. The settings
// of the bridge itself start with VLOG_BRIDGE_. As in vlog, an invalid value is an error that
// names the variable and the value (all problems at once), and a VLOG_ variable the bridge
// does not know is an error too, with the nearest known name.

// A setting is one variable: its name, its default and meaning as docs/cloudwatch-bridge.md
// states them (the table there is generated from this one: TestDocsSettings), and how its
// text is read into Options.
type setting struct {
	Var     string
	Default string
	Doc     string
	parse   func(o *Options, text string) error
}

// settings is the table of every setting, in the order of the docs.
var settings = []setting{
	{"VICTORIALOGS_URL", "(required)", "VictoriaLogs base URL(s), comma-separated (cluster: the `vlinsert` nodes), or a full `/insert/jsonline` URL whose query is kept; credentials in it become basic auth. A `_stream_fields` in the query is checked like `VLOG_VICTORIALOGS_STREAM_FIELDS`",
		func(o *Options, s string) error { o.VictoriaLogs.URLs = parseURLs(s); return nil }},
	{"VLOG_VICTORIALOGS_STREAM_FIELDS", "`" + strings.Join(DefaultStreamFields(), ",") + "`", "stream fields (**bridge default**); refused: the library's high-cardinality names (`*_id`, `ip`, `url`, `path`, ...) and, here, `log_stream` and `ecs_task_arn` (one stream per task)",
		func(o *Options, s string) error { o.VictoriaLogs.StreamFields = parseList(s); return nil }},
	{"VLOG_VICTORIALOGS_IGNORE_FIELDS", "", "fields VictoriaLogs drops on ingestion (`ignore_fields`), comma-separated",
		func(o *Options, s string) error { o.VictoriaLogs.IgnoreFields = parseList(s); return nil }},
	{"VLOG_VICTORIALOGS_EXTRA_FIELDS", "", "fields VictoriaLogs adds to every record (`extra_fields`), `name=value,...`",
		func(o *Options, s string) (err error) {
			o.VictoriaLogs.ExtraFields, err = parseKeyValues(s)
			return err
		}},
	{"VLOG_VICTORIALOGS_ACCOUNT_ID", "`0`", "tenant: the `AccountID` header",
		func(o *Options, s string) (err error) { o.VictoriaLogs.AccountID, err = parseUint32(s); return err }},
	{"VLOG_VICTORIALOGS_PROJECT_ID", "`0`", "tenant: the `ProjectID` header",
		func(o *Options, s string) (err error) { o.VictoriaLogs.ProjectID, err = parseUint32(s); return err }},
	{"VLOG_VICTORIALOGS_USER", "", "basic auth",
		func(o *Options, s string) error { o.VictoriaLogs.Username = s; return nil }},
	{"VLOG_VICTORIALOGS_PASSWORD", "", "basic auth (see [Secrets](#secrets) for where to keep it)",
		func(o *Options, s string) error { o.VictoriaLogs.Password = s; return nil }},
	{"VLOG_VICTORIALOGS_BEARER_TOKEN", "", "bearer auth (not with basic auth)",
		func(o *Options, s string) error { o.VictoriaLogs.BearerToken = s; return nil }},
	{"VLOG_VICTORIALOGS_CA_FILE", "", "extra CA certificates (PEM) for https, a file in the deployment package (`/var/task/...`)",
		func(o *Options, s string) error { o.VictoriaLogs.CAFile = s; return nil }},
	{"VLOG_VICTORIALOGS_TIMEOUT", "`10s`", "per request (the invocation's deadline bounds it too)",
		func(o *Options, s string) (err error) { o.VictoriaLogs.Timeout, err = parseDuration(s); return err }},
	{"VLOG_VICTORIALOGS_MAX_LINE_SIZE", "`262143` (256 KiB - 1)", "longer records are cut with the library's `schema.Truncate` (schema, stream and bridge fields kept, `vlog_truncated` added) (**bridge default**: VictoriaLogs' own limit, which a line of exactly 256 KiB already exceeds; 1 KiB to 256 KiB - 1)",
		func(o *Options, s string) (err error) { o.VictoriaLogs.MaxLineSize, err = parseSize(s); return err }},
	{"VLOG_VICTORIALOGS_IN_FLIGHT", "`2`", "batches sent at once (1 to 16)",
		func(o *Options, s string) (err error) { o.VictoriaLogs.InFlight, err = parseInt(s); return err }},
	{"VLOG_VICTORIALOGS_CONCURRENCY", "`1`", "requests one batch is split into (1 to 64)",
		func(o *Options, s string) (err error) { o.VictoriaLogs.Concurrency, err = parseInt(s); return err }},
	{"VLOG_VICTORIALOGS_COMPRESS", "the library's (`victorialogs.DefaultCompression`)", "`zstd`, `gzip` or `none` (uncompressed: loopback only)",
		func(o *Options, s string) error { o.VictoriaLogs.Compression = strings.ToLower(s); return nil }},
	{"VLOG_VICTORIALOGS_GZIP_LEVEL", "`1`", "with `gzip`: 1 to 9, -1 or -2",
		func(o *Options, s string) (err error) { o.VictoriaLogs.GzipLevel, err = parseInt(s); return err }},

	{"VLOG_BUFFER_SIZE", "`8MiB`", "the most bytes of records waiting to be sent at once; the bridge waits for batches to be delivered before it adds more (nothing is dropped)",
		func(o *Options, s string) (err error) { o.Buffer.Size, err = parseSize(s); return err }},
	{"VLOG_BATCH_SIZE", "`256KiB`", "a batch is sent when it reaches this size",
		func(o *Options, s string) (err error) { o.Buffer.BatchSize, err = parseSize(s); return err }},
	{"VLOG_BATCH_MAX_SIZE", "a quarter of `VLOG_BUFFER_SIZE`", "while batches are in flight, the next one may grow to this size",
		func(o *Options, s string) (err error) { o.Buffer.MaxBatchSize, err = parseSize(s); return err }},
	{"VLOG_RETRY_MIN", "`100ms`", "first backoff before a failed batch (429, 5xx, network error) is sent again; it doubles up to `VLOG_RETRY_MAX` (±20% jitter), until the invocation's deadline minus the margin",
		func(o *Options, s string) (err error) { o.Buffer.RetryMin, err = parseDuration(s); return err }},
	{"VLOG_RETRY_MAX", "`5s`", "longest backoff between two attempts",
		func(o *Options, s string) (err error) { o.Buffer.RetryMax, err = parseDuration(s); return err }},

	{"VLOG_REDACT", "`true`", "`false` turns secret redaction off",
		func(o *Options, s string) error {
			b, err := strconv.ParseBool(s)
			if err != nil {
				return errors.New("want true or false")
			}
			o.Redaction = &b
			return nil
		}},
	{"VLOG_REDACT_KEYS", "", "more secret key names, comma-separated",
		func(o *Options, s string) error { o.Redact.Keys = append(o.Redact.Keys, parseList(s)...); return nil }},
	{"VLOG_REDACT_IGNORE_KEYS", "", "built-in secret key names not to treat as secret",
		func(o *Options, s string) error {
			o.Redact.IgnoreKeys = append(o.Redact.IgnoreKeys, parseList(s)...)
			return nil
		}},
	{"VLOG_REDACT_DISABLE_RULES", "", "value rules to turn off by name (`redact.RuleNames`)",
		func(o *Options, s string) error {
			o.Redact.DisableRules = append(o.Redact.DisableRules, parseList(s)...)
			return nil
		}},
	{"VLOG_REDACT_MASK", "`[REDACTED]`", "the mask written instead of a secret",
		func(o *Options, s string) error { o.Redact.Mask = s; return nil }},
	{"VLOG_REDACT_HASH_KEY", "", "16+ bytes: a secret becomes a short keyed hash, so equal secrets can be correlated",
		func(o *Options, s string) error { o.Redact.HashKey = []byte(s); return nil }},

	{"VLOG_BRIDGE_DEADLINE_MARGIN", "`1s`", "the invocation stops sending this long before its deadline, to report what it could not deliver; what is not delivered by then fails the invocation",
		func(o *Options, s string) (err error) { o.DeadlineMargin, err = parseDuration(s); return err }},
	{"VLOG_BRIDGE_MAX_DATA_SIZE", "`16MiB`", "largest decompressed subscription message accepted (a gzip bomb is malformed input); CloudWatch Logs sends at most about 1 MiB of log events per message, a few MiB as JSON",
		func(o *Options, s string) (err error) { o.MaxDataSize, err = parseSize(s); return err }},
	{"VLOG_BRIDGE_MESSAGE_KEYS", "`" + strings.Join(DefaultMessageKeys(), ",") + "`", "in a log message that is a JSON object, the first of these members that is a string becomes `_msg` (replaces the list)",
		func(o *Options, s string) error { o.MessageKeys = parseList(s); return nil }},
	{"VLOG_BRIDGE_TIME_KEYS", "`" + strings.Join(DefaultTimeKeys(), ",") + "`", "...and the first of these that is a time (RFC 3339, or Unix s/ms/us/ns) within `VLOG_BRIDGE_MAX_CLOCK_SKEW` of the event's timestamp becomes `_time` (replaces the list)",
		func(o *Options, s string) error { o.TimeKeys = parseList(s); return nil }},
	{"VLOG_BRIDGE_MAX_CLOCK_SKEW", "`24h`", "a record's own time further than this from its CloudWatch Logs timestamp is not used (it stays a field): a `time` that is a duration, or a bad clock, would otherwise put the record where no query looks, or out of VictoriaLogs' retention",
		func(o *Options, s string) (err error) { o.MaxClockSkew, err = parseDuration(s); return err }},
	{"VLOG_BRIDGE_METRICS_NAMESPACE", "`vlog/bridge`", "CloudWatch namespace of the counters in the invocation's summary line (Embedded Metric Format); `none`: a summary line without metrics",
		func(o *Options, s string) error { o.MetricsNamespace = s; return nil }},
}

// lambdaVariables are the variables Lambda sets that the bridge reads.
var lambdaVariables = []struct{ Var, Doc string }{
	{"AWS_LAMBDA_FUNCTION_NAME", "the dimension of the metrics"},
	{"AWS_LAMBDA_LOG_GROUP_NAME", "the function's own log group: events from it are skipped (a subscription of the bridge to its own logs would loop)"},
	{"AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "the Go memory limit is set to 3/4 of it (unless `GOMEMLIMIT` is set)"},
}

// KnownVariables returns the names of the variables the bridge reads, VLOG_ settings first.
func KnownVariables() []string {
	var names []string
	for _, s := range settings {
		names = append(names, s.Var)
	}
	for _, v := range lambdaVariables {
		names = append(names, v.Var)
	}
	return names
}

// OptionsFromEnv reads Options from environ (os.Environ()'s form, KEY=value). Every invalid
// value is reported, naming the variable; so is every VLOG_ variable that is not a setting of
// the bridge (VLOG_TEST_ aside). With an error, the Options hold the valid settings (so that
// New can report the problems they have too).
func OptionsFromEnv(environ []string) (*Options, error) {
	env := map[string]string{}
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok {
			env[k] = v
		}
	}
	o := &Options{}
	var errs []error
	for _, s := range settings {
		raw, ok := env[s.Var]
		text := strings.TrimSpace(raw)
		if !ok || text == "" {
			continue
		}
		switch s.Var {
		case "VLOG_VICTORIALOGS_PASSWORD", "VLOG_REDACT_MASK", "VLOG_VICTORIALOGS_USER":
			text = raw // taken as it is, blanks included
		}
		if err := s.parse(o, text); err != nil {
			errs = append(errs, &output.OptionError{Name: s.Var, Value: envtext.HideSecret(s.Var, raw), Reason: err.Error()})
		}
	}
	o.FunctionName = env["AWS_LAMBDA_FUNCTION_NAME"]
	o.OwnLogGroup = env["AWS_LAMBDA_LOG_GROUP_NAME"]
	known := KnownVariables()
	for k, v := range env {
		if !strings.HasPrefix(k, "VLOG_") || strings.HasPrefix(k, "VLOG_TEST_") || slices.Contains(known, k) {
			continue
		}
		reason := "not a setting of the bridge (docs/cloudwatch-bridge.md lists them)"
		if near := envtext.Closest(k, known); near != "" {
			reason += "; did you mean " + near + "?"
		}
		errs = append(errs, &output.OptionError{Name: k, Value: envtext.HideSecret(k, v), Reason: reason})
	}
	if len(errs) > 0 {
		slices.SortFunc(errs, func(a, b error) int { return strings.Compare(a.Error(), b.Error()) })
		return o, errors.Join(errs...)
	}
	return o, nil
}

// checkStreamFields applies the library's check (victorialogs.CheckStreamFields), then the
// bridge's: a CloudWatch log stream is one per task (awslogs) or per instance (the agent),
// as are the task's ARN and id, so none of them may be a stream field.
func checkStreamFields(fields []string) error {
	if err := victorialogs.CheckStreamFields(fields); err != nil {
		return err
	}
	for _, f := range fields {
		switch f {
		case FieldLogStream, schema.ECSTaskARN, FieldTaskID:
			return fmt.Errorf("%q is one stream per ECS task or instance (high cardinality) and must not be a stream field; use %s and %s", f, FieldLogGroup, FieldContainer)
		}
	}
	return nil
}

// urlStreamFields returns the _stream_fields of the URLs' queries.
func urlStreamFields(urls []string) (fields []string, where string) {
	for _, raw := range urls {
		u, err := url.Parse(raw)
		if err != nil {
			continue // victorialogs.New says what is wrong with it
		}
		if q := u.Query(); q.Has("_stream_fields") {
			return parseList(strings.Join(q["_stream_fields"], ",")), u.Redacted()
		}
	}
	return nil, ""
}

// The parse rules, shared with vlog (go.vlog.dev/internal/envtext). Each returns the reason a
// text is invalid.
var (
	parseList      = envtext.List
	parseURLs      = envtext.URLs
	parseKeyValues = envtext.KeyValues
	parseUint32    = envtext.Uint32
	parseInt       = envtext.Int
	parseDuration  = envtext.Duration
	parseSize      = envtext.Size
)
