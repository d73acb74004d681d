package bridge

import (
	"math"
	"strconv"
)

// parseTimeValue reads the raw JSON value v (a member of a log message that is a JSON object)
// as a point in time, in Unix nanoseconds:
//
//   - a string in RFC 3339 / ISO 8601 form: 2026-11-22T02:55:54.123456789Z, with 'T', 't' or a
//     blank between date and time, any number of fractional digits after '.' or ',' (the
//     first 9 count), and a zone: Z, +hh:mm, +hhmm or +hh. A time without a zone is refused:
//     its offset is unknown;
//   - a number, or a string of one, of Unix time in seconds, milliseconds, microseconds or
//     nanoseconds, told apart by its magnitude as VictoriaLogs tells them apart (below 2^31:
//     seconds; below 1000 * 2^31: milliseconds; below 10^6 * 2^31: microseconds; else
//     nanoseconds), with an optional fraction of that unit.
//
// Anything else (a bool, an object, a negative or zero number, a date out of range) is not a
// time.
func parseTimeValue(v []byte) (int64, bool) {
	if len(v) == 0 {
		return 0, false
	}
	if v[0] == '"' {
		s, end, err := scanString(v, 0)
		if err != nil || end != len(v) || s.esc {
			return 0, false // a time is never written with escapes
		}
		if t, ok := parseRFC3339(s.raw); ok {
			return t, true
		}
		return parseUnixNumber(s.raw)
	}
	if v[0] >= '0' && v[0] <= '9' {
		return parseUnixNumber(v)
	}
	return 0, false
}

// parseUnixNumber parses digits[.digits][e[+-]digits] as Unix time in the unit its integer
// digits suggest.
func parseUnixNumber(b []byte) (int64, bool) {
	i := 0
	for i < len(b) && isDigit(b[i]) {
		i++
	}
	intDigits := i
	if intDigits == 0 || intDigits > 19 {
		return 0, false
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E' || b[i] == '.') {
		if b[i] == '.' {
			j := i + 1
			for j < len(b) && isDigit(b[j]) {
				j++
			}
			if j == len(b) && j > i+1 {
				return unixFromParts(b[:i], b[i+1:])
			}
		}
		// An exponent (1.7e9): rare enough for strconv.
		f, err := strconv.ParseFloat(string(b), 64)
		if err != nil || f <= 0 || f >= 1e19 {
			return 0, false
		}
		return scaleFloat(f)
	}
	if i != len(b) {
		return 0, false
	}
	return unixFromParts(b, nil)
}

// unixFromParts combines integer and fractional digits of a Unix time.
func unixFromParts(intPart, frac []byte) (int64, bool) {
	n, err := strconv.ParseUint(string(intPart), 10, 64)
	if err != nil || n == 0 {
		return 0, false
	}
	unit := unitOf(float64(n))
	if n > math.MaxInt64/uint64(unit) {
		return 0, false
	}
	ns := int64(n) * unit
	// The fraction, in the same unit.
	scale := unit
	for _, c := range frac {
		scale /= 10
		if scale == 0 {
			break
		}
		ns += int64(c-'0') * scale
	}
	return ns, true
}

// unitOf returns the nanoseconds per unit of a Unix time of magnitude n, as VictoriaLogs'
// timeutil.TryParseUnixTimestamp decides it.
func unitOf(n float64) int64 {
	switch {
	case n < 1<<31:
		return 1e9
	case n < 1e3*(1<<31):
		return 1e6
	case n < 1e6*(1<<31):
		return 1e3
	}
	return 1
}

func scaleFloat(f float64) (int64, bool) {
	unit := float64(unitOf(f))
	// A float64 holds a Unix time in seconds to about a quarter of a microsecond: round to
	// microseconds.
	us := math.Round(f * unit / 1e3)
	if us >= math.MaxInt64/1e3 {
		return 0, false
	}
	return int64(us) * 1e3, true
}

// parseRFC3339 parses the forms parseTimeValue lists.
func parseRFC3339(b []byte) (int64, bool) {
	num := func(p, n int) (int, bool) {
		if p+n > len(b) {
			return 0, false
		}
		v := 0
		for _, c := range b[p : p+n] {
			if !isDigit(c) {
				return 0, false
			}
			v = v*10 + int(c-'0')
		}
		return v, true
	}
	if len(b) < 20 || b[4] != '-' || b[7] != '-' || b[13] != ':' || b[16] != ':' {
		return 0, false
	}
	if c := b[10]; c != 'T' && c != 't' && c != ' ' {
		return 0, false
	}
	year, ok1 := num(0, 4)
	month, ok2 := num(5, 2)
	day, ok3 := num(8, 2)
	hour, ok4 := num(11, 2)
	minute, ok5 := num(14, 2)
	sec, ok6 := num(17, 2)
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) ||
		month < 1 || month > 12 || day < 1 || day > daysIn(month, year) ||
		hour > 23 || minute > 59 || sec > 59 {
		return 0, false
	}
	p := 19
	var nanos int64
	if p < len(b) && (b[p] == '.' || b[p] == ',') {
		p++
		start := p
		scale := int64(1e8)
		for p < len(b) && isDigit(b[p]) {
			nanos += int64(b[p]-'0') * scale
			scale /= 10
			p++
		}
		if p == start {
			return 0, false
		}
	}
	if p >= len(b) {
		return 0, false // no zone
	}
	offset := 0
	switch b[p] {
	case 'Z', 'z':
		p++
	case '+', '-':
		sign := 1
		if b[p] == '-' {
			sign = -1
		}
		p++
		hh, ok := num(p, 2)
		if !ok || hh > 23 {
			return 0, false
		}
		p += 2
		mm := 0
		if p < len(b) {
			if b[p] == ':' {
				p++
			}
			if mm, ok = num(p, 2); !ok || mm > 59 {
				return 0, false
			}
			p += 2
		}
		offset = sign * (hh*3600 + mm*60)
	default:
		return 0, false
	}
	if p != len(b) {
		return 0, false
	}
	secs := daysFromCivil(year, month, day)*86400 + int64(hour*3600+minute*60+sec) - int64(offset)
	// Unix nanoseconds fit years 1678 to 2262.
	if secs < -9223372036 || secs > 9223372035 {
		return 0, false
	}
	return secs*1e9 + nanos, true
}

func daysIn(month, year int) int {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// daysFromCivil returns the days from 1970-01-01 to the given date of the proleptic Gregorian
// calendar (Howard Hinnant's algorithm).
func daysFromCivil(y, m, d int) int64 {
	if m <= 2 {
		y--
	}
	era := y / 400
	if y < 0 && y%400 != 0 {
		era--
	}
	yoe := y - era*400
	mp := (m + 9) % 12
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return int64(era)*146097 + int64(doe) - 719468
}

// appendTime appends Unix nanoseconds ns as RFC 3339 in UTC with 9 fractional digits, the
// form of vlog's event_time: 2026-11-22T02:55:54.123456789Z.
func appendTime(dst []byte, ns int64) []byte {
	secs := ns / 1e9
	frac := ns % 1e9
	if frac < 0 {
		secs--
		frac += 1e9
	}
	days := secs / 86400
	rem := secs % 86400
	if rem < 0 {
		days--
		rem += 86400
	}
	// civil_from_days (Howard Hinnant).
	z := days + 719468
	era := z / 146097
	if z < 0 && z%146097 != 0 {
		era--
	}
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	y := yoe + era*400
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	d := doy - (153*mp+2)/5 + 1
	m := mp + 3
	if m > 12 {
		m -= 12
	}
	if m <= 2 {
		y++
	}
	two := func(dst []byte, v int64) []byte { return append(dst, byte('0'+v/10), byte('0'+v%10)) }
	dst = append(dst, byte('0'+y/1000%10), byte('0'+y/100%10), byte('0'+y/10%10), byte('0'+y%10), '-')
	dst = two(dst, m)
	dst = append(dst, '-')
	dst = two(dst, d)
	dst = append(dst, 'T')
	dst = two(dst, rem/3600)
	dst = append(dst, ':')
	dst = two(dst, rem/60%60)
	dst = append(dst, ':')
	dst = two(dst, rem%60)
	dst = append(dst, '.')
	var f [9]byte
	for i := 8; i >= 0; i-- {
		f[i] = byte('0' + frac%10)
		frac /= 10
	}
	dst = append(dst, f[:]...)
	return append(dst, 'Z')
}
