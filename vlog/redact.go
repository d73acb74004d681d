package vlog

import (
	"strconv"
	"strings"

	"go.vlog.dev/redact"
)

// newRedactor returns the redactor of the resolved options, or nil when redaction is off
// (Options.Redaction or VLOG_REDACT false). The VLOG_REDACT_ lists were added to
// Options.Redact when the environment was merged.
func newRedactor(c *config) (*redact.Redactor, error) {
	if c.opts.Redaction != nil && !*c.opts.Redaction {
		return nil, nil
	}
	r, err := redact.New(c.opts.Redact)
	if err != nil {
		// The hash key is a secret: never echo it.
		return nil, &ConfigError{Name: "VLOG_REDACT_* / Options.Redact", Value: redactedSettings(c.environ), Reason: err.Error()}
	}
	return r, nil
}

// redactedSettings lists the VLOG_REDACT_ variables that are set, without the hash key's value.
func redactedSettings(env map[string]string) string {
	var parts []string
	for _, s := range settings {
		v, ok := env[s.Var]
		if !ok || !strings.HasPrefix(s.Var, "VLOG_REDACT_") {
			continue
		}
		if s.Var == "VLOG_REDACT_HASH_KEY" {
			v = "(" + strconv.Itoa(len(v)) + " bytes)"
		}
		parts = append(parts, s.Var+"="+v)
	}
	return strings.Join(parts, " ")
}
