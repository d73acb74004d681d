//go:build unix

package forward

import "syscall"

// peek looks at the socket without reading or blocking: whether data waits, and whether the
// peer closed or reset the connection.
func peek(rc syscall.RawConn) (data, closed bool) {
	var buf [1]byte
	_ = rc.Read(func(fd uintptr) bool {
		n, _, err := syscall.Recvfrom(int(fd), buf[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		switch {
		case err == syscall.EAGAIN || err == syscall.EINTR:
		case err != nil || n == 0:
			closed = true
		default:
			data = true
		}
		return true
	})
	return data, closed
}
