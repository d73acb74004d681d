// Package schema names the fields of a vlog record, once: the keys every record starts with,
// the ECS keys, the keys vlog adds about itself, and which of them are reserved at the top
// level of a record. It also holds Truncate, which cuts a record to a size limit while keeping
// those fields, for the transports whose destination limits the length of a line.
//
// The order on the wire is EventTime, Level, Message, Service, Env, Version, then RequestID,
// TraceID, SpanID when present, then the ECS keys, Caller, and the caller's attributes.
package schema

// The schema's keys, in wire order.
const (
	EventTime = "event_time"
	Level     = "level"
	Message   = "msg"
	Service   = "service"
	Env       = "env"
	Version   = "version"

	RequestID = "request_id"
	TraceID   = "trace_id"
	SpanID    = "span_id"

	// The ECS task metadata (vlog reads it once at setup).
	ECSCluster        = "ecs_cluster"
	ECSTaskARN        = "ecs_task_arn"
	ECSTaskDefinition = "ecs_task_definition"
	Container         = "container"
	AvailabilityZone  = "availability_zone"
	LaunchType        = "launch_type"

	// Caller is the source location, {"function","file","line"}, when asked for.
	Caller = "caller"
)

// Truncated is the field added to a record that was cut to fit a size limit (see Truncate);
// its value is the size of the original record in bytes, without the newline.
const Truncated = "vlog_truncated"

// ReservedPrefix is prepended to a top-level caller attribute key that is Reserved:
// slog.Info("x", "level", 3) gives "attr.level":3.
const ReservedPrefix = "attr."

// Reserved reports whether key is one of the schema's top-level keys, which a caller's
// attribute at the top level may not take.
func Reserved(key string) bool {
	switch key {
	case EventTime, Level, Message, Service, Env, Version,
		RequestID, TraceID, SpanID, Caller,
		ECSCluster, ECSTaskARN, ECSTaskDefinition, Container,
		AvailabilityZone, LaunchType:
		return true
	}
	return false
}
