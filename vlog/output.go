package vlog

import (
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"go.vlog.dev/handlers"
)

// Environment variables of the output and its buffer.
const (
	// EnvBufferSize bounds the in-memory buffer, in bytes (suffixes KiB, MiB, GiB, KB, MB
	// accepted). Default 8MiB.
	EnvBufferSize = "VLOG_BUFFER_SIZE"
	// EnvBatchSize is the batch size at which a batch is sent. Default 256KiB.
	EnvBatchSize = "VLOG_BATCH_SIZE"
	// EnvBatchMaxSize is how large a batch may grow while the previous one is being sent
	// (handlers.BufferOptions.MaxBatchSize). Default a quarter of VLOG_BUFFER_SIZE.
	EnvBatchMaxSize = "VLOG_BATCH_MAX_SIZE"
	// EnvBatchAge is the longest a record waits for its batch (a time.ParseDuration value).
	// Default 200ms.
	EnvBatchAge = "VLOG_BATCH_AGE"
	// EnvMaxRecordSize drops larger records (counted as oversize). Default 1MiB.
	EnvMaxRecordSize = "VLOG_MAX_RECORD_SIZE"
	// EnvDropPolicy is what a full buffer drops: "newest" (default) or "oldest".
	EnvDropPolicy = "VLOG_DROP_POLICY"
	// EnvStdoutBuffered puts stdout behind the buffer too (true/false). Default false: stdout
	// is written synchronously, which is the simplest and loses nothing while the pipe drains;
	// turn it on when a slow log pipe must never stall the service.
	EnvStdoutBuffered = "VLOG_STDOUT_BUFFERED"

	// EnvFluentHost and EnvFluentPort are injected by ECS when the task uses the awsfirelens
	// log driver: the FireLens router's forward input.
	EnvFluentHost = "FLUENT_HOST"
	EnvFluentPort = "FLUENT_PORT"
	// EnvVictoriaLogsURL is VictoriaLogs' base URL (or full /insert/jsonline URL).
	EnvVictoriaLogsURL = "VICTORIALOGS_URL"
)

// Output names, as in VLOG_OUTPUT and Logger.Output.
const (
	OutputAuto         = "auto"
	OutputStdout       = "stdout"
	OutputForward      = "forward"
	OutputVictoriaLogs = "victorialogs"
)

// bufferConfig resolves the buffer settings: a non-zero field of opts.Buffer wins over its
// variable.
func bufferConfig(opts *Options, env map[string]string) (handlers.BufferOptions, []error) {
	var b handlers.BufferOptions
	if opts.Buffer != nil {
		b = *opts.Buffer
	}
	var errs []error
	size := func(dst *int, name string) {
		v, ok := env[name]
		if *dst != 0 || !ok || v == "" {
			return
		}
		n, err := parseSize(v)
		if err != nil {
			errs = append(errs, &ConfigError{Var: name, Value: v, Reason: err.Error()})
			return
		}
		*dst = n
	}
	size(&b.Size, EnvBufferSize)
	size(&b.BatchSize, EnvBatchSize)
	size(&b.MaxBatchSize, EnvBatchMaxSize)
	size(&b.MaxRecordSize, EnvMaxRecordSize)
	if v, ok := env[EnvBatchAge]; ok && v != "" && b.BatchAge == 0 {
		d, err := time.ParseDuration(strings.TrimSpace(v))
		if err != nil || d <= 0 {
			errs = append(errs, &ConfigError{Var: EnvBatchAge, Value: v, Reason: "want a positive duration such as 200ms"})
		}
		b.BatchAge = d
	}
	if v, ok := env[EnvDropPolicy]; ok && v != "" && (opts.Buffer == nil || opts.Buffer.DropPolicy == handlers.DropNewest) {
		switch strings.TrimSpace(strings.ToLower(v)) {
		case "newest":
			b.DropPolicy = handlers.DropNewest
		case "oldest":
			b.DropPolicy = handlers.DropOldest
		default:
			errs = append(errs, &ConfigError{Var: EnvDropPolicy, Value: v, Reason: "want newest or oldest"})
		}
	}
	if b.OnError == nil {
		b.OnError = opts.OnError
	}
	return b, errs
}

// parseBool parses the value v of the variable name as a strconv.ParseBool value (blanks
// around it allowed); the error is a *ConfigError.
func parseBool(name, v string) (bool, error) {
	b, err := strconv.ParseBool(strings.TrimSpace(v))
	if err != nil {
		return false, &ConfigError{Var: name, Value: v, Reason: "want true or false"}
	}
	return b, nil
}

// parseSize parses a byte size: a number with an optional suffix B, KB, MB, GB (powers of
// 1000) or KiB, MiB, GiB (powers of 1024).
func parseSize(s string) (int, error) {
	s = strings.TrimSpace(s)
	mult := 1
	for _, u := range []struct {
		suffix string
		mult   int
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"B", 1}} {
		if strings.HasSuffix(s, u.suffix) {
			s, mult = strings.TrimSpace(strings.TrimSuffix(s, u.suffix)), u.mult
			break
		}
	}
	n, err := strconv.Atoi(s)
	if err != nil || n <= 0 || n > (1<<40)/mult {
		return 0, errors.New("want a positive size in bytes, optionally with a suffix such as KiB or MiB")
	}
	return n * mult, nil
}

// chooseOutput resolves "auto": forward when ECS injected FLUENT_HOST and FLUENT_PORT,
// VictoriaLogs when only VictoriaLogs is configured (VICTORIALOGS_URL, or URLs in
// Options.VictoriaLogs), stdout otherwise.
func chooseOutput(output string, env map[string]string, vlInCode bool) string {
	if output != OutputAuto {
		return output
	}
	switch {
	case env[EnvFluentHost] != "" && env[EnvFluentPort] != "":
		return OutputForward
	case env[EnvVictoriaLogsURL] != "" || vlInCode:
		return OutputVictoriaLogs
	}
	return OutputStdout
}

// victoriaLogsConfigured reports whether VictoriaLogs has an address, from the environment or
// from code: then the forward output falls back to it.
func victoriaLogsConfigured(c *config) bool {
	return c.environ[EnvVictoriaLogsURL] != "" || (c.victoriaLogs != nil && len(c.victoriaLogs.URLs) > 0)
}

// newOutput builds the output chosen in c. notice encodes the buffer's drop notices.
func newOutput(c *config, notice func([]byte, slog.Level, string, ...slog.Attr) []byte) (handlers.Output, error) {
	bo := c.buffer
	bo.Notice = notice
	switch c.output {
	case OutputStdout:
		if !c.stdoutBuffered {
			return handlers.NewWriterOutput(OutputStdout, c.writer), nil
		}
		return handlers.NewBufferedOutput(handlers.NewWriterTransport(OutputStdout, c.writer), &bo), nil
	}
	t, err := newTransport(c)
	if err != nil {
		return nil, err
	}
	return handlers.NewBufferedOutput(t, &bo), nil
}

// newTransport builds the network transport for c.output: the FireLens router over the
// forward protocol (with VictoriaLogs as the fallback when VICTORIALOGS_URL is set too), or
// VictoriaLogs alone.
func newTransport(c *config) (handlers.Transport, error) {
	switch c.output {
	case OutputForward:
		fw, err := newForwardTransport(c)
		if err != nil {
			return nil, err
		}
		if !victoriaLogsConfigured(c) {
			return fw, nil
		}
		vl, err := newVictoriaLogsTransport(c)
		if err != nil {
			_ = fw.Close()
			return nil, err
		}
		return newFallbackTransport(c, fw, vl)
	case OutputVictoriaLogs:
		return newVictoriaLogsTransport(c)
	}
	return nil, fmt.Errorf("vlog: unknown output %q", c.output)
}
