package ecs_test

import (
	"context"
	"io"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"go.vlog.dev/vlog"
)

// Path D: the app writes its records to a file on a task volume, a Fluent Bit sidecar (not a
// FireLens router) tails it. taskdef-sidecar.json and fluent-bit/sidecar.conf.

// sidecarTask is a task definition with what path D adds: volumes, mount points, a command.
type sidecarTask struct {
	Family                  string             `json:"family"`
	RequiresCompatibilities []string           `json:"requiresCompatibilities"`
	NetworkMode             string             `json:"networkMode"`
	CPU                     string             `json:"cpu"`
	Memory                  string             `json:"memory"`
	RuntimePlatform         map[string]string  `json:"runtimePlatform"`
	ExecutionRoleArn        string             `json:"executionRoleArn"`
	TaskRoleArn             string             `json:"taskRoleArn"`
	Volumes                 []taskVolume       `json:"volumes"`
	ContainerDefinitions    []sidecarContainer `json:"containerDefinitions"`
}

// taskVolume is a volume with a name only: a bind mount on the task's ephemeral storage, which
// lives as long as the task and is shared by its containers.
type taskVolume struct {
	Name string `json:"name"`
}

type sidecarContainer struct {
	containerDefinition
	Command     []string     `json:"command"`
	MountPoints []mountPoint `json:"mountPoints"`
}

type mountPoint struct {
	SourceVolume  string `json:"sourceVolume"`
	ContainerPath string `json:"containerPath"`
	ReadOnly      *bool  `json:"readOnly"`
}

// mount returns c's mount point of volume, nil if none.
func (c *sidecarContainer) mount(volume string) *mountPoint {
	for i := range c.MountPoints {
		if c.MountPoints[i].SourceVolume == volume {
			return &c.MountPoints[i]
		}
	}
	return nil
}

// under reports whether p is dir or inside it.
func under(p, dir string) bool {
	return p == dir || strings.HasPrefix(p, strings.TrimSuffix(dir, "/")+"/")
}

const (
	sidecarTaskdef = "taskdef-sidecar.json"
	sidecarConf    = "sidecar.conf"
	sidecarAgent   = "log_agent"
	// sidecarConfPath is where the image has the configuration (see fluent-bit/Dockerfile).
	sidecarConfPath = "/fluent-bit/configs/vlog-sidecar.conf"
)

func TestSidecarTaskDefinition(t *testing.T) {
	var td sidecarTask
	decodeStrict(t, sidecarTaskdef, &td)
	require.Equal(t, []string{"FARGATE"}, td.RequiresCompatibilities)
	require.Equal(t, "awsvpc", td.NetworkMode)
	require.True(t, strings.HasSuffix(td.ExecutionRoleArn, ":role/order-api-execution"))
	require.True(t, strings.HasSuffix(td.TaskRoleArn, ":role/order-api-task"))
	var volumes []string
	for _, v := range td.Volumes {
		volumes = append(volumes, v.Name)
	}

	var agent *sidecarContainer
	var apps []*sidecarContainer
	for i := range td.ContainerDefinitions {
		c := &td.ContainerDefinitions[i]
		require.NotEmpty(t, c.Name)
		require.Regexp(t, `:[^:/]+$`, c.Image, c.Name)
		require.NotRegexp(t, `:(latest|stable|mainline)$`, c.Image, c.Name)
		require.Nil(t, c.FirelensConfiguration, "%s: path D has no FireLens router", c.Name)
		require.True(t, c.Essential == nil || *c.Essential, "%s is essential: without the agent the files are read by nobody", c.Name)
		require.NotNil(t, c.StopTimeout, c.Name)
		require.LessOrEqual(t, *c.StopTimeout, 120, "Fargate's maximum")
		require.NotNil(t, c.LogConfiguration, c.Name)
		require.Equal(t, "awslogs", c.LogConfiguration.LogDriver,
			"%s: stdout (the agent's own logs; the app's panics) goes to CloudWatch, not through the agent", c.Name)
		for _, m := range c.MountPoints {
			require.Contains(t, volumes, m.SourceVolume, "%s mounts an undeclared volume", c.Name)
		}
		if c.Name == sidecarAgent {
			agent = c
		} else {
			apps = append(apps, c)
		}
	}
	require.NotNil(t, agent, "no container %s", sidecarAgent)
	require.Len(t, apps, 1)
	app := apps[0]

	// The log driver modes are explicit (ECS's default changed to non-blocking in June 2025).
	// The agent's own logs must never stall it; the app's stdout carries only what is not vlog's
	// (a panic's trace), which must not be dropped.
	require.Equal(t, "non-blocking", agent.LogConfiguration.Options["mode"])
	require.NotEmpty(t, agent.LogConfiguration.Options["max-buffer-size"])
	require.Equal(t, "blocking", app.LogConfiguration.Options["mode"])

	// The agent runs fluent-bit with the configuration baked into the image.
	require.Equal(t, []string{"/fluent-bit/bin/fluent-bit", "-c", sidecarConfPath}, agent.Command)
	require.NotNil(t, agent.HealthCheck)
	require.Contains(t, strings.Join(agent.HealthCheck.Command, " "), "127.0.0.1:2020/api/v1/uptime",
		"uptime, not health: a VictoriaLogs outage must not make ECS kill the task")
	conf := readConf(t, filepath.Join("fluent-bit", sidecarConf))
	for _, name := range conf.vars {
		require.NotEmpty(t, agent.env()[name], "%s uses ${%s}", sidecarConf, name)
	}
	tail := conf.only(t, "INPUT")
	require.Equal(t, "tail", tail.get("Name"))

	// The app writes the file on the shared volume; the agent reads it there, read-only, at the
	// same path, and keeps its own state elsewhere.
	env := app.env()
	require.Equal(t, "file", env["VLOG_OUTPUT"])
	file := env["VLOG_FILE_PATH"]
	require.True(t, path.IsAbs(file), "VLOG_FILE_PATH %q", file)
	require.Equal(t, file, tail.get("Path"), "the agent tails exactly the file vlog writes")
	require.NotContains(t, tail.get("Path"), "*", "a pattern would match the rotated files: read twice")
	var logs string
	for _, m := range app.MountPoints {
		if under(file, m.ContainerPath) {
			logs = m.SourceVolume
			require.True(t, m.ReadOnly == nil || !*m.ReadOnly, "the app writes the volume")
			require.Equal(t, path.Dir(file), m.ContainerPath, "the volume holds the file and its rotated files only")
		}
	}
	require.NotEmpty(t, logs, "VLOG_FILE_PATH %s is on no volume of %s: the agent would not see it", file, app.Name)
	am := agent.mount(logs)
	require.NotNil(t, am, "the agent does not mount %s", logs)
	require.Equal(t, path.Dir(file), am.ContainerPath, "the same path in both containers")
	require.NotNil(t, am.ReadOnly)
	require.True(t, *am.ReadOnly, "the agent mounts the log volume read-only")
	svc := conf.only(t, "SERVICE")
	for _, p := range []string{tail.get("DB"), svc.get("storage.path")} {
		require.NotEmpty(t, p)
		require.False(t, under(p, am.ContainerPath), "%s is on the read-only log volume", p)
		var rw bool
		for _, m := range agent.MountPoints {
			rw = rw || under(p, m.ContainerPath) && (m.ReadOnly == nil || !*m.ReadOnly)
		}
		require.True(t, rw, "%s is on no writable volume of the agent: a restart of the agent would read everything again", p)
	}

	// The app starts after the agent (which reads the file from its start) and stops before it.
	var dep string
	for _, d := range app.DependsOn {
		if d.ContainerName == agent.Name {
			dep = d.Condition
		}
	}
	require.Equal(t, "HEALTHY", dep)
	require.NotNil(t, app.StopTimeout)
	stop := vlog.DefaultStopTimeout
	if s, ok := env["VLOG_STOP_TIMEOUT"]; ok {
		var err error
		stop, err = time.ParseDuration(s)
		require.NoError(t, err)
	}
	require.LessOrEqual(t, stop+2*time.Second, time.Duration(*app.StopTimeout)*time.Second)
	for _, name := range []string{"SERVICE", "ENV", "VERSION"} {
		require.NotEmpty(t, env[name], name)
	}
	require.Equal(t, app.Name, env["SERVICE"])
	for _, name := range []string{"FLUENT_HOST", "FLUENT_PORT", "ECS_CONTAINER_METADATA_URI_V4"} {
		require.NotContains(t, env, name)
	}

	// The agent's and the app's stdout go to a log group the execution role may write.
	var exec policy
	decodeStrict(t, filepath.Join("iam", "execution-role-policy.json"), &exec)
	for _, c := range []*sidecarContainer{agent, app} {
		group := c.LogConfiguration.Options["awslogs-group"]
		require.Contains(t, exec.Statement[2].Resource[0], ":log-group:"+group+":", "execution role covers %s", group)
	}

	t.Run("vlog", func(t *testing.T) {
		known := vlog.KnownVariables()
		for name := range env {
			if strings.HasPrefix(name, "VLOG_") {
				require.Contains(t, known, name, "vlog does not know %s", name)
			}
		}
		// vlog accepts the environment as written, with the file in a directory that exists here.
		var environ []string
		for k, v := range env {
			if k == "VLOG_FILE_PATH" {
				v = filepath.Join(t.TempDir(), path.Base(v))
			}
			environ = append(environ, k+"="+v)
		}
		l, err := vlog.New(&vlog.Options{Environ: environ, Writer: io.Discard})
		require.NoError(t, err)
		require.Equal(t, "file", l.Stats().Output)
		require.NoError(t, l.Close(context.Background()))
	})

	t.Run("image", func(t *testing.T) {
		b, err := os.ReadFile(filepath.Join("fluent-bit", "Dockerfile"))
		require.NoError(t, err)
		m := regexp.MustCompile(`(?m)^COPY (\S+)\s+` + regexp.QuoteMeta(sidecarConfPath) + `$`).FindStringSubmatch(string(b))
		if m == nil {
			t.Skipf("fluent-bit/Dockerfile does not copy %s yet: add `COPY %s %s`", sidecarConf, sidecarConf, sidecarConfPath)
		}
		require.Equal(t, sidecarConf, m[1])
	})
}

// TestSidecarConfig checks fluent-bit/sidecar.conf and that its tail input and output are those
// of ../fluent-bit/sidecar.conf, the configuration the gated test runs with a real Fluent Bit.
func TestSidecarConfig(t *testing.T) {
	c := readConf(t, filepath.Join("fluent-bit", sidecarConf))
	svc := c.only(t, "SERVICE")
	require.Equal(t, "1", svc.get("Flush"))
	require.Equal(t, "127.0.0.1", svc.get("HTTP_Listen"), "the monitoring server stays private")
	require.Equal(t, "2020", svc.get("HTTP_Port"), "the health check's port")
	require.Equal(t, "/fluent-bit/parsers/parsers.conf", svc.get("Parsers_File"), "defines the json parser")
	require.Empty(t, c.all("FILTER"), "the tail input parses the lines itself")

	tail := c.only(t, "INPUT")
	require.Equal(t, "json", tail.get("Parser"))
	require.Equal(t, "filesystem", tail.get("storage.type"), "an output outage must not pause the input")
	require.Contains(t, []string{"true", "on"}, strings.ToLower(tail.get("Read_from_Head")))
	require.Contains(t, []string{"true", "on"}, strings.ToLower(tail.get("Skip_Long_Lines")))
	require.NotEmpty(t, tail.get("DB"))
	out := c.only(t, "OUTPUT")
	require.Equal(t, tail.get("Tag"), out.get("Match"))
	require.Equal(t, "http", out.get("Name"))
	require.Equal(t, "json_lines", out.get("Format"))
	require.Equal(t, "false", out.get("json_date_key"))

	// The same settings as the tested configuration, but for the paths, the tag and the parser's
	// name (the image's "json", parsers.conf's "vlog_json": both Format json).
	tested := readConf(t, filepath.Join("..", "fluent-bit", sidecarConf))
	differ := []string{"Path", "DB", "Tag", "Match", "Parser", "Host", "Port"}
	same := func(a, b section) {
		t.Helper()
		for _, kv := range append(a.keys, b.keys...) {
			if !slices.Contains(differ, kv[0]) {
				require.Equal(t, b.get(kv[0]), a.get(kv[0]), "[%s] %s differs from ../fluent-bit/%s", a.name, kv[0], sidecarConf)
			}
		}
	}
	same(tail, tested.only(t, "INPUT"))
	same(out, tested.only(t, "OUTPUT"))
	for _, k := range []string{"storage.sync", "storage.backlog.mem_limit"} {
		require.Equal(t, tested.only(t, "SERVICE").get(k), svc.get(k), k)
	}
}
