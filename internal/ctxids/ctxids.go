// Package ctxids carries the correlation ids of a request in a context.Context.
//
// It is internal so that the handlers package (which reads the ids) and the vlog package (which
// exports the helpers that set them) share one context key without importing each other.
package ctxids

import "context"

// IDs are the correlation ids of one request. Empty fields are absent.
type IDs struct {
	RequestID string
	TraceID   string
	SpanID    string
}

type key struct{}

// With returns a copy of ctx that carries ids.
func With(ctx context.Context, ids IDs) context.Context {
	return context.WithValue(ctx, key{}, ids)
}

// From returns the ids carried by ctx, or the zero IDs. It does not allocate.
func From(ctx context.Context) IDs {
	if ctx == nil {
		return IDs{}
	}
	ids, _ := ctx.Value(key{}).(IDs)
	return ids
}
