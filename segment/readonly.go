package segment

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"

	"github.com/commitlog-go/commitlog/index"
	"github.com/commitlog-go/commitlog/record"
	"github.com/commitlog-go/commitlog/vfs"
)

// readOnly is the state of a segment opened by OpenReadOnly.
type readOnly struct {
	mu   sync.Mutex  // serialises CatchUp: the one writer of the segment's in-memory state
	info fs.FileInfo // the .log file as opened, to tell a file put in its place (nil: unknown)
}

// OpenReadOnly opens the segment with the given base offset in dir for a
// reader that does not own it: another process (or Broker) owns the
// directory and may be appending to the segment right now. Nothing is
// written: the .log file is opened read-only, the index files on disk are
// not opened (the owner's may be behind), and the indexes are built in
// memory by a scan of the whole file that checks every batch's length,
// CRC and offsets. The segment holds the batches before the first one
// that is incomplete or fails a check (the owner is in the middle of
// writing it); CatchUp reads on from there. Nothing is ever truncated.
//
// Only the read methods (Read, Position, FindOffsetByTimestamp, Scan, the
// accessors), CatchUp, Replaced and Close may be used; Delete closes the
// segment and leaves the files alone. A file that does not exist is an
// error wrapping fs.ErrNotExist.
func OpenReadOnly(dir string, baseOffset int64, cfg Config) (*Segment, error) {
	cfg = cfg.withDefaults()
	s := &Segment{dir: dir, base: baseOffset, cfg: cfg, offMaxTS: -1, done: make(chan struct{}), ro: &readOnly{}}
	s.refs.Store(1)
	s.maxTS.Store(-1)
	s.next.Store(baseOffset)
	s.logPath = filepath.Join(dir, FileName(baseOffset, LogSuffix))
	f, err := cfg.FS.OpenFile(s.logPath, os.O_RDONLY, 0)
	if err != nil {
		return nil, fmt.Errorf("segment %d: %w", baseOffset, err)
	}
	s.f = f
	if st, ok := f.(interface{ Stat() (fs.FileInfo, error) }); ok {
		if s.ro.info, err = st.Stat(); err != nil {
			f.Close()
			return nil, fmt.Errorf("segment %d: %w", baseOffset, err)
		}
	}
	mem := vfs.NewMem()
	if s.oi, err = index.OpenOffsetIndex(mem, FileName(baseOffset, IndexSuffix), baseOffset, cfg.MaxIndexBytes); err != nil {
		f.Close()
		return nil, fmt.Errorf("segment %d: %w", baseOffset, err)
	}
	if s.ti, err = index.OpenTimeIndex(mem, FileName(baseOffset, TimeIndexSuffix), baseOffset, cfg.MaxIndexBytes); err != nil {
		s.oi.Close()
		f.Close()
		return nil, fmt.Errorf("segment %d: %w", baseOffset, err)
	}
	if _, err := s.CatchUp(); err != nil {
		_ = s.closeFiles(false)
		return nil, err
	}
	return s, nil
}

// ReadOnly reports whether the segment was opened by OpenReadOnly.
func (s *Segment) ReadOnly() bool { return s.ro != nil }

// CatchUp reads the batches the owner appended to a read-only segment
// since the last call (or OpenReadOnly): from the end of the batches the
// segment holds to the end of the file, it checks each batch's length,
// CRC and offsets, indexes it in memory and makes it readable, and stops
// at the first batch that is incomplete or fails a check, which the next
// call reads again (the owner may be writing it). It returns how many
// bytes of batches it added. Calls are serialised; readers go on
// meanwhile. A segment not opened read-only is an error.
func (s *Segment) CatchUp() (added int64, err error) {
	if s.ro == nil {
		return 0, fmt.Errorf("segment %d: CatchUp of a segment opened for writing", s.base)
	}
	s.ro.mu.Lock()
	defer s.ro.mu.Unlock()
	fileSize, err := s.f.Size()
	if err != nil {
		return 0, s.ioErr(err)
	}
	from := s.size.Load()
	if fileSize <= from {
		return 0, nil
	}
	if fileSize > MaxSegmentBytes {
		fileSize = MaxSegmentBytes
	}
	pos := from
	next := s.next.Load()
	r := bufio.NewReaderSize(io.NewSectionReader(s.f, pos, fileSize-pos), 256<<10)
	var buf []byte
	for pos+record.HeaderSize <= fileSize {
		hdr, err := r.Peek(record.HeaderSize)
		if err != nil {
			if errors.Is(err, io.EOF) {
				break // the file is shorter than its size said: stop, look again later
			}
			return pos - from, s.ioErr(err)
		}
		h, err := record.ParseHeader(hdr)
		if err != nil || !s.follows(&h, next) || !s.fits(&h) || int64(h.Size()) > fileSize-pos {
			break // incomplete or not (yet) valid: the owner may be writing it
		}
		if cap(buf) < h.Size() {
			buf = make([]byte, h.Size())
		}
		buf = buf[:h.Size()]
		if _, err := io.ReadFull(r, buf); err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				break
			}
			return pos - from, s.ioErr(err)
		}
		if _, err := record.Check(buf); err != nil {
			break // torn: the owner's write is not all there yet
		}
		s.indexBatch(&h, pos)
		next = h.NextOffset()
		pos += int64(h.Size())
		// As an append does: next before size, which readers load first.
		s.next.Store(next)
		s.size.Store(pos)
	}
	return pos - from, nil
}

// Replaced reports whether the file at the read-only segment's name is
// no longer the one it holds open: removed (retention, compaction),
// renamed aside, replaced by another (a compaction swap installs the
// cleaned segment under the name of the first segment it replaces), or
// cut shorter than the batches the segment holds (the owner recovered a
// torn tail after a restart). Where the file system cannot tell files
// apart (no Stat on its files), only removal and cutting are seen.
func (s *Segment) Replaced() bool {
	st, err := s.cfg.FS.Stat(s.logPath)
	if err != nil {
		return true
	}
	if s.ro != nil && s.ro.info != nil && !os.SameFile(st, s.ro.info) {
		return true
	}
	return st.Size() < s.size.Load()
}
