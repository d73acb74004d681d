package redact_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"testing/slogtest"
	"time"

	"github.com/stretchr/testify/require"

	"go.vlog.dev/internal/vtest"
	"go.vlog.dev/redact"
)

type dbConfig struct {
	Host     string
	User     string
	Password string
	Token    string `json:"tok" log:"secret"`
	Labels   map[string]string
}

type lazyToken struct{ tok string }

func (l lazyToken) LogValue() slog.Value {
	return slog.GroupValue(slog.String("kind", "lazy"), slog.String("access_token", l.tok))
}

// TestHandlerEndToEnd logs secrets in every place a record can carry them through NewHandler
// and slog.JSONHandler: none may appear in the output, everything else must.
func TestHandlerEndToEnd(t *testing.T) {
	var buf bytes.Buffer
	r := mustNew(t, nil)
	logger := slog.New(redact.NewHandler(slog.NewJSONHandler(&buf, nil), r))

	u, err := url.Parse("https://admin:S3CR3T-url@api.example.com/v1/items?page=2&access_token=S3CR3T-query")
	require.NoError(t, err)
	hdr := http.Header{
		"Authorization": {"Bearer S3CR3T-bearer-1234"},
		"Cookie":        {"sid=S3CR3T-cookie"},
		"Accept":        {"application/json"},
	}
	cfg := dbConfig{Host: "db.internal", User: "app", Password: "S3CR3T-field", Token: "S3CR3T-tag", Labels: map[string]string{"client_secret": "S3CR3T-map", "team": "orders"}}
	connErr := fmt.Errorf("open db: %w", errors.New("dial postgres://app:S3CR3T-err@db.internal:5432/orders: connection refused"))

	logger.With("api_key", "S3CR3T-with", "region", "eu-west-1").
		WithGroup("req").
		Info("login as bob with password=S3CR3T-msg ok",
			"user", "bob",
			"token", "S3CR3T-attr",
			slog.Group("auth", "scheme", "basic", "password", "S3CR3T-group", "header", "Basic dXNlcjpTM0NSM1QtYjY0"),
			"url", u,
			"headers", hdr,
			"config", cfg,
			"config_ptr", &cfg,
			"err", connErr,
			"card", "4111 1111 1111 1111",
			"pan", int64(4111111111111111),
			"jwt", jwt,
			"lazy", lazyToken{"S3CR3T-lazy"},
			"typed", redact.Secret("S3CR3T-typed"),
			"count", 3,
		)
	logger.WithGroup("credentials").Info("nested group", "user", "bob", "anything", "S3CR3T-ingroup")

	out := buf.String()
	for _, s := range []string{
		"S3CR3T", "dXNlcjpTM0NSM1QtYjY0", "4111", jwt[:40],
	} {
		require.NotContains(t, out, s)
	}
	for _, s := range []string{
		`"msg":"login as bob with password=[REDACTED] ok"`, `"api_key":"[REDACTED]"`,
		`"region":"eu-west-1"`, `"user":"bob"`, `"token":"[REDACTED]"`, `"scheme":"basic"`,
		`"password":"[REDACTED]"`, `"header":"Basic [REDACTED]"`,
		`"url":"https://admin:[REDACTED]@api.example.com/v1/items?page=2&access_token=[REDACTED]"`,
		`"Accept":["application/json"]`, `"Authorization":"[REDACTED]"`, `"Cookie":"[REDACTED]"`,
		`"Host":"db.internal"`, `"Password":"[REDACTED]"`, `"tok":"[REDACTED]"`, `"team":"orders"`,
		`"err":"open db: dial postgres://app:[REDACTED]@db.internal:5432/orders: connection refused"`,
		`"card":"[REDACTED]"`, `"pan":"[REDACTED]"`, `"jwt":"[REDACTED]"`,
		`"lazy":{"kind":"lazy","access_token":"[REDACTED]"}`, `"typed":"[REDACTED]"`, `"count":3`,
		`"credentials":{"user":"[REDACTED]","anything":"[REDACTED]"}`,
	} {
		require.Contains(t, out, s)
	}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		require.True(t, json.Valid([]byte(line)), line)
	}
	counts := r.Counts()
	for _, rule := range []string{"key", "key_value", "url_password", "basic", "card", "jwt"} {
		require.NotZero(t, counts[rule], rule)
	}
}

func TestReplaceAttr(t *testing.T) {
	for _, name := range []string{"json", "text"} {
		t.Run(name, func(t *testing.T) {
			var buf bytes.Buffer
			r := mustNew(t, nil)
			opts := &slog.HandlerOptions{ReplaceAttr: r.ReplaceAttr, AddSource: true}
			var h slog.Handler = slog.NewJSONHandler(&buf, opts)
			if name == "text" {
				h = slog.NewTextHandler(&buf, opts)
			}
			logger := slog.New(h).With("session_id", "S3CR3T-with")
			logger.Info("Bearer S3CR3T-msg-1234",
				"user", "bob",
				"headers", http.Header{"Authorization": {"S3CR3T-hdr"}, "Accept": {"*/*"}},
				slog.Group("db", "password", "S3CR3T-grp", "host", "h"),
				"err", errors.New("bad dsn Password=S3CR3T-err;"),
				"ok_err", errors.New("plain failure"),
				"plain", struct{ A int }{1},
				"typed", redact.Secret("S3CR3T-typed"),
			)
			logger.WithGroup("secrets").Info("m", "a", "S3CR3T-ingroup", "n", 1)
			out := buf.String()
			require.NotContains(t, out, "S3CR3T")
			for _, s := range []string{"bob", "Accept", "plain failure", "INFO", "handler_test.go"} {
				require.Contains(t, out, s)
			}
			if name == "json" {
				require.Contains(t, out, `"plain":{"A":1}`)
				require.Contains(t, out, `"headers":{"Accept":["*/*"],"Authorization":"[REDACTED]"}`)
			} else {
				require.Contains(t, out, `plain={A:1}`)
				require.Contains(t, out, `headers="{\"Accept\":[\"*/*\"],\"Authorization\":\"[REDACTED]\"}"`)
			}
		})
	}
}

func TestReplaceAttrUnchanged(t *testing.T) {
	r := mustNew(t, nil)
	f := func(a slog.Attr) {
		t.Helper()
		got := r.ReplaceAttr(nil, a)
		require.Equal(t, a, got)
	}
	f(slog.String("msg", "all good"))
	f(slog.Int("n", 5))
	f(slog.Int64("ts", 1700000000123456789))
	f(slog.Duration("d", time.Second))
	f(slog.Time("t", time.Unix(1, 0)))
	f(slog.Any("level", slog.LevelWarn))
	f(slog.Any("m", map[string]int{"a": 1}))
	f(slog.Any("e", errors.New("no secret")))
	f(slog.Attr{})
	require.Empty(t, r.Counts())

	vtest.WantAllocs(t, 0, func() { r.ReplaceAttr([]string{"g"}, slog.String("msg", "all good")) })
	vtest.WantAllocs(t, 0, func() { r.ReplaceAttr(nil, slog.Int("n", 5)) })
}

func TestReplaceAttrErrors(t *testing.T) {
	r := mustNew(t, nil)
	f := func(a slog.Attr, want string) {
		t.Helper()
		got := r.ReplaceAttr(nil, a)
		require.Equal(t, want, got.Value.String())
	}
	c := &cyclic{Pass: "p"}
	c.Next = c
	f(slog.Any("c", c), "!ERROR:json: unsupported value: encountered a cycle via *redact_test.cyclic")
	f(slog.Any("p", panicker{}), "!ERROR:redact: marshal redact_test.panicker: panic: boom with password=[REDACTED]")
	// An Error method that panics does not crash ReplaceAttr; the handler reports it as usual.
	var nilErr *myErr
	a := slog.Any("e", nilErr)
	require.Equal(t, a, r.ReplaceAttr(nil, a))
}

type myErr struct{ msg string }

func (e *myErr) Error() string { return e.msg }

func TestHandlerHash(t *testing.T) {
	var buf bytes.Buffer
	r := mustNew(t, &redact.Options{HashKey: []byte("0123456789abcdef")})
	logger := slog.New(redact.NewHandler(slog.NewJSONHandler(&buf, nil), r))
	logger.Info("a", "password", "hunter2", "typed", redact.Secret("hunter2"), "other", "hunter3")
	var m map[string]any
	require.NoError(t, json.Unmarshal(buf.Bytes(), &m))
	require.Regexp(t, `^\[REDACTED:[0-9a-f]{12}\]$`, m["password"])
	require.Equal(t, m["password"], m["typed"])
	require.NotContains(t, buf.String(), "hunter2")
	require.Contains(t, buf.String(), "hunter3")
}

func TestHandlerPassThrough(t *testing.T) {
	var got slog.Record
	next := recordHandler{func(r slog.Record) { got = r }}
	h := redact.NewHandler(next, nil)
	rec := slog.NewRecord(time.Unix(1, 0), slog.LevelInfo, "hello", 42)
	rec.AddAttrs(slog.String("user", "bob"), slog.Int("n", 1))
	require.NoError(t, h.Handle(context.Background(), rec))
	require.Equal(t, "hello", got.Message)
	require.Equal(t, uintptr(42), got.PC)
	require.Equal(t, 2, got.NumAttrs())
	vtest.WantAllocs(t, 0, func() { _ = h.Handle(context.Background(), rec) })

	rec.AddAttrs(slog.String("token", "x"))
	require.NoError(t, h.Handle(context.Background(), rec))
	require.Equal(t, time.Unix(1, 0), got.Time)
	require.Equal(t, uintptr(42), got.PC)
	var keys []string
	got.Attrs(func(a slog.Attr) bool {
		keys = append(keys, a.Key+"="+a.Value.String())
		return true
	})
	require.Equal(t, []string{"user=bob", "n=1", "token=[REDACTED]"}, keys)

	require.Panics(t, func() { redact.NewHandler(nil, nil) })
	require.Same(t, h, h.WithGroup(""))
	require.Same(t, h, h.WithAttrs(nil))
	require.True(t, h.Enabled(context.Background(), slog.LevelDebug))
	require.NotNil(t, h.Redactor())
}

type recordHandler struct{ f func(slog.Record) }

func (h recordHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h recordHandler) Handle(_ context.Context, r slog.Record) error {
	h.f(r)
	return nil
}
func (h recordHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h recordHandler) WithGroup(string) slog.Handler      { return h }

func TestHandlerSlogtest(t *testing.T) {
	var buf bytes.Buffer
	slogtest.Run(t, func(*testing.T) slog.Handler {
		buf.Reset()
		return redact.NewHandler(slog.NewJSONHandler(&buf, nil), nil)
	}, func(t *testing.T) map[string]any {
		var m map[string]any
		require.NoError(t, json.Unmarshal(buf.Bytes(), &m))
		return m
	})
}

func TestReplaceAttrGroups(t *testing.T) {
	r := mustNew(t, nil)
	f := func(groups []string, a slog.Attr, want string) {
		t.Helper()
		got := r.ReplaceAttr(groups, a)
		require.Equal(t, want, got.String())
	}
	f(nil, slog.Group("db", "host", "h", "password", "p"), "db=[host=h password=[REDACTED]]")
	f(nil, slog.Group("credentials", "user", "u", "n", 1), "credentials=[REDACTED]")
	f([]string{"auth", "credentials"}, slog.String("user", "u"), "user=[REDACTED]")
	f([]string{"a"}, slog.Group("", "token", "t", "x", "y"), "=[token=[REDACTED] x=y]")
	f([]string{"secret"}, slog.Group("", "x", "y"), "=[x=[REDACTED]]")
	f(nil, slog.Any("lazy", lazyToken{"t"}), "lazy=[kind=lazy access_token=[REDACTED]]")
	f(nil, slog.Int64("pan", 4111111111111111), "pan=[REDACTED]")
	f(nil, slog.Uint64("pan", 5555555555554444), "pan=[REDACTED]")
	f(nil, slog.Int64("id", 4111111111111112), "id=4111111111111112")
	f(nil, slog.Any("u", url.URL{Scheme: "https", Host: "h", User: url.UserPassword("u", "p")}), "u=https://u:[REDACTED]@h")
	f(nil, slog.Any("u", &url.URL{Scheme: "https", Host: "h", Path: "/x"}), "u=https://h/x")
}

func TestHandlerWithAttrsGroups(t *testing.T) {
	var buf bytes.Buffer
	h := redact.NewHandler(slog.NewJSONHandler(&buf, &slog.HandlerOptions{ReplaceAttr: dropTime}), nil)
	logger := slog.New(h).
		With(slog.Group("db", "host", "h", "password", "S3CR3T-1")).
		WithGroup("secrets").
		With("a", "S3CR3T-2", slog.Group("g", "b", "S3CR3T-3"))
	logger.Info("m", "c", "S3CR3T-4")
	require.Equal(t, `{"level":"INFO","msg":"m","db":{"host":"h","password":"[REDACTED]"},"secrets":{"a":"[REDACTED]","g":"[REDACTED]","c":"[REDACTED]"}}`+"\n", buf.String())
}
