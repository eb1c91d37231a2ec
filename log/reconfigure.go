package log

import (
	"errors"
	"fmt"
	"time"
)

// tunables are the settings read without the log's locks (by Append
// before it takes l.mu, by Compacted and by CleanerState): Reconfigure
// replaces them whole, so that those readers never see a setting being
// written.
type tunables struct {
	maxMessageBytes        int
	compact                bool
	minCompactionLag       time.Duration
	minCleanableDirtyRatio float64
}

// tune publishes the lock-free copy of c's tunable settings.
func (l *Log) tune(c *Config) {
	l.tuned.Store(&tunables{
		maxMessageBytes:        *c.MaxMessageBytes,
		compact:                c.Compact,
		minCompactionLag:       c.MinCompactionLag,
		minCleanableDirtyRatio: *c.MinCleanableDirtyRatio,
	})
}

// tunes is the lock-free copy of the tunable settings.
func (l *Log) tunes() *tunables { return l.tuned.Load() }

// Reconfigure applies new settings to the open log, as Kafka applies a
// topic config change without restarting: the size, age and time limits
// (segment.bytes, segment.ms, retention.bytes, retention.ms, the flush
// and index settings, max.message.bytes, message.timestamp.type) and the
// compaction settings. Retention applies at the next Maintain or roll;
// segment.bytes and the index settings to the segments rolled from now on.
// Only the settings are taken from cfg (its zero and nil fields mean the
// defaults, as for Open); Logger, Now, FS, Checkpoint, OnStartOffset and
// DedupeBufferSize stay as they were opened.
//
// Compaction may be turned on (Compact), but not off: the cleaned
// segments have offset gaps that only a compacted log accepts when it is
// opened again. That is an error wrapping errors.ErrUnsupported.
func (l *Log) Reconfigure(cfg Config) error {
	n := cfg.withDefaults()
	// The cleaner reads settings under cleanMu, appends and retention
	// under mu: with both held, only the tunables are read meanwhile.
	l.cleanMu.Lock()
	defer l.cleanMu.Unlock()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed.Load() {
		return fmt.Errorf("log %s: %w", l.dir, ErrClosed)
	}
	if l.cfg.Compact && !n.Compact {
		return fmt.Errorf("log %s: compaction cannot be turned off a compacted log (its cleaned segments have offset gaps): %w", l.dir, errors.ErrUnsupported)
	}
	c := &l.cfg
	c.SegmentBytes = n.SegmentBytes
	c.SegmentAge = n.SegmentAge
	c.RetentionBytes = n.RetentionBytes
	c.Retention = n.Retention
	c.MaxMessageBytes = n.MaxMessageBytes
	c.FlushMessages = n.FlushMessages
	c.FlushInterval = n.FlushInterval
	c.IndexIntervalBytes = n.IndexIntervalBytes
	c.SegmentIndexBytes = n.SegmentIndexBytes
	c.TimestampType = n.TimestampType
	c.Compact = n.Compact
	c.DeleteRetention = n.DeleteRetention
	c.MinCleanableDirtyRatio = n.MinCleanableDirtyRatio
	c.MinCompactionLag = n.MinCompactionLag
	l.tune(c)
	return nil
}
