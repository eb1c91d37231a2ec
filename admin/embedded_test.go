package admin

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/commitlog-go/commitlog"
	"github.com/commitlog-go/commitlog/consumer"
	"github.com/commitlog-go/commitlog/record"
)

// TestEmbeddedAlterRetentionWithoutReopen: retention.bytes lowered
// through the admin API reaches the open partition: the broker's
// maintenance removes the old segments, as DescribeTopic shows.
func TestEmbeddedAlterRetentionWithoutReopen(t *testing.T) {
	b, err := commitlog.Open(t.TempDir(), commitlog.WithMaintenanceInterval(5*time.Millisecond), commitlog.WithoutExpvar())
	require.NoError(t, err)
	defer b.Close()
	ctx := context.Background()
	a, err := New(b)
	require.NoError(t, err)
	require.NoError(t, a.CreateTopic(ctx, "r", commitlog.TopicConfig{SegmentBytes: 200, Retention: new(time.Hour)}))
	tp, err := b.Topic("r")
	require.NoError(t, err)
	p, err := tp.Partition(0)
	require.NoError(t, err)
	for range 5 {
		bl := record.NewBuilder(0, record.BatchOptions{})
		for range 10 {
			bl.Add(time.Now().UnixMilli(), []byte("k"), []byte("value"), nil)
		}
		raw, err := bl.Build()
		require.NoError(t, err)
		_, err = p.Append(append([]byte(nil), raw...), false)
		require.NoError(t, err)
	}
	d, err := a.DescribeTopic(ctx, "r")
	require.NoError(t, err)
	require.Equal(t, 5, d.Partitions[0].Segments)

	require.NoError(t, a.AlterTopicConfig(ctx, "r", map[string]*string{"retention.bytes": new("1")}))
	require.Eventually(t, func() bool {
		d, err := a.DescribeTopic(ctx, "r")
		return err == nil && d.Partitions[0].Segments == 1
	}, 10*time.Second, 5*time.Millisecond)
	d, err = a.DescribeTopic(ctx, "r")
	require.NoError(t, err)
	require.Equal(t, int64(40), d.Partitions[0].LogStartOffset)
	e, _ := d.Config("retention.bytes")
	require.Equal(t, ConfigEntry{Name: "retention.bytes", Value: "1", Source: ConfigSet}, e)
}

// TestEmbeddedGroupCoordinatorOps: the coordinator's describe, delete and
// reset, as the admin API's embedded driver uses them.
func TestEmbeddedGroupCoordinatorOps(t *testing.T) {
	b, err := commitlog.Open(t.TempDir(), commitlog.WithoutExpvar())
	require.NoError(t, err)
	defer b.Close()
	_, err = b.CreateTopic("t", commitlog.TopicConfig{})
	require.NoError(t, err)
	c, err := consumer.CoordinatorFor(b)
	require.NoError(t, err)
	tp := TopicPartition{Topic: "t"}

	_, err = c.DescribeGroup("g")
	require.ErrorIs(t, err, ErrUnknownGroup)
	require.ErrorIs(t, c.ResetOffsets("g", map[TopicPartition]OffsetAndMetadata{{Topic: "nosuch"}: {}}), commitlog.ErrUnknownTopic)
	require.Empty(t, c.GroupStats(), "a failed reset leaves no group")
	require.NoError(t, c.ResetOffsets("g", map[TopicPartition]OffsetAndMetadata{tp: {Offset: 0}}))
	d, err := c.DescribeGroup("g")
	require.NoError(t, err)
	require.Equal(t, consumer.GroupEmpty, d.State)
	require.NoError(t, c.DeleteGroup("g"))
	require.Empty(t, c.FetchOffsets("g", nil))
	require.ErrorIs(t, c.DeleteGroup("g"), ErrUnknownGroup)
	require.Empty(t, c.GroupStats())
}
