package bridge

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"go.vlog.dev/bridge/internal/bridgetest"
	"go.vlog.dev/internal/vtest"
)

// fixture reads testdata/name.
func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

var (
	encodeEvent       = bridgetest.EncodeEvent
	encodeRaw         = bridgetest.EncodeRaw
	destinationRecord = bridgetest.DestinationRecord
	sqsEvent          = bridgetest.SQSEvent
)

type fakeVL = vtest.VictoriaLogs

// newFakeVL starts a fake VictoriaLogs expecting what the bridge sends by default.
func newFakeVL(t testing.TB) *fakeVL {
	return bridgetest.NewVictoriaLogs(t, strings.Join(DefaultStreamFields(), ","), DefaultMaxLineSize, FieldLogGroup, FieldLogStream, FieldEventID)
}

func byID(t testing.TB, vl *fakeVL) map[string]map[string]any { return vl.ByField(t, FieldEventID) }

func maxEvent(t testing.TB, n int, baseMillis int64) []byte {
	return bridgetest.Records(t, n, baseMillis)
}

// newTestBridge returns a Bridge sending to url with opts (nil: defaults), its summary lines
// going to the returned buffer.
func newTestBridge(t testing.TB, url string, opts *Options) (*Bridge, *syncBuffer) {
	t.Helper()
	if opts == nil {
		opts = &Options{}
	}
	o := *opts
	if o.VictoriaLogs.URLs == nil {
		o.VictoriaLogs.URLs = []string{url}
	}
	log := &syncBuffer{}
	if o.Log == nil {
		o.Log = log
	}
	if o.FunctionName == "" {
		o.FunctionName = "vlog-bridge-test"
	}
	b, err := New(&o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b, log
}

// syncBuffer is a bytes.Buffer safe for concurrent use.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()
}

// lines returns the summary lines written, decoded.
func (s *syncBuffer) lines(t testing.TB) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(s.String()), "\n") {
		if l == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("summary line is not JSON: %v: %s", err, l)
		}
		out = append(out, m)
	}
	return out
}
