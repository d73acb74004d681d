package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"go.vlog.dev/vlog"
)

func TestOrderAPI(t *testing.T) {
	var out bytes.Buffer
	logger, err := vlog.New(&vlog.Options{Writer: &out, Environ: []string{"SERVICE=order-api", "ENV=test", "VERSION=1.0.0"}})
	require.NoError(t, err)
	srv := httptest.NewServer(newServer(logger.Logger, newStore()))
	defer srv.Close()

	req, _ := http.NewRequest("POST", srv.URL+"/orders?debug=1", strings.NewReader(`{"user_id":42,"items":[{"sku":"A1","qty":2,"price":9.99}]}`))
	req.Header.Set("X-Request-Id", "req-123")
	req.Header.Set("X-Amzn-Trace-Id", "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	require.Equal(t, http.StatusCreated, resp.StatusCode)
	require.Equal(t, "req-123", resp.Header.Get("X-Request-Id"))
	var o Order
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&o))
	resp.Body.Close()
	require.Equal(t, int64(1), o.ID)

	resp, err = http.Get(srv.URL + "/orders/1")
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	resp.Body.Close()
	resp, err = http.Get(srv.URL + "/orders/99")
	require.NoError(t, err)
	require.Equal(t, http.StatusNotFound, resp.StatusCode)
	resp.Body.Close()
	resp, err = http.Post(srv.URL+"/orders", "application/json", strings.NewReader(`{"items":[]}`))
	require.NoError(t, err)
	require.Equal(t, http.StatusUnprocessableEntity, resp.StatusCode)
	resp.Body.Close()

	require.NoError(t, logger.Flush(context.Background())) // stdout is behind the buffer
	var recs []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		var m map[string]any
		require.NoError(t, json.Unmarshal([]byte(line), &m), line)
		require.Equal(t, "order-api", m["service"])
		require.Equal(t, "test", m["env"])
		require.Equal(t, "1.0.0", m["version"])
		recs = append(recs, m)
	}
	require.Len(t, recs, 7, out.String())

	created := recs[0]
	require.Equal(t, "order created", created["msg"])
	require.Equal(t, "req-123", created["request_id"])
	require.Equal(t, "1-5759e988-bd862e3fe1be46a994272793", created["trace_id"])
	require.Equal(t, "53995c3f42cd8ad8", created["span_id"])
	require.Equal(t, "1", created["order_id"])
	require.Equal(t, 42.0, created["user_id"])
	require.InDelta(t, 19.98, created["amount"], 1e-9)
	require.Equal(t, 2.0, created["items"])
	require.Equal(t, true, created["ok"])

	access := recs[1]
	require.Equal(t, "http request", access["msg"])
	require.Equal(t, "req-123", access["request_id"])
	require.Equal(t, "POST /orders", access["route"])
	require.Equal(t, "/orders", access["path"], "the query string must not be logged")
	require.Equal(t, 201.0, access["status"])

	require.Equal(t, "GET /orders/{id}", recs[2]["route"])
	require.Equal(t, "order not found", recs[3]["msg"])
	require.Equal(t, "warn", recs[4]["level"])
	require.Equal(t, 404.0, recs[4]["status"])
	require.Equal(t, "bad order request", recs[5]["msg"])
	require.Equal(t, "an order needs at least one item", recs[5]["err"])
}

// TestOrderAPIHoldsDebugOnFailure: with holding on, as in main, the debug records of the
// request that fails (an item with sku "boom") are written, before its error record; those of
// the requests that succeed are not.
func TestOrderAPIHoldsDebugOnFailure(t *testing.T) {
	var out bytes.Buffer
	logger, err := vlog.New(&vlog.Options{Writer: &out, Holding: vlog.Bool(true),
		Environ: []string{"SERVICE=order-api", "ENV=test", "VERSION=1.0.0"}})
	require.NoError(t, err)
	srv := httptest.NewServer(newServer(logger.Logger, newStore()))
	defer srv.Close()
	post := func(id, body string) int {
		req, _ := http.NewRequest("POST", srv.URL+"/orders", strings.NewReader(body))
		req.Header.Set("X-Request-Id", id)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		return resp.StatusCode
	}
	require.Equal(t, http.StatusCreated, post("good-1", `{"user_id":1,"items":[{"sku":"A1","qty":2,"price":9.99}]}`))
	require.Equal(t, http.StatusInternalServerError, post("bad-1", `{"user_id":7,"items":[{"sku":"A1","qty":1,"price":1},{"sku":"boom","qty":1,"price":1}]}`))
	require.Equal(t, http.StatusCreated, post("good-2", `{"user_id":2,"items":[{"sku":"B2","qty":1,"price":5}]}`))
	require.NoError(t, logger.Flush(context.Background()))

	var got []string
	var heldTimes []string
	var errorTime string
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		var m map[string]any
		require.NoError(t, json.Unmarshal([]byte(line), &m), line)
		got = append(got, m["request_id"].(string)+" "+m["level"].(string)+" "+m["msg"].(string))
		if m["request_id"] == "bad-1" && m["level"] == "debug" {
			heldTimes = append(heldTimes, m["event_time"].(string))
		}
		if m["msg"] == "order not stored" {
			errorTime = m["event_time"].(string)
			require.Contains(t, m["err"], "boom")
		}
	}
	require.Equal(t, []string{
		"good-1 info order created",
		"good-1 info http request",
		"bad-1 debug order decoded",
		"bad-1 debug order line priced",
		"bad-1 debug order line priced",
		"bad-1 debug storing order",
		"bad-1 info vlog: wrote 4 held records of this scope, held below info",
		"bad-1 error order not stored",
		"bad-1 error http request",
		"good-2 info order created",
		"good-2 info http request",
	}, got)
	// The held records keep their own time: they were logged before the error.
	require.Len(t, heldTimes, 4)
	for _, ts := range heldTimes {
		require.Less(t, ts, errorTime)
	}
	st := logger.Stats().Volume
	require.Equal(t, uint64(4), st.Flushed)
	require.Equal(t, uint64(6), st.Discarded, "3 debug records for each good request")
}
