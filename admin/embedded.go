package admin

import (
	"context"
	"maps"
	"slices"
	"strings"

	"github.com/commitlog-go/commitlog"
	"github.com/commitlog-go/commitlog/consumer"
)

// embedded is the Driver of the embedded broker: the broker's own calls,
// which do not block, so ctx is only checked by Client before each.
type embedded struct{ b *commitlog.Broker }

func (e embedded) CreateTopic(_ context.Context, name string, cfg commitlog.TopicConfig) error {
	_, err := e.b.CreateTopic(name, cfg)
	return err
}

func (e embedded) DeleteTopic(_ context.Context, name string) error { return e.b.DeleteTopic(name) }

func (e embedded) AddPartitions(_ context.Context, name string, total int32) error {
	return e.b.AddPartitions(name, total)
}

func (e embedded) ListTopics(context.Context) ([]string, error) {
	return slices.DeleteFunc(e.b.Topics(), commitlog.IsInternalTopic), nil
}

func (e embedded) ListOffsets(_ context.Context, topic string) ([]PartitionOffsets, error) {
	t, err := e.b.Topic(topic)
	if err != nil {
		return nil, err
	}
	parts := t.Partitions()
	out := make([]PartitionOffsets, len(parts))
	for i, p := range parts {
		out[i] = PartitionOffsets{Partition: p.ID(), Earliest: p.LogStartOffset(), Latest: p.HighWatermark()}
	}
	return out, nil
}

func (e embedded) ListGroups(context.Context) ([]string, error) {
	c, err := consumer.CoordinatorFor(e.b)
	if err != nil {
		return nil, err
	}
	stats := c.GroupStats()
	out := make([]string, len(stats))
	for i, g := range stats {
		out[i] = g.Group
	}
	slices.Sort(out)
	return out, nil
}

func (e embedded) CommittedOffsets(_ context.Context, group string) (map[TopicPartition]OffsetAndMetadata, error) {
	c, err := consumer.CoordinatorFor(e.b)
	if err != nil {
		return nil, err
	}
	return c.FetchOffsets(group, nil), nil
}

func (e embedded) DescribeTopic(_ context.Context, name string) (TopicDescription, error) {
	t, err := e.b.Topic(name)
	if err != nil {
		return TopicDescription{}, err
	}
	parts := t.Partitions()
	d := TopicDescription{Name: name, Partitions: make([]PartitionDescription, len(parts)), Configs: t.ConfigEntries()}
	for i, p := range parts {
		d.Partitions[i] = PartitionDescription{Partition: p.ID(), LogStartOffset: p.LogStartOffset(), LogEndOffset: p.HighWatermark(), Size: p.Size(), Segments: p.NumSegments()}
	}
	return d, nil
}

func (e embedded) AlterTopicConfig(_ context.Context, name string, changes map[string]*string) error {
	_, err := e.b.AlterTopicConfig(name, changes)
	return err
}

func (e embedded) DeleteRecords(_ context.Context, topic string, before map[int32]int64) (map[int32]int64, error) {
	t, err := e.b.Topic(topic)
	if err != nil {
		return nil, err
	}
	if policy := t.Config().CleanupPolicy; !strings.Contains(policy, commitlog.CleanupDelete) {
		return nil, deleteRecordsPolicyError(topic, policy)
	}
	out := make(map[int32]int64, len(before))
	for _, id := range slices.Sorted(maps.Keys(before)) {
		p, err := t.Partition(id)
		if err != nil {
			return out, err
		}
		start, err := p.DeleteRecordsBefore(before[id])
		if err != nil {
			return out, err
		}
		out[id] = start
	}
	return out, nil
}

func (e embedded) ListOffsetsAt(_ context.Context, topic string, spec OffsetSpec) ([]ListedOffset, error) {
	t, err := e.b.Topic(topic)
	if err != nil {
		return nil, err
	}
	parts := t.Partitions()
	out := make([]ListedOffset, len(parts))
	for i, p := range parts {
		lo := ListedOffset{Partition: p.ID(), Timestamp: -1, Found: true}
		var (
			off, ts int64
			found   bool
		)
		switch spec {
		case Earliest:
			lo.Offset = p.LogStartOffset()
		case Latest:
			lo.Offset = p.HighWatermark()
		case MaxTimestamp:
			off, ts, found, err = p.OffsetOfMaxTimestamp()
		default:
			off, ts, found, err = p.OffsetForTimestamp(int64(spec))
		}
		if err != nil {
			return nil, err
		}
		if spec == MaxTimestamp || spec >= 0 {
			lo.Found = found
			if found {
				lo.Offset, lo.Timestamp = off, ts
			} else {
				lo.Offset = p.HighWatermark()
			}
		}
		out[i] = lo
	}
	return out, nil
}

func (e embedded) DescribeGroup(_ context.Context, group string) (GroupInfo, error) {
	c, err := consumer.CoordinatorFor(e.b)
	if err != nil {
		return GroupInfo{}, err
	}
	d, err := c.DescribeGroup(group)
	info := GroupInfo{State: d.State, Generation: d.Generation, Protocol: d.Protocol}
	for _, m := range d.Members {
		info.Members = append(info.Members, GroupMember{MemberID: m.MemberID, ClientID: m.ClientID, Assignment: m.Assignment})
	}
	return info, err
}

func (e embedded) DeleteGroup(_ context.Context, group string) error {
	c, err := consumer.CoordinatorFor(e.b)
	if err != nil {
		return err
	}
	return c.DeleteGroup(group)
}

func (e embedded) ResetOffsets(_ context.Context, group string, offsets map[TopicPartition]OffsetAndMetadata) error {
	c, err := consumer.CoordinatorFor(e.b)
	if err != nil {
		return err
	}
	return c.ResetOffsets(group, offsets)
}
