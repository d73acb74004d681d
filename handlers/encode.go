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
	"unicode/utf8"
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

const hexDigits = "0123456789abcdef"

// safe[c] is true for the ASCII bytes that appear in a JSON string as they are.
var safe = func() (t [utf8.RuneSelf]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// appendString appends s as a quoted JSON string.
func appendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	dst = appendEscaped(dst, s)
	return append(dst, '"')
}

// appendEscaped appends the contents of a JSON string for s, without quotes. Control characters
// (newlines included) are escaped, so a record stays on one line; invalid UTF-8 becomes U+FFFD;
// U+2028 and U+2029 are escaped for JavaScript consumers.
func appendEscaped(dst []byte, s string) []byte {
	start := 0
	for i := 0; i < len(s); {
		// Fast path: skip 8 bytes at a time while none of them needs a look (a control
		// character, '"', '\\' or a non-ASCII byte).
		for i+8 <= len(s) && !needsEscape8(load64(s, i)) {
			i += 8
		}
		if i >= len(s) {
			break
		}
		c := s[i]
		if c < utf8.RuneSelf {
			if safe[c] {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	return append(dst, s[start:]...)
}

// load64 loads s[i:i+8] as a little-endian word (the compiler combines the loads).
func load64(s string, i int) uint64 {
	_ = s[i+7]
	return uint64(s[i]) | uint64(s[i+1])<<8 | uint64(s[i+2])<<16 | uint64(s[i+3])<<24 |
		uint64(s[i+4])<<32 | uint64(s[i+5])<<40 | uint64(s[i+6])<<48 | uint64(s[i+7])<<56
}

// needsEscape8 reports whether any byte of the word x is below 0x20, '"', '\\' or 0x80 and
// above: the bytes appendEscaped must look at one by one.
func needsEscape8(x uint64) bool {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	hasZero := func(v uint64) uint64 { return (v - ones) & ^v & highs }
	return (x&highs)|((x-0x20*ones) & ^x & highs)|hasZero(x^('"'*ones))|hasZero(x^('\\'*ones)) != 0
}

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

// safeCall runs f, which returns a string, and turns a panic into a placeholder.
func safeCall(f func() string) (s string) {
	defer func() {
		if p := recover(); p != nil {
			s = panicString(p)
		}
	}()
	return f()
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
