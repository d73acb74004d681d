package vlog

import (
	"errors"
	"expvar"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"go.vlog.dev/handlers/output"
	"go.vlog.dev/redact"
)

// A Logger reports on itself in two forms operators already collect: a Prometheus text
// exposition (MetricsHandler) and an expvar variable (PublishExpvar). Both are built from the
// table below, read from one snapshot per request.
//
// To add a metric, add a row: a name in Prometheus style (vlog_..., counters end in _total), a
// help text, the type, the names of its labels if it has one sample per label value, and the
// function that reads its samples from the snapshot (adding to metricSource what it needs).
// The vlog_records_*, vlog_retries_total, vlog_buffer_* and vlog_output_failing metrics are the
// totals over the outputs; the vlog_output_* ones have a sample per output (label output).

// metricSource is the snapshot a scrape reads.
type metricSource struct {
	stats     Stats
	ecsErrors int
}

// metricSource takes the snapshot.
func (l *Logger) metricSource() *metricSource {
	return &metricSource{stats: l.Stats(), ecsErrors: l.cfg.ecs.errors}
}

// sample is one value of a metric; labels are the values of the metric's labels, in order.
type sample struct {
	labels []string
	value  float64
}

type metric struct {
	name, help, kind string
	// labels name the metric's labels; none for a metric with one unlabeled sample.
	labels  []string
	samples func(*metricSource) []sample
}

const (
	counter = "counter"
	gauge   = "gauge"
)

// one adapts a single-valued reader.
func one[T uint64 | int64 | int](f func(*metricSource) T) func(*metricSource) []sample {
	return func(s *metricSource) []sample { return []sample{{value: float64(f(s))}} }
}

var metrics = []metric{
	{name: "vlog_records_enqueued_total", kind: counter,
		help:    "Records given to the output.",
		samples: one(func(s *metricSource) uint64 { return s.stats.Enqueued })},
	{name: "vlog_records_delivered_total", kind: counter,
		help:    "Records written to the destination without error.",
		samples: one(func(s *metricSource) uint64 { return s.stats.Delivered })},
	{name: "vlog_records_dropped_total", kind: counter, labels: []string{"reason"},
		help: "Records given up, by reason: buffer_full (no room in the buffer), write_error (the destination failed the write), oversize (larger than the destination accepts), closed (after Close or past its deadline).",
		samples: func(s *metricSource) []sample {
			return dropSamples(s.stats.Dropped)
		}},
	{name: "vlog_retries_total", kind: counter,
		help:    "Attempts to deliver records again after a failure.",
		samples: one(func(s *metricSource) uint64 { return s.stats.Retried })},
	{name: "vlog_buffer_bytes", kind: gauge,
		help:    "Bytes of records waiting in the output's buffer.",
		samples: one(func(s *metricSource) int64 { return s.stats.BufferedBytes })},
	{name: "vlog_buffer_records", kind: gauge,
		help:    "Records waiting in the output's buffer.",
		samples: one(func(s *metricSource) int64 { return s.stats.BufferedRecords })},
	{name: "vlog_output_failing", kind: gauge,
		help: "1 while the output's last delivery failed, else 0.",
		samples: one(func(s *metricSource) int {
			if s.stats.State == "failing" {
				return 1
			}
			return 0
		})},
	{name: "vlog_redactions_total", kind: counter, labels: []string{"rule"},
		help: "Values masked by secret redaction, by rule (every rule of redact.RuleNames is listed, 0 included; none when redaction is off).",
		samples: func(s *metricSource) []sample {
			if s.stats.Redacted == nil {
				return nil
			}
			out := make([]sample, 0, len(redact.RuleNames()))
			for _, rule := range redact.RuleNames() {
				out = append(out, sample{[]string{rule}, float64(s.stats.Redacted[rule])})
			}
			return out
		}},
	{name: "vlog_fallback_switches_total", kind: counter,
		help: "Switches between the FireLens router and VictoriaLogs, either way (none without a fallback).",
		samples: func(s *metricSource) []sample {
			if s.stats.Fallback == nil {
				return nil
			}
			return []sample{{value: float64(s.stats.Fallback.Switches)}}
		}},
	{name: "vlog_fallback_active", kind: gauge,
		help: "1 while records go to VictoriaLogs because the FireLens router is unreachable, else 0 (none without a fallback).",
		samples: func(s *metricSource) []sample {
			if s.stats.Fallback == nil {
				return nil
			}
			v := 0.0
			if s.stats.Fallback.OnFallback {
				v = 1
			}
			return []sample{{value: v}}
		}},
	{name: "vlog_output_records_enqueued_total", kind: counter, labels: []string{"output"},
		help:    "Records given to each output.",
		samples: perOutput(func(s Stats) float64 { return float64(s.Enqueued) })},
	{name: "vlog_output_records_delivered_total", kind: counter, labels: []string{"output"},
		help:    "Records each output wrote to its destination without error.",
		samples: perOutput(func(s Stats) float64 { return float64(s.Delivered) })},
	{name: "vlog_output_records_dropped_total", kind: counter, labels: []string{"output", "reason"},
		help: "Records each output gave up, by reason (as vlog_records_dropped_total).",
		samples: func(src *metricSource) []sample {
			var out []sample
			for _, s := range src.outputs() {
				for _, d := range dropSamples(s.Dropped) {
					out = append(out, sample{append([]string{s.Output}, d.labels...), d.value})
				}
			}
			return out
		}},
	{name: "vlog_output_retries_total", kind: counter, labels: []string{"output"},
		help:    "Attempts of each output to deliver records again after a failure.",
		samples: perOutput(func(s Stats) float64 { return float64(s.Retried) })},
	{name: "vlog_output_buffer_bytes", kind: gauge, labels: []string{"output"},
		help:    "Bytes of records waiting in each output's buffer.",
		samples: perOutput(func(s Stats) float64 { return float64(s.BufferedBytes) })},
	{name: "vlog_output_buffer_records", kind: gauge, labels: []string{"output"},
		help:    "Records waiting in each output's buffer.",
		samples: perOutput(func(s Stats) float64 { return float64(s.BufferedRecords) })},
	{name: "vlog_output_buffer_size_bytes", kind: gauge, labels: []string{"output"},
		help: "The bound of each buffered output's buffer, in bytes (VLOG_BUFFER_SIZE): vlog_output_buffer_bytes / vlog_output_buffer_size_bytes is how full it is.",
		samples: func(src *metricSource) []sample {
			var out []sample
			for _, s := range src.outputs() {
				if s.BufferSize > 0 {
					out = append(out, sample{[]string{s.Output}, float64(s.BufferSize)})
				}
			}
			return out
		}},
	{name: "vlog_output_state", kind: gauge, labels: []string{"output", "state"},
		help: "1 for each output's state (ok, failing: its last delivery failed, closed), 0 for the others.",
		samples: func(src *metricSource) []sample {
			var out []sample
			for _, s := range src.outputs() {
				for _, st := range []string{"ok", "failing", "closed"} {
					v := 0.0
					if s.State == st {
						v = 1
					}
					out = append(out, sample{[]string{s.Output, st}, v})
				}
			}
			return out
		}},
	{name: "vlog_scopes_total", kind: counter,
		help:    "Scopes started (requests through Middleware, StartScope), with holding or debug sampling on (none when both are off).",
		samples: volume(func(v *output.VolumeStats) float64 { return float64(v.Scopes) })},
	{name: "vlog_scopes_sampled_total", kind: counter,
		help:    "Scopes that logged at debug in full (VLOG_DEBUG_SAMPLE_RATE).",
		samples: volume(func(v *output.VolumeStats) float64 { return float64(v.SampledScopes) })},
	{name: "vlog_held_total", kind: counter,
		help:    "Records held by scopes (VLOG_HOLD); each is then flushed, discarded or evicted. Not records of the output.",
		samples: volume(func(v *output.VolumeStats) float64 { return float64(v.Held) })},
	{name: "vlog_held_flushed_total", kind: counter,
		help:    "Held records written because their scope failed (a record at VLOG_HOLD_FLUSH_LEVEL, a 5xx, a panic).",
		samples: volume(func(v *output.VolumeStats) float64 { return float64(v.Flushed) })},
	{name: "vlog_held_discarded_total", kind: counter,
		help:    "Held records discarded: their scope ended without failing, or they were held longer than VLOG_HOLD_MAX_AGE.",
		samples: volume(func(v *output.VolumeStats) float64 { return float64(v.Discarded) })},
	{name: "vlog_held_evicted_total", kind: counter, labels: []string{"cap"},
		help: "Held records evicted, oldest first, or not let in, by a cap: scope (VLOG_HOLD_SCOPE_SIZE) or total (VLOG_HOLD_TOTAL_SIZE).",
		samples: func(s *metricSource) []sample {
			v := s.stats.Volume
			if v == nil {
				return nil
			}
			return []sample{{[]string{"scope"}, float64(v.EvictedScopeCap)}, {[]string{"total"}, float64(v.EvictedTotalCap)}}
		}},
	{name: "vlog_held_records", kind: gauge,
		help:    "Records held by scopes now.",
		samples: volume(func(v *output.VolumeStats) float64 { return float64(v.HeldRecords) })},
	{name: "vlog_held_bytes", kind: gauge,
		help:    "Memory of the scopes' held records now (bounded by VLOG_HOLD_TOTAL_SIZE).",
		samples: volume(func(v *output.VolumeStats) float64 { return float64(v.HeldBytes) })},
	{name: "vlog_suppressed_records_total", kind: counter,
		help:    "Records the rate limit (VLOG_RATE_LIMIT) did not write; each message's gap is reported in the stream. Not drops of the output.",
		samples: volume(func(v *output.VolumeStats) float64 { return float64(v.Suppressed) })},
	{name: "vlog_ecs_metadata_errors_total", kind: counter,
		help:    "Failures to read the ECS task metadata at setup (the records lack the fields that could not be read).",
		samples: one(func(s *metricSource) int { return s.ecsErrors })},
}

// volume adapts a reader of the volume controls' counters: no sample when they are off.
func volume(f func(*output.VolumeStats) float64) func(*metricSource) []sample {
	return func(s *metricSource) []sample {
		if s.stats.Volume == nil {
			return nil
		}
		return []sample{{value: f(s.stats.Volume)}}
	}
}

// outputs returns the Stats of each output (the snapshot itself for a single output).
func (s *metricSource) outputs() []Stats {
	if len(s.stats.Outputs) > 0 {
		return s.stats.Outputs
	}
	return []Stats{s.stats}
}

// perOutput adapts a reader of one output's Stats to a metric with a sample per output.
func perOutput(f func(Stats) float64) func(*metricSource) []sample {
	return func(src *metricSource) []sample {
		var out []sample
		for _, s := range src.outputs() {
			out = append(out, sample{[]string{s.Output}, f(s)})
		}
		return out
	}
}

// dropSamples are the drops by reason (label reason).
func dropSamples(d output.Drops) []sample {
	return []sample{
		{[]string{"buffer_full"}, float64(d.BufferFull)},
		{[]string{"write_error"}, float64(d.WriteError)},
		{[]string{"oversize"}, float64(d.Oversize)},
		{[]string{"closed"}, float64(d.Closed)},
	}
}

// PrometheusContentType is the content type of MetricsHandler's answers: the Prometheus text
// exposition format, version 0.0.4.
const PrometheusContentType = "text/plain; version=0.0.4; charset=utf-8"

// MetricsHandler returns a handler that answers GET and HEAD with the Logger's counters in the
// Prometheus text exposition format 0.0.4, for a scraper (Prometheus, vmagent, the CloudWatch
// agent, the ADOT collector):
//
//	vlog_records_enqueued_total, vlog_records_delivered_total, vlog_records_dropped_total{reason},
//	vlog_retries_total, vlog_buffer_bytes, vlog_buffer_records, vlog_output_failing,
//	vlog_redactions_total{rule}, vlog_fallback_switches_total, vlog_fallback_active,
//	vlog_output_records_enqueued_total{output}, vlog_output_records_delivered_total{output},
//	vlog_output_records_dropped_total{output,reason}, vlog_output_retries_total{output},
//	vlog_output_buffer_bytes{output}, vlog_output_buffer_records{output}, vlog_output_buffer_size_bytes{output},
//	vlog_output_state{output,state}, vlog_scopes_total, vlog_scopes_sampled_total,
//	vlog_held_total, vlog_held_flushed_total, vlog_held_discarded_total,
//	vlog_held_evicted_total{cap}, vlog_held_records, vlog_held_bytes,
//	vlog_suppressed_records_total, vlog_ecs_metadata_errors_total
//
// The vlog_scopes_*, vlog_held_* and vlog_suppressed_* metrics (docs/volume.md) are there only
// when holding, debug sampling or the rate limit is on; none of them counts as a drop.
//
// The counters start at zero when the Logger is created. Mount it on the service's mux, for
// instance at "GET /metrics"; other methods are answered 405.
func (l *Logger) MetricsHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		b := appendExposition(make([]byte, 0, 2048), l.metricSource())
		w.Header().Set("Content-Type", PrometheusContentType)
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("Content-Length", strconv.Itoa(len(b)))
		_, _ = w.Write(b)
	})
}

// appendExposition appends the text exposition of every metric.
func appendExposition(b []byte, src *metricSource) []byte {
	for _, m := range metrics {
		samples := m.samples(src)
		if len(samples) == 0 {
			continue // e.g. redactions when redaction is off
		}
		b = append(b, "# HELP "...)
		b = append(b, m.name...)
		b = append(b, ' ')
		b = appendEscaped(b, m.help, false)
		b = append(b, "\n# TYPE "...)
		b = append(b, m.name...)
		b = append(b, ' ')
		b = append(b, m.kind...)
		b = append(b, '\n')
		for _, s := range samples {
			b = append(b, m.name...)
			for i, name := range m.labels {
				if i == 0 {
					b = append(b, '{')
				} else {
					b = append(b, ',')
				}
				b = append(b, name...)
				b = append(b, '=', '"')
				b = appendEscaped(b, s.labels[i], true)
				b = append(b, '"')
			}
			if len(m.labels) > 0 {
				b = append(b, '}')
			}
			b = append(b, ' ')
			b = strconv.AppendFloat(b, s.value, 'f', -1, 64)
			b = append(b, '\n')
		}
	}
	return b
}

// appendEscaped escapes a help text (backslash, newline) or a label value (also '"').
func appendEscaped(b []byte, s string, quote bool) []byte {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\':
			b = append(b, `\\`...)
		case c == '\n':
			b = append(b, `\n`...)
		case c == '"' && quote:
			b = append(b, `\"`...)
		default:
			b = append(b, c)
		}
	}
	return b
}

// expvarMu serializes PublishExpvar's check-then-publish on the process-wide expvar registry.
var expvarMu sync.Mutex

// PublishExpvar publishes the Logger's counters as the expvar variable name, so that they
// appear in /debug/vars (served by the expvar package on http.DefaultServeMux) as one JSON
// object: "output", "state" and "last_error" from Stats, and one key per metric of
// MetricsHandler without the "vlog_" prefix ("records_enqueued_total": 12, ...;
// "records_dropped_total": {"buffer_full": 0, ...}). The value is read at each request.
//
// Nothing is published unless this is called. expvar names are process-wide and cannot be
// removed: publishing a name that is already taken returns an error (expvar.Publish would
// panic) and changes nothing.
func (l *Logger) PublishExpvar(name string) error {
	if name == "" {
		return errors.New("vlog: PublishExpvar: empty name")
	}
	expvarMu.Lock()
	defer expvarMu.Unlock()
	if expvar.Get(name) != nil {
		return errors.New("vlog: PublishExpvar: expvar " + strconv.Quote(name) + " is already published")
	}
	expvar.Publish(name, expvar.Func(func() any { return expvarValue(l.metricSource()) }))
	return nil
}

// expvarValue returns the JSON-ready form of a snapshot.
func expvarValue(src *metricSource) map[string]any {
	v := map[string]any{
		"output":     src.stats.Output,
		"state":      src.stats.State,
		"last_error": src.stats.LastError,
	}
	for _, m := range metrics {
		key := strings.TrimPrefix(m.name, "vlog_")
		samples := m.samples(src)
		if len(samples) == 0 {
			continue
		}
		if len(m.labels) == 0 {
			v[key] = samples[0].value
			continue
		}
		// One level of maps per label: {"stdout": {"buffer_full": 0, ...}, ...}.
		byLabel := map[string]any{}
		for _, s := range samples {
			level := byLabel
			for _, l := range s.labels[:len(s.labels)-1] {
				next, _ := level[l].(map[string]any)
				if next == nil {
					next = map[string]any{}
					level[l] = next
				}
				level = next
			}
			level[s.labels[len(s.labels)-1]] = s.value
		}
		v[key] = byLabel
	}
	return v
}
