package schema

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestTruncateLine(t *testing.T) {
	keep := func(k string) bool { return k == "container" }
	f := func(in string, max int, want string) {
		t.Helper()
		got := string(truncateLine(nil, []byte(in), max, keep))
		require.LessOrEqual(t, len(got), max, got)
		require.True(t, json.Valid([]byte(got)), got)
		if strings.HasSuffix(want, "}") {
			require.Equal(t, want, got)
		} else {
			require.True(t, strings.HasPrefix(got, want), got)
		}
	}
	f(`{"msg":"`+strings.Repeat("a", 100)+`"}`, 60, `{"msg":"aaaaaaaaaaaaaaaaaaaaaaaaaaaa","vlog_truncated":110}`)
	f(`{"level":"info","x":"`+strings.Repeat("é", 100)+`","y":1}`, 80, `{"level":"info","x":"éééééééééééééééééé","vlog_truncated":229}`)
	f(`{"a":[`+strings.Repeat("1,", 100)+`1],"container":"c"}`, 64, `{"container":"c","vlog_truncated":225}`)
	f(`{"msg":"`+strings.Repeat(`\u0001`, 100)+`"}`, 100, `{"msg":"`+strings.Repeat(`\u0001`, 8)+`","vlog_truncated":610}`)
	f(`{"msg":"x","a":"`+strings.Repeat("\x01", 100)+`"}`, 1024, `{"event_time":"`)
	f(`{"vlog_truncated":5,"msg":"`+strings.Repeat("a", 100)+`"}`, 64, `{"msg":"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa","vlog_truncated":129}`)
	f(`not json`+strings.Repeat("a", 100), 1024, "")
	f(`{"event_time":"2026-11-22T02:55:54.123456789Z","msg":"`+strings.Repeat("a", 100)+`"`, 1024, "")
}

func TestTruncate(t *testing.T) {
	rec := []byte(`{"event_time":"2026-11-22T02:55:54.123456789Z","level":"info","msg":"m","service":"s","http":{"route":"/x"},"big":"` +
		strings.Repeat("b", 5000) + `"}`)
	got := Truncate([]byte("x"), rec, 1024, "service", "http.route")
	require.Equal(t, byte('x'), got[0], "appends")
	var m map[string]any
	d := json.NewDecoder(bytes.NewReader(got[1:]))
	d.UseNumber()
	require.NoError(t, d.Decode(&m))
	require.LessOrEqual(t, len(got)-1, 1024)
	require.Equal(t, map[string]any{"route": "/x"}, m["http"], "a stream field inside an object keeps the object")
	require.Equal(t, json.Number(strconv.Itoa(len(rec))), m[Truncated])
	require.Contains(t, m["big"], "bbb")
}

func FuzzTruncateLine(f *testing.F) {
	f.Add([]byte(`{"event_time":"2026-11-22T02:55:54.123456789Z","level":"info","msg":"hello","service":"s","a":{"b":[1,2,"x"]},"c":"déjà vu"}`), 40)
	f.Add([]byte(`{"msg":"\u2028\ud83d\ude00","x":null,"y":true}`), 30)
	f.Fuzz(func(t *testing.T, in []byte, max int) {
		max = 40 + abs(max)%400
		out := truncateLine(nil, in, max, func(k string) bool { return k == "container" })
		if len(out) > max {
			t.Fatalf("%d bytes > %d: %s", len(out), max, out)
		}
		var m map[string]any
		if err := json.Unmarshal(out, &m); err != nil {
			t.Fatalf("invalid JSON %s: %v", out, err)
		}
		if bytes.ContainsAny(out, "\n\r") {
			t.Fatalf("not one line: %q", out)
		}
		if _, ok := m[Truncated]; !ok {
			t.Fatalf("no marker: %s", out)
		}
	})
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}
