package vlog

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"go.vlog.dev/handlers"
)

// Environment variables of the victorialogs output and of the fallback from the router to
// VictoriaLogs. VICTORIALOGS_URL (EnvVictoriaLogsURL) is the one that turns them on.
const (
	// EnvVictoriaLogsStreamFields are the stream fields, comma-separated. Default
	// service,env,ecs_cluster,container. High-cardinality names are refused (see
	// handlers.CheckStreamFields).
	EnvVictoriaLogsStreamFields = "VLOG_VICTORIALOGS_STREAM_FIELDS"
	// EnvVictoriaLogsAccountID and EnvVictoriaLogsProjectID select the tenant (uint32 each).
	// Default 0.
	EnvVictoriaLogsAccountID = "VLOG_VICTORIALOGS_ACCOUNT_ID"
	EnvVictoriaLogsProjectID = "VLOG_VICTORIALOGS_PROJECT_ID"
	// EnvVictoriaLogsUser and EnvVictoriaLogsPassword send basic auth (credentials in the URL
	// do too).
	EnvVictoriaLogsUser     = "VLOG_VICTORIALOGS_USER"
	EnvVictoriaLogsPassword = "VLOG_VICTORIALOGS_PASSWORD"
	// EnvVictoriaLogsBearerToken sends "Authorization: Bearer <token>" instead.
	EnvVictoriaLogsBearerToken = "VLOG_VICTORIALOGS_BEARER_TOKEN"
	// EnvVictoriaLogsCAFile is a PEM file of CA certificates trusted in addition to the
	// system's, for https URLs.
	EnvVictoriaLogsCAFile = "VLOG_VICTORIALOGS_CA_FILE"
	// EnvVictoriaLogsTimeout bounds one HTTP request. Default 10s.
	EnvVictoriaLogsTimeout = "VLOG_VICTORIALOGS_TIMEOUT"
	// EnvFallbackAfter is how long the router must have been failing before batches go to
	// VictoriaLogs directly (a time.ParseDuration value; "0": at the first failure). Default 2s.
	EnvFallbackAfter = "VLOG_FALLBACK_AFTER"
	// EnvFallbackProbeInterval is how often, while on VictoriaLogs, a batch is offered to the
	// router first, to switch back when it is up. Default 5s.
	EnvFallbackProbeInterval = "VLOG_FALLBACK_PROBE_INTERVAL"
	// EnvFallbackStdout ("true"/"false", default false) makes stdout the last resort: a batch
	// that both the router and VictoriaLogs failed is written to stdout (Options.Writer), where
	// the container runtime keeps it, instead of waiting in the buffer for one of them.
	EnvFallbackStdout = "VLOG_FALLBACK_STDOUT"
)

// victoriaLogsOptions merges Options.VictoriaLogs over the environment.
func victoriaLogsOptions(c *config) (handlers.VictoriaLogsOptions, error) {
	var o handlers.VictoriaLogsOptions
	if c.victoriaLogs != nil {
		o = *c.victoriaLogs
	}
	env := c.environ
	var errs []error
	bad := func(name, value, reason string) {
		errs = append(errs, &ConfigError{Var: name, Value: value, Reason: reason})
	}
	if len(o.URLs) == 0 {
		o.URLs = splitURLs(env[EnvVictoriaLogsURL])
		if len(o.URLs) == 0 {
			bad(EnvVictoriaLogsURL, "", "not set: the victorialogs output needs VictoriaLogs' URL, such as http://victorialogs:9428")
		}
	}
	if v := strings.TrimSpace(env[EnvVictoriaLogsStreamFields]); o.StreamFields == nil && v != "" {
		for _, f := range strings.Split(v, ",") {
			o.StreamFields = append(o.StreamFields, strings.TrimSpace(f))
		}
		if err := handlers.CheckStreamFields(o.StreamFields); err != nil {
			bad(EnvVictoriaLogsStreamFields, v, err.Error())
			o.StreamFields = nil
		}
	}
	tenant := func(dst *uint32, name string) {
		v := strings.TrimSpace(env[name])
		if *dst != 0 || v == "" {
			return
		}
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil {
			bad(name, v, "want an integer from 0 to 4294967295")
		}
		*dst = uint32(n)
	}
	tenant(&o.AccountID, EnvVictoriaLogsAccountID)
	tenant(&o.ProjectID, EnvVictoriaLogsProjectID)
	if o.Username == "" && o.Password == "" && o.BearerToken == "" {
		o.Username = env[EnvVictoriaLogsUser]
		o.Password = env[EnvVictoriaLogsPassword]
		o.BearerToken = strings.TrimSpace(env[EnvVictoriaLogsBearerToken])
	}
	if o.CAFile == "" {
		o.CAFile = strings.TrimSpace(env[EnvVictoriaLogsCAFile])
	}
	if v := strings.TrimSpace(env[EnvVictoriaLogsTimeout]); o.Timeout == 0 && v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			bad(EnvVictoriaLogsTimeout, v, "want a positive duration such as 5s")
		}
		o.Timeout = d
	}
	return o, errors.Join(errs...)
}

// splitURLs splits a comma-separated list of URLs. A comma inside a URL (in its query:
// _stream_fields=service,env) is kept: a new URL starts only at a comma followed by http://
// or https://.
func splitURLs(s string) []string {
	var urls []string
	for _, piece := range strings.Split(s, ",") {
		p := strings.TrimSpace(piece)
		lower := strings.ToLower(p)
		if len(urls) > 0 && !strings.HasPrefix(lower, "http://") && !strings.HasPrefix(lower, "https://") {
			urls[len(urls)-1] += "," + piece
			continue
		}
		if p != "" {
			urls = append(urls, p)
		}
	}
	for i := range urls {
		urls[i] = strings.TrimSpace(urls[i])
	}
	return urls
}

// optionVars names the variable behind each handlers.VictoriaLogsOptions field.
var optionVars = map[string]string{
	"URLs":         EnvVictoriaLogsURL,
	"StreamFields": EnvVictoriaLogsStreamFields,
	"CAFile":       EnvVictoriaLogsCAFile,
	"Timeout":      EnvVictoriaLogsTimeout,
	"Password":     EnvVictoriaLogsPassword,
	"BearerToken":  EnvVictoriaLogsBearerToken,
}

// newVictoriaLogsTransport builds the VictoriaLogs /insert/jsonline transport. An invalid
// setting is a *ConfigError naming the variable (or, for a value set in code, the
// Options.VictoriaLogs field), with credentials removed from the value.
func newVictoriaLogsTransport(c *config) (handlers.Transport, error) {
	o, err := victoriaLogsOptions(c)
	if err != nil {
		return nil, err
	}
	t, err := handlers.NewVictoriaLogsTransport(&o)
	if err != nil {
		var oe *handlers.VictoriaLogsOptionError
		if !errors.As(err, &oe) {
			return nil, err
		}
		name := "Options.VictoriaLogs." + oe.Field
		if v, ok := optionVars[oe.Field]; ok && fromEnv(c, oe.Field) {
			name = v
		}
		return nil, &ConfigError{Var: name, Value: oe.Value, Reason: oe.Reason}
	}
	return t, nil
}

// fromEnv reports whether the option field was taken from the environment.
func fromEnv(c *config, field string) bool {
	o := c.victoriaLogs
	if o == nil {
		return true
	}
	switch field {
	case "URLs":
		return len(o.URLs) == 0
	case "StreamFields":
		return o.StreamFields == nil
	case "CAFile":
		return o.CAFile == ""
	case "Timeout":
		return o.Timeout == 0
	case "Password", "BearerToken":
		return o.Username == "" && o.Password == "" && o.BearerToken == ""
	}
	return false
}

// newFallbackTransport sends through primary (the router) and falls back to secondary
// (VictoriaLogs) while primary is down. Each switch writes a notice record into the stream
// and is reported to Options.OnError.
func newFallbackTransport(c *config, primary, secondary handlers.Transport) (handlers.Transport, error) {
	fo := handlers.FallbackOptions{}
	var errs []error
	if v := strings.TrimSpace(c.environ[EnvFallbackAfter]); v != "" {
		d, err := time.ParseDuration(v)
		switch {
		case err != nil || d < 0:
			errs = append(errs, &ConfigError{Var: EnvFallbackAfter, Value: v, Reason: "want a duration such as 2s (0: at the first failure)"})
		case d == 0:
			fo.After = -1
		default:
			fo.After = d
		}
	}
	if v := strings.TrimSpace(c.environ[EnvFallbackProbeInterval]); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			errs = append(errs, &ConfigError{Var: EnvFallbackProbeInterval, Value: v, Reason: "want a positive duration such as 5s"})
		}
		fo.ProbeInterval = d
	}
	if v := strings.TrimSpace(c.environ[EnvFallbackStdout]); v != "" {
		b, err := parseBool(EnvFallbackStdout, v)
		if err != nil {
			errs = append(errs, err)
		}
		if b {
			fo.LastResort = handlers.NewWriterTransport(OutputStdout, c.writer)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, errors.Join(err, primary.Close(), secondary.Close())
	}
	// The notice records have the schema of the service's own records; they carry nothing of
	// the caller's, so the handler needs no redactor.
	fo.Notice = handlers.NewJSONHandler(io.Discard, c.handlerOptions()).EncodeNotice
	if onError := c.buffer.OnError; onError != nil {
		fo.OnSwitch = func(from, to string, reason error) {
			if reason != nil {
				onError(fmt.Errorf("vlog: %s failing, sending to %s directly: %w", from, to, reason))
			}
		}
	}
	return handlers.NewFallbackTransport(primary, secondary, &fo), nil
}
