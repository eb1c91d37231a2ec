package commitlog

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/commitlog-go/commitlog/log"
)

// AppendInfo describes an appended batch: its offsets, the log append
// time when the topic uses LogAppendTime, and its size.
type AppendInfo = log.AppendInfo

// CleanResult is what a compaction pass did (see Partition.Compact).
type CleanResult = log.CleanResult

// CleanerState is where compaction of a partition stands (see
// Partition.CleanerState).
type CleanerState = log.CleanerState

// Partition is one partition of a topic: its log, its high watermark and
// the wake-up of readers waiting for new data (long polling). Appends to
// different partitions never wait on each other; reads never wait for
// appends. It is safe for concurrent use.
//
// commitlog keeps one replica of each partition; min.insync.replicas is
// accepted for compatibility and must be 1. Durability beyond the page
// cache comes from fsync: an append asked to be durable returns only once
// the log is flushed past it, and concurrent durable appends share one
// fsync (group commit).
//
// The high watermark is where a power cut can no longer take records
// back, for the appends that asked for that: a durable append (Append with
// durable set, AppendDeferred followed by SyncTo, or any append to a topic
// with flush.messages=1 or flush.ms=0, whose log fsyncs every append
// before it returns) becomes visible only once fsynced, so a consumer never
// sees, processes and commits past a record a power cut then takes back.
// A plain append (Append without durable, on a topic that does not fsync
// every append) becomes visible at once: it survives a process crash (it
// is in the page cache) but not a power cut. The high watermark is one
// offset, so a plain append also makes visible the durable appends before
// it that are still waiting for their fsync: a partition's visibility is
// as durable as its least durable writer.
//
// An append takes one lock, the log's: the partition adds none (the high
// watermark is advanced with a compare-and-swap once the append leaves it,
// or once the fsync covering it returns). An fsync holds no lock appends
// need: appends go on while it runs.
type Partition struct {
	topic string
	id    int32
	log   *log.Log

	hw      atomic.Int64          // the high watermark: only grows, advanced after each plain append and each fsync (advance, publish)
	pending atomic.Int64          // the end of the last AppendDeferred: the maintenance pass fsyncs (and publishes) up to it
	wake    atomic.Pointer[waker] // closed and replaced after an append or Close, once a waiter took it
	closed  atomic.Bool           // set by Close and Delete, before the log closes
	deleted atomic.Bool           // set by Delete: errors say ErrUnknownTopic
	metrics metrics
	openEnd int64 // the log end offset when the partition was opened, after recovery; never changes
}

// openPartition opens (recovering if needed) the partition whose log
// lives in dir.
func openPartition(dir, topic string, id int32, cfg log.Config) (*Partition, error) {
	l, err := log.Open(dir, cfg)
	if err != nil {
		return nil, fmt.Errorf("partition %s-%d: %w", topic, id, err)
	}
	p := &Partition{topic: topic, id: id, log: l, openEnd: l.EndOffset()}
	p.metrics.init()
	p.hw.Store(l.EndOffset())
	p.wake.Store(&waker{ch: make(chan struct{})})
	return p, nil
}

// waker is the channel readers wait on for the next append.
type waker struct {
	ch chan struct{}
	// taken says a reader took ch: the next append (or Close) must close
	// it. Until one does, appends leave it alone and allocate nothing.
	taken atomic.Bool
}

// waiter returns the current waker, marked as taken. A reader takes it
// before it checks the high watermark (or closed) and then waits on ch:
// an append that advanced the high watermark after the check finds it
// taken in notify (both are sequentially consistent atomics), so a
// wake-up is never lost.
func (p *Partition) waiter() <-chan struct{} {
	w := p.wake.Load()
	if !w.taken.Load() {
		w.taken.Store(true)
	}
	return w.ch
}

// gone is the error for use after Close or Delete.
func (p *Partition) gone() error {
	if p.deleted.Load() {
		return fmt.Errorf("partition %s-%d: %w", p.topic, p.id, ErrUnknownTopic)
	}
	return fmt.Errorf("partition %s-%d: %w", p.topic, p.id, ErrClosed)
}

// Topic is the name of the partition's topic.
func (p *Partition) Topic() string { return p.topic }

// ID is the partition number.
func (p *Partition) ID() int32 { return p.id }

// HighWatermark is the offset below which records are visible to readers:
// consumers, Read, Wait, OffsetForTimestamp and lag all stop at it. It is
// the log end offset once every append finished, except for the durable
// appends whose fsync has not returned yet (see Partition).
func (p *Partition) HighWatermark() int64 { return p.hw.Load() }

// advance raises the high watermark to offset unless it is already past
// it: appends finish in any order once they leave the log's lock, and the
// high watermark never goes back.
func (p *Partition) advance(offset int64) {
	for {
		cur := p.hw.Load()
		if offset <= cur || p.hw.CompareAndSwap(cur, offset) {
			return
		}
	}
}

// LogStartOffset is the first offset still in the log.
func (p *Partition) LogStartOffset() int64 { return p.log.StartOffset() }

// OpenedEndOffset is the log end offset the partition had when it was
// opened (after crash recovery) or created: what survived the last stop.
// The group coordinator compares commits with it (a commit beyond it is
// one a power cut took records back from), not with the log end, which
// appends made since Open have moved.
func (p *Partition) OpenedEndOffset() int64 { return p.openEnd }

// LogEndOffset is the offset the next record gets.
func (p *Partition) LogEndOffset() int64 { return p.log.EndOffset() }

// Compacted reports whether the partition's topic is compacted
// (cleanup.policy includes compact): offsets may then have gaps.
func (p *Partition) Compacted() bool { return p.log.Compacted() }

// Size is the partition's size on disk, in bytes.
func (p *Partition) Size() int64 { return p.log.Size() }

// NumSegments is the number of segments in the partition's log.
func (p *Partition) NumSegments() int { return p.log.NumSegments() }

// Append appends one encoded v2 batch, whose base offset it rewrites in
// place (the caller hands the buffer over), makes it visible to readers
// and wakes those waiting. With durable set it returns only once the
// batch is fsynced, and the batch becomes visible only then (when the
// fsync covering it returns); concurrent durable appends share fsyncs.
// Without it the batch is visible at once, unless the topic's log fsyncs
// every append (flush.messages=1, flush.ms=0): then Append returns, and
// the batch becomes visible, after that fsync.
func (p *Partition) Append(batch []byte, durable bool) (AppendInfo, error) {
	start := time.Now()
	info, err := p.appendLog(batch)
	if err != nil {
		return info, err
	}
	if durable {
		if err := p.SyncTo(info.LastOffset + 1); err != nil {
			return info, err
		}
	} else {
		p.advance(info.LastOffset + 1)
		p.notify()
	}
	p.appended(info, start)
	return info, nil
}

// appendLog appends batch to the log, the error in the partition's
// context (or ErrClosed's, once the partition is closed).
func (p *Partition) appendLog(batch []byte) (AppendInfo, error) {
	info, err := p.log.Append(batch)
	if err != nil {
		if p.closed.Load() {
			return info, p.gone()
		}
		return info, fmt.Errorf("partition %s-%d: %w", p.topic, p.id, err)
	}
	return info, nil
}

// appended counts an append that began at start in the metrics.
func (p *Partition) appended(info AppendInfo, start time.Time) {
	p.metrics.Records.Mark(int64(info.NumRecords))
	p.metrics.Bytes.Mark(int64(info.Size))
	p.metrics.Batches.Mark(1)
	p.metrics.AppendLatency.Observe(time.Since(start))
}

// AppendDeferred appends one encoded v2 batch as Append does, but leaves
// it invisible to readers until it is fsynced: the caller then calls
// SyncTo (one SyncTo may cover many deferred appends: a group commit), or
// a later flush covers it. The broker's maintenance pass fsyncs any
// deferred append still unflushed, so none stays invisible for longer
// than its interval. The producer's Fsync option (acks=all) appends this
// way.
func (p *Partition) AppendDeferred(batch []byte) (AppendInfo, error) {
	start := time.Now()
	info, err := p.appendLog(batch)
	if err != nil {
		return info, err
	}
	for end := info.LastOffset + 1; ; {
		cur := p.pending.Load()
		if end <= cur || p.pending.CompareAndSwap(cur, end) {
			break
		}
	}
	p.publish() // the log may have fsynced it (flush.messages, a roll)
	p.appended(info, start)
	return info, nil
}

// SyncTo returns once every record below offset is fsynced, and makes
// every fsynced record visible. It is a group commit (log.Log.SyncTo):
// one fsync at a time runs for the partition, without blocking appends;
// callers that arrive while it runs wait for the next one, which covers
// all of them.
func (p *Partition) SyncTo(offset int64) error {
	if p.log.FlushedOffset() >= offset {
		p.publish()
		return nil
	}
	if err := p.log.SyncTo(offset); err != nil {
		if p.closed.Load() {
			return p.gone()
		}
		return fmt.Errorf("partition %s-%d: %w", p.topic, p.id, err)
	}
	p.publish()
	return nil
}

// publish raises the high watermark to the log's flushed offset (every
// record below it is durable, so visible whatever appended it) and wakes
// the readers waiting if it moved.
func (p *Partition) publish() {
	if f := p.log.FlushedOffset(); f > p.hw.Load() {
		p.advance(f)
		p.notify()
	}
}

// notify wakes the readers waiting for an append: it closes the current
// waker's channel and puts a new one in its place, unless no reader took
// it since the last notify. The caller has advanced the high watermark
// (or set closed) first.
func (p *Partition) notify() {
	w := p.wake.Load()
	if !w.taken.Load() {
		return
	}
	if p.wake.CompareAndSwap(w, &waker{ch: make(chan struct{})}) {
		close(w.ch)
	} // else a concurrent notify replaced and closed it
}

// Read appends to dst[:0] whole batches from the one holding offset, up to
// maxBytes (at least one batch), below the high watermark. A batch may
// begin before offset: the caller skips the records before it, as Kafka's
// consumers do. An offset below the log start offset or above the high
// watermark is ErrOffsetOutOfRange; offset == HighWatermark() returns no
// bytes.
func (p *Partition) Read(dst []byte, offset int64, maxBytes int) ([]byte, error) {
	if p.closed.Load() {
		return dst[:0], p.gone()
	}
	start := time.Now()
	out, err := p.log.ReadUpTo(dst, offset, p.HighWatermark(), maxBytes)
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
		ch := p.waiter()
		if p.HighWatermark() > offset {
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
func (p *Partition) Changed() <-chan struct{} { return p.waiter() }

// OffsetForTimestamp returns the first offset whose record timestamp is at
// or after ts, below the high watermark (Kafka's ListOffsets by
// timestamp); found is false when every visible record is older.
func (p *Partition) OffsetForTimestamp(ts int64) (offset, timestamp int64, found bool, err error) {
	hw := p.HighWatermark()
	offset, timestamp, found, err = p.log.OffsetForTimestamp(ts)
	if found && offset >= hw {
		return 0, 0, false, err
	}
	return offset, timestamp, found, err
}

// Roll closes the active segment to appends and starts a new one, unless
// it is empty (Kafka rolls on segment.bytes and segment.ms; this forces
// one, e.g. to make the records so far eligible for compaction).
func (p *Partition) Roll() error {
	if err := p.log.Roll(); err != nil {
		if p.closed.Load() {
			return p.gone()
		}
		return fmt.Errorf("partition %s-%d: %w", p.topic, p.id, err)
	}
	p.publish() // a roll fsyncs the segment it closes
	return nil
}

// Compact runs one compaction pass over the partition's closed segments
// now, as the broker's log cleaner does in the background for compacted
// topics, and reports what it did.
func (p *Partition) Compact() (CleanResult, error) {
	res, err := p.log.Compact()
	if err != nil {
		if p.closed.Load() {
			return res, p.gone()
		}
		return res, fmt.Errorf("partition %s-%d: %w", p.topic, p.id, err)
	}
	return res, nil
}

// CleanerState reports where compaction stands: the first dirty offset,
// the dirty ratio and whether the log cleaner would compact the partition
// now. Only compacted topics are ever cleaned.
func (p *Partition) CleanerState() CleanerState { return p.log.CleanerState() }

// maintain applies retention and the time-based flush policy, and
// fsyncs the deferred appends still unflushed (AppendDeferred): whatever
// flush they waited for, they become visible within one maintenance
// interval.
func (p *Partition) maintain() error {
	_, err := p.log.Maintain()
	if err != nil {
		return err
	}
	if p.pending.Load() > p.hw.Load() && !p.closed.Load() {
		return p.SyncTo(p.pending.Load())
	}
	p.publish()
	return nil
}

// close flushes and closes the partition's log and wakes every waiter. It
// is idempotent.
func (p *Partition) close() error {
	if p.closed.Swap(true) {
		return nil
	}
	p.notify()
	return p.log.Close()
}

// delete closes the partition and removes its files. Readers in flight
// finish with the data they already hold.
func (p *Partition) delete() error {
	p.deleted.Store(true)
	p.closed.Store(true)
	p.notify()
	return p.log.Delete()
}
