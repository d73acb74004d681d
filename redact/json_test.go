package redact_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"go.vlog.dev/internal/vtest"
	"go.vlog.dev/redact"
)

func TestAppendJSON(t *testing.T) {
	r := mustNew(t, nil)
	f := func(in, want string) {
		t.Helper()
		got := r.AppendJSON([]byte("prefix:"), []byte(in))
		require.Equal(t, "prefix:"+want, string(got), "input %s", in)
		require.True(t, json.Valid(got[len("prefix:"):]), "invalid output %s", got)
	}

	// Nothing to mask: the input comes back, compacted.
	f(`{"user":"bob","n":1,"ok":true,"x":null,"l":[1,"a",{}],"f":-1.5e3}`, `{"user":"bob","n":1,"ok":true,"x":null,"l":[1,"a",{}],"f":-1.5e3}`)
	f(` { "a" : [ 1 , 2 ] , "b" : { } } `, `{"a":[1,2],"b":{}}`)
	f(`"plain"`, `"plain"`)
	f(`42`, `42`)
	f(`[]`, `[]`)
	f(`"a\u0026b \"q\" \u003c\u003e é \ud83d\ude00"`, `"a\u0026b \"q\" \u003c\u003e é \ud83d\ude00"`)

	// Values under secret keys, at any depth and of any type.
	f(`{"password":"hunter2","user":"bob"}`, `{"password":"[REDACTED]","user":"bob"}`)
	f(`{"a":{"b":[{"api_key":"k1"},{"Token":123}]}}`, `{"a":{"b":[{"api_key":"[REDACTED]"},{"Token":"[REDACTED]"}]}}`)
	f(`{"credentials":{"user":"bob","pass":"x"},"n":1}`, `{"credentials":"[REDACTED]","n":1}`)
	f(`{"secret":[1,2,{"x":"y"}],"secret2":null}`, `{"secret":"[REDACTED]","secret2":null}`)
	f(`{"cookie":null}`, `{"cookie":"[REDACTED]"}`)

	// String values and keys go through String.
	f(`{"msg":"login with password=hunter2","url":"postgres://u:p@h/db"}`, `{"msg":"login with password=[REDACTED]","url":"postgres://u:[REDACTED]@h/db"}`)
	f(`["Bearer abc123def456", "ok"]`, `["Bearer [REDACTED]","ok"]`)
	f(`{"https://x?a=1\u0026token=abc":1}`, `{"https://x?a=1\u0026token=[REDACTED]":1}`)
	f(`"escaped \"password\":\"hunter2\""`, `"escaped \"password\":\"[REDACTED]\""`)

	// Card numbers as JSON numbers.
	f(`{"pan":4111111111111111,"id":1700000000123456789,"n":4111111111111112}`, `{"pan":"[REDACTED]","id":1700000000123456789,"n":4111111111111112}`)

	// Invalid JSON becomes one redacted JSON string.
	f(`{"password":"x"`, `"{\"password\":\"[REDACTED]\""`)
	f(``, `""`)
	f("password=\xff", `"password=[REDACTED]"`)
}

func TestAppendJSONMarshaled(t *testing.T) {
	type Inner struct {
		DBPassword string `json:"db_password"`
		Host       string
	}
	type Outer struct {
		Name    string
		Inner   Inner
		Ptr     *Inner
		Header  http.Header
		Tags    map[string]any
		List    []Inner
		APIKey  string `json:"apiKey"`
		Comment string
	}
	v := Outer{
		Name:  "svc",
		Inner: Inner{DBPassword: "s1", Host: "db"},
		Ptr:   &Inner{DBPassword: "s2", Host: "db2"},
		Header: http.Header{
			"Authorization": {"Bearer tok_abcdef123456"},
			"Cookie":        {"sid=s3"},
			"Content-Type":  {"application/json"},
		},
		Tags:    map[string]any{"refresh_token": "s4", "nested": map[string]any{"client_secret": "s5"}},
		List:    []Inner{{DBPassword: "s6", Host: "h"}},
		APIKey:  "s7",
		Comment: "dsn postgres://app:s8@db/app",
	}
	js, err := json.Marshal(v)
	require.NoError(t, err)
	r := mustNew(t, nil)
	out := r.AppendJSON(nil, js)
	require.True(t, json.Valid(out), string(out))
	for _, secret := range []string{"s1", "s2", "tok_abcdef123456", "sid=s3", "s4", "s5", "s6", "s7", "s8"} {
		require.NotContains(t, string(out), `"`+secret+`"`)
		require.NotContains(t, string(out), secret+`@`)
	}
	var back map[string]any
	require.NoError(t, json.Unmarshal(out, &back))
	require.Equal(t, "svc", back["Name"])
	require.Equal(t, "db", back["Inner"].(map[string]any)["Host"])
	require.Equal(t, "[REDACTED]", back["Inner"].(map[string]any)["db_password"])
	require.Equal(t, "[REDACTED]", back["Header"].(map[string]any)["Authorization"])
	require.Equal(t, "[REDACTED]", back["Header"].(map[string]any)["Cookie"])
	require.Equal(t, []any{"application/json"}, back["Header"].(map[string]any)["Content-Type"])
	require.Equal(t, "dsn postgres://app:[REDACTED]@db/app", back["Comment"])
	require.Equal(t, uint64(8), r.Counts()["key"]) // 3 db_password, Authorization, Cookie, refresh_token, client_secret, apiKey
}

func TestAppendJSONHash(t *testing.T) {
	r := mustNew(t, &redact.Options{HashKey: []byte("0123456789abcdef")})
	out := string(r.AppendJSON(nil, []byte(`{"a":{"password":"hunter2"},"b":{"pwd":"hunter2"},"c":{"secret":{"x":1}},"d":"password=hunter2"}`)))
	require.NotContains(t, out, "hunter2")
	var m map[string]any
	require.NoError(t, json.Unmarshal([]byte(out), &m))
	pa := m["a"].(map[string]any)["password"].(string)
	require.Regexp(t, `^\[REDACTED:[0-9a-f]{12}\]$`, pa)
	require.Equal(t, pa, m["b"].(map[string]any)["pwd"])
	require.Equal(t, "[REDACTED]", m["c"].(map[string]any)["secret"], "non-strings are not hashed")
	require.Equal(t, "password="+pa, m["d"])
}

// TestAppendJSONOracle checks AppendJSON against encoding/json: for values without secrets the
// output decodes to the same value as the input.
func TestAppendJSONOracle(t *testing.T) {
	r := mustNew(t, nil)
	for _, v := range []any{
		map[string]any{"a": "x<y>&z", "b": []any{1.5, "\u2028", "\x01\t\n", nil, true}, "é": map[string]any{}},
		[]string{"", "\\", "\"", "日本語", "emoji 😀"},
		struct{ X, Y int }{1, 2},
		errors.New("boom").Error(),
		strings.Repeat("a", 1000),
	} {
		js, err := json.Marshal(v)
		require.NoError(t, err)
		out := r.AppendJSON(nil, js)
		require.Equal(t, string(js), string(out))
	}
}

func TestAppendJSONAllocs(t *testing.T) {
	r := mustNew(t, nil)
	js := []byte(`{"user":"bob","n":1,"tags":["a","b"],"nested":{"host":"db","port":5432}}`)
	buf := make([]byte, 0, 256)
	vtest.WantAllocs(t, 0, func() { buf = r.AppendJSON(buf[:0], js) })
}
