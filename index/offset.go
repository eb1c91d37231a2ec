package index

import (
	"encoding/binary"
	"fmt"
	"github.com/commitlog-go/commitlog/vfs"
	"math"
)

// OffsetEntrySize is the size in bytes of one offset index entry.
const OffsetEntrySize = 8

// OffsetIndex is a segment's ".index" file: a sorted array of 8-byte
// big-endian entries {relativeOffset uint32, position uint32}, where
// relativeOffset is the entry's offset minus the segment's base offset and
// position is the byte position in the ".log" file of the batch containing
// that offset.
//
// One goroutine at a time may call the writer methods (Append, TruncateTo,
// Reset, SanityCheck, Sync, Trim, Close, Delete, Rename); Lookup, LastEntry,
// Entries, IsFull, BaseOffset and Path are safe to call concurrently with
// them and with each other. See the package documentation.
type OffsetIndex struct {
	File
}

// OpenOffsetIndex opens the offset index at path for the segment whose first
// offset is baseOffset, creating the file if it does not exist.
//
// The index holds at most maxBytes / 8 entries (segment.index.bytes, Kafka's
// default 10 MiB); maxBytes below 8 is an error. An existing file is read
// whole and keeps its valid prefix: its size rounded down to a multiple of 8,
// less trailing all-zero entries after the first (padding that versions which
// preallocated the file left after a crash). A file larger than maxBytes is
// kept whole but reports IsFull. fsys nil is the OS file system.
func OpenOffsetIndex(fsys vfs.FS, path string, baseOffset int64, maxBytes int) (*OffsetIndex, error) {
	ix := &OffsetIndex{}
	if err := ix.m.open(fsys, path, baseOffset, OffsetEntrySize, maxBytes); err != nil {
		return nil, err
	}
	return ix, nil
}

// offsetEntry decodes entry i of b.
func offsetEntry(b []byte, i int) (rel, pos uint32) {
	e := b[i*OffsetEntrySize : i*OffsetEntrySize+OffsetEntrySize]
	return binary.BigEndian.Uint32(e[0:4]), binary.BigEndian.Uint32(e[4:8])
}

// Append adds an entry saying that the batch containing offset starts at byte
// position in the log. offset must be greater than the last entry's offset
// and at most 2^32-1 past the base offset. It returns an error wrapping
// ErrIndexFull when the index is full. The entry is in memory at once and
// reaches the file at the next Sync, Trim or Close.
func (ix *OffsetIndex) Append(offset int64, position uint32) error {
	m := &ix.m
	if m.closed.Load() {
		return m.errClosed()
	}
	b, n := m.view()
	rel, err := m.relative(offset)
	if err != nil {
		return err
	}
	if n > 0 {
		if lastRel, _ := offsetEntry(b, n-1); rel <= lastRel {
			return fmt.Errorf("index %s: offset %d is not after the last entry's offset %d",
				m.getPath(), offset, m.base+int64(lastRel))
		}
	}
	e, err := m.slot(n)
	if err != nil {
		return err
	}
	binary.BigEndian.PutUint32(e[0:4], rel)
	binary.BigEndian.PutUint32(e[4:8], position)
	m.n.Store(int64(n + 1)) // publish after the bytes are in place
	return nil
}

// Lookup returns the entry with the largest offset less than or equal to
// offset: the position from which to scan the log for offset. When there is
// no such entry it returns (BaseOffset(), 0), the start of the segment. It is
// a binary search and does not allocate.
func (ix *OffsetIndex) Lookup(offset int64) (entryOffset int64, position uint32) {
	sp := ix.LookupSpan(offset)
	return sp.Offset, sp.Position
}

// Span is what LookupSpan returns: the entry Lookup returns and the next
// two entries, which bound where the batches after it lie.
type Span struct {
	// Offset and Position are the entry Lookup returns: (BaseOffset(), 0)
	// when no entry is at or below the offset looked up.
	Offset   int64
	Position uint32
	// NextOffset and NextPosition are the entry after it, if HasNext;
	// its offset is above the offset looked up.
	NextOffset   int64
	NextPosition uint32
	HasNext      bool
	// AfterPosition is the position of the entry after that, if
	// HasAfter.
	AfterPosition uint32
	HasAfter      bool
}

// LookupSpan is Lookup that also returns the two entries that follow, so
// that a reader can size its read of the log: the batches a scan from
// Position walks end by NextPosition, and the batch at NextPosition ends
// by AfterPosition (in a log that added an entry for every batch, the
// batches at the two positions end exactly there). It is one binary search
// and does not allocate.
func (ix *OffsetIndex) LookupSpan(offset int64) Span {
	m := &ix.m
	b, n := m.view()
	lo := 0 // the first entry with an offset above offset
	if offset >= m.base {
		target := uint32(math.MaxUint32)
		if offset-m.base < math.MaxUint32 {
			target = uint32(offset - m.base)
		}
		lo = upperBound(b, n, target)
	}
	sp := Span{Offset: m.base}
	if lo > 0 {
		rel, pos := offsetEntry(b, lo-1)
		sp.Offset, sp.Position = m.base+int64(rel), pos
	}
	if lo < n {
		rel, pos := offsetEntry(b, lo)
		sp.NextOffset, sp.NextPosition, sp.HasNext = m.base+int64(rel), pos, true
	}
	if lo+1 < n {
		_, sp.AfterPosition = offsetEntry(b, lo+1)
		sp.HasAfter = true
	}
	return sp
}

// upperBound returns the index of the first of the n entries of b whose
// relative offset is above target, n if none is.
//
// It reads as few entries as it can, for the cost of a lookup in a large
// index is its cache misses (a random lookup in the 100,000 entries of a
// full 1 GiB segment of 12 KB batches touches 800 KB of index): it guesses
// the entry from the first and last ones, as relative offsets grow about
// linearly with the entry number (an entry per index.interval.bytes of
// batches), then gallops from the guess (1, 2, 4, ... entries away) until
// it brackets the answer, and searches the bracket by halves. When the
// guess is right, the lookup reads the first, the last and one or two
// entries next to each other; however wrong it is, it reads at most about
// twice as many entries as a binary search. (Kafka searches the last 8 KB
// of an index first, which keeps the entries that readers at the end of
// the log use in the cache; the guess does that as well, since the last
// entry is among the few it reads, and serves random reads too.)
func upperBound(b []byte, n int, target uint32) int {
	if n == 0 {
		return 0
	}
	first, _ := offsetEntry(b, 0)
	if target < first {
		return 0
	}
	last, _ := offsetEntry(b, n-1)
	if target >= last {
		return n
	}
	// Now first <= target < last: the answer is in [1, n-1]. lo and hi
	// bracket it: entry lo is at or below target, entry hi above it.
	lo, hi := 0, n-1
	if hi-lo > 1 {
		// last > first: the entries strictly increase (a damaged index
		// that does not only gives a wrong answer, which the segment's
		// checks of the batch there catch).
		g := int(uint64(target-first) * uint64(n-1) / uint64(last-first))
		g = min(max(g, lo+1), hi-1)
		if rel, _ := offsetEntry(b, g); rel <= target {
			lo = g
			for step := 1; lo+step < hi; step *= 2 {
				if rel, _ := offsetEntry(b, lo+step); rel > target {
					hi = lo + step
					break
				}
				lo += step
			}
		} else {
			hi = g
			for step := 1; hi-step > lo; step *= 2 {
				if rel, _ := offsetEntry(b, hi-step); rel <= target {
					lo = hi - step
					break
				}
				hi -= step
			}
		}
	}
	for hi-lo > 1 {
		mid := int(uint(lo+hi) >> 1)
		if rel, _ := offsetEntry(b, mid); rel <= target {
			lo = mid
		} else {
			hi = mid
		}
	}
	return hi
}

// LastEntry returns the entry with the largest offset, or ok=false if the
// index is empty or closed.
func (ix *OffsetIndex) LastEntry() (offset int64, position uint32, ok bool) {
	m := &ix.m
	b, n := m.view()
	if n == 0 {
		return 0, 0, false
	}
	rel, pos := offsetEntry(b, n-1)
	return m.base + int64(rel), pos, true
}

// TruncateTo removes every entry whose offset is greater than or equal to
// offset; the file is cut at the next Sync, Trim or Close. Like Reset, it
// must not run while readers use the index (recovery calls it before the
// segment is published).
func (ix *OffsetIndex) TruncateTo(offset int64) error {
	m := &ix.m
	if m.closed.Load() {
		return m.errClosed()
	}
	if offset <= m.base {
		return m.truncateEntries(0)
	}
	if offset-m.base > math.MaxUint32 {
		return nil // every stored offset is below it
	}
	target := uint32(offset - m.base)
	b, n := m.view()
	lo, hi := 0, n // first entry with rel >= target
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if rel, _ := offsetEntry(b, mid); rel < target {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	return m.truncateEntries(lo)
}

// SanityCheck verifies the entries: the file size was a whole number of
// entries, relative offsets strictly increase, positions never decrease, and,
// when logSize >= 0, every position is below logSize (the size of the .log
// file). A failure is reported with an error wrapping record.ErrCorrupt; the
// caller should Reset and rebuild the index.
func (ix *OffsetIndex) SanityCheck(logSize int64) error {
	m := &ix.m
	if m.closed.Load() {
		return m.errClosed()
	}
	if m.oddSize {
		return m.corrupt("file size is not a multiple of %d", OffsetEntrySize)
	}
	b, n := m.view()
	var prevRel, prevPos uint32
	for i := range n {
		rel, pos := offsetEntry(b, i)
		if i > 0 && rel <= prevRel {
			return m.corrupt("entry %d: offset %d is not after the previous entry's offset %d",
				i, m.base+int64(rel), m.base+int64(prevRel))
		}
		if i > 0 && pos < prevPos {
			return m.corrupt("entry %d: position %d is before the previous entry's position %d", i, pos, prevPos)
		}
		if logSize >= 0 && int64(pos) >= logSize {
			return m.corrupt("entry %d: position %d is past the end of the %d-byte log", i, pos, logSize)
		}
		prevRel, prevPos = rel, pos
	}
	return nil
}
