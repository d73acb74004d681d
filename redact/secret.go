package redact

import (
	"fmt"
	"log/slog"
)

// Secret is a string that never shows its content when logged or printed: its LogValue,
// String, GoString, MarshalJSON and MarshalText methods and every fmt verb give [DefaultMask]
// instead ([Redactor.ReplaceAttr] and [Handler] use the Redactor's mask, hashed in hash mode).
// Convert it with string(s) where the content is needed.
//
//	db.Connect(user, string(pass))
//	logger.Info("connect", "user", user, "password", pass) // password=[REDACTED]
type Secret string

// LogValue returns [DefaultMask] as a string value.
func (Secret) LogValue() slog.Value { return slog.StringValue(DefaultMask) }

// String returns [DefaultMask].
func (Secret) String() string { return DefaultMask }

// GoString returns [DefaultMask], quoted.
func (Secret) GoString() string { return `"` + DefaultMask + `"` }

// Format writes [DefaultMask] as fmt would write a string for the same verb and flags.
func (Secret) Format(f fmt.State, verb rune) {
	fmt.Fprintf(f, fmt.FormatString(f, verb), DefaultMask)
}

// MarshalJSON returns [DefaultMask] as a JSON string.
func (Secret) MarshalJSON() ([]byte, error) { return []byte(`"` + DefaultMask + `"`), nil }

// MarshalText returns [DefaultMask].
func (Secret) MarshalText() ([]byte, error) { return []byte(DefaultMask), nil }
