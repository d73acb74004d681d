package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"go.vlog.dev/handlers/schema"

	"go.vlog.dev/vlog"
)

// Variables read besides vlog's own constants (the outputs read them too).
const (
	envFluentHost      = "FLUENT_HOST"
	envFluentPort      = "FLUENT_PORT"
	envVictoriaLogsURL = "VICTORIALOGS_URL"
)

// The ingestion parameters vlog and the example Fluent Bit configurations use.
const insertParams = "_stream_fields=service,env,ecs_cluster,container&_msg_field=msg&_time_field=event_time"

// testMessage is the message of the test records.
const testMessage = "vlog-verify test record"

// verifier runs the destination checks.
type verifier struct {
	o       options
	environ []string
	env     map[string]string
	r       *report
	client  *http.Client
	// id is unique to this run; every test record carries it as verify_id.
	id  string
	ecs vlog.ECSMetadata
	// vlBase is VictoriaLogs' base URL, nil when VICTORIALOGS_URL is unset or invalid.
	vlBase *url.URL
}

func newVerifier(o options, environ []string, r *report) *verifier {
	env := make(map[string]string, len(environ))
	for _, kv := range environ {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return &verifier{
		o: o, environ: environ, env: env, r: r,
		// No proxy from the environment: the destinations are inside the VPC, and a proxy
		// would hide the failures this command is for.
		client: &http.Client{Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}},
		id:     "vv-" + time.Now().UTC().Format("20060102T150405") + "-" + hex.EncodeToString(b),
	}
}

func (v *verifier) run() {
	v.checkConfig()
	v.checkECS()
	routerOK := v.checkRouter()
	vlOK := v.checkVictoriaLogs()
	if !v.o.roundtrip {
		return
	}
	if v.vlBase == nil {
		v.r.skip("victorialogs-roundtrip", "VICTORIALOGS_URL not set")
	} else if vlOK {
		v.checkRoundtrip()
	} else {
		v.r.skip("victorialogs-roundtrip", "VictoriaLogs is not healthy (see above)")
	}
	switch {
	case v.router() == "":
	case !routerOK:
		v.r.skip("router-roundtrip", "the router check failed (see above)")
	case v.vlBase == nil || !vlOK:
		v.r.skip("router-roundtrip", "needs VICTORIALOGS_URL (and a healthy VictoriaLogs) to query the record back")
	default:
		v.checkRouterRoundtrip()
	}
}

// service returns SERVICE or vlog's default for it.
func (v *verifier) service() string {
	if s := strings.TrimSpace(v.env["SERVICE"]); s != "" {
		return s
	}
	return "(unset)"
}

// router returns FLUENT_HOST:FLUENT_PORT, "" when either is unset.
func (v *verifier) router() string {
	h, p := strings.TrimSpace(v.env[envFluentHost]), strings.TrimSpace(v.env[envFluentPort])
	if h == "" || p == "" {
		return ""
	}
	return net.JoinHostPort(h, p)
}

func (v *verifier) checkConfig() {
	const check = "config"
	var problems, fixes []string
	// vlog's own validation of every VLOG_ variable; the output is forced to stdout and the
	// ECS lookup off so that nothing is dialed here.
	l, err := vlog.New(&vlog.Options{Environ: v.environ, Writer: io.Discard, Output: "stdout", ECSMetadataTimeout: -1})
	if err != nil {
		problems = append(problems, err.Error())
		fixes = append(fixes, "correct or remove the variables named (see vlog.KnownVariables for the names vlog reads)")
	} else {
		_ = l.Close(context.Background())
	}
	output := strings.TrimSpace(v.env["VLOG_OUTPUT"])
	switch output {
	case "", "auto", "stdout", "forward", "victorialogs":
	default:
		problems = append(problems, fmt.Sprintf("VLOG_OUTPUT=%q", output))
		fixes = append(fixes, "VLOG_OUTPUT is auto (the default), stdout, forward or victorialogs")
	}
	for _, name := range []string{"SERVICE", "ENV"} {
		if strings.TrimSpace(v.env[name]) == "" {
			problems = append(problems, name+" is not set")
			fixes = append(fixes, "set SERVICE and ENV in the container's environment (task definition): without them records say service=<executable name>, env=unknown and land in the wrong stream")
		}
	}
	h, p := strings.TrimSpace(v.env[envFluentHost]), strings.TrimSpace(v.env[envFluentPort])
	if (h == "") != (p == "") {
		problems = append(problems, "only one of FLUENT_HOST and FLUENT_PORT is set")
		fixes = append(fixes, "do not set them by hand: ECS injects both when the container's logConfiguration uses the awsfirelens log driver")
	}
	chosen := "stdout"
	switch {
	case h != "" && p != "" && v.env[envVictoriaLogsURL] != "":
		chosen = "forward, falling back to victorialogs"
	case h != "" && p != "":
		chosen = "forward"
	case v.env[envVictoriaLogsURL] != "":
		chosen = "victorialogs"
	}
	switch output {
	case "forward":
		if h == "" || p == "" {
			problems = append(problems, "VLOG_OUTPUT=forward but FLUENT_HOST/FLUENT_PORT are not set")
			fixes = append(fixes, "use the awsfirelens log driver for this container (ECS then injects FLUENT_HOST and FLUENT_PORT), or VLOG_OUTPUT=auto")
		}
		chosen = "forward"
	case "victorialogs":
		if v.env[envVictoriaLogsURL] == "" {
			problems = append(problems, "VLOG_OUTPUT=victorialogs but VICTORIALOGS_URL is not set")
			fixes = append(fixes, "set VICTORIALOGS_URL to VictoriaLogs' base URL (http://host:9428)")
		}
		chosen = "victorialogs"
	case "stdout":
		chosen = "stdout"
	}
	if len(problems) > 0 {
		v.r.fail(check, strings.Join(problems, "; "), strings.Join(dedup(fixes), "; "))
		return
	}
	version := strings.TrimSpace(v.env["VERSION"])
	if version == "" {
		version = "(unset: the service's build info)"
	}
	if output == "" {
		output = "auto"
	}
	v.r.ok(check, "service=%s env=%s version=%s output=%s (%s)", v.service(), strings.TrimSpace(v.env["ENV"]), version, output, chosen)
}

func (v *verifier) checkECS() {
	const check = "ecs-metadata"
	uri := strings.TrimSpace(v.env["ECS_CONTAINER_METADATA_URI_V4"])
	if uri == "" {
		v.r.skip(check, "ECS_CONTAINER_METADATA_URI_V4 not set: not running in an ECS task (records get no ECS fields)")
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), v.o.timeout)
	defer cancel()
	m, err := vlog.ReadECSMetadata(ctx, v.client, uri)
	v.ecs = m
	if err != nil {
		fix := "the endpoint is local to the task: run vlog-verify inside the service's container (ECS Exec); "
		switch {
		case strings.Contains(err.Error(), "HTTP 5"):
			fix += "a 5xx answer is a problem of the ECS agent: retry, then replace the task or instance"
		case errors.Is(err, context.DeadlineExceeded):
			fix += "it did not answer in time: the ECS agent is overloaded or the container's network blocks 169.254.170.2"
		default:
			fix += "check that the container's network reaches 169.254.170.2 (no proxy, no iptables rule against it)"
		}
		v.r.fail(check, err.Error(), fix)
		return
	}
	if m.Container == "" || m.Cluster == "" {
		v.r.fail(check, fmt.Sprintf("the endpoint answered without a container name or cluster (%+v)", m),
			"an old ECS agent or platform version: update the agent (EC2) or use Fargate platform 1.4 or later")
		return
	}
	v.r.ok(check, "cluster=%s task_definition=%s container=%s launch_type=%s az=%s",
		m.Cluster, m.TaskDefinition, m.Container, dash(m.LaunchType), dash(m.AvailabilityZone))
}

// testRecord returns the schema fields of a test record.
func (v *verifier) testRecord(path string) []field {
	rec := []field{
		{schema.EventTime, time.Now().UTC().Format(time.RFC3339Nano)},
		{schema.Level, "info"},
		{schema.Message, testMessage},
		{schema.Service, v.service()},
		{"env", strings.TrimSpace(v.env["ENV"])},
		{"version", strings.TrimSpace(v.env["VERSION"])},
	}
	for _, f := range []field{
		{"ecs_cluster", v.ecs.Cluster}, {"ecs_task_arn", v.ecs.TaskARN},
		{"ecs_task_definition", v.ecs.TaskDefinition}, {"container", v.ecs.Container},
	} {
		if f.v != "" {
			rec = append(rec, f)
		}
	}
	return append(rec, field{"verify_id", v.id + "-" + path}, field{"verify_path", path})
}

// tag returns the forward-protocol tag of the test record: FireLens routes a container's
// records by tags that start with "<container name>-firelens".
func (v *verifier) tag() string {
	if v.o.tag != "" {
		return v.o.tag
	}
	name := v.ecs.Container
	if name == "" {
		name = strings.TrimSpace(v.env["SERVICE"])
	}
	if name == "" {
		name = strings.TrimSuffix(filepath.Base(os.Args[0]), ".exe")
	}
	return name + "-firelens-vlog-verify"
}

func (v *verifier) checkRouter() bool {
	const check = "router"
	addr := v.router()
	if addr == "" {
		v.r.skip(check, "FLUENT_HOST/FLUENT_PORT not set: the container does not use the awsfirelens log driver (no FireLens router to send to)")
		return false
	}
	chunk := ""
	if v.o.ack {
		chunk = v.id
	}
	msg := forwardMessage(v.tag(), time.Now(), v.testRecord("router"), chunk)
	err := sendForward(addr, msg, chunk, v.o.timeout)
	if err == nil {
		if v.o.ack {
			v.r.ok(check, "%s accepted a record tagged %q and acknowledged it", addr, v.tag())
		} else {
			v.r.ok(check, "%s accepted a record tagged %q (not acknowledged: use -ack to be sure)", addr, v.tag())
		}
		return true
	}
	var fe *forwardError
	errors.As(err, &fe)
	detail := fmt.Sprintf("%s: %v", addr, err)
	switch {
	case fe != nil && fe.step == "dial":
		v.r.fail(check, detail, dialFix(fe.err, addr,
			"is the FireLens container (log_router) running, essential, and started before this one (dependsOn START or HEALTHY)? In bridge mode FLUENT_HOST is the router's address; in host mode ECS injects nothing"))
	case fe != nil && fe.step == "ack" && isTimeout(fe.err):
		v.r.fail(check, detail+" (no ack within "+v.o.timeout.String()+")",
			"the router took the connection but did not acknowledge: a Fluentd/Fluent Bit without require_ack_response support, or one that is overloaded (Mem_Buf_Limit hit); check the router's own logs")
	case fe != nil && fe.step == "ack":
		v.r.fail(check, detail, "something other than a Fluent forward server listens there: check FLUENT_HOST/FLUENT_PORT")
	case fe != nil && fe.step == "closed":
		v.r.fail(check, detail, "the router closed the connection on the record: it expects TLS or a shared_key handshake, or rejected the message; check its forward input and own logs")
	default:
		v.r.fail(check, detail, "the connection broke while sending: check the router's own logs (CloudWatch group of log_router)")
	}
	return false
}

// victoriaLogsBase returns the base URL from VICTORIALOGS_URL: its path without a trailing
// /insert/jsonline (vlog accepts both forms), no query.
func victoriaLogsBase(s string) (*url.URL, error) {
	u, err := url.Parse(strings.TrimSpace(s))
	if err != nil {
		return nil, err
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%q is not an http(s) URL", u.Redacted())
	}
	u.Path = strings.TrimSuffix(strings.TrimSuffix(u.Path, "/"), "/insert/jsonline")
	u.RawPath, u.RawQuery, u.Fragment = "", "", ""
	return u, nil
}

func (v *verifier) checkVictoriaLogs() bool {
	const check = "victorialogs"
	raw := v.env[envVictoriaLogsURL]
	if strings.TrimSpace(raw) == "" {
		v.r.skip(check, "VICTORIALOGS_URL not set")
		return false
	}
	base, err := victoriaLogsBase(raw)
	if err != nil {
		v.r.fail(check, "VICTORIALOGS_URL: "+err.Error(), "set VICTORIALOGS_URL to VictoriaLogs' base URL, such as http://victorialogs.internal:9428")
		return false
	}
	v.vlBase = base
	health := base.JoinPath("health")
	status, body, err := v.get(health.String())
	shown := health.Redacted()
	switch {
	case err != nil:
		v.r.fail(check, "GET "+shown+": "+err.Error(), dialFix(err, base.Host,
			"check VICTORIALOGS_URL's host and port (9428 by default) and that the task's security group may reach it"))
		return false
	case status == http.StatusOK && strings.TrimSpace(body) == "OK":
		v.r.ok(check, "GET %s: OK", shown)
		return true
	case status == http.StatusOK:
		v.r.fail(check, fmt.Sprintf("GET %s: 200 but %q instead of OK", shown, snippet(body)),
			"something else answers at this URL (a proxy, a web page): VICTORIALOGS_URL must point at VictoriaLogs (or vlinsert) itself")
	case status == http.StatusNotFound:
		v.r.fail(check, fmt.Sprintf("GET %s: 404", shown),
			"wrong URL: VICTORIALOGS_URL is the base URL (http://host:9428), without /insert, /select or another path")
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		v.r.fail(check, fmt.Sprintf("GET %s: %d", shown, status),
			"a proxy in front of VictoriaLogs (vmauth?) wants credentials: put them in the URL (https://user:password@host) from a secret")
	default:
		v.r.fail(check, fmt.Sprintf("GET %s: %d %q", shown, status, snippet(body)),
			"VictoriaLogs answers but is not healthy (overloaded, starting, or read-only for lack of disk): check its own logs and metrics")
	}
	return false
}

func (v *verifier) checkRoundtrip() {
	const check = "victorialogs-roundtrip"
	rec := v.testRecord("victorialogs")
	line := recordJSON(rec)
	insert := *v.vlBase
	insert.Path = strings.TrimSuffix(insert.Path, "/") + "/insert/jsonline"
	insert.RawQuery = insertParams
	ctx, cancel := context.WithTimeout(context.Background(), v.o.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, insert.String(), bytes.NewReader(line))
	if err != nil {
		v.r.fail(check, err.Error(), "")
		return
	}
	req.Header.Set("Content-Type", "application/stream+json")
	start := time.Now()
	resp, err := v.client.Do(req)
	if err != nil {
		v.r.fail(check, "POST "+insert.Redacted()+": "+unwrapURLError(err).Error(), dialFix(err, insert.Host, "check VICTORIALOGS_URL"))
		return
	}
	body := readSnippet(resp.Body)
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		detail := fmt.Sprintf("POST %s: %d %q", insert.Redacted(), resp.StatusCode, body)
		switch resp.StatusCode {
		case http.StatusBadRequest:
			v.r.fail(check, detail, "VictoriaLogs parsed no line: the body must be JSON lines (one object per line, not an array), with the time in _time_field as RFC 3339 or Unix time; never retry a 400")
		case http.StatusNotFound, http.StatusMethodNotAllowed:
			v.r.fail(check, detail, "wrong URI: ingestion is POST <base>/insert/jsonline (on vlinsert in cluster mode)")
		case http.StatusTooManyRequests:
			v.r.fail(check, detail, "VictoriaLogs is read-only: its disk is almost full (-storage.minFreeDiskSpaceBytes)")
		default:
			v.r.fail(check, detail, "VictoriaLogs refused the write: check its own logs")
		}
		return
	}
	found, err := v.query(rec)
	if err != nil {
		v.r.fail(check, "written, but the query failed: "+err.Error(), queryFix(err))
		return
	}
	if found == nil {
		v.r.fail(check, fmt.Sprintf("written (HTTP %d) but verify_id:%s not found within %s", resp.StatusCode, fieldValue(rec, "verify_id"), v.o.wait),
			"VictoriaLogs answers 200 even when it skips a line: check its logs (or add &debug=1); the time may be outside the retention or over 2 days ahead (check the clock); or -select-url points elsewhere")
		return
	}
	if problem := checkFound(found, rec); problem != "" {
		v.r.fail(check, problem, "the ingestion parameters do not match the schema: use "+insertParams)
		return
	}
	v.r.ok(check, "written to /insert/jsonline and found after %s, stream %s", time.Since(start).Round(10*time.Millisecond), found["_stream"])
}

func (v *verifier) checkRouterRoundtrip() {
	const check = "router-roundtrip"
	rec := v.testRecord("router")
	start := time.Now()
	found, err := v.query(rec)
	switch {
	case err != nil:
		v.r.fail(check, "the query failed: "+err.Error(), queryFix(err))
	case found == nil:
		v.r.fail(check, fmt.Sprintf("the record sent to the router (tag %q) did not reach VictoriaLogs within %s", v.tag(), v.o.wait),
			"check the router's own logs (CloudWatch group of log_router) for http output errors; its [OUTPUT] must Match the tag (<container>-firelens*), point Host/Port at VictoriaLogs and use URI /insert/jsonline?"+insertParams+" with Format json_lines")
	default:
		if problem := checkFound(found, rec); problem != "" {
			v.r.fail(check, problem, "the router's [OUTPUT] URI must carry "+insertParams+" and Format json_lines")
			return
		}
		v.r.ok(check, "the record sent to the router was found after %s, stream %s", time.Since(start).Round(10*time.Millisecond), found["_stream"])
	}
}

// checkFound compares what VictoriaLogs stored with what was sent.
func checkFound(found map[string]any, rec []field) string {
	if found["_msg"] != testMessage {
		return fmt.Sprintf("stored with _msg %q: the message field is not msg", found["_msg"])
	}
	stream, _ := found["_stream"].(string)
	if !strings.Contains(stream, `service="`+fieldValue(rec, "service")+`"`) || !strings.Contains(stream, `env="`) {
		return fmt.Sprintf("stored in stream %s, without service and env as stream fields", stream)
	}
	return ""
}

// queryError is a failed query (not a record that is not there yet).
type queryError struct {
	status int
	err    error
}

func (e *queryError) Error() string {
	if e.err != nil {
		return e.err.Error()
	}
	return fmt.Sprintf("HTTP %d", e.status)
}

func queryFix(err error) string {
	var qe *queryError
	if errors.As(err, &qe) && (qe.status == http.StatusNotFound || qe.status == http.StatusMethodNotAllowed) {
		return "queries go to GET <base>/select/logsql/query: in cluster mode set -select-url to vlselect's base URL"
	}
	return "check -select-url (or VICTORIALOGS_URL) and that the select API is reachable"
}

// query polls /select/logsql/query for the record's verify_id until it is found or -wait
// passes. It returns the stored record, or nil if it was not found.
func (v *verifier) query(rec []field) (map[string]any, error) {
	base := v.vlBase
	if v.o.selectURL != "" {
		u, err := victoriaLogsBase(v.o.selectURL)
		if err != nil {
			return nil, &queryError{err: fmt.Errorf("-select-url: %w", err)}
		}
		base = u
	}
	q := *base
	q.Path = strings.TrimSuffix(q.Path, "/") + "/select/logsql/query"
	id := fieldValue(rec, "verify_id")
	q.RawQuery = url.Values{"query": {`_time:1h verify_id:"` + id + `"`}, "limit": {"10"}}.Encode()
	deadline := time.Now().Add(v.o.wait)
	for {
		status, body, err := v.get(q.String())
		if err != nil {
			return nil, &queryError{err: fmt.Errorf("GET %s: %w", q.Redacted(), err)}
		}
		if status != http.StatusOK {
			return nil, &queryError{status: status, err: fmt.Errorf("GET %s: %d %q", q.Redacted(), status, snippet(body))}
		}
		sc := bufio.NewScanner(strings.NewReader(body))
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			var m map[string]any
			if json.Unmarshal(sc.Bytes(), &m) == nil && m["verify_id"] == id {
				return m, nil
			}
		}
		// Rows become searchable about a second after ingestion.
		left := time.Until(deadline)
		if left <= 0 {
			return nil, nil
		}
		time.Sleep(min(left, 500*time.Millisecond))
	}
}

// get GETs u within the check timeout and returns the status and the start of the body.
func (v *verifier) get(u string) (int, string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), v.o.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return 0, "", err
	}
	resp, err := v.client.Do(req)
	if err != nil {
		return 0, "", unwrapURLError(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return 0, "", err
	}
	return resp.StatusCode, string(b), nil
}

// dialFix returns the likely fix of a network error reaching addr; hint is for a refused
// connection.
func dialFix(err error, addr, hint string) string {
	var dns *net.DNSError
	switch {
	case errors.As(err, &dns):
		return "the host name does not resolve: check its spelling and the VPC's DNS (private hosted zone, service discovery namespace)"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "nothing listens at " + addr + ": " + hint
	case isTimeout(err):
		return "no answer from " + addr + " in time: a security group, network ACL or route drops the traffic; allow the task's security group to reach the port"
	case errors.Is(err, syscall.ECONNRESET):
		return "the connection was reset: a TLS endpoint reached with plain TCP/HTTP, or a proxy in the way"
	}
	return "check the address " + addr + " and the network path to it"
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())
}

// unwrapURLError drops the *url.Error wrapper, whose message repeats the URL.
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// recordJSON encodes a record as one JSON line.
func recordJSON(rec []field) []byte {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, f := range rec {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(f.k)
		val, _ := json.Marshal(f.v)
		b.Write(k)
		b.WriteByte(':')
		b.Write(val)
	}
	b.WriteString("}\n")
	return b.Bytes()
}

func fieldValue(rec []field, k string) string {
	for _, f := range rec {
		if f.k == k {
			return f.v
		}
	}
	return ""
}

func readSnippet(r io.Reader) string {
	b, _ := io.ReadAll(io.LimitReader(r, 4096))
	return snippet(string(b))
}

func snippet(s string) string {
	s = strings.TrimSpace(s)
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return s
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func dedup(ss []string) []string {
	var out []string
	for _, s := range ss {
		found := false
		for _, o := range out {
			found = found || o == s
		}
		if !found {
			out = append(out, s)
		}
	}
	return out
}
