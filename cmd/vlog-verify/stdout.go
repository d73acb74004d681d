package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"
	"time"

	"go.vlog.dev/handlers/schema"
)

// dockerSplit is the line length at which Docker splits a container's output into partial
// messages.
const dockerSplit = 16 << 10

// schemaFields are the fields every vlog record has.
var schemaFields = []string{schema.EventTime, schema.Level, schema.Message, schema.Service, schema.Env, schema.Version}

var (
	// A "docker logs -t" timestamp before the line.
	dockerTimestamp = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d) `)
	levelRE         = regexp.MustCompile(`^(debug|info|warn|error)([+-]\d+)?$`)
)

// stdoutStats accumulates what checkStdout found.
type stdoutStats struct {
	lines, records int
	plain          int
	firstPlain     string
	firstPlainAt   int
	// wrapped counts records whose vlog JSON is a string in "log" (unparsed FireLens output).
	wrapped   int
	missing   map[string]int
	badValues map[string]int
	firstBad  string
	long      int
}

// checkStdout reads a service's output, one record per line, and reports in r.
func checkStdout(r *report, in io.Reader) {
	s := stdoutStats{missing: map[string]int{}, badValues: map[string]int{}}
	br := bufio.NewReaderSize(in, 64<<10)
	for n := 1; ; n++ {
		line, err := br.ReadString('\n')
		if line == "" && err != nil {
			if err != io.EOF {
				r.fail("stdout", "reading stdin: "+err.Error(), "")
				return
			}
			break
		}
		line = strings.TrimRight(line, "\r\n")
		if len(line) >= dockerSplit {
			s.long++
		}
		line = dockerTimestamp.ReplaceAllString(line, "")
		if strings.TrimSpace(line) == "" {
			continue
		}
		s.lines++
		s.line(n, line)
	}
	s.report(r)
}

func (s *stdoutStats) line(n int, line string) {
	var rec map[string]any
	if !strings.HasPrefix(strings.TrimSpace(line), "{") || json.Unmarshal([]byte(line), &rec) != nil {
		s.plain++
		if s.plain == 1 {
			s.firstPlain, s.firstPlainAt = line, n
		}
		return
	}
	s.records++
	if inner, ok := rec["log"].(string); ok && rec["msg"] == nil {
		var m map[string]any
		if json.Unmarshal([]byte(inner), &m) == nil && m["msg"] != nil {
			s.wrapped++
			return
		}
	}
	for _, k := range schemaFields {
		v, ok := rec[k]
		if !ok {
			s.missing[k]++
			continue
		}
		str, isStr := v.(string)
		bad := !isStr
		switch {
		case bad:
		case k == "event_time":
			_, err := time.Parse(time.RFC3339Nano, str)
			bad = err != nil
		case k == "level":
			bad = !levelRE.MatchString(str)
		}
		if bad {
			s.badValues[k]++
			if s.firstBad == "" {
				s.firstBad = fmt.Sprintf("line %d: %s=%v", n, k, v)
			}
		}
	}
}

func (s *stdoutStats) report(r *report) {
	if s.lines == 0 {
		r.fail("stdout", "no lines on stdin", "pipe the service's output in: docker logs <container> 2>&1 | vlog-verify -check-stdout")
		return
	}
	if s.plain == 0 {
		r.ok("stdout-json", "%d lines, all JSON objects", s.lines)
	} else {
		r.fail("stdout-json", fmt.Sprintf("%d of %d lines are plain text, first at line %d: %q", s.plain, s.lines, s.firstPlainAt, snippet(s.firstPlain)),
			"something writes to stdout/stderr besides vlog: call vlog.Setup first thing in main (it also routes the standard log package), and stop libraries from printing on their own; a panic trace is plain text by nature")
	}
	if s.wrapped > 0 {
		r.fail("stdout-parsed", fmt.Sprintf("%d records carry vlog's JSON as a string in \"log\"", s.wrapped),
			"this output went through FireLens without a JSON parser: add the parser filter (Key_Name log, Parser json, Reserve_Data On) of examples/ecs/fluent-bit/stdout.conf to the router")
	}
	if s.records > s.wrapped {
		var problems []string
		for _, k := range schemaFields {
			if n := s.missing[k]; n > 0 {
				problems = append(problems, fmt.Sprintf("%s missing in %d", k, n))
			}
			if n := s.badValues[k]; n > 0 {
				problems = append(problems, fmt.Sprintf("%s malformed in %d", k, n))
			}
		}
		if len(problems) == 0 {
			r.ok("stdout-schema", "%d records have %s", s.records-s.wrapped, strings.Join(schemaFields, ", "))
		} else {
			detail := fmt.Sprintf("%d records: %s", s.records-s.wrapped, strings.Join(problems, ", "))
			if s.firstBad != "" {
				detail += " (first malformed: " + snippet(s.firstBad) + ")"
			}
			fix := "records not written by vlog's handler: log through the *slog.Logger vlog.Setup returns (or slog's default after Setup), not a logger of your own"
			if slices.ContainsFunc([]string{"service", "env"}, func(k string) bool { return s.missing[k] > 0 }) {
				fix += "; set SERVICE and ENV"
			}
			r.fail("stdout-schema", detail, fix)
		}
	}
	if s.long > 0 {
		r.fail("stdout-line-size", fmt.Sprintf("%d lines of 16 KiB or more", s.long),
			"Docker splits such lines into partial messages that arrive as separate, invalid records: keep records small (log an id, not a payload), or reassemble them in the router with a multiline filter (mode partial_message)")
	}
}
