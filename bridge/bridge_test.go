package bridge

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"go.vlog.dev/bridge/internal/bridgetest"
)

// invoke calls Invoke with a Lambda-like deadline.
func invoke(t testing.TB, b *Bridge, payload []byte, timeout time.Duration) ([]byte, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return b.Invoke(ctx, payload)
}

func TestDataMessage(t *testing.T) {
	vl := newFakeVL(t)
	b, log := newTestBridge(t, vl.URL, nil)
	resp, err := invoke(t, b, encodeEvent(t, fixture(t, "data-message.json")), 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var sum Summary
	if err := json.Unmarshal(resp, &sum); err != nil {
		t.Fatal(err)
	}
	if sum.Source != "awslogs" || sum.Events != 14 || sum.Delivered != 14 || sum.NotDelivered != 0 || sum.MalformedEvents != 0 {
		t.Errorf("summary %+v", sum)
	}
	if sum.Structured != 9 || sum.OwnTime != 6 || sum.Redacted < 4 {
		t.Errorf("structured %d, own time %d, redacted %d", sum.Structured, sum.OwnTime, sum.Redacted)
	}
	recs := byID(t, vl)
	if len(recs) != 14 {
		t.Fatalf("%d records delivered, want 14", len(recs))
	}
	rec := func(i int) map[string]any {
		r := recs["3829174023478010293847561029384756102938475610293847560"+string(rune('0'+i))]
		if i >= 10 {
			r = recs["382917402347801029384756102938475610293847561029384756"+itoa(i)]
		}
		if r == nil {
			t.Fatalf("record %d missing", i)
		}
		return r
	}
	want := func(i int, fields map[string]any) {
		t.Helper()
		r := rec(i)
		for k, v := range fields {
			if got := r[k]; !equalJSON(got, v) {
				t.Errorf("record %d: %s = %#v, want %#v", i, k, got, v)
			}
		}
	}
	// Every record: the bridge's fields.
	for i := 1; i <= 14; i++ {
		want(i, map[string]any{FieldLogGroup: "/ecs/order-api", FieldLogStream: "ecs/order-api/5f1e0c8a9b7d4e3f8a2b1c0d9e8f7a6b",
			FieldAccount: "123456789012", FieldTaskID: "5f1e0c8a9b7d4e3f8a2b1c0d9e8f7a6b"})
	}
	want(1, map[string]any{"service": "order-api", "request_id": "4c3b2a19f8e7d6c5b4a39281706f5e4d", "msg": "order created",
		"event_time": "2026-12-02T04:33:20.123456789Z", "container": "order-api", "amount": "19.99", "http": map[string]any{"method": "POST", "route": "/orders", "status": "201"}})
	want(2, map[string]any{"msg": "cache warmed", "event_time": "2026-12-02T04:33:20.200000000Z", "level": "INFO"})
	want(3, map[string]any{"msg": "listening", "event_time": "2026-12-02T04:33:20.250000000Z", "caller": "server/main.go:42"})
	want(4, map[string]any{"msg": "request completed", "event_time": "2026-12-02T04:33:20.350000000Z", "req": map[string]any{"method": "GET", "url": "/orders/ord-7"}})
	want(5, map[string]any{"msg": "payment authorized", "event_time": "2026-12-02T04:33:20.450000000Z", "service.name": "payments"})
	want(6, map[string]any{"msg": "INFO:worker:started worker 3 of 8", "event_time": "2026-12-02T04:33:20.600000000Z"})
	want(7, map[string]any{"password": "[REDACTED]", "card": "[REDACTED]", "user": "alice", "headers": map[string]any{"Authorization": "[REDACTED]"}})
	want(8, map[string]any{"msg": "connecting to postgres://app:[REDACTED]@db.internal:5432/orders"})
	want(9, map[string]any{"msg": "Grüße aus Köln – 東京タワー 🚀 naïve café"})
	want(10, map[string]any{"msg": "Bestellung für Jürgen – 注文 ✓", "note": "emoji 🧾 and quotes \" and a tab\t", "event_time": "2026-12-02T04:33:20.950000000Z"})
	want(11, map[string]any{"msg": "job finished", "time": "3.5", "event_time": "2026-12-02T04:33:21.100000000Z"})
	want(12, map[string]any{"attr.log_group": "mine", "attr.cw_event_id": "x", "attr.event_time": "not a time", "container": "sidecar", FieldLogGroup: "/ecs/order-api"})
	want(13, map[string]any{"msg": `{"msg":"a truncated record","level":"info"`})
	want(14, map[string]any{"msg": "panic: runtime error: index out of range [3] with length 3\n\ngoroutine 1 [running]:\nmain.main()\n\t/app/main.go:10 +0x1d\nexit status 2"})

	// The summary line: one JSON line in the Embedded Metric Format.
	lines := log.lines(t)
	if len(lines) != 1 {
		t.Fatalf("%d summary lines, want 1", len(lines))
	}
	l := lines[0]
	aws, _ := l["_aws"].(map[string]any)
	cwm, _ := aws["CloudWatchMetrics"].([]any)
	if aws == nil || len(cwm) != 1 || l["FunctionName"] != "vlog-bridge-test" || l["Events"] != 14.0 || l["Delivered"] != 14.0 || l["level"] != "info" {
		t.Errorf("summary line %v", l)
	}
	d := cwm[0].(map[string]any)
	if d["Namespace"] != DefaultMetricsNamespace {
		t.Errorf("namespace %v", d["Namespace"])
	}
	for _, m := range d["Metrics"].([]any) {
		name := m.(map[string]any)["Name"].(string)
		if _, ok := l[name].(float64); !ok {
			t.Errorf("metric %s has no value at the root of the line", name)
		}
	}
}

func itoa(i int) string {
	b, _ := json.Marshal(i)
	return string(b)
}

// equalJSON compares a decoded value (numbers as json.Number) with a wanted one (numbers
// written as strings).
func equalJSON(got, want any) bool {
	g, _ := json.Marshal(got)
	w, _ := json.Marshal(want)
	if string(g) == string(w) {
		return true
	}
	if n, ok := got.(json.Number); ok {
		return string(n) == want
	}
	gm, ok1 := got.(map[string]any)
	wm, ok2 := want.(map[string]any)
	if !ok1 || !ok2 {
		return false
	}
	for k, v := range wm {
		if !equalJSON(gm[k], v) {
			return false
		}
	}
	return true
}

func TestControlMessage(t *testing.T) {
	vl := newFakeVL(t)
	b, _ := newTestBridge(t, vl.URL, nil)
	resp, err := invoke(t, b, encodeEvent(t, fixture(t, "control-message.json")), 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var sum Summary
	json.Unmarshal(resp, &sum)
	if !sum.Control || sum.Delivered != 0 || vl.Received() != 0 {
		t.Errorf("a CONTROL_MESSAGE: %+v, %d requests", sum, vl.Received())
	}
}

// Path C: lines of the CloudWatch Agent arrive as text at their timestamps; the agent's
// stream names (the instance id) give no container.
func TestAgentLines(t *testing.T) {
	vl := newFakeVL(t)
	b, _ := newTestBridge(t, vl.URL, nil)
	for _, name := range []string{"cwagent-ecs-agent.json", "cwagent-nginx-access.json"} {
		if _, err := invoke(t, b, encodeEvent(t, fixture(t, name)), 10*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	recs := byID(t, vl)
	if len(recs) != 4 {
		t.Fatalf("%d records, want 4", len(recs))
	}
	for id, r := range recs {
		if _, ok := r[FieldContainer]; ok {
			t.Errorf("%s: container %v from an instance stream", id, r[FieldContainer])
		}
		if r[FieldLogStream] != "i-0abc1234def567890" {
			t.Errorf("%s: log_stream %v", id, r[FieldLogStream])
		}
	}
	r := recs["38291740234780102938475610293847561029384756102938475801"]
	if r["msg"] != `10.0.1.17 - - [02/Dec/2026:04:33:20 +0000] "GET /orders/ord-7 HTTP/1.1" 200 612 "-" "curl/8.5.0"` ||
		r["event_time"] != "2026-12-02T04:33:20.000000000Z" || r[FieldLogGroup] != "/ecs/ec2/nginx-access" {
		t.Errorf("nginx line: %v", r)
	}
	r = recs["38291740234780102938475610293847561029384756102938475802"]
	if !strings.Contains(r["msg"].(string), "access_token=[REDACTED]") {
		t.Errorf("a token in an access log line was not masked: %v", r["msg"])
	}
	r = recs["38291740234780102938475610293847561029384756102938475701"]
	if !strings.HasPrefix(r["msg"].(string), `level=info time=2026-12-02T04:33:20Z msg="Task transitioned to RUNNING"`) || r["event_time"] != "2026-12-02T04:33:20.000000000Z" {
		t.Errorf("ecs-agent line: %v", r)
	}
}

// A batch VictoriaLogs answers 503 (then 429, then a dropped connection) is sent again with
// backoff, within the invocation.
func TestRetriesThenDelivers(t *testing.T) {
	vl := newFakeVL(t)
	vl.SetFault(func(n int64, w http.ResponseWriter, r *http.Request) int {
		switch n {
		case 1:
			http.Error(w, "overloaded", http.StatusServiceUnavailable)
			return http.StatusServiceUnavailable
		case 2:
			http.Error(w, "read-only", http.StatusTooManyRequests)
			return http.StatusTooManyRequests
		case 3:
			hj, _ := w.(http.Hijacker)
			c, _, _ := hj.Hijack()
			c.Close()
			return -1 // no status: the connection closed
		}
		return 0
	})
	b, _ := newTestBridge(t, vl.URL, &Options{Buffer: fastRetries})
	resp, err := invoke(t, b, encodeEvent(t, fixture(t, "data-message.json")), 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if len(byID(t, vl)) != 14 {
		t.Errorf("%d records after retries: %s", len(vl.Lines()), resp)
	}
}

var fastRetries = bufferRetries(10*time.Millisecond, 50*time.Millisecond)

func bufferRetries(lo, hi time.Duration) (o optsBuffer) {
	o.RetryMin, o.RetryMax = lo, hi
	return o
}

// A VictoriaLogs that stays down fails the invocation before its deadline, by the margin,
// with a DeliveryError that says how many records were not delivered and why.
func TestDownUntilTheDeadline(t *testing.T) {
	vl := newFakeVL(t)
	vl.SetFault(func(n int64, w http.ResponseWriter, r *http.Request) int {
		http.Error(w, "no space left", http.StatusServiceUnavailable)
		return http.StatusServiceUnavailable
	})
	b, log := newTestBridge(t, vl.URL, &Options{Buffer: fastRetries, DeadlineMargin: 300 * time.Millisecond})
	start := time.Now()
	_, err := invoke(t, b, encodeEvent(t, fixture(t, "data-message.json")), 2*time.Second)
	took := time.Since(start)
	var de *DeliveryError
	if !errors.As(err, &de) {
		t.Fatalf("err = %v, want a *DeliveryError", err)
	}
	if de.Records != 14 || de.Delivered != 0 || de.Late != 14 || !strings.Contains(de.Last, "503") {
		t.Errorf("%+v", de)
	}
	if took >= 2*time.Second || took < 1500*time.Millisecond {
		t.Errorf("returned after %v, want about 2s minus the 300ms margin, before the deadline", took)
	}
	if vl.Received() < 5 {
		t.Errorf("%d requests: no retries?", vl.Received())
	}
	l := log.lines(t)[0]
	if l["level"] != "error" || l["error_type"] != "DeliveryError" || l["NotDelivered"] != 14.0 {
		t.Errorf("summary line %v", l)
	}
}

// A 400 (VictoriaLogs parsed no line) is not retried: the invocation fails at once.
func TestRejected(t *testing.T) {
	vl := newFakeVL(t)
	vl.SetFault(func(n int64, w http.ResponseWriter, r *http.Request) int {
		http.Error(w, "cannot parse", http.StatusBadRequest)
		return http.StatusBadRequest
	})
	b, _ := newTestBridge(t, vl.URL, nil)
	_, err := invoke(t, b, encodeEvent(t, fixture(t, "data-message.json")), 10*time.Second)
	var de *DeliveryError
	if !errors.As(err, &de) || de.Rejected != 14 || vl.Received() != 1 {
		t.Fatalf("err = %v (%+v), %d requests", err, de, vl.Received())
	}
}

// Two endpoints: when one fails, batches go to the other within the same attempt.
func TestFailover(t *testing.T) {
	down := newFakeVL(t)
	down.SetFault(func(int64, http.ResponseWriter, *http.Request) int { panic(http.ErrAbortHandler) })
	up := newFakeVL(t)
	b, _ := newTestBridge(t, "", &Options{VictoriaLogs: optsVL(down.URL, up.URL)})
	for range 3 {
		if _, err := invoke(t, b, encodeEvent(t, fixture(t, "data-message.json")), 10*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(up.Lines()); n != 42 {
		t.Errorf("%d records on the healthy endpoint, want 42", n)
	}
}

// Auth and tenant reach VictoriaLogs; gzip when asked.
func TestAuthTenantGzip(t *testing.T) {
	vl := newFakeVL(t)
	vl.WantAuth = "Basic YnJpZGdlOnMzY3IzdA==" // bridge:s3cr3t
	vl.WantAccount = "12:34"
	vl.WantEncoding = "gzip"
	env := []string{"VICTORIALOGS_URL=" + vl.URL, "VLOG_VICTORIALOGS_USER=bridge", "VLOG_VICTORIALOGS_PASSWORD=s3cr3t",
		"VLOG_VICTORIALOGS_ACCOUNT_ID=12", "VLOG_VICTORIALOGS_PROJECT_ID=34", "VLOG_VICTORIALOGS_COMPRESS=gzip"}
	o, err := OptionsFromEnv(env)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := newTestBridge(t, "", o)
	if _, err := invoke(t, b, encodeEvent(t, fixture(t, "data-message.json")), 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if len(vl.Lines()) != 14 {
		t.Errorf("%d records", len(vl.Lines()))
	}
}

// https with a CA of the deployment's own (VLOG_VICTORIALOGS_CA_FILE); without it the
// certificate is refused, and the invocation fails.
func TestTLSWithCAFile(t *testing.T) {
	vl, ca := bridgetest.NewVictoriaLogsTLS(t, strings.Join(DefaultStreamFields(), ","), DefaultMaxLineSize, FieldLogGroup, FieldEventID)
	o, err := OptionsFromEnv([]string{"VICTORIALOGS_URL=" + vl.URL, "VLOG_VICTORIALOGS_CA_FILE=" + ca})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := newTestBridge(t, "", o)
	if _, err := invoke(t, b, encodeEvent(t, fixture(t, "data-message.json")), 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if n := len(vl.Lines()); n != 14 {
		t.Errorf("%d records over https", n)
	}
	noCA, _ := newTestBridge(t, vl.URL, &Options{DeadlineMargin: 100 * time.Millisecond})
	_, err = invoke(t, noCA, encodeEvent(t, fixture(t, "data-message.json")), time.Second)
	var de *DeliveryError
	if !errors.As(err, &de) || !strings.Contains(de.Last, "certificate") {
		t.Errorf("without the CA: %v", err)
	}
}

func TestMalformedPayloads(t *testing.T) {
	vl := newFakeVL(t)
	b, log := newTestBridge(t, vl.URL, &Options{MaxDataSize: 1 << 20})
	good := encodeEvent(t, fixture(t, "data-message.json"))
	bomb := encodeRaw(t, []byte(`{"messageType":"DATA_MESSAGE","logGroup":"g","logStream":"s","logEvents":[{"id":"1","timestamp":1,"message":"`+strings.Repeat("A", 2<<20)+`"}]}`))
	f := func(name string, payload []byte, where, reason string) {
		t.Helper()
		_, err := invoke(t, b, payload, 5*time.Second)
		var me *MalformedError
		if !errors.As(err, &me) {
			t.Errorf("%s: err = %v, want a *MalformedError", name, err)
			return
		}
		if me.Where != where || !strings.Contains(me.Reason, reason) {
			t.Errorf("%s: %v; want it at %s, saying %q", name, err, where, reason)
		}
	}
	f("empty", []byte(``), "payload", "not a JSON object")
	f("not JSON", []byte(`awslogs`), "payload", "not a JSON object")
	f("another event", []byte(`{"Records":null,"detail-type":"x"}`), "Records", "not a JSON array")
	f("S3 event", []byte(`{"version":"0","source":"aws.s3"}`), "payload", "neither a CloudWatch Logs subscription event")
	f("no data", []byte(`{"awslogs":{}}`), "awslogs.data", "missing")
	f("data not a string", []byte(`{"awslogs":{"data":42}}`), "awslogs.data", "missing, or not a string")
	f("bad base64", []byte(`{"awslogs":{"data":"H4sI!!!"}}`), "awslogs.data", "not base64")
	f("not gzip", []byte(`{"awslogs":{"data":"aGVsbG8gd29ybGQ="}}`), "awslogs.data", "not gzip")
	f("gzip cut short", append(good[:len(good)-40:len(good)-40], `"}}`...), "awslogs.data", "")
	f("a gzip bomb", bomb, "awslogs.data", "decompresses to more than 1048576 bytes")
	f("not the format", encodeRaw(t, []byte(`{"hello":"world"}`)), "awslogs.data", "no messageType")
	f("unknown type", encodeRaw(t, []byte(`{"messageType":"PING"}`)), "awslogs.data", `messageType "PING"`)
	f("no log group", encodeRaw(t, []byte(`{"messageType":"DATA_MESSAGE","logStream":"s","logEvents":[]}`)), "awslogs.data", "without a logGroup")
	f("events not an array", encodeRaw(t, []byte(`{"messageType":"DATA_MESSAGE","logGroup":"g","logStream":"s","logEvents":{}}`)), "awslogs.data", "logEvents: not a JSON array")
	f("broken JSON", encodeRaw(t, []byte(`{"messageType":"DATA_MESSAGE","logGroup":"g","logStream":"s","logEvents":[{"id":"1"`)), "awslogs.data", "unexpected end")
	f("SQS body not JSON", []byte(`{"Records":[{"messageId":"m1","body":"x","eventSource":"aws:sqs"},{"body":"y"}]}`), "Records[1]", "no messageId")
	if vl.Received() != 0 {
		t.Errorf("%d requests for malformed input", vl.Received())
	}
	for _, l := range log.lines(t) {
		if n, _ := l["MalformedMessages"].(float64); n < 1 || l["error_type"] != "MalformedError" {
			t.Errorf("summary line of a malformed payload: %v", l)
		}
	}
}

// Log events that cannot be read are skipped and counted; the others of the same message are
// delivered and the invocation succeeds.
func TestMalformedEventsDoNotBlockTheOthers(t *testing.T) {
	vl := newFakeVL(t)
	b, _ := newTestBridge(t, vl.URL, nil)
	msg := `{"messageType":"DATA_MESSAGE","owner":"1","logGroup":"/g","logStream":"s","subscriptionFilters":["f"],"logEvents":[
		{"id":"1","timestamp":1796186000000,"message":"good one"},
		{"id":"2","timestamp":"yesterday","message":"bad time"},
		{"id":"3","timestamp":1796186000000},
		{"timestamp":1796186000000,"message":"no id"},
		"not an object",
		{"id":"6","timestamp":1796186000000,"message":{"not":"a string"}},
		{"id":"7","timestamp":1796186000000,"message":"good two","extra":[1,2]},
		{"id":"8","timestamp":1796186000000,"message":"caf` + "\xe9" + ` \ud800"}]}`
	resp, err := invoke(t, b, encodeRaw(t, []byte(msg)), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var sum Summary
	json.Unmarshal(resp, &sum)
	if sum.Events != 8 || sum.Delivered != 3 || sum.MalformedEvents != 5 || sum.InvalidUTF8 != 1 || len(sum.Errors) != 6 {
		t.Errorf("%+v", sum)
	}
	recs := byID(t, vl)
	if recs["1"]["msg"] != "good one" || recs["7"]["msg"] != "good two" || recs["8"][FieldInvalidUTF8] != true || recs["8"]["msg"] != "caf\uFFFD \uFFFD" {
		t.Errorf("%v", recs)
	}
}

// The replay: the SQS event source mapping of the on-failure queue gives the function
// destination records; it sends what they hold and names the messages that failed.
func TestReplayFromTheQueue(t *testing.T) {
	vl := newFakeVL(t)
	b, log := newTestBridge(t, vl.URL, nil)
	ev := encodeEvent(t, fixture(t, "data-message.json"))
	resp, err := invoke(t, b, sqsEvent(
		destinationRecord(ev),
		[]byte(`{"requestPayload":{"awslogs":{"data":"not base64!"}}}`),
		encodeEvent(t, fixture(t, "cwagent-nginx-access.json")), // sent to the queue by hand
		destinationRecord(encodeEvent(t, fixture(t, "control-message.json"))),
		[]byte(`not json`),
	), 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var r SQSResponse
	if err := json.Unmarshal(resp, &r); err != nil {
		t.Fatal(err)
	}
	got := []string{}
	for _, f := range r.BatchItemFailures {
		got = append(got, f.ItemIdentifier)
	}
	if strings.Join(got, ",") != "m2,m5" {
		t.Errorf("batchItemFailures %v, want m2,m5", got)
	}
	if n := len(byID(t, vl)); n != 16 {
		t.Errorf("%d records replayed, want 16", n)
	}
	l := log.lines(t)[0]
	if l["source"] != "sqs" || l["Replayed"] != 16.0 || l["MalformedMessages"] != 2.0 || l["Messages"] != 3.0 {
		t.Errorf("summary line %v", l)
	}

	// A replay that fails to deliver keeps the message in the queue.
	vl.SetFault(func(int64, http.ResponseWriter, *http.Request) int { panic(http.ErrAbortHandler) })
	b2, _ := newTestBridge(t, vl.URL, &Options{Buffer: fastRetries, DeadlineMargin: 100 * time.Millisecond})
	resp, err = invoke(t, b2, sqsEvent(destinationRecord(ev)), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if string(resp) != `{"batchItemFailures":[{"itemIdentifier":"m1"}]}` {
		t.Errorf("response %s", resp)
	}
}

// A destination record delivered directly (a Lambda or EventBridge destination) is read too.
func TestDestinationRecord(t *testing.T) {
	vl := newFakeVL(t)
	b, _ := newTestBridge(t, vl.URL, nil)
	ev := encodeEvent(t, fixture(t, "data-message.json"))
	if _, err := invoke(t, b, destinationRecord(ev), 5*time.Second); err != nil {
		t.Fatal(err)
	}
	eb := []byte(`{"version":"0","id":"1","detail-type":"Lambda Function Invocation Result - Failure","source":"lambda","detail":` + string(destinationRecord(ev)) + `}`)
	if _, err := invoke(t, b, eb, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if n := len(vl.Lines()); n != 28 {
		t.Errorf("%d records, want 28", n)
	}
}

// The function's own log group is never forwarded, and nothing is written about it (the line
// would be one more event of that log group).
func TestOwnLogGroupIsSkipped(t *testing.T) {
	vl := newFakeVL(t)
	b, log := newTestBridge(t, vl.URL, &Options{OwnLogGroup: "/ecs/order-api"})
	resp, err := invoke(t, b, encodeEvent(t, fixture(t, "data-message.json")), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if vl.Received() != 0 || log.String() != "" || !strings.Contains(string(resp), `"skipped_own_log_group":14`) {
		t.Errorf("own log group: %d requests, log %q, response %s", vl.Received(), log.String(), resp)
	}
}

// An event larger than the buffer is sent in several flushes: nothing is dropped.
func TestLargerThanTheBuffer(t *testing.T) {
	vl := newFakeVL(t)
	b, _ := newTestBridge(t, vl.URL, &Options{Buffer: optsBuffer{Size: 1 << 20, BatchSize: 64 << 10}})
	payload := encodeEvent(t, maxEvent(t, 3000, 1796186000000))
	resp, err := invoke(t, b, payload, 20*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(byID(t, vl)); n != 3000 {
		t.Errorf("%d records, want 3000: %s", n, resp)
	}
	if most := vl.MaxInFlight(); most > 2 {
		t.Errorf("%d requests in flight, want at most InFlight (2)", most)
	}
}

// Invoke leaves no goroutine behind (one output per message, closed at the end).
func TestNoGoroutineLeak(t *testing.T) {
	vl := newFakeVL(t)
	b, _ := newTestBridge(t, vl.URL, nil)
	ev := encodeEvent(t, fixture(t, "data-message.json"))
	invoke(t, b, ev, 5*time.Second)
	before := runtime.NumGoroutine()
	for range 20 {
		if _, err := invoke(t, b, ev, 5*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		buf := make([]byte, 1<<16)
		t.Errorf("%d goroutines after 20 invocations, %d before:\n%s", n, before, buf[:runtime.Stack(buf, true)])
	}
}
