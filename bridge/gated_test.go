package bridge

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.vlog.dev/bridge/internal/bridgetest"
	"go.vlog.dev/handlers/schema"
)

// The gated tests run against a real VictoriaLogs: VLOG_TEST_VICTORIALOGS_URL=http://127.0.0.1:9428
// go test -run Gated -v . (they passed against v1.26.0). Each run writes to log groups of its
// own, /ecs/gated-<run>/..., so runs do not see each other's records.

func gatedURL(t *testing.T) string {
	t.Helper()
	u := os.Getenv("VLOG_TEST_VICTORIALOGS_URL")
	if u == "" {
		t.Skip("VLOG_TEST_VICTORIALOGS_URL is not set")
	}
	return strings.TrimRight(u, "/")
}

// vlQuery runs a LogsQL query and returns its rows.
func vlQuery(t *testing.T, base, q string) []map[string]string {
	t.Helper()
	resp, err := http.Get(base + "/select/logsql/query?" + url.Values{"query": {q}}.Encode())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("query %q: %s: %s", q, resp.Status, b)
	}
	var rows []map[string]string
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 4<<20)
	for sc.Scan() {
		var row map[string]string
		if err := json.Unmarshal(sc.Bytes(), &row); err != nil {
			t.Fatalf("query %q: %v: %s", q, err, sc.Bytes())
		}
		rows = append(rows, row)
	}
	return rows
}

// vlCount waits until the query's count() reaches want (VictoriaLogs makes rows searchable
// within about a second), and returns the last count.
func vlCount(t *testing.T, base, q string, want int) int {
	t.Helper()
	n := -1
	for end := time.Now().Add(15 * time.Second); time.Now().Before(end); time.Sleep(200 * time.Millisecond) {
		rows := vlQuery(t, base, q+" | stats count() as n")
		n = 0
		if len(rows) == 1 {
			n, _ = strconv.Atoi(rows[0]["n"])
		}
		if n >= want {
			// A count can see rows a moment before the other queries do.
			time.Sleep(time.Second)
			return n
		}
	}
	return n
}

func TestGatedRecords(t *testing.T) {
	base := gatedURL(t)
	run := strconv.FormatInt(time.Now().UnixNano(), 36)
	logGroup := "/ecs/gated-" + run + "/order-api"
	now := time.Now().UTC().Truncate(time.Millisecond).Add(-time.Minute)
	at := func(ms int) time.Time { return now.Add(time.Duration(ms) * time.Millisecond) }
	vlogTime := at(1).Add(456789) // nanoseconds the CloudWatch timestamp cannot carry
	reqID := "req-" + run
	huge := `{"event_time":"` + at(7).Format(time.RFC3339Nano) + `","level":"error","msg":"huge","service":"order-api","env":"prod","request_id":"` + reqID + `-huge","dump":"`
	huge += strings.Repeat(`\"x\" `, (256<<10-26-len(huge)-2)/6)
	huge += strings.Repeat("y", 256<<10-26-len(huge)-2) + `"}`
	messages := []string{
		fmt.Sprintf(`{"event_time":%q,"level":"info","msg":"order created","service":"order-api","env":"prod","version":"1.4.2","request_id":%q,"ecs_cluster":"prod","container":"order-api","order_id":"ord-7","amount":19.99,"http":{"status":201}}`, vlogTime.Format(time.RFC3339Nano), reqID),
		fmt.Sprintf(`{"time":%q,"level":"INFO","msg":"cache warmed","entries":1200}`, at(50).In(time.FixedZone("", 3600)).Format(time.RFC3339Nano)),
		"INFO:worker:started worker 3 of 8",
		`10.0.1.17 - - [02/Dec/2026:04:33:20 +0000] "GET /orders/ord-7 HTTP/1.1" 200 612 "-" "curl/8.5.0"`,
		"Grüße aus Köln – 東京タワー 🚀",
		`{"msg":"login","user":"alice","password":"hunter2"}`,
		huge,
	}
	msg := bridgetest.DataMessage(t, messages, now, 0)
	// The stream of an ECS task, and a log group of this run.
	msg = bytes.Replace(msg, []byte(`"/ecs/order-api"`), []byte(strconv.Quote(logGroup)), 1)
	// A message that is not UTF-8 (a raw byte in the JSON string).
	msg = bytes.Replace(msg, []byte(`"INFO:worker:started worker 3 of 8"`), []byte("\"INFO:worker:started worker 3 of 8 \xff\""), 1)
	event := encodeRaw(t, msg)

	b, _ := newTestBridge(t, base, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	resp, err := b.Invoke(ctx, event)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("response: %s", resp)
	lg := fmt.Sprintf("log_group:=%q", logGroup)
	if n := vlCount(t, base, lg, len(messages)); n != len(messages) {
		t.Fatalf("%d records in VictoriaLogs, want %d", n, len(messages))
	}

	// By service: only the records that said so (vlog's).
	if rows := vlQuery(t, base, lg+" service:order-api"); len(rows) != 2 {
		t.Errorf("service:order-api finds %d records, want 2", len(rows))
	}
	// By request_id: vlog's record, as fields, at its own time to the nanosecond, in the
	// stream of the default stream fields.
	rows := vlQuery(t, base, fmt.Sprintf("request_id:=%q", reqID))
	if len(rows) != 1 {
		t.Fatalf("request_id finds %d records", len(rows))
	}
	r := rows[0]
	for k, v := range map[string]string{
		"_msg": "order created", "_time": vlogTime.Format(time.RFC3339Nano), "service": "order-api", "env": "prod", "level": "info",
		"container": "order-api", "http.status": "201", "amount": "19.99", FieldLogGroup: logGroup, FieldAccount: "123456789012",
		FieldLogStream: "ecs/order-api/5f1e0c8a9b7d4e3f8a2b1c0d9e8f7a6b", FieldTaskID: "5f1e0c8a9b7d4e3f8a2b1c0d9e8f7a6b",
		"_stream": fmt.Sprintf(`{aws_account="123456789012",container="order-api",env="prod",log_group=%q,service="order-api"}`, logGroup),
	} {
		if r[k] != v {
			t.Errorf("request_id record: %s = %q, want %q", k, r[k], v)
		}
	}
	if r[FieldEventID] == "" || r["event_time"] != "" {
		t.Errorf("cw_event_id %q, event_time %q (it is _time)", r[FieldEventID], r["event_time"])
	}
	// By _time: the slog record at its own time (with its offset), in a one-millisecond window.
	rows = vlQuery(t, base, fmt.Sprintf("_time:[%s, %s] %s", at(50).Format(time.RFC3339Nano), at(50).Add(time.Millisecond-1).Format(time.RFC3339Nano), lg))
	if len(rows) != 1 || rows[0]["_msg"] != "cache warmed" {
		t.Errorf("_time window finds %v", rows)
	}
	// Text, at the event's timestamp; repaired UTF-8; redaction; truncation.
	want := func(q string, fields map[string]string) {
		t.Helper()
		rows := vlQuery(t, base, lg+" "+q)
		if len(rows) != 1 {
			t.Errorf("%s finds %d records", q, len(rows))
			return
		}
		for k, v := range fields {
			if rows[0][k] != v {
				t.Errorf("%s: %s = %.100q, want %.100q", q, k, rows[0][k], v)
			}
		}
	}
	want(`"started worker"`, map[string]string{"_msg": "INFO:worker:started worker 3 of 8 \uFFFD", "_time": at(2).Format(time.RFC3339Nano), FieldInvalidUTF8: "true"})
	want(`"GET /orders/ord-7"`, map[string]string{"_time": at(3).Format(time.RFC3339Nano)})
	want(`"東京タワー"`, map[string]string{"_msg": "Grüße aus Köln – 東京タワー 🚀"})
	want(`user:alice`, map[string]string{"password": "[REDACTED]", "_msg": "login"})
	want(fmt.Sprintf("request_id:=%q", reqID+"-huge"), map[string]string{"service": "order-api", "level": "error", "_time": at(7).Format(time.RFC3339Nano),
		FieldLogGroup: logGroup, FieldEventID: fmt.Sprintf("3829174023478010293847561029384756102938475%013d", 6)})
	if rows := vlQuery(t, base, lg+" "+schema.Truncated+":*"); len(rows) != 1 || len(rows[0]["_msg"]) == 0 {
		t.Errorf("the record over the line limit: %d truncated records", len(rows))
	}

	// Duplicates: a second delivery of the same event (a Lambda retry) is found, and removed
	// at query time, by cw_event_id.
	if _, err := b.Invoke(ctx, event); err != nil {
		t.Fatal(err)
	}
	if n := vlCount(t, base, lg, 2*len(messages)); n != 2*len(messages) {
		t.Fatalf("%d records after the second delivery", n)
	}
	dups := vlQuery(t, base, lg+" | stats by (cw_event_id) count() as n | filter n:>1 | stats count() as dups")
	if len(dups) != 1 || dups[0]["dups"] != strconv.Itoa(len(messages)) {
		t.Errorf("duplicates found: %v, want %d", dups, len(messages))
	}
	// Listing without the copies: one record per cw_event_id. (Counting them: count_uniq;
	// v1.26 answers 1 to "first ... partition by ... | stats count()".)
	if unique := vlQuery(t, base, lg+" | first 1 by (_time) partition by (cw_event_id)"); len(unique) != len(messages) {
		t.Errorf("records without duplicates: %d, want %d", len(unique), len(messages))
	}
	if n := vlQuery(t, base, lg+" | stats count_uniq(cw_event_id) as n"); len(n) != 1 || n[0]["n"] != strconv.Itoa(len(messages)) {
		t.Errorf("count_uniq(cw_event_id) = %v, want %d", n, len(messages))
	}
}

// The line limit, as VictoriaLogs v1.26 applies it: a line of exactly 256 KiB is dropped, and
// the line after it too; 256 KiB - 1 is stored. This is why DefaultMaxLineSize is 262143.
func TestGatedLineLimit(t *testing.T) {
	base := gatedURL(t)
	run := strconv.FormatInt(time.Now().UnixNano(), 36)
	for _, n := range []int{262143, 262144} {
		tag := fmt.Sprintf("gated-%s-%d", run, n)
		head := fmt.Sprintf(`{"event_time":%q,"msg":"","tag":%q,"pad":"`, time.Now().UTC().Format(time.RFC3339Nano), tag)
		line := head + strings.Repeat("x", n-len(head)-2) + `"}`
		next := fmt.Sprintf(`{"event_time":%q,"msg":"next","tag":"%s-next"}`, time.Now().UTC().Format(time.RFC3339Nano), tag)
		req, _ := http.NewRequest(http.MethodPost, base+"/insert/jsonline?_msg_field=msg&_time_field=event_time&_stream_fields=tag", strings.NewReader(line+"\n"+next+"\n"))
		req.Header.Set("Content-Type", "application/stream+json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		time.Sleep(1500 * time.Millisecond)
		got := vlCount(t, base, fmt.Sprintf("tag:%q*", tag), 0)
		t.Logf("a line of %d bytes and the next: %d stored (HTTP %d)", n, got, resp.StatusCode)
		if n == 262143 && got != 2 || n == 262144 && got != 0 {
			t.Errorf("a line of %d bytes: %d of 2 lines stored", n, got)
		}
	}
}

// The guide's Python forwarder against the same VictoriaLogs: as the guide writes it (no
// Content-Type) it stores nothing; with the header, it stores each record as one opaque _msg
// at the time of ingestion, so that service:order-api finds nothing.
func TestGatedPythonForwarder(t *testing.T) {
	base := gatedURL(t)
	python, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("no python3")
	}
	run := strconv.FormatInt(time.Now().UnixNano(), 36)
	msgTime := time.Now().UTC().Add(-time.Hour) // the records' own time: an hour ago
	for _, exact := range []bool{true, false} {
		logGroup := fmt.Sprintf("/ecs/gated-%s-python-%v", run, exact)
		msg := bridgetest.DataMessage(t, []string{bridgetest.VlogRecord(1, msgTime, "py"), bridgetest.VlogRecord(2, msgTime, "py")}, msgTime, 0)
		msg = bytes.Replace(msg, []byte(`"/ecs/order-api"`), []byte(strconv.Quote(logGroup)), 1)
		path := filepath.Join(t.TempDir(), "event.json")
		os.WriteFile(path, encodeRaw(t, msg), 0o644)
		args := []string{"testdata/forwarder.py", path, "1"}
		if exact {
			args = append(args, "--guide-exact")
		}
		cmd := exec.Command(python, args...)
		cmd.Env = append(os.Environ(), "VICTORIALOGS_URL="+base+"/insert/jsonline?_stream_fields=log_group,log_stream")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%v: %s", err, out)
		}
		time.Sleep(1500 * time.Millisecond)
		rows := vlQuery(t, base, fmt.Sprintf("log_group:=%q", logGroup))
		if exact {
			if len(rows) != 0 {
				t.Errorf("the guide's forwarder as written: %d records stored, want 0", len(rows))
			}
			t.Logf("the guide's forwarder as written (no Content-Type): %d of 2 records stored", len(rows))
			continue
		}
		if n := vlCount(t, base, fmt.Sprintf("log_group:=%q", logGroup), 2); n != 2 {
			t.Fatalf("with a Content-Type: %d records", n)
		}
		if n := len(vlQuery(t, base, fmt.Sprintf("log_group:=%q service:order-api", logGroup))); n != 0 {
			t.Errorf("service:order-api finds %d of the Python forwarder's records", n)
		}
		for end := time.Now().Add(10 * time.Second); time.Now().Before(end); time.Sleep(200 * time.Millisecond) {
			if rows = vlQuery(t, base, fmt.Sprintf("log_group:=%q", logGroup)); len(rows) == 2 {
				break
			}
		}
		if len(rows) != 2 {
			t.Fatalf("%d rows", len(rows))
		}
		tm, _ := time.Parse(time.RFC3339Nano, rows[0]["_time"])
		if tm.Sub(msgTime) < 30*time.Minute {
			t.Errorf("_time %v: want the time of ingestion, not the record's (%v)", tm, msgTime)
		}
		t.Logf("with a Content-Type: stored with _msg %.60q..., _time %s (the record's own: %s)", rows[0]["_msg"], rows[0]["_time"], msgTime.Format(time.RFC3339))
	}
}
