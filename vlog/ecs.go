package vlog

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"go.vlog.dev/handlers/schema"
)

// DefaultECSMetadataTimeout bounds the ECS task metadata lookup at setup. The endpoint is a
// local HTTP server of the ECS agent and answers in milliseconds; the bound only matters when
// it is broken.
const DefaultECSMetadataTimeout = time.Second

// maxMetadataBytes bounds a metadata document read at setup. A task document with ten
// containers is about 20 KiB.
const maxMetadataBytes = 1 << 20

// ECSMetadata identifies the ECS task and container a process runs in, as read from the task
// metadata endpoint v4. A field the endpoint did not provide is "". The zero value means "not
// on ECS" (or the lookup failed or was disabled).
//
// New adds the non-empty fields to every record, after the context ids, with these keys:
// ecs_cluster (Cluster), ecs_task_arn (TaskARN), ecs_task_definition (TaskDefinition),
// container (Container), availability_zone (AvailabilityZone), launch_type (LaunchType).
// TaskID is not written: it is the last part of ecs_task_arn.
type ECSMetadata struct {
	// Cluster is the cluster's name. The endpoint gives the name on EC2 and the full ARN
	// ("arn:aws:ecs:us-east-1:111122223333:cluster/prod") on Fargate; only the part after
	// "cluster/" is kept, so that the value is the same on both launch types and the same as
	// the ecs_cluster field FireLens adds to the records it routes (a stream field must not
	// change between two paths of the same service).
	Cluster string
	// TaskARN is the task's full ARN.
	TaskARN string
	// TaskID is the last part of TaskARN.
	TaskID string
	// TaskDefinition is "family:revision" (the family alone if the revision is missing).
	TaskDefinition string
	// Container is the container's name in the task definition (not the Docker name). The
	// FireLens log router routes a record sent over the forward protocol by a tag that starts
	// with "<Container>-firelens".
	Container string
	// AvailabilityZone is the task's availability zone ("us-east-1a").
	AvailabilityZone string
	// LaunchType is "FARGATE", "EC2" or "EXTERNAL".
	LaunchType string
}

// attrs returns the fields to add to every record, in the schema's order.
func (m ECSMetadata) attrs() []slog.Attr {
	var as []slog.Attr
	add := func(k, v string) {
		if v != "" {
			as = append(as, slog.String(k, v))
		}
	}
	add(schema.ECSCluster, m.Cluster)
	add(schema.ECSTaskARN, m.TaskARN)
	add(schema.ECSTaskDefinition, m.TaskDefinition)
	add(schema.Container, m.Container)
	add(schema.AvailabilityZone, m.AvailabilityZone)
	add(schema.LaunchType, m.LaunchType)
	return as
}

// ecsContainerDoc is the part of the container document ("${ECS_CONTAINER_METADATA_URI_V4}")
// that vlog reads.
type ecsContainerDoc struct {
	Name   string            `json:"Name"`
	Labels map[string]string `json:"Labels"`
}

// ecsTaskDoc is the part of the task document ("${ECS_CONTAINER_METADATA_URI_V4}/task") that
// vlog reads.
type ecsTaskDoc struct {
	Cluster          string          `json:"Cluster"`
	TaskARN          string          `json:"TaskARN"`
	Family           string          `json:"Family"`
	Revision         json.RawMessage `json:"Revision"` // a string in v4; a number is accepted too
	AvailabilityZone string          `json:"AvailabilityZone"`
	LaunchType       string          `json:"LaunchType"`
}

// Labels the ECS agent puts on every container it starts; the container document carries them,
// so the task's identity is known even when the task document cannot be read.
const (
	labelCluster  = "com.amazonaws.ecs.cluster"
	labelTaskARN  = "com.amazonaws.ecs.task-arn"
	labelFamily   = "com.amazonaws.ecs.task-definition-family"
	labelRevision = "com.amazonaws.ecs.task-definition-version"
)

// ReadECSMetadata reads the container document at uri (the value of
// ECS_CONTAINER_METADATA_URI_V4) and the task document at uri+"/task", concurrently, within
// ctx. It returns what it could read even when it also returns an error: the error joins one
// error per document that could not be fetched or parsed (wrapped in an *ECSMetadataError). A
// field missing from a document is not an error. When the task document fails, the task's
// cluster, ARN and definition are taken from the labels of the container document.
//
// A nil client means a client that ignores the proxy settings of the environment (the endpoint
// is a link-local address no proxy can reach) and keeps no idle connection.
func ReadECSMetadata(ctx context.Context, client *http.Client, uri string) (ECSMetadata, error) {
	m, errs := readECSMetadata(ctx, client, uri)
	return m, errors.Join(errs...)
}

// ECSMetadataError reports a metadata document that could not be read.
type ECSMetadataError struct {
	// URL is the document's address.
	URL string
	// Err is what went wrong: a network error, an HTTP status, or a JSON syntax error.
	Err error
}

func (e *ECSMetadataError) Error() string {
	return "vlog: ECS task metadata " + e.URL + ": " + e.Err.Error()
}

func (e *ECSMetadataError) Unwrap() error { return e.Err }

// readECSMetadata is ReadECSMetadata with one error per failed document, for counting.
func readECSMetadata(ctx context.Context, client *http.Client, uri string) (ECSMetadata, []error) {
	var m ECSMetadata
	uri = strings.TrimRight(strings.TrimSpace(uri), "/")
	if u, err := url.Parse(uri); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return m, []error{&ECSMetadataError{URL: uri, Err: errors.New("not an http(s) URL")}}
	}
	if client == nil {
		client = metadataClient()
		defer client.CloseIdleConnections()
	}

	var container ecsContainerDoc
	var task ecsTaskDoc
	errc := make(chan error, 1)
	go func() { errc <- getJSON(ctx, client, uri+"/task", &task) }()
	cerr := getJSON(ctx, client, uri, &container)
	terr := <-errc

	var errs []error
	if cerr != nil {
		errs = append(errs, cerr)
	}
	if terr != nil {
		errs = append(errs, terr)
		task = ecsTaskDoc{} // nothing half-parsed
	}
	if cerr != nil {
		container = ecsContainerDoc{}
	}

	m.Container = strings.TrimSpace(container.Name)
	lb := container.Labels
	m.Cluster = clusterName(first(task.Cluster, lb[labelCluster]))
	m.TaskARN = first(task.TaskARN, lb[labelTaskARN])
	if i := strings.LastIndexByte(m.TaskARN, '/'); i >= 0 {
		m.TaskID = m.TaskARN[i+1:]
	}
	family, revision := task.Family, revisionString(task.Revision)
	if family == "" {
		family, revision = lb[labelFamily], lb[labelRevision]
	}
	if family = strings.TrimSpace(family); family != "" {
		m.TaskDefinition = family
		if revision = strings.TrimSpace(revision); revision != "" {
			m.TaskDefinition += ":" + revision
		}
	}
	m.AvailabilityZone = strings.TrimSpace(task.AvailabilityZone)
	m.LaunchType = strings.TrimSpace(task.LaunchType)
	return m, errs
}

// clusterName returns the name of a cluster given by name or by ARN
// ("arn:aws:ecs:<region>:<account>:cluster/<name>").
func clusterName(s string) string {
	s = strings.TrimSpace(s)
	if strings.HasPrefix(s, "arn:") {
		if _, name, ok := strings.Cut(s, ":cluster/"); ok {
			return name
		}
	}
	return s
}

// revisionString returns a revision given as a JSON string or number.
func revisionString(raw json.RawMessage) string {
	if len(raw) == 0 || string(raw) == "null" {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var n json.Number
	if json.Unmarshal(raw, &n) == nil {
		return n.String()
	}
	return ""
}

func first(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// metadataClient returns a client for the metadata endpoint: no proxy, no idle connections.
func metadataClient() *http.Client {
	return &http.Client{Transport: &http.Transport{
		Proxy:             nil,
		DialContext:       (&net.Dialer{Timeout: DefaultECSMetadataTimeout}).DialContext,
		DisableKeepAlives: true,
	}}
}

// getJSON GETs addr and decodes the JSON object it answers into v.
func getJSON(ctx context.Context, client *http.Client, addr string, v any) error {
	fail := func(err error) error { return &ECSMetadataError{URL: addr, Err: err} }
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, addr, nil)
	if err != nil {
		return fail(err)
	}
	resp, err := client.Do(req)
	if err != nil {
		// The *url.Error repeats the URL; keep its cause only.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fail(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxMetadataBytes+1))
	if err != nil {
		return fail(err)
	}
	if resp.StatusCode != http.StatusOK {
		snippet := bytes.TrimSpace(body)
		if len(snippet) > 200 {
			snippet = snippet[:200]
		}
		return fail(fmt.Errorf("HTTP %s: %q", resp.Status, snippet))
	}
	if len(body) > maxMetadataBytes {
		return fail(fmt.Errorf("document larger than %d bytes", maxMetadataBytes))
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fail(fmt.Errorf("invalid JSON: %w", err))
	}
	return nil
}

// ecsLookup is the outcome of the lookup done by New.
type ecsLookup struct {
	meta ECSMetadata
	// uri is the endpoint read, "" when there was none or the lookup was disabled.
	uri string
	// errors counts the failures: one per document that could not be read, or one for a
	// malformed uri; err joins them.
	errors int
	err    error
}

// lookupECS reads the metadata at uri within timeout. An empty uri or a timeout <= 0 means no
// lookup.
func lookupECS(uri string, timeout time.Duration) ecsLookup {
	uri = strings.TrimSpace(uri)
	if uri == "" || timeout <= 0 {
		return ecsLookup{}
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	m, errs := readECSMetadata(ctx, nil, uri)
	return ecsLookup{meta: m, uri: uri, errors: len(errs), err: errors.Join(errs...)}
}

// ECS returns the task metadata read by New, and why part of it is missing: nil when
// everything was read or when the process does not run on ECS (ECS_CONTAINER_METADATA_URI_V4
// unset), otherwise the errors of the documents that could not be read. The same failures are
// counted in vlog_ecs_metadata_errors_total (see MetricsHandler) and reported once, at level
// warn, in the Logger's own stream right after setup.
func (l *Logger) ECS() (ECSMetadata, error) {
	return l.cfg.ecs.meta, l.cfg.ecs.err
}

// warnECS writes the record that reports a failed metadata lookup.
func (l *Logger) warnECS() {
	e := l.cfg.ecs
	if e.errors == 0 {
		return
	}
	l.LogAttrs(context.Background(), slog.LevelWarn,
		"vlog: ECS task metadata unavailable; records lack the ECS fields that could not be read",
		slog.String("ecs_metadata_uri", e.uri),
		slog.Int("ecs_metadata_errors", e.errors),
		slog.String("error", e.err.Error()))
}
