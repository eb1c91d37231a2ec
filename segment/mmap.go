package segment

import (
	"errors"
	"fmt"
	"io"
	"runtime/debug"
	"sync/atomic"
	"unsafe"

	"github.com/commitlog-go/commitlog/record"
)

// fileMap is a read-only memory map of a segment's .log file (see
// mapFile): its first len(data) bytes of address range, which may reach
// past the end of the file. Readers copy from it only bytes below the
// segment's published size, which the file holds (see readAt).
type fileMap struct {
	data []byte
	// seen has a bit for every window of mapWindow bytes of the map,
	// set once a read covered it (see readAgain).
	seen []atomic.Uint64
	// broken is set when a read from the map faulted: the file is shorter
	// than the segment's batches (cut by something other than the log),
	// or the disk failed to read a page back. Readers then use ReadAt,
	// which tells the two apart.
	broken atomic.Bool
}

// mapped returns the segment's memory map, making it on the first call,
// or nil when there is none (the file system gives no file descriptor,
// the platform maps nothing, the map failed or broke). The caller holds a
// reference (Acquire): the map stays until the last one is released.
func (s *Segment) mapped() *fileMap {
	if m := s.fmap.Load(); m != nil {
		if m.broken.Load() {
			return nil
		}
		return m
	}
	if s.mapDone.Load() {
		return nil
	}
	s.mapMu.Lock()
	defer s.mapMu.Unlock()
	if !s.mapDone.Load() {
		// segment.bytes, or the whole file if it is larger (segment.bytes
		// was lowered since it was written).
		n := min(max(s.cfg.SegmentBytes, s.size.Load()), MaxSegmentBytes)
		if m := mapFile(s.f, int(n)); m != nil {
			s.fmap.Store(m)
		}
		s.mapDone.Store(true)
	}
	return s.fmap.Load()
}

// unmap removes the memory map, if any; closeFiles calls it once no
// reader holds the segment, and no map is made afterwards.
func (s *Segment) unmap() error {
	s.mapMu.Lock()
	defer s.mapMu.Unlock()
	s.mapDone.Store(true)
	m := s.fmap.Swap(nil)
	if m == nil {
		return nil
	}
	if err := m.unmap(); err != nil {
		return fmt.Errorf("segment %d: unmap: %w", s.base, err)
	}
	return nil
}

// readAt fills buf with the bytes of the log file at pos. The caller
// holds a reference (Acquire) and asks only for bytes below the size it
// loaded (complete batches, in the file). They are copied from the memory
// map when it covers them, without a system call; otherwise, or on a
// platform without a map, read with ReadAt.
//
// A file shorter than the published size (cut by another process) is an
// error wrapping record.ErrCorrupt, not a crash: a read from the map that
// faults (SIGBUS: the pages are past the end of the file, or the disk
// failed to read them) is read again with ReadAt, which says which it was,
// and the segment reads with ReadAt from then on.
func (s *Segment) readAt(buf []byte, pos int64) error {
	if m := s.mapped(); m != nil && pos >= 0 && int64(len(buf)) <= int64(len(m.data))-pos && m.readAgain(pos, len(buf)) {
		if copyFromMap(buf, m.data[pos:pos+int64(len(buf))]) {
			return nil
		}
		m.broken.Store(true)
	}
	if _, err := s.f.ReadAt(buf, pos); err != nil {
		if errors.Is(err, io.EOF) {
			return fmt.Errorf("segment %d: reading %d bytes at position %d: the file ends before the %d bytes of batches the segment holds (cut by something other than the log): %w",
				s.base, len(buf), pos, s.size.Load(), record.ErrCorrupt)
		}
		return s.ioErr(err)
	}
	return nil
}

// mapWindow is the granularity at which readers tell bytes read before
// from bytes read for the first time (readAgain): the 64 KiB that Linux
// maps around a page fault (fault_around_bytes) when the pages are cached.
const mapWindow = 64 << 10

// newFileMap returns the map of data, with its windows not yet seen.
func newFileMap(data []byte) *fileMap {
	windows := (len(data) + mapWindow - 1) / mapWindow
	return &fileMap{data: data, seen: make([]atomic.Uint64, (windows+63)/64)}
}

// readAgain reports whether every window of the map that the n bytes at
// pos touch was read before, and marks them read. The first read of a
// window goes through pread, later ones through the map: the first touch
// of a page of the map costs a page fault, which costs more than a pread
// of it, and pays off only when the page is read again. So bytes read
// once (a consumer reading the log through, random reads of a log much
// larger than what is read of it) cost a pread, and bytes read again
// (random reads of a working set) the copy from the map, plus one fault
// and one pread per window.
func (m *fileMap) readAgain(pos int64, n int) bool {
	again := true
	for w := pos / mapWindow; w <= (pos+int64(n)-1)/mapWindow; w++ {
		word, bit := &m.seen[w/64], uint64(1)<<(w%64)
		if word.Load()&bit == 0 {
			word.Or(bit)
			again = false
		}
	}
	return again
}

// copyFromMap copies src, bytes of a memory map, to dst, which is as long,
// and reports false if reading them faulted (the pages are past the end of
// the file: SIGBUS), which the runtime turns into a panic for this
// goroutine while panic-on-fault is set (runtime/debug.SetPanicOnFault,
// made for reading memory-mapped files). Any other panic goes on.
func copyFromMap(dst, src []byte) (ok bool) {
	old := debug.SetPanicOnFault(true)
	defer func() {
		debug.SetPanicOnFault(old)
		if r := recover(); r != nil {
			if _, fault := r.(interface{ Addr() uintptr }); !fault {
				panic(r)
			}
			ok = false
		}
	}()
	// The runtime's memmove copies a large block about twice as fast from
	// an aligned source (it aligns only the destination): copy up to the
	// source's next 64-byte boundary first. And it copies blocks of 1 MiB
	// or more with non-temporal stores, which leave the destination out of
	// the cache that the CRC check and the decoding read it from next:
	// copy at most copyChunk at a time.
	if h := int(-uintptr(unsafe.Pointer(unsafe.SliceData(src))) & 63); len(src) >= 1024 && h > 0 {
		copy(dst[:h], src[:h])
		dst, src = dst[h:], src[h:]
	}
	for len(src) > copyChunk {
		copy(dst[:copyChunk], src[:copyChunk])
		dst, src = dst[copyChunk:], src[copyChunk:]
	}
	copy(dst, src)
	return true
}

// copyChunk is the most copyFromMap copies with one memmove: below the
// runtime's threshold for non-temporal stores (1 MiB on amd64).
const copyChunk = 512 << 10
