package slogmulti_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"testing/slogtest"

	slogmulti "github.com/samber/slog-multi"
	"github.com/stretchr/testify/require"

	"go.vlog.dev/handlers/schema"
	"go.vlog.dev/vlog"
)

// TestRouterByLevel is the recipe "Router by level": every record goes to vlog, and the
// errors go to an alerting handler (a slog.JSONHandler stands for it) as well. The With
// attributes, the group and the context ids reach vlog through the router; an info record is
// one vlog Write and nothing else, an error one vlog Write and one alert.
func TestRouterByLevel(t *testing.T) {
	logger, vw := newVlog(t, nil)
	var alerts bytes.Buffer
	h := slogmulti.Router().
		Add(logger.Handler()).
		Add(slog.NewJSONHandler(&alerts, nil), func(_ context.Context, r slog.Record) bool {
			return r.Level >= slog.LevelError
		}).
		Handler()
	log := slog.New(h).With("order_id", "ord-7").WithGroup("payment")
	ctx := vlog.WithRequestID(context.Background(), "req-1")

	log.InfoContext(ctx, "charged", "amount", 19.99)
	require.Equal(t, 1, vw.count(t))
	require.Zero(t, alerts.Len(), "info is not an alert")

	log.ErrorContext(ctx, "charge failed", "code", "card_declined")
	recs := vw.records(t)
	require.Len(t, recs, 2, "one vlog record per call")
	for _, m := range recs {
		require.Equal(t, "req-1", m[schema.RequestID])
		require.Equal(t, "ord-7", m["order_id"])
	}
	require.Equal(t, map[string]any{"code": "card_declined"}, recs[1]["payment"])
	require.Equal(t, "error", recs[1][schema.Level])

	var alert map[string]any
	require.Equal(t, 1, strings.Count(alerts.String(), "\n"))
	require.NoError(t, json.Unmarshal(alerts.Bytes(), &alert))
	require.Equal(t, map[string]any{"order_id": "ord-7", "payment": map[string]any{"code": "card_declined"}}, foreignAttrsOf(alert))
}

// TestRouterAttrPredicate routes on an attribute bound with With (the router sees the With
// attributes in its predicates): audit records go to an audit handler as well as to vlog.
func TestRouterAttrPredicate(t *testing.T) {
	logger, vw := newVlog(t, nil)
	var audit bytes.Buffer
	log := slog.New(slogmulti.Router().
		Add(logger.Handler()).
		Add(slog.NewJSONHandler(&audit, nil), slogmulti.AttrValueIs("audit", true)).
		Handler())

	log.Info("login", "user", "bob")
	log.With("audit", true).Info("role granted", "user", "bob", "role", "admin")
	require.Equal(t, 2, vw.count(t))
	require.Equal(t, 1, strings.Count(audit.String(), "\n"))
	require.Contains(t, audit.String(), `"msg":"role granted"`)
	require.Equal(t, true, vw.records(t)[1]["audit"])
}

// TestRouterFirstMatch: with FirstMatch a record goes to the first handler whose predicates
// match and to no other: errors to the foreign handler only, the rest to vlog.
func TestRouterFirstMatch(t *testing.T) {
	logger, vw := newVlog(t, nil)
	var errs bytes.Buffer
	log := slog.New(slogmulti.Router().
		Add(slog.NewJSONHandler(&errs, nil), slogmulti.LevelIs(slog.LevelError)).
		Add(logger.Handler()).
		FirstMatch().
		Handler()).WithGroup("g").With("k", "v")

	log.Info("fine")
	log.Error("broken")
	recs := vw.records(t)
	require.Len(t, recs, 1)
	require.Equal(t, "fine", recs[0][schema.Message])
	require.Equal(t, map[string]any{"k": "v"}, recs[0]["g"])
	require.Equal(t, 1, strings.Count(errs.String(), "\n"))
	require.Contains(t, errs.String(), `"g":{"k":"v"}`)
}

// TestRouterSlogtest runs testing/slogtest on a router whose only route is vlog.
func TestRouterSlogtest(t *testing.T) {
	var vw *recorder
	slogtest.Run(t, func(t *testing.T) slog.Handler {
		var logger *vlog.Logger
		logger, vw = newVlog(t, nil)
		return slogmulti.Router().
			Add(logger.Handler(), func(context.Context, slog.Record) bool { return true }).
			Add(slog.NewJSONHandler(&bytes.Buffer{}, nil), func(context.Context, slog.Record) bool { return false }).
			Handler()
	}, func(t *testing.T) map[string]any { return slogtestResult(t, vw) })
}
