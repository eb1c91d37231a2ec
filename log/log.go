package log

import (
	"errors"
	"fmt"
	"github.com/commitlog-go/commitlog/vfs"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/commitlog-go/commitlog/record"
	"github.com/commitlog-go/commitlog/segment"
)

// CleanShutdownFile is the marker Close leaves in the log directory; its
// presence on Open means the last shutdown was clean. Kafka uses the same
// name.
const CleanShutdownFile = ".kafka_cleanshutdown"

// Log is the log of one partition. See the package documentation.
type Log struct {
	dir string
	cfg Config
	// tuned is the copy of the settings read without a lock, which
	// Reconfigure replaces (reconfigure.go).
	tuned atomic.Pointer[tunables]

	mu     sync.Mutex // serialises writers: append, roll, retention, close; guards unflushed and firstDirt
	reapMu sync.Mutex // serialises reap (the OnStartOffset hook, publishing the new start, then file removal)
	segs   atomic.Pointer[[]*segment.Segment]
	start  atomic.Int64 // log start offset: durable (checkpointed) before it moves
	// pending is the log start offset retention or DeleteRecordsBefore
	// decided and reap has not yet made durable and published (at most
	// start when there is none). Written under mu.
	pending   atomic.Int64
	end       atomic.Int64 // log end offset
	flushed   atomic.Int64 // everything below it is fsynced; only grows (markFlushed)
	unflushed int64        // records appended since the last fsync began
	firstDirt time.Time    // time of the oldest append no fsync has begun to cover
	closed    atomic.Bool
	fsyncs    atomic.Int64 // fsyncs of the records' segment files (flushes and seals)

	// Group commit (SyncTo). flushMu guards flushing: at most one flush
	// runs at a time, and it holds no lock while it fsyncs. flushEnd
	// (on flushMu) is broadcast when a flush ends.
	flushMu  sync.Mutex
	flushEnd sync.Cond
	flushing bool // a flush is in flight

	// Compaction (compact.go). cleanMu serialises passes and lets Close
	// and Delete wait for one in flight to stop.
	cleanMu         sync.Mutex
	cleanFirstDirty atomic.Int64 // the checkpoint: first offset not mapped, -1 if none
	cleanHorizon    atomic.Int64 // earliest delete horizon of kept tombstones, -1 if none
	uncleanable     atomic.Bool  // a swap failed half-way: no more passes until reopened
	hook            func(step string) error

	// Read-only logs (readonly.go): another process owns the files.
	readOnly  bool
	refreshMu sync.Mutex // serialises Refresh
}

// AppendInfo describes a batch the log appended.
type AppendInfo struct {
	BaseOffset int64 // offset of the first record
	LastOffset int64 // offset of the last record
	// LogAppendTime is the time the log stamped on the batch when the topic
	// uses LogAppendTime, or -1.
	LogAppendTime int64
	// MaxTimestamp is the batch's max timestamp as stored.
	MaxTimestamp int64
	NumRecords   int32
	Size         int // bytes
}

// RecoveryInfo says what Open found and did.
type RecoveryInfo struct {
	CleanShutdown  bool
	Segments       int
	TruncatedBytes int64 // bytes cut from torn or corrupt tails
	// SwapsCompleted counts compaction swaps that a crash interrupted
	// and Open finished.
	SwapsCompleted int
}

// Open opens (or creates) the log in dir. After a crash it recovers the
// tail of the log, as the package documentation describes.
func Open(dir string, cfg Config) (*Log, error) {
	l, _, err := OpenWithInfo(dir, cfg)
	return l, err
}

// OpenWithInfo is Open that also reports what recovery did.
func OpenWithInfo(dir string, cfg Config) (*Log, RecoveryInfo, error) {
	var info RecoveryInfo
	cfg = cfg.withDefaults()
	fsys := cfg.FS
	if err := fsys.MkdirAll(dir, 0o755); err != nil {
		return nil, info, fmt.Errorf("log %s: %w", dir, err)
	}
	l := &Log{dir: dir, cfg: cfg}
	l.tune(&l.cfg)
	l.flushEnd.L = &l.flushMu

	var err error
	marker := filepath.Join(dir, CleanShutdownFile)
	if vfs.Exists(fsys, marker) {
		info.CleanShutdown = true
		if err := fsys.Remove(marker); err != nil {
			return nil, info, fmt.Errorf("log %s: %w", dir, err)
		}
		if err := fsys.SyncDir(dir); err != nil {
			return nil, info, fmt.Errorf("log %s: %w", dir, err)
		}
	}

	// The active segment's settings: dense even on a compacted log, whose
	// cleaner never touches the active segment.
	segCfg := cfg.segmentConfig()
	if info.SwapsCompleted, err = l.recoverCleaning(segCfg); err != nil {
		return nil, info, err
	}
	bases, err := l.scanDir()
	if err != nil {
		return nil, info, err
	}
	if bases, err = l.checkStart(bases); err != nil {
		return nil, info, err
	}
	var segs []*segment.Segment
	fail := func(err error) (*Log, RecoveryInfo, error) {
		for _, s := range segs {
			_ = s.Close()
		}
		return nil, info, err
	}
	for i, base := range bases {
		c := segCfg
		if i < len(bases)-1 {
			// The cleaner may have left gaps in the closed segments.
			c.Compacted = cfg.Compact
		}
		// Flushed whole at the roll past it or at the clean shutdown:
		// damage is no torn write, and Open refuses it rather than cut.
		c.Sealed = i < len(bases)-1 || info.CleanShutdown
		if cfg.Checkpoint != nil {
			c.RecoveryPoint = cfg.Checkpoint.RecoveryPoint
		}
		before := int64(-1)
		if !c.Sealed {
			// Open itself cuts a tail it finds damaged: count it.
			if st, err := fsys.Stat(filepath.Join(dir, segment.FileName(base, segment.LogSuffix))); err == nil {
				before = st.Size()
			}
		}
		s, err := segment.Open(dir, base, c)
		if err != nil {
			return fail(fmt.Errorf("log %s: %w", dir, err))
		}
		segs = append(segs, s)
		if cut := before - s.Size(); before >= 0 && cut > 0 {
			info.TruncatedBytes += cut
			cfg.Logger.Warn("truncated torn or corrupt log tail", "dir", dir, "segment", base, "bytes", cut, "next_offset", s.NextOffset())
		}
		if i < len(bases)-1 && !s.IndexesWritten() {
			// An inactive segment whose indexes Open rebuilt: write them
			// (an intact one was sealed when the log rolled past it, and
			// opening it costs no write and no fsync).
			if err := s.Seal(); err != nil {
				return fail(fmt.Errorf("log %s: %w", dir, err))
			}
		}
	}
	if len(segs) == 0 {
		s, err := segment.Open(dir, 0, segCfg)
		if err != nil {
			return fail(fmt.Errorf("log %s: %w", dir, err))
		}
		segs = append(segs, s)
		// Make the new log's directory and first segment durable entries
		// (POSIX does not promise that fsyncing a file does it).
		if err := errors.Join(fsys.SyncDir(dir), fsys.SyncDir(filepath.Dir(dir))); err != nil {
			return fail(fmt.Errorf("log %s: %w", dir, err))
		}
	} else if !info.CleanShutdown {
		last := segs[len(segs)-1]
		cut, err := last.Recover()
		if err != nil {
			return fail(fmt.Errorf("log %s: %w", dir, err))
		}
		if cut > 0 {
			info.TruncatedBytes += cut
			cfg.Logger.Warn("truncated torn or corrupt log tail", "dir", dir, "segment", last.BaseOffset(), "bytes", cut, "next_offset", last.NextOffset())
		}
		// What survived the crash may still sit in the page cache only:
		// make it durable, so that the flushed offset below is true.
		if err := last.Sync(); err != nil {
			return fail(fmt.Errorf("log %s: %w", dir, err))
		}
	}
	// Each segment goes on exactly where the previous one ends, compacted
	// or not: a roll starts the new segment at the log end offset, and the
	// cleaner keeps the last batch of every group it rewrites (empty if
	// need be), so a cleaned segment still ends where the next one begins.
	// A gap is a lost segment.
	for i := 1; i < len(segs); i++ {
		if segs[i].BaseOffset() < segs[i-1].NextOffset() {
			return fail(fmt.Errorf("log %s: segment %d starts before the end (%d) of segment %d: %w",
				dir, segs[i].BaseOffset(), segs[i-1].NextOffset(), segs[i-1].BaseOffset(), record.ErrCorrupt))
		}
		if segs[i].BaseOffset() != segs[i-1].NextOffset() {
			return fail(fmt.Errorf("log %s: segment %d ends before offset %d but segment %d starts at %d: the segment holding the offsets between is missing: %w",
				dir, segs[i-1].BaseOffset(), segs[i-1].NextOffset(), segs[i].BaseOffset(), segs[i].BaseOffset(), record.ErrCorrupt))
		}
	}
	info.Segments = len(segs)
	last := segs[len(segs)-1]
	if end := max(last.NextOffset(), last.BaseOffset()); cfg.Checkpoint != nil && end < cfg.Checkpoint.RecoveryPoint {
		return fail(fmt.Errorf("log %s: the log ends at offset %d, below its recovery point %d: records fsynced before the last shutdown are missing (segments lost, or the broker's recovery-point-offset-checkpoint is damaged): %w",
			dir, end, cfg.Checkpoint.RecoveryPoint, record.ErrCorrupt))
	}
	l.publish(segs)
	l.end.Store(max(last.NextOffset(), last.BaseOffset()))
	if err := l.checkStartInLog(); err != nil {
		return fail(err)
	}
	l.flushed.Store(l.end.Load())
	l.firstDirt = time.Time{}
	cp, err := readCheckpoint(fsys, dir)
	if err != nil {
		cfg.Logger.Warn("ignoring the cleaner checkpoint; the next compaction treats the whole log as dirty", "dir", dir, "err", err)
	}
	l.cleanFirstDirty.Store(cp.firstDirty)
	l.cleanHorizon.Store(cp.deleteHorizon)
	return l, info, nil
}

// scanDir lists the base offsets of the segments in the directory and
// removes leftovers that belong to no segment (indexes without a log file,
// temporary files of an interrupted deletion).
func (l *Log) scanDir() ([]int64, error) {
	entries, err := l.cfg.FS.ReadDir(l.dir)
	if err != nil {
		return nil, fmt.Errorf("log %s: %w", l.dir, err)
	}
	logs := map[int64]bool{}
	var bases []int64
	for _, e := range entries {
		name := e.Name()
		if base, ok := parseName(name, segment.LogSuffix); ok {
			logs[base] = true
			bases = append(bases, base)
		}
	}
	for _, e := range entries {
		name := e.Name()
		for _, suffix := range []string{segment.IndexSuffix, segment.TimeIndexSuffix} {
			if base, ok := parseName(name, suffix); ok && !logs[base] {
				_ = l.cfg.FS.Remove(filepath.Join(l.dir, name))
			}
		}
		if strings.HasSuffix(name, ".deleted") {
			_ = l.cfg.FS.Remove(filepath.Join(l.dir, name))
		}
	}
	slices.Sort(bases)
	return bases, nil
}

// checkStart compares the segments with the log start offset the broker
// last checkpointed. Segments wholly below it are what retention took out
// and recorded before a crash stopped it removing their files: they are
// removed now. A first segment above it means segments went missing:
// ErrCorrupt. Without a checkpoint nothing is checked.
func (l *Log) checkStart(bases []int64) ([]int64, error) {
	cp := l.cfg.Checkpoint
	if cp == nil || cp.StartOffset < 0 || len(bases) == 0 {
		return bases, nil
	}
	if cp.StartOffset > bases[0] {
		// Retention moves the log start to a segment's base offset: the
		// segments below it are removed. DeleteRecordsBefore may put it
		// inside a segment; since the file has no checksum, such a start
		// removes nothing here (only hides the records below it), and
		// one past the log end is damage (checkStartInLog).
		k := slices.Index(bases, cp.StartOffset)
		if k < 0 {
			k = 0
			l.start.Store(cp.StartOffset)
		}
		for _, base := range bases[:k] {
			l.cfg.Logger.Info("removing a segment below the checkpointed log start offset (retention stopped by a crash)", "dir", l.dir, "segment", base, "log_start_offset", cp.StartOffset)
			if err := segment.RemoveFiles(l.cfg.FS, l.dir, base, ""); err != nil {
				return nil, fmt.Errorf("log %s: %w", l.dir, err)
			}
		}
		bases = bases[k:]
	}
	if bases[0] > cp.StartOffset {
		return nil, fmt.Errorf("log %s: the first segment starts at offset %d, but the log start offset was %d: the segments holding offsets %d to %d are missing (or the broker's log-start-offset-checkpoint is damaged): %w",
			l.dir, bases[0], cp.StartOffset, cp.StartOffset, bases[0]-1, record.ErrCorrupt)
	}
	return bases, nil
}

func parseName(name, suffix string) (int64, bool) {
	digits, ok := strings.CutSuffix(name, suffix)
	if !ok || len(digits) != 20 {
		return 0, false
	}
	// Only the 20 digits Kafka writes: ParseInt would also take a sign
	// ("+0000000000000000005"), naming a file that is not the segment's.
	for i := 0; i < len(digits); i++ {
		if digits[i] < '0' || digits[i] > '9' {
			return 0, false
		}
	}
	base, err := strconv.ParseInt(digits, 10, 64)
	return base, err == nil && base >= 0
}

// publish installs segs; the log start offset moves up to the first
// one's base offset, never down (DeleteRecordsBefore may have put it
// inside that segment). The start moves first: whoever sees the new
// segments sees the new start too.
func (l *Log) publish(segs []*segment.Segment) {
	l.start.Store(max(segs[0].BaseOffset(), l.start.Load()))
	l.segs.Store(&segs)
}

func (l *Log) segments() []*segment.Segment { return *l.segs.Load() }

// Dir is the log's directory.
func (l *Log) Dir() string { return l.dir }

// Config is the log's configuration with defaults filled in. Its
// pointers are the caller's own: writing through them changes nothing in
// the log.
func (l *Log) Config() Config {
	l.mu.Lock() // Reconfigure may be writing it
	defer l.mu.Unlock()
	return l.cfg.clone()
}

// Compacted reports whether the log is compacted (Config.Compact), without
// the copy Config makes.
func (l *Log) Compacted() bool { return l.tunes().compact }

// StartOffset is the log start offset: the first offset still readable.
func (l *Log) StartOffset() int64 { return l.start.Load() }

// EndOffset is the log end offset: the offset the next record gets.
func (l *Log) EndOffset() int64 { return l.end.Load() }

// FlushedOffset is the offset below which every record is fsynced.
func (l *Log) FlushedOffset() int64 { return l.flushed.Load() }

// Size is the total size of the log's segments in bytes.
func (l *Log) Size() int64 {
	var n int64
	for _, s := range l.segments() {
		n += s.Size()
	}
	return n
}

// NumSegments is the number of segments.
func (l *Log) NumSegments() int { return len(l.segments()) }

// Append validates one encoded v2 batch (size limit, header, CRC, one
// record per offset), assigns it the next offsets, stamps LogAppendTime
// when the log uses it, rolls the active segment if needed and writes it.
// It parses the batch's header once and computes its CRC once (twice with
// LogAppendTime, whose stamp changes the CRC, as in Kafka). It rewrites
// the batch's base offset (and timestamp) in place: the caller hands the
// buffer over. The batch is readable when Append returns; it is durable
// once FlushedOffset passes it (see Sync and the flush settings).
func (l *Log) Append(batch []byte) (AppendInfo, error) {
	if l.readOnly {
		return AppendInfo{}, l.readOnlyErr("append")
	}
	tun := l.tunes()
	if len(batch) > tun.maxMessageBytes {
		return AppendInfo{}, fmt.Errorf("log %s: batch of %d bytes, max.message.bytes is %d: %w", l.dir, len(batch), tun.maxMessageBytes, ErrRecordTooLarge)
	}
	h, err := record.Check(batch)
	if err != nil {
		return AppendInfo{}, fmt.Errorf("log %s: append: %w", l.dir, err)
	}
	if h.Size() != len(batch) {
		return AppendInfo{}, fmt.Errorf("log %s: append: %d bytes after the batch: %w", l.dir, len(batch)-h.Size(), ErrCorrupt)
	}
	// One record per offset, as Kafka demands of a client's batch: offsets
	// stay dense.
	if h.NumRecords < 1 || int64(h.LastOffsetDelta) != int64(h.NumRecords)-1 {
		return AppendInfo{}, fmt.Errorf("log %s: append: batch of %d records spans %d offsets: %w", l.dir, h.NumRecords, int64(h.LastOffsetDelta)+1, ErrInvalidRecord)
	}
	if tun.compact && !h.IsControl() {
		if err := checkKeys(&h, batch); err != nil {
			return AppendInfo{}, fmt.Errorf("log %s: append: %w", l.dir, err)
		}
	}
	l.mu.Lock()
	// Segments that a roll's retention finds leave the log at the next
	// Maintain, Roll or Close (reap), so that no append waits for the
	// checkpoint write and the removals.
	info, flush, err := l.appendLocked(batch, &h)
	l.mu.Unlock()
	if err == nil && flush {
		// flush.messages or flush.ms: the fsync runs without the lock,
		// so other appends go on meanwhile, and shares a flush with
		// any that asks for one too.
		err = l.SyncTo(info.LastOffset + 1)
	}
	return info, err
}

// appendLocked appends the batch under l.mu; flush reports that the
// flush policy (flush.messages, flush.ms) wants an fsync now.
func (l *Log) appendLocked(batch []byte, h *record.BatchHeader) (_ AppendInfo, flush bool, _ error) {
	if l.closed.Load() {
		return AppendInfo{}, false, fmt.Errorf("log %s: %w", l.dir, ErrClosed)
	}
	var err error
	now := l.cfg.Now()
	base := l.end.Load()
	// h follows the batch's changes: the segment takes it as is, and
	// nothing parses the batch again.
	h.SetBaseOffset(batch, base)
	info := AppendInfo{BaseOffset: base, LastOffset: base + int64(h.LastOffsetDelta), LogAppendTime: -1,
		MaxTimestamp: h.MaxTimestamp, NumRecords: h.NumRecords, Size: len(batch)}
	if l.cfg.TimestampType == record.LogAppendTime {
		// The one CRC computed besides Check's: the stamp changes the
		// bytes it covers.
		info.LogAppendTime = now.UnixMilli()
		info.MaxTimestamp = info.LogAppendTime
		h.SetLogAppendTime(batch, info.LogAppendTime)
	}
	segs := l.segments()
	active := segs[len(segs)-1]
	if active.ShouldRoll(len(batch), info.LastOffset, l.cfg.SegmentBytes, l.cfg.SegmentAge, now) {
		if active, err = l.roll(now); err != nil {
			return AppendInfo{}, false, err
		}
	}
	if err := active.AppendChecked(batch, h); err != nil {
		return AppendInfo{}, false, fmt.Errorf("log %s: %w", l.dir, err)
	}
	l.end.Store(info.LastOffset + 1)
	if l.unflushed == 0 {
		l.firstDirt = now
	}
	l.unflushed += int64(max(h.NumRecords, 1))
	flush = l.unflushed >= l.cfg.FlushMessages || now.Sub(l.firstDirt) >= *l.cfg.FlushInterval
	return info, flush, nil
}

// Roll closes the active segment to appends and starts a new one at the log
// end offset, unless the active segment is empty.
func (l *Log) Roll() error {
	if l.readOnly {
		return l.readOnlyErr("roll")
	}
	l.mu.Lock()
	if l.closed.Load() {
		l.mu.Unlock()
		return fmt.Errorf("log %s: %w", l.dir, ErrClosed)
	}
	var err error
	if segs := l.segments(); segs[len(segs)-1].Size() > 0 {
		_, err = l.roll(l.cfg.Now())
	}
	l.mu.Unlock()
	_, reapErr := l.reap()
	return errors.Join(err, reapErr)
}

// roll seals the active segment (flushing it, so that only the new active
// segment can have a torn tail after a crash), opens a new one at the log
// end offset and applies retention.
func (l *Log) roll(now time.Time) (*segment.Segment, error) {
	segs := l.segments()
	old := segs[len(segs)-1]
	// A flush of old in flight may still be running (SyncTo holds no
	// lock while it fsyncs): Seal fsyncs again, under the lock, so that
	// the flushed offset below never waits for it.
	err := old.Seal()
	l.fsyncs.Add(1)
	if err != nil {
		return nil, fmt.Errorf("log %s: roll: %w", l.dir, err)
	}
	l.markFlushed(l.end.Load())
	l.unflushed = 0
	next := l.end.Load()
	// Dense, even on a compacted log: the cleaner never touches the
	// active segment, it replaces closed ones with segments of its own.
	// A new segment that fails half-way is removed: left behind, its
	// base offset would fall inside the old segment, which the next
	// appends keep filling.
	s, err := segment.Open(l.dir, next, l.cfg.segmentConfig())
	if err != nil {
		_ = segment.RemoveFiles(l.cfg.FS, l.dir, next, "")
		return nil, fmt.Errorf("log %s: roll: %w", l.dir, err)
	}
	if err := l.cfg.FS.SyncDir(l.dir); err != nil {
		_ = s.Close()
		_ = segment.RemoveFiles(l.cfg.FS, l.dir, next, "")
		return nil, fmt.Errorf("log %s: roll: %w", l.dir, err)
	}
	l.publish(append(slices.Clip(segs), s))
	l.cfg.Logger.Info("rolled segment", "dir", l.dir, "new_segment", next, "old_size", old.Size())
	l.retainLocked(now)
	return s, nil
}

// Maintain applies retention and the time-based flush policy at now; the
// broker calls it on a schedule. It returns the number of segments
// deleted: those this call's retention found, and those a roll's
// retention found since the last call.
func (l *Log) Maintain() (int, error) {
	if l.readOnly {
		return 0, l.readOnlyErr("maintain")
	}
	l.mu.Lock()
	if l.closed.Load() {
		l.mu.Unlock()
		return 0, nil
	}
	now := l.cfg.Now()
	flush := l.unflushed > 0 && now.Sub(l.firstDirt) >= *l.cfg.FlushInterval
	l.retainLocked(now)
	l.mu.Unlock()
	var err error
	if flush {
		// Close, if it came meanwhile, flushed the log itself.
		if err = l.SyncTo(l.end.Load()); errors.Is(err, ErrClosed) {
			err = nil
		}
	}
	n, reapErr := l.reap()
	return n, errors.Join(err, reapErr)
}

// retainLocked finds the oldest inactive segments that break
// retention.ms (their newest timestamp is older than now - retention.ms)
// or retention.bytes (the log stays larger than the limit without them),
// and leaves them to reap: the log start offset moves past them once reap
// has made it durable, with no lock held, so that no reader is ever sent
// past records a crash would bring back. Segments an earlier call found
// count as gone.
func (l *Log) retainLocked(now time.Time) {
	if l.uncleanable.Load() {
		// A compaction swap failed half-way: Open will finish it over the
		// segments it names, so none of them may go before that.
		return
	}
	segs := l.segments()
	pending := l.pending.Load()
	for len(segs) > 1 && segs[0].NextOffset() <= pending {
		segs = segs[1:] // found by an earlier call
	}
	total := int64(0)
	for _, s := range segs {
		total += s.Size()
	}
	n := 0
	for n < len(segs)-1 { // never the active segment
		s := segs[n]
		expired := *l.cfg.Retention >= 0 && s.MaxTimestamp() >= 0 && now.UnixMilli()-s.MaxTimestamp() > l.cfg.Retention.Milliseconds()
		oversize := *l.cfg.RetentionBytes >= 0 && total-s.Size() >= *l.cfg.RetentionBytes
		if !expired && !oversize {
			break
		}
		total -= s.Size()
		n++
	}
	if n > 0 {
		l.pending.Store(max(pending, segs[n].BaseOffset()))
	}
}

// PendingStartOffset is the log start offset the log is about to move to:
// retention or DeleteRecordsBefore decided it, and the next Maintain,
// Roll or Close makes it durable through Config.OnStartOffset, then moves
// StartOffset there. The broker's checkpoint records it. Without such a
// move it is StartOffset.
func (l *Log) PendingStartOffset() int64 { return max(l.pending.Load(), l.start.Load()) }

// reap moves the log start offset to the one retention or
// DeleteRecordsBefore decided, and removes the files of the segments wholly
// below it. First the OnStartOffset hook makes the new start durable (the
// broker's log-start-offset-checkpoint, which records
// PendingStartOffset), so that a later Open knows the segments went on
// purpose; then the start moves and the segments leave the log; then
// their files go. If the hook fails, nothing moves and the next reap
// tries again. reapMu keeps the hook's calls in the order of the offsets
// they record. It returns the number of segments taken out.
func (l *Log) reap() (int, error) {
	l.reapMu.Lock()
	defer l.reapMu.Unlock()
	var doomed []*segment.Segment
	if target := l.pending.Load(); target > l.start.Load() {
		if hook := l.cfg.OnStartOffset; hook != nil {
			if err := hook(target); err != nil {
				return 0, fmt.Errorf("log %s: the log start offset stays at %d, since the new one %d could not be recorded: %w", l.dir, l.start.Load(), target, err)
			}
		}
		l.mu.Lock()
		segs := l.segments()
		n := 0
		// While a failed compaction swap waits for the next Open to
		// finish it over the segments it names, none of them goes.
		for !l.uncleanable.Load() && n < len(segs)-1 && segs[n].NextOffset() <= target { // never the active segment
			n++
		}
		if n > 0 {
			doomed = segs[:n]
			l.publish(slices.Clone(segs[n:]))
		}
		l.start.Store(max(l.start.Load(), target))
		l.mu.Unlock()
	}
	var errs []error
	for _, s := range doomed {
		l.cfg.Logger.Info("retention deleted segment", "dir", l.dir, "segment", s.BaseOffset(), "next_offset", s.NextOffset(), "size", s.Size(), "max_timestamp", s.MaxTimestamp())
		// Renamed first, as Kafka does: a reader still holding the
		// segment delays the removal, and by then the directory may
		// belong to a new log, which never has files by these names
		// (Open removes any it finds).
		if err := s.RenameSuffix(DeletedFileSuffix); err != nil {
			errs = append(errs, err)
		}
		errs = append(errs, s.Delete())
	}
	return len(doomed), errors.Join(errs...)
}

// Sync fsyncs every record appended so far (see SyncTo).
func (l *Log) Sync() error {
	if l.closed.Load() {
		return fmt.Errorf("log %s: %w", l.dir, ErrClosed)
	}
	return l.SyncTo(l.end.Load())
}

// SyncTo returns once every record below offset (at most the log end
// offset) is fsynced, that is once FlushedOffset reaches it. It is a group
// commit: at most one fsync of the log runs at a time, without the append
// lock, so appends go on while it runs; callers that arrive meanwhile wait
// for it to end, and the next fsync, which one of them starts, covers
// every record appended by then. Concurrent callers thus share fsyncs. A
// failed fsync is reported to the caller that ran it; the others try
// again themselves.
func (l *Log) SyncTo(offset int64) error {
	offset = min(offset, l.end.Load())
	for {
		if l.flushed.Load() >= offset {
			return nil
		}
		l.flushMu.Lock()
		for l.flushing && l.flushed.Load() < offset {
			l.flushEnd.Wait()
		}
		if l.flushed.Load() >= offset {
			l.flushMu.Unlock()
			return nil
		}
		l.flushing = true
		l.flushMu.Unlock()

		l.gather()
		err := l.flush()

		l.flushMu.Lock()
		l.flushing = false
		l.flushEnd.Broadcast()
		l.flushMu.Unlock()
		if err != nil {
			return err
		}
		// The flush covered the log end offset as of its start, which is
		// at or past offset: the loop ends at its first check.
	}
}

// gatherYields bounds the yields of gather.
const gatherYields = 16

// gather lets the goroutines that are ready to run append before a flush
// takes the log end offset: above all the callers the last flush
// released, which in a closed loop (each appends its next record as soon
// as the last one is durable) append again right away. The flush then
// covers them too, instead of every other flush serving half of the
// callers. It yields to the scheduler while that lets appends through, a
// few times at most; it never sleeps, and with nothing else to run it
// returns at once.
func (l *Log) gather() {
	for range gatherYields {
		end := l.end.Load()
		runtime.Gosched()
		if l.end.Load() == end {
			return
		}
	}
}

// flush fsyncs the records appended so far, as Kafka's flush does: it
// takes the active segment and the log end offset under the append lock,
// fsyncs without it, then raises the flushed offset to that end. Every
// segment before the active one was fsynced when the log rolled past it.
// If the log rolls meanwhile, the roll seals (fsyncs) the segment itself,
// under the lock, before it raises the flushed offset; if Close or Delete
// closes the segment meanwhile, Segment.Sync holds it open until the
// fsync ends, or fails with segment.ErrClosed if it came too late. Only
// SyncTo calls it, one at a time.
func (l *Log) flush() error {
	l.mu.Lock()
	if l.closed.Load() {
		l.mu.Unlock()
		return fmt.Errorf("log %s: %w", l.dir, ErrClosed)
	}
	end := l.end.Load()
	if l.flushed.Load() >= end {
		l.mu.Unlock()
		return nil
	}
	segs := l.segments()
	active := segs[len(segs)-1]
	// Appends from now on are dirt the next flush covers.
	unflushed, firstDirt := l.unflushed, l.firstDirt
	l.unflushed, l.firstDirt = 0, time.Time{}
	l.mu.Unlock()

	err := active.Sync()
	l.fsyncs.Add(1)
	if err != nil {
		if errors.Is(err, segment.ErrClosed) && l.flushed.Load() >= end {
			return nil // a roll or Close sealed the segment first
		}
		l.mu.Lock()
		if l.unflushed == 0 || firstDirt.Before(l.firstDirt) {
			l.firstDirt = firstDirt
		}
		l.unflushed += unflushed
		l.mu.Unlock()
		if errors.Is(err, segment.ErrClosed) {
			return fmt.Errorf("log %s: %w", l.dir, ErrClosed)
		}
		return fmt.Errorf("log %s: %w", l.dir, err)
	}
	l.markFlushed(end)
	return nil
}

// markFlushed raises the flushed offset to offset, unless it is already
// past it: flushes and rolls finish in any order.
func (l *Log) markFlushed(offset int64) {
	for {
		cur := l.flushed.Load()
		if offset <= cur || l.flushed.CompareAndSwap(cur, offset) {
			return
		}
	}
}

// Fsyncs is the number of fsyncs of segment files holding appended
// records that the log has made since it opened: one per flush (Sync,
// SyncTo, flush.messages, flush.ms) and one per seal of the active
// segment (at a roll and at Close), failed ones included. Appended
// records divided by it is the records each fsync made durable.
func (l *Log) Fsyncs() int64 { return l.fsyncs.Load() }

// Close flushes the log, closes its segments (waiting for readers in
// flight) and leaves the clean-shutdown marker. It is idempotent.
func (l *Log) Close() error {
	if l.readOnly {
		return l.closeReadOnly()
	}
	l.mu.Lock()
	if l.closed.Swap(true) {
		l.mu.Unlock()
		return nil
	}
	l.mu.Unlock()
	// What retention took out before the close goes now; nothing is
	// appended any more.
	_, reapErr := l.reap()
	// A compaction pass in flight sees closed and stops; wait for it, so
	// that it neither holds segments nor leaves files behind.
	l.cleanMu.Lock()
	defer l.cleanMu.Unlock()
	l.mu.Lock()
	defer l.mu.Unlock()
	segs := l.segments()
	// Seal, not just Sync: the marker below tells the next Open to trust
	// the indexes, so they must be on disk (with the final time index
	// entry) before it is written.
	errs := []error{reapErr, segs[len(segs)-1].Seal()}
	l.fsyncs.Add(1)
	for _, s := range segs {
		// Waits for a flush in flight (see flush).
		errs = append(errs, s.Close())
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("log %s: %w", l.dir, err)
	}
	l.markFlushed(l.end.Load()) // sealed: fsynced to the end
	err := vfs.WriteFile(l.cfg.FS, filepath.Join(l.dir, CleanShutdownFile), nil, true)
	if err == nil {
		err = l.cfg.FS.SyncDir(l.dir)
	}
	if err != nil {
		return fmt.Errorf("log %s: clean shutdown marker: %w", l.dir, err)
	}
	return nil
}

// DeletedSuffix ends the name a deleted log's directory is renamed to
// before its files are removed (Kafka renames to "<topic>-<partition>.<id>-delete").
// A directory with this suffix found at startup is garbage.
const DeletedSuffix = "-delete"

// Delete closes the log and removes its directory. The directory is first
// renamed aside, so that a log created under the same name right after
// never shares a path with files that readers of this one still hold open
// (they keep reading them; the space is freed when they are done).
func (l *Log) Delete() error {
	if l.readOnly {
		return l.readOnlyErr("delete")
	}
	// A reap in flight finishes first: it removes files by their paths,
	// which must not be a new log's once the directory moves.
	l.reapMu.Lock()
	defer l.reapMu.Unlock()
	l.mu.Lock()
	wasClosed := l.closed.Swap(true)
	l.mu.Unlock()
	// Wait for a compaction pass in flight to stop before the directory
	// moves: it removes its own files by their paths.
	l.cleanMu.Lock()
	defer l.cleanMu.Unlock()
	l.mu.Lock()
	defer l.mu.Unlock()
	dir := l.dir
	if !wasClosed {
		aside := fmt.Sprintf("%s.%d%s", l.dir, time.Now().UnixNano(), DeletedSuffix)
		if err := l.cfg.FS.Rename(l.dir, aside); err == nil {
			dir = aside
		}
		// Close, not Delete: the segments know their files by the old
		// path, which may soon belong to a new log. Close waits for reads
		// in flight, which copy out and finish quickly.
		for _, s := range l.segments() {
			_ = s.Close()
		}
	}
	return l.cfg.FS.RemoveAll(dir)
}
