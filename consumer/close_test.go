package consumer

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/commitlog-go/commitlog"
	"github.com/stretchr/testify/require"
)

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

// TestCloseFromCommitCallbackWritesQueuedCommits: Close called from a
// CommitAsync callback returned at once, before the commits queued behind
// that callback were written (the commit goroutine that would write them
// was running the callback): a process exiting after Close lost them.
// Close must return only once every commit made before it is written and
// its callback run.
func TestCloseFromCommitCallbackWritesQueuedCommits(t *testing.T) {
	b, c, tp := committingConsumer(t)
	coord, err := CoordinatorFor(b)
	require.NoError(t, err)

	queued := make(chan struct{})
	var called []int64 // callbacks of the commits behind the first, in order
	type seen struct {
		closeErr  error
		committed int64
		called    []int64
	}
	inside := make(chan seen, 1)
	c.CommitAsync(map[TopicPartition]OffsetAndMetadata{tp: {Offset: 1}}, func(_ map[TopicPartition]OffsetAndMetadata, err error) {
		require.NoError(t, err)
		<-queued
		err = c.Close(context.Background())
		inside <- seen{err, coord.FetchOffsets("g", []TopicPartition{tp})[tp].Offset, called}
	})
	for i := int64(2); i <= 10; i++ {
		c.CommitAsync(map[TopicPartition]OffsetAndMetadata{tp: {Offset: i}}, func(_ map[TopicPartition]OffsetAndMetadata, err error) {
			require.NoError(t, err)
			called = append(called, i)
		})
	}
	close(queued)
	var got seen
	within(t, "Close from the callback", func() { got = <-inside })
	require.NoError(t, got.closeErr)
	require.Equal(t, int64(10), got.committed, "Close returned before the commits queued behind the callback were written")
	require.Equal(t, []int64{2, 3, 4, 5, 6, 7, 8, 9, 10}, got.called, "their callbacks ran, in order, before Close returned")
	within(t, "Close again", func() { require.NoError(t, c.Close(context.Background())) })
}

// TestCloseWhileCommitCallbackRunsKeepsOrder: Close called from another
// goroutine while a CommitAsync callback runs wrote the commits queued
// behind it and ran their callbacks at once, alongside the running one:
// callbacks ran out of the order of the commits (the shared client suite
// saw 1 before 0). They must run in order, and Close return after them.
func TestCloseWhileCommitCallbackRunsKeepsOrder(t *testing.T) {
	_, c, tp := committingConsumer(t)

	var mu sync.Mutex
	var order []int64
	entered, release := make(chan struct{}), make(chan struct{})
	c.CommitAsync(map[TopicPartition]OffsetAndMetadata{tp: {Offset: 1}}, func(_ map[TopicPartition]OffsetAndMetadata, err error) {
		require.NoError(t, err)
		close(entered)
		<-release
		mu.Lock()
		order = append(order, 1)
		mu.Unlock()
	})
	<-entered // the commit goroutine runs the first callback
	for i := int64(2); i <= 5; i++ {
		c.CommitAsync(map[TopicPartition]OffsetAndMetadata{tp: {Offset: i}}, func(_ map[TopicPartition]OffsetAndMetadata, err error) {
			require.NoError(t, err)
			mu.Lock()
			order = append(order, i)
			mu.Unlock()
		})
	}
	closed := make(chan error, 1)
	go func() { closed <- c.Close(context.Background()) }()
	time.Sleep(50 * time.Millisecond) // Close writes the queued commits meanwhile
	mu.Lock()
	require.Empty(t, order, "a callback ran while the first was still running")
	mu.Unlock()
	close(release)
	within(t, "Close", func() { require.NoError(t, <-closed) })
	mu.Lock()
	defer mu.Unlock()
	require.Equal(t, []int64{1, 2, 3, 4, 5}, order, "callbacks run in the order of the commits, before Close returns")
}

// TestCloseWithEndedContext: a Close whose ctx has ended returns its
// error instead of waiting for queued commits, and drops none of them: the
// commit goroutine writes them and runs their callbacks.
func TestCloseWithEndedContext(t *testing.T) {
	_, c, tp := committingConsumer(t)
	busy, release := make(chan struct{}), make(chan struct{})
	results := make(chan error, 5)
	c.CommitAsync(map[TopicPartition]OffsetAndMetadata{tp: {Offset: 1}}, func(_ map[TopicPartition]OffsetAndMetadata, err error) {
		close(busy)
		<-release // the commit goroutine is busy: the rest stays queued
		results <- err
	})
	<-busy
	for i := int64(2); i <= 5; i++ {
		c.CommitAsync(map[TopicPartition]OffsetAndMetadata{tp: {Offset: i}}, func(_ map[TopicPartition]OffsetAndMetadata, err error) { results <- err })
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	require.ErrorIs(t, c.Close(ctx), context.Canceled)
	close(release)
	for i := 0; i < 5; i++ {
		within(t, "the queued commits", func() { require.NoError(t, <-results) })
	}
	got, err := c.Committed(context.Background(), []TopicPartition{tp})
	require.NoError(t, err)
	require.Equal(t, int64(5), got[tp].Offset)
	within(t, "Close again", func() { require.NoError(t, c.Close(context.Background())) })
}

// TestCloseFromListenerWithAnyContext: Close called from a rebalance
// listener neither deadlocks nor hangs, whatever ctx it is given, and
// loses no commit. With the listener's ctx it closes there and then; with
// another (context.Background()) it cannot tell that it runs inside the
// listener, so it writes the commits made before it and the Poll running
// the listener finishes the close before it returns ErrClosed. An earlier
// design hung on the second kind.
func TestCloseFromListenerWithAnyContext(t *testing.T) {
	b := openBroker(t, t.TempDir())
	defer b.Close()
	_, err := b.CreateTopic("t", commitlog.TopicConfig{Partitions: 2})
	require.NoError(t, err)
	produce(t, b, "t", "v", 10)
	coord, err := CoordinatorFor(b)
	require.NoError(t, err)
	tp := TopicPartition{Topic: "t"}
	for _, tc := range []struct {
		name       string
		ctx        func(listenerCtx context.Context) context.Context
		leftInside bool // the member has left when Close returns
	}{
		{"listener's ctx", func(ctx context.Context) context.Context { return ctx }, true},
		{"context.Background", func(context.Context) context.Context { return context.Background() }, false},
		{"a ctx derived from the listener's", func(ctx context.Context) context.Context {
			ctx, cancel := context.WithCancel(ctx)
			_ = cancel
			return ctx
		}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			group := "close/" + tc.name
			c, err := New(b, fastConfig(group))
			require.NoError(t, err)
			var closeErr error
			var leftInside bool
			var committedInside int64
			require.NoError(t, c.Subscribe([]string{"t"}, ListenerFuncs{
				Assigned: func(ctx context.Context, c *Consumer, tps []TopicPartition) {
					done := make(chan error, 1)
					c.CommitAsync(map[TopicPartition]OffsetAndMetadata{tp: {Offset: 7}}, func(_ map[TopicPartition]OffsetAndMetadata, err error) { done <- err })
					closeErr = c.Close(tc.ctx(ctx))
					committedInside = coord.FetchOffsets(group, []TopicPartition{tp})[tp].Offset
					leftInside = coord.CommitOffsets(group, "", -1, nil) == nil
					require.NoError(t, <-done)
				},
			}))
			within(t, "Poll", func() {
				_, err := c.Poll(context.Background())
				require.ErrorIs(t, err, commitlog.ErrClosed)
			})
			require.NoError(t, closeErr)
			require.Equal(t, int64(7), committedInside, "the commit made before Close was written when it returned")
			require.Equal(t, tc.leftInside, leftInside)
			require.NoError(t, coord.CommitOffsets(group, "", -1, nil), "the member left once Poll returned")
			within(t, "Close again", func() { require.NoError(t, c.Close(context.Background())) })
		})
	}
}

// committingConsumer is a consumer of group "g", without auto-commit,
// assigned partition 0 of topic "t" on a broker of its own (closed at the
// end of the test).
func committingConsumer(t *testing.T) (*commitlog.Broker, *Consumer, TopicPartition) {
	t.Helper()
	b := openBroker(t, t.TempDir())
	t.Cleanup(func() { b.Close() })
	_, err := b.CreateTopic("t", commitlog.TopicConfig{Partitions: 1})
	require.NoError(t, err)
	c, err := New(b, Config{GroupID: "g", EnableAutoCommit: new(false)})
	require.NoError(t, err)
	tp := TopicPartition{Topic: "t"}
	require.NoError(t, c.Assign([]TopicPartition{tp}))
	return b, c, tp
}
