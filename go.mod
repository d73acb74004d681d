module go.vlog.dev

go 1.24
