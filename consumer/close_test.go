package consumer

import (
	"context"
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
