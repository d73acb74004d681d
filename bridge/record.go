package bridge

import (
	"strings"

	"go.vlog.dev/handlers/schema"
	"go.vlog.dev/redact"
)

// The fields the bridge adds to every record.
const (
	// FieldLogGroup and FieldLogStream are the CloudWatch Logs log group and stream.
	FieldLogGroup  = "log_group"
	FieldLogStream = "log_stream"
	// FieldAccount is the AWS account that owns the log group (the subscription's "owner").
	FieldAccount = "aws_account"
	// FieldEventID is the CloudWatch Logs event id, unique per log event: a record delivered
	// twice (Lambda retries, a replay) has the same one, which is how duplicates are found.
	FieldEventID = "cw_event_id"
	// FieldContainer and FieldTaskID come from an ECS awslogs stream name,
	// <prefix>/<container name>/<task id>, unless the record has its own.
	FieldContainer = schema.Container
	FieldTaskID    = "ecs_task_id"
	// FieldInvalidUTF8 is added, true, to a record whose message was not valid UTF-8 (the
	// invalid bytes became U+FFFD).
	FieldInvalidUTF8 = "vlog_invalid_utf8"
)

// DefaultMessageKeys and DefaultTimeKeys are the members of a JSON log message taken as its
// message and its time, in order of preference: vlog's and slog's, then those of other common
// JSON loggers (zap's ts, logstash's @timestamp, Serilog's compact @t/@m/@mt, Fluent Bit's log).
func DefaultMessageKeys() []string { return []string{"msg", "message", "@m", "@mt", "log"} }

// DefaultTimeKeys: see DefaultMessageKeys.
func DefaultTimeKeys() []string {
	return []string{"event_time", "time", "timestamp", "@timestamp", "ts", "@t"}
}

// ownKeys are the top-level keys of a record the bridge writes itself: a member of a JSON
// message with one of these keys (that was not taken as the message or the time) is renamed
// "attr.<key>", as vlog's handler renames a caller's attribute named like a schema key.
func ownKey(k string) bool {
	switch k {
	case schema.EventTime, schema.Message, FieldLogGroup, FieldLogStream, FieldAccount, FieldEventID, FieldInvalidUTF8:
		return true
	}
	return false
}

// stream is what a record learns from its log group and stream, encoded once per message.
type stream struct {
	tail      []byte // ,"log_group":"...","log_stream":"...","aws_account":"..."
	container []byte // ,"container":"..." or nothing
	taskID    []byte // ,"ecs_task_id":"..." or nothing
}

func newStream(d *logData) *stream {
	s := &stream{}
	t := append(s.tail, `,"`+FieldLogGroup+`":`...)
	t = appendQuoted(t, strings.ToValidUTF8(d.LogGroup, "\uFFFD"))
	t = append(t, `,"`+FieldLogStream+`":`...)
	t = appendQuoted(t, strings.ToValidUTF8(d.LogStream, "\uFFFD"))
	if d.Owner != "" {
		t = append(t, `,"`+FieldAccount+`":`...)
		t = appendQuoted(t, strings.ToValidUTF8(d.Owner, "\uFFFD"))
	}
	s.tail = t
	if container, task, ok := parseECSStream(d.LogStream); ok {
		s.container = appendQuoted([]byte(`,"`+FieldContainer+`":`), container)
		s.taskID = appendQuoted([]byte(`,"`+FieldTaskID+`":`), task)
	}
	return s
}

// parseECSStream reads an awslogs stream name of ECS, <prefix>/<container name>/<task id>
// (the prefix may hold slashes; the task id is 32 hex digits, or a UUID for old tasks).
func parseECSStream(name string) (container, task string, ok bool) {
	i := strings.LastIndexByte(name, '/')
	if i < 0 {
		return "", "", false
	}
	task, rest := name[i+1:], name[:i]
	j := strings.LastIndexByte(rest, '/')
	if j <= 0 {
		return "", "", false
	}
	container = rest[j+1:]
	if !isTaskID(task) || !isContainerName(container) {
		return "", "", false
	}
	return container, task, true
}

func isTaskID(s string) bool {
	hex := func(s string) bool {
		for i := 0; i < len(s); i++ {
			if c := s[i]; !isDigit(c) && (c < 'a' || c > 'f') {
				return false
			}
		}
		return true
	}
	switch len(s) {
	case 32:
		return hex(s)
	case 36:
		return s[8] == '-' && s[13] == '-' && s[18] == '-' && s[23] == '-' &&
			hex(s[:8]) && hex(s[9:13]) && hex(s[14:18]) && hex(s[19:23]) && hex(s[24:])
	}
	return false
}

// isContainerName: ECS allows letters, digits, '-' and '_', up to 255.
func isContainerName(s string) bool {
	if s == "" || len(s) > 255 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !isDigit(c) && (c < 'a' || c > 'z') && (c < 'A' || c > 'Z') && c != '-' && c != '_' {
			return false
		}
	}
	return true
}

// builder turns log events into records, one JSON line each, in buffers it reuses. One per
// goroutine.
type builder struct {
	msgKeys, timeKeys []string
	skew              int64 // nanoseconds
	r                 *redact.Redactor
	hashMode          bool
	maxLine           int
	keep              []string // fields Truncate keeps besides the schema's

	msg     []byte
	line    []byte
	trunc   []byte
	tmp     []byte
	members []member
}

// result says what build did besides building.
type result struct {
	structured  bool // the message was a JSON object
	invalidUTF8 bool
	truncated   bool
	ownTime     bool // the record's own time was used
}

// build returns the record of ev, valid until the next call. The record never exceeds
// b.maxLine bytes.
func (b *builder) build(s *stream, ev *logEvent) ([]byte, result) {
	var res result
	msg := ev.Text
	res.invalidUTF8 = ev.InvalidUTF8
	if msg == nil {
		b.msg, res.invalidUTF8 = appendUnescaped(b.msg[:0], ev.Message)
		msg = b.msg
	}
	cwTime := ev.Timestamp * 1e6
	line := append(b.line[:0], `{"`+schema.EventTime+`":"`...)

	trimmed := trimJSONSpace(msg)
	var members []member
	if len(trimmed) >= 2 && trimmed[0] == '{' && trimmed[len(trimmed)-1] == '}' {
		ms, end, err := scanObject(trimmed, 0, b.members[:0])
		if err == nil && end == len(trimmed) {
			members, res.structured = ms, true
		}
		b.members = ms[:0]
	}

	hasContainer, hasTask := false, false
	if res.structured {
		msgIdx, timeIdx := -1, -1
		t := cwTime
	msgKeys:
		for _, k := range b.msgKeys {
			for i := range members {
				if members[i].val[0] == '"' && keyIs(members[i].key, k) {
					msgIdx = i
					break msgKeys
				}
			}
		}
	timeKeys:
		for _, k := range b.timeKeys {
			for i := range members {
				if i == msgIdx || !keyIs(members[i].key, k) {
					continue
				}
				if ns, ok := parseTimeValue(members[i].val); ok && ns-cwTime <= b.skew && cwTime-ns <= b.skew {
					timeIdx, t, res.ownTime = i, ns, true
					break timeKeys
				}
			}
		}
		line = appendTime(line, t)
		line = append(line, `","`+schema.Message+`":`...)
		if msgIdx >= 0 {
			line = b.appendString(line, members[msgIdx].sval)
		} else {
			line = append(line, `""`...)
		}
		for i := range members {
			if i == msgIdx || i == timeIdx {
				continue
			}
			m := &members[i]
			key := b.keyString(m.key)
			line = append(line, ',')
			if ownKey(key) {
				line = append(line, `"`+schema.ReservedPrefix...)
				line = appendEscaped(line, []byte(key))
				line = append(line, '"')
			} else {
				line = b.appendString(line, m.key)
			}
			switch key {
			case FieldContainer:
				hasContainer = true
			case FieldTaskID:
				hasTask = true
			}
			line = append(line, ':')
			switch {
			case b.r != nil && b.r.IsSecretKey(key):
				line = b.appendMask(line, m.val)
			case m.val[0] == '"':
				line = b.appendString(line, m.sval)
			default:
				line = b.appendValue(line, m.val)
			}
		}
	} else {
		text := msg
		for len(text) > 0 && (text[len(text)-1] == '\n' || text[len(text)-1] == '\r') {
			text = text[:len(text)-1]
		}
		line = appendTime(line, cwTime)
		line = append(line, `","`+schema.Message+`":"`...)
		if b.r != nil {
			if red, changed := b.r.String(view(text)); changed {
				line = appendEscaped(line, []byte(red))
			} else {
				line = appendEscaped(line, text)
			}
		} else {
			line = appendEscaped(line, text)
		}
		line = append(line, '"')
	}

	line = append(line, s.tail...)
	line = append(line, `,"`+FieldEventID+`":`...)
	line = appendQuoted(line, view(ev.ID))
	if !hasContainer {
		line = append(line, s.container...)
	}
	if !hasTask {
		line = append(line, s.taskID...)
	}
	if res.invalidUTF8 {
		line = append(line, `,"`+FieldInvalidUTF8+`":true`...)
	}
	line = append(line, '}')
	b.line = line
	if len(line) > b.maxLine {
		b.trunc = schema.Truncate(b.trunc[:0], line, b.maxLine, b.keep...)
		res.truncated = true
		return b.trunc, res
	}
	return line, res
}

func trimJSONSpace(b []byte) []byte {
	for len(b) > 0 && isWS(b[0]) {
		b = b[1:]
	}
	for len(b) > 0 && isWS(b[len(b)-1]) {
		b = b[:len(b)-1]
	}
	return b
}

// keyIs reports whether the key token k is the key name.
func keyIs(k str, name string) bool {
	if !k.esc {
		return string(k.raw) == name
	}
	return unescapeString(k) == name
}

// keyString returns the key token k decoded; without escapes, a view of its bytes.
func (b *builder) keyString(k str) string {
	if !k.esc {
		return view(k.raw)
	}
	return unescapeString(k)
}

// The redaction of a JSON message, member by member, with the rules of
// redact.Redactor.AppendJSON (FuzzRedactMatchesAppendJSON checks that the result decodes to
// the same value): the value under a secret key is masked whole, every other string, object
// keys included, goes through Redactor.String, an integer that is a card number is masked.
// It reads the value once (it was validated by scanObject) instead of AppendJSON's validation
// and walk, which is what makes redaction affordable per record here.

// appendString appends the string token s, redacted, as a JSON string.
func (b *builder) appendString(dst []byte, s str) []byte {
	if b.r == nil {
		return append(append(append(dst, '"'), s.raw...), '"')
	}
	var text string
	if s.esc {
		b.tmp, _ = appendUnescaped(b.tmp[:0], s)
		text = view(b.tmp)
	} else {
		// The message was made valid UTF-8 before it was scanned, and without escapes
		// the token is its own content.
		text = view(s.raw)
	}
	red, changed := b.r.String(text)
	if !changed {
		return append(append(append(dst, '"'), s.raw...), '"')
	}
	return appendQuoted(dst, red)
}

// appendMask appends the replacement of the value v under a secret key.
func (b *builder) appendMask(dst, v []byte) []byte {
	if b.hashMode && v[0] == '"' {
		s, _, _ := scanString(v, 0)
		return appendQuoted(dst, b.r.MaskKeyString(unescapeString(s)))
	}
	return appendQuoted(dst, b.r.MaskKey())
}

// appendValue appends the validated JSON value v, redacted.
func (b *builder) appendValue(dst, v []byte) []byte {
	if b.r == nil {
		return append(dst, v...)
	}
	switch c := v[0]; {
	case c == '"':
		s, _, _ := scanString(v, 0)
		return b.appendString(dst, s)
	case c == '{':
		dst = append(dst, '{')
		p := skipWS(v, 1)
		for n := 0; v[p] != '}'; n++ {
			if n > 0 {
				dst = append(dst, ',')
				p = skipWS(v, p+1) // the ','
			}
			k, q, _ := scanKey(v, p)
			start := skipWS(v, q)
			end, _ := skipValue(v, start)
			dst = b.appendString(dst, k)
			dst = append(dst, ':')
			if b.r.IsSecretKey(b.keyString(k)) {
				dst = b.appendMask(dst, v[start:end])
			} else {
				dst = b.appendValue(dst, v[start:end])
			}
			p = skipWS(v, end)
		}
		return append(dst, '}')
	case c == '[':
		dst = append(dst, '[')
		p := skipWS(v, 1)
		for n := 0; v[p] != ']'; n++ {
			if n > 0 {
				dst = append(dst, ',')
				p = skipWS(v, p+1)
			}
			end, _ := skipValue(v, p)
			dst = b.appendValue(dst, v[p:end])
			p = skipWS(v, end)
		}
		return append(dst, ']')
	case c >= '0' && c <= '9':
		if len(v) >= 13 && len(v) <= 19 && allDigits(v) {
			if red, changed := b.r.String(view(v)); changed {
				return appendQuoted(dst, red)
			}
		}
		return append(dst, v...)
	default: // a negative number, true, false, null
		return append(dst, v...)
	}
}

func allDigits(b []byte) bool {
	for _, c := range b {
		if !isDigit(c) {
			return false
		}
	}
	return true
}
