package bridge

import (
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestAgentConfig checks the CloudWatch Agent configuration of path C
// (examples/bridge/cloudwatch-agent.json) against the fixtures of its log groups: the agent
// takes an event's timestamp from the line with the entry's timestamp_format, and the bridge
// keeps that timestamp as _time of the text record, so the format must find the time that is
// in the line.
func TestAgentConfig(t *testing.T) {
	b, err := os.ReadFile("../examples/bridge/cloudwatch-agent.json")
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		Logs struct {
			LogsCollected struct {
				Files struct {
					CollectList []struct {
						FilePath        string `json:"file_path"`
						LogGroupName    string `json:"log_group_name"`
						LogStreamName   string `json:"log_stream_name"`
						TimestampFormat string `json:"timestamp_format"`
						Timezone        string `json:"timezone"`
					} `json:"collect_list"`
				} `json:"files"`
			} `json:"logs_collected"`
		} `json:"logs"`
	}
	dec := json.NewDecoder(strings.NewReader(string(b)))
	if err := dec.Decode(&cfg); err != nil {
		t.Fatal(err)
	}
	entries := cfg.Logs.LogsCollected.Files.CollectList
	if len(entries) < 2 {
		t.Fatalf("%d entries", len(entries))
	}
	fixtures := map[string]string{"/ecs/ec2/ecs-agent": "cwagent-ecs-agent.json", "/ecs/ec2/nginx-access": "cwagent-nginx-access.json"}
	for _, e := range entries {
		if e.FilePath == "" || e.LogGroupName == "" || e.TimestampFormat == "" || e.LogStreamName != "{instance_id}" {
			t.Errorf("entry %+v", e)
		}
		if strings.HasPrefix(e.LogGroupName, "/aws/lambda/") {
			t.Errorf("%s: a Lambda log group (never subscribe the bridge to its own)", e.LogGroupName)
		}
		name, ok := fixtures[e.LogGroupName]
		if !ok {
			continue
		}
		delete(fixtures, e.LogGroupName)
		layout, re := strftime(t, e.TimestampFormat)
		var d struct {
			LogGroup  string `json:"logGroup"`
			LogEvents []struct {
				Timestamp int64  `json:"timestamp"`
				Message   string `json:"message"`
			} `json:"logEvents"`
		}
		if err := json.Unmarshal(fixture(t, name), &d); err != nil {
			t.Fatal(err)
		}
		if d.LogGroup != e.LogGroupName {
			t.Errorf("%s: log group %s, the agent writes %s", name, d.LogGroup, e.LogGroupName)
		}
		for _, ev := range d.LogEvents {
			m := re.FindString(ev.Message)
			loc := time.UTC
			if e.Timezone == "Local" {
				loc = time.Local
			}
			tm, err := time.ParseInLocation(layout, m, loc)
			if err != nil {
				t.Errorf("%s: %q: the format %q finds no time (%v)", name, ev.Message, e.TimestampFormat, err)
				continue
			}
			if tm.UnixMilli() != ev.Timestamp {
				t.Errorf("%s: %q: the format reads %v, the event's timestamp is %v", name, ev.Message, tm.UTC(), time.UnixMilli(ev.Timestamp).UTC())
			}
		}
	}
	if len(fixtures) > 0 {
		t.Errorf("no agent entry for the fixtures of %v", fixtures)
	}
}

// strftime turns the agent's timestamp_format into a Go layout and the regular expression the
// agent looks for in a line (the directives the configuration uses).
func strftime(t *testing.T, format string) (string, *regexp.Regexp) {
	t.Helper()
	directives := map[string][2]string{
		"%Y": {"2006", `\d{4}`}, "%m": {"01", `\d{2}`}, "%d": {"02", `\d{2}`}, "%H": {"15", `\d{2}`},
		"%M": {"04", `\d{2}`}, "%S": {"05", `\d{2}`}, "%b": {"Jan", `[A-Z][a-z]{2}`}, "%z": {"-0700", `[+-]\d{4}`},
	}
	var layout, re strings.Builder
	for i := 0; i < len(format); i++ {
		if format[i] == '%' && i+1 < len(format) {
			d, ok := directives[format[i:i+2]]
			if !ok {
				t.Fatalf("timestamp_format %q: %s not handled here", format, format[i:i+2])
			}
			layout.WriteString(d[0])
			re.WriteString(d[1])
			i++
			continue
		}
		layout.WriteByte(format[i])
		re.WriteString(regexp.QuoteMeta(format[i : i+1]))
	}
	return layout.String(), regexp.MustCompile(re.String())
}
