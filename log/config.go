package log

import (
	"github.com/commitlog-go/commitlog/segment"
	"github.com/commitlog-go/commitlog/vfs"
	"log/slog"
	"math"
	"time"

	"github.com/commitlog-go/commitlog/record"
)

// Defaults of Config, Kafka's defaults for the topic settings they mirror.
// The index settings' defaults are package segment's
// (segment.DefaultIndexIntervalBytes, segment.DefaultMaxIndexBytes).
const (
	DefaultSegmentBytes    = segment.DefaultSegmentBytes  // segment.bytes: 1 GiB
	DefaultSegmentAge      = 7 * 24 * time.Hour           // segment.ms: 7 days
	DefaultRetention       = 7 * 24 * time.Hour           // retention.ms: 7 days
	DefaultRetentionBytes  = -1                           // retention.bytes: unlimited
	DefaultMaxMessageBytes = 1048588                      // max.message.bytes
	DefaultFlushMessages   = math.MaxInt64                // flush.messages: leave flushing to the OS
	DefaultFlushInterval   = time.Duration(math.MaxInt64) // flush.ms: never by time (Kafka's Long.MAX_VALUE)

	DefaultDeleteRetention        = 24 * time.Hour // delete.retention.ms: 1 day
	DefaultMinCleanableDirtyRatio = 0.5            // min.cleanable.dirty.ratio
	DefaultMinCompactionLag       = 0              // min.compaction.lag.ms
	// DefaultDedupeBufferSize is log.cleaner.dedupe.buffer.size, the
	// memory of the offset map one compaction pass may use (128 MiB).
	DefaultDedupeBufferSize = 128 << 20
)

// Config holds a log's settings. It follows the project's rule for
// settings: a plain field's zero value means its default (Kafka's zero is
// not legal there, or is the default), and the settings whose Kafka zero
// is legal and differs from the default are pointers, nil meaning the
// default. Log.Config reports them with the defaults filled in. The broker
// checks a topic's settings (commitlog.TopicConfig) before they reach a
// log; Open does not refuse out-of-range values: a non-positive plain
// value means the default, a negative limit means none (Retention,
// RetentionBytes) or zero (the others).
type Config struct {
	// SegmentBytes is the size at which the active segment rolls
	// (segment.bytes, default 1 GiB, at most 2 GiB - 1).
	SegmentBytes int64
	// SegmentAge is the age of the active segment at which it rolls even
	// if not full (segment.ms, default 7 days), counted by the wall clock
	// from its first append.
	SegmentAge time.Duration
	// RetentionBytes is the largest the log may grow before its oldest
	// segments are deleted (retention.bytes; nil is -1: no limit).
	RetentionBytes *int64
	// Retention is how long a segment is kept after its newest record's
	// timestamp (retention.ms; nil is 7 days; negative: forever).
	Retention *time.Duration
	// MaxMessageBytes is the largest batch the log accepts, after
	// compression (max.message.bytes; nil is 1048588).
	MaxMessageBytes *int
	// FlushMessages forces an fsync after this many records
	// (flush.messages, default: never; 1 means fsync every append).
	FlushMessages int64
	// FlushInterval forces an fsync when the oldest unflushed append is
	// this old (flush.ms; nil is never, 0 fsyncs every append). It is
	// checked on append and by Maintain.
	FlushInterval *time.Duration
	// IndexIntervalBytes is the spacing of offset index entries
	// (index.interval.bytes; nil is segment.DefaultIndexIntervalBytes, 0
	// indexes every batch).
	IndexIntervalBytes *int
	// SegmentIndexBytes is the most bytes each index file may hold
	// (segment.index.bytes, default segment.DefaultMaxIndexBytes).
	SegmentIndexBytes int
	// TimestampType is message.timestamp.type: CreateTime (default) keeps
	// the producer's timestamps, LogAppendTime overwrites them on append.
	TimestampType record.TimestampType

	// Compact turns on log compaction (cleanup.policy includes "compact"):
	// Compact and the broker's cleaner keep at least the latest record of
	// every key and remove the rest; see the package documentation. Records
	// without a key are then refused on append. Retention ("delete") is
	// governed by Retention and RetentionBytes independently: set both
	// to -1 for a compact-only log, keep them for "compact,delete".
	Compact bool
	// DeleteRetention is how long a tombstone (a record with a null
	// value) is kept after the cleaning pass that first saw it
	// (delete.retention.ms; nil is 1 day), so that consumers reading
	// behind see the deletion. 0: tombstones go at the first pass after
	// that one.
	DeleteRetention *time.Duration
	// MinCleanableDirtyRatio is the share of the closed segments' bytes
	// that must be dirty (written since the last cleaning) before the
	// broker's cleaner compacts the log (min.cleanable.dirty.ratio; nil is
	// 0.5, 0: any dirty byte will do). Compact ignores it.
	MinCleanableDirtyRatio *float64
	// MinCompactionLag is how old a batch must be (by its max timestamp)
	// before compaction may remove records on account of it or from it
	// (min.compaction.lag.ms, default 0).
	MinCompactionLag time.Duration
	// DedupeBufferSize bounds the offset map of one Compact call in bytes
	// (Kafka's broker setting log.cleaner.dedupe.buffer.size, default 128
	// MiB); a pass whose dirty keys do not fit cleans part of the log and
	// leaves the rest to the next pass. The broker's cleaner uses its own
	// setting (log.CleanerConfig).
	DedupeBufferSize int64
	// Logger receives segment rolls, retention deletes and recovery
	// truncations. Nil is silent.
	Logger *slog.Logger
	// Now is the clock; nil means time.Now. Tests set it.
	Now func() time.Time
	// FS is the file system the log's files live on; nil is the OS's.
	// Tests use vfs.MemFS to cut the power.
	FS vfs.FS
	// Checkpoint is what the broker's checkpoint files last recorded of
	// the log (recovery-point-offset-checkpoint and
	// log-start-offset-checkpoint), nil when they do not name it. Open
	// checks the log against it: see the package documentation.
	Checkpoint *Checkpoint
	// OnStartOffset, if set, is called when retention or
	// DeleteRecordsBefore has decided a new log start offset, before the
	// start moves and before the segment files below it are removed (in
	// Maintain, Roll, Close or DeleteRecordsBefore, never in Append), with
	// no lock of the log held: the broker makes the new start
	// (PendingStartOffset) durable there, so that Open can tell segments
	// retention removed from segments that went missing, and so that no
	// reader is sent past records a power cut would bring back. When it
	// fails, nothing moves and the next call tries again.
	OnStartOffset func(start int64) error
}

// Checkpoint is a log's entry in the broker's checkpoint files.
type Checkpoint struct {
	// RecoveryPoint: every record below it was fsynced when it was
	// recorded (Kafka's recovery point).
	RecoveryPoint int64
	// StartOffset: the log start offset when it was recorded. Retention
	// records a new one before it removes segments.
	StartOffset int64
}

// segmentConfig is the configuration of the log's segments: the one
// place a segment.Config is built from the log's settings (c has its
// defaults filled in).
func (c Config) segmentConfig() segment.Config {
	return segment.Config{IndexIntervalBytes: new(*c.IndexIntervalBytes), MaxIndexBytes: c.SegmentIndexBytes,
		SegmentBytes: c.SegmentBytes, FS: c.FS}
}

// withDefaults returns c with every default filled in and pointers of its
// own, so that a caller writing through its pointers changes nothing here.
func (c Config) withDefaults() Config {
	if c.SegmentBytes <= 0 {
		c.SegmentBytes = DefaultSegmentBytes
	}
	c.SegmentBytes = min(c.SegmentBytes, segment.MaxSegmentBytes)
	if c.SegmentAge <= 0 {
		c.SegmentAge = DefaultSegmentAge
	}
	c.RetentionBytes = orDefault(c.RetentionBytes, DefaultRetentionBytes)
	c.Retention = orDefault(c.Retention, DefaultRetention)
	c.MaxMessageBytes = orDefault(c.MaxMessageBytes, DefaultMaxMessageBytes)
	if c.FlushMessages <= 0 {
		c.FlushMessages = DefaultFlushMessages
	}
	c.FlushInterval = orDefault(c.FlushInterval, DefaultFlushInterval)
	c.IndexIntervalBytes = orDefault(c.IndexIntervalBytes, segment.DefaultIndexIntervalBytes)
	if c.SegmentIndexBytes <= 0 {
		c.SegmentIndexBytes = segment.DefaultMaxIndexBytes
	}
	c.DeleteRetention = orDefault(c.DeleteRetention, DefaultDeleteRetention)
	c.MinCleanableDirtyRatio = orDefault(c.MinCleanableDirtyRatio, DefaultMinCleanableDirtyRatio)
	if c.DedupeBufferSize <= 0 {
		c.DedupeBufferSize = DefaultDedupeBufferSize
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	c.FS = vfs.Default(c.FS)
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// clone returns c with pointers of its own.
func (c Config) clone() Config {
	for _, p := range []**time.Duration{&c.Retention, &c.FlushInterval, &c.DeleteRetention} {
		if *p != nil {
			*p = new(**p)
		}
	}
	if c.RetentionBytes != nil {
		c.RetentionBytes = new(*c.RetentionBytes)
	}
	if c.MaxMessageBytes != nil {
		c.MaxMessageBytes = new(*c.MaxMessageBytes)
	}
	if c.IndexIntervalBytes != nil {
		c.IndexIntervalBytes = new(*c.IndexIntervalBytes)
	}
	if c.MinCleanableDirtyRatio != nil {
		c.MinCleanableDirtyRatio = new(*c.MinCleanableDirtyRatio)
	}
	return c
}

// orDefault returns a new pointer to *p, or to def when p is nil.
func orDefault[T any](p *T, def T) *T {
	if p == nil {
		return &def
	}
	return new(*p)
}
