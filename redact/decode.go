package redact

import (
	"slices"
	"strings"
	"sync"
	"unicode/utf16"
	"unicode/utf8"
	"unsafe"
)

// Decoding. A text with percent-escapes (%XX: query strings, form bodies, a URL inside a query
// value) or JSON escapes (\", \/, \n, \u0026: JSON embedded in a string) hides secrets from the
// rules: "Bearer%20abc", "postgres%3A%2F%2Fu%3Ap%40h", "{\"token\":\"...\"}". Such a text is
// decoded, up to maxLayers times for escapes of escapes, and each decoded layer is scanned
// like the text itself. A match in a layer is mapped back to the bytes of the original text it
// was decoded from, and those are masked: the encoded form is replaced in place, so the text
// keeps its encoding and stays readable ("?q=Bearer%20[REDACTED]"). A '+' (a space in form
// encoding) is not decoded: the rules that need a space before a secret accept a '+' instead.

// maxLayers bounds the decoding of escapes of escapes (%2520, \\\").
const maxLayers = 3

// maxDecoded bounds the text that is decoded (longer texts are decoded up to it).
const maxDecoded = 64 << 10

// decodeBuf holds the decoded layers of a text and, for each, the map from its positions to
// those of the text it was decoded from.
type decodeBuf struct {
	text [maxLayers][]byte
	maps [maxLayers]layerMap
	plus []byte // a layer with '+' read as a blank
}

// layerMap maps the positions of a decoded text to those of its source: a list of segments,
// each a run of copied bytes or the bytes of one escape.
type layerMap struct {
	segs   []seg
	srcLen int // the length of the source: where the end of the decoded text maps to
}

// seg is a segment of a decoded text starting at dec, from src in the source. The bytes of a
// copied run map one to one; those of an escape all map to the escape's first byte.
type seg struct {
	dec, src int32
	esc      bool
}

// toSrc returns the position in the source of the position d of the decoded text (its length
// for the end).
func (m *layerMap) toSrc(d int) int {
	segs := m.segs
	if len(segs) == 0 || d >= int(m.end()) {
		return m.srcLen
	}
	lo, hi := 0, len(segs) // the last segment starting at or before d
	for hi-lo > 1 {
		mid := int(uint(lo+hi) >> 1)
		if int(segs[mid].dec) <= d {
			lo = mid
		} else {
			hi = mid
		}
	}
	sg := segs[lo]
	if sg.esc {
		return int(sg.src)
	}
	return int(sg.src) + d - int(sg.dec)
}

// end is the length of the decoded text, kept as the dec of a final empty segment.
func (m *layerMap) end() int32 { return m.segs[len(m.segs)-1].dec }

var decodePool = sync.Pool{New: func() any { return new(decodeBuf) }}

func getDecodeBuf() *decodeBuf { return decodePool.Get().(*decodeBuf) }

func putDecodeBuf(db *decodeBuf) {
	for i := range db.text {
		if cap(db.text[i]) > maxDecoded {
			db.text[i], db.maps[i].segs = nil, nil
		}
	}
	if cap(db.plus) > maxDecoded {
		db.plus = nil
	}
	decodePool.Put(db)
}

// scanDecoded decodes s layer by layer, scans each layer and appends what it finds to spans,
// in positions of s.
func (r *Redactor) scanDecoded(s string, db *decodeBuf, spans []span) []span {
	src := s[:min(len(s), maxDecoded)]
	for layer := 0; layer < maxLayers; layer++ {
		m := &db.maps[layer]
		text, pct := decodeLayer(db.text[layer][:0], m, src)
		db.text[layer] = text
		dec := unsafe.String(unsafe.SliceData(text), len(text))
		var more bool
		spans, more = r.scanLayer(s, dec, db.maps[:layer+1], spans)
		if pct && strings.IndexByte(dec, '+') >= 0 {
			// Percent-encoded text may be form-encoded, where '+' is a blank
			// ("PASSWORD+%27x%27"), or not, where it is a '+' (base64): both readings are
			// scanned, and what either finds is masked.
			db.plus = append(db.plus[:0], dec...)
			for i, c := range db.plus {
				if c == '+' {
					db.plus[i] = ' '
				}
			}
			spans, _ = r.scanLayer(s, unsafe.String(unsafe.SliceData(db.plus), len(db.plus)), db.maps[:layer+1], spans)
		}
		if !more {
			break
		}
		src = dec
	}
	return spans
}

// scanLayer scans the decoded text dec of the last of maps and appends what it finds to
// spans, in positions of s; it also reports whether dec has escapes left.
func (r *Redactor) scanLayer(s, dec string, maps []layerMap, spans []span) ([]span, bool) {
	sc := scanner{r: r, s: dec}
	for m, ok := sc.next(0); ok; m, ok = sc.next(m.end) {
		start, end := m.start, m.end
		for l := len(maps) - 1; l >= 0; l-- {
			start, end = maps[l].toSrc(start), maps[l].toSrc(end)
		}
		start, end = runeStart(s, start), runeEnd(s, end)
		if end <= start {
			continue
		}
		spans = append(spans, span{start, end, m.rule, dec[m.start:m.end]})
	}
	return spans, sc.enc
}

// decodeLayer appends to text the decoding of src (percent-escapes and JSON escapes; other
// bytes are copied) and sets m to the map of its positions to src's. It also reports whether
// it decoded a percent-escape.
func decodeLayer(text []byte, m *layerMap, src string) (_ []byte, pct bool) {
	text = slices.Grow(text, len(src))
	segs := m.segs[:0]
	nextPct, nextBs := -1, -1 // the next '%' and '\\' at or after i (-2: none)
	for i := 0; i < len(src); {
		// The run of bytes up to the next '%' or '\\', copied at once.
		if nextPct != -2 && nextPct < i {
			if nextPct = strings.IndexByte(src[i:], '%'); nextPct >= 0 {
				nextPct += i
			} else {
				nextPct = -2
			}
		}
		if nextBs != -2 && nextBs < i {
			if nextBs = strings.IndexByte(src[i:], '\\'); nextBs >= 0 {
				nextBs += i
			} else {
				nextBs = -2
			}
		}
		j := len(src)
		if nextPct >= 0 {
			j = nextPct
		}
		if nextBs >= 0 && nextBs < j {
			j = nextBs
		}
		if j > i {
			segs = append(segs, seg{dec: int32(len(text)), src: int32(i)})
			text = append(text, src[i:j]...)
			i = j
			if i == len(src) {
				break
			}
		}
		c := src[i]
		if !isEscape(src, i) {
			segs = append(segs, seg{dec: int32(len(text)), src: int32(i)})
			text = append(text, c)
			i++
			continue
		}
		segs = append(segs, seg{dec: int32(len(text)), src: int32(i), esc: true})
		if c == '%' {
			pct = true
			text = append(text, unhex(src[i+1])<<4|unhex(src[i+2]))
			i += 3
			continue
		}
		switch e := src[i+1]; e {
		case 'u':
			r := rune(unhex(src[i+2]))<<12 | rune(unhex(src[i+3]))<<8 | rune(unhex(src[i+4]))<<4 | rune(unhex(src[i+5]))
			i += 6
			if utf16.IsSurrogate(r) {
				if i+5 < len(src) && src[i] == '\\' && src[i+1] == 'u' && isEscape(src, i) {
					r2 := rune(unhex(src[i+2]))<<12 | rune(unhex(src[i+3]))<<8 | rune(unhex(src[i+4]))<<4 | rune(unhex(src[i+5]))
					if d := utf16.DecodeRune(r, r2); d != utf8.RuneError {
						r = d
						i += 6
					} else {
						r = utf8.RuneError
					}
				} else {
					r = utf8.RuneError
				}
			}
			text = utf8.AppendRune(text, r)
			continue
		case 'b':
			text = append(text, '\b')
		case 'f':
			text = append(text, '\f')
		case 'n':
			text = append(text, '\n')
		case 'r':
			text = append(text, '\r')
		case 't':
			text = append(text, '\t')
		default: // '"', '\\', '/'
			text = append(text, e)
		}
		i += 2
	}
	m.segs = append(segs, seg{dec: int32(len(text)), src: int32(len(src))})
	m.srcLen = len(src)
	return text, pct
}

func unhex(c byte) byte {
	switch {
	case c >= '0' && c <= '9':
		return c - '0'
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10
	default:
		return c - 'A' + 10
	}
}
