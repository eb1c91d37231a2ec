package consumer

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"time"

	"github.com/commitlog-go/commitlog"
	"github.com/commitlog-go/commitlog/record"
)

// Record is a consumed record.
//
// Key, Value and the header values are not copies: they point into the
// buffer the consumer read the record's batch into (or decompressed it
// into). How long they stay valid depends on the call that returned the
// record:
//
//   - From Poll, for as long as the application keeps them: the consumer
//     never reuses a buffer that Poll returned records from. Keeping one
//     record keeps that whole buffer (up to max.partition.fetch.bytes) in
//     memory; copy out what is kept long.
//   - From PollInto, until the next Poll or PollInto of the consumer (the
//     rebalance listeners that call runs included), which reuses the
//     buffers; Headers is itself a slice the consumer reuses.
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
//
// The records and their bytes stay valid while the application keeps
// them (see Record); a fetch's records share one buffer, read for them
// alone, and each Poll allocates the slice it returns. PollInto reuses
// both.
func (c *Consumer) Poll(ctx context.Context) (recs []Record, err error) {
	defer func(start time.Time) { c.metrics.polled(start, len(recs)) }(time.Now())
	if c.drv != nil {
		return c.drv.Poll(ctx, nil, true)
	}
	return c.poll(ctx, nil, true)
}

// PollInto is Poll without Poll's allocations: it appends the records to
// dst[:0] and returns that slice, and their Key, Value and Headers point
// into buffers the consumer reuses. They are valid until the next Poll or
// PollInto call of this consumer, including the rebalance listeners it
// runs (see Record): copy what must outlive that. With the slice it
// returned passed back as dst, a poll loop that keeps finding records
// allocates nothing.
func (c *Consumer) PollInto(ctx context.Context, dst []Record) (recs []Record, err error) {
	defer func(start time.Time) { c.metrics.polled(start, len(recs)) }(time.Now())
	if c.drv != nil {
		return c.drv.Poll(ctx, dst[:0], false)
	}
	return c.poll(ctx, dst[:0], false)
}

// poll is Poll (keep: the records stay valid, out is nil) and PollInto
// (out is the caller's slice, emptied).
func (c *Consumer) poll(ctx context.Context, out []Record, keep bool) ([]Record, error) {
	if c.isClosed() {
		return out, errClosed()
	}
	switch t, err := c.gate.enter(ctx); {
	case err != nil:
		return out, fmt.Errorf("consumer: poll: %w", err)
	case t != turnTaken:
		return out, ErrPollInListener
	}
	defer c.leavePoll(ctx)
	defer c.metrics.recordLag(&c.fetch) // before leavePoll gives the role up
	if c.isClosed() {                   // while it waited for the role
		return out, errClosed()
	}
	c.group.polled()
	m, _ := c.group.subscription()
	deadline := time.Now().Add(c.set.FetchMaxWait)
	// Records an earlier fetch buffered are returned without waiting, as
	// Kafka's consumer does; fetch.min.bytes counts what this Poll fetched
	// in all its rounds.
	ready := c.fetch.queued > 0
	fetched := 0
	for {
		if m == modeSubscribe {
			if err := c.ensureGroup(ctx); err != nil {
				return out, err
			}
		}
		c.maybeAutoCommit()
		if c.fetch.full() {
			return c.fetch.take(out, keep)
		}
		n, err := c.fetch.fetch()
		if err != nil {
			return out, err
		}
		fetched += n
		if c.fetch.queued > 0 && (ready || fetched >= c.set.FetchMinBytes || !time.Now().Before(deadline)) {
			// queued is an upper bound: on a compacted topic the first
			// batch fetched may hold nothing at the position after all.
			if recs, err := c.fetch.take(out, keep); len(recs) > 0 || err != nil {
				return recs, err
			}
		}
		if !time.Now().Before(deadline) {
			return out, nil
		}
		woke, err := c.fetch.wait(ctx, deadline, c.life.ctx.Done(), c.group.rebalance)
		if err != nil {
			return out, err
		}
		if woke == 0 {
			return out, errClosed()
		}
	}
}

// fetcher holds the assigned partitions, their positions (positions.go)
// and what was fetched from them but not yet returned by Poll. It has no
// lock: it belongs to the poll role (see pollGate), that is to Poll and to
// Close, and to the methods the polling goroutine calls between polls
// (Assign, Seek, Pause, CommitSync(nil), ...).
//
// A fetch reads whole batches and checks their headers, CRCs and offsets;
// Poll decodes their records as it returns them, as views into the read
// buffer (see Record), so that a Poll decodes only what it returns. Read
// buffers, decompression buffers and header slices that only PollInto
// returned records from are reused by later calls; those Poll returned
// records from never are.
type fetcher struct {
	b   commitlog.Store
	set *config
	// committed is the group's committed offset of a partition (false:
	// none, or no group.id).
	committed func(TopicPartition) (OffsetAndMetadata, bool)

	parts map[TopicPartition]*partState
	order []TopicPartition // parts in assignment order
	next  int              // index in order of the partition the next fetch starts with

	chunks []*chunk // fetched, not yet returned, in fetch order, from chunks[head]
	head   int
	queued int // records in chunks, at most (see chunk.left)

	plain    record.Iterator    // decodes the current uncompressed batch, whose records point into the read buffer
	zfree    []*record.Iterator // for compressed batches: their buffers hold no record a caller may still use
	zretired []*record.Iterator // compressed batches finished in this call: free from the next
	free     [][]byte           // read buffers holding no record a caller may still use
	freeCap  int                // their capacity in all
	spare    []*chunk           // chunk structs for reuse
	hdrs     []record.Header    // PollInto's header slices, reused from call to call
}

// Bounds of what the fetcher keeps for reuse: decompression iterators,
// and read buffers, in bytes, as a multiple of max.partition.fetch.bytes
// (at least 1 MiB).
const (
	maxFreeIterators = 8
	maxFreeFetches   = 2
)

// partState is one assigned partition.
type partState struct {
	tp       TopicPartition
	part     *brokerPartition
	fetchPos int64 // next offset to fetch; -1 until resolved
	pos      int64 // next offset Poll returns (what a commit stores); -1 until resolved
	paused   bool
	chunks   int  // its chunks in fetcher.chunks
	gone     bool // its topic was deleted: skipped, as Kafka does
	// recordBytes is the bytes per record of its last fetch, rounded up
	// (0 before the first): a fetch reads what the records a Poll lacks take.
	recordBytes int
}

// chunk is what one read of a partition returned and Poll has not yet
// handed out: whole batches, their headers, CRCs and offsets checked
// (decode). Only the first chunk of the queue is being decoded.
type chunk struct {
	ps   *partState
	buf  []byte // the read buffer
	rest []byte // the batches not yet started
	from int64  // the position it was fetched at: records below it are skipped
	// left is the records still to hand out, at most: each batch's record
	// count, the first batch's less those below from (exact unless it has
	// compaction gaps).
	left  int
	it    *record.Iterator     // the current batch's; nil between batches
	ts    record.TimestampType // the current batch's
	ready bool                 // it.Record() is the next record to hand out
	err   error                // a record that does not decode, found after records before it were handed out
	zit   bool                 // it decompresses: it is one of the fetcher's compressed-batch iterators
	kept  bool                 // Poll returned records of buf: it is never reused
	zkept bool                 // Poll returned records of it's decompression buffer: it is never reused
}

func newFetcher(b commitlog.Store, set *config, committed func(TopicPartition) (OffsetAndMetadata, bool)) fetcher {
	return fetcher{b: b, set: set, committed: committed, parts: map[TopicPartition]*partState{}}
}

// full says whether a Poll can return max.poll.records without fetching.
func (f *fetcher) full() bool { return f.queued >= f.set.MaxPollRecords }

// take appends to out up to max.poll.records buffered records, decoding
// them, and moves the positions past them. keep: the records are Poll's,
// their buffers are never reused. A record that does not decode is an
// error wrapping commitlog.ErrCorrupt once the records before it have
// been returned; the partition then stays there, so that the next fetch
// reads it again and fails again, until a Seek.
func (f *fetcher) take(out []Record, keep bool) ([]Record, error) {
	// The previous call's records are no longer used.
	for _, it := range f.zretired {
		if len(f.zfree) < maxFreeIterators {
			f.zfree = append(f.zfree, it)
		}
	}
	clear(f.zretired)
	f.zretired = f.zretired[:0]
	n := f.set.MaxPollRecords
	hdrs := f.hdrs[:0]
	if keep {
		hdrs = nil
	}
	for len(out) < n {
		ch := f.first()
		if ch == nil {
			break
		}
		if !ch.ready && ch.err == nil {
			ch.ready = f.advance(ch)
		}
		if ch.err != nil {
			if len(out) > 0 {
				break // those first; the next Poll reports the error
			}
			return out, f.fail(ch)
		}
		if !ch.ready {
			f.pop()
			continue
		}
		r := ch.it.Record()
		rec := Record{Topic: ch.ps.tp.Topic, Partition: ch.ps.tp.Partition, Offset: r.Offset, Key: r.Key, Value: r.Value,
			Timestamp: time.UnixMilli(r.Timestamp), TimestampType: ch.ts}
		if k := len(r.Headers); k > 0 {
			if cap(hdrs)-len(hdrs) < k {
				// A new slice: the records before point into the old one.
				hdrs = make([]record.Header, 0, max(2*cap(hdrs), k*min(n-len(out), f.queued+1)))
			}
			i := len(hdrs)
			hdrs = append(hdrs, r.Headers...)
			rec.Headers = hdrs[i:len(hdrs):len(hdrs)]
		}
		if out == nil {
			out = make([]Record, 0, min(n, f.queued+1)) // Poll's: one slice for the call
		}
		out = append(out, rec)
		ch.ready = false
		ch.ps.pos = r.Offset + 1
		if ch.left > 0 {
			ch.left--
			f.queued--
		}
		if keep {
			ch.kept, ch.zkept = true, ch.zit
		}
	}
	// Chunks with nothing left are closed now, so that their partitions
	// stand at their fetch position (past compaction gaps and control
	// batches).
	for ch := f.first(); ch != nil && !ch.ready && ch.err == nil; ch = f.first() {
		if ch.ready = f.advance(ch); ch.ready || ch.err != nil {
			break
		}
		f.pop()
	}
	if !keep {
		f.hdrs = hdrs
	}
	return out, nil
}

// advance moves the first chunk to its next record at or after its
// position, starting its batches one after the other; false at its end or
// on a record that does not decode (ch.err).
func (f *fetcher) advance(ch *chunk) bool {
	for {
		if ch.it != nil {
			// Records below from (the first batch's, consumed before) are
			// skipped without being decoded.
			if ch.it.NextFrom(ch.from) {
				return true
			}
			err := ch.it.Err()
			f.endBatch(ch)
			if err != nil {
				ch.err = err
				return false
			}
		}
		if len(ch.rest) == 0 {
			return false
		}
		h, err := record.ParseHeader(ch.rest) // decode checked it
		if err != nil {
			ch.err = err
			return false
		}
		raw := ch.rest[:h.Size()]
		ch.rest = ch.rest[h.Size():]
		if h.IsControl() {
			continue
		}
		it := &f.plain
		if h.Compression() != record.None {
			// Its records point into the iterator's decompression buffer,
			// which the next compressed batch must not overwrite while
			// they may be used.
			if k := len(f.zfree); k > 0 {
				it = f.zfree[k-1]
				f.zfree = f.zfree[:k-1]
			} else {
				it = new(record.Iterator)
			}
			ch.zit = true
		}
		ch.it, ch.ts = it, h.TimestampType()
		if err := it.ResetChecked(&h, raw); err != nil {
			f.endBatch(ch)
			ch.err = err
			return false
		}
	}
}

// endBatch is done with the chunk's current batch: a compressed batch's
// iterator is free from the next call, unless Poll returned its records.
func (f *fetcher) endBatch(ch *chunk) {
	if ch.zit && !ch.zkept {
		f.zretired = append(f.zretired, ch.it)
	}
	ch.it, ch.zit, ch.zkept, ch.ready = nil, false, false, false
}

// first is the first chunk of the queue, or nil.
func (f *fetcher) first() *chunk {
	if f.head == len(f.chunks) {
		return nil
	}
	return f.chunks[f.head]
}

// push queues a chunk of ps's holding data, fetched at from, with at most
// records records.
func (f *fetcher) push(ps *partState, data []byte, from int64, records int) {
	var ch *chunk
	if k := len(f.spare); k > 0 {
		ch = f.spare[k-1]
		f.spare = f.spare[:k-1]
	} else {
		ch = new(chunk)
	}
	*ch = chunk{ps: ps, buf: data, rest: data, from: from, left: records}
	if f.head > 0 && f.head >= len(f.chunks)/2 {
		n := copy(f.chunks, f.chunks[f.head:])
		clear(f.chunks[n:])
		f.chunks, f.head = f.chunks[:n], 0
	}
	f.chunks = append(f.chunks, ch)
	f.queued += records
	ps.chunks++
}

// pop removes the first chunk, all its records handed out: its partition
// stands at its fetch position if it has no other chunk.
func (f *fetcher) pop() {
	ch := f.chunks[f.head]
	f.chunks[f.head] = nil
	f.head++
	if f.head == len(f.chunks) {
		f.chunks, f.head = f.chunks[:0], 0
	}
	if ps := ch.ps; ps.chunks == 1 {
		ps.pos = ps.fetchPos
	}
	f.release(ch)
}

// drop removes the chunks for which gone is true, their records unread.
func (f *fetcher) drop(gone func(*chunk) bool) {
	kept := f.chunks[:0]
	for _, ch := range f.chunks[f.head:] {
		if gone(ch) {
			f.release(ch)
		} else {
			kept = append(kept, ch)
		}
	}
	clear(f.chunks[len(kept):])
	f.chunks, f.head = kept, 0
}

// release is done with a chunk taken off the queue.
func (f *fetcher) release(ch *chunk) {
	if ch.it != nil {
		f.endBatch(ch)
	}
	f.queued -= ch.left
	ch.ps.chunks--
	if !ch.kept {
		f.reuse(ch.buf)
	}
	*ch = chunk{}
	f.spare = append(f.spare, ch)
}

// reuse keeps a read buffer for the next reads, if there is room.
func (f *fetcher) reuse(buf []byte) {
	if c := cap(buf); c > 0 && f.freeCap+c <= maxFreeFetches*max(f.set.MaxPartitionFetchBytes, 1<<20) {
		f.free = append(f.free, buf[:0])
		f.freeCap += c
	}
}

// buffer is a read buffer to read into (nil: the read allocates one).
func (f *fetcher) buffer() []byte {
	k := len(f.free)
	if k == 0 {
		return nil
	}
	buf := f.free[k-1]
	f.free[k-1] = nil
	f.free = f.free[:k-1]
	f.freeCap -= cap(buf)
	return buf
}

// fail reports the record of the first chunk that does not decode: the
// chunk and any later one of its partition are dropped and the partition
// is fetched again from its position, where the next Poll finds the
// record again.
func (f *fetcher) fail(ch *chunk) error {
	ps, err := ch.ps, ch.err
	f.drop(func(c *chunk) bool { return c.ps == ps })
	ps.fetchPos = ps.pos
	return fmt.Errorf("consumer: %s-%d at offset %d: %w", ps.tp.Topic, ps.tp.Partition, ps.pos, err)
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
// different one each time so that none starves, and queues what it read.
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
		n, err := f.fetchPartition(ps, budget)
		budget -= n
		total += n
		if err != nil {
			return total, err
		}
	}
	if len(f.order) > 0 {
		f.next = (f.next + 1) % len(f.order)
	}
	return total, nil
}

// fetchPartition reads ps from its fetch position, up to
// max.partition.fetch.bytes and budget, and returns the bytes read. Each
// read asks for what the records this Poll still lacks take, by the size
// of the partition's records read before (the first read: one batch), and
// it reads again while that was too little and the partition has more: a
// Seek and a Poll of one record read one batch, not a megabyte.
func (f *fetcher) fetchPartition(ps *partState, budget int) (int, error) {
	left, total := f.set.MaxPartitionFetchBytes, 0
	for {
		want := min(left, budget)
		if need := f.set.MaxPollRecords - f.queued; ps.recordBytes == 0 {
			want = min(want, 1) // at least one whole batch is read
		} else if need <= want/ps.recordBytes {
			want = need * ps.recordBytes
		}
		data, err := ps.part.Read(f.buffer(), ps.fetchPos, want)
		if err != nil {
			f.reuse(data)
		}
		if errors.Is(err, commitlog.ErrOffsetOutOfRange) {
			return total, f.reset(ps)
		}
		if errors.Is(err, commitlog.ErrUnknownTopic) {
			// Deleted: the other partitions go on (a group rebalances it
			// away). Failing the Poll would starve them all.
			ps.gone = true
			f.b.Logger().Warn("assigned partition's topic was deleted; skipping it", "topic", ps.tp.Topic, "partition", ps.tp.Partition)
			return total, nil
		}
		if err != nil {
			return total, fmt.Errorf("consumer: %w", err)
		}
		if len(data) == 0 {
			f.reuse(data)
			return total, nil
		}
		total += len(data)
		left -= len(data)
		budget -= len(data)
		if err := f.decode(ps, data); err != nil {
			return total, err
		}
		if f.full() || left <= 0 || budget <= 0 || ps.part.HighWatermark() <= ps.fetchPos {
			return total, nil
		}
	}
}

// decode checks the batches of data, fetched at ps.fetchPos, queues them
// for Poll to decode their records and moves ps.fetchPos past them. The
// log returns whole batches that start with the one holding the position,
// or on a compacted topic, whose cleaner may have removed it, with the
// first one after it; each batch then starts where the one before it ends
// (compacted: after it). Records of the first batch below the position
// were consumed before and are skipped. Any other data is damage: it is an
// error wrapping commitlog.ErrCorrupt, never records skipped or jumped to;
// the batches before the damage are queued.
func (f *fetcher) decode(ps *partState, data []byte) error {
	// Only a batch that breaks the dense rule asks whether the log is
	// compacted (Compacted copies the log's config).
	compacted := 0 // 1 yes, -1 no, 0 not asked
	isCompacted := func() bool {
		if compacted == 0 {
			compacted = -1
			if ps.part.Compacted() {
				compacted = 1
			}
		}
		return compacted > 0
	}
	at, first, prevLast := ps.fetchPos, true, int64(0)
	end, records, all := 0, 0, 0
	var err error
	for end < len(data) {
		var h record.BatchHeader
		if h, err = record.Check(data[end:]); err != nil {
			break
		}
		last := h.LastOffset()
		switch {
		case last < h.BaseOffset: // overflows
			err = fmt.Errorf("a batch fetched at offset %d spans %d more offsets than there are: %w", h.BaseOffset, h.LastOffsetDelta, commitlog.ErrCorrupt)
		case first && last < at:
			err = fmt.Errorf("the first batch fetched (offsets %d-%d) ends below the position: %w", h.BaseOffset, last, commitlog.ErrCorrupt)
		case first && h.BaseOffset > at && !isCompacted():
			err = fmt.Errorf("the first batch fetched (offsets %d-%d) starts after the position: %w", h.BaseOffset, last, commitlog.ErrCorrupt)
		case !first && (h.BaseOffset <= prevLast || h.BaseOffset-1 != prevLast && !isCompacted()):
			err = fmt.Errorf("a batch fetched at offset %d does not follow the one before it, which ends at %d: %w", h.BaseOffset, prevLast, commitlog.ErrCorrupt)
		}
		if err != nil {
			break
		}
		if !h.IsControl() {
			n := int64(h.NumRecords)
			if first && h.BaseOffset < at {
				n = min(n, last-at+1) // those below at are skipped
			}
			records += int(n)
		}
		first, prevLast = false, last
		all += int(h.NumRecords)
		end += h.Size()
		ps.fetchPos = max(ps.fetchPos, h.NextOffset())
	}
	if all > 0 {
		ps.recordBytes = (end + all - 1) / all
	}
	if records > 0 {
		f.push(ps, data[:end], at, records)
	} else {
		f.reuse(data)
		if ps.chunks == 0 {
			ps.pos = ps.fetchPos // control batches only: nothing to return below it
		}
	}
	if err != nil {
		return fmt.Errorf("consumer: %s-%d at offset %d: %w", ps.tp.Topic, ps.tp.Partition, ps.fetchPos, err)
	}
	return nil
}
