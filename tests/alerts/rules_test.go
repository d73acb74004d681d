// Package alerts_test checks the vmalert rule files of examples/alerts and the vmalert service
// of examples/docker-compose.yml.
//
// Without any variable (CI), it checks what can be checked without vmalert: the files parse
// strictly (unknown keys are refused, as vmalert refuses them), every group and rule has what
// docs/monitoring.md promises (type, interval, expr, for, severity, a summary and a description
// that says what to do), durations parse the way vmalert parses them, the MetricsQL expressions
// parse with the parser vmalert uses (github.com/VictoriaMetrics/metricsql, the version vmalert
// v1.122.0 vendors), the LogsQL expressions have the shape the rules rely on, every annotation
// template parses and refers only to labels the alert will have, and every metric name exists:
// vlog's in the output of a real vlog.Logger's MetricsHandler, the others in the snapshots of
// testdata/metrics/ taken from the real binaries.
//
// With the real binaries (gated_test.go), the same files go through vmalert itself.
package alerts_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"maps"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"text/template"

	"github.com/VictoriaMetrics/metricsql"
	"gopkg.in/yaml.v3"

	"go.vlog.dev/vlog"
)

// The files under test, relative to this directory.
var (
	alertsDir        = filepath.Join("..", "..", "examples", "alerts")
	vlogsRulesPath   = filepath.Join(alertsDir, "vlogs-rules.yml")
	metricsRulesPath = filepath.Join(alertsDir, "metrics-rules.yml")
	composePath      = filepath.Join("..", "..", "examples", "docker-compose.yml")
)

// vmalertVersion is the vmalert release the files were checked with (the gated tests, the
// compose image, docs/monitoring.md).
const vmalertVersion = "v1.122.0"

// ruleFile is a vmalert rule file, with the fields vmalert's config package knows
// (app/vmalert/config: Group and Rule); decoding with KnownFields refuses any other, as
// vmalert does.
type ruleFile struct {
	Groups []group `yaml:"groups"`
}

type group struct {
	Name            string              `yaml:"name"`
	Type            string              `yaml:"type,omitempty"`
	Interval        string              `yaml:"interval,omitempty"`
	EvalOffset      string              `yaml:"eval_offset,omitempty"`
	EvalDelay       string              `yaml:"eval_delay,omitempty"`
	EvalAlignment   *bool               `yaml:"eval_alignment,omitempty"`
	Limit           int                 `yaml:"limit,omitempty"`
	Concurrency     int                 `yaml:"concurrency,omitempty"`
	Labels          map[string]string   `yaml:"labels,omitempty"`
	Params          map[string][]string `yaml:"params,omitempty"`
	Headers         []string            `yaml:"headers,omitempty"`
	NotifierHeaders []string            `yaml:"notifier_headers,omitempty"`
	Debug           bool                `yaml:"debug,omitempty"`
	Rules           []rule              `yaml:"rules"`
}

type rule struct {
	Alert              string            `yaml:"alert,omitempty"`
	Record             string            `yaml:"record,omitempty"`
	Expr               string            `yaml:"expr"`
	For                *string           `yaml:"for,omitempty"`
	KeepFiringFor      string            `yaml:"keep_firing_for,omitempty"`
	Labels             map[string]string `yaml:"labels,omitempty"`
	Annotations        map[string]string `yaml:"annotations,omitempty"`
	Debug              *bool             `yaml:"debug,omitempty"`
	UpdateEntriesLimit *int              `yaml:"update_entries_limit,omitempty"`
}

func loadRules(t testing.TB, path string) ruleFile {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var f ruleFile
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return f
}

// duration parses a duration as vmalert does (promutil.Duration: metricsql.DurationValue),
// in milliseconds.
func duration(s string) (int64, error) {
	if strings.TrimSpace(s) == "" {
		return 0, fmt.Errorf("empty duration")
	}
	ms, err := metricsql.DurationValue(s, 0)
	if err != nil {
		return 0, err
	}
	if ms < 0 {
		return 0, fmt.Errorf("negative duration %q", s)
	}
	return ms, nil
}

var (
	alertName  = regexp.MustCompile(`^[A-Z][A-Za-z0-9]+$`)
	groupName  = regexp.MustCompile(`^[a-z][a-z0-9-]+$`)
	severities = []string{"critical", "warning", "info"}
)

// TestRuleFiles checks what both files share: groups, rules, durations, labels, annotations.
func TestRuleFiles(t *testing.T) {
	groups := map[string]string{}
	for _, path := range []string{vlogsRulesPath, metricsRulesPath} {
		f := loadRules(t, path)
		if len(f.Groups) == 0 {
			t.Fatalf("%s: no groups", path)
		}
		alerts := map[string]bool{}
		for _, g := range f.Groups {
			where := path + ": group " + g.Name
			if !groupName.MatchString(g.Name) {
				t.Errorf("%s: group names are lower-case words with dashes", where)
			}
			if other, dup := groups[g.Name]; dup {
				t.Errorf("%s: group name also used in %s (vmalert's alertgroup label would not tell them apart)", where, other)
			}
			groups[g.Name] = path
			if ms, err := duration(g.Interval); err != nil || ms == 0 {
				t.Errorf("%s: interval %q: want a positive duration (%v)", where, g.Interval, err)
			}
			if len(g.Rules) == 0 {
				t.Errorf("%s: no rules", where)
			}
			for _, r := range g.Rules {
				where := where + ": " + r.Alert
				if r.Record != "" || r.Alert == "" {
					t.Errorf("%s: only alerting rules here (record %q)", where, r.Record)
					continue
				}
				if !alertName.MatchString(r.Alert) {
					t.Errorf("%s: alert names are CamelCase", where)
				}
				if alerts[r.Alert] {
					t.Errorf("%s: alert name used twice in the file", where)
				}
				alerts[r.Alert] = true
				if strings.TrimSpace(r.Expr) == "" {
					t.Errorf("%s: empty expr", where)
				}
				if r.For == nil {
					t.Errorf("%s: no `for` (write `for: 0m` when the alert fires at once)", where)
				} else if _, err := duration(*r.For); err != nil {
					t.Errorf("%s: for %q: %v", where, *r.For, err)
				}
				if !slices.Contains(severities, r.Labels["severity"]) {
					t.Errorf("%s: labels.severity %q, want one of %v", where, r.Labels["severity"], severities)
				}
				if len(r.Labels) != 1 {
					t.Errorf("%s: labels %v: only severity (other labels come from the series)", where, r.Labels)
				}
				keys := slices.Sorted(maps.Keys(r.Annotations))
				if !slices.Equal(keys, []string{"description", "summary"}) {
					t.Errorf("%s: annotations %v, want summary and description", where, keys)
				}
				if s := r.Annotations["summary"]; strings.TrimSpace(s) == "" || strings.Contains(s, "\n") {
					t.Errorf("%s: summary %q: want one line", where, s)
				}
				if d := r.Annotations["description"]; !strings.Contains(d, "What to do: ") {
					t.Errorf("%s: the description must say what to do (\"What to do: ...\")", where)
				}
			}
		}
	}
}

// vmalertFuncs are the template functions vmalert v1.122.0 defines (app/vmalert/templates), with
// stand-ins good enough to execute a template.
var vmalertFuncs = template.FuncMap{
	"humanize":           func(v any) string { return fmt.Sprint(v) },
	"humanize1024":       func(v any) string { return fmt.Sprint(v) },
	"humanizeDuration":   func(v any) string { return fmt.Sprint(v) },
	"humanizePercentage": func(v any) string { return fmt.Sprint(v) },
	"humanizeTimestamp":  func(v any) string { return fmt.Sprint(v) },
	"toTime":             func(v any) string { return fmt.Sprint(v) },
	"query":              func(string) []any { return nil },
	"first":              func(v []any) any { return nil },
	"label":              func(string, any) string { return "" },
	"value":              func(any) float64 { return 0 },
	"strvalue":           func(any) string { return "" },
	"sortByLabel":        func(string, []any) []any { return nil },
	"externalURL":        func() string { return "" },
	"pathPrefix":         func() string { return "" },
	"crlfEscape":         func(string) string { return "" },
	"stripPort":          func(string) string { return "" },
	"stripDomain":        func(string) string { return "" },
	"reReplaceAll":       func(string, string, string) string { return "" },
	"parseDuration":      func(string) float64 { return 0 },
	"parseDurationTime":  func(string) float64 { return 0 },
	"args":               func(...any) map[string]any { return nil },
	"safeHtml":           func(string) string { return "" },
	"jsonEscape":         func(string) string { return "" },
	"quotesEscape":       func(string) string { return "" },
	"queryEscape":        func(string) string { return "" },
	"pathEscape":         func(string) string { return "" },
	"htmlEscape":         func(string) string { return "" },
	"match":              func(string, string) bool { return false },
	"title":              func(string) string { return "" },
	"toUpper":            func(string) string { return "" },
	"toLower":            func(string) string { return "" },
}

// templateHeader declares the variables vmalert gives annotation templates.
const templateHeader = `{{- $labels := .Labels -}}{{- $value := .Value -}}{{- $expr := .Expr -}}` +
	`{{- $externalLabels := .ExternalLabels -}}{{- $externalURL := .ExternalURL -}}` +
	`{{- $alertID := .AlertID -}}{{- $groupID := .GroupID -}}{{- $activeAt := .ActiveAt -}}{{- $for := .For -}}`

// checkTemplates executes every annotation of r with exactly the labels the alert will have:
// a reference to any other label fails (it would print "<no value>" in the notification).
func checkTemplates(t *testing.T, where string, r rule, labels []string) {
	t.Helper()
	data := map[string]any{
		"Labels": map[string]string{}, "Value": 0.25, "Expr": r.Expr, "ExternalLabels": map[string]string{},
		"ExternalURL": "", "AlertID": 1, "GroupID": 2, "ActiveAt": 0, "For": 0,
	}
	for _, l := range labels {
		data["Labels"].(map[string]string)[l] = "<" + l + ">"
	}
	for _, l := range []string{"alertname", "alertgroup"} {
		data["Labels"].(map[string]string)[l] = "<" + l + ">"
	}
	for k, v := range r.Labels {
		data["Labels"].(map[string]string)[k] = v
	}
	for name, text := range r.Annotations {
		tpl, err := template.New(name).Funcs(vmalertFuncs).Option("missingkey=error").Parse(templateHeader + text)
		if err != nil {
			t.Errorf("%s: annotation %s: %v", where, name, err)
			continue
		}
		var out strings.Builder
		if err := tpl.Execute(&out, data); err != nil {
			t.Errorf("%s: annotation %s refers to a label the alert does not have (it has %v): %v", where, name, labels, err)
		}
	}
}

// TestVlogsRules checks the LogsQL file: every group is `type: vlogs`, and every expression
// has the shape the rules and their annotations rely on.
func TestVlogsRules(t *testing.T) {
	f := loadRules(t, vlogsRulesPath)
	for _, g := range f.Groups {
		if g.Type != "vlogs" {
			t.Errorf("group %s: type %q: LogsQL groups must say `type: vlogs` (vmalert parses the others as MetricsQL)", g.Name, g.Type)
		}
		for _, r := range g.Rules {
			where := "group " + g.Name + ": " + r.Alert
			q, err := parseLogsQL(r.Expr)
			if err != nil {
				t.Errorf("%s: %v", where, err)
				continue
			}
			for _, w := range q.windows {
				if ms, err := duration(w); err != nil || ms == 0 {
					t.Errorf("%s: _time:%s: %v", where, w, err)
				}
			}
			checkTemplates(t, where, r, append(q.labels, "stats_result"))
		}
	}
}

// logsQL is what the checks need of a rule's LogsQL expression.
type logsQL struct {
	windows []string // the durations of its _time filters, the window first
	labels  []string // the fields the stats results are grouped by (after `fields`)
	results []string // the stats results left (after `math` and `fields`)
}

var (
	timeFilter  = regexp.MustCompile(`(?:^|[\s(])_time:([0-9][0-9a-zA-Z.]*)`)
	statsBy     = regexp.MustCompile(`^stats\s+by\s*\(([^)]*)\)`)
	resultNames = regexp.MustCompile(`\bas\s+([A-Za-z_][A-Za-z0-9_]*)`)
)

// parseLogsQL checks the shape of a rule's expression: it starts with its own time window
// (vmalert then does not add one of the group's interval), has exactly one `stats` pipe whose
// results are all named, and leaves exactly one stats result, so that each group of the
// `by (...)` fields is one alert and not one per result.
func parseLogsQL(expr string) (logsQL, error) {
	var q logsQL
	pipes := splitPipes(expr)
	if !strings.HasPrefix(pipes[0], "_time:") {
		return q, fmt.Errorf("%q: the expression must start with its window (_time:...)", expr)
	}
	for _, m := range timeFilter.FindAllStringSubmatch(expr, -1) {
		q.windows = append(q.windows, m[1])
	}
	stats := 0
	var fields []string
	for _, p := range pipes[1:] {
		word, rest, _ := strings.Cut(p, " ")
		switch word {
		case "stats":
			stats++
			m := statsBy.FindStringSubmatch(p)
			if m == nil {
				return q, fmt.Errorf("%q: want `stats by (...)`", p)
			}
			q.labels = splitList(m[1])
			body := strings.TrimPrefix(p, m[0])
			funcs := splitTop(body, ',')
			for _, f := range funcs {
				n := resultNames.FindAllStringSubmatch(f, -1)
				if len(n) == 0 {
					return q, fmt.Errorf("%q: name every stats result (`... as name`)", f)
				}
				q.results = append(q.results, n[len(n)-1][1])
			}
		case "math":
			n := resultNames.FindAllStringSubmatch(rest, -1)
			if len(n) == 0 {
				return q, fmt.Errorf("%q: name the math result", p)
			}
			q.results = append(q.results, n[len(n)-1][1])
		case "fields":
			fields = splitList(rest)
		case "filter":
		default:
			return q, fmt.Errorf("%q: pipe %q: the checks know stats, math, filter, fields", expr, word)
		}
	}
	if stats != 1 {
		return q, fmt.Errorf("%q: want exactly one stats pipe, got %d", expr, stats)
	}
	if fields != nil {
		for _, f := range fields {
			if !slices.Contains(q.labels, f) && !slices.Contains(q.results, f) {
				return q, fmt.Errorf("%q: fields keeps %q, which is neither a by field nor a result", expr, f)
			}
		}
		q.labels = slices.DeleteFunc(q.labels, func(l string) bool { return !slices.Contains(fields, l) })
		q.results = slices.DeleteFunc(q.results, func(r string) bool { return !slices.Contains(fields, r) })
	}
	if len(q.results) != 1 {
		return q, fmt.Errorf("%q: leaves the stats results %v: keep exactly one (`| fields ...`), or each group fires once per result", expr, q.results)
	}
	return q, nil
}

// splitPipes splits a LogsQL query at the pipes outside quotes and parentheses.
func splitPipes(s string) []string {
	var out []string
	for _, p := range splitTop(s, '|') {
		out = append(out, strings.TrimSpace(p))
	}
	return out
}

// splitTop splits s at sep outside quotes and parentheses.
func splitTop(s string, sep byte) []string {
	var out []string
	depth, start := 0, 0
	var quote byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0:
			if c == '\\' {
				i++
			} else if c == quote {
				quote = 0
			}
		case c == '"' || c == '\'' || c == '`':
			quote = c
		case c == '(':
			depth++
		case c == ')':
			depth--
		case c == sep && depth == 0:
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

func TestParseLogsQL(t *testing.T) {
	f := func(expr string, labels, results []string, wantErr string) {
		t.Helper()
		q, err := parseLogsQL(expr)
		if wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), wantErr) {
				t.Errorf("%q: error %v, want %q", expr, err, wantErr)
			}
			return
		}
		if err != nil {
			t.Errorf("%q: %v", expr, err)
			return
		}
		if !slices.Equal(q.labels, labels) || !slices.Equal(q.results, results) {
			t.Errorf("%q: labels %v results %v, want %v %v", expr, q.labels, q.results, labels, results)
		}
	}
	f(`_time:5m x | stats by (a, b) count() as n`, []string{"a", "b"}, []string{"n"}, "")
	f(`_time:5m _msg:~"a|b" | stats by (a) count() if (x:"|") as n, count() as m | math n / m as r | filter r:>1 | fields a, r`, []string{"a"}, []string{"r"}, "")
	f(`_time:5m | stats by (a) count() as n, count() as m`, nil, nil, "keep exactly one")
	f(`_time:5m | stats by (a) count()`, nil, nil, "name every stats result")
	f(`x | stats by (a) count() as n`, nil, nil, "must start with its window")
	f(`_time:5m | stats count() as n`, nil, nil, "want `stats by (...)`")
	f(`_time:5m | stats by (a) count() as n | fields b, n`, nil, nil, "neither a by field nor a result")
	f(`_time:5m | sort by (a)`, nil, nil, "the checks know")
}

// TestMetricsRules checks the MetricsQL file: default (prometheus) type, expressions that parse,
// metric names that exist, annotations that refer only to labels the series have.
func TestMetricsRules(t *testing.T) {
	f := loadRules(t, metricsRulesPath)
	known := knownMetrics(t)
	for _, g := range f.Groups {
		if g.Type != "" && g.Type != "prometheus" {
			t.Errorf("group %s: type %q: these are MetricsQL rules", g.Name, g.Type)
		}
		for _, r := range g.Rules {
			where := "group " + g.Name + ": " + r.Alert
			e, err := metricsql.Parse(r.Expr)
			if err != nil {
				t.Errorf("%s: %v", where, err)
				continue
			}
			for _, sel := range selectors(e) {
				if sel.name == "up" {
					continue // written by the scraper, not exposed by a binary
				}
				m, ok := known[sel.name]
				if !ok {
					t.Errorf("%s: metric %s is exposed by none of vlog, VictoriaLogs, Fluent Bit, vmalert (testdata/metrics/)", where, sel.name)
					continue
				}
				for _, l := range sel.labels {
					if !m.labels[l] {
						t.Errorf("%s: %s has no label %q (it has %v)", where, sel.name, l, slices.Sorted(maps.Keys(m.labels)))
					}
				}
			}
			checkTemplates(t, where, r, labelsOf(e, known))
		}
	}
}

// selector is a metric selector of an expression: the metric's name and the labels it matches on.
type selector struct {
	name   string
	labels []string
	// values are the values matched with = or != (and the alternatives of a plain a|b|c regexp),
	// by label.
	values map[string][]string
}

func selectors(e metricsql.Expr) []selector {
	var out []selector
	metricsql.VisitAll(e, func(e metricsql.Expr) {
		me, ok := e.(*metricsql.MetricExpr)
		if !ok {
			return
		}
		for _, lfs := range me.LabelFilterss {
			s := selector{values: map[string][]string{}}
			for _, lf := range lfs {
				if lf.Label == "__name__" {
					s.name = lf.Value
					continue
				}
				s.labels = append(s.labels, lf.Label)
				if !lf.IsRegexp {
					s.values[lf.Label] = append(s.values[lf.Label], lf.Value)
				} else if regexp.MustCompile(`^[a-z_]+(\|[a-z_]+)*$`).MatchString(lf.Value) {
					s.values[lf.Label] = append(s.values[lf.Label], strings.Split(lf.Value, "|")...)
				}
			}
			out = append(out, s)
		}
	})
	return out
}

// scrapeLabels are the labels every scraped series gets.
var scrapeLabels = []string{"job", "instance"}

// labelsOf returns the labels of the series e evaluates to, as far as the functions used here
// go: a selector has its metric's labels and the scrape's, rollups and the other functions keep
// their argument's, an aggregation keeps its `by` list, a binary operation its left side's (or
// its series side's, against a number).
func labelsOf(e metricsql.Expr, known map[string]metricInfo) []string {
	set := map[string]bool{}
	switch e := e.(type) {
	case *metricsql.MetricExpr:
		for _, s := range selectors(e) {
			for l := range known[s.name].labels {
				set[l] = true
			}
		}
		for _, l := range scrapeLabels {
			set[l] = true
		}
	case *metricsql.RollupExpr:
		return labelsOf(e.Expr, known)
	case *metricsql.FuncExpr:
		for _, a := range e.Args {
			if _, isNum := a.(*metricsql.NumberExpr); !isNum {
				return labelsOf(a, known)
			}
		}
	case *metricsql.AggrFuncExpr:
		switch strings.ToLower(e.Modifier.Op) {
		case "by":
			return e.Modifier.Args
		case "without":
			return slices.DeleteFunc(labelsOf(e.Args[0], known), func(l string) bool { return slices.Contains(e.Modifier.Args, l) })
		}
		return nil
	case *metricsql.BinaryOpExpr:
		if _, isNum := e.Left.(*metricsql.NumberExpr); isNum {
			return labelsOf(e.Right, known)
		}
		return labelsOf(e.Left, known)
	}
	return slices.Sorted(maps.Keys(set))
}

// metricInfo is what is known of a metric: its label names, the values seen per label, where it
// was seen.
type metricInfo struct {
	labels map[string]bool
	values map[string]map[string]bool
	source string
}

// knownMetrics returns the metrics of a real vlog.Logger (with the forward output and its
// fallback, so that vlog_fallback_* are present) and of the snapshots in testdata/metrics/.
func knownMetrics(t *testing.T) map[string]metricInfo {
	t.Helper()
	known := map[string]metricInfo{}
	addExposition(known, "vlog MetricsHandler", vlogExposition(t))
	files, err := filepath.Glob(filepath.Join("testdata", "metrics", "*.txt"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no snapshots in testdata/metrics (%v)", err)
	}
	for _, path := range files {
		snap, err := readSnapshot(path)
		if err != nil {
			t.Fatal(err)
		}
		for name, m := range snap {
			known[name] = m
		}
	}
	return known
}

// vlogExposition returns what MetricsHandler serves for a Logger with the forward output and
// the VictoriaLogs fallback (nothing listens: the Logger is closed at once).
func vlogExposition(t *testing.T) string {
	t.Helper()
	l, err := vlog.New(&vlog.Options{Environ: []string{
		"SERVICE=alerts-test", "ENV=test", "FLUENT_HOST=127.0.0.1", "FLUENT_PORT=1",
		"VICTORIALOGS_URL=http://127.0.0.1:1",
	}})
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	l.MetricsHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_ = l.Close(ctx) // nothing listens: the startup record is dropped (counted as closed)
	if rec.Code != 200 {
		t.Fatalf("MetricsHandler: %d", rec.Code)
	}
	return rec.Body.String()
}

// addExposition adds the series of a Prometheus text exposition.
func addExposition(known map[string]metricInfo, source, text string) {
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		name, labels := parseSeries(line)
		m, ok := known[name]
		if !ok {
			m = metricInfo{labels: map[string]bool{}, values: map[string]map[string]bool{}, source: source}
			known[name] = m
		}
		for k, v := range labels {
			m.labels[k] = true
			if m.values[k] == nil {
				m.values[k] = map[string]bool{}
			}
			m.values[k][v] = true
		}
	}
}

// parseSeries parses `name{a="x", b="y"} value [timestamp]`.
func parseSeries(line string) (string, map[string]string) {
	i := strings.IndexAny(line, "{ ")
	if i < 0 {
		return line, nil
	}
	name := line[:i]
	labels := map[string]string{}
	if line[i] != '{' {
		return name, labels
	}
	s := line[i+1:]
	for {
		s = strings.TrimLeft(s, " ,")
		if s == "" || s[0] == '}' {
			return name, labels
		}
		eq := strings.IndexByte(s, '=')
		if eq < 0 || eq+1 >= len(s) || s[eq+1] != '"' {
			return name, labels
		}
		key := strings.TrimSpace(s[:eq])
		var val strings.Builder
		j := eq + 2
		for ; j < len(s) && s[j] != '"'; j++ {
			if s[j] == '\\' && j+1 < len(s) {
				j++
				switch s[j] {
				case 'n':
					val.WriteByte('\n')
				default:
					val.WriteByte(s[j])
				}
				continue
			}
			val.WriteByte(s[j])
		}
		labels[key] = val.String()
		if j >= len(s) {
			return name, labels
		}
		s = s[j+1:]
	}
}

func TestParseSeries(t *testing.T) {
	f := func(line, name string, labels map[string]string) {
		t.Helper()
		n, l := parseSeries(line)
		if n != name || fmt.Sprint(l) != fmt.Sprint(labels) {
			t.Errorf("%q: %q %v, want %q %v", line, n, l, name, labels)
		}
	}
	f(`up 1`, "up", map[string]string{})
	f(`a_total{x="1"} 2 1796168399404`, "a_total", map[string]string{"x": "1"})
	f(`vm_http_request_errors_total{path="*", reason="wrong_auth_key"} 0`, "vm_http_request_errors_total", map[string]string{"path": "*", "reason": "wrong_auth_key"})
	f(`m{a="q\"u\\o,te}"} 1`, "m", map[string]string{"a": `q"u\o,te}`})
}

// Snapshots: testdata/metrics/<binary>.txt holds, per line, a metric name and its label names
// (comma-separated), as the real binary exposed them; `#` lines say which binary and version.
// TestGatedMetricNames -update writes them.

func readSnapshot(path string) (map[string]metricInfo, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	out := map[string]metricInfo{}
	for i, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' {
			continue
		}
		name, labels, _ := strings.Cut(line, " ")
		if !regexp.MustCompile(`^[a-zA-Z_:][a-zA-Z0-9_:]*$`).MatchString(name) {
			return nil, fmt.Errorf("%s:%d: bad metric name %q", path, i+1, name)
		}
		m := metricInfo{labels: map[string]bool{}, values: map[string]map[string]bool{}, source: filepath.Base(path)}
		for _, l := range splitList(labels) {
			m.labels[l] = true
		}
		out[name] = m
	}
	return out, nil
}

func writeSnapshot(path, header string, known map[string]metricInfo) error {
	var b strings.Builder
	b.WriteString(header)
	names := slices.Sorted(maps.Keys(known))
	for _, n := range names {
		labels := slices.Sorted(maps.Keys(known[n].labels))
		b.WriteString(strings.TrimSpace(n + " " + strings.Join(labels, ",")))
		b.WriteByte('\n')
	}
	return os.WriteFile(path, []byte(b.String()), 0o644)
}

// TestVlogMetricLabelValues checks the label values the rules match on (reason, state, output)
// against a real vlog.Logger's exposition.
func TestVlogMetricLabelValues(t *testing.T) {
	known := map[string]metricInfo{}
	addExposition(known, "vlog", vlogExposition(t))
	f := loadRules(t, metricsRulesPath)
	used := 0
	for _, g := range f.Groups {
		for _, r := range g.Rules {
			e, err := metricsql.Parse(r.Expr)
			if err != nil {
				continue // TestMetricsRules reports it
			}
			for _, sel := range selectors(e) {
				if !strings.HasPrefix(sel.name, "vlog_") {
					continue
				}
				used++
				for l, vs := range sel.values {
					for _, v := range vs {
						if !known[sel.name].values[l][v] {
							t.Errorf("%s: %s{%s=%q}: vlog exposes no such value (it has %v)", r.Alert, sel.name, l, v, slices.Sorted(maps.Keys(known[sel.name].values[l])))
						}
					}
				}
			}
		}
	}
	if used == 0 {
		t.Fatal("no vlog_ metric in the rules")
	}
}
