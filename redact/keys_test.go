package redact_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"go.vlog.dev/internal/vtest"
	"go.vlog.dev/redact"
)

func TestIsSecretKey(t *testing.T) {
	r := mustNew(t, nil)
	f := func(key string, want bool) {
		t.Helper()
		require.Equal(t, want, r.IsSecretKey(key), key)
	}

	// The built-in names, whole.
	for _, k := range []string{
		"password", "passwd", "pwd", "passphrase", "secret", "token", "access_token",
		"refresh_token", "id_token", "api_key", "apikey", "authorization",
		"proxy-authorization", "cookie", "set-cookie", "session", "session_id", "private_key",
		"client_secret", "credentials", "credential", "secret_key", "secret_access_key",
		"signature", "sig", "passwords", "secrets", "cookies",
	} {
		f(k, true)
	}
	// Case and separator variants, and suffixes.
	f("Password", true)
	f("PASSWORD", true)
	f("X-Api-Key", true)
	f("x_api_key", true)
	f("apiKey", true)
	f("API_KEY", true)
	f("api.key", true)
	f("Api Key", true)
	f("db_password", true)
	f("DB.Password", true)
	f("githubToken", true)
	f("GITHUB_TOKEN", true)
	f("x-amz-security-token", true)
	f("X-Amz-Signature", true)
	f("Authorization", true)
	f("Proxy-Authorization", true)
	f("Set-Cookie", true)
	f("sessionId", true)
	f("SESSION_ID", true)
	f("aws_secret_access_key", true)
	f("AWS_SECRET_ACCESS_KEY", true)
	f("clientSecret", true)
	f("oauth.client_secret", true)
	f("sshPrivateKey", true)
	f(strings.Repeat("x", 200)+"_password", true)

	// Look-alikes.
	f("", false)
	f("token_count", false)
	f("tokens", false)
	f("max_tokens", false)
	f("tokenizer", false)
	f("secret_santa", false)
	f("session_count", false)
	f("session_start", false)
	f("password_reset_required", false)
	f("password_hash_algo", false)
	f("user", false)
	f("user_id", false)
	f("msg", false)
	f("key", false)
	f("id", false)
	f("authorized", false)
	f("credit", false)
	f("pw", false)
	f("sign", false)
	f(strings.Repeat("password", 20)+"x", false)
}

func TestIsSecretKeyOptions(t *testing.T) {
	r := mustNew(t, &redact.Options{
		Keys:       []string{"ssn", "X-Internal-Auth"},
		IgnoreKeys: []string{"token", "page_token", "Session-ID"},
	})
	f := func(key string, want bool) {
		t.Helper()
		require.Equal(t, want, r.IsSecretKey(key), key)
	}
	f("ssn", true)
	f("user_ssn", true)
	f("x_internal_auth", true)
	f("xInternalAuth", true)
	f("token", false)
	f("github_token", false)    // "token" is no longer a suffix
	f("access_token", true)     // still a built-in name
	f("page_token", false)      // ignored exactly
	f("next_page_token", false) // no remaining name is a suffix
	f("sessionId", false)
	f("session", true)
	f("password", true)

	// A one-byte name.
	r = mustNew(t, &redact.Options{Keys: []string{"Q"}})
	require.True(t, r.IsSecretKey("q"))
	require.True(t, r.IsSecretKey("a_q"))
	require.False(t, r.IsSecretKey("qa"))

	// Ignoring a name exempts that key even where another name would match it.
	r = mustNew(t, &redact.Options{IgnoreKeys: []string{"next_page_token"}})
	require.False(t, r.IsSecretKey("NextPageToken"))
	require.True(t, r.IsSecretKey("page_token"))
	require.True(t, r.IsSecretKey("token"))
}

func TestIsSecretKeyAllocs(t *testing.T) {
	r := mustNew(t, nil)
	for _, k := range []string{"user_id", "X-Api-Key", "password", strings.Repeat("k", 100)} {
		vtest.WantAllocs(t, 0, func() { r.IsSecretKey(k) })
	}
	require.Empty(t, r.Counts(), "IsSecretKey counts nothing")
}

// TestKeyWords: the words of the cache identify every key of up to 16 bytes with its length,
// and IsSecretKey inlines them the same way.
func TestKeyWords(t *testing.T) {
	seen := map[[2]uint64]string{}
	for n := 1; n <= 16; n++ {
		for _, k := range []string{strings.Repeat("a", n), strings.Repeat("b", n), "x" + strings.Repeat("a", n-1), strings.Repeat("a", n-1) + "x"} {
			k = k[:n]
			lo, hi := redact.KeyWords(k)
			w := [2]uint64{lo, hi ^ uint64(n)<<60}
			if prev, ok := seen[w]; ok && prev != k {
				t.Fatalf("keys %q and %q have the same words", prev, k)
			}
			seen[w] = k
		}
	}
	r := mustNew(t, nil)
	for _, k := range []string{"p", "id", "pwd", "sig", "user", "token", "password", "db_password", "user_password_x", strings.Repeat("k", 17) + "token"} {
		for i := 0; i < 2; i++ { // the second answer comes from the cache
			require.Equal(t, refIsSecretKey(k), r.IsSecretKey(k), k)
		}
	}
}
