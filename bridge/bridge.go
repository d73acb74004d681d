package bridge

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.vlog.dev/handlers/output"
	"go.vlog.dev/handlers/schema"
	"go.vlog.dev/handlers/victorialogs"
	"go.vlog.dev/redact"
)

// Defaults of Options.
const (
	// DefaultMaxLineSize is VictoriaLogs' default -insert.maxLineSizeBytes (256 KiB) minus
	// one (schema.VictoriaLogsMaxLine): VictoriaLogs v1.26 reads a line into a buffer of that
	// size and skips a line that fills it without a newline, so a line of exactly 256 KiB is
	// dropped (with the line after it); TestGatedLineLimit shows it against a real VictoriaLogs.
	DefaultMaxLineSize = schema.VictoriaLogsMaxLine
	// DefaultDeadlineMargin is how long before the invocation's deadline sending stops.
	DefaultDeadlineMargin = time.Second
	// DefaultMaxDataSize bounds a decompressed subscription message.
	DefaultMaxDataSize = 16 << 20
	// DefaultMaxClockSkew bounds the distance between a record's own time and its event's
	// timestamp for the record's time to be used.
	DefaultMaxClockSkew = 24 * time.Hour
	// DefaultMetricsNamespace is the CloudWatch namespace of the bridge's counters.
	DefaultMetricsNamespace = "vlog/bridge"
	// noDeadlineBudget bounds an invocation whose context has no deadline (outside Lambda):
	// Lambda's own longest timeout.
	noDeadlineBudget = 15 * time.Minute
)

// DefaultStreamFields returns the stream fields used when none are configured: the account,
// the log group, and vlog's service, env and container (which the bridge also derives from an
// ECS awslogs stream name). All are one value per service, never one per task or request.
func DefaultStreamFields() []string {
	return []string{FieldAccount, FieldLogGroup, schema.Service, schema.Env, schema.Container}
}

// Options configure a Bridge. OptionsFromEnv reads them from the function's environment; the
// zero value of every field means the default stated for it.
type Options struct {
	// VictoriaLogs is the destination, as for vlog's VictoriaLogs output: URLs (required),
	// auth, tenant, TLS, compression, in-flight batches. StreamFields default to
	// DefaultStreamFields() (unless the URL's query sets _stream_fields) and are checked by
	// victorialogs.CheckStreamFields and refused if they hold log_stream, ecs_task_arn or
	// ecs_task_id. MaxLineSize defaults to DefaultMaxLineSize, at most that.
	VictoriaLogs victorialogs.Options
	// Buffer batches the records of one subscription message and retries failed batches with
	// backoff (Size, BatchSize, MaxBatchSize, RetryMin, RetryMax; the others are set by the
	// bridge). Size bounds the bytes waiting to be sent at once: the bridge waits for
	// deliveries before it writes more, so nothing is dropped. At least twice MaxLineSize.
	Buffer output.BufferOptions
	// Redaction masks secrets in every record (go.vlog.dev/redact), configured by Redact.
	// Default true.
	Redaction *bool
	Redact    redact.Options
	// DeadlineMargin: sending stops this long before the invocation's deadline. Default
	// DefaultDeadlineMargin.
	DeadlineMargin time.Duration
	// MaxDataSize bounds a decompressed subscription message. Default DefaultMaxDataSize.
	MaxDataSize int
	// MessageKeys and TimeKeys are the members of a JSON log message taken as its message and
	// its time, in order of preference. Default DefaultMessageKeys(), DefaultTimeKeys().
	MessageKeys, TimeKeys []string
	// MaxClockSkew: a record's own time further than this from its event's timestamp is not
	// used. Default DefaultMaxClockSkew.
	MaxClockSkew time.Duration
	// MetricsNamespace is the CloudWatch namespace of the counters of the summary line
	// written after each invocation; "none" writes the line without metrics. Default
	// DefaultMetricsNamespace.
	MetricsNamespace string
	// FunctionName is the metrics' dimension (Lambda sets AWS_LAMBDA_FUNCTION_NAME).
	FunctionName string
	// OwnLogGroup is the function's own log group (AWS_LAMBDA_LOG_GROUP_NAME): its events are
	// skipped, never forwarded, so that a subscription to it cannot loop.
	OwnLogGroup string
	// Log receives the summary line of each invocation. Default os.Stdout (Lambda keeps it
	// in the function's log group).
	Log io.Writer
}

// Bridge forwards CloudWatch Logs subscription events to VictoriaLogs. Its Invoke is a
// Lambda handler (github.com/aws/aws-lambda-go's lambda.Handler); see the package doc. It is
// safe for concurrent use, though Lambda calls it for one event at a time.
type Bridge struct {
	transport   *victorialogs.Transport
	redactor    *redact.Redactor
	buffer      output.BufferOptions
	margin      time.Duration
	maxData     int
	msgKeys     []string
	timeKeys    []string
	skew        time.Duration
	maxLine     int
	keep        []string
	hashMode    bool
	namespace   string
	function    string
	ownLogGroup string
	log         io.Writer
	logMu       sync.Mutex

	builders sync.Pool // *builder
	decoders sync.Pool // *decoder
	units    atomic.Uint64
}

// New checks opts and returns a Bridge. It does not connect to VictoriaLogs.
func New(opts *Options) (*Bridge, error) {
	if opts == nil {
		opts = &Options{}
	}
	o := *opts
	bad := func(name, value, reason string) error {
		return &output.OptionError{Name: name, Value: value, Reason: reason}
	}
	var errs []error
	vo := o.VictoriaLogs
	if vo.MaxLineSize == 0 {
		vo.MaxLineSize = DefaultMaxLineSize
	}
	if vo.MaxLineSize < 1<<10 || vo.MaxLineSize > DefaultMaxLineSize {
		errs = append(errs, bad("VLOG_VICTORIALOGS_MAX_LINE_SIZE", strconv.Itoa(vo.MaxLineSize),
			fmt.Sprintf("want 1 KiB to %d (a line of VictoriaLogs' 256 KiB limit is already dropped)", DefaultMaxLineSize)))
	}
	stream := vo.StreamFields
	if stream == nil {
		if fields, where := urlStreamFields(vo.URLs); fields != nil {
			if err := checkStreamFields(fields); err != nil {
				errs = append(errs, bad("VICTORIALOGS_URL", where, "_stream_fields: "+err.Error()))
			}
			stream = fields
		} else {
			stream = DefaultStreamFields()
			vo.StreamFields = stream
		}
	} else if err := checkStreamFields(stream); err != nil {
		errs = append(errs, bad("VLOG_VICTORIALOGS_STREAM_FIELDS", strings.Join(stream, ","), err.Error()))
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	tr, err := victorialogs.New(&vo)
	if err != nil {
		return nil, envName(err)
	}

	b := &Bridge{
		transport:   tr,
		buffer:      o.Buffer,
		margin:      o.DeadlineMargin,
		maxData:     o.MaxDataSize,
		msgKeys:     o.MessageKeys,
		timeKeys:    o.TimeKeys,
		skew:        o.MaxClockSkew,
		maxLine:     vo.MaxLineSize,
		namespace:   o.MetricsNamespace,
		function:    o.FunctionName,
		ownLogGroup: o.OwnLogGroup,
		log:         o.Log,
		hashMode:    len(o.Redact.HashKey) > 0,
	}
	if b.margin == 0 {
		b.margin = DefaultDeadlineMargin
	}
	if b.maxData == 0 {
		b.maxData = DefaultMaxDataSize
	}
	if b.msgKeys == nil {
		b.msgKeys = DefaultMessageKeys()
	}
	if b.timeKeys == nil {
		b.timeKeys = DefaultTimeKeys()
	}
	if b.skew == 0 {
		b.skew = DefaultMaxClockSkew
	}
	if b.namespace == "" {
		b.namespace = DefaultMetricsNamespace
	}
	if b.log == nil {
		b.log = os.Stdout
	}
	switch {
	case b.margin < 0:
		errs = append(errs, bad("VLOG_BRIDGE_DEADLINE_MARGIN", b.margin.String(), "want a positive duration"))
	case b.maxData < 0:
		errs = append(errs, bad("VLOG_BRIDGE_MAX_DATA_SIZE", strconv.Itoa(b.maxData), "want a positive size"))
	case b.skew < 0:
		errs = append(errs, bad("VLOG_BRIDGE_MAX_CLOCK_SKEW", b.skew.String(), "want a positive duration"))
	}
	if len(b.msgKeys) == 0 {
		errs = append(errs, bad("VLOG_BRIDGE_MESSAGE_KEYS", "", "want at least one key"))
	}
	if len(b.timeKeys) == 0 {
		errs = append(errs, bad("VLOG_BRIDGE_TIME_KEYS", "", "want at least one key"))
	}
	// The buffer: the bridge flushes when half of it is in use, so half must hold the
	// largest record.
	bo := &b.buffer
	if bo.Size == 0 {
		bo.Size = output.DefaultBufferSize
	}
	if bo.Size < 2*(b.maxLine+1) {
		errs = append(errs, bad("VLOG_BUFFER_SIZE", strconv.Itoa(bo.Size), fmt.Sprintf("want at least twice the line size, %d", 2*(b.maxLine+1))))
	}
	bo.MaxRecordSize = b.maxLine + 1
	bo.BatchAge = time.Second // batches are closed by size, and by Flush at the end
	bo.DropPolicy = output.DropNewest

	if o.Redaction == nil || *o.Redaction {
		r, err := redact.New(&o.Redact)
		if err != nil {
			errs = append(errs, bad("VLOG_REDACT_*", "", err.Error()))
		}
		b.redactor = r
	}
	if len(errs) > 0 {
		tr.Close()
		return nil, errors.Join(errs...)
	}

	// Truncation keeps the schema's fields (schema.Truncate does), the stream fields and the
	// bridge's own.
	b.keep = slices.Clone(stream)
	for _, f := range []string{FieldLogGroup, FieldLogStream, FieldAccount, FieldEventID, FieldContainer, FieldTaskID, FieldInvalidUTF8} {
		if !slices.Contains(b.keep, f) {
			b.keep = append(b.keep, f)
		}
	}
	return b, nil
}

// envName turns the transport's error about an Options field into one about the variable
// the field is read from.
func envName(err error) error {
	var oe *output.OptionError
	if !errors.As(err, &oe) {
		return err
	}
	names := map[string]string{
		"URLs": "VICTORIALOGS_URL", "StreamFields": "VLOG_VICTORIALOGS_STREAM_FIELDS",
		"IgnoreFields": "VLOG_VICTORIALOGS_IGNORE_FIELDS", "ExtraFields": "VLOG_VICTORIALOGS_EXTRA_FIELDS",
		"Timeout": "VLOG_VICTORIALOGS_TIMEOUT", "MaxLineSize": "VLOG_VICTORIALOGS_MAX_LINE_SIZE",
		"Concurrency": "VLOG_VICTORIALOGS_CONCURRENCY", "InFlight": "VLOG_VICTORIALOGS_IN_FLIGHT",
		"Compression": "VLOG_VICTORIALOGS_COMPRESS", "GzipLevel": "VLOG_VICTORIALOGS_GZIP_LEVEL",
		"BearerToken": "VLOG_VICTORIALOGS_BEARER_TOKEN", "Password": "VLOG_VICTORIALOGS_PASSWORD",
		"CAFile": "VLOG_VICTORIALOGS_CA_FILE",
	}
	if n, ok := names[oe.Name]; ok {
		c := *oe
		c.Name = n
		return &c
	}
	return err
}

// Close releases the connections to VictoriaLogs.
func (b *Bridge) Close() error { return b.transport.Close() }

// Endpoints returns the VictoriaLogs insert URLs, without credentials.
func (b *Bridge) Endpoints() []string { return b.transport.Endpoints() }

// unitTransport is the shared VictoriaLogs transport as one message's output.Buffered sees
// it: its batches are renumbered into a range of their own (the transport remembers, by
// batch number, which parts of a split batch it delivered, and every Buffered numbers its
// batches from 1), and Close leaves the connections open for the next invocation.
type unitTransport struct {
	t    *victorialogs.Transport
	base uint64
}

func (u *unitTransport) Send(ctx context.Context, batch *output.Batch) error {
	c := *batch
	c.Seq = u.base + batch.Seq
	return u.t.Send(ctx, &c)
}
func (u *unitTransport) Close() error     { return nil }
func (u *unitTransport) Name() string     { return u.t.Name() }
func (u *unitTransport) MaxInFlight() int { return u.t.MaxInFlight() }

var _ output.Pipelined = (*unitTransport)(nil)

// DeliveryError reports the records of one subscription message that VictoriaLogs did not
// take: the invocation fails, so that Lambda sends the event again (and, after its retries,
// to the on-failure destination). The records that were delivered will then arrive twice;
// their cw_event_id finds the duplicates.
type DeliveryError struct {
	LogGroup, LogStream string
	// Records is the number of records of the message; Delivered those VictoriaLogs took.
	Records, Delivered int
	// Rejected were refused as invalid (400): not sent again within the invocation. Late
	// were not delivered before the invocation's deadline minus the margin.
	Rejected, Late int
	// Last is the last error the VictoriaLogs transport reported, credentials removed.
	Last string
}

func (e *DeliveryError) Error() string {
	s := fmt.Sprintf("bridge: %d of %d records of log group %q, stream %q not delivered to VictoriaLogs (%d not before the deadline, %d rejected)",
		e.Records-e.Delivered, e.Records, e.LogGroup, e.LogStream, e.Late, e.Rejected)
	if e.Last != "" {
		s += ": last error: " + e.Last
	}
	return s
}

// unitStats counts what happened to one subscription message.
type unitStats struct {
	Control     bool
	LogGroup    string
	LogStream   string
	Events      int // log events in the message
	Delivered   int
	Malformed   int // log events that could not be read
	InvalidUTF8 int
	Truncated   int
	Structured  int // messages that were JSON objects
	OwnTime     int // records whose own time became _time
	SkippedOwn  int // events of the function's own log group
	Errors      []string
}

const maxErrors = 10

func (s *unitStats) note(format string, args ...any) {
	if len(s.Errors) < maxErrors {
		s.Errors = append(s.Errors, fmt.Sprintf(format, args...))
	}
}

// process decodes the base64 string token data (awslogs.data, found at where) and sends its
// log events.
func (b *Bridge) process(ctx context.Context, where string, data str, st *unitStats) error {
	dec, _ := b.decoders.Get().(*decoder)
	if dec == nil {
		dec = &decoder{maxSize: b.maxData}
	}
	defer func() {
		dec.release(8 << 20)
		b.decoders.Put(dec)
	}()
	raw, err := dec.decode(where, data)
	if err != nil {
		return err
	}
	d, err := parseLogData(raw, dec.events, &dec.text)
	if err != nil {
		return malformed(where, "the decompressed data is not a CloudWatch Logs subscription message: %v", err)
	}
	dec.events = d.Events[:0]
	if d.MessageType == controlMessage {
		st.Control = true
		return nil
	}
	st.LogGroup, st.LogStream = d.LogGroup, d.LogStream
	st.Events = len(d.Events)
	if b.ownLogGroup != "" && d.LogGroup == b.ownLogGroup {
		st.SkippedOwn = len(d.Events)
		return nil
	}
	return b.send(ctx, d, st)
}

// send builds the records of d and delivers them through a Buffered of their own, by ctx's
// deadline.
func (b *Bridge) send(ctx context.Context, d *logData, st *unitStats) error {
	var lastErr atomic.Pointer[string]
	out := output.NewBuffered(&unitTransport{t: b.transport, base: b.units.Add(1) << 32}, &b.buffer, output.Hooks{
		OnError: func(err error) {
			s := err.Error()
			lastErr.Store(&s)
		},
	})
	bl := b.builder()
	defer b.builders.Put(bl)
	s := newStream(d)

	pending, half := 0, b.buffer.Size/2
	var flushErr error
	for i := range d.Events {
		ev := &d.Events[i]
		if ev.Err != "" {
			st.Malformed++
			st.note("logEvents[%d] (id %q): %s", i, ev.ID, ev.Err)
			continue
		}
		line, r := bl.build(s, ev)
		if r.structured {
			st.Structured++
		}
		if r.ownTime {
			st.OwnTime++
		}
		if r.truncated {
			st.Truncated++
		}
		if r.invalidUTF8 {
			st.InvalidUTF8++
			st.note("logEvents[%d] (id %q): the message is not valid UTF-8: the invalid bytes became U+FFFD (%s:true)", i, ev.ID, FieldInvalidUTF8)
		}
		line = append(line, '\n')
		if pending > 0 && pending+len(line) > half {
			// Wait for the batches written so far: the buffer never holds more than its
			// size, and never drops.
			if flushErr = out.Flush(ctx); flushErr != nil {
				break
			}
			pending = 0
		}
		if _, err := out.Write(line); err != nil {
			st.note("a record was not buffered: %v", err)
		}
		pending += len(line)
	}
	closeErr := out.Close(ctx)
	stats := out.Stats()
	st.Delivered = int(stats.Delivered)
	records := st.Events - st.Malformed
	if st.Delivered == records {
		return nil
	}
	e := &DeliveryError{
		LogGroup: d.LogGroup, LogStream: d.LogStream,
		Records: records, Delivered: st.Delivered,
		Rejected: int(stats.Dropped.WriteError),
	}
	e.Late = e.Records - e.Delivered - e.Rejected
	if p := lastErr.Load(); p != nil {
		e.Last = *p
	} else if closeErr != nil {
		e.Last = closeErr.Error()
	} else if flushErr != nil {
		e.Last = flushErr.Error()
	}
	return e
}

func (b *Bridge) builder() *builder {
	if bl, _ := b.builders.Get().(*builder); bl != nil {
		return bl
	}
	return &builder{
		msgKeys:  b.msgKeys,
		timeKeys: b.timeKeys,
		skew:     int64(b.skew),
		r:        b.redactor,
		hashMode: b.hashMode,
		maxLine:  b.maxLine,
		keep:     b.keep,
	}
}

// sendContext returns the context sending runs under: ctx's deadline minus the margin.
func (b *Bridge) sendContext(ctx context.Context) (context.Context, context.CancelFunc) {
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(noDeadlineBudget)
	}
	return context.WithDeadline(ctx, deadline.Add(-b.margin))
}
