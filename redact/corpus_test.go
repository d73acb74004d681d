package redact_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"testing"

	"go.vlog.dev/handlers"
	"go.vlog.dev/redact"
	"go.vlog.dev/vlog"
)

// valuesPerFormat is how many values the corpus generates for each format.
const valuesPerFormat = 5

// A way of logging a value, as services log them by accident.
type way struct {
	name string
	log  func(l *slog.Logger, v string)
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

var ways = []way{
	// Plain.
	{"message", func(l *slog.Logger, v string) { l.Info("upstream call failed with " + v + " (retrying)") }},
	{"attribute", func(l *slog.Logger, v string) { l.Info("call", "note", v) }},
	{"error", func(l *slog.Logger, v string) { l.Error("call", "err", errors.New("upstream rejected: "+v)) }},
	{"wrapped error", func(l *slog.Logger, v string) {
		l.Error("call", "err", fmt.Errorf("handler: %w", fmt.Errorf("client: %w", errors.New("upstream said "+v))))
	}},
	{"map", func(l *slog.Logger, v string) { l.Info("call", "data", map[string]any{"note": v, "n": 1}) }},
	{"struct", func(l *slog.Logger, v string) {
		l.Info("call", "req", struct {
			Note string `json:"note"`
			N    int
		}{v, 1})
	}},
	{"http.Header", func(l *slog.Logger, v string) {
		l.Info("call", "headers", http.Header{"X-Note": {v}, "Accept": {"*/*"}})
	}},
	{"[]string", func(l *slog.Logger, v string) { l.Info("call", "list", []string{"a", v}) }},
	{"%v of a map in the message", func(l *slog.Logger, v string) {
		l.Info(fmt.Sprintf("state %v", map[string]string{"note": v, "a": "b"}))
	}},
	// Encoded.
	{"query, form-encoded", func(l *slog.Logger, v string) { l.Info("GET /cb?q=" + url.QueryEscape(v) + "&page=2") }},
	{"query, percent-encoded", func(l *slog.Logger, v string) {
		l.Info("call", "url", "https://api.example.com/cb?q="+url.PathEscape(v)+"&page=2")
	}},
	{"form body", func(l *slog.Logger, v string) { l.Info("call", "body", "a=1&q="+url.QueryEscape(v)+"&b=2") }},
	{"JSON in a string", func(l *slog.Logger, v string) { l.Info("call", "payload", mustJSON(map[string]string{"note": v})) }},
	{"JSON-escaped in a string", func(l *slog.Logger, v string) {
		l.Info("call", "raw", mustJSON(mustJSON(map[string]string{"note": v})))
	}},
	{"slashes escaped", func(l *slog.Logger, v string) {
		l.Info("call", "raw", strings.ReplaceAll(mustJSON(map[string]string{"note": v}), "/", `\/`))
	}},
	{"base64 in a Basic credential", func(l *slog.Logger, v string) {
		l.Info("call", "note", "sent Authorization: Basic "+base64.StdEncoding.EncodeToString([]byte("svc:"+v)))
	}},
}

// pipeline is a logger writing JSON lines to a buffer, with redaction.
type pipeline struct {
	name string
	new  func(w *bytes.Buffer) *slog.Logger
}

// The pipelines: vlog's logger (vlog.New, redaction on by default), vlog's handler with a
// Redactor (what vlog.New builds, and what the stdout, file, forward and VictoriaLogs
// outputs all receive: they carry the JSON line the handler writes; the forward transport
// transcodes it to msgpack byte for byte, strings unchanged, so checking the JSON line is
// checking what every transport sends), and redact.Handler in front of slog.JSONHandler.
func pipelines(red *redact.Redactor) []pipeline {
	return []pipeline{
		{"vlog.New", func(w *bytes.Buffer) *slog.Logger {
			l, err := vlog.New(&vlog.Options{Writer: w, StdoutBuffered: vlog.Bool(false), Environ: []string{}})
			if err != nil {
				panic(err)
			}
			return l.Logger
		}},
		{"handlers.JSONHandler", func(w *bytes.Buffer) *slog.Logger {
			return slog.New(handlers.NewJSONHandler(w, &handlers.Options{Service: "svc", Redactor: red}))
		}},
		{"redact.Handler", func(w *bytes.Buffer) *slog.Logger {
			return slog.New(redact.NewHandler(slog.NewJSONHandler(w, nil), red))
		}},
	}
}

// chunks are the pieces of a secret looked for in the output: the whole secret when it is
// short, else every 8 bytes and the last 8, so that any leak of 15 bytes or more is seen.
func chunks(secret string) []string {
	if len(secret) < 16 {
		return []string{secret}
	}
	var cs []string
	for i := 0; i+8 <= len(secret); i += 8 {
		cs = append(cs, secret[i:i+8])
	}
	return append(cs, secret[len(secret)-8:])
}

// outputViews are the forms in which a secret could survive in a JSON line: the line, every
// string in it (keys too), and those strings decoded leniently (percent-escapes, '+', JSON
// escapes, several times; the base64 after "Basic ").
func outputViews(line string) []string {
	views := []string{line}
	var v any
	if err := json.Unmarshal([]byte(line), &v); err != nil {
		return views
	}
	var walk func(x any)
	add := func(s string) {
		views = append(views, s)
		d := s
		for i := 0; i < 3; i++ {
			d = lenientDecode(d)
			views = append(views, d, strings.ReplaceAll(d, "+", " "))
		}
		for _, t := range []string{s, d} {
			for rest := t; ; {
				i := strings.Index(strings.ToLower(rest), "basic ")
				if i < 0 {
					break
				}
				rest = rest[i+6:]
				end := strings.IndexFunc(rest, func(r rune) bool {
					return !(r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '+' || r == '/' || r == '=')
				})
				if end < 0 {
					end = len(rest)
				}
				if b, err := base64.StdEncoding.DecodeString(rest[:end]); err == nil {
					views = append(views, string(b))
				}
			}
		}
	}
	walk = func(x any) {
		switch x := x.(type) {
		case string:
			add(x)
		case map[string]any:
			for k, e := range x {
				add(k)
				walk(e)
			}
		case []any:
			for _, e := range x {
				walk(e)
			}
		}
	}
	walk(v)
	return views
}

// lenientDecode undoes percent-escapes and JSON escapes wherever they are.
func lenientDecode(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '%' && i+2 < len(s) {
			if n, err := hexByte(s[i+1 : i+3]); err == nil {
				b.WriteByte(n)
				i += 2
				continue
			}
		}
		if c == '\\' && i+1 < len(s) {
			switch s[i+1] {
			case '"', '\\', '/':
				b.WriteByte(s[i+1])
				i++
				continue
			case 'n':
				b.WriteByte('\n')
				i++
				continue
			case 'u':
				if i+5 < len(s) {
					var r rune
					if _, err := fmt.Sscanf(s[i+2:i+6], "%04x", &r); err == nil {
						b.WriteRune(r)
						i += 5
						continue
					}
				}
			}
		}
		b.WriteByte(c)
	}
	return b.String()
}

func hexByte(s string) (byte, error) {
	var n byte
	for i := 0; i < 2; i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			n = n<<4 | (c - '0')
		case c >= 'a' && c <= 'f':
			n = n<<4 | (c - 'a' + 10)
		case c >= 'A' && c <= 'F':
			n = n<<4 | (c - 'A' + 10)
		default:
			return 0, errors.New("not hex")
		}
	}
	return n, nil
}

// corpusValue is a generated secret.
type corpusValue struct {
	f       *secretFormat
	value   string
	secrets []string
}

func secretCorpus(seed uint64) []corpusValue {
	g := gen{rand.New(rand.NewPCG(seed, 0x5ec7e75))}
	var out []corpusValue
	for i := range secretFormats {
		f := &secretFormats[i]
		for n := 0; n < valuesPerFormat; n++ {
			v, s := f.gen(g)
			out = append(out, corpusValue{f, v, s})
		}
	}
	return out
}

// TestSecretCorpus logs every generated secret every way, through every pipeline, and looks
// for it in the output in every form; it asserts that none gets through and that every
// output line is valid JSON.
func TestSecretCorpus(t *testing.T) {
	red := mustNew(t, nil)
	corpus := secretCorpus(1)
	type leak struct{ format, way, pipeline, value, line string }
	var (
		mu      sync.Mutex
		leaks   []leak
		records int
	)
	for _, p := range pipelines(red) {
		t.Run(p.name, func(t *testing.T) {
			var buf bytes.Buffer
			l := p.new(&buf)
			for _, cv := range corpus {
				for _, w := range ways {
					buf.Reset()
					w.log(l, cv.value)
					out := buf.String()
					mu.Lock()
					records++
					mu.Unlock()
					for _, line := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
						if !json.Valid([]byte(line)) {
							t.Errorf("%s/%s/%s: invalid JSON: %s", cv.f.rule, cv.f.name, w.name, line)
						}
						if leaked(line, cv.secrets) {
							mu.Lock()
							leaks = append(leaks, leak{cv.f.rule + " " + cv.f.name, w.name, p.name, cv.value, line})
							mu.Unlock()
						}
					}
				}
			}
		})
	}
	formats := map[string]bool{}
	for _, lk := range leaks {
		formats[lk.format] = true
	}
	t.Logf("secret corpus: %d formats (%d rules), %d values, %d ways, %d pipelines: %d records; %d leaked (%.3f%%), from %d formats",
		len(secretFormats), countRules(), len(corpus), len(ways), len(pipelines(red)), records, len(leaks),
		100*float64(len(leaks))/float64(records), len(formats))
	for i, lk := range leaks {
		if i == 40 {
			t.Errorf("... and %d more", len(leaks)-i)
			break
		}
		t.Errorf("leak: %s, logged as %s, through %s:\nvalue: %q\nline:  %s", lk.format, lk.way, lk.pipeline, lk.value, lk.line)
	}
}

func countRules() int {
	m := map[string]bool{}
	for _, f := range secretFormats {
		m[f.rule] = true
	}
	return len(m)
}

func leaked(line string, secrets []string) bool {
	views := outputViews(line)
	for _, s := range secrets {
		for _, c := range chunks(s) {
			for _, v := range views {
				if strings.Contains(v, c) {
					return true
				}
			}
		}
	}
	return false
}

// TestSecretCorpusRules checks that each format is masked by the rule the doc names for it, in
// plain text, and that every rule but "key" has a format in the corpus.
func TestSecretCorpusRules(t *testing.T) {
	r := mustNew(t, nil)
	for _, cv := range secretCorpus(2) {
		before := r.Counts()[cv.f.rule]
		out, ok := r.String("got " + cv.value + " from upstream")
		if !ok || r.Counts()[cv.f.rule] == before {
			t.Errorf("%s %s: rule %q did not mask %q: %q (%v)", cv.f.rule, cv.f.name, cv.f.rule, cv.value, out, r.Counts())
		}
	}
	covered := map[string]bool{"key": true}
	for _, f := range secretFormats {
		covered[f.rule] = true
	}
	for _, name := range redact.RuleNames() {
		if !covered[name] {
			t.Errorf("rule %q has no format in the corpus", name)
		}
	}
}

// TestSecretCorpusSummary lists the rules the corpus covers, with -v.
func TestSecretCorpusSummary(t *testing.T) {
	byRule := map[string]int{}
	for _, f := range secretFormats {
		byRule[f.rule]++
	}
	var names []string
	for n := range byRule {
		names = append(names, n)
	}
	sort.Strings(names)
	t.Logf("%d formats in %d rules: %s", len(secretFormats), len(names), strings.Join(names, " "))
}
