package handlers

import (
	"bytes"
	"encoding/json"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
	"go.vlog.dev/internal/vtest"
)

// capture is a concurrency-safe writer that keeps every record it is given.
type capture struct {
	mu    sync.Mutex
	lines [][]byte
}

func (c *capture) Write(p []byte) (int, error) {
	c.mu.Lock()
	c.lines = append(c.lines, bytes.Clone(p))
	c.mu.Unlock()
	return len(p), nil
}

// last returns the last record, checked to be exactly one line of valid JSON.
func (c *capture) last(t testing.TB) []byte {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	require.NotEmpty(t, c.lines, "no record written")
	line := c.lines[len(c.lines)-1]
	checkLine(t, line)
	return line
}

// lastMap decodes the last record.
func (c *capture) lastMap(t testing.TB) map[string]any {
	t.Helper()
	return decode(t, c.last(t))
}

func checkLine(t testing.TB, line []byte) {
	t.Helper()
	require.True(t, bytes.HasSuffix(line, []byte("\n")), "record does not end in a newline: %q", line)
	require.Equal(t, 1, bytes.Count(line, []byte("\n")), "record is not one line: %q", line)
	require.True(t, json.Valid(line), "invalid JSON: %q", line)
}

func decode(t testing.TB, line []byte) map[string]any { return vtest.Decode(t, line) }

// keys returns the top-level keys of a JSON object in order, to check order and duplicates.
func keys(t testing.TB, line []byte) []string {
	t.Helper()
	d := json.NewDecoder(bytes.NewReader(line))
	tok, err := d.Token()
	require.NoError(t, err)
	require.Equal(t, json.Delim('{'), tok)
	var ks []string
	for d.More() {
		tok, err := d.Token()
		require.NoError(t, err)
		ks = append(ks, tok.(string))
		var skip json.RawMessage
		require.NoError(t, d.Decode(&skip))
	}
	return ks
}

func newTestHandler(opts *Options) (*JSONHandler, *capture) {
	c := &capture{}
	if opts == nil {
		opts = &Options{Service: "svc", Env: "test", Version: "1.0.0"}
	}
	return NewJSONHandler(c, opts), c
}

// oracle returns what encoding/json makes of v after a round trip.
func oracle(t testing.TB, v any) any {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	var out any
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	require.NoError(t, d.Decode(&out))
	return out
}
