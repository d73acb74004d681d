package handlers

import (
	"encoding/binary"
	"errors"
	"math"
	"math/bits"
	"strconv"
	"time"
	"unicode/utf16"
	"unicode/utf8"
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

// plainByte[c] is true for the bytes that stand for themselves in a JSON string: printable
// ASCII other than '"' and '\\'.
var plainByte = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// plainPrefix returns the length of the longest prefix of b made of plainByte bytes, looking
// at 8 bytes at a time.
func plainPrefix(b []byte) int {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	i := 0
	for ; i+8 <= len(b); i += 8 {
		x := binary.LittleEndian.Uint64(b[i:])
		q := x ^ (ones * '"')
		bs := x ^ (ones * '\\')
		// A high bit marks a byte that is >= 0x80, < 0x20, '"' or '\\' (the "has zero byte"
		// trick). Borrows only run upwards, so the lowest mark is a true one.
		m := (x | (x - ones*0x20) | (q-ones)&^q | (bs-ones)&^bs) & highs
		if m != 0 {
			return i + bits.TrailingZeros64(m)/8
		}
	}
	for i < len(b) && plainByte[b[i]] {
		i++
	}
	return i
}

// jsonTranscoder turns one JSON value into msgpack. It is not safe for concurrent use; the
// forward transport keeps one per connection.
type jsonTranscoder struct {
	in  []byte
	pos int
	out []byte
	// time is the parsed value of the top-level event_time string, if any.
	time eventTime
}

// appendJSONRecord appends the msgpack encoding of the JSON object at the start of in to dst.
// It returns the new dst, the rest of in after the object and any whitespace (newlines
// included) that follows it, and the record's event_time if the object has a parsable one. On
// invalid input it returns an error and dst unchanged.
func (t *jsonTranscoder) appendRecord(dst, in []byte) ([]byte, []byte, eventTime, error) {
	t.in, t.pos, t.out, t.time = in, 0, dst, eventTime{}
	t.skipSpace()
	if t.pos >= len(t.in) || t.in[t.pos] != '{' {
		t.in = nil
		return dst, in, eventTime{}, errJSONSyntax
	}
	err := t.value(0)
	out, rest, et := t.out, t.in[t.pos:], t.time
	t.in, t.out = nil, nil
	if err != nil {
		return dst, in, eventTime{}, err
	}
	for len(rest) > 0 && isSpace(rest[0]) {
		rest = rest[1:]
	}
	return out, rest, et, nil
}

func isSpace(c byte) bool { return c == ' ' || c == '\n' || c == '\r' || c == '\t' }

func (t *jsonTranscoder) skipSpace() {
	if t.pos < len(t.in) && t.in[t.pos] > ' ' {
		return // the common case: compact JSON
	}
	for t.pos < len(t.in) && isSpace(t.in[t.pos]) {
		t.pos++
	}
}

// value transcodes the value at t.pos. depth counts the enclosing containers.
func (t *jsonTranscoder) value(depth int) error {
	t.skipSpace()
	if t.pos >= len(t.in) {
		return errJSONSyntax
	}
	switch c := t.in[t.pos]; {
	case c == '"':
		_, err := t.str()
		return err
	case c == '{':
		return t.object(depth)
	case c == '[':
		return t.array(depth)
	case c == 't':
		return t.literal("true", 0xc3)
	case c == 'f':
		return t.literal("false", 0xc2)
	case c == 'n':
		return t.literal("null", 0xc0)
	case c == '-' || c >= '0' && c <= '9':
		return t.number()
	}
	return errJSONSyntax
}

func (t *jsonTranscoder) literal(word string, code byte) error {
	if len(t.in)-t.pos < len(word) || string(t.in[t.pos:t.pos+len(word)]) != word {
		return errJSONSyntax
	}
	t.pos += len(word)
	t.out = append(t.out, code)
	return nil
}

func (t *jsonTranscoder) object(depth int) error {
	if depth >= maxJSONDepth {
		return errJSONSyntax
	}
	t.pos++ // '{'
	hdr := len(t.out)
	t.out = append(t.out, 0x80) // fixmap; fixed up below
	n := 0
	t.skipSpace()
	if t.pos < len(t.in) && t.in[t.pos] == '}' {
		t.pos++
		return nil
	}
	for {
		t.skipSpace()
		if t.pos >= len(t.in) || t.in[t.pos] != '"' {
			return errJSONSyntax
		}
		keyAt := len(t.out)
		isTime, err := t.str()
		if err != nil {
			return err
		}
		// The key "event_time" at the top level: remember its value's position.
		isTime = isTime && depth == 0 && string(t.out[keyAt:]) == "\xaaevent_time"
		if t.pos >= len(t.in) || t.in[t.pos] != ':' {
			t.skipSpace()
			if t.pos >= len(t.in) || t.in[t.pos] != ':' {
				return errJSONSyntax
			}
		}
		t.pos++
		valAt := len(t.out)
		if err := t.value(depth + 1); err != nil {
			return err
		}
		if isTime {
			t.time = parseEventTime(t.out[valAt:])
		}
		n++
		if t.pos >= len(t.in) || t.in[t.pos] != ',' && t.in[t.pos] != '}' {
			t.skipSpace()
			if t.pos >= len(t.in) {
				return errJSONSyntax
			}
		}
		if c := t.in[t.pos]; c == ',' {
			t.pos++
			continue
		} else if c != '}' {
			return errJSONSyntax
		}
		t.pos++
		t.out = fixHeader(t.out, hdr, n, 0x80, 0xde)
		return nil
	}
}

func (t *jsonTranscoder) array(depth int) error {
	if depth >= maxJSONDepth {
		return errJSONSyntax
	}
	t.pos++ // '['
	hdr := len(t.out)
	t.out = append(t.out, 0x90) // fixarray; fixed up below
	n := 0
	t.skipSpace()
	if t.pos < len(t.in) && t.in[t.pos] == ']' {
		t.pos++
		return nil
	}
	for {
		if err := t.value(depth + 1); err != nil {
			return err
		}
		n++
		t.skipSpace()
		if t.pos >= len(t.in) {
			return errJSONSyntax
		}
		if c := t.in[t.pos]; c == ',' {
			t.pos++
			continue
		} else if c != ']' {
			return errJSONSyntax
		}
		t.pos++
		t.out = fixHeader(t.out, hdr, n, 0x90, 0xdc)
		return nil
	}
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
// exactly "event_time" (a cheap pre-check for the caller).
func (t *jsonTranscoder) str() (bool, error) {
	t.pos++ // opening quote
	start := t.pos
	// Fast path: no escape and ASCII up to the closing quote.
	i := start + plainPrefix(t.in[start:])
	if i < len(t.in) && t.in[i] == '"' {
		t.out = appendStrHeader(t.out, i-start)
		t.out = append(t.out, t.in[start:i]...)
		t.pos = i + 1
		return i-start == len("event_time"), nil
	}
	// Slow path: reserve the header for the raw length (an upper bound of the decoded one),
	// decode, then fix the header.
	end := i
	for end < len(t.in) && t.in[end] != '"' {
		if t.in[end] == '\\' {
			end++
		}
		end++
	}
	if end >= len(t.in) {
		return false, errJSONSyntax
	}
	hdr := len(t.out)
	rawLen := end - start
	t.out = appendStrHeader(t.out, rawLen)
	hdrLen := len(t.out) - hdr
	body := len(t.out)
	t.out = append(t.out, t.in[start:i]...)
	for i < end {
		c := t.in[i]
		switch {
		case c == '\\':
			i++
			switch e := t.in[i]; e {
			case '"', '\\', '/':
				t.out = append(t.out, e)
			case 'b':
				t.out = append(t.out, '\b')
			case 'f':
				t.out = append(t.out, '\f')
			case 'n':
				t.out = append(t.out, '\n')
			case 'r':
				t.out = append(t.out, '\r')
			case 't':
				t.out = append(t.out, '\t')
			case 'u':
				r, ok := hex4(t.in[i+1 : min(i+5, end)])
				if !ok {
					return false, errJSONSyntax
				}
				i += 4
				if utf16.IsSurrogate(r) {
					r2 := rune(-1)
					if i+6 < end && t.in[i+1] == '\\' && t.in[i+2] == 'u' {
						r2, ok = hex4(t.in[i+3 : min(i+7, end)])
						if !ok {
							return false, errJSONSyntax
						}
					}
					if dec := utf16.DecodeRune(r, r2); dec != utf8.RuneError {
						r = dec
						i += 6
					} else {
						r = utf8.RuneError
					}
				}
				t.out = utf8.AppendRune(t.out, r)
			default:
				return false, errJSONSyntax
			}
			i++
		case c < 0x20:
			return false, errJSONSyntax
		case c < utf8.RuneSelf:
			t.out = append(t.out, c)
			i++
		default:
			r, size := utf8.DecodeRune(t.in[i:end])
			if r == utf8.RuneError && size == 1 {
				t.out = utf8.AppendRune(t.out, utf8.RuneError)
			} else {
				t.out = append(t.out, t.in[i:i+size]...)
			}
			i += size
		}
	}
	t.pos = end + 1
	n := len(t.out) - body
	// The decoded string may be longer than the raw one only through invalid UTF-8 bytes
	// becoming U+FFFD (3 bytes for 1): then, or when a shorter header fits, rewrite it.
	if want := strHeaderLen(n); want != hdrLen {
		t.out = moveBody(t.out, hdr, body, want)
		body = hdr + want
	}
	writeStrHeader(t.out[hdr:body], n)
	return false, nil
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

// number transcodes the JSON number at t.pos.
func (t *jsonTranscoder) number() error {
	start := t.pos
	i := start
	if t.in[i] == '-' {
		i++
	}
	// Integer part: 0 or [1-9][0-9]*.
	if i >= len(t.in) {
		return errJSONSyntax
	}
	if t.in[i] == '0' {
		i++
	} else if t.in[i] >= '1' && t.in[i] <= '9' {
		for i < len(t.in) && t.in[i] >= '0' && t.in[i] <= '9' {
			i++
		}
	} else {
		return errJSONSyntax
	}
	isInt := true
	if i < len(t.in) && t.in[i] == '.' {
		isInt = false
		i++
		d := i
		for i < len(t.in) && t.in[i] >= '0' && t.in[i] <= '9' {
			i++
		}
		if i == d {
			return errJSONSyntax
		}
	}
	if i < len(t.in) && (t.in[i] == 'e' || t.in[i] == 'E') {
		isInt = false
		i++
		if i < len(t.in) && (t.in[i] == '+' || t.in[i] == '-') {
			i++
		}
		d := i
		for i < len(t.in) && t.in[i] >= '0' && t.in[i] <= '9' {
			i++
		}
		if i == d {
			return errJSONSyntax
		}
	}
	t.pos = i
	lit := t.in[start:i]
	if isInt {
		if v, ok := parseInt(lit); ok {
			t.out = appendMsgpackInt(t.out, v)
			return nil
		}
		if lit[0] != '-' {
			if v, ok := parseUint(lit); ok {
				t.out = appendMsgpackUint(t.out, v)
				return nil
			}
		}
	}
	f, ok := parseFloatFast(lit)
	if !ok {
		var err error
		f, err = strconv.ParseFloat(string(lit), 64)
		if err != nil && !errors.Is(err, strconv.ErrRange) {
			return errJSONSyntax
		}
	}
	t.out = binary.BigEndian.AppendUint64(append(t.out, 0xcb), math.Float64bits(f))
	return nil
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
	if len(mp) == 0 || mp[0]&0xe0 != 0xa0 {
		// Not a fixstr: the fixed format is 30 bytes, so a longer string is not one.
		if len(mp) > 2 && mp[0] == 0xd9 {
			return parseRFC3339(mp[2:])
		}
		return eventTime{}
	}
	s := mp[1:]
	if len(s) == 30 && s[4] == '-' && s[7] == '-' && s[10] == 'T' && s[13] == ':' && s[16] == ':' &&
		s[19] == '.' && s[29] == 'Z' {
		year, ok1 := digits(s[0:4])
		month, ok2 := digits(s[5:7])
		day, ok3 := digits(s[8:10])
		hour, ok4 := digits(s[11:13])
		minute, ok5 := digits(s[14:16])
		sec, ok6 := digits(s[17:19])
		nsec, ok7 := digits(s[20:29])
		if ok1 && ok2 && ok3 && ok4 && ok5 && ok6 && ok7 && month >= 1 && month <= 12 && day >= 1 &&
			day <= 31 && hour < 24 && minute < 60 && sec < 60 {
			if day <= daysIn(month, year) {
				days := daysFromCivil(year, month, day)
				secs := days*86400 + int64(hour*3600+minute*60+sec)
				if secs >= 0 && secs <= math.MaxUint32 {
					return eventTime{sec: uint32(secs), nsec: uint32(nsec), ok: true}
				}
				return eventTime{}
			}
		}
	}
	return parseRFC3339(s)
}

// daysFromCivil returns the days since 1970-01-01 of a proleptic Gregorian date (Howard
// Hinnant's algorithm).
func daysFromCivil(y, m, d int) int64 {
	if m <= 2 {
		y--
	}
	era := y / 400 // y >= 0 here
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

func digits(b []byte) (int, bool) {
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
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
