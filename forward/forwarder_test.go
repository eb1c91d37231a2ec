package forward

import (
	"context"
	"errors"
	"math/rand/v2"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/commitlog-go/commitlog"
)

func TestForwardBasic(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	fc := newFake(t)
	b := openBroker(t, t.TempDir())
	defer b.Close()
	_, err := b.CreateTopic("orders", commitlog.TopicConfig{Partitions: 3})
	require.NoError(t, err)
	rng := rand.New(rand.NewPCG(1, 2))
	for p := int32(0); p < 3; p++ {
		appendLocal(t, b, "orders", p, 0, 300+int(p)*50, rng)
	}
	f, err := New(b, Config{Topics: []string{"orders"}, ClientOptions: []kgo.Opt{kgo.SeedBrokers(fc.ListenAddrs()...)}})
	require.NoError(t, err)
	require.NoError(t, f.Flush(ctx))
	// More while running.
	for p := int32(0); p < 3; p++ {
		appendLocal(t, b, "orders", p, 1000, 100, rng)
	}
	require.NoError(t, f.Flush(ctx))
	s := b.Stats()
	require.Len(t, s.Forwarders, 1)
	require.Equal(t, int64(0), s.Forwarders[0].LagRecords)
	require.Len(t, s.Forwarders[0].Partitions, 3)
	require.NoError(t, f.Close(ctx))
	require.NoError(t, f.Close(ctx), "Close is idempotent")
	require.Empty(t, b.Stats().Forwarders, "Close unregisters")
	require.Equal(t, 3*400+50+100, requireForwarded(t, b, fc.ListenAddrs(), "orders"))
}

func TestForwardPartitionMismatch(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	fc := newFake(t, kfakeSeed(2, "t"))
	b := openBroker(t, t.TempDir())
	defer b.Close()
	_, err := b.CreateTopic("t", commitlog.TopicConfig{Partitions: 3})
	require.NoError(t, err)
	appendLocal(t, b, "t", 0, 0, 10, rand.New(rand.NewPCG(1, 1)))
	f, err := New(b, Config{Topics: []string{"t"}, ClientOptions: []kgo.Opt{kgo.SeedBrokers(fc.ListenAddrs()...)}})
	require.NoError(t, err)
	err = f.Flush(ctx)
	require.True(t, errors.Is(err, ErrPartitionMismatch), "%v", err)
	require.ErrorContains(t, err, "3 partitions here, 2 in the cluster")
	require.True(t, errors.Is(f.Close(ctx), ErrPartitionMismatch))
}

func TestForwardConfigErrors(t *testing.T) {
	b := openBroker(t, t.TempDir())
	defer b.Close()
	seeds := []kgo.Opt{kgo.SeedBrokers("127.0.0.1:1")}
	for _, tc := range []struct {
		name string
		cfg  Config
		want error
	}{
		{"no topics", Config{ClientOptions: seeds}, ErrNoTopics},
		{"no client options", Config{Topics: []string{"x"}}, commitlog.ErrInvalidConfig},
		{"unknown topic", Config{Topics: []string{"x"}, ClientOptions: seeds}, commitlog.ErrUnknownTopic},
		{"bad ratio", Config{Topics: []string{"x"}, ClientOptions: seeds, RetentionWarnRatio: 2}, commitlog.ErrInvalidConfig},
		{"bad mode", Config{Topics: []string{"x"}, ClientOptions: seeds, Mode: 7}, commitlog.ErrInvalidConfig},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(b, tc.cfg)
			require.True(t, errors.Is(err, tc.want), "%v", err)
		})
	}
}

// A forwarded topic deleted locally stops the sessions (retried, logged)
// without spinning, and Close still returns.
func TestForwardTopicDeleted(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	fc := newFake(t)
	b := openBroker(t, t.TempDir())
	defer b.Close()
	_, err := b.CreateTopic("t", commitlog.TopicConfig{Partitions: 2})
	require.NoError(t, err)
	appendLocal(t, b, "t", 0, 0, 10, rand.New(rand.NewPCG(1, 1)))
	f, err := New(b, Config{Topics: []string{"t"}, ClientOptions: clientOpts(fc.ListenAddrs())})
	require.NoError(t, err)
	require.NoError(t, f.Flush(ctx))
	require.NoError(t, b.DeleteTopic("t"))
	require.Eventually(t, func() bool { return errors.Is(f.Err(), commitlog.ErrUnknownTopic) }, 20*time.Second, 5*time.Millisecond, "%v", f.Err())
	require.NoError(t, f.Close(ctx))
}

// The default transactional.id is the Group plus an instance id kept in the
// checkpoint: the same across restarts on a broker, different on another
// broker with the same Group; Config.TransactionalID overrides it.
func TestForwardTransactionalID(t *testing.T) {
	ctx := context.Background()
	seeds := []kgo.Opt{kgo.SeedBrokers("127.0.0.1:1")}
	ids := map[string]bool{}
	for range 2 {
		dir := t.TempDir()
		var first string
		for run := range 2 {
			b := openBroker(t, dir)
			if run == 0 {
				_, err := b.CreateTopic("t", commitlog.TopicConfig{Partitions: 2})
				require.NoError(t, err)
			}
			f, err := New(b, Config{Topics: []string{"t"}, ClientOptions: seeds})
			require.NoError(t, err)
			id := f.TransactionalID()
			require.Regexp(t, `^commitlog-forwarder-[0-9a-f]{16}$`, id)
			if run == 0 {
				first = id
			} else {
				require.Equal(t, first, id, "kept across restarts")
			}
			cctx, cancel := context.WithCancel(ctx)
			cancel()
			require.NoError(t, f.Close(cctx))
			require.NoError(t, b.Close())
		}
		ids[first] = true
	}
	require.Len(t, ids, 2, "two brokers with the same Group draw different ids")

	b := openBroker(t, t.TempDir())
	defer b.Close()
	_, err := b.CreateTopic("t", commitlog.TopicConfig{Partitions: 1})
	require.NoError(t, err)
	f, err := New(b, Config{Topics: []string{"t"}, ClientOptions: seeds, TransactionalID: "device-42"})
	require.NoError(t, err)
	require.Equal(t, "device-42", f.TransactionalID())
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	require.NoError(t, f.Close(cctx))
}

func TestDecimal(t *testing.T) {
	d := decimal{n: -2}
	for _, n := range []int64{0, 1, 2, 9, 10, 11, 99, 100, 101, 5, 5, 6, 999, 1000, 7, 8, 1<<63 - 2, 1<<63 - 1} {
		require.Equal(t, strconv.FormatInt(n, 10), string(d.set(n)))
	}
	d = decimal{n: -2}
	for n := int64(0); n < 12000; n++ {
		require.Equal(t, strconv.FormatInt(n, 10), string(d.set(n)))
	}
}

func TestSlabKeep(t *testing.T) {
	var s slab[byte]
	require.Nil(t, s.keep(nil))
	e := s.keep([]byte{})
	require.NotNil(t, e, "empty stays empty, not nil")
	require.Empty(t, e)
	require.Equal(t, []byte("ab"), s.keep([]byte("ab")))
}
