package schema

import (
	"bytes"
	"encoding/json"
	"go.vlog.dev/internal/jsonstr"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Truncate appends to dst rec, one record without its newline, cut to at most max bytes: the
// schema's fields and those named in keep (the stream fields) are kept, then the other fields
// while they fit, and Truncated ("vlog_truncated") says how long rec was. For transports whose
// destination has a line limit (VictoriaLogs drops a line over 256 KiB; Fluent Bit's http
// output to VictoriaLogs sends lines as they come). max should be at least 1 KiB. rec itself
// is not modified.
func Truncate(dst, rec []byte, max int, keep ...string) []byte {
	return truncateLine(dst, rec, max, func(k string) bool { return holdsField(keep, k) })
}

// holdsField reports whether the top-level key is one of fields or an object holding one
// (fields are dotted paths, as VictoriaLogs flattens objects).
func holdsField(fields []string, key string) bool {
	for _, f := range fields {
		if f == key || strings.HasPrefix(f, key) && len(f) > len(key) && f[len(key)] == '.' {
			return true
		}
	}
	return false
}

// truncateLine appends to dst a JSON object of at most max bytes (without a newline) made from
// line, a record larger than that. The fields kept, in their original order:
//   - the schema's fields and those keep names (the stream fields), each at most max/16 bytes
//     (at least 64)
//     (a longer string is cut, another value is left out);
//   - msg, cut to at most max/2 bytes;
//   - then the other fields in order while they fit (a string is cut to the room left if
//     at least 32 bytes are left, another value that does not fit is left out);
//
// and then "vlog_truncated": len(line). A line that is not a JSON object (the JSONHandler
// never writes one) becomes a record of level error that says so, with the same marker.
func truncateLine(dst, line []byte, max int, keep func(string) bool) []byte {
	marker := make([]byte, 0, 40)
	marker = append(marker, `"`+Truncated+`":`...)
	marker = strconv.AppendInt(marker, int64(len(line)), 10)
	marker = append(marker, '}')

	members, ok := parseMembers(line)
	if !ok {
		const msg = `,"` + Level + `":"error","` + Message + `":"vlog: a record that is not a JSON object was left out",`
		if max < 64+len(msg)+len(marker) {
			return append(append(dst, '{'), marker...)
		}
		dst = append(dst, `{"`+EventTime+`":`...)
		dst = append(dst, '"')
		dst = time.Now().UTC().AppendFormat(dst, "2006-01-02T15:04:05.000000000Z")
		dst = append(dst, '"')
		dst = append(dst, msg...)
		return append(dst, marker...)
	}

	// Every member costs its key, a colon, its value and a comma (the last comma is the one
	// before the marker).
	room := max - 1 - len(marker)
	// place chooses m's value for at most limit bytes of value.
	place := func(m *member, limit int) {
		limit = min(limit, room-len(m.key)-2)
		if limit <= 0 {
			return
		}
		m.out = fitValue(m.val, limit)
		if m.out != nil {
			room -= len(m.key) + 2 + len(m.out)
		}
	}
	var msg *member
	for i := range members {
		m := &members[i]
		switch {
		case m.name == Message:
			msg = m
		case m.name == Truncated:
			m.skip = true
		case Reserved(m.name) || keep(m.name):
			place(m, keptMax(max))
		}
		m.done = m.skip || m.name == Message || Reserved(m.name) || keep(m.name)
	}
	if msg != nil {
		place(msg, max/2)
	}
	for i := range members {
		m := &members[i]
		if m.done {
			continue
		}
		if left := room - len(m.key) - 2; len(m.val) <= left || left >= 32 {
			place(m, left)
		}
	}

	dst = append(dst, '{')
	for _, m := range members {
		if m.out == nil {
			continue
		}
		dst = append(dst, m.key...)
		dst = append(dst, ':')
		dst = append(dst, m.out...)
		dst = append(dst, ',')
	}
	return append(dst, marker...)
}

// keptMax bounds the value of a kept field.
func keptMax(limit int) int { return max(limit/16, 64) }

type member struct {
	name string
	key  []byte // the key as JSON, quoted
	val  []byte // the value as JSON
	out  []byte // the value written, nil when left out
	skip bool
	done bool
}

// parseMembers splits a JSON object into its members, in order.
func parseMembers(line []byte) ([]member, bool) {
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.UseNumber()
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, false
	}
	var members []member
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, false
		}
		name, _ := tok.(string)
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, false
		}
		members = append(members, member{name: name, key: appendString(nil, name), val: raw})
	}
	if tok, err := dec.Token(); err != nil || tok != json.Delim('}') {
		return nil, false
	}
	return members, true
}

// fitValue returns val if it fits in limit bytes, a string value cut to fit, or nil.
func fitValue(val []byte, limit int) []byte {
	if len(val) <= limit {
		return val
	}
	if len(val) == 0 || val[0] != '"' || limit < 2 {
		return nil
	}
	var s string
	if json.Unmarshal(val, &s) != nil {
		return nil
	}
	return cutString(s, limit)
}

// cutString returns s as a JSON string of at most limit bytes, cut on a rune boundary.
func cutString(s string, limit int) []byte {
	k := min(len(s), limit-2)
	for {
		for k > 0 && k < len(s) && !utf8.RuneStart(s[k]) {
			k--
		}
		enc := appendString(nil, s[:k])
		if len(enc) <= limit {
			return enc
		}
		// Escapes make the encoding longer than the string: shrink in proportion.
		k = max(0, min(k-1, k*(limit-2)/(len(enc)-2)))
	}
}

// appendString appends s as a quoted JSON string.
func appendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	dst = jsonstr.AppendEscaped(dst, s, false)
	return append(dst, '"')
}
