package redact

import (
	"context"
	"log/slog"
)

// Handler is a slog.Handler that redacts records before passing them to another handler: the
// message goes through [Redactor.String], attributes (of the record and of WithAttrs, in groups
// too) as [Redactor.ReplaceAttr] describes, and everything under a group whose name is a
// secret key is masked. Records in which nothing is found are passed on as they are, without
// allocating.
type Handler struct {
	next   slog.Handler
	r      *Redactor
	masked bool // inside a WithGroup with a secret name
}

var _ slog.Handler = (*Handler)(nil)

// NewHandler returns a Handler that redacts with r and passes records to next. A nil r means a
// Redactor with the default options. It panics if next is nil.
func NewHandler(next slog.Handler, r *Redactor) *Handler {
	if next == nil {
		panic("redact: NewHandler: nil next handler")
	}
	if r == nil {
		r, _ = New(nil)
	}
	return &Handler{next: next, r: r}
}

// Redactor returns the Redactor of h.
func (h *Handler) Redactor() *Redactor { return h.r }

// Enabled reports whether the next handler is enabled for level.
func (h *Handler) Enabled(ctx context.Context, level slog.Level) bool {
	return h.next.Enabled(ctx, level)
}

// Handle redacts rec and passes it to the next handler. If anything changes, the next handler
// gets a new record with the same time, level and PC.
func (h *Handler) Handle(ctx context.Context, rec slog.Record) error {
	msg, changed := h.r.String(rec.Message)
	// Find the first attribute that changes; the common case is none, and no allocation.
	first := -1
	var firstAttr slog.Attr
	i := 0
	rec.Attrs(func(a slog.Attr) bool {
		if na, ok := h.r.attr(a, h.masked); ok {
			first, firstAttr = i, na
			return false
		}
		i++
		return true
	})
	if !changed && first < 0 {
		return h.next.Handle(ctx, rec)
	}
	nr := slog.NewRecord(rec.Time, rec.Level, msg, rec.PC)
	if first < 0 {
		rec.Attrs(func(a slog.Attr) bool {
			nr.AddAttrs(a)
			return true
		})
		return h.next.Handle(ctx, nr)
	}
	i = 0
	rec.Attrs(func(a slog.Attr) bool {
		switch {
		case i < first:
			nr.AddAttrs(a)
		case i == first:
			nr.AddAttrs(firstAttr)
		default:
			na, _ := h.r.attr(a, h.masked)
			nr.AddAttrs(na)
		}
		i++
		return true
	})
	return h.next.Handle(ctx, nr)
}

// WithAttrs redacts attrs once and returns a Handler whose next handler has them.
func (h *Handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	if len(attrs) == 0 {
		return h
	}
	var out []slog.Attr
	for i, a := range attrs {
		na, ok := h.r.attr(a, h.masked)
		if !ok {
			continue
		}
		if out == nil {
			out = make([]slog.Attr, len(attrs))
			copy(out, attrs)
		}
		out[i] = na
	}
	if out == nil {
		out = attrs
	}
	return &Handler{next: h.next.WithAttrs(out), r: h.r, masked: h.masked}
}

// WithGroup returns a Handler whose next handler opens group name; if name is a secret key,
// every attribute added in the group is masked.
func (h *Handler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	return &Handler{next: h.next.WithGroup(name), r: h.r, masked: h.masked || h.r.IsSecretKey(name)}
}
