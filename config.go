package commitlog

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/commitlog-go/commitlog/log"
	"github.com/commitlog-go/commitlog/record"
)

// Cleanup policies (cleanup.policy).
const (
	CleanupDelete        = "delete"
	CleanupCompact       = "compact"
	CleanupCompactDelete = "compact,delete"
)

// MaxPartitions is the largest partition count of a topic. Kafka has no
// such bound, but here every partition costs a directory, open files,
// memory maps and maintenance work in the one process: a count above it
// (a typo, or a damaged meta.json) is refused with ErrInvalidConfig
// rather than ground through.
const MaxPartitions = 10000

// TopicConfig is a topic's configuration. Every field is named after the
// Kafka topic setting it mirrors; a zero value means Kafka's default.
type TopicConfig struct {
	// Partitions is the number of partitions (default 1), at most
	// MaxPartitions.
	Partitions int32
	// SegmentBytes: segment.bytes, default 1 GiB.
	SegmentBytes int64
	// SegmentMs: segment.ms, default 7 days.
	SegmentMs time.Duration
	// RetentionBytes: retention.bytes per partition, default -1 (none).
	RetentionBytes int64
	// RetentionMs: retention.ms, default 7 days; -1 keeps data forever.
	RetentionMs time.Duration
	// CleanupPolicy: cleanup.policy, "delete" (default), "compact" or
	// "compact,delete".
	CleanupPolicy string
	// MaxMessageBytes: max.message.bytes, the largest batch accepted,
	// default 1048588.
	MaxMessageBytes int
	// MessageTimestampType: message.timestamp.type, CreateTime (default) or
	// LogAppendTime.
	MessageTimestampType record.TimestampType
	// FlushMessages: flush.messages, fsync after this many records
	// (default: never, the OS decides).
	FlushMessages int64
	// FlushMs: flush.ms, fsync when unflushed data is this old (default:
	// never).
	FlushMs time.Duration
	// MinInsyncReplicas: min.insync.replicas, default 1. commitlog keeps
	// one replica, so only 1 is accepted.
	MinInsyncReplicas int
	// IndexIntervalBytes: index.interval.bytes, default 4096.
	IndexIntervalBytes int
	// SegmentIndexBytes: segment.index.bytes, default 10 MiB.
	SegmentIndexBytes int

	// The settings of log compaction (cleanup.policy compact or
	// compact,delete); see package log and the README's "Compaction".

	// DeleteRetentionMs: delete.retention.ms, how long a tombstone stays
	// after the cleaning pass that first saw it, default 1 day. Kafka's
	// 0 is written as a negative value here (zero means the default);
	// ParseTopicConfig and Settings translate.
	DeleteRetentionMs time.Duration
	// MinCleanableDirtyRatio: min.cleanable.dirty.ratio, the share of a
	// partition's closed segments that must be dirty before the cleaner
	// compacts it, default 0.5. Kafka's 0 is written as a negative value
	// here (zero means the default); ParseTopicConfig and Settings
	// translate.
	MinCleanableDirtyRatio float64
	// MinCompactionLagMs: min.compaction.lag.ms, how old a record must be
	// before compaction may touch it, default 0.
	MinCompactionLagMs time.Duration
}

func (c TopicConfig) withDefaults() TopicConfig {
	if c.Partitions == 0 {
		c.Partitions = 1
	}
	if c.CleanupPolicy == "" {
		c.CleanupPolicy = CleanupDelete
	}
	if c.MinInsyncReplicas == 0 {
		c.MinInsyncReplicas = 1
	}
	return c
}

func (c TopicConfig) validate() error {
	switch {
	case c.Partitions < 1 || c.Partitions > MaxPartitions:
		return fmt.Errorf("partitions %d not in [1, %d]: %w", c.Partitions, MaxPartitions, ErrInvalidConfig)
	case c.SegmentBytes < 0 || c.SegmentBytes > math.MaxInt32:
		return fmt.Errorf("segment.bytes %d: %w", c.SegmentBytes, ErrInvalidConfig)
	case c.SegmentBytes > 0 && c.SegmentBytes < 14:
		return fmt.Errorf("segment.bytes %d below Kafka's minimum of 14: %w", c.SegmentBytes, ErrInvalidConfig)
	case c.MaxMessageBytes < 0:
		return fmt.Errorf("max.message.bytes %d: %w", c.MaxMessageBytes, ErrInvalidConfig)
	case c.MinInsyncReplicas != 1:
		return fmt.Errorf("min.insync.replicas %d: commitlog keeps one replica: %w", c.MinInsyncReplicas, ErrInvalidConfig)
	case c.MessageTimestampType != record.CreateTime && c.MessageTimestampType != record.LogAppendTime:
		return fmt.Errorf("message.timestamp.type %d: %w", c.MessageTimestampType, ErrInvalidConfig)
	case !(c.MinCleanableDirtyRatio <= 1): // NaN too
		return fmt.Errorf("min.cleanable.dirty.ratio %v not in [0, 1]: %w", c.MinCleanableDirtyRatio, ErrInvalidConfig)
	case c.MinCompactionLagMs < 0:
		return fmt.Errorf("min.compaction.lag.ms %v: %w", c.MinCompactionLagMs, ErrInvalidConfig)
	}
	switch c.CleanupPolicy {
	case CleanupDelete, CleanupCompact, CleanupCompactDelete, "delete,compact":
	default:
		return fmt.Errorf("cleanup.policy %q: %w", c.CleanupPolicy, ErrInvalidConfig)
	}
	return nil
}

// Compacted reports whether cleanup.policy includes compact.
func (c TopicConfig) Compacted() bool { return strings.Contains(c.CleanupPolicy, CleanupCompact) }

func (c TopicConfig) logConfig() log.Config {
	lc := log.Config{
		SegmentBytes:       c.SegmentBytes,
		SegmentMs:          c.SegmentMs,
		RetentionBytes:     c.RetentionBytes,
		RetentionMs:        c.RetentionMs,
		MaxMessageBytes:    c.MaxMessageBytes,
		FlushMessages:      c.FlushMessages,
		FlushMs:            c.FlushMs,
		IndexIntervalBytes: c.IndexIntervalBytes,
		SegmentIndexBytes:  c.SegmentIndexBytes,
		TimestampType:      c.MessageTimestampType,

		Compact:                c.Compacted(),
		DeleteRetention:        c.DeleteRetentionMs,
		MinCleanableDirtyRatio: c.MinCleanableDirtyRatio,
		MinCompactionLag:       c.MinCompactionLagMs,
	}
	if !strings.Contains(c.CleanupPolicy, CleanupDelete) {
		// A compact-only topic keeps every key's latest record forever.
		lc.RetentionMs, lc.RetentionBytes = -1, -1
	}
	return lc
}

// ParseTopicConfig builds a TopicConfig from Kafka's setting names and
// string values, as kafka-topics --config takes them (durations in ms).
func ParseTopicConfig(partitions int32, settings map[string]string) (TopicConfig, error) {
	c := TopicConfig{Partitions: partitions}
	for k, v := range settings {
		bad := func(err error) error { return fmt.Errorf("%s=%q: %v: %w", k, v, err, ErrInvalidConfig) }
		num := func() (int64, error) { return strconv.ParseInt(v, 10, 64) }
		var n int64
		var err error
		switch k {
		case "cleanup.policy":
			c.CleanupPolicy = v
			continue
		case "min.cleanable.dirty.ratio":
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				return c, bad(err)
			}
			if f < 0 || f > 1 {
				return c, bad(fmt.Errorf("want a ratio in [0, 1]"))
			}
			c.MinCleanableDirtyRatio = f
			if f == 0 {
				c.MinCleanableDirtyRatio = -1 // Kafka's 0; zero here means the default
			}
			continue
		case "message.timestamp.type":
			switch v {
			case "CreateTime":
				c.MessageTimestampType = record.CreateTime
			case "LogAppendTime":
				c.MessageTimestampType = record.LogAppendTime
			default:
				return c, bad(fmt.Errorf("want CreateTime or LogAppendTime"))
			}
			continue
		}
		if n, err = num(); err != nil {
			return c, bad(err)
		}
		ms := time.Duration(n) * time.Millisecond
		switch {
		case n < 0:
			ms = -1
		case n > int64(math.MaxInt64/time.Millisecond):
			// Beyond time.Duration (292 years): as long as can be. The
			// product would wrap, to a tiny retention.ms for one.
			ms = math.MaxInt64
		}
		switch k {
		case "segment.bytes":
			c.SegmentBytes = n
		case "segment.ms":
			c.SegmentMs = ms
		case "retention.bytes":
			c.RetentionBytes = n
		case "retention.ms":
			c.RetentionMs = ms
		case "max.message.bytes":
			c.MaxMessageBytes = int(n)
		case "flush.messages":
			c.FlushMessages = n
		case "flush.ms":
			c.FlushMs = ms
		case "min.insync.replicas":
			c.MinInsyncReplicas = int(n)
		case "index.interval.bytes":
			c.IndexIntervalBytes = int(n)
		case "segment.index.bytes":
			c.SegmentIndexBytes = int(n)
		case "delete.retention.ms":
			if n < 0 {
				return c, bad(fmt.Errorf("must not be negative"))
			}
			c.DeleteRetentionMs = ms
			if n == 0 {
				c.DeleteRetentionMs = -1 // Kafka's 0; zero here means the default
			}
		case "min.compaction.lag.ms":
			if n < 0 {
				return c, bad(fmt.Errorf("must not be negative"))
			}
			c.MinCompactionLagMs = ms
		default:
			return c, fmt.Errorf("unknown topic setting %q: %w", k, ErrInvalidConfig)
		}
	}
	c = c.withDefaults()
	return c, c.validate()
}

// Settings returns the config as Kafka setting names and string values
// (durations in ms), the inverse of ParseTopicConfig. Only settings that
// differ from the defaults are listed.
func (c TopicConfig) Settings() map[string]string {
	m := map[string]string{}
	ms := func(d time.Duration) string {
		if d < 0 {
			return "-1"
		}
		return strconv.FormatInt(d.Milliseconds(), 10)
	}
	set := func(k string, v int64) {
		if v != 0 {
			m[k] = strconv.FormatInt(v, 10)
		}
	}
	set("segment.bytes", c.SegmentBytes)
	if c.SegmentMs != 0 {
		m["segment.ms"] = ms(c.SegmentMs)
	}
	set("retention.bytes", c.RetentionBytes)
	if c.RetentionMs != 0 {
		m["retention.ms"] = ms(c.RetentionMs)
	}
	if c.CleanupPolicy != "" && c.CleanupPolicy != CleanupDelete {
		m["cleanup.policy"] = c.CleanupPolicy
	}
	set("max.message.bytes", int64(c.MaxMessageBytes))
	if c.MessageTimestampType == record.LogAppendTime {
		m["message.timestamp.type"] = "LogAppendTime"
	}
	set("flush.messages", c.FlushMessages)
	if c.FlushMs != 0 {
		m["flush.ms"] = ms(c.FlushMs)
	}
	set("index.interval.bytes", int64(c.IndexIntervalBytes))
	set("segment.index.bytes", int64(c.SegmentIndexBytes))
	switch {
	case c.DeleteRetentionMs < 0:
		m["delete.retention.ms"] = "0"
	case c.DeleteRetentionMs > 0:
		m["delete.retention.ms"] = ms(c.DeleteRetentionMs)
	}
	switch {
	case c.MinCleanableDirtyRatio < 0:
		m["min.cleanable.dirty.ratio"] = "0"
	case c.MinCleanableDirtyRatio > 0:
		m["min.cleanable.dirty.ratio"] = strconv.FormatFloat(c.MinCleanableDirtyRatio, 'g', -1, 64)
	}
	if c.MinCompactionLagMs > 0 {
		m["min.compaction.lag.ms"] = ms(c.MinCompactionLagMs)
	}
	return m
}

// ValidateTopicName checks a name as Kafka does: 1 to 249 characters of
// [a-zA-Z0-9._-], and neither "." nor "..".
func ValidateTopicName(name string) error {
	if name == "" || len(name) > 249 || name == "." || name == ".." {
		return fmt.Errorf("topic name %q: %w", name, ErrInvalidTopic)
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-') {
			return fmt.Errorf("topic name %q: character %q not in [a-zA-Z0-9._-]: %w", name, r, ErrInvalidTopic)
		}
	}
	return nil
}
