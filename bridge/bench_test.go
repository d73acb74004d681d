package bridge

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.vlog.dev/bridge/internal/bridgetest"
)

// BenchmarkForwarders runs the bridge and the guide's Python forwarder (testdata/forwarder.py,
// with the Content-Type it lacks, so that VictoriaLogs stores its records) side by side in one
// run, on the same maximum-size subscription event (1 MiB of vlog records, PutLogEvents'
// limit), into the same VictoriaLogs:
//
//	VLOG_TEST_VICTORIALOGS_URL=http://127.0.0.1:9428 go test -run '^$' -bench Forwarders -benchtime 20x .
//
// records/s is wall-clock, the send to VictoriaLogs included; cpu-us/record is the
// forwarder's own CPU time (user and system, all its threads; VictoriaLogs' is not counted)
// per record. The variants of the bridge show where its CPU goes; the ceilings replay the
// requests each forwarder sends, built beforehand: VictoriaLogs' own rate for those records.
func BenchmarkForwarders(b *testing.B) {
	base := os.Getenv("VLOG_TEST_VICTORIALOGS_URL")
	if base == "" {
		b.Skip("VLOG_TEST_VICTORIALOGS_URL is not set")
	}
	msg, records := bridgetest.MaxSizeMessage(b, time.Now().Add(-time.Minute), "bench", 0)
	run := strconv.FormatInt(time.Now().UnixNano(), 36)
	msg = bytes.Replace(msg, []byte(`"/ecs/order-api"`), []byte(`"/ecs/bench-`+run+`"`), 1)
	payload := encodeRaw(b, msg)
	b.Logf("event: %d log events, %d bytes decoded, %d bytes of payload", records, len(msg), len(payload))

	for _, v := range []struct {
		name string
		env  []string
	}{
		{"bridge", nil}, // the library's default compression
		{"bridge-zstd", []string{"VLOG_VICTORIALOGS_COMPRESS=zstd"}},
		{"bridge-gzip", []string{"VLOG_VICTORIALOGS_COMPRESS=gzip"}},
		{"bridge-uncompressed", []string{"VLOG_VICTORIALOGS_COMPRESS=none"}},
		{"bridge-no-redaction", []string{"VLOG_REDACT=false"}},
	} {
		b.Run(v.name, func(b *testing.B) {
			o, err := OptionsFromEnv(append([]string{"VICTORIALOGS_URL=" + base}, v.env...))
			if err != nil {
				b.Fatal(err)
			}
			o.Log = io.Discard
			br, _ := newTestBridge(b, "", o)
			invokeOnce := func() {
				ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
				defer cancel()
				if _, err := br.Invoke(ctx, payload); err != nil {
					b.Fatal(err)
				}
			}
			invokeOnce() // connections, pools
			b.ResetTimer()
			cpu0, wall0 := cpuTime(), time.Now()
			for range b.N {
				invokeOnce()
			}
			report(b, records*b.N, time.Since(wall0), cpuTime()-cpu0)
		})
	}

	// The ceiling: the requests the bridge sends for this event (captured from one invocation
	// at the defaults), replayed as they are, at once, over as many connections: VictoriaLogs'
	// own rate for these records, which no forwarder of them can pass.
	b.Run("ceiling-bridge-requests", func(b *testing.B) {
		o, err := OptionsFromEnv([]string{"VICTORIALOGS_URL=" + base})
		if err != nil {
			b.Fatal(err)
		}
		o.Log = io.Discard
		rec := &recordingTransport{base: http.DefaultTransport}
		o.VictoriaLogs.HTTPClient = &http.Client{Transport: rec}
		br, _ := newTestBridge(b, "", o)
		if _, err := br.Invoke(context.Background(), payload); err != nil {
			b.Fatal(err)
		}
		b.Logf("%d requests, %d bytes of bodies", len(rec.requests), rec.bodyBytes())
		replay(b, rec.requests, records)
	})

	// The same for the Python forwarder's one request: its four fields per line, encoded here
	// by encoding/json (without HTML escaping, as json.dumps; json.dumps also escapes non-ASCII
	// as \uXXXX, which this does not: the body differs by a few bytes, not in its fields).
	b.Run("ceiling-python-request", func(b *testing.B) {
		var d struct {
			LogGroup, LogStream string
			LogEvents           []struct {
				Message   string
				Timestamp int64
			}
		}
		if err := json.Unmarshal(msg, &d); err != nil {
			b.Fatal(err)
		}
		var body bytes.Buffer
		enc := json.NewEncoder(&body)
		enc.SetEscapeHTML(false)
		for _, e := range d.LogEvents {
			_ = enc.Encode(struct {
				Msg       string `json:"_msg"`
				Timestamp int64  `json:"timestamp"`
				LogGroup  string `json:"log_group"`
				LogStream string `json:"log_stream"`
			}{e.Message, e.Timestamp, d.LogGroup, d.LogStream})
		}
		h := http.Header{"Content-Type": {"application/stream+json"}}
		replay(b, []recordedRequest{{pythonURL(base), h, body.Bytes()}}, len(d.LogEvents))
	})

	b.Run("python", func(b *testing.B) {
		python, err := exec.LookPath("python3")
		if err != nil {
			b.Skip("no python3")
		}
		path := filepath.Join(b.TempDir(), "event.json")
		if err := os.WriteFile(path, payload, 0o644); err != nil {
			b.Fatal(err)
		}
		cmd := exec.Command(python, "testdata/forwarder.py", path, strconv.Itoa(b.N))
		cmd.Env = append(os.Environ(), "VICTORIALOGS_URL="+pythonURL(base))
		out, err := cmd.Output()
		if err != nil {
			b.Fatalf("%v: %s", err, out)
		}
		var res struct {
			Records int     `json:"records"`
			Wall    float64 `json:"wall_s"`
			CPU     float64 `json:"cpu_s"`
		}
		if err := json.Unmarshal(out, &res); err != nil {
			b.Fatalf("%v: %s", err, out)
		}
		b.ReportMetric(0, "ns/op")
		report(b, res.Records, time.Duration(res.Wall*1e9), time.Duration(res.CPU*1e9))
	})
}

// recordingTransport keeps a copy of every request it sends.
type recordingTransport struct {
	base     http.RoundTripper
	mu       sync.Mutex
	requests []recordedRequest
}

type recordedRequest struct {
	url    string
	header http.Header
	body   []byte
}

func (t *recordingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	body, err := io.ReadAll(req.Body)
	req.Body.Close()
	if err != nil {
		return nil, err
	}
	t.mu.Lock()
	t.requests = append(t.requests, recordedRequest{req.URL.String(), req.Header.Clone(), body})
	t.mu.Unlock()
	r := req.Clone(req.Context())
	r.Body = io.NopCloser(bytes.NewReader(body))
	return t.base.RoundTrip(r)
}

func (t *recordingTransport) bodyBytes() int {
	n := 0
	for _, r := range t.requests {
		n += len(r.body)
	}
	return n
}

// replay sends the requests b.N times, all of one round at once, each round after the one
// before, and reports the records/s (records per round) and the CPU this process spent.
func replay(b *testing.B, requests []recordedRequest, records int) {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: len(requests), DisableCompression: true}}
	defer client.CloseIdleConnections()
	round := func() {
		var wg sync.WaitGroup
		for _, rr := range requests {
			wg.Add(1)
			go func() {
				defer wg.Done()
				req, _ := http.NewRequest(http.MethodPost, rr.url, bytes.NewReader(rr.body))
				req.Header = rr.header.Clone()
				resp, err := client.Do(req)
				if err != nil {
					b.Error(err)
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusNoContent {
					b.Errorf("status %d", resp.StatusCode)
				}
			}()
		}
		wg.Wait()
	}
	round() // connections
	b.ResetTimer()
	cpu0, wall0 := cpuTime(), time.Now()
	for range b.N {
		round()
	}
	report(b, records*b.N, time.Since(wall0), cpuTime()-cpu0)
}

// pythonURL is the Python forwarder's VICTORIALOGS_URL, as the guide gives it.
func pythonURL(base string) string {
	return base + "/insert/jsonline?_stream_fields=log_group,log_stream"
}

func report(b *testing.B, records int, wall, cpu time.Duration) {
	b.ReportMetric(float64(records)/wall.Seconds(), "records/s")
	b.ReportMetric(float64(cpu.Microseconds())/float64(records), "cpu-us/record")
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkDecodeAndBuild is the bridge's work on the same event without the network: base64,
// gunzip and the subscription JSON (decode), then one record per log event (build: the
// message's JSON, the fields, redaction), per record.
func BenchmarkDecodeAndBuild(b *testing.B) {
	msg, records := bridgetest.MaxSizeMessage(b, time.Now(), "bench", 0)
	payload := encodeRaw(b, msg)
	members, _, _ := scanObject(payload, 0, nil)
	data, where, err := findData(members, "", 0)
	if err != nil {
		b.Fatal(err)
	}
	for _, redaction := range []bool{true, false} {
		name := "redaction"
		if !redaction {
			name = "no-redaction"
		}
		b.Run(name, func(b *testing.B) {
			var r = newRedactor(b)
			if !redaction {
				r = nil
			}
			bl := testBuilder(b, r)
			dec := &decoder{maxSize: DefaultMaxDataSize}
			b.ReportAllocs()
			b.SetBytes(int64(len(msg)))
			for range b.N {
				raw, err := dec.decode(where, data)
				if err != nil {
					b.Fatal(err)
				}
				d, err := parseLogData(raw, dec.events, &dec.text)
				if err != nil {
					b.Fatal(err)
				}
				dec.events = d.Events[:0]
				s := newStream(d)
				for i := range d.Events {
					bl.build(s, &d.Events[i])
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*records), "ns/record")
		})
	}
}

// TestWriteMaxEvent writes the benchmarks' maximum-size event, as a Lambda payload, to the
// file VLOG_TEST_WRITE_EVENT names, for measuring the Python forwarder on it alone:
//
//	VLOG_TEST_WRITE_EVENT=/tmp/event.json go test -run TestWriteMaxEvent .
//	valgrind --tool=callgrind python3 testdata/forwarder.py /tmp/event.json 2 --no-post
func TestWriteMaxEvent(t *testing.T) {
	path := os.Getenv("VLOG_TEST_WRITE_EVENT")
	if path == "" {
		t.Skip("VLOG_TEST_WRITE_EVENT is not set")
	}
	msg, records := bridgetest.MaxSizeMessage(t, time.Now().Add(-time.Minute), "bench", 0)
	if err := os.WriteFile(path, encodeRaw(t, msg), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("%s: %d log events", path, records)
}
