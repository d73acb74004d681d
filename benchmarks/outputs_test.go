package benchmarks

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"go.vlog.dev/vlog"
)

// BenchmarkOutputs is the caller's cost of a log call with one output and with two (issue:
// dual-write costs the caller at most 1.10x): the same standard record, through vlog.New,
// to VictoriaLogs alone and to stdout and VictoriaLogs. The record is encoded once in both;
// the second output costs one more copy into its own buffer. So that the caller's cost is
// what is measured, not the background goroutines' (compression, HTTP) competing for the same
// two CPUs, nothing is sent while the clock runs: batches of 64 MiB and an age of an hour
// keep every record in the buffers (VictoriaLogs, a local server that discards each body,
// gets them at Close, off the clock). Run it with a fixed count that fits:
//
//	go test -run '^$' -bench Outputs -benchtime 100000x -count 10 | tee out.txt
//	benchstat -col /outputs out.txt
//	./callgrind.sh 'BenchmarkOutputs/outputs=victorialogs$' 'BenchmarkOutputs/outputs=stdout,victorialogs$'
func BenchmarkOutputs(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
	}))
	defer srv.Close()
	for _, outputs := range []string{"victorialogs", "stdout,victorialogs"} {
		b.Run("outputs="+outputs, func(b *testing.B) {
			l, err := vlog.New(&vlog.Options{Writer: discard{}, Environ: []string{
				"SERVICE=" + service, "ENV=" + env, "VERSION=" + version,
				"VLOG_OUTPUT=" + outputs, "VICTORIALOGS_URL=" + srv.URL,
				"VLOG_ECS_METADATA_TIMEOUT=0", "VLOG_BUFFER_SIZE=256MiB", "VLOG_BATCH_SIZE=64MiB",
				"VLOG_BATCH_MAX_SIZE=64MiB", "VLOG_BATCH_AGE=1h",
			}})
			if err != nil {
				b.Fatal(err)
			}
			ctx := vlog.WithRequestID(context.Background(), requestID)
			// Warm up: the first record allocates each output's batch; the Flush sends it and
			// the batch is kept for reuse, so the loop allocates no batch.
			l.LogAttrs(ctx, slog.LevelInfo, msg)
			if err := l.Flush(context.Background()); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				l.LogAttrs(ctx, slog.LevelInfo, msg,
					slog.String("order_id", orderID),
					slog.Int("user_id", userID),
					slog.Float64("amount", amount),
					slog.Int("items", items),
					slog.Duration("duration", duration),
					slog.Bool("ok", ok))
			}
			b.StopTimer()
			if err := l.Close(context.Background()); err != nil {
				b.Fatal(err)
			}
			if s := l.Stats(); s.Dropped.Total() > 0 {
				b.Fatalf("dropped %d records: the measurement would flatter the caller", s.Dropped.Total())
			}
		})
	}
}
