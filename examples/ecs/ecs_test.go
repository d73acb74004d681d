// Package ecs_test checks the deployment examples of this directory against the rules of
// ../../DESIGN.md ("ECS facts") and against what vlog reads: valid JSON, the FireLens router
// wired as ECS requires, no port mapping for the forward port, low-cardinality stream fields
// only, environment variables vlog knows, least-privilege IAM.
package ecs_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"go.vlog.dev/vlog"
)

// The task definition as far as the checks go. Unknown fields are rejected by the ECS API, so
// the decoder rejects them too (DisallowUnknownFields) against the fields listed here.
type taskDefinition struct {
	Family                  string                `json:"family"`
	RequiresCompatibilities []string              `json:"requiresCompatibilities"`
	NetworkMode             string                `json:"networkMode"`
	CPU                     string                `json:"cpu"`
	Memory                  string                `json:"memory"`
	RuntimePlatform         map[string]string     `json:"runtimePlatform"`
	ExecutionRoleArn        string                `json:"executionRoleArn"`
	TaskRoleArn             string                `json:"taskRoleArn"`
	ContainerDefinitions    []containerDefinition `json:"containerDefinitions"`
}

type containerDefinition struct {
	Name              string `json:"name"`
	Image             string `json:"image"`
	Essential         *bool  `json:"essential"`
	MemoryReservation int    `json:"memoryReservation"`
	PortMappings      []struct {
		ContainerPort int    `json:"containerPort"`
		HostPort      int    `json:"hostPort"`
		Protocol      string `json:"protocol"`
		Name          string `json:"name"`
	} `json:"portMappings"`
	Environment []struct {
		Name  string `json:"name"`
		Value string `json:"value"`
	} `json:"environment"`
	FirelensConfiguration *struct {
		Type    string            `json:"type"`
		Options map[string]string `json:"options"`
	} `json:"firelensConfiguration"`
	LogConfiguration *struct {
		LogDriver string            `json:"logDriver"`
		Options   map[string]string `json:"options"`
	} `json:"logConfiguration"`
	DependsOn []struct {
		ContainerName string `json:"containerName"`
		Condition     string `json:"condition"`
	} `json:"dependsOn"`
	HealthCheck *struct {
		Command     []string `json:"command"`
		Interval    int      `json:"interval"`
		Timeout     int      `json:"timeout"`
		Retries     int      `json:"retries"`
		StartPeriod int      `json:"startPeriod"`
	} `json:"healthCheck"`
	StopTimeout *int `json:"stopTimeout"`
}

func (c *containerDefinition) env() map[string]string {
	m := map[string]string{}
	for _, e := range c.Environment {
		m[e.Name] = e.Value
	}
	return m
}

// highCardinality are keys that must never be VictoriaLogs stream fields: each value would
// open a new stream.
var highCardinality = []string{
	"request_id", "trace_id", "span_id", "user_id", "order_id", "session_id", "customer_id",
	"ip", "client_ip", "remote_addr", "url", "path", "uri", "msg", "_msg", "event_time",
	"ecs_task_arn", "container_id", "error", "caller",
}

// streamFields are the stream fields vlog's design settles on.
var streamFields = []string{"service", "env", "ecs_cluster", "container"}

func decodeStrict(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	require.True(t, json.Valid(b), "%s is not valid JSON", path)
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	require.NoError(t, dec.Decode(v), path)
	_, err = dec.Token()
	require.ErrorIs(t, err, io.EOF, "%s: trailing data", path)
}

// variant is one task definition and the Fluent Bit configuration its router uses.
type variant struct {
	taskdef string
	conf    string // the file in fluent-bit/
	output  string // VLOG_OUTPUT the app must use
}

var variants = []variant{
	{"taskdef-stdout.json", "stdout.conf", "stdout"},
	{"taskdef-forward.json", "forward.conf", "auto"},
}

func TestTaskDefinitions(t *testing.T) {
	known := vlog.KnownVariables()
	for _, v := range variants {
		t.Run(v.taskdef, func(t *testing.T) {
			var td taskDefinition
			decodeStrict(t, v.taskdef, &td)
			require.Equal(t, []string{"FARGATE"}, td.RequiresCompatibilities)
			require.Equal(t, "awsvpc", td.NetworkMode, "Fargate is awsvpc only; FLUENT_HOST is then 127.0.0.1")
			require.NotEmpty(t, td.ExecutionRoleArn, "needed to pull from ECR and for the router's awslogs")

			var router *containerDefinition
			var apps []*containerDefinition
			for i := range td.ContainerDefinitions {
				c := &td.ContainerDefinitions[i]
				require.NotEmpty(t, c.Name)
				require.NotEmpty(t, c.Image)
				// Never a tag that moves under a running service.
				require.Regexp(t, `:[^:/]+$`, c.Image, c.Name)
				require.NotRegexp(t, `:(latest|stable|mainline)$`, c.Image, c.Name)
				for _, pm := range c.PortMappings {
					require.NotEqual(t, 24224, pm.ContainerPort, "%s maps the forward port: it must stay inside the task", c.Name)
					require.NotEqual(t, 24224, pm.HostPort, "%s maps the forward port", c.Name)
				}
				if c.FirelensConfiguration != nil {
					require.Nil(t, router, "one FireLens router per task")
					router = c
				} else {
					apps = append(apps, c)
				}
			}
			require.NotNil(t, router, "no container with firelensConfiguration")
			require.Equal(t, "fluentbit", router.FirelensConfiguration.Type)
			opts := router.FirelensConfiguration.Options
			// Fargate reads a custom configuration only from a file in the image.
			require.Equal(t, "file", opts["config-file-type"])
			require.Equal(t, "/fluent-bit/configs/vlog-"+v.conf, opts["config-file-value"])
			require.True(t, router.Essential == nil || *router.Essential, "the router is essential: without it logs are lost silently")
			require.NotNil(t, router.LogConfiguration)
			require.Equal(t, "awslogs", router.LogConfiguration.LogDriver, "the router's own logs must not go through itself")
			require.NotNil(t, router.StopTimeout)
			require.LessOrEqual(t, *router.StopTimeout, 120)

			require.NotEmpty(t, apps)
			for _, app := range apps {
				checkApp(t, app, router, v, known)
			}

			// The variables the router's configuration uses are set on the router.
			conf := readConf(t, filepath.Join("fluent-bit", v.conf))
			for _, name := range conf.vars {
				require.Contains(t, router.env(), name, "%s uses ${%s}", v.conf, name)
				require.NotEmpty(t, router.env()[name])
			}
		})
	}
}

func checkApp(t *testing.T, app, router *containerDefinition, v variant, known []string) {
	t.Helper()
	require.NotNil(t, app.LogConfiguration)
	require.Equal(t, "awsfirelens", app.LogConfiguration.LogDriver,
		"stdout goes through FireLens, and only awsfirelens makes ECS inject FLUENT_HOST and FLUENT_PORT")
	require.Empty(t, app.LogConfiguration.Options["Name"], "the output is in the router's configuration file, not generated")
	// The mode is explicit (ECS's default changed to non-blocking in June 2025): blocking, so
	// that a stalled driver stalls vlog's sender goroutine (vlog buffers stdout, and counts and
	// reports what it drops), not Docker's buffer that drops out of vlog's sight.
	require.Equal(t, "blocking", app.LogConfiguration.Options["mode"], "the app's log driver mode is set explicitly")
	require.NotEmpty(t, app.LogConfiguration.Options["log-driver-buffer-limit"])
	require.NotNil(t, router.LogConfiguration)
	require.Equal(t, "non-blocking", router.LogConfiguration.Options["mode"], "the router's own logs must never stall the router")
	require.NotEmpty(t, router.LogConfiguration.Options["max-buffer-size"])

	// The router starts first (and is healthy when the app connects to it directly).
	var dep string
	for _, d := range app.DependsOn {
		if d.ContainerName == router.Name {
			dep = d.Condition
		}
	}
	require.Contains(t, []string{"START", "HEALTHY"}, dep, "%s must dependsOn %s (START or HEALTHY)", app.Name, router.Name)
	// Every router has a health check on its HTTP server (HTTP_Server On in its configuration),
	// so that ECS replaces a router that hangs instead of the app's logs piling up behind it;
	// the app may wait for it (HEALTHY) or only for its start.
	require.NotNil(t, router.HealthCheck, "%s: a health check on the router", router.Name)
	require.Contains(t, strings.Join(router.HealthCheck.Command, " "), "127.0.0.1:2020")

	require.NotNil(t, app.StopTimeout, "%s: stopTimeout", app.Name)
	require.Positive(t, *app.StopTimeout)
	require.LessOrEqual(t, *app.StopTimeout, 120, "Fargate's maximum")

	env := app.env()
	for _, name := range []string{"SERVICE", "ENV", "VERSION"} {
		require.NotEmpty(t, env[name], "%s: %s", app.Name, name)
	}
	for name := range env {
		if strings.HasPrefix(name, "VLOG_") {
			require.Contains(t, known, name, "%s: vlog does not know %s", app.Name, name)
		}
	}
	for _, name := range []string{"FLUENT_HOST", "FLUENT_PORT", "ECS_CONTAINER_METADATA_URI_V4"} {
		require.NotContains(t, env, name, "%s is set by ECS, not by the task definition", name)
	}
	require.Equal(t, v.output, env["VLOG_OUTPUT"])

	// VLOG_STOP_TIMEOUT leaves headroom under the container's stopTimeout.
	stop := vlog.DefaultStopTimeout
	if s, ok := env["VLOG_STOP_TIMEOUT"]; ok {
		var err error
		stop, err = time.ParseDuration(s)
		require.NoError(t, err)
	}
	require.LessOrEqual(t, stop+2*time.Second, time.Duration(*app.StopTimeout)*time.Second,
		"VLOG_STOP_TIMEOUT must end a few seconds before ECS sends SIGKILL")

	if u, ok := env["VICTORIALOGS_URL"]; ok {
		pu, err := url.Parse(u)
		require.NoError(t, err)
		require.Contains(t, []string{"http", "https"}, pu.Scheme)
		require.Contains(t, []string{"", "/"}, pu.Path, "VICTORIALOGS_URL is the base URL")
	}

	// vlog accepts the whole environment as written (values included).
	var environ []string
	for k, val := range env {
		environ = append(environ, k+"="+val)
	}
	l, err := vlog.New(&vlog.Options{Environ: environ, Writer: io.Discard, Output: "stdout"})
	require.NoError(t, err)
	require.NoError(t, l.Close(context.Background()))

	// The router's output matches this container's records: FireLens tags them
	// "<container name>-firelens-<task id>" and vlog's forward output "<container name>-firelens...".
	conf := readConf(t, filepath.Join("fluent-bit", v.conf))
	out := conf.only(t, "OUTPUT")
	require.True(t, strings.HasPrefix(out.get("Match"), app.Name+"-firelens"),
		"Match %q does not route %s's records", out.get("Match"), app.Name)
	require.Equal(t, app.Name, env["SERVICE"], "SERVICE is the container name here, so that Match, service and container agree")
}

// section is one [NAME] block of a classic Fluent Bit configuration file.
type section struct {
	name string
	keys [][2]string
}

func (s section) get(key string) string {
	for _, kv := range s.keys {
		if strings.EqualFold(kv[0], key) {
			return kv[1]
		}
	}
	return ""
}

type conf struct {
	sections []section
	vars     []string // ${NAME} references
}

func (c conf) all(name string) []section {
	var out []section
	for _, s := range c.sections {
		if strings.EqualFold(s.name, name) {
			out = append(out, s)
		}
	}
	return out
}

func (c conf) only(t *testing.T, name string) section {
	t.Helper()
	ss := c.all(name)
	require.Len(t, ss, 1, "[%s] sections", name)
	return ss[0]
}

var varRE = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)

// readConf parses the classic Fluent Bit format strictly: sections in brackets, indented
// "Key Value" lines, comments, no @INCLUDE (FireLens includes this file; it must stand alone).
func readConf(t *testing.T, path string) conf {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	var c conf
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		trimmed := strings.TrimSpace(line)
		switch {
		case trimmed == "" || strings.HasPrefix(trimmed, "#"):
		case strings.HasPrefix(trimmed, "@"):
			t.Fatalf("%s:%d: directive %q: the file must stand alone", path, n, trimmed)
		case strings.HasPrefix(trimmed, "["):
			require.Regexp(t, `^\[[A-Z]+\]$`, trimmed, "%s:%d", path, n)
			require.Equal(t, trimmed, line, "%s:%d: a section header is not indented", path, n)
			c.sections = append(c.sections, section{name: strings.Trim(trimmed, "[]")})
		default:
			require.NotEmpty(t, c.sections, "%s:%d: key outside a section", path, n)
			require.NotEqual(t, trimmed, line, "%s:%d: keys are indented", path, n)
			k, v, ok := strings.Cut(trimmed, " ")
			require.True(t, ok, "%s:%d: key without value", path, n)
			v = strings.TrimSpace(v)
			require.NotEmpty(t, v, "%s:%d", path, n)
			s := &c.sections[len(c.sections)-1]
			require.Empty(t, s.get(k), "%s:%d: %s twice", path, n, k)
			s.keys = append(s.keys, [2]string{k, v})
			for _, m := range varRE.FindAllStringSubmatch(v, -1) {
				if !slices.Contains(c.vars, m[1]) {
					c.vars = append(c.vars, m[1])
				}
			}
		}
	}
	require.NoError(t, sc.Err())
	return c
}

func TestFluentBitConfigs(t *testing.T) {
	for _, v := range variants {
		t.Run(v.conf, func(t *testing.T) {
			c := readConf(t, filepath.Join("fluent-bit", v.conf))
			svc := c.only(t, "SERVICE")
			require.Equal(t, "1", svc.get("Flush"))
			require.Equal(t, "127.0.0.1", svc.get("HTTP_Listen"), "the monitoring server stays private")
			require.Equal(t, "on", strings.ToLower(svc.get("HTTP_Server")), "the task definition's health check asks it")
			require.Equal(t, "2020", svc.get("HTTP_Port"), "the port of the health check")
			require.Empty(t, c.all("INPUT"), "FireLens defines the inputs (forward on 24224, the driver's socket)")

			out := c.only(t, "OUTPUT")
			require.Equal(t, "http", out.get("Name"))
			require.Equal(t, "json_lines", out.get("Format"), "/insert/jsonline takes one JSON object per line")
			require.Equal(t, "false", out.get("json_date_key"), "event_time is already the record's time")
			require.NotEmpty(t, out.get("Host"))
			require.NotEmpty(t, out.get("Port"))

			u, err := url.Parse(out.get("URI"))
			require.NoError(t, err)
			require.Equal(t, "/insert/jsonline", u.Path)
			q := u.Query()
			sf := strings.Split(q.Get("_stream_fields"), ",")
			require.Equal(t, streamFields, sf)
			for _, f := range sf {
				require.NotContains(t, highCardinality, f, "high-cardinality stream field")
			}
			require.Equal(t, "event_time", q.Get("_time_field"))
			msg := strings.Split(q.Get("_msg_field"), ",")
			require.Equal(t, "msg", msg[0], "vlog's message field comes first")
			require.Contains(t, msg, "log", "a plain-text line keeps its text as the message")

			filters := c.all("FILTER")
			if v.output == "stdout" {
				require.Len(t, filters, 1)
				p := filters[0]
				require.Equal(t, "parser", p.get("Name"))
				require.Equal(t, "log", p.get("Key_Name"))
				require.Equal(t, "json", p.get("Parser"))
				require.Contains(t, []string{"true", "on"}, strings.ToLower(p.get("Reserve_Data")))
				require.Equal(t, out.get("Match"), p.get("Match"))
				require.Equal(t, "/fluent-bit/parsers/parsers.conf", svc.get("Parsers_File"), "defines the json parser")
			} else {
				require.Empty(t, filters, "forward records are structured already")
			}
		})
	}
}

func TestDockerfile(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("fluent-bit", "Dockerfile"))
	require.NoError(t, err)
	from := regexp.MustCompile(`(?m)^FROM (\S+)$`).FindStringSubmatch(string(b))
	require.NotNil(t, from)
	require.Regexp(t, `^public\.ecr\.aws/aws-observability/aws-for-fluent-bit:\d+\.\d+\.\d+`, from[1], "pinned")
	copies := map[string]string{}
	for _, m := range regexp.MustCompile(`(?m)^COPY (\S+)\s+(\S+)$`).FindAllStringSubmatch(string(b), -1) {
		copies[m[2]] = m[1]
	}
	// Each task definition's config-file-value is a file the image has.
	for _, v := range variants {
		var td taskDefinition
		decodeStrict(t, v.taskdef, &td)
		for _, c := range td.ContainerDefinitions {
			if c.FirelensConfiguration == nil {
				continue
			}
			dst := c.FirelensConfiguration.Options["config-file-value"]
			require.Equal(t, v.conf, copies[dst], "%s: %s is not copied into the image", v.taskdef, dst)
			_, err := os.Stat(filepath.Join("fluent-bit", copies[dst]))
			require.NoError(t, err)
		}
	}
}

type policy struct {
	Version   string `json:"Version"`
	Statement []struct {
		Sid       string         `json:"Sid"`
		Effect    string         `json:"Effect"`
		Principal map[string]any `json:"Principal"`
		Action    stringOrList   `json:"Action"`
		Resource  stringOrList   `json:"Resource"`
		Condition map[string]any `json:"Condition"`
	} `json:"Statement"`
}

// stringOrList is an IAM field that is a string or a list of strings.
type stringOrList []string

func (s *stringOrList) UnmarshalJSON(b []byte) error {
	var one string
	if json.Unmarshal(b, &one) == nil {
		*s = []string{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return err
	}
	*s = many
	return nil
}

func TestIAMPolicies(t *testing.T) {
	// Actions whose API takes no resource ARN: "*" is the only possible Resource.
	resourceless := []string{
		"ecr:GetAuthorizationToken",
		"ssmmessages:CreateControlChannel", "ssmmessages:CreateDataChannel",
		"ssmmessages:OpenControlChannel", "ssmmessages:OpenDataChannel",
	}
	check := func(path string) policy {
		t.Helper()
		var p policy
		decodeStrict(t, path, &p)
		require.Equal(t, "2012-10-17", p.Version, path)
		require.NotEmpty(t, p.Statement, path)
		for _, st := range p.Statement {
			require.Equal(t, "Allow", st.Effect, path)
			for _, a := range st.Action {
				require.NotContains(t, a, "*", "%s: wildcard action %s", path, a)
			}
			if st.Principal != nil {
				continue // a trust policy
			}
			for _, r := range st.Resource {
				if r == "*" {
					for _, a := range st.Action {
						require.Contains(t, resourceless, a, "%s: %s on every resource", path, a)
					}
				}
			}
		}
		return p
	}

	exec := check(filepath.Join("iam", "execution-role-policy.json"))
	var actions []string
	for _, st := range exec.Statement {
		actions = append(actions, st.Action...)
	}
	for _, a := range []string{"ecr:GetAuthorizationToken", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "logs:CreateLogStream", "logs:PutLogEvents"} {
		require.Contains(t, actions, a, "execution role")
	}

	// The app logs over the network (to the router in the task, or to VictoriaLogs): its task
	// role needs no permission for logging.
	task := check(filepath.Join("iam", "task-role-policy.json"))
	for _, st := range task.Statement {
		for _, a := range st.Action {
			require.True(t, strings.HasPrefix(a, "ssmmessages:"), "task role: %s is not needed for logging", a)
		}
	}

	trust := check(filepath.Join("iam", "trust-policy.json"))
	require.Equal(t, "ecs-tasks.amazonaws.com", trust.Statement[0].Principal["Service"])
	require.Equal(t, stringOrList{"sts:AssumeRole"}, trust.Statement[0].Action)

	// The roles the task definitions name are the ones these policies are for.
	for _, v := range variants {
		var td taskDefinition
		decodeStrict(t, v.taskdef, &td)
		require.True(t, strings.HasSuffix(td.ExecutionRoleArn, ":role/order-api-execution"))
		require.True(t, strings.HasSuffix(td.TaskRoleArn, ":role/order-api-task"))
		for _, c := range td.ContainerDefinitions {
			if c.LogConfiguration != nil && c.LogConfiguration.LogDriver == "awslogs" {
				group := c.LogConfiguration.Options["awslogs-group"]
				require.Contains(t, exec.Statement[2].Resource[0], ":log-group:"+group+":", "execution role covers %s", group)
			}
		}
	}
}
