package consumer

import (
	"context"
	"testing"

	"github.com/commitlog-go/commitlog"
	"github.com/stretchr/testify/require"
)

// TestCallsFromListenersAndCallbacks: a rebalance listener and a
// CommitAsync callback may call Poll, CommitSync and Close with any ctx:
// none of them deadlocks or hangs. Poll from a listener, inside the Poll
// that runs it, deadlocked on the lock that Poll held; now it fails.
func TestCallsFromListenersAndCallbacks(t *testing.T) {
	b := openBroker(t, t.TempDir())
	defer b.Close()
	_, err := b.CreateTopic("t", commitlog.TopicConfig{Partitions: 1})
	require.NoError(t, err)
	produce(t, b, "t", "v", 10)
	tp := TopicPartition{Topic: "t"}
	ctxs := map[string]func(ctx context.Context) context.Context{
		"listener's ctx":     func(ctx context.Context) context.Context { return ctx },
		"context.Background": func(context.Context) context.Context { return context.Background() },
	}
	for name, ctxOf := range ctxs {
		t.Run("Poll from a listener/"+name, func(t *testing.T) {
			c, err := New(b, fastConfig("poll/"+name))
			require.NoError(t, err)
			defer c.Close(context.Background())
			var pollErr error
			require.NoError(t, c.Subscribe([]string{"t"}, ListenerFuncs{
				Assigned: func(ctx context.Context, c *Consumer, _ []TopicPartition) {
					_, pollErr = c.Poll(ctxOf(ctx))
				},
			}))
			within(t, "Poll", func() {
				_, err := c.Poll(context.Background())
				require.NoError(t, err)
			})
			require.ErrorIs(t, pollErr, ErrPollInListener)
		})
		t.Run("CommitSync from a listener/"+name, func(t *testing.T) {
			group := "sync/" + name
			c, err := New(b, fastConfig(group))
			require.NoError(t, err)
			var commitErr error
			require.NoError(t, c.Subscribe([]string{"t"}, ListenerFuncs{
				Assigned: func(ctx context.Context, c *Consumer, _ []TopicPartition) {
					commitErr = c.CommitSync(ctxOf(ctx), map[TopicPartition]OffsetAndMetadata{tp: {Offset: 4}})
				},
				Revoked: func(ctx context.Context, c *Consumer, _ []TopicPartition) {
					commitErr = c.CommitSync(ctxOf(ctx), map[TopicPartition]OffsetAndMetadata{tp: {Offset: 6}})
				},
			}))
			within(t, "Poll", func() {
				_, err := c.Poll(context.Background())
				require.NoError(t, err)
			})
			require.NoError(t, commitErr)
			got, err := c.Committed(context.Background(), nil)
			require.NoError(t, err)
			require.Equal(t, int64(4), got[tp].Offset)
			within(t, "Close", func() { require.NoError(t, c.Close(context.Background())) })
			require.NoError(t, commitErr, "CommitSync in the OnPartitionsRevoked of Close")
			got, err = c.Committed(context.Background(), nil)
			require.NoError(t, err)
			require.Equal(t, int64(6), got[tp].Offset)
		})
	}

	t.Run("Poll and CommitSync from a commit callback", func(t *testing.T) {
		c, err := New(b, Config{GroupID: "callback", AutoOffsetReset: ResetEarliest, EnableAutoCommit: new(false)})
		require.NoError(t, err)
		defer c.Close(context.Background())
		require.NoError(t, c.Assign([]TopicPartition{tp}))
		type result struct {
			recs    int
			pollErr error
			syncErr error
		}
		done := make(chan result, 1)
		c.CommitAsync(map[TopicPartition]OffsetAndMetadata{tp: {Offset: 1}}, func(map[TopicPartition]OffsetAndMetadata, error) {
			recs, pollErr := c.Poll(context.Background())
			syncErr := c.CommitSync(context.Background(), map[TopicPartition]OffsetAndMetadata{tp: {Offset: 2}})
			done <- result{len(recs), pollErr, syncErr}
		})
		var got result
		within(t, "the callback", func() { got = <-done })
		require.NoError(t, got.pollErr)
		require.Equal(t, 9, got.recs, "from the offset the callback's commit wrote")
		require.NoError(t, got.syncErr)
		committed, err := c.Committed(context.Background(), nil)
		require.NoError(t, err)
		require.Equal(t, int64(2), committed[tp].Offset)
	})
}
