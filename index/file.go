package index

import (
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"sync"
	"sync/atomic"

	"github.com/commitlog-go/commitlog/record"
	"github.com/commitlog-go/commitlog/vfs"
)

// ErrIndexFull is returned by Append when the index already holds as many
// entries as its maximum size allows. The caller should roll the segment.
var ErrIndexFull = errors.New("commitlog: index full")

// entryFile is the machinery shared by the offset and time indexes: a file
// of fixed-size entries, held in memory and written to the file with
// positional writes, with a published entry count.
//
// Readers load n, then buf, and read the entries below n without a lock:
// the writer stores an entry's bytes before it publishes the count, and
// never changes a published entry in a buffer readers may hold (growing
// and truncating copy into a new buffer).
type entryFile struct {
	fsys       vfs.FS
	base       int64
	entrySize  int
	maxEntries int // configured capacity: maxBytes / entrySize

	mu   sync.Mutex // guards path (Rename against Path)
	path string

	f      vfs.File
	closed atomic.Bool

	buf atomic.Pointer[[]byte] // entries in memory; the first n are valid
	n   atomic.Int64

	// Writer only.
	written int   // entries [0, written) are in the file
	fileLen int64 // the file's size as the writer last left it

	// oddSize records that the file's size was not a multiple of entrySize
	// when it was opened; SanityCheck reports it until Reset.
	oddSize bool
}

// open opens or creates the file and reads its entries.
func (m *entryFile) open(fsys vfs.FS, path string, baseOffset int64, entrySize, maxBytes int) error {
	if maxBytes < entrySize {
		return fmt.Errorf("index %s: max size %d bytes is smaller than one %d-byte entry", path, maxBytes, entrySize)
	}
	if baseOffset < 0 {
		return fmt.Errorf("index %s: negative base offset %d", path, baseOffset)
	}
	m.fsys = vfs.Default(fsys)
	m.path = path
	m.base = baseOffset
	m.entrySize = entrySize
	m.maxEntries = maxBytes / entrySize

	f, err := m.fsys.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("index %s: open: %w", path, err)
	}
	size, err := f.Size()
	if err != nil {
		f.Close()
		return fmt.Errorf("index %s: stat: %w", path, err)
	}
	if size > math.MaxInt32*int64(entrySize) {
		f.Close()
		return fmt.Errorf("index %s: file size %d is too large: %w", path, size, record.ErrCorrupt)
	}
	slots := int(size / int64(entrySize))
	m.oddSize = size%int64(entrySize) != 0
	b := make([]byte, slots*entrySize)
	if _, err := f.ReadAt(b, 0); err != nil && !errors.Is(err, io.EOF) {
		f.Close()
		return fmt.Errorf("index %s: read: %w", path, err)
	}
	m.f = f
	m.buf.Store(&b)
	// Drop trailing all-zero entries, except the first: an all-zero entry
	// 0 is a legal entry (base offset at position 0 / timestamp 0). Older
	// versions preallocated the file, and left such padding after a crash.
	n := slots
	for n > 1 && isZero(b[(n-1)*entrySize:n*entrySize]) {
		n--
	}
	m.n.Store(int64(n))
	m.written = n
	m.fileLen = size
	return nil
}

func isZero(e []byte) bool {
	for _, c := range e {
		if c != 0 {
			return false
		}
	}
	return true
}

// errClosed wraps os.ErrClosed with the index path.
func (m *entryFile) errClosed() error {
	return fmt.Errorf("index %s: %w", m.getPath(), os.ErrClosed)
}

// corrupt wraps record.ErrCorrupt with the index path and a description.
func (m *entryFile) corrupt(format string, args ...any) error {
	return fmt.Errorf("index %s: %s: %w", m.getPath(), fmt.Sprintf(format, args...), record.ErrCorrupt)
}

// view returns the entries and how many of them are valid. After Close it
// is empty.
func (m *entryFile) view() ([]byte, int) {
	if m.closed.Load() {
		return nil, 0
	}
	n := int(m.n.Load())
	b := *m.buf.Load()
	return b, min(n, len(b)/m.entrySize)
}

// slot returns room for entry n, the next one, growing the buffer when it
// is full. Writer only.
func (m *entryFile) slot(n int) ([]byte, error) {
	if m.closed.Load() {
		return nil, m.errClosed()
	}
	if n >= m.maxEntries {
		return nil, fmt.Errorf("index %s: %d entries: %w", m.getPath(), n, ErrIndexFull)
	}
	b := *m.buf.Load()
	if (n+1)*m.entrySize > len(b) {
		grown := make([]byte, min(max(2*len(b), 64*m.entrySize), m.maxEntries*m.entrySize))
		copy(grown, b[:n*m.entrySize])
		m.buf.Store(&grown)
		b = grown
	}
	return b[n*m.entrySize : (n+1)*m.entrySize], nil
}

// truncateEntries keeps the first k entries. Writer only.
func (m *entryFile) truncateEntries(k int) error {
	if m.closed.Load() {
		return m.errClosed()
	}
	b, n := m.view()
	if k >= n {
		return nil
	}
	kept := make([]byte, max(k*m.entrySize, 64*m.entrySize))
	copy(kept, b[:k*m.entrySize])
	m.buf.Store(&kept)
	m.n.Store(int64(k))
	m.written = min(m.written, k)
	return nil
}

// flush writes the entries not yet in the file and cuts the file to its
// entries. Writer only. On failure (a full disk) nothing is lost: the
// entries stay in memory and the next flush writes them again.
func (m *entryFile) flush() error {
	if m.closed.Load() {
		return m.errClosed()
	}
	b, n := m.view()
	if want := int64(m.written) * int64(m.entrySize); m.fileLen != want {
		if err := m.f.Truncate(want); err != nil {
			return fmt.Errorf("index %s: truncate to %d bytes: %w", m.getPath(), want, err)
		}
		m.fileLen = want
	}
	if m.written < n {
		from, to := m.written*m.entrySize, n*m.entrySize
		k, err := m.f.WriteAt(b[from:to], int64(from))
		if k > 0 {
			m.fileLen = int64(from + k)
		}
		if err != nil {
			return fmt.Errorf("index %s: write: %w", m.getPath(), err)
		}
		m.written = n
	}
	return nil
}

// sync writes the pending entries and fsyncs the file. Writer only.
func (m *entryFile) sync() error {
	if err := m.flush(); err != nil {
		return err
	}
	if err := m.f.Sync(); err != nil {
		return fmt.Errorf("index %s: fsync: %w", m.getPath(), err)
	}
	return nil
}

// close writes the pending entries and closes the file; a second call does
// nothing.
func (m *entryFile) close() error {
	if m.closed.Load() {
		return nil
	}
	err := m.flush()
	m.closed.Store(true)
	if cerr := m.f.Close(); cerr != nil {
		err = errors.Join(err, fmt.Errorf("index %s: close: %w", m.getPath(), cerr))
	}
	empty := []byte{}
	m.buf.Store(&empty)
	m.n.Store(0)
	return err
}

// remove closes the index and deletes its file; a missing file is not an error.
func (m *entryFile) remove() error {
	m.closed.Store(true)
	err := m.f.Close()
	if err != nil && errors.Is(err, os.ErrClosed) {
		err = nil
	}
	path := m.getPath()
	if rerr := m.fsys.Remove(path); rerr != nil && !errors.Is(rerr, os.ErrNotExist) {
		err = errors.Join(err, fmt.Errorf("index %s: remove: %w", path, rerr))
	}
	return err
}

// rename renames the file; the index stays usable under the new path.
func (m *entryFile) rename(newPath string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.fsys.Rename(m.path, newPath); err != nil {
		return fmt.Errorf("index %s: rename to %s: %w", m.path, newPath, err)
	}
	m.path = newPath
	return nil
}

func (m *entryFile) getPath() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.path
}

// relative converts an absolute offset to a relative one, or reports why it
// cannot be stored.
func (m *entryFile) relative(offset int64) (uint32, error) {
	if offset < m.base {
		return 0, fmt.Errorf("index %s: offset %d is below base offset %d", m.getPath(), offset, m.base)
	}
	if offset-m.base > math.MaxUint32 {
		return 0, fmt.Errorf("index %s: offset %d is more than 2^32-1 past base offset %d", m.getPath(), offset, m.base)
	}
	return uint32(offset - m.base), nil
}

// File is what an offset index and a time index have in common: the file
// of entries, its entry count and its lifetime. OffsetIndex and TimeIndex
// embed it.
type File struct {
	m entryFile
}

// Entries returns the number of entries in the index (0 after Close).
func (f *File) Entries() int {
	_, n := f.m.view()
	return n
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

// Reset removes all entries and forgets any corruption noticed when the
// file was opened. The index can then be rebuilt with Append; the file is
// cut at the next Sync, Trim or Close.
func (f *File) Reset() error {
	if err := f.m.truncateEntries(0); err != nil {
		return err
	}
	f.m.oddSize = false
	return nil
}

// Sync writes the entries not yet in the file and flushes the file to
// stable storage (fsync).
func (f *File) Sync() error {
	return f.m.sync()
}

// Trim writes the entries not yet in the file and cuts the file to the size
// of its entries, without an fsync. The index stays usable.
func (f *File) Trim() error {
	return f.m.flush()
}

// Close writes the entries not yet in the file, cuts it to their size and
// closes it. It does not sync (see Sync). Calling Close again does nothing
// and returns nil. After Close, readers see an empty index and writer
// methods return an error wrapping os.ErrClosed.
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

// Written reports whether the file holds exactly the entries (nothing
// waits for the next Sync, Trim or Close). Writer only.
func (f *File) Written() bool {
	_, n := f.m.view()
	return f.m.written == n && f.m.fileLen == int64(n)*int64(f.m.entrySize)
}

// Path returns the current path of the index file.
func (f *File) Path() string {
	return f.m.getPath()
}
