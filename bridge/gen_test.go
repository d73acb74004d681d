package bridge

import (
	"go.vlog.dev/handlers/output"
	"go.vlog.dev/handlers/victorialogs"
)

type optsBuffer = output.BufferOptions

func optsVL(urls ...string) victorialogs.Options { return victorialogs.Options{URLs: urls} }
