package output

import "fmt"

// OptionError reports an invalid setting: its name, the value and why. The constructors of
// the outputs and transports name the option field ("Timeout"); vlog.New names the
// environment variable the value came from, or the Options field when it was set in code
// (vlog.ConfigError is this type).
type OptionError struct {
	Name   string
	Value  string
	Reason string
}

func (e *OptionError) Error() string {
	return fmt.Sprintf("vlog: invalid %s=%q: %s", e.Name, e.Value, e.Reason)
}
