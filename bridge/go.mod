module go.vlog.dev/bridge

go 1.24

replace go.vlog.dev => ../

require (
	github.com/aws/aws-lambda-go v1.54.0
	github.com/awslabs/goformation/v7 v7.14.9
	github.com/klauspost/compress v1.18.0
	github.com/xeipuuv/gojsonschema v1.2.0
	go.vlog.dev v0.0.0-00010101000000-000000000000
)

require (
	github.com/davecgh/go-spew v1.1.1 // indirect
	github.com/philhofer/fwd v1.2.0 // indirect
	github.com/pmezard/go-difflib v1.0.0 // indirect
	github.com/stretchr/testify v1.11.1 // indirect
	github.com/tinylib/msgp v1.6.5 // indirect
	github.com/xeipuuv/gojsonpointer v0.0.0-20190905194746-02993c407bfb // indirect
	github.com/xeipuuv/gojsonreference v0.0.0-20180127040603-bd5ef7bd5415 // indirect
	gopkg.in/yaml.v3 v3.0.1 // indirect
)
