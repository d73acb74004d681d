// Package bridge is the CloudWatch Logs subscription bridge to VictoriaLogs (paths B and C of
// the ECS logging guide): the code of the Lambda function in cmd/bootstrap. A service that
// logs to stdout with the awslogs driver (path B), or a host whose CloudWatch Agent ships
// files (path C), gets its log groups subscribed to the function; the function decodes each
// subscription event (base64, gzip, the subscription JSON) and sends its log events to
// VictoriaLogs with vlog's VictoriaLogs transport (go.vlog.dev/handlers/victorialogs) behind
// vlog's bounded batching output (go.vlog.dev/handlers/output): zstd or gzip bodies, retries
// with backoff on 429, 5xx and network errors across several endpoints, auth, tenants, TLS.
//
// Every log event becomes one record:
//
//   - a message that is a JSON object (vlog's records, or another JSON logger's) becomes
//     fields: its message member (msg, message, ...) is _msg, its time member (event_time,
//     time, timestamp, ...: RFC 3339 or Unix s/ms/us/ns, within MaxClockSkew of the event's
//     timestamp) is _time, the other members are fields as they are (objects are flattened
//     by VictoriaLogs); any other message is _msg as text, at the event's timestamp;
//   - every record gets log_group, log_stream, aws_account and cw_event_id (the CloudWatch
//     Logs event id: the key of a duplicate), and, from an ECS awslogs stream name
//     (<prefix>/<container>/<task id>), container and ecs_task_id;
//   - secrets are masked by vlog's redactor (go.vlog.dev/redact), on by default: a service
//     that does not use vlog may log them;
//   - a record over the line limit (VictoriaLogs' 256 KiB) is cut with schema.Truncate,
//     keeping the schema's fields, the stream fields and the bridge's, with vlog_truncated.
//
// Delivery is at least once. A subscription event whose records VictoriaLogs did not all
// take by the invocation's deadline (minus DeadlineMargin) fails the invocation
// (*DeliveryError): Lambda retries it (twice by default), then sends it to the on-failure
// destination, an SQS queue; the same function, with that queue as an event source, replays
// what it finds there (the destination record holds the event in requestPayload), reporting
// the messages that failed again in batchItemFailures. A record may thus arrive twice; its
// cw_event_id finds and removes the copy at query time (docs/cloudwatch-bridge.md).
//
// Malformed input (bad base64, bad gzip, a payload that is not the subscription format) is a
// *MalformedError: reported, counted, never a panic; a log event that cannot be read is
// skipped and counted without holding back the others; a message that is not valid UTF-8 is
// repaired (U+FFFD) and marked vlog_invalid_utf8.
//
// After every invocation the bridge writes one summary line to its own log, in CloudWatch's
// Embedded Metric Format, so that its counts are metrics (see Summary).
//
// The JSON is read by the scanner of jsonscan.go, not encoding/json: one validating pass
// that hands out spans of the input; redaction is done member by member with the rules of
// redact.Redactor.AppendJSON. Both are checked against encoding/json and AppendJSON by fuzz
// tests. docs/cloudwatch-bridge.md has the deployment, the settings and the measurements.
package bridge
