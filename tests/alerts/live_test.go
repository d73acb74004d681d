package alerts_test

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.vlog.dev/vlog"
)

// liveScale is how much faster than the rule file's clock the live run goes: the 1-minute
// intervals become 2 s, the 10-minute silence 20 s, the hour 2 minutes.
const liveScale = 30

// scaled is a duration of the rule file as the live run sees it.
func scaled(d time.Duration) time.Duration { return d / liveScale }

// TestGatedLiveLogsQLRules runs vmalert with examples/alerts/vlogs-rules.yml (every duration
// divided by liveScale) against a real VictoriaLogs, with a notifier served by the test, while
// real vlog Loggers (and a real Fluent Bit, for the stderr line) write what each rule watches:
//
//   - ServiceStoppedLogging fires after the service stops logging and resolves when it
//     resumes; it never fires for a service that keeps logging;
//   - VlogDroppedRecords fires after a forced buffer overflow, with the count vlog reports;
//   - VlogFellBackToVictoriaLogs fires when the router is unreachable;
//   - ServiceErrorRatioHigh fires at 30% errors, not at 1%;
//   - VlogECSMetadataUnavailable fires when the metadata endpoint does not answer;
//   - VlogRecordsTruncated fires for a record over the line limit;
//   - ServicePanicked fires for a panic on stderr that went through the stdout router
//     (examples/fluent-bit/stdout.conf; skipped without VLOG_TEST_FLUENT_BIT).
func TestGatedLiveLogsQLRules(t *testing.T) {
	base := victoriaLogsURL(t)
	vmalertBin(t)
	t.Parallel()
	run := "alerts-" + strconv.FormatInt(time.Now().UnixNano(), 10)

	rules := writeRules(t, scaleRules(t, loadRules(t, vlogsRulesPath), liveScale))
	n, notifierURL := newNotifier(t)
	vmalert(t, "-rule="+rules, "-datasource.url="+base, "-notifier.url="+notifierURL,
		"-rule.evalDelay=0s", "-external.url=http://127.0.0.1")
	labels := func(service string) map[string]string { return map[string]string{"service": service, "env": run} }

	newLogger := func(t *testing.T, service string, env ...string) *vlog.Logger {
		t.Helper()
		l, err := vlog.New(&vlog.Options{Environ: append([]string{"SERVICE=" + service, "ENV=" + run, "VERSION=test"}, env...)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			ctx, cancel := withTimeout(5 * time.Second)
			defer cancel()
			_ = l.Close(ctx)
		})
		return l
	}
	// logEvery logs a record every interval until stop is closed; every errorsEvery-th one at error.
	logEvery := func(l *vlog.Logger, interval time.Duration, errorsEvery int, stop <-chan struct{}) {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-time.After(interval):
			}
			if errorsEvery > 0 && i%errorsEvery == 0 {
				l.Error("order failed", "seq", i)
			} else {
				l.Info("order created", "seq", i)
			}
		}
	}

	t.Run("ServiceStoppedLogging", func(t *testing.T) {
		t.Parallel()
		silent := run + "-silent"
		l := newLogger(t, silent, "VICTORIALOGS_URL="+base)
		stop := make(chan struct{})
		go logEvery(l, 200*time.Millisecond, 0, stop)
		time.Sleep(6 * time.Second) // logging "before"
		close(stop)
		flush(t, l)
		stopped := time.Now()
		silence := scaled(10 * time.Minute)
		if n.firedBefore(stopped, "ServiceStoppedLogging", labels(silent)) {
			t.Errorf("ServiceStoppedLogging fired while the service was logging")
		}
		a := n.wait(t, stopped, silence+30*time.Second, "ServiceStoppedLogging", labels(silent), false)
		if early := a.received.Sub(stopped); early < silence-3*time.Second {
			t.Errorf("fired %s after the service stopped, before the %s window passed", early, silence)
		}
		t.Logf("fired %s after the last record", a.received.Sub(stopped).Round(100*time.Millisecond))
		checkRendered(t, a, silent, run)

		// The service resumes: the alert resolves.
		resumed := time.Now()
		stop = make(chan struct{})
		go logEvery(l, 200*time.Millisecond, 0, stop)
		defer close(stop)
		r := n.wait(t, resumed, 20*time.Second, "ServiceStoppedLogging", labels(silent), true)
		t.Logf("resolved %s after the service resumed", r.received.Sub(resumed).Round(100*time.Millisecond))
	})

	t.Run("ServiceErrorRatioHigh", func(t *testing.T) {
		t.Parallel()
		failing, healthy := run+"-failing", run+"-healthy"
		lf := newLogger(t, failing, "VICTORIALOGS_URL="+base)
		lh := newLogger(t, healthy, "VICTORIALOGS_URL="+base)
		stop := make(chan struct{})
		defer close(stop)
		go logEvery(lf, 50*time.Millisecond, 3, stop)   // a third at error
		go logEvery(lh, 50*time.Millisecond, 100, stop) // 1%
		started := time.Now()
		a := n.wait(t, started, scaled(5*time.Minute)+scaled(5*time.Minute)+30*time.Second, "ServiceErrorRatioHigh", labels(failing), false)
		t.Logf("fired %s after the errors began", a.received.Sub(started).Round(100*time.Millisecond))
		checkRendered(t, a, failing, "%")
		// Keep logging for longer than the silence window: a service that keeps logging is
		// never reported silent, one at 1% errors never fires.
		time.Sleep(time.Until(started.Add(scaled(10*time.Minute) + 15*time.Second)))
		if n.firedBefore(time.Now(), "ServiceErrorRatioHigh", labels(healthy)) {
			t.Errorf("ServiceErrorRatioHigh fired for a service with 1%% errors")
		}
		for _, s := range []string{failing, healthy} {
			if n.firedBefore(time.Now(), "ServiceStoppedLogging", labels(s)) {
				t.Errorf("ServiceStoppedLogging fired for %s, which kept logging", s)
			}
		}
	})

	t.Run("VlogDroppedRecords", func(t *testing.T) {
		t.Parallel()
		service := run + "-drops"
		// VictoriaLogs behind a switch: down (503) until the buffer overflowed.
		var down atomic.Bool
		down.Store(true)
		target, _ := url.Parse(base)
		proxy := httputil.NewSingleHostReverseProxy(target)
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if down.Load() {
				http.Error(w, "down", http.StatusServiceUnavailable)
				return
			}
			proxy.ServeHTTP(w, r)
		})}
		go func() { _ = srv.Serve(ln) }()
		t.Cleanup(func() { _ = srv.Close() })

		l := newLogger(t, service, "VICTORIALOGS_URL=http://"+ln.Addr().String(),
			"VLOG_BUFFER_SIZE=64KiB", "VLOG_BATCH_SIZE=4KiB", "VLOG_RETRY_MIN=50ms", "VLOG_RETRY_MAX=200ms")
		pad := strings.Repeat("x", 200)
		for i := 0; l.Stats().Dropped.BufferFull < 100; i++ {
			l.Info("order created", "seq", i, "pad", pad)
			if i > 100000 {
				t.Fatalf("no drop: %+v", l.Stats())
			}
		}
		dropped := l.Stats().Dropped.Total()
		down.Store(false)
		flush(t, l)
		if s := l.Stats(); s.Dropped.Total() != dropped {
			t.Fatalf("more drops after VictoriaLogs came back: %+v", s)
		}
		overflowed := time.Now()
		a := n.wait(t, overflowed.Add(-time.Second), scaled(5*time.Minute)+30*time.Second, "VlogDroppedRecords", labels(service), false)
		t.Logf("fired %s after the overflow: %s", a.received.Sub(overflowed).Round(100*time.Millisecond), a.Annotations["summary"])
		checkRendered(t, a, service, fmt.Sprintf("dropped %d records", dropped))
	})

	t.Run("VlogFellBackToVictoriaLogs", func(t *testing.T) {
		t.Parallel()
		service := run + "-fallback"
		// The router's port: nothing listens there.
		l := newLogger(t, service, "FLUENT_HOST=127.0.0.1", "FLUENT_PORT="+freePort(t),
			"VICTORIALOGS_URL="+base, "VLOG_FALLBACK_AFTER=0", "VLOG_FLUENT_TIMEOUT=200ms")
		l.Info("order created")
		flush(t, l)
		if s := l.Stats(); s.Fallback == nil || !s.Fallback.OnFallback {
			t.Fatalf("not on the fallback: %+v", s)
		}
		fell := time.Now()
		a := n.wait(t, fell.Add(-time.Second), 30*time.Second, "VlogFellBackToVictoriaLogs",
			map[string]string{"service": service, "env": run, "vlog_fallback_from": "forward", "vlog_fallback_to": "victorialogs"}, false)
		checkRendered(t, a, service, "forward", "victorialogs")
	})

	t.Run("VlogECSMetadataUnavailable", func(t *testing.T) {
		t.Parallel()
		service := run + "-ecs"
		l := newLogger(t, service, "VICTORIALOGS_URL="+base,
			"ECS_CONTAINER_METADATA_URI_V4=http://127.0.0.1:"+freePort(t)+"/v4/x", "VLOG_ECS_METADATA_TIMEOUT=200ms")
		if _, err := l.ECS(); err == nil {
			t.Fatal("the metadata read did not fail")
		}
		flush(t, l)
		a := n.wait(t, time.Now().Add(-time.Second), 30*time.Second, "VlogECSMetadataUnavailable", labels(service), false)
		checkRendered(t, a, service)
	})

	t.Run("VlogRecordsTruncated", func(t *testing.T) {
		t.Parallel()
		service := run + "-truncated"
		l := newLogger(t, service, "VICTORIALOGS_URL="+base)
		l.Info("order created", "body", strings.Repeat("b", 100<<10))
		flush(t, l)
		a := n.wait(t, time.Now().Add(-time.Second), 30*time.Second, "VlogRecordsTruncated", labels(service), false)
		checkRendered(t, a, service)
	})

	t.Run("ServicePanicked", func(t *testing.T) {
		t.Parallel()
		forward, _, _ := fluentBit(t, "stdout.conf", base)
		// What the awsfirelens (or fluentd) log driver sends for a line on stderr, with the
		// fields FireLens adds.
		c, err := net.Dial("tcp", forward)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		w := bufio.NewWriter(c)
		container := run + "-panicked"
		for _, line := range []string{"panic: runtime error: invalid memory address or nil pointer dereference", "", "goroutine 1 [running]:"} {
			writeForwardMessage(w, "order-api-firelens-"+run, time.Now(), map[string]string{
				"log": line, "source": "stderr", "container_name": container, "container_id": "c0ffee",
				"ecs_cluster": run, "ecs_task_definition": "alerts-panicked:1", "ecs_task_arn": "arn:aws:ecs:us-east-1:111122223333:task/" + run + "/1",
			})
		}
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
		sent := time.Now()
		a := n.wait(t, sent.Add(-time.Second), 40*time.Second, "ServicePanicked",
			map[string]string{"container_name": container, "ecs_cluster": run, "ecs_task_definition": "alerts-panicked:1"}, false)
		checkRendered(t, a, container)
	})
}

func flush(t *testing.T, l *vlog.Logger) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := l.Flush(ctx); err != nil {
		t.Fatalf("Flush: %v (%+v)", err, l.Stats())
	}
}

// writeForwardMessage writes one forward-protocol Message [tag, time, record] (msgpack, by hand,
// as a log driver sends it).
func writeForwardMessage(w *bufio.Writer, tag string, at time.Time, rec map[string]string) {
	str := func(s string) {
		switch n := len(s); {
		case n < 32:
			w.WriteByte(0xa0 | byte(n))
		case n < 256:
			w.WriteByte(0xd9)
			w.WriteByte(byte(n))
		default:
			w.WriteByte(0xda)
			w.WriteByte(byte(n >> 8))
			w.WriteByte(byte(n))
		}
		w.WriteString(s)
	}
	w.WriteByte(0x93) // array of 3
	str(tag)
	sec := uint32(at.Unix())
	w.WriteByte(0xce) // uint32 seconds
	w.Write([]byte{byte(sec >> 24), byte(sec >> 16), byte(sec >> 8), byte(sec)})
	w.WriteByte(0x80 | byte(len(rec))) // fixmap
	for k, v := range rec {
		str(k)
		str(v)
	}
}
