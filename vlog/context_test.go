package vlog

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"go.vlog.dev/internal/ctxids"
)

func TestContextIDsRoundTrip(t *testing.T) {
	ctx := context.Background()
	require.Equal(t, "", RequestID(ctx))
	require.Equal(t, "", TraceID(ctx))
	require.Equal(t, "", SpanID(ctx))

	ctx = WithRequestID(ctx, "req-1")
	require.Equal(t, "req-1", RequestID(ctx))

	ctx = WithTraceID(ctx, "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7")
	require.Equal(t, "4bf92f3577b34da6a3ce929d0e0e4736", TraceID(ctx))
	require.Equal(t, "00f067aa0ba902b7", SpanID(ctx))
	require.Equal(t, "req-1", RequestID(ctx), "WithTraceID keeps the request id")

	ctx = WithRequestID(ctx, "req-2")
	require.Equal(t, ctxids.IDs{
		RequestID: "req-2",
		TraceID:   "4bf92f3577b34da6a3ce929d0e0e4736",
		SpanID:    "00f067aa0ba902b7",
	}, ctxids.From(ctx), "WithRequestID keeps the trace and span ids")

	// An empty span id removes the previous span together with the trace it belonged to.
	ctx = WithTraceID(ctx, "1-5759e988-bd862e3fe1be46a994272793", "")
	require.Equal(t, ctxids.IDs{RequestID: "req-2", TraceID: "1-5759e988-bd862e3fe1be46a994272793"}, ctxids.From(ctx))

	ctx = WithRequestID(ctx, "")
	require.Equal(t, ctxids.IDs{TraceID: "1-5759e988-bd862e3fe1be46a994272793"}, ctxids.From(ctx))
}

func TestContextIDsParentUnchanged(t *testing.T) {
	parent := WithRequestID(context.Background(), "parent")
	child := WithRequestID(parent, "child")
	_ = WithTraceID(child, "t", "s")
	require.Equal(t, "parent", RequestID(parent))
	require.Equal(t, "child", RequestID(child))
	require.Equal(t, "", TraceID(child))
}

func TestContextIDsNilContext(t *testing.T) {
	var ctx context.Context
	require.Equal(t, "", RequestID(ctx))
	require.Equal(t, "", TraceID(ctx))
	require.Equal(t, "", SpanID(ctx))
}

func TestContextIDsGettersDoNotAllocate(t *testing.T) {
	ctx := WithTraceID(WithRequestID(context.Background(), "r"), "t", "s")
	allocs := testing.AllocsPerRun(100, func() {
		_ = RequestID(ctx)
		_ = TraceID(ctx)
		_ = SpanID(ctx)
	})
	require.Zero(t, allocs)
}
