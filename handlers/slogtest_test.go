package handlers

import (
	"bytes"
	"encoding/json"
	"testing"
	"testing/slogtest"
)

func TestSlogtest(t *testing.T) {
	var buf bytes.Buffer
	h := NewJSONHandler(&buf, &Options{Service: "svc", Env: "test", Version: "1"})
	results := func() []map[string]any {
		var ms []map[string]any
		for _, line := range bytes.Split(buf.Bytes(), []byte{'\n'}) {
			if len(line) == 0 {
				continue
			}
			var m map[string]any
			if err := json.Unmarshal(line, &m); err != nil {
				t.Fatal(err)
			}
			// Map the schema's keys back to slog's.
			if v, ok := m["event_time"]; ok {
				m["time"] = v
				delete(m, "event_time")
			}
			ms = append(ms, m)
		}
		return ms
	}
	if err := slogtest.TestHandler(h, results); err != nil {
		t.Fatal(err)
	}
}
