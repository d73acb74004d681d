// Command order-api is a small order service that shows vlog in a real program: one setup call,
// the request middleware, records that carry the request and trace ids, and a clean stop on
// SIGTERM (what ECS sends) or SIGINT that flushes the logger.
//
//	go run ./examples/order-api           # listens on :3000 (PORT), logs JSON lines to stdout
//	curl -s -XPOST localhost:3000/orders -d '{"user_id":42,"items":[{"sku":"A1","qty":2,"price":9.99}]}'
//	curl -s localhost:3000/orders/1
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
	"os/signal"
	"syscall"
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
	logger, err := vlog.Setup(nil)
	if err != nil {
		return err
	}
	// Runs last: delivers what is still buffered, within a deadline under ECS's 30 s stopTimeout.
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := logger.Close(ctx); err != nil {
			fmt.Fprintln(os.Stderr, "order-api: closing the logger:", err)
		}
	}()

	port := os.Getenv("PORT")
	if port == "" {
		port = "3000"
	}
	ln, err := net.Listen("tcp", ":"+port)
	if err != nil {
		return err
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()

	srv := &http.Server{
		Handler:           newServer(logger.Logger, newStore()),
		ReadHeaderTimeout: 5 * time.Second,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	slog.Info("order-api listening", "addr", ln.Addr().String())
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()

	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	slog.Info("shutting down", "reason", "signal")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		slog.Error("shutdown", "err", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	st := logger.Stats()
	slog.Info("stopped", "records", st.Enqueued, "dropped", st.Dropped.Total())
	return nil
}
