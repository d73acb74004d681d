package vlog

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// metadataServer serves a container document at /v4/abc and a task document at /v4/abc/task,
// each read from testdata/ecs (name "" means 404), and counts the requests.
type metadataServer struct {
	*httptest.Server
	requests atomic.Int64
}

// reply is one document: a testdata file, or a status and body.
type reply struct {
	file   string
	status int
	body   string
	delay  time.Duration
}

func newMetadataServer(t *testing.T, container, task reply) *metadataServer {
	t.Helper()
	ms := &metadataServer{}
	serve := func(w http.ResponseWriter, r *http.Request, rep reply) {
		if rep.delay > 0 {
			select {
			case <-time.After(rep.delay):
			case <-r.Context().Done():
				return
			}
		}
		if rep.file != "" {
			b, err := os.ReadFile(filepath.Join("testdata", "ecs", rep.file))
			if err != nil {
				t.Error(err)
				w.WriteHeader(500)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write(b)
			return
		}
		w.WriteHeader(rep.status)
		_, _ = w.Write([]byte(rep.body))
	}
	ms.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ms.requests.Add(1)
		if r.Method != http.MethodGet {
			t.Errorf("method %s", r.Method)
		}
		switch r.URL.Path {
		case "/v4/abc":
			serve(w, r, container)
		case "/v4/abc/task":
			serve(w, r, task)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(ms.Close)
	return ms
}

func (ms *metadataServer) uri() string { return ms.URL + "/v4/abc" }

var (
	fargate = ECSMetadata{
		Cluster:          "prod",
		TaskARN:          "arn:aws:ecs:us-east-1:111122223333:task/prod/cd189a933e5849daa93386466019ab50",
		TaskID:           "cd189a933e5849daa93386466019ab50",
		TaskDefinition:   "order-api:42",
		Container:        "order-api",
		AvailabilityZone: "us-east-1b",
		LaunchType:       "FARGATE",
	}
	ec2 = ECSMetadata{
		Cluster:          "staging",
		TaskARN:          "arn:aws:ecs:eu-west-1:111122223333:task/staging/158d1c8083dd49d6b527399fd6414f5c",
		TaskID:           "158d1c8083dd49d6b527399fd6414f5c",
		TaskDefinition:   "order-api:7",
		Container:        "order-api",
		AvailabilityZone: "eu-west-1a",
		LaunchType:       "EC2",
	}
)

func TestReadECSMetadata(t *testing.T) {
	fromLabels := fargate
	fromLabels.AvailabilityZone, fromLabels.LaunchType = "", ""

	f := func(name string, container, task reply, want ECSMetadata, wantErrs int, errHas string) {
		t.Helper()
		t.Run(name, func(t *testing.T) {
			ms := newMetadataServer(t, container, task)
			got, errs := readECSMetadata(context.Background(), nil, ms.uri())
			require.Equal(t, want, got)
			require.Len(t, errs, wantErrs, "%v", errs)
			for _, err := range errs {
				var me *ECSMetadataError
				require.ErrorAs(t, err, &me)
				require.True(t, strings.HasPrefix(me.URL, ms.uri()), me.URL)
			}
			if errHas != "" {
				require.ErrorContains(t, errors.Join(errs...), errHas)
			}
		})
	}
	f("fargate", reply{file: "fargate-container.json"}, reply{file: "fargate-task.json"}, fargate, 0, "")
	f("ec2", reply{file: "ec2-container.json"}, reply{file: "ec2-task.json"}, ec2, 0, "")
	// The ECS agent before 1.x wrote the revision as a number, and old task ARNs have no
	// cluster part.
	f("old agent", reply{file: "minimal-container.json"}, reply{file: "old-agent-task.json"}, ECSMetadata{
		Cluster: "legacy", TaskARN: "arn:aws:ecs:us-west-2:111122223333:task/9781c248-0edd-4cdb-9a93-f63cb662a5d3",
		TaskID: "9781c248-0edd-4cdb-9a93-f63cb662a5d3", TaskDefinition: "order-api:3",
	}, 0, "")
	// A task document that fails: the task's identity comes from the container's labels.
	f("task 500", reply{file: "fargate-container.json"}, reply{status: 500, body: "agent error"},
		fromLabels, 1, `/v4/abc/task: HTTP 500 Internal Server Error: "agent error"`)
	f("task not JSON", reply{file: "fargate-container.json"}, reply{status: 200, body: "<html>"},
		fromLabels, 1, "invalid JSON")
	f("container 404", reply{status: 404}, reply{file: "ec2-task.json"},
		ECSMetadata{Cluster: "staging", TaskARN: ec2.TaskARN, TaskID: ec2.TaskID, TaskDefinition: "order-api:7",
			AvailabilityZone: "eu-west-1a", LaunchType: "EC2"}, 1, "HTTP 404")
	f("both fail", reply{status: 503}, reply{status: 500}, ECSMetadata{}, 2, "HTTP 503")
	f("missing fields", reply{file: "minimal-container.json"}, reply{status: 200, body: `{"Cluster":"c1","Family":"fam"}`},
		ECSMetadata{Cluster: "c1", TaskDefinition: "fam"}, 0, "")
	f("empty objects", reply{status: 200, body: `{}`}, reply{status: 200, body: `{}`}, ECSMetadata{}, 0, "")
}

func TestReadECSMetadataBadURI(t *testing.T) {
	for _, uri := range []string{"169.254.170.2/v4/abc", "ftp://x/v4", "http://", ":"} {
		_, errs := readECSMetadata(context.Background(), nil, uri)
		require.Len(t, errs, 1, uri)
		require.ErrorContains(t, errs[0], "not an http(s) URL")
	}
}

func TestReadECSMetadataExported(t *testing.T) {
	ms := newMetadataServer(t, reply{file: "fargate-container.json"}, reply{status: 500})
	m, err := ReadECSMetadata(context.Background(), ms.Client(), ms.uri()+"/")
	require.Equal(t, "order-api", m.Container)
	var me *ECSMetadataError
	require.ErrorAs(t, err, &me)
	require.Equal(t, ms.uri()+"/task", me.URL)
}

func TestClusterName(t *testing.T) {
	f := func(in, want string) {
		t.Helper()
		require.Equal(t, want, clusterName(in))
	}
	f("prod", "prod")
	f(" prod ", "prod")
	f("arn:aws:ecs:us-east-1:111122223333:cluster/prod", "prod")
	f("arn:aws-cn:ecs:cn-north-1:111122223333:cluster/a-b_c", "a-b_c")
	f("arn:aws:ecs:us-east-1:111122223333:service/prod/x", "arn:aws:ecs:us-east-1:111122223333:service/prod/x")
	f("", "")
}

// records returns the records in buf, decoded, with the order of their keys.
func records(t *testing.T, s string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSuffix(s, "\n"), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		require.NoError(t, json.Unmarshal([]byte(line), &m), line)
		out = append(out, m)
	}
	return out
}

func TestNewAddsECSFields(t *testing.T) {
	ms := newMetadataServer(t, reply{file: "fargate-container.json"}, reply{file: "fargate-task.json"})
	l, buf := newTest(t, &Options{
		Environ: []string{"SERVICE=order-api", "ENV=prod", "VERSION=1.4.2", "ECS_CONTAINER_METADATA_URI_V4" + "=" + ms.uri()},
	})
	meta, err := l.ECS()
	require.NoError(t, err)
	require.Equal(t, fargate, meta)
	require.Zero(t, buf.Len(), "no record about a successful lookup")

	ctx := WithRequestID(context.Background(), "r1")
	l.InfoContext(ctx, "order created", "order_id", "o-1")
	line := buf.String()
	// The schema's order: fixed fields, context ids, ECS metadata, then the caller's attributes.
	want := `"service":"order-api","env":"prod","version":"1.4.2","request_id":"r1",` +
		`"ecs_cluster":"prod","ecs_task_arn":"arn:aws:ecs:us-east-1:111122223333:task/prod/cd189a933e5849daa93386466019ab50",` +
		`"ecs_task_definition":"order-api:42","container":"order-api","availability_zone":"us-east-1b",` +
		`"launch_type":"FARGATE","order_id":"o-1"}`
	require.Contains(t, line, want)
	require.EqualValues(t, 2, ms.requests.Load())
}

func TestNewECSFieldsBeforeStaticFields(t *testing.T) {
	ms := newMetadataServer(t, reply{file: "ec2-container.json"}, reply{file: "ec2-task.json"})
	l, buf := newTest(t, &Options{
		Environ: []string{"ECS_CONTAINER_METADATA_URI_V4" + "=" + ms.uri()},
		Fields:  []slog.Attr{slog.String("team", "payments")},
	})
	l.Info("m")
	require.Contains(t, buf.String(), `"launch_type":"EC2","team":"payments"}`)
}

func TestNewECSFailureWarnsOnce(t *testing.T) {
	ms := newMetadataServer(t, reply{file: "ec2-container.json"}, reply{status: 500, body: "boom"})
	l, buf := newTest(t, &Options{Environ: []string{"SERVICE=s", "ECS_CONTAINER_METADATA_URI_V4" + "=" + ms.uri()}})
	meta, err := l.ECS()
	require.ErrorContains(t, err, "HTTP 500")
	require.Equal(t, "staging", meta.Cluster, "from the container's labels")
	require.Equal(t, 1, l.cfg.ecs.errors)

	recs := records(t, buf.String())
	require.Len(t, recs, 1)
	w := recs[0]
	require.Equal(t, "warn", w["level"])
	require.Contains(t, w["msg"], "ECS task metadata unavailable")
	require.EqualValues(t, 1, w["ecs_metadata_errors"])
	require.Equal(t, ms.uri(), w["ecs_metadata_uri"])
	require.Contains(t, w["error"], "boom")
	require.Equal(t, "staging", w["ecs_cluster"], "the warning carries the fields that were read")

	l.Info("next")
	require.Len(t, records(t, buf.String()), 2, "one warning only")
	require.Contains(t, metricsText(t, l), "vlog_ecs_metadata_errors_total 1\n")
}

func TestNewECSUnreachableDoesNotFail(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close()) // nothing listens there now: connection refused

	l, buf := newTest(t, &Options{Environ: []string{"ECS_CONTAINER_METADATA_URI_V4" + "=http://" + addr + "/v4/abc"}})
	meta, err := l.ECS()
	require.Zero(t, meta)
	require.Error(t, err)
	require.Equal(t, 2, l.cfg.ecs.errors)
	require.Len(t, records(t, buf.String()), 1)
}

func TestNewECSTimeoutBoundsSetup(t *testing.T) {
	hang := reply{file: "ec2-container.json", delay: 10 * time.Second}
	ms := newMetadataServer(t, hang, hang)
	start := time.Now()
	l, buf := newTest(t, &Options{
		ECSMetadataTimeout: 100 * time.Millisecond,
		Environ:            []string{"ECS_CONTAINER_METADATA_URI_V4" + "=" + ms.uri()},
	})
	require.Less(t, time.Since(start), 5*time.Second)
	_, err := l.ECS()
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.Contains(t, buf.String(), "ECS task metadata unavailable")

	// The same from the environment.
	start = time.Now()
	l, _ = newTest(t, &Options{Environ: []string{"VLOG_ECS_METADATA_TIMEOUT" + "=50ms", "ECS_CONTAINER_METADATA_URI_V4" + "=" + ms.uri()}})
	require.Less(t, time.Since(start), 5*time.Second)
	_, err = l.ECS()
	require.ErrorIs(t, err, context.DeadlineExceeded)
}

func TestNewNotOnECS(t *testing.T) {
	l, buf := newTest(t, &Options{Environ: []string{"SERVICE=s"}})
	meta, err := l.ECS()
	require.Zero(t, meta)
	require.NoError(t, err)
	l.Info("m")
	require.NotContains(t, buf.String(), "ecs_")
	require.Contains(t, metricsText(t, l), "vlog_ecs_metadata_errors_total 0\n")
}

func TestNewECSLookupDisabled(t *testing.T) {
	ms := newMetadataServer(t, reply{file: "ec2-container.json"}, reply{file: "ec2-task.json"})
	for _, o := range []*Options{
		{Environ: []string{"VLOG_ECS_METADATA_TIMEOUT" + "=0", "ECS_CONTAINER_METADATA_URI_V4" + "=" + ms.uri()}},
		{ECSMetadataTimeout: -1, Environ: []string{"ECS_CONTAINER_METADATA_URI_V4" + "=" + ms.uri()}},
	} {
		l, buf := newTest(t, o)
		meta, err := l.ECS()
		require.Zero(t, meta)
		require.NoError(t, err)
		require.Zero(t, buf.Len())
	}
	require.Zero(t, ms.requests.Load())
}

func TestNewECSBadTimeout(t *testing.T) {
	_, err := New(&Options{Writer: &strings.Builder{}, Environ: []string{"VLOG_ECS_METADATA_TIMEOUT" + "=1", "VLOG_STOP_TIMEOUT" + "=-5s"}})
	var ce *ConfigError
	require.ErrorAs(t, err, &ce)
	require.ErrorContains(t, err, `VLOG_ECS_METADATA_TIMEOUT="1": want a duration`)
	require.ErrorContains(t, err, `VLOG_STOP_TIMEOUT="-5s"`)
}

func TestKnownVariables(t *testing.T) {
	vs := KnownVariables()
	for _, v := range []string{"SERVICE", "ENV", "VERSION", "VLOG_LEVEL", "VLOG_ECS_METADATA_TIMEOUT", "VLOG_STOP_TIMEOUT", "ECS_CONTAINER_METADATA_URI_V4"} {
		require.Contains(t, vs, v)
	}
	vs[0] = "changed"
	require.NotEqual(t, "changed", KnownVariables()[0], "a copy")
	// Every VLOG_ variable in the list is accepted by New.
	for _, v := range KnownVariables() {
		if strings.HasPrefix(v, "VLOG_") {
			_, err := New(&Options{Writer: &strings.Builder{}, Environ: []string{v + "="}})
			require.NoError(t, err, v)
		}
	}
}
