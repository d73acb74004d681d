package benchmarks

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.vlog.dev/handlers"
	"go.vlog.dev/vlog"
)

// The volume controls (docs/volume.md): what a log call costs when it is held in a request's
// scope, when the rate limit passes or suppresses it, against the same call written or
// disabled; all through vlog.New, as BenchmarkLog's lib=vlog.New but with stdout written
// synchronously (VLOG_STDOUT_BUFFERED=false) to a writer that discards: the buffered output's
// background goroutine does a share of work per record that depends on timing (batch ages),
// which would move the instruction counts from run to run, and an info call without it is the
// cheaper, so the stricter, reference for a held one. Prefer instruction counts for the
// ratios (this is a shared 2-vCPU machine):
//
//	GOGC=off ./callgrind.sh 'BenchmarkVolume/case=info$' 'BenchmarkVolume/case=held$' \
//	  'BenchmarkVolume/case=disabled$' 'BenchmarkVolume/case=off-info$' \
//	  'BenchmarkVolume/case=ratelimit-pass$' 'BenchmarkVolume/case=ratelimit-suppressed$' \
//	  'BenchmarkVolume/case=off-disabled$'
//	go test -run '^$' -bench 'Volume$' -count 10 | tee volume.txt; benchstat -col /case volume.txt
//
// Goals (the issue): held <= 1.2x info, 0 allocs per held record (held-5-attrs: the standard
// record's sixth attribute is slog's allocation); ratelimit-pass <= 1.05x off-info;
// ratelimit-suppressed <= off-disabled + 50 ns (BenchmarkRateLimitHandle isolates the
// limiter's own part from slog's).
func BenchmarkVolume(b *testing.B) {
	hold := []string{"VLOG_HOLD=true"}
	cases := []struct {
		name  string
		env   []string
		level slog.Level
		scope bool // log with a scope's context
	}{
		{"off-info", nil, slog.LevelInfo, false},
		{"off-disabled", nil, slog.LevelDebug, false},
		// Holding on: an info call in a scope is written, a debug call in a scope is held
		// (the scope is at its cap: each record evicts the oldest), a debug call without a
		// scope is disabled.
		{"info", hold, slog.LevelInfo, true},
		{"held", hold, slog.LevelDebug, true},
		// The standard record has six attributes: slog keeps five in the Record and
		// allocates for the sixth (in off-info too). With five, the call allocates nothing,
		// which shows the held record itself does not.
		{"held-5-attrs", hold, slog.LevelDebug, true},
		{"disabled", hold, slog.LevelDebug, false},
		// A sampled request's debug call: written, with the sampling attributes.
		{"sampled-debug", []string{"VLOG_DEBUG_SAMPLE_RATE=1"}, slog.LevelDebug, true},
		// The rate limit: a call it passes (First is never reached) and one it suppresses.
		{"ratelimit-pass", []string{"VLOG_RATE_LIMIT=true", "VLOG_RATE_LIMIT_FIRST=1000000000000"}, slog.LevelInfo, false},
		{"ratelimit-suppressed", []string{"VLOG_RATE_LIMIT=true", "VLOG_RATE_LIMIT_FIRST=1", "VLOG_RATE_LIMIT_THEREAFTER=0"}, slog.LevelInfo, false},
	}
	for _, c := range cases {
		b.Run("case="+c.name, func(b *testing.B) {
			l := newVolumeLogger(b, c.env...)
			ctx := vlog.WithRequestID(context.Background(), requestID)
			var scope *vlog.Scope
			if c.scope {
				ctx, scope = l.StartScope(ctx)
				if scope == nil {
					b.Fatal("no scope")
				}
			}
			call := func() {
				if c.name == "held-5-attrs" {
					l.LogAttrs(ctx, c.level, msg,
						slog.String("order_id", orderID),
						slog.Int("user_id", userID),
						slog.Float64("amount", amount),
						slog.Int("items", items),
						slog.Duration("duration", duration))
					return
				}
				l.LogAttrs(ctx, c.level, msg,
					slog.String("order_id", orderID),
					slog.Int("user_id", userID),
					slog.Float64("amount", amount),
					slog.Int("items", items),
					slog.Duration("duration", duration),
					slog.Bool("ok", ok))
			}
			for range 1000 {
				call() // warm: the scope reaches its cap, the buffers are pooled
			}
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				call()
			}
			b.StopTimer()
			checkVolumeCase(b, c.name, l)
			scope.End()
		})
	}
}

// checkVolumeCase checks that the case measured what it says.
func checkVolumeCase(b *testing.B, name string, l *vlog.Logger) {
	v := l.Stats().Volume
	switch name {
	case "held", "held-5-attrs":
		if v.Held < uint64(b.N) || v.Flushed != 0 {
			b.Fatalf("held: %+v", v)
		}
	case "ratelimit-suppressed":
		if v.Suppressed < uint64(b.N) {
			b.Fatalf("suppressed: %+v", v)
		}
	case "ratelimit-pass":
		if v.Suppressed != 0 {
			b.Fatalf("pass: %+v", v)
		}
	}
}

// BenchmarkRateLimitHandle is the rate limit's own cost, in Handle (the slog.Logger call builds
// the record first, whatever the handler does with it): a record it passes, one it
// suppresses, against Handle without it.
func BenchmarkRateLimitHandle(b *testing.B) {
	for _, c := range []struct {
		name string
		rl   *handlers.RateLimitOptions
	}{
		{"off", nil},
		{"ratelimit-pass", &handlers.RateLimitOptions{First: 1 << 62}},
		{"ratelimit-suppressed", &handlers.RateLimitOptions{First: 1, Thereafter: -1}},
	} {
		b.Run("case="+c.name, func(b *testing.B) {
			h := handlers.NewJSONHandler(discard{}, &handlers.Options{Service: service, Env: env, Version: version, RateLimit: c.rl})
			ctx := vlog.WithRequestID(context.Background(), requestID)
			rec := slog.NewRecord(time.Now(), slog.LevelInfo, msg, 0)
			rec.AddAttrs(orderAttrs()...)
			_ = h.Handle(ctx, rec)
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				_ = h.Handle(ctx, rec)
			}
		})
	}
}

// BenchmarkScopeLifecycle is the cost of a request's scope itself: started and ended with no
// record (what the middleware adds to every request with holding on), and with 10 debug
// records held and discarded (the ring from the pool, the MaxAge timer).
func BenchmarkScopeLifecycle(b *testing.B) {
	l := newVolumeLogger(b, "VLOG_HOLD=true")
	base := vlog.WithRequestID(context.Background(), requestID)
	for _, n := range []int{0, 10} {
		b.Run("held="+strconv.Itoa(n), func(b *testing.B) {
			b.ReportAllocs()
			for range b.N {
				ctx, scope := l.StartScope(base)
				for range n {
					l.LogAttrs(ctx, slog.LevelDebug, msg, slog.String("order_id", orderID), slog.Int("user_id", userID))
				}
				scope.End()
			}
		})
	}
}

// newVolumeLogger is vlog.New as in BenchmarkLog's lib=vlog.New, stdout written
// synchronously, with the settings env and no others.
func newVolumeLogger(b testing.TB, env ...string) *vlog.Logger {
	l, err := vlog.New(&vlog.Options{Service: service, Env: env0(), Version: version, Level: slog.LevelInfo,
		Output: "stdout", StdoutBuffered: vlog.Bool(false), Writer: discard{}, Environ: append([]string{}, env...)})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = l.Close(context.Background()) })
	return l
}

func env0() string { return env }

// BenchmarkHeldMemory: 10,000 concurrent requests, each logging 100 debug records that are
// held (about 33 KB each, 330 MB in all), then all still open while the memory is read. Each
// case runs in a process of its own (this test binary, run again), so that one case's heap
// does not hide another's: off (holding off: the goroutines and their records alone), the
// default caps (32 MiB in all), and caps too high to bind. The RSS each reports is VmHWM, the
// process's peak. The goal: with the caps, RSS - off <= the total cap + a fixed overhead.
//
//	go test -run '^$' -bench HeldMemory -benchtime 1x
func BenchmarkHeldMemory(b *testing.B) {
	for _, c := range []string{"off", "capped", "uncapped"} {
		b.Run("case="+c, func(b *testing.B) {
			for range b.N {
				cmd := exec.Command(os.Args[0], "-test.run=^TestHeldMemoryChild$", "-test.v")
				cmd.Env = append(os.Environ(), "VLOG_TEST_MEMORY_CASE="+c)
				out, err := cmd.CombinedOutput()
				if err != nil {
					b.Fatalf("%v\n%s", err, out)
				}
				m := map[string]float64{}
				sc := bufio.NewScanner(bytes.NewReader(out))
				for sc.Scan() {
					if k, v, ok := strings.Cut(strings.TrimSpace(sc.Text()), "="); ok && strings.HasPrefix(k, "mem.") {
						f, _ := strconv.ParseFloat(v, 64)
						m[strings.TrimPrefix(k, "mem.")] = f
					}
				}
				if len(m) == 0 {
					b.Fatalf("no measurement:\n%s", out)
				}
				for k, v := range m {
					b.ReportMetric(v, k)
				}
			}
		})
	}
}

// TestHeldMemoryChild is BenchmarkHeldMemory's child process; it does nothing otherwise.
func TestHeldMemoryChild(t *testing.T) {
	c := os.Getenv("VLOG_TEST_MEMORY_CASE")
	if c == "" {
		t.Skip("run by BenchmarkHeldMemory")
	}
	const requests, records = 10_000, 100
	env := []string{"VLOG_HOLD=true"}
	switch c {
	case "off":
		env = nil
	case "uncapped":
		env = append(env, "VLOG_HOLD_SCOPE_SIZE=16MiB", "VLOG_HOLD_TOTAL_SIZE=64GiB")
	}
	l := newVolumeLogger(t, env...)
	base := rssKiB(t, "VmRSS")
	var started, done sync.WaitGroup
	release := make(chan struct{})
	started.Add(requests)
	done.Add(requests)
	for i := range requests {
		go func() {
			defer done.Done()
			ctx, scope := l.StartScope(vlog.WithRequestID(context.Background(), fmt.Sprintf("req-%05d", i)))
			defer scope.End()
			for j := range records {
				l.LogAttrs(ctx, slog.LevelDebug, "step",
					slog.Int("j", j), slog.String("order_id", orderID), slog.Int("user_id", userID),
					slog.Float64("amount", amount), slog.Duration("duration", duration),
					slog.String("note", "a debug record of about three hundred bytes, as a service writes them"))
			}
			started.Done()
			<-release // every request still open
		}()
	}
	started.Wait()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	var held, heldBytes int64
	if v := l.Stats().Volume; v != nil {
		held, heldBytes = v.HeldRecords, v.HeldBytes
	}
	hwm := rssKiB(t, "VmHWM")
	close(release)
	done.Wait()
	fmt.Printf("mem.rss-MiB=%.1f\n", float64(hwm)/1024)
	fmt.Printf("mem.rss-start-MiB=%.1f\n", float64(base)/1024)
	fmt.Printf("mem.heap-inuse-MiB=%.1f\n", float64(ms.HeapInuse)/(1<<20))
	fmt.Printf("mem.stacks-MiB=%.1f\n", float64(ms.StackInuse)/(1<<20))
	fmt.Printf("mem.held-MiB=%.1f\n", float64(heldBytes)/(1<<20))
	fmt.Printf("mem.held-records=%d\n", held)
}

// rssKiB reads a VmRSS-like line of /proc/self/status, in KiB.
func rssKiB(t *testing.T, field string) int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Skip("no /proc/self/status")
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			n, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return n
		}
	}
	t.Fatalf("no %s in /proc/self/status", field)
	return 0
}
