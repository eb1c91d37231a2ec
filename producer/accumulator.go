package producer

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/commitlog-go/commitlog"
	"github.com/commitlog-go/commitlog/record"
)

var builders = sync.Pool{New: func() any { return record.NewBuilder(0, record.BatchOptions{}) }}

// batch is one partition's batch in the accumulator: records encoded into
// a builder as they arrive, and what their futures need.
type batch struct {
	tp      topicPartition
	b       *record.Builder
	ts      []int64
	cbs     []func(RecordMetadata, error)
	hasCB   bool
	ctxs    []context.Context // each record's Send context; nil when it cannot end
	hasCtx  bool              // some record's context can end
	bytes   int64             // buffer.memory reserved
	created time.Time
	flush   bool // sealed by Flush/Close: send without lingering
	done    chan struct{}
	info    commitlog.AppendInfo
	err     error
	// Set by send when records' contexts had ended: each record's error
	// (nil if written) and its index in the batch written (-1 if not).
	cancelled []error
	index     []int32
}

func (b *batch) metadata(i int) RecordMetadata {
	md := RecordMetadata{Topic: b.tp.topic, Partition: b.tp.id, Offset: -1, Timestamp: time.UnixMilli(b.ts[i])}
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

// build encodes the batch for its append. Records whose Send context has
// ended by now are left out (they fail with the context's error); nil,
// with no error, when no record is left.
func (b *batch) build() ([]byte, error) {
	raw, err := b.b.Build()
	if !b.hasCtx || err != nil {
		return raw, err
	}
	var errs []error
	for i, ctx := range b.ctxs {
		if ctx != nil && ctx.Err() != nil {
			if errs == nil {
				errs = make([]error, len(b.ctxs))
			}
			errs[i] = fmt.Errorf("producer: record for %s-%d not sent: %w", b.tp.topic, b.tp.id, ctx.Err())
		}
	}
	b.ctxs = nil
	if errs == nil {
		return raw, nil
	}
	// Encode the batch again without them (the builder cannot take records
	// out); this costs only when a context ended.
	it, err := record.NewIterator(raw)
	if err != nil {
		return nil, err
	}
	nb := builders.Get().(*record.Builder)
	nb.Reset(0, record.BatchOptions{Compression: it.Header().Compression()})
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
		builders.Put(nb)
		return nil, err
	}
	builders.Put(b.b)
	b.b = nb
	b.cancelled, b.index = errs, index
	if nb.Len() == 0 {
		return nil, nil
	}
	return nb.Build()
}

// partQueue is the accumulator and sender state of one partition.
type partQueue struct {
	p        *Producer
	tp       topicPartition
	part     *commitlog.Partition
	numParts atomic.Int32 // the topic's partition count at the latest Send
	limit    int          // the largest record accepted, in bytes
	maxBatch int

	mu       sync.Mutex
	open     *batch   // batch taking records
	ready    []*batch // sealed, waiting to be sent, oldest first
	inflight *batch   // being appended
	busy     bool     // the sender is in its loop (not waiting for work)
	started  bool     // the sender goroutine runs
	retired  bool     // replaced (the topic was created again): no lingering
	wake     chan struct{}
	timer    *time.Timer
}

func (q *partQueue) add(ctx context.Context, rec *Record, ts int64, size int, cb func(RecordMetadata, error)) *Future {
	q.mu.Lock()
	if q.open != nil && q.open.b.Len() > 0 && q.open.b.Size()+size > q.maxBatch {
		q.sealLocked()
	}
	if q.open == nil {
		bl := builders.Get().(*record.Builder)
		bl.Reset(0, record.BatchOptions{Compression: q.p.cfg.Compression})
		q.open = &batch{tp: q.tp, b: bl, created: time.Now(), done: make(chan struct{})}
	}
	b := q.open
	idx := b.b.Len()
	b.b.Add(ts, rec.Key, rec.Value, rec.Headers)
	b.ts = append(b.ts, ts)
	b.cbs = append(b.cbs, cb)
	b.hasCB = b.hasCB || cb != nil
	if q.p.cfg.Acks != AcksNone { // acks=0: the record is complete once queued
		if ctx.Done() == nil {
			ctx = nil // can never end: nothing to check
		}
		b.ctxs = append(b.ctxs, ctx)
		b.hasCtx = b.hasCtx || ctx != nil
	}
	b.bytes += int64(size)
	if b.b.Size() >= q.maxBatch || q.retired {
		q.sealLocked()
	}
	q.scheduleLocked()
	q.mu.Unlock()
	if q.p.cfg.Acks == AcksNone {
		return ackedFuture(RecordMetadata{Topic: q.tp.topic, Partition: q.tp.id, Offset: -1, Timestamp: time.UnixMilli(ts)})
	}
	return &Future{b: b, idx: idx}
}

func (q *partQueue) sealLocked() {
	q.ready = append(q.ready, q.open)
	q.open = nil
}

func (q *partQueue) sendableLocked(b *batch) bool {
	return b.flush || q.p.cfg.Linger == 0 || time.Since(b.created) >= q.p.cfg.Linger
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
		select {
		case q.wake <- struct{}{}:
		default:
		}
		return
	}
	if q.open != nil && q.timer == nil {
		q.timer = time.AfterFunc(q.p.cfg.Linger-time.Since(q.open.created), q.kick)
	}
}

func (q *partQueue) kick() {
	q.mu.Lock()
	q.timer = nil
	q.scheduleLocked()
	q.mu.Unlock()
}

// sender appends the partition's ready batches one at a time, in order,
// whenever it is woken, until the producer closes.
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

// drain sends batches until none is ready.
func (q *partQueue) drain() {
	for {
		q.mu.Lock()
		var b *batch
		switch {
		case len(q.ready) > 0:
			b = q.ready[0]
			q.ready[0] = nil
			q.ready = q.ready[1:]
		case q.open != nil && q.sendableLocked(q.open):
			b = q.open
			q.open = nil
		}
		if b == nil {
			q.inflight = nil
			q.busy = false
			q.scheduleLocked()
			q.mu.Unlock()
			return
		}
		q.busy = true
		q.inflight = b
		q.mu.Unlock()
		// Sticky partitioning moves keyless records on once a batch goes.
		q.p.cfg.Partitioner.OnNewBatch(q.tp.topic, q.tp.id, q.numParts.Load())
		q.send(b)
		if q.durable() {
			q.gatherWaiters(len(b.ts))
		}
	}
}

func (q *partQueue) durable() bool { return q.p.cfg.Acks == AcksAll && q.p.cfg.Fsync }

// gatherWaiters gives the senders whose records the last fsync just
// completed a moment to send their next ones, so that they join the next
// batch instead of waiting a whole fsync for the one after (the group
// commit a database's commit_delay tunes). It yields the processor a few
// times, without sleeping, while the open batch holds fewer records than
// the batch just written.
func (q *partQueue) gatherWaiters(last int) {
	for i := 0; i < 4; i++ {
		q.mu.Lock()
		n := 0
		if q.open != nil {
			n = q.open.b.Len()
		}
		q.mu.Unlock()
		if n >= last {
			return
		}
		runtime.Gosched()
	}
}

func (q *partQueue) send(b *batch) {
	raw, err := b.build()
	if err == nil && raw != nil {
		b.info, err = q.part.Append(raw, q.durable())
	}
	b.err = err
	builders.Put(b.b)
	b.b = nil
	if b.hasCB {
		q.p.inCallback.Add(1)
		runCallbacks(b)
		q.p.inCallback.Add(-1)
	}
	b.cbs = nil
	close(b.done) // after the callbacks: a future completes after its callback
	q.p.mem.release(b.bytes)
	if err != nil && q.p.cfg.Acks == AcksNone {
		q.p.broker.Logger().Error("producer: acks=0 batch failed", "topic", q.tp.topic, "partition", q.tp.id, "records", len(b.ts), "err", err)
	}
}

// retire sends what the queue holds at once: Flush and Close no longer see
// it, but its sender, which Close stops, sends every sealed batch first.
func (q *partQueue) retire() {
	q.mu.Lock()
	q.retired = true
	q.mu.Unlock()
	q.flush()
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
	b   *batch
	idx int
	md  RecordMetadata
	err error
}

var closedCh = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

func failedFuture(rec *Record, err error) *Future {
	md := RecordMetadata{Partition: -1, Offset: -1}
	if rec != nil {
		md.Topic = rec.Topic
	}
	return &Future{md: md, err: err}
}

func ackedFuture(md RecordMetadata) *Future { return &Future{md: md} }

// Done is closed when the result is known.
func (f *Future) Done() <-chan struct{} {
	if f.b == nil {
		return closedCh
	}
	return f.b.done
}

// Wait waits for the result or for ctx to end (which does not cancel the
// write: only the context given to Send does, and only until the record's
// batch is handed to the partition).
func (f *Future) Wait(ctx context.Context) (RecordMetadata, error) {
	if f.b == nil {
		return f.md, f.err
	}
	select {
	case <-f.b.done:
		return f.Result()
	case <-ctx.Done():
		return RecordMetadata{Topic: f.b.tp.topic, Partition: f.b.tp.id, Offset: -1}, ctx.Err()
	}
}

// Result returns the outcome; call it after Done is closed.
func (f *Future) Result() (RecordMetadata, error) {
	if f.b == nil {
		return f.md, f.err
	}
	<-f.b.done
	return f.b.metadata(f.idx), f.b.recordErr(f.idx)
}
