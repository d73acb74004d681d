package vlog

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"go.vlog.dev/handlers"
	"go.vlog.dev/internal/ctxids"
)

// Header names read or written by [Middleware], in canonical form.
const (
	headerRequestID   = "X-Request-Id"
	headerTraceparent = "Traceparent"
	headerAmznTraceID = "X-Amzn-Trace-Id"
)

// maxRequestIDLen is the longest X-Request-Id header value that Middleware accepts.
const maxRequestIDLen = 128

// accessMessage is the message of the access record. The rate limit never limits it.
const accessMessage = "http request"

// MiddlewareOptions are options for [MiddlewareWith]. A nil *MiddlewareOptions and the zero
// value both mean the defaults.
type MiddlewareOptions struct {
	// Level returns the level of the access record of a request that completed with status.
	// r is the request the handler saw, so r.Pattern is the route matched by a ServeMux.
	// Returning a level below the logger's minimum level drops the record, which is how
	// noisy requests such as load balancer health checks are silenced:
	//
	//	Level: func(r *http.Request, status int) slog.Level {
	//		if r.Pattern == "GET /healthz" && status < 400 {
	//			return slog.LevelDebug
	//		}
	//		return vlog.StatusLevel(status)
	//	},
	//
	// Default: [StatusLevel](status). Level is not consulted for the "http handler panic"
	// record, which is always logged at slog.LevelError.
	Level func(r *http.Request, status int) slog.Level
}

// StatusLevel is the default level of an access record: slog.LevelError for a status of 500
// or more, slog.LevelWarn for 400 to 499 and slog.LevelInfo otherwise.
func StatusLevel(status int) slog.Level {
	switch {
	case status >= 500:
		return slog.LevelError
	case status >= 400:
		return slog.LevelWarn
	default:
		return slog.LevelInfo
	}
}

// Middleware returns a handler that serves each request with next, gives it correlation ids
// and a scope, and writes one access record for it to logger. A nil logger means
// slog.Default(), looked up when each request starts.
//
// Correlation ids. Before next is called, the request's context is given (see [RequestID],
// [TraceID], [SpanID]):
//
//   - a request id: the value of the X-Request-Id request header if it is 1 to 128 bytes of
//     printable ASCII other than space, quotes (" and ') and backslash; otherwise a new one,
//     16 random bytes from crypto/rand as 32 lowercase hex digits. The id is also set as the
//     X-Request-Id response header.
//   - a trace id and span id from the W3C Trace Context header "traceparent"
//     ("00-<32 hex trace-id>-<16 hex parent-id>-<2 hex flags>"), validated as the W3C
//     specification says: lowercase hex only, version ff and all-zero ids are invalid, version
//     00 is exactly 55 bytes, a later version may append fields after a '-', and a request
//     with several traceparent headers has none. The trace id is the trace-id field and the
//     span id is the parent-id field, that is the caller's span.
//   - failing that, from the AWS X-Ray header X-Amzn-Trace-Id, as set by Application Load
//     Balancers ("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
//     fields in any order, spaces around fields ignored, other fields such as Self ignored):
//     the trace id is the Root value as-is, in X-Ray format ("1-" 8 hex digits "-" 24 hex
//     digits), and the span id is the Parent value (16 hex digits) if present and valid.
//
// Headers that are missing or invalid leave the trace and span ids empty; they are never an
// error. The ids come only from the headers, never from ids already in the incoming context.
//
// Access record. After next returns, exactly one record with the message "http request" is
// written with logger.LogAttrs and the request's context, so it carries the ids above. Its
// attributes, in order:
//
//   - "method": r.Method
//   - "route": r.Pattern, the pattern matched by an http.ServeMux, omitted when
//     empty. A ServeMux sets Pattern on the *http.Request passed to it, so the route is only
//     known when next is the ServeMux, or passes it the very request it received; a
//     handler in between that calls r.WithContext or http.StripPrefix hides it.
//   - "path": r.URL.Path, never the query string
//   - "status" (int): the final status code sent. It is 200 when the handler writes a body
//     or returns without calling WriteHeader; 1xx informational codes (except 101) are not
//     final; 101 when the handler hijacked the connection without writing a header first.
//   - "bytes" (int64): body bytes written through the ResponseWriter (0 after a hijack)
//   - "duration_ms" (float64): time from the start of ServeHTTP until next returned, in
//     milliseconds
//   - "remote_ip": the host part of r.RemoteAddr, omitted when empty. It is the address of
//     the peer, which is the load balancer behind an ALB; X-Forwarded-For is not trusted.
//   - "user_agent": the User-Agent request header, omitted when empty
//
// The level is [StatusLevel](status): slog.LevelError for status >= 500, slog.LevelWarn for
// status >= 400 and slog.LevelInfo otherwise. [MiddlewareWith] can change it.
//
// Panics. If next panics with http.ErrAbortHandler, the access record is written with the
// extra attribute "aborted"=true at slog.LevelWarn or above, then the panic is re-raised so
// net/http aborts the response as it expects. Any other panic is recovered: a record
// "http handler panic" is written at slog.LevelError with the attributes "panic" (the
// value, formatted with fmt) and "stack" (the goroutine's stack), a 500 Internal Server
// Error is sent if the handler had not written a header yet, and the access record is
// written with status 500 (even if another status had been sent: the response is then
// truncated).
//
// Scope. When logger's handler is vlog's with holding or debug sampling on (VLOG_HOLD,
// VLOG_DEBUG_SAMPLE_RATE), each request gets a scope (see StartScope and docs/volume.md) in its
// context: its records below VLOG_HOLD_BELOW are held and written only if the request fails,
// which is a record at VLOG_HOLD_FLUSH_LEVEL (error) logged with its context, a status of 500 or
// more, or a panic (other than http.ErrAbortHandler); the held records are then written before
// the panic record and the access record. The scope ends, discarding what it still holds, after
// the access record. A goroutine that keeps the request's context afterwards logs as if there
// were no scope.
//
// ResponseWriter. next gets a wrapper of the original http.ResponseWriter that implements
// http.Flusher and http.Hijacker, forwarding them to the original writer (Flush does
// nothing and Hijack fails with an error wrapping http.ErrNotSupported when the original
// writer cannot do it), io.ReaderFrom so that sendfile still applies, and
// Unwrap() http.ResponseWriter so that http.ResponseController reaches every other
// feature of the original writer.
func Middleware(logger *slog.Logger, next http.Handler) http.Handler {
	return MiddlewareWith(logger, nil, next)
}

// MiddlewareWith is [Middleware] with options. A nil opts means the defaults, so
// MiddlewareWith(logger, nil, next) is Middleware(logger, next).
func MiddlewareWith(logger *slog.Logger, opts *MiddlewareOptions, next http.Handler) http.Handler {
	m := &middleware{logger: logger, next: next}
	if opts != nil {
		m.level = opts.Level
	}
	return m
}

type middleware struct {
	logger *slog.Logger // nil: slog.Default()
	next   http.Handler
	level  func(r *http.Request, status int) slog.Level // nil: StatusLevel
}

func (m *middleware) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	logger := m.logger
	if logger == nil {
		logger = slog.Default()
	}
	ids := ctxids.IDs{RequestID: requestIDFromHeader(r.Header)}
	ids.TraceID, ids.SpanID = traceIDsFromHeader(r.Header)
	w.Header().Set(headerRequestID, ids.RequestID)
	ctx, scope := handlers.StartScope(ctxids.With(r.Context(), ids), logger.Handler())
	r = r.WithContext(ctx)
	sw := &statusWriter{ResponseWriter: w}
	defer m.finish(logger, scope, sw, r, start)
	m.next.ServeHTTP(sw, r)
}

// finish runs deferred, after next returned or panicked. It must be the deferred function
// itself for recover to work.
func (m *middleware) finish(logger *slog.Logger, scope *handlers.Scope, w *statusWriter, r *http.Request, start time.Time) {
	v := recover()
	elapsed := time.Since(start)
	ctx := r.Context()
	status := w.finalStatus()
	aborted := false
	switch {
	case v == nil:
	case v == http.ErrAbortHandler:
		aborted = true
	default:
		scope.Flush() // the held records go before the panic record
		logger.LogAttrs(ctx, slog.LevelError, "http handler panic",
			slog.String("panic", fmt.Sprint(v)),
			slog.String("stack", string(debug.Stack())))
		if !w.wroteHeader && !w.hijacked {
			http.Error(w, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
		}
		status = http.StatusInternalServerError
	}

	var level slog.Level
	if m.level != nil {
		level = m.level(r, status)
	} else {
		level = StatusLevel(status)
	}
	if aborted && level < slog.LevelWarn {
		level = slog.LevelWarn
	}
	if status >= http.StatusInternalServerError {
		scope.Flush() // the request failed: what it held goes before its access record
	}
	if logger.Enabled(ctx, level) {
		var buf [9]slog.Attr
		attrs := append(buf[:0], slog.String("method", r.Method))
		if r.Pattern != "" {
			attrs = append(attrs, slog.String("route", r.Pattern))
		}
		attrs = append(attrs,
			slog.String("path", r.URL.Path),
			slog.Int("status", status),
			slog.Int64("bytes", w.bytes),
			slog.Float64("duration_ms", float64(elapsed)/float64(time.Millisecond)))
		if ip := remoteIP(r.RemoteAddr); ip != "" {
			attrs = append(attrs, slog.String("remote_ip", ip))
		}
		if ua := r.Header.Get("User-Agent"); ua != "" {
			attrs = append(attrs, slog.String("user_agent", ua))
		}
		if aborted {
			attrs = append(attrs, slog.Bool("aborted", true))
		}
		logger.LogAttrs(ctx, level, accessMessage, attrs...)
	}
	scope.End()
	if aborted {
		panic(v)
	}
}

// remoteIP returns the host part of addr ("192.0.2.1:1234" -> "192.0.2.1",
// "[2001:db8::1]:1234" -> "2001:db8::1"), or addr itself if it has no port.
func remoteIP(addr string) string {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	return host
}

// requestIDFromHeader returns the X-Request-Id header of h if it is acceptable as a request id,
// else a new random id.
func requestIDFromHeader(h http.Header) string {
	if id := h.Get(headerRequestID); isSaneRequestID(id) {
		return id
	}
	return newRequestID()
}

// isSaneRequestID reports whether id is 1 to maxRequestIDLen bytes of printable ASCII other
// than space, quotes and backslash: safe to echo in a header and to log unescaped.
func isSaneRequestID(id string) bool {
	if len(id) == 0 || len(id) > maxRequestIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if c <= ' ' || c > '~' || c == '"' || c == '\'' || c == '\\' {
			return false
		}
	}
	return true
}

// newRequestID returns 16 random bytes as 32 lowercase hex digits.
func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // Since Go 1.24 Read never returns an error; it crashes instead.
	var h [32]byte
	hex.Encode(h[:], b[:])
	return string(h[:])
}

// traceIDsFromHeader returns the trace and span ids of a request: from a valid traceparent
// header, else from a valid X-Amzn-Trace-Id header, else none.
func traceIDsFromHeader(h http.Header) (traceID, spanID string) {
	// W3C Trace Context: a request with several traceparent headers has an invalid one.
	if v := h[headerTraceparent]; len(v) == 1 {
		if traceID, spanID, ok := parseTraceparent(v[0]); ok {
			return traceID, spanID
		}
	}
	if v := h.Get(headerAmznTraceID); v != "" {
		if traceID, spanID, ok := parseAmznTraceID(v); ok {
			return traceID, spanID
		}
	}
	return "", ""
}

// parseTraceparent parses a W3C Trace Context traceparent header value,
// "version-traceid-parentid-flags", following https://www.w3.org/TR/trace-context/#traceparent-header:
// all fields are lowercase hex of 2, 32, 16 and 2 digits; version ff is invalid; all-zero trace
// and parent ids are invalid; version 00 has nothing after the flags; a higher version may have
// more fields after the flags, separated by '-'.
func parseTraceparent(s string) (traceID, parentID string, ok bool) {
	const n = len("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	if len(s) < n || s[2] != '-' || s[35] != '-' || s[52] != '-' {
		return "", "", false
	}
	version, traceID, parentID, flags := s[:2], s[3:35], s[36:52], s[53:55]
	if !isLowerHex(version) || version == "ff" || !isLowerHex(flags) ||
		!isLowerHex(traceID) || isAllZeros(traceID) ||
		!isLowerHex(parentID) || isAllZeros(parentID) {
		return "", "", false
	}
	if len(s) > n && (version == "00" || s[n] != '-') {
		return "", "", false
	}
	return traceID, parentID, true
}

// parseAmznTraceID parses an AWS X-Ray X-Amzn-Trace-Id header value such as
// "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1". Fields may come
// in any order, with spaces around them; unknown fields are ignored; the first Root and Parent
// fields count. It fails if Root is missing or not in X-Ray format; an invalid Parent is
// dropped.
func parseAmznTraceID(s string) (root, parent string, ok bool) {
	for s != "" {
		var field string
		field, s, _ = strings.Cut(s, ";")
		key, value, found := strings.Cut(field, "=")
		if !found {
			continue
		}
		switch strings.Trim(key, " \t") {
		case "Root":
			if root == "" {
				root = strings.Trim(value, " \t")
			}
		case "Parent":
			if parent == "" {
				parent = strings.Trim(value, " \t")
			}
		}
	}
	if !isXRayTraceID(root) {
		return "", "", false
	}
	if len(parent) != 16 || !isHex(parent) {
		parent = ""
	}
	return root, parent, true
}

// isXRayTraceID reports whether s is an X-Ray trace id: "1-", the epoch time in 8 hex digits,
// "-", and a 96-bit id in 24 hex digits.
func isXRayTraceID(s string) bool {
	return len(s) == 35 && s[0] == '1' && s[1] == '-' && s[10] == '-' &&
		isHex(s[2:10]) && isHex(s[11:])
}

// isLowerHex reports whether s consists of the digits 0-9 and a-f only.
func isLowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// isHex reports whether s consists of hex digits of either case only.
func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

func isAllZeros(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] != '0' {
			return false
		}
	}
	return true
}

// statusWriter is the http.ResponseWriter given to the wrapped handler. It records the final
// status and counts body bytes.
type statusWriter struct {
	http.ResponseWriter
	status      int   // final status; valid if wroteHeader
	wroteHeader bool  // a final status was sent (explicitly or implied by a write or flush)
	hijacked    bool  // the handler took over the connection
	bytes       int64 // body bytes written
}

var (
	_ http.Flusher  = (*statusWriter)(nil)
	_ http.Hijacker = (*statusWriter)(nil)
	_ io.ReaderFrom = (*statusWriter)(nil)
)

// finalStatus returns the status as the client sees it once the handler returned.
func (w *statusWriter) finalStatus() int {
	if !w.wroteHeader {
		return http.StatusOK // net/http sends 200 for a handler that wrote nothing
	}
	return w.status
}

// implicitHeader records the 200 that net/http sends on the first write or flush.
func (w *statusWriter) implicitHeader() {
	if !w.wroteHeader {
		w.wroteHeader = true
		w.status = http.StatusOK
	}
}

// WriteHeader forwards to the underlying writer and records code if it is the first final
// status. Informational codes (1xx other than 101 Switching Protocols) are not final.
func (w *statusWriter) WriteHeader(code int) {
	w.ResponseWriter.WriteHeader(code)
	if !w.wroteHeader && (code < 100 || code > 199 || code == http.StatusSwitchingProtocols) {
		w.wroteHeader = true
		w.status = code
	}
}

// Write forwards to the underlying writer and counts the bytes written.
func (w *statusWriter) Write(p []byte) (int, error) {
	w.implicitHeader()
	n, err := w.ResponseWriter.Write(p)
	w.bytes += int64(n)
	return n, err
}

// WriteString is io.WriteString on the underlying writer, counting the bytes written.
func (w *statusWriter) WriteString(s string) (int, error) {
	w.implicitHeader()
	n, err := io.WriteString(w.ResponseWriter, s)
	w.bytes += int64(n)
	return n, err
}

// ReadFrom copies r to the underlying writer with its ReadFrom method if it has one (the
// net/http writer uses sendfile for files), counting the bytes written.
func (w *statusWriter) ReadFrom(r io.Reader) (int64, error) {
	if rf, ok := w.ResponseWriter.(io.ReaderFrom); ok {
		w.implicitHeader()
		n, err := rf.ReadFrom(r)
		w.bytes += n
		return n, err
	}
	return io.Copy(writerOnly{w}, r)
}

// writerOnly hides the ReadFrom method of its writer from io.Copy.
type writerOnly struct{ io.Writer }

// Flush implements http.Flusher: it flushes the underlying writer if it can be flushed and
// does nothing otherwise.
func (w *statusWriter) Flush() {
	_ = w.FlushError()
}

// FlushError flushes the underlying writer, returning an error wrapping http.ErrNotSupported
// if it cannot be flushed. http.ResponseController.Flush calls it.
func (w *statusWriter) FlushError() error {
	err := http.NewResponseController(w.ResponseWriter).Flush()
	if err == nil {
		w.implicitHeader()
	}
	return err
}

// Hijack implements http.Hijacker by hijacking the underlying writer, returning an error
// wrapping http.ErrNotSupported if it cannot be hijacked (HTTP/2). http.ResponseController
// calls it too.
func (w *statusWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, brw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err == nil {
		w.hijacked = true
		if !w.wroteHeader {
			w.wroteHeader = true
			w.status = http.StatusSwitchingProtocols
		}
	}
	return conn, brw, err
}

// Unwrap returns the underlying writer, for http.ResponseController.
func (w *statusWriter) Unwrap() http.ResponseWriter {
	return w.ResponseWriter
}
