package main

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/tinylib/msgp/msgp"

	"go.vlog.dev/internal/vtest"
)

// outcome is what one run of the command printed and returned.
type outcome struct {
	code   int
	out    string
	stderr string
	status map[string]string // check -> OK, FAIL or SKIP
	fix    map[string]string // check -> fix line
	detail map[string]string
}

var reportLine = regexp.MustCompile(`^(OK|FAIL|SKIP) +(\S+) +(.*)$`)

func runCmd(t *testing.T, args, env []string, stdin string) outcome {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(args, env, strings.NewReader(stdin), &out, &errOut)
	o := outcome{code: code, out: out.String(), stderr: errOut.String(),
		status: map[string]string{}, fix: map[string]string{}, detail: map[string]string{}}
	var last string
	for _, line := range strings.Split(out.String(), "\n") {
		if m := reportLine.FindStringSubmatch(line); m != nil {
			last = m[2]
			o.status[last], o.detail[last] = m[1], m[3]
		} else if _, fix, ok := strings.Cut(line, "fix: "); ok && last != "" {
			o.fix[last] = fix
		}
	}
	if !strings.Contains(errOut.String(), "usage:") {
		require.Regexp(t, `(?m)^verdict: (OK|FAIL) \(\d+ ok, \d+ failed, \d+ skipped\)$`, out.String())
	}
	return o
}

// newVictoriaLogs returns the fake VictoriaLogs, expecting what vlog-verify sends: uncompressed
// inserts (the schema's parameters, no auth, no tenant: the defaults).
func newVictoriaLogs(t *testing.T) *vtest.VictoriaLogs {
	vl := vtest.NewVictoriaLogs(t)
	vl.WantGzip = false
	return vl
}

// newRouter returns a forward sink reading the Message-mode messages vlog-verify sends,
// answering as mode says (see vtest.NewForwardSink); the test fails on a message it cannot
// decode.
func newRouter(t *testing.T, mode string, opts ...vtest.ForwardOption) *vtest.ForwardSink {
	s := vtest.NewForwardSink(t, "tcp", "127.0.0.1:0", mode, append(opts, vtest.WithMessageMode())...)
	t.Cleanup(s.CheckErrors)
	return s
}

// routerEnv returns the variables ECS injects for the router s.
func routerEnv(s *vtest.ForwardSink) []string {
	h, p, _ := net.SplitHostPort(s.Addr())
	return []string{"FLUENT_HOST=" + h, "FLUENT_PORT=" + p}
}

// insertQueries returns the query string of each insert vl accepted.
func insertQueries(vl *vtest.VictoriaLogs) []string {
	var out []string
	for _, r := range vl.Requests() {
		out = append(out, r.URL.RawQuery)
	}
	return out
}

// fakeMetadata serves ECS task metadata v4 documents, or status for both when non-zero.
func fakeMetadata(t *testing.T, status int) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if status != 0 {
			http.Error(w, "agent error", status)
			return
		}
		switch r.URL.Path {
		case "/v4/abc":
			_, _ = io.WriteString(w, `{"DockerId":"cd18-249","Name":"order-api","DockerName":"order-api",`+
				`"Labels":{"com.amazonaws.ecs.cluster":"arn:aws:ecs:us-east-1:111122223333:cluster/prod"}}`)
		case "/v4/abc/task":
			_, _ = io.WriteString(w, `{"Cluster":"arn:aws:ecs:us-east-1:111122223333:cluster/prod",`+
				`"TaskARN":"arn:aws:ecs:us-east-1:111122223333:task/prod/cd189a933e5849daa93386466019ab50",`+
				`"Family":"order-api","Revision":"42","AvailabilityZone":"us-east-1b","LaunchType":"FARGATE"}`)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/v4/abc"
}

// refusedAddr returns an address where nothing listens.
func refusedAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	return addr
}

var baseEnv = []string{"SERVICE=order-api", "ENV=prod", "VERSION=1.4.2", "PATH=/usr/bin"}

func env(extra ...string) []string { return append(append([]string{}, baseEnv...), extra...) }

func TestAllGood(t *testing.T) {
	vl := newVictoriaLogs(t)
	// The router delivers what it receives to VictoriaLogs, as the example configuration does.
	fr := newRouter(t, "ack", vtest.WithForward(func(_ string, rec map[string]any) {
		vl.Store(rec, "msg,log", "service,env,ecs_cluster,container")
	}))
	o := runCmd(t, []string{"-ack", "-roundtrip", "-timeout", "2s", "-wait", "3s"},
		env(append(routerEnv(fr), "VICTORIALOGS_URL="+vl.URL, "ECS_CONTAINER_METADATA_URI_V4="+fakeMetadata(t, 0))...), "")
	require.Equal(t, exitOK, o.code, o.out)
	for _, check := range []string{"config", "ecs-metadata", "router", "victorialogs", "victorialogs-roundtrip", "router-roundtrip"} {
		require.Equal(t, statusOK, o.status[check], "%s\n%s", check, o.out)
	}
	require.Contains(t, o.out, "verdict: OK (6 ok, 0 failed, 0 skipped)")
	require.Contains(t, o.detail["config"], "output=auto (forward, falling back to victorialogs)")
	require.Contains(t, o.detail["ecs-metadata"], "cluster=prod task_definition=order-api:42 container=order-api launch_type=FARGATE az=us-east-1b")
	require.Contains(t, o.detail["victorialogs-roundtrip"], `stream {service="order-api",env="prod",ecs_cluster="prod",container="order-api"}`)

	// The forward message, as an independent decoder reads it.
	msgs := fr.Messages()
	require.Len(t, msgs, 1)
	msg := msgs[0].Raw
	require.Len(t, msg, 4)
	require.Equal(t, "order-api-firelens-vlog-verify", msg[0], "FireLens routes by <container>-firelens*")
	ext, ok := msg[1].(*msgp.RawExtension)
	require.True(t, ok, "time is an EventTime, %T", msg[1])
	require.EqualValues(t, 0, ext.Type)
	require.Len(t, ext.Data, 8)
	sec := int64(binary.BigEndian.Uint32(ext.Data[:4]))
	require.InDelta(t, time.Now().Unix(), sec, 60)
	rec := msg[2].(map[string]any)
	for _, k := range []string{"event_time", "level", "msg", "service", "env", "version", "ecs_cluster", "ecs_task_arn", "ecs_task_definition", "container", "verify_id"} {
		require.NotEmpty(t, rec[k], k)
	}
	require.Equal(t, "prod", rec["ecs_cluster"])
	opts := msg[3].(map[string]any)
	require.NotEmpty(t, opts["chunk"])

	// The insert used the schema's parameters.
	require.Equal(t, []string{insertParams}, insertQueries(vl))
}

func TestNothingConfigured(t *testing.T) {
	o := runCmd(t, nil, env(), "")
	require.Equal(t, exitOK, o.code, o.out)
	require.Equal(t, statusOK, o.status["config"])
	require.Contains(t, o.detail["config"], "output=auto (stdout)")
	for _, check := range []string{"ecs-metadata", "router", "victorialogs"} {
		require.Equal(t, statusSkip, o.status[check], check)
	}
	require.NotContains(t, o.status, "victorialogs-roundtrip", "not asked for")

	o = runCmd(t, []string{"-roundtrip"}, env(), "")
	require.Equal(t, exitOK, o.code, o.out)
	require.Equal(t, statusSkip, o.status["victorialogs-roundtrip"])
}

// Each injected fault is found, with its fix, and fails the run.
func TestFaults(t *testing.T) {
	f := func(name string, args, environ []string, check, detail, fix string) {
		t.Helper()
		t.Run(name, func(t *testing.T) {
			o := runCmd(t, args, environ, "")
			require.Equal(t, exitFail, o.code, o.out)
			require.Equal(t, statusFail, o.status[check], o.out)
			require.Contains(t, o.detail[check], detail, o.out)
			require.Contains(t, o.fix[check], fix, o.out)
			require.Contains(t, o.out, "verdict: FAIL")
		})
	}

	h, p, _ := net.SplitHostPort(refusedAddr(t))
	f("router refused", []string{"-ack"}, env("FLUENT_HOST="+h, "FLUENT_PORT="+p),
		"router", "connection refused", "nothing listens at "+net.JoinHostPort(h, p)+": is the FireLens container")

	silent := newRouter(t, "noack")
	f("router never acks", []string{"-ack", "-timeout", "500ms"}, env(routerEnv(silent)...),
		"router", "no ack within 500ms", "did not acknowledge")

	wrong := newRouter(t, "wrongack", vtest.WithWrongAck("someone-else"))
	f("router acks another chunk", []string{"-ack"}, env(routerEnv(wrong)...),
		"router", `ack "someone-else" for chunk`, "something other than a Fluent forward server")

	closing := newRouter(t, "reset")
	f("router closes the connection", nil, env(routerEnv(closing)...),
		"router", "closed:", "closed the connection")

	vl503 := newVictoriaLogs(t)
	vl503.HealthStatus = http.StatusServiceUnavailable
	f("victorialogs /health 503", []string{"-roundtrip"}, env("VICTORIALOGS_URL="+vl503.URL),
		"victorialogs", "503", "not healthy")

	vl404 := httptest.NewServer(http.NotFoundHandler())
	t.Cleanup(vl404.Close)
	f("victorialogs wrong URL", nil, env("VICTORIALOGS_URL="+vl404.URL+"/logs"),
		"victorialogs", "/logs/health: 404", "base URL")

	f("victorialogs refused", nil, env("VICTORIALOGS_URL=http://"+refusedAddr(t)),
		"victorialogs", "connection refused", "nothing listens at")

	vl400 := newVictoriaLogs(t)
	vl400.InsertStatus = http.StatusBadRequest
	f("insert 400", []string{"-roundtrip"}, env("VICTORIALOGS_URL="+vl400.URL),
		"victorialogs-roundtrip", ": 400", "parsed no line")

	vlEmpty := newVictoriaLogs(t)
	vlEmpty.HideRows = true
	f("query finds nothing", []string{"-roundtrip", "-wait", "1s"}, env("VICTORIALOGS_URL="+vlEmpty.URL),
		"victorialogs-roundtrip", "not found within 1s", "skips a line")

	vlOK := newVictoriaLogs(t)
	f("select URL without the query API", []string{"-roundtrip", "-select-url", vl404.URL}, env("VICTORIALOGS_URL="+vlOK.URL),
		"victorialogs-roundtrip", "the query failed", "-select-url")

	lost := newRouter(t, "ack") // accepts, never delivers
	vl := newVictoriaLogs(t)
	f("router does not deliver", []string{"-roundtrip", "-wait", "1s"}, env(append(routerEnv(lost), "VICTORIALOGS_URL="+vl.URL)...),
		"router-roundtrip", "did not reach VictoriaLogs within 1s", "Match the tag")

	f("metadata endpoint 500", nil, env("ECS_CONTAINER_METADATA_URI_V4="+fakeMetadata(t, 500)),
		"ecs-metadata", "HTTP 500", "ECS agent")

	f("invalid vlog setting", nil, env("VLOG_LEVEL=verbose"), "config", "VLOG_LEVEL", "correct or remove")
	f("unknown vlog variable", nil, env("VLOG_LEVLE=debug"), "config", "VLOG_LEVLE", "KnownVariables")
	f("no SERVICE", nil, []string{"ENV=prod"}, "config", "SERVICE is not set", "set SERVICE and ENV")
	f("forward forced without router", nil, env("VLOG_OUTPUT=forward"), "config", "FLUENT_HOST/FLUENT_PORT are not set", "awsfirelens")
	f("half a router address", nil, env("FLUENT_HOST=127.0.0.1"), "config", "only one of FLUENT_HOST", "ECS injects both")
	f("not a URL", nil, env("VICTORIALOGS_URL=victorialogs:9428"), "victorialogs", "not an http(s) URL", "base URL")
}

func TestInsertURLAccepted(t *testing.T) {
	// vlog accepts VICTORIALOGS_URL as the full ingestion URL too.
	vl := newVictoriaLogs(t)
	o := runCmd(t, []string{"-roundtrip", "-wait", "2s"}, env("VICTORIALOGS_URL="+vl.URL+"/insert/jsonline?_stream_fields=service"), "")
	require.Equal(t, exitOK, o.code, o.out)
	require.Equal(t, statusOK, o.status["victorialogs-roundtrip"], o.out)
}

func TestUsage(t *testing.T) {
	for _, args := range [][]string{
		{"extra"},
		{"-nope"},
		{"-timeout", "0s"},
		{"-wait", "-1s"},
		{"-check-stdout", "-ack"},
		{"-check-stdout", "-roundtrip"},
	} {
		o := runCmd(t, args, env(), "")
		require.Equal(t, exitUsage, o.code, "%v", args)
		require.Contains(t, o.stderr, "usage: vlog-verify", "%v", args)
		require.Empty(t, o.out, "%v", args)
	}
	o := runCmd(t, []string{"-h"}, env(), "")
	require.Equal(t, exitOK, o.code)
}

func TestCheckStdout(t *testing.T) {
	good := `{"event_time":"2026-11-22T02:55:54.123456789Z","level":"info","msg":"order created","service":"order-api","env":"prod","version":"1.4.2"}`
	f := func(name, input string, code int, want map[string]string, detail string) {
		t.Helper()
		t.Run(name, func(t *testing.T) {
			o := runCmd(t, []string{"-check-stdout"}, env(), input)
			require.Equal(t, code, o.code, o.out)
			for check, status := range want {
				require.Equal(t, status, o.status[check], "%s\n%s", check, o.out)
			}
			if detail != "" {
				require.Contains(t, o.out, detail)
			}
		})
	}
	f("all good", strings.Repeat(good+"\n", 3), exitOK,
		map[string]string{"stdout-json": statusOK, "stdout-schema": statusOK}, "3 lines, all JSON objects")
	f("docker logs -t", "2026-11-22T02:55:54.123456789Z "+good+"\n", exitOK,
		map[string]string{"stdout-json": statusOK, "stdout-schema": statusOK}, "")
	f("plain text", good+"\nstarting server on :3000\npanic: boom\n", exitFail,
		map[string]string{"stdout-json": statusFail, "stdout-schema": statusOK}, `2 of 3 lines are plain text, first at line 2: "starting server on :3000"`)
	f("missing fields", `{"time":"2026-11-22T02:55:54Z","level":"INFO","msg":"hi"}`+"\n", exitFail,
		map[string]string{"stdout-json": statusOK, "stdout-schema": statusFail}, "event_time missing in 1, level malformed in 1, service missing in 1")
	f("unparsed FireLens output", `{"log":"{\"msg\":\"x\",\"level\":\"info\"}","source":"stdout","container_name":"/ecs-order-api"}`+"\n", exitFail,
		map[string]string{"stdout-parsed": statusFail}, "parser filter")
	f("long line", good[:len(good)-1]+`,"blob":"`+strings.Repeat("x", 17<<10)+`"}`+"\n", exitFail,
		map[string]string{"stdout-line-size": statusFail, "stdout-schema": statusOK}, "1 lines of 16 KiB or more")
	f("bad time", strings.Replace(good, "2026-11-22T02:55:54.123456789Z", "yesterday", 1)+"\n", exitFail,
		map[string]string{"stdout-schema": statusFail}, "event_time=yesterday")
	f("empty", "", exitFail, map[string]string{"stdout": statusFail}, "no lines on stdin")
	f("no final newline", good, exitOK, map[string]string{"stdout-json": statusOK}, "")
}

// forwardMessage is checked against msgp, an independent decoder, across the size classes of
// its encoder.
func TestForwardMessageOracle(t *testing.T) {
	var rec []field
	for i := range 20 { // more than 15 fields: map16
		rec = append(rec, field{fmt.Sprintf("k%d", i), strings.Repeat("v", []int{0, 5, 31, 32, 255, 256, 65535, 65536}[i%8])})
	}
	at := time.Date(2026, 11, 22, 2, 55, 54, 123456789, time.UTC)
	for _, chunk := range []string{"", "c-1"} {
		b := forwardMessage(strings.Repeat("t", 40), at, rec, chunk)
		v, rest, err := msgp.ReadIntfBytes(b)
		require.NoError(t, err)
		require.Empty(t, rest)
		msg := v.([]any)
		require.Equal(t, strings.Repeat("t", 40), msg[0])
		ext := msg[1].(*msgp.RawExtension)
		require.Equal(t, uint32(at.Unix()), binary.BigEndian.Uint32(ext.Data[:4]))
		require.Equal(t, uint32(123456789), binary.BigEndian.Uint32(ext.Data[4:]))
		m := msg[2].(map[string]any)
		require.Len(t, m, len(rec))
		for _, f := range rec {
			require.Equal(t, f.v, m[f.k])
		}
		if chunk == "" {
			require.Len(t, msg, 3)
		} else {
			require.Equal(t, map[string]any{"chunk": chunk}, msg[3])
		}
	}
}

func TestReadAck(t *testing.T) {
	f := func(b []byte, want string, wantErr error) {
		t.Helper()
		got, err := readAck(bufio.NewReader(bytes.NewReader(b)))
		if wantErr != nil {
			require.ErrorIs(t, err, wantErr)
			return
		}
		require.NoError(t, err)
		require.Equal(t, want, got)
	}
	ack := func(k, v string) []byte {
		return msgp.AppendString(msgp.AppendString(msgp.AppendMapHeader(nil, 1), k), v)
	}
	f(ack("ack", "abc"), "abc", nil)
	f(ack("ack", strings.Repeat("x", 40)), strings.Repeat("x", 40), nil) // str8
	f(msgp.AppendBytes(msgp.AppendString(msgp.AppendMapHeader(nil, 1), "ack"), []byte("bin")), "bin", nil)
	two := msgp.AppendString(msgp.AppendString(msgp.AppendMapHeader(nil, 2), "other"), "x")
	f(msgp.AppendString(msgp.AppendString(two, "ack"), "id"), "id", nil)
	f(ack("nack", "abc"), "", errNotAck)
	f(msgp.AppendInt(nil, 5), "", errNotAck)
	f(msgp.AppendInt(msgp.AppendString(msgp.AppendMapHeader(nil, 1), "ack"), 5), "", errNotAck)
	f(ack("ack", strings.Repeat("x", 2000)), "", errNotAck)
	f(ack("ack", "abc")[:4], "", io.ErrUnexpectedEOF)
}

func TestDialFix(t *testing.T) {
	require.Contains(t, dialFix(&net.OpError{Op: "dial", Err: &net.DNSError{Err: "no such host", Name: "vl", IsNotFound: true}}, "vl:9428", ""), "does not resolve")
	require.Contains(t, dialFix(fmt.Errorf("x: %w", syscall.ECONNREFUSED), "a:1", "HINT"), "nothing listens at a:1: HINT")
	require.Contains(t, dialFix(os.ErrDeadlineExceeded, "a:1", ""), "security group")
	require.Contains(t, dialFix(syscall.ECONNRESET, "a:1", ""), "reset")
	require.Contains(t, dialFix(errors.New("odd"), "a:1", ""), "check the address a:1")
}

func TestVictoriaLogsBase(t *testing.T) {
	f := func(in, want string) {
		t.Helper()
		u, err := victoriaLogsBase(in)
		if want == "" {
			require.Error(t, err, in)
			return
		}
		require.NoError(t, err, in)
		require.Equal(t, want, u.String())
	}
	f("http://vl:9428", "http://vl:9428")
	f("http://vl:9428/", "http://vl:9428")
	f("https://u:p@vl.example.com/insert/jsonline?_stream_fields=a", "https://u:p@vl.example.com")
	f("http://proxy/victorialogs/", "http://proxy/victorialogs")
	f("vl:9428", "")
	f("http://", "")
}

// Gated tests against real servers: VLOG_TEST_VICTORIALOGS_URL (a VictoriaLogs base URL) and
// VLOG_TEST_FLUENT_ADDR (host:port of a Fluent Bit or Fluentd forward input).

func TestRealVictoriaLogs(t *testing.T) {
	u := os.Getenv("VLOG_TEST_VICTORIALOGS_URL")
	if u == "" {
		t.Skip("VLOG_TEST_VICTORIALOGS_URL not set")
	}
	o := runCmd(t, []string{"-roundtrip", "-wait", "20s"}, env("VICTORIALOGS_URL="+u), "")
	t.Log("\n" + o.out)
	require.Equal(t, exitOK, o.code)
	require.Equal(t, statusOK, o.status["victorialogs-roundtrip"])

	// A wrong path is found against the real server too.
	o = runCmd(t, nil, env("VICTORIALOGS_URL="+strings.TrimSuffix(u, "/")+"/wrong"), "")
	require.Equal(t, statusFail, o.status["victorialogs"], o.out)
}

func TestRealRouter(t *testing.T) {
	addr := os.Getenv("VLOG_TEST_FLUENT_ADDR")
	if addr == "" {
		t.Skip("VLOG_TEST_FLUENT_ADDR not set")
	}
	h, p, err := net.SplitHostPort(addr)
	require.NoError(t, err)
	environ := env("FLUENT_HOST="+h, "FLUENT_PORT="+p)
	args := []string{"-ack"}
	if u := os.Getenv("VLOG_TEST_VICTORIALOGS_URL"); u != "" {
		// Whether the router delivers to that VictoriaLogs depends on its configuration:
		// router-roundtrip is reported, not required.
		environ = append(environ, "VICTORIALOGS_URL="+u)
		args = append(args, "-roundtrip", "-wait", "20s")
	}
	o := runCmd(t, args, environ, "")
	t.Log("\n" + o.out)
	require.Equal(t, statusOK, o.status["router"])
}
