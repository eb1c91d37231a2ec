package log

import (
	"cmp"
	"errors"
	"fmt"
	"io/fs"
	"slices"

	"github.com/commitlog-go/commitlog/segment"
)

// ErrReadOnly reports a change asked of a log (or broker) opened read-only:
// another process owns its files.
var ErrReadOnly = errors.New("commitlog: read-only")

func (l *Log) readOnlyErr(op string) error {
	return fmt.Errorf("log %s: %s: %w", l.dir, op, ErrReadOnly)
}

// OpenReadOnly opens the log in dir for reading only, while another
// process (or Broker) owns it and may be appending, rolling, applying
// retention and compacting. It writes nothing: no recovery, no truncation,
// no index file, no clean-shutdown marker; a missing directory is an
// error wrapping fs.ErrNotExist. Every segment is opened with
// segment.OpenReadOnly, which scans it (checking every batch's CRC) and
// indexes it in memory: opening reads the whole log once.
//
// The log shows what the files held when it opened; Refresh catches up
// with the owner. Its end offset is the end of the last complete batch
// that passed its checks. Append, Roll, Maintain, compaction,
// DeleteRecordsBefore and Delete fail with ErrReadOnly; Close closes the
// files. cfg.Checkpoint's StartOffset, if set, is the owner's log start
// offset (records below it are hidden, as after DeleteRecordsBefore);
// Logger, FS, Compact and the segment settings are used, the rest is
// ignored.
func OpenReadOnly(dir string, cfg Config) (*Log, error) {
	cfg = cfg.withDefaults()
	l := &Log{dir: dir, cfg: cfg, readOnly: true}
	l.tune(&l.cfg)
	l.flushEnd.L = &l.flushMu
	l.cleanFirstDirty.Store(-1)
	l.cleanHorizon.Store(-1)
	start := int64(-1)
	if cfg.Checkpoint != nil {
		start = cfg.Checkpoint.StartOffset
	}
	if _, err := l.Refresh(start); err != nil {
		return nil, err
	}
	if l.segs.Load() == nil {
		return nil, fmt.Errorf("log %s: no segment to read (the owner has not created the log yet, or is in the middle of changing it): %w", dir, fs.ErrNotExist)
	}
	return l, nil
}

// ReadOnly reports whether the log was opened by OpenReadOnly.
func (l *Log) ReadOnly() bool { return l.readOnly }

// Refresh catches a read-only log up with its owner: it reads the batches
// appended since the last call, opens the segments the owner rolled,
// installs the segments a compaction swap put in place of others (a file
// under a segment's name that is not the one held open), and drops the
// segments whose files retention removed. start is the owner's log start
// offset as last recorded (its log-start-offset-checkpoint), or -1 if
// unknown: the start offset moves up to it, and a segment whose file is
// gone is dropped only when it ends at or below start (retention) or when
// a segment that replaced it covers its offsets (compaction). A file gone
// for another reason, or in the middle of a swap, stays in use (its open
// file still holds its batches) until the directory makes sense again.
// Reads in flight on a dropped segment finish with the bytes they hold;
// the next read below the new start gets ErrOffsetOutOfRange.
//
// It reports whether the end or the start offset moved or the segments
// changed. The log's directory being gone is an error wrapping
// fs.ErrNotExist (the topic was deleted). Calls are serialised.
func (l *Log) Refresh(start int64) (changed bool, err error) {
	if !l.readOnly {
		return false, fmt.Errorf("log %s: Refresh of a log opened for writing", l.dir)
	}
	l.refreshMu.Lock()
	defer l.refreshMu.Unlock()
	if l.closed.Load() {
		return false, fmt.Errorf("log %s: %w", l.dir, ErrClosed)
	}
	entries, err := l.cfg.FS.ReadDir(l.dir)
	if err != nil {
		return false, fmt.Errorf("log %s: %w", l.dir, err)
	}
	var bases []int64
	for _, e := range entries {
		if base, ok := parseName(e.Name(), segment.LogSuffix); ok {
			bases = append(bases, base)
		}
	}
	slices.Sort(bases)

	var old []*segment.Segment
	if p := l.segs.Load(); p != nil {
		old = *p
	}
	compact := l.tunes().compact
	segCfg := l.cfg.segmentConfig()
	segCfg.Compacted = compact
	byBase := make(map[int64]*segment.Segment, len(old))
	for _, s := range old {
		byBase[s.BaseOffset()] = s
	}
	reused := map[*segment.Segment]bool{}
	var opened, fresh []*segment.Segment
	closeOpened := func() {
		for _, s := range opened {
			_ = s.Close()
		}
	}
	for i, base := range bases {
		if s := byBase[base]; s != nil {
			// A file can only be put in place of another by a
			// compaction swap, or cut by the owner's recovery after a
			// restart, which ends the active segment: check those.
			if !(compact || i == len(bases)-1 || s == old[len(old)-1]) || !s.Replaced() {
				fresh = append(fresh, s)
				reused[s] = true
				continue
			}
		}
		s, err := segment.OpenReadOnly(l.dir, base, segCfg)
		if errors.Is(err, fs.ErrNotExist) {
			continue // removed since the listing
		}
		if err != nil {
			closeOpened()
			return false, fmt.Errorf("log %s: %w", l.dir, err)
		}
		opened = append(opened, s)
		fresh = append(fresh, s)
	}
	// The old last segments may have grown before a roll; the new ones
	// may have since they were opened.
	for _, s := range fresh {
		if reused[s] && len(old) > 0 && s.BaseOffset() < old[len(old)-1].BaseOffset() {
			continue // closed to appends before the last refresh
		}
		if _, err := s.CatchUp(); err != nil {
			closeOpened()
			return false, fmt.Errorf("log %s: %w", l.dir, err)
		}
	}
	var keep, drop []*segment.Segment
	for _, s := range old {
		if reused[s] {
			continue
		}
		if (start >= 0 && s.NextOffset() <= start) || coveredBy(s, fresh) {
			drop = append(drop, s)
		} else {
			keep = append(keep, s)
		}
	}
	segs := append(slices.Clone(fresh), keep...)
	slices.SortFunc(segs, func(a, b *segment.Segment) int { return cmp.Compare(a.BaseOffset(), b.BaseOffset()) })
	if !contiguous(segs) || len(segs) == 0 {
		// In the middle of a change (a swap renames the files one by one),
		// or damage the owner will report: keep the view as it is and
		// look again at the next refresh.
		closeOpened()
		if len(old) > 0 {
			return l.moveEnd(old, start), nil
		}
		return false, nil
	}
	changed = len(opened) > 0 || len(drop) > 0
	l.segs.Store(&segs)
	changed = l.moveEnd(segs, start) || changed
	for _, s := range drop {
		_ = s.Close() // waits for the reads in flight, which copy out
	}
	return changed, nil
}

// moveEnd publishes the start and end offsets of segs; it reports whether
// either moved.
func (l *Log) moveEnd(segs []*segment.Segment, start int64) bool {
	last := segs[len(segs)-1]
	end := max(last.NextOffset(), last.BaseOffset())
	newStart := min(max(segs[0].BaseOffset(), l.start.Load(), start), end)
	moved := newStart != l.start.Load() || end != l.end.Load()
	l.start.Store(newStart)
	// flushed first: SyncTo never sees records it would have to flush.
	l.markFlushed(end)
	l.end.Store(end)
	return moved
}

// coveredBy reports whether a segment of segs holds every offset of s: s
// was merged into it by a compaction swap.
func coveredBy(s *segment.Segment, segs []*segment.Segment) bool {
	for _, n := range segs {
		if n.BaseOffset() == s.BaseOffset() || n.BaseOffset() <= s.BaseOffset() && s.NextOffset() <= n.NextOffset() {
			return true
		}
	}
	return false
}

// contiguous reports whether each segment starts where the one before it
// ends.
func contiguous(segs []*segment.Segment) bool {
	for i := 1; i < len(segs); i++ {
		if segs[i].BaseOffset() != segs[i-1].NextOffset() {
			return false
		}
	}
	return true
}

// closeReadOnly closes a read-only log: its files only.
func (l *Log) closeReadOnly() error {
	l.refreshMu.Lock()
	defer l.refreshMu.Unlock()
	if l.closed.Swap(true) {
		return nil
	}
	var errs []error
	if p := l.segs.Load(); p != nil {
		for _, s := range *p {
			errs = append(errs, s.Close())
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("log %s: %w", l.dir, err)
	}
	return nil
}
