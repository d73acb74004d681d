package alerts_test

// The tests against the real binaries, skipped unless pointed at them:
//
//	VLOG_TEST_VMALERT=/path/to/vmalert                  a vmalert binary (built from VictoriaMetrics'
//	                                                    source, v1.122.0: docs/monitoring.md)
//	VLOG_TEST_VICTORIALOGS_URL=http://127.0.0.1:9428    a running VictoriaLogs (v1.26.0)
//	VLOG_TEST_FLUENT_BIT=/path/to/fluent-bit            a fluent-bit binary (5.1.1): the tests start
//	                                                    it with examples/fluent-bit/*.conf
//	VLOG_TEST_VMALERT_TOOL=/path/to/vmalert-tool        optional: the unit tests of the metrics rules
//
//	VLOG_TEST_VMALERT=... VLOG_TEST_VICTORIALOGS_URL=... VLOG_TEST_FLUENT_BIT=... \
//	VLOG_TEST_VMALERT_TOOL=... go test -count=1 -run Gated -v ./
//
// Each live run writes its own records (env "alerts-<nanoseconds>") into the VictoriaLogs and
// looks only at the alerts about them.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

func gatedEnv(t *testing.T, name string) string {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		t.Skip(name + " is not set")
	}
	return v
}

func vmalertBin(t *testing.T) string { return gatedEnv(t, "VLOG_TEST_VMALERT") }

func victoriaLogsURL(t *testing.T) string {
	return strings.TrimSuffix(gatedEnv(t, "VLOG_TEST_VICTORIALOGS_URL"), "/")
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return port
}

// process is a binary the test started; its output is kept for the failure message.
type process struct {
	name string
	cmd  *exec.Cmd
	mu   sync.Mutex
	out  bytes.Buffer
	done chan struct{}
}

func (p *process) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.Write(b)
}

func (p *process) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// start runs bin with args; the process is interrupted (then killed) at the end of the test,
// and its output logged when the test failed or runs with -v.
func start(t *testing.T, name, bin string, env []string, args ...string) *process {
	t.Helper()
	p := &process{name: name, cmd: exec.Command(bin, args...), done: make(chan struct{})}
	p.cmd.Env = append(os.Environ(), env...)
	p.cmd.Stdout, p.cmd.Stderr = p, p
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		_ = p.cmd.Process.Signal(os.Interrupt)
		select {
		case <-p.done:
		case <-time.After(10 * time.Second):
			_ = p.cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() || testing.Verbose() {
			out := p.output()
			if len(out) > 20000 {
				out = "...\n" + out[len(out)-20000:]
			}
			t.Logf("%s %s:\n%s", name, strings.Join(args, " "), out)
		}
	})
	return p
}

// waitHTTP waits until GET url answers 200.
func waitHTTP(t *testing.T, p *process, u string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, err := http.Get(u)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		if p.exited() || time.Now().After(deadline) {
			t.Fatalf("%s: %s did not answer (%v):\n%s", p.name, u, err, p.output())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func get(t *testing.T, u string) string {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d %s", u, resp.StatusCode, b)
	}
	return string(b)
}

// fluentBit runs VLOG_TEST_FLUENT_BIT with examples/fluent-bit/<conf>, its output to the
// VictoriaLogs at base, with its HTTP server on (-H: the examples' ECS configurations turn it on
// in [SERVICE]; the local ones do not). It returns the forward input's and the HTTP server's
// addresses.
func fluentBit(t *testing.T, conf, base string) (forward, httpAddr string, p *process) {
	t.Helper()
	bin := gatedEnv(t, "VLOG_TEST_FLUENT_BIT")
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	fport, hport := freePort(t), freePort(t)
	path, err := filepath.Abs(filepath.Join("..", "..", "examples", "fluent-bit", conf))
	if err != nil {
		t.Fatal(err)
	}
	p = start(t, "fluent-bit", bin, []string{
		"FORWARD_LISTEN=127.0.0.1", "FORWARD_PORT=" + fport,
		"VICTORIALOGS_HOST=" + u.Hostname(), "VICTORIALOGS_PORT=" + u.Port(), "STORAGE_PATH=" + t.TempDir(),
	}, "-c", path, "-H", "-L", "127.0.0.1", "-P", hport)
	httpAddr = "127.0.0.1:" + hport
	waitHTTP(t, p, "http://"+httpAddr+"/api/v1/uptime")
	return "127.0.0.1:" + fport, httpAddr, p
}

// vmalert runs VLOG_TEST_VMALERT with the flags given and waits for its HTTP server.
func vmalert(t *testing.T, flags ...string) (addr string, p *process) {
	t.Helper()
	addr = "127.0.0.1:" + freePort(t)
	p = start(t, "vmalert", vmalertBin(t), nil, append([]string{"-httpListenAddr=" + addr}, flags...)...)
	waitHTTP(t, p, "http://"+addr+"/health")
	return addr, p
}

// dryRun runs vmalert -dryRun on a rule file and returns its output and whether it accepted it.
func dryRun(t *testing.T, path string, flags ...string) (string, bool) {
	t.Helper()
	cmd := exec.Command(vmalertBin(t), append([]string{"-dryRun", "-rule=" + path}, flags...)...)
	out, err := cmd.CombinedOutput()
	if _, isExit := err.(*exec.ExitError); err != nil && !isExit {
		t.Fatal(err)
	}
	return string(out), err == nil
}

func writeRules(t *testing.T, f ruleFile) string {
	t.Helper()
	b, err := yaml.Marshal(f)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "rules.yml")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestGatedDryRun: vmalert accepts both files as they are, and refuses them when they are
// broken in the ways the checks are meant to catch (so a pass means something).
func TestGatedDryRun(t *testing.T) {
	vmalertBin(t)
	version, _ := exec.Command(vmalertBin(t), "-version").CombinedOutput()
	t.Logf("vmalert -version: %s", bytes.TrimSpace(lastLine(version)))
	for _, path := range []string{vlogsRulesPath, metricsRulesPath} {
		if out, ok := dryRun(t, path); !ok {
			t.Errorf("vmalert -dryRun -rule=%s failed:\n%s", path, out)
		}
	}
	// The vlogs file needs no -rule.defaultRuleType (each group says type: vlogs); with it, the
	// same.
	if out, ok := dryRun(t, vlogsRulesPath, "-rule.defaultRuleType=vlogs"); !ok {
		t.Errorf("vmalert -dryRun -rule.defaultRuleType=vlogs failed:\n%s", out)
	}

	// Without the group type, the LogsQL expressions are parsed as MetricsQL: refused.
	f := loadRules(t, vlogsRulesPath)
	for i := range f.Groups {
		f.Groups[i].Type = ""
	}
	if out, ok := dryRun(t, writeRules(t, f)); ok {
		t.Errorf("vmalert accepted the LogsQL rules without `type: vlogs`:\n%s", out)
	}
	// A LogsQL expression without stats is refused.
	f = loadRules(t, vlogsRulesPath)
	f.Groups[0].Rules[0].Expr = `_time:5m service:*`
	if out, ok := dryRun(t, writeRules(t, f)); ok {
		t.Errorf("vmalert accepted a LogsQL expression without stats:\n%s", out)
	}
	// A broken MetricsQL expression and a template calling an unknown function are refused.
	// (vmalert v1.122.0 accepts an unclosed action, `{{ $labels.x `: TestRuleFiles' own
	// template check refuses it.)
	m := loadRules(t, metricsRulesPath)
	m.Groups[0].Rules[0].Expr = `increase(vlog_output_records_dropped_total[5m] > 0`
	if out, ok := dryRun(t, writeRules(t, m)); ok {
		t.Errorf("vmalert accepted a broken MetricsQL expression:\n%s", out)
	}
	m = loadRules(t, metricsRulesPath)
	m.Groups[0].Rules[0].Annotations["summary"] = `{{ $labels.instance | nosuchfunc }}`
	if out, ok := dryRun(t, writeRules(t, m)); ok {
		t.Errorf("vmalert accepted a broken template:\n%s", out)
	}
}

func lastLine(b []byte) []byte {
	lines := bytes.Split(bytes.TrimSpace(b), []byte("\n"))
	return lines[len(lines)-1]
}

// statsQuery runs a LogsQL stats query on VictoriaLogs as vmalert does (instant, at now).
func statsQuery(t *testing.T, base, query string) (int, string) {
	t.Helper()
	form := url.Values{"query": {query}, "time": {time.Now().UTC().Format(time.RFC3339)}}
	resp, err := http.PostForm(base+"/select/logsql/stats_query", form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestGatedLogsQLOnVictoriaLogs: every LogsQL expression, as written (production windows), is
// accepted and run by the real VictoriaLogs. vmalert -dryRun parses with the LogsQL parser it
// vendors; this shows the server the rules run against takes them too.
func TestGatedLogsQLOnVictoriaLogs(t *testing.T) {
	base := victoriaLogsURL(t)
	for _, g := range loadRules(t, vlogsRulesPath).Groups {
		for _, r := range g.Rules {
			code, body := statsQuery(t, base, r.Expr)
			if code != 200 || !strings.Contains(body, `"status":"success"`) {
				t.Errorf("%s: VictoriaLogs answered %d: %s", r.Alert, code, body)
			}
		}
	}
}

// scaleRules returns f with every duration divided by factor: the groups' intervals, the
// rules' `for`, the expressions' _time windows. The relations between them (a 10-minute silence
// within the hour, 5 minutes for) stay what the file says; only the clock runs faster.
func scaleRules(t *testing.T, f ruleFile, factor int64) ruleFile {
	t.Helper()
	scale := func(s string) string {
		ms, err := duration(s)
		if err != nil {
			t.Fatalf("%q: %v", s, err)
		}
		ms /= factor
		if ms%1000 == 0 {
			return strconv.FormatInt(ms/1000, 10) + "s"
		}
		return strconv.FormatInt(ms, 10) + "ms"
	}
	window := regexp.MustCompile(`_time:([0-9][0-9a-zA-Z.]*)`)
	for i := range f.Groups {
		g := &f.Groups[i]
		g.Interval = scale(g.Interval)
		for j := range g.Rules {
			r := &g.Rules[j]
			if r.For != nil {
				s := scale(*r.For)
				r.For = &s
			}
			r.Expr = window.ReplaceAllStringFunc(r.Expr, func(m string) string {
				return "_time:" + scale(strings.TrimPrefix(m, "_time:"))
			})
		}
	}
	return f
}

// notification is an alert as vmalert posts it to Alertmanager's /api/v2/alerts.
type notification struct {
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
	StartsAt    time.Time         `json:"startsAt"`
	EndsAt      time.Time         `json:"endsAt"`
	received    time.Time
}

// resolved: vmalert sends a firing alert with endsAt in the future (now + the resolve
// duration) and a resolved one with endsAt = the time it resolved.
func (n notification) resolved() bool { return !n.EndsAt.After(n.received) }

// notifier is an Alertmanager as far as vmalert can tell: it takes POST /api/v2/alerts.
type notifier struct {
	mu     sync.Mutex
	alerts []notification
	signal chan struct{}
}

func newNotifier(t *testing.T) (*notifier, string) {
	n := &notifier{signal: make(chan struct{}, 1)}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/api/v2/alerts" {
			http.Error(w, "not found", http.StatusNotFound)
			return
		}
		var got []notification
		if err := json.NewDecoder(r.Body).Decode(&got); err != nil {
			t.Errorf("notifier: %v", err)
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		now := time.Now()
		n.mu.Lock()
		for _, a := range got {
			a.received = now
			n.alerts = append(n.alerts, a)
		}
		n.mu.Unlock()
		select {
		case n.signal <- struct{}{}:
		default:
		}
	})}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return n, "http://" + ln.Addr().String()
}

// match reports whether a notification is about alert name with all the labels given.
func match(a notification, name string, labels map[string]string) bool {
	if a.Labels["alertname"] != name {
		return false
	}
	for k, v := range labels {
		if a.Labels[k] != v {
			return false
		}
	}
	return true
}

// wait returns the first notification received after since about alert name with the labels
// given, firing or resolved as asked, or fails the test after timeout.
func (n *notifier) wait(t *testing.T, since time.Time, timeout time.Duration, name string, labels map[string]string, resolved bool) notification {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		n.mu.Lock()
		for _, a := range n.alerts {
			if !a.received.Before(since) && match(a, name, labels) && a.resolved() == resolved {
				n.mu.Unlock()
				return a
			}
		}
		n.mu.Unlock()
		select {
		case <-n.signal:
		case <-time.After(200 * time.Millisecond):
		case <-deadline.C:
			state := "firing"
			if resolved {
				state = "resolved"
			}
			t.Fatalf("no %s %s %v within %s; received: %s", state, name, labels, timeout, n.summary())
		}
	}
}

// firedBefore reports whether a firing notification about name with the labels was received
// before t.
func (n *notifier) firedBefore(at time.Time, name string, labels map[string]string) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, a := range n.alerts {
		if a.received.Before(at) && match(a, name, labels) && !a.resolved() {
			return true
		}
	}
	return false
}

func (n *notifier) summary() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	var b strings.Builder
	seen := map[string]int{}
	for _, a := range n.alerts {
		state := "firing"
		if a.resolved() {
			state = "resolved"
		}
		key := fmt.Sprintf("%s %s %v", a.Labels["alertname"], state, a.Labels)
		seen[key]++
		if seen[key] == 1 {
			b.WriteString("\n  " + key)
		}
	}
	return b.String()
}

// checkRendered checks that a notification's annotations are filled in: no "<no value>", the
// labels that identify it in the text.
func checkRendered(t *testing.T, a notification, mustContain ...string) {
	t.Helper()
	for k, v := range a.Annotations {
		if strings.Contains(v, "<no value>") || strings.Contains(v, "{{") {
			t.Errorf("%s: annotation %s not rendered: %q", a.Labels["alertname"], k, v)
		}
	}
	for _, s := range mustContain {
		if !strings.Contains(a.Annotations["summary"]+a.Annotations["description"], s) {
			t.Errorf("%s: annotations do not mention %q: %v", a.Labels["alertname"], s, a.Annotations)
		}
	}
}

// readLines reads a stream of JSON lines.
func readLines(r io.Reader) ([]map[string]any, error) {
	var out []map[string]any
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, sc.Err()
}

func withTimeout(d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), d)
}
