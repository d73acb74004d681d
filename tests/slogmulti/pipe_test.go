package slogmulti_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"testing/slogtest"

	slogmulti "github.com/samber/slog-multi"
	"github.com/stretchr/testify/require"

	"go.vlog.dev/handlers/schema"
	"go.vlog.dev/vlog"
)

// TestPipeRedactsForeignHandler is the recipe "redaction in front of a foreign handler":
// vlog's handler redacts by itself; a foreign handler (slog.JSONHandler here, Sentry or a
// team's own in a service) gets the same Redactor through
// slogmulti.Pipe(logger.Redactor().Middleware()). Secrets in the message, in With attributes,
// under a WithGroup with a secret name, in groups and in errors reach neither output, and the
// Logger's Stats count the masks of both handlers (one Redactor).
func TestPipeRedactsForeignHandler(t *testing.T) {
	logger, vw := newVlog(t, nil)
	red := logger.Redactor()
	require.NotNil(t, red, "redaction is on by default")
	var foreign bytes.Buffer
	log := slog.New(slogmulti.Fanout(
		logger.Handler(),
		slogmulti.Pipe(red.Middleware()).Handler(slog.NewJSONHandler(&foreign, nil)),
	))

	log.With("api_key", "S3CR3T-with", "region", "eu-west-1").WithGroup("req").Info(
		"login with password=S3CR3T-msg",
		"user", "bob",
		"token", "S3CR3T-attr",
		slog.Group("db", "host", "db.internal", "password", "S3CR3T-group"),
		"err", errors.New("dial postgres://app:S3CR3T-err@db.internal:5432/orders: refused"),
	)
	log.WithGroup("credentials").Info("nested", "user", "S3CR3T-in-secret-group")
	log.Info("group", slog.Group("credentials", "user", "S3CR3T-in-secret-group"))

	out := foreign.String()
	require.NotContains(t, out, "S3CR3T", out)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	require.Len(t, lines, 3)
	var f map[string]any
	require.NoError(t, json.Unmarshal([]byte(lines[0]), &f))
	require.Equal(t, "login with password=[REDACTED]", f[slog.MessageKey])
	require.Equal(t, map[string]any{
		"api_key": "[REDACTED]",
		"region":  "eu-west-1",
		"req": map[string]any{
			"user":  "bob",
			"token": "[REDACTED]",
			"db":    map[string]any{"host": "db.internal", "password": "[REDACTED]"},
			"err":   "dial postgres://app:[REDACTED]@db.internal:5432/orders: refused",
		},
	}, foreignAttrsOf(f))

	require.Contains(t, lines[1], `"credentials":{"user":"[REDACTED]"}`)
	require.Contains(t, lines[2], `"credentials":"[REDACTED]"`)

	recs := vw.records(t)
	require.Len(t, recs, 3, "one vlog record per call")
	b, err := json.Marshal(recs[0])
	require.NoError(t, err)
	require.NotContains(t, string(b), "S3CR3T")
	require.Equal(t, "login with password=[REDACTED]", recs[0][schema.Message])
	require.Equal(t, "[REDACTED]", recs[2]["credentials"])
	// recs[1], the WithGroup("credentials") record: see TestVlogSecretWithGroup.

	// Both handlers mask with the one Redactor, so the Logger's counts include the foreign
	// handler's: the secret in the message and the password in the error's URL once in each.
	counts := logger.Stats().Redacted
	require.Equal(t, uint64(2), counts["key_value"])
	require.Equal(t, uint64(2), counts["url_password"])
}

// TestVlogSecretWithGroup: under a WithGroup whose name is a secret key, redact.Handler (and so
// the middleware) masks every attribute, as package redact documents; vlog's handler, with the
// same Redactor, does too (as it does for slog.Group("credentials", ...)).
func TestVlogSecretWithGroup(t *testing.T) {
	logger, vw := newVlog(t, nil)
	var foreign bytes.Buffer
	log := slog.New(slogmulti.Fanout(
		logger.Handler(),
		slogmulti.Pipe(logger.Redactor().Middleware()).Handler(slog.NewJSONHandler(&foreign, nil)),
	))
	log.WithGroup("credentials").Info("in record", "user", "S3CR3T-1")
	log.WithGroup("credentials").With("user", "S3CR3T-2").Info("in With")
	require.NotContains(t, foreign.String(), "S3CR3T")
	recs := vw.records(t)
	require.Len(t, recs, 2)
	for _, m := range recs {
		require.Equal(t, map[string]any{"user": "[REDACTED]"}, m["credentials"])
	}
}

// TestPipeMiddlewareBeforeVlog: a foreign middleware (slog-multi's inline one, adding an
// attribute to each record) in front of vlog's handler: With attributes and WithGroup groups
// go through the pipe to vlog, the attribute added in Handle lands in the record's group, as
// slog's rules put it, and each call is one vlog Write.
func TestPipeMiddlewareBeforeVlog(t *testing.T) {
	logger, vw := newVlog(t, nil)
	addHost := slogmulti.NewHandleInlineMiddleware(func(ctx context.Context, r slog.Record, next func(context.Context, slog.Record) error) error {
		r.AddAttrs(slog.String("host", "ip-10-0-0-1"))
		return next(ctx, r)
	})
	log := slog.New(slogmulti.Pipe(addHost).Handler(logger.Handler())).With("order_id", "ord-7").WithGroup("payment")
	ctx := vlog.WithRequestID(context.Background(), "req-1")
	log.InfoContext(ctx, "charged", "amount", 19.99)
	log.InfoContext(ctx, "charged again")

	recs := vw.records(t)
	require.Len(t, recs, 2)
	require.Equal(t, map[string]any{
		schema.RequestID: "req-1",
		"order_id":       "ord-7",
		"payment":        map[string]any{"amount": 19.99, "host": "ip-10-0-0-1"},
	}, attrsOf(recs[0]))
	require.Equal(t, map[string]any{"host": "ip-10-0-0-1"}, recs[1]["payment"])
}

// TestPipeRedactorBeforeVlogIsRedundant: the middleware in front of vlog's own handler changes
// nothing in the output (vlog's handler redacts with the same Redactor, and a masked value
// stays as it is), but a secret key is then counted twice: leave it out there.
func TestPipeRedactorBeforeVlogIsRedundant(t *testing.T) {
	plain, pw := newVlog(t, nil)
	piped, qw := newVlog(t, nil)
	slog.New(plain.Handler()).Info("login with password=S3CR3T-msg", "token", "S3CR3T-attr")
	slog.New(slogmulti.Pipe(piped.Redactor().Middleware()).Handler(piped.Handler())).
		Info("login with password=S3CR3T-msg", "token", "S3CR3T-attr")

	a, b := pw.only(t), qw.only(t)
	delete(a, schema.EventTime)
	delete(b, schema.EventTime)
	require.Equal(t, a, b)
	require.NotContains(t, a[schema.Message], "S3CR3T")
	// A secret key is counted by both (the middleware, then vlog's encoder masks the masked
	// value again); a secret in text once (vlog finds the masked text already masked).
	pc, qc := plain.Stats().Redacted, piped.Stats().Redacted
	require.Equal(t, map[string]uint64{"key": 1, "key_value": 1}, pc)
	require.Equal(t, map[string]uint64{"key": 2, "key_value": 1}, qc)
}

// TestPipeSlogtest runs testing/slogtest on Pipe(redactor middleware) in front of vlog.
func TestPipeSlogtest(t *testing.T) {
	var vw *recorder
	slogtest.Run(t, func(t *testing.T) slog.Handler {
		var logger *vlog.Logger
		logger, vw = newVlog(t, nil)
		return slogmulti.Pipe(logger.Redactor().Middleware()).Handler(logger.Handler())
	}, func(t *testing.T) map[string]any { return slogtestResult(t, vw) })
}
