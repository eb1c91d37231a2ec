package consumer

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/commitlog-go/commitlog"
	"github.com/commitlog-go/commitlog/internal/callorder"
)

// committer numbers commits as they are made, writes them in that order
// (as Kafka's one coordinator connection does), and writes CommitAsync's
// on its goroutine, running their callbacks there.
//
// Commits land in the order they were made: a commit's entry for a
// partition is dropped when a later commit of that partition has already
// been written, so that an async commit queued before a CommitSync does
// not rewind what the CommitSync wrote.
//
// Callbacks run one at a time, in the order of the commits, whichever
// goroutine runs them (package callorder). Close writes what is still
// queued itself, on its own goroutine (flush), and runs the callbacks
// after the one running then, once it has returned; a Close called from a
// callback runs them inside it instead.
type committer struct {
	// write writes a commit to the coordinator (Consumer.writeCommit).
	write   func(offsets map[TopicPartition]OffsetAndMetadata, memberID string, gen int32) error
	work    chan struct{} // cap 1: rung when queue, closed or flushers change
	stopped chan struct{} // closed when the commit goroutine returns

	// writeMu is held while a commit is taken and written, so that writes
	// go one at a time, queued ones in the order made. It guards written,
	// and is never held while a callback runs. It comes before mu.
	writeMu sync.Mutex
	written map[TopicPartition]uint64 // per partition, the number of the last commit written

	// mu guards the fields below. It is held only briefly: CommitAsync,
	// called by Poll for auto-commits, never waits for a write.
	mu       sync.Mutex
	made     uint64        // the number of the last commit made, sync or async
	queue    []asyncCommit // async commits not yet taken to be written, oldest first
	closed   bool          // the consumer closed: CommitAsync calls back ErrClosed, the goroutine ends once queue is empty
	flushers int           // Close calls writing the queue themselves: the goroutine leaves it to them

	turns callorder.Turns // the callbacks' order: recorded as commits are taken
}

type asyncCommit struct {
	offsets    map[TopicPartition]OffsetAndMetadata
	memberID   string
	generation int32
	seq        uint64
	cb         func(map[TopicPartition]OffsetAndMetadata, error)
}

// allCommits is the number up to which a flush of every queued commit goes.
const allCommits = math.MaxUint64

func (q *committer) start(write func(map[TopicPartition]OffsetAndMetadata, string, int32) error) {
	q.write = write
	q.work = make(chan struct{}, 1)
	q.stopped = make(chan struct{})
	go q.run()
}

func (q *committer) ring() {
	select {
	case q.work <- struct{}{}:
	default:
	}
}

// lastMade is the number of the last commit made so far.
func (q *committer) lastMade() uint64 {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.made
}

// enqueue numbers and queues an async commit; false once closed.
func (q *committer) enqueue(e asyncCommit) bool {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return false
	}
	q.made++
	e.seq = q.made
	q.queue = append(q.queue, e)
	q.mu.Unlock()
	q.ring()
	return true
}

// commitNow numbers a commit and writes it at once (CommitSync).
func (q *committer) commitNow(offsets map[TopicPartition]OffsetAndMetadata, memberID string, gen int32) error {
	q.mu.Lock()
	q.made++
	seq := q.made
	q.mu.Unlock()
	q.writeMu.Lock()
	defer q.writeMu.Unlock()
	return q.writeLocked(offsets, memberID, gen, seq)
}

// writeLocked writes the entries of commit number seq that no later commit
// has overtaken. writeMu is held.
func (q *committer) writeLocked(offsets map[TopicPartition]OffsetAndMetadata, memberID string, gen int32, seq uint64) error {
	fresh := offsets
	for tp := range offsets {
		if q.written[tp] > seq {
			fresh = map[TopicPartition]OffsetAndMetadata{}
			for tp, om := range offsets {
				if q.written[tp] <= seq {
					fresh[tp] = om
				}
			}
			break
		}
	}
	err := q.write(fresh, memberID, gen)
	if err == nil {
		if q.written == nil {
			q.written = map[TopicPartition]uint64{}
		}
		for tp := range fresh {
			q.written[tp] = seq
		}
	}
	return err
}

// writeNext takes the oldest queued commit, if it is numbered up to upTo,
// writes it and runs its callback; false if there was none to take. The
// commit goroutine (byGoroutine) takes none while a Close flushes.
func (q *committer) writeNext(byGoroutine bool, upTo uint64) bool {
	q.writeMu.Lock()
	q.mu.Lock()
	if len(q.queue) == 0 || q.queue[0].seq > upTo || byGoroutine && q.flushers > 0 {
		q.mu.Unlock()
		q.writeMu.Unlock()
		return false
	}
	e := q.queue[0]
	q.queue[0] = asyncCommit{}
	q.queue = q.queue[1:]
	q.turns.Due(e.seq) // its callback's turn, in the order taken
	q.mu.Unlock()
	err := q.writeLocked(e.offsets, e.memberID, e.generation, e.seq)
	q.writeMu.Unlock()
	// In its turn (see package callorder): after a callback another
	// goroutine runs, at once inside one this goroutine runs.
	var cb func()
	if e.cb != nil {
		cb = func() { e.cb(e.offsets, err) }
	}
	q.turns.Run(e.seq, cb)
	return true
}

// run is the commit goroutine. It returns once the consumer closed and
// the queue is empty.
func (q *committer) run() {
	defer close(q.stopped)
	for {
		q.mu.Lock()
		done := q.closed && len(q.queue) == 0
		q.mu.Unlock()
		if done {
			return
		}
		if !q.writeNext(true, allCommits) {
			<-q.work
		}
	}
}

// close makes CommitAsync call back ErrClosed from now on; what is queued
// is still written.
func (q *committer) close() {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
	q.ring()
}

// flush writes, on the calling goroutine, the queued commits numbered up
// to upTo and runs their callbacks, each in its turn (see callback): after
// a callback the commit goroutine is running, unless flush is called from
// that callback. When it returns each of them is written, or failed, and
// its callback run, except the one the caller may be inside. It stops
// early when ctx ends; the commit goroutine then writes the rest.
func (q *committer) flush(ctx context.Context, upTo uint64) error {
	q.mu.Lock()
	q.flushers++
	q.mu.Unlock()
	defer func() {
		q.mu.Lock()
		q.flushers--
		q.mu.Unlock()
		q.ring()
	}()
	for {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("consumer: close: queued commits not all written: %w", err)
		}
		if !q.writeNext(false, upTo) {
			return nil
		}
	}
}

// waitStopped waits for the commit goroutine to return, after close and a
// flush of everything, unless the caller is inside a callback: the
// goroutine then returns when the callback does.
func (q *committer) waitStopped(ctx context.Context) error {
	if q.turns.InCallback() {
		return nil
	}
	select {
	case <-q.stopped:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("consumer: close: %w", ctx.Err())
	}
}

// writeCommit writes a commit to the group coordinator.
func (c *Consumer) writeCommit(offsets map[TopicPartition]OffsetAndMetadata, memberID string, gen int32) error {
	if c.coord == nil {
		return fmt.Errorf("consumer: commits need a group.id: %w", commitlog.ErrInvalidConfig)
	}
	err := c.coord.CommitOffsets(c.set.GroupID, memberID, gen, offsets)
	if errors.Is(err, ErrIllegalGeneration) || errors.Is(err, ErrUnknownMemberID) || errors.Is(err, ErrRebalanceInProgress) {
		c.group.rejoinIfCurrent(memberID, gen)
	}
	return err
}

// CommitSync commits offsets (nil: the positions of every assigned
// partition, i.e. what Poll has returned, leaving out partitions whose
// topic was deleted) and returns once they are durable. A member that lost
// its partitions in a rebalance gets ErrIllegalGeneration or
// ErrUnknownMemberID and commits nothing. An entry for a topic or
// partition that does not exist fails the commit with ErrUnknownTopic or
// ErrUnknownPartition, a negative offset with ErrInvalidOffset; then no
// entry of it is written. Partitions need not be assigned to the consumer.
func (c *Consumer) CommitSync(ctx context.Context, offsets map[TopicPartition]OffsetAndMetadata) error {
	if c.drv != nil {
		return c.drv.CommitSync(ctx, offsets)
	}
	if offsets == nil {
		offsets = c.fetch.committable()
	}
	memberID, gen := c.group.identity()
	return c.commits.commitNow(offsets, memberID, gen)
}

// CommitAsync commits offsets (nil: the current positions) in the
// background and calls cb, if not nil, with the result: the errors of
// CommitSync. Callbacks run one at a time in the order of the calls, on
// the consumer's commit goroutine; those of the commits still queued when
// Close is called run on the goroutine calling Close, after a callback
// running then has returned (unless Close is called from it: see Close).
// The queue has no bound:
// CommitAsync never blocks. After Close, cb is called at once with
// ErrClosed.
func (c *Consumer) CommitAsync(offsets map[TopicPartition]OffsetAndMetadata, cb func(map[TopicPartition]OffsetAndMetadata, error)) {
	if c.drv != nil {
		c.drv.CommitAsync(offsets, cb)
		return
	}
	if offsets == nil {
		offsets = c.fetch.committable()
	}
	memberID, gen := c.group.identity()
	if !c.commits.enqueue(asyncCommit{offsets: offsets, memberID: memberID, generation: gen, cb: cb}) && cb != nil {
		cb(offsets, errClosed())
	}
}

// Committed returns the group's committed offsets for tps.
func (c *Consumer) Committed(ctx context.Context, tps []TopicPartition) (map[TopicPartition]OffsetAndMetadata, error) {
	if c.drv != nil {
		return c.drv.Committed(ctx, tps)
	}
	if c.coord == nil {
		return nil, fmt.Errorf("consumer: Committed needs a group.id: %w", commitlog.ErrInvalidConfig)
	}
	return c.coord.FetchOffsets(c.set.GroupID, tps), nil
}

// committedOffset is the group's committed offset of tp, from which the
// fetcher starts a partition.
func (c *Consumer) committedOffset(tp TopicPartition) (OffsetAndMetadata, bool) {
	if c.coord == nil {
		return OffsetAndMetadata{}, false
	}
	om, ok := c.coord.FetchOffsets(c.set.GroupID, []TopicPartition{tp})[tp]
	return om, ok
}

// maybeAutoCommit is enable.auto.commit: every auto.commit.interval.ms,
// Poll commits the positions in the background.
func (c *Consumer) maybeAutoCommit() {
	if !c.set.EnableAutoCommit || c.coord == nil || time.Since(c.lastAutoCommit) < c.set.AutoCommitInterval {
		return
	}
	c.lastAutoCommit = time.Now()
	c.CommitAsync(nil, func(_ map[TopicPartition]OffsetAndMetadata, err error) {
		if err != nil {
			c.b.Logger().Warn("auto-commit failed", "group", c.set.GroupID, "err", err)
		}
	})
}

// commitBeforeRevoke is what enable.auto.commit does before partitions
// are revoked (a rebalance, Close): commit what was consumed, at once.
func (c *Consumer) commitBeforeRevoke(memberID string, gen int32) {
	if !c.set.EnableAutoCommit {
		return
	}
	if err := c.commits.commitNow(c.fetch.committable(), memberID, gen); err != nil {
		c.b.Logger().Warn("auto-commit before rebalance failed", "group", c.set.GroupID, "err", err)
	}
}
