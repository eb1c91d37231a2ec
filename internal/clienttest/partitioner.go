package clienttest

import (
	"fmt"
	"testing"

	"github.com/cespare/xxhash/v2"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/commitlog-go/commitlog/producer"
)

// The partitioner's cases: a keyed record lands on the same partition on
// every backend. The reference placements are pure functions (franz-go's
// default keyed placement, xxhash), not a read of the backend.

func init() {
	register("partitioner/default-is-kafkas", partitionerDefaultIsKafkas)
	register("partitioner/xxhash-by-name", partitionerXXHash)
	register("partitioner/keyless-sticky", partitionerKeylessSticky)
}

// partitionerDefaultIsKafkas: with the default partitioner, each key goes
// to positive murmur2(key) % partitions, the partition franz-go's and the
// Java client's defaults pick.
func partitionerDefaultIsKafkas(t *testing.T, env *Env) {
	b := env.Open(t)
	ctx := caseCtx(t)
	const parts = 7
	createTopic(t, b, "keys", parts)
	p := newProducer(t, b, producer.Config{})
	ref := kgo.StickyKeyPartitioner(nil).ForTopic("keys")
	var futures []*producer.Future
	var keys [][]byte
	for i := range 300 {
		key := fmt.Appendf(nil, "user-%d", i*7919)
		keys = append(keys, key)
		futures = append(futures, p.Send(ctx, &producer.Record{Topic: "keys", Key: key, Value: []byte("v")}))
	}
	used := map[int32]bool{}
	for i, f := range futures {
		md, err := f.Wait(ctx)
		require.NoError(t, err)
		want := ref.Partition(&kgo.Record{Key: keys[i]}, parts)
		require.Equal(t, int32(want), md.Partition, "key %s", keys[i])
		used[md.Partition] = true
	}
	require.Len(t, used, parts, "300 keys spread over every partition")
}

// partitionerXXHash: HashPartitioner, set by name, places keys by xxhash
// on every backend (on Kafka through the Partitioner adapter).
func partitionerXXHash(t *testing.T, env *Env) {
	b := env.Open(t)
	ctx := caseCtx(t)
	const parts = 5
	createTopic(t, b, "xx", parts)
	p := newProducer(t, b, producer.Config{Partitioner: producer.HashPartitioner()})
	for i := range 100 {
		key := fmt.Appendf(nil, "k%d", i)
		md, err := p.Send(ctx, &producer.Record{Topic: "xx", Key: key, Value: []byte("v")}).Wait(ctx)
		require.NoError(t, err)
		require.Equal(t, int32(xxhash.Sum64(key)%parts), md.Partition, "key %s", key)
	}
}

// partitionerKeylessSticky: keyless records sent together stick to a
// partition (a batch) rather than spreading one by one. franz-go now and
// then moves the sticky partition as the topic's first batches start, so
// the case asks only that most records share one partition (spread one by
// one, 20 records over 4 partitions would give about 5 each).
func partitionerKeylessSticky(t *testing.T, env *Env) {
	b := env.Open(t)
	ctx := caseCtx(t)
	createTopic(t, b, "sticky", 4)
	// A long linger keeps the batch open while the records are sent;
	// Flush sends it.
	p := newProducer(t, b, producer.Config{Linger: new(testLinger)})
	var futures []*producer.Future
	for range 20 {
		futures = append(futures, p.Send(ctx, &producer.Record{Topic: "sticky", Value: []byte("v")}))
	}
	require.NoError(t, p.Flush(ctx))
	used := map[int32]int{}
	for _, f := range futures {
		md, err := f.Result()
		require.NoError(t, err)
		used[md.Partition]++
	}
	most := 0
	for _, n := range used {
		most = max(most, n)
	}
	require.GreaterOrEqual(t, most, 10, "keyless records stick to a partition: %v", used)
}
