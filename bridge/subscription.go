package bridge

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strconv"
	"unicode/utf8"

	"github.com/klauspost/compress/gzip"
)

// The CloudWatch Logs subscription format, as CloudWatch Logs delivers it to a Lambda
// function: {"awslogs":{"data":"<base64 of the gzip of the JSON below>"}}.
//
//	{"messageType":"DATA_MESSAGE","owner":"123456789012","logGroup":"/ecs/order-api",
//	 "logStream":"ecs/order-api/5f1e...","subscriptionFilters":["vlog-bridge"],
//	 "logEvents":[{"id":"3617...","timestamp":1764650000123,"message":"..."}, ...]}
//
// messageType is DATA_MESSAGE, or CONTROL_MESSAGE when CloudWatch Logs checks that the
// destination is reachable (then logGroup and logStream are empty); an account-level
// subscription filter adds "policyLevel". Members may come in any order; unknown ones are
// skipped.
const (
	dataMessage    = "DATA_MESSAGE"
	controlMessage = "CONTROL_MESSAGE"
)

// logData is a decoded subscription message. Its strings are copies; events point into the
// decompressed data.
type logData struct {
	MessageType         string
	Owner               string
	LogGroup            string
	LogStream           string
	SubscriptionFilters []string
	PolicyLevel         string
	Events              []logEvent
}

// logEvent is one element of logEvents. ID points into the decompressed data; Text is the
// message decoded (U+FFFD for invalid UTF-8, then InvalidUTF8 is set), or, when nil, Message
// is the message as written (call appendUnescaped). Err, when not empty, says why the event
// cannot be used (a member missing or of the wrong type): the other events still are.
type logEvent struct {
	ID          []byte
	Timestamp   int64
	Message     str
	Text        []byte
	InvalidUTF8 bool
	Err         string

	textStart, textEnd int // Text in the buffer of parseLogData, while it grows
}

// MalformedError reports input that is not what a CloudWatch Logs subscription (or an SQS
// message carrying one) delivers: bad base64, bad gzip, a payload that is not the
// subscription format. Retrying it cannot help; the invocation fails so that the payload is
// kept (after Lambda's retries, in the on-failure queue, then the parking queue) for a human
// to look at.
type MalformedError struct {
	// Where names the part of the input: "payload", "awslogs.data", "Records[3].body", ...
	Where string
	// Reason says what is wrong with it.
	Reason string
}

func (e *MalformedError) Error() string {
	return fmt.Sprintf("bridge: malformed input: %s: %s", e.Where, e.Reason)
}

func malformed(where, format string, args ...any) *MalformedError {
	return &MalformedError{Where: where, Reason: fmt.Sprintf(format, args...)}
}

// decoder decodes awslogs.data: base64, then gzip, into buffers it reuses.
type decoder struct {
	maxSize int // largest decompressed size accepted

	b64    []byte
	out    []byte
	zr     *gzip.Reader
	events []logEvent
	text   []byte // the decoded messages
}

// decode returns the decompressed data of the base64 string token s. The result is valid until
// the next call.
func (d *decoder) decode(where string, s str) ([]byte, error) {
	raw := s.raw
	if s.esc {
		raw, _ = appendUnescaped(d.out[:0], s) // "\/" is a valid escape of '/' in JSON
		d.out = raw
	}
	n := base64.StdEncoding.DecodedLen(len(raw))
	if cap(d.b64) < n {
		d.b64 = make([]byte, n)
	}
	n, err := base64.StdEncoding.Decode(d.b64[:n], raw)
	if err != nil {
		return nil, malformed(where, "not base64: %v", err)
	}
	gz := d.b64[:n]
	if d.zr == nil {
		d.zr, err = gzip.NewReader(bytes.NewReader(gz))
	} else {
		err = d.zr.Reset(bytes.NewReader(gz))
	}
	if err != nil {
		return nil, malformed(where, "not gzip: %v", err)
	}
	// Read into d.out, growing it up to maxSize+1 bytes: one more says the data is too large.
	limit := d.maxSize + 1
	out := d.out[:0]
	if cap(out) < 4*len(gz) {
		out = make([]byte, 0, min(8*len(gz)+4096, limit))
	}
	for {
		if len(out) == cap(out) {
			if cap(out) >= limit {
				break
			}
			grown := make([]byte, len(out), min(2*cap(out), limit))
			copy(grown, out)
			out = grown
		}
		m, rerr := d.zr.Read(out[len(out):cap(out)])
		out = out[:len(out)+m]
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			d.out = out
			return nil, malformed(where, "not gzip: %v", rerr)
		}
	}
	d.out = out
	if len(out) > d.maxSize {
		return nil, malformed(where, "decompresses to more than %d bytes (VLOG_BRIDGE_MAX_DATA_SIZE): raise it, with the function's memory", d.maxSize)
	}
	return out, nil
}

// release drops buffers grown past keep bytes, so that one huge event does not stay in memory
// between invocations.
func (d *decoder) release(keep int) {
	if cap(d.out) > keep {
		d.out = nil
	}
	if cap(d.b64) > keep {
		d.b64 = nil
	}
	if cap(d.text) > keep {
		d.text = nil
	}
}

// parseLogData parses the decompressed subscription message b, in one pass: the log events
// are read where they are, their messages decoded into *text. Events are appended to events
// (buffers reused across calls).
func parseLogData(b []byte, events []logEvent, text *[]byte) (*logData, error) {
	d := &logData{Events: events[:0]}
	*text = (*text)[:0]
	seen := map[string]bool{}
	end, err := eachMember(b, 0, func(k str, p int) (int, error) {
		key := unescapeString(k)
		seen[key] = true
		switch key {
		case "messageType", "owner", "logGroup", "logStream", "policyLevel":
			if p >= len(b) || b[p] != '"' {
				return p, fmt.Errorf("%s: want a string", key)
			}
			s, end, err := scanString(b, p)
			if err != nil {
				return end, err
			}
			v := unescapeString(s)
			switch key {
			case "messageType":
				d.MessageType = v
			case "owner":
				d.Owner = v
			case "logGroup":
				d.LogGroup = v
			case "logStream":
				d.LogStream = v
			case "policyLevel":
				d.PolicyLevel = v
			}
			return end, nil
		case "subscriptionFilters":
			d.SubscriptionFilters = d.SubscriptionFilters[:0]
			return scanArray(b, p, func(p int) (int, error) {
				if p >= len(b) || b[p] != '"' {
					return p, errors.New("subscriptionFilters: want an array of strings")
				}
				s, end, err := scanString(b, p)
				if err == nil {
					d.SubscriptionFilters = append(d.SubscriptionFilters, unescapeString(s))
				}
				return end, err
			})
		case "logEvents":
			d.Events = d.Events[:0]
			end, err := scanArray(b, p, func(p int) (int, error) {
				ev, end, err := parseLogEvent(b, p, text)
				d.Events = append(d.Events, ev)
				return end, err
			})
			if err != nil {
				err = fmt.Errorf("logEvents: %v", err)
			}
			return end, err
		}
		return skipValue(b, p)
	})
	if err != nil {
		return nil, err
	}
	if skipWS(b, end) != len(b) {
		return nil, syntaxErr(end, "data after the JSON object")
	}
	for i := range d.Events {
		if ev := &d.Events[i]; ev.textEnd > 0 {
			ev.Text = (*text)[ev.textStart:ev.textEnd:ev.textEnd]
		}
	}
	switch {
	case !seen["messageType"]:
		return nil, errors.New("no messageType")
	case d.MessageType == controlMessage:
		return d, nil
	case d.MessageType != dataMessage:
		return nil, fmt.Errorf("messageType %q: want DATA_MESSAGE or CONTROL_MESSAGE", d.MessageType)
	case d.LogGroup == "":
		return nil, errors.New("a DATA_MESSAGE without a logGroup")
	case !seen["logStream"]:
		return nil, errors.New("a DATA_MESSAGE without a logStream")
	case !seen["logEvents"]:
		return nil, errors.New("a DATA_MESSAGE without logEvents")
	}
	return d, nil
}

// eachMember reads the object at b[p] (after blanks): for each member it calls fn with the
// key and the offset of the value (after blanks); fn reads the value and returns the offset
// after it. It returns the offset after the object.
func eachMember(b []byte, p int, fn func(k str, val int) (int, error)) (int, error) {
	p = skipWS(b, p)
	if p >= len(b) || b[p] != '{' {
		return p, errNotObject
	}
	p = skipWS(b, p+1)
	if p < len(b) && b[p] == '}' {
		return p + 1, nil
	}
	for {
		k, q, err := scanKey(b, p)
		if err != nil {
			return q, err
		}
		end, err := fn(k, skipWS(b, q))
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
		case '}':
			return p + 1, nil
		default:
			return p, syntaxErr(p, "invalid character %q after an object member", b[p])
		}
	}
}

func stringValue(v []byte) (string, error) {
	if len(v) == 0 || v[0] != '"' {
		return "", errors.New("want a string")
	}
	s, _, err := scanString(v, 0)
	if err != nil {
		return "", err
	}
	return unescapeString(s), nil
}

// parseLogEvent parses the element of logEvents at b[p]. A syntax error is returned as an
// error (the whole message is then unreadable); an element that is valid JSON but not a log
// event comes back with Err set.
func parseLogEvent(b []byte, p int, text *[]byte) (logEvent, int, error) {
	var ev logEvent
	if p >= len(b) || b[p] != '{' {
		end, err := skipValue(b, p)
		ev.Err = "not a JSON object"
		return ev, end, err
	}
	var haveID, haveTS, haveMsg bool
	end, err := eachMember(b, p, func(k str, p int) (int, error) {
		if k.esc || p >= len(b) {
			return skipValue(b, p) // CloudWatch Logs writes its keys plainly
		}
		switch string(k.raw) {
		case "id":
			if b[p] != '"' {
				ev.Err = "id is not a string"
				break
			}
			s, end, err := scanString(b, p)
			if err != nil {
				return end, err
			}
			ev.ID, haveID = s.raw, len(s.raw) > 0
			if s.esc || !utf8.Valid(s.raw) {
				ev.ID = []byte(unescapeString(s))
			}
			return end, nil
		case "timestamp":
			end, err := skipValue(b, p)
			if err != nil {
				return end, err
			}
			ts, perr := strconv.ParseInt(string(b[p:end]), 10, 64)
			if perr != nil {
				ev.Err = "timestamp is not an integer (milliseconds)"
			} else {
				ev.Timestamp, haveTS = ts, true
			}
			return end, nil
		case "message":
			if b[p] != '"' {
				ev.Err = "message is not a string"
				break
			}
			start := len(*text)
			t, end, invalid, err := scanUnescape(*text, b, p)
			*text = t
			// An empty message still has a Text (not nil): textEnd > textStart or a marker.
			ev.textStart, ev.textEnd, ev.InvalidUTF8, haveMsg = start, len(t), invalid, true
			if ev.textEnd == start {
				ev.textStart, ev.textEnd = 0, 0
				ev.Text = []byte{}
			}
			return end, err
		}
		return skipValue(b, p)
	})
	if err != nil {
		return ev, end, err
	}
	if ev.Err == "" {
		switch {
		case !haveID:
			ev.Err = "no id"
		case !haveTS:
			ev.Err = "no timestamp"
		case !haveMsg:
			ev.Err = "no message"
		}
	}
	return ev, end, nil
}
