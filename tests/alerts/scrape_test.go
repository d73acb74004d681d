package alerts_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/VictoriaMetrics/metricsql"
	"gopkg.in/yaml.v3"
)

var scrapePath = filepath.Join(alertsDir, "scrape.yml")

// loadScrape reads examples/alerts/scrape.yml (strictly: the fields it uses) and returns the
// metrics path of each job.
func loadScrape(t *testing.T) map[string]string {
	t.Helper()
	b, err := os.ReadFile(scrapePath)
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		ScrapeConfigs []struct {
			JobName       string `yaml:"job_name"`
			MetricsPath   string `yaml:"metrics_path"`
			StaticConfigs []struct {
				Targets []string `yaml:"targets"`
			} `yaml:"static_configs"`
		} `yaml:"scrape_configs"`
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		t.Fatal(err)
	}
	jobs := map[string]string{}
	for _, sc := range c.ScrapeConfigs {
		if _, dup := jobs[sc.JobName]; dup {
			t.Errorf("job %s twice", sc.JobName)
		}
		jobs[sc.JobName] = sc.MetricsPath
		n := 0
		for _, s := range sc.StaticConfigs {
			n += len(s.Targets)
		}
		if n == 0 {
			t.Errorf("job %s: no targets", sc.JobName)
		}
		if !strings.HasPrefix(sc.MetricsPath, "/") {
			t.Errorf("job %s: metrics_path %q", sc.JobName, sc.MetricsPath)
		}
	}
	return jobs
}

// TestScrapeConfig checks examples/alerts/scrape.yml against the metrics rules: every job an
// `up{job=...}` rule names is scraped, the router through the endpoint that has every
// Fluent Bit metric the rules use. (TestGatedMetricNames reads the metrics from the real
// binaries at these paths.)
func TestScrapeConfig(t *testing.T) {
	jobs := loadScrape(t)
	for _, job := range []string{"fluent-bit", "victorialogs", "vmalert"} {
		if _, ok := jobs[job]; !ok {
			t.Errorf("no job %s", job)
		}
	}
	usesFluentBit := false
	for _, g := range loadRules(t, metricsRulesPath).Groups {
		for _, r := range g.Rules {
			e, err := metricsql.Parse(r.Expr)
			if err != nil {
				continue // TestMetricsRules reports it
			}
			for _, sel := range selectors(e) {
				if strings.HasPrefix(sel.name, "fluentbit_") {
					usesFluentBit = true
				}
				if sel.name != "up" {
					continue
				}
				for _, job := range sel.values["job"] {
					if _, ok := jobs[job]; !ok {
						t.Errorf("%s: up{job=%q}, but scrape.yml has no such job (%v)", r.Alert, job, jobs)
					}
				}
			}
		}
	}
	if usesFluentBit && jobs["fluent-bit"] != "/api/v2/metrics/prometheus" {
		t.Errorf("the fluent-bit job scrapes %q: the rules use fluentbit_input_ingestion_paused, only on /api/v2/metrics/prometheus", jobs["fluent-bit"])
	}
}
