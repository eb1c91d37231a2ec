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
const (
	DefaultSegmentBytes       = 1 << 30                      // segment.bytes: 1 GiB
	DefaultSegmentMs          = 7 * 24 * time.Hour           // segment.ms: 7 days
	DefaultRetentionMs        = 7 * 24 * time.Hour           // retention.ms: 7 days
	DefaultRetentionBytes     = -1                           // retention.bytes: unlimited
	DefaultMaxMessageBytes    = 1048588                      // max.message.bytes
	DefaultIndexIntervalBytes = 4096                         // index.interval.bytes
	DefaultSegmentIndexBytes  = 10 << 20                     // segment.index.bytes
	DefaultFlushMessages      = math.MaxInt64                // flush.messages: leave flushing to the OS
	DefaultFlushMs            = time.Duration(math.MaxInt64) // flush.ms: never by time

	DefaultDeleteRetention        = 24 * time.Hour // delete.retention.ms: 1 day
	DefaultMinCleanableDirtyRatio = 0.5            // min.cleanable.dirty.ratio
	DefaultMinCompactionLag       = 0              // min.compaction.lag.ms
	// DefaultDedupeBufferSize is log.cleaner.dedupe.buffer.size, the
	// memory of the offset map one compaction pass may use (128 MiB).
	DefaultDedupeBufferSize = 128 << 20
)

// Config holds a log's settings. The zero value of each field means its
// default; negative durations and sizes mean "no limit" where Kafka uses -1.
type Config struct {
	// SegmentBytes is the size at which the active segment rolls
	// (segment.bytes, default 1 GiB, at most 2 GiB - 1).
	SegmentBytes int64
	// SegmentMs is the age of the first batch of the active segment at
	// which it rolls even if not full (segment.ms, default 7 days).
	SegmentMs time.Duration
	// RetentionBytes is the largest the log may grow before its oldest
	// segments are deleted (retention.bytes, default -1: no limit).
	RetentionBytes int64
	// RetentionMs is how long a segment is kept after its newest record's
	// timestamp (retention.ms, default 7 days; -1: forever).
	RetentionMs time.Duration
	// MaxMessageBytes is the largest batch the log accepts, after
	// compression (max.message.bytes, default 1048588).
	MaxMessageBytes int
	// FlushMessages forces an fsync after this many records
	// (flush.messages, default: never; 1 means fsync every append).
	FlushMessages int64
	// FlushMs forces an fsync when the oldest unflushed append is this old
	// (flush.ms, default: never). It is checked on append and by Maintain.
	FlushMs time.Duration
	// IndexIntervalBytes is the spacing of offset index entries
	// (index.interval.bytes, default 4096).
	IndexIntervalBytes int
	// SegmentIndexBytes is the most bytes each index file may hold
	// (segment.index.bytes, default 10 MiB).
	SegmentIndexBytes int
	// TimestampType is message.timestamp.type: CreateTime (default) keeps
	// the producer's timestamps, LogAppendTime overwrites them on append.
	TimestampType record.TimestampType

	// Compact turns on log compaction (cleanup.policy includes "compact"):
	// Compact and the broker's cleaner keep at least the latest record of
	// every key and remove the rest; see the package documentation. Records
	// without a key are then refused on append. Retention ("delete") is
	// governed by RetentionMs and RetentionBytes independently: set both
	// to -1 for a compact-only log, keep them for "compact,delete".
	Compact bool
	// DeleteRetention is how long a tombstone (a record with a null
	// value) is kept after the cleaning pass that first saw it
	// (delete.retention.ms, default 1 day), so that consumers reading
	// behind see the deletion. Negative means zero: tombstones go at the
	// first pass after that one.
	DeleteRetention time.Duration
	// MinCleanableDirtyRatio is the share of the closed segments' bytes
	// that must be dirty (written since the last cleaning) before the
	// broker's cleaner compacts the log (min.cleanable.dirty.ratio,
	// default 0.5). Negative means zero: any dirty byte will do. Compact
	// ignores it.
	MinCleanableDirtyRatio float64
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
	// OnStartOffset, if set, is called when retention has advanced the log
	// start offset and before it removes the segment files below it (in
	// Maintain, Roll or Close, never in Append), with no lock of the log
	// held: the broker makes the new start durable there, so that
	// Open can tell segments retention removed from segments that went
	// missing. When it fails, the files stay and the next Open applies
	// retention again.
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

// segmentConfig is the configuration of the log's segments.
func (c Config) segmentConfig() segment.Config {
	return segment.Config{IndexIntervalBytes: c.IndexIntervalBytes, MaxIndexBytes: c.SegmentIndexBytes, FS: c.FS}
}

func (c Config) withDefaults() Config {
	if c.SegmentBytes <= 0 {
		c.SegmentBytes = DefaultSegmentBytes
	}
	if c.SegmentMs == 0 {
		c.SegmentMs = DefaultSegmentMs
	}
	if c.RetentionBytes == 0 {
		c.RetentionBytes = DefaultRetentionBytes
	}
	if c.RetentionMs == 0 {
		c.RetentionMs = DefaultRetentionMs
	}
	if c.MaxMessageBytes <= 0 {
		c.MaxMessageBytes = DefaultMaxMessageBytes
	}
	if c.FlushMessages <= 0 {
		c.FlushMessages = DefaultFlushMessages
	}
	if c.FlushMs <= 0 {
		c.FlushMs = DefaultFlushMs
	}
	if c.IndexIntervalBytes <= 0 {
		c.IndexIntervalBytes = DefaultIndexIntervalBytes
	}
	if c.SegmentIndexBytes <= 0 {
		c.SegmentIndexBytes = DefaultSegmentIndexBytes
	}
	// Negative DeleteRetention, MinCleanableDirtyRatio and
	// MinCompactionLag stay negative (Config reports what was asked) and
	// count as zero where they are used.
	if c.DeleteRetention == 0 {
		c.DeleteRetention = DefaultDeleteRetention
	}
	if c.MinCleanableDirtyRatio == 0 {
		c.MinCleanableDirtyRatio = DefaultMinCleanableDirtyRatio
	}
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
