// Package partition owns one partition of a topic: its log, its high
// watermark, the lock that serialises appends to it, and the wake-up of
// readers waiting for new data (long polling).
//
// commitlog keeps one replica of each partition, in the broker's data
// directory, so the high watermark equals the log end offset as soon as an
// append is written; min.insync.replicas is accepted for compatibility and
// must be 1. Durability beyond the page cache comes from fsync: an append
// asked to be durable returns only once the log is flushed past it, and
// concurrent durable appends share one fsync (group commit).
package partition

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/commitlog-go/commitlog/log"
)

// Partition is one partition of a topic. Appends to different partitions
// never wait on each other; reads never wait for appends.
type Partition struct {
	topic string
	id    int32
	log   *log.Log

	mu      sync.Mutex // serialises appends
	syncMu  sync.Mutex // one fsync at a time; waiters share it
	hw      atomic.Int64
	wake    atomic.Pointer[chan struct{}] // closed and replaced on every append
	closed  atomic.Bool
	deleted atomic.Bool
	metrics Metrics
}

// Metrics returns the partition's live metrics.
func (p *Partition) Metrics() *Metrics { return &p.metrics }

// gone is the error for use after Close or Delete.
func (p *Partition) gone() error {
	if p.deleted.Load() {
		return fmt.Errorf("partition %s-%d: %w", p.topic, p.id, ErrUnknownTopic)
	}
	return fmt.Errorf("partition %s-%d: %w", p.topic, p.id, log.ErrClosed)
}

// Open opens (recovering if needed) the partition whose log lives in dir.
func Open(dir, topic string, id int32, cfg log.Config) (*Partition, error) {
	l, err := log.Open(dir, cfg)
	if err != nil {
		return nil, fmt.Errorf("partition %s-%d: %w", topic, id, err)
	}
	p := &Partition{topic: topic, id: id, log: l}
	p.hw.Store(l.EndOffset())
	ch := make(chan struct{})
	p.wake.Store(&ch)
	return p, nil
}

// Topic is the name of the partition's topic.
func (p *Partition) Topic() string { return p.topic }

// ID is the partition number.
func (p *Partition) ID() int32 { return p.id }

// Log is the partition's log.
func (p *Partition) Log() *log.Log { return p.log }

// HighWatermark is the offset below which records are visible to readers.
func (p *Partition) HighWatermark() int64 { return p.hw.Load() }

// LogStartOffset is the first offset still in the log.
func (p *Partition) LogStartOffset() int64 { return p.log.StartOffset() }

// LogEndOffset is the offset the next record gets.
func (p *Partition) LogEndOffset() int64 { return p.log.EndOffset() }

// Append appends one encoded v2 batch (see log.Log.Append), advances the
// high watermark and wakes waiting readers. With durable set it returns
// only once the batch is fsynced; concurrent durable appends share fsyncs.
func (p *Partition) Append(batch []byte, durable bool) (log.AppendInfo, error) {
	start := time.Now()
	p.mu.Lock()
	if p.closed.Load() {
		p.mu.Unlock()
		return log.AppendInfo{}, p.gone()
	}
	info, err := p.log.Append(batch)
	if err != nil {
		p.mu.Unlock()
		return info, fmt.Errorf("partition %s-%d: %w", p.topic, p.id, err)
	}
	p.hw.Store(info.LastOffset + 1)
	p.mu.Unlock()
	p.notify()
	if durable {
		if err := p.SyncTo(info.LastOffset + 1); err != nil {
			return info, err
		}
	}
	p.metrics.Records.Mark(int64(info.NumRecords))
	p.metrics.Bytes.Mark(int64(info.Size))
	p.metrics.Batches.Mark(1)
	p.metrics.AppendLatency.Observe(time.Since(start))
	return info, nil
}

// SyncTo returns once every record below offset is fsynced. Callers that
// arrive while an fsync is running wait for it and then find their records
// already flushed: one fsync serves them all.
func (p *Partition) SyncTo(offset int64) error {
	if p.log.FlushedOffset() >= offset {
		return nil
	}
	p.syncMu.Lock()
	defer p.syncMu.Unlock()
	if p.log.FlushedOffset() >= offset {
		return nil
	}
	if err := p.log.Sync(); err != nil {
		return fmt.Errorf("partition %s-%d: %w", p.topic, p.id, err)
	}
	return nil
}

func (p *Partition) notify() {
	ch := make(chan struct{})
	old := p.wake.Swap(&ch)
	close(*old)
}

// Read appends to dst[:0] whole batches from the one holding offset, up to
// maxBytes (at least one batch), below the high watermark. See
// log.Log.ReadUpTo for the rules on offsets.
func (p *Partition) Read(dst []byte, offset int64, maxBytes int) ([]byte, error) {
	if p.closed.Load() {
		return dst[:0], p.gone()
	}
	start := time.Now()
	out, err := p.log.ReadUpTo(dst, offset, p.hw.Load(), maxBytes)
	p.metrics.FetchLatency.Observe(time.Since(start))
	p.metrics.BytesOut.Mark(int64(len(out)))
	if err != nil && p.closed.Load() {
		return dst[:0], p.gone()
	}
	if err != nil {
		return out, fmt.Errorf("partition %s-%d: %w", p.topic, p.id, err)
	}
	return out, nil
}

// Wait blocks until the high watermark passes offset, ctx ends, or the
// partition closes. It is the long-poll wake-up of fetches: no spinning.
func (p *Partition) Wait(ctx context.Context, offset int64) error {
	for {
		ch := *p.wake.Load()
		if p.hw.Load() > offset {
			return nil
		}
		if p.closed.Load() {
			return p.gone()
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Changed returns a channel closed at the next append (or Close); callers
// that watch many partitions select on several of them.
func (p *Partition) Changed() <-chan struct{} { return *p.wake.Load() }

// Maintain applies retention and the time-based flush policy.
func (p *Partition) Maintain() error {
	_, err := p.log.Maintain()
	return err
}

// OffsetForTimestamp returns the first offset whose record timestamp is at
// or after ts, below the high watermark.
func (p *Partition) OffsetForTimestamp(ts int64) (offset, timestamp int64, found bool, err error) {
	offset, timestamp, found, err = p.log.OffsetForTimestamp(ts)
	if found && offset >= p.hw.Load() {
		return 0, 0, false, err
	}
	return offset, timestamp, found, err
}

// Close flushes and closes the partition's log and wakes every waiter. It
// is idempotent.
func (p *Partition) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed.Swap(true) {
		return nil
	}
	p.notify()
	return p.log.Close()
}

// Delete closes the partition and removes its files. Readers in flight
// finish with the data they already hold.
func (p *Partition) Delete() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.deleted.Store(true)
	p.closed.Store(true)
	p.notify()
	return p.log.Delete()
}

// ErrUnknownTopic reports use of a partition whose topic was deleted; the
// root package exports the same value as commitlog.ErrUnknownTopic.
var ErrUnknownTopic = errors.New("commitlog: unknown topic")
