package kafka

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/commitlog-go/commitlog"
	"github.com/commitlog-go/commitlog/admin"
)

// OpenAdminDriver implements admin.DriverOpener: admin.New calls it;
// applications do not call it.
//
// The admin client on Kafka runs on the cluster's shared kadm client:
//
//	CreateTopic        -> kadm CreateTopic: TopicConfig.Partitions (0 is 1), replication
//	                      factor -1 (the brokers' default.replication.factor), and
//	                      every setting TopicConfig.Settings lists (those that differ
//	                      from Kafka's defaults: retention.ms, cleanup.policy,
//	                      segment.bytes, max.message.bytes, ...) as topic configs;
//	                      they are checked as on the embedded broker first, except
//	                      min.insync.replicas (above 1 is allowed here), then by
//	                      the brokers
//	DeleteTopic        -> kadm DeleteTopic
//	AddPartitions      -> kadm UpdatePartitions (the total), after a metadata check that
//	                      it grows (ErrInvalidConfig otherwise, as Kafka answers)
//	ListTopics         -> kadm ListTopics (internal topics left out)
//	ListOffsets        -> kadm ListStartOffsets and ListEndOffsets
//	ListGroups         -> kadm ListGroups (every group type)
//	CommittedOffsets   -> kadm FetchOffsets (partitions without a commit left out; an
//	                      unknown group has none)
//	DescribeTopic      -> ListOffsets above, kadm DescribeTopicConfigs (every config the
//	                      brokers report; source DYNAMIC_TOPIC_CONFIG is ConfigSet, any
//	                      other ConfigDefault) and DescribeAllLogDirs (Size: the largest
//	                      replica's); Segments is -1 (Kafka's protocol does not say)
//	AlterTopicConfig   -> kadm AlterTopicConfigs (IncrementalAlterConfigs: SET for a
//	                      value, DELETE for nil), after the changed values are checked
//	                      by commitlog's settings table (min.insync.replicas is the
//	                      brokers'); unlike the embedded broker, Kafka lets a compacted
//	                      topic go back to cleanup.policy delete
//	DeleteRecords      -> kadm DeleteRecords (-1: the high watermark), after a
//	                      DescribeTopicConfigs that refuses a policy without delete
//	                      (POLICY_VIOLATION on Kafka, not on kfake) and a ListOffsets
//	                      that finds unknown partitions and answers offsets at or below
//	                      the log start with it unsent, as a Kafka broker leaves them
//	                      (kfake refuses them)
//	ListOffsetsAt      -> kadm ListStartOffsets (Earliest), ListEndOffsets (Latest),
//	                      ListMaxTimestampOffsets (MaxTimestamp, ListOffsets v7 -3),
//	                      ListOffsetsAfterMilli (At); nothing found lists the end
//	                      offset, with Found false
//	DescribeGroup      -> kadm DescribeGroups (State, Protocol, Members with ClientID and
//	                      their consumer assignments); Generation is -1 (DescribeGroups
//	                      does not report it); GROUP_ID_NOT_FOUND or Dead is
//	                      ErrUnknownGroup unless the group has commits (then Empty)
//	DeleteGroup        -> kadm DeleteGroup (NON_EMPTY_GROUP is ErrGroupNotEmpty,
//	                      GROUP_ID_NOT_FOUND ErrUnknownGroup)
//	ResetOffsets       -> DescribeGroup (members: ErrGroupNotEmpty), then kadm
//	                      CommitOffsets with no member and generation -1 (UNKNOWN_MEMBER_ID
//	                      or ILLEGAL_GENERATION from a member that joined meanwhile is
//	                      ErrGroupNotEmpty too)
//
// Errors wrap commitlog's sentinels as on the embedded broker
// (TOPIC_ALREADY_EXISTS is ErrTopicExists, UNKNOWN_TOPIC_OR_PARTITION
// ErrUnknownTopic, INVALID_CONFIG and INVALID_PARTITIONS ErrInvalidConfig,
// ...; see errors.go).
func (c *Cluster) OpenAdminDriver() (admin.Driver, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, fmt.Errorf("kafka: admin: %w", commitlog.ErrClosed)
	}
	return adminDriver{c.adm}, nil
}

var _ admin.DriverOpener = (*Cluster)(nil)

// adminDriver is admin.Driver on kadm.
type adminDriver struct{ adm *kadm.Client }

// fresh makes kadm's metadata requests under ctx skip the client's
// metadata cache (kadm asks for fresh metadata when authorized operations
// are asked for): an admin call sees the topics as they are, not as they
// were up to metadata.max.age ago (a topic just deleted, partitions just
// added).
func fresh(ctx context.Context) context.Context { return kadm.WithAuthorizedOps(ctx) }

func (d adminDriver) CreateTopic(ctx context.Context, name string, cfg commitlog.TopicConfig) error {
	if err := commitlog.ValidateTopicName(name); err != nil {
		return fmt.Errorf("kafka: create topic: %w", err)
	}
	parts := cfg.Partitions
	if parts == 0 {
		parts = 1
	}
	if parts < 0 || parts > commitlog.MaxPartitions {
		return fmt.Errorf("kafka: create topic %s: %d partitions: %w", name, parts, commitlog.ErrInvalidConfig)
	}
	// The settings are checked as the embedded broker checks them, so that
	// a bad one fails the same way (ErrInvalidConfig) whatever the brokers
	// check; min.insync.replicas is the brokers' (more than 1 is legal
	// with replicas).
	settings := cfg.Settings()
	check := maps.Clone(settings)
	delete(check, "min.insync.replicas")
	if _, err := commitlog.ParseTopicConfig(parts, check); err != nil {
		return fmt.Errorf("kafka: create topic %s: %w", name, err)
	}
	configs := map[string]*string{}
	for k, v := range settings {
		configs[k] = &v
	}
	r, err := d.adm.CreateTopic(ctx, parts, -1, configs, name)
	if err == nil {
		err = r.Err
	}
	if err != nil && r.ErrMessage != "" {
		err = fmt.Errorf("%w (%s)", err, r.ErrMessage)
	}
	return mapErr("create topic "+name, err)
}

func (d adminDriver) DeleteTopic(ctx context.Context, name string) error {
	r, err := d.adm.DeleteTopic(ctx, name)
	if err != nil && r.ErrMessage != "" {
		err = fmt.Errorf("%w (%s)", err, r.ErrMessage)
	}
	return mapErr("delete topic "+name, err)
}

func (d adminDriver) AddPartitions(ctx context.Context, name string, total int32) error {
	// Kafka refuses a count that does not grow (INVALID_PARTITIONS); not
	// every broker (kfake) does, so the count is checked here too.
	ds, err := d.adm.ListTopics(fresh(ctx), name)
	if err == nil {
		err = ds.Error()
	}
	if err != nil {
		return mapErr("add partitions to "+name, err)
	}
	if !ds.Has(name) {
		return fmt.Errorf("kafka: add partitions to %s: %w", name, commitlog.ErrUnknownTopic)
	}
	if cur := int32(len(ds[name].Partitions)); total <= cur {
		return fmt.Errorf("kafka: topic %s has %d partitions, cannot change to %d: only increases are allowed: %w", name, cur, total, commitlog.ErrInvalidConfig)
	}
	rs, err := d.adm.UpdatePartitions(ctx, int(total), name)
	if err == nil {
		r, ok := rs[name]
		switch {
		case !ok:
			err = fmt.Errorf("no answer for topic %s", name)
		case r.Err != nil && r.ErrMessage != "":
			err = fmt.Errorf("%w (%s)", r.Err, r.ErrMessage)
		default:
			err = r.Err
		}
	}
	return mapErr("add partitions to "+name, err)
}

func (d adminDriver) ListTopics(ctx context.Context) ([]string, error) {
	ds, err := d.adm.ListTopics(fresh(ctx))
	if err != nil {
		return nil, mapErr("list topics", err)
	}
	names := ds.Names() // sorted
	return slices.DeleteFunc(names, commitlog.IsInternalTopic), nil
}

func (d adminDriver) ListOffsets(ctx context.Context, topic string) ([]admin.PartitionOffsets, error) {
	start, err := d.adm.ListStartOffsets(fresh(ctx), topic)
	if err == nil {
		err = start.Error()
	}
	if err != nil {
		return nil, mapErr("list offsets of "+topic, err)
	}
	end, err := d.adm.ListEndOffsets(fresh(ctx), topic)
	if err == nil {
		err = end.Error()
	}
	if err != nil {
		return nil, mapErr("list offsets of "+topic, err)
	}
	ps := start[topic]
	if len(ps) == 0 {
		return nil, fmt.Errorf("kafka: list offsets of %s: %w", topic, commitlog.ErrUnknownTopic)
	}
	out := make([]admin.PartitionOffsets, 0, len(ps))
	for _, id := range slices.Sorted(maps.Keys(ps)) {
		e, ok := end.Lookup(topic, id)
		if !ok {
			return nil, fmt.Errorf("kafka: list offsets of %s: no end offset of partition %d", topic, id)
		}
		out = append(out, admin.PartitionOffsets{Partition: id, Earliest: ps[id].Offset, Latest: e.Offset})
	}
	return out, nil
}

func (d adminDriver) ListGroups(ctx context.Context) ([]string, error) {
	gs, err := d.adm.ListGroups(ctx)
	if err != nil {
		return nil, mapErr("list groups", err)
	}
	return gs.Groups(), nil // sorted
}

func (d adminDriver) CommittedOffsets(ctx context.Context, group string) (map[admin.TopicPartition]admin.OffsetAndMetadata, error) {
	rs, err := d.adm.FetchOffsets(ctx, group)
	if err == nil {
		err = rs.Error()
	}
	if errors.Is(err, kerr.GroupIDNotFound) {
		// A group that never committed has nothing committed (Kafka
		// answers so; some brokers, kfake, say the group is unknown).
		return map[admin.TopicPartition]admin.OffsetAndMetadata{}, nil
	}
	if err != nil {
		return nil, mapErr("committed offsets of "+group, err)
	}
	out := map[admin.TopicPartition]admin.OffsetAndMetadata{}
	rs.Each(func(o kadm.OffsetResponse) {
		if o.At >= 0 {
			out[admin.TopicPartition{Topic: o.Topic, Partition: o.Partition}] = admin.OffsetAndMetadata{Offset: o.At, Metadata: o.Metadata}
		}
	})
	return out, nil
}
