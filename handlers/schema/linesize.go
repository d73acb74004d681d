package schema

import "errors"

// Line sizes, in bytes without the newline, for the transports that cut long records with
// Truncate (their MaxLineSize option).
const (
	// DefaultMaxLineSize is the largest record sent as is by default: a quarter of
	// VictoriaLogs' default -insert.maxLineSizeBytes, so that a raised limit on our side never
	// meets the server's.
	DefaultMaxLineSize = 64 << 10
	// VictoriaLogsMaxLine is the longest line, without its newline, that VictoriaLogs takes
	// with its default -insert.maxLineSizeBytes (256 KiB): a line of 256 KiB is dropped, and
	// v1.26 also loses the line after it in the same request (seen against the real server by
	// the CloudWatch bridge's gated test).
	VictoriaLogsMaxLine = 256<<10 - 1
)

// CheckMaxLineSize reports whether n is a valid MaxLineSize: 1 KiB to VictoriaLogsMaxLine
// (256 KiB less one byte).
// (Zero, "not set", is resolved to DefaultMaxLineSize before.)
func CheckMaxLineSize(n int) error {
	if n < 1<<10 || n > VictoriaLogsMaxLine {
		return errors.New("want 1 KiB to 256 KiB less one byte (VictoriaLogs drops a line of 256 KiB)")
	}
	return nil
}
