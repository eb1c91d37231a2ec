package log

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/commitlog-go/commitlog/record"
	"github.com/commitlog-go/commitlog/segment"
)

// Extra file name suffixes of segments in the middle of a compaction, as
// Kafka names them.
const (
	CleanedFileSuffix = ".cleaned" // being written by the cleaner
	SwapFileSuffix    = ".swap"    // complete, replacing the segments it was cleaned from
	DeletedFileSuffix = ".deleted" // replaced, removed once its last reader is done
)

// CleanerConfig holds the settings of a Cleaner that Kafka sets per broker
// rather than per topic.
type CleanerConfig struct {
	// DedupeBufferSize bounds the offset map (log.cleaner.dedupe.buffer.size,
	// default 128 MiB). The map takes 16 bytes a slot and fills to 90%, so
	// 128 MiB maps about 7.5 million distinct keys per pass.
	DedupeBufferSize int64
	// IOMaxBytesPerSecond throttles the cleaner so that the bytes it reads
	// and writes stay below this rate on average
	// (log.cleaner.io.max.bytes.per.second; zero or negative: unlimited).
	IOMaxBytesPerSecond float64
}

// Cleaner compacts logs, one pass of one log at a time, keeping its offset
// map and buffers from one pass to the next so that a long-running cleaner
// does not allocate per pass. It is not safe for concurrent use; one
// broker runs one.
type Cleaner struct {
	cfg  CleanerConfig
	m    *offsetMap
	it   record.Iterator
	bl   *record.Builder
	out  []byte // batches waiting to be written to the cleaned segment
	keep []bool // per record of the current batch: retained
	thr  throttler
}

// NewCleaner returns a Cleaner with the given settings.
func NewCleaner(cfg CleanerConfig) *Cleaner {
	if cfg.DedupeBufferSize <= 0 {
		cfg.DedupeBufferSize = DefaultDedupeBufferSize
	}
	return &Cleaner{
		cfg: cfg,
		m:   newOffsetMap(cfg.DedupeBufferSize),
		bl:  record.NewBuilder(0, record.BatchOptions{}),
		thr: throttler{rate: cfg.IOMaxBytesPerSecond},
	}
}

// CleanResult describes one compaction pass.
type CleanResult struct {
	// FirstDirtyOffset is where the pass began mapping keys; EndOffset is
	// the first offset it did not map, the next pass's first dirty offset.
	// Every closed segment below EndOffset was rewritten.
	FirstDirtyOffset int64
	EndOffset        int64
	// MapFull is set when the offset map filled before the cleanable end
	// of the log: the rest waits for the next pass.
	MapFull bool
	// KeysMapped is the number of distinct keys (hashes) in the map.
	KeysMapped int
	// MapBytes is the memory of the offset map's table.
	MapBytes int64
	// SegmentsBefore were replaced by SegmentsAfter (groups of small
	// segments are merged).
	SegmentsBefore, SegmentsAfter int
	// BytesRead counts both reads of the pass (mapping, then rewriting);
	// BytesBefore and BytesAfter are the sizes of the rewritten segments.
	BytesRead, BytesBefore, BytesAfter int64
	// RecordsBefore and RecordsAfter count the records of the rewritten
	// segments; TombstonesRemoved counts tombstones whose delete horizon
	// had passed.
	RecordsBefore, RecordsAfter, TombstonesRemoved int64
	Duration                                       time.Duration
}

// errSkipGroup reports a group of segments that changed under the cleaner
// (retention deleted some of them): its cleaned copy is discarded.
var errSkipGroup = errors.New("segments changed during cleaning")

// errStopScan ends a segment scan early.
var errStopScan = errors.New("stop scan")

// Compact runs one compaction pass over the log now, whatever its dirty
// ratio, with an offset map of Config.DedupeBufferSize and no throttling;
// the broker's cleaner runs passes in the background instead. The log must
// have Config.Compact set. Appends and reads continue during the pass.
func (l *Log) Compact() (CleanResult, error) {
	c := NewCleaner(CleanerConfig{DedupeBufferSize: l.cfg.DedupeBufferSize})
	return c.Clean(context.Background(), l)
}

// Clean runs one compaction pass over l, as the package documentation
// describes. It returns early, with ctx's error, when ctx ends, and with
// ErrClosed when the log closes; what it had not yet swapped in is
// discarded and the log is as before that group.
func (c *Cleaner) Clean(ctx context.Context, l *Log) (CleanResult, error) {
	res := CleanResult{FirstDirtyOffset: -1, EndOffset: -1}
	if l.readOnly {
		return res, l.readOnlyErr("compact")
	}
	if !l.tunes().compact {
		return res, fmt.Errorf("log %s: compaction is off (cleanup.policy does not include compact)", l.dir)
	}
	l.cleanMu.Lock()
	defer l.cleanMu.Unlock()
	if l.closed.Load() {
		return res, fmt.Errorf("log %s: %w", l.dir, ErrClosed)
	}
	if l.uncleanable.Load() {
		return res, fmt.Errorf("log %s: compaction disabled after a failed swap; reopen the log to finish it", l.dir)
	}
	began := time.Now()
	defer func() { res.Duration = time.Since(began) }()
	now := l.cfg.Now().UnixMilli()
	c.thr.reset()

	segs := l.segments()
	closedSegs := segs[:len(segs)-1]
	if len(closedSegs) == 0 {
		return res, nil
	}
	firstDirty := l.firstDirty(segs)
	res.FirstDirtyOffset = firstDirty

	end, full, err := c.buildMap(ctx, l, closedSegs, firstDirty, now)
	res.MapFull, res.KeysMapped, res.MapBytes = full, c.m.n, c.m.bytes()
	if err != nil {
		return res, err
	}
	res.EndOffset = end
	horizon := l.cleanHorizon.Load()
	if end <= firstDirty && (horizon < 0 || horizon > now) {
		return res, nil // nothing new to map, no tombstone due
	}
	var toClean []*segment.Segment
	for _, s := range closedSegs {
		if s.BaseOffset() < end {
			toClean = append(toClean, s)
		}
	}
	minHorizon := int64(-1)
	skippedFrom := int64(-1)
	for _, group := range groupSegments(toClean, l.cfg.SegmentBytes) {
		h, err := c.cleanGroup(ctx, l, group, end, now, &res)
		if errors.Is(err, errSkipGroup) {
			l.cfg.Logger.Warn("compaction skipped segments that changed meanwhile", "dir", l.dir, "segment", group[0].BaseOffset())
			if skippedFrom < 0 {
				skippedFrom = group[0].BaseOffset()
			}
			continue
		}
		if err != nil {
			return res, err
		}
		if h >= 0 && (minHorizon < 0 || h < minHorizon) {
			minHorizon = h
		}
	}
	cp := cleanerCheckpoint{firstDirty: end, deleteHorizon: minHorizon}
	if skippedFrom >= 0 {
		// What was skipped is still dirty.
		cp.firstDirty = max(l.cleanFirstDirty.Load(), min(end, skippedFrom))
		if horizon >= 0 && (cp.deleteHorizon < 0 || horizon < cp.deleteHorizon) {
			cp.deleteHorizon = horizon
		}
	}
	if err := l.step("checkpoint"); err != nil {
		return res, err
	}
	if err := writeCheckpoint(l.cfg.FS, l.dir, cp); err != nil {
		// Only progress is lost: the next pass maps from further back.
		l.cfg.Logger.Warn("could not write the cleaner checkpoint", "dir", l.dir, "err", err)
	}
	l.cleanFirstDirty.Store(cp.firstDirty)
	l.cleanHorizon.Store(cp.deleteHorizon)
	return res, nil
}

// firstDirty is the first offset the cleaner has not mapped yet: the
// checkpoint, or the log start offset when there is none or it is out of
// range.
func (l *Log) firstDirty(segs []*segment.Segment) int64 {
	start := segs[0].BaseOffset()
	cp := l.cleanFirstDirty.Load()
	if cp < start || cp > l.end.Load() {
		return start
	}
	return cp
}

// buildMap maps the key of every record of the closed segments from
// firstDirty on to its latest offset, and returns the first offset not
// mapped: the end of the closed segments, the base offset of the first
// batch younger than min.compaction.lag.ms, or, when the map fills, the
// end of the last segment mapped whole (the end of the last batch mapped
// whole if the map cannot hold even one segment).
func (c *Cleaner) buildMap(ctx context.Context, l *Log, segs []*segment.Segment, firstDirty, now int64) (end int64, full bool, err error) {
	c.m.reset()
	lagLimit := now - max(l.cfg.MinCompactionLag, 0).Milliseconds()
	end = firstDirty
	batchEnd := firstDirty // end of the last batch mapped whole
	for _, s := range segs {
		if s.NextOffset() <= firstDirty {
			continue
		}
		young := false
		err := s.Scan(func(h *record.BatchHeader, _ int64, batch []byte) error {
			if err := c.check(ctx, l, len(batch)); err != nil {
				return err
			}
			if h.LastOffset() < firstDirty {
				return nil
			}
			if h.MaxTimestamp > lagLimit {
				young = true
				return errStopScan
			}
			if _, err := record.Check(batch); err != nil {
				return fmt.Errorf("log %s: %w", l.dir, err)
			}
			if !h.IsControl() {
				if err := c.it.ResetChecked(h, batch); err != nil {
					if errors.Is(err, record.ErrUnsupportedCompression) {
						batchEnd = h.NextOffset() // kept as it is; its keys stay unmapped
						return nil
					}
					return fmt.Errorf("log %s: %w", l.dir, err)
				}
				for c.it.Next() {
					r := c.it.Record()
					if r.Key == nil {
						continue
					}
					if !c.m.put(r.Key, r.Offset) {
						full = true
						return errStopScan
					}
				}
				if err := c.it.Err(); err != nil {
					return fmt.Errorf("log %s: %w", l.dir, err)
				}
			}
			batchEnd = h.NextOffset()
			return nil
		})
		switch {
		case errors.Is(err, segment.ErrClosed) && !l.closed.Load():
			continue // retention deleted the segment meanwhile
		case errors.Is(err, errStopScan) && young:
			return batchEnd, false, nil
		case errors.Is(err, errStopScan) && full:
			if end > firstDirty {
				return end, true, nil
			}
			if batchEnd > firstDirty {
				return batchEnd, true, nil
			}
			return firstDirty, true, fmt.Errorf("log %s: a batch at offset %d has more keys than the offset map (log.cleaner.dedupe.buffer.size %d) holds", l.dir, batchEnd, c.cfg.DedupeBufferSize)
		case err != nil:
			return firstDirty, false, err
		}
		end = s.NextOffset()
		batchEnd = end
	}
	return end, false, nil
}

// check is called for every batch the cleaner reads: it stops the pass
// when ctx ends or the log closes, and throttles.
func (c *Cleaner) check(ctx context.Context, l *Log, n int) error {
	if l.closed.Load() {
		return fmt.Errorf("log %s: %w", l.dir, ErrClosed)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return c.thr.wait(ctx, l, n)
}

// groupSegments splits consecutive segments into groups that are merged
// into one segment each: a group's total size stays within segment.bytes
// and its offsets within the 32-bit relative offsets of the index
// (Kafka's groupSegmentsBySize). Empty segments are left alone.
func groupSegments(segs []*segment.Segment, maxBytes int64) [][]*segment.Segment {
	var groups [][]*segment.Segment
	for i := 0; i < len(segs); {
		if segs[i].Size() == 0 {
			i++
			continue
		}
		g := []*segment.Segment{segs[i]}
		size := segs[i].Size()
		j := i + 1
		for ; j < len(segs); j++ {
			s := segs[j]
			if s.Size() == 0 || size+s.Size() > maxBytes || s.NextOffset()-1-g[0].BaseOffset() > math.MaxInt32 {
				break
			}
			g = append(g, s)
			size += s.Size()
		}
		groups = append(groups, g)
		i = j
	}
	return groups
}

// flushBytes is how many cleaned bytes the cleaner gathers before writing
// them to the cleaned segment with one write.
const flushBytes = 1 << 20

// cleanGroup writes the compacted copy of a group of segments into a new
// segment with the ".cleaned" suffix, fsyncs it and swaps it in. It
// returns the earliest delete horizon of the batches it kept tombstones
// in (-1 if none).
func (c *Cleaner) cleanGroup(ctx context.Context, l *Log, group []*segment.Segment, end, now int64, res *CleanResult) (int64, error) {
	base := group[0].BaseOffset()
	groupEnd := group[len(group)-1].NextOffset()
	segCfg := l.cfg.segmentConfig()
	segCfg.Compacted = true
	if err := segment.RemoveFiles(l.cfg.FS, l.dir, base, CleanedFileSuffix); err != nil {
		return -1, fmt.Errorf("log %s: %w", l.dir, err)
	}
	dst, err := segment.OpenWithSuffix(l.dir, base, CleanedFileSuffix, segCfg)
	if err != nil {
		return -1, fmt.Errorf("log %s: %w", l.dir, err)
	}
	done := false
	defer func() {
		if !done {
			_ = dst.Delete()
		}
	}()
	f := filter{c: c, end: end, now: now, retention: max(*l.cfg.DeleteRetention, 0).Milliseconds(), horizon: -1}
	c.out = c.out[:0]
	flush := func() error {
		if len(c.out) == 0 {
			return nil
		}
		if err := dst.AppendBatches(c.out); err != nil {
			return fmt.Errorf("log %s: cleaned segment %d: %w", l.dir, base, err)
		}
		n := len(c.out)
		c.out = c.out[:0]
		return c.thr.wait(ctx, l, n)
	}
	var groupBytes int64
	for _, s := range group {
		groupBytes += s.Size()
		err := s.Scan(func(h *record.BatchHeader, _ int64, batch []byte) error {
			if err := c.check(ctx, l, len(batch)); err != nil {
				return err
			}
			res.BytesRead += int64(len(batch))
			// The group's last batch stays, empty if need be, so that the
			// cleaned segment ends where the group did: recovery of an
			// interrupted swap relies on it.
			if err := f.batch(h, batch, h.NextOffset() == groupEnd); err != nil {
				return fmt.Errorf("log %s: %w", l.dir, err)
			}
			if len(c.out) >= flushBytes {
				return flush()
			}
			return nil
		})
		if errors.Is(err, segment.ErrClosed) && !l.closed.Load() {
			return -1, errSkipGroup // retention deleted the segment meanwhile
		}
		if err != nil {
			return -1, err
		}
	}
	if err := flush(); err != nil {
		return -1, err
	}
	if dst.NextOffset() != groupEnd {
		return -1, fmt.Errorf("log %s: cleaned segment %d ends at %d, not at %d", l.dir, base, dst.NextOffset(), groupEnd)
	}
	if err := dst.Seal(); err != nil {
		return -1, fmt.Errorf("log %s: %w", l.dir, err)
	}
	if err := l.step("cleaned"); err != nil {
		return -1, err
	}
	done = true
	if err := l.install(group, dst); err != nil {
		if dst.Suffix() == CleanedFileSuffix {
			_ = dst.Delete() // not committed: the old segments stay
		} else {
			_ = dst.Close() // committed on disk: the next Open finishes the swap
		}
		return -1, err
	}
	res.SegmentsBefore += len(group)
	res.SegmentsAfter++
	res.BytesBefore += groupBytes
	res.BytesAfter += dst.Size()
	res.RecordsBefore += f.recordsIn
	res.RecordsAfter += f.recordsOut
	res.TombstonesRemoved += f.tombstonesRemoved
	l.cfg.Logger.Debug("compacted segments", "dir", l.dir, "segment", base, "merged", len(group), "bytes_before", groupBytes, "bytes_after", dst.Size())
	return f.horizon, nil
}

// filter decides which records of a batch the cleaner keeps and writes
// the batch (as it was, rebuilt without the others, or not at all) to the
// cleaner's output buffer.
type filter struct {
	c         *Cleaner
	end       int64 // first offset not mapped: batches from here on are copied as they are
	now       int64
	retention int64 // delete.retention.ms
	horizon   int64 // earliest delete horizon of a batch written with tombstones, -1 if none

	recordsIn, recordsOut, tombstonesRemoved int64
}

func (f *filter) batch(h *record.BatchHeader, batch []byte, keepEmpty bool) error {
	c := f.c
	// Never launder a damaged batch into a new one with a valid CRC: the
	// pass fails and the segment stays as it is.
	if _, err := record.Check(batch); err != nil {
		return err
	}
	// Batches past the mapped range, control batches (commitlog writes no
	// transactions) and batches this package cannot decompress are kept
	// as they are.
	if h.BaseOffset >= f.end || h.IsControl() {
		c.out = append(c.out, batch...)
		return nil
	}
	if err := c.it.ResetChecked(h, batch); err != nil {
		if errors.Is(err, record.ErrUnsupportedCompression) {
			c.out = append(c.out, batch...)
			return nil
		}
		return err
	}
	horizon, hasHorizon := h.DeleteHorizon()
	c.keep = c.keep[:0]
	kept, tombstones := 0, 0
	for c.it.Next() {
		r := c.it.Record()
		keep := r.Key != nil // a record without a key cannot be compacted; Kafka drops it too
		if keep {
			if off, ok := c.m.get(r.Key); ok && r.Offset < off {
				keep = false // a later record has the key
			} else if r.Value == nil {
				if hasHorizon && f.now >= horizon {
					keep = false
					f.tombstonesRemoved++
				} else {
					tombstones++
				}
			}
		}
		if keep {
			kept++
		}
		c.keep = append(c.keep, keep)
	}
	if err := c.it.Err(); err != nil {
		return err
	}
	f.recordsIn += int64(len(c.keep))
	f.recordsOut += int64(kept)
	opts := h.Options()
	if tombstones > 0 && !hasHorizon {
		// KIP-534: the first cleaning of a batch with tombstones stamps it
		// with the time after which they may go.
		opts.DeleteHorizon = f.now + f.retention
	}
	if tombstones > 0 && (f.horizon < 0 || opts.DeleteHorizon < f.horizon) {
		f.horizon = opts.DeleteHorizon
	}
	switch {
	case kept == 0 && !keepEmpty:
		return nil // the whole batch goes
	case kept == len(c.keep) && (tombstones == 0 || hasHorizon):
		c.out = append(c.out, batch...) // unchanged
		return nil
	}
	if err := c.it.ResetChecked(h, batch); err != nil {
		return err
	}
	bl := c.bl
	bl.Reset(h.BaseOffset, opts)
	bl.SetTimestamps(h.FirstTimestamp, h.MaxTimestamp)
	for i := 0; c.it.Next(); i++ {
		if c.keep[i] {
			r := c.it.Record()
			bl.AddWithDelta(int32(r.Offset-h.BaseOffset), r.Timestamp, r.Key, r.Value, r.Headers)
		}
	}
	if err := c.it.Err(); err != nil {
		return err
	}
	bl.SetLastOffsetDelta(h.LastOffsetDelta)
	out, err := bl.Build()
	if err != nil {
		return err
	}
	c.out = append(c.out, out...)
	return nil
}

// install swaps a cleaned segment in for the group it was cleaned from,
// under the log's mutex (appends wait for a few renames and directory
// fsyncs, never for data I/O):
//
//  1. rename the cleaned segment's files to ".swap" and fsync the
//     directory: from here on, recovery completes the swap;
//  2. rename each old segment's files to ".deleted" (its readers keep
//     their open files) and fsync the directory;
//  3. rename the ".swap" files to their final names and fsync the
//     directory;
//  4. publish the new segment list; the old segments' files go when
//     their last reader is done.
//
// A failure before step 1 completes leaves the old segments as they were
// (the caller removes the cleaned files). A failure after it leaves the
// files for recovery to finish on the next Open, keeps serving the old
// segments, whose open files hold the same records, and turns compaction
// of this log off until then.
func (l *Log) install(group []*segment.Segment, dst *segment.Segment) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed.Load() {
		return fmt.Errorf("log %s: %w", l.dir, ErrClosed)
	}
	segs := l.segments()
	i := slices.Index(segs, group[0])
	if i < 0 || i+len(group) >= len(segs) || !slices.Equal(segs[i:i+len(group)], group) {
		return errSkipGroup
	}
	if err := dst.RenameSuffix(SwapFileSuffix); err != nil {
		return fmt.Errorf("log %s: %w", l.dir, err)
	}
	commit := func() error {
		if err := l.cfg.FS.SyncDir(l.dir); err != nil {
			return err
		}
		if err := l.step("swap"); err != nil {
			return err
		}
		for _, s := range group {
			if err := s.RenameSuffix(DeletedFileSuffix); err != nil {
				return err
			}
			if err := l.step(fmt.Sprintf("deleted %d", s.BaseOffset())); err != nil {
				return err
			}
		}
		if err := l.cfg.FS.SyncDir(l.dir); err != nil {
			return err
		}
		if err := dst.RenameSuffix(""); err != nil {
			return err
		}
		if err := l.cfg.FS.SyncDir(l.dir); err != nil {
			return err
		}
		return l.step("installed")
	}
	if err := commit(); err != nil {
		l.uncleanable.Store(true)
		l.cfg.Logger.Error("compaction swap failed; the old segments stay in use and the next open finishes the swap", "dir", l.dir, "segment", dst.BaseOffset(), "err", err)
		return fmt.Errorf("log %s: compaction swap of segment %d: %w", l.dir, dst.BaseOffset(), err)
	}
	next := make([]*segment.Segment, 0, len(segs)-len(group)+1)
	next = append(next, segs[:i]...)
	next = append(next, dst)
	next = append(next, segs[i+len(group):]...)
	l.publish(next)
	var errs []error
	for _, s := range group {
		errs = append(errs, s.Delete())
	}
	if err := errors.Join(errs...); err != nil {
		l.cfg.Logger.Warn("removing compacted segments", "dir", l.dir, "err", err)
	}
	_ = l.step("published") // the swap is done: a test can only look
	return nil
}

// step is the failure-injection point of the compaction swap; tests set
// l.hook to stop (or snapshot the directory) at each step.
func (l *Log) step(name string) error {
	if l.hook != nil {
		return l.hook(name)
	}
	return nil
}

// throttler keeps the cleaner's I/O below a rate in bytes per second, on
// average since the pass began.
type throttler struct {
	rate  float64
	start time.Time
	bytes float64
}

func (t *throttler) reset() {
	t.start = time.Now()
	t.bytes = 0
}

func (t *throttler) wait(ctx context.Context, l *Log, n int) error {
	if t.rate <= 0 {
		return nil
	}
	t.bytes += float64(n)
	ahead := time.Duration(t.bytes/t.rate*float64(time.Second)) - time.Since(t.start)
	for ahead > 0 {
		d := min(ahead, 50*time.Millisecond)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(d):
		}
		if l.closed.Load() {
			return fmt.Errorf("log %s: %w", l.dir, ErrClosed)
		}
		ahead -= d
	}
	return nil
}
