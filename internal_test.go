package commitlog

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestInternalTopicsRefused: __consumer_offsets (and Kafka's other
// internal topic) could be created with any settings, deleted (committed
// offsets gone) and re-partitioned (every group's offsets hashed to
// another partition) through the public API.
func TestInternalTopicsRefused(t *testing.T) {
	b := openBroker(t, t.TempDir(), WithoutExpvar())
	for _, name := range []string{OffsetsTopic, "__transaction_state"} {
		require.True(t, IsInternalTopic(name))
		_, err := b.CreateTopic(name, TopicConfig{})
		require.ErrorIs(t, err, ErrInvalidTopic, name)
		require.Contains(t, err.Error(), "internal")
		require.ErrorIs(t, b.DeleteTopic(name), ErrInvalidTopic)
		require.ErrorIs(t, b.AddPartitions(name, 2), ErrInvalidTopic)
	}
	// A spelling that would collide with it once '.' and '_' are alike.
	_, err := b.CreateTopic("__consumer.offsets", TopicConfig{})
	require.ErrorIs(t, err, ErrInvalidTopic)
	require.Contains(t, err.Error(), "internal")
	require.Empty(t, b.Topics())

	// Other names with "__" are the user's.
	require.False(t, IsInternalTopic("__mine"))
	_, err = b.CreateTopic("__mine", smallIndexes(TopicConfig{}))
	require.NoError(t, err)
	require.NoError(t, b.AddPartitions("__mine", 2))
	require.NoError(t, b.DeleteTopic("__mine"))

	off, err := b.OffsetsTopic(3)
	require.NoError(t, err)
	require.Equal(t, OffsetsTopic, off.Name())
	cfg := off.Config()
	require.Equal(t, int32(3), cfg.Partitions)
	require.Equal(t, CleanupCompact, cfg.CleanupPolicy)
	require.Equal(t, int64(100<<20), cfg.SegmentBytes)
	again, err := b.OffsetsTopic(5)
	require.NoError(t, err)
	require.Same(t, off, again, "get-or-create")
	require.Equal(t, int32(3), again.NumPartitions())
	_, err = b.OffsetsTopic(MaxPartitions + 1)
	require.NoError(t, err, "the existing topic whatever the count")

	err = b.DeleteTopic(OffsetsTopic)
	require.ErrorIs(t, err, ErrInvalidTopic)
	require.Contains(t, err.Error(), "internal")
	err = b.AddPartitions(OffsetsTopic, 6)
	require.ErrorIs(t, err, ErrInvalidTopic)
	require.Contains(t, err.Error(), "internal")
	_, err = b.CreateTopic(OffsetsTopic, TopicConfig{})
	require.ErrorIs(t, err, ErrInvalidTopic)
	require.Equal(t, int32(3), off.NumPartitions())
	require.False(t, off.Deleted())

	dir := b.Dir()
	appendBatch(t, mustPartition(t, b, OffsetsTopic, 1), "o", 1)
	require.NoError(t, b.Close())
	b = openBroker(t, dir, WithoutExpvar())
	require.Equal(t, []string{OffsetsTopic}, b.Topics())
	require.Equal(t, cfg, mustTopic(t, b, OffsetsTopic).Config())
	require.Len(t, readAll(t, mustPartition(t, b, OffsetsTopic, 1)), 1)

	fresh := openBroker(t, t.TempDir(), WithoutExpvar())
	for _, n := range []int32{-1, MaxPartitions + 1} {
		_, err = fresh.OffsetsTopic(n)
		require.ErrorIs(t, err, ErrInvalidConfig, "%d", n)
	}
	require.Empty(t, fresh.Topics())
}
