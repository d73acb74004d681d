package vlog_test

import (
	"context"
	"fmt"
	"log"
	"log/slog"
	"regexp"

	"go.vlog.dev/vlog"
)

// timeless prints each record without its event_time, so the example output is stable.
type timeless struct{}

var eventTime = regexp.MustCompile(`"event_time":"[^"]*",`)

func (timeless) Write(p []byte) (int, error) {
	fmt.Print(eventTime.ReplaceAllString(string(p), ""))
	return len(p), nil
}

func ExampleSetup() {
	defer slog.SetDefault(slog.Default()) // restored for the other examples and tests

	logger, err := vlog.Setup(&vlog.Options{
		Writer:  timeless{},
		Environ: []string{"SERVICE=order-api", "ENV=prod", "VERSION=1.4.2", "VLOG_LEVEL=debug"},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer logger.Close(context.Background())

	ctx := vlog.WithRequestID(context.Background(), "req-1")
	slog.InfoContext(ctx, "order created", "order_id", "ord-7", "amount", 19.99)
	slog.Debug("cache miss", slog.Group("cache", "key", "user:42"))
	log.Print("from the standard log package")
	// Output:
	// {"level":"info","msg":"order created","service":"order-api","env":"prod","version":"1.4.2","request_id":"req-1","order_id":"ord-7","amount":19.99}
	// {"level":"debug","msg":"cache miss","service":"order-api","env":"prod","version":"1.4.2","cache":{"key":"user:42"}}
	// {"level":"info","msg":"from the standard log package","service":"order-api","env":"prod","version":"1.4.2"}
}

func ExampleNew_invalidEnvironment() {
	_, err := vlog.New(&vlog.Options{Environ: []string{"VLOG_LEVEL=verbose", "VLOG_LEVLE=debug"}})
	fmt.Println(err)
	// Output:
	// vlog: invalid VLOG_LEVLE="debug": unknown vlog variable; did you mean VLOG_LEVEL?
	// vlog: invalid VLOG_LEVEL="verbose": want debug, info, warn or error, optionally with an offset such as warn+2
}
