//go:build !(linux && (amd64 || arm64))

package file

import "syscall"

// exchange is not available here: rotation renames, then creates (see Transport.rotate).
func exchange(a, b string) error { return syscall.EINVAL }
