package vlog

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"expvar"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.vlog.dev/handlers/output"
)

// family is one metric family parsed from a text exposition.
type family struct {
	help, kind string
	// samples maps the rendered label set ("" or `reason="closed"`) to the value.
	samples map[string]float64
}

var (
	metricNameRE = regexp.MustCompile(`^[a-zA-Z_:][a-zA-Z0-9_:]*$`)
	labelNameRE  = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)
)

// parseExposition parses the Prometheus text format 0.0.4 strictly: every family has one HELP
// then one TYPE line before its samples, samples of a family are contiguous, names and label
// names are valid, label values are properly quoted and escaped, values are floats, no line is
// blank, the text ends with a newline, counters are named *_total and are not negative.
func parseExposition(text string) (map[string]*family, []string, error) {
	if text == "" || !strings.HasSuffix(text, "\n") {
		return nil, nil, errors.New("empty or no final newline")
	}
	fams := map[string]*family{}
	var order []string
	var cur string
	for n, line := range strings.Split(strings.TrimSuffix(text, "\n"), "\n") {
		fail := func(format string, args ...any) error {
			return fmt.Errorf("line %d %q: %s", n+1, line, fmt.Sprintf(format, args...))
		}
		switch {
		case line == "":
			return nil, nil, fail("blank line")
		case strings.HasPrefix(line, "# HELP "):
			name, help, ok := strings.Cut(strings.TrimPrefix(line, "# HELP "), " ")
			if !ok || !metricNameRE.MatchString(name) || help == "" {
				return nil, nil, fail("bad HELP")
			}
			if _, dup := fams[name]; dup {
				return nil, nil, fail("family %s seen twice", name)
			}
			h, err := unescape(help, false)
			if err != nil {
				return nil, nil, fail("%v", err)
			}
			fams[name] = &family{help: h, samples: map[string]float64{}}
			order = append(order, name)
			cur = name
		case strings.HasPrefix(line, "# TYPE "):
			name, kind, ok := strings.Cut(strings.TrimPrefix(line, "# TYPE "), " ")
			if !ok || name != cur || fams[name].kind != "" || len(fams[name].samples) > 0 {
				return nil, nil, fail("TYPE out of place")
			}
			switch kind {
			case "counter", "gauge", "untyped", "summary", "histogram":
			default:
				return nil, nil, fail("bad type %q", kind)
			}
			if kind == "counter" && !strings.HasSuffix(name, "_total") {
				return nil, nil, fail("counter not named *_total")
			}
			fams[name].kind = kind
		case strings.HasPrefix(line, "#"):
			return nil, nil, fail("unexpected comment")
		default:
			name, rest := line, ""
			if i := strings.IndexAny(line, "{ "); i >= 0 {
				name, rest = line[:i], line[i:]
			}
			if name != cur || fams[cur].kind == "" {
				return nil, nil, fail("sample outside its family")
			}
			labels := ""
			if strings.HasPrefix(rest, "{") {
				end, err := parseLabels(rest)
				if err != nil {
					return nil, nil, fail("%v", err)
				}
				labels, rest = rest[1:end], rest[end+1:]
			}
			if !strings.HasPrefix(rest, " ") {
				return nil, nil, fail("no space before the value")
			}
			fields := strings.Split(rest[1:], " ")
			if len(fields) > 2 {
				return nil, nil, fail("too many fields")
			}
			v, err := strconv.ParseFloat(fields[0], 64)
			if err != nil {
				return nil, nil, fail("bad value")
			}
			if len(fields) == 2 {
				if _, err := strconv.ParseInt(fields[1], 10, 64); err != nil {
					return nil, nil, fail("bad timestamp")
				}
			}
			if fams[cur].kind == "counter" && (v < 0 || math.IsNaN(v)) {
				return nil, nil, fail("negative counter")
			}
			if _, dup := fams[cur].samples[labels]; dup {
				return nil, nil, fail("duplicate sample")
			}
			fams[cur].samples[labels] = v
		}
	}
	return fams, order, nil
}

// parseLabels checks `{name="value",...}` at the start of s and returns the index of '}'.
func parseLabels(s string) (int, error) {
	i := 1
	seen := map[string]bool{}
	for {
		if i < len(s) && s[i] == '}' && len(seen) > 0 {
			return i, nil
		}
		eq := strings.IndexByte(s[i:], '=')
		if eq < 0 {
			return 0, errors.New("label without '='")
		}
		name := s[i : i+eq]
		if !labelNameRE.MatchString(name) || seen[name] {
			return 0, fmt.Errorf("bad or repeated label name %q", name)
		}
		seen[name] = true
		i += eq + 1
		if i >= len(s) || s[i] != '"' {
			return 0, errors.New("label value not quoted")
		}
		i++
		for ; i < len(s) && s[i] != '"'; i++ {
			if s[i] == '\\' {
				i++
				if i >= len(s) || !strings.ContainsRune(`\"n`, rune(s[i])) {
					return 0, errors.New("bad escape in label value")
				}
			} else if s[i] == '\n' {
				return 0, errors.New("raw newline in label value")
			}
		}
		if i >= len(s) {
			return 0, errors.New("unterminated label value")
		}
		i++
		switch {
		case i < len(s) && s[i] == ',':
			i++
		case i < len(s) && s[i] == '}':
			return i, nil
		default:
			return 0, errors.New("expected ',' or '}'")
		}
	}
}

// unescape undoes the escaping of a help text or label value.
func unescape(s string, quote bool) (string, error) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' {
			b.WriteByte(s[i])
			continue
		}
		i++
		switch {
		case i < len(s) && s[i] == '\\':
			b.WriteByte('\\')
		case i < len(s) && s[i] == 'n':
			b.WriteByte('\n')
		case i < len(s) && s[i] == '"' && quote:
			b.WriteByte('"')
		default:
			return "", fmt.Errorf("bad escape in %q", s)
		}
	}
	return b.String(), nil
}

// metricsText scrapes l's MetricsHandler and checks the answer.
func metricsText(t *testing.T, l *Logger) string {
	t.Helper()
	rec := httptest.NewRecorder()
	l.MetricsHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	require.Equal(t, http.StatusOK, rec.Code)
	require.Equal(t, "text/plain; version=0.0.4; charset=utf-8", rec.Header().Get("Content-Type"))
	_, _, err := parseExposition(rec.Body.String())
	require.NoError(t, err, rec.Body.String())
	return rec.Body.String()
}

// fakeOutput is an Output with chosen counters.
type fakeOutput struct{ st Stats }

func (f *fakeOutput) Write(p []byte) (int, error)   { return len(p), nil }
func (f *fakeOutput) Close(context.Context) error   { return nil }
func (f *fakeOutput) Flush(context.Context) error   { return nil }
func (f *fakeOutput) Stats() Stats                  { return f.st }
func (f *fakeOutput) setState(s string) *fakeOutput { f.st.State = s; return f }
func newFake(st Stats) *fakeOutput                  { return &fakeOutput{st: st} }
func loggerWith(o output.Output, ecsErrors int) *Logger {
	return &Logger{output: o, cfg: &config{ecs: ecsLookup{errors: ecsErrors}}}
}

func TestMetricsExposition(t *testing.T) {
	l := loggerWith(newFake(Stats{
		Output: "forward", State: "failing", Enqueued: 1_000_000_007, Delivered: 999_000_000, Retried: 12,
		Dropped:       output.Drops{BufferFull: 1, WriteError: 2, Oversize: 3, Closed: 4},
		BufferedBytes: 65536, BufferedRecords: 211,
	}), 2)
	text := metricsText(t, l)
	fams, order, err := parseExposition(text)
	require.NoError(t, err)

	want := map[string]map[string]float64{
		"vlog_records_enqueued_total":  {"": 1_000_000_007},
		"vlog_records_delivered_total": {"": 999_000_000},
		"vlog_records_dropped_total": {
			`reason="buffer_full"`: 1, `reason="write_error"`: 2, `reason="oversize"`: 3, `reason="closed"`: 4,
		},
		"vlog_retries_total":             {"": 12},
		"vlog_buffer_bytes":              {"": 65536},
		"vlog_buffer_records":            {"": 211},
		"vlog_output_failing":            {"": 1},
		"vlog_ecs_metadata_errors_total": {"": 2},
		// The same output, per output.
		"vlog_output_records_enqueued_total":  {`output="forward"`: 1_000_000_007},
		"vlog_output_records_delivered_total": {`output="forward"`: 999_000_000},
		"vlog_output_records_dropped_total": {
			`output="forward",reason="buffer_full"`: 1, `output="forward",reason="write_error"`: 2,
			`output="forward",reason="oversize"`: 3, `output="forward",reason="closed"`: 4,
		},
		"vlog_output_retries_total":  {`output="forward"`: 12},
		"vlog_output_buffer_bytes":   {`output="forward"`: 65536},
		"vlog_output_buffer_records": {`output="forward"`: 211},
		"vlog_output_state":          {`output="forward",state="ok"`: 0, `output="forward",state="failing"`: 1, `output="forward",state="closed"`: 0},
	}
	require.Len(t, fams, len(want))
	for name, samples := range want {
		require.Contains(t, fams, name)
		require.Equal(t, samples, fams[name].samples, name)
	}
	require.Equal(t, "counter", fams["vlog_records_dropped_total"].kind)
	require.Equal(t, "gauge", fams["vlog_buffer_bytes"].kind)
	require.Equal(t, "vlog_records_enqueued_total", order[0], "the table's order")
	// Integers are written in full, never in exponent form.
	require.Contains(t, text, "\nvlog_records_enqueued_total 1000000007\n")

	l = loggerWith(newFake(Stats{}).setState("ok"), 0)
	fams, _, err = parseExposition(metricsText(t, l))
	require.NoError(t, err)
	require.Equal(t, map[string]float64{"": 0}, fams["vlog_output_failing"].samples)
}

func TestMetricsFromARealLogger(t *testing.T) {
	var n int
	l, err := New(&Options{Environ: []string{}, StdoutBuffered: Bool(false), Writer: writerFunc(func(p []byte) (int, error) {
		n++
		if n == 3 {
			return 0, errors.New("disk full")
		}
		return len(p), nil
	})})
	require.NoError(t, err)
	for i := range 3 {
		l.Info("m", "i", i)
	}
	text := metricsText(t, l)
	require.Contains(t, text, "\nvlog_records_enqueued_total 3\n")
	require.Contains(t, text, "\nvlog_records_delivered_total 2\n")
	require.Contains(t, text, "\nvlog_records_dropped_total{reason=\"write_error\"} 1\n")
	require.Contains(t, text, "\nvlog_output_failing 1\n")
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

func TestMetricsTable(t *testing.T) {
	seen := map[string]bool{}
	for _, m := range metrics {
		require.Regexp(t, `^vlog_[a-z0-9_]+$`, m.name)
		require.False(t, seen[m.name], "duplicate %s", m.name)
		seen[m.name] = true
		require.NotEmpty(t, m.help, m.name)
		require.Contains(t, []string{counter, gauge}, m.kind, m.name)
		require.Equal(t, m.kind == counter, strings.HasSuffix(m.name, "_total"), m.name)
		for _, l := range m.labels {
			require.Regexp(t, labelNameRE, l)
		}
		full := &metricSource{stats: Stats{Redacted: map[string]uint64{}, Fallback: &output.FallbackStatus{}, Volume: &output.VolumeStats{}, BufferSize: 1}}
		require.NotEmpty(t, m.samples(full), m.name)
	}
}

func TestMetricsEscaping(t *testing.T) {
	for _, s := range []string{`plain`, `a"b`, `back\slash`, "new\nline", `\"\n`, ""} {
		b := appendEscaped(nil, s, true)
		require.NotContains(t, string(b), "\n")
		got, err := unescape(string(b), true)
		require.NoError(t, err)
		require.Equal(t, s, got)
		line := "m{l=\"" + string(b) + "\"} 1"
		end, err := parseLabels(line[1:])
		require.NoError(t, err, line)
		require.Equal(t, len(line[1:])-3, end)
	}
	// A help text keeps its quotes.
	require.Equal(t, `say "hi"\\ \n`, string(appendEscaped(nil, "say \"hi\"\\ \n", false)))
}

func TestStrictParserRejects(t *testing.T) {
	bad := []string{
		"",
		"# HELP a_total x\n# TYPE a_total counter\na_total 1",                // no final newline
		"# TYPE a_total counter\na_total 1\n",                                // no HELP
		"# HELP a_total x\na_total 1\n",                                      // no TYPE
		"# HELP a x\n# TYPE a counter\na 1\n",                                // counter without _total
		"# HELP a x\n# TYPE a gauge\nb 1\n",                                  // sample of another family
		"# HELP a x\n# TYPE a gauge\na{l=\"x} 1\n",                           // unterminated label
		"# HELP a x\n# TYPE a gauge\na{l=x} 1\n",                             // unquoted label
		"# HELP a x\n# TYPE a gauge\na one\n",                                // bad value
		"# HELP a x\n# TYPE a gauge\na 1\n\n",                                // blank line
		"# HELP a x\n# TYPE a gauge\na 1\n# HELP a x\n# TYPE a gauge\na 2\n", // family twice
		"# HELP a x\n# TYPE a gauge\na{l=\"1\"} 1\na{l=\"1\"} 2\n",           // duplicate sample
		"# HELP a_total x\n# TYPE a_total counter\na_total -1\n",             // negative counter
		"# HELP a x\n# TYPE a gauge\na{l=\"\\q\"} 1\n",                       // bad escape
		"# HELP a x\n# TYPE a gauge\na 1 2 3\n",                              // extra field
		"# HELP 1a x\n# TYPE 1a gauge\n1a 1\n",                               // bad name
		"# HELP a x\n# TYPE a gauge\na{l=\"1\",l=\"2\"} 1\n",                 // repeated label
		"# HELP a x\n# TYPE a gauge\n# TYPE a gauge\na 1\n",                  // TYPE twice
		"# HELP a x\n# TYPE a gauge\n# a comment\na 1\n",                     // stray comment
		"# HELP a x\n# TYPE a flavour\na 1\n",                                // bad type
		"# HELP a x\n# TYPE a gauge\na{} 1\n",                                // empty label set
		"# HELP a x\n# TYPE a gauge\na1\n",                                   // no space
		"# HELP a x\n# TYPE a gauge\na 1 x\n",                                // bad timestamp
	}
	for _, s := range bad {
		_, _, err := parseExposition(s)
		require.Error(t, err, "%q", s)
	}
	_, _, err := parseExposition("# HELP a x \\\\ \\n\n# TYPE a gauge\na{l=\"\\\"\",m=\"\"} NaN 1700000000000\na +Inf\n")
	require.NoError(t, err)
}

func TestMetricsHandlerMethods(t *testing.T) {
	h := loggerWith(newFake(Stats{}), 0).MetricsHandler()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/metrics", nil))
	require.Equal(t, http.StatusMethodNotAllowed, rec.Code)
	require.Equal(t, "GET, HEAD", rec.Header().Get("Allow"))

	srv := httptest.NewServer(h)
	defer srv.Close()
	resp, err := http.Head(srv.URL)
	require.NoError(t, err)
	_ = resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, PrometheusContentType, resp.Header.Get("Content-Type"))

	resp, err = http.Get(srv.URL)
	require.NoError(t, err)
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	lines := 0
	for sc.Scan() {
		lines++
	}
	require.Equal(t, 3*(len(metrics)-4-volumeMetrics())+3+3+2, lines,
		"HELP and TYPE per family, one sample each but 4 for dropped (twice: total and the one output) and 3 for the output's state; no redactions (the fake has no redactor), no fallback metrics (no fallback), no volume metrics (no volume controls), no buffer size (the fake has no buffer)")
}

func TestPublishExpvar(t *testing.T) {
	l := loggerWith(newFake(Stats{
		Output: "victorialogs", State: "ok", Enqueued: 5, Delivered: 4, LastError: "HTTP 503",
		Dropped: output.Drops{Oversize: 1},
	}), 1)
	name := "vlog_test_" + strconv.FormatInt(int64(len(expvarNames())), 10) + "_" + t.Name()
	require.NoError(t, l.PublishExpvar(name))
	err := l.PublishExpvar(name)
	require.ErrorContains(t, err, "already published")
	require.Error(t, loggerWith(newFake(Stats{}), 0).PublishExpvar(name), "another Logger, same name")
	require.ErrorContains(t, l.PublishExpvar(""), "empty name")

	var got map[string]any
	require.NoError(t, json.Unmarshal([]byte(expvar.Get(name).String()), &got))
	require.Equal(t, map[string]any{
		"output": "victorialogs", "state": "ok", "last_error": "HTTP 503",
		"records_enqueued_total": 5.0, "records_delivered_total": 4.0, "retries_total": 0.0,
		"records_dropped_total": map[string]any{"buffer_full": 0.0, "write_error": 0.0, "oversize": 1.0, "closed": 0.0},
		"buffer_bytes":          0.0, "buffer_records": 0.0, "output_failing": 0.0, "ecs_metadata_errors_total": 1.0,
		"output_records_enqueued_total":  map[string]any{"victorialogs": 5.0},
		"output_records_delivered_total": map[string]any{"victorialogs": 4.0},
		"output_records_dropped_total": map[string]any{"victorialogs": map[string]any{
			"buffer_full": 0.0, "write_error": 0.0, "oversize": 1.0, "closed": 0.0}},
		"output_retries_total":  map[string]any{"victorialogs": 0.0},
		"output_buffer_bytes":   map[string]any{"victorialogs": 0.0},
		"output_buffer_records": map[string]any{"victorialogs": 0.0},
		"output_state":          map[string]any{"victorialogs": map[string]any{"ok": 1.0, "failing": 0.0, "closed": 0.0}},
	}, got)

	// Read at each request.
	l.output.(*fakeOutput).st.Enqueued = 6
	require.Contains(t, expvar.Get(name).String(), `"records_enqueued_total":6`)
}

func expvarNames() []string {
	var names []string
	expvar.Do(func(kv expvar.KeyValue) { names = append(names, kv.Key) })
	return names
}
