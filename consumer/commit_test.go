package consumer

import (
	"context"
	"testing"
	"time"

	"github.com/commitlog-go/commitlog"
	"github.com/stretchr/testify/require"
)

// offsetsEnd is the sum of the log end offsets of __consumer_offsets: it
// moves with every commit written.
func offsetsEnd(t *testing.T, b *commitlog.Broker) int64 {
	t.Helper()
	topic, err := b.Topic(OffsetsTopic)
	require.NoError(t, err)
	var n int64
	for _, p := range topic.Partitions() {
		n += p.LogEndOffset()
	}
	return n
}

// TestInvalidCommitsRefused: a commit naming a topic or partition that does
// not exist, or a negative offset, fails with a clear error, and none of
// its entries is written, valid ones included. Before the fix such commits
// were stored as given (a negative offset was later taken for "no
// position", a commit of a misspelt topic silently went nowhere).
func TestInvalidCommitsRefused(t *testing.T) {
	b := openBroker(t, t.TempDir())
	defer b.Close()
	for _, name := range []string{"t", "other", "gone"} {
		_, err := b.CreateTopic(name, commitlog.TopicConfig{Partitions: 2})
		require.NoError(t, err)
	}
	require.NoError(t, b.DeleteTopic("gone"))
	valid := TopicPartition{Topic: "t", Partition: 1}
	cases := []struct {
		name    string
		offsets map[TopicPartition]OffsetAndMetadata
		want    error // nil: accepted
	}{
		{"unknown topic", map[TopicPartition]OffsetAndMetadata{{Topic: "nope"}: {Offset: 1}}, commitlog.ErrUnknownTopic},
		{"deleted topic", map[TopicPartition]OffsetAndMetadata{{Topic: "gone"}: {Offset: 1}}, commitlog.ErrUnknownTopic},
		{"partition past the last", map[TopicPartition]OffsetAndMetadata{{Topic: "t", Partition: 2}: {Offset: 1}}, commitlog.ErrUnknownPartition},
		{"negative partition", map[TopicPartition]OffsetAndMetadata{{Topic: "t", Partition: -1}: {Offset: 1}}, commitlog.ErrUnknownPartition},
		{"negative offset", map[TopicPartition]OffsetAndMetadata{{Topic: "t"}: {Offset: -1}}, ErrInvalidOffset},
		{"most negative offset", map[TopicPartition]OffsetAndMetadata{{Topic: "t"}: {Offset: -1 << 63}}, ErrInvalidOffset},
		{"valid with an unknown topic", map[TopicPartition]OffsetAndMetadata{valid: {Offset: 3}, {Topic: "nope"}: {Offset: 1}}, commitlog.ErrUnknownTopic},
		{"valid with an unknown partition", map[TopicPartition]OffsetAndMetadata{valid: {Offset: 3}, {Topic: "t", Partition: 9}: {Offset: 1}}, commitlog.ErrUnknownPartition},
		{"valid with a negative offset", map[TopicPartition]OffsetAndMetadata{valid: {Offset: 3}, {Topic: "t"}: {Offset: -5}}, ErrInvalidOffset},
		{"offset 0", map[TopicPartition]OffsetAndMetadata{{Topic: "t"}: {Offset: 0}}, nil},
		{"a topic the group does not consume", map[TopicPartition]OffsetAndMetadata{{Topic: "other", Partition: 1}: {Offset: 7}}, nil},
	}
	commits := map[string]func(c *Consumer, offsets map[TopicPartition]OffsetAndMetadata) error{
		"CommitSync": func(c *Consumer, offsets map[TopicPartition]OffsetAndMetadata) error {
			return c.CommitSync(context.Background(), offsets)
		},
		"CommitAsync": func(c *Consumer, offsets map[TopicPartition]OffsetAndMetadata) error {
			done := make(chan error, 1)
			c.CommitAsync(offsets, func(_ map[TopicPartition]OffsetAndMetadata, err error) { done <- err })
			return <-done
		},
		"Coordinator.CommitOffsets": func(c *Consumer, offsets map[TopicPartition]OffsetAndMetadata) error {
			return c.coord.CommitOffsets(c.cfg.GroupID, "", -1, offsets)
		},
	}
	for how, commit := range commits {
		for _, tc := range cases {
			t.Run(how+"/"+tc.name, func(t *testing.T) {
				group := how + "/" + tc.name
				c, err := New(b, Config{GroupID: group, DisableAutoCommit: true, FetchMaxWait: 20 * time.Millisecond})
				require.NoError(t, err)
				defer c.Close(context.Background())
				require.NoError(t, c.Assign([]TopicPartition{{Topic: "t"}}))
				end := offsetsEnd(t, b)
				err = commit(c, tc.offsets)
				got, cerr := c.Committed(context.Background(), nil)
				require.NoError(t, cerr)
				if tc.want != nil {
					require.ErrorIs(t, err, tc.want)
					require.Empty(t, got, "nothing of a refused commit is kept")
					require.Equal(t, end, offsetsEnd(t, b), "nothing of a refused commit is written")
					return
				}
				require.NoError(t, err)
				require.Equal(t, tc.offsets, got)
				require.Greater(t, offsetsEnd(t, b), end)
			})
		}
	}
}

// TestCommitOfPositionsSkipsDeletedTopic: committing the current positions
// (CommitSync(nil), auto-commit, Close) leaves out an assigned partition
// whose topic was deleted, instead of failing the whole commit with
// ErrUnknownTopic and so losing the other partitions' progress.
func TestCommitOfPositionsSkipsDeletedTopic(t *testing.T) {
	b := openBroker(t, t.TempDir())
	defer b.Close()
	for _, name := range []string{"t", "u"} {
		_, err := b.CreateTopic(name, commitlog.TopicConfig{Partitions: 1})
		require.NoError(t, err)
	}
	produce(t, b, "t", "t", 5)
	produce(t, b, "u", "u", 5)
	c, err := New(b, Config{GroupID: "g", AutoOffsetReset: ResetEarliest, FetchMaxWait: 20 * time.Millisecond})
	require.NoError(t, err)
	tt, tu := TopicPartition{Topic: "t"}, TopicPartition{Topic: "u"}
	require.NoError(t, c.Assign([]TopicPartition{tt, tu}))
	var n int
	for i := 0; i < 5 && n < 10; i++ {
		recs, err := c.Poll(context.Background())
		require.NoError(t, err)
		n += len(recs)
	}
	require.Equal(t, 10, n)
	require.NoError(t, b.DeleteTopic("u"))
	require.NoError(t, c.CommitSync(context.Background(), nil))
	got, err := c.Committed(context.Background(), nil)
	require.NoError(t, err)
	require.Equal(t, map[TopicPartition]OffsetAndMetadata{tt: {Offset: 5}}, got)

	// A topic deleted and created again is another topic: the position
	// in the old one is not committed for the new one.
	_, err = b.CreateTopic("u", commitlog.TopicConfig{Partitions: 1})
	require.NoError(t, err)
	require.NoError(t, c.Close(context.Background()), "Close commits the positions")
	require.Equal(t, map[TopicPartition]OffsetAndMetadata{tt: {Offset: 5}}, c.coord.FetchOffsets("g", nil))
}
