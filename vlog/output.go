package vlog

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"

	"go.vlog.dev/handlers"
	"go.vlog.dev/handlers/forward"
	"go.vlog.dev/handlers/output"
	"go.vlog.dev/handlers/victorialogs"
)

// Output names, as in VLOG_OUTPUT and Logger.Output.
const (
	OutputAuto         = "auto"
	OutputStdout       = "stdout"
	OutputForward      = "forward"
	OutputVictoriaLogs = "victorialogs"
	OutputFile         = "file"
)

// chooseOutputs resolves Options.Output, a comma-separated list of outputs, or "auto" (or
// unset): forward when the router has an address (FLUENT_HOST and FLUENT_PORT, injected by
// ECS, or Forward.Address), victorialogs when VictoriaLogs has a URL, stdout otherwise.
func chooseOutputs(o *Options) []string {
	if o.Output != "" && o.Output != OutputAuto {
		names, _ := parseList(o.Output)
		return names
	}
	switch {
	case o.Forward.Address != "":
		return []string{OutputForward}
	case len(o.VictoriaLogs.URLs) > 0:
		return []string{OutputVictoriaLogs}
	}
	return []string{OutputStdout}
}

// checkOutputs checks a VLOG_OUTPUT value: "auto", or a list of distinct outputs.
func checkOutputs(s string) error {
	names, _ := parseList(s)
	if len(names) == 0 {
		return errors.New("want auto, or outputs among stdout, forward, victorialogs, file (comma-separated)")
	}
	for i, n := range names {
		switch n {
		case OutputAuto:
			if len(names) > 1 {
				return errors.New("auto stands alone: list the outputs instead")
			}
		case OutputStdout, OutputForward, OutputVictoriaLogs, OutputFile:
		default:
			return errors.New("want auto, or outputs among stdout, forward, victorialogs, file (comma-separated)")
		}
		if slices.Contains(names[:i], n) {
			return fmt.Errorf("%s listed twice", n)
		}
	}
	return nil
}

// newOutput builds the outputs chosen in c, each with its own buffer and accounting, behind
// one Multi that gives each of them every record. notice encodes the outputs' records about
// themselves (drops, fallback switches).
func newOutput(c *config, notice output.NoticeFunc) (*output.Multi, error) {
	hooks := output.Hooks{Notice: notice, OnError: c.opts.OnError}
	var outs []output.Output
	for _, name := range c.outputs {
		o, err := newOneOutput(c, name, hooks)
		if err != nil {
			for _, o := range outs {
				_ = o.Close(context.Background())
			}
			return nil, err
		}
		outs = append(outs, o)
	}
	return output.NewMulti(outs...), nil
}

// newOneOutput builds one output: stdout behind the buffer (or synchronous with
// StdoutBuffered false), the others behind the buffer.
func newOneOutput(c *config, name string, hooks output.Hooks) (output.Output, error) {
	if name == OutputStdout {
		stdout := output.NewWriterTransport(OutputStdout, c.writer)
		if c.opts.StdoutBuffered != nil && !*c.opts.StdoutBuffered {
			return output.NewDirect(stdout, hooks), nil
		}
		return output.NewBuffered(stdout, c.opts.Buffer, hooks), nil
	}
	t, err := newTransport(c, name, hooks)
	if err != nil {
		return nil, err
	}
	return output.NewBuffered(t, c.opts.Buffer, hooks), nil
}

// newTransport builds the transport of a network or file output: the FireLens router over the
// forward protocol (with VictoriaLogs as its fallback when VictoriaLogs has a URL and is not an
// output of its own), VictoriaLogs, or the file.
func newTransport(c *config, name string, hooks output.Hooks) (output.Transport, error) {
	switch name {
	case OutputForward:
		fw, err := newForwardTransport(c)
		if err != nil {
			return nil, err
		}
		if !c.hasFallback() {
			return fw, nil
		}
		vl, err := newVictoriaLogsTransport(c)
		if err != nil {
			_ = fw.Close()
			return nil, err
		}
		return newFallbackTransport(c, fw, vl, hooks), nil
	case OutputVictoriaLogs:
		return newVictoriaLogsTransport(c)
	case OutputFile:
		return newFileTransport(c)
	}
	return nil, fmt.Errorf("vlog: unknown output %q", name)
}

// hasFallback reports whether the forward output falls back to VictoriaLogs: VictoriaLogs has
// a URL and is not an output of its own (which already gets every record).
func (c *config) hasFallback() bool {
	return len(c.opts.VictoriaLogs.URLs) > 0 && !slices.Contains(c.outputs, OutputVictoriaLogs)
}

// newForwardTransport builds the Fluent forward transport to the FireLens router. It does not
// connect: the first batch does.
func newForwardTransport(c *config) (output.Transport, error) {
	o, err := forwardOptions(c)
	if err != nil {
		return nil, err
	}
	t, err := forward.New(&o)
	if err != nil {
		return nil, c.settingError("Forward", err)
	}
	return t, nil
}

// forwardOptions are the options of the forward transport: the router's address is required,
// the tag defaults to the FireLens convention.
func forwardOptions(c *config) (forward.Options, error) {
	o := *c.opts.Forward
	if o.Address == "" {
		var errs []error
		if c.environ["FLUENT_HOST"] == "" {
			errs = append(errs, &ConfigError{Name: "FLUENT_HOST", Value: "",
				Reason: "the forward output needs the router's host (ECS sets it with the awsfirelens log driver)"})
		}
		if port := c.environ["FLUENT_PORT"]; checkPort(port) != nil {
			errs = append(errs, &ConfigError{Name: "FLUENT_PORT", Value: port, Reason: "want a port number in 1..65535"})
		}
		return o, errors.Join(errs...)
	}
	if o.Tag == "" {
		o.Tag = defaultFluentTag(c)
	}
	return o, nil
}

// defaultFluentTag follows the FireLens convention when the container name is known.
func defaultFluentTag(c *config) string {
	if name := c.ecs.meta.Container; name != "" {
		id := c.ecs.meta.TaskID
		if id == "" {
			id = "vlog"
		}
		return name + "-firelens-" + id
	}
	return c.service
}

// newVictoriaLogsTransport builds the VictoriaLogs /insert/jsonline transport. An invalid
// setting is a *ConfigError naming the variable (or, for a value set in code, the
// Options.VictoriaLogs field), with credentials removed from the value.
func newVictoriaLogsTransport(c *config) (output.Transport, error) {
	if len(c.opts.VictoriaLogs.URLs) == 0 {
		return nil, &ConfigError{Name: "VICTORIALOGS_URL", Value: "",
			Reason: "not set: the victorialogs output needs VictoriaLogs' URL, such as http://victorialogs:9428"}
	}
	t, err := victorialogs.New(c.opts.VictoriaLogs)
	if err != nil {
		return nil, c.settingError("VictoriaLogs", err)
	}
	return t, nil
}

// newFallbackTransport sends through primary (the router) and falls back to secondary
// (VictoriaLogs) while primary is down. Each switch writes a notice record into the stream
// and is reported to Options.OnError.
func newFallbackTransport(c *config, primary, secondary output.Transport, hooks output.Hooks) *output.Fallback {
	fo := *c.opts.Fallback
	if fo.LastResort == nil && isTrue(c.opts.FallbackStdout) {
		fo.LastResort = output.NewWriterTransport(OutputStdout, c.writer)
	}
	// The notice records have the schema of the service's own records; they carry nothing of
	// the caller's, so the handler needs no redactor.
	hooks.Notice = handlers.NewJSONHandler(io.Discard, c.baseHandlerOptions()).EncodeNotice
	if onError := c.opts.OnError; onError != nil {
		hooks.OnSwitch = func(from, to string, reason error) {
			if reason != nil {
				onError(fmt.Errorf("vlog: %s failing, sending to %s directly: %w", from, to, reason))
			}
		}
	}
	return output.NewFallback(primary, secondary, &fo, hooks)
}
