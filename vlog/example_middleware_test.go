package vlog_test

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"

	"go.vlog.dev/vlog"
)

func ExampleMiddleware() {
	// A plain slog.JSONHandler keeps the example self-contained; the handlers of this module
	// also write the request_id, trace_id and span_id carried by the context. Time and
	// duration are removed to make the output deterministic.
	logger := slog.New(slog.NewJSONHandler(os.Stdout, &slog.HandlerOptions{
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey || a.Key == "duration_ms" {
				return slog.Attr{}
			}
			return a
		},
	}))

	mux := http.NewServeMux()
	mux.HandleFunc("GET /orders/{id}", func(w http.ResponseWriter, r *http.Request) {
		// The ids are in the request's context: pass it to every log call
		// (logger.InfoContext(r.Context(), ...)) and the handlers of this module add them.
		ctx := r.Context()
		fmt.Fprintf(w, "order %s, request %s, trace %s\n", r.PathValue("id"), vlog.RequestID(ctx), vlog.TraceID(ctx))
	})
	handler := vlog.Middleware(logger, mux) // e.g. http.ListenAndServe(":8080", handler)

	req := httptest.NewRequest("GET", "/orders/42?token=secret", nil)
	req.Header.Set("X-Request-Id", "req-7f3a")
	req.Header.Set("Traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	req.Header.Set("User-Agent", "curl/8.5.0")
	rec := httptest.NewRecorder()
	handler.ServeHTTP(rec, req)

	fmt.Println("X-Request-Id:", rec.Header().Get("X-Request-Id"))
	fmt.Print(rec.Body.String())
	// Output:
	// {"level":"INFO","msg":"http request","method":"GET","route":"GET /orders/{id}","path":"/orders/42","status":200,"bytes":67,"remote_ip":"192.0.2.1","user_agent":"curl/8.5.0"}
	// X-Request-Id: req-7f3a
	// order 42, request req-7f3a, trace 4bf92f3577b34da6a3ce929d0e0e4736
}
