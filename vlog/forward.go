package vlog

import (
	"errors"
	"net"
	"strconv"
	"strings"
	"time"

	"go.vlog.dev/handlers"
)

// Environment variables of the forward output (FireLens). FLUENT_HOST and FLUENT_PORT are set
// by ECS (see EnvFluentHost); the rest are vlog's own.
const (
	// EnvFluentTag is the forward protocol tag. Default "<container>-firelens-<task id>"
	// when the ECS container name is known (FireLens routes a record to the container's
	// output only when its tag starts with "<container>-firelens"; "vlog" stands in for a
	// missing task id), else the service name.
	EnvFluentTag = "VLOG_FLUENT_TAG"
	// EnvFluentAck asks the router to acknowledge every batch (true/false). Default true: a
	// batch leaves the buffer only when acknowledged and is sent again otherwise (duplicates
	// possible, no loss). false: a batch counts as delivered once written.
	EnvFluentAck = "VLOG_FLUENT_ACK"
	// EnvFluentCompress is "none" (default) or "gzip".
	EnvFluentCompress = "VLOG_FLUENT_COMPRESS"
	// EnvFluentTimeout bounds dialing, a write without progress and the wait for an ack (a
	// time.ParseDuration value). Default 5s.
	EnvFluentTimeout = "VLOG_FLUENT_TIMEOUT"
)

// forwardOptions resolves the forward output's settings: a non-zero field of Options.Forward
// wins over its variable. FLUENT_HOST may also be "unix:///path/to/socket" (then FLUENT_PORT
// is not needed).
func forwardOptions(c *config) (handlers.ForwardOptions, error) {
	var o handlers.ForwardOptions
	if c.forward != nil {
		o = *c.forward
	}
	env := c.environ
	var errs []error
	if o.Address == "" {
		host := strings.TrimSpace(env[EnvFluentHost])
		port := strings.TrimSpace(env[EnvFluentPort])
		switch {
		case strings.HasPrefix(host, "unix://"):
			path := strings.TrimPrefix(host, "unix://")
			if path == "" {
				errs = append(errs, &ConfigError{Var: EnvFluentHost, Value: host, Reason: "want unix:///path/to/socket"})
			}
			o.Network, o.Address = "unix", path
		default:
			if host == "" {
				errs = append(errs, &ConfigError{Var: EnvFluentHost, Value: host,
					Reason: "the forward output needs the router's host (ECS sets it with the awsfirelens log driver)"})
			}
			if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
				errs = append(errs, &ConfigError{Var: EnvFluentPort, Value: port, Reason: "want a port number in 1..65535"})
			}
			o.Address = net.JoinHostPort(host, port)
		}
	}
	if o.Tag == "" {
		o.Tag = strings.TrimSpace(env[EnvFluentTag])
		if o.Tag == "" {
			o.Tag = defaultFluentTag(c)
		}
	}
	if v := strings.TrimSpace(env[EnvFluentAck]); v != "" && !o.DisableAck {
		b, err := parseBool(EnvFluentAck, v)
		if err != nil {
			errs = append(errs, err)
		}
		o.DisableAck = err == nil && !b
	}
	if o.Compression == "" {
		switch v := strings.ToLower(strings.TrimSpace(env[EnvFluentCompress])); v {
		case "", "none", "gzip":
			o.Compression = v
		default:
			errs = append(errs, &ConfigError{Var: EnvFluentCompress, Value: env[EnvFluentCompress], Reason: "want none or gzip"})
		}
	}
	if o.Timeout == 0 {
		if v := strings.TrimSpace(env[EnvFluentTimeout]); v != "" {
			d, err := time.ParseDuration(v)
			if err != nil || d <= 0 {
				errs = append(errs, &ConfigError{Var: EnvFluentTimeout, Value: v, Reason: "want a positive duration such as 5s"})
			}
			o.Timeout = d
		}
	}
	return o, errors.Join(errs...)
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

// newForwardTransport builds the Fluent forward transport to the FireLens router. It does not
// connect: the first batch does.
func newForwardTransport(c *config) (handlers.Transport, error) {
	o, err := forwardOptions(c)
	if err != nil {
		return nil, err
	}
	return handlers.NewForwardTransport(&o)
}
