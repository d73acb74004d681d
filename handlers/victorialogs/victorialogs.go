// Package victorialogs is the VictoriaLogs transport: batches of vlog's JSON records posted to
// /insert/jsonline, gzip- (or zstd-) compressed, with retries across several endpoints, auth,
// tenants and TLS. It plugs into go.vlog.dev/handlers/output as an output.Pipelined transport (several
// batches in flight); docs/victorialogs.md has the settings and the measurements.
package victorialogs

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"go.vlog.dev/handlers/output"
	"go.vlog.dev/handlers/schema"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// Defaults of Options.
const (
	// DefaultTimeout bounds one HTTP request.
	DefaultTimeout = 10 * time.Second
	// DefaultConcurrency is the number of requests one Send may have in flight.
	DefaultConcurrency = 1
	// DefaultInFlight is the number of batches sent at once (Options.InFlight).
	DefaultInFlight = 2
	// DefaultCompression is the compression of the bodies when Options.Compression is empty:
	// gzip, github.com/klauspost/compress's, at DefaultGzipLevel. Chosen by measurement
	// (benchmarks/README.md): about half the CPU per record of compress/gzip's level 1 for
	// bodies 6% smaller. zstd at its fastest makes bodies 17% smaller still, for about 0.2 µs
	// more of the application's CPU per record and less of VictoriaLogs' (decoding), which
	// together gave no more records/s into a VictoriaLogs sharing the CPUs.
	DefaultCompression = "gzip"
	// DefaultGzipLevel is gzip.BestSpeed, the level used when Options.GzipLevel is zero:
	// measured in benchmarks/README.md, level 1 costs half to two thirds of the CPU of the
	// encoder's default level (5) for bodies 9% larger.
	DefaultGzipLevel = gzip.BestSpeed
)

// DefaultStreamFields returns the stream fields sent when none are configured: service, env,
// ecs_cluster, container. The slice is a new copy.
func DefaultStreamFields() []string {
	return []string{schema.Service, schema.Env, schema.ECSCluster, schema.Container}
}

// Options configure a Transport. Every field but URLs may be left zero
// for the default stated per field.
type Options struct {
	// URLs are the VictoriaLogs endpoints: single-node servers, or the vlinsert nodes of a
	// cluster (all equivalent). Each is a base URL such as "http://victorialogs:9428" (the path
	// /insert/jsonline is added) or a full insert URL such as
	// "https://vl.example.com/insert/jsonline?ignore_fields=password&extra_fields=team=payments"
	// whose query parameters are kept. Credentials in a URL ("https://user:pass@host") are used
	// for basic auth and removed from it. Batches are spread over the URLs round-robin; a URL
	// that fails is skipped for a while (the next one takes its share). At least one.
	URLs []string

	// StreamFields are VictoriaLogs' _stream_fields. Default DefaultStreamFields() (service, env,
	// ecs_cluster, container), unless the URL's query sets _stream_fields. High-cardinality
	// names are refused (see CheckStreamFields).
	StreamFields []string
	// IgnoreFields are dropped by VictoriaLogs on ingestion (its ignore_fields parameter).
	IgnoreFields []string
	// ExtraFields are added by VictoriaLogs to every record (its extra_fields parameter),
	// overriding a field of the same name.
	ExtraFields map[string]string

	// AccountID and ProjectID select the tenant (VictoriaLogs' AccountID and ProjectID
	// headers). Default 0:0, the default tenant.
	AccountID, ProjectID uint32

	// Username and Password send basic auth, to every URL that has no credentials of its own.
	Username, Password string
	// BearerToken sends "Authorization: Bearer <token>" instead. Not together with a username.
	BearerToken string

	// CAFile is a PEM file of CA certificates trusted, in addition to the system's, for https
	// URLs. Read once, by New.
	CAFile string
	// TLSConfig is the TLS configuration for https URLs (cloned; CAFile is added to its
	// RootCAs). Default: the system's roots.
	TLSConfig *tls.Config

	// Timeout bounds one HTTP request, connection included. Default
	// DefaultTimeout (10s).
	Timeout time.Duration

	// MaxLineSize is the largest record, in bytes without the newline, sent as is. A larger
	// record is cut to a valid JSON line of at most this size that keeps the schema fields and
	// the stream fields and says how big it was in "vlog_truncated" (see Send). Default
	// schema.DefaultMaxLineSize (64 KiB); 1 KiB to 256 KiB (VictoriaLogs' limit), as
	// schema.CheckMaxLineSize says.
	MaxLineSize int

	// Concurrency is how many requests one Send may have in flight: a batch of at least
	// 2*64 KiB is split at line boundaries into up to this many parts, compressed and sent in
	// parallel, over several connections. Default DefaultConcurrency (1): the
	// concurrency VictoriaLogs needs comes from InFlight batches, and splitting a batch into
	// smaller requests costs VictoriaLogs more CPU per record (benchmarks/README.md).
	Concurrency int

	// InFlight is how many batches an output.Buffered may send through this transport at once
	// (see output.Pipelined): with 2, the next batch is compressed and sent while
	// VictoriaLogs still ingests the previous one, instead of VictoriaLogs waiting for it.
	// Batches may then be stored in another order than they were logged; VictoriaLogs orders
	// by _time anyway. Default DefaultInFlight (2); 1 to 16.
	InFlight int

	// Compression is how the bodies are sent: "gzip" (the default, DefaultCompression; ""
	// too), "zstd" (Content-Encoding: zstd, at zstd's fastest level: bodies 17% smaller than
	// gzip level 1's for about 0.2 µs more CPU per record, where bytes on the wire cost more
	// than CPU) or "none" (uncompressed: sensible on loopback only, where it saves the CPU of
	// compressing). Both encoders are github.com/klauspost/compress's (VictoriaLogs decodes
	// gzip with the same library). VictoriaLogs answers 200 to a body in an encoding it does
	// not know, and stores nothing: zstd only where every hop to VictoriaLogs passes it (v1.26
	// accepts it).
	Compression string
	// GzipLevel is the gzip level of the bodies, numbered as compress/gzip numbers them:
	// gzip.BestSpeed (1) to gzip.BestCompression (9), gzip.DefaultCompression (-1: the
	// encoder's default, level 5 of klauspost/compress) or gzip.HuffmanOnly (-2). Zero is "not
	// set": DefaultGzipLevel (gzip.BestSpeed), so gzip.NoCompression cannot be asked for here;
	// Compression "none" turns compression off. Refused with Compression "zstd".
	GzipLevel int

	// HTTPClient sends the requests. Default: a client of this transport's own, with
	// keep-alive connections for Concurrency*InFlight requests per URL; CAFile and TLSConfig are then
	// ignored (configure the client's transport instead). Timeout still applies per request.
	HTTPClient *http.Client
}

// Transport is a Transport that sends batches to VictoriaLogs' /insert/jsonline
// endpoint: the records as they are (one JSON object per line), gzip-compressed (see
// Options.Compression), with
// _msg_field=msg, _time_field=event_time and the stream fields as query parameters, so
// VictoriaLogs stores msg as _msg and event_time, with its nanoseconds, as _time.
//
// Errors are reported with the URL's credentials removed. Network errors, timeouts, 429 (the
// server is read-only, low on disk), 503 (overloaded) and other 5xx are returned as retryable
// errors, after the other URLs were tried: the output.Buffered sends the batch again after a
// backoff. 400 (no line of the body parsed) and 413 are returned as Permanent errors with the
// server's message, as are other 4xx once every URL answered so.
//
// A Send that was cut short (some parts of a split batch delivered, others not) remembers
// which parts were delivered: when the same batch (same Seq and size) is sent again, only the
// others are, so retries do not duplicate records within one transport.
type Transport struct {
	endpoints   []*vlEndpoint
	next        atomic.Uint64
	client      *http.Client
	ownClient   *http.Transport
	timeout     time.Duration
	maxLine     int
	concurrency int
	inFlight    int
	encoding    string      // the Content-Encoding: "gzip", "zstd", or "" for none
	level       int         // the gzip level
	headers     http.Header // tenancy headers, set on every request
	stream      []string    // the stream fields of all the URLs
	gzipPool    sync.Pool   // *gzip.Writer
	zstdPool    sync.Pool   // *zstd.Encoder, each for one EncodeAll at a time
	bufPool     sync.Pool   // *body

	// resume holds, by Seq, the batches that were delivered in part (see Send).
	resumeMu sync.Mutex
	resume   map[uint64]*vlResume

	requests, requestErrors, failovers atomic.Uint64
	bytesSent, bytesRaw, recordsSent   atomic.Uint64
	truncated, rejected                atomic.Uint64
}

var _ output.Pipelined = (*Transport)(nil)

// vlResume is which parts of a batch were delivered, for the next Send of the same batch.
type vlResume struct {
	size int
	done []bool
}

// maxResume bounds Transport.resume: entries of batches never sent again (dropped
// by DropOldest, or at Close) must not pile up.
const maxResume = 64

// vlEndpoint is one URL, ready to use.
type vlEndpoint struct {
	url    string // the insert URL with its query, without credentials
	show   string // scheme://host/path, for errors
	auth   string // the Authorization header, "" for none
	stream []string
	fails  atomic.Int32
	// downUntil (unix ns) is when a URL that failed gets its share of batches again.
	downUntil atomic.Int64
}

// New checks opts and returns a transport. It does not connect: the
// first Send does. The CA file, if any, is read here.
func New(opts *Options) (*Transport, error) {
	if opts == nil {
		opts = &Options{}
	}
	o := *opts
	bad := func(field, value, reason string) error {
		return &output.OptionError{Name: field, Value: value, Reason: reason}
	}
	if len(o.URLs) == 0 {
		return nil, bad("URLs", "", "at least one VictoriaLogs URL is needed")
	}
	if o.Timeout < 0 {
		return nil, bad("Timeout", o.Timeout.String(), "want a positive duration")
	}
	if o.Timeout == 0 {
		o.Timeout = DefaultTimeout
	}
	if o.MaxLineSize == 0 {
		o.MaxLineSize = schema.DefaultMaxLineSize
	}
	if err := schema.CheckMaxLineSize(o.MaxLineSize); err != nil {
		return nil, bad("MaxLineSize", strconv.Itoa(o.MaxLineSize), err.Error())
	}
	switch {
	case o.Concurrency == 0:
		o.Concurrency = DefaultConcurrency
	case o.Concurrency < 0 || o.Concurrency > 64:
		return nil, bad("Concurrency", strconv.Itoa(o.Concurrency), "want 1 to 64")
	}
	switch {
	case o.InFlight == 0:
		o.InFlight = DefaultInFlight
	case o.InFlight < 0 || o.InFlight > 16:
		return nil, bad("InFlight", strconv.Itoa(o.InFlight), "want 1 to 16")
	}
	switch o.Compression {
	case "":
		o.Compression = DefaultCompression
	case "gzip", "zstd", "none":
	default:
		return nil, bad("Compression", o.Compression, "want gzip, zstd or none")
	}
	if o.Compression == "zstd" && o.GzipLevel != 0 {
		return nil, bad("GzipLevel", strconv.Itoa(o.GzipLevel), "a gzip level, with Compression zstd: set Compression to gzip, or no level")
	}
	if o.GzipLevel == 0 {
		o.GzipLevel = DefaultGzipLevel
	}
	if err := CheckGzipLevel(o.GzipLevel); err != nil {
		return nil, bad("GzipLevel", strconv.Itoa(o.GzipLevel), err.Error())
	}
	if o.BearerToken != "" && (o.Username != "" || o.Password != "") {
		return nil, bad("BearerToken", "<redacted>", "basic auth (Username, Password) and a bearer token exclude each other")
	}
	if o.Password != "" && o.Username == "" {
		return nil, bad("Password", "<redacted>", "a password needs a Username")
	}
	if o.StreamFields != nil {
		if err := CheckStreamFields(o.StreamFields); err != nil {
			return nil, bad("StreamFields", strings.Join(o.StreamFields, ","), err.Error())
		}
	}
	for _, f := range o.IgnoreFields {
		if err := checkFieldName(f); err != nil {
			return nil, bad("IgnoreFields", strings.Join(o.IgnoreFields, ","), err.Error())
		}
	}
	for k := range o.ExtraFields {
		if err := checkFieldName(k); err != nil {
			return nil, bad("ExtraFields", k, err.Error())
		}
		if strings.Contains(o.ExtraFields[k], ",") {
			return nil, bad("ExtraFields", k+"="+o.ExtraFields[k], "a value must not contain a comma")
		}
	}

	t := &Transport{
		client:      o.HTTPClient,
		timeout:     o.Timeout,
		maxLine:     o.MaxLineSize,
		concurrency: o.Concurrency,
		inFlight:    o.InFlight,
		level:       o.GzipLevel,
		headers:     http.Header{},
	}
	if o.Compression != "none" {
		t.encoding = o.Compression
	}
	if o.AccountID != 0 || o.ProjectID != 0 {
		t.headers.Set("AccountID", strconv.FormatUint(uint64(o.AccountID), 10))
		t.headers.Set("ProjectID", strconv.FormatUint(uint64(o.ProjectID), 10))
	}
	for _, raw := range o.URLs {
		ep, err := newEndpoint(raw, &o)
		if err != nil {
			return nil, err
		}
		t.endpoints = append(t.endpoints, ep)
		for _, f := range ep.stream {
			if !slices.Contains(t.stream, f) {
				t.stream = append(t.stream, f)
			}
		}
	}
	if t.client == nil {
		tlsConf := &tls.Config{MinVersion: tls.VersionTLS12}
		if o.TLSConfig != nil {
			tlsConf = o.TLSConfig.Clone()
		}
		if o.CAFile != "" {
			pem, err := os.ReadFile(o.CAFile)
			if err != nil {
				return nil, bad("CAFile", o.CAFile, err.Error())
			}
			pool := tlsConf.RootCAs
			if pool == nil {
				if pool, err = x509.SystemCertPool(); err != nil {
					pool = x509.NewCertPool()
				}
			}
			if !pool.AppendCertsFromPEM(pem) {
				return nil, bad("CAFile", o.CAFile, "no PEM certificate in the file")
			}
			tlsConf.RootCAs = pool
		}
		dialer := &net.Dialer{Timeout: o.Timeout, KeepAlive: 30 * time.Second}
		t.ownClient = &http.Transport{
			Proxy:               http.ProxyFromEnvironment,
			DialContext:         dialer.DialContext,
			TLSClientConfig:     tlsConf,
			TLSHandshakeTimeout: o.Timeout,
			MaxIdleConnsPerHost: o.Concurrency * o.InFlight,
			// Below VictoriaLogs' -http.idleConnTimeout (1m), so that the server does not close
			// a connection just as a request goes out on it.
			IdleConnTimeout:    30 * time.Second,
			DisableCompression: true,
			ForceAttemptHTTP2:  true,
		}
		t.client = &http.Client{Transport: t.ownClient}
	}
	return t, nil
}

// newEndpoint parses one URL and builds its query.
func newEndpoint(raw string, o *Options) (*vlEndpoint, error) {
	bad := func(u, reason string) error {
		return &output.OptionError{Name: "URLs", Value: u, Reason: reason}
	}
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		// url.Parse's error repeats the URL, credentials included: report its cause only.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, bad(redactRaw(raw), err.Error())
	}
	shown := u.Redacted()
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, bad(shown, "want an http:// or https:// URL")
	}
	if u.Host == "" {
		return nil, bad(shown, "no host")
	}
	if u.Fragment != "" {
		return nil, bad(shown, "a URL fragment (#...) has no meaning here")
	}
	ep := &vlEndpoint{}
	switch {
	case u.User != nil:
		if o.BearerToken != "" {
			return nil, bad(shown, "credentials in the URL and a bearer token exclude each other")
		}
		pass, _ := u.User.Password()
		ep.auth = basicAuth(u.User.Username(), pass)
		u.User = nil
	case o.Username != "":
		ep.auth = basicAuth(o.Username, o.Password)
	case o.BearerToken != "":
		ep.auth = "Bearer " + o.BearerToken
	}
	path := strings.TrimSuffix(u.Path, "/")
	if !strings.HasSuffix(path, "/insert/jsonline") {
		path += "/insert/jsonline"
	}
	u.Path, u.RawPath = path, ""

	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return nil, bad(shown, "query: "+err.Error())
	}
	for _, p := range [...]struct{ name, want string }{{"_msg_field", schema.Message}, {"_time_field", schema.EventTime}} {
		if v, ok := q[p.name]; ok && (len(v) != 1 || v[0] != p.want) {
			return nil, bad(shown, fmt.Sprintf("%s must be %s, the vlog schema's field (or absent)", p.name, p.want))
		}
		q.Set(p.name, p.want)
	}
	switch {
	case o.StreamFields != nil:
		q.Set("_stream_fields", strings.Join(o.StreamFields, ","))
	case q.Has("_stream_fields"):
		fields := splitList(strings.Join(q["_stream_fields"], ","))
		if err := CheckStreamFields(fields); err != nil {
			return nil, bad(shown, "_stream_fields: "+err.Error())
		}
		q.Set("_stream_fields", strings.Join(fields, ","))
	default:
		q.Set("_stream_fields", strings.Join(DefaultStreamFields(), ","))
	}
	if len(o.IgnoreFields) > 0 {
		q.Set("ignore_fields", strings.Join(append(q["ignore_fields"], o.IgnoreFields...), ","))
	}
	if len(o.ExtraFields) > 0 {
		extra := q["extra_fields"]
		keys := make([]string, 0, len(o.ExtraFields))
		for k := range o.ExtraFields {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			extra = append(extra, k+"="+o.ExtraFields[k])
		}
		q.Set("extra_fields", strings.Join(extra, ","))
	}
	ep.stream = splitList(q.Get("_stream_fields"))
	u.RawQuery = q.Encode()
	ep.url = u.String()
	ep.show = (&url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path}).String()
	return ep, nil
}

func basicAuth(user, pass string) string {
	r := http.Request{Header: http.Header{}}
	r.SetBasicAuth(user, pass)
	return r.Header.Get("Authorization")
}

// redactRaw hides the password of a URL that does not parse, as url.URL.Redacted does: what
// follows the first ":" up to the last "@" before the path.
func redactRaw(s string) string {
	i := strings.Index(s, "//")
	if i < 0 {
		return s
	}
	rest := s[i+2:]
	end := strings.IndexAny(rest, "/?#")
	if end < 0 {
		end = len(rest)
	}
	at := strings.LastIndex(rest[:end], "@")
	if at < 0 {
		return s
	}
	user, _, hasPass := strings.Cut(rest[:at], ":")
	if !hasPass {
		return s // no password: url.URL.Redacted keeps such a URL as is too
	}
	return s[:i+2] + user + ":xxxxx" + rest[at:]
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// CheckStreamFields refuses stream fields that would make a VictoriaLogs stream per request,
// user or record: a stream per value is what makes VictoriaLogs slow and its index large. A
// name is refused when its last dot-separated part (case-insensitive) is one of
//
//	id ip url uri path addr address host_ip event_time time _time timestamp msg _msg message error stack caller
//
// or ends in "_id", "_ip", "_url", "_uri", "_path" or "_addr" (request_id, trace_id, span_id,
// user_id, order_id, session_id, remote_ip, client_ip, remote_addr, ...). None of the schema's
// ECS fields (ecs_cluster, ecs_task_definition, ecs_task_arn, container) is refused: they are
// the recommended stream fields (ecs_task_arn gives a stream per task, like a pod in
// Kubernetes). A tenant belongs in AccountID/ProjectID, not in a stream field.
func CheckStreamFields(fields []string) error {
	if len(fields) == 0 {
		return errors.New("no stream field: want at least one, such as service")
	}
	for i, f := range fields {
		if err := checkFieldName(f); err != nil {
			return err
		}
		if slices.Contains(fields[:i], f) {
			return fmt.Errorf("stream field %q given twice", f)
		}
		last := strings.ToLower(f[strings.LastIndexByte(f, '.')+1:])
		switch last {
		case "id", "ip", "url", "uri", "path", "addr", "address", "host_ip",
			"event_time", "time", "_time", "timestamp", "msg", "_msg", "message", "error", "stack", "caller":
			return fmt.Errorf("%q is a high-cardinality field (a value per request or record) and must not be a stream field", f)
		}
		for _, suffix := range [...]string{"_id", "_ip", "_url", "_uri", "_path", "_addr"} {
			if strings.HasSuffix(last, suffix) {
				return fmt.Errorf("%q looks like a high-cardinality field (*%s) and must not be a stream field", f, suffix)
			}
		}
	}
	return nil
}

func checkFieldName(f string) error {
	if f == "" || strings.TrimSpace(f) != f || strings.ContainsAny(f, ",=&") ||
		strings.ContainsFunc(f, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return fmt.Errorf("%q is not a usable field name (empty, spaces around it, or one of , = & or a control character in it)", f)
	}
	return nil
}

// Name returns "victorialogs".
func (t *Transport) Name() string { return "victorialogs" }

// Endpoints returns the insert URLs, with their query and without credentials.
func (t *Transport) Endpoints() []string {
	out := make([]string, len(t.endpoints))
	for i, ep := range t.endpoints {
		out[i] = ep.url
	}
	return out
}

// Close closes the idle connections of the transport's own client.
func (t *Transport) Close() error {
	if t.ownClient != nil {
		t.ownClient.CloseIdleConnections()
	}
	return nil
}

// Stats are a Transport's own counters, since it was created.
type Stats struct {
	// Requests counts the HTTP requests sent; RequestErrors those that failed (network error
	// or a status other than 2xx), and Failovers the failed ones that were sent again at once
	// to another URL.
	Requests, RequestErrors, Failovers uint64
	// Records counts the records delivered; BytesRaw their bytes and BytesSent the compressed
	// bytes of their bodies.
	Records, BytesRaw, BytesSent uint64
	// Truncated counts the records cut to MaxLineSize.
	Truncated uint64
	// Rejected counts the records in bodies answered with a permanent error (400 and the
	// like): VictoriaLogs stored none of them.
	Rejected uint64
}

// Stats returns the transport's counters.
func (t *Transport) Stats() Stats {
	return Stats{
		Requests:      t.requests.Load(),
		RequestErrors: t.requestErrors.Load(),
		Failovers:     t.failovers.Load(),
		Records:       t.recordsSent.Load(),
		BytesRaw:      t.bytesRaw.Load(),
		BytesSent:     t.bytesSent.Load(),
		Truncated:     t.truncated.Load(),
		Rejected:      t.rejected.Load(),
	}
}

// minPart is the smallest part a batch is split into for concurrent requests.
const minPart = 64 << 10

// part is a run of whole lines of a body.
type part struct {
	data    []byte
	records int
	err     error
}

// Send delivers b. A record longer than MaxLineSize is first cut to a valid JSON line that
// keeps the schema's fields (event_time, level, msg cut to fit, service, env, version, the
// context ids, the ECS fields) and the stream fields, then the other attributes in order while
// they fit (a string that does not fit whole is cut, another value is left out), and adds
// "vlog_truncated": the original size in bytes. VictoriaLogs would otherwise drop a line over
// its limit, and, in v1.26, the lines after it in the same body.
//
// A batch of at least 128 KiB is split into up to Concurrency parts sent in parallel; Send
// returns nil when all were delivered. Send may be called from several goroutines at once,
// with different batches.
func (t *Transport) Send(ctx context.Context, b *output.Batch) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if len(b.Data) == 0 {
		return nil
	}
	data, truncated := t.limitLines(b.Data)
	parts := t.split(data)

	// Resume a batch that was delivered in part.
	t.resumeMu.Lock()
	r := t.resume[b.Seq]
	delete(t.resume, b.Seq)
	t.resumeMu.Unlock()
	if b.Seq == 0 || r == nil || r.size != len(b.Data) || len(r.done) != len(parts) {
		r = &vlResume{size: len(b.Data), done: make([]bool, len(parts))}
	}

	var wg sync.WaitGroup
	for i := range parts {
		if r.done[i] {
			continue
		}
		if i == len(parts)-1 {
			parts[i].err = t.sendPart(ctx, &parts[i])
			break
		}
		wg.Add(1)
		go func(p *part) {
			defer wg.Done()
			p.err = t.sendPart(ctx, p)
		}(&parts[i])
	}
	wg.Wait()

	var retryable, permanent error
	for i := range parts {
		p := &parts[i]
		switch {
		case r.done[i]:
		case p.err == nil:
			r.done[i] = true
		case output.IsPermanent(p.err):
			// Never sent again: the server refused these lines for good.
			r.done[i] = true
			t.rejected.Add(uint64(p.records))
			if permanent == nil {
				permanent = p.err
			}
		case retryable == nil:
			retryable = p.err
		}
	}
	if retryable == nil && permanent == nil {
		t.truncated.Add(uint64(truncated))
	}
	if retryable != nil {
		if b.Seq != 0 {
			t.resumeMu.Lock()
			if t.resume == nil || len(t.resume) >= maxResume {
				t.resume = map[uint64]*vlResume{}
			}
			t.resume[b.Seq] = r
			t.resumeMu.Unlock()
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return retryable
	}
	return permanent
}

// MaxInFlight is Options.InFlight (see output.Pipelined).
func (t *Transport) MaxInFlight() int { return t.inFlight }

// limitLines returns data with every line longer than MaxLineSize cut (in a new slice), and
// how many were cut. data itself is never modified.
func (t *Transport) limitLines(data []byte) ([]byte, int) {
	var out []byte
	n, start := 0, 0
	for start < len(data) {
		end := bytes.IndexByte(data[start:], '\n')
		if end < 0 {
			end = len(data)
		} else {
			end += start
		}
		if end-start > t.maxLine {
			if out == nil {
				out = make([]byte, 0, len(data))
				out = append(out, data[:start]...)
			}
			out = schema.Truncate(out, data[start:end], t.maxLine, t.stream...)
			out = append(out, '\n')
			n++
		} else if out != nil {
			out = append(out, data[start:min(end+1, len(data))]...)
		}
		start = end + 1
	}
	if out == nil {
		return data, 0
	}
	return out, n
}

// split cuts data at line boundaries into up to t.concurrency parts of at least minPart bytes.
func (t *Transport) split(data []byte) []part {
	n := min(t.concurrency, len(data)/minPart)
	if n <= 1 {
		return []part{{data: data, records: countLines(data)}}
	}
	parts := make([]part, 0, n)
	size := len(data) / n
	for len(data) > 0 {
		cut := len(data)
		if len(parts) < n-1 && size < len(data) {
			if i := bytes.IndexByte(data[size:], '\n'); i >= 0 {
				cut = size + i + 1
			}
		}
		parts = append(parts, part{data: data[:cut], records: countLines(data[:cut])})
		data = data[cut:]
	}
	return parts
}

func countLines(data []byte) int {
	n := bytes.Count(data, []byte{'\n'})
	if len(data) > 0 && data[len(data)-1] != '\n' {
		n++
	}
	return n
}

// sendPart compresses p and posts it to one URL, then to the next ones on a retryable error.
func (t *Transport) sendPart(ctx context.Context, p *part) error {
	body := p.data
	if t.encoding != "" {
		buf := t.getBuffer()
		defer t.putBuffer(buf)
		t.compress(buf, p.data)
		body = buf.b
	}

	// Try each URL at most once, from the next one round-robin, skipping those that failed
	// recently unless all did.
	n := len(t.endpoints)
	first := int(t.next.Add(1) % uint64(n))
	now := time.Now().UnixNano()
	order := make([]*vlEndpoint, 0, n)
	var later []*vlEndpoint
	for i := range n {
		ep := t.endpoints[(first+i)%n]
		if ep.downUntil.Load() > now {
			later = append(later, ep)
		} else {
			order = append(order, ep)
		}
	}
	order = append(order, later...)

	var err error
	for i, ep := range order {
		if i > 0 {
			t.failovers.Add(1)
		}
		err = t.post(ctx, ep, body)
		if err == nil {
			ep.fails.Store(0)
			ep.downUntil.Store(0)
			t.recordsSent.Add(uint64(p.records))
			t.bytesRaw.Add(uint64(len(p.data)))
			t.bytesSent.Add(uint64(len(body)))
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		var se *statusError
		if errors.As(err, &se) && (se.code == http.StatusBadRequest || se.code == http.StatusRequestEntityTooLarge) {
			return output.Permanent(err) // the body itself: another URL would say the same
		}
		if n > 1 {
			// Skip this URL for 0.5s, 1s, 2s, ... up to 30s while it keeps failing.
			f := min(ep.fails.Add(1), 7)
			ep.downUntil.Store(time.Now().Add(min(250*time.Millisecond<<f, 30*time.Second)).UnixNano())
		}
	}
	var se *statusError
	if errors.As(err, &se) && !se.retryable() {
		return output.Permanent(err)
	}
	return err
}

// statusError is a response other than 2xx.
type statusError struct {
	url  string
	code int
	msg  string
}

func (e *statusError) Error() string {
	s := fmt.Sprintf("victorialogs: POST %s: %d %s", e.url, e.code, http.StatusText(e.code))
	if e.msg != "" {
		s += ": " + e.msg
	}
	return s
}

// retryable reports whether sending the same body again may succeed: 408, 425, 429 and 5xx.
func (e *statusError) retryable() bool {
	switch e.code {
	case http.StatusRequestTimeout, http.StatusTooEarly, http.StatusTooManyRequests:
		return true
	}
	return e.code >= 500
}

// maxErrorBody bounds the part of an error response kept in the error.
const maxErrorBody = 512

func (t *Transport) post(ctx context.Context, ep *vlEndpoint, body []byte) error {
	ctx, cancel := context.WithTimeout(ctx, t.timeout)
	defer cancel()
	t.requests.Add(1)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, ep.url, bytes.NewReader(body))
	if err != nil {
		t.requestErrors.Add(1)
		return fmt.Errorf("victorialogs: POST %s: %v", ep.show, err)
	}
	req.Header.Set("Content-Type", "application/stream+json")
	if t.encoding != "" {
		req.Header.Set("Content-Encoding", t.encoding)
	}
	if ep.auth != "" {
		req.Header.Set("Authorization", ep.auth)
	}
	for k, v := range t.headers {
		req.Header[k] = v
	}
	resp, err := t.client.Do(req)
	if err != nil {
		t.requestErrors.Add(1)
		if ctx.Err() == context.DeadlineExceeded && errors.Is(err, context.DeadlineExceeded) {
			return fmt.Errorf("victorialogs: POST %s: no response within %s", ep.show, t.timeout)
		}
		// The *url.Error names the URL with its query: say it our way, once.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fmt.Errorf("victorialogs: POST %s: %w", ep.show, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 == 2 {
		// Read the (empty) body to the end so the connection is reused.
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		return nil
	}
	t.requestErrors.Add(1)
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody+1))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	return &statusError{url: ep.show, code: resp.StatusCode, msg: cleanMessage(msg)}
}

// cleanMessage makes a server's message fit in an error: one line, printable, at most
// maxErrorBody bytes (cut on a rune boundary, with "..." when cut).
func cleanMessage(b []byte) string {
	cut := len(b) > maxErrorBody
	if cut {
		b = b[:maxErrorBody]
	}
	s := strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r == utf8.RuneError {
			return ' '
		}
		return r
	}, strings.ToValidUTF8(string(b), " "))
	s = strings.Join(strings.Fields(s), " ")
	if cut {
		s += "..."
	}
	return s
}

// compress sets buf to data compressed with t.encoding. The encoders come from pools: one
// per body being compressed, so memory follows the sends in flight.
func (t *Transport) compress(buf *body, data []byte) {
	buf.b = buf.b[:0]
	if t.encoding == "zstd" {
		zw, _ := t.zstdPool.Get().(*zstd.Encoder)
		if zw == nil {
			zw, _ = zstd.NewWriter(nil, zstdOptions...)
		}
		buf.b = zw.EncodeAll(data, buf.b)
		t.zstdPool.Put(zw)
		return
	}
	zw, _ := t.gzipPool.Get().(*gzip.Writer)
	if zw == nil {
		zw, _ = gzip.NewWriterLevel(buf, t.level) // the level was checked by New
	} else {
		zw.Reset(buf)
	}
	_, _ = zw.Write(data) // a body does not fail
	_ = zw.Close()
	t.gzipPool.Put(zw)
}

// zstdOptions are those of the zstd encoders: the fastest level; concurrency 1, one EncodeAll
// at a time on the caller's goroutine (the encoder starts none of its own: the pool gives each
// body its own encoder); a 512 KiB window instead of the level's 4 MiB, which keeps an encoder
// at 1.4 MiB instead of 8.4 MiB (a gzip writer: 0.8 MiB) and VictoriaLogs' decoder window as
// small, for bodies as small (BenchmarkCompress in benchmarks/).
var zstdOptions = []zstd.EOption{
	zstd.WithEncoderLevel(zstd.SpeedFastest),
	zstd.WithEncoderConcurrency(1),
	zstd.WithWindowSize(512 << 10),
}

// body is a pooled request body; it is the io.Writer of the gzip writers.
type body struct{ b []byte }

func (b *body) Write(p []byte) (int, error) {
	b.b = append(b.b, p...)
	return len(p), nil
}

func (t *Transport) getBuffer() *body {
	if b, _ := t.bufPool.Get().(*body); b != nil {
		return b
	}
	return &body{}
}

func (t *Transport) putBuffer(b *body) {
	if cap(b.b) <= 4<<20 {
		t.bufPool.Put(b)
	}
}

// CheckGzipLevel reports whether level is a gzip level that Options.GzipLevel takes, numbered
// as compress/gzip numbers them: gzip.HuffmanOnly (-2), gzip.DefaultCompression (-1), or 1 to
// 9. gzip.NoCompression
// (0) is refused: it is Options.GzipLevel's "not set", and Compression "none" is the way to
// send uncompressed bodies.
func CheckGzipLevel(level int) error {
	switch {
	case level == gzip.NoCompression:
		return errors.New("0 is gzip.NoCompression: to send uncompressed bodies, set the compression to none")
	case level < gzip.HuffmanOnly || level > gzip.BestCompression:
		return errors.New("want 1 to 9, -1 (gzip's default level) or -2 (Huffman only)")
	}
	return nil
}
