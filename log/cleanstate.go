package log

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/commitlog-go/commitlog/record"
	"github.com/commitlog-go/commitlog/segment"
)

// recoverCleaning puts the directory back into a consistent state after a
// crash in the middle of a compaction, before the segments are listed:
//
//   - ".cleaned" files were never swapped in: removed;
//   - ".deleted" files were replaced already: removed;
//   - a ".log.swap" file is a complete, fsynced cleaned segment whose swap
//     had begun: the segments it replaces (every segment whose base offset
//     falls in its offset range) are removed and its files take their
//     final names; a damaged (torn or empty) one is removed instead while
//     the old segment at its base offset is still in place;
//   - ".swap" index files left without their ".log.swap" file are derived
//     data of a swap that completed or never began: removed.
//
// It returns the number of swaps it completed.
func (l *Log) recoverCleaning(segCfg segment.Config) (int, error) {
	entries, err := l.cfg.FS.ReadDir(l.dir)
	if err != nil {
		return 0, fmt.Errorf("log %s: %w", l.dir, err)
	}
	var swaps []int64
	for _, e := range entries {
		name := e.Name()
		switch {
		case strings.HasSuffix(name, CleanedFileSuffix), strings.HasSuffix(name, DeletedFileSuffix),
			name == CleanerCheckpointFile+".tmp":
			if err := l.cfg.FS.Remove(filepath.Join(l.dir, name)); err != nil && !errors.Is(err, os.ErrNotExist) {
				return 0, fmt.Errorf("log %s: %w", l.dir, err)
			}
		}
		if base, ok := parseName(name, segment.LogSuffix+SwapFileSuffix); ok {
			swaps = append(swaps, base)
		}
	}
	slices.Sort(swaps)
	completed := 0
	for _, base := range swaps {
		done, err := l.completeSwap(base, segCfg)
		if err != nil {
			return 0, fmt.Errorf("log %s: finishing the interrupted compaction swap of segment %d: %w", l.dir, base, err)
		}
		if done {
			completed++
		}
	}
	// Index files of a swap with no .log.swap left.
	entries, err = l.cfg.FS.ReadDir(l.dir)
	if err != nil {
		return 0, fmt.Errorf("log %s: %w", l.dir, err)
	}
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), SwapFileSuffix) {
			if err := l.cfg.FS.Remove(filepath.Join(l.dir, e.Name())); err != nil && !errors.Is(err, os.ErrNotExist) {
				return 0, fmt.Errorf("log %s: %w", l.dir, err)
			}
		}
	}
	if len(swaps) > 0 {
		if err := l.cfg.FS.SyncDir(l.dir); err != nil {
			return 0, fmt.Errorf("log %s: %w", l.dir, err)
		}
	}
	return completed, nil
}

// completeSwap finishes the swap of the .log.swap file with base offset
// base, or discards the swap when it is damaged (the cleaner fsyncs it
// whole before the commit point, so a torn or empty one is damage) and the
// segments it was cleaned from are all still in place: the swap renames
// the old segment at base first, so while base's .log file is there, none
// of them has been renamed yet. It reports whether it completed the swap.
func (l *Log) completeSwap(base int64, segCfg segment.Config) (bool, error) {
	swapLog := filepath.Join(l.dir, segment.FileName(base, segment.LogSuffix)+SwapFileSuffix)
	st, err := l.cfg.FS.Stat(swapLog)
	if err != nil {
		return false, err
	}
	segCfg.Compacted = true // the cleaner's output
	s, err := segment.OpenWithSuffix(l.dir, base, SwapFileSuffix, segCfg)
	if err != nil {
		return false, err
	}
	// Verify every batch, as Kafka recovers a swap segment before using it.
	if _, err := s.Recover(); err != nil {
		_ = s.Close()
		return false, err
	}
	next, size := s.NextOffset(), s.Size()
	if err := s.Close(); err != nil {
		return false, err
	}
	if size == 0 || size < st.Size() {
		if _, err := l.cfg.FS.Stat(filepath.Join(l.dir, segment.FileName(base, segment.LogSuffix))); err == nil {
			l.cfg.Logger.Warn("discarded a damaged compaction swap file; the segments it was cleaned from stay", "dir", l.dir, "segment", base, "bytes", st.Size(), "valid_bytes", size)
			return false, segment.RemoveFiles(l.cfg.FS, l.dir, base, SwapFileSuffix)
		}
	}
	entries, err := l.cfg.FS.ReadDir(l.dir)
	if err != nil {
		return false, err
	}
	for _, e := range entries {
		if old, ok := parseName(e.Name(), segment.LogSuffix); ok && old >= base && old < max(next, base+1) {
			if err := segment.RemoveFiles(l.cfg.FS, l.dir, old, ""); err != nil {
				return false, err
			}
		}
	}
	if err := l.cfg.FS.SyncDir(l.dir); err != nil {
		return false, err
	}
	for _, kind := range []string{segment.IndexSuffix, segment.TimeIndexSuffix, segment.LogSuffix} {
		from := filepath.Join(l.dir, segment.FileName(base, kind)+SwapFileSuffix)
		if err := l.cfg.FS.Rename(from, filepath.Join(l.dir, segment.FileName(base, kind))); err != nil && !errors.Is(err, os.ErrNotExist) {
			return false, err
		}
	}
	l.cfg.Logger.Warn("finished an interrupted compaction swap", "dir", l.dir, "segment", base, "next_offset", next)
	return true, nil
}

// CleanerState is what the log cleaner knows about a log.
type CleanerState struct {
	// Compact is Config.Compact.
	Compact bool
	// FirstDirtyOffset is the first offset the cleaner has not mapped yet.
	FirstDirtyOffset int64
	// CleanBytes are the bytes of closed segments below FirstDirtyOffset;
	// DirtyBytes those from it to the end of the closed segments, or to
	// the first segment with a batch younger than min.compaction.lag.ms.
	CleanBytes, DirtyBytes int64
	// DirtyRatio is DirtyBytes / (CleanBytes + DirtyBytes), 0 when both
	// are 0.
	DirtyRatio float64
	// DeleteHorizon is the earliest delete horizon (ms since the epoch) of
	// the tombstones the cleaner kept, -1 if none.
	DeleteHorizon int64
	// NeedsCleaning says the broker's cleaner should compact the log: it
	// is compacted, and its dirty ratio is at least
	// min.cleanable.dirty.ratio with some dirty bytes, or a kept
	// tombstone's delete horizon has passed.
	NeedsCleaning bool
	// Uncleanable is set after a swap failed half-way: the log is not
	// compacted again until it is reopened, which finishes the swap.
	Uncleanable bool
}

// CleanerState measures the log for the cleaner. It takes no lock and
// reads at most one index entry and a few batch headers.
func (l *Log) CleanerState() CleanerState {
	tun := l.tunes()
	st := CleanerState{Compact: tun.compact, DeleteHorizon: l.cleanHorizon.Load(), Uncleanable: l.uncleanable.Load()}
	segs := l.segments()
	st.FirstDirtyOffset = l.firstDirty(segs)
	now := l.cfg.Now().UnixMilli()
	lagLimit := now - max(tun.minCompactionLag, 0).Milliseconds()
	young := false
	for _, s := range segs[:len(segs)-1] {
		size := s.Size()
		clean := int64(0)
		switch {
		case s.NextOffset() <= st.FirstDirtyOffset:
			clean = size
		case s.BaseOffset() < st.FirstDirtyOffset:
			pos, err := s.Position(st.FirstDirtyOffset)
			if err != nil {
				pos = 0
			}
			clean = pos
		}
		st.CleanBytes += clean
		young = young || s.MaxTimestamp() > lagLimit
		if !young {
			st.DirtyBytes += size - clean
		}
	}
	if total := st.CleanBytes + st.DirtyBytes; total > 0 {
		st.DirtyRatio = float64(st.DirtyBytes) / float64(total)
	}
	due := st.DeleteHorizon >= 0 && st.DeleteHorizon <= now
	st.NeedsCleaning = st.Compact && !st.Uncleanable && !l.closed.Load() &&
		(st.DirtyBytes > 0 && st.DirtyRatio >= max(tun.minCleanableDirtyRatio, 0) || due)
	return st
}

var iterators = sync.Pool{New: func() any { return new(record.Iterator) }}

// checkKeys refuses a batch with a record that has no key: a compacted log
// cannot keep "the latest record of its key" for it (Kafka refuses it
// with INVALID_RECORD, "Compacted topic cannot accept message without
// key").
func checkKeys(h *record.BatchHeader, batch []byte) error {
	it := iterators.Get().(*record.Iterator)
	defer iterators.Put(it)
	if err := it.ResetChecked(h, batch); err != nil {
		return err
	}
	for it.Next() {
		if it.Record().Key == nil {
			return fmt.Errorf("record at offset delta %d has no key, and a compacted log needs one: %w", it.Record().Offset-h.BaseOffset, ErrInvalidRecord)
		}
	}
	return it.Err()
}
