package redact_test

import (
	"encoding/json"
	"net/url"
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
	// The new formats and the decoders.
	"GET /cb?q=Bearer%20abcdef123456789&next=postgres%3A%2F%2Fu%3Ap%40h%2Fdb", "card=4111+1111+1111+1111",
	`{\"token\":\"s3cr3t\",\"url\":\"https:\/\/hooks.slack.com\/services\/T0000\/B0000\/XXXXXXXXXXXXXXXXXXXXXXXX\"}`,
	"password=-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA\n-----END RSA PRIVATE KEY-----",
	`%2525%252F%5Cu0041 \\u00 \u12 %G0 %`, `\ud83d\ude00 \ud83d x \u0000 \\\"`,
	"Server=db;Password=p w;AccountKey=abc+/==;", "Password=p w;Server=x", "pwd={a;b}", "host=h password=p dbname=d",
	"sk-proj-" + strings.Repeat("a1_-", 12), "sk-ant-api03-" + strings.Repeat("Ab9-", 24) + "AA", "npm_" + strings.Repeat("a1", 18),
	"xoxe.xoxp-1-" + strings.Repeat("A1", 82), "glpat-abcdefghij0123456789", "AIza" + strings.Repeat("b", 35),
	strings.Repeat("A", 76) + "+ASt" + "abcdeA==", strings.Repeat("B", 33) + "+ASbCabcde=", "abc8Q~" + strings.Repeat("x", 34),
	"123456789:AA" + strings.Repeat("b", 33), "AAAA1234567:APA91b" + strings.Repeat("c", 134), "1234567890123456|" + strings.Repeat("d", 27),
	"https://discord.com/api/v10/webhooks/123/" + strings.Repeat("e", 40), "https://maker.ifttt.com/trigger/x/with/key/abcdefghijklmnopqrstuv",
	"curl -u admin:hunter2 https://x", "0123456789abcdef0123456789abcdef-us12", "PuTTY-User-Key-File-3: x\nPrivate-Lines: 1\nAAAAAAAAAAAAAAAAAAAA\nPrivate-MAC: 00",
	"CREATE USER x WITH PASSWORD 'pw'", "'password' => 'x', token => token.id", "password = $1 and token = ? and pwd=${PWD}",
	"arn:aws:secretsmanager:eu-west-1:123456789012:secret:prod/db-AbCdEf", "mysql://root:P#ss?w0rd@db/app", "http://h:8080?q=a@b",
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
			if max := stringBound(len(in), r == hashed); len(out) > max {
				t.Fatalf("String(%q) = %q: %d bytes, more than the bound %d", in, out, len(out), max)
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

// stringBound is the documented bound of String's output for an input of n bytes: masked
// spans are disjoint and separated, so at most (n+1)/2 of them, each of at least one byte.
func stringBound(n int, hashed bool) int {
	mask := len(redact.DefaultMask)
	if hashed {
		mask = len("[REDACTED:0123456789ab]")
	}
	return n + (n+1)/2*(mask-1)
}

// FuzzStringEncoded checks the decoders: whatever String masks in a text, it masks in the
// text percent-encoded (as a path and as a form value) and JSON-escaped (once and twice),
// and the output of every form keeps String's guarantees (valid UTF-8, the length bound,
// idempotence).
func FuzzStringEncoded(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s)
	}
	r, err := redact.New(nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, in string) {
		if !utf8.ValidString(in) || len(in) > 4096 {
			return
		}
		_, plain := r.String(in)
		js, _ := json.Marshal(in)
		js = js[1 : len(js)-1] // the JSON-escaped text, without its quotes
		js2, _ := json.Marshal(string(js))
		js2 = js2[1 : len(js2)-1] // escaped twice
		for _, enc := range []string{url.PathEscape(in), url.QueryEscape(in), string(js), string(js2)} {
			out, changed := r.String(enc)
			if !utf8.ValidString(out) {
				t.Fatalf("String(%q) = %q: invalid UTF-8", enc, out)
			}
			if max := stringBound(len(enc), false); len(out) > max {
				t.Fatalf("String(%q): %d bytes, more than the bound %d", enc, len(out), max)
			}
			if again, ch := r.String(out); ch || again != out {
				t.Fatalf("String not idempotent:\nin:    %q\nonce:  %q\ntwice: %q", enc, out, again)
			}
			// Each form decodes to in itself, in at most two layers: what in shows, it shows.
			// (Not when in has escapes of its own, which take layers too, nor for a form
			// value with both '+' and blanks, which no single reading restores.)
			if plain && !changed && !strings.ContainsAny(in, "%\\") && !strings.Contains(enc, "+") {
				t.Fatalf("String(%q) masks something, String(%q) = %q masks nothing", in, enc, out)
			}
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
		// Each byte is escaped to at most 6 (\u00XX), each masked span (at most half the
		// input) adds the quoted mask: the bound of the output.
		if n, max := len(out)-1, 6*len(js)+(len(js)+1)/2*(len(redact.DefaultMask)+2)+2; n > max {
			t.Fatalf("AppendJSON(%q): %d bytes, more than the bound %d", js, n, max)
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
	session session_id private_key credential credentials signature sig
	account_key shared_access_key subscription_key functions_key master_key
	app_key application_key license_key`)

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
