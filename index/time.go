package index

import (
	"encoding/binary"
	"fmt"
	"github.com/commitlog-go/commitlog/vfs"
)

// TimeEntrySize is the size in bytes of one time index entry.
const TimeEntrySize = 12

// TimeIndex is a segment's ".timeindex" file: an array of 12-byte big-endian
// entries {timestamp int64, relativeOffset uint32}. Each entry records a new
// maximum timestamp (milliseconds since the epoch) seen in the segment and
// the offset of the record carrying it, so timestamps strictly increase from
// entry to entry and offsets never decrease.
//
// One goroutine at a time may call the writer methods (Append, TruncateTo,
// Reset, SanityCheck, Sync, Trim, Close, Delete, Rename); Lookup,
// FirstAtOrAfter, LastEntry, Entries, IsFull, BaseOffset and Path are safe to
// call concurrently with them and with each other. See the package
// documentation.
type TimeIndex struct {
	File
}

// OpenTimeIndex opens the time index at path for the segment whose first
// offset is baseOffset, creating the file if it does not exist.
//
// The index holds at most maxBytes / 12 entries; maxBytes below 12 is an
// error. An existing file is read whole and keeps its valid prefix: its size
// rounded down to a multiple of 12, less trailing all-zero entries after the
// first (padding that versions which preallocated the file left after a
// crash). A file larger than maxBytes is kept whole but reports IsFull. fsys
// nil is the OS file system.
func OpenTimeIndex(fsys vfs.FS, path string, baseOffset int64, maxBytes int) (*TimeIndex, error) {
	ti := &TimeIndex{}
	if err := ti.m.open(fsys, path, baseOffset, TimeEntrySize, maxBytes); err != nil {
		return nil, err
	}
	return ti, nil
}

// timeEntry decodes entry i of b.
func timeEntry(b []byte, i int) (ts int64, rel uint32) {
	e := b[i*TimeEntrySize : i*TimeEntrySize+TimeEntrySize]
	return int64(binary.BigEndian.Uint64(e[0:8])), binary.BigEndian.Uint32(e[8:12])
}

// Append records that the record at offset carries timestamp, a new maximum
// for the segment. If timestamp is not greater than the last entry's
// timestamp nothing is appended and Append returns nil. offset must not be
// below the last entry's offset (an error otherwise) and must be at most
// 2^32-1 past the base offset. It returns an error wrapping ErrIndexFull when
// an entry is due but the index is full. The entry is in memory at once and
// reaches the file at the next Sync, Trim or Close.
func (ti *TimeIndex) Append(timestamp int64, offset int64) error {
	m := &ti.m
	if m.closed.Load() {
		return m.errClosed()
	}
	b, n := m.view()
	rel, err := m.relative(offset)
	if err != nil {
		return err
	}
	if n > 0 {
		lastTS, lastRel := timeEntry(b, n-1)
		if rel < lastRel {
			return fmt.Errorf("index %s: offset %d is before the last entry's offset %d",
				m.getPath(), offset, m.base+int64(lastRel))
		}
		if timestamp <= lastTS {
			return nil
		}
	}
	e, err := m.slot(n)
	if err != nil {
		return err
	}
	binary.BigEndian.PutUint64(e[0:8], uint64(timestamp))
	binary.BigEndian.PutUint32(e[8:12], rel)
	m.n.Store(int64(n + 1)) // publish after the bytes are in place
	return nil
}

// searchTS returns the index of the first of the n entries in b whose
// timestamp is >= timestamp (n if none).
func searchTS(b []byte, n int, timestamp int64) int {
	lo, hi := 0, n
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if ts, _ := timeEntry(b, mid); ts < timestamp {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	return lo
}

// Lookup returns the entry with the largest timestamp that is less than
// timestamp. Every record up to entryOffset has a timestamp below timestamp,
// so a forward scan of the log from entryOffset finds the first record with
// a timestamp >= timestamp. ok is false when there is no such entry (or the
// index is closed): scan from the start of the segment. It is a binary search
// and does not allocate.
func (ti *TimeIndex) Lookup(timestamp int64) (entryTimestamp int64, entryOffset int64, ok bool) {
	m := &ti.m
	b, n := m.view()
	i := searchTS(b, n, timestamp)
	if i == 0 {
		return 0, 0, false
	}
	ts, rel := timeEntry(b, i-1)
	return ts, m.base + int64(rel), true
}

// FirstAtOrAfter returns the first entry whose timestamp is greater than or
// equal to timestamp, or ok=false if there is none (or the index is closed).
// It is a binary search and does not allocate.
func (ti *TimeIndex) FirstAtOrAfter(timestamp int64) (entryTimestamp int64, entryOffset int64, ok bool) {
	m := &ti.m
	b, n := m.view()
	i := searchTS(b, n, timestamp)
	if i == n {
		return 0, 0, false
	}
	ts, rel := timeEntry(b, i)
	return ts, m.base + int64(rel), true
}

// LastEntry returns the entry with the largest timestamp, or ok=false if the
// index is empty or closed.
func (ti *TimeIndex) LastEntry() (timestamp int64, offset int64, ok bool) {
	m := &ti.m
	b, n := m.view()
	if n == 0 {
		return 0, 0, false
	}
	ts, rel := timeEntry(b, n-1)
	return ts, m.base + int64(rel), true
}

// TruncateTo removes every entry whose offset is greater than or equal to
// offset; the file is cut at the next Sync, Trim or Close. Like Reset, it
// must not run while readers use the index (recovery calls it before the
// segment is published).
func (ti *TimeIndex) TruncateTo(offset int64) error {
	m := &ti.m
	if m.closed.Load() {
		return m.errClosed()
	}
	b, n := m.view()
	// Offsets never decrease, so the survivors are a prefix: find the first
	// entry whose offset is >= offset.
	lo, hi := 0, n
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if _, rel := timeEntry(b, mid); m.base+int64(rel) < offset {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	return m.truncateEntries(lo)
}

// SanityCheck verifies the entries: the file size was a whole number of
// entries, timestamps and offsets never decrease, and, when logEndOffset >= 0,
// every offset is below logEndOffset (the offset after the segment's last
// record). A failure is reported with an error wrapping record.ErrCorrupt;
// the caller should Reset and rebuild the index.
func (ti *TimeIndex) SanityCheck(logEndOffset int64) error {
	m := &ti.m
	if m.closed.Load() {
		return m.errClosed()
	}
	if m.oddSize {
		return m.corrupt("file size is not a multiple of %d", TimeEntrySize)
	}
	b, n := m.view()
	var prevTS int64
	var prevRel uint32
	for i := range n {
		ts, rel := timeEntry(b, i)
		if i > 0 && ts < prevTS {
			return m.corrupt("entry %d: timestamp %d is before the previous entry's timestamp %d", i, ts, prevTS)
		}
		if i > 0 && rel < prevRel {
			return m.corrupt("entry %d: offset %d is before the previous entry's offset %d",
				i, m.base+int64(rel), m.base+int64(prevRel))
		}
		if logEndOffset >= 0 && m.base+int64(rel) >= logEndOffset {
			return m.corrupt("entry %d: offset %d is not below the log end offset %d", i, m.base+int64(rel), logEndOffset)
		}
		prevTS, prevRel = ts, rel
	}
	return nil
}
