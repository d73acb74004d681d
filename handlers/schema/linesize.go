package schema

import "errors"

// Line sizes, in bytes without the newline, for the transports that cut long records with
// Truncate (their MaxLineSize option).
const (
	// DefaultMaxLineSize is the largest record sent as is by default: a quarter of
	// VictoriaLogs' default -insert.maxLineSizeBytes, so that a raised limit on our side never
	// meets the server's.
	DefaultMaxLineSize = 64 << 10
	// VictoriaLogsMaxLine is VictoriaLogs' default -insert.maxLineSizeBytes: a longer line is
	// dropped (and v1.26 also loses the lines after it in the same request).
	VictoriaLogsMaxLine = 256 << 10
)

// CheckMaxLineSize reports whether n is a valid MaxLineSize: 1 KiB to VictoriaLogsMaxLine.
// (Zero, "not set", is resolved to DefaultMaxLineSize before.)
func CheckMaxLineSize(n int) error {
	if n < 1<<10 || n > VictoriaLogsMaxLine {
		return errors.New("want 1 KiB to 256 KiB")
	}
	return nil
}
