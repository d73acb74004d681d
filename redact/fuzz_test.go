package redact_test

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	"go.vlog.dev/redact"
)

// fuzzSeeds are positive and negative cases of every rule.
var fuzzSeeds = []string{
	"", "user 42 logged in from 10.0.0.1", "password reset email sent", "token_count=5",
	"connecting with password=hunter2 to db", "Server=db;Password=P@ss w0rd!;Database=x",
	`{"password":"hu\"nter2"}`, `{\"client_secret\":\"abc\"}`, "X-Api-Key = abc-123, retry",
	"GET /cb?code=abc&access_token=xyz123&state=1#f", "session_id=\"unterminated",
	"AKIAIOSFODNN7EXAMPLE", "aws_secret_access_key=" + awsSecret, jwt, "Bearer " + jwt,
	"Authorization: Bearer abc123def456ghi", "Basic dXNlcjpwYXNzd29yZA==", pemKey,
	"-----BEGIN OPENSSH PRIVATE KEY-----\nb3Bl", "ghp_1234567890abcdefghijABCDEFGHIJ123456",
	"github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTU",
	"xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOp", "sk_live_4eC39HqLyjWDarjtT1zdp7dc",
	"whsec_abcdefghijklmnopqrstuvwxyz012345", "postgres://admin:s3cr3t@db.internal:5432/app",
	"redis://:hunter2@cache:6379/0", "4111 1111 1111 1111", "5555-5555-5555-4444",
	"3782 822463 10005", "qty 3 4111111111111111", "ord_12345678901234",
	"123e4567-e89b-12d3-a456-426614174000", "1700000000123456789", "4111111111111112",
	"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
	"2024-05-01T12:34:56.789Z", "https://example.com/path?q=1&page=2#top",
	"if token == nil || password != \"\" { x := secret }", "password=[REDACTED]",
	"héllo wörld: ünïcode ✓ 日本語 password=ü",
}

func FuzzString(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s)
	}
	plain, err := redact.New(nil)
	if err != nil {
		f.Fatal(err)
	}
	hashed, err := redact.New(&redact.Options{HashKey: []byte("0123456789abcdef")})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, in string) {
		for _, r := range []*redact.Redactor{plain, hashed} {
			out, changed := r.String(in)
			if !changed && out != in {
				t.Fatalf("String(%q) = %q, false", in, out)
			}
			if utf8.ValidString(in) && !utf8.ValidString(out) {
				t.Fatalf("String(%q) = %q: invalid UTF-8", in, out)
			}
			// Idempotent: the output contains nothing the redactor would still mask.
			again, changed := r.String(out)
			if changed || again != out {
				t.Fatalf("String not idempotent:\nin:    %q\nonce:  %q\ntwice: %q", in, out, again)
			}
		}
		if got, want := plain.IsSecretKey(in), refIsSecretKey(in); got != want {
			t.Fatalf("IsSecretKey(%q) = %v, reference says %v", in, got, want)
		}
	})
}

func FuzzAppendJSON(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add("password", s)
		f.Add("msg", s)
	}
	f.Add(`{"a":[1,{"token":"x"}]}`, `[1, "2", {"b": null}]`)
	r, err := redact.New(nil)
	if err != nil {
		f.Fatal(err)
	}
	check := func(t *testing.T, js []byte) {
		out := r.AppendJSON([]byte("["), js)
		if !json.Valid(out[1:]) {
			t.Fatalf("AppendJSON(%q) = %q: invalid JSON", js, out[1:])
		}
	}
	f.Fuzz(func(t *testing.T, key, val string) {
		for _, v := range []any{
			val,
			map[string]any{key: val, "list": []any{val, 1, map[string]string{key: val, val: key}}},
			[]string{key, val},
		} {
			js, err := json.Marshal(v)
			if err != nil {
				t.Fatal(err)
			}
			check(t, js)
		}
		// Raw input, valid JSON or not.
		check(t, []byte(key))
		check(t, []byte(val))
	})
}

// docKeys are the built-in key names as the package doc lists them.
var docKeys = strings.Fields(`password passwords passwd pwd passphrase
	secret secrets client_secret secret_key secret_access_key
	token access_token refresh_token id_token api_key
	authorization proxy-authorization cookie cookies set-cookie
	session session_id private_key credential credentials signature sig`)

// refIsSecretKey is the documented key rule, written plainly: the normalized key ends with a
// normalized name.
func refIsSecretKey(key string) bool {
	norm := func(s string) string {
		var b strings.Builder
		for i := 0; i < len(s); i++ {
			c := s[i]
			switch {
			case c == '-' || c == '_' || c == '.' || c == ' ':
			case c >= 'A' && c <= 'Z':
				b.WriteByte(c + 'a' - 'A')
			default:
				b.WriteByte(c)
			}
		}
		return b.String()
	}
	k := norm(key)
	for _, name := range docKeys {
		if strings.HasSuffix(k, norm(name)) {
			return true
		}
	}
	return false
}

func TestIsSecretKeyReference(t *testing.T) {
	r := mustNew(t, nil)
	for _, s := range append(fuzzSeeds, docKeys...) {
		for _, k := range []string{s, strings.ToUpper(s), "x_" + s, s + "_x", strings.ReplaceAll(s, "_", "-")} {
			if got, want := r.IsSecretKey(k), refIsSecretKey(k); got != want {
				t.Errorf("IsSecretKey(%q) = %v, reference says %v", k, got, want)
			}
		}
	}
}
