package bridge

import (
	"flag"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"go.vlog.dev/handlers/output"
	"go.vlog.dev/handlers/victorialogs"
	"go.vlog.dev/redact"
)

func TestOptionsFromEnv(t *testing.T) {
	o, err := OptionsFromEnv([]string{
		"VICTORIALOGS_URL=https://vl-1.internal:9428, https://vl-2.internal:9428/insert/jsonline?extra_fields=team=core,x=y",
		"VLOG_VICTORIALOGS_STREAM_FIELDS=log_group, service",
		"VLOG_VICTORIALOGS_PASSWORD= with blanks ",
		"VLOG_VICTORIALOGS_USER=bridge",
		"VLOG_VICTORIALOGS_TIMEOUT=3s",
		"VLOG_VICTORIALOGS_MAX_LINE_SIZE=64KiB",
		"VLOG_VICTORIALOGS_EXTRA_FIELDS=source=cloudwatch",
		"VLOG_BUFFER_SIZE=4MiB",
		"VLOG_RETRY_MAX=2s",
		"VLOG_REDACT=false",
		"VLOG_REDACT_KEYS=ssn,tax_id",
		"VLOG_BRIDGE_DEADLINE_MARGIN=1500ms",
		"VLOG_BRIDGE_MESSAGE_KEYS=message,msg",
		"VLOG_BRIDGE_MAX_CLOCK_SKEW=1h",
		"VLOG_TEST_ANYTHING=ignored",
		"AWS_LAMBDA_FUNCTION_NAME=vlog-bridge",
		"AWS_LAMBDA_LOG_GROUP_NAME=/aws/lambda/vlog-bridge",
		"PATH=/usr/bin",
	})
	if err != nil {
		t.Fatal(err)
	}
	f := false
	want := &Options{
		VictoriaLogs: victorialogs.Options{
			URLs:         []string{"https://vl-1.internal:9428", "https://vl-2.internal:9428/insert/jsonline?extra_fields=team=core,x=y"},
			StreamFields: []string{"log_group", "service"}, Username: "bridge", Password: " with blanks ",
			Timeout: 3 * time.Second, MaxLineSize: 64 << 10, ExtraFields: map[string]string{"source": "cloudwatch"},
		},
		Buffer:         output.BufferOptions{Size: 4 << 20, RetryMax: 2 * time.Second},
		Redaction:      &f,
		Redact:         redact.Options{Keys: []string{"ssn", "tax_id"}},
		DeadlineMargin: 1500 * time.Millisecond,
		MessageKeys:    []string{"message", "msg"},
		MaxClockSkew:   time.Hour,
		FunctionName:   "vlog-bridge",
		OwnLogGroup:    "/aws/lambda/vlog-bridge",
	}
	if !reflect.DeepEqual(o, want) {
		t.Errorf("got  %+v\nwant %+v", o, want)
	}
}

func TestOptionsFromEnvErrors(t *testing.T) {
	_, err := OptionsFromEnv([]string{
		"VICTORIALOGS_URL=http://vl:9428",
		"VLOG_VICTORIALOGS_TIMOUT=3s",
		"VLOG_VICTORIALOGS_PASWORD=hunter2",
		"VLOG_BATCH_SIZE=big",
		"VLOG_REDACT=maybe",
		"VLOG_BRIDGE_MAX_CLOCK_SKEW=-1h",
		"VLOG_LEVEL=debug",
	})
	if err == nil {
		t.Fatal("no error")
	}
	msg := err.Error()
	for _, want := range []string{
		`VLOG_VICTORIALOGS_TIMOUT="3s": not a setting of the bridge (docs/cloudwatch-bridge.md lists them); did you mean VLOG_VICTORIALOGS_TIMEOUT?`,
		`VLOG_VICTORIALOGS_PASWORD="(7 bytes, not shown)": not a setting of the bridge (docs/cloudwatch-bridge.md lists them); did you mean VLOG_VICTORIALOGS_PASSWORD?`,
		`VLOG_BATCH_SIZE="big": want a positive size`,
		`VLOG_REDACT="maybe": want true or false`,
		`VLOG_BRIDGE_MAX_CLOCK_SKEW="-1h": want a positive duration`,
		`VLOG_LEVEL="debug": not a setting of the bridge`,
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("error does not say %q:\n%s", want, msg)
		}
	}
	if strings.Contains(msg, "hunter2") {
		t.Errorf("the error shows a password: %s", msg)
	}
}

func TestNewRefuses(t *testing.T) {
	f := func(env []string, want string) {
		t.Helper()
		o, err := OptionsFromEnv(env)
		if err == nil {
			_, err = New(o)
		}
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%v: err = %v, want it to say %q", env, err, want)
		}
	}
	f([]string{}, `VICTORIALOGS_URL="": at least one VictoriaLogs URL is needed`)
	// The guide's URL: its stream fields include log_stream, one stream per task.
	f([]string{"VICTORIALOGS_URL=http://vl:9428/insert/jsonline?_stream_fields=log_group,log_stream"},
		`VICTORIALOGS_URL="http://vl:9428/insert/jsonline?_stream_fields=log_group,log_stream": _stream_fields: "log_stream" is one stream per ECS task`)
	f([]string{"VICTORIALOGS_URL=http://vl:9428", "VLOG_VICTORIALOGS_STREAM_FIELDS=log_group,ecs_task_arn"}, `"ecs_task_arn" is one stream per ECS task`)
	f([]string{"VICTORIALOGS_URL=http://vl:9428", "VLOG_VICTORIALOGS_STREAM_FIELDS=service,ecs_task_id"}, `"ecs_task_id" looks like a high-cardinality field`)
	f([]string{"VICTORIALOGS_URL=http://vl:9428", "VLOG_VICTORIALOGS_STREAM_FIELDS=service,request_id"}, `"request_id" looks like a high-cardinality field`)
	f([]string{"VICTORIALOGS_URL=http://vl:9428", "VLOG_VICTORIALOGS_MAX_LINE_SIZE=256KiB"}, "VLOG_VICTORIALOGS_MAX_LINE_SIZE=\"262144\": want 1 KiB to 262143")
	f([]string{"VICTORIALOGS_URL=http://vl:9428", "VLOG_BUFFER_SIZE=256KiB"}, "VLOG_BUFFER_SIZE")
	f([]string{"VICTORIALOGS_URL=http://vl:9428", "VLOG_VICTORIALOGS_COMPRESS=brotli"}, "VLOG_VICTORIALOGS_COMPRESS")
	f([]string{"VICTORIALOGS_URL=ftp://vl:9428"}, "VICTORIALOGS_URL")
	f([]string{"VICTORIALOGS_URL=http://vl:9428", "VLOG_REDACT_HASH_KEY=short"}, "HashKey")
}

// A URL with low-cardinality stream fields of its own keeps them.
func TestURLStreamFields(t *testing.T) {
	vl := newFakeVL(t)
	vl.WantStream = "log_group"
	b, _ := newTestBridge(t, vl.URL+"/insert/jsonline?_stream_fields=log_group", nil)
	if _, err := invoke(t, b, encodeEvent(t, fixture(t, "data-message.json")), 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if len(vl.Lines()) != 14 {
		t.Errorf("%d records", len(vl.Lines()))
	}
}

var update = flag.Bool("update", false, "rewrite the settings table of docs/cloudwatch-bridge.md")

const (
	docsPath     = "../docs/cloudwatch-bridge.md"
	tableStart   = "<!-- settings table: generated from bridge/settings.go by `go test -run TestDocsSettings -update` in bridge/ -->\n"
	tableEnd     = "<!-- end of the settings table -->\n"
	tableHeading = "| variable | default | meaning |\n| --- | --- | --- |\n"
)

// TestDocsSettings checks that the settings table of docs/cloudwatch-bridge.md is the one
// settings gives (-update writes it).
func TestDocsSettings(t *testing.T) {
	var b strings.Builder
	b.WriteString(tableHeading)
	for _, s := range settings {
		def := s.Default
		if def == "" {
			def = "none"
		}
		b.WriteString("| `" + s.Var + "` | " + def + " | " + s.Doc + " |\n")
	}
	for _, v := range lambdaVariables {
		b.WriteString("| `" + v.Var + "` | set by Lambda | " + v.Doc + " |\n")
	}
	want := b.String()
	doc, err := os.ReadFile(docsPath)
	if err != nil {
		t.Fatal(err)
	}
	s := string(doc)
	i := strings.Index(s, tableStart)
	j := strings.Index(s, tableEnd)
	if i < 0 || j < i {
		t.Fatalf("%s has no settings table markers", docsPath)
	}
	got := s[i+len(tableStart) : j]
	if got == want {
		return
	}
	if *update {
		s = s[:i+len(tableStart)] + want + s[j:]
		if err := os.WriteFile(docsPath, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Errorf("the settings table of %s is out of date: run go test -run TestDocsSettings -update", docsPath)
}
