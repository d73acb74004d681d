package vlog

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"
	"go.vlog.dev/handlers/output"
	"go.vlog.dev/handlers/output/outputtest"
	"go.vlog.dev/handlers/victorialogs"
	"go.vlog.dev/internal/vtest"
)

func TestVictoriaLogsFromEnvironment(t *testing.T) {
	srv := vtest.NewVictoriaLogs(t)
	srv.WantAuth = "Basic " + base64.StdEncoding.EncodeToString([]byte("user:pa55"))
	srv.WantAccount, srv.WantStream = "3:4", "service,env"
	l, err := New(&Options{Environ: []string{
		"SERVICE=order-api", "ENV=prod",
		"VICTORIALOGS_URL=http://user:pa55@" + srv.Host(),
		"VLOG_VICTORIALOGS_STREAM_FIELDS=service, env",
		"VLOG_VICTORIALOGS_ACCOUNT_ID=3", "VLOG_VICTORIALOGS_PROJECT_ID=4",
		"VLOG_VICTORIALOGS_TIMEOUT=2s",
	}})
	require.NoError(t, err)
	require.Equal(t, OutputVictoriaLogs, l.Output())
	l.Info("order created", "order_id", "o-1")
	require.NoError(t, l.Close(context.Background()))
	require.Equal(t, uint64(2), l.Stats().Delivered, "%+v", l.Stats())

	require.Len(t, srv.Requests(), 1)
	r := &http.Request{URL: srv.Requests()[0].URL, Header: srv.Requests()[0].Header}
	require.Equal(t, "/insert/jsonline", r.URL.Path)
	require.Equal(t, "service,env", r.URL.Query().Get("_stream_fields"))
	require.Equal(t, "msg", r.URL.Query().Get("_msg_field"))
	require.Equal(t, "event_time", r.URL.Query().Get("_time_field"))
	require.Equal(t, "3", r.Header.Get("AccountID"))
	require.Equal(t, "4", r.Header.Get("ProjectID"))
	user, pass, ok := r.BasicAuth()
	require.True(t, ok)
	require.Equal(t, "user:pa55", user+":"+pass)
	require.Equal(t, "vlog: logging to victorialogs", srv.Lines()[0]["msg"], "the startup record")
	require.Equal(t, "order created", srv.Lines()[1]["msg"])
	require.Equal(t, "order-api", srv.Lines()[1]["service"])
	require.Equal(t, "o-1", srv.Lines()[1]["order_id"])
}

func TestVictoriaLogsSeveralURLsAndOptions(t *testing.T) {
	a, b := vtest.NewVictoriaLogs(t), vtest.NewVictoriaLogs(t)
	for _, s := range []*vtest.VictoriaLogs{a, b} {
		s.WantAuth = "Basic " + base64.StdEncoding.EncodeToString([]byte("code:wins"))
		s.WantStream = "service,env"
	}
	l, err := New(&Options{
		Environ: []string{"VICTORIALOGS_URL=" + a.URL + " , " + b.URL, "VLOG_VICTORIALOGS_BEARER_TOKEN=from-env",
			"VLOG_VICTORIALOGS_STREAM_FIELDS=service"},
		Buffer:       &output.BufferOptions{BatchSize: 1},
		VictoriaLogs: &victorialogs.Options{Username: "code", Password: "wins", StreamFields: []string{"service", "env"}},
	})
	require.NoError(t, err)
	for range 10 {
		l.Info("x")
	}
	require.NoError(t, l.Close(context.Background()))
	require.NotEmpty(t, a.Requests())
	require.NotEmpty(t, b.Requests())
	require.Equal(t, 11, a.Count()+b.Count(), "10 records and the startup record")
	user, _, _ := (&http.Request{Header: a.Requests()[0].Header}).BasicAuth()
	require.Equal(t, "code", user, "auth set in code wins over the environment")
	require.Equal(t, "service,env", a.Requests()[0].URL.Query().Get("_stream_fields"))
}

func TestVictoriaLogsConfigErrors(t *testing.T) {
	f := func(opts *Options, env []string, wantVar, wantIn string) {
		t.Helper()
		if opts == nil {
			opts = &Options{}
		}
		opts.Environ = append([]string{"VLOG_OUTPUT=victorialogs"}, env...)
		_, err := New(opts)
		require.Error(t, err)
		var ce *ConfigError
		require.True(t, errors.As(err, &ce), "%v", err)
		require.Equal(t, wantVar, ce.Name, "%v", err)
		require.Contains(t, err.Error(), wantIn)
		for _, secret := range []string{"hunter2", "t0ken"} {
			require.NotContains(t, err.Error(), secret)
		}
	}
	f(nil, nil, "VICTORIALOGS_URL", "not set")
	f(nil, []string{"VICTORIALOGS_URL=victorialogs:9428"}, "VICTORIALOGS_URL", "http:// or https://")
	f(nil, []string{"VICTORIALOGS_URL=http://u:hunter2@vl:x"}, "VICTORIALOGS_URL", `"http://u:xxxxx@vl:x"`)
	f(nil, []string{"VICTORIALOGS_URL=http://u:hunter2@vl/?_stream_fields=service,trace_id"}, "VICTORIALOGS_URL", `"trace_id" looks like a high-cardinality field`)
	f(nil, []string{"VICTORIALOGS_URL=http://vl", "VLOG_VICTORIALOGS_STREAM_FIELDS=service,request_id"},
		"VLOG_VICTORIALOGS_STREAM_FIELDS", `"request_id" looks like a high-cardinality field (*_id) and must not be a stream field`)
	f(nil, []string{"VICTORIALOGS_URL=http://vl", "VLOG_VICTORIALOGS_ACCOUNT_ID=-1"}, "VLOG_VICTORIALOGS_ACCOUNT_ID", "0 to 4294967295")
	f(nil, []string{"VICTORIALOGS_URL=http://vl", "VLOG_VICTORIALOGS_PROJECT_ID=x"}, "VLOG_VICTORIALOGS_PROJECT_ID", "0 to 4294967295")
	f(nil, []string{"VICTORIALOGS_URL=http://vl", "VLOG_VICTORIALOGS_TIMEOUT=0"}, "VLOG_VICTORIALOGS_TIMEOUT", "positive duration")
	f(nil, []string{"VICTORIALOGS_URL=http://vl", "VLOG_VICTORIALOGS_USER=u", "VLOG_VICTORIALOGS_BEARER_TOKEN=t0ken"},
		"VLOG_VICTORIALOGS_BEARER_TOKEN", "exclude each other")
	f(nil, []string{"VICTORIALOGS_URL=http://vl", "VLOG_VICTORIALOGS_PASSWORD=hunter2"}, "VLOG_VICTORIALOGS_PASSWORD", "needs a Username")
	f(nil, []string{"VICTORIALOGS_URL=https://vl", "VLOG_VICTORIALOGS_CA_FILE=/nonexistent.pem"}, "VLOG_VICTORIALOGS_CA_FILE", "/nonexistent.pem")
	f(&Options{VictoriaLogs: &victorialogs.Options{URLs: []string{"vl"}}}, []string{"VICTORIALOGS_URL=http://vl"},
		"Options.VictoriaLogs.URLs", "http:// or https://")
	f(&Options{VictoriaLogs: &victorialogs.Options{Concurrency: 100}}, []string{"VICTORIALOGS_URL=http://vl"},
		"Options.VictoriaLogs.Concurrency", "1 to 64")
}

func TestFallbackWiring(t *testing.T) {
	var reported []error
	c, err := resolve(&Options{
		Service: "order-api", Env: "prod", Version: "1.2.3",
		Environ: []string{"VLOG_FALLBACK_AFTER=0", "VLOG_FALLBACK_PROBE_INTERVAL=1h"},
		OnError: func(err error) { reported = append(reported, err) },
	})
	require.NoError(t, err)
	fw, vl := &outputtest.Transport{TransportName: "forward"}, &outputtest.Transport{TransportName: "victorialogs"}
	ft := newFallbackTransport(c, fw, vl, output.Hooks{})

	fw.SetFail(func(*output.Batch) error { return errors.New("forward: connection refused") })
	require.NoError(t, ft.Send(context.Background(), &output.Batch{Data: []byte("{\"msg\":\"a\"}\n"), Records: 1}),
		"VLOG_FALLBACK_AFTER=0: the first failure switches")
	require.True(t, ft.FallbackStatus().OnFallback)
	require.Len(t, vl.Lines(), 2)
	var notice map[string]any
	require.NoError(t, json.Unmarshal([]byte(vl.Lines()[1]), &notice))
	require.Equal(t, "order-api", notice["service"])
	require.Equal(t, "prod", notice["env"])
	require.Equal(t, "1.2.3", notice["version"])
	require.Equal(t, "warn", notice["level"])
	require.Contains(t, notice["msg"], "sending to victorialogs directly")
	require.Len(t, reported, 1)
	require.EqualError(t, reported[0], "vlog: forward failing, sending to victorialogs directly: forward: connection refused")

	f := func(env, wantVar string) {
		t.Helper()
		_, err := resolve(&Options{Environ: []string{env}})
		var ce *ConfigError
		require.True(t, errors.As(err, &ce), "%v", err)
		require.Equal(t, wantVar, ce.Name)
	}
	f("VLOG_FALLBACK_AFTER=-1s", "VLOG_FALLBACK_AFTER")
	f("VLOG_FALLBACK_AFTER=soon", "VLOG_FALLBACK_AFTER")
	f("VLOG_FALLBACK_PROBE_INTERVAL=0", "VLOG_FALLBACK_PROBE_INTERVAL")
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
