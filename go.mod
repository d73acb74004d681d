module go.vlog.dev

go 1.24

require (
	github.com/klauspost/compress v1.18.0
	github.com/stretchr/testify v1.11.1
	github.com/tinylib/msgp v1.6.5
)

require (
	github.com/davecgh/go-spew v1.1.1 // indirect
	github.com/philhofer/fwd v1.2.0 // indirect
	github.com/pmezard/go-difflib v1.0.0 // indirect
	gopkg.in/yaml.v3 v3.0.1 // indirect
)
