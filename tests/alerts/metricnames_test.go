package alerts_test

import (
	"flag"
	"fmt"
	"maps"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/VictoriaMetrics/metricsql"
)

var update = flag.Bool("update", false, "TestGatedMetricNames: rewrite testdata/metrics/ from the real binaries")

// TestGatedMetricNames: every metric the metrics rules use, with the labels they match on and
// print, is in the /metrics output of the real binary that should expose it: VictoriaLogs'
// /metrics, Fluent Bit's /api/v1/metrics/prometheus and /api/v2/metrics/prometheus (run with the
// router configurations of examples/fluent-bit), vmalert's /metrics (running the LogsQL rules),
// a vlog.Logger's MetricsHandler. It also compares the snapshots of testdata/metrics/, which the
// ungated tests use, with what the binaries expose now (-update rewrites them).
func TestGatedMetricNames(t *testing.T) {
	base := victoriaLogsURL(t)
	vmalertBin(t)
	gatedEnv(t, "VLOG_TEST_FLUENT_BIT")

	live := map[string]map[string]metricInfo{} // source -> metrics
	add := func(source, text string) {
		if live[source] == nil {
			live[source] = map[string]metricInfo{}
		}
		addExposition(live[source], source, text)
	}

	// VictoriaLogs: ingest a line first (some series appear with the first insert).
	resp, err := http.Post(base+"/insert/jsonline?_msg_field=msg&_time_field=event_time&_stream_fields=service,env",
		"application/stream+json", strings.NewReader(`{"msg":"alerts metric names","service":"alerts-metrics","env":"test"}`+"\n"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	// Each binary is read where examples/alerts/scrape.yml scrapes it, and (Fluent Bit) at the
	// other endpoint too.
	jobs := loadScrape(t)
	add("victorialogs", get(t, base+jobs["victorialogs"]))

	// Fluent Bit with both router configurations (the stdout one has the parser filter).
	for _, conf := range []string{"forward.conf", "stdout.conf"} {
		_, httpAddr, fb := fluentBit(t, conf, base)
		// The metrics endpoints answer 404 until the first collection (every second).
		waitHTTP(t, fb, "http://"+httpAddr+"/api/v1/metrics/prometheus")
		waitHTTP(t, fb, "http://"+httpAddr+"/api/v2/metrics/prometheus")
		add("fluent-bit-api-v1", get(t, "http://"+httpAddr+"/api/v1/metrics/prometheus"))
		add("fluent-bit-api-v2", get(t, "http://"+httpAddr+"/api/v2/metrics/prometheus"))
		if p := jobs["fluent-bit"]; p != "/api/v2/metrics/prometheus" {
			add("fluent-bit-scrape", get(t, "http://"+httpAddr+p))
		}
	}

	// vmalert, running the LogsQL rules against the VictoriaLogs, with a notifier.
	_, notifierURL := newNotifier(t)
	addr, _ := vmalert(t, "-rule="+vlogsRulesPath, "-datasource.url="+base, "-notifier.url="+notifierURL)
	add("vmalert", get(t, "http://"+addr+jobs["vmalert"]))

	add("vlog", vlogExposition(t))

	// Every selector of the rules, found in a binary.
	f := loadRules(t, metricsRulesPath)
	found := map[string][]string{}
	for _, g := range f.Groups {
		for _, r := range g.Rules {
			e, err := metricsql.Parse(r.Expr)
			if err != nil {
				t.Fatalf("%s: %v", r.Alert, err)
			}
			for _, sel := range selectors(e) {
				if sel.name == "up" {
					continue
				}
				var where []string
				for _, source := range slices.Sorted(maps.Keys(live)) {
					m, ok := live[source][sel.name]
					if !ok {
						continue
					}
					where = append(where, source)
					for _, l := range sel.labels {
						if !m.labels[l] {
							t.Errorf("%s: %s in %s has no label %q", r.Alert, sel.name, source, l)
						}
					}
					for l, vs := range sel.values {
						for _, v := range vs {
							if !m.values[l][v] {
								t.Errorf("%s: %s{%s=%q}: %s exposes the values %v", r.Alert, sel.name, l, v, source, slices.Sorted(maps.Keys(m.values[l])))
							}
						}
					}
				}
				if len(where) == 0 {
					t.Errorf("%s: %s is exposed by none of %v", r.Alert, sel.name, slices.Sorted(maps.Keys(live)))
				}
				found[sel.name] = where
			}
		}
	}
	for _, name := range slices.Sorted(maps.Keys(found)) {
		t.Logf("%-45s %s", name, strings.Join(found[name], ", "))
	}

	// The snapshots.
	headers := map[string]string{
		"victorialogs":      "# VictoriaLogs /metrics (v1.26.0), written by TestGatedMetricNames -update\n",
		"fluent-bit-api-v1": "# Fluent Bit /api/v1/metrics/prometheus (5.1.1, examples/fluent-bit/{forward,stdout}.conf), written by TestGatedMetricNames -update\n",
		"fluent-bit-api-v2": "# Fluent Bit /api/v2/metrics/prometheus (5.1.1, examples/fluent-bit/{forward,stdout}.conf), written by TestGatedMetricNames -update\n",
		"vmalert":           "# vmalert /metrics (" + vmalertVersion + ", running examples/alerts/vlogs-rules.yml), written by TestGatedMetricNames -update\n",
	}
	for source, header := range headers {
		path := filepath.Join("testdata", "metrics", source+".txt")
		if *update {
			if err := writeSnapshot(path, header, live[source]); err != nil {
				t.Fatal(err)
			}
			continue
		}
		snap, err := readSnapshot(path)
		if err != nil {
			t.Errorf("%v (run with -update)", err)
			continue
		}
		for name := range found {
			s, inSnap := snap[name]
			l, inLive := live[source][name]
			switch {
			case inSnap && !inLive:
				t.Errorf("%s: %s is in the snapshot but not exposed any more (run with -update)", path, name)
			case inLive && !inSnap:
				t.Errorf("%s: %s is exposed but not in the snapshot (run with -update)", path, name)
			case inLive && fmt.Sprint(slices.Sorted(maps.Keys(s.labels))) != fmt.Sprint(slices.Sorted(maps.Keys(l.labels))):
				t.Errorf("%s: %s has the labels %v now, the snapshot %v (run with -update)", path, name,
					slices.Sorted(maps.Keys(l.labels)), slices.Sorted(maps.Keys(s.labels)))
			}
		}
		var gone, added []string
		for name := range snap {
			if _, ok := live[source][name]; !ok {
				gone = append(gone, name)
			}
		}
		for name := range live[source] {
			if _, ok := snap[name]; !ok {
				added = append(added, name)
			}
		}
		if len(gone)+len(added) > 0 {
			slices.Sort(gone)
			slices.Sort(added)
			t.Logf("%s differs from the live exposition (not used by the rules): not exposed now %v; new %v", path, gone, added)
		}
	}
}
