package bridge

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"go.vlog.dev/handlers/schema"
	"go.vlog.dev/redact"
)

func testBuilder(t testing.TB, r *redact.Redactor) *builder {
	t.Helper()
	return &builder{
		msgKeys: DefaultMessageKeys(), timeKeys: DefaultTimeKeys(), skew: int64(DefaultMaxClockSkew),
		r: r, maxLine: DefaultMaxLineSize,
		keep: append(DefaultStreamFields(), FieldLogGroup, FieldLogStream, FieldAccount, FieldEventID, FieldTaskID),
	}
}

func newRedactor(t testing.TB) *redact.Redactor {
	t.Helper()
	r, err := redact.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// buildOne builds the record of a message logged at the fixture's time in the fixture's
// stream, and decodes it.
func buildOne(t *testing.T, b *builder, message string) (map[string]any, result) {
	t.Helper()
	js, _ := json.Marshal(message)
	s, _, err := scanString(js, 0)
	if err != nil {
		t.Fatal(err)
	}
	return buildToken(t, b, s)
}

func buildToken(t *testing.T, b *builder, s str) (map[string]any, result) {
	t.Helper()
	st := newStream(&logData{Owner: "123456789012", LogGroup: "/ecs/order-api", LogStream: "ecs/order-api/5f1e0c8a9b7d4e3f8a2b1c0d9e8f7a6b"})
	line, res := b.build(st, &logEvent{ID: []byte("38291740234780102938475610293847561029384756102938475601"), Timestamp: 1796186000123, Message: s})
	if !json.Valid(line) || !utf8.Valid(line) {
		t.Fatalf("not valid JSON/UTF-8: %s", line)
	}
	if len(line) > b.maxLine {
		t.Fatalf("%d bytes, over %d", len(line), b.maxLine)
	}
	if bytes.Contains(line, []byte("\n")) {
		t.Fatalf("a record with a newline: %q", line)
	}
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		t.Fatal(err)
	}
	return m, res
}

func TestBuildFields(t *testing.T) {
	b := testBuilder(t, newRedactor(t))
	f := func(message string, want map[string]any) {
		t.Helper()
		got, _ := buildOne(t, b, message)
		// The fields every record has.
		base := map[string]any{
			FieldLogGroup: "/ecs/order-api", FieldLogStream: "ecs/order-api/5f1e0c8a9b7d4e3f8a2b1c0d9e8f7a6b",
			FieldAccount: "123456789012", FieldEventID: "38291740234780102938475610293847561029384756102938475601",
			FieldContainer: "order-api", FieldTaskID: "5f1e0c8a9b7d4e3f8a2b1c0d9e8f7a6b",
		}
		for k, v := range want {
			if v == nil {
				delete(base, k)
			} else {
				base[k] = v
			}
		}
		if !reflect.DeepEqual(got, base) {
			gj, _ := json.Marshal(got)
			wj, _ := json.Marshal(base)
			t.Errorf("message %.80q:\n got %s\nwant %s", message, gj, wj)
		}
	}
	const cw = "2026-12-02T04:33:20.123000000Z" // the event's timestamp

	// vlog's schema: msg and event_time taken, the rest as they are; its own container wins.
	f(`{"event_time":"2026-12-02T04:33:20.123456789Z","level":"info","msg":"order created","service":"order-api","container":"api","amount":19.99,"http":{"status":201}}`,
		map[string]any{"event_time": "2026-12-02T04:33:20.123456789Z", "msg": "order created", "level": "info", "service": "order-api",
			"container": "api", "amount": json.Number("19.99"), "http": map[string]any{"status": json.Number("201")}})
	// slog.JSONHandler: time with an offset.
	f(`{"time":"2026-12-02T05:33:20.2+01:00","level":"INFO","msg":"cache warmed"}`,
		map[string]any{"event_time": "2026-12-02T04:33:20.200000000Z", "msg": "cache warmed", "level": "INFO"})
	// zap: ts in float seconds; logstash: @timestamp and message; pino: ms.
	f(`{"level":"info","ts":1796186000.25,"msg":"listening"}`,
		map[string]any{"event_time": "2026-12-02T04:33:20.250000000Z", "msg": "listening", "level": "info"})
	f(`{"@timestamp":"2026-12-02T04:33:20.45Z","message":"paid","log.level":"info"}`,
		map[string]any{"event_time": "2026-12-02T04:33:20.450000000Z", "msg": "paid", "log.level": "info"})
	f(`{"level":30,"time":1796186000350,"msg":"done"}`,
		map[string]any{"event_time": "2026-12-02T04:33:20.350000000Z", "msg": "done", "level": json.Number("30")})
	// msg wins over message; a message that is not a string is no message.
	f(`{"message":"second","msg":"first"}`, map[string]any{"event_time": cw, "msg": "first", "message": "second"})
	f(`{"msg":{"text":"x"},"message":"y"}`, map[string]any{"event_time": cw, "msg": "y", "attr.msg": map[string]any{"text": "x"}})
	f(`{"level":"info"}`, map[string]any{"event_time": cw, "msg": "", "level": "info"})
	// A time that is not the record's (a duration, a clock a year off) stays a field.
	f(`{"msg":"job done","time":3.5}`, map[string]any{"event_time": cw, "msg": "job done", "time": json.Number("3.5")})
	f(`{"msg":"old","time":"2025-12-02T04:33:20Z"}`, map[string]any{"event_time": cw, "msg": "old", "time": "2025-12-02T04:33:20Z"})
	f(`{"msg":"x","event_time":"not a time","time":"2026-12-02T04:33:21Z"}`,
		map[string]any{"event_time": "2026-12-02T04:33:21.000000000Z", "msg": "x", "attr.event_time": "not a time"})
	// Members named like the bridge's fields are renamed; the record's container and task id win.
	f(`{"msg":"m","log_group":"mine","cw_event_id":"x","aws_account":"1","log_stream":"s","vlog_invalid_utf8":1,"ecs_task_id":"t"}`,
		map[string]any{"event_time": cw, "msg": "m", "attr.log_group": "mine", "attr.cw_event_id": "x", "attr.aws_account": "1",
			"attr.log_stream": "s", "attr.vlog_invalid_utf8": json.Number("1"), "ecs_task_id": "t"})
	// Text: the message as it is, at the event's timestamp, without its trailing newline.
	f("INFO:worker:started\n", map[string]any{"event_time": cw, "msg": "INFO:worker:started"})
	f("line one\nline two\r\n", map[string]any{"event_time": cw, "msg": "line one\nline two"})
	f(`{"msg":"cut`, map[string]any{"event_time": cw, "msg": `{"msg":"cut`})
	f(`[1,2,3]`, map[string]any{"event_time": cw, "msg": `[1,2,3]`})
	f(`  {"msg":"padded"}  `, map[string]any{"event_time": cw, "msg": "padded"})
	f("Grüße aus Köln – 東京タワー 🚀", map[string]any{"event_time": cw, "msg": "Grüße aus Köln – 東京タワー 🚀"})
	f(`{"msg":"注文 ✓ \"q\" \u0007"}`, map[string]any{"event_time": cw, "msg": "注文 ✓ \"q\" \a"})
}

func TestBuildRedacts(t *testing.T) {
	b := testBuilder(t, newRedactor(t))
	f := func(message string, want map[string]any) {
		t.Helper()
		got, _ := buildOne(t, b, message)
		for k, v := range want {
			if !reflect.DeepEqual(got[k], v) {
				t.Errorf("message %q: %s = %#v, want %#v", message, k, got[k], v)
			}
		}
	}
	f(`{"msg":"login","password":"hunter2","user":"alice"}`, map[string]any{"password": "[REDACTED]", "user": "alice"})
	f(`{"msg":"h","headers":{"Authorization":"Bearer abc.def-ghi_jkl123","X-Api-Key":["k1","k2"]}}`,
		map[string]any{"headers": map[string]any{"Authorization": "[REDACTED]", "X-Api-Key": "[REDACTED]"}})
	f(`{"msg":"paid with 4111 1111 1111 1111","card":4111111111111111,"order":1796186000123}`,
		map[string]any{"msg": "paid with [REDACTED]", "card": "[REDACTED]", "order": json.Number("1796186000123")})
	f(`{"msg":"dial postgres://app:s3cr3t@db:5432/x"}`, map[string]any{"msg": "dial postgres://app:[REDACTED]@db:5432/x"})
	f("connecting to postgres://app:s3cr3t-pw@db.internal:5432/orders", map[string]any{"msg": "connecting to postgres://app:[REDACTED]@db.internal:5432/orders"})
	f("key AKIAIOSFODNN7EXAMPLE in text", map[string]any{"msg": "key [REDACTED] in text"})
	f(`{"msg":"escaped \"password\":\"hunter2\" inside"}`, map[string]any{"msg": `escaped "password":"[REDACTED]" inside`})

	// Off: nothing is masked.
	off := testBuilder(t, nil)
	got, _ := buildOne(t, off, `{"msg":"login","password":"hunter2"}`)
	if got["password"] != "hunter2" {
		t.Errorf("redaction off: password = %v", got["password"])
	}
}

// FuzzRedactMatchesAppendJSON checks the member-by-member redaction against
// redact.Redactor.AppendJSON, the library's, on the same JSON object: both must decode to the
// same value.
func FuzzRedactMatchesAppendJSON(f *testing.F) {
	for _, s := range []string{
		`{"msg":"login","password":"hunter2","headers":{"Authorization":"Bearer abc.def-ghi"}}`,
		`{"a":[1,{"token":{"x":1}},"AKIAIOSFODNN7EXAMPLE"],"card":4111111111111111,"n":-4111111111111111}`,
		`{"q":"GET /x?access_token=abc\u0026sig=zz","e":"\u00e9\ud83d\ude80","api_key":"\"quoted\""}`,
		`{"pem":"-----BEGIN PRIVATE KEY-----\nMIIEv\n-----END PRIVATE KEY-----","url":"https://u:p@h/"}`,
		`{"Bearer abcdefgh1234":1,"nested":{"deeper":{"secret":[1,2],"ok":true,"nil":null}}}`,
	} {
		f.Add([]byte(s))
	}
	r, err := redact.New(nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		if !json.Valid(in) || !utf8.Valid(in) {
			return
		}
		p := skipWS(in, 0)
		if p >= len(in) || in[p] != '{' {
			return
		}
		b := testBuilder(t, r)
		end, err := skipValue(in, p)
		if err != nil {
			t.Fatal(err)
		}
		got := b.appendValue(nil, in[p:end])
		want := r.AppendJSON(nil, in[p:end])
		var g, w any
		if err := json.Unmarshal(got, &g); err != nil {
			t.Fatalf("appendValue(%s) = %s: not JSON: %v", in, got, err)
		}
		if err := json.Unmarshal(want, &w); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(g, w) {
			t.Fatalf("appendValue(%s)\n = %s\nAppendJSON gives\n   %s", in, got, want)
		}
	})
}

func TestBuildInvalidUTF8(t *testing.T) {
	b := testBuilder(t, newRedactor(t))
	// A message whose bytes are not UTF-8 (raw in the JSON string), and one with a lone
	// surrogate escape: both become U+FFFD, marked.
	for _, raw := range []string{"\"caf\xe9 au lait \xff\"", `"lone \ud800 surrogate"`, "\"{\\\"msg\\\":\\\"caf\xe9\\\"}\""} {
		s, _, err := scanString([]byte(raw), 0)
		if err != nil {
			t.Fatal(err)
		}
		got, res := buildToken(t, b, s)
		if !res.invalidUTF8 || got[FieldInvalidUTF8] != true {
			t.Errorf("%q: invalidUTF8 = %v, %s = %v", raw, res.invalidUTF8, FieldInvalidUTF8, got[FieldInvalidUTF8])
		}
		if msg, _ := got["msg"].(string); !strings.Contains(msg, "\uFFFD") {
			t.Errorf("%q: msg = %q, want U+FFFD in it", raw, msg)
		}
	}
}

// A message at CloudWatch Logs' limit (256 KiB minus its 26 bytes of overhead) grows past
// VictoriaLogs' line limit with the bridge's fields and JSON escaping: it is cut with the
// library's marker, keeping the schema's, the stream and the bridge's fields.
func TestBuildTruncatesAtTheLineLimit(t *testing.T) {
	b := testBuilder(t, newRedactor(t))
	const cwMax = 256<<10 - 26
	check := func(name, message string) {
		t.Helper()
		if len(message) != cwMax {
			t.Fatalf("%s: %d bytes", name, len(message))
		}
		got, res := buildOne(t, b, message)
		if !res.truncated {
			t.Fatalf("%s: not truncated", name)
		}
		if n, _ := got[schema.Truncated].(json.Number); n == "" {
			t.Errorf("%s: no %s: %v", name, schema.Truncated, got)
		}
		for _, k := range []string{"event_time", "msg", FieldLogGroup, FieldLogStream, FieldAccount, FieldEventID, FieldContainer, FieldTaskID} {
			if _, ok := got[k]; !ok {
				t.Errorf("%s: %s lost in truncation", name, k)
			}
		}
	}
	// Text full of quotes (each escaped to two bytes).
	check("text", strings.Repeat(`say "hi" `, cwMax/9)+strings.Repeat("x", cwMax%9))
	// A vlog record with a huge attribute: its schema fields survive.
	head := `{"event_time":"2026-12-02T04:33:20.123456789Z","level":"error","msg":"big","service":"order-api","env":"prod","request_id":"r-1","dump":"`
	rec := head + strings.Repeat("é", (cwMax-len(head)-2)/2)
	rec += strings.Repeat("x", cwMax-len(rec)-2) + `"}`
	check("json", rec)
	got, _ := buildOne(t, b, rec)
	for k, v := range map[string]any{"service": "order-api", "env": "prod", "request_id": "r-1", "level": "error", "event_time": "2026-12-02T04:33:20.123456789Z"} {
		if got[k] != v {
			t.Errorf("json: %s = %v after truncation, want %v", k, got[k], v)
		}
	}
}

func TestParseECSStream(t *testing.T) {
	f := func(name, container, task string) {
		t.Helper()
		c, tk, ok := parseECSStream(name)
		if ok != (container != "") || c != container || tk != task {
			t.Errorf("parseECSStream(%q) = %q, %q, %v; want %q, %q", name, c, tk, ok, container, task)
		}
	}
	f("ecs/order-api/5f1e0c8a9b7d4e3f8a2b1c0d9e8f7a6b", "order-api", "5f1e0c8a9b7d4e3f8a2b1c0d9e8f7a6b")
	f("prod/orders/web_1/5f1e0c8a9b7d4e3f8a2b1c0d9e8f7a6b", "web_1", "5f1e0c8a9b7d4e3f8a2b1c0d9e8f7a6b")
	f("ecs/app/2b3f9a4e-6c1d-4e8f-9a0b-1c2d3e4f5a6b", "app", "2b3f9a4e-6c1d-4e8f-9a0b-1c2d3e4f5a6b") // an old task id
	f("order-api/5f1e0c8a9b7d4e3f8a2b1c0d9e8f7a6b", "", "")                                          // no prefix
	f("i-0abc1234def567890", "", "")                                                                 // the agent's default stream
	f("ecs/order-api/not-a-task-id", "", "")
	f("ecs/order api/5f1e0c8a9b7d4e3f8a2b1c0d9e8f7a6b", "", "")
	f("ecs/order-api/5F1E0C8A9B7D4E3F8A2B1C0D9E8F7A6B", "", "")
	f("2026/12/02/[$LATEST]c3ad5cef73594c73806b88d5d3939a98", "", "") // a Lambda stream
	f("", "", "")
}

func TestBuildAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are not meaningful under -race")
	}
	b := testBuilder(t, newRedactor(t))
	js, _ := json.Marshal(`{"event_time":"2026-12-02T04:33:20.123456789Z","level":"info","msg":"order created","service":"order-api","env":"prod","request_id":"4c3b2a19f8e7d6c5b4a39281706f5e4d","amount":19.99,"http":{"method":"POST","status":201}}`)
	s, _, _ := scanString(js, 0)
	st := newStream(&logData{Owner: "1", LogGroup: "/ecs/order-api", LogStream: "ecs/order-api/5f1e0c8a9b7d4e3f8a2b1c0d9e8f7a6b"})
	ev := &logEvent{ID: []byte("1"), Timestamp: 1796186000123, Message: s}
	b.build(st, ev)
	if n := testing.AllocsPerRun(100, func() { b.build(st, ev) }); n != 0 {
		t.Errorf("build allocates %v times per record, want 0", n)
	}
}
