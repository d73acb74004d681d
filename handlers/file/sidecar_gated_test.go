package file

// The sidecar of path D for real, skipped unless
//
//	VLOG_TEST_FLUENT_BIT=/path/to/fluent-bit   a fluent-bit binary (with the tail input, the
//	                                           http output): the test starts it with
//	                                           examples/fluent-bit/sidecar.conf
//
// VLOG_TEST_SIDECAR_RECORDS (default 1,000,000) and VLOG_TEST_SIDECAR_RATE (records/s, default
// 50,000) change the run.

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"go.vlog.dev/handlers"
	"go.vlog.dev/handlers/output"
	"go.vlog.dev/internal/vtest"
)

// TestSidecarFluentBit: vlog writes sequence-numbered records through output.Buffered and this
// transport, rotating every ~10 MiB (25-30 rotations for a million records) and keeping 5
// rotated files, while a real Fluent Bit tails the live name with the shipped configuration and
// sends the records over HTTP (json_lines, gzip) to this test's sink. Every record must arrive
// exactly once.
//
// The numbers, against the rules in sidecar.conf: at 50,000 records/s of ~250 bytes (12 MB/s) a
// file lasts ~0.8 s, far longer than Fluent Bit takes to see a rotation and open the new file
// (rule 3); a rotated file is removed 5 rotations (~4 s) after its rotation, and the writer
// pauses whenever it is more than 2 files' worth of records ahead of what the sink received, so
// the agent is never within 2 files of a removal (rule 2) and never near Rotate_Wait's 30 s
// (rule 1), however slow the machine. The guard only bounds the test's own writer; in
// production nothing slows the app down: the rules must hold by the numbers.
func TestSidecarFluentBit(t *testing.T) {
	bin := os.Getenv("VLOG_TEST_FLUENT_BIT")
	if bin == "" {
		t.Skip("VLOG_TEST_FLUENT_BIT is not set")
	}
	n := envInt(t, "VLOG_TEST_SIDECAR_RECORDS", 1_000_000)
	rate := envInt(t, "VLOG_TEST_SIDECAR_RATE", 50_000)
	const maxSize, maxFiles = 10 << 20, 5
	start := time.Now()

	logs := filepath.Join(t.TempDir(), "logs")
	require.NoError(t, os.Mkdir(logs, 0o750))
	path := filepath.Join(logs, "app.log")
	tr, err := New(&Options{Path: path, MaxSize: maxSize, MaxFiles: maxFiles})
	require.NoError(t, err)

	sink := newSeqSink(t, n)
	fb := startSidecar(t, bin, path, sink.srv.URL)
	fb.waitLog(t, "inotify_fs_add(): inode=", path, 15*time.Second)

	o := output.NewBuffered(tr, nil, output.Hooks{})
	hopts := &handlers.Options{Service: "order-api", Env: "test", Version: "1.4.2"}
	logger := slog.New(handlers.NewJSONHandler(o, hopts))
	ctx := context.Background()
	logRecord := func(l *slog.Logger, i int) {
		l.LogAttrs(ctx, slog.LevelInfo, "order created",
			slog.Int("seq", i),
			slog.String("request_id", "req-7f3a9c2e4b1d"),
			slog.String("order_id", "ord-8f14e45fceea"),
			slog.Int("user_id", 4242),
			slog.Float64("amount", 19.99),
			slog.Int("items", 3),
			slog.Duration("duration", 42*time.Millisecond),
			slog.Bool("ok", true))
	}
	var one bytes.Buffer
	logRecord(slog.New(handlers.NewJSONHandler(&one, hopts)), n/2)
	recordSize := one.Len()
	maxAhead := 2 * maxSize / recordSize // records: 2 files
	var paused time.Duration
	began := time.Now()
	for i := range n {
		if i%100 == 0 {
			// Pace to rate, and never more than maxAhead records ahead of the sink.
			if d := time.Until(began.Add(time.Duration(i) * time.Second / time.Duration(rate))); d > 0 {
				time.Sleep(d)
			}
			for p := time.Now(); i-sink.received() > maxAhead; {
				fb.checkAlive(t)
				time.Sleep(time.Millisecond)
				paused += time.Since(p)
				p = time.Now()
			}
		}
		logRecord(logger, i)
	}
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	require.NoError(t, o.Close(cctx))
	written := time.Since(began)
	s := o.Stats()
	vtest.CheckInvariant(t, s)
	require.Equal(t, uint64(n), s.Delivered, "%+v", s)

	deadline := time.Now().Add(60 * time.Second)
	for sink.received() < n && time.Now().Before(deadline) {
		fb.checkAlive(t)
		time.Sleep(10 * time.Millisecond)
	}
	caughtUp := time.Since(began)
	// Give late duplicates the time to show: a rotated file read again would come after a
	// Refresh_Interval (1 s) and a flush (1 s).
	time.Sleep(3 * time.Second)
	agentCPU := fb.cpu()
	fb.stop(t)

	missing, dup, first := sink.check()
	t.Logf("%d records of %d bytes, %d rotations, %d rotated files removed; written in %v (writer paused %v by the guard), all received after %v; whole test %v",
		n, recordSize, tr.rotations, tr.removed, written.Round(time.Millisecond), paused.Round(time.Millisecond),
		caughtUp.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
	t.Logf("sink: %d records received in %d requests, %d missing, %d duplicated (first problem: %s), %d lines not vlog's",
		sink.received(), sink.requests.Load(), missing, dup, first, sink.foreign.Load())
	// For the log only: a file that is rotated while Fluent Bit still reads it in its "static"
	// mode (catching up) is not added to inotify under the live name.
	handled := fb.count(contains("handle rotation()"))
	opened := fb.count(func(l string) bool {
		return strings.Contains(l, "inotify_fs_add()") && strings.HasSuffix(l, "name="+path)
	})
	t.Logf("fluent-bit: %d rotations handled, %d live files watched, %d warnings, %d errors; CPU %v (%.2f us per record)",
		handled, opened, fb.count(contains("[ warn]")), fb.count(contains("[error]")), agentCPU.Round(time.Millisecond),
		float64(agentCPU.Microseconds())/float64(n))
	require.Zero(t, missing, "records lost")
	require.Zero(t, dup, "records duplicated")
	require.Zero(t, sink.foreign.Load(), "lines that are not one of the records")
	require.GreaterOrEqual(t, tr.rotations, 20)
	require.Positive(t, tr.removed, "MaxFiles removal did not happen during the run")
	require.Zero(t, fb.count(contains("purged rotated file while data ingestion is paused")))
}

func envInt(t *testing.T, name string, def int) int {
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	v, err := strconv.Atoi(s)
	require.NoError(t, err, name)
	return v
}

// seqSink is a VictoriaLogs /insert/jsonline stand-in that keeps only how many times each seq
// arrived: vtest.VictoriaLogs keeps every record as a map, too much for a million.
type seqSink struct {
	t        *testing.T
	srv      *httptest.Server
	mu       sync.Mutex
	counts   []uint8
	total    atomic.Int64
	requests atomic.Int64
	foreign  atomic.Int64 // lines without a seq in range
}

func newSeqSink(t *testing.T, n int) *seqSink {
	s := &seqSink{t: t, counts: make([]uint8, n)}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *seqSink) received() int { return int(s.total.Load()) }

func (s *seqSink) serve(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if r.Method != http.MethodPost || r.URL.Path != "/insert/jsonline" || q.Get("_time_field") != "event_time" ||
		q.Get("_stream_fields") != "service,env,ecs_cluster,container" || r.Header.Get("Content-Encoding") != "gzip" {
		s.t.Errorf("sink: unexpected request %s %s (%v)", r.Method, r.URL, r.Header)
		http.Error(w, "unexpected request", http.StatusBadRequest)
		return
	}
	zr, err := gzip.NewReader(r.Body)
	if err == nil {
		var body []byte
		if body, err = io.ReadAll(zr); err == nil {
			s.add(body)
		}
	}
	if err != nil {
		s.t.Errorf("sink: body: %v", err)
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	s.requests.Add(1)
}

func (s *seqSink) add(body []byte) {
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(nil, 4<<20)
	var got []int
	for sc.Scan() {
		var rec struct {
			Seq     *int   `json:"seq"`
			Msg     string `json:"msg"`
			Service string `json:"service"`
		}
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil || rec.Seq == nil || *rec.Seq < 0 || *rec.Seq >= len(s.counts) ||
			rec.Msg != "order created" || rec.Service != "order-api" {
			if s.foreign.Add(1) <= 3 {
				s.t.Logf("sink: not one of the records: %.300q", sc.Bytes())
			}
			continue
		}
		got = append(got, *rec.Seq)
	}
	s.mu.Lock()
	for _, seq := range got {
		if s.counts[seq] < 255 {
			s.counts[seq]++
		}
	}
	s.mu.Unlock()
	s.total.Add(int64(len(got)))
}

// check returns how many seqs never arrived and how many arrived more than once.
func (s *seqSink) check() (missing, dup int, first string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, c := range s.counts {
		switch {
		case c == 0:
			missing++
		case c > 1:
			dup++
		default:
			continue
		}
		if first == "" {
			first = fmt.Sprintf("seq %d arrived %d times", i, c)
		}
	}
	return missing, dup, first
}

// sidecar is the fluent-bit process.
type sidecar struct {
	cmd  *exec.Cmd
	done chan struct{}
	mu   sync.Mutex
	logs bytes.Buffer
}

func startSidecar(t *testing.T, bin, logPath, sinkURL string) *sidecar {
	t.Helper()
	conf, err := filepath.Abs(filepath.Join("..", "..", "examples", "fluent-bit", "sidecar.conf"))
	require.NoError(t, err)
	host, port, err := net.SplitHostPort(strings.TrimPrefix(sinkURL, "http://"))
	require.NoError(t, err)
	fb := &sidecar{done: make(chan struct{})}
	fb.cmd = exec.Command(bin, "-c", conf)
	fb.cmd.Env = append(os.Environ(), "LOG_PATH="+logPath, "STATE_PATH="+t.TempDir(),
		"VICTORIALOGS_HOST="+host, "VICTORIALOGS_PORT="+port)
	fb.cmd.Stdout = lockedWriter{fb}
	fb.cmd.Stderr = lockedWriter{fb}
	require.NoError(t, fb.cmd.Start())
	go func() { _ = fb.cmd.Wait(); close(fb.done) }()
	t.Cleanup(func() {
		fb.stop(t)
		if t.Failed() {
			t.Logf("fluent-bit output:\n%s", fb.output())
		}
	})
	return fb
}

type lockedWriter struct{ fb *sidecar }

func (w lockedWriter) Write(p []byte) (int, error) {
	w.fb.mu.Lock()
	defer w.fb.mu.Unlock()
	return w.fb.logs.Write(p)
}

func (fb *sidecar) output() string {
	fb.mu.Lock()
	defer fb.mu.Unlock()
	return fb.logs.String()
}

// count returns the number of lines of fluent-bit's output that match.
func (fb *sidecar) count(match func(line string) bool) int {
	n := 0
	for _, line := range strings.Split(fb.output(), "\n") {
		if match(line) {
			n++
		}
	}
	return n
}

func contains(s string) func(string) bool {
	return func(line string) bool { return strings.Contains(line, s) }
}

// waitLog waits for a line of fluent-bit's output containing all of parts.
func (fb *sidecar) waitLog(t *testing.T, parts ...any) {
	t.Helper()
	timeout := parts[len(parts)-1].(time.Duration)
	deadline := time.Now().Add(timeout)
	for {
		for _, line := range strings.Split(fb.output(), "\n") {
			ok := true
			for _, p := range parts[:len(parts)-1] {
				ok = ok && strings.Contains(line, p.(string))
			}
			if ok {
				return
			}
		}
		fb.checkAlive(t)
		if time.Now().After(deadline) {
			t.Fatalf("fluent-bit did not log %q within %v:\n%s", parts[:len(parts)-1], timeout, fb.output())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (fb *sidecar) checkAlive(t *testing.T) {
	t.Helper()
	select {
	case <-fb.done:
		t.Fatalf("fluent-bit exited:\n%s", fb.output())
	default:
	}
}

// cpu returns the CPU time fluent-bit used so far (user and system, from /proc; 0 elsewhere).
func (fb *sidecar) cpu() time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", fb.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	// Fields after the command name (which may hold spaces, in parentheses): utime and stime
	// are the 12th and 13th, in clock ticks (100 per second on Linux).
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(u+st) * 10 * time.Millisecond
}

// stop sends SIGTERM and waits (Grace is 5 s).
func (fb *sidecar) stop(t *testing.T) {
	select {
	case <-fb.done:
		return
	default:
	}
	_ = fb.cmd.Process.Signal(os.Interrupt)
	select {
	case <-fb.done:
	case <-time.After(15 * time.Second):
		t.Errorf("fluent-bit did not stop within 15s")
		_ = fb.cmd.Process.Kill()
		<-fb.done
	}
}
