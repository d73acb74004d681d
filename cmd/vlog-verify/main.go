// Command vlog-verify checks, from inside a service's container, that the path its logs take to
// VictoriaLogs works, and says how to fix what does not.
//
//	go install go.vlog.dev/cmd/vlog-verify@latest
//
// It reads the environment vlog reads (SERVICE, ENV, VERSION, VLOG_*, FLUENT_HOST,
// FLUENT_PORT, VICTORIALOGS_URL, ECS_CONTAINER_METADATA_URI_V4), so run it where the service
// runs, with the same environment; on ECS with ECS Exec:
//
//	aws ecs execute-command --cluster prod --task <task id> --container order-api \
//	    --interactive --command "vlog-verify -ack -roundtrip"
//
// Checks, one report line each (OK, FAIL with the likely fix, or SKIP when not configured):
//
//	config               the vlog settings are valid; SERVICE and ENV are set; the output auto picks
//	ecs-metadata         the ECS task metadata endpoint answers (when ECS_CONTAINER_METADATA_URI_V4 is set)
//	router               the FireLens router at FLUENT_HOST:FLUENT_PORT accepts a TCP connection and
//	                     one record in the Fluent forward protocol (-ack: and acknowledges it)
//	victorialogs         GET $VICTORIALOGS_URL/health answers OK
//	victorialogs-roundtrip (-roundtrip) a uniquely tagged record written to /insert/jsonline
//	                     can be read back through /select/logsql/query
//	router-roundtrip     (-roundtrip, with a router and VICTORIALOGS_URL) the record sent to the
//	                     router reaches VictoriaLogs
//
// With -check-stdout it instead reads the service's output on stdin (docker logs, a log file)
// and reports lines that are not JSON, records that lack schema fields, and lines long enough
// for Docker to split:
//
//	docker logs <container> 2>&1 | vlog-verify -check-stdout
//
// The exit status is 0 when nothing failed, 1 when a check failed, 2 on a usage error.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"time"
)

func main() {
	os.Exit(run(os.Args[1:], os.Environ(), os.Stdin, os.Stdout, os.Stderr))
}

// Exit statuses.
const (
	exitOK    = 0
	exitFail  = 1
	exitUsage = 2
)

// options are the command-line flags.
type options struct {
	timeout     time.Duration
	wait        time.Duration
	ack         bool
	roundtrip   bool
	checkStdout bool
	selectURL   string
	tag         string
}

// run is the command: args without the program name, the environment in os.Environ form.
func run(args, environ []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("vlog-verify", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o options
	fs.DurationVar(&o.timeout, "timeout", 3*time.Second, "time limit of each network check")
	fs.DurationVar(&o.wait, "wait", 15*time.Second, "how long -roundtrip waits for the test record to become searchable")
	fs.BoolVar(&o.ack, "ack", false, "ask the router to acknowledge the test record (forward protocol chunk/ack)")
	fs.BoolVar(&o.roundtrip, "roundtrip", false, "write a test record to VictoriaLogs (and through the router) and query it back")
	fs.BoolVar(&o.checkStdout, "check-stdout", false, "check the service's output read from stdin instead of the destinations")
	fs.StringVar(&o.selectURL, "select-url", "", "base URL for queries when it differs from VICTORIALOGS_URL (vlselect in cluster mode)")
	fs.StringVar(&o.tag, "tag", "", `forward-protocol tag of the test record (default "<container>-firelens-vlog-verify")`)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: vlog-verify [-ack] [-roundtrip] [-timeout 3s] [-wait 15s] [-select-url URL] [-tag TAG]")
		fmt.Fprintln(stderr, "       vlog-verify -check-stdout < output")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return exitOK
		}
		return exitUsage
	}
	usage := func(msg string) int {
		fmt.Fprintln(stderr, "vlog-verify:", msg)
		fs.Usage()
		return exitUsage
	}
	switch {
	case fs.NArg() > 0:
		return usage(fmt.Sprintf("unexpected argument %q", fs.Arg(0)))
	case o.timeout <= 0 || o.wait <= 0:
		return usage("-timeout and -wait must be positive")
	case o.checkStdout && (o.ack || o.roundtrip || o.selectURL != "" || o.tag != ""):
		return usage("-check-stdout reads stdin only; it takes no other flag")
	}

	r := &report{}
	if o.checkStdout {
		checkStdout(r, stdin)
	} else {
		newVerifier(o, environ, r).run()
	}
	r.print(stdout)
	if r.failed() {
		return exitFail
	}
	return exitOK
}
