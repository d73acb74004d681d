package bridge

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// The payloads the function is invoked with:
//
//   - a CloudWatch Logs subscription event, {"awslogs":{"data":"..."}} (paths B and C);
//   - an SQS event, {"Records":[{"messageId":"...","body":"...","eventSource":"aws:sqs",...}]},
//     from the on-failure queue (the replay): each body is a Lambda destination record,
//     {"requestContext":{...},"requestPayload":{"awslogs":{"data":"..."}},...}, or, sent there by
//     hand, a subscription event itself;
//   - a destination record delivered directly (by a Lambda or EventBridge destination; in an
//     EventBridge event it is the "detail").
//
// Anything else is malformed input.

// SQSResponse is the answer to an SQS event, for an event source mapping with
// ReportBatchItemFailures: the messages to keep in the queue (their records were not all
// delivered, or they are malformed); the others are deleted.
type SQSResponse struct {
	BatchItemFailures []SQSBatchItemFailure `json:"batchItemFailures"`
}

// SQSBatchItemFailure names one message of an SQS batch that failed.
type SQSBatchItemFailure struct {
	ItemIdentifier string `json:"itemIdentifier"`
}

// Summary is the answer to a subscription event or a destination record, and the content of
// the summary line the bridge writes after every invocation.
type Summary struct {
	// Source is "awslogs" (a subscription event), "destination" (a destination record) or
	// "sqs" (a replay from the on-failure queue).
	Source string `json:"source"`
	// Control is true for a CONTROL_MESSAGE (CloudWatch Logs checking the destination).
	Control bool `json:"control,omitempty"`
	// LogGroup and LogStream of the message (of the last one, for an SQS batch).
	LogGroup  string `json:"log_group,omitempty"`
	LogStream string `json:"log_stream,omitempty"`
	// Messages counts the subscription messages read (1, or one per SQS message).
	Messages int `json:"messages"`
	// Events counts the log events; Delivered the records VictoriaLogs took; NotDelivered
	// those it did not (the invocation, or the SQS message, failed for them).
	Events       int `json:"events"`
	Delivered    int `json:"delivered"`
	NotDelivered int `json:"not_delivered"`
	// MalformedEvents are log events that could not be read (skipped);
	// MalformedMessages are payloads or SQS bodies that could not be read at all (failed).
	MalformedEvents   int `json:"malformed_events"`
	MalformedMessages int `json:"malformed_messages"`
	// InvalidUTF8 counts messages repaired (invalid bytes replaced by U+FFFD); Truncated
	// records cut to the line limit; Structured messages that were JSON objects; OwnTime
	// records whose own time became _time; Redacted secrets masked.
	InvalidUTF8 int `json:"invalid_utf8"`
	Truncated   int `json:"truncated"`
	Structured  int `json:"structured"`
	OwnTime     int `json:"own_time"`
	Redacted    int `json:"redacted"`
	// SkippedOwnLogGroup counts events of the function's own log group, never forwarded.
	SkippedOwnLogGroup int `json:"skipped_own_log_group,omitempty"`
	// Replayed counts the records delivered from the on-failure queue.
	Replayed int `json:"replayed"`
	// Errors are the first problems met, one line each.
	Errors []string `json:"errors,omitempty"`
}

func (s *Summary) add(u *unitStats) {
	if u.LogGroup != "" || u.Control {
		s.Messages++ // read, not malformed
	}
	s.Control = s.Control || u.Control
	if u.LogGroup != "" {
		s.LogGroup, s.LogStream = u.LogGroup, u.LogStream
	}
	s.Events += u.Events
	s.Delivered += u.Delivered
	s.MalformedEvents += u.Malformed
	s.InvalidUTF8 += u.InvalidUTF8
	s.Truncated += u.Truncated
	s.Structured += u.Structured
	s.OwnTime += u.OwnTime
	s.SkippedOwnLogGroup += u.SkippedOwn
	if u.SkippedOwn == 0 && !u.Control {
		s.NotDelivered += u.Events - u.Malformed - u.Delivered
	}
	for _, e := range u.Errors {
		s.note("%s", e)
	}
}

func (s *Summary) note(format string, args ...any) {
	if len(s.Errors) < maxErrors {
		s.Errors = append(s.Errors, fmt.Sprintf(format, args...))
	}
}

// Invoke handles one invocation (it is a lambda.Handler). It returns an error when the
// records of a subscription event or destination record were not all delivered (a
// *DeliveryError) or its payload is malformed (a *MalformedError): Lambda then retries
// the event, and sends it to the on-failure destination after its retries. For an SQS event
// it returns an SQSResponse naming the messages that failed. It never panics on its input.
func (b *Bridge) Invoke(ctx context.Context, payload []byte) (resp []byte, err error) {
	start := time.Now()
	sum := &Summary{}
	redactedBefore := b.redactedTotal()
	defer func() {
		if p := recover(); p != nil {
			// A bug, not the input's fault: report it as an error of the invocation
			// instead of crashing the runtime (Lambda would retry the event all the same).
			resp, err = nil, fmt.Errorf("bridge: internal error: %v", p)
		}
		b.report(ctx, sum, start, err)
	}()
	sendCtx, cancel := b.sendContext(ctx)
	defer cancel()
	out, err := b.invoke(sendCtx, payload, sum)
	sum.Redacted = int(b.redactedTotal() - redactedBefore)
	if err != nil {
		return nil, err
	}
	if out == nil {
		out = sum
	}
	return json.Marshal(out)
}

// invoke handles the payload; it returns the response to marshal (nil: sum).
func (b *Bridge) invoke(ctx context.Context, payload []byte, sum *Summary) (any, error) {
	members, end, perr := scanObject(payload, 0, nil)
	if perr == nil && skipWS(payload, end) != len(payload) {
		perr = syntaxErr(end, "data after the JSON object")
	}
	if perr != nil {
		sum.Source = "unknown"
		sum.MalformedMessages++
		return nil, notObject("payload", perr)
	}
	if recs, ok := find(members, "Records"); ok {
		sum.Source = "sqs"
		return b.invokeSQS(ctx, recs, sum)
	}
	data, where, err := findData(members, "", 0)
	if err != nil {
		sum.Source = "unknown"
		sum.MalformedMessages++
		return nil, err
	}
	sum.Source = "awslogs"
	if where != "awslogs.data" {
		sum.Source = "destination"
	}
	u := &unitStats{}
	err = b.process(ctx, where, data, u)
	sum.add(u)
	if err != nil {
		var me *MalformedError
		if errors.As(err, &me) {
			sum.MalformedMessages++
		}
		return nil, err
	}
	return nil, nil
}

// notObject is the MalformedError of a part of the input that is not a JSON object.
func notObject(where string, err error) *MalformedError {
	if err == errNotObject {
		return malformed(where, "not a JSON object")
	}
	return malformed(where, "not a JSON object: %v", err)
}

// find returns the value of the member named key.
func find(members []member, key string) ([]byte, bool) {
	for i := len(members) - 1; i >= 0; i-- { // the last one wins, as in encoding/json
		if keyIs(members[i].key, key) {
			return members[i].val, true
		}
	}
	return nil, false
}

// findData finds awslogs.data in an object: at its top level, or in the requestPayload of a
// destination record, or in the detail of an EventBridge event holding one.
func findData(members []member, prefix string, depth int) (str, string, error) {
	obj := func(v []byte) ([]member, bool) {
		ms, _, err := scanObject(v, 0, nil)
		return ms, err == nil
	}
	if v, ok := find(members, "awslogs"); ok {
		where := prefix + "awslogs"
		aw, ok := obj(v)
		if !ok {
			return str{}, where, malformed(where, "not a JSON object")
		}
		d, ok := find(aw, "data")
		if !ok || d[0] != '"' {
			return str{}, where + ".data", malformed(where+".data", "missing, or not a string")
		}
		s, _, _ := scanString(d, 0)
		return s, where + ".data", nil
	}
	if depth < 2 {
		for _, k := range []string{"requestPayload", "detail"} {
			if v, ok := find(members, k); ok {
				if inner, ok := obj(v); ok {
					return findData(inner, prefix+k+".", depth+1)
				}
			}
		}
	}
	return str{}, prefix + "payload", malformed(prefix+"payload",
		`neither a CloudWatch Logs subscription event ({"awslogs":{"data":...}}), nor an SQS event, nor a Lambda destination record holding one (requestPayload)`)
}

// invokeSQS handles an SQS event from the on-failure queue: each message is sent as its own
// subscription message, one after the other, by ctx's deadline. The messages that fail are
// returned in batchItemFailures and stay in the queue.
func (b *Bridge) invokeSQS(ctx context.Context, recs []byte, sum *Summary) (any, error) {
	var resp SQSResponse
	resp.BatchItemFailures = []SQSBatchItemFailure{}
	i := 0
	_, err := scanArray(recs, 0, func(p int) (int, error) {
		end, err := skipValue(recs, p)
		if err != nil {
			return end, err
		}
		where := "Records[" + strconv.Itoa(i) + "]"
		i++
		id, ok := b.sqsMessage(ctx, where, recs[p:end], sum)
		if !ok {
			if id == "" {
				// Without a messageId the failure cannot be reported for this message
				// alone: fail the whole batch.
				return end, malformed(where, "no messageId")
			}
			resp.BatchItemFailures = append(resp.BatchItemFailures, SQSBatchItemFailure{ItemIdentifier: id})
		}
		return end, nil
	})
	if err != nil {
		var me *MalformedError
		if !errors.As(err, &me) {
			err = malformed("Records", "%v", err) // the array itself is broken
			sum.MalformedMessages++
		}
		return nil, err
	}
	return resp, nil
}

// sqsMessage sends the subscription message carried by one SQS message and returns its
// messageId and whether it succeeded.
func (b *Bridge) sqsMessage(ctx context.Context, where string, rec []byte, sum *Summary) (string, bool) {
	members, _, err := scanObject(rec, 0, nil)
	if err != nil {
		sum.MalformedMessages++
		sum.note("%v", notObject(where, err))
		return "", false
	}
	id := ""
	if v, ok := find(members, "messageId"); ok && v[0] == '"' {
		s, _, _ := scanString(v, 0)
		id = unescapeString(s)
	}
	fail := func(err error) (string, bool) {
		var me *MalformedError
		if errors.As(err, &me) {
			sum.MalformedMessages++
		}
		sum.note("%s (messageId %s): %v", where, id, err)
		return id, false
	}
	if v, ok := find(members, "eventSource"); ok {
		if src, _ := stringValue(v); src != "aws:sqs" {
			return fail(malformed(where+".eventSource", "%q: want aws:sqs (an event source mapping of the on-failure queue)", src))
		}
	}
	v, ok := find(members, "body")
	if !ok || v[0] != '"' {
		return fail(malformed(where+".body", "missing, or not a string"))
	}
	s, _, _ := scanString(v, 0)
	body, _ := appendUnescaped(nil, s)
	inner, end, err := scanObject(body, 0, nil)
	if err == nil && skipWS(body, end) != len(body) {
		err = syntaxErr(end, "data after the JSON object")
	}
	if err != nil {
		return fail(notObject(where+".body", err))
	}
	data, dwhere, err := findData(inner, where+".body.", 0)
	if err != nil {
		return fail(err)
	}
	u := &unitStats{}
	err = b.process(ctx, dwhere, data, u)
	sum.add(u)
	sum.Replayed += u.Delivered
	if err != nil {
		return fail(err)
	}
	return id, true
}
