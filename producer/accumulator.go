package producer

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/commitlog-go/commitlog"
	"github.com/commitlog-go/commitlog/record"
)

// The accumulator's hot path is one lock of the partition and one encode
// per record: no allocation per record (a batch's builder and record slots
// come from pools, a Send's Future from a slab per batch), and no clock
// read per record beyond the timestamp of a record that has none.

// callback is SendCallback's function.
type callback = func(context.Context, RecordMetadata, error)

// bufs are a batch's buffers: its builder and its record slots, reused
// by later batches with their capacity (see bufPool). A record takes a
// slot in cbs only once the batch's records have different callbacks
// (until then batch.cb is every record's), and in ctxs only once one of
// their contexts can end; its timestamp takes one in ts only when it
// differs from the record's before (records stamped by the producer share
// one a millisecond): no store a record beyond its encoding.
type bufs struct {
	bl    *record.Builder
	ts    []tsRun           // the records' timestamps as encoded (CreateTime, ms), by runs
	cbs   []callback        // each record's callback (nil for Send and SendSync), when batch.mixedCB
	ctxs  []context.Context // each record's Send ctx (nil when it cannot end, or with acks=0), when batch.hasCtx
	size  int               // about the bytes they hold: twice the largest batch built (records and encoding)
	slots int               // the records a batch built in them is expected to hold (the most seen so far)
}

// tsRun is a run of records with one timestamp: from record index from
// up to the next run's (or the batch's end).
type tsRun struct {
	from int32
	ts   int64
}

// tsAt returns the timestamp of record i, walking runs from *run (the
// run of record i-1, or 0), which it advances: called for i = 0, 1, ...
// it costs nothing per record.
func tsAt(runs []tsRun, run *int, i int) int64 {
	for *run+1 < len(runs) && int(runs[*run+1].from) <= i {
		*run++
	}
	return runs[*run].ts
}

// sameFunc reports whether f and g are the same func value (the same
// closure, or both nil), which == cannot tell: their closure pointers
// are equal. Distinct closures of equal behaviour count as different.
func sameFunc(f, g callback) bool {
	return *(*unsafe.Pointer)(unsafe.Pointer(&f)) == *(*unsafe.Pointer)(unsafe.Pointer(&g))
}

// maxSlots and maxGrow bound the record slots and bytes made for a new
// batch up front.
const (
	maxSlots = 1024
	maxGrow  = 1 << 20
)

// bufPool keeps the buffers of completed batches for new ones. A
// sync.Pool alone is emptied by every other garbage collection, and
// batches of large records then grow new buffers (allocating, copying),
// which brings the next collection sooner: a producer keeps up to limit
// bytes of buffers of its own, and only what does not fit goes to a
// sync.Pool.
type bufPool struct {
	mu    sync.Mutex // guards free and bytes
	free  []*bufs
	bytes int // the sizes of free
	limit int
}

// maxFreeBufs bounds the buffers a bufPool keeps.
const maxFreeBufs = 16

var spareBufs sync.Pool // *bufs that no bufPool kept

// get returns buffers for a batch of up to size bytes and about slots
// records.
func (bp *bufPool) get(compression record.Compression, size, slots int) *bufs {
	bp.mu.Lock()
	var x *bufs
	if n := len(bp.free); n > 0 {
		x = bp.free[n-1]
		bp.free[n-1] = nil
		bp.free = bp.free[:n-1]
		bp.bytes -= x.size
	}
	bp.mu.Unlock()
	if x == nil {
		x, _ = spareBufs.Get().(*bufs)
	}
	if x == nil {
		x = &bufs{bl: record.NewBuilder(0, record.BatchOptions{}), slots: min(slots, maxSlots)}
		x.bl.Grow(min(size, maxGrow)) // at once, rather than doubling as records come
	}
	x.bl.Reset(0, record.BatchOptions{Compression: compression})
	return x
}

// put gives back x, whose latest batch of n records was built bytes long.
func (bp *bufPool) put(x *bufs, n, built int) {
	x.slots = min(max(x.slots, n), maxSlots)
	x.ts = x.ts[:0]
	clear(x.cbs)
	x.cbs = x.cbs[:0]
	clear(x.ctxs)
	x.ctxs = x.ctxs[:0]
	x.size = max(x.size, 2*built)
	bp.mu.Lock()
	if len(bp.free) < maxFreeBufs && bp.bytes+x.size <= bp.limit {
		bp.free = append(bp.free, x)
		bp.bytes += x.size
		x = nil
	}
	bp.mu.Unlock()
	if x != nil {
		spareBufs.Put(x)
	}
}

// batch is one partition's batch in the accumulator: records encoded into
// a builder as they arrive, and what their callbacks and futures need.
//
// Until the sender takes it, a batch is guarded by its queue's mu; the
// sender then owns it, and its result fields are read once done is closed.
type batch struct {
	q *partQueue
	x *bufs // the builder and record slots; nil once the batch is complete
	// buildMu guards raw, rawErr and built: the encoding of a sealed
	// batch, made by whoever gets to it first, its sealer or the sender
	// (see add).
	buildMu  sync.Mutex
	encoded  bool
	raw      []byte
	rawErr   error
	built    int      // len(raw)
	n        int      // records
	cb       callback // every record's callback, unless mixedCB
	mixedCB  bool     // records have different callbacks: see x.cbs
	hasCB    bool     // some record has a callback
	hasCtx   bool     // some record's context can end: see x.ctxs
	flush    bool     // send without lingering: Flush, Close, or a record's waiter
	lingered bool     // linger.ms has passed since created
	reserved int64    // buffer.memory taken
	created  time.Time
	wallNs   int64         // created.UnixNano(), which every record stamped by the producer starts from
	mono     time.Duration // created, as the producer's clock reads it (since its epoch)
	stamp    int64         // the latest timestamp stamped by the producer (ms): the stamps of a batch never go back
	futures  []Future      // the slab the latest Futures of Send live in
	done     chan struct{}
	info     commitlog.AppendInfo
	err      error
	// Set by build when records' contexts had ended: each record's error
	// (nil if written) and its index in the batch written (-1 if not).
	cancelled []error
	index     []int32
}

// metadata is record i's, ts its timestamp as encoded.
func (b *batch) metadata(i int, ts int64) RecordMetadata {
	md := RecordMetadata{Topic: b.q.tp.topic, Partition: b.q.tp.id, Offset: -1, Timestamp: time.UnixMilli(ts)}
	if b.recordErr(i) == nil {
		at := int64(i)
		if b.index != nil {
			at = int64(b.index[i])
		}
		md.Offset = b.info.BaseOffset + at
		if b.info.LogAppendTime >= 0 {
			md.Timestamp = time.UnixMilli(b.info.LogAppendTime)
		}
	}
	return md
}

// recordErr is the outcome of record i: the batch's, unless the record was
// dropped because its context ended first.
func (b *batch) recordErr(i int) error {
	if b.cancelled != nil && b.cancelled[i] != nil {
		return b.cancelled[i]
	}
	return b.err
}

// futureLocked returns a Future for record idx. Futures are carved from
// slabs: the first holds up to 16 (fewer when the batch is expected to
// hold fewer records), the next as many as the batch holds so far, up to
// 64. Send allocates once every few records, not once a record; a Future
// kept keeps its slab.
func (b *batch) futureLocked(idx int32, ts int64, acked bool) *Future {
	if len(b.futures) == cap(b.futures) {
		b.futures = make([]Future, 0, min(64, max(b.n, min(16, b.x.slots-b.n+1))))
	}
	b.futures = append(b.futures, Future{b: b, ts: ts, idx: idx, acked: acked})
	return &b.futures[len(b.futures)-1]
}

// encodeLocked encodes the sealed batch, once; b.buildMu is held.
func (b *batch) encodeLocked() {
	if !b.encoded {
		b.raw, b.rawErr = b.x.bl.Build()
		b.built = len(b.raw)
		b.encoded = true
	}
}

// build returns the batch encoded for its append. Records whose Send
// context has ended by now are left out (they fail with the context's
// error); nil, with no error, when no record is left.
func (b *batch) build() ([]byte, error) {
	b.buildMu.Lock()
	b.encodeLocked()
	b.buildMu.Unlock()
	raw, err := b.raw, b.rawErr
	if !b.hasCtx || err != nil {
		return raw, err
	}
	var errs []error
	for i, ctx := range b.x.ctxs {
		if ctx != nil && ctx.Err() != nil {
			if errs == nil {
				errs = make([]error, b.n)
			}
			errs[i] = fmt.Errorf("producer: record for %s-%d not sent: %w", b.q.tp.topic, b.q.tp.id, ctx.Err())
		}
	}
	if errs == nil {
		return raw, nil
	}
	// Encode the batch again without them (the builder cannot take records
	// out); this costs only when a context ended.
	it, err := record.NewIterator(raw)
	if err != nil {
		return nil, err
	}
	nb := record.NewBuilder(0, record.BatchOptions{Compression: it.Header().Compression()})
	index := make([]int32, len(errs))
	for i := 0; it.Next(); i++ {
		if errs[i] != nil {
			index[i] = -1
			continue
		}
		r := it.Record()
		index[i] = int32(nb.Len())
		nb.Add(r.Timestamp, r.Key, r.Value, r.Headers)
	}
	if err := it.Err(); err != nil {
		return nil, err
	}
	b.x.bl = nb
	b.cancelled, b.index = errs, index
	if nb.Len() == 0 {
		return nil, nil
	}
	return nb.Build()
}

// partQueue is the accumulator and sender state of one partition.
type partQueue struct {
	p        *Producer
	tq       *topicQueues
	tp       topicPartition
	part     *commitlog.Partition
	limit    int // the largest record accepted, in bytes
	maxBatch int

	// cbCtx is the ctx this partition's callbacks get: it carries the
	// queue (callbackScopeKey), and inCallbacks is set while they run, so
	// that Flush and Close called with it know they run inside one.
	cbCtx       context.Context
	inCallbacks atomic.Bool

	// mu guards the fields below and the open and ready batches.
	mu       sync.Mutex
	open     *batch   // batch taking records
	ready    []*batch // sealed, waiting to be sent, oldest first
	backlog  int      // bytes of the records in ready
	inflight *batch   // the latest batch the sender took (maybe complete by now)
	busy     bool     // the sender is in its loop (not waiting for work)
	started  bool     // the sender goroutine runs
	retired  bool     // replaced (the topic was created again): no lingering
	wake     chan struct{}
	timer    *time.Timer   // linger.ms of the open batch, made once
	armed    bool          // timer is set to go off
	room     chan struct{} // made by the Sends that wait for the backlog to shrink; closed once it has (see maxBacklog)

	round []*batch // the batches of the sender's current round; the sender's own
}

// prebuildReady is the number of sealed batches waiting for a
// partition's sender (the one just sealed included) from which the
// goroutine that seals a batch encodes it itself: the sender has another
// batch to write first, so it is the bottleneck. Encoding an uncompressed
// batch is its header and CRC, over records still in the sealer's cache;
// a sender that keeps up is left the work.
const prebuildReady = 2

// maxBacklog is the bytes of sealed batches waiting for a partition's
// sender from which Send waits for the sender to catch up (see
// awaitRoom), after queuing its record: a producer that runs ahead of the
// disk by more than this fills buffer.memory with batches that leave the
// processor caches before they are written, and the fresh buffers it
// takes for new batches cost page faults; waiting, it reuses the buffers
// of the batches just written, still in cache. A few large batches, or
// tens of small ones: more than the scheduling jitter of a sender.
const maxBacklog = 512 << 10

// sendMode is how the caller of add waits for its record.
type sendMode uint8

const (
	modeCallback sendMode = iota // SendCallback: no Future
	modeFuture                   // Send: a Future the caller may keep
	modeSync                     // SendSync: it waits at once, so the batch goes without lingering
)

// errClosing is add's error when the producer is closing.
var errClosing = fmt.Errorf("producer: %w", commitlog.ErrClosed)

// add queues rec, whose encoding takes at most size bytes, with timestamp
// ts (ms; 0 with now set: the time it is queued); done is ctx.Done(). With
// modeFuture it returns the record's Future, to hand out; with modeSync it
// sets *sync to it. It fails, with nothing queued, when buffer.memory
// stays full (see reserveLocked) or the producer is closing.
func (q *partQueue) add(ctx context.Context, done <-chan struct{}, rec *Record, ts int64, now bool, size int, cb callback, mode sendMode, sync *Future) (fp *Future, err error) {
	acked := q.p.cfg.Acks == AcksNone // acks=0: the record is complete once queued
	if acked {
		done = nil // nil: nothing to check, as for a ctx that can never end
	}
	q.mu.Lock()
	if mode == modeCallback && done == nil {
		// The common case, in short: a record joining the open batch,
		// which has room for it (bytes and buffer.memory), with the
		// batch's callback and a ctx that cannot end. It does what the
		// general path below does for such a record, no more.
		if b := q.open; b != nil && b.n > 0 && !b.hasCtx && !b.mixedCB && sameFunc(cb, b.cb) && !q.retired && !q.p.closing.Load() {
			if used := b.x.bl.Size(); used+size <= q.maxBatch && b.reserved-int64(used) >= int64(size) {
				q.appendLocked(b, rec, ts, now, false)
				b.n++
				if room := q.afterAddLocked(b, nil, false, mode); room != nil {
					q.awaitRoom(ctx, room)
				}
				return nil, nil
			}
		}
	}
	var b, sealed *batch
	var prepaid int64 // buffer.memory taken while waiting for it
	for locked := true; ; locked = false {
		sealed = nil
		if !locked {
			q.mu.Lock()
		}
		if q.p.closing.Load() {
			q.mu.Unlock()
			if prepaid > 0 {
				q.p.mem.release(prepaid)
			}
			return nil, errClosing
		}
		b = q.open
		if b != nil && b.n > 0 && b.x.bl.Size()+size > q.maxBatch {
			sealed = b
			q.sealLocked()
			b = nil
		}
		if q.reserveLocked(b, int64(size), &prepaid) {
			break
		}
		// Wait for room without the lock, then look again: the open batch
		// may have gone meanwhile.
		q.mu.Unlock()
		if err := q.p.mem.reserve(ctx, int64(size), q.p.cfg.MaxBlock, q.p.expedite); err != nil {
			return nil, err
		}
		prepaid += int64(size)
	}
	fresh := b == nil
	if fresh {
		b = q.openLocked(size)
	}
	b.reserved += prepaid
	idx := int32(b.n)
	ts = q.appendLocked(b, rec, ts, now, fresh)
	if done != nil && !b.hasCtx {
		b.hasCtx = true
		b.x.ctxs = append(b.x.ctxs[:0], make([]context.Context, b.n)...)
	}
	if b.hasCtx {
		if done == nil {
			b.x.ctxs = append(b.x.ctxs, nil)
		} else {
			b.x.ctxs = append(b.x.ctxs, ctx)
		}
	}
	switch {
	case b.mixedCB:
		b.x.cbs = append(b.x.cbs, cb)
	case b.n == 0:
		b.cb = cb
	case !sameFunc(cb, b.cb):
		b.mixedCB = true
		for range b.n {
			b.x.cbs = append(b.x.cbs, b.cb)
		}
		b.x.cbs = append(b.x.cbs, cb)
	}
	b.n++
	b.hasCB = b.hasCB || cb != nil
	if mode == modeFuture {
		fp = b.futureLocked(idx, ts, acked)
	}
	// Whether the sender may have something new to do: a batch sealed,
	// opened (its linger timer) or to go at once. A record joining the
	// open batch changes nothing the sender or the timer waits for, and
	// every other change of the queue (the sender going idle, the timer,
	// Flush) schedules on its own.
	changed := fresh || sealed != nil
	if mode == modeSync && !acked && !b.flush {
		// Its caller waits for it: do not wait out linger.ms. The batch is
		// not sealed, so records sent while the sender is busy still join
		// it (group commit).
		b.flush = true
		changed = true
	}
	room := q.afterAddLocked(b, sealed, changed, mode)
	if sync != nil {
		*sync = Future{b: b, ts: ts, idx: idx, acked: acked}
	}
	if room != nil {
		q.awaitRoom(ctx, room)
	}
	return fp, nil
}

// appendLocked stamps rec (with ts, or with the time now if now is set)
// and encodes it into b, which it opened for it if fresh; it returns the
// timestamp. The caller counts the record in b.n.
func (q *partQueue) appendLocked(b *batch, rec *Record, ts int64, now, fresh bool) int64 {
	if now {
		// The batch's own time for its first record; for the others, the
		// time elapsed since (monotonic) as the producer's clock reads it
		// (see clock), never earlier than the record before.
		ns := b.wallNs
		if !fresh {
			var el time.Duration
			if b.n%exactEvery == 0 {
				el = q.p.clock.exact()
			} else {
				el = q.p.clock.since()
			}
			ns += int64(max(el-b.mono, 0))
		}
		ts = max(ns/int64(time.Millisecond), b.stamp)
		b.stamp = ts
	}
	b.x.bl.Add(ts, rec.Key, rec.Value, rec.Headers)
	if n := len(b.x.ts); n == 0 || b.x.ts[n-1].ts != ts {
		b.x.ts = append(b.x.ts, tsRun{from: int32(b.n), ts: ts})
	}
	return ts
}

// afterAddLocked finishes add once a record joined b (and sealed, if not
// nil, was sealed to make room for it; changed: the sender or the timer
// may have something new to do): it seals b if full, schedules, and
// unlocks q.mu. It returns the channel to wait on for the sender to catch
// up (see awaitRoom), or nil.
func (q *partQueue) afterAddLocked(b, sealed *batch, changed bool, mode sendMode) chan struct{} {
	if b.x.bl.Size() >= q.maxBatch || q.retired {
		sealed = b
		q.sealLocked()
		changed = true
	}
	if changed {
		q.scheduleLocked()
	}
	// A sender far behind (or catching up, with Sends waiting for it):
	// wait for it (below), unless this Send waits for
	// its record anyway, or max.block.ms is 0 (Send must not block), or a
	// callback of this partition runs: the caller may be that callback,
	// which the sender waits for. (A callback whose Send waits for another
	// partition's sender cannot be waited for in turn, in a cycle: its
	// own sender is in its callbacks, which nobody waits for.)
	var room chan struct{}
	if (q.backlog >= maxBacklog || q.room != nil) && mode != modeSync && q.p.cfg.MaxBlock > 0 && !q.inCallbacks.Load() {
		if q.room == nil {
			q.room = make(chan struct{})
		}
		room = q.room
	}
	// A sender with a backlog is the bottleneck: encode (copy, compress,
	// checksum) the batch just sealed here, while its records are in this
	// processor's cache, rather than leave it to the sender. The lock is
	// taken before the sender can see the batch.
	prebuild := sealed != nil && len(q.ready) >= prebuildReady
	if prebuild {
		sealed.buildMu.Lock()
	}
	q.mu.Unlock()
	if prebuild {
		sealed.encodeLocked()
		sealed.buildMu.Unlock()
	}
	return room
}

// awaitRoom waits until the partition's backlog of sealed batches is down
// to half of maxBacklog (the sender closes room), ctx ends or max.block.ms
// passes. The record is queued already: whichever comes first, nothing
// fails; the wait only keeps a producer from running far ahead of its
// sender.
func (q *partQueue) awaitRoom(ctx context.Context, room chan struct{}) {
	select {
	case <-room:
		return
	default:
	}
	t := time.NewTimer(q.p.cfg.MaxBlock)
	defer t.Stop()
	select {
	case <-room:
	case <-ctx.Done():
	case <-t.C:
	}
}

// tookLocked is called by the sender once it has taken batches out of
// ready: it wakes the Sends waiting for room once the backlog is down to
// half of maxBacklog, so that a producer outrunning its sender waits once
// every few batches (each wait parks and wakes a thread), not once a
// batch.
func (q *partQueue) tookLocked() {
	if q.room != nil && q.backlog <= maxBacklog/2 {
		close(q.room)
		q.room = nil
	}
}

// reserveLocked makes sure that buffer.memory covers a record of size
// bytes added to b (nil: to a new batch), with *prepaid bytes already
// taken, taking what is missing into *prepaid if it is free; false if it
// is not. As Kafka's buffer pool, a new batch takes batch.size at once
// when that much is free, so that its records take nothing more: one
// atomic operation a batch, not a record. When less is free, each record
// takes what it needs.
func (q *partQueue) reserveLocked(b *batch, size int64, prepaid *int64) bool {
	need := size
	if b != nil {
		need -= b.reserved - int64(b.x.bl.Size())
	}
	short := need - *prepaid
	if short <= 0 {
		return true
	}
	if b == nil {
		if chunk := int64(q.maxBatch) - *prepaid; chunk > short && q.p.mem.take(chunk) {
			*prepaid += chunk
			return true
		}
	}
	if !q.p.mem.take(short) {
		return false
	}
	*prepaid += short
	return true
}

// openLocked starts the open batch for a first record of size bytes.
func (q *partQueue) openLocked(size int) *batch {
	x := q.p.bufs.get(q.p.cfg.Compression, q.maxBatch, q.maxBatch/size+1)
	now := time.Now()
	b := &batch{q: q, x: x, created: now, wallNs: now.UnixNano(), mono: now.Sub(q.p.clock.epoch), done: make(chan struct{})}
	q.open = b
	return b
}

func (q *partQueue) sealLocked() {
	q.backlog += q.open.x.bl.Size()
	q.ready = append(q.ready, q.open)
	q.open = nil
}

// sendableLocked reports whether the open batch b may go now. It reads no
// clock: the linger timer and the sender mark a batch lingered.
func (q *partQueue) sendableLocked(b *batch) bool {
	return b.flush || b.lingered || q.p.cfg.Linger == 0
}

// lingeredLocked is sendableLocked after checking the clock.
func (q *partQueue) lingeredLocked(b *batch) bool {
	if !q.sendableLocked(b) && time.Since(b.created) >= q.p.cfg.Linger {
		b.lingered = true
	}
	return q.sendableLocked(b)
}

// scheduleLocked wakes the partition's sender when a batch is ready to go,
// or arms the linger timer for the open batch. The sender is one
// long-lived goroutine per partition (started on first use, stopped by
// Close): it keeps its grown stack, and a busy sender picks up new batches
// without being woken.
func (q *partQueue) scheduleLocked() {
	if q.busy {
		return
	}
	if len(q.ready) > 0 || (q.open != nil && q.sendableLocked(q.open)) {
		if !q.started {
			q.started = true
			q.wake = make(chan struct{}, 1)
			q.p.wg.Add(1)
			go q.sender()
		}
		if len(q.wake) == 0 { // else the sender is woken already
			select {
			case q.wake <- struct{}{}:
			default:
			}
		}
		return
	}
	if q.open != nil && !q.armed {
		d := q.p.cfg.Linger - time.Since(q.open.created)
		if q.timer == nil {
			q.timer = time.AfterFunc(d, q.kick)
		} else {
			q.timer.Reset(d)
		}
		q.armed = true
	}
}

// kick is the linger timer's: the open batch may have lingered enough.
func (q *partQueue) kick() {
	q.mu.Lock()
	q.armed = false
	if q.open != nil {
		q.lingeredLocked(q.open)
	}
	q.scheduleLocked()
	q.mu.Unlock()
}

// expedite sends b without waiting out linger.ms, if it is still open: a
// caller waits for one of its records.
func (q *partQueue) expedite(b *batch) {
	q.mu.Lock()
	if q.open == b && !b.flush {
		b.flush = true
		q.scheduleLocked()
	}
	q.mu.Unlock()
}

// sender appends the partition's ready batches, in order, whenever it is
// woken, until the producer closes.
func (q *partQueue) sender() {
	defer q.p.wg.Done()
	for {
		select {
		case <-q.wake:
			q.drain()
		case <-q.p.stop:
			q.drain() // Close flushed everything; this finds nothing left
			return
		}
	}
}

// drain sends batches until none is ready. Without fsync it takes them
// one at a time. With acks=all and Fsync it takes every batch ready,
// writes them all and then waits for one fsync that covers them: the
// records that gathered during the previous fsync share the next one
// (group commit), however many batches they fill, and the sender never
// waits for an fsync between two writes.
func (q *partQueue) drain() {
	durable := q.durable()
	for {
		q.mu.Lock()
		round := q.round[:0]
		if len(q.ready) > 0 {
			if durable {
				round = append(round, q.ready...)
				clear(q.ready)
				q.ready = q.ready[:0]
				q.backlog = 0
			} else {
				q.backlog -= q.ready[0].x.bl.Size()
				round = append(round, q.ready[0])
				n := copy(q.ready, q.ready[1:])
				q.ready[n] = nil
				q.ready = q.ready[:n]
			}
			q.tookLocked()
		}
		if (len(round) == 0 || durable) && q.open != nil && q.lingeredLocked(q.open) {
			round = append(round, q.open)
			q.open = nil
		}
		if len(round) == 0 {
			q.inflight = nil
			q.busy = false
			q.scheduleLocked()
			q.mu.Unlock()
			return
		}
		q.busy = true
		q.inflight = round[len(round)-1]
		// Nothing else to send: go idle now, rather than take the lock
		// again after the write only to find that out (a lock the Sends
		// of this partition take once a record). A batch sealed meanwhile
		// wakes the sender, which finds it once this one is complete.
		idle := !durable && len(q.ready) == 0 && (q.open == nil || !q.lingeredLocked(q.open))
		if idle {
			q.busy = false
			q.scheduleLocked() // the linger timer of the open batch, if any
		}
		q.mu.Unlock()
		q.round = round
		if !durable {
			q.write(round[0])
			q.complete(round[0])
			if idle {
				clear(round)
				return
			}
		} else {
			start := time.Now()
			records := q.writeDurable(round)
			q.gatherWaiters(records, time.Since(start)/4)
		}
		clear(round)
	}
}

func (q *partQueue) durable() bool { return q.p.cfg.Acks == AcksAll && q.p.cfg.Fsync }

// write encodes b and appends it to the partition (without fsync; with
// Fsync deferred: invisible to readers until the fsync covering it).
func (q *partQueue) write(b *batch) {
	// Sticky partitioning moves keyless records on once a batch goes.
	q.p.cfg.Partitioner.OnNewBatch(q.tp.topic, q.tp.id, q.tq.numParts.Load())
	raw, err := b.build()
	q.p.metrics.appending(b)
	if err == nil && raw != nil {
		if q.durable() {
			b.info, err = q.part.AppendDeferred(raw) // visible once writeDurable's SyncTo returns
		} else {
			b.info, err = q.part.Append(raw, false)
		}
	}
	b.err = err
	b.raw = nil // in the builder, which goes back to the pool: a Future kept must not keep it
}

// writeDurable writes the batches of round, fsyncs them with one SyncTo
// and completes them in order; it returns the records they held.
func (q *partQueue) writeDurable(round []*batch) int {
	var end int64 = -1
	records := 0
	for _, b := range round {
		q.write(b)
		records += b.n
		if b.err == nil && b.info.NumRecords > 0 {
			end = max(end, b.info.LastOffset+1)
		}
	}
	if end >= 0 {
		if err := q.part.SyncTo(end); err != nil {
			for _, b := range round {
				if b.err == nil {
					b.err = err
				}
			}
		}
	}
	for _, b := range round {
		q.complete(b)
	}
	return records
}

// complete runs b's callbacks, completes its futures and gives its memory
// back.
func (q *partQueue) complete(b *batch) {
	q.p.metrics.completed(b)
	if b.hasCB {
		q.inCallbacks.Store(true)
		runCallbacks(q.cbCtx, b)
		q.inCallbacks.Store(false)
	}
	q.p.bufs.put(b.x, b.n, b.built)
	b.x = nil
	close(b.done) // after the callbacks: a future completes after its callback
	q.p.mem.release(b.reserved)
	if b.err != nil && q.p.cfg.Acks == AcksNone {
		q.p.broker.Logger().Error("producer: acks=0 batch failed", "topic", q.tp.topic, "partition", q.tp.id, "records", b.n, "err", b.err)
	}
}

// gatherWaiters gives the senders whose records the last fsync just
// completed a moment to send their next ones, so that they join the next
// batch instead of waiting a whole fsync for the one after (the group
// commit a database's commit_delay tunes). Without it, synchronous
// senders split into two groups that take turns: one group's records are
// fsynced while the other's gather. It yields the processor, without
// sleeping, until the open batch has gained as many records as the round
// just completed, a batch is sealed, a few yields in a row bring no new
// record, or budget (a quarter of the round's write and fsync) has passed.
func (q *partQueue) gatherWaiters(last int, budget time.Duration) {
	target, prev, idle := -1, -1, 0
	var start time.Time
	for i := 0; i < maxGatherYields; i++ {
		q.mu.Lock()
		n, sealed := 0, len(q.ready) > 0
		if q.open != nil {
			n = q.open.n
		}
		q.mu.Unlock()
		if target < 0 {
			target = n + last
			start = time.Now()
		}
		if n >= target || sealed || time.Since(start) >= budget {
			return
		}
		if n == prev {
			if idle++; idle == maxIdleYields {
				return // nobody else is coming
			}
		} else {
			idle = 0
		}
		prev = n
		runtime.Gosched()
	}
}

// maxGatherYields bounds the yields of gatherWaiters, and maxIdleYields
// the yields in a row that bring it no record.
const (
	maxGatherYields = 1024
	maxIdleYields   = 8
)

// retire sends what the queue holds at once: Flush and Close no longer see
// it, but its sender, which Close stops, sends every sealed batch first.
func (q *partQueue) retire() {
	q.mu.Lock()
	q.retired = true
	q.mu.Unlock()
	q.flush()
}

// drained reports whether the queue holds nothing: no open, ready or
// in-flight batch.
func (q *partQueue) drained() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.open == nil && len(q.ready) == 0 && (q.inflight == nil || q.inflight.completed())
}

// completed reports whether b is complete: its callbacks have returned.
func (b *batch) completed() bool {
	select {
	case <-b.done:
		return true
	default:
		return false
	}
}

// flush seals the open batch for sending at once and returns a channel
// closed when everything queued so far is complete (nil if nothing is).
func (q *partQueue) flush() chan struct{} {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.open != nil {
		q.open.flush = true
		q.sealLocked()
	}
	var ch chan struct{}
	switch {
	case len(q.ready) > 0:
		ch = q.ready[len(q.ready)-1].done
	case q.inflight != nil:
		ch = q.inflight.done
	}
	q.scheduleLocked()
	return ch
}

// Future is the result of a Send: the record's metadata once written, or
// the error that stopped it.
type Future struct {
	b     *batch   // nil when the record failed before it was queued
	fail  *failure // why, when b is nil
	ts    int64    // the record's timestamp as encoded
	idx   int32    // the record's index in b
	acked bool     // acks=0: complete once queued
}

// failure is the result of a record that failed before it was queued,
// or of one sent through a Driver (see driver.go): then done is closed
// once md and err are set.
type failure struct {
	md   RecordMetadata
	err  error
	done chan struct{}
	p    *driven
}

var closedCh = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

// failedMetadata is the metadata of a record that failed before it was
// queued.
func failedMetadata(rec *Record) RecordMetadata {
	md := RecordMetadata{Partition: -1, Offset: -1}
	if rec != nil {
		md.Topic = rec.Topic
	}
	return md
}

func failedFuture(rec *Record, err error) *Future {
	return &Future{fail: &failure{md: failedMetadata(rec), err: err}}
}

// Done is closed when the result is known. Unlike Wait and Result, a
// receive from Done does not hurry the record's batch: it may wait out
// linger.ms.
func (f *Future) Done() <-chan struct{} {
	if f.b == nil || f.acked {
		return f.fail.doneCh()
	}
	return f.b.done
}

// Wait waits for the result or for ctx to end (which does not cancel the
// write: only the context given to Send does, and only until the record's
// batch is handed to the partition). A record waited for does not wait out
// linger.ms: its batch is sent as soon as the partition's sender is free.
func (f *Future) Wait(ctx context.Context) (RecordMetadata, error) {
	if f.b == nil && f.fail != nil {
		return f.fail.wait(ctx, true)
	}
	if f.b != nil && !f.acked {
		select {
		case <-f.b.done:
		default:
			f.b.q.expedite(f.b)
		}
	}
	return f.wait(ctx)
}

// wait is Wait without hurrying the batch.
func (f *Future) wait(ctx context.Context) (RecordMetadata, error) {
	if f.b == nil && f.fail != nil {
		return f.fail.wait(ctx, false)
	}
	if f.b == nil || f.acked {
		return f.Result()
	}
	select {
	case <-f.b.done:
		return f.Result()
	case <-ctx.Done():
		return RecordMetadata{Topic: f.b.q.tp.topic, Partition: f.b.q.tp.id, Offset: -1}, ctx.Err()
	}
}

// Result returns the outcome, waiting for it if need be (as Wait does,
// without a context).
func (f *Future) Result() (RecordMetadata, error) {
	switch {
	case f.b == nil && f.fail == nil: // the zero Future
		return RecordMetadata{}, nil
	case f.b == nil:
		return f.fail.wait(context.Background(), true)
	case f.acked:
		return RecordMetadata{Topic: f.b.q.tp.topic, Partition: f.b.q.tp.id, Offset: -1, Timestamp: time.UnixMilli(f.ts)}, nil
	}
	select {
	case <-f.b.done:
	default:
		f.b.q.expedite(f.b)
		<-f.b.done
	}
	return f.b.metadata(int(f.idx), f.ts), f.b.recordErr(int(f.idx))
}
