package producer

import (
	"context"
	"testing"
	"time"

	"github.com/commitlog-go/commitlog"
	"github.com/stretchr/testify/require"
)

// TestProducerMetrics: the embedded producer counts records, batches and
// failed records once a batch, histograms its batches' sizes and queue
// times, and is part of the broker's stats until Close.
func TestProducerMetrics(t *testing.T) {
	b := newBroker(t, map[string]commitlog.TopicConfig{"t": {Partitions: 2}})
	ctx := context.Background()
	p, err := New(b, Config{ClientID: "writer", Linger: new(time.Hour)})
	require.NoError(t, err)
	for i := range 100 {
		p.Send(ctx, &Record{Topic: "t", Partition: int32(i % 2), ExplicitPartition: true, Value: []byte("v")})
	}
	require.NoError(t, p.Flush(ctx))
	s := p.Stats()
	require.Equal(t, "writer", s.ClientID)
	require.Equal(t, int64(100), s.RecordsSent)
	require.Equal(t, int64(2), s.BatchesSent, "one batch per partition: linger.ms holds them until Flush")
	require.Zero(t, s.RecordErrors)
	require.Equal(t, uint64(2), s.BatchSize.Count)
	require.Greater(t, s.BatchSize.Sum, 100.0)
	require.Equal(t, uint64(2), s.QueueTime.Count)
	require.Greater(t, s.QueueTime.Sum, 0.0)

	// A record whose context ends before its batch goes fails: an error.
	cctx, cancel := context.WithCancel(ctx)
	f := p.Send(cctx, &Record{Topic: "t", Partition: 0, ExplicitPartition: true, Value: []byte("v")})
	cancel()
	require.NoError(t, p.Flush(ctx))
	_, err = f.Result()
	require.ErrorIs(t, err, context.Canceled)
	s2 := p.Stats()
	require.Equal(t, int64(1), s2.RecordErrors)
	require.Equal(t, s.RecordsSent, s2.RecordsSent, "counters never go down")

	// The broker exports it under its client.id until Close.
	bs := b.Stats()
	require.Len(t, bs.Producers, 1)
	require.Equal(t, "writer", bs.Producers[0].ClientID)
	require.Equal(t, int64(100), bs.Producers[0].RecordsSent)
	require.NoError(t, p.Close(ctx))
	require.Empty(t, b.Stats().Producers)
	require.NoError(t, p.Close(ctx), "Close is idempotent")
}

// TestProducerDefaultClientID: Kafka's producer-N.
func TestProducerDefaultClientID(t *testing.T) {
	b := newBroker(t, nil)
	p1, err := New(b, Config{})
	require.NoError(t, err)
	p2, err := New(b, Config{})
	require.NoError(t, err)
	defer p1.Close(context.Background())
	defer p2.Close(context.Background())
	require.Regexp(t, `^producer-[0-9]+$`, p1.Stats().ClientID)
	require.NotEqual(t, p1.Stats().ClientID, p2.Stats().ClientID)
	require.Len(t, b.Stats().Producers, 2)
}

// TestDriverProducerMetrics: on a driver, the producer counts the records
// the driver completes; it sees no batches.
func TestDriverProducerMetrics(t *testing.T) {
	d := newMemDriver()
	p, err := New(memOpener{d: d}, Config{ClientID: "k"})
	require.NoError(t, err)
	ctx := context.Background()
	for range 10 {
		_, err := p.SendSync(ctx, &Record{Topic: "t", Value: []byte("v")})
		require.NoError(t, err)
	}
	s := p.Stats()
	require.Equal(t, "k", s.ClientID)
	require.Equal(t, int64(10), s.RecordsSent)
	require.Zero(t, s.BatchesSent)
	require.NoError(t, p.Close(ctx))
}
