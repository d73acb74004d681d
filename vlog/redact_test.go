package vlog

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"go.vlog.dev/internal/vtest"
	"go.vlog.dev/redact"
)

type loginRequest struct {
	User     string `json:"user"`
	Password string `json:"password"`
	Card     string `json:"card"`
	Note     string `json:"note" log:"secret"`
}

// secrets are logged every way people log them by accident; none may reach the output.
var secrets = []string{
	"hunter2-password", "AKIAIOSFODNN7EXAMPLE", "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
	"ghp_abcdefghijklmnopqrstuvwxyz0123456789", "s3cr3tPassW0rd", "4111111111111111", "tok-in-query-123",
	"refresh-abc-123", "cookie-session-value", "sekret-note",
}

func logSecrets(l *slog.Logger) {
	h := http.Header{}
	h.Set("Authorization", "Bearer "+secrets[2])
	h.Set("Cookie", "sid="+secrets[8])
	h.Set("Accept", "application/json")
	u, _ := url.Parse("postgres://app:" + secrets[4] + "@db.internal:5432/orders?sslmode=require")
	l.Info("login with password="+secrets[0]+" for user alice", "aws_key", secrets[1])
	l.With("api_token", secrets[3]).Info("github call", "status", 200)
	l.Info("request", "headers", h, "dsn", u.String(), "url", "https://api.example.com/cb?token="+secrets[6]+"&page=2")
	l.Info("payment", slog.Group("card", "number", secrets[5], "holder", "Alice"), "refresh_token", secrets[7])
	l.Error("db connect failed", "err", errors.New("dial postgres://app:"+secrets[4]+"@db.internal: refused"))
	l.Info("login payload", "req", loginRequest{User: "alice", Password: secrets[0], Card: secrets[5], Note: secrets[9]})
	l.WithGroup("http").Info("inbound", "x-api-key", "k-"+secrets[3])
	l.Info("typed", "pw", redact.Secret(secrets[4]))
}

func TestRedactionOnByDefault(t *testing.T) {
	l, buf := newTest(t, nil)
	logSecrets(l.Logger)
	out := buf.String()
	for _, s := range secrets {
		require.NotContains(t, out, s)
	}
	// The rest stays readable.
	for _, keep := range []string{"login with password=[REDACTED] for user alice", "db.internal", "sslmode=require", "page=2", "Alice",
		"application/json", "alice", `"status":200`, "github call"} {
		require.Contains(t, out, keep)
	}
	st := l.Stats()
	require.NotNil(t, st.Redacted)
	var total uint64
	for _, n := range st.Redacted {
		total += n
	}
	require.GreaterOrEqual(t, total, uint64(10), "%v", st.Redacted)
	require.Greater(t, st.Redacted["key"], uint64(0))
	require.Greater(t, st.Redacted["aws_access_key"], uint64(0))

	rec := httptest.NewRecorder()
	l.MetricsHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	require.Contains(t, rec.Body.String(), fmt.Sprintf("vlog_redactions_total{rule=\"key\"} %d\n", st.Redacted["key"]))
}

func TestRedactionDisabled(t *testing.T) {
	f := func(opts *Options) {
		t.Helper()
		l, buf := newTest(t, opts)
		l.Info("m", "password", "plain-visible")
		require.Contains(t, buf.String(), "plain-visible")
		require.Nil(t, l.Stats().Redacted)
		require.Nil(t, l.Redactor())
	}
	f(&Options{Environ: []string{"VLOG_REDACT=false"}})
	f(&Options{Redaction: Bool(false)})
	f(&Options{Redaction: Bool(false), Environ: []string{"VLOG_REDACT=true"}}) // code wins
}

func TestRedactionSettings(t *testing.T) {
	l, buf := newTest(t, &Options{Environ: []string{"VLOG_REDACT_KEYS=ssn, internal_code", "VLOG_REDACT_IGNORE_KEYS=session",
		"VLOG_REDACT_MASK=***"}})
	l.Info("m", "ssn", "123-45-6789", "internal_code", "x1", "session", "visible-session", "password", "p")
	m := lastRecord(t, buf)
	require.Equal(t, "***", m["ssn"])
	require.Equal(t, "***", m["internal_code"])
	require.Equal(t, "visible-session", m["session"])
	require.Equal(t, "***", m["password"])

	// The hash mode: equal secrets give equal replacements, the hash key is never echoed.
	l, buf = newTest(t, &Options{Environ: []string{"VLOG_REDACT_HASH_KEY=0123456789abcdef0123"}})
	l.Info("a", "password", "same")
	first := lastRecord(t, buf)["password"]
	l.Info("b", "password", "same")
	require.Equal(t, first, lastRecord(t, buf)["password"])
	require.NotEqual(t, "same", first)

	_, err := New(&Options{Environ: []string{"VLOG_REDACT_DISABLE_RULES=nope", "VLOG_REDACT_HASH_KEY=short-secret"}, Writer: &bytes.Buffer{}})
	var ce *ConfigError
	require.ErrorAs(t, err, &ce)
	require.NotContains(t, err.Error(), "short-secret")
	_, err = New(&Options{Environ: []string{"VLOG_REDACT=perhaps"}, Writer: &bytes.Buffer{}})
	require.ErrorContains(t, err, `VLOG_REDACT="perhaps"`)
}

func TestRedactionThroughBuffer(t *testing.T) {
	var buf bytes.Buffer
	l, err := New(&Options{Writer: &buf, Environ: []string{"VLOG_STDOUT_BUFFERED=true"}})
	require.NoError(t, err)
	logSecrets(l.Logger)
	require.NoError(t, l.Close(context.Background()))
	for _, s := range secrets {
		require.NotContains(t, buf.String(), s)
	}
	require.Equal(t, 8, strings.Count(buf.String(), "\n"))
}

// TestRedactionOnEveryPath logs the same secrets through the forward output (to a forward
// receiver) and the victorialogs output (to a VictoriaLogs stand-in that checks what
// VictoriaLogs checks) and finds none of them in what arrives.
func TestRedactionOnEveryPath(t *testing.T) {
	check := func(t *testing.T, recs []map[string]any) {
		t.Helper()
		require.GreaterOrEqual(t, len(recs), 8)
		all, err := json.Marshal(recs)
		require.NoError(t, err)
		for _, s := range secrets {
			require.NotContains(t, string(all), s)
		}
		require.Contains(t, string(all), "login with password=[REDACTED] for user alice")
	}
	t.Run("forward", func(t *testing.T) {
		s := vtest.NewForwardSink(t, "tcp", "127.0.0.1:0", "ack")
		host, port, _ := net.SplitHostPort(s.Addr())
		l, err := New(&Options{Environ: []string{"FLUENT_HOST=" + host, "FLUENT_PORT=" + port, "VLOG_BATCH_AGE=5ms"}})
		require.NoError(t, err)
		require.Equal(t, OutputForward, l.Output())
		logSecrets(l.Logger)
		require.NoError(t, l.Close(context.Background()))
		s.CheckErrors()
		check(t, s.Records())
	})
	t.Run("victorialogs", func(t *testing.T) {
		srv := vtest.NewVictoriaLogs(t)
		l, err := New(&Options{Environ: []string{"VICTORIALOGS_URL=" + srv.URL, "VLOG_BATCH_AGE=5ms"}})
		require.NoError(t, err)
		require.Equal(t, OutputVictoriaLogs, l.Output())
		logSecrets(l.Logger)
		require.NoError(t, l.Close(context.Background()))
		check(t, srv.Lines())
	})
}
