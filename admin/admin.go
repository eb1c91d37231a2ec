// Package admin is commitlog's administration client, modelled on Kafka's
// Admin client and its command-line tools, on every backend: the embedded
// *commitlog.Broker, or a Kafka cluster (package kafka). It owns
//
//   - topics: create (CreateTopicIfNotExists too), delete, add partitions,
//     list, describe (partitions with their log start and end offsets,
//     size and segments; every setting with its source), alter settings
//     at runtime, delete records before an offset (Kafka's DeleteRecords);
//   - offsets: ListOffsets (earliest and latest) and ListOffsetsAt with
//     Kafka's special timestamps (earliest, latest, max-timestamp) or a
//     time;
//   - consumer groups: list, describe (state, generation, assignor,
//     members and their assignments, committed offset, log end offset and
//     lag per partition), delete, and reset offsets as
//     kafka-consumer-groups --reset-offsets (a dry-run plan by default).
//
// Reading and writing records belong to packages consumer and producer
// (a consumer's own EndOffsets and Lag too); the group protocol itself to
// consumer.
//
// Every method takes a context and returns errors that wrap commitlog's
// sentinels the same way on both backends (ErrTopicExists,
// ErrUnknownTopic, ErrUnknownPartition, ErrOffsetOutOfRange,
// ErrInvalidConfig, ErrInvalidTopic, ErrClosed, ErrGroupNotEmpty,
// ErrUnknownGroup, ...).
package admin

import (
	"context"
	"errors"
	"fmt"

	"github.com/commitlog-go/commitlog"
	"github.com/commitlog-go/commitlog/consumer"
)

// PartitionOffsets are a partition's earliest and latest offsets, as
// Kafka's ListOffsets with the earliest and latest timestamps gives them.
type PartitionOffsets struct {
	Partition int32
	// Earliest is the log start offset: the first offset still kept.
	Earliest int64
	// Latest is the high watermark: the offset the next record gets, as a
	// consumer sees it.
	Latest int64
}

// TopicPartition names a partition; OffsetAndMetadata is a committed
// position. They are package consumer's, so that committed offsets read
// here compare with the consumer's.
type (
	TopicPartition    = consumer.TopicPartition
	OffsetAndMetadata = consumer.OffsetAndMetadata
)

// Driver is an admin client's backend: the embedded broker's (in this
// package) or another backend's (package kafka implements it on kadm).
// Applications do not call it. Its methods are those of Client, with the
// same meaning; new ones come as Client grows.
type Driver interface {
	CreateTopic(ctx context.Context, name string, cfg commitlog.TopicConfig) error
	DeleteTopic(ctx context.Context, name string) error
	AddPartitions(ctx context.Context, name string, total int32) error
	ListTopics(ctx context.Context) ([]string, error)
	ListOffsets(ctx context.Context, topic string) ([]PartitionOffsets, error)
	ListGroups(ctx context.Context) ([]string, error)
	CommittedOffsets(ctx context.Context, group string) (map[TopicPartition]OffsetAndMetadata, error)

	DescribeTopic(ctx context.Context, name string) (TopicDescription, error)
	// AlterTopicConfig gets changes checked by Client to be non-empty.
	AlterTopicConfig(ctx context.Context, name string, changes map[string]*string) error
	// DeleteRecords gets a non-empty map; -1 is the high watermark.
	DeleteRecords(ctx context.Context, topic string, before map[int32]int64) (map[int32]int64, error)
	ListOffsetsAt(ctx context.Context, topic string, spec OffsetSpec) ([]ListedOffset, error)
	// DescribeGroup reports the membership; an unknown group is an error
	// wrapping ErrUnknownGroup (with State GroupDead).
	DescribeGroup(ctx context.Context, group string) (GroupInfo, error)
	DeleteGroup(ctx context.Context, group string) error
	// ResetOffsets commits offsets for a group without members (else
	// ErrGroupNotEmpty), the execution of Client.ResetOffsets' plan.
	ResetOffsets(ctx context.Context, group string, offsets map[TopicPartition]OffsetAndMetadata) error
}

// DriverOpener is implemented by a commitlog.Backend that is not the
// embedded broker and can run an admin client (package kafka's *Cluster).
// New calls it; applications do not call it.
type DriverOpener interface {
	OpenAdminDriver() (Driver, error)
}

// Client administers a backend's topics and consumer groups. It is safe
// for concurrent use and holds nothing that needs closing: it lives as
// long as its backend.
type Client struct {
	drv Driver
}

// New returns an admin client on b: the embedded broker, or a backend
// that opens admin drivers (a Kafka cluster from package kafka). Any other
// backend is an error wrapping commitlog.ErrUnsupportedBackend.
func New(b commitlog.Backend) (*Client, error) {
	if br, ok := b.(*commitlog.Broker); ok {
		return &Client{drv: embedded{br}}, nil
	}
	o, ok := b.(DriverOpener)
	if !ok {
		return nil, fmt.Errorf("admin: backend %T: %w", b, commitlog.ErrUnsupportedBackend)
	}
	d, err := o.OpenAdminDriver()
	if err != nil {
		return nil, fmt.Errorf("admin: %w", err)
	}
	return &Client{drv: d}, nil
}

// CreateTopic creates a topic with cfg's partition count (0 is 1) and
// settings (those that differ from their defaults become the topic's
// configs on Kafka: retention.ms, cleanup.policy, segment.bytes, ...;
// see commitlog.TopicConfig.Settings). A name already taken is an error
// wrapping commitlog.ErrTopicExists; a bad name commitlog.ErrInvalidTopic;
// a bad setting commitlog.ErrInvalidConfig.
func (c *Client) CreateTopic(ctx context.Context, name string, cfg commitlog.TopicConfig) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("admin: create topic %s: %w", name, err)
	}
	return c.drv.CreateTopic(ctx, name, cfg)
}

// CreateTopicIfNotExists is CreateTopic that takes an existing topic of
// that name for success: created reports whether this call created it.
// The existing topic's partitions and settings are left as they are.
func (c *Client) CreateTopicIfNotExists(ctx context.Context, name string, cfg commitlog.TopicConfig) (created bool, err error) {
	err = c.CreateTopic(ctx, name, cfg)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, commitlog.ErrTopicExists):
		return false, nil
	default:
		return false, err
	}
}

// DeleteTopic deletes a topic and its data. An unknown topic is an error
// wrapping commitlog.ErrUnknownTopic; an internal topic
// (__consumer_offsets) is refused.
func (c *Client) DeleteTopic(ctx context.Context, name string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("admin: delete topic %s: %w", name, err)
	}
	return c.drv.DeleteTopic(ctx, name)
}

// AddPartitions raises a topic's partition count to total (Kafka's
// CreatePartitions). A total not above the current count is an error
// wrapping commitlog.ErrInvalidConfig; keys may hash to other partitions
// from then on.
func (c *Client) AddPartitions(ctx context.Context, name string, total int32) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("admin: add partitions to %s: %w", name, err)
	}
	return c.drv.AddPartitions(ctx, name, total)
}

// ListTopics returns the names of the topics, sorted, without the
// internal ones (__consumer_offsets).
func (c *Client) ListTopics(ctx context.Context) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("admin: list topics: %w", err)
	}
	return c.drv.ListTopics(ctx)
}

// ListOffsets returns the earliest and latest offsets of every partition
// of topic, by partition. An unknown topic is an error wrapping
// commitlog.ErrUnknownTopic.
func (c *Client) ListOffsets(ctx context.Context, topic string) ([]PartitionOffsets, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("admin: list offsets of %s: %w", topic, err)
	}
	return c.drv.ListOffsets(ctx, topic)
}

// ListGroups returns the ids of the consumer groups, sorted: those with
// members and those that only have committed offsets.
func (c *Client) ListGroups(ctx context.Context) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("admin: list groups: %w", err)
	}
	return c.drv.ListGroups(ctx)
}

// CommittedOffsets returns a group's committed offsets (the next offset to
// consume, with its metadata) for every partition it committed; an
// unknown group has none.
func (c *Client) CommittedOffsets(ctx context.Context, group string) (map[TopicPartition]OffsetAndMetadata, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("admin: committed offsets of %s: %w", group, err)
	}
	return c.drv.CommittedOffsets(ctx, group)
}
