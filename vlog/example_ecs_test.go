package vlog_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"go.vlog.dev/vlog"
)

// A service's main with a clean stop: on SIGTERM (ECS stopping the task) the server drains its
// requests, then the logger delivers what is still pending, both within VLOG_STOP_TIMEOUT
// (25s by default, under ECS's 30s stopTimeout).
func ExampleLogger_StopOnSignal() {
	logger, err := vlog.Setup(nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx, stop := logger.StopOnSignal(context.Background())
	defer stop() // also on the early returns below

	mux := http.NewServeMux()
	mux.Handle("GET /metrics", logger.MetricsHandler())
	srv := &http.Server{Addr: ":3000", Handler: vlog.Middleware(logger.Logger, mux), ReadHeaderTimeout: 5 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()

	select {
	case <-ctx.Done(): // SIGTERM or SIGINT
	case err := <-errc:
		slog.Error("server failed", "error", err)
		return
	}
	if err := stop(srv.Shutdown); err != nil && !errors.Is(err, http.ErrServerClosed) {
		fmt.Println("stop:", err)
	}
}

func ExampleLogger_MetricsHandler() {
	logger, err := vlog.New(&vlog.Options{Writer: io.Discard, Environ: []string{"SERVICE=order-api"}})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer logger.Close(context.Background())
	logger.Info("order created")
	logger.Info("order paid")
	_ = logger.Flush(context.Background()) // stdout is behind the buffer: deliver what it holds

	rec := httptest.NewRecorder()
	logger.MetricsHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	fmt.Println(rec.Header().Get("Content-Type"))
	for _, line := range strings.Split(rec.Body.String(), "\n") {
		if strings.HasPrefix(line, "vlog_records_") || strings.Contains(line, "vlog_records_enqueued_total ") {
			fmt.Println(line)
		}
	}
	// Output:
	// text/plain; version=0.0.4; charset=utf-8
	// # HELP vlog_records_enqueued_total Records given to the output.
	// # TYPE vlog_records_enqueued_total counter
	// vlog_records_enqueued_total 2
	// vlog_records_delivered_total 2
	// vlog_records_dropped_total{reason="buffer_full"} 0
	// vlog_records_dropped_total{reason="write_error"} 0
	// vlog_records_dropped_total{reason="oversize"} 0
	// vlog_records_dropped_total{reason="closed"} 0
}
