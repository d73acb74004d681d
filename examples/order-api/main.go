// Command order-api is a small order service that shows vlog in a real program: one setup call,
// the request middleware, records that carry the request and trace ids, and a clean stop on
// SIGTERM (what ECS sends) or SIGINT that flushes the logger.
//
//	go run ./examples/order-api           # listens on :3000 (PORT), logs JSON lines to stdout
//	curl -s -XPOST localhost:3000/orders -d '{"user_id":42,"items":[{"sku":"A1","qty":2,"price":9.99}]}'
//	curl -s localhost:3000/orders/1
//
// Holding is on (VLOG_HOLD=true unless the environment says otherwise): the service logs at
// info, and each request's debug records are held and written only if the request fails. An
// order with an item whose sku is "boom" makes the store fail with a 500:
//
//	curl -s -XPOST localhost:3000/orders -d '{"user_id":7,"items":[{"sku":"boom","qty":1,"price":1}]}'
//
// and that request's debug records ("order decoded", "order line priced", "storing order", with
// their own event_time) appear just before its "order not stored" error, followed by the notice
// "vlog: wrote 3 held records ..."; the successful requests show no debug record. The counts
// are in /metrics (vlog_held_flushed_total, vlog_held_discarded_total). VLOG_HOLD=false turns
// it off; VLOG_DEBUG_SAMPLE_RATE=0.01 also logs 1% of the requests at debug in full.
//
// It is written only against vlog's public API.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"go.vlog.dev/vlog"
)

func main() {
	if err := run(); err != nil {
		// The logger may not exist (bad configuration): stderr is the only place left.
		fmt.Fprintln(os.Stderr, "order-api:", err)
		os.Exit(1)
	}
}

func run() error {
	// Holding is this example's default; the environment may still turn it off.
	opts := &vlog.Options{}
	if os.Getenv("VLOG_HOLD") == "" {
		opts.Holding = vlog.Bool(true)
	}
	logger, err := vlog.Setup(opts)
	if err != nil {
		return err
	}
	// ctx ends on SIGTERM (ECS stopping the task) or SIGINT; stop drains the HTTP server, then
	// delivers what the logger still holds, within VLOG_STOP_TIMEOUT (25s, under ECS's 30s).
	ctx, stop := logger.StopOnSignal(context.Background())
	defer stop() // on early returns too

	port := os.Getenv("PORT")
	if port == "" {
		port = "3000"
	}
	ln, err := net.Listen("tcp", ":"+port)
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.Handle("/", newServer(logger.Logger, newStore()))
	mux.Handle("GET /metrics", logger.MetricsHandler()) // vlog's own counters, Prometheus format
	srv := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 5 * time.Second,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	slog.Info("order-api listening", "addr", ln.Addr().String(), "output", logger.Output())
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()

	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	st := logger.Stats()
	slog.Info("order-api stopping", "records", st.Enqueued, "dropped", st.Dropped.Total())
	if err := stop(srv.Shutdown); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
