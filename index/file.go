package index

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"sync"
	"sync/atomic"

	"github.com/commitlog-go/commitlog/record"
	"github.com/edsrzf/mmap-go"
)

// ErrIndexFull is returned by Append when the index already holds as many
// entries as its maximum size allows. The caller should roll the segment.
var ErrIndexFull = errors.New("commitlog: index full")

// mappedFile is the machinery shared by the offset and time indexes: a file of
// fixed-size entries, memory-mapped read-write, with a published entry count.
//
// Fields written only by the writer while holding mu exclusively, and read by
// readers under mu.RLock: mm, closed, path. The writer itself may read them
// without locking, since it is the only goroutine that changes them.
type mappedFile struct {
	mu sync.RWMutex

	path       string
	base       int64
	entrySize  int
	maxEntries int // configured capacity: maxBytes / entrySize

	f      *os.File
	mm     mmap.MMap // len(mm) is a multiple of entrySize; nil when nothing is mapped
	closed bool

	// n is the number of valid entries; entries [0, n) are complete in mm.
	// The writer stores it after writing an entry's bytes.
	n atomic.Int64

	// oddSize records that the file's size was not a multiple of entrySize
	// when it was opened; SanityCheck reports it until Reset.
	oddSize bool
}

// open opens or creates the file, maps it and finds the valid prefix.
func (m *mappedFile) open(path string, baseOffset int64, entrySize, maxBytes int) error {
	if maxBytes < entrySize {
		return fmt.Errorf("index %s: max size %d bytes is smaller than one %d-byte entry", path, maxBytes, entrySize)
	}
	if baseOffset < 0 {
		return fmt.Errorf("index %s: negative base offset %d", path, baseOffset)
	}
	m.path = path
	m.base = baseOffset
	m.entrySize = entrySize
	m.maxEntries = maxBytes / entrySize

	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("index %s: open: %w", path, err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return fmt.Errorf("index %s: stat: %w", path, err)
	}
	size := fi.Size()
	if size > math.MaxInt32*int64(entrySize) {
		f.Close()
		return fmt.Errorf("index %s: file size %d is too large: %w", path, size, record.ErrCorrupt)
	}
	slots := int(size / int64(entrySize)) // whole entries in the file, padding included
	tail := int(size % int64(entrySize))  // bytes of a partial entry at the end
	m.oddSize = tail != 0
	m.f = f

	capEntries := max(m.maxEntries, slots)
	if err := m.remap(capEntries); err != nil {
		m.f.Close()
		m.f = nil
		return err
	}
	if tail != 0 && len(m.mm) >= (slots+1)*entrySize {
		// The partial entry's bytes are now the start of a free slot; clear
		// them so that the slot reads as padding after a crash.
		clear(m.mm[slots*entrySize : slots*entrySize+tail])
	}

	// Drop trailing all-zero entries, except the first entry: an all-zero
	// entry 0 is a legal entry (base offset at position 0 / timestamp 0).
	n := slots
	for n > 1 && m.isZero(n-1) {
		n--
	}
	m.n.Store(int64(n))
	return nil
}

// isZero reports whether entry i consists only of zero bytes.
func (m *mappedFile) isZero(i int) bool {
	e := m.mm[i*m.entrySize : (i+1)*m.entrySize]
	for j := 0; j+4 <= len(e); j += 4 {
		if binary.NativeEndian.Uint32(e[j:]) != 0 {
			return false
		}
	}
	return true
}

// remap sizes the file to entries entries and maps it. The caller holds mu
// exclusively (or is opening). On failure nothing is mapped.
func (m *mappedFile) remap(entries int) error {
	var errs []error
	if m.mm != nil {
		if err := m.mm.Unmap(); err != nil {
			errs = append(errs, fmt.Errorf("index %s: munmap: %w", m.path, err))
		}
		m.mm = nil
	}
	size := int64(entries) * int64(m.entrySize)
	if err := m.f.Truncate(size); err != nil {
		return errors.Join(append(errs, fmt.Errorf("index %s: resize to %d bytes: %w", m.path, size, err))...)
	}
	if size > 0 {
		mm, err := mmap.MapRegion(m.f, int(size), mmap.RDWR, 0, 0)
		if err != nil {
			return errors.Join(append(errs, fmt.Errorf("index %s: mmap %d bytes: %w", m.path, size, err))...)
		}
		m.mm = mm
	}
	return errors.Join(errs...)
}

// errClosed wraps os.ErrClosed with the index path.
func (m *mappedFile) errClosed() error {
	return fmt.Errorf("index %s: %w", m.path, os.ErrClosed)
}

// corrupt wraps record.ErrCorrupt with the index path and a description.
func (m *mappedFile) corrupt(format string, args ...any) error {
	return fmt.Errorf("index %s: %s: %w", m.path, fmt.Sprintf(format, args...), record.ErrCorrupt)
}

// writable checks, before an Append, that the writer can use the index: it is
// open and its n entries are mapped (they are not only after a failed remap).
// It returns n. Writer only.
func (m *mappedFile) writable() (int, error) {
	if m.closed {
		return 0, m.errClosed()
	}
	n := int(m.n.Load())
	if len(m.mm) < n*m.entrySize {
		// A previous resize failed; try to map the file again.
		m.mu.Lock()
		err := m.remap(max(m.maxEntries, n))
		m.mu.Unlock()
		if err != nil {
			return 0, err
		}
	}
	return n, nil
}

// reserve makes sure there is a mapped slot for entry n. Writer only.
func (m *mappedFile) reserve(n int) error {
	if n >= m.maxEntries {
		return fmt.Errorf("index %s: %d entries: %w", m.path, n, ErrIndexFull)
	}
	if (n+1)*m.entrySize <= len(m.mm) {
		return nil
	}
	// Trimmed earlier: grow back to the configured size.
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.remap(m.maxEntries)
}

// view returns the mapping and the number of entries readable in it. The
// caller holds mu.RLock (or is the writer). The count is clamped to the
// mapping so that a failed remap can never lead to an out-of-range read.
func (m *mappedFile) view() ([]byte, int) {
	if m.closed {
		return nil, 0
	}
	n := int(m.n.Load())
	if c := len(m.mm) / m.entrySize; n > c {
		n = c
	}
	return m.mm, n
}

// truncateEntries keeps the first k entries and zeroes the rest. Writer only.
func (m *mappedFile) truncateEntries(k int) error {
	if m.closed {
		return m.errClosed()
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	n := int(m.n.Load())
	if k >= n {
		return nil
	}
	m.n.Store(int64(k))
	end := min(n*m.entrySize, len(m.mm))
	if start := k * m.entrySize; start < end {
		clear(m.mm[start:end])
	}
	return nil
}

// sync flushes the mapping and the file to stable storage. Writer only.
func (m *mappedFile) sync() error {
	if m.closed {
		return m.errClosed()
	}
	if m.mm != nil {
		if err := m.mm.Flush(); err != nil {
			return fmt.Errorf("index %s: msync: %w", m.path, err)
		}
	}
	if err := m.f.Sync(); err != nil {
		return fmt.Errorf("index %s: fsync: %w", m.path, err)
	}
	return nil
}

// trim shrinks the file and mapping to the used size. Writer only.
func (m *mappedFile) trim() error {
	if m.closed {
		return m.errClosed()
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	n := int(m.n.Load())
	if len(m.mm) == n*m.entrySize {
		return nil
	}
	return m.remap(n)
}

// close trims, unmaps and closes the file; a second call does nothing.
func (m *mappedFile) close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil
	}
	m.closed = true
	var errs []error
	if m.mm != nil {
		if err := m.mm.Unmap(); err != nil {
			errs = append(errs, fmt.Errorf("index %s: munmap: %w", m.path, err))
		}
		m.mm = nil
	}
	size := m.n.Load() * int64(m.entrySize)
	if err := m.f.Truncate(size); err != nil {
		errs = append(errs, fmt.Errorf("index %s: trim to %d bytes: %w", m.path, size, err))
	}
	if err := m.f.Close(); err != nil {
		errs = append(errs, fmt.Errorf("index %s: close: %w", m.path, err))
	}
	m.f = nil
	m.n.Store(0)
	return errors.Join(errs...)
}

// remove closes the index and deletes its file; a missing file is not an error.
func (m *mappedFile) remove() error {
	err := m.close()
	m.mu.RLock()
	path := m.path
	m.mu.RUnlock()
	if rerr := os.Remove(path); rerr != nil && !errors.Is(rerr, os.ErrNotExist) {
		err = errors.Join(err, fmt.Errorf("index %s: remove: %w", path, rerr))
	}
	return err
}

// rename renames the file on disk; the index stays usable under the new path.
func (m *mappedFile) rename(newPath string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := os.Rename(m.path, newPath); err != nil {
		return fmt.Errorf("index %s: rename to %s: %w", m.path, newPath, err)
	}
	m.path = newPath
	return nil
}

// getPath returns the current path.
func (m *mappedFile) getPath() string {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.path
}

// relative converts an absolute offset to a relative one, or reports why it
// cannot be stored.
func (m *mappedFile) relative(offset int64) (uint32, error) {
	if offset < m.base {
		return 0, fmt.Errorf("index %s: offset %d is below base offset %d", m.path, offset, m.base)
	}
	if offset-m.base > math.MaxUint32 {
		return 0, fmt.Errorf("index %s: offset %d is more than 2^32-1 past base offset %d", m.path, offset, m.base)
	}
	return uint32(offset - m.base), nil
}

// File is what an offset index and a time index have in common: the
// memory-mapped file, its entry count and its lifetime. OffsetIndex and
// TimeIndex embed it.
type File struct {
	m mappedFile
}

// Entries returns the number of entries in the index (0 after Close).
func (f *File) Entries() int {
	return int(f.m.n.Load())
}

// IsFull reports whether the index holds as many entries as its maximum size
// allows, so that the next Append that needs an entry would return
// ErrIndexFull.
func (f *File) IsFull() bool {
	return int(f.m.n.Load()) >= f.m.maxEntries
}

// BaseOffset returns the base offset of the segment the index belongs to.
func (f *File) BaseOffset() int64 {
	return f.m.base
}

// Reset removes all entries, zeroing their bytes, and forgets any corruption
// noticed when the file was opened. The index can then be rebuilt with Append.
func (f *File) Reset() error {
	if err := f.m.truncateEntries(0); err != nil {
		return err
	}
	f.m.oddSize = false
	return nil
}

// Sync flushes the mapped entries and the file to stable storage (msync and
// fsync). Close does not sync; call Sync first when durability matters.
func (f *File) Sync() error {
	return f.m.sync()
}

// Trim shrinks the file to the size of its entries and remaps it; it is
// called when the segment rolls. The index stays usable: a later Append grows
// the file back to its configured maximum size.
func (f *File) Trim() error {
	return f.m.trim()
}

// Close trims the file to the size of its entries, unmaps and closes it. It
// does not sync (see Sync). Calling Close again does nothing and returns nil.
// After Close, readers see an empty index and writer methods return an error
// wrapping os.ErrClosed.
func (f *File) Close() error {
	return f.m.close()
}

// Delete closes the index and removes its file. A file that is already gone
// is not an error.
func (f *File) Delete() error {
	return f.m.remove()
}

// Rename renames the index file to newPath (for example to add a ".deleted"
// suffix). It works on open and closed indexes; Path reports the new name.
func (f *File) Rename(newPath string) error {
	return f.m.rename(newPath)
}

// Path returns the current path of the index file.
func (f *File) Path() string {
	return f.m.getPath()
}
