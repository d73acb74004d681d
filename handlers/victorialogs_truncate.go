package handlers

import (
	"bytes"
	"encoding/json"
	"strconv"
	"time"
	"unicode/utf8"
)

// TruncatedKey is the field added to a record that was cut to fit a size limit; its value is
// the size of the original record in bytes, without the newline.
const TruncatedKey = "vlog_truncated"

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
	marker = append(marker, `"`+TruncatedKey+`":`...)
	marker = strconv.AppendInt(marker, int64(len(line)), 10)
	marker = append(marker, '}')

	members, ok := parseMembers(line)
	if !ok {
		const msg = `,"level":"error","msg":"vlog: a record that is not a JSON object was left out",`
		if max < 64+len(msg)+len(marker) {
			return append(append(dst, '{'), marker...)
		}
		dst = append(dst, `{"event_time":`...)
		dst = appendTime(dst, time.Now())
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
		case m.name == "msg":
			msg = m
		case m.name == TruncatedKey:
			m.skip = true
		case reserved(m.name) || keep(m.name):
			place(m, keptMax(max))
		}
		m.done = m.skip || m.name == "msg" || reserved(m.name) || keep(m.name)
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
