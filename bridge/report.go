package bridge

import (
	"context"
	"encoding/json"
	"time"

	"github.com/aws/aws-lambda-go/lambdacontext"
)

// The summary line: after every invocation the bridge writes one JSON line to its log
// (stdout: the function's own log group), with the counts of Summary. The line is in
// CloudWatch's Embedded Metric Format: CloudWatch Logs turns its counts into metrics of
// MetricsNamespace with the dimension FunctionName, at no cost beyond the line, so that
// malformed input, truncations and replays can have alarms (examples/bridge/template.yaml
// has one on MalformedMessages and MalformedEvents). It is the bridge's only output about
// itself.

// metricNames are the Summary counts published as metrics.
var metricNames = []string{
	"Events", "Delivered", "NotDelivered", "MalformedEvents", "MalformedMessages",
	"InvalidUTF8", "Truncated", "Redacted", "Replayed",
}

type emfMetric struct {
	Name string `json:"Name"`
	Unit string `json:"Unit"`
}

type emfDirective struct {
	Namespace  string      `json:"Namespace"`
	Dimensions [][]string  `json:"Dimensions"`
	Metrics    []emfMetric `json:"Metrics"`
}

type emfMeta struct {
	Timestamp         int64          `json:"Timestamp"`
	CloudWatchMetrics []emfDirective `json:"CloudWatchMetrics"`
}

type summaryLine struct {
	AWS          *emfMeta `json:"_aws,omitempty"`
	Time         string   `json:"time"`
	Level        string   `json:"level"`
	Msg          string   `json:"msg"`
	FunctionName string   `json:"FunctionName,omitempty"`
	RequestID    string   `json:"aws_request_id,omitempty"`
	DurationMS   float64  `json:"duration_ms"`
	Error        string   `json:"error,omitempty"`
	ErrorType    string   `json:"error_type,omitempty"`

	Source             string   `json:"source"`
	Control            bool     `json:"control,omitempty"`
	LogGroup           string   `json:"log_group,omitempty"`
	LogStream          string   `json:"log_stream,omitempty"`
	Messages           int      `json:"Messages"`
	Events             int      `json:"Events"`
	Delivered          int      `json:"Delivered"`
	NotDelivered       int      `json:"NotDelivered"`
	MalformedEvents    int      `json:"MalformedEvents"`
	MalformedMessages  int      `json:"MalformedMessages"`
	InvalidUTF8        int      `json:"InvalidUTF8"`
	Truncated          int      `json:"Truncated"`
	Structured         int      `json:"Structured"`
	OwnTime            int      `json:"OwnTime"`
	Redacted           int      `json:"Redacted"`
	Replayed           int      `json:"Replayed"`
	SkippedOwnLogGroup int      `json:"SkippedOwnLogGroup,omitempty"`
	Errors             []string `json:"errors,omitempty"`
}

// report writes the summary line of an invocation.
func (b *Bridge) report(ctx context.Context, s *Summary, start time.Time, err error) {
	now := time.Now()
	l := summaryLine{
		Time:               now.UTC().Format(time.RFC3339Nano),
		Level:              "info",
		Msg:                "bridge: invocation",
		FunctionName:       b.function,
		DurationMS:         float64(now.Sub(start).Microseconds()) / 1000,
		Source:             s.Source,
		Control:            s.Control,
		LogGroup:           s.LogGroup,
		LogStream:          s.LogStream,
		Messages:           s.Messages,
		Events:             s.Events,
		Delivered:          s.Delivered,
		NotDelivered:       s.NotDelivered,
		MalformedEvents:    s.MalformedEvents,
		MalformedMessages:  s.MalformedMessages,
		InvalidUTF8:        s.InvalidUTF8,
		Truncated:          s.Truncated,
		Structured:         s.Structured,
		OwnTime:            s.OwnTime,
		Redacted:           s.Redacted,
		Replayed:           s.Replayed,
		SkippedOwnLogGroup: s.SkippedOwnLogGroup,
		Errors:             s.Errors,
	}
	if lc, ok := lambdacontext.FromContext(ctx); ok {
		l.RequestID = lc.AwsRequestID
	}
	switch {
	case err != nil:
		l.Level, l.Error, l.ErrorType = "error", err.Error(), errorType(err)
	case s.NotDelivered > 0 || s.MalformedMessages > 0:
		l.Level = "error" // an SQS batch with failed messages
	case s.MalformedEvents > 0 || s.InvalidUTF8 > 0:
		l.Level = "warn"
	}
	if s.SkippedOwnLogGroup > 0 {
		// The line would be an event of the log group whose events are being skipped: a
		// subscription of the bridge to its own log group would go on forever. Say nothing.
		return
	}
	if b.namespace != "none" {
		dims := [][]string{{"FunctionName"}}
		if b.function == "" {
			dims = [][]string{{}}
		}
		d := emfDirective{Namespace: b.namespace, Dimensions: dims}
		for _, n := range metricNames {
			d.Metrics = append(d.Metrics, emfMetric{Name: n, Unit: "Count"})
		}
		l.AWS = &emfMeta{Timestamp: now.UnixMilli(), CloudWatchMetrics: []emfDirective{d}}
	}
	line, _ := json.Marshal(l)
	line = append(line, '\n')
	b.logMu.Lock()
	_, _ = b.log.Write(line)
	b.logMu.Unlock()
}

// errorType is the name aws-lambda-go reports for err (its errorType).
func errorType(err error) string {
	switch err.(type) {
	case *DeliveryError:
		return "DeliveryError"
	case *MalformedError:
		return "MalformedError"
	}
	return ""
}

// redactedTotal is the number of secrets the redactor masked so far.
func (b *Bridge) redactedTotal() uint64 {
	if b.redactor == nil {
		return 0
	}
	var n uint64
	for _, c := range b.redactor.Counts() {
		n += c
	}
	return n
}
