package commitlog

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"strings"
	"time"

	"github.com/commitlog-go/commitlog/internal/settings"
	"github.com/commitlog-go/commitlog/log"
	"github.com/commitlog-go/commitlog/record"
	"github.com/commitlog-go/commitlog/segment"
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

// TopicConfig is a topic's configuration. Every field mirrors the Kafka
// topic setting its doc names. Each setting is declared once in this
// package, with its name, type, default, valid range and meaning;
// ParseTopicConfig, Settings, the checks of CreateTopic, the logs'
// configuration and the README's table derive from that declaration.
//
// A plain field's zero value means Kafka's default: Kafka's zero is not a
// legal value of those settings, or is their default. The pointer fields
// are the settings whose Kafka zero is legal and differs from the default
// (retention.ms=0 deletes closed segments at once): nil means the default,
// and new(v) sets any value, 0 included. Durations are whole milliseconds,
// Kafka's unit. Topic.Config returns the config with every default filled
// in, pointers included.
type TopicConfig struct {
	// Partitions is the number of partitions (default 1), at most
	// MaxPartitions. It is not a Kafka setting but ParseTopicConfig's
	// argument (kafka-topics --partitions).
	Partitions int32
	// SegmentBytes: segment.bytes, the size at which the active segment
	// rolls, default 1 GiB, 14 to 2 GiB - 1.
	SegmentBytes int64
	// SegmentAge: segment.ms, the age at which the active segment rolls
	// even if not full, counted by the wall clock from its first append;
	// default 7 days.
	SegmentAge time.Duration
	// RetentionBytes: retention.bytes, the most bytes a partition keeps
	// before its oldest segments are deleted; nil is -1, no limit (any
	// negative value means the same, and Topic.Config reports it as -1).
	// 0 deletes every closed segment.
	RetentionBytes *int64
	// Retention: retention.ms, how long a segment is kept after its newest
	// record's timestamp; nil is 7 days, 0 deletes closed segments at
	// once. A negative value keeps data forever (Kafka's -1:
	// ParseTopicConfig reads "-1" as -1 ms, and Topic.Config reports any
	// negative value as -1 ms).
	Retention *time.Duration
	// CleanupPolicy: cleanup.policy, "delete" (default), "compact" or
	// "compact,delete".
	CleanupPolicy string
	// MaxMessageBytes: max.message.bytes, the largest batch accepted
	// (after compression); nil is 1048588.
	MaxMessageBytes *int
	// MessageTimestampType: message.timestamp.type, CreateTime (default) or
	// LogAppendTime.
	MessageTimestampType record.TimestampType
	// FlushMessages: flush.messages, fsync after this many records
	// (default: never, the OS decides; 1 fsyncs every append).
	FlushMessages int64
	// FlushInterval: flush.ms, fsync when unflushed data is this old; nil
	// is never, 0 fsyncs every append.
	FlushInterval *time.Duration
	// MinInsyncReplicas: min.insync.replicas, default 1. commitlog keeps
	// one replica, so only 1 is accepted.
	MinInsyncReplicas int
	// IndexIntervalBytes: index.interval.bytes, the bytes of batches
	// between two offset index entries; nil is 4096, 0 indexes every
	// batch.
	IndexIntervalBytes *int
	// SegmentIndexBytes: segment.index.bytes, the most bytes an index file
	// may hold (a segment whose index is full rolls), default 10 MiB.
	SegmentIndexBytes int

	// The settings of log compaction (cleanup.policy compact or
	// compact,delete); see package log and the README's "Compaction".

	// DeleteRetention: delete.retention.ms, how long a tombstone stays
	// after the cleaning pass that first saw it; nil is 1 day, 0 removes
	// it at the next pass.
	DeleteRetention *time.Duration
	// MinCleanableDirtyRatio: min.cleanable.dirty.ratio, the share of a
	// partition's closed segments that must be dirty before the cleaner
	// compacts it; nil is 0.5, 0 cleans whenever anything is dirty.
	MinCleanableDirtyRatio *float64
	// MinCompactionLag: min.compaction.lag.ms, how old a record must be
	// before compaction may touch it, default 0.
	MinCompactionLag time.Duration
}

// topicVal and topicPtr declare a topic setting; log.Config is the layer
// below.
type (
	topicVal[T comparable] = settings.Val[TopicConfig, log.Config, T]
	topicPtr[T comparable] = settings.Ptr[TopicConfig, log.Config, T]
	topicNot               = settings.Unsupported[TopicConfig, log.Config]
)

var timestampTypes = settings.Enum(nil,
	settings.Name[record.TimestampType]{Name: "CreateTime", Value: record.CreateTime},
	settings.Name[record.TimestampType]{Name: "LogAppendTime", Value: record.LogAppendTime})

var noReplication = "commitlog keeps one replica of each partition, with no replication"

// topicSettings is the declaration of every topic setting. Its order is
// the README's, and the order of Lower: cleanup.policy comes after the
// retention settings, which a compact-only policy overrides.
var topicSettings = settings.New("topic", ErrInvalidConfig,
	topicVal[int32]{Name: "partitions", Field: "Partitions", Get: func(c *TopicConfig) *int32 { return &c.Partitions },
		Codec: settings.Int32, Default: 1, Check: settings.Between[int32](1, MaxPartitions),
		Doc:      "partition count (`MaxPartitions`: each partition costs files and memory); `AddPartitions` only raises it",
		Argument: true, Hint: "the partition count is ParseTopicConfig's first argument (kafka-topics --partitions), not a setting"},
	topicVal[int64]{Name: "segment.bytes", Field: "SegmentBytes", Get: func(c *TopicConfig) *int64 { return &c.SegmentBytes },
		Codec: settings.Bytes64, Default: log.DefaultSegmentBytes, Check: settings.Between[int64](14, segment.MaxSegmentBytes),
		Lower: func(l *log.Config, v int64) { l.SegmentBytes = v },
		Doc:   "the active segment rolls at this size (Kafka 4.0 raised its minimum to 1 MiB; commitlog keeps 14, its earlier one)"},
	topicVal[time.Duration]{Name: "segment.ms", Field: "SegmentAge", Get: func(c *TopicConfig) *time.Duration { return &c.SegmentAge },
		Codec: settings.Ms, Default: log.DefaultSegmentAge, Check: settings.MsAtLeast(time.Millisecond),
		Lower: func(l *log.Config, v time.Duration) { l.SegmentAge = v },
		Doc:   "the active segment rolls at this age, counted by the wall clock from its first append"},
	topicPtr[int64]{Name: "retention.bytes", Field: "RetentionBytes", Get: func(c *TopicConfig) **int64 { return &c.RetentionBytes },
		Codec: settings.Bytes64, Default: log.DefaultRetentionBytes, Check: settings.Any[int64](),
		Lower:      func(l *log.Config, v int64) { l.RetentionBytes = &v },
		Normalize:  func(v int64) int64 { return max(v, -1) },
		DefaultDoc: "-1 (none)",
		Doc:        "per partition: oldest whole segments are deleted beyond this size; negative: no limit"},
	topicPtr[time.Duration]{Name: "retention.ms", Field: "Retention", Get: func(c *TopicConfig) **time.Duration { return &c.Retention },
		Codec: settings.Ms, Default: log.DefaultRetention, Check: settings.MsOrNegative(),
		Lower:     func(l *log.Config, v time.Duration) { l.Retention = &v },
		Normalize: forever,
		Doc:       "segments whose newest record is older are deleted; negative (-1) keeps them forever"},
	topicVal[string]{Name: "cleanup.policy", Field: "CleanupPolicy", Get: func(c *TopicConfig) *string { return &c.CleanupPolicy },
		Codec: settings.String, Default: CleanupDelete, Check: cleanupPolicies,
		Lower: func(l *log.Config, v string) {
			l.Compact = strings.Contains(v, CleanupCompact)
			if !strings.Contains(v, CleanupDelete) {
				// A compact-only topic keeps every key's latest record forever.
				l.Retention, l.RetentionBytes = new(time.Duration(-1)), new(int64(-1))
			}
		},
		Doc: "`compact` keeps every key's latest record forever; `compact,delete` also applies retention"},
	topicPtr[float64]{Name: "min.cleanable.dirty.ratio", Field: "MinCleanableDirtyRatio", Get: func(c *TopicConfig) **float64 { return &c.MinCleanableDirtyRatio },
		Codec: settings.Float, Default: log.DefaultMinCleanableDirtyRatio, Check: settings.Between(0.0, 1.0),
		Lower: func(l *log.Config, v float64) { l.MinCleanableDirtyRatio = &v },
		Doc:   "the cleaner skips logs with less dirty data"},
	topicPtr[time.Duration]{Name: "delete.retention.ms", Field: "DeleteRetention", Get: func(c *TopicConfig) **time.Duration { return &c.DeleteRetention },
		Codec: settings.Ms, Default: log.DefaultDeleteRetention, Check: settings.MsAtLeast(0),
		Lower: func(l *log.Config, v time.Duration) { l.DeleteRetention = &v },
		Doc:   "how long tombstones outlive the cleaning pass that first saw them"},
	topicVal[time.Duration]{Name: "min.compaction.lag.ms", Field: "MinCompactionLag", Get: func(c *TopicConfig) *time.Duration { return &c.MinCompactionLag },
		Codec: settings.Ms, Default: log.DefaultMinCompactionLag, Check: settings.MsAtLeast(0),
		Lower: func(l *log.Config, v time.Duration) { l.MinCompactionLag = v },
		Doc:   "records younger than this are never compacted"},
	topicPtr[int]{Name: "max.message.bytes", Field: "MaxMessageBytes", Get: func(c *TopicConfig) **int { return &c.MaxMessageBytes },
		Codec: settings.Bytes, Default: log.DefaultMaxMessageBytes, Check: settings.Between(0, math.MaxInt32),
		Lower: func(l *log.Config, v int) { l.MaxMessageBytes = &v },
		Doc:   "largest batch accepted (after compression)"},
	topicVal[record.TimestampType]{Name: "message.timestamp.type", Field: "MessageTimestampType", Get: func(c *TopicConfig) *record.TimestampType { return &c.MessageTimestampType },
		Codec: timestampTypes, Default: record.CreateTime, Check: settings.OneOf(timestampTypes, record.CreateTime, record.LogAppendTime),
		Lower: func(l *log.Config, v record.TimestampType) { l.TimestampType = v },
		Doc:   "`LogAppendTime` overwrites timestamps on append"},
	topicVal[int64]{Name: "flush.messages", Field: "FlushMessages", Get: func(c *TopicConfig) *int64 { return &c.FlushMessages },
		Codec: settings.Int64, Default: log.DefaultFlushMessages, Check: settings.AtLeast[int64](1),
		Lower:      func(l *log.Config, v int64) { l.FlushMessages = v },
		DefaultDoc: "never",
		Doc:        "fsync after this many records (1: every append)"},
	topicPtr[time.Duration]{Name: "flush.ms", Field: "FlushInterval", Get: func(c *TopicConfig) **time.Duration { return &c.FlushInterval },
		Codec: settings.Ms, Default: log.DefaultFlushInterval, Check: settings.MsAtLeast(0),
		Lower: func(l *log.Config, v time.Duration) { l.FlushInterval = &v },
		Doc:   "fsync when unflushed data is this old (0: every append)"},
	topicVal[int]{Name: "min.insync.replicas", Field: "MinInsyncReplicas", Get: func(c *TopicConfig) *int { return &c.MinInsyncReplicas },
		Codec: settings.Int, Default: 1, Check: settings.Only(1, noReplication),
		Doc: "one replica per partition: only 1 is accepted"},
	topicPtr[int]{Name: "index.interval.bytes", Field: "IndexIntervalBytes", Get: func(c *TopicConfig) **int { return &c.IndexIntervalBytes },
		Codec: settings.Bytes, Default: segment.DefaultIndexIntervalBytes, Check: settings.Between(0, math.MaxInt32),
		Lower: func(l *log.Config, v int) { l.IndexIntervalBytes = &v },
		Doc:   "bytes between offset index entries (0: every batch)"},
	topicVal[int]{Name: "segment.index.bytes", Field: "SegmentIndexBytes", Get: func(c *TopicConfig) *int { return &c.SegmentIndexBytes },
		Codec: settings.Bytes, Default: segment.DefaultMaxIndexBytes, Check: settings.Between(4, math.MaxInt32),
		Lower: func(l *log.Config, v int) { l.SegmentIndexBytes = v },
		Doc:   "the most an index file may hold; a segment whose index is full rolls (nothing is preallocated)"},

	topicNot{Name: "compression.type", Accepted: []string{"producer"}, Why: "batches are stored as the producer compressed them (producer.Config.Compression)"},
	topicNot{Name: "compression.gzip.level", Accepted: []string{"-1"}, Why: "the broker never recompresses"},
	topicNot{Name: "compression.lz4.level", Accepted: []string{"9"}, Why: "the broker never recompresses"},
	topicNot{Name: "compression.zstd.level", Accepted: []string{"3"}, Why: "the broker never recompresses"},
	topicNot{Name: "file.delete.delay.ms", Accepted: []string{"60000"}, Why: "retention records the new log start, then moves it and removes the segment files, at the next maintenance tick"},
	topicNot{Name: "follower.replication.throttled.replicas", Accepted: []string{""}, Why: noReplication},
	topicNot{Name: "leader.replication.throttled.replicas", Accepted: []string{""}, Why: noReplication},
	topicNot{Name: "local.retention.bytes", Accepted: []string{"-2"}, Why: "there is no tiered storage"},
	topicNot{Name: "local.retention.ms", Accepted: []string{"-2"}, Why: "there is no tiered storage"},
	topicNot{Name: "max.compaction.lag.ms", Accepted: []string{"9223372036854775807"}, Why: "the cleaner picks logs by dirty ratio and due tombstones only"},
	topicNot{Name: "message.downconversion.enable", Accepted: []string{"true"}, Why: "there are no consumers of older formats to convert for"},
	topicNot{Name: "message.timestamp.after.max.ms", Accepted: []string{"9223372036854775807", "3600000"}, Why: "timestamps are not checked against the clock"},
	topicNot{Name: "message.timestamp.before.max.ms", Accepted: []string{"9223372036854775807"}, Why: "timestamps are not checked against the clock"},
	topicNot{Name: "message.timestamp.difference.max.ms", Accepted: []string{"9223372036854775807"}, Why: "timestamps are not checked against the clock"},
	topicNot{Name: "preallocate", Accepted: []string{"false"}, Why: "nothing is preallocated"},
	topicNot{Name: "remote.log.copy.disable", Accepted: []string{"false"}, Why: "there is no tiered storage"},
	topicNot{Name: "remote.log.delete.on.disable", Accepted: []string{"false"}, Why: "there is no tiered storage"},
	topicNot{Name: "remote.storage.enable", Accepted: []string{"false"}, Why: "there is no tiered storage"},
	topicNot{Name: "segment.jitter.ms", Accepted: []string{"0"}, Why: "segments roll at segment.ms exactly"},
	topicNot{Name: "unclean.leader.election.enable", Accepted: []string{"false"}, Why: noReplication},
)

// forever maps every negative retention.ms to Kafka's -1.
func forever(v time.Duration) time.Duration {
	if v < 0 {
		return -time.Millisecond
	}
	return v
}

// cleanupPolicies accepts Kafka's lists of "compact" and "delete".
var cleanupPolicies = settings.Check[string]{Valid: "`delete`, `compact`, `compact,delete`", Fn: func(v string) error {
	seen := map[string]bool{}
	for p := range strings.SplitSeq(v, ",") {
		p = strings.TrimSpace(p)
		if p != CleanupCompact && p != CleanupDelete || seen[p] {
			return fmt.Errorf("want %s, %s or %s", CleanupDelete, CleanupCompact, CleanupCompactDelete)
		}
		seen[p] = true
	}
	return nil
}}

// withDefaults returns a copy of c that shares no pointer with it, every
// default filled in.
func (c TopicConfig) withDefaults() TopicConfig {
	c = c.clone()
	topicSettings.Fill(&c)
	return c
}

// clone returns a copy of c that shares no pointer with it.
func (c TopicConfig) clone() TopicConfig {
	topicSettings.Clone(&c)
	return c
}

// validate checks every setting, as CreateTopic and ParseTopicConfig do.
func (c TopicConfig) validate() error { return topicSettings.Validate(&c) }

// Compacted reports whether cleanup.policy includes compact.
func (c TopicConfig) Compacted() bool { return strings.Contains(c.CleanupPolicy, CleanupCompact) }

// logConfig is the configuration of the topic's logs: every storage
// setting, defaults for the unset ones.
func (c TopicConfig) logConfig() log.Config {
	var lc log.Config
	topicSettings.Lower(&c, &lc)
	return lc
}

// upgradeStoredSettings rewrites what versions before the settings were
// declared once could store in meta.json and now fail the checks: a
// negative segment.ms, which never rolled a segment by age, becomes
// Kafka's Long.MAX_VALUE, and a negative flush.ms, flush.messages,
// index.interval.bytes or segment.index.bytes, which meant the default,
// is dropped. Everything else is kept as it is. It returns a new map when
// it changes anything.
func upgradeStoredSettings(m map[string]string) map[string]string {
	var out map[string]string
	for _, name := range []string{"segment.ms", "flush.ms", "flush.messages", "index.interval.bytes", "segment.index.bytes"} {
		n, err := settings.Int64.Parse(m[name])
		if err != nil || n >= 0 {
			continue
		}
		if out == nil {
			out = maps.Clone(m)
		}
		if name == "segment.ms" {
			out[name] = settings.Ms.Format(settings.Forever)
		} else {
			delete(out, name)
		}
	}
	if out == nil {
		return m
	}
	return out
}

// ParseTopicConfig builds a TopicConfig from Kafka's setting names and
// string values, as kafka-topics --config takes them (durations in ms;
// retention.ms=-1 keeps data forever), and checks it as CreateTopic does.
// Only the named settings are set; the others keep their zero value,
// which means the default. An unknown name, a malformed or out-of-range
// value, and a Kafka setting commitlog does not implement (given another
// value than the one that means what commitlog does, see the README) are
// errors wrapping ErrInvalidConfig that name the setting; all of them are
// reported.
func ParseTopicConfig(partitions int32, settings map[string]string) (TopicConfig, error) {
	c := TopicConfig{Partitions: partitions}
	// The settings that parsed are checked too, so that every bad one is
	// reported at once.
	if err := errors.Join(topicSettings.Parse(&c, settings), c.validate()); err != nil {
		return c, fmt.Errorf("commitlog: %w", err)
	}
	return c, nil
}

// Settings returns the config as Kafka setting names and string values
// (durations in ms), the inverse of ParseTopicConfig. Only settings that
// differ from their defaults are listed; Partitions is not a setting.
func (c TopicConfig) Settings() map[string]string { return topicSettings.Format(&c) }

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

// partitionLogConfig is the directory and the log settings of partition
// id of topic, both for the owner and for a read-only broker.
func (b *Broker) partitionLogConfig(topic string, id int32, cfg TopicConfig) (string, log.Config, error) {
	dir, err := b.partitionDir(topic, id)
	if err != nil {
		return "", log.Config{}, fmt.Errorf("commitlog: %w", err)
	}
	lc := cfg.logConfig()
	lc.Logger = b.opts.logger.With("topic", topic, "partition", id)
	lc.FS = b.fs
	return dir, lc, nil
}
