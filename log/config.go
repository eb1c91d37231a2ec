package log

import (
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
	// SegmentIndexBytes is the preallocated size of each index file
	// (segment.index.bytes, default 10 MiB).
	SegmentIndexBytes int
	// TimestampType is message.timestamp.type: CreateTime (default) keeps
	// the producer's timestamps, LogAppendTime overwrites them on append.
	TimestampType record.TimestampType
	// Logger receives segment rolls, retention deletes and recovery
	// truncations. Nil is silent.
	Logger *slog.Logger
	// Now is the clock; nil means time.Now. Tests set it.
	Now func() time.Time
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
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}
