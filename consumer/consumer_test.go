package consumer

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/commitlog-go/commitlog"
	"github.com/commitlog-go/commitlog/assignor"
	"github.com/commitlog-go/commitlog/record"
	"github.com/stretchr/testify/require"
)

func openBroker(t testing.TB, dir string) *commitlog.Broker {
	t.Helper()
	b, err := commitlog.Open(dir, commitlog.WithMaintenanceInterval(time.Hour))
	require.NoError(t, err)
	return b
}

// produce appends n records with values "tag-i" round-robin over the
// topic's partitions, one record per batch.
func produce(t testing.TB, b *commitlog.Broker, topic, tag string, n int) {
	t.Helper()
	tp, err := b.Topic(topic)
	require.NoError(t, err)
	parts := tp.Partitions()
	bl := record.NewBuilder(0, record.BatchOptions{})
	for i := 0; i < n; i++ {
		bl.Reset(0, record.BatchOptions{})
		bl.Add(time.Now().UnixMilli(), []byte(fmt.Sprint(i)), []byte(fmt.Sprintf("%s-%d", tag, i)), nil)
		raw, err := bl.Build()
		require.NoError(t, err)
		_, err = parts[i%len(parts)].Append(raw, false)
		require.NoError(t, err)
	}
}

func fastConfig(group string) Config {
	return Config{GroupID: group, AutoOffsetReset: ResetEarliest, SessionTimeout: 400 * time.Millisecond,
		HeartbeatInterval: 40 * time.Millisecond, FetchMaxWait: 30 * time.Millisecond, MaxPollInterval: 5 * time.Second}
}

func TestAssignPollSeek(t *testing.T) {
	b := openBroker(t, t.TempDir())
	defer b.Close()
	_, err := b.CreateTopic("t", commitlog.TopicConfig{Partitions: 2})
	require.NoError(t, err)
	produce(t, b, "t", "v", 100)
	c, err := New(b, Config{AutoOffsetReset: ResetEarliest, MaxPollRecords: 30, FetchMaxWait: 20 * time.Millisecond})
	require.NoError(t, err)
	defer c.Close(context.Background())
	tp0 := TopicPartition{Topic: "t", Partition: 0}
	require.NoError(t, c.Assign([]TopicPartition{tp0}))
	var got []Record
	for len(got) < 50 {
		recs, err := c.Poll(context.Background())
		require.NoError(t, err)
		require.LessOrEqual(t, len(recs), 30, "max.poll.records")
		got = append(got, recs...)
	}
	require.Len(t, got, 50)
	for i, r := range got {
		require.Equal(t, int64(i), r.Offset)
		require.Equal(t, fmt.Sprintf("v-%d", 2*i), string(r.Value))
	}
	pos, err := c.Position(tp0)
	require.NoError(t, err)
	require.Equal(t, int64(50), pos)
	// At the end Poll waits fetch.max.wait.ms and returns nothing.
	start := time.Now()
	recs, err := c.Poll(context.Background())
	require.NoError(t, err)
	require.Empty(t, recs)
	require.GreaterOrEqual(t, time.Since(start), 15*time.Millisecond)

	require.NoError(t, c.Seek(tp0, 10))
	recs, err = c.Poll(context.Background())
	require.NoError(t, err)
	require.Equal(t, int64(10), recs[0].Offset)
	require.NoError(t, c.SeekToEnd())
	pos, _ = c.Position(tp0)
	require.Equal(t, int64(50), pos)
	require.NoError(t, c.SeekToBeginning(tp0))
	pos, _ = c.Position(tp0)
	require.Equal(t, int64(0), pos)

	// Long poll: a record appended while Poll waits wakes it.
	require.NoError(t, c.SeekToEnd())
	c.set.fetchMaxWait = 5 * time.Second
	go func() {
		time.Sleep(50 * time.Millisecond)
		produce(t, b, "t", "late", 1)
	}()
	start = time.Now()
	recs, err = c.Poll(context.Background())
	require.NoError(t, err)
	require.Len(t, recs, 1)
	require.Equal(t, "late-0", string(recs[0].Value))
	require.Less(t, time.Since(start), 2*time.Second)

	// Pause / Resume.
	produce(t, b, "t", "p", 2)
	require.NoError(t, c.Pause(tp0))
	require.Equal(t, []TopicPartition{tp0}, c.Paused())
	c.set.fetchMaxWait = 20 * time.Millisecond
	recs, err = c.Poll(context.Background())
	require.NoError(t, err)
	require.Empty(t, recs)
	require.NoError(t, c.Resume(tp0))
	recs, err = c.Poll(context.Background())
	require.NoError(t, err)
	require.Len(t, recs, 1)
}

func TestOffsetResetAndTimes(t *testing.T) {
	b := openBroker(t, t.TempDir())
	defer b.Close()
	_, err := b.CreateTopic("t", commitlog.TopicConfig{})
	require.NoError(t, err)
	produce(t, b, "t", "v", 10)
	tp := TopicPartition{Topic: "t", Partition: 0}

	latest, err := New(b, Config{FetchMaxWait: 10 * time.Millisecond})
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

func TestTwoGroupsEachSeeEverything(t *testing.T) {
	b := openBroker(t, t.TempDir())
	defer b.Close()
	_, err := b.CreateTopic("t", commitlog.TopicConfig{Partitions: 4})
	require.NoError(t, err)
	produce(t, b, "t", "v", 400)
	var wg sync.WaitGroup
	for _, g := range []string{"a", "b"} {
		for m := 0; m < 2; m++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				c, err := New(b, fastConfig(g))
				require.NoError(t, err)
				defer c.Close(context.Background())
				require.NoError(t, c.Subscribe([]string{"t"}, nil))
				deadline := time.Now().Add(10 * time.Second)
				for time.Now().Before(deadline) {
					_, err := c.Poll(context.Background())
					require.NoError(t, err)
					require.NoError(t, c.CommitSync(context.Background(), nil))
					committed, _ := c.Committed(context.Background(), nil)
					var sum int64
					for _, om := range committed {
						sum += om.Offset
					}
					if sum == 400 {
						return
					}
				}
				t.Errorf("group %s did not consume everything", g)
			}()
		}
	}
	wg.Wait()
}

func TestStaleGenerationCommitRejected(t *testing.T) {
	b := openBroker(t, t.TempDir())
	defer b.Close()
	_, err := b.CreateTopic("t", commitlog.TopicConfig{Partitions: 2})
	require.NoError(t, err)
	coord, err := CoordinatorFor(b)
	require.NoError(t, err)
	ctx := context.Background()
	req := JoinRequest{Topics: []string{"t"}, Assignors: []assignor.Assignor{assignor.Range()}, SessionTimeout: time.Minute, RebalanceTimeout: time.Second}
	r1, err := coord.JoinGroup(ctx, "g", req)
	require.NoError(t, err)
	tp := TopicPartition{Topic: "t", Partition: 0}
	require.NoError(t, coord.CommitOffsets("g", r1.MemberID, r1.Generation, map[TopicPartition]OffsetAndMetadata{tp: {Offset: 5}}))
	// A second member joins: the first must rejoin; its old generation is
	// stale once the rebalance completes.
	done := make(chan JoinResult)
	go func() {
		r, err := coord.JoinGroup(ctx, "g", req)
		require.NoError(t, err)
		done <- r
	}()
	<-r1.Rebalance
	require.ErrorIs(t, coord.Heartbeat("g", r1.MemberID, r1.Generation), ErrRebalanceInProgress)
	req1 := req
	req1.MemberID = r1.MemberID
	r1b, err := coord.JoinGroup(ctx, "g", req1)
	require.NoError(t, err)
	r2 := <-done
	require.Equal(t, r1b.Generation, r2.Generation)
	require.Greater(t, r1b.Generation, r1.Generation)
	err = coord.CommitOffsets("g", r1.MemberID, r1.Generation, map[TopicPartition]OffsetAndMetadata{tp: {Offset: 1}})
	require.ErrorIs(t, err, ErrIllegalGeneration)
	require.Equal(t, int64(5), coord.FetchOffsets("g", []TopicPartition{tp})[tp].Offset, "a stale member never rewinds offsets")
	err = coord.CommitOffsets("g", "nobody", r2.Generation, map[TopicPartition]OffsetAndMetadata{tp: {Offset: 1}})
	require.ErrorIs(t, err, ErrUnknownMemberID)
	require.Len(t, append(r1b.Assignment, r2.Assignment...), 2)
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
