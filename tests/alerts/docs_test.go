package alerts_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestTaskDefinitionSignals checks what docs/monitoring.md says of the example task
// definitions: the log router (or the sidecar agent) is essential everywhere, so its exit stops
// the task; in the forward and sidecar ones it has the uptime health check the app waits for.
func TestTaskDefinitionSignals(t *testing.T) {
	type container struct {
		Name                  string          `json:"name"`
		Essential             *bool           `json:"essential"`
		FirelensConfiguration json.RawMessage `json:"firelensConfiguration"`
		HealthCheck           *struct {
			Command  []string `json:"command"`
			Interval int      `json:"interval"`
			Retries  int      `json:"retries"`
		} `json:"healthCheck"`
		DependsOn []struct {
			ContainerName string `json:"containerName"`
			Condition     string `json:"condition"`
		} `json:"dependsOn"`
	}
	f := func(file, router string, healthCheck, waited bool) {
		t.Helper()
		b, err := os.ReadFile(filepath.Join("..", "..", "examples", "ecs", file))
		if err != nil {
			t.Fatal(err)
		}
		var td struct {
			ContainerDefinitions []container `json:"containerDefinitions"`
		}
		if err := json.Unmarshal(b, &td); err != nil {
			t.Fatal(err)
		}
		var r *container
		for i, c := range td.ContainerDefinitions {
			if c.Name == router {
				r = &td.ContainerDefinitions[i]
			}
		}
		if r == nil {
			t.Fatalf("%s: no container %s", file, router)
		}
		if r.Essential == nil || !*r.Essential {
			t.Errorf("%s: %s is not essential: its exit would not stop the task", file, router)
		}
		if (r.HealthCheck != nil) != healthCheck {
			t.Errorf("%s: %s health check %v, docs/monitoring.md says %v", file, router, r.HealthCheck != nil, healthCheck)
		}
		if healthCheck {
			hc := r.HealthCheck
			if !strings.Contains(strings.Join(hc.Command, " "), "http://127.0.0.1:2020/api/v1/uptime") || hc.Interval != 10 || hc.Retries != 3 {
				t.Errorf("%s: %s health check %+v, docs/monitoring.md says uptime, every 10 s, 3 retries", file, router, *hc)
			}
			waits := false
			for _, c := range td.ContainerDefinitions {
				for _, d := range c.DependsOn {
					if d.ContainerName == router && d.Condition == "HEALTHY" {
						waits = true
					}
				}
			}
			if waits != waited {
				t.Errorf("%s: a container waits for %s to be HEALTHY: %v, docs/monitoring.md says %v", file, router, waits, waited)
			}
		}
	}
	f("taskdef-forward.json", "log_router", true, true)
	f("taskdef-stdout.json", "log_router", true, false)
	f("taskdef-sidecar.json", "log_agent", true, true)
}

// TestDocsTables: docs/monitoring.md lists every alert of both files, with its severity and
// (metrics table) its `for`, as the files have them.
func TestDocsTables(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "docs", "monitoring.md"))
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string][]string{} // alert -> cells of its table row
	for _, line := range strings.Split(string(b), "\n") {
		if !strings.HasPrefix(line, "|") {
			continue
		}
		var cells []string
		for _, c := range splitUnescaped(strings.Trim(line, "|"), '|') {
			cells = append(cells, strings.TrimSpace(c))
		}
		if len(cells) >= 3 && strings.HasPrefix(cells[1], "`") && strings.HasSuffix(cells[1], "`") {
			rows[strings.Trim(cells[1], "`")] = cells
		}
	}
	for path, hasFor := range map[string]bool{vlogsRulesPath: false, metricsRulesPath: true} {
		for _, g := range loadRules(t, path).Groups {
			for _, r := range g.Rules {
				cells, ok := rows[r.Alert]
				if !ok {
					t.Errorf("docs/monitoring.md has no table row for %s", r.Alert)
					continue
				}
				if sev := cells[len(cells)-1]; sev != r.Labels["severity"] {
					t.Errorf("docs/monitoring.md: %s severity %q, the rule says %q", r.Alert, sev, r.Labels["severity"])
				}
				if hasFor && r.For != nil {
					doc, err1 := duration(cells[len(cells)-2] + map[bool]string{true: "s", false: ""}[cells[len(cells)-2] == "0"])
					rule, err2 := duration(*r.For)
					if err1 != nil || err2 != nil || doc != rule {
						t.Errorf("docs/monitoring.md: %s for %q, the rule says %q", r.Alert, cells[len(cells)-2], *r.For)
					}
				}
			}
		}
	}
}

// splitUnescaped splits s at sep, except where sep is escaped with a backslash.
func splitUnescaped(s string, sep byte) []string {
	var out []string
	start := 0
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' {
			i++
			continue
		}
		if s[i] == sep {
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}
