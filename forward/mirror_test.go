package forward

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/commitlog-go/commitlog"
)

func TestMirrorBasic(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	fc := newFake(t, kfakeSeed(3, "events"))
	seeds := fc.ListenAddrs()
	produceRemote(t, seeds, "events", 3, 0, 300)
	b := openBroker(t, t.TempDir())
	defer b.Close()
	m, err := NewMirror(b, MirrorConfig{Topics: []string{"events"}, ClientOptions: []kgo.Opt{kgo.SeedBrokers(seeds...)}})
	require.NoError(t, err)
	require.NoError(t, m.Flush(ctx))
	produceRemote(t, seeds, "events", 3, 300, 100)
	require.NoError(t, m.Flush(ctx))
	s := b.Stats()
	require.Len(t, s.Forwarders, 1)
	require.Equal(t, commitlog.ForwardIn, s.Forwarders[0].Direction)
	require.NoError(t, m.Close(ctx))
	require.NoError(t, m.Close(ctx))
	require.Equal(t, 3*400, requireMirrored(t, b, seeds, "events"))
	tp, err := b.Topic("events")
	require.NoError(t, err)
	require.Equal(t, int32(3), tp.NumPartitions(), "created with the remote count")
}

func TestMirrorPartitionMismatch(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	fc := newFake(t, kfakeSeed(2, "t"))
	b := openBroker(t, t.TempDir())
	defer b.Close()
	_, err := b.CreateTopic("t", commitlog.TopicConfig{Partitions: 3})
	require.NoError(t, err)
	m, err := NewMirror(b, MirrorConfig{Topics: []string{"t"}, ClientOptions: []kgo.Opt{kgo.SeedBrokers(fc.ListenAddrs()...)}})
	require.NoError(t, err)
	err = m.Flush(ctx)
	require.True(t, errors.Is(err, ErrPartitionMismatch), "%v", err)
	require.True(t, errors.Is(m.Close(ctx), ErrPartitionMismatch))
}
