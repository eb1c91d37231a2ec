package consumer

import (
	"context"
	"testing"
	"time"

	"github.com/commitlog-go/commitlog"
	"github.com/stretchr/testify/require"
)

// TestSeekPositionPause: Seek, SeekToBeginning and SeekToEnd set the
// position Poll goes on from; a paused partition is not fetched until
// Resume.
func TestSeekPositionPause(t *testing.T) {
	b := openBroker(t, t.TempDir())
	defer b.Close()
	_, err := b.CreateTopic("t", commitlog.TopicConfig{Partitions: 2})
	require.NoError(t, err)
	produce(t, b, "t", "v", 100)
	c, err := New(b, Config{AutoOffsetReset: ResetEarliest, MaxPollRecords: 30, FetchMaxWait: new(20 * time.Millisecond)})
	require.NoError(t, err)
	defer c.Close(context.Background())
	tp0 := TopicPartition{Topic: "t", Partition: 0}
	require.NoError(t, c.Assign([]TopicPartition{tp0}))

	require.NoError(t, c.Seek(tp0, 10))
	recs, err := c.Poll(context.Background())
	require.NoError(t, err)
	require.Equal(t, int64(10), recs[0].Offset)
	pos, err := c.Position(tp0)
	require.NoError(t, err)
	require.Equal(t, int64(10+len(recs)), pos)
	require.NoError(t, c.SeekToEnd())
	pos, _ = c.Position(tp0)
	require.Equal(t, int64(50), pos)
	require.NoError(t, c.SeekToBeginning(tp0))
	pos, _ = c.Position(tp0)
	require.Equal(t, int64(0), pos)

	// Pause / Resume.
	require.NoError(t, c.SeekToEnd())
	produce(t, b, "t", "p", 2) // one record in each partition
	require.NoError(t, c.Pause(tp0))
	require.Equal(t, []TopicPartition{tp0}, c.Paused())
	recs, err = c.Poll(context.Background())
	require.NoError(t, err)
	require.Empty(t, recs)
	require.NoError(t, c.Resume(tp0))
	require.Empty(t, c.Paused())
	recs, err = c.Poll(context.Background())
	require.NoError(t, err)
	require.Len(t, recs, 1)
	require.Equal(t, "p-0", string(recs[0].Value))
}

func TestOffsetResetAndTimes(t *testing.T) {
	b := openBroker(t, t.TempDir())
	defer b.Close()
	_, err := b.CreateTopic("t", commitlog.TopicConfig{})
	require.NoError(t, err)
	produce(t, b, "t", "v", 10)
	tp := TopicPartition{Topic: "t", Partition: 0}

	latest, err := New(b, Config{FetchMaxWait: new(10 * time.Millisecond)})
	require.NoError(t, err)
	defer latest.Close(context.Background())
	require.NoError(t, latest.Assign([]TopicPartition{tp}))
	pos, err := latest.Position(tp)
	require.NoError(t, err)
	require.Equal(t, int64(10), pos, "auto.offset.reset=latest")

	none, err := New(b, Config{AutoOffsetReset: ResetNone})
	require.NoError(t, err)
	defer none.Close(context.Background())
	require.NoError(t, none.Assign([]TopicPartition{tp}))
	_, err = none.Poll(context.Background())
	require.ErrorIs(t, err, commitlog.ErrOffsetOutOfRange)

	res, err := latest.OffsetsForTimes(map[TopicPartition]time.Time{tp: time.Now().Add(-time.Hour)})
	require.NoError(t, err)
	require.Equal(t, int64(0), res[tp].Offset)
	res, err = latest.OffsetsForTimes(map[TopicPartition]time.Time{tp: time.Now().Add(time.Hour)})
	require.NoError(t, err)
	require.Nil(t, res[tp])
}

// TestPositionPastEndIsOutOfRange: a position above the high watermark (a
// Seek past the end, or a committed offset left by a topic that was deleted
// and created again) is out of range, as SEMANTICS.md says: the consumer
// applies auto.offset.reset instead of waiting, silently, until the log
// grows past it and skipping every record below it.
func TestPositionPastEndIsOutOfRange(t *testing.T) {
	b := openBroker(t, t.TempDir())
	defer b.Close()
	_, err := b.CreateTopic("t", commitlog.TopicConfig{Partitions: 1})
	require.NoError(t, err)
	produce(t, b, "t", "v", 10)
	tp := TopicPartition{Topic: "t"}

	t.Run("seek earliest", func(t *testing.T) {
		c, err := New(b, Config{AutoOffsetReset: ResetEarliest, FetchMaxWait: new(20 * time.Millisecond)})
		require.NoError(t, err)
		defer c.Close(context.Background())
		require.NoError(t, c.Assign([]TopicPartition{tp}))
		require.NoError(t, c.Seek(tp, 100))
		recs, err := c.Poll(context.Background())
		require.NoError(t, err)
		require.Len(t, recs, 10)
		require.Equal(t, int64(0), recs[0].Offset)
	})
	t.Run("seek none", func(t *testing.T) {
		c, err := New(b, Config{AutoOffsetReset: ResetNone, FetchMaxWait: new(20 * time.Millisecond)})
		require.NoError(t, err)
		defer c.Close(context.Background())
		require.NoError(t, c.Assign([]TopicPartition{tp}))
		require.NoError(t, c.Seek(tp, 100))
		_, err = c.Poll(context.Background())
		require.ErrorIs(t, err, commitlog.ErrOffsetOutOfRange)
	})
	t.Run("committed past end", func(t *testing.T) {
		coord, err := CoordinatorFor(b)
		require.NoError(t, err)
		require.NoError(t, coord.CommitOffsets("stale", "", -1, map[TopicPartition]OffsetAndMetadata{tp: {Offset: 1000}}))
		c, err := New(b, Config{GroupID: "stale", AutoOffsetReset: ResetEarliest, EnableAutoCommit: new(false), FetchMaxWait: new(20 * time.Millisecond)})
		require.NoError(t, err)
		defer c.Close(context.Background())
		require.NoError(t, c.Assign([]TopicPartition{tp}))
		recs, err := c.Poll(context.Background())
		require.NoError(t, err)
		require.Len(t, recs, 10, "records below a committed offset past the end are not skipped")
		produce(t, b, "t", "w", 5)
		recs, err = c.Poll(context.Background())
		require.NoError(t, err)
		require.Len(t, recs, 5)
		require.Equal(t, "w-0", string(recs[0].Value))
	})
}

// TestSeekNegativeRefused: a negative offset is refused, as Kafka's seek
// refuses it; it was taken for "no position yet", so the Seek was silently
// replaced by the committed offset or auto.offset.reset.
func TestSeekNegativeRefused(t *testing.T) {
	b := openBroker(t, t.TempDir())
	defer b.Close()
	_, err := b.CreateTopic("t", commitlog.TopicConfig{Partitions: 1})
	require.NoError(t, err)
	produce(t, b, "t", "v", 10)
	tp := TopicPartition{Topic: "t"}
	c, err := New(b, Config{AutoOffsetReset: ResetLatest})
	require.NoError(t, err)
	defer c.Close(context.Background())
	require.NoError(t, c.Assign([]TopicPartition{tp}))
	require.NoError(t, c.Seek(tp, 3))
	require.Error(t, c.Seek(tp, -1))
	pos, err := c.Position(tp)
	require.NoError(t, err)
	require.Equal(t, int64(3), pos, "the refused Seek changed nothing")
}

// TestAssignDuplicates: Assign takes a set of partitions, as Kafka's
// assign does; a partition listed twice was assigned twice (listed twice
// by Assignment and fetched twice per round).
func TestAssignDuplicates(t *testing.T) {
	b := openBroker(t, t.TempDir())
	defer b.Close()
	_, err := b.CreateTopic("t", commitlog.TopicConfig{Partitions: 2})
	require.NoError(t, err)
	c, err := New(b, Config{})
	require.NoError(t, err)
	defer c.Close(context.Background())
	tp0, tp1 := TopicPartition{Topic: "t"}, TopicPartition{Topic: "t", Partition: 1}
	require.NoError(t, c.Assign([]TopicPartition{tp0, tp1, tp0}))
	require.Equal(t, []TopicPartition{tp0, tp1}, c.Assignment())
}
