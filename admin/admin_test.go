package admin

import (
	"context"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/commitlog-go/commitlog"
	"github.com/commitlog-go/commitlog/consumer"
)

type plainBackend struct{}

func (plainBackend) Logger() *slog.Logger { return slog.Default() }
func (plainBackend) Close() error         { return nil }

func TestNewUnsupportedBackend(t *testing.T) {
	_, err := New(plainBackend{})
	require.ErrorIs(t, err, commitlog.ErrUnsupportedBackend)
}

// TestEmbeddedGroups: the groups and committed offsets of the embedded
// broker's coordinator, as a standalone commit leaves them.
func TestEmbeddedGroups(t *testing.T) {
	b, err := commitlog.Open(t.TempDir())
	require.NoError(t, err)
	defer b.Close()
	ctx := context.Background()
	a, err := New(b)
	require.NoError(t, err)
	require.NoError(t, a.CreateTopic(ctx, "t", commitlog.TopicConfig{Partitions: 2}))

	groups, err := a.ListGroups(ctx)
	require.NoError(t, err)
	require.Empty(t, groups)

	c, err := consumer.CoordinatorFor(b)
	require.NoError(t, err)
	want := map[TopicPartition]OffsetAndMetadata{
		{Topic: "t", Partition: 0}: {Offset: 0, Metadata: "m"},
		{Topic: "t", Partition: 1}: {Offset: 0},
	}
	require.NoError(t, c.CommitOffsets("g2", "", -1, want))
	require.NoError(t, c.CommitOffsets("g1", "", -1, map[TopicPartition]OffsetAndMetadata{{Topic: "t", Partition: 1}: {Offset: 0}}))

	groups, err = a.ListGroups(ctx)
	require.NoError(t, err)
	require.Equal(t, []string{"g1", "g2"}, groups)
	got, err := a.CommittedOffsets(ctx, "g2")
	require.NoError(t, err)
	require.Equal(t, want, got)
	got, err = a.CommittedOffsets(ctx, "nosuch")
	require.NoError(t, err)
	require.Empty(t, got)

	topics, err := a.ListTopics(ctx)
	require.NoError(t, err)
	require.Equal(t, []string{"t"}, topics, "__consumer_offsets is internal")
}
