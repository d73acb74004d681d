//go:build linux && (amd64 || arm64)

package file

import (
	"syscall"
	"unsafe"
)

const renameExchange = 0x2 // RENAME_EXCHANGE

// exchange swaps the names a and b atomically (renameat2 with RENAME_EXCHANGE, Linux 3.15 on;
// ext4, xfs, btrfs, tmpfs and overlayfs have it; NFS does not: EINVAL).
func exchange(a, b string) error {
	pa, err := syscall.BytePtrFromString(a)
	if err != nil {
		return err
	}
	pb, err := syscall.BytePtrFromString(b)
	if err != nil {
		return err
	}
	cwd := -100 // AT_FDCWD
	_, _, errno := syscall.Syscall6(sysRenameat2, uintptr(cwd), uintptr(unsafe.Pointer(pa)),
		uintptr(cwd), uintptr(unsafe.Pointer(pb)), renameExchange, 0)
	if errno != 0 {
		return errno
	}
	return nil
}
