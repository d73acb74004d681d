//go:build !unix

package forward

import "syscall"

// peek cannot look at a socket without reading on this platform: the connection is assumed
// alive, and a router that closed it is noticed by the next write or ack.
func peek(syscall.RawConn) (data, closed bool) { return false, false }
