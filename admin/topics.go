package admin

import (
	"context"
	"fmt"
	"time"

	"github.com/commitlog-go/commitlog"
)

// ConfigEntry is one topic setting with its value and source (default or
// set), as Kafka's DescribeConfigs reports it; ConfigSource is where the
// value comes from. They are package commitlog's.
type (
	ConfigEntry  = commitlog.ConfigEntry
	ConfigSource = commitlog.ConfigSource
)

// The config sources.
const (
	ConfigDefault = commitlog.ConfigDefault
	ConfigSet     = commitlog.ConfigSet
)

// PartitionDescription is one partition of a described topic.
type PartitionDescription struct {
	Partition int32
	// LogStartOffset is the first offset still kept (Kafka's low
	// watermark); LogEndOffset the offset the next record gets, as a
	// consumer sees it (the high watermark).
	LogStartOffset, LogEndOffset int64
	// Size is the partition's size on disk in bytes (on Kafka, the
	// leader replica's, from DescribeLogDirs).
	Size int64
	// Segments is the number of log segments, -1 where the backend does
	// not say (Kafka's protocol does not report it).
	Segments int
}

// TopicDescription is what DescribeTopic reports of a topic.
type TopicDescription struct {
	Name string
	// Partitions are sorted by partition id.
	Partitions []PartitionDescription
	// Configs are the topic's settings, sorted by name, each with its
	// value and source. The embedded broker lists the settings it
	// implements; Kafka lists what its brokers report (every topic
	// config).
	Configs []ConfigEntry
}

// Config returns the entry of the named setting.
func (d TopicDescription) Config(name string) (ConfigEntry, bool) {
	for _, e := range d.Configs {
		if e.Name == name {
			return e, true
		}
	}
	return ConfigEntry{}, false
}

// OffsetSpec says which offset ListOffsetsAt lists: one of Kafka's
// special timestamps (Earliest, Latest, MaxTimestamp) or, from At, the
// first record at or after a time.
type OffsetSpec int64

// Kafka's special ListOffsets timestamps.
const (
	// Latest: the high watermark, the offset the next record gets.
	Latest OffsetSpec = -1
	// Earliest: the log start offset.
	Earliest OffsetSpec = -2
	// MaxTimestamp: the record with the largest timestamp, the first one
	// on ties (KIP-734). The embedded broker only counts the records from
	// the log start offset on; a Kafka broker may answer with a record
	// DeleteRecords has put below it (its segment still holds it).
	MaxTimestamp OffsetSpec = -3
)

// At is the spec of the first record whose timestamp is at or after t.
func At(t time.Time) OffsetSpec { return OffsetSpec(max(t.UnixMilli(), 0)) }

// String names the spec: earliest, latest, max-timestamp or the time.
func (s OffsetSpec) String() string {
	switch s {
	case Latest:
		return "latest"
	case Earliest:
		return "earliest"
	case MaxTimestamp:
		return "max-timestamp"
	}
	return time.UnixMilli(int64(s)).UTC().Format(time.RFC3339Nano)
}

// ListedOffset is one partition's answer to ListOffsetsAt.
type ListedOffset struct {
	Partition int32
	// Offset is the listed offset. For At and MaxTimestamp with no such
	// record it is the high watermark and Found is false, as Kafka's
	// clients resolve a timestamp with no record to the end.
	Offset int64
	// Timestamp is the record's timestamp (At, MaxTimestamp), -1 for
	// Earliest and Latest and when nothing was found.
	Timestamp int64
	// Found is false for At and MaxTimestamp when no record qualifies;
	// always true for Earliest and Latest.
	Found bool
}

// DescribeTopic returns a topic's partitions (log start and end offsets,
// size, segments) and every setting with its source. An unknown topic is
// an error wrapping commitlog.ErrUnknownTopic.
func (c *Client) DescribeTopic(ctx context.Context, name string) (TopicDescription, error) {
	if err := ctx.Err(); err != nil {
		return TopicDescription{}, fmt.Errorf("admin: describe topic %s: %w", name, err)
	}
	return c.drv.DescribeTopic(ctx, name)
}

// AlterTopicConfig changes settings of a topic at runtime (Kafka's
// IncrementalAlterConfigs, kafka-configs --alter): each entry sets a
// setting by Kafka name and string value, or with a nil value returns it
// to its default; the other settings keep theirs. The values are checked
// by commitlog's settings table first (commitlog.ParseTopicConfig): an
// unknown name or a bad value is an error wrapping
// commitlog.ErrInvalidConfig and nothing changes. On the embedded broker
// the change applies to the open partitions at once (see
// commitlog.Broker.AlterTopicConfig, which also refuses to stop
// compacting a compacted topic).
func (c *Client) AlterTopicConfig(ctx context.Context, name string, changes map[string]*string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("admin: alter topic %s: %w", name, err)
	}
	if err := checkNotInternal("alter the config of", name); err != nil {
		return err
	}
	if len(changes) == 0 {
		return nil
	}
	return c.drv.AlterTopicConfig(ctx, name, changes)
}

// DeleteRecords advances the log start offset of partitions of topic to
// the given offsets (Kafka's DeleteRecords, kafka-delete-records): the
// records below become unreadable and their space is freed, durably. -1
// means the high watermark. It returns each partition's new log start
// offset (its low watermark). An offset above the high watermark is an
// error wrapping commitlog.ErrOffsetOutOfRange; a topic whose
// cleanup.policy lacks delete (compact only) commitlog.ErrInvalidConfig,
// as Kafka refuses it; an unknown topic or
// partition ErrUnknownTopic or ErrUnknownPartition. Partitions are
// processed independently: on an error, those before it may have moved.
func (c *Client) DeleteRecords(ctx context.Context, topic string, before map[int32]int64) (map[int32]int64, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("admin: delete records of %s: %w", topic, err)
	}
	if err := checkNotInternal("delete records of", topic); err != nil {
		return nil, err
	}
	if len(before) == 0 {
		return map[int32]int64{}, nil
	}
	return c.drv.DeleteRecords(ctx, topic, before)
}

// ListOffsetsAt lists one offset of every partition of topic, by
// partition, as Kafka's ListOffsets: the log start (Earliest), the high
// watermark (Latest), the record with the largest timestamp
// (MaxTimestamp), or the first record at or after a time (At). An
// unknown topic is an error wrapping commitlog.ErrUnknownTopic.
func (c *Client) ListOffsetsAt(ctx context.Context, topic string, spec OffsetSpec) ([]ListedOffset, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("admin: list offsets of %s: %w", topic, err)
	}
	if spec < MaxTimestamp {
		return nil, fmt.Errorf("admin: list offsets of %s: spec %d: %w", topic, spec, commitlog.ErrInvalidConfig)
	}
	return c.drv.ListOffsetsAt(ctx, topic, spec)
}

// deleteRecordsPolicyError is DeleteRecords' error on a topic whose
// cleanup.policy lacks delete, as Kafka refuses it (POLICY_VIOLATION).
func deleteRecordsPolicyError(topic, policy string) error {
	return fmt.Errorf("admin: delete records of %s: cleanup.policy %s: records can only be deleted from a topic whose policy includes delete: %w", topic, policy, commitlog.ErrInvalidConfig)
}

func checkNotInternal(op, topic string) error {
	if commitlog.IsInternalTopic(topic) {
		return fmt.Errorf("admin: %s %s: it is an internal topic: %w", op, topic, commitlog.ErrInvalidTopic)
	}
	return nil
}
