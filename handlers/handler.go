package handlers

import (
	"context"
	"io"
	"log/slog"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.vlog.dev/handlers/schema"
	"go.vlog.dev/internal/ctxids"
)

// Redactor masks secrets while a record is encoded. go.vlog.dev/redact implements it; the
// methods are called on the logging goroutine for every key and string of every record, so they
// must be safe for concurrent use and should not allocate when there is nothing to mask.
type Redactor interface {
	// IsSecretKey reports whether the whole value of an attribute with this key is a secret.
	IsSecretKey(key string) bool
	// MaskKey returns the string written instead of the value of a secret key.
	MaskKey() string
	// MaskKeyString returns the string written instead of the string v under a secret key
	// (a keyed hash of v, for instance, so equal secrets can be correlated).
	MaskKeyString(v string) string
	// String returns s with the secret parts masked and whether anything was masked.
	String(s string) (string, bool)
	// AppendJSON appends js, one valid JSON value, to dst with the secrets masked; the result
	// must be valid JSON.
	AppendJSON(dst, js []byte) []byte
	// Marshal encodes v as JSON like json.Marshal, masking what the redactor knows by type
	// (struct fields tagged as secret, for instance). Its output goes through AppendJSON too.
	Marshal(v any) ([]byte, error)
}

// Options configure a JSONHandler. The zero value (and nil) means the defaults stated per field.
type Options struct {
	// Level is the minimum level of the records written. Default slog.LevelInfo. Pass a
	// *slog.LevelVar to change it at run time.
	Level slog.Leveler

	// AddSource adds a "caller" object (function, file, line) to each record. Default false:
	// it costs a runtime.CallersFrames lookup and one allocation per record.
	AddSource bool

	// Service, Env and Version are the schema's fixed fields. They are always written, empty or
	// not, so every record has the same shape.
	Service, Env, Version string

	// Metadata is written after the context ids and before the caller's attributes: the ECS
	// task metadata and any static fields. Encoded once, here.
	Metadata []slog.Attr

	// Redactor masks secrets in the message, in every attribute (pre-bound ones too) and in
	// error messages. Default nil: nothing is masked.
	Redactor Redactor

	// FlushLevel makes a record at or above it leave at once: after writing it, the handler
	// asks the writer to send what it holds back (when the writer is a Sender, such as
	// output.Buffered), without waiting for the batch age, so the records just before a crash
	// are the ones most likely to have left the process. It does not wait for the send.
	// Default nil: never.
	FlushLevel slog.Leveler

	// TraceContext, if set, reads the trace and span ids of a record's context when the
	// context has none of vlog's own (vlog.WithTraceID, vlog.Middleware): an OpenTelemetry
	// span's, for instance (see docs/slog-multi.md for the recipe). It is called on the logging
	// goroutine for every such record; "" means absent. Default nil.
	TraceContext func(ctx context.Context) (traceID, spanID string)

	// The volume controls (docs/volume.md). All off by default; off, they cost the log call
	// one nil check.

	// Hold, if set, holds the records below Hold.Below (debug, by default) that are logged
	// with the context of a scope (StartScope; vlog's middleware starts one per request), even
	// when the handler's level is above them, and writes them only if the scope fails: see
	// Scope and HoldOptions. Default nil: nothing is held.
	Hold *HoldOptions

	// DebugSampleRate is the fraction, 0 to 1, of scopes that log at debug in full, drawn once
	// when each scope starts; the records of a sampled scope carry "vlog_debug_sampled":true
	// and "vlog_debug_sample_rate". Default 0: none.
	DebugSampleRate float64

	// RateLimit, if set, limits the records below RateLimit.Below (error, by default) per
	// level and message: the first RateLimit.First in each RateLimit.Interval, then one in
	// RateLimit.Thereafter, and reports what it suppressed in the stream (see
	// RateLimitOptions). Default nil: no limit.
	RateLimit *RateLimitOptions
}

// JSONHandler is a slog.Handler that writes each record as one line of JSON in the vlog schema:
//
//	{"event_time":"2026-11-22T02:55:54.123456789Z","level":"info","msg":"order created",
//	 "service":"order-api","env":"prod","version":"1.4.2","request_id":"...","trace_id":"...",
//	 "span_id":"...", <metadata>, "caller":{...}, <attributes>}
//
// on one line. event_time is omitted when the record has no time (slog's convention).
// request_id, trace_id and span_id come from the context passed to Handle and are omitted when
// absent.
//
// A caller attribute at the top level whose key is one of the schema's keys (event_time, level,
// msg, service, env, version, request_id, trace_id, span_id, caller and the ECS keys) is renamed
// to "attr.<key>": nothing is dropped and the record never has two fields with the same key.
// Inside a group there is nothing to collide with and keys are kept. Other duplicate keys among
// the caller's own attributes are written as given, as slog.JSONHandler does.
//
// Each call to Handle results in exactly one call to the writer's Write with one complete
// record ending in '\n'; the writer must not keep the slice after Write returns. Handle does not
// lock: the writer must be safe for concurrent use (see LockedWriter and the outputs in this
// package).
type JSONHandler struct {
	c *common
	w io.Writer

	// pre is the pre-encoded output of WithAttrs, each attribute with its leading comma,
	// including the openings of the groups that were opened for them.
	pre []byte
	// opened is the number of groups opened in pre, closed at the end of every record.
	opened int
	// pending are the groups started by WithGroup after the last WithAttrs: they are opened in
	// a record only if the record has attributes.
	pending []string
	// masked: inside a WithGroup whose name is a secret key, every attribute's value is
	// masked (as go.vlog.dev/redact's Handler does).
	masked bool
}

var _ slog.Handler = (*JSONHandler)(nil)

// common is what a JSONHandler shares with all the handlers derived from it.
type common struct {
	level     slog.Leveler
	addSource bool
	redactor  Redactor
	traceCtx  func(context.Context) (string, string)
	// sender is the writer's Sender, asked to send at once after a record at or above
	// flushLevel; nil when there is none or no FlushLevel.
	sender     Sender
	flushLevel slog.Leveler
	// head is `,"service":...,"env":...,"version":...`.
	head []byte
	// meta is the encoded Metadata, each with its leading comma.
	meta []byte
	// cleanMsgs remembers messages the redactor found nothing in: a message is almost always
	// a constant, so most records skip the scan of their message. Direct-mapped, one message
	// per slot, first come first kept (a slot never thrashes; a miss just scans).
	cleanMsgs [256]atomic.Pointer[string]
	// vol holds the volume controls (volume.go); nil when they are all off.
	vol *volume
}

// NewJSONHandler returns a handler that writes records to w.
func NewJSONHandler(w io.Writer, opts *Options) *JSONHandler {
	if opts == nil {
		opts = &Options{}
	}
	c := &common{level: opts.Level, addSource: opts.AddSource, redactor: opts.Redactor, traceCtx: opts.TraceContext}
	if c.level == nil {
		c.level = slog.LevelInfo
	}
	if s, ok := w.(Sender); ok && opts.FlushLevel != nil {
		c.sender, c.flushLevel = s, opts.FlushLevel
	}
	e := encoder{c: c}
	e.buf = append(e.buf, `,"`+schema.Service+`":`...)
	e.appendStringValue(opts.Service)
	e.buf = append(e.buf, `,"`+schema.Env+`":`...)
	e.appendStringValue(opts.Env)
	e.buf = append(e.buf, `,"`+schema.Version+`":`...)
	e.appendStringValue(opts.Version)
	c.head = slices.Clip(e.buf)

	e = encoder{c: c, comma: true}
	for _, a := range opts.Metadata {
		e.attr(a, 0, false)
	}
	c.meta = slices.Clip(e.buf)
	h := &JSONHandler{c: c, w: w}
	c.vol = newVolume(h, w, opts)
	return h
}

// Enabled reports whether level is at least the handler's level, or, with the volume controls
// on, whether a record at level logged with ctx would be held or written for ctx's scope (a
// sampled scope's debug records, a scope's held records).
func (h *JSONHandler) Enabled(ctx context.Context, level slog.Level) bool {
	if h.c.vol != nil {
		// A call of its own, so that ctx is never live across a call here: without the
		// volume controls, the disabled call costs what it did before them.
		return h.enabledVolume(ctx, level)
	}
	return level >= h.c.level.Level()
}

// WithAttrs returns a handler whose records carry attrs, encoded once, here.
func (h *JSONHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	if len(attrs) == 0 {
		return h
	}
	h2 := *h
	e := encoder{c: h.c, buf: slices.Clone(h.pre), comma: true, masked: h.masked}
	top := h.opened == 0 && len(h.pending) == 0
	openedHere := false
	for _, a := range attrs {
		mark := len(e.buf)
		if !openedHere {
			e.openGroups(h.pending, h.opened == 0)
		}
		if e.attr(a, len(h.pending)+h.opened, top) {
			openedHere = true
		} else {
			e.buf = e.buf[:mark]
		}
		// Pending groups that were opened need no comma before their first attribute only.
		e.comma = true
	}
	if !openedHere {
		return h
	}
	h2.pre = slices.Clip(e.buf)
	h2.opened = h.opened + len(h.pending)
	h2.pending = nil
	return &h2
}

// WithGroup returns a handler that puts the attributes that follow into the group name.
func (h *JSONHandler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	h2 := *h
	h2.pending = append(slices.Clip(h.pending), name)
	h2.masked = h.masked || h.c.redactor != nil && h.c.redactor.IsSecretKey(name)
	return &h2
}

// Handle encodes r and writes it with one call to Write. With the volume controls on, it may
// instead hold r in its context's scope, write first what the scope held, or suppress r (see
// Options.Hold and Options.RateLimit).
func (h *JSONHandler) Handle(ctx context.Context, r slog.Record) error {
	if h.c.vol != nil {
		return h.handleVolume(ctx, &r)
	}
	bp := getBuffer()
	buf := h.appendRecord((*bp)[:0], ctx, r, nil)
	_, err := h.w.Write(buf)
	*bp = buf
	putBuffer(bp)
	if h.c.sender != nil && r.Level >= h.c.flushLevel.Level() {
		h.c.sender.SendNow()
	}
	return err
}

// Sender is a writer that holds records back (output.Buffered, output.Multi) and can be told
// to send them at once; see Options.FlushLevel.
type Sender interface {
	SendNow()
}

// EncodeNotice appends a record of the library's own (time now, no context) to dst, in the same
// schema as the records of h, for outputs that report on themselves into the stream (see
// BufferOptions.Notice).
func (h *JSONHandler) EncodeNotice(dst []byte, level slog.Level, msg string, attrs ...slog.Attr) []byte {
	r := slog.NewRecord(time.Now(), level, msg, 0)
	r.AddAttrs(attrs...)
	return h.appendRecord(dst, context.Background(), r, nil)
}

// appendRecord appends the encoding of r to dst; extra, pre-encoded attributes with their
// leading commas, goes after the context ids (a sampled scope's).
func (h *JSONHandler) appendRecord(dst []byte, ctx context.Context, r slog.Record, extra []byte) []byte {
	e := encoder{c: h.c, buf: dst, masked: h.masked}
	e.buf = append(e.buf, '{')
	if !r.Time.IsZero() {
		e.buf = append(e.buf, `"`+schema.EventTime+`":`...)
		e.buf = appendRecordTime(e.buf, r.Time)
		e.buf = append(e.buf, ',')
	}
	e.buf = append(e.buf, `"`+schema.Level+`":`...)
	e.buf = appendLevel(e.buf, r.Level)
	e.buf = append(e.buf, `,"`+schema.Message+`":`...)
	e.appendMessage(r.Message)
	e.buf = append(e.buf, h.c.head...)
	if ctx != nil {
		// Correlation ids are identifiers, not free text: they are not passed to the
		// redactor (the middleware only accepts sane request ids and hex trace ids).
		ids := ctxids.From(ctx)
		if ids.TraceID == "" && h.c.traceCtx != nil {
			ids.TraceID, ids.SpanID = h.c.traceCtx(ctx)
		}
		if ids.RequestID != "" {
			e.buf = append(e.buf, `,"`+schema.RequestID+`":`...)
			e.buf = appendString(e.buf, ids.RequestID)
		}
		if ids.TraceID != "" {
			e.buf = append(e.buf, `,"`+schema.TraceID+`":`...)
			e.buf = appendString(e.buf, ids.TraceID)
		}
		if ids.SpanID != "" {
			e.buf = append(e.buf, `,"`+schema.SpanID+`":`...)
			e.buf = appendString(e.buf, ids.SpanID)
		}
	}
	e.buf = append(e.buf, extra...)
	e.buf = append(e.buf, h.c.meta...)
	if h.c.addSource && r.PC != 0 {
		e.appendCaller(r.PC)
	}
	e.buf = append(e.buf, h.pre...)
	open := h.opened
	if r.NumAttrs() > 0 {
		top := h.opened == 0 && len(h.pending) == 0
		depth := h.opened + len(h.pending)
		opened := false
		e.comma = true
		r.Attrs(func(a slog.Attr) bool {
			mark := len(e.buf)
			comma := e.comma
			if !opened {
				e.openGroups(h.pending, h.opened == 0)
			}
			if e.attr(a, depth, top) {
				opened = true
			} else {
				e.buf = e.buf[:mark]
				e.comma = comma
			}
			return true
		})
		if opened {
			open += len(h.pending)
		}
	}
	for ; open > 0; open-- {
		e.buf = append(e.buf, '}')
	}
	return append(e.buf, '}', '\n')
}

// encoder appends attributes to buf.
type encoder struct {
	c   *common
	buf []byte
	// comma tells whether the next field needs a comma before it.
	comma bool
	// attrs counts the attributes visited, against maxAttrs.
	attrs int
	// masked: every attribute's value is masked (inside a WithGroup with a secret name).
	masked bool
}

// openGroups appends the openings of the named groups; top tells whether the first one is at the
// top level of the record, where schema keys are reserved.
func (e *encoder) openGroups(names []string, top bool) {
	for i, g := range names {
		if e.comma {
			e.buf = append(e.buf, ',')
		}
		e.appendTopKey(g, top && i == 0)
		e.buf = append(e.buf, '{')
		e.comma = false
	}
}

func (e *encoder) appendKey(key string) {
	e.buf = append(e.buf, '"')
	e.buf = appendEscaped(e.buf, key)
	e.buf = append(e.buf, '"', ':')
}

// appendMessage appends the record's message, redacted, through the cache of clean messages.
func (e *encoder) appendMessage(msg string) {
	red := e.c.redactor
	if red == nil || msg == "" {
		e.buf = appendString(e.buf, msg)
		return
	}
	n := uint(len(msg))
	slot := &e.c.cleanMsgs[(n*31+uint(msg[0])*7+uint(msg[n-1]))%uint(len(e.c.cleanMsgs))]
	if p := slot.Load(); p != nil && *p == msg {
		e.buf = appendString(e.buf, msg)
		return
	}
	out, changed := red.String(msg)
	// The library's own records ("vlog: dropped 12 records ...") are not constants: they are
	// not kept, so they never take a slot a constant message would use.
	if !changed && len(msg) <= 256 && slot.Load() == nil && !strings.HasPrefix(msg, "vlog: ") {
		c := strings.Clone(msg)
		slot.CompareAndSwap(nil, &c)
	}
	e.buf = appendString(e.buf, out)
}

// appendTopKey appends key, renamed with schema.ReservedPrefix if it is at the top level and collides
// with a schema key.
func (e *encoder) appendTopKey(key string, top bool) {
	if top && schema.Reserved(key) {
		e.buf = append(e.buf, '"')
		e.buf = append(e.buf, schema.ReservedPrefix...)
		e.buf = appendEscaped(e.buf, key)
		e.buf = append(e.buf, '"', ':')
		return
	}
	e.appendKey(key)
}

// appendStringValue appends s as a JSON string, redacted.
func (e *encoder) appendStringValue(s string) {
	if e.c.redactor != nil {
		s, _ = e.c.redactor.String(s)
	}
	e.buf = appendString(e.buf, s)
}

// attr appends a, with a leading comma when one is needed, and reports whether it wrote
// anything (empty attributes and empty groups are skipped, as slog requires). depth is the
// number of enclosing groups; top tells whether a is at the top level of the record, where
// schema keys are reserved.
func (e *encoder) attr(a slog.Attr, depth int, top bool) bool {
	e.attrs++
	if e.attrs > maxAttrs {
		if e.attrs > maxAttrs+1 {
			return false // the marker is written once
		}
		if e.comma {
			e.buf = append(e.buf, ',')
		}
		e.buf = append(e.buf, `"!LIMIT":"more than 65536 attributes"`...)
		e.comma = true
		return true
	}
	v := a.Value
	k := v.Kind() // a type switch inside: taken once
	if k == slog.KindLogValuer {
		v = v.Resolve()
		k = v.Kind()
	}
	if a.Key == "" {
		if k == slog.KindGroup {
			// An inline group: its attributes belong to the enclosing level.
			wrote := false
			for _, ga := range v.Group() {
				if e.attr(ga, depth, top) {
					wrote = true
				}
			}
			return wrote
		}
		if k == slog.KindAny && v.Any() == nil {
			return false // the zero Attr
		}
	}
	if k == slog.KindGroup && len(v.Group()) == 0 {
		return false
	}
	mark := len(e.buf)
	comma := e.comma
	if e.comma {
		e.buf = append(e.buf, ',')
	}
	e.appendTopKey(a.Key, top)
	if r := e.c.redactor; r != nil && (e.masked || r.IsSecretKey(a.Key)) {
		if k == slog.KindString {
			e.buf = appendString(e.buf, r.MaskKeyString(v.String()))
		} else {
			e.buf = appendString(e.buf, r.MaskKey())
		}
		e.comma = true
		return true
	}
	if k == slog.KindGroup {
		if depth >= maxDepth {
			e.buf = append(e.buf, `"!DEPTH"`...)
			e.comma = true
			return true
		}
		e.buf = append(e.buf, '{')
		e.comma = false
		wrote := false
		for _, ga := range v.Group() {
			if e.attr(ga, depth+1, false) {
				wrote = true
			}
		}
		if !wrote {
			e.buf = e.buf[:mark]
			e.comma = comma
			return false
		}
		e.buf = append(e.buf, '}')
		e.comma = true
		return true
	}
	e.value(v, k)
	e.comma = true
	return true
}

// value appends a resolved, non-group value v of kind k (v.Kind(), which the caller has).
func (e *encoder) value(v slog.Value, k slog.Kind) {
	switch k {
	case slog.KindString:
		e.appendStringValue(v.String())
	case slog.KindInt64:
		e.buf = strconv.AppendInt(e.buf, v.Int64(), 10)
	case slog.KindUint64:
		e.buf = strconv.AppendUint(e.buf, v.Uint64(), 10)
	case slog.KindFloat64:
		e.buf = appendFloat(e.buf, v.Float64())
	case slog.KindBool:
		e.buf = strconv.AppendBool(e.buf, v.Bool())
	case slog.KindDuration:
		// Nanoseconds, as slog.JSONHandler and encoding/json write a time.Duration.
		e.buf = strconv.AppendInt(e.buf, int64(v.Duration()), 10)
	case slog.KindTime:
		e.buf = appendTime(e.buf, v.Time())
	case slog.KindAny:
		e.any(v.Any())
	default: // KindGroup and KindLogValuer are handled by attr; this is defensive.
		e.buf = append(e.buf, `"!BADKIND"`...)
	}
}

// any appends a value of KindAny.
func (e *encoder) any(x any) {
	switch x := x.(type) {
	case nil:
		e.buf = append(e.buf, "null"...)
	case error:
		e.appendStringValue(errorString(x))
	case []byte:
		// Text is the common case for a []byte in a log; binary data still gives valid JSON.
		e.appendStringValue(string(x))
	default:
		var marshal func(any) ([]byte, error)
		if e.c.redactor != nil {
			marshal = e.c.redactor.Marshal
		}
		js, s, ok := marshalAny(x, marshal)
		if !ok {
			e.appendStringValue(s)
			return
		}
		if e.c.redactor != nil {
			e.buf = e.c.redactor.AppendJSON(e.buf, js)
			return
		}
		e.buf = append(e.buf, js...)
	}
}

// appendCaller appends `,"caller":{"function":...,"file":...,"line":...}` for pc.
func (e *encoder) appendCaller(pc uintptr) {
	frames := runtime.CallersFrames([]uintptr{pc})
	f, _ := frames.Next()
	e.buf = append(e.buf, `,"`+schema.Caller+`":{"function":`...)
	e.buf = appendString(e.buf, f.Function)
	e.buf = append(e.buf, `,"file":`...)
	e.buf = appendString(e.buf, f.File)
	e.buf = append(e.buf, `,"line":`...)
	e.buf = strconv.AppendInt(e.buf, int64(f.Line), 10)
	e.buf = append(e.buf, '}')
}

// The buffer pool. Buffers that grew beyond maxPooled are not kept, so one huge record does not
// pin memory for the life of the process.
const maxPooled = 64 << 10

var bufPool = sync.Pool{New: func() any {
	b := make([]byte, 0, 1024)
	return &b
}}

func getBuffer() *[]byte { return bufPool.Get().(*[]byte) }

func putBuffer(b *[]byte) {
	if cap(*b) > maxPooled {
		return
	}
	*b = (*b)[:0]
	bufPool.Put(b)
}
