package benchmarks

// Benchmarks of the file output (path D: a file on a volume a sidecar agent tails),
// go.vlog.dev/handlers/file behind output.Buffered:
//
//	go test -run '^$' -bench 'FileOutput|FileTransport' -benchtime 3000000x -count 6   # rate, CPU
//	go test -run TestFileStalledDiskRSS -v                   # memory while the disk is stalled
//	(VLOG_STALL=60s makes the stall longer than the default 5s)

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.vlog.dev/handlers/file"
	"go.vlog.dev/handlers/output"
)

// BenchmarkFileOutput logs the standard record (one goroutine, vlog's handler as in
// BenchmarkLog's lib=vlog) to:
//
//	to=discard  the handler alone, writing to discard: the cost of the log call and the encoding;
//	to=file     the handler writing to output.NewBuffered(file.New(...)), defaults everywhere
//	            (8 MiB buffer, 64 MiB files, 5 kept), in a temporary directory on local disk.
//
// One op is one log call. Besides ns/op (the caller's time per call) it reports records/s (the
// records the file received, over the time from the first call to the end of Close: what is
// sustained, not what was accepted), cpu-ns/record (the process's CPU time, user and system,
// all threads: the log call, the buffer's goroutine, the write system calls) and dropped (the
// buffer's drops; with drops, records/s is no longer the logging rate). The file output's cost
// beyond the encoding is cpu-ns/record of to=file minus that of to=discard.
func BenchmarkFileOutput(b *testing.B) {
	for _, to := range []string{"discard", "file"} {
		b.Run("to="+to, func(b *testing.B) {
			var w io.Writer = discard{}
			var o *output.Buffered
			if to == "file" {
				tr, err := file.New(&file.Options{Path: filepath.Join(b.TempDir(), "app.log")})
				if err != nil {
					b.Fatal(err)
				}
				o = output.NewBuffered(tr, nil, output.Hooks{})
				w = o
			}
			logStandard := newVlog(w).standard
			b.ReportAllocs()
			cpu0, start := cpuTime(), time.Now()
			for b.Loop() {
				logStandard()
			}
			delivered, dropped := uint64(b.N), uint64(0)
			if o != nil {
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				err := o.Close(ctx)
				cancel()
				if err != nil {
					b.Fatal(err)
				}
				s := o.Stats()
				delivered, dropped = s.Delivered, s.Dropped.Total()
				if s.Enqueued != s.Delivered+s.Dropped.Total() {
					b.Fatalf("accounting: %+v", s)
				}
			}
			elapsed, cpu := time.Since(start), cpuTime()-cpu0
			b.ReportMetric(float64(delivered)/elapsed.Seconds(), "records/s")
			b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/record")
			b.ReportMetric(float64(dropped), "dropped")
		})
	}
}

// BenchmarkFileTransportSend is the transport alone: Send of 256 KiB batches of the standard
// record (the buffer's default batch size) into a file rotating at 64 MiB, keeping 5. One op is
// one record (b.N records are sent, in whole batches); records/s is what the transport can
// write, whatever the log calls cost.
func BenchmarkFileTransportSend(b *testing.B) {
	var one bytes.Buffer
	newVlog(&one).standard()
	batch := &output.Batch{Seq: 1}
	for len(batch.Data) < 256<<10 {
		batch.Data = append(batch.Data, one.Bytes()...)
		batch.Records++
	}
	tr, err := file.New(&file.Options{Path: filepath.Join(b.TempDir(), "app.log")})
	if err != nil {
		b.Fatal(err)
	}
	defer tr.Close()
	ctx := context.Background()
	b.SetBytes(int64(one.Len()))
	b.ResetTimer()
	cpu0, start := cpuTime(), time.Now()
	for sent := 0; sent < b.N; sent += batch.Records {
		if err := tr.Send(ctx, batch); err != nil {
			b.Fatal(err)
		}
		batch.Seq++
	}
	elapsed, cpu := time.Since(start), cpuTime()-cpu0
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "records/s")
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/record")
}

// stalledTransport is a disk that stopped answering: Send blocks (as a write to a hung volume
// does) until released.
type stalledTransport struct {
	output.Transport
	release chan struct{}
}

func (s stalledTransport) Send(ctx context.Context, b *output.Batch) error {
	select {
	case <-s.release:
	case <-ctx.Done():
		return ctx.Err()
	}
	return s.Transport.Send(ctx, b)
}

// TestFileStalledDiskRSS logs the standard record flat out (one goroutine) while the file
// transport's Send is blocked, as on a stalled disk, for VLOG_STALL (default 5s): the log call
// must not block, and the resident memory must stay bounded by the buffer (8 MiB, the default),
// not grow with the records logged. Then the disk comes back and what the buffer held is
// written.
func TestFileStalledDiskRSS(t *testing.T) {
	if os.Getenv("VLOG_BENCH_STALL_RSS") == "" {
		// A measurement, not a unit test: the race detector and a loaded CI machine move RSS.
		t.Skip("measures RSS during a stalled disk: VLOG_BENCH_STALL_RSS=1 go test -run TestFileStalledDiskRSS -v .")
	}
	stall := 5 * time.Second
	if d, err := time.ParseDuration(os.Getenv("VLOG_STALL")); err == nil {
		stall = d
	}
	dir := t.TempDir()
	tr, err := file.New(&file.Options{Path: filepath.Join(dir, "app.log")})
	if err != nil {
		t.Fatal(err)
	}
	st := stalledTransport{tr, make(chan struct{})}
	const bufSize = output.DefaultBufferSize
	o := output.NewBuffered(st, nil, output.Hooks{})
	logStandard := newVlog(o).standard
	debugGC()
	base := rss()
	var peak int64
	var samples []string
	start := time.Now()
	calls := 0
	var slowest time.Duration
	for next := time.Duration(0); time.Since(start) < stall; calls++ {
		t0 := time.Now()
		logStandard()
		if d := time.Since(t0); d > slowest {
			slowest = d
		}
		if calls%1000 == 0 {
			if el := time.Since(start); el >= next {
				r := rss()
				peak = max(peak, r)
				if len(samples) < 6 || el+time.Second > stall {
					s := o.Stats()
					samples = append(samples, fmt.Sprintf("t=%.1fs rss=%.1f MiB buffered=%.1f MiB dropped=%d",
						el.Seconds(), float64(r)/(1<<20), float64(s.BufferedBytes)/(1<<20), s.Dropped.BufferFull))
				}
				next += time.Second
			}
		}
	}
	stalled := o.Stats()
	close(st.release) // the disk is back
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := o.Close(ctx); err != nil {
		t.Fatal(err)
	}
	s := o.Stats()
	growth := peak - base
	t.Logf("disk stalled %v: %d log calls (%.0f/s), slowest call %v; %s",
		stall, calls, float64(calls)/stall.Seconds(), slowest, strings.Join(samples, "; "))
	t.Logf("peak RSS %.1f MiB, growth over the start %.1f MiB (buffer %d MiB); during the stall: buffered %.1f MiB, dropped (buffer full) %d; after: delivered %d, dropped %d",
		float64(peak)/(1<<20), float64(growth)/(1<<20), bufSize>>20, float64(stalled.BufferedBytes)/(1<<20),
		stalled.Dropped.BufferFull, s.Delivered, s.Dropped.Total())
	if s.Enqueued != s.Delivered+s.Dropped.Total() || s.Enqueued != uint64(calls) {
		t.Fatalf("accounting: %d calls, %+v", calls, s)
	}
	if s.Delivered == 0 || stalled.BufferedBytes > bufSize {
		t.Fatalf("the buffer held %d bytes during the stall and delivered %d after it", stalled.BufferedBytes, s.Delivered)
	}
	// The bound of TestForwardOutageRSS: the buffer, once more for the batches recycled beside
	// it, and 16 MiB of runtime overhead.
	if limit := int64(2*bufSize + 16<<20); growth > limit {
		t.Fatalf("RSS grew %d MiB, more than %d MiB", growth>>20, limit>>20)
	}
}
