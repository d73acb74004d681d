package benchmarks

// Benchmarks of the victorialogs output (issue 4, item 7; the codec: "VictoriaLogs output CPU").
//
// BenchmarkCompress: the CPU, ratio, bytes per record and encoder memory of each body
// compression on the batches the writer sends (256 KiB, and 2 MiB under load) of standard
// records, every body checked to decode (gzip with compress/gzip); BenchmarkDecompress: what
// decoding them costs VictoriaLogs (with the decoders it uses). No server needed.
//
//	go test -run '^$' -bench 'Compress' -benchtime 2s
//
// TestVictoriaLogsReport: records/s that the writer sustains into a real VictoriaLogs, against
// the best raw upload of the same records (pre-built ~1 MiB gzip bodies over 1, 2 and 4
// connections, no encoding or compression on the clock), with the application's CPU per
// record (getrusage of this process), given its pid VictoriaLogs' CPU per record, and the
// bytes per record on the wire. The codecs side by side: each one the transport has
// (Compression), and the stdlib's gzip, which it no longer has, applied in the HTTP client of a
// writer that sends uncompressed bodies (with a control row of a codec done both ways). At the
// end it asks VictoriaLogs (/select/logsql/query) whether every writer's records arrived.
//
//	VLOG_TEST_VICTORIALOGS_URL=http://127.0.0.1:9428 VLOG_BENCH_VL_PID=$(pidof victoria-logs) \
//	    go test -run 'TestVictoriaLogsReport' -v -timeout 60m
//
// VLOG_BENCH_RECORDS (default 2000000) records per run, VLOG_BENCH_ROUNDS (default 3) rounds,
// VLOG_BENCH_RUNS a regexp selecting runs by name.

import (
	"bytes"
	"cmp"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	kgzip "github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"

	"go.vlog.dev/handlers"
	"go.vlog.dev/handlers/output"
	"go.vlog.dev/handlers/victorialogs"
	"go.vlog.dev/vlog"
)

// vlRecords encodes n standard records, each with its own order id, user id, amount and
// duration (identical records would compress unrealistically well), and the given time base.
func vlRecords(n int, env string) [][]byte {
	var out [][]byte
	w := writerFunc(func(p []byte) (int, error) { out = append(out, bytes.Clone(p)); return len(p), nil })
	h := handlers.NewJSONHandler(w, &handlers.Options{Service: service, Env: env, Version: version})
	ctx := vlog.WithRequestID(context.Background(), requestID)
	logger := slog.New(h)
	for i := range n {
		logger.LogAttrs(vlog.WithRequestID(ctx, fmt.Sprintf("req-%012x", i*7919)), slog.LevelInfo, msg, vlAttrs(i)...)
	}
	return out
}

func vlAttrs(i int) []slog.Attr {
	return []slog.Attr{
		slog.String("order_id", fmt.Sprintf("ord-%012x", i*104729)),
		slog.Int("user_id", 1000+i%5000),
		slog.Float64("amount", float64(i%10000)/100),
		slog.Int("items", 1+i%7),
		slog.Duration("duration", time.Duration(i%997)*time.Millisecond),
		slog.Bool("ok", i%13 != 0),
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// codec is one way of compressing a body: compress appends the compressed src to dst, with an
// encoder (gzip writer) from a pool of encoders made by newEncoder, so a codec may be used from
// several goroutines at once (the writer has 2 batches in flight), as the transport does.
type codec struct {
	name       string
	encoding   string // the Content-Encoding
	newEncoder func() func(dst, src []byte) []byte
	compress   func(dst, src []byte) []byte
}

func newCodec(name, encoding string, newEncoder func() func(dst, src []byte) []byte) codec {
	pool := sync.Pool{New: func() any { return newEncoder() }}
	return codec{name, encoding, newEncoder, func(dst, src []byte) []byte {
		enc := pool.Get().(func(dst, src []byte) []byte)
		dst = enc(dst, src)
		pool.Put(enc)
		return dst
	}}
}

// appendBuffer is an io.Writer appending to a slice.
type appendBuffer struct{ b []byte }

func (a *appendBuffer) Write(p []byte) (int, error) { a.b = append(a.b, p...); return len(p), nil }

// gzipCodec compresses with writers made by newWriter.
func gzipCodec[W interface {
	io.WriteCloser
	Reset(io.Writer)
}](name string, newWriter func() W) codec {
	return newCodec(name, "gzip", func() func(dst, src []byte) []byte {
		zw := newWriter()
		return func(dst, src []byte) []byte {
			out := &appendBuffer{dst}
			zw.Reset(out)
			_, _ = zw.Write(src)
			_ = zw.Close()
			return out.b
		}
	})
}

// zstdCodec compresses with encoders of concurrency 1 and their EncodeAll, as the transport
// does.
func zstdCodec(name string, opts ...zstd.EOption) codec {
	opts = append([]zstd.EOption{zstd.WithEncoderConcurrency(1)}, opts...)
	return newCodec(name, "zstd", func() func(dst, src []byte) []byte {
		zw, err := zstd.NewWriter(nil, opts...)
		if err != nil {
			panic(err)
		}
		return func(dst, src []byte) []byte { return zw.EncodeAll(src, dst) }
	})
}

// codecs are the compressions compared: the stdlib's gzip (the transport's before this
// measurement), github.com/klauspost/compress's gzip (the transport's now) and zstd.
func codecs() []codec {
	return []codec{
		gzipCodec("stdlib-gzip-1", func() *gzip.Writer { w, _ := gzip.NewWriterLevel(nil, gzip.BestSpeed); return w }),
		gzipCodec("stdlib-gzip-6", func() *gzip.Writer { w, _ := gzip.NewWriterLevel(nil, gzip.DefaultCompression); return w }),
		gzipCodec("klauspost-gzip-1", func() *kgzip.Writer { w, _ := kgzip.NewWriterLevel(nil, kgzip.BestSpeed); return w }),
		gzipCodec("klauspost-gzip-default", func() *kgzip.Writer { w, _ := kgzip.NewWriterLevel(nil, kgzip.DefaultCompression); return w }),
		// The transport's: a window of 512 KiB instead of the level's 4 MiB (see
		// BenchmarkCompress's MiB/encoder).
		zstdCodec("klauspost-zstd-fastest", zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithWindowSize(512<<10)),
		zstdCodec("klauspost-zstd-fastest-window-4MiB", zstd.WithEncoderLevel(zstd.SpeedFastest)),
		zstdCodec("klauspost-zstd-default", zstd.WithEncoderLevel(zstd.SpeedDefault)),
	}
}

func codecByName(name string) codec {
	for _, c := range codecs() {
		if c.name == name {
			return c
		}
	}
	panic("no codec " + name)
}

// decompress decodes a body of the given encoding with the standard library's gzip (the
// reference decoder) or klauspost's zstd.
func decompress(encoding string, body []byte) ([]byte, error) {
	switch encoding {
	case "gzip":
		zr, err := gzip.NewReader(bytes.NewReader(body))
		if err != nil {
			return nil, err
		}
		return io.ReadAll(zr)
	case "zstd":
		zr, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1))
		if err != nil {
			return nil, err
		}
		defer zr.Close()
		return zr.DecodeAll(body, nil)
	}
	return nil, fmt.Errorf("encoding %q", encoding)
}

// vlBatches returns the standard records cut into batches of the sizes the writer sends: 256
// KiB (its default batch size) and 2 MiB (the most a batch grows to under load), and how many
// records each holds.
func vlBatches() (names []string, batches [][]byte, records []int) {
	recs := vlRecords(8000, env)
	for _, size := range []int{256 << 10, 2 << 20} {
		var batch []byte
		n := 0
		for _, r := range recs {
			if len(batch)+len(r) > size {
				break
			}
			batch = append(batch, r...)
			n++
		}
		names = append(names, fmt.Sprintf("batch=%dKiB", size>>10))
		batches, records = append(batches, batch), append(records, n)
	}
	return names, batches, records
}

// BenchmarkCompress compresses a batch; ns/op is per batch, the metrics per record: CPU
// (ns/record), the compression ratio, and the bytes on the wire per record (B/record); and
// MiB/encoder, the memory one encoder (gzip writer) keeps after compressing the batch. Every
// body is checked to decode (gzip with the standard library's reader) to the batch.
func BenchmarkCompress(b *testing.B) {
	names, batches, records := vlBatches()
	for i, batch := range batches {
		n := records[i]
		for _, c := range codecs() {
			b.Run(names[i]+"/codec="+c.name, func(b *testing.B) {
				mem := encoderMemory(c.name, batch)
				var body []byte
				b.SetBytes(int64(len(batch)))
				for b.Loop() {
					body = c.compress(body[:0], batch)
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/record")
				b.ReportMetric(float64(len(batch))/float64(len(body)), "ratio")
				b.ReportMetric(float64(len(body))/float64(n), "B/record")
				b.ReportMetric(mem, "MiB/encoder")
				if got, err := decompress(c.encoding, body); err != nil || !bytes.Equal(got, batch) {
					b.Fatalf("%s: the body does not decode to the batch: %v", c.name, err)
				}
			})
		}
	}
}

// encoderMemory returns the MiB of heap that a new encoder of the named codec keeps after it
// compressed batch (a pool keeps it for the next body).
func encoderMemory(name string, batch []byte) float64 {
	heap := func() uint64 {
		runtime.GC()
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	c := codecByName(name)
	h0 := heap()
	enc := c.newEncoder()
	out := enc(nil, batch)
	h1 := heap()
	runtime.KeepAlive(enc)
	return (float64(h1) - float64(h0) - float64(cap(out))) / (1 << 20)
}

// BenchmarkDecompress decodes the bodies of BenchmarkCompress with the decoders VictoriaLogs
// uses (klauspost/compress's gzip reader, and its zstd when VictoriaLogs is built without cgo):
// VictoriaLogs' side of the choice, in ns/record.
func BenchmarkDecompress(b *testing.B) {
	names, batches, records := vlBatches()
	zd, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1))
	if err != nil {
		b.Fatal(err)
	}
	defer zd.Close()
	for i, batch := range batches {
		n := records[i]
		for _, c := range codecs() {
			b.Run(names[i]+"/codec="+c.name, func(b *testing.B) {
				body := c.compress(nil, batch)
				var out []byte
				var zr *kgzip.Reader
				b.SetBytes(int64(len(batch)))
				for b.Loop() {
					var err error
					if c.encoding == "zstd" {
						out, err = zd.DecodeAll(body, out[:0])
					} else {
						if zr == nil {
							zr, err = kgzip.NewReader(bytes.NewReader(body))
						} else {
							err = zr.Reset(bytes.NewReader(body))
						}
						if err == nil {
							w := &appendBuffer{out[:0]}
							_, err = io.Copy(w, zr)
							out = w.b
						}
					}
					if err != nil || len(out) != len(batch) {
						b.Fatalf("%s: %v (%d bytes of %d)", c.name, err, len(out), len(batch))
					}
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/record")
			})
		}
	}
}

// vlCPU returns the process's user+system CPU time so far.
func vlCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// vlServerCPU returns a function reading VictoriaLogs' CPU time from /proc, or nil.
func vlServerCPU() func() time.Duration {
	pid := os.Getenv("VLOG_BENCH_VL_PID")
	if pid == "" {
		return nil
	}
	return func() time.Duration {
		b, err := os.ReadFile("/proc/" + strings.TrimSpace(pid) + "/stat")
		if err != nil {
			return 0
		}
		f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+2:]))
		ut, _ := strconv.ParseInt(f[11], 10, 64)
		st, _ := strconv.ParseInt(f[12], 10, 64)
		return time.Duration(ut+st) * 10 * time.Millisecond // USER_HZ = 100
	}
}

type vlResult struct {
	name                 string
	ref                  bool // a raw upload of gzip bodies: "best raw" is the best of these
	records              int
	elapsed              time.Duration
	appCPU, serverCPU    time.Duration
	wire                 int64 // request body bytes
	drops                uint64
	serverCPUMeasurement bool
	env                  string // the records' env, for checking that they arrived; "" not checked
}

func (r vlResult) rate() float64 { return float64(r.records) / r.elapsed.Seconds() }

// measure runs f (which delivers records) and takes the times around it.
func measure(name string, records int, f func() uint64) vlResult {
	server := vlServerCPU()
	runtime.GC()
	var s0 time.Duration
	if server != nil {
		s0 = server()
	}
	c0, t0 := vlCPU(), time.Now()
	drops := f()
	r := vlResult{name: name, records: records, elapsed: time.Since(t0), appCPU: vlCPU() - c0, drops: drops}
	if server != nil {
		r.serverCPU, r.serverCPUMeasurement = server()-s0, true
	}
	return r
}

// vlInsertPath is the insert URL's path and query, as the transport sends it.
const vlInsertPath = "/insert/jsonline?_msg_field=msg&_time_field=event_time&_stream_fields=service,env,ecs_cluster,container"

// rawUpload posts pre-built bodies of ~1 MiB (Content-Encoding encoding) over conns
// connections until total records were sent.
func rawUpload(t *testing.T, name, base, encoding string, bodies [][]byte, perBody, total, conns int) vlResult {
	u := base + vlInsertPath
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: conns, DisableCompression: true}}
	defer client.CloseIdleConnections()
	var wire atomic.Int64
	r := measure(name, total/perBody*perBody, func() uint64 {
		var next atomic.Int64
		var wg sync.WaitGroup
		for range conns {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					i := next.Add(1) - 1
					if int(i) >= total/perBody {
						return
					}
					body := bodies[int(i)%len(bodies)]
					req, _ := http.NewRequest(http.MethodPost, u, bytes.NewReader(body))
					req.Header.Set("Content-Type", "application/stream+json")
					req.Header.Set("Content-Encoding", encoding)
					resp, err := client.Do(req)
					if err != nil {
						t.Error(err)
						return
					}
					resp.Body.Close()
					if resp.StatusCode != 200 {
						t.Errorf("status %d", resp.StatusCode)
					}
					wire.Add(int64(len(body)))
				}
			}()
		}
		wg.Wait()
		return 0
	})
	r.wire = wire.Load()
	return r
}

// countingTransport counts the bytes of the request bodies it sends and, with a codec,
// compresses them first: a writer with Compression "none" then sends bodies compressed by a
// codec the transport does not have, the compression still on the writer's goroutine and CPU.
type countingTransport struct {
	base  *http.Transport
	codec *codec
	wire  atomic.Int64
	bufs  sync.Pool
}

func (c *countingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if c.codec == nil || req.Body == nil {
		c.wire.Add(req.ContentLength)
		return c.base.RoundTrip(req)
	}
	if req.Header.Get("Content-Encoding") != "" {
		return nil, fmt.Errorf("countingTransport: the body is already %s-encoded", req.Header.Get("Content-Encoding"))
	}
	if req.ContentLength < 0 {
		return nil, errors.New("countingTransport: a body of unknown length")
	}
	// The uncompressed body read into a buffer of its size (one copy, ~0.05 µs per record),
	// compressed into another; both pooled.
	bufs, _ := c.bufs.Get().(*[2][]byte)
	if bufs == nil {
		bufs = new([2][]byte)
	}
	defer c.bufs.Put(bufs)
	raw := slices.Grow(bufs[0][:0], int(req.ContentLength))[:req.ContentLength]
	_, err := io.ReadFull(req.Body, raw)
	req.Body.Close()
	if err != nil {
		return nil, err
	}
	body := c.codec.compress(bufs[1][:0], raw)
	bufs[0], bufs[1] = raw, body
	r := req.Clone(req.Context())
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.GetBody = nil
	r.ContentLength = int64(len(body))
	r.Header.Set("Content-Encoding", c.codec.encoding)
	c.wire.Add(r.ContentLength)
	resp, err := c.base.RoundTrip(r)
	if resp != nil {
		resp.Request = req
	}
	return resp, err
}

// writerRun logs total standard records through vlog.New into VictoriaLogs as fast as the
// output takes them: the producer waits while the buffer is more than 3/4 full, so nothing is
// dropped and the rate is the one the output sustains. Close is on the clock. The requests go
// through a countingTransport (with the settings of the transport's own client) that counts
// the bytes on the wire and, given a codec name, compresses them.
func writerRun(t *testing.T, name, base, runEnv string, total int, buf *output.BufferOptions, vl *victorialogs.Options, codecName string) vlResult {
	ct := &countingTransport{base: &http.Transport{MaxIdleConnsPerHost: 64, IdleConnTimeout: 30 * time.Second, DisableCompression: true}}
	defer ct.base.CloseIdleConnections()
	if codecName != "" {
		c := codecByName(codecName)
		ct.codec = &c
	}
	var vlOpts victorialogs.Options
	if vl != nil {
		vlOpts = *vl
	}
	vlOpts.HTTPClient = &http.Client{Transport: ct}
	l, err := vlog.New(&vlog.Options{
		Environ:      []string{"SERVICE=" + service, "ENV=" + runEnv, "VERSION=" + version, "VICTORIALOGS_URL=" + base},
		Buffer:       buf,
		VictoriaLogs: &vlOpts,
	})
	if err != nil {
		t.Fatal(err)
	}
	size := 8 << 20
	if buf != nil && buf.Size > 0 {
		size = buf.Size
	}
	// The attributes and contexts are built once per distinct record: what is measured is the
	// writer.
	attrs, ctxs := vlWriterAttrs()
	r := measure(name, total, func() uint64 {
		for i := range total {
			l.LogAttrs(ctxs[i%len(ctxs)], slog.LevelInfo, msg, attrs[i%len(attrs)]...)
			if i%256 == 255 {
				for l.Stats().BufferedBytes > int64(size/4*3) {
					time.Sleep(time.Millisecond)
				}
			}
		}
		if err := l.Close(context.Background()); err != nil {
			t.Error(err)
		}
		s := l.Stats()
		if s.Delivered != s.Enqueued || s.Enqueued != uint64(total)+1 { // +1: the startup record
			t.Errorf("%s: delivered %d of %d: %+v", name, s.Delivered, total, s)
		}
		return s.Dropped.Total()
	})
	r.wire, r.env = ct.wire.Load(), runEnv
	return r
}

// vlCount asks VictoriaLogs how many records it has with this env.
func vlCount(base, env string) (int, error) {
	q := url.Values{"query": {fmt.Sprintf("env:=%q | stats count() as n", env)}}
	resp, err := http.Get(base + "/select/logsql/query?" + q.Encode())
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		return 0, fmt.Errorf("query: %d %s", resp.StatusCode, body)
	}
	var row struct{ N string }
	if err := json.Unmarshal(body, &row); err != nil {
		return 0, fmt.Errorf("query: %v: %q", err, body)
	}
	return strconv.Atoi(row.N)
}

// defaultCodec names the transport's default compression, for the report.
const defaultCodec = "klauspost/compress gzip level 1"

// vlCodecRuns are the report's rows of the compressions: at the defaults but for the codec.
var vlCodecRuns = []vlReportRun{
	{name: "writer, Compression zstd (klauspost/compress zstd fastest)", vl: &victorialogs.Options{Compression: "zstd"}},
	// The tables of benchmarks/README.md were measured before vlog.New took Compression "zstd":
	// they have this row (the same encoder and options, in the HTTP client) instead.
	{name: "writer, zstd fastest in the HTTP client (as Compression zstd)", vl: &victorialogs.Options{Compression: "none"}, codec: "klauspost-zstd-fastest"},
	{name: "writer, stdlib gzip level 1 in the HTTP client (the transport before)", vl: &victorialogs.Options{Compression: "none"}, codec: "stdlib-gzip-1"},
	{name: "writer, klauspost gzip level 1 in the HTTP client (control: as the defaults)", vl: &victorialogs.Options{Compression: "none"}, codec: "klauspost-gzip-1"},
	{name: "writer, gzip default level (klauspost's, level 5)", vl: &victorialogs.Options{GzipLevel: gzip.DefaultCompression}},
	{name: "writer, uncompressed", vl: &victorialogs.Options{Compression: "none"}},
}

// vlReportRun is one writer configuration of the report; codec, when set, is applied in the
// HTTP client of a writer with Compression "none" (see countingTransport).
type vlReportRun struct {
	name  string
	buf   *output.BufferOptions
	vl    *victorialogs.Options
	codec string
}

func TestVictoriaLogsReport(t *testing.T) {
	base := strings.TrimSuffix(os.Getenv("VLOG_TEST_VICTORIALOGS_URL"), "/")
	if base == "" {
		t.Skip("VLOG_TEST_VICTORIALOGS_URL is not set")
	}
	total := 2_000_000
	if s := os.Getenv("VLOG_BENCH_RECORDS"); s != "" {
		total, _ = strconv.Atoi(s)
	}
	runEnv := "bench-" + strconv.FormatInt(time.Now().UnixNano(), 10)

	// Bodies of ~1 MiB of gzip (level 1, the stdlib's: what the writer sent before zstd), of
	// the same records, and the same records in zstd bodies; the writer's own records (the
	// first 16384 of these, over and over) in bodies too, for VictoriaLogs' cost of exactly
	// what the writer sends.
	recs := vlRecords(200_000, runEnv)
	bodies, zbodies, perBody := vlBodies(recs)
	wbodies, wzbodies, wperBody := vlBodies(vlWriterRecords(200_000, runEnv))
	t.Logf("raw bodies: %d of ~%d KiB gzip, ~%d KiB zstd, %d records each (%d bytes/record before compression); of the writer's records: %d records each",
		len(bodies), len(bodies[0])>>10, len(zbodies[0])>>10, perBody, len(bytes.Join(recs[:perBody], nil))/perBody, wperBody)

	writers := []vlReportRun{
		{name: "writer, defaults (batch 256 KiB growing to 2 MiB, 2 batches in flight, 1 request each, " + defaultCodec + ")"},
		{name: "writer, session-1 defaults (1 batch in flight, split in 4 requests, not growing)", buf: &output.BufferOptions{MaxBatchSize: 256 << 10}, vl: &victorialogs.Options{InFlight: 1, Concurrency: 4}},
		{name: "writer, 1 batch in flight", vl: &victorialogs.Options{InFlight: 1}},
		{name: "writer, 4 batches in flight", vl: &victorialogs.Options{InFlight: 4}},
		{name: "writer, batches split in 4 requests", vl: &victorialogs.Options{Concurrency: 4}},
		{name: "writer, batch 1 MiB", buf: &output.BufferOptions{BatchSize: 1 << 20}},
		{name: "writer, buffer 32 MiB (max batch 8 MiB)", buf: &output.BufferOptions{Size: 32 << 20}},
	}
	writers = append(writers, vlCodecRuns...)
	only := regexp.MustCompile(os.Getenv("VLOG_BENCH_RUNS"))
	rounds := 3
	if s := os.Getenv("VLOG_BENCH_ROUNDS"); s != "" {
		rounds, _ = strconv.Atoi(s)
	}
	// Every run once per round, interleaved and in another order each round, so that a noisy
	// neighbour, and VictoriaLogs' merges of what the runs before stored, spread over all of
	// them; before each run the machine settles (see vlSettle). The table has the median round
	// of each.
	type run struct {
		name string
		f    func(round int) vlResult
	}
	var runs []run
	for _, c := range []int{1, 2, 4} {
		name := fmt.Sprintf("raw upload, %d connection(s)", c)
		runs = append(runs, run{name, func(int) vlResult {
			r := rawUpload(t, name, base, "gzip", bodies, perBody, total, c)
			r.ref = true
			return r
		}})
	}
	for _, r := range []struct {
		name, encoding string
		bodies         [][]byte
		perBody        int
	}{
		{"raw upload of zstd bodies, 4 connections (not a reference)", "zstd", zbodies, perBody},
		{"raw upload of the writer's records, gzip, 4 connections (not a reference)", "gzip", wbodies, wperBody},
		{"raw upload of the writer's records, zstd, 4 connections (not a reference)", "zstd", wzbodies, wperBody},
	} {
		runs = append(runs, run{r.name, func(int) vlResult { return rawUpload(t, r.name, base, r.encoding, r.bodies, r.perBody, total, 4) }})
	}
	for i, c := range writers {
		runs = append(runs, run{c.name, func(round int) vlResult {
			return writerRun(t, c.name, base, fmt.Sprintf("%s-%d-%d", runEnv, round, i), total, c.buf, c.vl, c.codec)
		}})
	}
	runs = slices.DeleteFunc(runs, func(r run) bool { return !only.MatchString(r.name) })
	if len(runs) == 0 {
		t.Skip("VLOG_BENCH_RUNS matches no run")
	}
	byName := map[string][]vlResult{}
	var all []vlResult
	for round := range rounds {
		order := rand.New(rand.NewPCG(uint64(round), 1)).Perm(len(runs))
		for _, i := range order {
			vlSettle()
			r := runs[i].f(round)
			byName[r.name] = append(byName[r.name], r)
			all = append(all, r)
		}
	}
	// Each column is the median of its rounds (the CPU of the round with the median rate
	// would move with that round's neighbours).
	var rows []vlResult
	for _, run := range runs {
		rs := byName[run.name]
		median := func(less func(a, b vlResult) int) vlResult {
			return slices.SortedFunc(slices.Values(rs), less)[len(rs)/2]
		}
		row := median(func(a, b vlResult) int { return cmp.Compare(a.rate(), b.rate()) })
		row.appCPU = median(func(a, b vlResult) int { return cmp.Compare(a.appCPU, b.appCPU) }).appCPU
		row.serverCPU = median(func(a, b vlResult) int { return cmp.Compare(a.serverCPU, b.serverCPU) }).serverCPU
		row.wire = median(func(a, b vlResult) int { return cmp.Compare(a.wire, b.wire) }).wire
		rows = append(rows, row)
	}

	// "vs best raw, by CPU": the best raw upload's app+VictoriaLogs CPU per record over this
	// row's, the rate that 2 CPUs shared by both would give when CPU is the limit: it does not
	// move with how much of the machine the neighbours took during the run, as records/s does.
	var best vlResult
	for _, r := range rows {
		if r.ref && (best.records == 0 || r.rate() > best.rate()) {
			best = r
		}
	}
	perRecord := func(d time.Duration, r vlResult) float64 { return float64(d.Nanoseconds()) / 1e3 / float64(r.records) }
	var sb strings.Builder
	fmt.Fprintf(&sb, "\n%d records per run, medians of %d rounds, GOMAXPROCS=%d, %d CPUs\n\n", total, rounds, runtime.GOMAXPROCS(0), runtime.NumCPU())
	fmt.Fprintf(&sb, "| run | records/s | vs best raw | vs best raw, by CPU | app CPU µs/record | VictoriaLogs CPU µs/record | bytes/record on the wire | dropped |\n|---|---|---|---|---|---|---|---|\n")
	for _, r := range rows {
		server, byCPU := "-", "-"
		if r.serverCPUMeasurement {
			server = fmt.Sprintf("%.2f", perRecord(r.serverCPU, r))
			byCPU = fmt.Sprintf("%.2fx", (perRecord(best.appCPU, best)+perRecord(best.serverCPU, best))/(perRecord(r.appCPU, r)+perRecord(r.serverCPU, r)))
		}
		fmt.Fprintf(&sb, "| %s | %.0f | %.2fx | %s | %.2f | %s | %.1f | %d |\n", r.name, r.rate(), r.rate()/best.rate(), byCPU,
			perRecord(r.appCPU, r), server, float64(r.wire)/float64(r.records), r.drops)
	}
	t.Log(sb.String())

	// Every writer's records arrived (whatever the encoding: VictoriaLogs v1.26 answers 200 to
	// a body it cannot decode, and stores nothing). The startup record of each run counts too.
	time.Sleep(3 * time.Second) // VictoriaLogs makes new rows searchable within a second or two
	for _, r := range all {
		if r.env == "" {
			continue
		}
		n, err := vlCount(base, r.env)
		if err != nil {
			t.Errorf("%s: %v", r.name, err)
		} else if n != r.records+1 {
			t.Errorf("%s: VictoriaLogs has %d records of env %s, want %d", r.name, n, r.env, r.records+1)
		}
	}
}

// vlSettle waits, up to 10s, until VictoriaLogs is idle (under 5% of a CPU over 250ms), done
// merging what the previous run stored; without its pid, until the machine is (under 10% of
// its CPUs busy).
func vlSettle() {
	busy := func() (busy, total time.Duration) {
		b, err := os.ReadFile("/proc/stat")
		if err != nil {
			return 0, 0
		}
		line, _, _ := strings.Cut(string(b), "\n")
		for i, f := range strings.Fields(line)[1:] {
			v, _ := strconv.ParseInt(f, 10, 64)
			total += time.Duration(v) * 10 * time.Millisecond
			if i != 3 && i != 4 { // idle, iowait
				busy += time.Duration(v) * 10 * time.Millisecond
			}
		}
		return busy, total
	}
	limit := 0.10
	if server := vlServerCPU(); server != nil {
		busy = func() (time.Duration, time.Duration) { return server(), 250 * time.Millisecond }
		limit = 0.05
	}
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		b0, t0 := busy()
		time.Sleep(250 * time.Millisecond)
		b1, t1 := busy()
		if t1 == t0 && b1 == b0 || float64(b1-b0)/float64(max(t1-t0, 250*time.Millisecond)) < limit {
			return
		}
	}
}

// vlBodies packs recs into bodies of ~1 MiB of stdlib gzip level 1 (flushed every 1000
// records), and the same records into zstd (fastest) bodies; perBody records each.
func vlBodies(recs [][]byte) (gzipBodies, zstdBodies [][]byte, perBody int) {
	zstdFastest := codecByName("klauspost-zstd-fastest")
	for i := 0; i < len(recs); {
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
		n, first := 0, i
		for ; i < len(recs) && buf.Len() < 1<<20; i++ {
			zw.Write(recs[i])
			n++
			if n%1000 == 0 {
				zw.Flush()
			}
		}
		zw.Close()
		if buf.Len() < 1<<20 && len(gzipBodies) > 0 {
			break
		}
		gzipBodies, perBody = append(gzipBodies, buf.Bytes()), n
		zstdBodies = append(zstdBodies, zstdFastest.compress(nil, bytes.Join(recs[first:i], nil)))
	}
	return gzipBodies, zstdBodies, perBody
}

// vlWriterDistinct is how many distinct records writerRun logs, over and over: enough that
// a record does not come back within a batch (16384 records are ~4.6 MiB, the largest batch
// at the default buffer size is 2 MiB), where zstd's window would find it whole.
const vlWriterDistinct = 16384

// vlWriterAttrs returns the attributes and contexts (with the request id) of the records
// writerRun logs: those of vlRecords, the first vlWriterDistinct of them.
func vlWriterAttrs() ([][]slog.Attr, []context.Context) {
	attrs := make([][]slog.Attr, vlWriterDistinct)
	ctxs := make([]context.Context, vlWriterDistinct)
	ctx := vlog.WithRequestID(context.Background(), requestID)
	for i := range attrs {
		attrs[i], ctxs[i] = vlAttrs(i), vlog.WithRequestID(ctx, fmt.Sprintf("req-%012x", i*7919))
	}
	return attrs, ctxs
}

// vlWriterRecords encodes n records as writerRun logs them.
func vlWriterRecords(n int, env string) [][]byte {
	var out [][]byte
	w := writerFunc(func(p []byte) (int, error) { out = append(out, bytes.Clone(p)); return len(p), nil })
	logger := slog.New(handlers.NewJSONHandler(w, &handlers.Options{Service: service, Env: env, Version: version}))
	attrs, ctxs := vlWriterAttrs()
	for i := range n {
		logger.LogAttrs(ctxs[i%len(ctxs)], slog.LevelInfo, msg, attrs[i%len(attrs)]...)
	}
	return out
}
