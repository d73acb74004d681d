// Package forward tests vlog's forward output (FireLens) end to end against a forward-protocol
// server that vlog did not write (github.com/IBM/fluent-forward-go's protocol types), behind a
// TCP proxy that injects faults, and, when VLOG_TEST_FLUENT_ADDR is set, against a real Fluent
// Bit. It is its own module so that these dependencies never reach vlog's go.mod:
//
//	(cd tests/forward && go test -race ./...)
//	VLOG_TEST_FLUENT_ADDR=127.0.0.1:24224 go test -run Real -v ./...   # with testdata/fluent-bit.conf
package forward

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"go.vlog.dev/handlers/output"
	"go.vlog.dev/vlog"
)

// target is where the proxy forwards to, and where the records are counted.
type target struct {
	upstream string    // the forward server behind the proxy
	sink     *receiver // where the records end up
	real     bool      // a real Fluent Bit, which forwards to sink
}

func internalTarget(t *testing.T) target {
	r := newReceiver(t, "127.0.0.1:0")
	return target{upstream: r.addr(), sink: r}
}

// realTarget is the Fluent Bit of VLOG_TEST_FLUENT_ADDR, configured as testdata/fluent-bit.conf
// (its forward output goes to VLOG_TEST_FLUENT_SINK, default 127.0.0.1:24225).
func realTarget(t *testing.T) target {
	addr := os.Getenv("VLOG_TEST_FLUENT_ADDR")
	if addr == "" {
		t.Skip("VLOG_TEST_FLUENT_ADDR not set: no real Fluent Bit (see testdata/fluent-bit.conf)")
	}
	sink := os.Getenv("VLOG_TEST_FLUENT_SINK")
	if sink == "" {
		sink = "127.0.0.1:24225"
	}
	return target{upstream: addr, sink: newReceiver(t, sink), real: true}
}

// run is one logger writing sequence-numbered records through the proxy.
type run struct {
	t      *testing.T
	tg     target
	p      *proxy
	l      *vlog.Logger
	id     string
	n      int64
	maxLat time.Duration
}

func newRun(t *testing.T, tg target, env ...string) *run {
	t.Helper()
	p := newProxy(t, tg.upstream)
	host, port, _ := net.SplitHostPort(p.addr)
	r := &run{t: t, tg: tg, p: p, id: fmt.Sprintf("%s-%d", t.Name(), rand.Int64())}
	r.tg.sink.setRun(r.id)
	env = append([]string{"SERVICE=fwtest", "FLUENT_HOST=" + host, "FLUENT_PORT=" + port,
		"VLOG_FLUENT_TIMEOUT=1s", "VLOG_BATCH_AGE=20ms"}, env...)
	l, err := vlog.New(&vlog.Options{Environ: env,
		Buffer: &output.BufferOptions{RetryMin: 20 * time.Millisecond, RetryMax: 200 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	if l.Output() != vlog.OutputForward {
		t.Fatalf("output %q", l.Output())
	}
	r.l = l
	return r
}

// log writes n more records, pausing 1ms every `every` records (0: no pause), and tracks the
// longest log call.
func (r *run) log(n int, every int) {
	for i := range n {
		start := time.Now()
		r.l.Info("tick", "run", r.id, "seq", r.n, "pad", "0123456789012345678901234567890123456789")
		if d := time.Since(start); d > r.maxLat {
			r.maxLat = d
		}
		r.n++
		if every > 0 && i%every == every-1 {
			time.Sleep(time.Millisecond)
		}
	}
}

// close closes the logger by the deadline and checks the accounting.
func (r *run) close(d time.Duration) (vlog.Stats, error) {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	err := r.l.Close(ctx)
	st := r.l.Stats()
	if st.Enqueued != st.Delivered+st.Dropped.Total() {
		r.t.Errorf("accounting: enqueued %d != delivered %d + dropped %d", st.Enqueued, st.Delivered, st.Dropped.Total())
	}
	r.t.Logf("stats: enqueued %d delivered %d dropped %+v retried %d; longest log call %v",
		st.Enqueued, st.Delivered, st.Dropped, st.Retried, r.maxLat)
	return st, err
}

// wantAll checks that every record arrived (waiting for a real Fluent Bit to flush) and
// reports the duplicates.
func (r *run) wantAll() {
	r.t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	if r.tg.real {
		deadline = time.Now().Add(20 * time.Second)
	}
	for {
		got, dups := r.tg.sink.count(r.n)
		if int64(got) == r.n {
			r.t.Logf("%d records, no gap, %d duplicates", got, dups)
			break
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("%d of %d records arrived; missing (first 10): %v", got, r.n, r.tg.sink.missing(r.n))
		}
		select {
		case <-r.tg.sink.changed:
		case <-time.After(100 * time.Millisecond):
		}
	}
	for _, err := range r.tg.sink.errors() {
		r.t.Error("receiver:", err)
	}
}

// noLeak checks that no goroutine of vlog is left once the logger is closed.
func noLeak(t *testing.T) {
	t.Helper()
	var stacks string
	for range 100 {
		buf := make([]byte, 1<<20)
		stacks = string(buf[:runtime.Stack(buf, true)])
		if !strings.Contains(stacks, "go.vlog.dev/handlers.") && !strings.Contains(stacks, "go.vlog.dev/vlog.") {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("goroutines of vlog left after Close:\n%s", stacks)
}

// scenarios are the faults of issue 3, item 5. Each runs against the target.
var scenarios = []struct {
	name string
	env  []string
	run  func(r *run)
}{
	{"healthy", nil, func(r *run) {
		r.log(5000, 0)
		if _, err := r.close(10 * time.Second); err != nil {
			r.t.Fatal(err)
		}
		r.wantAll()
	}},
	{"gzip", []string{"VLOG_FLUENT_COMPRESS=gzip"}, func(r *run) {
		r.log(5000, 0)
		if _, err := r.close(10 * time.Second); err != nil {
			r.t.Fatal(err)
		}
		r.wantAll()
	}},
	{"not-up-yet", nil, func(r *run) {
		// Containers start in parallel: the router is not listening yet.
		r.p.down()
		r.log(2000, 100)
		time.Sleep(300 * time.Millisecond)
		r.p.up()
		r.log(2000, 100)
		if _, err := r.close(10 * time.Second); err != nil {
			r.t.Fatal(err)
		}
		r.wantAll()
	}},
	{"restarts", nil, func(r *run) {
		for range 3 {
			r.log(3000, 100)
			r.p.down() // connections reset, dials refused
			r.log(1000, 100)
			time.Sleep(150 * time.Millisecond)
			r.p.up()
		}
		r.log(1000, 100)
		if _, err := r.close(10 * time.Second); err != nil {
			r.t.Fatal(err)
		}
		r.wantAll()
	}},
	{"close", nil, func(r *run) {
		// The router closes every connection (FIN) now and then, and keeps accepting.
		for range 5 {
			r.log(2000, 100)
			r.p.closeConns()
		}
		if _, err := r.close(10 * time.Second); err != nil {
			r.t.Fatal(err)
		}
		r.wantAll()
	}},
	{"close-no-ack", []string{"VLOG_FLUENT_ACK=false"}, func(r *run) {
		// Without acks a connection closed between batches is noticed before the next write.
		for range 5 {
			r.log(2000, 100)
			// The router closes the connection while it is idle: once it has every record.
			deadline := time.Now().Add(10 * time.Second)
			for got, _ := r.tg.sink.count(r.n); int64(got) < r.n && time.Now().Before(deadline); got, _ = r.tg.sink.count(r.n) {
				time.Sleep(5 * time.Millisecond)
			}
			r.p.closeConns()
			time.Sleep(20 * time.Millisecond)
		}
		if _, err := r.close(10 * time.Second); err != nil {
			r.t.Fatal(err)
		}
		r.wantAll()
	}},
	{"reset-mid-batch", nil, func(r *run) {
		r.log(1000, 0)
		r.p.setReset(20000) // every connection is reset after 20 KB, mid-message
		r.log(10000, 100)
		time.Sleep(500 * time.Millisecond)
		r.p.set("pass")
		if _, err := r.close(10 * time.Second); err != nil {
			r.t.Fatal(err)
		}
		if r.p.resets == 0 {
			r.t.Error("no connection was reset")
		}
		r.wantAll()
	}},
	{"stall", nil, func(r *run) {
		// The router accepts but never reads: log calls go on; the buffer holds the records.
		r.log(1000, 0)
		r.p.set("stall")
		r.log(20000, 200)
		time.Sleep(1500 * time.Millisecond)
		r.p.set("pass")
		st, err := r.close(15 * time.Second)
		if err != nil {
			r.t.Fatal(err)
		}
		if st.Enqueued != uint64(r.n)+1 {
			r.t.Fatalf("enqueued %d of %d log calls and the startup record", st.Enqueued, r.n)
		}
		r.wantAll()
	}},
	{"slow", nil, func(r *run) {
		r.p.set("delay")
		r.log(5000, 100)
		if _, err := r.close(30 * time.Second); err != nil {
			r.t.Fatal(err)
		}
		r.wantAll()
	}},
	{"oversize", []string{"VLOG_MAX_RECORD_SIZE=64KiB"}, func(r *run) {
		r.log(500, 0)
		r.l.Info("too big", "run", r.id, "blob", strings.Repeat("b", 100<<10))
		r.log(500, 0)
		st, err := r.close(10 * time.Second)
		if err != nil {
			r.t.Fatal(err)
		}
		if st.Dropped.Oversize != 1 {
			r.t.Fatalf("oversize drops %d, want 1", st.Dropped.Oversize)
		}
		r.wantAll()
	}},
	{"close-stalled", nil, func(r *run) {
		r.p.set("stall")
		r.log(5000, 0)
		start := time.Now()
		st, err := r.close(500 * time.Millisecond)
		took := time.Since(start)
		r.t.Logf("Close took %v: %v", took, err)
		if err == nil || !strings.Contains(err.Error(), "not delivered") {
			r.t.Fatalf("Close: %v, want a report of the records not delivered", err)
		}
		if took > 5*time.Second {
			r.t.Fatalf("Close took %v with a 500ms deadline", took)
		}
		if st.Dropped.Closed == 0 {
			r.t.Fatal("nothing counted as dropped at Close")
		}
		r.p.set("pass")
	}},
	{"close-dead", nil, func(r *run) {
		r.p.down()
		r.log(5000, 0)
		start := time.Now()
		_, err := r.close(300 * time.Millisecond)
		if took := time.Since(start); err == nil || took > 5*time.Second {
			r.t.Fatalf("Close: %v after %v", err, took)
		}
	}},
	{"no-ack-restarts", []string{"VLOG_FLUENT_ACK=false"}, func(r *run) {
		// Without acks the in-flight batch of a connection reset is lost: measured, not
		// asserted (only the accounting is).
		for range 3 {
			r.log(3000, 100)
			r.p.down()
			time.Sleep(100 * time.Millisecond)
			r.p.up()
		}
		r.log(1000, 100)
		if _, err := r.close(10 * time.Second); err != nil {
			r.t.Fatal(err)
		}
		time.Sleep(200 * time.Millisecond)
		if r.tg.real {
			time.Sleep(2 * time.Second)
		}
		got, dups := r.tg.sink.count(r.n)
		r.t.Logf("without ack: %d of %d records arrived, %d lost, %d duplicates", got, r.n, r.n-int64(got), dups)
	}},
}

func runScenarios(t *testing.T, newTarget func(*testing.T) target) {
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			tg := newTarget(t)
			r := newRun(t, tg, sc.env...)
			sc.run(r)
			noLeak(t)
		})
	}
}

// TestScenarios runs every fault against the independent forward server.
func TestScenarios(t *testing.T) { runScenarios(t, internalTarget) }

// TestRealFluentBit runs the same faults against a real Fluent Bit (VLOG_TEST_FLUENT_ADDR).
func TestRealFluentBit(t *testing.T) {
	if os.Getenv("VLOG_TEST_FLUENT_ADDR") == "" {
		t.Skip("VLOG_TEST_FLUENT_ADDR not set: no real Fluent Bit (see testdata/fluent-bit.conf)")
	}
	runScenarios(t, realTarget)
}

// TestConcurrentLoggers: several goroutines log during restarts; each record arrives.
func TestConcurrentLoggers(t *testing.T) {
	tg := internalTarget(t)
	r := newRun(t, tg)
	var wg sync.WaitGroup
	var mu sync.Mutex
	next := int64(0)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 5000 {
				mu.Lock()
				seq := next
				next++
				mu.Unlock()
				r.l.Info("tick", "run", r.id, "seq", seq)
			}
		}()
	}
	time.Sleep(20 * time.Millisecond)
	r.p.down()
	time.Sleep(100 * time.Millisecond)
	r.p.up()
	wg.Wait()
	r.n = next
	if _, err := r.close(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	r.wantAll()
	noLeak(t)
}
