package producer

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/commitlog-go/commitlog"
	"github.com/commitlog-go/commitlog/record"
)

// Header is a record header.
type Header = record.Header

// Record is what a producer sends.
type Record struct {
	// Topic to write to. Required.
	Topic string
	// Partition is used when ExplicitPartition is true; otherwise the
	// partitioner chooses (by key, or sticky for keyless records).
	Partition         int32
	ExplicitPartition bool
	// Key and Value; nil is null (a nil Value is a tombstone on a compacted
	// topic). The producer copies them before Send returns.
	Key, Value []byte
	Headers    []Header
	// Timestamp is the CreateTime; zero means the time Send queues the
	// record (see the package doc).
	Timestamp time.Time
}

// RecordMetadata describes a record as written.
type RecordMetadata struct {
	Topic     string
	Partition int32
	// Offset is the record's offset, -1 with acks=0.
	Offset int64
	// Timestamp is the timestamp stored: the producer's (CreateTime) or the
	// log's (LogAppendTime).
	Timestamp time.Time
}

// ErrBufferFull is returned when buffer.memory stayed full for
// max.block.ms (Kafka's TimeoutException from send).
var ErrBufferFull = errors.New("commitlog: producer buffer full")

// Producer sends records to a broker's topics. It is safe for concurrent
// use; Close drains it.
type Producer struct {
	broker commitlog.Store
	cfg    config

	// qmu guards the writes of topics and of every topicQueues' parts,
	// which are copied on write: sends read them without a lock.
	qmu     sync.Mutex
	retired []*partQueue // guarded by qmu: queues of a topic created again, kept for Flush until drained
	topics  atomic.Pointer[map[string]*topicQueues]
	last    atomic.Pointer[topicQueues] // the topic of a recent send: no map lookup for the next
	mem     memory
	bufs    bufPool
	clock   clock // stamps records sent without a timestamp
	// closing is set by Close. A send checks it twice: before anything
	// else, and in its partition's lock as it queues the record, which
	// Close's flush takes after setting it: no record is queued after the
	// flush that would miss it.
	closing atomic.Bool
	stop    chan struct{}  // closed by Close once everything is flushed
	wg      sync.WaitGroup // partition senders
	// closeSem is held by the Close that is closing; a channel, so that a
	// Close waiting for another heeds its context.
	closeSem   chan struct{}
	closed     chan struct{} // closed once Close has stopped every sender
	closeAsync sync.Once     // starts the close asked for from a callback

	drv *driven // non-nil on a Driver (driver.go): every exported method delegates to it

	metrics producerMetrics // metrics.go
}

type topicPartition struct {
	topic string
	id    int32
}

// topicQueues is the producer's state of one topic: what its sends check
// (the topic's settings never change) and its partitions' queues.
type topicQueues struct {
	t         *commitlog.Topic
	compacted bool
	maxMsg    int                          // max.message.bytes
	numParts  atomic.Int32                 // the topic's partition count at the latest send
	parts     atomic.Pointer[[]*partQueue] // by partition id, nil when not used yet; copied on write under Producer.qmu
}

// New returns a producer writing to b: the embedded broker (a
// commitlog.Store), or a backend that opens producer drivers (a
// DriverOpener, such as a Kafka cluster from package kafka). Any other
// backend is an error wrapping commitlog.ErrUnsupportedBackend.
func New(b commitlog.Backend, cfg Config) (*Producer, error) {
	rc, err := cfg.resolve()
	if err != nil {
		return nil, err
	}
	s, ok := b.(commitlog.Store)
	if !ok {
		return newOnDriver(b, cfg, rc)
	}
	p := &Producer{broker: s, cfg: rc, stop: make(chan struct{}), closeSem: make(chan struct{}, 1), closed: make(chan struct{})}
	p.mem.init(rc.BufferMemory)
	p.clock.init()
	p.bufs.limit = int(min(rc.BufferMemory/4, math.MaxInt32))
	p.metrics.start(p, s)
	return p, nil
}

// Send queues rec and returns its future. Errors (unknown topic, record too
// large, buffer full, closed producer, ctx already done) are reported
// through the future. It blocks only while buffer.memory is full. A record
// whose ctx ends before the sender takes its batch is not written and
// fails with ctx.Err() (see the package doc, Contexts).
func (p *Producer) Send(ctx context.Context, rec *Record) *Future {
	if p.drv != nil {
		return p.drv.send(ctx, rec)
	}
	f, err := p.enqueue(ctx, rec, nil, modeFuture, nil)
	if err != nil {
		return failedFuture(rec, err)
	}
	return f
}

// SendCallback is Send that calls cb when the record is written or has
// failed: on the partition's sender, in record order, before the futures
// of the batch complete (or at once, on the calling goroutine, if the
// record fails before it is queued), with a ctx that carries the
// callback's scope (or, for a record failed at once, SendCallback's own
// ctx). cb must not block for long, nor wait for a record of its
// partition; it may call Flush and Close with its ctx, which then do not
// wait (see the package doc, Callbacks).
func (p *Producer) SendCallback(ctx context.Context, rec *Record, cb func(ctx context.Context, md RecordMetadata, err error)) {
	if p.drv != nil {
		p.drv.sendCallback(ctx, rec, cb)
		return
	}
	if _, err := p.enqueue(ctx, rec, cb, modeCallback, nil); err != nil && cb != nil {
		// The callback runs after enqueue released its locks: it may
		// call Send or Close.
		cb(ctx, failedMetadata(rec), err)
	}
}

// SendSync sends rec and waits for the result, or until ctx ends: then it
// returns ctx.Err(), and the record is written only if its batch had
// already been handed to the partition. It does not wait out linger.ms:
// the record's batch is sent as soon as the partition's sender is free,
// with the records that joined it meanwhile.
func (p *Producer) SendSync(ctx context.Context, rec *Record) (RecordMetadata, error) {
	if p.drv != nil {
		return p.drv.sendSync(ctx, rec)
	}
	var f Future
	_, err := p.enqueue(ctx, rec, nil, modeSync, &f)
	if err != nil {
		return failedMetadata(rec), err
	}
	return f.wait(ctx)
}

// enqueue queues rec, or returns why it cannot.
func (p *Producer) enqueue(ctx context.Context, rec *Record, cb func(context.Context, RecordMetadata, error), mode sendMode, sync *Future) (*Future, error) {
	fail := func(err error) (*Future, error) { return nil, err }
	if rec == nil {
		return fail(fmt.Errorf("producer: nil record: %w", commitlog.ErrInvalidRecord))
	}
	// A ctx whose Done is nil can never end (context.Background): one
	// call of its methods, not two, for the common case.
	done := ctx.Done()
	if done != nil {
		if err := ctx.Err(); err != nil {
			return fail(fmt.Errorf("producer: record for %s not sent: %w", rec.Topic, err))
		}
	}
	if p.closing.Load() {
		return fail(fmt.Errorf("producer: %w", commitlog.ErrClosed))
	}
	tq := p.last.Load()
	if tq == nil || tq.t.Name() != rec.Topic || tq.t.Deleted() {
		// Not the topic of a recent send, or deleted since (maybe created
		// again): ask the store. A topic stays what it is until deleted.
		t, err := p.broker.Topic(rec.Topic)
		if err != nil {
			return fail(err)
		}
		tq = p.topicQueues(t)
	}
	t := tq.t
	if rec.Key == nil && tq.compacted {
		// The log refuses the whole batch holding such a record: fail it
		// here, alone, rather than the valid records batched with it.
		return fail(fmt.Errorf("producer: a record without a key sent to compacted topic %s: %w", rec.Topic, commitlog.ErrInvalidRecord))
	}
	n := t.NumPartitions()
	var id int32
	if rec.ExplicitPartition {
		id = rec.Partition
		if id < 0 || id >= n {
			return fail(fmt.Errorf("producer: topic %s has %d partitions, no partition %d: %w", rec.Topic, n, id, commitlog.ErrUnknownPartition))
		}
	} else {
		id = p.cfg.Partitioner.Partition(rec.Topic, rec.Key, n)
	}
	var q *partQueue
	if qs := tq.parts.Load(); qs != nil && id >= 0 && int(id) < len(*qs) {
		q = (*qs)[id] // made already: queue's fast path, inlined
	}
	if q == nil {
		var err error
		if q, err = p.queue(tq, id); err != nil {
			return fail(err)
		}
	}
	if tq.numParts.Load() != n {
		tq.numParts.Store(n) // AddPartitions raised it
	}
	// The timestamp: the record's own, or the time it is queued (read by
	// add, which reads the clock once a batch).
	var ts int64
	now := rec.Timestamp.IsZero()
	if !now {
		ts = rec.Timestamp.UnixMilli()
	}
	size := recordBound(rec)
	if size > q.limit {
		return fail(fmt.Errorf("producer: record of %d bytes for %s-%d, limit %d: %w", size, rec.Topic, id, q.limit, commitlog.ErrRecordTooLarge))
	}
	return q.add(ctx, done, rec, ts, now, size, cb, mode, sync)
}

// maxRecordOverhead is the most bytes a record's fields other than its
// key, value and headers take in a batch: its length (5), attributes
// (1), timestamp delta (10), offset delta (5), key and value lengths (5
// each) and a header count of 0 (1).
const maxRecordOverhead = 32

// recordBound is at least the size rec takes in a batch, whatever its
// offset and timestamp deltas (Kafka's producer checks its limits with an
// upper bound too): its bytes and the most its varints take; headers are
// sized exactly, with room for the deltas' growth.
func recordBound(rec *Record) int {
	if len(rec.Headers) > 0 {
		return record.RecordSize(0, 0, rec.Key, rec.Value, rec.Headers) + 16
	}
	return len(rec.Key) + len(rec.Value) + maxRecordOverhead
}

// topicQueues returns the producer's state of t, made on t's first send.
func (p *Producer) topicQueues(t *commitlog.Topic) *topicQueues {
	if tq := p.last.Load(); tq != nil && tq.t == t {
		return tq
	}
	if m := p.topics.Load(); m != nil {
		if tq := (*m)[t.Name()]; tq != nil && tq.t == t {
			p.last.Store(tq)
			return tq
		}
	}
	p.qmu.Lock()
	var old map[string]*topicQueues
	if m := p.topics.Load(); m != nil {
		old = *m
	}
	prev := old[t.Name()]
	if prev != nil && prev.t == t {
		p.qmu.Unlock()
		return prev
	}
	tq := &topicQueues{t: t, compacted: t.Compacted(), maxMsg: t.MaxMessageBytes()}
	m := make(map[string]*topicQueues, len(old)+1)
	maps.Copy(m, old)
	m[t.Name()] = tq
	p.topics.Store(&m)
	p.last.Store(tq)
	p.qmu.Unlock()
	if prev != nil {
		// The topic was deleted and created again: start afresh, and send
		// (fail) the old partitions' records now, not after their linger.
		for _, q := range prev.queues() {
			if q != nil {
				q.retire()
			}
		}
		p.qmu.Lock()
		p.retired = append(p.retired, prev.queues()...)
		p.qmu.Unlock()
	}
	return tq
}

// queues returns the partition queues of the topic made so far.
func (tq *topicQueues) queues() []*partQueue {
	if ps := tq.parts.Load(); ps != nil {
		return *ps
	}
	return nil
}

// queue returns the queue of partition id of tq's topic, made on its
// first send.
func (p *Producer) queue(tq *topicQueues, id int32) (*partQueue, error) {
	if qs := tq.queues(); int(id) < len(qs) && qs[id] != nil {
		return qs[id], nil
	}
	part, err := tq.t.Partition(id)
	if err != nil {
		return nil, err
	}
	p.qmu.Lock()
	defer p.qmu.Unlock()
	qs := tq.queues()
	if int(id) < len(qs) && qs[id] != nil {
		return qs[id], nil
	}
	// The largest record: max.request.size, and what leaves room for the
	// batch header within the topic's max.message.bytes, which the
	// partition's log enforces on append.
	limit := min(p.cfg.MaxRequestSize, tq.maxMsg-record.HeaderSize)
	q := &partQueue{p: p, tq: tq, tp: topicPartition{tq.t.Name(), id}, part: part, limit: limit, maxBatch: min(p.cfg.BatchSize, limit)}
	q.cbCtx = context.WithValue(context.Background(), callbackScopeKey{}, q)
	grown := make([]*partQueue, max(len(qs), int(id)+1))
	copy(grown, qs)
	grown[id] = q
	tq.parts.Store(&grown)
	return q, nil
}

// eachQueue calls fn with every partition queue of the producer: those of
// its current topics, and those of a topic created again until drained.
func (p *Producer) eachQueue(fn func(*partQueue)) {
	// The retired queues first: their records were sent before those of
	// the queues that replaced them. A drained one is dropped.
	p.qmu.Lock()
	retired := p.retired
	p.retired = slices.DeleteFunc(slices.Clone(retired), func(q *partQueue) bool { return q == nil || q.drained() })
	p.qmu.Unlock()
	for _, q := range retired {
		if q != nil {
			fn(q)
		}
	}
	m := p.topics.Load()
	if m == nil {
		return
	}
	for _, tq := range *m {
		for _, q := range tq.queues() {
			if q != nil {
				fn(q)
			}
		}
	}
}

// expedite sends every open batch without waiting out linger.ms: a Send
// waits for the buffer.memory they hold (Kafka's accumulator counts every
// batch ready while the buffer pool has waiters).
func (p *Producer) expedite() {
	p.eachQueue(func(q *partQueue) { q.flush() })
}

// ErrFlushInCallback is Flush's error when it is called from a
// SendCallback callback: it would wait for that callback to return. Flush
// has sent every queued record all the same. (Kafka's flush refuses to be
// called from a callback too.)
var ErrFlushInCallback = errors.New("producer: Flush called from a SendCallback callback, which it would wait for")

// Flush sends every record queued so far, without waiting out linger.ms,
// and waits until all of them are complete (successfully or not) and
// their callbacks have returned, or until ctx ends.
//
// Called from a SendCallback callback (see the package doc, Callbacks),
// with the ctx the callback was given (or one derived from it), it sends
// every queued record and returns ErrFlushInCallback at once, without
// waiting.
func (p *Producer) Flush(ctx context.Context) error {
	if p.drv != nil {
		return p.drv.flush(ctx)
	}
	if p.calledFromCallback(ctx) {
		p.expedite()
		return ErrFlushInCallback
	}
	var waits []chan struct{}
	p.eachQueue(func(q *partQueue) {
		if ch := q.flush(); ch != nil {
			waits = append(waits, ch)
		}
	})
	for _, ch := range waits {
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// Close stops accepting records (Send then fails with an error wrapping
// commitlog.ErrClosed), sends everything queued (nothing buffered is
// lost), waits until every record is complete and its callback has
// returned, and stops the producer's goroutines; or it returns ctx.Err()
// when ctx ends first, and a later Close goes on with the close. Close is
// idempotent: once a Close has returned nil, every Close returns nil.
//
// Called from a SendCallback callback (see the package doc, Callbacks),
// with the ctx the callback was given (or one derived from it), it stops
// accepting records and returns nil at once,
// without waiting: the producer's own goroutine finishes the close once
// the callback has returned, and a Close called elsewhere waits for that.
func (p *Producer) Close(ctx context.Context) error {
	if p.drv != nil {
		return p.drv.close(ctx)
	}
	if p.calledFromCallback(ctx) {
		p.closing.Store(true)
		p.closeAsync.Do(func() { go func() { _ = p.Close(context.Background()) }() })
		return nil
	}
	if ok, err := enterClose(ctx, p.closeSem, p.closed); !ok {
		return err
	}
	defer func() { <-p.closeSem }()
	p.closing.Store(true) // a send that has not queued its record yet sees it (see closing)
	if err := p.Flush(ctx); err != nil {
		return err
	}
	select {
	case <-p.stop: // an earlier Close got this far, and its ctx ended
	default:
		close(p.stop)
		go func() { p.wg.Wait(); p.clock.stop(); p.metrics.stop(); close(p.closed) }()
	}
	select {
	case <-p.closed:
		return nil
	case <-ctx.Done():
		return closedErr(ctx, p.closed)
	}
}

// enterClose lets one Close at a time go on (it holds sem until it
// returns); a Close that comes meanwhile waits for it. ok false means the
// caller returns err at once: nil when the producer is closed by then,
// else ctx's error.
func enterClose(ctx context.Context, sem chan struct{}, closed <-chan struct{}) (ok bool, err error) {
	select {
	case sem <- struct{}{}:
		return true, nil
	default: // another Close is closing: wait for it
	}
	select {
	case sem <- struct{}{}:
		return true, nil
	case <-closed:
		return false, nil
	case <-ctx.Done():
		return false, closedErr(ctx, closed)
	}
}

// closedErr is Close's result when ctx has ended: nil if the producer is
// closed all the same.
func closedErr(ctx context.Context, closed <-chan struct{}) error {
	select {
	case <-closed:
		return nil
	default:
		return ctx.Err()
	}
}

// calledFromCallback reports whether ctx is the ctx of a callback of this
// producer that is running (or one derived from it): the sender that
// Flush and Close would wait for is the caller.
func (p *Producer) calledFromCallback(ctx context.Context) bool {
	q, ok := ctx.Value(callbackScopeKey{}).(*partQueue)
	return ok && q.p == p && q.inCallbacks.Load()
}

// memory is buffer.memory: a byte budget shared by every batch. Taking
// and giving back bytes is one atomic operation while nobody waits.
type memory struct {
	avail   atomic.Int64
	waiters atomic.Int32  // reserves waiting for bytes (changed under mu)
	mu      sync.Mutex    // guards freed
	freed   chan struct{} // closed and replaced when bytes come back to waiters
}

func (m *memory) init(n int64) {
	m.avail.Store(n)
	m.freed = make(chan struct{})
}

// take takes n bytes if they are available.
func (m *memory) take(n int64) bool {
	for {
		a := m.avail.Load()
		if a < n {
			return false
		}
		if m.avail.CompareAndSwap(a, a-n) {
			return true
		}
	}
}

// reserve takes n bytes, waiting for them up to maxBlock or ctx; it calls
// onWait each time it has to wait.
func (m *memory) reserve(ctx context.Context, n int64, maxBlock time.Duration, onWait func()) error {
	if m.take(n) {
		return nil
	}
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		// Count as a waiter before looking again: release, which adds the
		// bytes and then looks for waiters, either lets this take them or
		// closes the channel taken here.
		m.mu.Lock()
		m.waiters.Add(1)
		ch := m.freed
		m.mu.Unlock()
		ok := m.take(n)
		if !ok && onWait != nil {
			onWait()
		}
		if !ok && timer == nil {
			timer = time.NewTimer(maxBlock)
		}
		var err error
		if !ok {
			select {
			case <-ch:
			case <-ctx.Done():
				err = fmt.Errorf("producer: waiting for buffer.memory: %w (%w)", ErrBufferFull, ctx.Err())
			case <-timer.C:
				err = fmt.Errorf("producer: buffer.memory full for max.block.ms %v: %w", maxBlock, ErrBufferFull)
			}
		}
		m.mu.Lock()
		m.waiters.Add(-1)
		m.mu.Unlock()
		if ok || err != nil {
			return err
		}
	}
}

func (m *memory) release(n int64) {
	m.avail.Add(n)
	if m.waiters.Load() == 0 {
		return
	}
	m.mu.Lock()
	ch := m.freed
	m.freed = make(chan struct{})
	m.mu.Unlock()
	close(ch)
}
