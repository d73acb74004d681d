package slogmulti_test

import (
	"context"
	"log/slog"
	"sync"
	"testing"

	slogmulti "github.com/samber/slog-multi"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/contrib/bridges/otelslog"
	"go.opentelemetry.io/otel/attribute"
	otellog "go.opentelemetry.io/otel/log"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"go.vlog.dev/handlers/schema"
	"go.vlog.dev/vlog"
)

// otelTraceContext is the recipe "OpenTelemetry trace ids": as vlog.Options.TraceContext it
// gives vlog's records the trace and span ids of the context's OpenTelemetry span, when the
// context carries no ids of vlog's own. vlog itself does not import OpenTelemetry.
func otelTraceContext(ctx context.Context) (traceID, spanID string) {
	sc := trace.SpanContextFromContext(ctx)
	if !sc.IsValid() {
		return "", ""
	}
	return sc.TraceID().String(), sc.SpanID().String()
}

// newTracer returns a tracer of an SDK tracer provider (the default sampler records every
// root span), shut down at the end of the test.
func newTracer(t *testing.T) trace.Tracer {
	tp := sdktrace.NewTracerProvider()
	t.Cleanup(func() { require.NoError(t, tp.Shutdown(context.Background())) })
	return tp.Tracer("go.vlog.dev/tests/slogmulti")
}

// idsOf returns the correlation ids of a vlog record ("" when absent).
func idsOf(m map[string]any) (requestID, traceID, spanID string) {
	s := func(k string) string { v, _ := m[k].(string); return v }
	return s(schema.RequestID), s(schema.TraceID), s(schema.SpanID)
}

// TestOTelTraceContextSpan: a record logged with the context of an active SDK span has that
// span's trace and span ids; a child span's record has the child's span id and the same trace.
func TestOTelTraceContextSpan(t *testing.T) {
	logger, vw := newVlog(t, &vlog.Options{TraceContext: otelTraceContext})
	tracer := newTracer(t)
	ctx, span := tracer.Start(context.Background(), "POST /orders")
	logger.InfoContext(ctx, "order created", "order_id", "ord-7")
	child, cspan := tracer.Start(ctx, "INSERT")
	logger.InfoContext(child, "row inserted")
	cspan.End()
	span.End()

	recs := vw.records(t)
	require.Len(t, recs, 2)
	sc, csc := span.SpanContext(), cspan.SpanContext()
	_, tid, sid := idsOf(recs[0])
	require.Equal(t, sc.TraceID().String(), tid)
	require.Equal(t, sc.SpanID().String(), sid)
	_, tid, sid = idsOf(recs[1])
	require.Equal(t, sc.TraceID().String(), tid, "a child span is in its parent's trace")
	require.Equal(t, csc.SpanID().String(), sid)
	require.Len(t, tid, 32)
	require.Len(t, sid, 16)
}

// TestOTelTraceContextHandMade uses a SpanContext made by hand (what a propagator extracts
// from a traceparent header), local or remote: its ids are logged as OpenTelemetry prints
// them, 32 and 16 lowercase hex digits. An invalid SpanContext and a context without one give
// no ids.
func TestOTelTraceContextHandMade(t *testing.T) {
	logger, vw := newVlog(t, &vlog.Options{TraceContext: otelTraceContext})
	sc := trace.NewSpanContext(trace.SpanContextConfig{
		TraceID:    trace.TraceID{0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36},
		SpanID:     trace.SpanID{0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7},
		TraceFlags: trace.FlagsSampled,
	})
	require.True(t, sc.IsValid())
	bg := context.Background()
	logger.InfoContext(trace.ContextWithSpanContext(bg, sc), "local")
	logger.InfoContext(trace.ContextWithRemoteSpanContext(bg, sc), "remote")
	logger.InfoContext(trace.ContextWithSpanContext(bg, trace.SpanContext{}), "invalid")
	logger.InfoContext(bg, "none")
	logger.Info("no context") // slog passes context.Background()

	recs := vw.records(t)
	require.Len(t, recs, 5)
	for i, want := range [][3]string{
		{"", "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"},
		{"", "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"},
		{}, {}, {},
	} {
		r, tid, sid := idsOf(recs[i])
		require.Equal(t, want, [3]string{r, tid, sid}, "record %d (%s)", i, recs[i][schema.Message])
	}
}

// TestOTelTraceContextVlogWins: when the context carries vlog's own trace id
// (vlog.WithTraceID, or vlog.Middleware from a traceparent or X-Ray header) and an
// OpenTelemetry span, vlog's ids are logged and the hook is not consulted: the trace and span
// ids always come from one source (a vlog trace id without a span id gets no OTel span id).
// A request id alone does not stop the hook.
func TestOTelTraceContextVlogWins(t *testing.T) {
	logger, vw := newVlog(t, &vlog.Options{TraceContext: otelTraceContext})
	ctx, span := newTracer(t).Start(context.Background(), "op")
	defer span.End()
	sc := span.SpanContext()

	logger.InfoContext(vlog.WithTraceID(ctx, "1-5759e988-bd862e3fe1be46a994272793", "53995c3f42cd8ad8"), "both")
	logger.InfoContext(vlog.WithTraceID(ctx, "1-5759e988-bd862e3fe1be46a994272793", ""), "vlog trace, no span")
	logger.InfoContext(vlog.WithRequestID(ctx, "req-1"), "request id and span")
	logger.InfoContext(vlog.WithTraceID(ctx, "", ""), "vlog ids removed")

	recs := vw.records(t)
	require.Len(t, recs, 4)
	for i, want := range [][3]string{
		{"", "1-5759e988-bd862e3fe1be46a994272793", "53995c3f42cd8ad8"},
		{"", "1-5759e988-bd862e3fe1be46a994272793", ""},
		{"req-1", sc.TraceID().String(), sc.SpanID().String()},
		{"", sc.TraceID().String(), sc.SpanID().String()},
	} {
		r, tid, sid := idsOf(recs[i])
		require.Equal(t, want, [3]string{r, tid, sid}, "record %d (%s)", i, recs[i][schema.Message])
	}
}

// TestOTelTraceContextThroughFanout: the context, and so the hook's ids, reach vlog's handler
// through Fanout, Router and Failover alike.
func TestOTelTraceContextThroughFanout(t *testing.T) {
	logger, vw := newVlog(t, &vlog.Options{TraceContext: otelTraceContext})
	other := slog.NewJSONHandler(&recorder{}, nil)
	ctx, span := newTracer(t).Start(context.Background(), "op")
	defer span.End()
	for _, h := range []slog.Handler{
		slogmulti.Fanout(logger.Handler(), other),
		slogmulti.Router().Add(logger.Handler()).Add(other).Handler(),
		slogmulti.Failover()(logger.Handler(), other),
	} {
		slog.New(h).InfoContext(ctx, "x")
	}
	recs := vw.records(t)
	require.Len(t, recs, 3)
	for _, m := range recs {
		_, tid, sid := idsOf(m)
		require.Equal(t, span.SpanContext().TraceID().String(), tid)
		require.Equal(t, span.SpanContext().SpanID().String(), sid)
	}
}

// memExporter is an sdklog.Exporter that keeps the records it is given, in memory.
type memExporter struct {
	mu      sync.Mutex
	records []sdklog.Record
}

func (e *memExporter) Export(_ context.Context, records []sdklog.Record) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	for i := range records {
		e.records = append(e.records, records[i].Clone())
	}
	return nil
}

func (e *memExporter) Shutdown(context.Context) error   { return nil }
func (e *memExporter) ForceFlush(context.Context) error { return nil }

func (e *memExporter) all() []sdklog.Record {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]sdklog.Record(nil), e.records...)
}

// attrMap returns the attributes of an OpenTelemetry record as Go values, maps for groups.
func attrMap(r *sdklog.Record) map[string]any {
	out := map[string]any{}
	r.WalkAttributes(func(kv attribute.KeyValue) bool {
		out[string(kv.Key)] = attrValue(kv.Value)
		return true
	})
	return out
}

func attrValue(v attribute.Value) any {
	if v.Type() != attribute.MAP {
		return v.AsInterface()
	}
	m := map[string]any{}
	for _, kv := range v.AsMap() {
		m[string(kv.Key)] = attrValue(kv.Value)
	}
	return m
}

// TestOTelBridgeFanout is the recipe "fanning out to the OTel bridge": vlog (with the
// TraceContext hook) and otelslog's handler, behind the redaction middleware, in one Fanout.
// One log call, made with a span's context, gives one vlog Write and one OpenTelemetry record,
// both with the With attributes, the group, the span's ids and the secret masked.
func TestOTelBridgeFanout(t *testing.T) {
	logger, vw := newVlog(t, &vlog.Options{TraceContext: otelTraceContext})
	exp := &memExporter{}
	provider := sdklog.NewLoggerProvider(sdklog.WithProcessor(sdklog.NewSimpleProcessor(exp)))
	t.Cleanup(func() { require.NoError(t, provider.Shutdown(context.Background())) })

	log := slog.New(slogmulti.Fanout(
		logger.Handler(),
		slogmulti.Pipe(logger.Redactor().Middleware()).Handler(
			otelslog.NewHandler("order-api", otelslog.WithLoggerProvider(provider)),
		),
	))
	ctx, span := newTracer(t).Start(context.Background(), "POST /orders")
	log.With("order_id", "ord-7").WithGroup("payment").
		WarnContext(ctx, "charge retried", "amount", 19.99, "attempt", 2, "token", "S3CR3T-tok")
	span.End()
	sc := span.SpanContext()

	m := vw.only(t)
	require.Equal(t, "warn", m[schema.Level])
	require.Equal(t, map[string]any{
		schema.TraceID: sc.TraceID().String(),
		schema.SpanID:  sc.SpanID().String(),
		"order_id":     "ord-7",
		"payment":      map[string]any{"amount": 19.99, "attempt": float64(2), "token": "[REDACTED]"},
	}, attrsOf(m))

	recs := exp.all()
	require.Len(t, recs, 1, "one OpenTelemetry record per call")
	r := recs[0]
	require.Equal(t, "charge retried", r.Body().AsString())
	require.Equal(t, otellog.SeverityWarn, r.Severity())
	require.Equal(t, "WARN", r.SeverityText())
	require.Equal(t, "order-api", r.InstrumentationScope().Name)
	require.Equal(t, sc.TraceID(), r.TraceID(), "the bridge reads the span from the same context")
	require.Equal(t, sc.SpanID(), r.SpanID())
	require.Equal(t, map[string]any{
		"order_id": "ord-7",
		"payment":  map[string]any{"amount": 19.99, "attempt": int64(2), "token": "[REDACTED]"},
	}, attrMap(&r))
	require.False(t, r.Timestamp().IsZero())
}
