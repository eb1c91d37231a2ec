package kafka

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/commitlog-go/commitlog"
	"github.com/commitlog-go/commitlog/admin"
)

// TestAdminTopicConfigs: a TopicConfig's settings become the topic's
// configs on Kafka.
func TestAdminTopicConfigs(t *testing.T) {
	c := connectFake(t)
	ctx := context.Background()
	a, err := admin.New(c)
	require.NoError(t, err)
	cfg := commitlog.TopicConfig{Partitions: 2, CleanupPolicy: commitlog.CleanupCompact,
		Retention: new(time.Duration(-1)), SegmentBytes: 1 << 20, MaxMessageBytes: new(500000)}
	require.NoError(t, a.CreateTopic(ctx, "cfg", cfg))
	rcs, err := c.Admin().DescribeTopicConfigs(ctx, "cfg")
	require.NoError(t, err)
	rc, err := rcs.On("cfg", nil)
	require.NoError(t, err)
	got := map[string]string{}
	for _, kv := range rc.Configs {
		if kv.Value != nil && kv.Source == 1 { // DYNAMIC_TOPIC_CONFIG: set on the topic
			got[kv.Key] = *kv.Value
		}
	}
	require.Equal(t, map[string]string{"cleanup.policy": "compact", "retention.ms": "-1",
		"segment.bytes": "1048576", "max.message.bytes": "500000"}, got)

	require.ErrorIs(t, a.CreateTopic(ctx, "bad", commitlog.TopicConfig{SegmentBytes: 3}), commitlog.ErrInvalidConfig)
}

// TestAdminGroups: groups and offsets committed through Kafka's API are
// what ListGroups and CommittedOffsets report.
func TestAdminGroups(t *testing.T) {
	c := connectFake(t)
	ctx := context.Background()
	a, err := admin.New(c)
	require.NoError(t, err)
	require.NoError(t, a.CreateTopic(ctx, "t", commitlog.TopicConfig{Partitions: 2}))
	var os kadm.Offsets
	os.Add(kadm.Offset{Topic: "t", Partition: 0, At: 0, Metadata: "m", LeaderEpoch: -1})
	os.Add(kadm.Offset{Topic: "t", Partition: 1, At: 0, LeaderEpoch: -1})
	err = c.Admin().CommitAllOffsets(ctx, "g", os)
	require.NoError(t, err)

	groups, err := a.ListGroups(ctx)
	require.NoError(t, err)
	require.Equal(t, []string{"g"}, groups)
	got, err := a.CommittedOffsets(ctx, "g")
	require.NoError(t, err)
	require.Equal(t, map[admin.TopicPartition]admin.OffsetAndMetadata{
		{Topic: "t", Partition: 0}: {Offset: 0, Metadata: "m"},
		{Topic: "t", Partition: 1}: {Offset: 0},
	}, got)
}

func TestAdminClosedCluster(t *testing.T) {
	c := connectFake(t)
	require.NoError(t, c.Close())
	_, err := admin.New(c)
	require.ErrorIs(t, err, commitlog.ErrClosed)
}
