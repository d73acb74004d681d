package envtext

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestSize(t *testing.T) {
	f := func(in string, want int) {
		t.Helper()
		got, err := Size(in)
		if want < 0 {
			require.Error(t, err, in)
			return
		}
		require.NoError(t, err, in)
		require.Equal(t, want, got, in)
	}
	f("1024", 1024)
	f("8MiB", 8<<20)
	f("256 KiB", 256<<10)
	f("1GiB", 1<<30)
	f("5MB", 5e6)
	f("10B", 10)
	f("0", -1)
	f("-5", -1)
	f("MiB", -1)
	f("1.5MiB", -1)
	f("9999999999GiB", -1)
}

func TestURLs(t *testing.T) {
	f := func(in string, want ...string) {
		t.Helper()
		require.Equal(t, want, URLs(in), in)
	}
	f("")
	f(" , ")
	f("http://a:9428", "http://a:9428")
	f("http://a:9428, https://b:9428 ,http://c", "http://a:9428", "https://b:9428", "http://c")
	f("http://a/insert/jsonline?_stream_fields=service,env,HTTP://b?extra_fields=a=1,b=2",
		"http://a/insert/jsonline?_stream_fields=service,env", "HTTP://b?extra_fields=a=1,b=2")
	f("vl:9428,vl2:9428", "vl:9428,vl2:9428")
}

func TestListAndKeyValues(t *testing.T) {
	require.Equal(t, []string{"a", "b c"}, List(" a,, b c ,"))
	require.Nil(t, List(" , "))
	m, err := KeyValues("team=payments, tier = 1 ,empty=")
	require.NoError(t, err)
	require.Equal(t, map[string]string{"team": "payments", "tier": "1", "empty": ""}, m)
	_, err = KeyValues("team")
	require.ErrorContains(t, err, `"team": want name=value`)
	_, err = KeyValues("=x")
	require.Error(t, err)
}

func TestNumbers(t *testing.T) {
	d, err := Duration("250ms")
	require.NoError(t, err)
	require.Equal(t, 250*time.Millisecond, d)
	for _, bad := range []string{"0", "-1s", "5", "soon"} {
		_, err := Duration(bad)
		require.ErrorContains(t, err, "positive duration", bad)
	}
	n, err := Int("-3")
	require.NoError(t, err)
	require.Equal(t, -3, n)
	_, err = Int("3.5")
	require.ErrorContains(t, err, "integer")
	u, err := Uint32("4294967295")
	require.NoError(t, err)
	require.Equal(t, uint32(4294967295), u)
	for _, bad := range []string{"4294967296", "-1", "x"} {
		_, err := Uint32(bad)
		require.ErrorContains(t, err, "0 to 4294967295", bad)
	}
}

func TestClosest(t *testing.T) {
	names := []string{"VLOG_OUTPUT", "VLOG_LEVEL", "VLOG_VICTORIALOGS_PASSWORD"}
	require.Equal(t, "VLOG_OUTPUT", Closest("VLOG_OUPTUT", names))
	require.Equal(t, "VLOG_VICTORIALOGS_PASSWORD", Closest("VLOG_VICTORIALOGS_PASWORD", names))
	require.Equal(t, "", Closest("VLOG_SOMETHING_ELSE", names))
	require.Equal(t, 3, editDistance("kitten", "sitting"))
	require.Equal(t, 0, editDistance("", ""))
	require.Equal(t, 4, editDistance("", "abcd"))
}

func TestHideSecret(t *testing.T) {
	require.Equal(t, "(7 bytes, not shown)", HideSecret("VLOG_VICTORIALOGS_PASWORD", "hunter2"))
	require.Equal(t, "(3 bytes, not shown)", HideSecret("vlog_fluent_shared_key", "abc"))
	require.Equal(t, "http://u:xxxxx@vl:9428,https://vl2", HideSecret("VICTORIALOGS_URL", "http://u:hunter2@vl:9428,https://vl2"))
	require.Equal(t, "(a URL that does not parse, not shown)", HideSecret("VICTORIALOGS_URL", "http://u:p@[::1"))
	require.Equal(t, "stdout,file", HideSecret("VLOG_OUTPUT", "stdout,file"))
}
