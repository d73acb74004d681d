package redact

import (
	"go.vlog.dev/internal/jsonstr"

	"encoding/json"
	"unicode/utf16"
	"unicode/utf8"
	"unsafe"
)

// AppendJSON appends js, one JSON value (typically the output of json.Marshal), to dst with
// secrets masked, and returns the extended buffer:
//   - the value of every object member whose key is secret (IsSecretKey, at any depth) is
//     replaced by the mask as a JSON string, whatever its type; a string value is hashed in
//     hash mode;
//   - every other string, object keys included, is passed through [Redactor.String];
//   - an integer that is a card number is replaced by the mask (rule "card").
//
// The output is valid JSON, without insignificant whitespace. If js is not valid JSON, its text
// is redacted with String and appended as one JSON string. dst and js must not overlap.
func (r *Redactor) AppendJSON(dst, js []byte) []byte {
	out, _ := r.appendJSON(dst, js, nil)
	return out
}

// appendJSON is AppendJSON with extra secret key names (exact JSON names, from struct tags);
// it also reports whether anything was masked.
func (r *Redactor) appendJSON(dst, js []byte, names map[string]struct{}) ([]byte, bool) {
	if !json.Valid(js) {
		red, changed := r.String(string(js))
		return appendJSONString(dst, red), changed
	}
	w := jsonWalker{r: r, js: js, names: names}
	dst = w.value(dst)
	return dst, w.changed
}

// jsonWalker copies a valid JSON value, masking as AppendJSON describes.
type jsonWalker struct {
	r       *Redactor
	js      []byte
	p       int
	names   map[string]struct{}
	changed bool
}

func (w *jsonWalker) skipWS() {
	for w.p < len(w.js) {
		switch w.js[w.p] {
		case ' ', '\t', '\n', '\r':
			w.p++
		default:
			return
		}
	}
}

// value appends the value at w.p and moves past it.
func (w *jsonWalker) value(dst []byte) []byte {
	w.skipWS()
	switch c := w.js[w.p]; {
	case c == '{':
		dst = append(dst, '{')
		w.p++
		for n := 0; ; n++ {
			w.skipWS()
			if w.js[w.p] == '}' {
				w.p++
				return append(dst, '}')
			}
			if w.js[w.p] == ',' {
				w.p++
				w.skipWS()
			}
			if n > 0 {
				dst = append(dst, ',')
			}
			key, raw := w.str()
			secret := w.isSecret(key)
			dst = w.appendString(dst, key, raw)
			dst = append(dst, ':')
			w.skipWS()
			w.p++ // ':'
			w.skipWS()
			if secret {
				dst = w.maskValue(dst)
			} else {
				dst = w.value(dst)
			}
		}
	case c == '[':
		dst = append(dst, '[')
		w.p++
		for n := 0; ; n++ {
			w.skipWS()
			if w.js[w.p] == ']' {
				w.p++
				return append(dst, ']')
			}
			if w.js[w.p] == ',' {
				w.p++
			}
			if n > 0 {
				dst = append(dst, ',')
			}
			dst = w.value(dst)
		}
	case c == '"':
		s, raw := w.str()
		return w.appendString(dst, s, raw)
	default: // number, true, false, null
		tok := w.scalar()
		if w.r.on(ruleCard) && len(tok) >= 13 && len(tok) <= 19 && isDigit(tok[0]) {
			d := bytesView(tok)
			if allDigits(d) && validCard(d) {
				w.r.counts[ruleCard].Add(1)
				w.changed = true
				return appendJSONString(dst, string(w.r.appendMask(nil, ruleCard, d)))
			}
		}
		return append(dst, tok...)
	}
}

func (w *jsonWalker) isSecret(key string) bool {
	if w.r.IsSecretKey(key) {
		return true
	}
	_, ok := w.names[key]
	return ok
}

// maskValue skips the value at w.p and appends its replacement.
func (w *jsonWalker) maskValue(dst []byte) []byte {
	w.r.counts[ruleKey].Add(1)
	w.changed = true
	if w.js[w.p] == '"' && w.r.hashKey != nil {
		s, _ := w.str()
		return appendJSONString(dst, string(w.r.appendHashed(nil, s)))
	}
	w.skipValue()
	return appendJSONString(dst, w.r.mask)
}

// skipValue moves past the value at w.p.
func (w *jsonWalker) skipValue() {
	switch w.js[w.p] {
	case '"':
		w.str()
	case '{', '[':
		depth := 0
		for {
			switch w.js[w.p] {
			case '"':
				w.str()
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					w.p++
					return
				}
			}
			w.p++
		}
	default:
		w.scalar()
	}
}

// scalar moves past the number or literal at w.p and returns it.
func (w *jsonWalker) scalar() []byte {
	start := w.p
	for w.p < len(w.js) {
		switch w.js[w.p] {
		case ',', '}', ']', ' ', '\t', '\n', '\r':
			return w.js[start:w.p]
		}
		w.p++
	}
	return w.js[start:w.p]
}

// str moves past the string token at w.p and returns its decoded value and its raw token
// (quotes included). Without escapes the value aliases w.js.
func (w *jsonWalker) str() (s string, raw []byte) {
	start := w.p
	i := start + 1
	esc := false
	for w.js[i] != '"' {
		if w.js[i] == '\\' {
			esc = true
			i++
		}
		i++
	}
	w.p = i + 1
	raw = w.js[start:w.p]
	body := raw[1 : len(raw)-1]
	if !esc {
		return bytesView(body), raw
	}
	return unescapeJSON(body), raw
}

// appendString appends the string s, whose token is raw, redacted.
func (w *jsonWalker) appendString(dst []byte, s string, raw []byte) []byte {
	red, changed := w.r.String(s)
	if !changed {
		return append(dst, raw...)
	}
	w.changed = true
	return appendJSONString(dst, red)
}

// bytesView returns b as a string without copying; b must not change while it is used.
func bytesView(b []byte) string {
	return unsafe.String(unsafe.SliceData(b), len(b))
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return true
}

// unescapeJSON decodes the body of a JSON string that contains escapes. Invalid \u escapes and
// lone surrogates become U+FFFD, as in encoding/json.
func unescapeJSON(b []byte) string {
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); i++ {
		c := b[i]
		if c != '\\' || i+1 >= len(b) {
			out = append(out, c)
			continue
		}
		i++
		switch b[i] {
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
			r1 := hex4(b[i+1:])
			i += 4
			if utf16.IsSurrogate(r1) {
				if i+6 < len(b) && b[i+1] == '\\' && b[i+2] == 'u' {
					if dec := utf16.DecodeRune(r1, hex4(b[i+3:])); dec != utf8.RuneError {
						out = utf8.AppendRune(out, dec)
						i += 6
						continue
					}
				}
				r1 = utf8.RuneError
			}
			out = utf8.AppendRune(out, r1)
		default: // '"', '\\', '/'
			out = append(out, b[i])
		}
	}
	return string(out)
}

// hex4 decodes 4 hex digits (valid JSON guarantees them); it returns U+FFFD if there are not.
func hex4(b []byte) rune {
	if len(b) < 4 {
		return utf8.RuneError
	}
	var r rune
	for _, c := range b[:4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			c = c - 'A' + 10
		default:
			return utf8.RuneError
		}
		r = r<<4 | rune(c)
	}
	return r
}

// appendJSONString appends s as a JSON string, escaped like encoding/json does (HTML
// characters included); invalid UTF-8 becomes U+FFFD.
func appendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	dst = jsonstr.AppendEscaped(dst, s, true)
	return append(dst, '"')
}
