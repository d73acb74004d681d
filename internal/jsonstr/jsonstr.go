// Package jsonstr escapes strings for JSON, append-style, for the handler's encoder and the
// redactor's JSON rewriter: one implementation of the rules both must follow.
package jsonstr

import "unicode/utf8"

const hexDigits = "0123456789abcdef"

// safe[c] is true for the bytes that appear in a JSON string as they are: printable ASCII
// (and DEL) other than '"' and '\\'.
var safe = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// AppendEscaped appends the contents of a JSON string for s, without quotes. Control characters
// (newlines included) are escaped, so the result stays on one line; invalid UTF-8 becomes
// U+FFFD; U+2028 and U+2029 are escaped for JavaScript consumers. With html, '<', '>' and '&'
// are escaped too, as encoding/json does by default.
func AppendEscaped(dst []byte, s string, html bool) []byte {
	if !html && Clean(s) {
		return append(dst, s...) // the common case: nothing to escape
	}
	start := 0
	for i := 0; i < len(s); {
		// Fast path: skip 8 bytes at a time while none of them needs a look (a control
		// character, '"', '\\' or a non-ASCII byte). The HTML characters are only found
		// byte by byte.
		for !html && i+8 <= len(s) && !NeedsEscape8(load64(s, i)) {
			i += 8
		}
		if i >= len(s) {
			break
		}
		c := s[i]
		if c < utf8.RuneSelf {
			if safe[c] && !(html && (c == '<' || c == '>' || c == '&')) {
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

// Clean reports whether s is printable ASCII without '"' and '\\': a JSON string as it is
// (HTML characters aside). It looks at 8 bytes at a time, the last word overlapping the one
// before it, so a short string costs a few instructions.
func Clean(s string) bool {
	i := 0
	for ; i+8 <= len(s); i += 8 {
		if NeedsEscape8(load64(s, i)) {
			return false
		}
	}
	switch {
	case i == len(s):
		return true
	case len(s) >= 8:
		return !NeedsEscape8(load64(s, len(s)-8))
	}
	// Shorter than a word: byte by byte.
	for j := 0; j < len(s); j++ {
		if !safe[s[j]] {
			return false
		}
	}
	return true
}

// Plain reports whether c stands for itself in a JSON string (the byte-by-byte form of
// Special8).
func Plain(c byte) bool { return safe[c] }

// load64 loads s[i:i+8] as a little-endian word (the compiler combines the loads).
func load64(s string, i int) uint64 {
	_ = s[i+7]
	return uint64(s[i]) | uint64(s[i+1])<<8 | uint64(s[i+2])<<16 | uint64(s[i+3])<<24 |
		uint64(s[i+4])<<32 | uint64(s[i+5])<<40 | uint64(s[i+6])<<48 | uint64(s[i+7])<<56
}

// NeedsEscape8 reports whether any byte of the word x is below 0x20, '"', '\\' or 0x80 and
// above: the bytes AppendEscaped must look at one by one.
func NeedsEscape8(x uint64) bool { return Special8(x) != 0 }

// Special8 returns a mask with the high bit set in each byte of x (little-endian) that is not
// Plain, and maybe in bytes above such a byte: the lowest set bit marks the first byte that is
// not plain, and the mask is 0 only when all 8 are. y = x^0x02 maps '"' to 0x20 and the
// controls to controls and keeps the high bit: y-0x21 borrows for '"' and the controls,
// (x^'\\')-1 for '\\', and y itself has the high bit of the bytes >= 0x80. For a byte < 0x80
// none of these sets the high bit otherwise, and a borrow only runs upwards, out of a marked
// byte.
func Special8(x uint64) uint64 {
	const ones = 0x0101010101010101
	y := x ^ (ones * 0x02)
	return (y | (y - ones*0x21) | (x ^ (ones * '\\') - ones)) & (ones * 0x80)
}
