package consumer

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/commitlog-go/commitlog"
	"github.com/commitlog-go/commitlog/record"
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
	c, err := New(b, Config{GroupID: "g", DisableAutoCommit: true})
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
			AutoCommitInterval: time.Nanosecond, FetchMaxWait: 10 * time.Millisecond})
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

// TestLongJoinDoesNotExpireNewMember: a new member waits in JoinGroup
// longer than session.timeout.ms for a busy member to rejoin (it cannot
// heartbeat yet: it has no member id). When the rebalance completes, its
// session starts afresh, as Kafka's coordinator reschedules every member's
// heartbeat expiry on completing a join; it was expired at once instead,
// and the group rebalanced again.
func TestLongJoinDoesNotExpireNewMember(t *testing.T) {
	b := openBroker(t, t.TempDir())
	defer b.Close()
	_, err := b.CreateTopic("t", commitlog.TopicConfig{Partitions: 2})
	require.NoError(t, err)
	cfg := fastConfig("g")
	busy, err := New(b, cfg)
	require.NoError(t, err)
	defer busy.Close(context.Background())
	require.NoError(t, busy.Subscribe([]string{"t"}, nil))
	_, err = busy.Poll(context.Background())
	require.NoError(t, err)

	joiner, err := New(b, cfg)
	require.NoError(t, err)
	defer joiner.Close(context.Background())
	require.NoError(t, joiner.Subscribe([]string{"t"}, nil))
	polled := make(chan error, 1)
	go func() {
		_, err := joiner.Poll(context.Background())
		polled <- err
	}()
	time.Sleep(2 * cfg.SessionTimeout) // busy processes; joiner waits
	_, err = busy.Poll(context.Background())
	require.NoError(t, err)
	require.NoError(t, <-polled)
	id, gen := joiner.MemberID()
	require.NotEmpty(t, id)
	require.Len(t, joiner.Assignment(), 1)
	time.Sleep(cfg.SessionTimeout / 2) // the coordinator checks every 20 ms
	require.NoError(t, joiner.coord.Heartbeat("g", id, gen), "the new member was expired right after joining")
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
	c.commitsMu.Lock()
	c.commits <- asyncCommit{offsets: map[TopicPartition]OffsetAndMetadata{{Topic: "t"}: {Offset: 0}},
		memberID: id, generation: oldGen, seq: c.commitSeq.Add(1),
		cb: func(_ map[TopicPartition]OffsetAndMetadata, err error) { done <- err }}
	c.commitsMu.Unlock()
	require.ErrorIs(t, <-done, ErrIllegalGeneration)
	_, err = c.Poll(context.Background())
	require.NoError(t, err)
	_, now := c.MemberID()
	require.Equal(t, gen, now, "a stale commit result made the member rejoin")
}

// TestOversizedCommitRefused: Kafka strings in the offsets topic carry an
// int16 length. Metadata over offset.metadata.max.bytes (4096 in Kafka) or
// a group id too long for its key was written with a truncated length: the
// record did not decode, and after a restart the coordinator refused to
// load __consumer_offsets at all. Such commits are refused instead.
func TestOversizedCommitRefused(t *testing.T) {
	dir := t.TempDir()
	b := openBroker(t, dir)
	_, err := b.CreateTopic("t", commitlog.TopicConfig{Partitions: 1})
	require.NoError(t, err)
	tp := TopicPartition{Topic: "t"}
	coord, err := CoordinatorFor(b)
	require.NoError(t, err)
	big := string(make([]byte, 70000))
	require.NoError(t, coord.CommitOffsets("g", "", -1, map[TopicPartition]OffsetAndMetadata{tp: {Offset: 3, Metadata: "ok"}}))
	require.ErrorIs(t, coord.CommitOffsets("g", "", -1, map[TopicPartition]OffsetAndMetadata{tp: {Offset: 5, Metadata: big}}), commitlog.ErrRecordTooLarge)
	require.ErrorIs(t, coord.CommitOffsets(big, "", -1, map[TopicPartition]OffsetAndMetadata{tp: {Offset: 5}}), commitlog.ErrInvalidConfig)
	require.NoError(t, b.Close())

	b = openBroker(t, dir)
	defer b.Close()
	coord, err = CoordinatorFor(b)
	require.NoError(t, err, "the offsets topic loads after a restart")
	require.Equal(t, OffsetAndMetadata{Offset: 3, Metadata: "ok"}, coord.FetchOffsets("g", []TopicPartition{tp})[tp])
}

// TestCloseFromCallbacks: the rebalance listener "may call the consumer's
// methods", and Close is one: called from a listener it ran into the
// pollMu its own Poll holds, and from a CommitAsync callback it waited for
// the commit goroutine running it. Both deadlocked forever.
func TestCloseFromCallbacks(t *testing.T) {
	b := openBroker(t, t.TempDir())
	defer b.Close()
	_, err := b.CreateTopic("t", commitlog.TopicConfig{Partitions: 2})
	require.NoError(t, err)
	produce(t, b, "t", "v", 10)
	coord, err := CoordinatorFor(b)
	require.NoError(t, err)
	within := func(t *testing.T, f func()) {
		t.Helper()
		done := make(chan struct{})
		go func() { defer close(done); f() }()
		select {
		case <-done:
		case <-time.After(2 * time.Second):
			t.Fatal("deadlock")
		}
	}

	t.Run("listener", func(t *testing.T) {
		c, err := New(b, fastConfig("listener"))
		require.NoError(t, err)
		var revoked []TopicPartition
		var closeErr error
		require.NoError(t, c.Subscribe([]string{"t"}, ListenerFuncs{
			Assigned: func(ctx context.Context, c *Consumer, tps []TopicPartition) {
				closeErr = c.Close(ctx)
			},
			Revoked: func(ctx context.Context, c *Consumer, tps []TopicPartition) {
				revoked = tps
				require.NoError(t, c.Close(ctx), "Close within Close")
			},
		}))
		within(t, func() {
			_, err := c.Poll(context.Background())
			require.ErrorIs(t, err, commitlog.ErrClosed)
		})
		require.NoError(t, closeErr)
		require.Len(t, revoked, 2)
		within(t, func() { require.NoError(t, c.Close(context.Background())) })
		// The member left: a standalone commit is accepted only by a group
		// without members.
		require.NoError(t, coord.CommitOffsets("listener", "", -1, nil))
	})

	t.Run("listener and another goroutine", func(t *testing.T) {
		c, err := New(b, fastConfig("both"))
		require.NoError(t, err)
		entered, proceed := make(chan struct{}), make(chan struct{})
		require.NoError(t, c.Subscribe([]string{"t"}, ListenerFuncs{
			Assigned: func(ctx context.Context, c *Consumer, tps []TopicPartition) {
				close(entered)
				<-proceed
				require.NoError(t, c.Close(ctx)) // while the other Close waits for this Poll
			},
		}))
		polled := make(chan error, 1)
		go func() {
			_, err := c.Poll(context.Background())
			polled <- err
		}()
		<-entered
		closed := make(chan error, 1)
		go func() { closed <- c.Close(context.Background()) }()
		time.Sleep(20 * time.Millisecond)
		close(proceed)
		within(t, func() {
			require.ErrorIs(t, <-polled, commitlog.ErrClosed)
			require.NoError(t, <-closed)
		})
		require.NoError(t, coord.CommitOffsets("both", "", -1, nil), "the member left")
	})

	t.Run("commit callback", func(t *testing.T) {
		c, err := New(b, Config{GroupID: "async", AutoOffsetReset: ResetEarliest})
		require.NoError(t, err)
		require.NoError(t, c.Assign([]TopicPartition{{Topic: "t"}}))
		done := make(chan error, 1)
		c.CommitAsync(nil, func(map[TopicPartition]OffsetAndMetadata, error) {
			done <- c.Close(context.Background())
		})
		within(t, func() { require.NoError(t, <-done) })
		within(t, func() { require.NoError(t, c.Close(context.Background())) })
	})
}

// TestPollReturnsFetchedRecordsAtOnce: records an earlier fetch buffered
// (beyond max.poll.records) are returned by the next Poll at once, as
// Kafka's consumer returns records it already holds; that Poll waited the
// whole fetch.max.wait.ms when no new data came.
func TestPollReturnsFetchedRecordsAtOnce(t *testing.T) {
	b := openBroker(t, t.TempDir())
	defer b.Close()
	_, err := b.CreateTopic("t", commitlog.TopicConfig{Partitions: 1})
	require.NoError(t, err)
	produce(t, b, "t", "v", 700)
	c, err := New(b, Config{AutoOffsetReset: ResetEarliest, FetchMaxWait: 5 * time.Second})
	require.NoError(t, err)
	defer c.Close(context.Background())
	require.NoError(t, c.Assign([]TopicPartition{{Topic: "t"}}))
	start := time.Now()
	recs, err := c.Poll(context.Background())
	require.NoError(t, err)
	require.Len(t, recs, 500)
	recs, err = c.Poll(context.Background())
	require.NoError(t, err)
	require.Len(t, recs, 200)
	require.Less(t, time.Since(start), 2*time.Second, "the second Poll waited for fetch.max.wait.ms")
}

// TestFetchMinBytesCountsTheWholePoll: fetch.min.bytes is met by what
// a Poll has fetched in all, not by one fetch round alone: data arriving
// in small appends made Poll wait the whole fetch.max.wait.ms.
func TestFetchMinBytesCountsTheWholePoll(t *testing.T) {
	b := openBroker(t, t.TempDir())
	defer b.Close()
	_, err := b.CreateTopic("t", commitlog.TopicConfig{Partitions: 1})
	require.NoError(t, err)
	c, err := New(b, Config{AutoOffsetReset: ResetEarliest, FetchMaxWait: 5 * time.Second, FetchMinBytes: 2000})
	require.NoError(t, err)
	defer c.Close(context.Background())
	require.NoError(t, c.Assign([]TopicPartition{{Topic: "t"}}))
	stop := make(chan struct{})
	defer close(stop)
	go func() { // about 70 bytes every 2 ms
		for {
			select {
			case <-stop:
				return
			case <-time.After(2 * time.Millisecond):
				produce(t, b, "t", "w", 1)
			}
		}
	}()
	start := time.Now()
	recs, err := c.Poll(context.Background())
	require.NoError(t, err)
	require.NotEmpty(t, recs)
	// 2000 bytes arrive in about 60 ms; max.poll.records (500) in 1.2 s.
	require.Less(t, time.Since(start), 500*time.Millisecond, "Poll waited with fetch.min.bytes met long before")
}

// TestJoinWaitIsNotAPollTimeout: time spent inside Poll waiting in
// JoinGroup is polling, not a max.poll.interval.ms overrun. The group's
// rebalance timeout is the largest max.poll.interval.ms of its members, so
// a member with a smaller one that waited in Poll for a busy member was
// expelled by its own heartbeat goroutine, and rejoined as a new member
// only to be expelled again while the busy member stayed busy.
func TestJoinWaitIsNotAPollTimeout(t *testing.T) {
	b := openBroker(t, t.TempDir())
	defer b.Close()
	_, err := b.CreateTopic("t", commitlog.TopicConfig{Partitions: 4})
	require.NoError(t, err)
	quickCfg := fastConfig("g")
	quickCfg.MaxPollInterval = 300 * time.Millisecond
	var lost []TopicPartition
	quick, err := New(b, quickCfg)
	require.NoError(t, err)
	defer quick.Close(context.Background())
	require.NoError(t, quick.Subscribe([]string{"t"}, ListenerFuncs{
		Lost: func(_ context.Context, _ *Consumer, tps []TopicPartition) { lost = append(lost, tps...) },
	}))
	busy, err := New(b, fastConfig("g")) // max.poll.interval.ms 5 s
	require.NoError(t, err)
	defer busy.Close(context.Background())
	require.NoError(t, busy.Subscribe([]string{"t"}, nil))
	// Both join and settle.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	pollInBackground(t, quick, stop, &wg)
	pollInBackground(t, busy, stop, &wg)
	require.Eventually(t, func() bool {
		for _, g := range b.Stats().Groups {
			if g.Group == "g" && g.State == "Stable" && g.Members == 2 {
				return true
			}
		}
		return false
	}, 5*time.Second, 5*time.Millisecond)
	close(stop)
	wg.Wait()
	quickID, _ := quick.MemberID()

	// A third member joins; quick rejoins at once and waits for busy,
	// which processes for a second.
	third, err := New(b, fastConfig("g"))
	require.NoError(t, err)
	defer third.Close(context.Background())
	require.NoError(t, third.Subscribe([]string{"t"}, nil))
	polls := make(chan error, 2)
	go func() { _, err := third.Poll(context.Background()); polls <- err }()
	time.Sleep(50 * time.Millisecond)
	go func() { _, err := quick.Poll(context.Background()); polls <- err }()
	time.Sleep(time.Second)
	_, err = busy.Poll(context.Background())
	require.NoError(t, err)
	require.NoError(t, <-polls)
	require.NoError(t, <-polls)
	id, _ := quick.MemberID()
	require.Equal(t, quickID, id, "quick was expelled while it waited in Poll")
	require.Empty(t, lost)
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

// TestDeletedTopicDoesNotStopOtherPartitions: a deleted topic's partition
// is skipped (with a warning) as Kafka's consumer does, so the other
// assigned partitions keep being consumed. Its read error failed every
// Poll instead, and the other partitions' records were never delivered.
func TestDeletedTopicDoesNotStopOtherPartitions(t *testing.T) {
	b := openBroker(t, t.TempDir())
	defer b.Close()
	for _, n := range []string{"t", "u"} {
		_, err := b.CreateTopic(n, commitlog.TopicConfig{Partitions: 1})
		require.NoError(t, err)
	}
	produce(t, b, "u", "u", 5)
	c, err := New(b, Config{AutoOffsetReset: ResetEarliest, FetchMaxWait: 20 * time.Millisecond})
	require.NoError(t, err)
	defer c.Close(context.Background())
	require.NoError(t, c.Assign([]TopicPartition{{Topic: "t"}, {Topic: "u"}}))
	require.NoError(t, b.DeleteTopic("u"))
	produce(t, b, "t", "t", 5)
	var got []Record
	for i := 0; i < 3 && len(got) < 5; i++ {
		recs, err := c.Poll(context.Background())
		require.NoError(t, err)
		got = append(got, recs...)
	}
	require.Len(t, got, 5)
	require.Equal(t, "t", got[0].Topic)
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

// TestCompressedBatchesKeepTheirValues: records from several compressed
// batches returned by one fetch keep their own keys, values and header
// values. They pointed into the iterator's decompression buffer, which the
// next compressed batch of the same fetch overwrote: the consumer handed
// out records holding another record's bytes.
func TestCompressedBatchesKeepTheirValues(t *testing.T) {
	b := openBroker(t, t.TempDir())
	defer b.Close()
	top, err := b.CreateTopic("t", commitlog.TopicConfig{Partitions: 1})
	require.NoError(t, err)
	for _, comp := range []record.Compression{record.LZ4, record.GZIP} {
		for batch := 0; batch < 4; batch++ {
			bl := record.NewBuilder(0, record.BatchOptions{Compression: comp})
			for i := 0; i < 10; i++ {
				id := fmt.Sprintf("%v-%d-%d", comp, batch, i)
				bl.Add(time.Now().UnixMilli(), []byte("k"+id), []byte("v"+id), []record.Header{{Key: "h", Value: []byte("h" + id)}})
			}
			raw, err := bl.Build()
			require.NoError(t, err)
			_, err = top.Partitions()[0].Append(raw, false)
			require.NoError(t, err)
		}
	}
	c, err := New(b, Config{AutoOffsetReset: ResetEarliest, FetchMaxWait: 20 * time.Millisecond})
	require.NoError(t, err)
	defer c.Close(context.Background())
	require.NoError(t, c.Assign([]TopicPartition{{Topic: "t"}}))
	recs, err := c.Poll(context.Background())
	require.NoError(t, err)
	require.Len(t, recs, 80, "one fetch")
	for _, r := range recs {
		id := string(r.Value[1:])
		require.Equal(t, "k"+id, string(r.Key), "offset %d", r.Offset)
		require.Len(t, r.Headers, 1)
		require.Equal(t, "h"+id, string(r.Headers[0].Value), "offset %d", r.Offset)
	}
	require.Equal(t, "v"+fmt.Sprintf("%v-0-0", record.LZ4), string(recs[0].Value))
	require.Equal(t, "v"+fmt.Sprintf("%v-3-9", record.GZIP), string(recs[79].Value))
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
