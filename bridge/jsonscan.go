package bridge

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
	"unicode/utf16"
	"unicode/utf8"
	"unsafe"

	"go.vlog.dev/internal/jsonstr"
)

// The JSON the bridge reads (the invocation payload, the decompressed subscription data, the
// log messages that are JSON objects) is scanned by the hand-written functions of this file
// instead of encoding/json: they validate exactly what json.Valid accepts (FuzzScanner checks
// it against encoding/json), hand out spans of the input instead of copies, and cost a
// fraction of a reflective decode. Nothing here allocates except the error values.

// maxDepth is the deepest nesting accepted, encoding/json's limit.
const maxDepth = 10000

// jsonError is a syntax error at an offset of the input.
type jsonError struct {
	off int
	msg string
}

func (e *jsonError) Error() string { return fmt.Sprintf("%s at offset %d", e.msg, e.off) }

func syntaxErr(off int, format string, args ...any) error {
	return &jsonError{off: off, msg: fmt.Sprintf(format, args...)}
}

var errNotObject = errors.New("not a JSON object")

// special marks the bytes that end a run of plain string content: '"', '\\' and the control
// characters, which JSON does not allow raw in a string.
var special = func() (t [256]bool) {
	for c := 0; c < 0x20; c++ {
		t[c] = true
	}
	t['"'] = true
	t['\\'] = true
	return t
}()

func isWS(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func skipWS(b []byte, p int) int {
	for p < len(b) && isWS(b[p]) {
		p++
	}
	return p
}

// str is a JSON string token: its content between the quotes as written (escapes not
// decoded), and whether it holds escapes.
type str struct {
	raw []byte
	esc bool
}

// SWAR constants: a byte repeated over a word.
const (
	ones  = 0x0101010101010101
	highs = 0x8080808080808080
)

// nextSpecial returns the offset of the first special byte (a '"', a '\\' or a control
// character) in b from i on, or len(b), and whether a byte >= 0x80 came before it. It reads 8
// bytes at a time: the tests "has a zero byte" and "has a byte below n" of Bit Twiddling Hacks
// mark the special bytes of a word, and the lowest mark is exact (a false mark can only
// follow a true one).
func nextSpecial(b []byte, i int) (int, bool) {
	var acc uint64
	for i+8 <= len(b) {
		x := binary.LittleEndian.Uint64(b[i:])
		q := x ^ (ones * '"')
		bs := x ^ (ones * '\\')
		m := ((x-ones*0x20)&^x | (q-ones)&^q | (bs-ones)&^bs) & highs
		if m != 0 {
			k := bits.TrailingZeros64(m) / 8
			acc |= x & (1<<(8*k) - 1)
			return i + k, acc&highs != 0
		}
		acc |= x
		i += 8
	}
	for ; i < len(b); i++ {
		c := b[i]
		if special[c] {
			break
		}
		acc |= uint64(c)
	}
	return i, acc&0x80 != 0 || acc&highs != 0
}

// scanString reads the string token starting at b[p] (a '"'), returns it and the offset after
// its closing quote.
func scanString(b []byte, p int) (str, int, error) {
	var s str
	start := p + 1
	i := start
	for {
		i, _ = nextSpecial(b, i)
		if i >= len(b) {
			return s, i, syntaxErr(i, "unterminated string")
		}
		switch c := b[i]; {
		case c == '"':
			s.raw = b[start:i]
			return s, i + 1, nil
		case c == '\\':
			s.esc = true
			if i+1 >= len(b) {
				return s, i, syntaxErr(i, "unterminated string")
			}
			switch b[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if i+6 > len(b) {
					return s, i, syntaxErr(i, "unterminated \\u escape")
				}
				for _, h := range b[i+2 : i+6] {
					if unhex(h) < 0 {
						return s, i, syntaxErr(i, "invalid \\u escape")
					}
				}
				i += 6
			default:
				return s, i, syntaxErr(i, "invalid escape \\%c", b[i+1])
			}
		default:
			return s, i, syntaxErr(i, "control character 0x%02x in a string", c)
		}
	}
}

func unhex(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'f':
		return int(c - 'a' + 10)
	case c >= 'A' && c <= 'F':
		return int(c - 'A' + 10)
	}
	return -1
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// scanNumber reads the number starting at b[p] and returns the offset after it.
func scanNumber(b []byte, p int) (int, error) {
	i := p
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		for i < len(b) && isDigit(b[i]) {
			i++
		}
	default:
		return i, syntaxErr(i, "invalid number")
	}
	if i < len(b) && b[i] == '.' {
		i++
		if i >= len(b) || !isDigit(b[i]) {
			return i, syntaxErr(i, "invalid number")
		}
		for i < len(b) && isDigit(b[i]) {
			i++
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if i >= len(b) || !isDigit(b[i]) {
			return i, syntaxErr(i, "invalid number")
		}
		for i < len(b) && isDigit(b[i]) {
			i++
		}
	}
	return i, nil
}

func scanLiteral(b []byte, p int) (int, error) {
	for _, lit := range [...]string{"true", "false", "null"} {
		if len(b)-p >= len(lit) && string(b[p:p+len(lit)]) == lit {
			return p + len(lit), nil
		}
	}
	return p, syntaxErr(p, "invalid character %q", b[p])
}

// scanKey reads an object key at b[p] (after blanks) and the colon after it, and returns the
// key and the offset after the colon.
func scanKey(b []byte, p int) (str, int, error) {
	p = skipWS(b, p)
	if p >= len(b) || b[p] != '"' {
		return str{}, p, syntaxErr(p, "want an object key")
	}
	k, p, err := scanString(b, p)
	if err != nil {
		return k, p, err
	}
	p = skipWS(b, p)
	if p >= len(b) || b[p] != ':' {
		return k, p, syntaxErr(p, "want ':' after an object key")
	}
	return k, p + 1, nil
}

// skipValue reads the value starting at b[p] (after blanks), validating it, and returns the
// offset after it. It does not recurse: nesting costs one byte of stack per level.
func skipValue(b []byte, p int) (int, error) {
	var stackBuf [64]byte
	stack := stackBuf[:0]
	var err error
	for {
		// A value is expected at p.
		p = skipWS(b, p)
		if p >= len(b) {
			return p, syntaxErr(p, "unexpected end of JSON")
		}
		switch c := b[p]; {
		case c == '{' || c == '[':
			closer := byte('}')
			if c == '[' {
				closer = ']'
			}
			if len(stack) >= maxDepth {
				return p, syntaxErr(p, "nested too deeply")
			}
			q := skipWS(b, p+1)
			if q < len(b) && b[q] == closer {
				p = q + 1
				break // an empty object or array: a complete value
			}
			stack = append(stack, c)
			p = q
			if c == '{' {
				if _, p, err = scanKey(b, p); err != nil {
					return p, err
				}
			}
			continue
		case c == '"':
			if _, p, err = scanString(b, p); err != nil {
				return p, err
			}
		case c == '-' || isDigit(c):
			if p, err = scanNumber(b, p); err != nil {
				return p, err
			}
		default:
			if p, err = scanLiteral(b, p); err != nil {
				return p, err
			}
		}
		// After a complete value: close the containers it ends, or go on to the next element.
	after:
		for {
			if len(stack) == 0 {
				return p, nil
			}
			p = skipWS(b, p)
			if p >= len(b) {
				return p, syntaxErr(p, "unexpected end of JSON")
			}
			top := stack[len(stack)-1]
			switch {
			case b[p] == ',':
				p++
				if top == '{' {
					if _, p, err = scanKey(b, p); err != nil {
						return p, err
					}
				}
				break after
			case top == '{' && b[p] == '}', top == '[' && b[p] == ']':
				p++
				stack = stack[:len(stack)-1]
			default:
				return p, syntaxErr(p, "invalid character %q after a value", b[p])
			}
		}
	}
}

// validJSON reports whether b is one JSON value, blanks around it allowed: json.Valid.
func validJSON(b []byte) bool {
	p, err := skipValue(b, 0)
	return err == nil && skipWS(b, p) == len(b)
}

// member is one member of a JSON object: its key token and its value as written; for a
// string value, also its token.
type member struct {
	key  str
	val  []byte
	sval str
}

// scanObject reads the object at b[p] (after blanks), validating it, and appends its members
// to dst. It returns the members and the offset after the object.
func scanObject(b []byte, p int, dst []member) ([]member, int, error) {
	p = skipWS(b, p)
	if p >= len(b) || b[p] != '{' {
		return dst, p, errNotObject
	}
	p = skipWS(b, p+1)
	if p < len(b) && b[p] == '}' {
		return dst, p + 1, nil
	}
	for {
		k, q, err := scanKey(b, p)
		if err != nil {
			return dst, q, err
		}
		start := skipWS(b, q)
		var sv str
		var end int
		if start < len(b) && b[start] == '"' {
			sv, end, err = scanString(b, start)
		} else {
			end, err = skipValue(b, start)
		}
		if err != nil {
			return dst, end, err
		}
		dst = append(dst, member{key: k, val: b[start:end], sval: sv})
		p = skipWS(b, end)
		if p >= len(b) {
			return dst, p, syntaxErr(p, "unexpected end of JSON")
		}
		switch b[p] {
		case ',':
			p++
		case '}':
			return dst, p + 1, nil
		default:
			return dst, p, syntaxErr(p, "invalid character %q after an object member", b[p])
		}
	}
}

// scanArray calls fn with the offset of each element of the array at b[p] (after blanks); fn
// returns the offset after the element. It returns the offset after the array.
func scanArray(b []byte, p int, fn func(start int) (int, error)) (int, error) {
	p = skipWS(b, p)
	if p >= len(b) || b[p] != '[' {
		return p, errors.New("not a JSON array")
	}
	p = skipWS(b, p+1)
	if p < len(b) && b[p] == ']' {
		return p + 1, nil
	}
	for {
		end, err := fn(skipWS(b, p))
		if err != nil {
			return end, err
		}
		p = skipWS(b, end)
		if p >= len(b) {
			return p, syntaxErr(p, "unexpected end of JSON")
		}
		switch b[p] {
		case ',':
			p++
		case ']':
			return p + 1, nil
		default:
			return p, syntaxErr(p, "invalid character %q after an array element", b[p])
		}
	}
}

// appendUnescaped appends the content of the string token s, decoded, to dst. Invalid UTF-8
// (a byte that starts no valid sequence) and lone surrogate escapes become U+FFFD, as
// encoding/json decodes them; invalid reports whether that happened. s must come from
// scanString (its escapes are well formed).
func appendUnescaped(dst []byte, s str) (out []byte, invalid bool) {
	raw := s.raw
	if !s.esc && utf8.Valid(raw) {
		return append(dst, raw...), false
	}
	for i := 0; i < len(raw); {
		c := raw[i]
		if c == '\\' {
			switch e := raw[i+1]; e {
			case 'b':
				dst = append(dst, '\b')
			case 'f':
				dst = append(dst, '\f')
			case 'n':
				dst = append(dst, '\n')
			case 'r':
				dst = append(dst, '\r')
			case 't':
				dst = append(dst, '\t')
			case 'u':
				r := hex4(raw[i+2:])
				i += 6
				if utf16.IsSurrogate(r) {
					if i+6 <= len(raw) && raw[i] == '\\' && raw[i+1] == 'u' {
						if d := utf16.DecodeRune(r, hex4(raw[i+2:])); d != utf8.RuneError {
							dst = utf8.AppendRune(dst, d)
							i += 6
							continue
						}
					}
					invalid = true
					r = utf8.RuneError
				}
				dst = utf8.AppendRune(dst, r)
				continue
			default: // '"', '\\', '/'
				dst = append(dst, e)
			}
			i += 2
			continue
		}
		if c < utf8.RuneSelf {
			// A run of ASCII up to the next escape or non-ASCII byte.
			j := i + 1
			for j < len(raw) && raw[j] != '\\' && raw[j] < utf8.RuneSelf {
				j++
			}
			dst = append(dst, raw[i:j]...)
			i = j
			continue
		}
		r, size := utf8.DecodeRune(raw[i:])
		if r == utf8.RuneError && size == 1 {
			invalid = true
			dst = append(dst, "\uFFFD"...)
			i++
			continue
		}
		dst = append(dst, raw[i:i+size]...)
		i += size
	}
	return dst, invalid
}

func hex4(b []byte) rune {
	var r rune
	for _, c := range b[:4] {
		r = r<<4 | rune(unhex(c))
	}
	return r
}

// scanUnescape reads the string token at b[p], validating it as scanString does, and appends
// its content, decoded as appendUnescaped decodes it, to dst: one pass instead of two. It
// returns dst, the offset after the token, and whether invalid UTF-8 was replaced.
func scanUnescape(dst, b []byte, p int) ([]byte, int, bool, error) {
	i := p + 1
	invalid := false
	for {
		start := i
		var hi bool
		i, hi = nextSpecial(b, i)
		if run := b[start:i]; !hi || utf8.Valid(run) {
			dst = append(dst, run...)
		} else {
			dst, _ = appendUnescaped(dst, str{raw: run})
			invalid = true
		}
		if i >= len(b) {
			return dst, i, invalid, syntaxErr(i, "unterminated string")
		}
		switch c := b[i]; {
		case c == '"':
			return dst, i + 1, invalid, nil
		case c == '\\':
			if i+1 >= len(b) {
				return dst, i, invalid, syntaxErr(i, "unterminated string")
			}
			switch e := b[i+1]; e {
			case '"', '\\', '/':
				dst = append(dst, e)
				i += 2
			case 'b':
				dst = append(dst, '\b')
				i += 2
			case 'f':
				dst = append(dst, '\f')
				i += 2
			case 'n':
				dst = append(dst, '\n')
				i += 2
			case 'r':
				dst = append(dst, '\r')
				i += 2
			case 't':
				dst = append(dst, '\t')
				i += 2
			case 'u':
				if i+6 > len(b) {
					return dst, i, invalid, syntaxErr(i, "unterminated \\u escape")
				}
				for _, h := range b[i+2 : i+6] {
					if unhex(h) < 0 {
						return dst, i, invalid, syntaxErr(i, "invalid \\u escape")
					}
				}
				r := hex4(b[i+2:])
				i += 6
				if utf16.IsSurrogate(r) {
					if i+6 <= len(b) && b[i] == '\\' && b[i+1] == 'u' && validHex4(b[i+2:i+6]) {
						if d := utf16.DecodeRune(r, hex4(b[i+2:])); d != utf8.RuneError {
							dst = utf8.AppendRune(dst, d)
							i += 6
							continue
						}
					}
					invalid = true
					r = utf8.RuneError
				}
				dst = utf8.AppendRune(dst, r)
			default:
				return dst, i, invalid, syntaxErr(i, "invalid escape \\%c", e)
			}
		default:
			return dst, i, invalid, syntaxErr(i, "control character 0x%02x in a string", c)
		}
	}
}

func validHex4(b []byte) bool {
	for _, h := range b {
		if unhex(h) < 0 {
			return false
		}
	}
	return true
}

// unescapeString returns the content of s, decoded, as a Go string.
func unescapeString(s str) string {
	if !s.esc && utf8.Valid(s.raw) {
		return string(s.raw)
	}
	out, _ := appendUnescaped(nil, s)
	return string(out)
}

// appendEscaped appends s, valid UTF-8, as the content of a JSON string (without quotes),
// escaped by the rules of vlog's own encoder (go.vlog.dev/internal/jsonstr): '"', '\\' and
// the control characters, and U+2028 and U+2029; nothing else (VictoriaLogs reads UTF-8).
func appendEscaped(dst []byte, s []byte) []byte {
	return jsonstr.AppendEscaped(dst, view(s), false)
}

// appendQuoted appends s, valid UTF-8, as a JSON string.
func appendQuoted(dst []byte, s string) []byte {
	dst = append(dst, '"')
	dst = jsonstr.AppendEscaped(dst, s, false)
	return append(dst, '"')
}

// view returns b as a string without copying; b must not change while the string is used.
func view(b []byte) string {
	return unsafe.String(unsafe.SliceData(b), len(b))
}
