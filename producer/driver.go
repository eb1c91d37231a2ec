package producer

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/commitlog-go/commitlog"
	"github.com/commitlog-go/commitlog/record"
)

// Driver is a producer's backend other than the embedded broker: what a
// Producer made by New on a DriverOpener delegates to. Package kafka
// implements it on franz-go; applications do not call it.
//
// The Producer keeps, on every driver, what its documentation promises
// regardless of the backend: the checks of a record before it is sent
// (nil record, ctx already done, closed producer, max.request.size),
// buffer.memory with max.block.ms (Send waits for room and then fails with
// ErrBufferFull), Futures, the scope of SendCallback's callbacks (Flush
// and Close called from one), and Close's order (stop accepting, flush,
// close the driver). The driver only moves records.
type Driver interface {
	// Send hands rec to the backend, which owns it from now on (the
	// Producer passes a copy), and calls done exactly once with the
	// record's outcome: errors wrapping the commitlog sentinels
	// (ErrUnknownTopic, ErrUnknownPartition, ErrRecordTooLarge,
	// ErrInvalidRecord, ErrClosed, ...) and, on success, the record's
	// partition, offset (-1 with acks=0) and stored timestamp. done calls
	// for one partition come in record order, one at a time; done must
	// not be called from inside Send. ctx governs the record until it is
	// sent to the backend, as with the embedded producer. Send must not
	// block for long.
	Send(ctx context.Context, rec *Record, done func(RecordMetadata, error))
	// Flush sends every record handed over without waiting out linger.ms
	// and returns once done has returned for each of them, or when ctx
	// ends (with ctx.Err()).
	Flush(ctx context.Context) error
	// Close releases the backend's resources once the Producer has
	// flushed; a record still pending fails with an error wrapping
	// commitlog.ErrClosed.
	Close() error
}

// DriverOpener is implemented by a commitlog.Backend that is not the
// embedded broker and can run producers (package kafka's *Cluster). New
// calls it with the config checked; applications do not call it. A setting
// the backend cannot honour fails here, with an error wrapping
// commitlog.ErrInvalidConfig or errors.ErrUnsupported.
type DriverOpener interface {
	OpenProducerDriver(cfg Config) (Driver, error)
}

// newDriven returns the state of a producer that runs on d.
func newDriven(d Driver, cfg config) *driven {
	p := &driven{drv: d, cfg: cfg, hurryCh: make(chan struct{}, 1), closeSem: make(chan struct{}, 1),
		closed: make(chan struct{}), hurryDone: make(chan struct{})}
	p.mem.init(cfg.BufferMemory)
	p.hurryCtx, p.stopHurry = context.WithCancel(context.Background())
	go p.hurrier()
	return p
}

// driven is a Producer that runs on a Driver: the semantics of the
// Producer's exported methods on top of the driver's three calls.
type driven struct {
	drv     Driver
	cfg     config
	metrics *producerMetrics // the Producer's (metrics.go)
	mem     memory           // buffer.memory, reserved per record for as long as the driver holds it
	// closing is set by Close; sending counts the sends between their
	// check of closing and the driver's Send, which Close waits out before
	// it flushes, so that no record accepted misses the flush.
	closing atomic.Bool
	sending atomic.Int64
	// The hurrier goroutine (owned by the producer, stopped by Close)
	// flushes the driver when a record is waited for (SendSync, Wait,
	// Result), when Send waits for buffer.memory, and when Flush is called
	// from a callback: the batches go without waiting out linger.ms, and
	// the caller does not wait for the flush. Requests coalesce in
	// hurryCh.
	hurryCh   chan struct{}
	hurryCtx  context.Context
	stopHurry context.CancelFunc
	hurryDone chan struct{}
	// closeSem is held by the Close that is closing (a channel, so that a
	// Close waiting for another heeds its context); closed is closed once
	// the driver is closed.
	closeSem   chan struct{}
	closed     chan struct{}
	closeOnce  sync.Once // closes the driver
	closeAsync sync.Once // starts the close asked for from a callback
}

// driverScopeKey is the ctx key of a driver callback's scope.
type driverScopeKey struct{}

// driverScope is a running callback of a driven producer.
type driverScope struct {
	p      *driven
	active atomic.Bool // the callback has not returned
}

// failure, for a record sent through a Driver, also waits: done is closed
// once md and err are set (by the driver's done), and p hurries the
// record on Wait and Result. These methods serve Future on that path.

// doneCh is Future.Done of a Future without a batch.
func (x *failure) doneCh() <-chan struct{} {
	if x == nil || x.done == nil {
		return closedCh
	}
	return x.done
}

// wait is Future.Wait of a Future without a batch: the result once done,
// or ctx.Err() when ctx ends first. hurry sends the record's batch
// without waiting out linger.ms.
func (x *failure) wait(ctx context.Context, hurry bool) (RecordMetadata, error) {
	if x.done == nil {
		return x.md, x.err
	}
	select {
	case <-x.done:
		return x.md, x.err
	default:
	}
	if hurry {
		x.p.hurry()
	}
	select {
	case <-x.done:
		return x.md, x.err
	case <-ctx.Done():
		return RecordMetadata{Topic: x.md.Topic, Partition: -1, Offset: -1}, ctx.Err()
	}
}

// send is Send on a driver.
func (p *driven) send(ctx context.Context, rec *Record) *Future {
	x := &failure{md: failedMetadata(rec), done: make(chan struct{}), p: p}
	err := p.enqueue(ctx, rec, func(md RecordMetadata, err error) {
		x.md, x.err = md, err
		close(x.done)
	})
	if err != nil {
		return failedFuture(rec, err)
	}
	return &Future{fail: x}
}

// sendSync is SendSync on a driver.
func (p *driven) sendSync(ctx context.Context, rec *Record) (RecordMetadata, error) {
	return p.send(ctx, rec).fail.wait(ctx, true)
}

// sendCallback is SendCallback on a driver: cb runs on the driver's
// goroutine that completes the record, with a ctx carrying its scope.
func (p *driven) sendCallback(ctx context.Context, rec *Record, cb func(ctx context.Context, md RecordMetadata, err error)) {
	err := p.enqueue(ctx, rec, func(md RecordMetadata, err error) {
		if cb == nil {
			return
		}
		s := &driverScope{p: p}
		s.active.Store(true)
		defer s.active.Store(false)
		cb(context.WithValue(context.Background(), driverScopeKey{}, s), md, err)
	})
	if err != nil && cb != nil {
		cb(ctx, failedMetadata(rec), err)
	}
}

// enqueue checks rec, takes its share of buffer.memory and hands a copy
// to the driver, or returns why not (done is then never called).
func (p *driven) enqueue(ctx context.Context, rec *Record, done func(RecordMetadata, error)) error {
	if rec == nil {
		return fmt.Errorf("producer: nil record: %w", commitlog.ErrInvalidRecord)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("producer: record for %s not sent: %w", rec.Topic, err)
	}
	if p.closing.Load() {
		return fmt.Errorf("producer: %w", commitlog.ErrClosed)
	}
	if rec.ExplicitPartition && rec.Partition < 0 {
		return fmt.Errorf("producer: topic %s has no partition %d: %w", rec.Topic, rec.Partition, commitlog.ErrUnknownPartition)
	}
	size := record.RecordSize(0, 0, rec.Key, rec.Value, rec.Headers) + 16 // as the embedded producer counts
	if size > p.cfg.MaxRequestSize {
		return fmt.Errorf("producer: record of %d bytes for %s, limit %d: %w", size, rec.Topic, p.cfg.MaxRequestSize, commitlog.ErrRecordTooLarge)
	}
	if err := p.mem.reserve(ctx, int64(size), p.cfg.MaxBlock, p.hurry); err != nil {
		return err
	}
	p.sending.Add(1)
	defer p.sending.Add(-1)
	if p.closing.Load() {
		p.mem.release(int64(size))
		return fmt.Errorf("producer: %w", commitlog.ErrClosed)
	}
	p.drv.Send(ctx, copyRecord(rec), func(md RecordMetadata, err error) {
		p.mem.release(int64(size))
		p.metrics.driven(err)
		done(md, err)
	})
	return nil
}

// copyRecord copies rec with its key, value and headers in one buffer:
// the caller may reuse its slices once Send returns.
func copyRecord(rec *Record) *Record {
	c := *rec
	n := len(rec.Key) + len(rec.Value)
	for _, h := range rec.Headers {
		n += len(h.Value)
	}
	buf := make([]byte, 0, n)
	clone := func(b []byte) []byte {
		if b == nil {
			return nil
		}
		buf = append(buf, b...)
		return buf[len(buf)-len(b) : len(buf) : len(buf)]
	}
	c.Key, c.Value = clone(rec.Key), clone(rec.Value)
	if rec.Headers != nil {
		c.Headers = make([]Header, len(rec.Headers))
		for i, h := range rec.Headers {
			c.Headers[i] = Header{Key: h.Key, Value: clone(h.Value)}
		}
	}
	return &c
}

// hurry asks the hurrier to flush the driver; it does not wait.
func (p *driven) hurry() {
	select {
	case p.hurryCh <- struct{}{}:
	default: // a flush is asked for already
	}
}

// hurrier flushes the driver when asked, until Close stops it.
func (p *driven) hurrier() {
	defer close(p.hurryDone)
	for {
		select {
		case <-p.hurryCtx.Done():
			return
		case <-p.hurryCh:
			_ = p.drv.Flush(p.hurryCtx) // an error is the stop, or the driver's: the records report theirs
		}
	}
}

// inCallback reports whether ctx is the ctx of a running callback of this
// producer (or derived from one).
func (p *driven) inCallback(ctx context.Context) bool {
	s, ok := ctx.Value(driverScopeKey{}).(*driverScope)
	return ok && s.p == p && s.active.Load()
}

// flush is Flush on a driver.
func (p *driven) flush(ctx context.Context) error {
	if p.inCallback(ctx) {
		p.hurry()
		return ErrFlushInCallback
	}
	select {
	case <-p.closed:
		return nil
	default:
	}
	if err := p.waitSends(ctx); err != nil {
		return err
	}
	return p.drv.Flush(ctx)
}

// waitSends waits until no send is between its check of closing and the
// driver's Send (a short wait: the driver's Send does not block), or ctx
// ends.
func (p *driven) waitSends(ctx context.Context) error {
	for p.sending.Load() != 0 {
		if err := ctx.Err(); err != nil {
			return err
		}
		time.Sleep(20 * time.Microsecond)
	}
	return nil
}

// close is Close on a driver, with the Producer's semantics: stop
// accepting, flush, close the driver; idempotent; from a callback, it
// returns at once and the close goes on once the callback has returned.
func (p *driven) close(ctx context.Context) error {
	if p.inCallback(ctx) {
		p.closing.Store(true)
		p.closeAsync.Do(func() { go func() { _ = p.close(context.Background()) }() })
		return nil
	}
	if ok, err := enterClose(ctx, p.closeSem, p.closed); !ok {
		return err
	}
	defer func() { <-p.closeSem }()
	select {
	case <-p.closed:
		return nil
	default:
	}
	p.closing.Store(true)
	if err := p.flush(ctx); err != nil {
		return err
	}
	var err error
	p.closeOnce.Do(func() {
		p.stopHurry()
		<-p.hurryDone
		err = p.drv.Close()
		if err != nil {
			err = fmt.Errorf("producer: close: %w", err)
		}
		close(p.closed)
	})
	return err
}

// newOnDriver returns a producer on b's driver, or an error wrapping
// commitlog.ErrUnsupportedBackend when b opens none.
func newOnDriver(b commitlog.Backend, cfg Config, rc config) (*Producer, error) {
	o, ok := b.(DriverOpener)
	if !ok {
		return nil, fmt.Errorf("producer: backend %T: %w", b, commitlog.ErrUnsupportedBackend)
	}
	d, err := o.OpenProducerDriver(cfg)
	if err != nil {
		return nil, fmt.Errorf("producer: %w", err)
	}
	p := &Producer{cfg: rc, drv: newDriven(d, rc)}
	p.drv.metrics = &p.metrics
	p.metrics.start(p, nil)
	return p, nil
}
