package segment

import (
	"fmt"
	"sync"

	"github.com/commitlog-go/commitlog/record"
)

// scanChunk is how much of the file locate reads at once while it walks
// batch headers forward from an index entry, and the least Read reads at
// once.
const scanChunk = 16 << 10

var scanBufs = sync.Pool{New: func() any { b := make([]byte, scanChunk); return &b }}

// locate returns the position of the first batch whose last offset is at or
// after offset (size when there is none), scanning forward from the
// nearest offset index entry (see scan).
func (s *Segment) locate(offset, size int64) (int64, record.BatchHeader, error) {
	pos, entry := s.start(offset)
	bp := scanBufs.Get().(*[]byte)
	defer scanBufs.Put(bp)
	_, _, pos, h, err := s.scan((*bp)[:0], pos, entry, offset, size, scanChunk)
	return pos, h, err
}

// start returns where a scan for offset starts: the position of the
// offset index entry nearest offset, and the entry's offset (the last
// offset of the batch there), or the start of the file and -1.
func (s *Segment) start(offset int64) (pos, entry int64) {
	if offset > s.base {
		if off, p := s.oi.Lookup(offset); p > 0 {
			return int64(p), off
		}
	}
	return 0, -1
}

// scan walks the batch headers of the file forward from pos, where the
// batch whose last offset is entry begins (an offset index entry; -1 for
// the start of the file), to the first batch whose last offset is at or
// after offset, reading the file into buf (grown as needed) chunk bytes or
// more at a time. It returns buf, the file position bufPos of buf[0], and the
// position and header of the batch found (pos is size when there is
// none); buf then holds the batch's header at pos-bufPos, and whatever
// followed it in the last read. It checks the offsets of every batch
// header it walks (see checkEntry, follows and within): a batch that
// cannot be where it is is ErrCorrupt, never a batch served under wrong
// offsets.
func (s *Segment) scan(buf []byte, pos, entry, offset, size, chunk int64) (_ []byte, bufPos int64, _ int64, h record.BatchHeader, err error) {
	next := s.next.Load() // after the caller's load of size: covers every batch below it
	prevNext := s.base
	buf = buf[:0]
	bufPos = pos
	for pos < size {
		if pos+record.HeaderSize > bufPos+int64(len(buf)) {
			n := min(chunk, size-pos)
			if n < record.HeaderSize {
				return buf, bufPos, 0, h, fmt.Errorf("segment %d: batch header at position %d runs past the end (%d): %w", s.base, pos, size, record.ErrCorrupt)
			}
			buf = grow(buf, int(n))
			if err := s.readAt(buf, pos); err != nil {
				return buf, bufPos, 0, h, err
			}
			bufPos = pos
		}
		h, err = record.ParseHeader(buf[pos-bufPos:])
		if err != nil {
			return buf, bufPos, 0, h, fmt.Errorf("segment %d, position %d: %w", s.base, pos, err)
		}
		if int64(h.Size()) > size-pos {
			return buf, bufPos, 0, h, s.pastEnd(pos, h.Size(), size)
		}
		if entry >= 0 {
			if err := s.checkEntry(&h, pos, entry); err != nil {
				return buf, bufPos, 0, h, err
			}
			entry = -1
		} else if !s.follows(&h, prevNext) {
			return buf, bufPos, 0, h, s.discontinuity(&h, pos, prevNext)
		}
		if !within(&h, next) {
			return buf, bufPos, 0, h, s.pastNext(&h, pos, next)
		}
		if h.LastOffset() >= offset {
			return buf, bufPos, pos, h, nil
		}
		prevNext = h.NextOffset()
		pos += int64(h.Size())
	}
	return buf, bufPos, size, h, nil
}

// follows reports whether a batch with header h may come right after a
// batch that ends before prevNext (the segment's base offset for the first
// batch): in a dense segment it starts exactly at prevNext, in a compacted
// one anywhere at or after it.
func (s *Segment) follows(h *record.BatchHeader, prevNext int64) bool {
	return h.BaseOffset == prevNext || s.cfg.Compacted && h.BaseOffset > prevNext
}

// within reports whether every offset of the batch is below next, the
// segment's next offset, without overflow for a damaged base offset.
func within(h *record.BatchHeader, next int64) bool {
	return h.BaseOffset < next && int64(h.LastOffsetDelta) < next-h.BaseOffset
}

// discontinuity is the error for a batch at pos that does not follow the
// batch before it (see follows).
func (s *Segment) discontinuity(h *record.BatchHeader, pos, prevNext int64) error {
	if s.cfg.Compacted {
		return fmt.Errorf("segment %d, position %d: batch at offset %d does not come after the previous batch's last offset %d: %w",
			s.base, pos, h.BaseOffset, prevNext-1, record.ErrCorrupt)
	}
	return fmt.Errorf("segment %d, position %d: batch at offset %d, the previous batch ends before %d (offsets are dense): %w",
		s.base, pos, h.BaseOffset, prevNext, record.ErrCorrupt)
}

// pastNext is the error for a batch at pos whose offsets reach the
// segment's next offset while a batch follows it, or pass it.
func (s *Segment) pastNext(h *record.BatchHeader, pos, next int64) error {
	return fmt.Errorf("segment %d, position %d: batch at offsets %d+%d is not below the segment's next offset %d: %w",
		s.base, pos, h.BaseOffset, h.LastOffsetDelta, next, record.ErrCorrupt)
}

// checkEntry checks the batch at pos, which the offset index says holds
// offset entry as its last offset (index entries name the last offset of
// the batch at their position, as Kafka's do).
func (s *Segment) checkEntry(h *record.BatchHeader, pos, entry int64) error {
	if h.LastOffset() == entry && h.BaseOffset <= entry {
		return nil
	}
	return fmt.Errorf("segment %d, position %d: batch at offsets %d+%d, the offset index says it ends at %d: %w",
		s.base, pos, h.BaseOffset, h.LastOffsetDelta, entry, record.ErrCorrupt)
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
//
// Every batch returned has been checked to sit where its offsets say (see
// the package documentation): a batch that does not is ErrCorrupt when it
// would be the first one returned; after good batches the result ends
// before it, and the next Read, which starts there, gets the error.
func (s *Segment) Read(dst []byte, offset, maxOffset int64, maxBytes int) ([]byte, error) {
	if !s.Acquire() {
		return dst[:0], fmt.Errorf("segment %d: %w", s.base, ErrClosed)
	}
	defer s.Release()
	size := s.size.Load()
	next := s.next.Load()
	if offset >= next || offset >= maxOffset {
		return dst[:0], nil
	}
	buf, bufPos, pos, first, err := s.find(dst, offset, size, maxBytes)
	if err != nil || pos >= size || first.LastOffset() >= maxOffset {
		return dst[:0], err
	}
	limit := min(int64(max(maxBytes, first.Size())), size-pos)
	n := limit
	if s.cfg.Compacted {
		// One batch header more: the batch after the last one returned
		// must not contradict it. (In a dense segment each batch is
		// checked against the one before it, which is enough.)
		n = min(limit+record.HeaderSize, size-pos)
	}
	have := min(bufPos+int64(len(buf))-pos, n)
	if pos > bufPos {
		copy(buf, buf[pos-bufPos:pos-bufPos+have])
	}
	if have < n {
		buf = growKeep(buf, int(have), int(n))
		if err := s.readAt(buf[have:n], pos+have); err != nil {
			return dst[:0], err
		}
	}
	buf = buf[:n]
	end, last := 0, 0 // end of the batches taken, start of the last of them
	prevNext := first.BaseOffset
	for end+record.HeaderSize <= len(buf) {
		h, err := record.ParseHeader(buf[end:])
		if err != nil {
			if int64(end) >= limit {
				break // the header past the limit: the next Read reports it
			}
			return dst[:0], fmt.Errorf("segment %d, position %d: %w", s.base, pos+int64(end), err)
		}
		if end > 0 && (!s.follows(&h, prevNext) || !within(&h, next)) {
			bad := s.discontinuity(&h, pos+int64(end), prevNext)
			if !within(&h, next) {
				bad = s.pastNext(&h, pos+int64(end), next)
			}
			if s.cfg.Compacted {
				// Either this batch or the one before it has moved:
				// neither is served.
				end = last
			}
			if end == 0 {
				return dst[:0], bad
			}
			break
		}
		if h.LastOffset() >= maxOffset || int64(end+h.Size()) > limit {
			break
		}
		last, prevNext = end, h.NextOffset()
		end += h.Size()
	}
	return buf[:end], nil
}

// find is the first half of Read: it finds the first batch whose last
// offset is at or after offset, as scan does, and reads the file from
// there on into buf, mostly with a single read that also holds the
// batches Read returns (Read reads the rest, if any, without reading a
// byte twice). It returns buf, the file position bufPos of buf[0], and the
// batch's position and header; buf holds its header at pos-bufPos.
//
// The offset index sizes the read: the batches a scan from the entry
// nearest offset walks end by the next entry, and the batch at the next
// entry ends by the entry after it. When the entries are far apart
// (batches larger than index.interval.bytes each get an entry), the batch
// holding offset is most likely the one at the next entry: find reads
// that batch alone, checked against its entry, and falls back on the
// scan from the entry before only if it starts past offset.
func (s *Segment) find(buf []byte, offset, size int64, maxBytes int) (_ []byte, bufPos, pos int64, h record.BatchHeader, err error) {
	want := int64(max(maxBytes, 0)) + record.HeaderSize
	sp := s.oi.LookupSpan(offset)
	start, entry := int64(0), int64(-1)
	if offset > s.base && sp.Position > 0 {
		start, entry = int64(sp.Position), sp.Offset
	}
	// Entries at or past size are those of batches not visible yet.
	next, after := int64(-1), int64(-1)
	if sp.HasNext && int64(sp.NextPosition) > start && int64(sp.NextPosition) < size {
		next = int64(sp.NextPosition)
		after = size
		if sp.HasAfter && int64(sp.AfterPosition) > next {
			after = min(int64(sp.AfterPosition), size)
		}
	}
	if next >= 0 && entry < offset && next-start >= 2*int64(*s.cfg.IndexIntervalBytes) {
		n := min(max(after-next+record.HeaderSize, want), size-next)
		buf = grow(buf, int(n))
		if err := s.readAt(buf, next); err != nil {
			return buf, next, 0, h, err
		}
		// Taken only if every check passes; otherwise the scan below
		// walks to it (or stops before it) and reports what is wrong.
		h, err = record.ParseHeader(buf)
		if err == nil && h.BaseOffset <= offset && s.checkEntry(&h, next, sp.NextOffset) == nil &&
			int64(h.Size()) <= size-next && within(&h, s.next.Load()) {
			return buf, next, next, h, nil
		}
	}
	n := max(int64(*s.cfg.IndexIntervalBytes)+want, scanChunk)
	if next >= 0 {
		n = next - start + max(after-next+record.HeaderSize, want)
	}
	return s.scan(buf, start, entry, offset, size, min(n, size-start))
}

// pastEnd reports a batch whose length runs past the end of the segment's
// complete batches: its length field is damaged.
func (s *Segment) pastEnd(pos int64, n int, size int64) error {
	return fmt.Errorf("segment %d, position %d: batch of %d bytes runs past the end (%d): %w", s.base, pos, n, size, record.ErrCorrupt)
}

// grow returns b with length n, reallocated if need be; its contents are
// not kept.
func grow(b []byte, n int) []byte {
	if cap(b) < n {
		return make([]byte, n)
	}
	return b[:n]
}

// growKeep is grow that keeps the first keep bytes of b.
func growKeep(b []byte, keep, n int) []byte {
	if cap(b) < n {
		nb := make([]byte, n)
		copy(nb, b[:keep])
		return nb
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
	next := s.next.Load()
	pos, _, err := s.locate(start, size)
	if err != nil {
		return 0, 0, false, err
	}
	var it record.Iterator
	var buf []byte
	prevNext := int64(-1) // -1: locate checked the batch at pos
	for pos < size {
		h, err := s.headerAt(pos, size)
		if err != nil {
			return 0, 0, false, err
		}
		if err := s.checkNext(&h, pos, prevNext, next); err != nil {
			return 0, 0, false, err
		}
		if h.BaseOffset >= maxOffset {
			break
		}
		if int64(h.Size()) > size-pos {
			return 0, 0, false, s.pastEnd(pos, h.Size(), size)
		}
		if h.MaxTimestamp >= ts {
			if s.cfg.Compacted && pos+int64(h.Size()) < size {
				// As in Read: the batch after it must not contradict it.
				hn, err := s.headerAt(pos+int64(h.Size()), size)
				if err != nil {
					return 0, 0, false, err
				}
				if err := s.checkNext(&hn, pos+int64(h.Size()), h.NextOffset(), next); err != nil {
					return 0, 0, false, err
				}
			}
			buf = grow(buf, h.Size())
			if err := s.readAt(buf, pos); err != nil {
				return 0, 0, false, err
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
		prevNext = h.NextOffset()
		pos += int64(h.Size())
	}
	return 0, 0, false, nil
}

// checkNext checks that the batch h at pos follows a batch that ends
// before prevNext (no check when prevNext is negative) and stays below the
// segment's next offset next.
func (s *Segment) checkNext(h *record.BatchHeader, pos, prevNext, next int64) error {
	if prevNext >= 0 && !s.follows(h, prevNext) {
		return s.discontinuity(h, pos, prevNext)
	}
	if !within(h, next) {
		return s.pastNext(h, pos, next)
	}
	return nil
}

// Scan calls fn with every batch of the segment in order, reading the file
// in large chunks; batch is only valid during the call. Compaction and
// tools use it. It stops at the first error fn returns, and with an error
// wrapping record.ErrCorrupt at the first batch whose offsets do not
// follow the batch before it (checked as Read checks them; in a compacted
// segment fn has then seen that batch before, which may be the one that
// moved).
func (s *Segment) Scan(fn func(h *record.BatchHeader, pos int64, batch []byte) error) error {
	if !s.Acquire() {
		return fmt.Errorf("segment %d: %w", s.base, ErrClosed)
	}
	defer s.Release()
	size := s.size.Load()
	next := s.next.Load()
	prevNext := s.base
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
			if err := s.checkNext(&h, pos+int64(off), prevNext, next); err != nil {
				return err
			}
			prevNext = h.NextOffset()
			if err := fn(&h, pos+int64(off), buf[off:off+h.Size()]); err != nil {
				return err
			}
			off += h.Size()
		}
		pos += int64(off)
	}
	return nil
}
