package alerts_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// unitTestFile is the part of a vmalert-tool test file the checks below read.
type unitTestFile struct {
	RuleFiles []string `yaml:"rule_files"`
	Tests     []struct {
		Name           string `yaml:"name"`
		AlertRuleTests []struct {
			GroupName string `yaml:"groupname"`
			Alertname string `yaml:"alertname"`
			ExpAlerts []struct {
				ExpLabels map[string]string `yaml:"exp_labels"`
			} `yaml:"exp_alerts"`
		} `yaml:"alert_rule_test"`
	} `yaml:"tests"`
}

const unitTestPath = "testdata/metrics-rules.test.yml"

// TestMetricsRulesUnitTestsCoverEveryRule: every rule of the metrics file has a case in
// testdata/metrics-rules.test.yml in which it fires, and its annotations refer only to labels
// of the alert that case expects (the unit test itself runs without annotations).
func TestMetricsRulesUnitTestsCoverEveryRule(t *testing.T) {
	b, err := os.ReadFile(unitTestPath)
	if err != nil {
		t.Fatal(err)
	}
	var u unitTestFile
	if err := yaml.Unmarshal(b, &u); err != nil {
		t.Fatal(err)
	}
	fired := map[string][]map[string]string{} // group/alert -> expected label sets
	for _, tg := range u.Tests {
		for _, at := range tg.AlertRuleTests {
			for _, a := range at.ExpAlerts {
				fired[at.GroupName+"/"+at.Alertname] = append(fired[at.GroupName+"/"+at.Alertname], a.ExpLabels)
			}
		}
	}
	for _, g := range loadRules(t, metricsRulesPath).Groups {
		for _, r := range g.Rules {
			cases := fired[g.Name+"/"+r.Alert]
			if len(cases) == 0 {
				t.Errorf("%s/%s: no case of %s in which it fires", g.Name, r.Alert, unitTestPath)
				continue
			}
			for _, labels := range cases {
				var names []string
				for k := range labels {
					if k != "severity" {
						names = append(names, k)
					}
				}
				// vmalert renames a series label that clashes with its own (alertname) to
				// exported_<name>, and templates see the series' labels as they were.
				for i, n := range names {
					names[i] = strings.TrimPrefix(n, "exported_")
				}
				slices.Sort(names)
				checkTemplates(t, g.Name+"/"+r.Alert+" (unit test labels)", r, names)
			}
		}
	}
}

// TestGatedMetricsRulesUnit runs testdata/metrics-rules.test.yml with vmalert-tool unittest on
// the metrics rules (annotations left out).
func TestGatedMetricsRulesUnit(t *testing.T) {
	tool := gatedEnv(t, "VLOG_TEST_VMALERT_TOOL")
	f := loadRules(t, metricsRulesPath)
	for i := range f.Groups {
		for j := range f.Groups[i].Rules {
			f.Groups[i].Rules[j].Annotations = nil
		}
	}
	dir := t.TempDir()
	b, err := yaml.Marshal(f)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "metrics-rules.yml"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	test, err := os.ReadFile(unitTestPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "metrics-rules.test.yml"), test, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(tool, "unittest", "--files="+filepath.Join(dir, "metrics-rules.test.yml"))
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "SUCCESS") {
		t.Fatalf("vmalert-tool unittest: %v\n%s", err, out)
	}
	if testing.Verbose() {
		t.Logf("%s", out)
	}
}
