package vlog

import (
	"context"

	"go.vlog.dev/internal/ctxids"
)

// The correlation ids of a request travel in its context.Context. The handlers of this module
// read them on every record and add them as the attributes "request_id", "trace_id" and
// "span_id" when they are non-empty, so any log call made with the request's context
// (Logger.InfoContext, Logger.LogAttrs, ...) is tied to the request. [Middleware] sets all
// three from the request headers; the functions below set or read them individually.

// WithRequestID returns a copy of ctx that carries id as the request id. The trace and span
// ids already carried by ctx are kept. An empty id removes the request id. ctx must not be
// nil.
func WithRequestID(ctx context.Context, id string) context.Context {
	ids := ctxids.From(ctx)
	ids.RequestID = id
	return ctxids.With(ctx, ids)
}

// RequestID returns the request id carried by ctx, or "" if there is none or ctx is nil.
func RequestID(ctx context.Context) string {
	return ctxids.From(ctx).RequestID
}

// WithTraceID returns a copy of ctx that carries traceID and spanID as the trace and span
// ids. Both are replaced together: an empty spanID removes a span id already in ctx, so a
// span never outlives its trace. The request id already carried by ctx is kept. The ids are
// logged as given; no format is imposed (Middleware stores W3C ids as 32 and 16 lowercase
// hex digits and AWS X-Ray trace ids as "1-xxxxxxxx-xxxxxxxxxxxxxxxxxxxxxxxx"). ctx must not
// be nil.
func WithTraceID(ctx context.Context, traceID, spanID string) context.Context {
	ids := ctxids.From(ctx)
	ids.TraceID = traceID
	ids.SpanID = spanID
	return ctxids.With(ctx, ids)
}

// TraceID returns the trace id carried by ctx, or "" if there is none or ctx is nil.
func TraceID(ctx context.Context) string {
	return ctxids.From(ctx).TraceID
}

// SpanID returns the span id carried by ctx, or "" if there is none or ctx is nil.
func SpanID(ctx context.Context) string {
	return ctxids.From(ctx).SpanID
}
