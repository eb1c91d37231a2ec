package consumer

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"time"

	"github.com/commitlog-go/commitlog"
	"github.com/commitlog-go/commitlog/record"
)

// Record is a consumed record. Key, Value and header values are the
// consumer's own copy: they stay valid.
type Record struct {
	Topic         string
	Partition     int32
	Offset        int64
	Key, Value    []byte
	Headers       []record.Header
	Timestamp     time.Time
	TimestampType record.TimestampType
}

// Poll returns the next records of the assigned partitions, at most
// max.poll.records. In group mode it first takes part in any pending
// rebalance, running the listener. Without data it waits, without
// spinning, until data arrives (fetch.min.bytes), fetch.max.wait.ms passes
// (then it returns no records and no error), or ctx ends. Called from a
// rebalance listener, which runs inside Poll, it fails.
func (c *Consumer) Poll(ctx context.Context) ([]Record, error) {
	if c.isClosed() {
		return nil, errClosed()
	}
	switch t, err := c.gate.enter(ctx); {
	case err != nil:
		return nil, fmt.Errorf("consumer: poll: %w", err)
	case t != turnTaken:
		return nil, ErrPollInListener
	}
	defer c.leavePoll(ctx)
	if c.isClosed() { // while it waited for the role
		return nil, errClosed()
	}
	c.group.polled()
	m, _ := c.group.subscription()
	deadline := time.Now().Add(c.set.FetchMaxWait)
	// Records an earlier fetch buffered are returned without waiting, as
	// Kafka's consumer does; fetch.min.bytes counts what this Poll fetched
	// in all its rounds.
	ready := len(c.fetch.buffered) > 0
	fetched := 0
	for {
		if m == modeSubscribe {
			if err := c.ensureGroup(ctx); err != nil {
				return nil, err
			}
		}
		c.maybeAutoCommit()
		if c.fetch.full() {
			return c.fetch.take(), nil
		}
		n, err := c.fetch.fetch()
		if err != nil {
			return nil, err
		}
		fetched += n
		if len(c.fetch.buffered) > 0 && (ready || fetched >= c.set.FetchMinBytes || !time.Now().Before(deadline)) {
			return c.fetch.take(), nil
		}
		if !time.Now().Before(deadline) {
			return nil, nil
		}
		woke, err := c.fetch.wait(ctx, deadline, c.life.ctx.Done(), c.group.rebalance)
		if err != nil {
			return nil, err
		}
		if woke == 0 {
			return nil, errClosed()
		}
	}
}

// fetcher holds the assigned partitions, their positions (positions.go)
// and the records fetched from them but not yet returned by Poll. It has
// no lock: it belongs to the poll role (see pollGate), that is to Poll and
// to Close, and to the methods the polling goroutine calls between polls
// (Assign, Seek, Pause, CommitSync(nil), ...).
type fetcher struct {
	b   commitlog.Store
	set *config
	// committed is the group's committed offset of a partition (false:
	// none, or no group.id).
	committed func(TopicPartition) (OffsetAndMetadata, bool)

	parts    map[TopicPartition]*partState
	order    []TopicPartition // parts in assignment order
	next     int              // index in order of the partition the next fetch starts with
	buffered []Record         // fetched, not yet returned, in fetch order
}

// partState is one assigned partition.
type partState struct {
	tp       TopicPartition
	part     *brokerPartition
	fetchPos int64 // next offset to fetch; -1 until resolved
	pos      int64 // next offset Poll returns (what a commit stores); -1 until resolved
	paused   bool
	buffered int  // records of this partition in fetcher.buffered
	gone     bool // its topic was deleted: skipped, as Kafka does
}

func newFetcher(b commitlog.Store, set *config, committed func(TopicPartition) (OffsetAndMetadata, bool)) fetcher {
	return fetcher{b: b, set: set, committed: committed, parts: map[TopicPartition]*partState{}}
}

// full says whether a Poll can return max.poll.records without fetching.
func (f *fetcher) full() bool { return len(f.buffered) >= f.set.MaxPollRecords }

// take hands out up to max.poll.records buffered records and moves the
// positions past them.
func (f *fetcher) take() []Record {
	n := min(len(f.buffered), f.set.MaxPollRecords)
	out := f.buffered[:n:n]
	f.buffered = f.buffered[n:]
	for _, r := range out {
		if ps := f.parts[TopicPartition{Topic: r.Topic, Partition: r.Partition}]; ps != nil {
			ps.pos = r.Offset + 1
			ps.buffered--
		}
	}
	// Partitions whose buffered records are all handed out are positioned
	// at their fetch position (skipping compaction gaps and empty batches).
	// ps.buffered counts them: scanning the rest of the buffer instead
	// would make every Poll cost O(buffered records).
	for _, ps := range f.parts {
		if ps.buffered == 0 && ps.fetchPos >= 0 {
			ps.pos = ps.fetchPos
		}
	}
	return out
}

// wait blocks until a partition gets data, wake is closed (a rebalance
// starts, the consumer closes: nil channels never are), the deadline
// passes or ctx ends. It returns the index in wake of the channel that
// was closed, or -1.
func (f *fetcher) wait(ctx context.Context, deadline time.Time, wake ...<-chan struct{}) (int, error) {
	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	cases := []reflect.SelectCase{
		{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(ctx.Done())},
		{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(timer.C)},
	}
	for _, ch := range wake {
		cases = append(cases, reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(ch)})
	}
	for _, tp := range f.order {
		ps := f.parts[tp]
		if ps.paused || ps.fetchPos < 0 || ps.gone {
			continue
		}
		ch := ps.part.Changed()
		if ps.part.HighWatermark() > ps.fetchPos {
			return -1, nil // data arrived since the fetch
		}
		cases = append(cases, reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(ch)})
	}
	chosen, _, _ := reflect.Select(cases)
	switch {
	case chosen == 0:
		return -1, ctx.Err()
	case chosen >= 2 && chosen < 2+len(wake):
		return chosen - 2, nil
	}
	return -1, nil
}

// fetch reads from every assigned, unpaused partition, starting with a
// different one each time so that none starves, and buffers the records.
// It returns the bytes fetched.
func (f *fetcher) fetch() (int, error) {
	budget := f.set.FetchMaxBytes
	total := 0
	// Every assigned partition gets a position (committed offset or
	// auto.offset.reset) even if this fetch stops early, so that Position
	// and commits cover it, as in Kafka.
	for _, tp := range f.order {
		if err := f.resolve(f.parts[tp]); err != nil {
			return 0, err
		}
	}
	for i := range f.order {
		if budget <= 0 && total > 0 || f.full() {
			break // enough for this poll; the rest waits for the next fetch
		}
		tp := f.order[(f.next+i)%len(f.order)]
		ps := f.parts[tp]
		if ps.paused || ps.gone {
			continue
		}
		if hw := ps.part.HighWatermark(); hw < ps.fetchPos {
			// Past the end (a Seek, or a committed offset of a topic that
			// was created again): out of range, as a fetch there is in
			// Kafka. The high watermark never goes back, so this is no race.
			if err := f.reset(ps); err != nil {
				return total, err
			}
			if ps.part.HighWatermark() <= ps.fetchPos {
				continue
			}
		} else if hw == ps.fetchPos {
			continue
		}
		data, err := ps.part.Read(nil, ps.fetchPos, min(f.set.MaxPartitionFetchBytes, budget))
		if errors.Is(err, commitlog.ErrOffsetOutOfRange) {
			if err := f.reset(ps); err != nil {
				return total, err
			}
			continue
		}
		if errors.Is(err, commitlog.ErrUnknownTopic) {
			// Deleted: the other partitions go on (a group rebalances it
			// away). Failing the Poll would starve them all.
			ps.gone = true
			f.b.Logger().Warn("assigned partition's topic was deleted; skipping it", "topic", tp.Topic, "partition", tp.Partition)
			continue
		}
		if err != nil {
			return total, fmt.Errorf("consumer: %w", err)
		}
		budget -= len(data)
		total += len(data)
		if err := f.decode(ps, data); err != nil {
			return total, err
		}
	}
	if len(f.order) > 0 {
		f.next = (f.next + 1) % len(f.order)
	}
	return total, nil
}

// decode buffers the records of data, fetched at ps.fetchPos, and moves
// ps.fetchPos past them. The log returns whole batches that start with the
// one holding the position, or on a compacted topic, whose cleaner may have
// removed it, with the first one after it; each batch then starts where
// the one before it ends (compacted: after it). Records of the first
// batch below the position were consumed before and are skipped. Any
// other data is damage: it is an error wrapping commitlog.ErrCorrupt,
// never records skipped or jumped to.
func (f *fetcher) decode(ps *partState, data []byte) error {
	var it record.Iterator
	compacted := ps.part.Compacted()
	at, first, prevLast := ps.fetchPos, true, int64(0)
	err := record.Batches(data, func(h *record.BatchHeader, raw []byte) error {
		last := h.LastOffset()
		switch {
		case last < h.BaseOffset: // overflows
			return fmt.Errorf("a batch fetched at offset %d spans %d more offsets than there are: %w", h.BaseOffset, h.LastOffsetDelta, commitlog.ErrCorrupt)
		case first && last < at:
			return fmt.Errorf("the first batch fetched (offsets %d-%d) ends below the position: %w", h.BaseOffset, last, commitlog.ErrCorrupt)
		case first && !compacted && h.BaseOffset > at:
			return fmt.Errorf("the first batch fetched (offsets %d-%d) starts after the position: %w", h.BaseOffset, last, commitlog.ErrCorrupt)
		case !first && (h.BaseOffset <= prevLast || !compacted && h.BaseOffset-1 != prevLast):
			return fmt.Errorf("a batch fetched at offset %d does not follow the one before it, which ends at %d: %w", h.BaseOffset, prevLast, commitlog.ErrCorrupt)
		}
		first, prevLast = false, last
		if h.Compression() != record.None {
			// The records alias the iterator's decompression buffer, which
			// the next compressed batch would overwrite: each compressed
			// batch gets a buffer of its own (data is this fetch's own).
			it = record.Iterator{}
		}
		if err := it.ResetChecked(h, raw); err != nil {
			return err
		}
		if h.IsControl() {
			ps.fetchPos = max(ps.fetchPos, h.NextOffset())
			return nil
		}
		for it.Next() {
			r := it.Record()
			if r.Offset < ps.fetchPos {
				continue
			}
			rec := Record{Topic: ps.tp.Topic, Partition: ps.tp.Partition, Offset: r.Offset, Key: r.Key, Value: r.Value,
				Timestamp: time.UnixMilli(r.Timestamp), TimestampType: h.TimestampType()}
			if len(r.Headers) > 0 {
				rec.Headers = slices.Clone(r.Headers)
			}
			f.buffered = append(f.buffered, rec)
			ps.buffered++
		}
		if it.Err() != nil {
			return it.Err()
		}
		ps.fetchPos = max(ps.fetchPos, h.NextOffset())
		return nil
	})
	if err != nil {
		return fmt.Errorf("consumer: %s-%d at offset %d: %w", ps.tp.Topic, ps.tp.Partition, ps.fetchPos, err)
	}
	return nil
}
