package benchmarks

// Benchmarks of the victorialogs output (issue 4, item 7).
//
// BenchmarkCompress: the cost and ratio of the body compressions on a 256 KiB batch of
// standard records (no server needed; this measurement chose gzip level 1).
//
//	go test -run '^$' -bench 'Compress' -benchtime 2s
//
// TestVictoriaLogsReport: records/s that the writer sustains into a real VictoriaLogs, against
// the best raw upload of the same records (pre-built ~1 MiB gzip bodies over 1, 2 and 4
// connections, no encoding or compression on the clock), with the application's CPU per
// record (getrusage of this process) and, given its pid, VictoriaLogs' CPU per record.
//
//	VLOG_TEST_VICTORIALOGS_URL=http://127.0.0.1:9428 VLOG_BENCH_VL_PID=$(pidof victoria-logs) \
//	    go test -run 'TestVictoriaLogsReport' -v -timeout 60m
//
// VLOG_BENCH_RECORDS (default 2000000) records per run, VLOG_BENCH_ROUNDS (default 3) rounds,
// VLOG_BENCH_RUNS a regexp selecting runs by name.

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"os"
	"regexp"
	"runtime"
	"sort"
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

// BenchmarkCompress compresses a 256 KiB batch; ns/op is per batch, the metrics per record.
func BenchmarkCompress(b *testing.B) {
	recs := vlRecords(1000, env)
	var batch []byte
	n := 0
	for _, r := range recs {
		if len(batch)+len(r) > 256<<10 {
			break
		}
		batch = append(batch, r...)
		n++
	}
	std1, _ := gzip.NewWriterLevel(nil, gzip.BestSpeed)
	std6, _ := gzip.NewWriterLevel(nil, gzip.DefaultCompression)
	k1, _ := kgzip.NewWriterLevel(nil, kgzip.BestSpeed)
	zs, _ := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(1))
	codecs := []struct {
		name  string
		reset func(*bytes.Buffer)
		write func([]byte)
		close func()
	}{
		{"stdlib-gzip-1", func(w *bytes.Buffer) { std1.Reset(w) }, func(p []byte) { std1.Write(p) }, func() { std1.Close() }},
		{"stdlib-gzip-default", func(w *bytes.Buffer) { std6.Reset(w) }, func(p []byte) { std6.Write(p) }, func() { std6.Close() }},
		{"klauspost-gzip-1", func(w *bytes.Buffer) { k1.Reset(w) }, func(p []byte) { k1.Write(p) }, func() { k1.Close() }},
		{"klauspost-zstd-fastest", func(w *bytes.Buffer) { zs.Reset(w) }, func(p []byte) { zs.Write(p) }, func() { zs.Close() }},
	}
	for _, c := range codecs {
		b.Run("codec="+c.name, func(b *testing.B) {
			var buf bytes.Buffer
			b.SetBytes(int64(len(batch)))
			for b.Loop() {
				buf.Reset()
				c.reset(&buf)
				c.write(batch)
				c.close()
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/record")
			b.ReportMetric(float64(len(batch))/float64(buf.Len()), "ratio")
		})
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
	records              int
	elapsed              time.Duration
	appCPU, serverCPU    time.Duration
	drops                uint64
	serverCPUMeasurement bool
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

// rawUpload posts pre-built gzip bodies of ~1 MiB over conns connections until total records
// were sent.
func rawUpload(t *testing.T, base string, bodies [][]byte, perBody, total, conns int) vlResult {
	u := base + "/insert/jsonline?_msg_field=msg&_time_field=event_time&_stream_fields=service,env,ecs_cluster,container"
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: conns, DisableCompression: true}}
	defer client.CloseIdleConnections()
	return measure(fmt.Sprintf("raw upload, %d connection(s)", conns), total/perBody*perBody, func() uint64 {
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
					req, _ := http.NewRequest(http.MethodPost, u, bytes.NewReader(bodies[int(i)%len(bodies)]))
					req.Header.Set("Content-Type", "application/stream+json")
					req.Header.Set("Content-Encoding", "gzip")
					resp, err := client.Do(req)
					if err != nil {
						t.Error(err)
						return
					}
					resp.Body.Close()
					if resp.StatusCode != 200 {
						t.Errorf("status %d", resp.StatusCode)
					}
				}
			}()
		}
		wg.Wait()
		return 0
	})
}

// writerRun logs total standard records through vlog.New into VictoriaLogs as fast as the
// output takes them: the producer waits while the buffer is more than 3/4 full, so nothing is
// dropped and the rate is the one the output sustains. Close is on the clock.
func writerRun(t *testing.T, name, base, runEnv string, total int, buf *output.BufferOptions, vl *victorialogs.Options) vlResult {
	l, err := vlog.New(&vlog.Options{
		Environ:      []string{"SERVICE=" + service, "ENV=" + runEnv, "VERSION=" + version, "VICTORIALOGS_URL=" + base},
		Buffer:       buf,
		VictoriaLogs: vl,
	})
	if err != nil {
		t.Fatal(err)
	}
	size := 8 << 20
	if buf != nil && buf.Size > 0 {
		size = buf.Size
	}
	// The attributes are built once per distinct record: what is measured is the writer.
	attrs := make([][]slog.Attr, 4096)
	for i := range attrs {
		attrs[i] = vlAttrs(i)
	}
	ctx := vlog.WithRequestID(context.Background(), requestID)
	return measure(name, total, func() uint64 {
		for i := range total {
			l.LogAttrs(ctx, slog.LevelInfo, msg, attrs[i%len(attrs)]...)
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

	// Bodies of ~1 MiB of gzip (level 1, what the writer sends), of the same records.
	recs := vlRecords(200_000, runEnv)
	var bodies [][]byte
	perBody := 0
	for i := 0; i < len(recs); {
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
		n := 0
		for ; i < len(recs) && buf.Len() < 1<<20; i++ {
			zw.Write(recs[i])
			n++
			if n%1000 == 0 {
				zw.Flush()
			}
		}
		zw.Close()
		if buf.Len() < 1<<20 && len(bodies) > 0 {
			break
		}
		bodies, perBody = append(bodies, buf.Bytes()), n
	}
	t.Logf("raw bodies: %d of ~%d KiB, %d records each (%d bytes/record before gzip)",
		len(bodies), len(bodies[0])>>10, perBody, len(bytes.Join(recs[:perBody], nil))/perBody)

	type cfg struct {
		name string
		buf  *output.BufferOptions
		vl   *victorialogs.Options
	}
	writers := []cfg{
		{"writer, defaults (batch 256 KiB growing to 2 MiB, 2 batches in flight, 1 request each, gzip 1)", nil, nil},
		{"writer, session-1 defaults (1 batch in flight, split in 4 requests, not growing)", &output.BufferOptions{MaxBatchSize: 256 << 10}, &victorialogs.Options{InFlight: 1, Concurrency: 4}},
		{"writer, 1 batch in flight", nil, &victorialogs.Options{InFlight: 1}},
		{"writer, 4 batches in flight", nil, &victorialogs.Options{InFlight: 4}},
		{"writer, batches split in 4 requests", nil, &victorialogs.Options{Concurrency: 4}},
		{"writer, batch 1 MiB", &output.BufferOptions{BatchSize: 1 << 20}, nil},
		{"writer, buffer 32 MiB (max batch 8 MiB)", &output.BufferOptions{Size: 32 << 20}, nil},
		{"writer, gzip default level", nil, &victorialogs.Options{GzipLevel: gzip.DefaultCompression}},
		{"writer, uncompressed", nil, &victorialogs.Options{Compression: "none"}},
	}
	only := regexp.MustCompile(os.Getenv("VLOG_BENCH_RUNS"))
	rounds := 3
	if s := os.Getenv("VLOG_BENCH_ROUNDS"); s != "" {
		rounds, _ = strconv.Atoi(s)
	}
	// Every run once per round, interleaved, so that a noisy neighbour spreads over all of
	// them; the table has the median round of each.
	byName := map[string][]vlResult{}
	var names []string
	add := func(r vlResult) {
		if byName[r.name] == nil {
			names = append(names, r.name)
		}
		byName[r.name] = append(byName[r.name], r)
	}
	for range rounds {
		for _, c := range []int{1, 2, 4} {
			if name := fmt.Sprintf("raw upload, %d connection(s)", c); only.MatchString(name) {
				add(rawUpload(t, base, bodies, perBody, total, c))
			}
		}
		for _, c := range writers {
			if only.MatchString(c.name) {
				add(writerRun(t, c.name, base, runEnv, total, c.buf, c.vl))
			}
		}
	}
	var rows []vlResult
	for _, name := range names {
		rs := byName[name]
		sort.Slice(rs, func(i, j int) bool { return rs[i].rate() < rs[j].rate() })
		rows = append(rows, rs[len(rs)/2])
	}
	if len(rows) == 0 {
		t.Skip("VLOG_BENCH_RUNS matches no run")
	}

	best := 0.0
	for _, r := range rows {
		if strings.HasPrefix(r.name, "raw") {
			best = math.Max(best, r.rate())
		}
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, "\n%d records per run, median of %d rounds, GOMAXPROCS=%d, %d CPUs\n\n", total, rounds, runtime.GOMAXPROCS(0), runtime.NumCPU())
	fmt.Fprintf(&sb, "| run | records/s | vs best raw | app CPU µs/record | VictoriaLogs CPU µs/record | dropped |\n|---|---|---|---|---|---|\n")
	for _, r := range rows {
		server := "-"
		if r.serverCPUMeasurement {
			server = fmt.Sprintf("%.2f", float64(r.serverCPU.Microseconds())/float64(r.records))
		}
		fmt.Fprintf(&sb, "| %s | %.0f | %.2fx | %.2f | %s | %d |\n", r.name, r.rate(), r.rate()/best,
			float64(r.appCPU.Nanoseconds())/1e3/float64(r.records), server, r.drops)
	}
	t.Log(sb.String())
}
