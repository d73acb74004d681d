// Command bootstrap is the CloudWatch Logs subscription bridge to VictoriaLogs as a Lambda
// function for the provided.al2023 runtime (a custom runtime runs the executable named
// bootstrap; go build ./cmd/bootstrap gives it that name):
//
//	GOOS=linux GOARCH=arm64 CGO_ENABLED=0 go build -tags lambda.norpc -trimpath -ldflags=-s -o dist/bootstrap ./cmd/bootstrap
//
// It is configured by the function's environment (docs/cloudwatch-bridge.md lists the
// variables) and runs aws-lambda-go's Runtime API loop. An invalid configuration does not
// stop the runtime: every invocation then fails with the configuration error, so the events
// wait in the on-failure queue until the configuration is fixed, and the error shows in the
// function's log, in each failed invocation and in its destination record.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime/debug"
	"strconv"

	"github.com/aws/aws-lambda-go/lambda"

	"go.vlog.dev/bridge"
)

func main() {
	setMemoryLimit()
	lambda.Start(handler())
}

// handler returns the bridge, or, when the configuration is invalid, a handler that fails
// every invocation with the configuration error.
func handler() lambda.Handler {
	opts, err := bridge.OptionsFromEnv(os.Environ())
	b, nerr := bridge.New(opts) // also with err: it reports the other problems
	if err != nil || nerr != nil {
		err = errors.Join(err, nerr)
		if b != nil {
			b.Close()
		}
		cerr := &ConfigError{Err: err}
		fmt.Fprintln(os.Stderr, cerr.Error())
		return failing{cerr}
	}
	return b
}

// ConfigError is the error of every invocation when the function's environment is invalid.
type ConfigError struct{ Err error }

func (e *ConfigError) Error() string {
	return "bridge: invalid configuration (the function's environment variables): " + e.Err.Error()
}

type failing struct{ err error }

func (f failing) Invoke(context.Context, []byte) ([]byte, error) { return nil, f.err }

// setMemoryLimit sets Go's soft memory limit to 3/4 of the function's memory, unless
// GOMEMLIMIT is set: the garbage collector then works harder before the function runs out of
// memory instead of letting the heap double past it.
func setMemoryLimit() {
	if os.Getenv("GOMEMLIMIT") != "" {
		return
	}
	mb, err := strconv.Atoi(os.Getenv("AWS_LAMBDA_FUNCTION_MEMORY_SIZE"))
	if err != nil || mb <= 0 {
		return
	}
	debug.SetMemoryLimit(int64(mb) << 20 * 3 / 4)
}
