package log

import (
	"errors"
	"fmt"
	"slices"

	"github.com/commitlog-go/commitlog/record"
	"github.com/commitlog-go/commitlog/segment"
)

// OffsetOfMaxTimestamp returns the offset and timestamp of the record with
// the largest timestamp among those from the log start offset up to
// maxOffset (the high watermark): Kafka's ListOffsets with the
// max-timestamp special timestamp (KIP-734). Of several records with that
// timestamp it is the first. found is false when there is no such record.
//
// Only the segments whose max timestamp can reach the answer are read:
// they are visited by decreasing max timestamp, and the search stops at
// the first that cannot beat or tie the best record found so far.
func (l *Log) OffsetOfMaxTimestamp(maxOffset int64) (offset, timestamp int64, found bool, err error) {
	for {
		offset, timestamp, found, err = l.offsetOfMaxTimestamp(maxOffset)
		if errors.Is(err, segment.ErrClosed) && !l.closed.Load() {
			continue // retention or compaction replaced a segment: look again
		}
		return offset, timestamp, found, err
	}
}

func (l *Log) offsetOfMaxTimestamp(maxOffset int64) (offset, timestamp int64, found bool, err error) {
	if l.closed.Load() {
		return 0, 0, false, fmt.Errorf("log %s: %w", l.dir, ErrClosed)
	}
	maxOffset = min(maxOffset, l.end.Load())
	start := l.start.Load()
	segs := slices.Clone(l.segments())
	// By max timestamp, highest first; the earlier segment first on ties.
	slices.SortStableFunc(segs, func(a, b *segment.Segment) int {
		switch ta, tb := a.MaxTimestamp(), b.MaxTimestamp(); {
		case ta > tb:
			return -1
		case ta < tb:
			return 1
		}
		return 0
	})
	var it record.Iterator
	for _, s := range segs {
		if s.MaxTimestamp() < 0 || found && (s.MaxTimestamp() < timestamp || s.MaxTimestamp() == timestamp && s.BaseOffset() > offset) {
			continue
		}
		if s.BaseOffset() >= maxOffset || s.NextOffset() <= start {
			continue
		}
		err := s.Scan(func(h *record.BatchHeader, _ int64, batch []byte) error {
			last := h.BaseOffset + int64(h.LastOffsetDelta)
			if h.BaseOffset >= maxOffset {
				return errStopScan
			}
			if last < start || h.IsControl() || h.MaxTimestamp < 0 {
				return nil
			}
			if found && (h.MaxTimestamp < timestamp || h.MaxTimestamp == timestamp && h.BaseOffset > offset) {
				return nil
			}
			if err := it.ResetChecked(h, batch); err != nil {
				return err
			}
			for it.Next() {
				r := it.Record()
				if r.Offset < start || r.Offset >= maxOffset {
					continue
				}
				if !found || r.Timestamp > timestamp || r.Timestamp == timestamp && r.Offset < offset {
					offset, timestamp, found = r.Offset, r.Timestamp, true
				}
			}
			return it.Err()
		})
		if err != nil && !errors.Is(err, errStopScan) {
			return 0, 0, false, fmt.Errorf("log %s: max timestamp: %w", l.dir, err)
		}
	}
	return offset, timestamp, found, nil
}

// offsetForTimestampFrom is OffsetForTimestamp over the records at or
// after from (a log start offset inside a segment): the first of them
// whose timestamp is at or after ts.
func (l *Log) offsetForTimestampFrom(ts, from, maxOffset int64) (offset, timestamp int64, found bool, err error) {
	var it record.Iterator
	for _, s := range l.segments() {
		if s.NextOffset() <= from || s.MaxTimestamp() < ts {
			continue
		}
		err = s.Scan(func(h *record.BatchHeader, _ int64, batch []byte) error {
			if h.BaseOffset >= maxOffset {
				return errStopScan
			}
			if h.BaseOffset+int64(h.LastOffsetDelta) < from || h.IsControl() || h.MaxTimestamp < ts {
				return nil
			}
			if err := it.ResetChecked(h, batch); err != nil {
				return err
			}
			for it.Next() {
				r := it.Record()
				if r.Offset >= from && r.Offset < maxOffset && r.Timestamp >= ts {
					offset, timestamp, found = r.Offset, r.Timestamp, true
					return errStopScan
				}
			}
			return it.Err()
		})
		if found {
			return offset, timestamp, true, nil
		}
		if err != nil && !errors.Is(err, errStopScan) {
			return 0, 0, false, fmt.Errorf("log %s: offset for timestamp: %w", l.dir, err)
		}
	}
	return 0, 0, false, nil
}
