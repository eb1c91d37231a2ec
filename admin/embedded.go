package admin

import (
	"context"
	"slices"

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
