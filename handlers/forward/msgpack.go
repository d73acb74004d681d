package forward

import (
	"encoding/binary"
	"errors"
	"math"
	"math/bits"
	"strconv"
	"time"
	"unicode/utf16"
	"unicode/utf8"

	"go.vlog.dev/handlers/schema"

	"go.vlog.dev/internal/jsonstr"
)

// This file holds the JSON -> msgpack transcoder used by the forward transport: records reach
// the transport as JSON lines (the canonical encoding) and leave it as msgpack maps, without
// going through reflection, interface values or maps. The mapping:
//   - objects become maps, arrays become arrays, in the order of the input;
//   - strings are unescaped (\uXXXX with surrogate pairs; a lone surrogate or invalid UTF-8
//     becomes U+FFFD, as encoding/json decodes them) and written as str;
//   - a number without fraction or exponent that fits int64 (or uint64) becomes the smallest
//     msgpack int (positive values as uint, the msgpack convention); any other number becomes
//     float64;
//   - true, false and null become bool and nil.
//
// The transcoder is append-style and allocates nothing: headers whose size depends on a count
// or a length are fixed up once the count is known, by moving the bytes written after them.

// maxJSONDepth bounds the nesting of the JSON transcoded; deeper input is rejected (the handler
// itself never nests deeper than maxDepth groups).
const maxJSONDepth = 100

var errJSONSyntax = errors.New("vlog: invalid JSON record")

// eventTime is a record's time as the forward protocol carries it: seconds and nanoseconds.
type eventTime struct {
	sec, nsec uint32
	ok        bool
}

// plainPrefix returns the length of the longest prefix of b made of bytes that stand for
// themselves in a JSON string (jsonstr.Plain), looking at 8 bytes at a time.
func plainPrefix(b []byte) int {
	i := 0
	for ; i+8 <= len(b); i += 8 {
		if m := jsonstr.Special8(binary.LittleEndian.Uint64(b[i:])); m != 0 {
			return i + bits.TrailingZeros64(m)/8
		}
	}
	for i < len(b) && jsonstr.Plain(b[i]) {
		i++
	}
	return i
}

// jsonTranscoder turns one JSON value into msgpack. It is not safe for concurrent use; the
// forward transport keeps one per connection.
type jsonTranscoder struct {
	// time is the parsed value of the top-level event_time string, if any.
	time eventTime
}

// appendRecord appends the msgpack encoding of the JSON object at the start of in to dst.
// It returns the new dst, the rest of in after the object and any whitespace (newlines
// included) that follows it, and the record's event_time if the object has a parsable one. On
// invalid input it returns an error and dst unchanged.
func (t *jsonTranscoder) appendRecord(dst, in []byte) ([]byte, []byte, eventTime, error) {
	pos := skipSpace(in, 0)
	if pos >= len(in) || in[pos] != '{' {
		return dst, in, eventTime{}, errJSONSyntax
	}
	t.time = eventTime{}
	out, pos, ok := t.object(dst, in, pos, 0)
	if !ok {
		return dst, in, eventTime{}, errJSONSyntax
	}
	return out, in[skipSpace(in, pos):], t.time, nil
}

func isSpace(c byte) bool { return c == ' ' || c == '\n' || c == '\r' || c == '\t' }

// skipSpace returns the position of the first byte at or after pos that is not whitespace.
func skipSpace(in []byte, pos int) int {
	for pos < len(in) && isSpace(in[pos]) {
		pos++
	}
	return pos
}

// The transcoder's hot path is object's loop over the members of a flat object of short
// strings and small numbers: it transcodes those without calls (a call costs the spills of
// all the live registers, more than the work itself), and leaves everything else to value,
// array and the general appendJSONString and appendJSONNumber.
//
// Short strings: a string that is plain (printable ASCII without escapes) and shorter than 32
// bytes becomes a fixstr. The fast path copies it 8 bytes at a time while looking for its
// end, into the capacity of out after the one-byte header; the bytes copied past its end are
// cut off again. It needs 32 bytes of input after the opening quote and 33 bytes of capacity
// in out, and is written out twice in object (keys and values) and once in appendJSONStringAt.

// object appends the msgpack map of the JSON object at in[pos] ('{') to out and returns the new
// out and the position after the object, or false if the input is not valid JSON (the
// contents of out past its original length are then garbage). depth counts the enclosing
// containers.
func (t *jsonTranscoder) object(out, in []byte, pos, depth int) ([]byte, int, bool) {
	if depth >= maxJSONDepth {
		return out, pos, false
	}
	in = in[:len(in):len(in)] // one value less to keep: cap(in) is len(in)
	hdr := len(out)
	out = append(out, 0x80) // fixmap; fixed up at the end
	pos++
	if pos < len(in) && in[pos] != '"' {
		pos = skipSpace(in, pos)
		if pos < len(in) && in[pos] == '}' {
			return out, pos + 1, true
		}
	}
	n := 0
	var ok bool
	for {
		// The key.
		if pos >= len(in) || in[pos] != '"' {
			pos = skipSpace(in, pos)
			if pos >= len(in) || in[pos] != '"' {
				return out, pos, false
			}
		}
		start, at, plain := pos+1, len(out), 0
		if len(in)-start >= 32 && cap(out)-at >= 33 {
			src := (*[32]byte)(in[start:])
			dst := (*[33]byte)(out[at : at+33])
			x := binary.LittleEndian.Uint64(src[0:8])
			binary.LittleEndian.PutUint64(dst[1:9], x)
			m, k := jsonstr.Special8(x), 0
			if m == 0 {
				x = binary.LittleEndian.Uint64(src[8:16])
				binary.LittleEndian.PutUint64(dst[9:17], x)
				m, k = jsonstr.Special8(x), 8
				if m == 0 {
					x = binary.LittleEndian.Uint64(src[16:24])
					binary.LittleEndian.PutUint64(dst[17:25], x)
					m, k = jsonstr.Special8(x), 16
					if m == 0 {
						x = binary.LittleEndian.Uint64(src[24:32])
						binary.LittleEndian.PutUint64(dst[25:33], x)
						m, k = jsonstr.Special8(x), 24
					}
				}
			}
			plain = 32
			if m != 0 {
				k += bits.TrailingZeros64(m) / 8
				if src[k&31] == '"' {
					dst[0] = 0xa0 | byte(k)
					out = out[:at+1+k]
					pos = start + k + 1
					goto keyDone
				}
				plain = k
			}
		}
		if out, pos, ok = appendJSONString(out, in, start, start+plain); !ok {
			return out, pos, false
		}
	keyDone:
		if pos >= len(in) || in[pos] != ':' {
			pos = skipSpace(in, pos)
			if pos >= len(in) || in[pos] != ':' {
				return out, pos, false
			}
		}
		pos++

		// The value.
		if pos-start == len(schema.EventTime)+2 && depth == 0 && string(in[start:pos-2]) == schema.EventTime {
			// The key "event_time", unescaped, at the top level: its value is the record's
			// time (if it is a string, parseEventTime tells).
			at = len(out)
			if out, pos, ok = t.value(out, in, pos, depth+1); !ok {
				return out, pos, false
			}
			t.time = parseEventTime(out[at:])
		} else if pos >= len(in) {
			return out, pos, false
		} else if c := in[pos]; c == '"' {
			start, at, plain = pos+1, len(out), 0
			if len(in)-start >= 32 && cap(out)-at >= 33 {
				src := (*[32]byte)(in[start:])
				dst := (*[33]byte)(out[at : at+33])
				x := binary.LittleEndian.Uint64(src[0:8])
				binary.LittleEndian.PutUint64(dst[1:9], x)
				m, k := jsonstr.Special8(x), 0
				if m == 0 {
					x = binary.LittleEndian.Uint64(src[8:16])
					binary.LittleEndian.PutUint64(dst[9:17], x)
					m, k = jsonstr.Special8(x), 8
					if m == 0 {
						x = binary.LittleEndian.Uint64(src[16:24])
						binary.LittleEndian.PutUint64(dst[17:25], x)
						m, k = jsonstr.Special8(x), 16
						if m == 0 {
							x = binary.LittleEndian.Uint64(src[24:32])
							binary.LittleEndian.PutUint64(dst[25:33], x)
							m, k = jsonstr.Special8(x), 24
						}
					}
				}
				plain = 32
				if m != 0 {
					k += bits.TrailingZeros64(m) / 8
					if src[k&31] == '"' {
						dst[0] = 0xa0 | byte(k)
						out = out[:at+1+k]
						pos = start + k + 1
						goto valueDone
					}
					plain = k
				}
			}
			if out, pos, ok = appendJSONString(out, in, start, start+plain); !ok {
				return out, pos, false
			}
		} else if d := c - '0'; d < 10 {
			// A non-negative number; fast path: an integer of at most 18 digits.
			u, j := uint64(d), pos+1
			for ; j < len(in); j++ {
				e := in[j] - '0'
				if e > 9 {
					break
				}
				u = u*10 + uint64(e)
			}
			if j-pos > 18 || d == 0 && j-pos > 1 || j < len(in) && (in[j] == '.' || in[j]|0x20 == 'e') {
				if out, pos, ok = appendJSONNumber(out, in, pos); !ok {
					return out, pos, false
				}
			} else {
				if u < 128 {
					out = append(out, byte(u))
				} else {
					out = appendMsgpackUint(out, u)
				}
				pos = j
			}
		} else if out, pos, ok = t.value(out, in, pos, depth+1); !ok {
			return out, pos, false
		}
	valueDone:
		n++

		// A comma or the end of the object.
		if pos >= len(in) || isSpace(in[pos]) {
			pos = skipSpace(in, pos)
			if pos >= len(in) {
				return out, pos, false
			}
		}
		c := in[pos]
		pos++
		if c == ',' {
			continue
		}
		if c != '}' {
			return out, pos, false
		}
		if n < 16 {
			out[hdr] = 0x80 | byte(n)
		} else {
			out = fixHeader(out, hdr, n, 0x80, 0xde)
		}
		return out, pos, true
	}
}

// array is object for the JSON array at in[pos] ('['), a msgpack array.
func (t *jsonTranscoder) array(out, in []byte, pos, depth int) ([]byte, int, bool) {
	if depth >= maxJSONDepth {
		return out, pos, false
	}
	hdr := len(out)
	out = append(out, 0x90) // fixarray; fixed up at the end
	pos = skipSpace(in, pos+1)
	if pos < len(in) && in[pos] == ']' {
		return out, pos + 1, true
	}
	n := 0
	var ok bool
	for {
		if out, pos, ok = t.value(out, in, pos, depth+1); !ok {
			return out, pos, false
		}
		n++
		pos = skipSpace(in, pos)
		if pos >= len(in) {
			return out, pos, false
		}
		c := in[pos]
		pos++
		if c == ',' {
			continue
		}
		if c != ']' {
			return out, pos, false
		}
		out = fixHeader(out, hdr, n, 0x90, 0xdc)
		return out, pos, true
	}
}

// value transcodes the JSON value at in[pos], after whitespace if any. depth counts the
// enclosing containers.
func (t *jsonTranscoder) value(out, in []byte, pos, depth int) ([]byte, int, bool) {
	pos = skipSpace(in, pos)
	if pos >= len(in) {
		return out, pos, false
	}
	switch c := in[pos]; {
	case c == '"':
		return appendJSONStringAt(out, in, pos)
	case c == '{':
		return t.object(out, in, pos, depth)
	case c == '[':
		return t.array(out, in, pos, depth)
	case c == '-' || c-'0' < 10:
		return appendJSONNumber(out, in, pos)
	case c == 't':
		if len(in)-pos >= 4 && string(in[pos:pos+4]) == "true" {
			return append(out, 0xc3), pos + 4, true
		}
	case c == 'f':
		if len(in)-pos >= 5 && string(in[pos:pos+5]) == "false" {
			return append(out, 0xc2), pos + 5, true
		}
	case c == 'n':
		if len(in)-pos >= 4 && string(in[pos:pos+4]) == "null" {
			return append(out, 0xc0), pos + 4, true
		}
	}
	return out, pos, false
}

// appendJSONStringAt transcodes the JSON string at in[pos] ('"').
func appendJSONStringAt(out, in []byte, pos int) ([]byte, int, bool) {
	start, at, plain := pos+1, len(out), 0
	if len(in)-start >= 32 && cap(out)-at >= 33 {
		src := (*[32]byte)(in[start:])
		dst := (*[33]byte)(out[at : at+33])
		x := binary.LittleEndian.Uint64(src[0:8])
		binary.LittleEndian.PutUint64(dst[1:9], x)
		m, k := jsonstr.Special8(x), 0
		if m == 0 {
			x = binary.LittleEndian.Uint64(src[8:16])
			binary.LittleEndian.PutUint64(dst[9:17], x)
			m, k = jsonstr.Special8(x), 8
			if m == 0 {
				x = binary.LittleEndian.Uint64(src[16:24])
				binary.LittleEndian.PutUint64(dst[17:25], x)
				m, k = jsonstr.Special8(x), 16
				if m == 0 {
					x = binary.LittleEndian.Uint64(src[24:32])
					binary.LittleEndian.PutUint64(dst[25:33], x)
					m, k = jsonstr.Special8(x), 24
				}
			}
		}
		plain = 32
		if m != 0 {
			k += bits.TrailingZeros64(m) / 8
			if src[k&31] == '"' {
				dst[0] = 0xa0 | byte(k)
				return out[:at+1+k], start + k + 1, true
			}
			plain = k
		}
	}
	return appendJSONString(out, in, start, start+plain)
}

// fixHeader writes the header of a map or array of n elements at out[at], where one byte was
// reserved: the fix form (fix|n) when n < 16, else the 16- or 32-bit form (code16, code16+1),
// moving what follows.
func fixHeader(out []byte, at, n int, fix, code16 byte) []byte {
	if n < 16 {
		out[at] = fix | byte(n)
		return out
	}
	extra := 2
	if n > math.MaxUint16 {
		extra = 4
	}
	out = append(out, make([]byte, extra)...)
	copy(out[at+1+extra:], out[at+1:len(out)-extra])
	if extra == 2 {
		out[at] = code16
		binary.BigEndian.PutUint16(out[at+1:], uint16(n))
	} else {
		out[at] = code16 + 1
		binary.BigEndian.PutUint32(out[at+1:], uint32(n))
	}
	return out
}

// str transcodes the string at t.pos (which is '"'). It reports whether the raw string is

// appendJSONString appends the msgpack str of the JSON string whose contents start at
// in[start] (after the opening quote) and returns the position after its closing quote;
// in[start:i] is known to be plain.
func appendJSONString(out, in []byte, start, i int) ([]byte, int, bool) {
	i += plainPrefix(in[i:])
	if i < len(in) && in[i] == '"' {
		out = appendStrHeader(out, i-start)
		return append(out, in[start:i]...), i + 1, true
	}
	// Slow path: reserve the header for the raw length (an upper bound of the decoded one),
	// decode, then fix the header.
	end := i
	for end < len(in) && in[end] != '"' {
		if in[end] == '\\' {
			end++
		}
		end++
	}
	if end >= len(in) {
		return out, end, false
	}
	hdr := len(out)
	rawLen := end - start
	out = appendStrHeader(out, rawLen)
	hdrLen := len(out) - hdr
	body := len(out)
	out = append(out, in[start:i]...)
	for i < end {
		c := in[i]
		switch {
		case c == '\\':
			i++
			switch e := in[i]; e {
			case '"', '\\', '/':
				out = append(out, e)
			case 'b':
				out = append(out, '\b')
			case 'f':
				out = append(out, '\f')
			case 'n':
				out = append(out, '\n')
			case 'r':
				out = append(out, '\r')
			case 't':
				out = append(out, '\t')
			case 'u':
				r, ok := hex4(in[i+1 : min(i+5, end)])
				if !ok {
					return out, i, false
				}
				i += 4
				if utf16.IsSurrogate(r) {
					r2 := rune(-1)
					if i+6 < end && in[i+1] == '\\' && in[i+2] == 'u' {
						r2, ok = hex4(in[i+3 : min(i+7, end)])
						if !ok {
							return out, i, false
						}
					}
					if dec := utf16.DecodeRune(r, r2); dec != utf8.RuneError {
						r = dec
						i += 6
					} else {
						r = utf8.RuneError
					}
				}
				out = utf8.AppendRune(out, r)
			default:
				return out, i, false
			}
			i++
		case c < 0x20:
			return out, i, false
		case c < utf8.RuneSelf:
			out = append(out, c)
			i++
		default:
			r, size := utf8.DecodeRune(in[i:end])
			if r == utf8.RuneError && size == 1 {
				out = utf8.AppendRune(out, utf8.RuneError)
			} else {
				out = append(out, in[i:i+size]...)
			}
			i += size
		}
	}
	n := len(out) - body
	// The decoded string may be longer than the raw one only through invalid UTF-8 bytes
	// becoming U+FFFD (3 bytes for 1): then, or when a shorter header fits, rewrite it.
	if want := strHeaderLen(n); want != hdrLen {
		out = moveBody(out, hdr, body, want)
		body = hdr + want
	}
	writeStrHeader(out[hdr:body], n)
	return out, end + 1, true
}

// moveBody moves out[body:] so that it starts at hdr+hdrLen, growing or shrinking out.
func moveBody(out []byte, hdr, body, hdrLen int) []byte {
	n := len(out) - body
	newBody := hdr + hdrLen
	if newBody > body {
		out = append(out, make([]byte, newBody-body)...)
	}
	copy(out[newBody:newBody+n], out[body:body+n])
	return out[:newBody+n]
}

func hex4(b []byte) (rune, bool) {
	if len(b) != 4 {
		return 0, false
	}
	var r rune
	for _, c := range b {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		case c >= 'A' && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

func strHeaderLen(n int) int {
	switch {
	case n < 32:
		return 1
	case n <= math.MaxUint8:
		return 2
	case n <= math.MaxUint16:
		return 3
	}
	return 5
}

func writeStrHeader(b []byte, n int) {
	switch len(b) {
	case 1:
		b[0] = 0xa0 | byte(n)
	case 2:
		b[0], b[1] = 0xd9, byte(n)
	case 3:
		b[0] = 0xda
		binary.BigEndian.PutUint16(b[1:], uint16(n))
	default:
		b[0] = 0xdb
		binary.BigEndian.PutUint32(b[1:], uint32(n))
	}
}

// appendStrHeader appends the header of a msgpack str of n bytes.
func appendStrHeader(dst []byte, n int) []byte {
	switch {
	case n < 32:
		return append(dst, 0xa0|byte(n))
	case n <= math.MaxUint8:
		return append(dst, 0xd9, byte(n))
	case n <= math.MaxUint16:
		return append(dst, 0xda, byte(n>>8), byte(n))
	}
	return append(dst, 0xdb, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
}

// appendMsgpackString appends s as a msgpack str.
func appendMsgpackString(dst []byte, s string) []byte {
	return append(appendStrHeader(dst, len(s)), s...)
}

// appendMsgpackUint appends v as the smallest msgpack unsigned int.
func appendMsgpackUint(dst []byte, v uint64) []byte {
	switch {
	case v < 128:
		return append(dst, byte(v))
	case v <= math.MaxUint8:
		return append(dst, 0xcc, byte(v))
	case v <= math.MaxUint16:
		return append(dst, 0xcd, byte(v>>8), byte(v))
	case v <= math.MaxUint32:
		return append(dst, 0xce, byte(v>>24), byte(v>>16), byte(v>>8), byte(v))
	}
	return binary.BigEndian.AppendUint64(append(dst, 0xcf), v)
}

// appendMsgpackInt appends v as the smallest msgpack int (non-negative values as uint).
func appendMsgpackInt(dst []byte, v int64) []byte {
	if v >= 0 {
		return appendMsgpackUint(dst, uint64(v))
	}
	switch {
	case v >= -32:
		return append(dst, byte(v))
	case v >= math.MinInt8:
		return append(dst, 0xd0, byte(v))
	case v >= math.MinInt16:
		return append(dst, 0xd1, byte(v>>8), byte(v))
	case v >= math.MinInt32:
		return append(dst, 0xd2, byte(v>>24), byte(v>>16), byte(v>>8), byte(v))
	}
	return binary.BigEndian.AppendUint64(append(dst, 0xd3), uint64(v))
}

// appendJSONNumber appends the msgpack encoding of the JSON number at in[pos] and returns the
// position after it. Fast paths: an integer of at most 18 digits (it fits int64), and a
// number with a fraction and no exponent of at most 15 digits in all (mantissa and power of
// ten are exact float64 values: parseFloatFast's exact case, computed the same way).
func appendJSONNumber(out, in []byte, pos int) ([]byte, int, bool) {
	i := pos
	neg := in[i] == '-'
	if neg {
		i++
	}
	var u uint64
	j := i
	for ; j < len(in); j++ {
		d := in[j] - '0'
		if d > 9 {
			break
		}
		u = u*10 + uint64(d) // may wrap for long literals, which are left to the general path
	}
	nd := j - i
	if nd == 0 || nd > 18 || nd > 1 && in[i] == '0' {
		return appendJSONNumberSlow(out, in, pos)
	}
	if j == len(in) || in[j] != '.' && in[j]|0x20 != 'e' {
		if neg {
			return appendMsgpackInt(out, -int64(u)), j, true
		}
		if u < 128 {
			return append(out, byte(u)), j, true
		}
		return appendMsgpackUint(out, u), j, true
	}
	if in[j] != '.' {
		return appendJSONNumberSlow(out, in, pos)
	}
	k := j + 1
	for ; k < len(in); k++ {
		d := in[k] - '0'
		if d > 9 {
			break
		}
		u = u*10 + uint64(d)
	}
	nf := k - (j + 1)
	if nf == 0 || nd+nf > 15 || k < len(in) && in[k]|0x20 == 'e' {
		return appendJSONNumberSlow(out, in, pos)
	}
	f := float64(u) / pow10[nf]
	if neg {
		f = -f
	}
	return binary.BigEndian.AppendUint64(append(out, 0xcb), math.Float64bits(f)), k, true
}

// appendJSONNumberSlow is appendJSONNumber for any number.
func appendJSONNumberSlow(out, in []byte, pos int) ([]byte, int, bool) {
	start := pos
	i := start
	if in[i] == '-' {
		i++
	}
	// Integer part: 0 or [1-9][0-9]*.
	if i >= len(in) {
		return out, i, false
	}
	if in[i] == '0' {
		i++
	} else if in[i] >= '1' && in[i] <= '9' {
		for i < len(in) && in[i] >= '0' && in[i] <= '9' {
			i++
		}
	} else {
		return out, i, false
	}
	isInt := true
	if i < len(in) && in[i] == '.' {
		isInt = false
		i++
		d := i
		for i < len(in) && in[i] >= '0' && in[i] <= '9' {
			i++
		}
		if i == d {
			return out, i, false
		}
	}
	if i < len(in) && (in[i] == 'e' || in[i] == 'E') {
		isInt = false
		i++
		if i < len(in) && (in[i] == '+' || in[i] == '-') {
			i++
		}
		d := i
		for i < len(in) && in[i] >= '0' && in[i] <= '9' {
			i++
		}
		if i == d {
			return out, i, false
		}
	}
	lit := in[start:i]
	if isInt {
		if v, ok := parseInt(lit); ok {
			return appendMsgpackInt(out, v), i, true
		}
		if lit[0] != '-' {
			if v, ok := parseUint(lit); ok {
				return appendMsgpackUint(out, v), i, true
			}
		}
	}
	f, ok := parseFloatFast(lit)
	if !ok {
		var err error
		f, err = strconv.ParseFloat(string(lit), 64)
		if err != nil && !errors.Is(err, strconv.ErrRange) {
			return out, i, false
		}
	}
	return binary.BigEndian.AppendUint64(append(out, 0xcb), math.Float64bits(f)), i, true
}

// pow10 holds the powers of ten that float64 represents exactly.
var pow10 = [...]float64{1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12,
	1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22}

// parseFloatFast parses a validated JSON number with at most 15 significant digits and a
// decimal exponent within ±22 without allocating: the mantissa and the power of ten are then
// exact float64 values and one multiplication or division rounds correctly (the exact case of
// strconv's own algorithm). It reports false for anything else.
func parseFloatFast(b []byte) (float64, bool) {
	neg := b[0] == '-'
	if neg {
		b = b[1:]
	}
	var mant uint64
	nd, exp := 0, 0
	i := 0
	for ; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
		if mant == 0 && b[i] == '0' {
			continue
		}
		mant = mant*10 + uint64(b[i]-'0')
		nd++
	}
	if i < len(b) && b[i] == '.' {
		for i++; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
			exp--
			if mant == 0 && b[i] == '0' {
				continue
			}
			mant = mant*10 + uint64(b[i]-'0')
			nd++
		}
	}
	if nd > 15 {
		return 0, false
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		eneg := false
		if b[i] == '+' || b[i] == '-' {
			eneg = b[i] == '-'
			i++
		}
		e := 0
		for ; i < len(b); i++ {
			if e > 1000 {
				return 0, false
			}
			e = e*10 + int(b[i]-'0')
		}
		if eneg {
			e = -e
		}
		exp += e
	}
	f := float64(mant)
	switch {
	case mant == 0:
	case exp >= 0 && exp <= 22:
		f *= pow10[exp]
	case exp < 0 && exp >= -22:
		f /= pow10[-exp]
	default:
		return 0, false
	}
	if neg {
		f = -f
	}
	return f, true
}

// parseInt parses a JSON integer literal (already validated) that fits int64.
func parseInt(b []byte) (int64, bool) {
	neg := b[0] == '-'
	if neg {
		b = b[1:]
	}
	if len(b) > 19 {
		return 0, false
	}
	var u uint64
	for _, c := range b {
		u = u*10 + uint64(c-'0')
	}
	if neg {
		if u > 1<<63 {
			return 0, false
		}
		return -int64(u), true
	}
	if u > math.MaxInt64 {
		return 0, false
	}
	return int64(u), true
}

// parseUint parses a non-negative JSON integer literal that fits uint64.
func parseUint(b []byte) (uint64, bool) {
	if len(b) > 20 {
		return 0, false
	}
	var u uint64
	for _, c := range b {
		d := uint64(c - '0')
		if u > (math.MaxUint64-d)/10 {
			return 0, false
		}
		u = u*10 + d
	}
	return u, true
}

// parseEventTime parses a msgpack str holding an RFC 3339 time: the handler's fixed format
// (2026-11-22T02:55:54.123456789Z) on a fast path, any RFC 3339 time otherwise. Times the
// forward protocol cannot carry (before 1970, after 2106) are not ok.
func parseEventTime(mp []byte) eventTime {
	if len(mp) == 31 && mp[0] == 0xa0|30 {
		if et, ok := parseFixedTime((*[30]byte)(mp[1:])); ok {
			return et
		}
		return parseRFC3339(mp[1:])
	}
	if len(mp) == 0 || mp[0]&0xe0 != 0xa0 {
		// Not a fixstr: the fixed format is 30 bytes, so a longer string is not one.
		if len(mp) > 2 && mp[0] == 0xd9 {
			return parseRFC3339(mp[2:])
		}
		return eventTime{}
	}
	return parseRFC3339(mp[1:])
}

// parseFixedTime parses s if it is a valid time in the handler's fixed format,
// 2026-11-22T02:55:54.123456789Z; it reports false if it is not (which does not make s an
// invalid RFC 3339 time). The separators are checked and the digits converted 8 bytes at a
// time.
func parseFixedTime(s *[30]byte) (eventTime, bool) {
	const (
		ones   = 0x0101010101010101
		zeros  = ones * '0'
		highs  = ones * 0xf0
		sixes  = ones * 0x06
		digits = 0xffffffffffffffff
	)
	// The four words and, for each, the bytes that must be digits and the separators.
	w0 := binary.LittleEndian.Uint64(s[0:8])   // YYYY-MM-
	w1 := binary.LittleEndian.Uint64(s[8:16])  // DDTHH:MM
	w2 := binary.LittleEndian.Uint64(s[16:24]) // :SS.nnnn
	w3 := binary.LittleEndian.Uint64(s[21:29]) // nnnnnnnn (the last 8 of the 9 fraction digits)
	const (
		d0, s0 = 0x00ffff00ffffffff, 0x2d00002d00000000 // '-' at 4 and 7
		d1, s1 = 0xffff00ffff00ffff, 0x00003a0000540000 // 'T' at 2, ':' at 5
		d2, s2 = 0xffffffff00ffff00, 0x000000002e00003a // ':' at 0, '.' at 3
		d3, s3 = digits, 0
	)
	// A byte c is a digit if its high nibble is 3 and that of c+6 is 3 too (a byte >= 0xfa
	// may carry into the next, which is then wrong, but the first test fails for it).
	bad := (w0&^d0 ^ s0) | (w1&^d1 ^ s1) | (w2&^d2 ^ s2) | (w3&^d3 ^ s3) |
		(w0&d0&highs ^ zeros&d0) | (w1&d1&highs ^ zeros&d1) | (w2&d2&highs ^ zeros&d2) | (w3&d3&highs ^ zeros&d3) |
		((w0&d0+sixes&d0)&highs&d0 ^ zeros&d0) | ((w1&d1+sixes&d1)&highs&d1 ^ zeros&d1) |
		((w2&d2+sixes&d2)&highs&d2 ^ zeros&d2) | ((w3&d3+sixes&d3)&highs&d3 ^ zeros&d3)
	if bad != 0 || s[29] != 'Z' {
		return eventTime{}, false
	}
	x0, x1, x2, x3 := w0&d0-zeros&d0, w1&d1-zeros&d1, w2&d2-zeros&d2, w3-zeros
	b := func(x uint64, i uint) int { return int(byte(x >> (8 * i))) }
	year := b(x0, 0)*1000 + b(x0, 1)*100 + b(x0, 2)*10 + b(x0, 3)
	month := b(x0, 5)*10 + b(x0, 6)
	day := b(x1, 0)*10 + b(x1, 1)
	hour := b(x1, 3)*10 + b(x1, 4)
	minute := b(x1, 6)*10 + b(x1, 7)
	sec := b(x2, 1)*10 + b(x2, 2)
	// The 8 digits of x3 pairwise, then by fours, then all (most significant digit first, in
	// the lowest byte).
	x3 = (x3 * (10<<8 + 1)) >> 8 & 0x00ff00ff00ff00ff
	x3 = (x3 * (100<<16 + 1)) >> 16 & 0x0000ffff0000ffff
	x3 = (x3 * (10000<<32 + 1)) >> 32
	nsec := b(x2, 4)*1e8 + int(x3)
	if month < 1 || month > 12 || day < 1 || day > daysIn(month, year) || hour >= 24 || minute >= 60 || sec >= 60 {
		return eventTime{}, false
	}
	secs := daysFromCivil(year, month, day)*86400 + int64(hour*3600+minute*60+sec)
	if secs < 0 || secs > math.MaxUint32 {
		return eventTime{}, true
	}
	return eventTime{sec: uint32(secs), nsec: uint32(nsec), ok: true}, true
}

// daysFromCivil returns the days since 1970-01-01 of a proleptic Gregorian date (Howard
// Hinnant's algorithm).
func daysFromCivil(y, m, d int) int64 {
	if m <= 2 {
		y--
	}
	era := y / 400 // y >= -1: for January and February of year 0 the result is negative, and rejected by the caller
	yoe := y - era*400
	mp := (m + 9) % 12
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return int64(era*146097 + doe - 719468)
}

// daysIn returns the number of days of month m in year y.
func daysIn(m, y int) int {
	switch m {
	case 2:
		if y%4 == 0 && (y%100 != 0 || y%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

func parseRFC3339(s []byte) eventTime {
	tm, err := time.Parse(time.RFC3339Nano, string(s))
	if err != nil {
		return eventTime{}
	}
	return toEventTime(tm)
}

func toEventTime(tm time.Time) eventTime {
	sec := tm.Unix()
	if sec < 0 || sec > math.MaxUint32 {
		return eventTime{}
	}
	return eventTime{sec: uint32(sec), nsec: uint32(tm.Nanosecond()), ok: true}
}

// putEventTime writes et's 8 bytes (seconds, nanoseconds) to b.
func putEventTime(b []byte, et eventTime) {
	binary.BigEndian.PutUint32(b, et.sec)
	binary.BigEndian.PutUint32(b[4:], et.nsec)
}

// appendEventTime appends et as the forward protocol's EventTime: msgpack ext type 0 with 8
// bytes, big-endian seconds and nanoseconds (fixext8).
func appendEventTime(dst []byte, et eventTime) []byte {
	dst = append(dst, 0xd7, 0x00)
	dst = binary.BigEndian.AppendUint32(dst, et.sec)
	return binary.BigEndian.AppendUint32(dst, et.nsec)
}
