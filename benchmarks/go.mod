module go.vlog.dev/benchmarks

go 1.24

require (
	github.com/fluent/fluent-logger-golang v1.10.2
	github.com/klauspost/compress v1.18.0
	github.com/phuslu/log v1.0.121
	github.com/rs/zerolog v1.35.1
	github.com/tinylib/msgp v1.6.5
	go.uber.org/zap v1.28.0
	go.vlog.dev v0.0.0
)

require (
	github.com/mattn/go-colorable v0.1.14 // indirect
	github.com/mattn/go-isatty v0.0.20 // indirect
	github.com/philhofer/fwd v1.2.0 // indirect
	go.uber.org/multierr v1.10.0 // indirect
	golang.org/x/sys v0.29.0 // indirect
)

replace go.vlog.dev => ../
