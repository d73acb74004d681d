package vlog

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.vlog.dev/handlers/forward"
	"go.vlog.dev/internal/vtest"
)

func TestForwardOptionsFromEnv(t *testing.T) {
	f := func(env map[string]string, code *forward.Options, container, taskID string, want forward.Options) {
		t.Helper()
		c, err := resolve(&Options{Service: "order-api", Environ: environ(env), Forward: code})
		require.NoError(t, err)
		c.ecs.meta.Container, c.ecs.meta.TaskID = container, taskID
		got, err := forwardOptions(c)
		require.NoError(t, err)
		require.Equal(t, want, got)
	}
	base := map[string]string{"FLUENT_HOST": "127.0.0.1", "FLUENT_PORT": "24224"}
	with := func(kv ...string) map[string]string {
		m := map[string]string{}
		for k, v := range base {
			m[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	// Defaults: the service name as the tag, ack on, no compression, default timeout.
	f(base, nil, "", "", forward.Options{Address: "127.0.0.1:24224", Tag: "order-api"})
	// On ECS: the FireLens tag.
	f(base, nil, "app", "0123abcd", forward.Options{Address: "127.0.0.1:24224", Tag: "app-firelens-0123abcd"})
	f(base, nil, "app", "", forward.Options{Address: "127.0.0.1:24224", Tag: "app-firelens-vlog"})
	f(with("VLOG_FLUENT_TAG", " mytag ", "VLOG_FLUENT_ACK", "false", "VLOG_FLUENT_COMPRESS", "GZIP", "VLOG_FLUENT_TIMEOUT", "250ms"), nil, "app", "x",
		forward.Options{Address: "127.0.0.1:24224", Tag: "mytag", Ack: Bool(false), Compression: "gzip", Timeout: 250 * time.Millisecond})
	f(with("VLOG_FLUENT_ACK", "true"), nil, "", "", forward.Options{Address: "127.0.0.1:24224", Tag: "order-api", Ack: Bool(true)})
	f(with("FLUENT_HOST", "::1"), nil, "", "", forward.Options{Address: "[::1]:24224", Tag: "order-api"})
	f(map[string]string{"FLUENT_HOST": "unix:///var/run/fluent.sock"}, nil, "", "",
		forward.Options{Network: "unix", Address: "/var/run/fluent.sock", Tag: "order-api"})
	// Code wins.
	f(with("VLOG_FLUENT_TAG", "env", "VLOG_FLUENT_TIMEOUT", "1s", "VLOG_FLUENT_COMPRESS", "gzip"),
		&forward.Options{Address: "h:1", Tag: "code", Timeout: 2 * time.Second, Compression: "none", Ack: Bool(false)}, "", "",
		forward.Options{Address: "h:1", Tag: "code", Timeout: 2 * time.Second, Compression: "none", Ack: Bool(false)})
	// A boolean set in code wins too: acks forced on over VLOG_FLUENT_ACK=false.
	f(with("VLOG_FLUENT_ACK", "false"), &forward.Options{Ack: Bool(true)}, "", "",
		forward.Options{Address: "127.0.0.1:24224", Tag: "order-api", Ack: Bool(true)})
	f(nil, &forward.Options{Address: "h:1"}, "", "", forward.Options{Address: "h:1", Tag: "order-api"})
}

func TestForwardOptionsErrors(t *testing.T) {
	f := func(env map[string]string, wantVar, wantValue string) {
		t.Helper()
		c, err := resolve(&Options{Service: "s", Environ: environ(env)})
		if err == nil {
			_, err = forwardOptions(c)
		}
		var ce *ConfigError
		require.True(t, errors.As(err, &ce), "%v", err)
		found := false
		for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
			if errors.As(e, &ce) && ce.Name == wantVar && ce.Value == wantValue {
				found = true
			}
		}
		require.True(t, found, "%v: want %s=%q", err, wantVar, wantValue)
		require.Contains(t, err.Error(), wantVar)
	}
	f(map[string]string{"FLUENT_PORT": "24224"}, "FLUENT_HOST", "")
	f(map[string]string{"FLUENT_HOST": "h"}, "FLUENT_PORT", "")
	f(map[string]string{"FLUENT_HOST": "h", "FLUENT_PORT": "0"}, "FLUENT_PORT", "0")
	f(map[string]string{"FLUENT_HOST": "h", "FLUENT_PORT": "65536"}, "FLUENT_PORT", "65536")
	f(map[string]string{"FLUENT_HOST": "h", "FLUENT_PORT": "http"}, "FLUENT_PORT", "http")
	f(map[string]string{"FLUENT_HOST": "unix://"}, "FLUENT_HOST", "unix://")
	ok := map[string]string{"FLUENT_HOST": "h", "FLUENT_PORT": "1"}
	with := func(k, v string) map[string]string {
		m := map[string]string{k: v}
		for k, v := range ok {
			m[k] = v
		}
		return m
	}
	f(with("VLOG_FLUENT_ACK", "maybe"), "VLOG_FLUENT_ACK", "maybe")
	f(with("VLOG_FLUENT_COMPRESS", "zstd"), "VLOG_FLUENT_COMPRESS", "zstd")
	f(with("VLOG_FLUENT_TIMEOUT", "5"), "VLOG_FLUENT_TIMEOUT", "5")
	f(with("VLOG_FLUENT_TIMEOUT", "-1s"), "VLOG_FLUENT_TIMEOUT", "-1s")

	// Through New: the error names the variable; and VLOG_FLUENT_ variables are known.
	_, err := New(&Options{Environ: []string{"FLUENT_HOST=127.0.0.1", "FLUENT_PORT=x"}})
	require.ErrorContains(t, err, `FLUENT_PORT="x"`)
	_, err = New(&Options{Environ: []string{"FLUENT_HOST=127.0.0.1", "FLUENT_PORT=1", "VLOG_FLUENT_TAGG=x"}})
	require.ErrorContains(t, err, "did you mean VLOG_FLUENT_TAG")
	require.Contains(t, KnownVariables(), "FLUENT_HOST")
	require.Contains(t, KnownVariables(), "VLOG_FLUENT_COMPRESS")
}

// TestForwardOutput: with FLUENT_HOST and FLUENT_PORT set, New picks the forward output and
// the records arrive as structured maps under the tag.
func TestForwardOutput(t *testing.T) {
	s := vtest.NewForwardSink(t, "tcp", "127.0.0.1:0", "ack")
	host, port, _ := net.SplitHostPort(s.Addr())
	l, err := New(&Options{Environ: []string{"SERVICE=order-api", "ENV=prod", "FLUENT_HOST=" + host, "FLUENT_PORT=" + port,
		"VLOG_BATCH_AGE=10ms"}})
	require.NoError(t, err)
	require.Equal(t, OutputForward, l.Output())
	for i := range 100 {
		l.Info("order created", "i", i, "order", map[string]any{"id": "ord-1"})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, l.Close(ctx))
	st := l.Stats()
	require.Equal(t, "forward", st.Output)
	require.Equal(t, uint64(101), st.Delivered, "%+v", st)
	s.CheckErrors()
	recs := s.Records()
	require.Len(t, recs, 101)
	require.Equal(t, "order-api", s.Tags()[0])
	// The first record says where the records go.
	require.Equal(t, "vlog: logging to forward", recs[0]["msg"])
	require.Equal(t, "forward", recs[0]["output"])
	require.Equal(t, net.JoinHostPort(host, port), recs[0]["router"])
	r := recs[100]
	require.Equal(t, "order created", r["msg"])
	require.Equal(t, "prod", r["env"])
	require.Equal(t, int64(99), r["i"])
	require.Equal(t, "ord-1", r["order"].(map[string]any)["id"])
	require.True(t, strings.HasSuffix(r["event_time"].(string), "Z"))
}

// environ turns a map into the form Options.Environ takes, with the ECS metadata read off.
func environ(env map[string]string) []string {
	out := []string{"VLOG_ECS_METADATA_TIMEOUT=0"}
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	return out
}
