package consumer

import (
	"context"
	"testing"
	"time"

	"github.com/commitlog-go/commitlog"
	"github.com/stretchr/testify/require"
)

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
		c, err := New(b, Config{AutoOffsetReset: ResetEarliest, FetchMaxWait: 20 * time.Millisecond})
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
		c, err := New(b, Config{AutoOffsetReset: ResetNone, FetchMaxWait: 20 * time.Millisecond})
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
		c, err := New(b, Config{GroupID: "stale", AutoOffsetReset: ResetEarliest, DisableAutoCommit: true, FetchMaxWait: 20 * time.Millisecond})
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

// TestCloseWakesPollInRebalance: Close, from another goroutine, wakes a
// Poll that waits in JoinGroup for a member that is busy (it heartbeats
// but does not poll, within max.poll.interval.ms). Before the fix Close
// waited for the rebalance to end: up to max.poll.interval.ms.
func TestCloseWakesPollInRebalance(t *testing.T) {
	b := openBroker(t, t.TempDir())
	defer b.Close()
	_, err := b.CreateTopic("t", commitlog.TopicConfig{Partitions: 2})
	require.NoError(t, err)
	busy, err := New(b, fastConfig("g"))
	require.NoError(t, err)
	require.NoError(t, busy.Subscribe([]string{"t"}, nil))
	_, err = busy.Poll(context.Background())
	require.NoError(t, err)
	require.Len(t, busy.Assignment(), 2)
	// busy now "processes" for a long time: it keeps heartbeating.

	joiner, err := New(b, fastConfig("g"))
	require.NoError(t, err)
	require.NoError(t, joiner.Subscribe([]string{"t"}, nil))
	polled := make(chan error, 1)
	go func() {
		_, err := joiner.Poll(context.Background())
		polled <- err
	}()
	time.Sleep(100 * time.Millisecond) // joiner waits in JoinGroup for busy
	closed := make(chan error, 1)
	go func() { closed <- joiner.Close(context.Background()) }()
	select {
	case err := <-closed:
		require.NoError(t, err)
	case <-time.After(2 * time.Second):
		t.Fatal("Close did not wake the Poll waiting in the rebalance")
	}
	require.ErrorIs(t, <-polled, commitlog.ErrClosed)
	// The group does not keep waiting for the closed member.
	_, err = busy.Poll(context.Background())
	require.NoError(t, err)
	require.Len(t, busy.Assignment(), 2)
	require.NoError(t, busy.Close(context.Background()))
}
