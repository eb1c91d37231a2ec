package clienttest

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/commitlog-go/commitlog"
	"github.com/commitlog-go/commitlog/admin"
	"github.com/commitlog-go/commitlog/producer"
)

// The admin client's cases: topics, offsets and groups, with the same
// results and sentinel errors on every backend.

func init() {
	register("admin/topics", adminTopics)
	register("admin/offsets", adminOffsets)
	register("admin/topic-config", adminTopicConfig)
	register("admin/groups-empty", adminGroupsEmpty)
	register("admin/restart", adminRestart)
}

// adminTopics: create (and again), list, add partitions, delete.
func adminTopics(t *testing.T, env *Env) {
	b := env.Open(t)
	ctx := caseCtx(t)
	a := newAdmin(t, b)

	require.NoError(t, a.CreateTopic(ctx, "a", commitlog.TopicConfig{Partitions: 2}))
	require.NoError(t, a.CreateTopic(ctx, "b", commitlog.TopicConfig{}))
	require.ErrorIs(t, a.CreateTopic(ctx, "a", commitlog.TopicConfig{}), commitlog.ErrTopicExists)
	created, err := a.CreateTopicIfNotExists(ctx, "a", commitlog.TopicConfig{Partitions: 5})
	require.NoError(t, err)
	require.False(t, created)
	created, err = a.CreateTopicIfNotExists(ctx, "c", commitlog.TopicConfig{Partitions: 1})
	require.NoError(t, err)
	require.True(t, created)
	require.ErrorIs(t, a.CreateTopic(ctx, "bad/name", commitlog.TopicConfig{}), commitlog.ErrInvalidTopic)

	topics, err := a.ListTopics(ctx)
	require.NoError(t, err)
	require.Equal(t, []string{"a", "b", "c"}, topics)

	offs, err := a.ListOffsets(ctx, "a")
	require.NoError(t, err)
	require.Len(t, offs, 2, "CreateTopicIfNotExists left the existing topic as it was")
	offs, err = a.ListOffsets(ctx, "b")
	require.NoError(t, err)
	require.Len(t, offs, 1, "Partitions 0 is one partition")

	require.NoError(t, a.AddPartitions(ctx, "a", 4))
	offs, err = a.ListOffsets(ctx, "a")
	require.NoError(t, err)
	require.Len(t, offs, 4)
	for i, o := range offs {
		require.Equal(t, admin.PartitionOffsets{Partition: int32(i)}, o)
	}
	require.ErrorIs(t, a.AddPartitions(ctx, "a", 3), commitlog.ErrInvalidConfig, "the count never shrinks")
	require.ErrorIs(t, a.AddPartitions(ctx, "a", 4), commitlog.ErrInvalidConfig, "nor stays")
	require.ErrorIs(t, a.AddPartitions(ctx, "nosuch", 4), commitlog.ErrUnknownTopic)

	require.NoError(t, a.DeleteTopic(ctx, "b"))
	require.ErrorIs(t, a.DeleteTopic(ctx, "b"), commitlog.ErrUnknownTopic)
	topics, err = a.ListTopics(ctx)
	require.NoError(t, err)
	require.Equal(t, []string{"a", "c"}, topics)
	_, err = a.ListOffsets(ctx, "b")
	require.ErrorIs(t, err, commitlog.ErrUnknownTopic)

	done, cancel := context.WithCancel(ctx)
	cancel()
	require.ErrorIs(t, a.CreateTopic(done, "d", commitlog.TopicConfig{}), context.Canceled)
}

// adminOffsets: the latest offset follows the records produced.
func adminOffsets(t *testing.T, env *Env) {
	b := env.Open(t)
	ctx := caseCtx(t)
	a := newAdmin(t, b)
	require.NoError(t, a.CreateTopic(ctx, "o", commitlog.TopicConfig{Partitions: 3}))
	p := newProducer(t, b, producer.Config{})
	counts := []int{5, 0, 12}
	for id, n := range counts {
		for range n {
			p.Send(ctx, &producer.Record{Topic: "o", Partition: int32(id), ExplicitPartition: true, Value: []byte("v")})
		}
	}
	require.NoError(t, p.Flush(ctx))
	offs, err := a.ListOffsets(ctx, "o")
	require.NoError(t, err)
	want := make([]admin.PartitionOffsets, len(counts))
	for id, n := range counts {
		want[id] = admin.PartitionOffsets{Partition: int32(id), Latest: int64(n)}
	}
	require.Equal(t, want, offs)
}

// adminTopicConfig: a topic with settings is created and takes records;
// a bad setting is refused. (That the settings reach the topic is each
// backend's package's test: the admin API does not describe configs yet.)
func adminTopicConfig(t *testing.T, env *Env) {
	b := env.Open(t)
	ctx := caseCtx(t)
	a := newAdmin(t, b)
	cfg := commitlog.TopicConfig{Partitions: 1, CleanupPolicy: commitlog.CleanupCompact,
		Retention: new(time.Hour), SegmentBytes: 1 << 20}
	require.NoError(t, a.CreateTopic(ctx, "compacted", cfg))
	p := newProducer(t, b, producer.Config{})
	_, err := p.SendSync(ctx, &producer.Record{Topic: "compacted", Key: []byte("k"), Value: []byte("v")})
	require.NoError(t, err)

	bad := commitlog.TopicConfig{CleanupPolicy: "sometimes"}
	require.ErrorIs(t, a.CreateTopic(ctx, "bad", bad), commitlog.ErrInvalidConfig)
}

// adminGroupsEmpty: a backend without groups lists none, and an unknown
// group has no committed offsets. (Groups with commits are the consumer
// cases' concern; each backend's package tests them with its own commits.)
func adminGroupsEmpty(t *testing.T, env *Env) {
	b := env.Open(t)
	ctx := caseCtx(t)
	a := newAdmin(t, b)
	groups, err := a.ListGroups(ctx)
	require.NoError(t, err)
	require.Empty(t, groups)
	offs, err := a.CommittedOffsets(ctx, "nosuch")
	require.NoError(t, err)
	require.Empty(t, offs)
}

// adminRestart: topics and offsets survive a restart of the backend.
func adminRestart(t *testing.T, env *Env) {
	b := env.Open(t)
	ctx := caseCtx(t)
	createTopic(t, b, "kept", 2)
	p := newProducer(t, b, producer.Config{})
	_, err := p.SendSync(ctx, &producer.Record{Topic: "kept", Partition: 1, ExplicitPartition: true, Value: []byte("v")})
	require.NoError(t, err)
	require.NoError(t, p.Close(ctx))
	b = env.Restart(t, b)
	a := newAdmin(t, b)
	topics, err := a.ListTopics(ctx)
	require.NoError(t, err)
	require.Equal(t, []string{"kept"}, topics)
	offs, err := a.ListOffsets(ctx, "kept")
	require.NoError(t, err)
	require.Equal(t, []admin.PartitionOffsets{{Partition: 0}, {Partition: 1, Latest: 1}}, offs)
}
