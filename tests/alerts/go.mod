module go.vlog.dev/tests/alerts

go 1.24.2

replace go.vlog.dev => ../../

require (
	github.com/VictoriaMetrics/metricsql v0.84.6
	go.vlog.dev v0.0.0-00010101000000-000000000000
	gopkg.in/yaml.v3 v3.0.1
)

require (
	github.com/VictoriaMetrics/metrics v1.35.3 // indirect
	github.com/klauspost/compress v1.18.0 // indirect
	github.com/valyala/fastrand v1.1.0 // indirect
	github.com/valyala/histogram v1.2.0 // indirect
	golang.org/x/sys v0.32.0 // indirect
)
