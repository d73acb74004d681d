package vlog

import (
	"strconv"
	"strings"

	"go.vlog.dev/redact"
)

// Environment variables of redaction (see go.vlog.dev/redact for the rules).
const (
	// EnvRedact turns redaction off with "false" (a strconv.ParseBool value). Default true.
	EnvRedact = "VLOG_REDACT"
	// EnvRedactKeys adds secret key names, comma-separated.
	EnvRedactKeys = "VLOG_REDACT_KEYS"
	// EnvRedactIgnoreKeys removes names from the built-in secret keys, comma-separated.
	EnvRedactIgnoreKeys = "VLOG_REDACT_IGNORE_KEYS"
	// EnvRedactDisableRules turns value rules off by name, comma-separated (redact.RuleNames).
	EnvRedactDisableRules = "VLOG_REDACT_DISABLE_RULES"
	// EnvRedactMask replaces the default mask "[REDACTED]".
	EnvRedactMask = "VLOG_REDACT_MASK"
	// EnvRedactHashKey, at least 16 bytes, replaces each secret with a short keyed hash, so the
	// same secret can be correlated across records without being shown.
	EnvRedactHashKey = "VLOG_REDACT_HASH_KEY"
)

// newRedactor returns the redactor for opts and env, or nil when redaction is off. Redaction is
// on unless Options.DisableRedaction or VLOG_REDACT=false. Options.Redact, when set, is used as
// given and the VLOG_REDACT_ lists are added to it.
func newRedactor(opts *Options, env map[string]string) (*redact.Redactor, error) {
	if opts == nil {
		opts = &Options{}
	}
	if opts.DisableRedaction {
		return nil, nil
	}
	if v, ok := env[EnvRedact]; ok && v != "" {
		on, err := parseBool(EnvRedact, v)
		if err != nil {
			return nil, err
		}
		if !on {
			return nil, nil
		}
	}
	var ro redact.Options
	if opts.Redact != nil {
		ro = *opts.Redact
	}
	list := func(name string) []string {
		var out []string
		for _, f := range strings.Split(env[name], ",") {
			if f = strings.TrimSpace(f); f != "" {
				out = append(out, f)
			}
		}
		return out
	}
	ro.Keys = append(ro.Keys[:len(ro.Keys):len(ro.Keys)], list(EnvRedactKeys)...)
	ro.IgnoreKeys = append(ro.IgnoreKeys[:len(ro.IgnoreKeys):len(ro.IgnoreKeys)], list(EnvRedactIgnoreKeys)...)
	ro.DisableRules = append(ro.DisableRules[:len(ro.DisableRules):len(ro.DisableRules)], list(EnvRedactDisableRules)...)
	if ro.Mask == "" {
		ro.Mask = env[EnvRedactMask]
	}
	if ro.HashKey == nil && env[EnvRedactHashKey] != "" {
		ro.HashKey = []byte(env[EnvRedactHashKey])
	}
	r, err := redact.New(&ro)
	if err != nil {
		// The hash key is a secret: never echo it.
		return nil, &ConfigError{Var: "VLOG_REDACT_* / Options.Redact", Value: redactedSettings(env), Reason: err.Error()}
	}
	return r, nil
}

// redactedSettings lists the VLOG_REDACT_ variables that are set, without the hash key's value.
func redactedSettings(env map[string]string) string {
	var parts []string
	for _, k := range []string{EnvRedactKeys, EnvRedactIgnoreKeys, EnvRedactDisableRules, EnvRedactMask, EnvRedactHashKey} {
		if v, ok := env[k]; ok {
			if k == EnvRedactHashKey {
				v = "(" + strconv.Itoa(len(v)) + " bytes)"
			}
			parts = append(parts, k+"="+v)
		}
	}
	return strings.Join(parts, " ")
}
