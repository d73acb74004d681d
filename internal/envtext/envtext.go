// Package envtext reads the text of configuration variables: sizes, durations, lists, URLs
// and the "did you mean" of a misspelt name. vlog (vlog/settings.go) and the CloudWatch Logs
// bridge (bridge/settings.go) both read their environment with it, so that one value means
// the same in a service and in the bridge. Each parser returns the reason a text is invalid,
// phrased to follow "VARIABLE=value: ".
package envtext

import (
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Size parses a positive byte size: a number with an optional suffix B, KB, MB, GB (powers of
// 1000) or KiB, MiB, GiB (powers of 1024), at most 1 TiB.
func Size(s string) (int, error) {
	mult := 1
	for _, u := range []struct {
		suffix string
		mult   int
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"B", 1}} {
		if strings.HasSuffix(s, u.suffix) {
			s, mult = strings.TrimSpace(strings.TrimSuffix(s, u.suffix)), u.mult
			break
		}
	}
	n, err := strconv.Atoi(s)
	if err != nil || n <= 0 || n > (1<<40)/mult {
		return 0, errors.New("want a positive size in bytes, optionally with a suffix such as KiB or MiB")
	}
	return n * mult, nil
}

// Duration parses a positive time.ParseDuration value.
func Duration(s string) (time.Duration, error) {
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, errors.New("want a positive duration such as 500ms or 2s")
	}
	return d, nil
}

// Int parses a decimal integer.
func Int(s string) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, errors.New("want an integer")
	}
	return n, nil
}

// Uint32 parses a decimal integer from 0 to 2^32-1 (a VictoriaLogs tenant id).
func Uint32(s string) (uint32, error) {
	n, err := strconv.ParseUint(s, 10, 32)
	if err != nil {
		return 0, errors.New("want an integer from 0 to 4294967295")
	}
	return uint32(n), nil
}

// List splits a comma-separated list, without the blanks around the items and without empty
// items.
func List(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// KeyValues parses name=value,name2=value2.
func KeyValues(s string) (map[string]string, error) {
	m := map[string]string{}
	for _, kv := range List(s) {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || strings.TrimSpace(k) == "" {
			return nil, fmt.Errorf("%q: want name=value", kv)
		}
		m[strings.TrimSpace(k)] = strings.TrimSpace(v)
	}
	return m, nil
}

// URLs splits a comma-separated list of URLs. A comma inside a URL (in its query:
// _stream_fields=service,env) is kept: a new URL starts only at a comma followed by http://
// or https://.
func URLs(s string) []string {
	var urls []string
	for _, piece := range strings.Split(s, ",") {
		p := strings.TrimSpace(piece)
		lower := strings.ToLower(p)
		if len(urls) > 0 && !strings.HasPrefix(lower, "http://") && !strings.HasPrefix(lower, "https://") {
			urls[len(urls)-1] += "," + piece
			continue
		}
		if p != "" {
			urls = append(urls, p)
		}
	}
	for i := range urls {
		urls[i] = strings.TrimSpace(urls[i])
	}
	return urls
}

// Closest returns the name in names nearest to s by edit distance, if it is near enough to be
// a typo (fewer edits than a third of its length, plus one), else "".
func Closest(s string, names []string) string {
	best, bestD := "", len(s)/3+1
	for _, n := range names {
		if d := editDistance(s, n); d < bestD {
			best, bestD = n, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b (bytes).
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// HideSecret returns how an error message shows the value v of the variable name: not at all
// when the name suggests a secret, even misspelt (VLOG_VICTORIALOGS_PASWORD is a password all
// the same), only its length; URLs without the password in them; other values as they are.
func HideSecret(name, v string) string {
	upper := strings.ToUpper(name)
	for _, w := range []string{"PASS", "PASW", "PWD", "TOKEN", "SECRET", "KEY", "CRED", "AUTH", "COOKIE", "SESSION"} {
		if strings.Contains(upper, w) {
			return "(" + strconv.Itoa(len(v)) + " bytes, not shown)"
		}
	}
	if strings.Contains(upper, "URL") {
		var shown []string
		for _, u := range URLs(v) {
			if pu, err := url.Parse(u); err == nil {
				shown = append(shown, pu.Redacted())
			} else {
				shown = append(shown, "(a URL that does not parse, not shown)")
			}
		}
		return strings.Join(shown, ",")
	}
	return v
}
