package consumer

import (
	"context"
	"fmt"
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

// TestCommitsSurviveRestart commits, restarts the broker, and checks that
// the committed offsets come back and a new member resumes from them.
func TestCommitsSurviveRestart(t *testing.T) {
	dir := t.TempDir()
	b := openBroker(t, dir)
	_, err := b.CreateTopic("t", commitlog.TopicConfig{Partitions: 3})
	require.NoError(t, err)
	produce(t, b, "t", "v", 300)
	c, err := New(b, fastConfig("g"))
	require.NoError(t, err)
	require.NoError(t, c.Subscribe([]string{"t"}, nil))
	seen := 0
	for seen < 150 {
		recs, err := c.Poll(context.Background())
		require.NoError(t, err)
		seen += len(recs)
	}
	require.NoError(t, c.CommitSync(context.Background(), nil))
	committed, err := c.Committed(context.Background(), nil)
	require.NoError(t, err)
	var sum int64
	for _, om := range committed {
		sum += om.Offset
	}
	require.Equal(t, int64(seen), sum)
	require.NoError(t, c.Close(context.Background()))
	require.NoError(t, b.Close())

	b = openBroker(t, dir)
	defer b.Close()
	c, err = New(b, fastConfig("g"))
	require.NoError(t, err)
	defer c.Close(context.Background())
	back, err := c.Committed(context.Background(), nil)
	require.NoError(t, err)
	require.Equal(t, committed, back)
	require.NoError(t, c.Subscribe([]string{"t"}, nil))
	rest := 0
	deadline := time.Now().Add(5 * time.Second)
	for rest < 300-seen && time.Now().Before(deadline) {
		recs, err := c.Poll(context.Background())
		require.NoError(t, err)
		rest += len(recs)
	}
	require.Equal(t, 300-seen, rest, "the new member resumes from the committed offsets")
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
			return c.coord.CommitOffsets(c.set.GroupID, "", -1, offsets)
		},
	}
	for how, commit := range commits {
		for _, tc := range cases {
			t.Run(how+"/"+tc.name, func(t *testing.T) {
				group := how + "/" + tc.name
				c, err := New(b, Config{GroupID: group, EnableAutoCommit: new(false), FetchMaxWait: new(20 * time.Millisecond)})
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
	c, err := New(b, Config{GroupID: "g", AutoOffsetReset: ResetEarliest, FetchMaxWait: new(20 * time.Millisecond)})
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

// TestCommitAsyncThenSyncKeepsOrder: commits land in the order they were
// made, as over Kafka's one coordinator connection: an async commit queued
// before a CommitSync must not be written after it, rewinding the
// committed offset (and re-delivering records after a restart).
func TestCommitAsyncThenSyncKeepsOrder(t *testing.T) {
	b := openBroker(t, t.TempDir())
	defer b.Close()
	_, err := b.CreateTopic("t", commitlog.TopicConfig{Partitions: 1})
	require.NoError(t, err)
	tp := TopicPartition{Topic: "t"}
	c, err := New(b, Config{GroupID: "g", EnableAutoCommit: new(false)})
	require.NoError(t, err)
	defer c.Close(context.Background())
	require.NoError(t, c.Assign([]TopicPartition{tp}))
	for i := int64(0); i < 50; i++ {
		done := make(chan error, 1)
		c.CommitAsync(map[TopicPartition]OffsetAndMetadata{tp: {Offset: 2*i + 1}}, func(_ map[TopicPartition]OffsetAndMetadata, err error) { done <- err })
		require.NoError(t, c.CommitSync(context.Background(), map[TopicPartition]OffsetAndMetadata{tp: {Offset: 2*i + 2}}))
		require.NoError(t, <-done)
		got, err := c.Committed(context.Background(), []TopicPartition{tp})
		require.NoError(t, err)
		require.Equal(t, 2*i+2, got[tp].Offset, "round %d: the earlier async commit overwrote the later sync one", i)
	}
}

// TestCloseAfterAutoCommitKeepsFinalOffsets: in Assign mode with
// auto-commit, Close commits the final positions; an auto-commit queued by
// an earlier Poll must not land after it with older positions.
func TestCloseAfterAutoCommitKeepsFinalOffsets(t *testing.T) {
	b := openBroker(t, t.TempDir())
	defer b.Close()
	_, err := b.CreateTopic("t", commitlog.TopicConfig{Partitions: 1})
	require.NoError(t, err)
	produce(t, b, "t", "v", 400)
	tp := TopicPartition{Topic: "t"}
	for round := 0; round < 20; round++ {
		group := fmt.Sprintf("g%d", round)
		c, err := New(b, Config{GroupID: group, AutoOffsetReset: ResetEarliest, MaxPollRecords: 10,
			AutoCommitInterval: new(time.Duration(0)), FetchMaxWait: new(10 * time.Millisecond)})
		require.NoError(t, err)
		require.NoError(t, c.Assign([]TopicPartition{tp}))
		var n int64
		for n < 20 {
			recs, err := c.Poll(context.Background())
			require.NoError(t, err)
			n += int64(len(recs))
		}
		// This Poll queues an auto-commit of 20, then returns 10 more.
		recs, err := c.Poll(context.Background())
		require.NoError(t, err)
		n += int64(len(recs))
		require.NoError(t, c.Close(context.Background()))
		coord, err := CoordinatorFor(b)
		require.NoError(t, err)
		require.Equal(t, n, coord.FetchOffsets(group, []TopicPartition{tp})[tp].Offset, "round %d", round)
	}
}

// TestStaleCommitResultDoesNotRebalance: an async commit (an auto-commit)
// queued in generation N and written after the member rejoined in N+1 is
// rejected, rightly; but the member is already in the current generation,
// so the rejection must not make it rejoin, which forced a needless
// rebalance of the whole group (an eager one revokes every partition).
func TestStaleCommitResultDoesNotRebalance(t *testing.T) {
	b := openBroker(t, t.TempDir())
	defer b.Close()
	_, err := b.CreateTopic("t", commitlog.TopicConfig{Partitions: 2})
	require.NoError(t, err)
	c, err := New(b, fastConfig("g"))
	require.NoError(t, err)
	defer c.Close(context.Background())
	require.NoError(t, c.Subscribe([]string{"t"}, nil))
	_, err = c.Poll(context.Background())
	require.NoError(t, err)
	id, oldGen := c.MemberID()
	// A rebalance: the member rejoins in a new generation.
	require.NoError(t, c.Subscribe([]string{"t"}, nil))
	_, err = c.Poll(context.Background())
	require.NoError(t, err)
	_, gen := c.MemberID()
	require.Greater(t, gen, oldGen)
	// The commit queued in the old generation lands now.
	done := make(chan error, 1)
	require.True(t, c.commits.enqueue(asyncCommit{offsets: map[TopicPartition]OffsetAndMetadata{{Topic: "t"}: {Offset: 0}},
		memberID: id, generation: oldGen, cb: func(_ map[TopicPartition]OffsetAndMetadata, err error) { done <- err }}))
	require.ErrorIs(t, <-done, ErrIllegalGeneration)
	_, err = c.Poll(context.Background())
	require.NoError(t, err)
	_, now := c.MemberID()
	require.Equal(t, gen, now, "a stale commit result made the member rejoin")
}

// TestResubscribeWhileCommitting (run with -race): Subscribe again, to
// change topics, while auto-commits are in flight. The commit goroutine
// read the consumer's mode that Subscribe writes: a data race.
func TestResubscribeWhileCommitting(t *testing.T) {
	b := openBroker(t, t.TempDir())
	defer b.Close()
	_, err := b.CreateTopic("t", commitlog.TopicConfig{Partitions: 2})
	require.NoError(t, err)
	c, err := New(b, fastConfig("g"))
	require.NoError(t, err)
	defer c.Close(context.Background())
	require.NoError(t, c.Subscribe([]string{"t"}, nil))
	_, err = c.Poll(context.Background())
	require.NoError(t, err)
	for i := 0; i < 50; i++ {
		c.CommitAsync(nil, nil)
		require.NoError(t, c.Subscribe([]string{"t"}, nil))
	}
}

// TestCommitAsyncCallbackAfterCloseMayRetry: after Close, CommitAsync
// calls back with ErrClosed at once; it did so holding the lock CommitAsync
// takes, so a callback retrying with CommitAsync deadlocked.
func TestCommitAsyncCallbackAfterCloseMayRetry(t *testing.T) {
	b := openBroker(t, t.TempDir())
	defer b.Close()
	c, err := New(b, Config{GroupID: "g"})
	require.NoError(t, err)
	require.NoError(t, c.Close(context.Background()))
	done := make(chan error, 2)
	go c.CommitAsync(nil, func(_ map[TopicPartition]OffsetAndMetadata, err error) {
		done <- err
		c.CommitAsync(nil, func(_ map[TopicPartition]OffsetAndMetadata, err error) { done <- err })
	})
	for i := 0; i < 2; i++ {
		select {
		case err := <-done:
			require.ErrorIs(t, err, commitlog.ErrClosed)
		case <-time.After(2 * time.Second):
			t.Fatal("deadlock")
		}
	}
}

// BenchmarkCommitAsync: one CommitAsync of a partition's offset, from the
// call to its callback: queued, written (on an in-memory file system) by
// the commit goroutine, called back.
func BenchmarkCommitAsync(b *testing.B) {
	br := memBroker(b)
	defer br.Close()
	_, err := br.CreateTopic("t", commitlog.TopicConfig{Partitions: 1})
	require.NoError(b, err)
	c, err := New(br, Config{GroupID: "g", EnableAutoCommit: new(false)})
	require.NoError(b, err)
	defer c.Close(context.Background())
	tp := TopicPartition{Topic: "t"}
	require.NoError(b, c.Assign([]TopicPartition{tp}))
	done := make(chan error, 1)
	cb := func(_ map[TopicPartition]OffsetAndMetadata, err error) { done <- err }
	b.ReportAllocs()
	i := int64(0)
	for b.Loop() {
		i++
		c.CommitAsync(map[TopicPartition]OffsetAndMetadata{tp: {Offset: i}}, cb)
		if err := <-done; err != nil {
			b.Fatal(err)
		}
	}
}
