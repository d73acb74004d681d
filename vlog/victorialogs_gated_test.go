package vlog_test

// Integration tests against a real VictoriaLogs (and a real Fluent Bit), skipped unless
//
//	VLOG_TEST_VICTORIALOGS_URL=http://127.0.0.1:9428   a running VictoriaLogs
//	VLOG_TEST_FLUENT_ADDR=127.0.0.1:24224              a running Fluent Bit with
//	                                                   examples/fluent-bit/forward.conf, whose
//	                                                   output goes to that VictoriaLogs
//	VLOG_TEST_FLUENT_BIT=/path/to/fluent-bit           a fluent-bit binary: the tests start it
//	                                                   with examples/fluent-bit/*.conf
//
// Each run writes its own records (env "run-<nanoseconds>") and queries them back through
// /select/logsql/query.

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
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
	"go.vlog.dev/handlers/schema"
	"go.vlog.dev/handlers/victorialogs"
	"go.vlog.dev/vlog"
)

func victoriaLogsURL(t *testing.T) string {
	u := os.Getenv("VLOG_TEST_VICTORIALOGS_URL")
	if u == "" {
		t.Skip("VLOG_TEST_VICTORIALOGS_URL is not set")
	}
	return strings.TrimSuffix(u, "/")
}

// runID names a test run; it is the env of its records, a stream field.
func runID(t *testing.T) string {
	return "run-" + strconv.FormatInt(time.Now().UnixNano(), 10)
}

// queryVL returns the rows matching the LogsQL query, waiting until at least want arrived or
// 20s passed (rows are searchable about a second after ingestion).
func queryVL(t *testing.T, base, query string, want int) []map[string]any {
	t.Helper()
	var rows []map[string]any
	deadline := time.Now().Add(20 * time.Second)
	for {
		rows = rows[:0]
		resp, err := http.Get(base + "/select/logsql/query?query=" + url.QueryEscape(query))
		require.NoError(t, err)
		require.Equal(t, 200, resp.StatusCode)
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			var m map[string]any
			require.NoError(t, json.Unmarshal(sc.Bytes(), &m), sc.Text())
			rows = append(rows, m)
		}
		require.NoError(t, sc.Err())
		resp.Body.Close()
		if len(rows) >= want || time.Now().After(deadline) {
			return rows
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// writeSeq logs n records "order <i>" with seq=i and the time t0+i*1001ns (so every record
// has its own nanoseconds), every 5000th one with a 200 KB attribute (to be truncated).
func writeSeq(t *testing.T, h slog.Handler, t0 time.Time, from, n int, pace time.Duration) {
	t.Helper()
	big := strings.Repeat("b", 200<<10)
	for i := from; i < from+n; i++ {
		r := slog.NewRecord(t0.Add(time.Duration(i)*1001), slog.LevelInfo+slog.Level(4*(i%3)), "order "+strconv.Itoa(i), 0)
		r.AddAttrs(slog.Int("seq", i), slog.String("order_id", "o-"+strconv.Itoa(i)))
		if i%5000 == 4999 {
			r.AddAttrs(slog.String("big", big))
		}
		require.NoError(t, h.Handle(context.Background(), r))
		if pace > 0 && i%100 == 99 {
			time.Sleep(pace)
		}
	}
}

// checkSeq checks that the rows hold every seq of [0, n) at least once (exactly once unless
// dups) with the schema fields intact, and returns the rows by seq.
//
// A big record is truncated with the marker by both outputs (truncated "truncated"); "whole"
// expects it whole, "either" accepts both.
func checkSeq(t *testing.T, rows []map[string]any, t0 time.Time, n int, service, env string, dups bool, truncated string) map[int][]map[string]any {
	t.Helper()
	bySeq := map[int][]map[string]any{}
	for _, m := range rows {
		s, ok := m["seq"].(string)
		if !ok {
			continue // a notice record
		}
		i, err := strconv.Atoi(s)
		require.NoError(t, err)
		bySeq[i] = append(bySeq[i], m)
	}
	levels := []string{"info", "warn", "error"}
	for i := range n {
		got := bySeq[i]
		require.NotEmpty(t, got, "seq %d missing (%d of %d arrived)", i, len(bySeq), n)
		if !dups {
			require.Len(t, got, 1, "seq %d twice", i)
		}
		m := got[0]
		require.Equal(t, "order "+strconv.Itoa(i), m["_msg"], "msg is _msg")
		ts, err := time.Parse(time.RFC3339Nano, m["_time"].(string))
		require.NoError(t, err)
		require.True(t, ts.Equal(t0.Add(time.Duration(i)*1001)), "seq %d: _time %s, want %s (nanoseconds kept)", i, m["_time"], t0.Add(time.Duration(i)*1001).Format(time.RFC3339Nano))
		require.NotContains(t, m, "event_time", "event_time became _time")
		require.Equal(t, service, m["service"])
		require.Equal(t, env, m["env"])
		require.Equal(t, levels[i%3], m["level"])
		require.Equal(t, "o-"+strconv.Itoa(i), m["order_id"])
		if i%5000 == 4999 {
			big, _ := m["big"].(string)
			switch {
			case m[schema.Truncated] != nil:
				require.True(t, truncated != "whole", "seq %d: truncated", i)
				require.Less(t, len(big), 64<<10, "seq %d: truncated", i)
			default:
				require.True(t, truncated != "truncated", "seq %d: not truncated", i)
				require.Equal(t, 200<<10, len(big), "seq %d: whole", i)
			}
		}
	}
	return bySeq
}

func TestGatedVictoriaLogsDirect(t *testing.T) {
	base := victoriaLogsURL(t)
	env := runID(t)
	l, err := vlog.New(&vlog.Options{Environ: []string{
		"SERVICE=vlog-gated", "ENV=" + env, "VERSION=test", "VICTORIALOGS_URL=" + base,
	}})
	require.NoError(t, err)
	require.Equal(t, "victorialogs", l.Output())
	const n = 20000
	t0 := time.Now().Add(-time.Minute).Truncate(time.Second).UTC()
	writeSeq(t, l.Handler(), t0, 0, n, 0)
	require.NoError(t, l.Close(context.Background()))
	s := l.Stats()
	require.Equal(t, uint64(n+1), s.Delivered, "%+v (n records and the startup record)", s)

	rows := queryVL(t, base, `env:="`+env+`" seq:*`, n)
	require.Len(t, rows, n)
	checkSeq(t, rows, t0, n, "vlog-gated", env, false, "truncated")
	require.Equal(t, `{env="`+env+`",service="vlog-gated"}`, rows[0]["_stream"], "stream fields")
}

// fakeRouter is a router the test can kill: it takes length-prefixed batches of JSON lines
// over TCP, delivers them to VictoriaLogs with via=router, and answers one byte (1: stored).
type fakeRouter struct {
	addr string
	vl   *victorialogs.Transport

	mu    sync.Mutex
	ln    net.Listener
	conns map[net.Conn]bool
	wg    sync.WaitGroup
}

func newFakeRouter(t *testing.T, base string) *fakeRouter {
	vl, err := victorialogs.New(&victorialogs.Options{
		URLs: []string{base}, ExtraFields: map[string]string{"via": "router"},
	})
	require.NoError(t, err)
	r := &fakeRouter{vl: vl, conns: map[net.Conn]bool{}}
	r.start(t, "127.0.0.1:0")
	t.Cleanup(r.kill)
	return r
}

func (r *fakeRouter) start(t *testing.T, addr string) {
	ln, err := net.Listen("tcp", addr)
	require.NoError(t, err)
	r.mu.Lock()
	r.ln, r.addr = ln, ln.Addr().String()
	r.mu.Unlock()
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			r.mu.Lock()
			r.conns[c] = true
			r.mu.Unlock()
			r.wg.Add(1)
			go func() {
				defer r.wg.Done()
				r.serve(c)
			}()
		}
	}()
}

func (r *fakeRouter) serve(c net.Conn) {
	defer c.Close()
	var seq uint64
	for {
		var n uint32
		if err := binary.Read(c, binary.BigEndian, &n); err != nil {
			return
		}
		data := make([]byte, n)
		if _, err := io.ReadFull(c, data); err != nil {
			return
		}
		seq++
		ack := byte(1)
		if err := r.vl.Send(context.Background(), &output.Batch{Data: data, Records: strings.Count(string(data), "\n"), Seq: seq}); err != nil {
			ack = 0
		}
		if _, err := c.Write([]byte{ack}); err != nil {
			return
		}
	}
}

// kill closes the listener and every connection, as a crashed router would.
func (r *fakeRouter) kill() {
	r.mu.Lock()
	if r.ln != nil {
		r.ln.Close()
	}
	for c := range r.conns {
		c.Close()
	}
	r.conns = map[net.Conn]bool{}
	r.mu.Unlock()
	r.wg.Wait()
}

// routerTransport is the client of fakeRouter.
type routerTransport struct {
	addr string
	conn net.Conn
}

func (rt *routerTransport) Name() string { return "router" }
func (rt *routerTransport) Close() error {
	if rt.conn != nil {
		return rt.conn.Close()
	}
	return nil
}

func (rt *routerTransport) Send(ctx context.Context, b *output.Batch) error {
	if rt.conn == nil {
		d := net.Dialer{Timeout: 500 * time.Millisecond}
		c, err := d.DialContext(ctx, "tcp", rt.addr)
		if err != nil {
			return err
		}
		rt.conn = c
	}
	deadline := time.Now().Add(5 * time.Second)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	_ = rt.conn.SetDeadline(deadline)
	frame := binary.BigEndian.AppendUint32(nil, uint32(len(b.Data)))
	ack := []byte{0}
	_, err := rt.conn.Write(append(frame, b.Data...))
	if err == nil {
		_, err = io.ReadFull(rt.conn, ack)
	}
	if err == nil && ack[0] != 1 {
		err = errors.New("router: not stored")
	}
	if err != nil {
		rt.conn.Close()
		rt.conn = nil
	}
	return err
}

func TestGatedVictoriaLogsFallback(t *testing.T) {
	base := victoriaLogsURL(t)
	env := runID(t)
	router := newFakeRouter(t, base)
	direct, err := victorialogs.New(&victorialogs.Options{URLs: []string{base}})
	require.NoError(t, err)

	var h *handlers.JSONHandler
	var switches atomic.Int32
	ft := output.NewFallback(&routerTransport{addr: router.addr}, direct, &output.FallbackOptions{
		After: 200 * time.Millisecond, ProbeInterval: 300 * time.Millisecond,
	}, output.Hooks{
		Notice: func(dst []byte, l slog.Level, msg string, as ...slog.Attr) []byte {
			return h.EncodeNotice(dst, l, msg, as...)
		},
		OnSwitch: func(string, string, error) { switches.Add(1) },
	})
	out := output.NewBuffered(ft, &output.BufferOptions{BatchAge: 20 * time.Millisecond, RetryMin: 20 * time.Millisecond, RetryMax: 100 * time.Millisecond}, output.Hooks{})
	h = handlers.NewJSONHandler(out, &handlers.Options{Service: "vlog-gated-fallback", Env: env, Version: "test"})

	const n = 30000
	t0 := time.Now().Add(-time.Minute).Truncate(time.Second).UTC()
	writeSeq(t, h, t0, 0, n/3, 10*time.Millisecond)
	router.kill() // mid-run: the router dies
	writeSeq(t, h, t0, n/3, n/3, 10*time.Millisecond)
	require.True(t, ft.FallbackStatus().OnFallback, "on the fallback after %d records with the router down", n/3)
	router.start(t, router.addr) // and comes back
	writeSeq(t, h, t0, 2*n/3, n-2*n/3, 10*time.Millisecond)
	require.NoError(t, out.Close(context.Background()))
	s := out.Stats()
	require.Zero(t, s.Dropped.Total(), "%+v", s)
	require.Equal(t, s.Enqueued, s.Delivered)
	st := ft.FallbackStatus()
	require.False(t, st.OnFallback, "switched back: %+v", st)
	require.Equal(t, uint64(2), st.Switches)
	require.Equal(t, int32(2), switches.Load())

	rows := queryVL(t, base, `env:="`+env+`"`, n+2)
	bySeq := checkSeq(t, rows, t0, n, "vlog-gated-fallback", env, true, "truncated")
	via, dups, notices := 0, 0, 0
	for _, rs := range bySeq {
		dups += len(rs) - 1
		if rs[0]["via"] == "router" {
			via++
		}
	}
	for _, m := range rows {
		if m["vlog_fallback_from"] != nil {
			notices++
		}
	}
	t.Logf("%d records, %d through the router, %d directly, %d duplicates, %d switch notices", n, via, n-via, dups, notices)
	require.Greater(t, via, n/3, "before the kill and after the restart: through the router")
	require.Greater(t, n-via, n/10, "while the router was down: directly")
	require.Equal(t, 2, notices, "one record per switch")
}

func TestGatedFluentBitForward(t *testing.T) {
	base := victoriaLogsURL(t)
	addr := os.Getenv("VLOG_TEST_FLUENT_ADDR")
	if addr == "" {
		addr = startFluentBit(t, "forward.conf", base)
	}
	host, port, err := net.SplitHostPort(addr)
	require.NoError(t, err)
	env := runID(t)
	l, err := vlog.New(&vlog.Options{Environ: []string{
		"SERVICE=vlog-gated-fluent", "ENV=" + env, "VERSION=test",
		"FLUENT_HOST=" + host, "FLUENT_PORT=" + port, "VICTORIALOGS_URL=" + base,
	}})
	require.NoError(t, err)
	require.Equal(t, "forward", l.Output())
	const n = 20000
	t0 := time.Now().Add(-time.Minute).Truncate(time.Second).UTC()
	writeSeq(t, l.Handler(), t0, 0, n, 0)
	require.NoError(t, l.Close(context.Background()))
	s := l.Stats()
	require.Zero(t, s.Dropped.Total(), "%+v", s)

	rows := queryVL(t, base, `env:="`+env+`"`, n)
	// The forward output cuts records over 64 KiB too (forward.Options.MaxLineSize): Fluent
	// Bit would pass a 200 KB line on, and VictoriaLogs drops lines over 256 KiB.
	checkSeq(t, rows, t0, n, "vlog-gated-fluent", env, false, "truncated")
}

// TestGatedFluentBitFallback is the whole chain with real servers: vlog.New with FLUENT_HOST,
// FLUENT_PORT and VICTORIALOGS_URL; fluent-bit (forward.conf) is killed (SIGKILL) mid-run
// and started again on the same port.
func TestGatedFluentBitFallback(t *testing.T) {
	base := victoriaLogsURL(t)
	fb := newFluentBit(t, "forward.conf", base)
	host, port, err := net.SplitHostPort(fb.addr)
	require.NoError(t, err)
	env := runID(t)
	var reported atomic.Int32
	l, err := vlog.New(&vlog.Options{
		Environ: []string{
			"SERVICE=vlog-gated-fluent-fallback", "ENV=" + env, "VERSION=test",
			"FLUENT_HOST=" + host, "FLUENT_PORT=" + port, "VICTORIALOGS_URL=" + base,
			"VLOG_FALLBACK_AFTER=500ms", "VLOG_FALLBACK_PROBE_INTERVAL=1s",
		},
		OnError: func(err error) {
			if strings.Contains(err.Error(), "sending to victorialogs directly") {
				reported.Add(1)
			}
		},
	})
	require.NoError(t, err)
	require.Equal(t, "forward", l.Output())
	const n = 30000
	t0 := time.Now().Add(-time.Minute).Truncate(time.Second).UTC()
	writeSeq(t, l.Handler(), t0, 0, n/3, 10*time.Millisecond)
	fb.stop(os.Kill) // mid-run: the router crashes
	writeSeq(t, l.Handler(), t0, n/3, n/3, 10*time.Millisecond)
	fb.start() // and comes back
	writeSeq(t, l.Handler(), t0, 2*n/3, n-2*n/3, 10*time.Millisecond)
	time.Sleep(2 * time.Second) // a probe finds the router again
	writeSeq(t, l.Handler(), t0, n, 0, 0)
	require.NoError(t, l.Close(context.Background()))
	s := l.Stats()
	require.Zero(t, s.Dropped.Total(), "%+v", s)
	require.GreaterOrEqual(t, reported.Load(), int32(1), "the switch was reported to OnError")

	rows := queryVL(t, base, `env:="`+env+`"`, n)
	bySeq := checkSeq(t, rows, t0, n, "vlog-gated-fluent-fallback", env, true, "either")
	dups, notices := 0, 0
	for _, rs := range bySeq {
		dups += len(rs) - 1
	}
	for _, m := range rows {
		if m["vlog_fallback_from"] != nil {
			notices++
		}
	}
	t.Logf("%d records, %d duplicates, %d switch notices", n, dups, notices)
	require.GreaterOrEqual(t, notices, 1, "the switch is a record in the stream")
}

func TestGatedFluentBitStdout(t *testing.T) {
	base := victoriaLogsURL(t)
	addr := startFluentBit(t, "stdout.conf", base)
	env := runID(t)

	// The app writes JSON lines on stdout; the log driver sends each as {"log": line, ...}.
	var stdout strings.Builder
	l, err := vlog.New(&vlog.Options{Writer: &stdout, Environ: []string{
		"SERVICE=vlog-gated-stdout", "ENV=" + env, "VERSION=test", "VLOG_OUTPUT=stdout",
	}})
	require.NoError(t, err)
	const n = 2000
	t0 := time.Now().Add(-time.Minute).Truncate(time.Second).UTC()
	writeSeq(t, l.Handler(), t0, 0, n, 0)
	require.NoError(t, l.Close(context.Background()))
	lines := strings.Split(strings.TrimSuffix(stdout.String(), "\n"), "\n")
	require.Len(t, lines, n)
	lines = append(lines, "panic: not JSON "+env) // what the runtime prints on a crash

	c, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	w := bufio.NewWriter(c)
	now := time.Now()
	for _, line := range lines {
		if len(line) > 16<<10 {
			continue // Docker would split it into partial messages; not this test's subject
		}
		writeForwardMessage(w, "order-api-firelens-1", now, map[string]string{
			"log": line, "source": "stdout", "container_name": "/order-api", "container_id": "abc",
		})
	}
	require.NoError(t, w.Flush())
	require.NoError(t, c.Close())

	rows := queryVL(t, base, `container_name:="/order-api" AND (env:="`+env+`" OR "`+env+`")`, n-n/5000+1)
	var plain map[string]any
	var parsed []map[string]any
	for _, m := range rows {
		if m["env"] == env {
			parsed = append(parsed, m)
		} else {
			plain = m
		}
	}
	require.NotNil(t, plain, "the line that is not JSON")
	require.Equal(t, "panic: not JSON "+env, plain["_msg"], "its text is the message")
	require.Equal(t, "stdout", plain["source"])
	require.Len(t, parsed, n-n/5000)
	for _, m := range parsed {
		require.Equal(t, "vlog-gated-stdout", m["service"])
		require.Equal(t, "stdout", m["source"], "Reserve_Data keeps the driver's fields")
		require.NotContains(t, m, "log", "parsed: log removed")
		i, _ := strconv.Atoi(m["seq"].(string))
		require.Equal(t, "order "+strconv.Itoa(i), m["_msg"])
		ts, err := time.Parse(time.RFC3339Nano, m["_time"].(string))
		require.NoError(t, err)
		require.True(t, ts.Equal(t0.Add(time.Duration(i)*1001)), "seq %d: _time %s: nanoseconds kept", i, m["_time"])
	}
}

// startFluentBit runs VLOG_TEST_FLUENT_BIT with examples/fluent-bit/<conf>, its output to
// base, and returns the address of its forward input.
func startFluentBit(t *testing.T, conf, base string) string {
	return newFluentBit(t, conf, base).addr
}

// fluentBit is a fluent-bit process the test can kill and start again on the same port.
type fluentBit struct {
	t         *testing.T
	bin, conf string
	env       []string
	addr      string
	mu        sync.Mutex
	logs      strings.Builder
	cmd       *exec.Cmd
	done      chan struct{}
}

func newFluentBit(t *testing.T, conf, base string) *fluentBit {
	bin := os.Getenv("VLOG_TEST_FLUENT_BIT")
	if bin == "" {
		t.Skip("neither VLOG_TEST_FLUENT_ADDR nor VLOG_TEST_FLUENT_BIT is set")
	}
	u, err := url.Parse(base)
	require.NoError(t, err)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	_, port, _ := net.SplitHostPort(addr)
	ln.Close()
	path, err := filepath.Abs(filepath.Join("..", "examples", "fluent-bit", conf))
	require.NoError(t, err)
	fb := &fluentBit{t: t, bin: bin, conf: path, addr: addr,
		env: append(os.Environ(), "FORWARD_LISTEN=127.0.0.1", "FORWARD_PORT="+port,
			"VICTORIALOGS_HOST="+u.Hostname(), "VICTORIALOGS_PORT="+u.Port(), "STORAGE_PATH="+t.TempDir())}
	t.Cleanup(func() {
		fb.stop(os.Interrupt)
		fb.mu.Lock()
		defer fb.mu.Unlock()
		if t.Failed() || testing.Verbose() {
			t.Logf("fluent-bit %s:\n%s", conf, fb.logs.String())
		}
	})
	fb.start()
	return fb
}

// start starts the process and waits for its forward input.
func (fb *fluentBit) start() {
	t := fb.t
	cmd := exec.Command(fb.bin, "-c", fb.conf)
	cmd.Env = fb.env
	cmd.Stdout = lockedWriter{&fb.mu, &fb.logs}
	cmd.Stderr = lockedWriter{&fb.mu, &fb.logs}
	require.NoError(t, cmd.Start())
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	fb.cmd, fb.done = cmd, done
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", fb.addr, time.Second)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			fb.mu.Lock()
			defer fb.mu.Unlock()
			t.Fatalf("fluent-bit did not open %s: %v\n%s", fb.addr, err, fb.logs.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// stop sends sig (os.Kill: a crash) and waits for the process to end.
func (fb *fluentBit) stop(sig os.Signal) {
	if fb.cmd == nil {
		return
	}
	_ = fb.cmd.Process.Signal(sig)
	select {
	case <-fb.done:
	case <-time.After(10 * time.Second):
		_ = fb.cmd.Process.Kill()
		<-fb.done
	}
	fb.cmd = nil
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// writeForwardMessage writes one forward-protocol Message [tag, time, record], as Docker's
// fluentd log driver and FireLens' awsfirelens driver do (msgpack, written by hand).
func writeForwardMessage(w *bufio.Writer, tag string, at time.Time, rec map[string]string) {
	str := func(s string) {
		switch n := len(s); {
		case n < 32:
			w.WriteByte(0xa0 | byte(n))
		case n < 256:
			w.Write([]byte{0xd9, byte(n)})
		case n < 1<<16:
			w.Write([]byte{0xda, byte(n >> 8), byte(n)})
		default:
			w.Write(binary.BigEndian.AppendUint32([]byte{0xdb}, uint32(n)))
		}
		w.WriteString(s)
	}
	w.WriteByte(0x93)
	str(tag)
	w.Write(binary.BigEndian.AppendUint32([]byte{0xce}, uint32(at.Unix())))
	w.Write([]byte{0xde, byte(len(rec) >> 8), byte(len(rec))})
	for k, v := range rec {
		str(k)
		str(v)
	}
}
