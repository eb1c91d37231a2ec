package consumer

import (
	"bytes"
	"context"
	"log/slog"
	"testing"

	"github.com/commitlog-go/commitlog"
	"github.com/commitlog-go/commitlog/record"
	"github.com/stretchr/testify/require"
)

// TestCommitBeyondLogEndIsClamped: a committed offset beyond its
// partition's log end offset at load (what a power cut leaves when it takes
// back records a group committed past) is logged, counted and rewritten
// durably to the log end, so that the records appended there next are
// consumed, not skipped. A commit at or below the log end is left alone.
func TestCommitBeyondLogEndIsClamped(t *testing.T) {
	dir := t.TempDir()
	b, err := commitlog.Open(dir, commitlog.WithoutExpvar())
	require.NoError(t, err)
	_, err = b.CreateTopic("t", commitlog.TopicConfig{Partitions: 2})
	require.NoError(t, err)
	tp, err := b.Topic("t")
	require.NoError(t, err)
	p0, err := tp.Partition(0)
	require.NoError(t, err)
	for i := range 3 {
		bl := record.NewBuilder(0, record.BatchOptions{})
		bl.Add(int64(i), nil, []byte{byte(i)}, nil)
		raw, err := bl.Build()
		require.NoError(t, err)
		_, err = p0.Append(raw, false)
		require.NoError(t, err)
	}
	coord, err := CoordinatorFor(b)
	require.NoError(t, err)
	beyond, within := TopicPartition{Topic: "t", Partition: 0}, TopicPartition{Topic: "t", Partition: 1}
	require.NoError(t, coord.offsets.commit("g", map[TopicPartition]OffsetAndMetadata{beyond: {Offset: 8, Metadata: "m"}, within: {Offset: 0}}))
	require.NoError(t, coord.offsets.commit("h", map[TopicPartition]OffsetAndMetadata{beyond: {Offset: 3}}))
	require.NoError(t, b.Close())

	var logs bytes.Buffer
	b, err = commitlog.Open(dir, commitlog.WithoutExpvar(), commitlog.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	require.NoError(t, err)
	coord, err = CoordinatorFor(b)
	require.NoError(t, err)
	require.Equal(t, map[TopicPartition]OffsetAndMetadata{beyond: {Offset: 3, Metadata: "m"}, within: {Offset: 0}}, coord.FetchOffsets("g", nil))
	require.Equal(t, map[TopicPartition]OffsetAndMetadata{beyond: {Offset: 3}}, coord.FetchOffsets("h", nil), "a commit at the log end is kept")
	require.Contains(t, logs.String(), "level=ERROR")
	require.Contains(t, logs.String(), "group=g topic=t partition=0 committed=8 log_end_offset=3")
	clamped := map[string]int64{}
	for _, gs := range coord.GroupStats() {
		clamped[gs.Group] = gs.ClampedCommits
	}
	require.Equal(t, map[string]int64{"g": 1, "h": 0}, clamped)

	// A group resuming there reads the next record appended.
	bl := record.NewBuilder(0, record.BatchOptions{})
	bl.Add(9, nil, []byte("after"), nil)
	raw, err := bl.Build()
	require.NoError(t, err)
	p0 = mustPartition(t, b, "t", 0)
	_, err = p0.Append(raw, true)
	require.NoError(t, err)
	c, err := New(b, Config{GroupID: "g", EnableAutoCommit: new(false)})
	require.NoError(t, err)
	defer c.Close(context.Background())
	require.NoError(t, c.Assign([]TopicPartition{beyond}))
	recs, err := c.Poll(context.Background())
	require.NoError(t, err)
	require.NotEmpty(t, recs)
	require.Equal(t, int64(3), recs[0].Offset)
	require.Equal(t, "after", string(recs[0].Value))
	require.NoError(t, b.Close())

	// The clamp was durable: the next load finds nothing to clamp.
	logs.Reset()
	b, err = commitlog.Open(dir, commitlog.WithoutExpvar(), commitlog.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	require.NoError(t, err)
	defer b.Close()
	coord, err = CoordinatorFor(b)
	require.NoError(t, err)
	require.Equal(t, int64(3), coord.FetchOffsets("g", nil)[beyond].Offset)
	require.NotContains(t, logs.String(), "log_end_offset")
}

func mustPartition(t *testing.T, b *commitlog.Broker, topic string, id int32) *commitlog.Partition {
	t.Helper()
	tp, err := b.Topic(topic)
	require.NoError(t, err)
	p, err := tp.Partition(id)
	require.NoError(t, err)
	return p
}

// fillTopic appends n records to every partition of topic, so that the
// commits a test makes (up to offset n) are within the log and survive
// the load's clamp of commits beyond the log end.
func fillTopic(t *testing.T, b *commitlog.Broker, topic string, n int) {
	t.Helper()
	tp, err := b.Topic(topic)
	require.NoError(t, err)
	for _, p := range tp.Partitions() {
		bl := record.NewBuilder(0, record.BatchOptions{})
		for i := range n {
			bl.Add(int64(i), nil, []byte("x"), nil)
		}
		raw, err := bl.Build()
		require.NoError(t, err)
		_, err = p.Append(raw, false)
		require.NoError(t, err)
	}
}
