package segment

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/commitlog-go/commitlog/index"
	"github.com/commitlog-go/commitlog/record"
	"github.com/commitlog-go/commitlog/vfs"
)

// File name suffixes, as Kafka names them.
const (
	LogSuffix       = ".log"
	IndexSuffix     = ".index"
	TimeIndexSuffix = ".timeindex"
)

// Defaults of Config, Kafka's defaults for the settings they mirror; the
// one source of these defaults, which package log and the broker's topic
// settings refer to.
const (
	DefaultIndexIntervalBytes = 4096     // index.interval.bytes
	DefaultMaxIndexBytes      = 10 << 20 // segment.index.bytes
	DefaultSegmentBytes       = 1 << 30  // segment.bytes
	// MaxSegmentBytes is the largest a segment may grow: index positions
	// are 32-bit, and Kafka caps segment.bytes at Int.MaxValue too.
	MaxSegmentBytes = math.MaxInt32
)

// Config holds the per-segment settings. Package log builds it from its
// own Config (one place: its segmentConfig). As for every config of the
// project, a plain field's zero value means its default, and a setting
// whose Kafka zero is legal and differs from the default is a pointer, nil
// meaning the default.
type Config struct {
	// IndexIntervalBytes is how many bytes of batches go between two index
	// entries (index.interval.bytes; nil is DefaultIndexIntervalBytes, 0
	// indexes every batch after the first). Smaller means faster lookups
	// and larger indexes.
	IndexIntervalBytes *int
	// MaxIndexBytes is the most bytes each index file may hold
	// (segment.index.bytes, default 10 MiB). A segment whose index is full
	// rolls.
	MaxIndexBytes int
	// SegmentBytes is the size at which the log rolls the segment
	// (segment.bytes, default 1 GiB): how much of the file's address
	// range readers map (or the file's size, if larger), so that the map
	// covers the batches appended after it was made (see the package
	// documentation). A segment may still grow past it (a batch larger
	// than segment.bytes gets a segment of its own): the bytes past the
	// map are read with ReadAt.
	SegmentBytes int64
	// FS is the file system the segment's files live on (nil: the OS).
	FS vfs.FS
	// Compacted says the log cleaner may have removed records from the
	// segment, so its offsets may have gaps: every batch starts after the
	// previous one ends (the first at or after the base offset) and ends
	// below the segment's next offset. False, a dense segment (every
	// segment of a delete-policy log, and the active segment of any log),
	// means that every batch starts exactly where the previous one ends
	// and the first at the base offset. A batch whose offsets break the
	// rule is ErrCorrupt wherever it is found. See the package
	// documentation.
	Compacted bool
	// Sealed says the segment was flushed whole before the last shutdown:
	// the log rolled past it, or closed cleanly. Damage found in it then
	// cannot be a torn write: Open checks the offsets of the batches it
	// looks at (see the package documentation), and Recover reports the
	// first bad batch with an error wrapping record.ErrCorrupt instead of
	// truncating the file there.
	Sealed bool
	// RecoveryPoint is an offset below which every record was fsynced
	// (the log's recovery point, from the broker's checkpoint), 0 if none
	// is known. Recover refuses, with an error wrapping record.ErrCorrupt,
	// to cut the file where the valid batches end below it: that is damage
	// to durable data, not a torn write.
	RecoveryPoint int64
}

func (c Config) withDefaults() Config {
	if c.IndexIntervalBytes == nil {
		c.IndexIntervalBytes = new(DefaultIndexIntervalBytes)
	} else {
		c.IndexIntervalBytes = new(*c.IndexIntervalBytes) // the segment's own
	}
	if c.MaxIndexBytes <= 0 {
		c.MaxIndexBytes = DefaultMaxIndexBytes
	}
	if c.SegmentBytes <= 0 {
		c.SegmentBytes = DefaultSegmentBytes
	}
	c.SegmentBytes = min(c.SegmentBytes, MaxSegmentBytes)
	c.FS = vfs.Default(c.FS)
	return c
}

// FileName is the name Kafka gives a segment file: the base offset as 20
// zero-padded digits, then suffix.
func FileName(baseOffset int64, suffix string) string {
	return fmt.Sprintf("%020d%s", baseOffset, suffix)
}

// Segment is one ".log" file and its indexes. See the package documentation
// for the concurrency contract.
type Segment struct {
	dir  string
	base int64
	cfg  Config

	f  vfs.File
	oi *index.OffsetIndex
	ti *index.TimeIndex

	size     atomic.Int64 // bytes of complete batches; readers stay below it
	next     atomic.Int64 // offset after the last batch
	maxTS    atomic.Int64 // largest batch timestamp so far, -1 if none
	rollFrom atomic.Int64 // wall clock (ms) segment.ms counts from; 0 until the first ShouldRoll
	offMaxTS int64        // offset holding maxTS (writer only)
	sinceIdx int          // bytes appended since the last index entry (writer only)

	refs     atomic.Int64 // 1 for the owner plus one per reader in flight
	closing  atomic.Bool  // Close or Delete started: no new readers
	release  sync.Once
	mu       sync.Mutex // guards deleting, finalErr, suffix and logPath
	deleting bool
	finalErr error
	suffix   string // extra file name suffix (".cleaned", ".swap", ".deleted") or ""
	logPath  string // current path of the .log file
	done     chan struct{}

	// The read-only memory map of the .log file that readers copy
	// batches from (see mapped): made by the first read that wants it,
	// removed by closeFiles once no reader holds the segment.
	mapMu   sync.Mutex              // guards making and removing the map (mapDone and the stores to fmap)
	mapDone atomic.Bool             // the map was made or tried (or the files are closed): no second try
	fmap    atomic.Pointer[fileMap] // nil: no map, readers use ReadAt

	// ro is set for a segment opened by OpenReadOnly (readonly.go): its
	// .log file is open read-only and its indexes live in memory.
	ro *readOnly
}

// Open opens the segment with the given base offset in dir, creating its
// files if they do not exist. An existing segment is restored without a
// full scan when its indexes pass their sanity checks; a segment whose
// index files are missing or damaged is recovered (see Recover) at once.
func Open(dir string, baseOffset int64, cfg Config) (*Segment, error) {
	return OpenWithSuffix(dir, baseOffset, "", cfg)
}

// OpenWithSuffix is Open for a segment whose three file names carry an
// extra suffix after the usual one, as Kafka names segments in the middle
// of a change: "00000000000000000100.log.cleaned" and its
// ".index.cleaned" and ".timeindex.cleaned" while the log cleaner writes
// them, ".swap" while they replace the segments they were cleaned from.
// RenameSuffix moves the files between such names.
func OpenWithSuffix(dir string, baseOffset int64, suffix string, cfg Config) (*Segment, error) {
	cfg = cfg.withDefaults()
	s := &Segment{dir: dir, base: baseOffset, cfg: cfg, offMaxTS: -1, done: make(chan struct{}), suffix: suffix}
	s.refs.Store(1)
	s.maxTS.Store(-1)
	s.next.Store(baseOffset)

	logPath := filepath.Join(dir, FileName(baseOffset, LogSuffix)+suffix)
	s.logPath = logPath
	f, err := cfg.FS.OpenFile(logPath, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("segment %d: %w", baseOffset, err)
	}
	s.f = f
	fileSize, err := f.Size()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("segment %d: %w", baseOffset, err)
	}
	if fileSize > MaxSegmentBytes {
		f.Close()
		return nil, fmt.Errorf("segment %d: file of %d bytes is larger than a segment can be: %w", baseOffset, fileSize, record.ErrCorrupt)
	}
	s.size.Store(fileSize)

	idxPath := filepath.Join(dir, FileName(baseOffset, IndexSuffix)+suffix)
	tidxPath := filepath.Join(dir, FileName(baseOffset, TimeIndexSuffix)+suffix)
	missing := !vfs.Exists(cfg.FS, idxPath) || !vfs.Exists(cfg.FS, tidxPath)
	if s.oi, err = index.OpenOffsetIndex(cfg.FS, idxPath, baseOffset, cfg.MaxIndexBytes); err != nil {
		f.Close()
		return nil, fmt.Errorf("segment %d: %w", baseOffset, err)
	}
	if s.ti, err = index.OpenTimeIndex(cfg.FS, tidxPath, baseOffset, cfg.MaxIndexBytes); err != nil {
		s.oi.Close()
		f.Close()
		return nil, fmt.Errorf("segment %d: %w", baseOffset, err)
	}
	if fileSize == 0 {
		if s.oi.Entries() > 0 || s.ti.Entries() > 0 {
			_ = s.oi.Reset()
			_ = s.ti.Reset()
		}
		return s, nil
	}
	if missing || s.restore() != nil {
		if _, err := s.Recover(); err != nil {
			s.closeFiles(false)
			return nil, err
		}
	}
	return s, nil
}

// restore rebuilds the in-memory state of a segment from its indexes and a
// scan of the tail after the last index entry. An error means the indexes
// cannot be trusted (or the tail is damaged) and the segment needs Recover.
//
// For a Sealed segment it also checks the offsets of the batches it reads,
// cheaply: the first batch of the file starts at the base offset (dense) or
// at or after it (compacted); the batch at the last index entry ends at
// that entry's offset; every batch after it follows the one before (see
// follows). Recover then finds the damage and reports it.
func (s *Segment) restore() error {
	size := s.size.Load()
	if err := s.oi.SanityCheck(size); err != nil {
		return err
	}
	var h record.BatchHeader
	var err error
	pos := int64(0)
	entry := int64(-1) // last offset of the batch at pos, from the index
	if off, p, ok := s.oi.LastEntry(); ok && p > 0 {
		pos, entry = int64(p), off
	}
	if s.cfg.Sealed && pos > 0 {
		if h, err = s.headerAt(0, size); err != nil {
			return err
		}
		if !s.follows(&h, s.base) {
			return s.discontinuity(&h, 0, s.base)
		}
	}
	if ts, off, ok := s.ti.LastEntry(); ok {
		s.maxTS.Store(ts)
		s.offMaxTS = off
	}
	sinceIdx := 0
	prevNext := s.base
	for pos < size {
		if h, err = s.headerAt(pos, size); err != nil {
			return err
		}
		if !s.fits(&h) || h.Size() > int(size-pos) {
			return fmt.Errorf("segment %d: batch at position %d does not fit: %w", s.base, pos, record.ErrCorrupt)
		}
		if s.cfg.Sealed {
			if entry >= 0 {
				err = s.checkEntry(&h, pos, entry)
			} else if !s.follows(&h, prevNext) {
				err = s.discontinuity(&h, pos, prevNext)
			}
			if err != nil {
				return err
			}
		}
		entry = -1
		if h.MaxTimestamp > s.maxTS.Load() {
			s.maxTS.Store(h.MaxTimestamp)
			s.offMaxTS = h.LastOffset()
		}
		pos += int64(h.Size())
		sinceIdx += h.Size()
		prevNext = h.NextOffset()
		s.next.Store(prevNext)
	}
	if err := s.ti.SanityCheck(s.next.Load()); err != nil {
		return err
	}
	s.sinceIdx = sinceIdx
	return nil
}

func (s *Segment) headerAt(pos, size int64) (record.BatchHeader, error) {
	var buf [record.HeaderSize]byte
	if pos+record.HeaderSize > size {
		return record.BatchHeader{}, fmt.Errorf("segment %d: batch header at position %d runs past the end (%d): %w", s.base, pos, size, record.ErrCorrupt)
	}
	if _, err := s.f.ReadAt(buf[:], pos); err != nil {
		return record.BatchHeader{}, s.ioErr(err)
	}
	h, err := record.ParseHeader(buf[:])
	if err != nil {
		return h, fmt.Errorf("segment %d, position %d: %w", s.base, pos, err)
	}
	return h, nil
}

// fits reports whether every offset of the batch h describes is one the
// segment can hold: at most 2^32-1 past its base offset (the index's
// relative offsets), computed without overflow for a damaged base offset
// near the largest int64.
func (s *Segment) fits(h *record.BatchHeader) bool {
	return h.BaseOffset >= s.base && h.BaseOffset-s.base <= math.MaxUint32-int64(h.LastOffsetDelta)
}

// writeFailed handles a write at pos that failed (a full disk, an I/O
// error): the segment stays as it was, without the batch, and what the
// write left past pos is cut off (best effort: the next append overwrites
// it anyway, and recovery would cut it after a crash).
func (s *Segment) writeFailed(pos int64, err error) error {
	_ = s.f.Truncate(pos)
	return s.ioErr(err)
}

func (s *Segment) ioErr(err error) error {
	if errors.Is(err, os.ErrClosed) {
		return fmt.Errorf("segment %d: %w", s.base, ErrClosed)
	}
	return fmt.Errorf("segment %d: %w", s.base, err)
}

// Recover scans the whole log file batch by batch, verifying each batch's
// length and CRC and that its offsets follow the batch before it (see
// Config.Compacted). The file is truncated at the first batch that is
// torn, corrupt or out of place, and both indexes are rebuilt from the
// batches before it. It returns the number of bytes cut. Nothing before
// the first bad batch is lost.
//
// A Sealed segment is never truncated: a bad batch in it is reported with
// an error wrapping record.ErrCorrupt that names the segment and the
// position, and the file and its indexes are left as they are.
func (s *Segment) Recover() (truncated int64, err error) {
	fileSize, err := s.f.Size()
	if err != nil {
		return 0, s.ioErr(err)
	}
	if !s.cfg.Sealed && s.cfg.RecoveryPoint > s.base {
		next := s.base
		pos, bad, err := s.scanValid(fileSize, func(h *record.BatchHeader, _ int64) { next = h.NextOffset() })
		if err != nil {
			return 0, err
		}
		if pos < fileSize && next < s.cfg.RecoveryPoint {
			return 0, fmt.Errorf("segment %d: the valid batches end at offset %d, below the recovery point %d (records fsynced before the crash; unless the broker's recovery-point-offset-checkpoint is damaged): refusing to cut the file: %w", s.base, next, s.cfg.RecoveryPoint, bad)
		}
	}
	if s.cfg.Sealed {
		if _, bad, err := s.scanValid(fileSize, nil); err != nil {
			return 0, err
		} else if bad != nil {
			return 0, bad
		}
	}
	if err := s.oi.Reset(); err != nil {
		return 0, fmt.Errorf("segment %d: %w", s.base, err)
	}
	if err := s.ti.Reset(); err != nil {
		return 0, fmt.Errorf("segment %d: %w", s.base, err)
	}
	s.maxTS.Store(-1)
	s.offMaxTS = -1
	s.sinceIdx = 0
	s.next.Store(s.base)

	pos, _, err := s.scanValid(fileSize, func(h *record.BatchHeader, pos int64) {
		s.indexBatch(h, pos)
		s.next.Store(h.NextOffset())
	})
	if err != nil {
		return 0, err
	}
	if pos < fileSize {
		if err := s.f.Truncate(pos); err != nil {
			return 0, s.ioErr(err)
		}
	}
	s.size.Store(pos)
	return fileSize - pos, nil
}

// scanValid reads the first fileSize bytes of the log file from the start
// and calls fn (if not nil) with every valid batch in order. It returns
// the end of the valid batches and, when that is before fileSize, why the
// batch there is bad (an error wrapping record.ErrCorrupt); err is an I/O
// error.
//
// In a compacted segment a batch that does not come after the one before
// it makes both suspect (either may have moved): the valid batches end
// before the earlier one. fn therefore sees each batch only once the next
// one has been checked.
func (s *Segment) scanValid(fileSize int64, fn func(h *record.BatchHeader, pos int64)) (pos int64, bad, err error) {
	r := bufio.NewReaderSize(io.NewSectionReader(s.f, 0, fileSize), 1<<20)
	var buf []byte
	next := s.base
	var prev record.BatchHeader
	prevPos := int64(-1)
	emit := func() {
		if fn != nil && prevPos >= 0 {
			fn(&prev, prevPos)
		}
	}
	for pos < fileSize {
		hdr, err := r.Peek(record.HeaderSize)
		if err != nil {
			if len(hdr) < record.HeaderSize && int64(len(hdr)) == fileSize-pos {
				bad = fmt.Errorf("segment %d, position %d: torn batch header (%d bytes): %w", s.base, pos, len(hdr), record.ErrCorrupt)
				break
			}
			return pos, nil, s.ioErr(err)
		}
		h, err := record.ParseHeader(hdr)
		switch {
		case err != nil:
			bad = fmt.Errorf("segment %d, position %d: %w", s.base, pos, err)
		case !s.follows(&h, next):
			bad = s.discontinuity(&h, pos, next)
			if s.cfg.Compacted && prevPos >= 0 {
				return prevPos, bad, nil
			}
		case !s.fits(&h):
			bad = fmt.Errorf("segment %d, position %d: batch at offsets %d+%d is past the reach of the index: %w", s.base, pos, h.BaseOffset, h.LastOffsetDelta, record.ErrCorrupt)
		case int64(h.Size()) > fileSize-pos:
			bad = s.pastEnd(pos, h.Size(), fileSize)
		}
		if bad != nil {
			break
		}
		if cap(buf) < h.Size() {
			buf = make([]byte, h.Size())
		}
		buf = buf[:h.Size()]
		if _, err := io.ReadFull(r, buf); err != nil {
			return pos, nil, s.ioErr(err)
		}
		if _, err := record.Check(buf); err != nil {
			bad = fmt.Errorf("segment %d, position %d: %w", s.base, pos, err)
			break
		}
		emit()
		prev, prevPos = h, pos
		pos += int64(h.Size())
		next = h.NextOffset()
	}
	emit()
	return pos, bad, nil
}

// indexBatch updates the timestamps and adds index entries for a batch
// written (or found) at pos, as Kafka does: an entry for a batch once more
// than index.interval.bytes were written since the previous entry.
func (s *Segment) indexBatch(h *record.BatchHeader, pos int64) {
	if h.MaxTimestamp > s.maxTS.Load() {
		s.maxTS.Store(h.MaxTimestamp)
		s.offMaxTS = h.LastOffset()
	}
	if s.sinceIdx > *s.cfg.IndexIntervalBytes {
		// A full index only makes lookups scan further; ShouldRoll rolls
		// the segment before that happens in practice.
		if err := s.oi.Append(h.LastOffset(), uint32(pos)); err == nil {
			_ = s.ti.Append(s.maxTS.Load(), s.offMaxTS)
		}
		s.sinceIdx = 0
	}
	s.sinceIdx += h.Size()
}

// BaseOffset is the offset the segment is named by; every batch in it is at
// or after it.
func (s *Segment) BaseOffset() int64 { return s.base }

// NextOffset is the offset after the last batch of the segment (the base
// offset when it is empty).
func (s *Segment) NextOffset() int64 { return s.next.Load() }

// Size is the number of bytes of complete batches in the log file.
func (s *Segment) Size() int64 { return s.size.Load() }

// MaxTimestamp is the largest batch timestamp in the segment, -1 when it is
// empty; retention.ms compares it with the clock.
func (s *Segment) MaxTimestamp() int64 { return s.maxTS.Load() }

// Append writes one encoded batch at the end of the segment. The batch
// must carry its final base offset, at or after NextOffset; callers check
// ShouldRoll first. Only one goroutine may append at a time. Readers see
// the batch once Append returns.
func (s *Segment) Append(batch []byte) error {
	h, err := record.ParseHeader(batch)
	if err != nil {
		return fmt.Errorf("segment %d: append: %w", s.base, err)
	}
	return s.AppendChecked(batch, &h)
}

// AppendChecked is Append for a batch whose header h the caller has
// already parsed (the log does, when it checks the batch's CRC), so that
// an append parses it once: h must describe batch as it is now, with its
// final base offset (see record.BatchHeader.SetBaseOffset). A batch whose
// size or base offset is not h's is refused.
func (s *Segment) AppendChecked(batch []byte, h *record.BatchHeader) error {
	if h.Size() != len(batch) {
		return fmt.Errorf("segment %d: append: batch of %d bytes says it has %d: %w", s.base, len(batch), h.Size(), record.ErrCorrupt)
	}
	if len(batch) < record.HeaderSize || int64(binary.BigEndian.Uint64(batch)) != h.BaseOffset {
		return fmt.Errorf("segment %d: append: the batch's header is not the one given (base offset %d)", s.base, h.BaseOffset)
	}
	if h.BaseOffset < s.next.Load() {
		return fmt.Errorf("segment %d: append at offset %d below the next offset %d", s.base, h.BaseOffset, s.next.Load())
	}
	if !s.fits(h) {
		return fmt.Errorf("segment %d: offset %d too far from the base offset for the index", s.base, h.LastOffset())
	}
	pos := s.size.Load()
	if pos+int64(len(batch)) > MaxSegmentBytes {
		return fmt.Errorf("segment %d: append of %d bytes would pass the 2 GiB segment limit: %w", s.base, len(batch), record.ErrRecordTooLarge)
	}
	if _, err := s.f.WriteAt(batch, pos); err != nil {
		return s.writeFailed(pos, err)
	}
	s.indexBatch(h, pos)
	s.next.Store(h.NextOffset())
	s.size.Store(pos + int64(len(batch)))
	return nil
}

// AppendBatches writes several encoded batches laid back to back in b with
// one write, as the log cleaner does with the batches it keeps. Every
// batch must be whole and carry its final base offset, above the previous
// one's last offset; the rules of Append apply to each. Nothing is written
// unless all of them pass.
func (s *Segment) AppendBatches(b []byte) error {
	pos := s.size.Load()
	if pos+int64(len(b)) > MaxSegmentBytes {
		return fmt.Errorf("segment %d: append of %d bytes would pass the 2 GiB segment limit: %w", s.base, len(b), record.ErrRecordTooLarge)
	}
	next := s.next.Load()
	for off := 0; off < len(b); {
		h, err := record.ParseHeader(b[off:])
		if err != nil {
			return fmt.Errorf("segment %d: append: %w", s.base, err)
		}
		if h.Size() > len(b)-off {
			return fmt.Errorf("segment %d: append: batch at %d runs past the %d bytes given: %w", s.base, h.BaseOffset, len(b), record.ErrCorrupt)
		}
		if h.BaseOffset < next {
			return fmt.Errorf("segment %d: append at offset %d below the next offset %d", s.base, h.BaseOffset, next)
		}
		if !s.fits(&h) {
			return fmt.Errorf("segment %d: offset %d too far from the base offset for the index", s.base, h.LastOffset())
		}
		next = h.NextOffset()
		off += h.Size()
	}
	if _, err := s.f.WriteAt(b, pos); err != nil {
		return s.writeFailed(pos, err)
	}
	for off := 0; off < len(b); {
		h, _ := record.ParseHeader(b[off:])
		s.indexBatch(&h, pos+int64(off))
		off += h.Size()
	}
	s.next.Store(next)
	s.size.Store(pos + int64(len(b)))
	return nil
}

// ShouldRoll reports whether a batch of batchBytes ending at lastOffset must
// go into a new segment: this one is not empty and would pass segmentBytes
// (segment.bytes), or it is older than segmentAge (segment.ms), or an index
// is full, or lastOffset does not fit the index's 32-bit relative offsets.
//
// A segment's age for segment.ms runs from the first ShouldRoll call after
// it was created or opened (the writer calls it before every append), by
// the wall clock now. Unlike Kafka, which counts from the first batch's
// timestamp, record timestamps play no part: a producer replaying old
// records must not roll a segment per batch.
func (s *Segment) ShouldRoll(batchBytes int, lastOffset int64, segmentBytes int64, segmentAge time.Duration, now time.Time) bool {
	if s.rollFrom.Load() == 0 {
		s.rollFrom.Store(now.UnixMilli())
	}
	size := s.size.Load()
	if size == 0 {
		return false
	}
	if size+int64(batchBytes) > min(segmentBytes, MaxSegmentBytes) {
		return true
	}
	if segmentAge > 0 && now.UnixMilli()-s.rollFrom.Load() >= segmentAge.Milliseconds() {
		return true
	}
	return s.oi.IsFull() || s.ti.IsFull() || lastOffset-s.base > math.MaxUint32
}

// Sync flushes the log file to stable storage (fsync). Index files are
// derived data and are written by Seal and Close. Unlike the other writer
// methods it may run concurrently with Append, Seal, Close and Delete: it
// holds a reference (see Acquire) while it fsyncs, so Close waits for it,
// and it fails with ErrClosed once Close or Delete has begun.
func (s *Segment) Sync() error {
	if !s.Acquire() {
		return fmt.Errorf("segment %d: %w", s.base, ErrClosed)
	}
	defer s.Release()
	if err := s.f.Sync(); err != nil {
		return s.ioErr(err)
	}
	return nil
}

// Seal makes the segment inactive when the log rolls past it: it adds the
// final time index entry, writes both indexes and fsyncs everything.
// Appending after Seal still works, which truncation of the log may need.
// A failed Seal (a full disk) may be retried.
func (s *Segment) Seal() error {
	if s.maxTS.Load() >= 0 {
		_ = s.ti.Append(s.maxTS.Load(), s.offMaxTS)
	}
	if err := s.f.Sync(); err != nil {
		return s.ioErr(err)
	}
	for _, fn := range []func() error{s.oi.Sync, s.ti.Sync} {
		if err := fn(); err != nil {
			return fmt.Errorf("segment %d: %w", s.base, err)
		}
	}
	return nil
}

// IndexesWritten reports whether both index files hold exactly their
// entries, as after Seal: false when Open rebuilt them or appends added
// entries since. Writer only.
func (s *Segment) IndexesWritten() bool { return s.oi.Written() && s.ti.Written() }

// Acquire takes a reference that keeps the segment's files open while a
// reader uses them, even if the owner closes or deletes the segment
// meanwhile. It returns false once the segment is closed. Every successful
// Acquire must be paired with Release.
func (s *Segment) Acquire() bool {
	if s.closing.Load() {
		return false
	}
	for {
		r := s.refs.Load()
		if r <= 0 {
			return false
		}
		if s.refs.CompareAndSwap(r, r+1) {
			return true
		}
	}
}

// Release gives back a reference taken by Acquire.
func (s *Segment) Release() {
	if s.refs.Add(-1) == 0 {
		s.finalize()
	}
}

func (s *Segment) finalize() {
	s.mu.Lock()
	deleting := s.deleting
	s.mu.Unlock()
	err := s.closeFiles(!deleting)
	if deleting {
		err = errors.Join(err, s.removeFiles())
	}
	s.mu.Lock()
	s.finalErr = err
	s.mu.Unlock()
	close(s.done)
}

// closeFiles closes the three files; with finalEntry it first adds the
// final time index entry, as Kafka does when it closes a segment.
func (s *Segment) closeFiles(finalEntry bool) error {
	if finalEntry && s.maxTS.Load() >= 0 {
		_ = s.ti.Append(s.maxTS.Load(), s.offMaxTS)
	}
	return errors.Join(s.unmap(), s.oi.Close(), s.ti.Close(), s.f.Close())
}

// removeFiles removes the three files under their current names. The
// .log file goes last, as in RenameSuffix: a .log file on disk is what
// makes a segment exist, its indexes are derived data.
func (s *Segment) removeFiles() error {
	s.mu.Lock()
	logPath := s.logPath
	s.mu.Unlock()
	var errs []error
	for _, path := range []string{s.oi.Path(), s.ti.Path(), logPath} {
		if err := s.cfg.FS.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Suffix is the extra suffix of the segment's file names ("" for a
// segment under its final names).
func (s *Segment) Suffix() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.suffix
}

// RenameSuffix renames the segment's three files from their current extra
// suffix to suffix ("" for the final names), index files first and the
// .log file last, so that after a crash half-way the .log file still names
// the state the segment was in (index files found without their .log file
// are derived data and may be removed). Open files are unaffected: readers
// in flight keep reading, and a later Delete removes the files under their
// new names. Like Append, it must not run concurrently with other writer
// methods.
func (s *Segment) RenameSuffix(suffix string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if suffix == s.suffix {
		return nil
	}
	name := func(kind string) string { return filepath.Join(s.dir, FileName(s.base, kind)+suffix) }
	if err := s.oi.Rename(name(IndexSuffix)); err != nil {
		return fmt.Errorf("segment %d: %w", s.base, err)
	}
	if err := s.ti.Rename(name(TimeIndexSuffix)); err != nil {
		return fmt.Errorf("segment %d: %w", s.base, err)
	}
	if err := s.cfg.FS.Rename(s.logPath, name(LogSuffix)); err != nil {
		return fmt.Errorf("segment %d: %w", s.base, err)
	}
	s.logPath = name(LogSuffix)
	s.suffix = suffix
	return nil
}

// RemoveFiles removes the files of the segment with the given base offset
// and extra suffix from dir, if they exist: index files first, the .log
// file last. It is for files no open Segment owns (leftovers found at
// startup). fsys nil is the OS file system.
func RemoveFiles(fsys vfs.FS, dir string, baseOffset int64, suffix string) error {
	fsys = vfs.Default(fsys)
	var errs []error
	for _, kind := range []string{IndexSuffix, TimeIndexSuffix, LogSuffix} {
		if err := fsys.Remove(filepath.Join(dir, FileName(baseOffset, kind)+suffix)); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Close closes the segment's files once no reader holds them; it waits for
// that. It is idempotent.
func (s *Segment) Close() error {
	s.closing.Store(true)
	s.release.Do(s.Release)
	<-s.done
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.finalErr
}

// Delete removes the segment's files. Readers that hold a reference keep
// reading; the files go when the last of them releases it. Delete does not
// wait for them.
func (s *Segment) Delete() error {
	if s.ro != nil {
		return s.Close() // another process owns the files
	}
	s.mu.Lock()
	s.deleting = true
	s.mu.Unlock()
	s.closing.Store(true)
	s.release.Do(s.Release)
	select {
	case <-s.done:
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.finalErr
	default:
		return nil
	}
}
