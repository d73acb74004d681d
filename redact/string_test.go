package redact_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"strings"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/require"

	"go.vlog.dev/internal/vtest"
	"go.vlog.dev/redact"
)

const (
	jwt       = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"
	awsSecret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
	pemKey    = "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA1c7+9z5Pad7OejecsQ0bu3aozN3tihPmljnnudb9G3HECdnH\nlWu2/a1gB9JW5TBQ+AVpum9Okx7KfqkfBKL9mcHgSL0yWMdjMfNOqNtrQqKlN4kE\n-----END RSA PRIVATE KEY-----"
)

func mustNew(t testing.TB, opts *redact.Options) *redact.Redactor {
	t.Helper()
	r, err := redact.New(opts)
	require.NoError(t, err)
	return r
}

// TestStringRules checks each rule on positive cases: the output, and that the rule counted.
func TestStringRules(t *testing.T) {
	f := func(rule, in, want string) {
		t.Helper()
		r := mustNew(t, nil)
		got, ok := r.String(in)
		require.Equal(t, want, got, "rule %s, input %q", rule, in)
		require.True(t, ok, in)
		require.NotZero(t, r.Counts()[rule], "rule %s did not count for %q: %v", rule, in, r.Counts())
	}

	f("aws_access_key", "AKIAIOSFODNN7EXAMPLE", "[REDACTED]")
	f("aws_access_key", "using key AKIAIOSFODNN7EXAMPLE for s3", "using key [REDACTED] for s3")
	f("aws_access_key", "creds=(ASIAY34FZKBOKMUTVV7A)", "creds=([REDACTED])")
	f("aws_access_key", `{"id":"AKIAJ2ABCDEFGHIJ7KLM"}`, `{"id":"[REDACTED]"}`)

	f("aws_secret_key", "aws_secret_access_key="+awsSecret, "aws_secret_access_key=[REDACTED]")
	f("aws_secret_key", "AWS_SECRET_ACCESS_KEY: "+awsSecret+" loaded", "AWS_SECRET_ACCESS_KEY: [REDACTED] loaded")
	f("aws_secret_key", `{"SecretAccessKey":"`+awsSecret+`"}`, `{"SecretAccessKey":"[REDACTED]"}`)
	f("aws_secret_key", "secret="+awsSecret+"&x=1", "secret=[REDACTED]&x=1")

	f("jwt", jwt, "[REDACTED]")
	f("jwt", "id "+jwt+" expired", "id [REDACTED] expired")
	f("jwt", "cookie value: '"+jwt+"'.", "cookie value: '[REDACTED]'.")
	f("jwt", "unsigned eyJhbGciOiJub25lIn0.eyJzdWIiOiIxIn0. ok", "unsigned [REDACTED]. ok")

	f("bearer", "Authorization: Bearer abc123def456ghi", "Authorization: Bearer [REDACTED]")
	f("bearer", "sent bearer "+jwt, "sent bearer [REDACTED]")
	f("bearer", `header "BEARER mF_9.B5f-4.1JqM" rejected`, `header "BEARER [REDACTED]" rejected`)
	f("bearer", "Bearer AbCdEfGhIjKlMnOpQrSt", "Bearer [REDACTED]")

	f("basic", "Authorization: Basic dXNlcjpwYXNzd29yZA==", "Authorization: Basic [REDACTED]")
	f("basic", "basic YWxhZGRpbjpvcGVuc2VzYW1l sent", "basic [REDACTED] sent")
	f("basic", `"Basic dXNlcjpwYXNz"`, `"Basic [REDACTED]"`)

	f("private_key", pemKey, "-----BEGIN RSA PRIVATE KEY-----\n[REDACTED]\n-----END RSA PRIVATE KEY-----")
	f("private_key", "key: -----BEGIN PRIVATE KEY-----\\nMIIEvQIBADANBg\\n-----END PRIVATE KEY-----\\n", "key: -----BEGIN PRIVATE KEY-----\\n[REDACTED]\\n-----END PRIVATE KEY-----\\n")
	f("private_key", "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA (truncated", "-----BEGIN OPENSSH PRIVATE KEY-----\n[REDACTED]")
	f("private_key", "-----BEGIN EC PRIVATE KEY----- MHcCAQEEI -----END EC PRIVATE KEY-----", "-----BEGIN EC PRIVATE KEY----- [REDACTED] -----END EC PRIVATE KEY-----")

	f("github", "ghp_1234567890abcdefghijABCDEFGHIJ123456", "[REDACTED]")
	f("github", "clone with gho_16C7e42F292c6912E7710c838347Ae178B4a failed", "clone with [REDACTED] failed")
	f("github", "GH=ghs_abcdefghijklmnopqrstuvwxyz0123456789", "GH=[REDACTED]")
	f("github", "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTU x", "[REDACTED] x")

	f("slack", "xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx", "[REDACTED]")
	f("slack", "using xoxp-1234-5678-abcdefghij for bot", "using [REDACTED] for bot")
	f("slack", "app token xapp-1-A0123456789-1234567890123-abcdef0123", "app token [REDACTED]")

	f("stripe", "sk_live_4eC39HqLyjWDarjtT1zdp7dc", "[REDACTED]")
	f("stripe", "charging with sk_test_BQokikJOvBiI2HlWgH4olfQ2.", "charging with [REDACTED].")
	f("stripe", "rk_live_abcdefghij0123456789 rotated", "[REDACTED] rotated")
	f("stripe", "whsec_abcdefghijklmnopqrstuvwxyz012345", "[REDACTED]")

	f("url_password", "postgres://admin:s3cr3t@db.internal:5432/app", "postgres://admin:[REDACTED]@db.internal:5432/app")
	f("url_password", "dial redis://:hunter2@cache:6379/0 failed", "dial redis://:[REDACTED]@cache:6379/0 failed")
	f("url_password", `"https://bob:p@ss:w0rd@example.com"`, `"https://bob:[REDACTED]@example.com"`)
	f("url_password", "mongodb+srv://u:p@cluster0.mongodb.net/?retryWrites=true", "mongodb+srv://u:[REDACTED]@cluster0.mongodb.net/?retryWrites=true")

	f("key_value", "connecting with password=hunter2 to db", "connecting with password=[REDACTED] to db")
	f("key_value", "GET /cb?code=abc&access_token=xyz123&state=1", "GET /cb?code=abc&access_token=[REDACTED]&state=1")
	f("key_value", "https://api.example.com/v1?api_key=abcd1234#frag", "https://api.example.com/v1?api_key=[REDACTED]#frag")
	f("key_value", "Server=db;User Id=sa;Password=P@ss w0rd!;Database=x", "Server=db;User Id=sa;Password=[REDACTED];Database=x")
	f("key_value", "Server=db;Pwd='P@ss w0rd!';", "Server=db;Pwd='[REDACTED]';")
	f("key_value", `body {"user":"bob","password":"hu\"nter2"}`, `body {"user":"bob","password":"[REDACTED]"}`)
	f("key_value", `{\"client_secret\":\"abc\"}`, `{\"client_secret\":\"[REDACTED]\"}`)
	f("key_value", "db_password: hunter2", "db_password: [REDACTED]")
	f("key_value", "X-Api-Key = abc-123, retry", "X-Api-Key = [REDACTED], retry")
	f("key_value", "githubToken=`tok`", "githubToken=`[REDACTED]`")
	f("key_value", "https://blob.core.windows.net/c/b?sv=2021&sig=abcDEF%2Bxyz%3D", "https://blob.core.windows.net/c/b?sv=2021&sig=[REDACTED]")
	f("key_value", `session_id="unterminated`, `session_id="[REDACTED]`)
	f("key_value", "Authorization: Basic not-base64!", "Authorization: Basic [REDACTED]")
	f("key_value", "proxy-authorization=Token abc123 next", "proxy-authorization=Token [REDACTED] next")
	f("key_value", "authorization: bearer short", "authorization: bearer [REDACTED]")
	f("key_value", `"Authorization":"Bearer abc"`, `"Authorization":"[REDACTED]"`)
	f("key_value", "Cookie: sid=abc123; theme=dark", "Cookie: [REDACTED]; theme=dark")
	f("key_value", `{"credentials":{"user":"bob","pass":"x"},"tokens":["a"],"secret":["b"]}`, `{"credentials":{[REDACTED]},"tokens":["a"],"secret":[[REDACTED]]}`)
	f("key_value", `{\"token\":{\"a\":\"b\"}} rest`, `{\"token\":{[REDACTED]}} rest`)
	f("key_value", `secrets: {"a": [1, 2], "b": "]"`, `secrets: {[REDACTED]`)
	f("key_value", "password=[hunter2]", "password=[REDACTED]]")

	f("card", "4111111111111111", "[REDACTED]")
	f("card", "paid with 4111 1111 1111 1111, thanks", "paid with [REDACTED], thanks")
	f("card", "card=5555-5555-5555-4444", "card=[REDACTED]")
	f("card", "amex 378282246310005.", "amex [REDACTED].")
	f("card", "amex 3782 822463 10005 exp 12/29", "amex [REDACTED] exp 12/29")
	f("card", "visa 4012888888881881 and discover 6011111111111117", "visa [REDACTED] and discover [REDACTED]")
	f("card", "qty 3 4111111111111111", "qty 3 [REDACTED]")
	f("card", "4111 1111 1111 1111 1234", "[REDACTED] 1234")
	f("card", "mc2 2223003122003222 jcb 3530111333300000", "mc2 [REDACTED] jcb [REDACTED]")
}

// TestStringLookalikes is the corpus of things that look like secrets but are not: String
// returns them unchanged.
func TestStringLookalikes(t *testing.T) {
	r := mustNew(t, nil)
	f := func(in string) {
		t.Helper()
		got, ok := r.String(in)
		require.Equal(t, in, got)
		require.False(t, ok, in)
	}

	f("")
	f("user 42 logged in from 10.0.0.1")
	f("uuid 123e4567-e89b-12d3-a456-426614174000")
	f("12345678-1234-1234-1234-123456789012")
	f("order ord_12345678901234 shipped")
	f("order ord_4111111111111111 shipped")
	f("sha256 e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
	f("sha1=da39a3ee5e6b4b0d3255bfef95601890afd80709")
	f("at 2024-05-01T12:34:56.789Z, 2024-05-01T12:34:56+02:00")
	f("ts=1700000000123456789 ms=1700000000123")
	f("non-luhn 4111111111111112 and 5555555555554445")
	f("12345678901234567 1234567812345678")
	f("4111111111111111abc x4111111111111111 4111111111111111_1")
	f("ref txn-4111111111111111 v4111-1111-1111-1111-ab")
	f("price 0.4111111111111111 or 4111111111111111.5")
	f("ipv6 2001:db8::8a2e:370:7334 port :8080")
	f("GET https://example.com/path?q=1&page=2#top HTTP/1.1")
	f("see http://localhost:8080/health and mailto:bob@example.com")
	f("https://bob@example.com/ has no password")
	f("token_count=5 tokens=3 max_tokens: 512")
	f("password reset email sent")
	f("password_reset_required=true session_count=3 secret_santa=bob")
	f("the bearer of this note; Bearer authentication failed; bearer token missing")
	f("Basic auth is disabled; basic plan")
	f("if token == nil || password != \"\" { x := secret }")
	f("password=")
	f("password=&next=1")
	f("password=[REDACTED] token: [REDACTED] url://u:[REDACTED]@h")
	f("AKIA too short AKIAIOSFODNN7EXAMPL and too long AKIAIOSFODNN7EXAMPLEX and akiaiosfodnn7example")
	f("eyJ alone, eyJhbGciOiJIUzI1NiJ9 without payload, eyJhbGciOiJIUzI1NiJ9.notjwt")
	f("ghp_short gho_ ghx_1234567890abcdefghijABCDEFGHIJ123456")
	f("xoxb- xoxb-short xoxz-1234567890abcdef")
	f("sk_live_ sk_live_short pk_live_1234567890abcdef")
	f("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----")
	f("-----BEGIN PUBLIC KEY-----\nMIIB\n-----END PUBLIC KEY-----")
	f("a 40-char string wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY alone")
	f("phone +1 555 123 4567, zip 90210, 4111 1111")
	f("héllo wörld: ünïcode ✓ 日本語")
}

func TestStringSameString(t *testing.T) {
	r := mustNew(t, nil)
	for _, s := range []string{
		"user 42 logged in from 10.0.0.1",
		"GET /api/v1/orders?page=2 200 13ms",
		"order ord_12345678901234 shipped at 2024-05-01T12:34:56Z",
	} {
		got, ok := r.String(s)
		require.False(t, ok)
		require.Equal(t, unsafe.StringData(s), unsafe.StringData(got), "String must return s itself")
		vtest.WantAllocs(t, 0, func() { r.String(s) })
	}
	require.Empty(t, r.Counts())
}

func TestStringIdempotent(t *testing.T) {
	for _, opts := range []*redact.Options{nil, {HashKey: []byte("0123456789abcdef")}} {
		r := mustNew(t, opts)
		for _, s := range []string{
			"password=hunter2 postgres://u:p@h/db Bearer abc123def456 " + jwt,
			"card 4111 1111 1111 1111 key AKIAIOSFODNN7EXAMPLE " + pemKey,
			`{"password":"x","token":"y"} Basic dXNlcjpwYXNz`,
		} {
			once, ok := r.String(s)
			require.True(t, ok)
			twice, ok := r.String(once)
			require.Equal(t, once, twice)
			require.False(t, ok, "%q changed again", once)
		}
	}
}

func TestStringMask(t *testing.T) {
	r := mustNew(t, &redact.Options{Mask: "***"})
	got, _ := r.String("password=hunter2 and Bearer abc123def456")
	require.Equal(t, "password=*** and Bearer ***", got)
	got, ok := r.String(got)
	require.False(t, ok, got)
}

func TestStringHash(t *testing.T) {
	r := mustNew(t, &redact.Options{HashKey: []byte("0123456789abcdef0123")})
	a, _ := r.String("password=hunter2")
	b, _ := r.String("pwd: hunter2, url postgres://u:hunter2@h/db")
	c, _ := r.String("password=hunter3")
	require.Regexp(t, `^password=\[REDACTED:[0-9a-f]{12}\]$`, a)
	repl := strings.TrimPrefix(a, "password=")
	mac := hmac.New(sha256.New, []byte("0123456789abcdef0123"))
	mac.Write([]byte("hunter2"))
	require.Equal(t, "[REDACTED:"+hex.EncodeToString(mac.Sum(nil))[:12]+"]", repl, "HMAC-SHA256 oracle")
	require.Equal(t, "pwd: "+repl+", url postgres://u:"+repl+"@h/db", b, "same secret, same replacement")
	require.NotEqual(t, a, c, "different secret, different replacement")
	for _, s := range []string{a, b, c} {
		require.NotContains(t, s, "hunter")
	}

	// Card numbers correlate by their digits.
	d, _ := r.String("4111 1111 1111 1111")
	e, _ := r.String("4111111111111111")
	require.Equal(t, d, e)

	// Another key, other replacements.
	r2 := mustNew(t, &redact.Options{HashKey: []byte("another key of 16+ bytes")})
	a2, _ := r2.String("password=hunter2")
	require.NotEqual(t, a, a2)

	require.Equal(t, repl, r.MaskKeyString("hunter2"))
	require.Equal(t, redact.DefaultMask, r.MaskKey())
}

func TestDisableRules(t *testing.T) {
	r := mustNew(t, &redact.Options{DisableRules: []string{"card", "jwt", "key_value"}})
	in := "4111111111111111 " + jwt + " password=x AKIAIOSFODNN7EXAMPLE"
	got, _ := r.String(in)
	require.Equal(t, "4111111111111111 "+jwt+" password=x [REDACTED]", got)

	// Rules overlap: with jwt off a JWT after "Bearer" is still masked by "bearer".
	got, _ = r.String("Bearer " + jwt)
	require.Equal(t, "Bearer [REDACTED]", got)

	// With aws_secret_key off, key_value still masks the value.
	r = mustNew(t, &redact.Options{DisableRules: []string{"aws_secret_key"}})
	got, _ = r.String("aws_secret_access_key=" + awsSecret)
	require.Equal(t, "aws_secret_access_key=[REDACTED]", got)
	require.Equal(t, map[string]uint64{"key_value": 1}, r.Counts())

	// Everything off.
	r = mustNew(t, &redact.Options{DisableRules: redact.RuleNames()})
	for _, s := range []string{in, pemKey, "postgres://u:p@h", "Basic dXNlcjpwYXNz"} {
		got, ok := r.String(s)
		require.False(t, ok)
		require.Equal(t, s, got)
	}
	require.False(t, r.IsSecretKey("password"))
}

func TestCounts(t *testing.T) {
	r := mustNew(t, nil)
	r.String("password=a password=b AKIAIOSFODNN7EXAMPLE")
	r.String("nothing here")
	r.String("card 4111111111111111 Bearer abc123def456 " + jwt)
	r.MaskKey()
	r.MaskKeyString("x")
	require.Equal(t, map[string]uint64{
		"key_value": 2, "aws_access_key": 1, "card": 1, "bearer": 1, "jwt": 1, "key": 2,
	}, r.Counts())
	// The original rules keep their names (they are metric labels) and their places.
	require.Equal(t, []string{
		"key", "key_value", "aws_access_key", "aws_secret_key", "jwt", "bearer", "basic",
		"private_key", "github", "slack", "stripe", "url_password", "card",
	}, redact.RuleNames()[:13])
}

// TestRuleNamesDocumented: every rule name is unique, a valid metric label value of the
// expected shape, and listed in the package doc with its quotes.
func TestRuleNamesDocumented(t *testing.T) {
	doc, err := os.ReadFile("doc.go")
	require.NoError(t, err)
	seen := map[string]bool{}
	for _, name := range redact.RuleNames() {
		require.False(t, seen[name], "duplicate rule %q", name)
		seen[name] = true
		require.Regexp(t, `^[a-z][a-z0-9_]*$`, name)
		require.Contains(t, string(doc), `"`+name+`"`, "rule %q is not in doc.go", name)
	}
}

func TestNewErrors(t *testing.T) {
	f := func(opts redact.Options, wantErr string) {
		t.Helper()
		_, err := redact.New(&opts)
		require.ErrorContains(t, err, wantErr)
	}
	f(redact.Options{DisableRules: []string{"cards"}}, `DisableRules[0]: unknown rule "cards"`)
	f(redact.Options{Keys: []string{"ok", "_-."}}, `Keys[1] "_-." is empty`)
	f(redact.Options{Keys: []string{strings.Repeat("k", 65)}}, "longer than 64")
	f(redact.Options{IgnoreKeys: []string{""}}, `IgnoreKeys[0] "" is empty`)
	f(redact.Options{Keys: []string{"page_token"}, IgnoreKeys: []string{"PageToken"}}, `Keys[0] "page_token" is also in Options.IgnoreKeys`)
	f(redact.Options{Mask: "\xff"}, "Mask is not valid UTF-8")
	f(redact.Options{Mask: "x", HashKey: []byte("0123456789abcdef")}, "cannot be combined")
	f(redact.Options{HashKey: []byte("short")}, "HashKey is 5 bytes, need at least 16")

	_, err := redact.New(nil)
	require.NoError(t, err)
	_, err = redact.New(&redact.Options{})
	require.NoError(t, err)
}

func TestConcurrent(t *testing.T) {
	r := mustNew(t, &redact.Options{HashKey: []byte("0123456789abcdef")})
	const workers, n = 8, 200
	done := make(chan struct{})
	for w := 0; w < workers; w++ {
		go func() {
			defer func() { done <- struct{}{} }()
			for i := 0; i < n; i++ {
				r.String("password=hunter2 card 4111111111111111")
				r.AppendJSON(nil, []byte(`{"token":"x"}`))
				r.IsSecretKey("api_key")
				_ = r.Counts()
			}
		}()
	}
	for w := 0; w < workers; w++ {
		<-done
	}
	require.Equal(t, map[string]uint64{"key_value": workers * n, "card": workers * n, "key": workers * n}, r.Counts())
}

// TestStringEncodings: secrets percent-encoded, form-encoded or JSON-escaped are found, and
// masked in place, in their encoding.
func TestStringEncodings(t *testing.T) {
	f := func(rule, in, want string) {
		t.Helper()
		r := mustNew(t, nil)
		got, ok := r.String(in)
		require.Equal(t, want, got, "input %q", in)
		require.True(t, ok, in)
		require.NotZero(t, r.Counts()[rule], "rule %s did not count for %q: %v", rule, in, r.Counts())
	}
	f("bearer", "GET /cb?q=Bearer%20abc123def456ghi&page=2", "GET /cb?q=Bearer%20[REDACTED]&page=2")
	f("bearer", "GET /cb?q=Bearer+abc123def456ghi&page=2", "GET /cb?q=Bearer+[REDACTED]&page=2")
	f("card", "pay?card=4111+1111+1111+1111&exp=12", "pay?card=[REDACTED]&exp=12")
	f("card", "pay?card=4111%201111%201111%201111", "pay?card=[REDACTED]")
	f("url_password", "GET /login?next=postgres%3A%2F%2Fapp%3As3cr3t%40db%3A5432%2Fx", "GET /login?next=postgres%3A%2F%2Fapp%3A[REDACTED]%40db%3A5432%2Fx")
	f("url_password", "u=redis%253A%252F%252F%253Ahunter2%2540cache", "u=redis%253A%252F%252F%253A[REDACTED]%2540cache")
	f("key_value", "body=user%3Dbob%26password%3Dhunter2%26x%3D1", "body=user%3Dbob%26password%3D[REDACTED]%26x%3D1")
	f("key_value", "q=CREATE+USER+app+WITH+PASSWORD+%27s3cr3t%27", "q=CREATE+USER+app+WITH+PASSWORD+%27[REDACTED]%27")
	f("webhook_url", `{\"url\":\"https:\/\/hooks.slack.com\/services\/T00000000\/B00000000\/XXXXXXXXXXXXXXXXXXXXXXXX\"}`,
		`{\"url\":\"https:\/\/hooks.slack.com\/services\/[REDACTED]\"}`)
	f("key_value", `{\\\"token\\\":\\\"s3cr3t-value\\\"}`, `{\\\"token\\\":\\\"[REDACTED]\\\"}`)
	f("github", `note \u0022ghp_1234567890abcdefghijABCDEFGHIJ123456\u0022`, `note \u0022[REDACTED]\u0022`)
	f("private_key", "k=-----BEGIN+RSA+PRIVATE+KEY-----%0AMIIEowIBAAKCAQEA1c7%2B9z5Pad7Oej%0A-----END+RSA+PRIVATE+KEY-----",
		"k=-----BEGIN+RSA+PRIVATE+KEY-----%0A[REDACTED]%0A-----END+RSA+PRIVATE+KEY-----")
	f("basic", "h=Authorization%3A%20Basic%20dXNlcjpwYXNzd29yZA%3D%3D", "h=Authorization%3A%20Basic%20[REDACTED]")

	// The same secret, encoded or not, hashes the same (its decoded form is hashed).
	r := mustNew(t, &redact.Options{HashKey: []byte("0123456789abcdef")})
	a, _ := r.String("t ghp_1234567890abcdefghijABCDEFGHIJ123456")
	b, _ := r.String("q=ghp%5F1234567890abcdefghijABCDEFGHIJ123456")
	require.Equal(t, strings.TrimPrefix(a, "t "), strings.TrimPrefix(b, "q="))
}

// TestStringPEM: a private key block is masked wherever it starts.
func TestStringPEM(t *testing.T) {
	r := mustNew(t, nil)
	f := func(in, want string) {
		t.Helper()
		got, _ := r.String(in)
		require.Equal(t, want, got)
	}
	body := "MIIEowIBAAKCAQEA1c7+9z5Pad7OejecsQ0bu3aozN3tihPmljnnudb9G3HECdnH"
	block := "-----BEGIN RSA PRIVATE KEY-----\n" + body + "\n-----END RSA PRIVATE KEY-----"
	masked := "-----BEGIN RSA PRIVATE KEY-----\n[REDACTED]\n-----END RSA PRIVATE KEY-----"
	f("password="+block, "password="+masked)
	f("config: key: "+block+" loaded", "config: key: "+masked+" loaded")
	f("secret="+"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----", "secret=-----BEGIN CERTIFICATE-----\n[REDACTED]\n-----END CERTIFICATE-----")
	f(`{"private_key":"-----BEGIN PRIVATE KEY-----\n`+body+`\n-----END PRIVATE KEY-----\n"}`, `{"private_key":"[REDACTED]"}`)
	f("PuTTY-User-Key-File-3: ssh-ed25519\nEncryption: none\nPublic-Lines: 1\nAAAAC3NzaC1lZDI1NTE5\nPrivate-Lines: 1\n"+body+"\nPrivate-MAC: 0123",
		"PuTTY-User-Key-File-3: ssh-ed25519\nEncryption: none\nPublic-Lines: 1\nAAAAC3NzaC1lZDI1NTE5\nPrivate-Lines: 1\n[REDACTED]\nPrivate-MAC: 0123")
}

// TestStringConnectionStrings: the key fields of connection strings in their syntaxes.
func TestStringConnectionStrings(t *testing.T) {
	r := mustNew(t, nil)
	f := func(in, want string) {
		t.Helper()
		got, _ := r.String(in)
		require.Equal(t, want, got)
	}
	f("Password=p w!;Server=db;Database=x", "Password=[REDACTED];Server=db;Database=x")
	f("Server=db; User Id=sa; Password = p w! ; Database=x", "Server=db; User Id=sa; Password = [REDACTED] ; Database=x")
	f("DefaultEndpointsProtocol=https;AccountName=a;AccountKey=ab+c/d==;EndpointSuffix=core.windows.net",
		"DefaultEndpointsProtocol=https;AccountName=a;AccountKey=[REDACTED];EndpointSuffix=core.windows.net")
	f("Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=Root;SharedAccessKey=abc+def=",
		"Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=Root;SharedAccessKey=[REDACTED]")
	f("host=db port=5432 user=app password=s3cr3t dbname=x", "host=db port=5432 user=app password=[REDACTED] dbname=x")
	f("Driver={ODBC};Server=db;Uid=sa;Pwd={p;w};", "Driver={ODBC};Server=db;Uid=sa;Pwd={[REDACTED]};")
	f("jdbc:postgresql://db:5432/app?user=u&password=s3cr3t&ssl=true", "jdbc:postgresql://db:5432/app?user=u&password=[REDACTED]&ssl=true")
	f("jdbc:oracle:thin:scott/tiger@//db:1521/ORCL", "jdbc:oracle:thin:scott/[REDACTED]@//db:1521/ORCL")
	f("mysql://root:P#ss?w0rd@db:3306/app", "mysql://root:[REDACTED]@db:3306/app")
	f("array('user' => 'app', 'password' => 'x1')", "array('user' => 'app', 'password' => '[REDACTED]')")
	f("ALTER ROLE app PASSWORD 's3cr3t'; CREATE USER 'u'@'%' IDENTIFIED BY 'pw'", "ALTER ROLE app PASSWORD '[REDACTED]'; CREATE USER 'u'@'%' IDENTIFIED BY '[REDACTED]'")
	f("curl -s -u admin:hunter2 https://api.example.com", "curl -s -u admin:[REDACTED] https://api.example.com")
}

// TestStringNotSecrets: look-alikes of the new rules stay.
func TestStringNotSecrets(t *testing.T) {
	r := mustNew(t, nil)
	for _, s := range []string{
		"UPDATE users SET password = $1 WHERE id = $2",
		"SELECT * FROM tokens WHERE token = ? AND user = @p1",
		"SELECT 1 FROM s WHERE session = :session",
		"password=${DB_PASSWORD} token={{ .Token }}",
		"items.map(token => token.id)",
		"arn:aws:secretsmanager:eu-west-1:123456789012:secret:prod/db-AbCdEf",
		"GET /x?q=arn%3Aaws%3Asecretsmanager%3Aeu-west-1%3A123456789012%3Asecret%3Aprod",
		"http://localhost:8080?email=bob@example.com",
		"GET /x?q=Bearer+authentication+failed%3A+expired",
		"GET /search?q=hello%20world&sort=asc",
		`{\"user\":\"bob\",\"path\":\"\/var\/lib\/x\"}`,
		`C:\Users\bob\AppData\Local\token.json`,
		"sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
		"key-value store, key-" + strings.Repeat("g", 32),
		"API-GATEWAY-TIMEOUT, sk-short, pat.x, ghp_short, 4b1d",
		"data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==",
	} {
		got, ok := r.String(s)
		require.False(t, ok, "%q -> %q", s, got)
	}
	require.Empty(t, r.Counts())
}

// TestStringAllocsEncoded: a clean text with escapes is decoded and scanned again without
// allocating.
func TestStringAllocsEncoded(t *testing.T) {
	r := mustNew(t, nil)
	for _, s := range []string{
		"GET /search?q=hello%20world&sort=asc&page=2",
		`{\"user\":\"bob\",\"path\":\"\/var\/lib\/x\",\"n\":1}`,
		"redirect=https%3A%2F%2Fexample.com%2Fcb%3Fstate%3Dabc",
		"aws arn:aws:iam::123456789012:role/x API-GATEWAY sk-short pat.x v1.0-x eyJhbGciOi hooks/x",
	} {
		got, ok := r.String(s)
		require.False(t, ok, got)
		require.Equal(t, unsafe.StringData(s), unsafe.StringData(got))
		vtest.WantAllocs(t, 0, func() { r.String(s) })
	}
}
