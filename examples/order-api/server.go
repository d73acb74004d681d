package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"

	"go.vlog.dev/vlog"
)

// Order is what the service stores.
type Order struct {
	ID        int64     `json:"id"`
	UserID    int64     `json:"user_id"`
	Items     []Item    `json:"items"`
	Amount    float64   `json:"amount"`
	CreatedAt time.Time `json:"created_at"`
}

// Item is one line of an order.
type Item struct {
	SKU   string  `json:"sku"`
	Qty   int     `json:"qty"`
	Price float64 `json:"price"`
}

type store struct {
	mu     sync.Mutex
	next   int64
	orders map[int64]Order
}

func newStore() *store { return &store{orders: map[int64]Order{}} }

// failSKU is the SKU that makes the store fail, so that a person can see what a failed request
// logs: with holding on (VLOG_HOLD, on in this example), its debug records, held until then,
// are written before its error record; the other requests' are discarded.
const failSKU = "boom"

var errStoreFailed = errors.New("store: write failed (simulated for sku " + failSKU + ")")

func (s *store) add(o Order) (Order, error) {
	for _, it := range o.Items {
		if it.SKU == failSKU {
			return Order{}, errStoreFailed
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.next++
	o.ID = s.next
	s.orders[o.ID] = o
	return o, nil
}

func (s *store) get(id int64) (Order, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.orders[id]
	return o, ok
}

var errEmptyOrder = errors.New("an order needs at least one item")

// newServer returns the service's routes behind vlog's middleware.
func newServer(logger *slog.Logger, st *store) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /orders", func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		ctx := r.Context()
		var o Order
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&o); err != nil {
			logger.WarnContext(r.Context(), "bad order request", "err", err)
			http.Error(w, "bad request: "+err.Error(), http.StatusBadRequest)
			return
		}
		if len(o.Items) == 0 {
			logger.WarnContext(r.Context(), "bad order request", "err", errEmptyOrder, "user_id", o.UserID)
			http.Error(w, errEmptyOrder.Error(), http.StatusUnprocessableEntity)
			return
		}
		logger.DebugContext(ctx, "order decoded", "user_id", o.UserID, "lines", len(o.Items))
		n := 0
		o.Amount = 0
		for _, it := range o.Items {
			n += it.Qty
			o.Amount += float64(it.Qty) * it.Price
			logger.LogAttrs(ctx, slog.LevelDebug, "order line priced",
				slog.String("sku", it.SKU), slog.Int("qty", it.Qty), slog.Float64("price", it.Price))
		}
		o.CreatedAt = time.Now().UTC()
		logger.DebugContext(ctx, "storing order", "amount", o.Amount, "items", n)
		stored, err := st.add(o)
		if err != nil {
			// An error record: the request's held debug records are written before it.
			logger.ErrorContext(ctx, "order not stored", "err", err, "user_id", o.UserID)
			http.Error(w, "internal error", http.StatusInternalServerError)
			return
		}
		o = stored
		logger.LogAttrs(r.Context(), slog.LevelInfo, "order created",
			slog.String("order_id", strconv.FormatInt(o.ID, 10)),
			slog.Int64("user_id", o.UserID),
			slog.Float64("amount", o.Amount),
			slog.Int("items", n),
			slog.Duration("duration", time.Since(start)),
			slog.Bool("ok", true),
		)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		_ = json.NewEncoder(w).Encode(o)
	})
	mux.HandleFunc("GET /orders/{id}", func(w http.ResponseWriter, r *http.Request) {
		id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
		if err != nil {
			http.Error(w, fmt.Sprintf("bad order id %q", r.PathValue("id")), http.StatusBadRequest)
			return
		}
		logger.DebugContext(r.Context(), "looking up order", "order_id", id)
		o, ok := st.get(id)
		if !ok {
			logger.InfoContext(r.Context(), "order not found", "order_id", r.PathValue("id"))
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(o)
	})
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte("ok\n"))
	})
	return vlog.Middleware(logger, mux)
}
