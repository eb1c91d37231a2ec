package kafka

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/commitlog-go/commitlog"
	"github.com/commitlog-go/commitlog/admin"
	"github.com/commitlog-go/commitlog/producer"
)

func TestProducerConfigRefused(t *testing.T) {
	c := connectFake(t)
	for _, tc := range []struct {
		name string
		cfg  producer.Config
		want error
	}{
		{"fsync with acks=1", producer.Config{Fsync: true, Acks: new(producer.AcksLeader)}, commitlog.ErrInvalidConfig},
		{"fsync with acks=0", producer.Config{Fsync: true, Acks: new(producer.AcksNone)}, commitlog.ErrInvalidConfig},
		{"linger over kgo's minute", producer.Config{Linger: new(2 * time.Minute)}, commitlog.ErrInvalidConfig},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := producer.New(c, tc.cfg)
			require.ErrorIs(t, err, tc.want)
		})
	}
	p, err := producer.New(c, producer.Config{Fsync: true})
	require.NoError(t, err, "Fsync with acks=all is Kafka's durability")
	require.NoError(t, p.Close(context.Background()))
}

// pinned puts every record on one partition and counts its calls.
type pinned struct {
	to              int32
	calls, newBatch atomic.Int32
}

func (p *pinned) Partition(string, []byte, int32) int32 { p.calls.Add(1); return p.to }
func (p *pinned) OnNewBatch(string, int32, int32)       { p.newBatch.Add(1) }

// TestProducerCustomPartitioner: a producer.Partitioner of the program's
// own is adapted to kgo; explicit partitions still win.
func TestProducerCustomPartitioner(t *testing.T) {
	c := connectFake(t)
	ctx := context.Background()
	a, err := admin.New(c)
	require.NoError(t, err)
	require.NoError(t, a.CreateTopic(ctx, "t", commitlog.TopicConfig{Partitions: 4}))
	part := &pinned{to: 2}
	p, err := producer.New(c, producer.Config{Partitioner: part, Compression: 0})
	require.NoError(t, err)
	defer p.Close(ctx)
	for i := range 10 {
		md, err := p.SendSync(ctx, &producer.Record{Topic: "t", Key: fmt.Appendf(nil, "%d", i), Value: []byte("v")})
		require.NoError(t, err)
		require.Equal(t, int32(2), md.Partition)
	}
	md, err := p.SendSync(ctx, &producer.Record{Topic: "t", Partition: 3, ExplicitPartition: true, Value: []byte("v")})
	require.NoError(t, err)
	require.Equal(t, int32(3), md.Partition)
	require.GreaterOrEqual(t, part.calls.Load(), int32(10))
	require.Positive(t, part.newBatch.Load(), "kgo's new batches reach OnNewBatch")
}

// TestProducerCompression: every compression.type commitlog encodes is
// produced and acknowledged.
func TestProducerCompression(t *testing.T) {
	c := connectFake(t)
	ctx := context.Background()
	a, err := admin.New(c)
	require.NoError(t, err)
	require.NoError(t, a.CreateTopic(ctx, "z", commitlog.TopicConfig{}))
	for _, name := range []string{"none", "gzip", "snappy", "lz4", "zstd"} {
		cfg, err := producer.ParseConfig(map[string]string{"compression.type": name, "acks": "1", "linger.ms": "0"})
		require.NoError(t, err)
		p, err := producer.New(c, cfg)
		require.NoError(t, err)
		_, err = p.SendSync(ctx, &producer.Record{Topic: "z", Value: make([]byte, 4096)})
		require.NoError(t, err, name)
		require.NoError(t, p.Close(ctx))
	}
}

func TestMapErr(t *testing.T) {
	require.NoError(t, mapErr("op", nil))
	for _, tc := range []struct{ from, to error }{
		{kerr.UnknownTopicOrPartition, commitlog.ErrUnknownTopic},
		{kerr.TopicAlreadyExists, commitlog.ErrTopicExists},
		{fmt.Errorf("wrapped: %w", kerr.MessageTooLarge), commitlog.ErrRecordTooLarge},
		{kerr.InvalidRecord, commitlog.ErrInvalidRecord},
		{kerr.InvalidConfig, commitlog.ErrInvalidConfig},
		{kgo.ErrClientClosed, commitlog.ErrClosed},
	} {
		err := mapErr("op", tc.from)
		require.ErrorIs(t, err, tc.to, "%v", tc.from)
		require.ErrorIs(t, err, tc.from, "the franz-go error stays visible")
	}
	other := errors.New("other")
	require.ErrorIs(t, mapErr("op", other), other)
	already := fmt.Errorf("%w: %w", commitlog.ErrUnknownTopic, kerr.UnknownTopicOrPartition)
	require.Equal(t, "kafka: op: "+already.Error(), mapErr("op", already).Error(), "no second sentinel")
}

// TestProducerBadPick: a Partitioner that picks a partition the topic
// lacks fails the record with ErrUnknownPartition; a closed cluster opens
// no producer.
func TestProducerBadPick(t *testing.T) {
	c := connectFake(t)
	ctx := context.Background()
	a, err := admin.New(c)
	require.NoError(t, err)
	require.NoError(t, a.CreateTopic(ctx, "t", commitlog.TopicConfig{Partitions: 2}))
	p, err := producer.New(c, producer.Config{Partitioner: &pinned{to: 5}})
	require.NoError(t, err)
	_, err = p.SendSync(ctx, &producer.Record{Topic: "t", Key: []byte("k"), Value: []byte("v")})
	require.ErrorIs(t, err, commitlog.ErrUnknownPartition)
	require.NoError(t, p.Close(ctx))

	require.NoError(t, c.Close())
	_, err = producer.New(c, producer.Config{})
	require.ErrorIs(t, err, commitlog.ErrClosed)
}

// TestProducerPlacementIsKgos: keyed records land where a plain franz-go
// producer (its default partitioner) puts them on the same cluster.
func TestProducerPlacementIsKgos(t *testing.T) {
	c := connectFake(t)
	ctx := context.Background()
	a, err := admin.New(c)
	require.NoError(t, err)
	require.NoError(t, a.CreateTopic(ctx, "k", commitlog.TopicConfig{Partitions: 6}))
	cl, err := kgo.NewClient(c.ClientOptions()...)
	require.NoError(t, err)
	defer cl.Close()
	p, err := producer.New(c, producer.Config{})
	require.NoError(t, err)
	defer p.Close(ctx)
	for i := range 200 {
		key := fmt.Appendf(nil, "order-%d", i*31)
		theirs, err := cl.ProduceSync(ctx, &kgo.Record{Topic: "k", Key: key, Value: []byte("v")}).First()
		require.NoError(t, err)
		ours, err := p.SendSync(ctx, &producer.Record{Topic: "k", Key: key, Value: []byte("v")})
		require.NoError(t, err)
		require.Equal(t, theirs.Partition, ours.Partition, "key %s", key)
	}
}
