package producer

import (
	"context"
	"errors"
	"fmt"
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
	// Timestamp is the CreateTime; zero means now.
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

	queues  sync.Map // topicPartition -> *partQueue
	mem     memory
	closing atomic.Bool
	sendMu  sync.RWMutex   // held shared by Send, exclusively by Close
	stop    chan struct{}  // closed by Close once everything is flushed
	wg      sync.WaitGroup // partition senders
	// closeSem is held by the Close that is closing; a channel, so that a
	// Close waiting for another heeds its context.
	closeSem   chan struct{}
	closed     chan struct{} // closed once Close has stopped every sender
	closeAsync sync.Once     // starts the close asked for from a callback

	// inCallback counts the senders running SendCallback callbacks: while
	// it is 0, Flush and Close are not called from one and need not look
	// at their callers (see calledFromCallback).
	inCallback atomic.Int32
}

type topicPartition struct {
	topic string
	id    int32
}

// New returns a producer writing to b.
func New(b commitlog.Store, cfg Config) (*Producer, error) {
	rc, err := cfg.resolve()
	if err != nil {
		return nil, err
	}
	p := &Producer{broker: b, cfg: rc, stop: make(chan struct{}), closeSem: make(chan struct{}, 1), closed: make(chan struct{})}
	p.mem.init(rc.BufferMemory)
	return p, nil
}

// Send queues rec and returns its future. Errors (unknown topic, record too
// large, buffer full, closed producer, ctx already done) are reported
// through the future. It blocks only while buffer.memory is full. A record
// whose ctx ends before the sender takes its batch is not written and
// fails with ctx.Err() (see the package doc, Contexts).
func (p *Producer) Send(ctx context.Context, rec *Record) *Future {
	return p.send(ctx, rec, nil)
}

// SendCallback is Send that calls cb when the record is written or has
// failed: on the partition's sender, in record order, before the futures
// of the batch complete (or at once, on the calling goroutine, if the
// record fails before it is queued). cb must not block for long, nor wait
// for a record of its partition; it may call Flush and Close, which then
// do not wait (see the package doc, Callbacks).
func (p *Producer) SendCallback(ctx context.Context, rec *Record, cb func(RecordMetadata, error)) {
	p.send(ctx, rec, cb)
}

// SendSync sends rec and waits for the result, or until ctx ends: then it
// returns ctx.Err(), and the record is written only if its batch had
// already been handed to the partition.
func (p *Producer) SendSync(ctx context.Context, rec *Record) (RecordMetadata, error) {
	return p.Send(ctx, rec).Wait(ctx)
}

func (p *Producer) send(ctx context.Context, rec *Record, cb func(RecordMetadata, error)) *Future {
	f, err := p.enqueue(ctx, rec, cb)
	if err != nil {
		// The callback runs after enqueue released sendMu: it may call
		// Send or Close.
		f = failedFuture(rec, err)
		if cb != nil {
			cb(f.md, err)
		}
	}
	return f
}

// enqueue queues rec, or returns why it cannot.
func (p *Producer) enqueue(ctx context.Context, rec *Record, cb func(RecordMetadata, error)) (*Future, error) {
	fail := func(err error) (*Future, error) { return nil, err }
	if rec == nil {
		return fail(fmt.Errorf("producer: nil record: %w", commitlog.ErrInvalidRecord))
	}
	if err := ctx.Err(); err != nil {
		return fail(fmt.Errorf("producer: record for %s not sent: %w", rec.Topic, err))
	}
	p.sendMu.RLock() // Close waits for sends in progress before its final flush
	defer p.sendMu.RUnlock()
	if p.closing.Load() {
		return fail(fmt.Errorf("producer: %w", commitlog.ErrClosed))
	}
	t, err := p.broker.Topic(rec.Topic)
	if err != nil {
		return fail(err)
	}
	if rec.Key == nil && t.Compacted() {
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
	part, err := t.Partition(id)
	if err != nil {
		return fail(err)
	}
	ts := rec.Timestamp
	if ts.IsZero() {
		ts = time.Now()
	}
	size := record.RecordSize(0, 0, rec.Key, rec.Value, rec.Headers) + 16 // + worst-case varint growth
	q := p.queue(rec.Topic, id, part, n, t.MaxMessageBytes())
	if size > q.limit {
		return fail(fmt.Errorf("producer: record of %d bytes for %s-%d, limit %d: %w", size, rec.Topic, id, q.limit, commitlog.ErrRecordTooLarge))
	}
	if err := p.mem.reserve(ctx, int64(size), p.cfg.MaxBlock, p.expedite); err != nil {
		return fail(err)
	}
	return q.add(ctx, rec, ts.UnixMilli(), size, cb), nil
}

func (p *Producer) queue(topic string, id int32, part *commitlog.Partition, n int32, maxMessageBytes int) *partQueue {
	key := topicPartition{topic, id}
	if q, ok := p.queues.Load(key); ok {
		q := q.(*partQueue)
		if q.part == part {
			if q.numParts.Load() != n {
				q.numParts.Store(n) // AddPartitions raised it
			}
			return q
		}
		// The topic was deleted and created again: start afresh, and send
		// (fail) the old partition's records now, not after their linger.
		if p.queues.CompareAndDelete(key, q) {
			q.retire()
		}
	}
	// The largest record: max.request.size, and what leaves room for the
	// batch header within the topic's max.message.bytes, which the
	// partition's log enforces on append.
	limit := min(p.cfg.MaxRequestSize, maxMessageBytes-record.HeaderSize)
	q := &partQueue{p: p, tp: key, part: part, limit: limit, maxBatch: min(p.cfg.BatchSize, limit)}
	q.numParts.Store(n)
	actual, _ := p.queues.LoadOrStore(key, q)
	return actual.(*partQueue)
}

// expedite sends every open batch without waiting out linger.ms: a Send
// waits for the buffer.memory they hold (Kafka's accumulator counts every
// batch ready while the buffer pool has waiters).
func (p *Producer) expedite() {
	p.queues.Range(func(_, v any) bool {
		v.(*partQueue).flush()
		return true
	})
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
// whatever its ctx, it sends every queued record and returns
// ErrFlushInCallback at once, without waiting.
func (p *Producer) Flush(ctx context.Context) error {
	if p.calledFromCallback() {
		p.expedite()
		return ErrFlushInCallback
	}
	var waits []chan struct{}
	p.queues.Range(func(_, v any) bool {
		if ch := v.(*partQueue).flush(); ch != nil {
			waits = append(waits, ch)
		}
		return true
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
// whatever its ctx, it stops accepting records and returns nil at once,
// without waiting: the producer's own goroutine finishes the close once
// the callback has returned, and a Close called elsewhere waits for that.
func (p *Producer) Close(ctx context.Context) error {
	if p.calledFromCallback() {
		p.closing.Store(true)
		p.closeAsync.Do(func() { go func() { _ = p.Close(context.Background()) }() })
		return nil
	}
	select {
	case p.closeSem <- struct{}{}:
	default: // another Close is closing: wait for it
		select {
		case p.closeSem <- struct{}{}:
		case <-p.closed:
			return nil
		case <-ctx.Done():
			return p.closeErr(ctx)
		}
	}
	defer func() { <-p.closeSem }()
	p.closing.Store(true)
	// Wait for every Send between its closing check and its queue: taking
	// the lock once is the barrier.
	p.sendMu.Lock()
	//lint:ignore SA2001 the empty critical section is the barrier
	p.sendMu.Unlock()
	if err := p.Flush(ctx); err != nil {
		return err
	}
	select {
	case <-p.stop: // an earlier Close got this far, and its ctx ended
	default:
		close(p.stop)
		go func() { p.wg.Wait(); close(p.closed) }()
	}
	select {
	case <-p.closed:
		return nil
	case <-ctx.Done():
		return p.closeErr(ctx)
	}
}

// closeErr is Close's result when ctx has ended: nil if the producer is
// closed all the same.
func (p *Producer) closeErr(ctx context.Context) error {
	select {
	case <-p.closed:
		return nil
	default:
		return ctx.Err()
	}
}

// calledFromCallback reports whether the caller runs inside a
// SendCallback callback, on the sender that Flush and Close would wait for
// (see runCallbacks).
func (p *Producer) calledFromCallback() bool {
	return p.inCallback.Load() > 0 && inRunCallbacks()
}

// memory is buffer.memory: a byte budget shared by every batch.
type memory struct {
	mu      sync.Mutex
	avail   int64
	waiters int
	freed   chan struct{} // closed and replaced when bytes come back to waiters
}

func (m *memory) init(n int64) {
	m.avail = n
	m.freed = make(chan struct{})
}

// reserve takes n bytes, waiting for them up to maxBlock or ctx; it calls
// onWait each time it has to wait.
func (m *memory) reserve(ctx context.Context, n int64, maxBlock time.Duration, onWait func()) error {
	var timer *time.Timer
	for {
		m.mu.Lock()
		if m.avail >= n {
			m.avail -= n
			m.mu.Unlock()
			if timer != nil {
				timer.Stop()
			}
			return nil
		}
		ch := m.freed
		m.waiters++
		m.mu.Unlock()
		if onWait != nil {
			onWait()
		}
		if timer == nil {
			timer = time.NewTimer(maxBlock)
		}
		var err error
		select {
		case <-ch:
		case <-ctx.Done():
			timer.Stop()
			err = fmt.Errorf("producer: waiting for buffer.memory: %w (%w)", ErrBufferFull, ctx.Err())
		case <-timer.C:
			err = fmt.Errorf("producer: buffer.memory full for max.block.ms %v: %w", maxBlock, ErrBufferFull)
		}
		m.mu.Lock()
		m.waiters--
		m.mu.Unlock()
		if err != nil {
			return err
		}
	}
}

func (m *memory) release(n int64) {
	m.mu.Lock()
	m.avail += n
	if m.waiters == 0 {
		m.mu.Unlock()
		return
	}
	ch := m.freed
	m.freed = make(chan struct{})
	m.mu.Unlock()
	close(ch)
}
