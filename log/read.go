package log

import (
	"errors"
	"fmt"
	"sort"

	"github.com/commitlog-go/commitlog/segment"
)

// Read returns whole batches starting with the one that holds offset, up to
// maxBytes (at least one batch, even a larger one), below the log end
// offset. See ReadUpTo.
func (l *Log) Read(offset int64, maxBytes int) ([]byte, error) {
	return l.ReadUpTo(nil, offset, l.end.Load(), maxBytes)
}

// ReadUpTo appends to dst[:0] whole batches starting with the one that
// holds offset, up to maxBytes (at least one batch, even a larger one), and
// only batches that end below maxOffset (the high watermark). A batch may
// begin before offset: the caller skips the records before it, as Kafka's
// consumers do. Offsets below the log start offset or above maxOffset get
// ErrOffsetOutOfRange; offset == maxOffset returns no bytes. Readers never
// block the writer.
func (l *Log) ReadUpTo(dst []byte, offset, maxOffset int64, maxBytes int) ([]byte, error) {
	maxOffset = min(maxOffset, l.end.Load())
	for {
		if l.closed.Load() {
			return dst[:0], fmt.Errorf("log %s: %w", l.dir, ErrClosed)
		}
		segs := l.segments()
		start := max(segs[0].BaseOffset(), l.start.Load()) // DeleteRecordsBefore moves it inside a segment
		if offset < start || offset > maxOffset {
			return dst[:0], fmt.Errorf("log %s: offset %d outside [%d, %d]: %w", l.dir, offset, start, maxOffset, ErrOffsetOutOfRange)
		}
		// The last segment whose base offset is <= offset, then onwards:
		// compaction can leave a segment with nothing at or after offset.
		i := sort.Search(len(segs), func(i int) bool { return segs[i].BaseOffset() > offset }) - 1
		var out []byte
		var err error
		for ; i < len(segs); i++ {
			out, err = segs[i].Read(dst, offset, maxOffset, maxBytes)
			if err != nil || len(out) > 0 {
				break
			}
		}
		if errors.Is(err, segment.ErrClosed) {
			continue // retention deleted the segment under us: look again
		}
		if err != nil {
			return dst[:0], fmt.Errorf("log %s: %w", l.dir, err)
		}
		return out, nil
	}
}

// OffsetForTimestamp returns the offset and timestamp of the first record
// whose timestamp is at or after ts (Kafka's ListOffsets by timestamp);
// found is false when every record is older.
func (l *Log) OffsetForTimestamp(ts int64) (offset, timestamp int64, found bool, err error) {
	for {
		maxOffset := l.end.Load()
		retry := false
		for _, s := range l.segments() {
			if s.MaxTimestamp() < ts {
				continue
			}
			offset, timestamp, found, err = s.FindOffsetByTimestamp(ts, maxOffset)
			if errors.Is(err, segment.ErrClosed) && !l.closed.Load() {
				retry = true
				break
			}
			if err == nil && found && offset < l.start.Load() {
				// Below a log start DeleteRecordsBefore put inside the segment.
				return l.offsetForTimestampFrom(ts, l.start.Load(), maxOffset)
			}
			if err != nil || found {
				return offset, timestamp, found, err
			}
		}
		if !retry {
			return 0, 0, false, nil
		}
	}
}
