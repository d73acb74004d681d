package handlers

import (
	"encoding/binary"
	"sync"
	"sync/atomic"
)

// This file holds the memory of held records: the queue of one scope, the chunks it is made
// of, and the budget that bounds all the scopes' chunks together.
//
// A scope's held records are kept as encoded bytes, each behind a 4-byte length, in a queue of
// fixed-size chunks (heldChunkSize bytes, a size class of the Go allocator): a record is
// appended at the tail, across chunks when it does not fit, and the oldest is evicted from the
// head, a chunk going back as soon as nothing in it is held. Every scope uses the same size,
// so a chunk one scope gives back is the next chunk of any other: the memory of held records
// is the chunks in use (which the budget bounds) plus the few idle in the pool, never buffers
// of sizes nobody needs any more. Chunks come from a sync.Pool: holding a record allocates
// nothing once the pool is warm, and what the process no longer holds goes back to the GC.

const (
	heldChunkSize = 2 << 10           // bytes of a chunk, header included
	heldChunkData = heldChunkSize - 8 // bytes of records in a chunk
	heldLenSize   = 4                 // the length before each record
	maxHeldSize   = 16 << 20          // the largest HoldOptions.ScopeSize
	minHeldSize   = heldChunkSize     // the smallest
)

// heldChunk is one chunk of a scope's queue.
type heldChunk struct {
	next *heldChunk
	b    [heldChunkData]byte
}

var chunkPool = sync.Pool{New: func() any { return new(heldChunk) }}

// holdBudget bounds the memory of the chunks of all the scopes of a handler together. It is
// touched when a scope takes or gives back a chunk (once per heldChunkData bytes held), never
// per record.
type holdBudget struct {
	limit int64 // bytes
	used  atomic.Int64
}

// take reserves n chunks and reports whether they were within the limit.
func (b *holdBudget) take(n int) bool {
	want := int64(n) * heldChunkSize
	for {
		u := b.used.Load()
		if u+want > b.limit {
			return false
		}
		if b.used.CompareAndSwap(u, u+want) {
			return true
		}
	}
}

// give returns n chunks.
func (b *holdBudget) give(n int) { b.used.Add(-int64(n) * heldChunkSize) }

// heldQueue is the queue of one scope's held records. It is guarded by the scope's mutex.
type heldQueue struct {
	head, tail *heldChunk
	hoff, toff int // read offset in head, write offset in tail
	chunks     int // chunks in the queue
	n          int // records held
}

// extra returns how many chunks more appending need bytes takes.
func (q *heldQueue) extra(need int) int {
	room := 0
	if q.tail != nil {
		room = heldChunkData - q.toff
	}
	if need <= room {
		return 0
	}
	return (need - room + heldChunkData - 1) / heldChunkData
}

// chunksFor returns how many chunks a record of need bytes takes in an empty queue.
func chunksFor(need int) int { return (need + heldChunkData - 1) / heldChunkData }

// write appends p at the tail, taking new chunks from the pool (already taken from the
// budget by the caller).
func (q *heldQueue) write(p []byte) {
	for len(p) > 0 {
		if q.tail == nil || q.toff == heldChunkData {
			c := chunkPool.Get().(*heldChunk)
			c.next = nil
			if q.tail == nil {
				q.head, q.hoff = c, 0
			} else {
				q.tail.next = c
			}
			q.tail, q.toff = c, 0
			q.chunks++
		}
		n := copy(q.tail.b[q.toff:], p)
		q.toff += n
		p = p[n:]
	}
}

// append adds rec; the caller has taken the chunks it needs.
func (q *heldQueue) append(rec []byte) {
	var l [heldLenSize]byte
	binary.LittleEndian.PutUint32(l[:], uint32(len(rec)))
	q.write(l[:])
	q.write(rec)
	q.n++
}

// read consumes n bytes from the head, copying them into dst when it is not nil, and returns
// the chunks it emptied to the pool. It returns how many it gave back.
func (q *heldQueue) read(dst []byte, n int) (freed int) {
	for n > 0 {
		k := min(n, heldChunkData-q.hoff)
		if q.head == q.tail {
			k = min(n, q.toff-q.hoff)
		}
		if dst != nil {
			copy(dst, q.head.b[q.hoff:q.hoff+k])
			dst = dst[k:]
		}
		q.hoff += k
		n -= k
		if q.hoff == heldChunkData && q.head != q.tail {
			c := q.head
			q.head, q.hoff = c.next, 0
			c.next = nil
			chunkPool.Put(c)
			q.chunks--
			freed++
		}
	}
	return freed
}

// next consumes the length of the oldest record and returns it.
func (q *heldQueue) next() (int, int) {
	var l [heldLenSize]byte
	freed := q.read(l[:], heldLenSize)
	return int(binary.LittleEndian.Uint32(l[:])), freed
}

// evictOldest drops the oldest record and returns how many chunks it gave back.
func (q *heldQueue) evictOldest() int {
	n, freed := q.next()
	freed += q.read(nil, n)
	q.n--
	if q.n == 0 {
		freed += q.reset()
	}
	return freed
}

// reset gives every chunk back to the pool and returns how many.
func (q *heldQueue) reset() int {
	freed := 0
	for c := q.head; c != nil; {
		next := c.next
		c.next = nil
		chunkPool.Put(c)
		freed++
		c = next
	}
	*q = heldQueue{}
	return freed
}

// take empties the queue and returns what it held, to be read with each.
func (q *heldQueue) take() heldQueue {
	t := *q
	*q = heldQueue{}
	return t
}

// each calls f with every record, oldest first, emptying the queue and giving its chunks
// back. A record that spans chunks is copied into scratch (grown as needed) first; f must not
// keep the slice.
func (q *heldQueue) each(scratch *[]byte, f func(rec []byte)) {
	for q.n > 0 {
		n, _ := q.next()
		if q.hoff+n <= heldChunkData && (q.head != q.tail || q.hoff+n <= q.toff) {
			f(q.head.b[q.hoff : q.hoff+n])
			q.read(nil, n)
		} else {
			if cap(*scratch) < n {
				*scratch = make([]byte, n)
			}
			s := (*scratch)[:n]
			q.read(s, n)
			f(s)
		}
		q.n--
	}
	q.reset()
}

// release gives the queue's chunks back to the pool and to budget.
func (q *heldQueue) release(budget *holdBudget) {
	budget.give(q.chunks)
	q.reset()
}
