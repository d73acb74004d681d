package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.vlog.dev/bridge"
	"go.vlog.dev/bridge/internal/bridgetest"
	"go.vlog.dev/internal/vtest"
)

// These tests run the real bootstrap, built by the test, against a local implementation of
// the Lambda Runtime API, so that aws-lambda-go's own loop is exercised: GET .../next with the
// request id and the deadline in headers, POST .../response or .../error, one invocation at a
// time.

var bootstrapBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "bootstrap-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	bootstrapBin = filepath.Join(dir, "bootstrap")
	// The build of the deployment (docs/cloudwatch-bridge.md), for this machine.
	cmd := exec.Command(filepath.Join(runtime.GOROOT(), "bin", "go"), "build", "-tags", "lambda.norpc", "-trimpath", "-o", bootstrapBin, ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building the bootstrap: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// runtimeAPI is a local Lambda Runtime API (2018-06-01), strict: one invocation in flight,
// answered once, by its request id.
type runtimeAPI struct {
	t    *testing.T
	srv  *httptest.Server
	next chan invocation
	done chan answer

	mu      sync.Mutex
	current string // the request id handed out and not answered yet
	n       int
}

type invocation struct {
	payload  []byte
	deadline time.Time
}

type answer struct {
	id, kind  string // kind: "response", "error" or "init/error"
	body      []byte
	errorType string // Lambda-Runtime-Function-Error-Type
}

func newRuntimeAPI(t *testing.T) *runtimeAPI {
	api := &runtimeAPI{t: t, next: make(chan invocation), done: make(chan answer, 1)}
	api.srv = httptest.NewServer(api)
	t.Cleanup(api.srv.Close)
	return api
}

func (api *runtimeAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	const prefix = "/2018-06-01/runtime/"
	path, ok := strings.CutPrefix(r.URL.Path, prefix)
	if !ok {
		api.t.Errorf("runtime API: %s %s", r.Method, r.URL.Path)
		http.NotFound(w, r)
		return
	}
	if ua := r.Header.Get("User-Agent"); !strings.HasPrefix(ua, "aws-lambda-go/") {
		api.t.Errorf("runtime API: User-Agent %q", ua)
	}
	switch {
	case r.Method == http.MethodGet && path == "invocation/next":
		api.mu.Lock()
		if api.current != "" {
			api.t.Errorf("runtime API: next before %s was answered", api.current)
		}
		api.mu.Unlock()
		var inv invocation
		select {
		case inv = <-api.next:
		case <-r.Context().Done():
			return
		}
		api.mu.Lock()
		api.n++
		id := fmt.Sprintf("8f0e8c44-5b3a-4d7c-9a1e-%012d", api.n)
		api.current = id
		api.mu.Unlock()
		h := w.Header()
		h.Set("Lambda-Runtime-Aws-Request-Id", id)
		h.Set("Lambda-Runtime-Deadline-Ms", strconv.FormatInt(inv.deadline.UnixMilli(), 10))
		h.Set("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:eu-west-1:123456789012:function:vlog-bridge")
		h.Set("Lambda-Runtime-Trace-Id", "Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419;Sampled=1")
		h.Set("Content-Type", "application/json")
		w.Write(inv.payload)
	case r.Method == http.MethodPost && strings.HasPrefix(path, "invocation/"):
		rest := strings.TrimPrefix(path, "invocation/")
		id, kind, _ := strings.Cut(rest, "/")
		body, _ := io.ReadAll(r.Body)
		api.mu.Lock()
		if id != api.current || (kind != "response" && kind != "error") {
			api.t.Errorf("runtime API: POST %s, the invocation in flight is %q", r.URL.Path, api.current)
		}
		api.current = ""
		api.mu.Unlock()
		w.WriteHeader(http.StatusAccepted)
		api.done <- answer{id: id, kind: kind, body: body, errorType: r.Header.Get("Lambda-Runtime-Function-Error-Type")}
	case r.Method == http.MethodPost && path == "init/error":
		body, _ := io.ReadAll(r.Body)
		w.WriteHeader(http.StatusAccepted)
		api.done <- answer{kind: "init/error", body: body}
	default:
		api.t.Errorf("runtime API: %s %s", r.Method, r.URL.Path)
		http.NotFound(w, r)
	}
}

// invoke hands one invocation to the runtime and waits for its answer.
func (api *runtimeAPI) invoke(payload []byte, timeout time.Duration) answer {
	api.t.Helper()
	select {
	case api.next <- invocation{payload: payload, deadline: time.Now().Add(timeout)}:
	case <-time.After(30 * time.Second):
		api.t.Fatal("the runtime did not ask for the next invocation")
	}
	select {
	case a := <-api.done:
		return a
	case <-time.After(timeout + 10*time.Second):
		api.t.Fatal("no answer to the invocation")
	}
	return answer{}
}

// process is a running bootstrap.
type process struct {
	cmd    *exec.Cmd
	stdout *lockedBuffer
	stderr *lockedBuffer
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func start(t *testing.T, api *runtimeAPI, env ...string) *process {
	t.Helper()
	p := &process{cmd: exec.Command(bootstrapBin), stdout: &lockedBuffer{}, stderr: &lockedBuffer{}}
	p.cmd.Env = append([]string{
		"AWS_LAMBDA_RUNTIME_API=" + strings.TrimPrefix(api.srv.URL, "http://"),
		"AWS_LAMBDA_FUNCTION_NAME=vlog-bridge",
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE=128",
		"AWS_LAMBDA_LOG_GROUP_NAME=/aws/lambda/vlog-bridge",
		"PATH=" + os.Getenv("PATH"),
	}, env...)
	p.cmd.Stdout, p.cmd.Stderr = p.stdout, p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		p.cmd.Process.Kill()
		p.cmd.Wait()
		if t.Failed() {
			t.Logf("bootstrap stdout:\n%s\nstderr:\n%s", p.stdout, p.stderr)
		}
	})
	return p
}

func newFakeVL(t *testing.T) *vtest.VictoriaLogs {
	return bridgetest.NewVictoriaLogs(t, strings.Join(bridge.DefaultStreamFields(), ","), bridge.DefaultMaxLineSize,
		bridge.FieldLogGroup, bridge.FieldLogStream, bridge.FieldEventID)
}

func readFixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestRuntimeLoop(t *testing.T) {
	vl := newFakeVL(t)
	api := newRuntimeAPI(t)
	p := start(t, api, "VICTORIALOGS_URL="+vl.URL, "VLOG_RETRY_MIN=20ms", "VLOG_RETRY_MAX=100ms", "VLOG_BRIDGE_DEADLINE_MARGIN=300ms")
	data := bridgetest.EncodeEvent(t, readFixture(t, "data-message.json"))

	// A DATA_MESSAGE: delivered, answered with the summary.
	a := api.invoke(data, 10*time.Second)
	var sum bridge.Summary
	if a.kind != "response" || json.Unmarshal(a.body, &sum) != nil || sum.Delivered != 14 {
		t.Fatalf("DATA_MESSAGE: %s %s", a.kind, a.body)
	}
	if n := len(vl.ByField(t, bridge.FieldEventID)); n != 14 {
		t.Errorf("%d records in VictoriaLogs, want 14", n)
	}

	// A CONTROL_MESSAGE: acknowledged.
	a = api.invoke(bridgetest.EncodeEvent(t, readFixture(t, "control-message.json")), 10*time.Second)
	if a.kind != "response" || !strings.Contains(string(a.body), `"control":true`) {
		t.Errorf("CONTROL_MESSAGE: %s %s", a.kind, a.body)
	}

	// Malformed input: an error response, of type MalformedError; the loop goes on.
	a = api.invoke([]byte(`{"awslogs":{"data":"not base64"}}`), 10*time.Second)
	if a.kind != "error" || a.errorType != "" && a.errorType != "MalformedError" {
		t.Errorf("malformed: %s %s (%s)", a.kind, a.body, a.errorType)
	}
	var le struct{ ErrorType, ErrorMessage string }
	json.Unmarshal(a.body, &le)
	if le.ErrorType != "MalformedError" || !strings.Contains(le.ErrorMessage, "awslogs.data: not base64") {
		t.Errorf("malformed: error body %s", a.body)
	}

	// VictoriaLogs down: retried until the deadline minus the margin, then an error response
	// (DeliveryError), well before the deadline.
	vl.SetFault(func(int64, http.ResponseWriter, *http.Request) int { panic(http.ErrAbortHandler) })
	begin := time.Now()
	a = api.invoke(data, 2*time.Second)
	took := time.Since(begin)
	le = struct{ ErrorType, ErrorMessage string }{}
	json.Unmarshal(a.body, &le)
	if a.kind != "error" || le.ErrorType != "DeliveryError" || !strings.Contains(le.ErrorMessage, "14 of 14 records") {
		t.Errorf("VictoriaLogs down: %s %s", a.kind, a.body)
	}
	if took >= 2*time.Second {
		t.Errorf("answered after %v, the deadline was 2s", took)
	}
	vl.SetFault(nil)

	// The replay: an SQS event of destination records; the failed message is reported.
	a = api.invoke(bridgetest.SQSEvent(bridgetest.DestinationRecord(data), []byte(`{"requestPayload":{}}`)), 10*time.Second)
	if a.kind != "response" || string(a.body) != `{"batchItemFailures":[{"itemIdentifier":"m2"}]}` {
		t.Errorf("replay: %s %s", a.kind, a.body)
	}
	if n := len(vl.Lines()); n != 28 {
		t.Errorf("%d records after the replay, want 28 (the 14 again: a replay delivers at least once)", n)
	}

	// One summary line per invocation on stdout, in the Embedded Metric Format (read through a
	// pipe: wait for the last one).
	for end := time.Now().Add(5 * time.Second); strings.Count(p.stdout.String(), "\n") < 5 && time.Now().Before(end); {
		time.Sleep(10 * time.Millisecond)
	}
	var lines []map[string]any
	sc := bufio.NewScanner(strings.NewReader(p.stdout.String()))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Errorf("stdout line is not JSON: %s", sc.Bytes())
			continue
		}
		lines = append(lines, m)
	}
	if len(lines) != 5 {
		t.Fatalf("%d summary lines, want 5:\n%s", len(lines), p.stdout)
	}
	for i, l := range lines {
		if l["_aws"] == nil || l["FunctionName"] != "vlog-bridge" || !strings.HasPrefix(fmt.Sprint(l["aws_request_id"]), "8f0e8c44-") {
			t.Errorf("summary line %d: %v", i, l)
		}
	}
}

// An invalid configuration fails every invocation with the configuration error (the events
// wait in the failure queue), instead of crashing the runtime.
func TestInvalidConfiguration(t *testing.T) {
	api := newRuntimeAPI(t)
	p := start(t, api, "VICTORIALOGS_URL=http://vl.invalid:9428/insert/jsonline?_stream_fields=log_group,log_stream", "VLOG_BRIDGE_DEADLINE_MARGN=1s")
	for range 2 {
		a := api.invoke(bridgetest.EncodeEvent(t, readFixture(t, "data-message.json")), 5*time.Second)
		var le struct{ ErrorType, ErrorMessage string }
		json.Unmarshal(a.body, &le)
		if a.kind != "error" || le.ErrorType != "ConfigError" || !strings.Contains(le.ErrorMessage, "did you mean VLOG_BRIDGE_DEADLINE_MARGIN?") ||
			!strings.Contains(le.ErrorMessage, `"log_stream" is one stream per ECS task`) {
			t.Errorf("%s %s", a.kind, a.body)
		}
	}
	if !strings.Contains(p.stderr.String(), "bridge: invalid configuration") {
		t.Errorf("stderr: %s", p.stderr)
	}
}

// TestPeakMemory measures the bootstrap's peak resident memory (VmHWM) while it handles the
// largest subscription messages CloudWatch Logs makes: 1 MiB of vlog records (PutLogEvents'
// limit), 10,000 short events (its event limit), four messages at CloudWatch's 256 KiB event
// limit full of characters JSON escapes. It must stay within 64 MiB: the bridge runs in a
// 128 MB Lambda. Then, for the headroom, a message four times PutLogEvents' limit (which
// CloudWatch Logs does not send) is reported, not checked.
func TestPeakMemory(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("VmHWM is Linux's")
	}
	vl := newFakeVL(t)
	api := newRuntimeAPI(t)
	p := start(t, api, "VICTORIALOGS_URL="+vl.URL)
	base := time.Now().Add(-time.Minute)

	big, n := bridgetest.MaxSizeMessage(t, base, "mem", 0)
	var short []string
	for i := range bridgetest.CWMaxEvents {
		short = append(short, fmt.Sprintf("GET /healthz 200 %dus", i))
	}
	var huge []string
	for i := range 4 {
		huge = append(huge, strings.Repeat(`"quoted" \ `, (256<<10-26)/11)+strings.Repeat("x", (256<<10-26)%11)+fmt.Sprint(i)[:0])
	}
	events := map[string][]byte{
		fmt.Sprintf("1 MiB of vlog records (%d events)", n): big,
		"10,000 short events":                               bridgetest.DataMessage(t, short, base, 100000),
		"4 events of 256 KiB":                               bridgetest.DataMessage(t, huge, base, 200000),
	}
	for name, msg := range events {
		payload := bridgetest.EncodeEvent(t, msg)
		for range 5 {
			a := api.invoke(payload, 60*time.Second)
			if a.kind != "response" {
				t.Fatalf("%s: %s %s", name, a.kind, a.body)
			}
		}
		t.Logf("%s: %d bytes decoded, %d bytes of payload (Lambda's asynchronous limit: 1 MB, 256 KB before 2025)", name, len(msg), len(payload))
	}
	hwm := vmHWM(t, p.cmd.Process.Pid)
	t.Logf("peak resident memory of the bootstrap: %.1f MiB", float64(hwm)/(1<<20))
	if hwm > 64<<20 {
		t.Errorf("peak resident memory %.1f MiB, want at most 64 MiB", float64(hwm)/(1<<20))
	}
	var four []string
	for i := range 4 * n {
		four = append(four, bridgetest.VlogRecord(i, base, "mem4"))
	}
	msg4 := bridgetest.DataMessage(t, four, base, 300000)
	if a := api.invoke(bridgetest.EncodeEvent(t, msg4), 60*time.Second); a.kind != "response" {
		t.Fatalf("4x: %s %s", a.kind, a.body)
	}
	t.Logf("after a message of 4x PutLogEvents' limit (%d events, %d bytes decoded): peak %.1f MiB", 4*n, len(msg4), float64(vmHWM(t, p.cmd.Process.Pid))/(1<<20))
}

// vmHWM reads the peak resident set size of a process, in bytes.
func vmHWM(t *testing.T, pid int) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return kb << 10
		}
	}
	t.Fatal("no VmHWM")
	return 0
}

// TestGatedRuntimeLoop is TestRuntimeLoop's first step against a real VictoriaLogs
// (VLOG_TEST_VICTORIALOGS_URL): the built bootstrap, driven through the Runtime API, stores
// the fixture's records there.
func TestGatedRuntimeLoop(t *testing.T) {
	base := os.Getenv("VLOG_TEST_VICTORIALOGS_URL")
	if base == "" {
		t.Skip("VLOG_TEST_VICTORIALOGS_URL is not set")
	}
	api := newRuntimeAPI(t)
	start(t, api, "VICTORIALOGS_URL="+base)
	run := strconv.FormatInt(time.Now().UnixNano(), 36)
	logGroup := "/ecs/gated-" + run + "/bootstrap"
	now := time.Now().Add(-time.Minute)
	msg := bridgetest.DataMessage(t, []string{bridgetest.VlogRecord(1, now, run), "plain text " + run}, now, 0)
	msg = bytes.Replace(msg, []byte(`"/ecs/order-api"`), []byte(strconv.Quote(logGroup)), 1)
	if a := api.invoke(bridgetest.EncodeRaw(t, msg), 20*time.Second); a.kind != "response" {
		t.Fatalf("%s %s", a.kind, a.body)
	}
	q := fmt.Sprintf("log_group:=%q service:order-api tag:=%q", logGroup, run)
	for end := time.Now().Add(15 * time.Second); time.Now().Before(end); time.Sleep(300 * time.Millisecond) {
		resp, err := http.Get(base + "/select/logsql/query?query=" + url.QueryEscape(q))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if bytes.Contains(body, []byte(`"route":"/orders/{id}"`)) && bytes.Contains(body, []byte(`"_msg":"request"`)) {
			return
		}
	}
	t.Errorf("the record is not in VictoriaLogs: %s", q)
}
