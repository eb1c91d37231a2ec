package segment

import (
	"fmt"
	"sync"

	"github.com/commitlog-go/commitlog/record"
)

// scanChunk is how much of the file locate reads at once while it walks
// batch headers forward from an index entry.
const scanChunk = 16 << 10

var scanBufs = sync.Pool{New: func() any { b := make([]byte, scanChunk); return &b }}

// locate returns the position of the first batch whose last offset is at or
// after offset (size when there is none), scanning forward from the
// nearest offset index entry.
func (s *Segment) locate(offset, size int64) (int64, record.BatchHeader, error) {
	var h record.BatchHeader
	pos := int64(0)
	if offset > s.base {
		_, p := s.oi.Lookup(offset)
		pos = int64(p)
	}
	bp := scanBufs.Get().(*[]byte)
	defer scanBufs.Put(bp)
	buf := (*bp)[:0]
	bufPos := pos // file position of buf[0]
	for pos < size {
		if pos < bufPos || pos+record.HeaderSize > bufPos+int64(len(buf)) {
			n := min(int64(cap(buf)), size-pos)
			if n < record.HeaderSize {
				return 0, h, fmt.Errorf("segment %d: batch header at position %d runs past the end (%d): %w", s.base, pos, size, record.ErrCorrupt)
			}
			buf = buf[:n]
			if _, err := s.f.ReadAt(buf, pos); err != nil {
				return 0, h, s.ioErr(err)
			}
			bufPos = pos
		}
		var err error
		h, err = record.ParseHeader(buf[pos-bufPos:])
		if err != nil {
			return 0, h, fmt.Errorf("segment %d, position %d: %w", s.base, pos, err)
		}
		if int64(h.Size()) > size-pos {
			return 0, h, s.pastEnd(pos, h.Size(), size)
		}
		if h.LastOffset() >= offset {
			return pos, h, nil
		}
		pos += int64(h.Size())
	}
	return size, h, nil
}

// Position returns the byte position in the log file of the first batch
// whose last offset is at or after offset (Size when there is none), using
// the offset index and a short scan. The log cleaner uses it to measure how
// much of a segment is dirty.
func (s *Segment) Position(offset int64) (int64, error) {
	if !s.Acquire() {
		return 0, fmt.Errorf("segment %d: %w", s.base, ErrClosed)
	}
	defer s.Release()
	size := s.size.Load()
	if offset >= s.next.Load() {
		return size, nil
	}
	pos, _, err := s.locate(offset, size)
	return pos, err
}

// Read appends to dst[:0] the whole batches that start with the batch
// holding offset (or the first batch after it), up to maxBytes, stopping
// before any batch whose last offset is at or past maxOffset (the high
// watermark). Like Kafka (KIP-74), if the first batch is larger than
// maxBytes it is returned whole, so a reader always makes progress. An
// empty result means nothing at or after offset is readable yet. The bytes
// are a copy: they stay valid after the segment is closed.
func (s *Segment) Read(dst []byte, offset, maxOffset int64, maxBytes int) ([]byte, error) {
	if !s.Acquire() {
		return dst[:0], fmt.Errorf("segment %d: %w", s.base, ErrClosed)
	}
	defer s.Release()
	size := s.size.Load()
	if offset >= s.next.Load() || offset >= maxOffset {
		return dst[:0], nil
	}
	pos, first, err := s.locate(offset, size)
	if err != nil || pos >= size || first.LastOffset() >= maxOffset {
		return dst[:0], err
	}
	n := min(int64(max(maxBytes, first.Size())), size-pos)
	buf := grow(dst, int(n))
	if _, err := s.f.ReadAt(buf, pos); err != nil {
		return dst[:0], s.ioErr(err)
	}
	end := 0
	for end+record.HeaderSize <= len(buf) {
		h, err := record.ParseHeader(buf[end:])
		if err != nil {
			return dst[:0], fmt.Errorf("segment %d, position %d: %w", s.base, pos+int64(end), err)
		}
		if h.LastOffset() >= maxOffset || end+h.Size() > len(buf) {
			break
		}
		end += h.Size()
	}
	return buf[:end], nil
}

// pastEnd reports a batch whose length runs past the end of the segment's
// complete batches: its length field is damaged.
func (s *Segment) pastEnd(pos int64, n int, size int64) error {
	return fmt.Errorf("segment %d, position %d: batch of %d bytes runs past the end (%d): %w", s.base, pos, n, size, record.ErrCorrupt)
}

func grow(b []byte, n int) []byte {
	if cap(b) < n {
		return make([]byte, n)
	}
	return b[:n]
}

// FindOffsetByTimestamp returns the offset and timestamp of the first
// record in the segment below maxOffset whose timestamp is at or after ts,
// using the time index to skip ahead. found is false when there is none.
func (s *Segment) FindOffsetByTimestamp(ts, maxOffset int64) (offset, timestamp int64, found bool, err error) {
	if !s.Acquire() {
		return 0, 0, false, fmt.Errorf("segment %d: %w", s.base, ErrClosed)
	}
	defer s.Release()
	if s.maxTS.Load() < ts {
		return 0, 0, false, nil
	}
	start := s.base
	if _, off, ok := s.ti.Lookup(ts); ok {
		start = off
	}
	size := s.size.Load()
	pos, _, err := s.locate(start, size)
	if err != nil {
		return 0, 0, false, err
	}
	var it record.Iterator
	var buf []byte
	for pos < size {
		h, err := s.headerAt(pos, size)
		if err != nil {
			return 0, 0, false, err
		}
		if h.BaseOffset >= maxOffset {
			break
		}
		if int64(h.Size()) > size-pos {
			return 0, 0, false, s.pastEnd(pos, h.Size(), size)
		}
		if h.MaxTimestamp >= ts {
			buf = grow(buf, h.Size())
			if _, err := s.f.ReadAt(buf, pos); err != nil {
				return 0, 0, false, s.ioErr(err)
			}
			if err := it.Reset(buf); err != nil {
				return 0, 0, false, fmt.Errorf("segment %d, position %d: %w", s.base, pos, err)
			}
			for it.Next() {
				r := it.Record()
				if r.Timestamp >= ts && r.Offset >= start && r.Offset < maxOffset {
					return r.Offset, r.Timestamp, true, nil
				}
			}
			if it.Err() != nil {
				return 0, 0, false, it.Err()
			}
		}
		pos += int64(h.Size())
	}
	return 0, 0, false, nil
}

// Scan calls fn with every batch of the segment in order, reading the file
// in large chunks; batch is only valid during the call. Compaction and
// tools use it. It stops at the first error fn returns.
func (s *Segment) Scan(fn func(h *record.BatchHeader, pos int64, batch []byte) error) error {
	if !s.Acquire() {
		return fmt.Errorf("segment %d: %w", s.base, ErrClosed)
	}
	defer s.Release()
	size := s.size.Load()
	var buf []byte
	for pos := int64(0); pos < size; {
		n := min(int64(1<<20), size-pos)
		buf = grow(buf, int(n))
		if _, err := s.f.ReadAt(buf, pos); err != nil {
			return s.ioErr(err)
		}
		h, err := record.ParseHeader(buf)
		if err != nil {
			return fmt.Errorf("segment %d, position %d: %w", s.base, pos, err)
		}
		if int64(h.Size()) > size-pos {
			return fmt.Errorf("segment %d, position %d: batch runs past the end: %w", s.base, pos, record.ErrCorrupt)
		}
		if h.Size() > len(buf) {
			buf = grow(buf, h.Size())
			if _, err := s.f.ReadAt(buf, pos); err != nil {
				return s.ioErr(err)
			}
		}
		// Hand out every whole batch in the chunk.
		off := 0
		for off+record.HeaderSize <= len(buf) {
			h, err := record.ParseHeader(buf[off:])
			if err != nil {
				return fmt.Errorf("segment %d, position %d: %w", s.base, pos+int64(off), err)
			}
			if off+h.Size() > len(buf) {
				break
			}
			if err := fn(&h, pos+int64(off), buf[off:off+h.Size()]); err != nil {
				return err
			}
			off += h.Size()
		}
		pos += int64(off)
	}
	return nil
}
