module go.vlog.dev/tests/forward

go 1.24.0

replace go.vlog.dev => ../../

require (
	github.com/IBM/fluent-forward-go v0.4.0
	github.com/tinylib/msgp v1.6.5
	go.vlog.dev v0.0.0-00010101000000-000000000000
)

require (
	github.com/google/uuid v1.6.0 // indirect
	github.com/klauspost/compress v1.18.0 // indirect
	github.com/philhofer/fwd v1.2.0 // indirect
)
