package redact_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/require"

	"go.vlog.dev/redact"
)

func TestSecret(t *testing.T) {
	s := redact.Secret("hunter2")
	require.Equal(t, "hunter2", string(s))

	f := func(got, want string) {
		t.Helper()
		require.Equal(t, want, got)
		require.NotContains(t, got, "hunter2")
	}
	f(s.String(), "[REDACTED]")
	f(fmt.Sprint(s), "[REDACTED]")
	f(fmt.Sprintf("%v|%s|%q|%+v|%#v|%10s|%-12v|", s, s, s, s, s, s, s), `[REDACTED]|[REDACTED]|"[REDACTED]"|[REDACTED]|"[REDACTED]"|[REDACTED]|[REDACTED]  |`)
	f(fmt.Sprintf("%x %d", s, s), "5b52454441435445445d %!d(string=[REDACTED])")
	f(fmt.Sprintf("%v", struct{ P redact.Secret }{s}), "{[REDACTED]}")
	f(fmt.Sprintf("%+v", &struct{ P redact.Secret }{s}), "&{P:[REDACTED]}")
	f(fmt.Sprintf("%v", []redact.Secret{s}), "[[REDACTED]]")
	f(s.GoString(), `"[REDACTED]"`)

	js, err := json.Marshal(map[string]any{"p": s})
	require.NoError(t, err)
	f(string(js), `{"p":"[REDACTED]"}`)
	txt, err := s.MarshalText()
	require.NoError(t, err)
	f(string(txt), "[REDACTED]")
	f(s.LogValue().String(), "[REDACTED]")

	// Plain slog handlers resolve the LogValuer.
	var buf bytes.Buffer
	slog.New(slog.NewTextHandler(&buf, nil)).Info("m", "pw", s)
	require.Contains(t, buf.String(), "pw=[REDACTED]")
	require.NotContains(t, buf.String(), "hunter2")
}
