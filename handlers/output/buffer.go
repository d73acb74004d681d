package output

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"
)

// DropPolicy chooses what a full buffer gives up.
type DropPolicy int

const (
	// DropDefault is the zero value: not set, which means DropNewest (in vlog: the
	// variable VLOG_DROP_POLICY, else DropNewest).
	DropDefault DropPolicy = iota
	// DropNewest drops the record being logged: what is already buffered is kept.
	DropNewest
	// DropOldest drops the oldest whole batches that are not being sent, to make room for the
	// newest records.
	DropOldest
)

// DefaultBufferSize is BufferOptions.Size's default.
const DefaultBufferSize = 8 << 20

// BufferOptions configure a Buffered. The zero value means the defaults stated per field.
type BufferOptions struct {
	// Size bounds the bytes held: records waiting plus the batch being sent. Default 8 MiB.
	Size int
	// BatchSize is the size at which a batch is closed and sent. Default 256 KiB. A batch may
	// exceed it by one record.
	BatchSize int
	// MaxBatchSize lets batches grow under load: while a batch is being sent (and the
	// destination is not failing), the open batch is not closed at BatchSize but keeps filling
	// up to MaxBatchSize, and it is sent as soon as the send in flight ends. A slow destination
	// thus gets fewer, larger requests (VictoriaLogs spends less CPU per record on large
	// requests: see benchmarks/README.md), a fast one gets BatchSize batches without waiting.
	// Default Size/4 (2 MiB with the default Size); never below BatchSize.
	MaxBatchSize int
	// BatchAge is the longest a record waits for its batch to fill. Default 200ms. With 50ms
	// or more, an idle background goroutine wakes every BatchAge to look for records (so that
	// a log call starting a batch need not wake it); with less, the first record of each
	// batch wakes it.
	BatchAge time.Duration
	// MaxRecordSize drops records larger than this, counted as Oversize. Default 1 MiB (well
	// under Fluent Bit's 6,144,000-byte buffer_max_size).
	MaxRecordSize int
	// DropPolicy applies when the buffer is full. Default (DropDefault) DropNewest.
	DropPolicy DropPolicy
	// RetryMin and RetryMax bound the exponential backoff between attempts to send a batch
	// again (with ±20% jitter). Defaults 100ms and 5s.
	RetryMin, RetryMax time.Duration
}

func (o *BufferOptions) withDefaults() BufferOptions {
	var c BufferOptions
	if o != nil {
		c = *o
	}
	if c.Size <= 0 {
		c.Size = DefaultBufferSize
	}
	if c.BatchSize <= 0 {
		c.BatchSize = 256 << 10
	}
	if c.BatchSize > c.Size {
		c.BatchSize = c.Size
	}
	if c.MaxBatchSize <= 0 {
		c.MaxBatchSize = c.Size / 4
	}
	if c.MaxBatchSize < c.BatchSize {
		c.MaxBatchSize = c.BatchSize
	}
	if c.MaxBatchSize > c.Size {
		c.MaxBatchSize = c.Size
	}
	if c.BatchAge <= 0 {
		c.BatchAge = 200 * time.Millisecond
	}
	if c.MaxRecordSize <= 0 {
		c.MaxRecordSize = 1 << 20
	}
	if c.MaxRecordSize > c.Size {
		c.MaxRecordSize = c.Size
	}
	if c.DropPolicy == DropDefault {
		c.DropPolicy = DropNewest
	}
	if c.RetryMin <= 0 {
		c.RetryMin = 100 * time.Millisecond
	}
	if c.RetryMax < c.RetryMin {
		c.RetryMax = 5 * time.Second
		if c.RetryMax < c.RetryMin {
			c.RetryMax = c.RetryMin
		}
	}
	return c
}

// Buffered is an Output that never blocks the caller: Write copies the record into a
// bounded in-memory buffer and returns; a background goroutine sends the records in batches
// (by size or age) through a Transport, and sends a batch again, with backoff, until the
// transport accepts it or reports it permanently rejected.
//
// When the buffer is full, Write drops (per DropPolicy) and counts; it never waits and the
// buffer never grows past Size. Every record is accounted for: after Close,
// Enqueued == Delivered + Dropped.Total(). After records were dropped, the output writes one
// record "vlog: dropped N records" (level warn, with the counts by reason and the time of the
// first drop) into the stream itself as soon as a batch is delivered again, at most once per
// second, so the loss shows where people look.
type Buffered struct {
	opts  BufferOptions
	t     Transport
	hooks Hooks
	clock Clock

	mu       sync.Mutex
	cur      *Batch    // the batch being filled
	curStart time.Time // when cur got its first record
	queue    []*Batch  // closed batches, oldest first; some may be in flight (Batch.sending)
	sending  int       // batches in flight
	senders  int       // goroutines sending: the most batches in flight
	bytes    int       // bytes in cur and queue
	records  int       // records in cur and queue
	free     []*Batch  // recycled batches
	seq      uint64
	closing  bool

	wake     chan struct{}
	progress chan struct{} // closed (and replaced) when batches leave the queue (Flush)
	closeReq chan struct{}
	done     chan struct{}
	startMu  sync.Once

	// sendCancel aborts the send in flight when Close's deadline passes.
	sendCtx    context.Context
	sendCancel context.CancelFunc

	enqueued, delivered, retried      atomic.Uint64
	signals                           atomic.Uint64 // wake-ups sent by callers (tests)
	dropFull, dropWrite, dropOversize atomic.Uint64
	dropClosed                        atomic.Uint64
	failing                           atomic.Bool
	lastErr                           atomic.Pointer[errorAt]
	// droppedFirst is the time (unix ns) of the first drop not yet reported in a notice, 0 if
	// none.
	droppedFirst  atomic.Int64
	noticeMu      sync.Mutex
	reportedDrops uint64 // drops already reported in a notice
	lastNotice    time.Time
}

var _ Output = (*Buffered)(nil)

// NewBuffered returns an output that sends through t. The background goroutine starts
// with the first record. hooks.Notice encodes the drop notice (without it, none is written);
// hooks.OnError receives every delivery error.
func NewBuffered(t Transport, opts *BufferOptions, hooks Hooks) *Buffered {
	o := &Buffered{
		opts:     opts.withDefaults(),
		t:        t,
		hooks:    hooks,
		clock:    hooks.clock(),
		senders:  1,
		wake:     make(chan struct{}, 1),
		progress: make(chan struct{}),
		closeReq: make(chan struct{}),
		done:     make(chan struct{}),
	}
	if p, ok := t.(Pipelined); ok {
		o.senders = max(1, min(p.MaxInFlight(), 64))
	}
	o.sendCtx, o.sendCancel = context.WithCancel(context.Background())
	return o
}

// Write enqueues one record. It returns nil when the record was buffered and an error when it
// was dropped (the error only describes the drop: the caller need not do anything).
func (o *Buffered) Write(p []byte) (int, error) {
	o.enqueued.Add(1)
	if len(p) > o.opts.MaxRecordSize {
		o.drop(&o.dropOversize, 1)
		return 0, errOversize
	}
	return o.enqueue(p, false)
}

// enqueue adds p to the open batch. An internal record (the drop notice) that does not fit is
// not counted at all: it is tried again later.
func (o *Buffered) enqueue(p []byte, internal bool) (int, error) {
	o.mu.Lock()
	if o.closing {
		o.mu.Unlock()
		if !internal {
			o.drop(&o.dropClosed, 1)
		}
		return 0, errClosed
	}
	if o.bytes+len(p) > o.opts.Size && (internal || !o.makeRoom(len(p))) {
		o.mu.Unlock()
		if !internal {
			o.drop(&o.dropFull, 1)
		}
		return 0, errFull
	}
	if internal {
		o.enqueued.Add(1)
	}
	if o.cur == nil {
		o.cur = o.newBatch()
	}
	first := o.cur.Records == 0
	if first {
		o.curStart = o.clock.Now()
	}
	if len(o.cur.Data)+len(p) > cap(o.cur.Data) && len(o.cur.Data) >= o.opts.BatchSize {
		// Growing past BatchSize (see growing): make room for MaxBatchSize at once.
		grown := make([]byte, len(o.cur.Data), max(o.opts.MaxBatchSize+o.opts.MaxBatchSize/8, len(o.cur.Data)+len(p)))
		copy(grown, o.cur.Data)
		o.cur.Data = grown
	}
	o.cur.Data = append(o.cur.Data, p...)
	o.cur.Records++
	o.bytes += len(p)
	o.records++
	// The first record of a batch wakes the sender only when the sender does not look at the
	// open batch by itself (see idleCheck).
	signal := first && !o.idleCheck()
	if n := len(o.cur.Data); n >= o.opts.BatchSize && (n >= o.opts.MaxBatchSize || !o.growing()) {
		o.seal()
		signal = true
	}
	o.mu.Unlock()
	o.startMu.Do(o.start)
	if signal {
		o.signal()
	}
	return len(p), nil
}

var (
	errOversize = errors.New("vlog: record dropped: larger than the maximum record size")
	errClosed   = errors.New("vlog: record dropped: output closed")
	errFull     = errors.New("vlog: record dropped: buffer full")
)

// makeRoom drops the oldest batches not in flight until n more bytes fit, under DropOldest.
// Called with mu held.
func (o *Buffered) makeRoom(n int) bool {
	if o.opts.DropPolicy != DropOldest {
		return false
	}
	for i := 0; o.bytes+n > o.opts.Size && i < len(o.queue); {
		b := o.queue[i]
		if b.sending {
			i++
			continue
		}
		o.queue = append(o.queue[:i], o.queue[i+1:]...)
		o.bytes -= len(b.Data)
		o.records -= b.Records
		o.drop(&o.dropFull, uint64(b.Records))
		o.recycle(b)
		o.progressed()
	}
	if o.bytes+n > o.opts.Size && o.cur != nil && o.cur.Records > 0 {
		o.bytes -= len(o.cur.Data)
		o.records -= o.cur.Records
		o.drop(&o.dropFull, uint64(o.cur.Records))
		o.cur.Data, o.cur.Records = o.cur.Data[:0], 0
	}
	return o.bytes+n <= o.opts.Size
}

// drop counts n dropped records under the given reason.
func (o *Buffered) drop(c *atomic.Uint64, n uint64) {
	c.Add(n)
	o.droppedFirst.CompareAndSwap(0, o.clock.Now().UnixNano())
}

// idleCheckMin is the smallest BatchAge for which an idle sender checks the open batch on a
// timer (see idleCheck); with a shorter one, that timer would wake it too often.
const idleCheckMin = 50 * time.Millisecond

// idleCheck reports whether an idle sender wakes every BatchAge to look at the open batch. Then
// the caller logging the first record of a batch need not wake it (a futex system call on the
// log call's path, when the sender sleeps): the sender finds the batch within BatchAge after
// the batch started and waits for the rest of its age. Every record still leaves within
// BatchAge of its batch's first one.
func (o *Buffered) idleCheck() bool { return o.opts.BatchAge >= idleCheckMin }

// growing reports whether the open batch may grow past BatchSize: every sender is busy with a
// destination that is not failing (see BufferOptions.MaxBatchSize). Called with mu held.
func (o *Buffered) growing() bool {
	return o.sending >= o.senders && !o.failing.Load()
}

// seal moves cur to the queue. Called with mu held and cur non-empty.
func (o *Buffered) seal() {
	o.seq++
	o.cur.Seq = o.seq
	o.queue = append(o.queue, o.cur)
	o.cur = nil
}

func (o *Buffered) newBatch() *Batch {
	if n := len(o.free); n > 0 {
		b := o.free[n-1]
		o.free = o.free[:n-1]
		return b
	}
	return o.allocBatch()
}

func (o *Buffered) allocBatch() *Batch {
	return &Batch{Data: make([]byte, 0, o.opts.BatchSize+o.opts.BatchSize/8)}
}

// topUp keeps a spare batch ready, allocated by the background goroutine, so that a caller
// starting a batch does not allocate (and zero) BatchSize bytes itself: while the destination
// is down no batch is recycled, and that allocation was the longest step of a log call. It
// allocates nothing when the buffer has no room for another batch.
func (o *Buffered) topUp() {
	o.mu.Lock()
	need := len(o.free) == 0 && o.bytes+o.opts.BatchSize <= o.opts.Size && !o.closing
	o.mu.Unlock()
	if !need {
		return
	}
	b := o.allocBatch()
	o.mu.Lock()
	if len(o.free) < 2 {
		o.free = append(o.free, b)
	}
	o.mu.Unlock()
}

// recycle keeps b for reuse, unless it grew past MaxBatchSize or enough are kept. Called with
// mu held.
func (o *Buffered) recycle(b *Batch) {
	if cap(b.Data) > o.opts.MaxBatchSize+o.opts.MaxBatchSize/8 || len(o.free) >= 2 {
		return
	}
	b.Data, b.Records, b.Seq, b.sending = b.Data[:0], 0, 0, false
	o.free = append(o.free, b)
}

// start starts the senders: one goroutine, or MaxInFlight of a Pipelined.
func (o *Buffered) start() {
	var wg sync.WaitGroup
	wg.Add(o.senders)
	for range o.senders {
		go func() {
			defer wg.Done()
			o.run()
		}()
	}
	go func() {
		wg.Wait()
		o.abandon()
		close(o.done)
	}()
}

// run is a sender goroutine: it closes batches by age and sends the oldest closed batch not
// already in flight, until Close.
func (o *Buffered) run() {
	timer := o.clock.NewTimer(time.Hour)
	timer.Stop()
	closing := false
	for {
		// Send every closed batch.
		for {
			b := o.next(closing)
			if b == nil {
				break
			}
			if !o.send(b, closing) {
				return
			}
		}
		if closing {
			return
		}
		// Wait for a new batch, the age of the open one, or Close.
		o.mu.Lock()
		var wait time.Duration = -1
		if o.cur != nil && o.cur.Records > 0 {
			wait = o.curStart.Add(o.opts.BatchAge).Sub(o.clock.Now())
			if wait <= 0 {
				o.seal()
				o.mu.Unlock()
				continue
			}
		} else if o.idleCheck() {
			wait = o.opts.BatchAge
		}
		o.mu.Unlock()
		if wait > 0 {
			timer.Reset(wait)
		}
		o.topUp()
		select {
		case <-o.wake:
		case <-timer.C():
		case <-o.closeReq:
			closing = true
		}
		timer.Stop()
	}
}

// next returns the oldest closed batch not in flight and marks it in flight; when closing, or
// when the open batch grew to BatchSize while every sender was busy, it first closes the open
// batch. It returns nil when there is nothing to send.
func (o *Buffered) next(closing bool) *Batch {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.sending == len(o.queue) && o.cur != nil && o.cur.Records > 0 &&
		(closing || len(o.cur.Data) >= o.opts.BatchSize) {
		o.seal()
	}
	var next *Batch
	for _, b := range o.queue {
		if b.sending {
			continue
		}
		if next != nil {
			// Another batch waits: wake an idle sender for it.
			select {
			case o.wake <- struct{}{}:
			default:
			}
			break
		}
		next = b
		b.sending = true
		o.sending++
	}
	return next
}

// send sends b until it is delivered or permanently rejected, with backoff between attempts.
// It returns false when Close's deadline passed first.
func (o *Buffered) send(b *Batch, closing bool) bool {
	backoff := o.opts.RetryMin
	for attempt := 0; ; attempt++ {
		if attempt > 0 {
			o.retried.Add(1)
		}
		err := o.t.Send(o.sendCtx, b)
		if err == nil {
			o.finish(b, &o.delivered)
			o.failing.Store(false)
			o.maybeNotice()
			return true
		}
		o.lastErr.Store(&errorAt{msg: err.Error(), at: o.clock.Now()})
		o.failing.Store(true)
		o.hooks.onError(err)
		if o.sendCtx.Err() != nil {
			return false
		}
		if IsPermanent(err) {
			o.finish(b, &o.dropWrite)
			return true
		}
		// Wait before the next attempt; Close does not cut the wait short (records keep
		// their chance until the deadline), its deadline does.
		d := jitter(backoff)
		if backoff *= 2; backoff > o.opts.RetryMax {
			backoff = o.opts.RetryMax
		}
		t := o.clock.NewTimer(d)
	wait:
		for {
			select {
			case <-t.C():
				break wait
			case <-o.sendCtx.Done():
				t.Stop()
				return false
			case <-o.closeReqIf(!closing):
				// Close was called during the wait: retry at once, then keep backing off.
				t.Stop()
				closing = true
				break wait
			case <-o.wakeIf(o.senders == 1):
				// A batch was started or sealed while the destination is down: keep a spare
				// ready (see topUp), and go on waiting. (With several senders the wake is
				// left to an idle one.)
				o.topUp()
			}
		}
	}
}

// wakeIf returns the wake channel when cond holds, else nil.
func (o *Buffered) wakeIf(cond bool) <-chan struct{} {
	if cond {
		return o.wake
	}
	return nil
}

// closeReqIf returns the close channel when cond holds, else nil (blocks forever in a select).
func (o *Buffered) closeReqIf(cond bool) <-chan struct{} {
	if cond {
		return o.closeReq
	}
	return nil
}

func jitter(d time.Duration) time.Duration {
	return time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
}

// finish removes the in-flight batch b and counts its records.
func (o *Buffered) finish(b *Batch, c *atomic.Uint64) {
	o.mu.Lock()
	for i, q := range o.queue {
		if q == b {
			o.queue = append(o.queue[:i], o.queue[i+1:]...)
			break
		}
	}
	o.sending--
	o.bytes -= len(b.Data)
	o.records -= b.Records
	c.Add(uint64(b.Records))
	o.recycle(b)
	o.progressed()
	o.mu.Unlock()
}

// progressed tells the Flush calls waiting that batches left the queue. Called with mu held.
func (o *Buffered) progressed() {
	close(o.progress)
	o.progress = make(chan struct{})
}

// SendNow closes the open batch and wakes the sender, so that the records written so far
// leave without waiting for the batch age (the handler calls it after a record at or above
// its SendLevel: the records just before a crash are the ones that matter). It does not wait.
func (o *Buffered) SendNow() {
	o.mu.Lock()
	sealed := o.cur != nil && o.cur.Records > 0 && !o.closing
	if sealed {
		o.seal()
	}
	o.mu.Unlock()
	if sealed {
		o.signal()
	}
}

// signal wakes the sender, without waiting.
func (o *Buffered) signal() {
	o.signals.Add(1)
	select {
	case o.wake <- struct{}{}:
	default:
	}
}

// Flush sends every record written before the call and waits until each is delivered or
// dropped, or ctx is done: then it returns an error saying how many are still buffered
// (they stay in the buffer and are sent as usual). Records written during the call are not
// waited for. The output stays open.
func (o *Buffered) Flush(ctx context.Context) error {
	o.SendNow()
	o.mu.Lock()
	last := o.seq // every record written before the call is in a batch numbered up to last
	o.mu.Unlock()
	for {
		o.mu.Lock()
		pending := 0
		for _, b := range o.queue {
			if b.Seq <= last {
				pending += b.Records
			}
		}
		progress := o.progress
		o.mu.Unlock()
		if pending == 0 {
			return nil
		}
		select {
		case <-progress:
		case <-ctx.Done():
			return fmt.Errorf("vlog: %s: flush: %d records not delivered in time: %w", o.t.Name(), pending, ctx.Err())
		}
	}
}

// abandon counts everything still buffered as dropped because of Close.
func (o *Buffered) abandon() {
	o.mu.Lock()
	defer o.mu.Unlock()
	n := o.records
	o.queue, o.cur, o.sending = nil, nil, 0
	o.bytes, o.records = 0, 0
	if n > 0 {
		o.dropClosed.Add(uint64(n))
	}
	o.progressed()
}

// maybeNotice writes the drop notice after a delivery, if records were dropped since the last
// one and the last one is more than a second old.
func (o *Buffered) maybeNotice() {
	if o.hooks.Notice == nil {
		return
	}
	first := o.droppedFirst.Load()
	if first == 0 {
		return
	}
	o.noticeMu.Lock()
	defer o.noticeMu.Unlock()
	if o.clock.Now().Sub(o.lastNotice) < time.Second {
		return
	}
	d := o.drops()
	n := d.Total() - o.reportedDrops
	if n == 0 {
		return
	}
	since := time.Unix(0, first).UTC()
	msg := fmt.Sprintf("vlog: dropped %d records since %s (totals: buffer full %d, oversize %d, write error %d, closed %d)",
		n, since.Format(time.RFC3339Nano), d.BufferFull, d.Oversize, d.WriteError, d.Closed)
	rec := o.hooks.Notice(nil, slog.LevelWarn, msg,
		slog.String("vlog_output", o.t.Name()),
		slog.Uint64("vlog_dropped", n),
		slog.Time("vlog_dropped_since", since),
		slog.Uint64("vlog_dropped_buffer_full_total", d.BufferFull),
		slog.Uint64("vlog_dropped_oversize_total", d.Oversize),
		slog.Uint64("vlog_dropped_write_error_total", d.WriteError),
		slog.Uint64("vlog_dropped_closed_total", d.Closed),
	)
	if _, err := o.enqueue(rec, true); err != nil {
		return // no room yet: tried again after the next delivery
	}
	o.droppedFirst.Store(0)
	o.reportedDrops = d.Total()
	o.lastNotice = o.clock.Now()
}

func (o *Buffered) drops() Drops {
	return Drops{
		BufferFull: o.dropFull.Load(),
		WriteError: o.dropWrite.Load(),
		Oversize:   o.dropOversize.Load(),
		Closed:     o.dropClosed.Load(),
	}
}

// Close sends what is buffered, by ctx's deadline, then stops the background goroutine and
// closes the transport. Records still buffered at the deadline, and records written after
// Close, are dropped and counted as Closed; the error then says how many.
func (o *Buffered) Close(ctx context.Context) error {
	o.mu.Lock()
	if o.closing {
		o.mu.Unlock()
		<-o.done
		return nil
	}
	o.closing = true
	o.mu.Unlock()
	o.startMu.Do(o.start)
	before := o.dropClosed.Load()
	close(o.closeReq)
	select {
	case <-o.done:
	case <-ctx.Done():
		o.sendCancel()
		<-o.done
	}
	o.sendCancel()
	err := o.t.Close()
	if lost := o.dropClosed.Load() - before; lost > 0 {
		last := ""
		if e := o.lastErr.Load(); e != nil {
			last = ": last error: " + e.msg
		}
		return fmt.Errorf("vlog: %s: %d records not delivered before the deadline%s", o.t.Name(), lost, last)
	}
	return err
}

// Stats returns the output's counters.
func (o *Buffered) Stats() Stats {
	o.mu.Lock()
	bytes, records, closing := o.bytes, o.records, o.closing
	o.mu.Unlock()
	s := Stats{
		Output:          o.t.Name(),
		State:           "ok",
		Enqueued:        o.enqueued.Load(),
		Delivered:       o.delivered.Load(),
		Dropped:         o.drops(),
		Retried:         o.retried.Load(),
		BufferedBytes:   int64(bytes),
		BufferedRecords: int64(records),
		BufferSize:      int64(o.opts.Size),
	}
	if e := o.lastErr.Load(); e != nil {
		s.LastError, s.LastErrorTime = e.msg, e.at
	}
	if o.failing.Load() {
		s.State = "failing"
	}
	if closing {
		s.State = "closed"
	}
	if f, ok := o.t.(FallbackReporter); ok {
		st := f.FallbackStatus()
		s.Fallback = &st
	}
	return s
}
