package redact_test

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"testing/slogtest"

	"github.com/stretchr/testify/require"

	"go.vlog.dev/redact"
)

// TestMiddleware puts Middleware in front of slog.JSONHandler, the way slogmulti.Pipe applies
// it, and logs secrets through WithAttrs, WithGroup (a plain group and one with a secret name)
// and the record: none may reach the output, the rest must, in its groups.
func TestMiddleware(t *testing.T) {
	var buf bytes.Buffer
	r := mustNew(t, nil)
	mw := r.Middleware()
	h := mw(slog.NewJSONHandler(&buf, &slog.HandlerOptions{ReplaceAttr: dropTime}))
	require.IsType(t, &redact.Handler{}, h)
	require.Same(t, r, h.(*redact.Handler).Redactor())

	logger := slog.New(h).With("api_key", "S3CR3T-with", "region", "eu-west-1").WithGroup("req")
	logger.Info("login with password=S3CR3T-msg", "user", "bob", "token", "S3CR3T-attr")
	logger.With("cookie", "S3CR3T-group-with").WithGroup("credentials").Info("nested", "user", "S3CR3T-secret-group")

	out := buf.String()
	require.NotContains(t, out, "S3CR3T", out)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	require.Len(t, lines, 2)
	require.JSONEq(t, `{"level":"INFO","msg":"login with password=[REDACTED]","api_key":"[REDACTED]","region":"eu-west-1",
		"req":{"user":"bob","token":"[REDACTED]"}}`, lines[0])
	require.JSONEq(t, `{"level":"INFO","msg":"nested","api_key":"[REDACTED]","region":"eu-west-1",
		"req":{"cookie":"[REDACTED]","credentials":{"user":"[REDACTED]"}}}`, lines[1])
	// api_key is masked once, in With; then token, cookie and the user in "credentials".
	require.Equal(t, map[string]uint64{"key": 4, "key_value": 1}, r.Counts())
}

// TestMiddlewareNilRedactor: a nil *Redactor gives the default rules, one Redactor for every
// handler the middleware wraps, so their counts add up in one place.
func TestMiddlewareNilRedactor(t *testing.T) {
	var a, b bytes.Buffer
	mw := (*redact.Redactor)(nil).Middleware()
	ha := mw(slog.NewJSONHandler(&a, nil)).(*redact.Handler)
	hb := mw(slog.NewTextHandler(&b, nil)).(*redact.Handler)
	require.NotNil(t, ha.Redactor())
	require.Same(t, ha.Redactor(), hb.Redactor())

	slog.New(ha).Info("x", "password", "S3CR3T-a")
	slog.New(hb).Info("x", "password", "S3CR3T-b")
	require.NotContains(t, a.String()+b.String(), "S3CR3T")
	require.Contains(t, b.String(), "password=[REDACTED]")
	require.Equal(t, map[string]uint64{"key": 2}, ha.Redactor().Counts())
}

// TestMiddlewareNilNext: like NewHandler, the middleware refuses a nil next handler at once,
// when the pipe is built, rather than on the first record.
func TestMiddlewareNilNext(t *testing.T) {
	mw := mustNew(t, nil).Middleware()
	require.PanicsWithValue(t, "redact: NewHandler: nil next handler", func() { mw(nil) })
}

// TestMiddlewareSlogtest: the handler the middleware returns is a correct slog.Handler.
func TestMiddlewareSlogtest(t *testing.T) {
	var buf bytes.Buffer
	mw := mustNew(t, nil).Middleware()
	slogtest.Run(t, func(*testing.T) slog.Handler {
		buf.Reset()
		return mw(slog.NewJSONHandler(&buf, nil))
	}, func(t *testing.T) map[string]any {
		var m map[string]any
		require.NoError(t, json.Unmarshal(buf.Bytes(), &m))
		return m
	})
}
