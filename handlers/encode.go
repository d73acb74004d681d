package handlers

import (
	"encoding"
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"strconv"
	"sync/atomic"
	"time"

	"go.vlog.dev/internal/jsonstr"
)

// This file holds the append-style JSON encoders. They never fail and never panic: every input
// produces valid JSON (RFC 8259) on one line. The deliberate differences from encoding/json are:
//   - invalid UTF-8 becomes U+FFFD (encoding/json does the same), HTML characters are not escaped;
//   - NaN, +Inf and -Inf are the strings "NaN", "+Inf", "-Inf" (encoding/json fails);
//   - an error is its message; a value whose LogValue, MarshalJSON, MarshalText, String or Error
//     panics becomes the string "!PANIC: <value>"; one that cannot be marshaled becomes
//     "!ERROR: <reason>";
//   - times are RFC 3339 in UTC with exactly nine fractional digits;
//   - groups nested deeper than maxDepth become the string "!DEPTH".

// maxDepth caps the nesting of groups (and of LogValuers resolving to groups) in one record.
const maxDepth = 32

// maxAttrs caps the attributes encoded for one record (or one WithAttrs call), groups' members
// included: groups that share members (a DAG of slog.GroupValues) could otherwise expand to
// billions of attributes within the depth cap. The attributes past the cap become "!LIMIT".
const maxAttrs = 1 << 16

// appendString appends s as a quoted JSON string.
func appendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	dst = jsonstr.AppendEscaped(dst, s, false)
	return append(dst, '"')
}

// appendEscaped appends the contents of a JSON string for s, without quotes (see
// jsonstr.AppendEscaped: control characters escaped, so a record stays on one line; invalid
// UTF-8 as U+FFFD; HTML characters kept).
func appendEscaped(dst []byte, s string) []byte { return jsonstr.AppendEscaped(dst, s, false) }

// appendFloat appends f the way encoding/json formats a float64, except that NaN and the
// infinities become strings.
func appendFloat(dst []byte, f float64) []byte {
	switch {
	case math.IsNaN(f):
		return append(dst, `"NaN"`...)
	case math.IsInf(f, 1):
		return append(dst, `"+Inf"`...)
	case math.IsInf(f, -1):
		return append(dst, `"-Inf"`...)
	}
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	dst = strconv.AppendFloat(dst, f, format, -1, 64)
	if format == 'e' {
		// Clean up e-09 to e-9, as encoding/json does.
		if n := len(dst); n >= 4 && dst[n-4] == 'e' && dst[n-3] == '-' && dst[n-2] == '0' {
			dst[n-2] = dst[n-1]
			dst = dst[:n-1]
		}
	}
	return dst
}

// appendTime appends t as a quoted RFC 3339 timestamp in UTC with exactly nine fractional digits,
// e.g. "2026-11-22T02:55:54.000000001Z". Years outside 0..9999 fall back to time.RFC3339Nano.
func appendTime(dst []byte, t time.Time) []byte {
	t = t.UTC()
	year, month, day := t.Date()
	if year < 0 || year > 9999 {
		dst = append(dst, '"')
		dst = t.AppendFormat(dst, time.RFC3339Nano)
		return append(dst, '"')
	}
	hour, minute, sec := t.Clock()
	ns := t.Nanosecond()
	var b [32]byte
	b[0] = '"'
	b[1] = byte('0' + year/1000)
	b[2] = byte('0' + year/100%10)
	b[3] = byte('0' + year/10%10)
	b[4] = byte('0' + year%10)
	b[5] = '-'
	b[6] = byte('0' + int(month)/10)
	b[7] = byte('0' + int(month)%10)
	b[8] = '-'
	b[9] = byte('0' + day/10)
	b[10] = byte('0' + day%10)
	b[11] = 'T'
	b[12] = byte('0' + hour/10)
	b[13] = byte('0' + hour%10)
	b[14] = ':'
	b[15] = byte('0' + minute/10)
	b[16] = byte('0' + minute%10)
	b[17] = ':'
	b[18] = byte('0' + sec/10)
	b[19] = byte('0' + sec%10)
	b[20] = '.'
	for i := 29; i >= 21; i-- {
		b[i] = byte('0' + ns%10)
		ns /= 10
	}
	b[30] = 'Z'
	b[31] = '"'
	return append(dst, b[:]...)
}

// eventTimeCache holds the encoding of the date and time up to the second of the last record's
// time: records come in bursts within one second, so appendRecordTime copies that prefix and
// writes only the nanoseconds.
type eventTimeCache struct {
	sec    int64    // Unix seconds
	prefix [21]byte // `"2026-11-22T02:55:54.`
}

var lastEventTime atomic.Pointer[eventTimeCache]

// appendRecordTime is appendTime for the record's own time, with the per-second cache.
func appendRecordTime(dst []byte, t time.Time) []byte {
	sec := t.Unix()
	c := lastEventTime.Load()
	if c == nil || c.sec != sec {
		var b [32]byte
		enc := appendTime(b[:0], t)
		if len(enc) != 32 {
			return append(dst, enc...) // a year outside 0..9999
		}
		c = &eventTimeCache{sec: sec}
		copy(c.prefix[:], enc[:21])
		lastEventTime.Store(c)
	}
	dst = append(dst, c.prefix[:]...)
	ns := t.Nanosecond()
	var b [11]byte
	for i := 8; i >= 0; i-- {
		b[i] = byte('0' + ns%10)
		ns /= 10
	}
	b[9], b[10] = 'Z', '"'
	return append(dst, b[:]...)
}

// appendLevel appends the lower-case name of l as a quoted string: debug, info, warn, error,
// with an offset when l lies between them ("warn+2", "debug-1"), like slog.Level.String.
func appendLevel(dst []byte, l slog.Level) []byte {
	var name string
	var base slog.Level
	switch {
	case l < slog.LevelInfo:
		name, base = "debug", slog.LevelDebug
	case l < slog.LevelWarn:
		name, base = "info", slog.LevelInfo
	case l < slog.LevelError:
		name, base = "warn", slog.LevelWarn
	default:
		name, base = "error", slog.LevelError
	}
	dst = append(dst, '"')
	dst = append(dst, name...)
	if d := l - base; d != 0 {
		if d > 0 {
			dst = append(dst, '+')
		}
		dst = strconv.AppendInt(dst, int64(d), 10)
	}
	return append(dst, '"')
}

// panicString formats a recovered panic value for a placeholder. It recovers from a value whose
// own formatting panics.
func panicString(p any) (s string) {
	defer func() {
		if recover() != nil {
			s = "!PANIC: (unprintable panic value)"
		}
	}()
	return "!PANIC: " + fmt.Sprint(p)
}

// errorString returns err.Error(), or a placeholder when Error panics (a typed nil pointer, say).
func errorString(err error) (s string) {
	defer func() {
		if p := recover(); p != nil {
			s = panicString(p)
		}
	}()
	return err.Error()
}

// marshalAny returns the JSON encoding of v for the values that have no fast path, with the
// method the value implements taking precedence: json.Marshaler, encoding.TextMarshaler,
// fmt.Stringer, then encoding/json's reflection. ok is false when v must be written as the
// string s instead (a placeholder, a text or a String result). marshal replaces json.Marshal
// when not nil.
func marshalAny(v any, marshal func(any) ([]byte, error)) (js []byte, s string, ok bool) {
	defer func() {
		if p := recover(); p != nil {
			js, s, ok = nil, panicString(p), false
		}
	}()
	switch x := v.(type) {
	case json.Marshaler:
		// json.Marshal validates and compacts what MarshalJSON returns.
	case encoding.TextMarshaler:
		text, err := x.MarshalText()
		if err != nil {
			return nil, "!ERROR: " + errorString(err), false
		}
		return nil, string(text), false
	case fmt.Stringer:
		return nil, x.String(), false
	}
	if marshal == nil {
		marshal = json.Marshal
	}
	js, err := marshal(v)
	if err != nil {
		return nil, "!ERROR: " + errorString(err), false
	}
	return js, "", true
}
