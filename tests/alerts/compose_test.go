package alerts_test

import (
	"encoding/json"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

// composeService is the part of a compose service the checks read.
type composeService struct {
	Image     string   `yaml:"image"`
	Command   []string `yaml:"command"`
	Volumes   []string `yaml:"volumes"`
	Ports     []string `yaml:"ports"`
	DependsOn []string `yaml:"depends_on"`
}

func loadCompose(t *testing.T) map[string]composeService {
	t.Helper()
	b, err := os.ReadFile(composePath)
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		Services map[string]yaml.Node `yaml:"services"`
	}
	if err := yaml.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	out := map[string]composeService{}
	for name, node := range c.Services {
		var s composeService
		if err := node.Decode(&s); err != nil {
			// Services written in a form these checks do not read (depends_on as a map, ...)
			// are not the vmalert service's business, unless they are the vmalert service.
			if name == "vmalert" {
				t.Fatalf("service vmalert: %v", err)
			}
			continue
		}
		out[name] = s
	}
	return out
}

// flags returns a compose command's -name=value flags (a bare -name is "true").
func flags(cmd []string) map[string][]string {
	out := map[string][]string{}
	for _, a := range cmd {
		name, value, ok := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !ok {
			value = "true"
		}
		out[name] = append(out[name], value)
	}
	return out
}

// TestComposeVmalert checks the vmalert service of examples/docker-compose.yml: the pinned
// image, the rule files mounted from examples/alerts and found there, LogsQL groups only
// (the datasource is VictoriaLogs), the datasource being the compose VictoriaLogs, a notifier
// decision, the UI port.
func TestComposeVmalert(t *testing.T) {
	services := loadCompose(t)
	vm, ok := services["vmalert"]
	if !ok {
		t.Fatal("examples/docker-compose.yml has no vmalert service")
	}
	if want := "victoriametrics/vmalert:" + vmalertVersion; vm.Image != want {
		t.Errorf("image %q, want %q (the version the rules were checked with)", vm.Image, want)
	}
	f := flags(vm.Command)

	// The datasource is the compose VictoriaLogs, on the port it listens on.
	vl, ok := services["victorialogs"]
	if !ok {
		t.Fatal("no victorialogs service")
	}
	ds := f["datasource.url"]
	if len(ds) != 1 {
		t.Fatalf("-datasource.url %v: want one", ds)
	}
	u, err := url.Parse(ds[0])
	if err != nil || u.Scheme != "http" || u.Hostname() != "victorialogs" {
		t.Errorf("-datasource.url=%s: want http://victorialogs:<port> (%v)", ds[0], err)
	}
	listen := flags(vl.Command)["httpListenAddr"]
	if len(listen) != 1 || !strings.HasSuffix(listen[0], ":"+u.Port()) {
		t.Errorf("-datasource.url=%s, but victorialogs listens on %v", ds[0], listen)
	}
	if !slices.Contains(vm.DependsOn, "victorialogs") {
		t.Errorf("depends_on %v: want victorialogs", vm.DependsOn)
	}

	// Exactly one notifier setting (vmalert refuses alerting rules without one).
	n := len(f["notifier.url"]) + len(f["notifier.blackhole"]) + len(f["notifier.config"])
	if n != 1 {
		t.Errorf("want exactly one of -notifier.url, -notifier.blackhole, -notifier.config; got %d", n)
	}

	// The rule files: mounted read-only from ./alerts, present there, LogsQL only.
	mounts := map[string]string{} // container dir -> host dir (relative to examples/)
	for _, v := range vm.Volumes {
		parts := strings.Split(v, ":")
		if len(parts) != 3 || parts[2] != "ro" {
			t.Errorf("volume %q: mount the rules read-only (host:container:ro)", v)
			continue
		}
		mounts[parts[1]] = parts[0]
	}
	rules := f["rule"]
	if len(rules) == 0 {
		t.Fatal("no -rule")
	}
	loaded := map[string]bool{}
	for _, r := range rules {
		dir, file := path.Split(r)
		host, ok := mounts[strings.TrimSuffix(dir, "/")]
		if !ok {
			t.Errorf("-rule=%s: %s is not a mounted directory (%v)", r, dir, mounts)
			continue
		}
		local := filepath.Join(filepath.Dir(composePath), filepath.FromSlash(host), file)
		if _, err := os.Stat(local); err != nil {
			t.Errorf("-rule=%s: %v", r, err)
			continue
		}
		loaded[filepath.Clean(local)] = true
		defaultType := "prometheus"
		if dt := f["rule.defaultRuleType"]; len(dt) == 1 {
			defaultType = dt[0]
		}
		for _, g := range loadRules(t, local).Groups {
			typ := g.Type
			if typ == "" {
				typ = defaultType
			}
			if typ != "vlogs" {
				t.Errorf("-rule=%s: group %s is of type %s, but the datasource is VictoriaLogs", r, g.Name, typ)
			}
		}
	}
	if !loaded[filepath.Clean(vlogsRulesPath)] {
		t.Errorf("the vlogs rules are not loaded: -rule %v", rules)
	}
	if !slices.ContainsFunc(vm.Ports, func(p string) bool { return strings.HasSuffix(p, ":8880") }) {
		t.Errorf("ports %v: want the UI port 8880 published", vm.Ports)
	}
	if lf := f["httpListenAddr"]; len(lf) != 1 || lf[0] != ":8880" {
		t.Errorf("-httpListenAddr %v: want :8880", lf)
	}
}

// TestGatedComposeVmalert runs the real vmalert with the compose service's command line (the
// mounted directory mapped to examples/alerts, victorialogs:9428 to the test's VictoriaLogs, the
// port to a free one) and checks that it starts and evaluates every group without errors.
func TestGatedComposeVmalert(t *testing.T) {
	base := victoriaLogsURL(t)
	vmalertBin(t)
	t.Parallel() // the groups start at a random point of their 1-minute interval
	vm := loadCompose(t)["vmalert"]
	abs, err := filepath.Abs(alertsDir)
	if err != nil {
		t.Fatal(err)
	}
	var args []string
	for _, a := range vm.Command {
		switch {
		case strings.HasPrefix(a, "-httpListenAddr="):
			continue // vmalert() sets its own
		case strings.HasPrefix(a, "-datasource.url="):
			a = "-datasource.url=" + base
		case strings.HasPrefix(a, "-rule="):
			a = "-rule=" + filepath.Join(abs, path.Base(strings.TrimPrefix(a, "-rule=")))
		}
		args = append(args, a)
	}
	addr, p := vmalert(t, args...)
	// Wait for every group's first evaluation (within its interval).
	var groups struct {
		Data struct {
			Groups []struct {
				Name  string `json:"name"`
				Rules []struct {
					Name           string `json:"name"`
					LastError      string `json:"lastError"`
					LastEvaluation string `json:"lastEvaluation"`
				} `json:"rules"`
			} `json:"groups"`
		} `json:"data"`
	}
	for deadline := time.Now().Add(75 * time.Second); ; {
		if err := json.Unmarshal([]byte(get(t, "http://"+addr+"/api/v1/rules")), &groups); err != nil {
			t.Fatal(err)
		}
		evaluated := len(groups.Data.Groups) > 0
		for _, g := range groups.Data.Groups {
			for _, r := range g.Rules {
				if strings.HasPrefix(r.LastEvaluation, "0001-") {
					evaluated = false
				}
			}
		}
		if evaluated {
			break
		}
		if time.Now().After(deadline) || p.exited() {
			t.Fatalf("not every rule was evaluated: %+v\n%s", groups, p.output())
		}
		time.Sleep(500 * time.Millisecond)
	}
	want := map[string]bool{}
	for _, g := range loadRules(t, vlogsRulesPath).Groups {
		want[g.Name] = true
	}
	for _, g := range groups.Data.Groups {
		delete(want, g.Name)
		for _, r := range g.Rules {
			if r.LastError != "" {
				t.Errorf("%s/%s: %s", g.Name, r.Name, r.LastError)
			}
		}
	}
	if len(want) > 0 {
		t.Errorf("groups not loaded: %v", want)
	}
}
