package consumer

import (
	"context"
	"testing"

	"github.com/commitlog-go/commitlog"
	"github.com/stretchr/testify/require"
)

// TestConsumerMetrics: a group consumer counts the records Poll returned,
// its polls and rebalances, notes each assigned partition's lag, and is
// part of the broker's stats until Close.
func TestConsumerMetrics(t *testing.T) {
	b := openBroker(t, t.TempDir())
	defer b.Close()
	_, err := b.CreateTopic("t", commitlog.TopicConfig{Partitions: 2})
	require.NoError(t, err)
	produce(t, b, "t", "v", 10)
	cfg := fastConfig("g")
	cfg.MaxPollRecords = 3
	c, err := New(b, cfg)
	require.NoError(t, err)
	ctx := context.Background()
	require.NoError(t, c.Subscribe([]string{"t"}, nil))
	got := 0
	polls := 0
	for got < 3 {
		recs, err := c.Poll(ctx)
		require.NoError(t, err)
		got += len(recs)
		polls++
	}
	s := c.Stats()
	require.Regexp(t, `^consumer-g-[0-9]+$`, s.ClientID, "Kafka's default client.id")
	require.Equal(t, "g", s.Group)
	require.Equal(t, int64(got), s.RecordsFetched)
	require.Equal(t, uint64(polls), s.PollLatency.Count)
	require.Greater(t, s.PollLatency.Sum, 0.0)
	require.Equal(t, int64(1), s.Rebalances)
	require.Len(t, s.Lag, 2, "one per assigned partition")
	var lag int64
	for _, l := range s.Lag {
		require.Equal(t, "t", l.Topic)
		lag += l.Lag
	}
	require.Equal(t, int64(10-got), lag)

	bs := b.Stats()
	require.Len(t, bs.Consumers, 1)
	require.Equal(t, s.ClientID, bs.Consumers[0].ClientID)

	for got < 10 {
		recs, err := c.Poll(ctx)
		require.NoError(t, err)
		got += len(recs)
	}
	s2 := c.Stats()
	require.Equal(t, int64(10), s2.RecordsFetched, "counters grow")
	for _, l := range s2.Lag {
		require.Zero(t, l.Lag, "caught up")
	}
	require.NoError(t, c.Close(ctx))
	require.Empty(t, b.Stats().Consumers)
	require.NoError(t, c.Close(ctx))
}

// TestConsumerClientID: client.id names the consumer; without a group the
// default is consumer-N.
func TestConsumerClientID(t *testing.T) {
	b := openBroker(t, t.TempDir())
	defer b.Close()
	c, err := New(b, Config{ClientID: "reader"})
	require.NoError(t, err)
	require.Equal(t, "reader", c.Stats().ClientID)
	require.NoError(t, c.Close(context.Background()))
	c, err = New(b, Config{})
	require.NoError(t, err)
	require.Regexp(t, `^consumer-[0-9]+$`, c.Stats().ClientID)
	require.NoError(t, c.Close(context.Background()))
}
