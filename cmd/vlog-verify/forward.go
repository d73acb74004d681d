package main

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"time"
)

// The Fluent forward protocol v1, only as much as one test record needs: a Message
// [tag, time, record] or, asking for an acknowledgement, [tag, time, record, {"chunk": id}],
// to which the server answers {"ack": id}. The time is an EventTime (msgpack ext type 0:
// seconds and nanoseconds, big endian uint32 each).

// field is one key and string value of a record, in order.
type field struct{ k, v string }

// forwardMessage encodes one Message-mode event; chunk "" means no option.
func forwardMessage(tag string, t time.Time, record []field, chunk string) []byte {
	n := 3
	if chunk != "" {
		n = 4
	}
	b := []byte{0x90 | byte(n)}
	b = appendStr(b, tag)
	b = append(b, 0xd7, 0x00)
	b = binary.BigEndian.AppendUint32(b, uint32(t.Unix()))
	b = binary.BigEndian.AppendUint32(b, uint32(t.Nanosecond()))
	b = appendMapHeader(b, len(record))
	for _, f := range record {
		b = appendStr(b, f.k)
		b = appendStr(b, f.v)
	}
	if chunk != "" {
		b = appendMapHeader(b, 1)
		b = appendStr(b, "chunk")
		b = appendStr(b, chunk)
	}
	return b
}

func appendMapHeader(b []byte, n int) []byte {
	if n < 16 {
		return append(b, 0x80|byte(n))
	}
	return binary.BigEndian.AppendUint16(append(b, 0xde), uint16(n))
}

func appendStr(b []byte, s string) []byte {
	switch n := len(s); {
	case n < 32:
		b = append(b, 0xa0|byte(n))
	case n < 1<<8:
		b = append(b, 0xd9, byte(n))
	case n < 1<<16:
		b = binary.BigEndian.AppendUint16(append(b, 0xda), uint16(n))
	default:
		b = binary.BigEndian.AppendUint32(append(b, 0xdb), uint32(n))
	}
	return append(b, s...)
}

// errNotAck is a server answer that is not the expected acknowledgement.
var errNotAck = errors.New("the answer is not a forward-protocol ack")

// maxAckString bounds a string read from an ack.
const maxAckString = 1024

// readAck reads the server's answer {"ack": id} and returns id.
func readAck(r *bufio.Reader) (string, error) {
	h, err := r.ReadByte()
	if err != nil {
		return "", err
	}
	var n int
	switch {
	case h&0xf0 == 0x80:
		n = int(h & 0x0f)
	case h == 0xde:
		var buf [2]byte
		if _, err := io.ReadFull(r, buf[:]); err != nil {
			return "", err
		}
		n = int(binary.BigEndian.Uint16(buf[:]))
	default:
		return "", fmt.Errorf("%w (first byte 0x%02x)", errNotAck, h)
	}
	ack, found := "", false
	for range n {
		k, err := readStr(r)
		if err != nil {
			return "", err
		}
		v, err := readStr(r)
		if err != nil {
			return "", err
		}
		if k == "ack" {
			ack, found = v, true
		}
	}
	if !found {
		return "", fmt.Errorf("%w (no ack key)", errNotAck)
	}
	return ack, nil
}

// readStr reads a msgpack str or bin.
func readStr(r *bufio.Reader) (string, error) {
	h, err := r.ReadByte()
	if err != nil {
		return "", err
	}
	var n int
	size := func(k int) error {
		buf := make([]byte, k)
		if _, err := io.ReadFull(r, buf); err != nil {
			return err
		}
		for _, c := range buf {
			n = n<<8 | int(c)
		}
		return nil
	}
	switch {
	case h&0xe0 == 0xa0:
		n = int(h & 0x1f)
	case h == 0xd9 || h == 0xc4:
		err = size(1)
	case h == 0xda || h == 0xc5:
		err = size(2)
	case h == 0xdb || h == 0xc6:
		err = size(4)
	default:
		return "", fmt.Errorf("%w (a value of type 0x%02x where a string was expected)", errNotAck, h)
	}
	if err != nil {
		return "", err
	}
	if n > maxAckString {
		return "", fmt.Errorf("%w (a %d-byte string)", errNotAck, n)
	}
	buf := make([]byte, n)
	if _, err := io.ReadFull(r, buf); err != nil {
		return "", err
	}
	return string(buf), nil
}

// forwardError tells at which step sending the test record failed.
type forwardError struct {
	step string // "dial", "write", "ack" or "closed"
	err  error
}

func (e *forwardError) Error() string {
	if e.step == "dial" {
		return e.err.Error() // "dial tcp ...: connection refused" says it already
	}
	return e.step + ": " + e.err.Error()
}
func (e *forwardError) Unwrap() error { return e.err }

// sendForward sends msg to addr within timeout. With chunk != "" it waits for the matching
// ack; without, it waits briefly for the server to close the connection on it, which is how a
// forward server rejects a message it cannot take (malformed, too large, shared key missing).
func sendForward(addr string, msg []byte, chunk string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	conn, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return &forwardError{"dial", err}
	}
	defer conn.Close()
	_ = conn.SetDeadline(deadline)
	if _, err := conn.Write(msg); err != nil {
		return &forwardError{"write", err}
	}
	r := bufio.NewReader(conn)
	if chunk == "" {
		// Nothing is expected back; an immediate close or reset means the record was refused.
		_ = conn.SetReadDeadline(minTime(deadline, time.Now().Add(300*time.Millisecond)))
		_, err := r.ReadByte()
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return nil
		}
		if err == nil {
			return &forwardError{"closed", errors.New("the server answered a message that asked for no answer")}
		}
		return &forwardError{"closed", err}
	}
	got, err := readAck(r)
	if err != nil {
		return &forwardError{"ack", err}
	}
	if got != chunk {
		return &forwardError{"ack", fmt.Errorf("%w (ack %q for chunk %q)", errNotAck, got, chunk)}
	}
	return nil
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
