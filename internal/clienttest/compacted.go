package clienttest

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/commitlog-go/commitlog"
	"github.com/commitlog-go/commitlog/consumer"
	"github.com/commitlog-go/commitlog/producer"
)

func init() {
	register("consumer/tombstones-on-compacted-topic", testTombstones)
}

// testTombstones: on a compacted topic a record with a null value is a
// tombstone, and arrives as one (nil Value, its key), whether or not
// compaction has run (the case does not depend on it).
func testTombstones(t *testing.T, env *Env) {
	b := env.Open(t)
	createTopicWith(t, b, "compacted", commitlog.TopicConfig{Partitions: 1, CleanupPolicy: "compact"})
	produce(t, b,
		&producer.Record{Topic: "compacted", ExplicitPartition: true, Key: []byte("a"), Value: []byte("1")},
		&producer.Record{Topic: "compacted", ExplicitPartition: true, Key: []byte("b"), Value: []byte("2")},
		&producer.Record{Topic: "compacted", ExplicitPartition: true, Key: []byte("a"), Value: nil},
		&producer.Record{Topic: "compacted", ExplicitPartition: true, Key: []byte("c"), Value: []byte{}},
	)
	c := newConsumer(t, b, consumer.Config{AutoOffsetReset: consumer.ResetEarliest, FetchMaxWait: new(fastWait)})
	require.NoError(t, c.Assign([]consumer.TopicPartition{{Topic: "compacted"}}))
	var tomb, empty *consumer.Record
	ctx, cancel := testCtx()
	defer cancel()
	for tomb == nil || empty == nil {
		recs, err := c.Poll(ctx)
		require.NoError(t, err)
		for i := range recs {
			switch string(recs[i].Key) {
			case "a":
				if recs[i].Value == nil {
					tomb = &recs[i]
				}
			case "c":
				empty = &recs[i]
			}
		}
	}
	require.Nil(t, tomb.Value, "a tombstone's value is null")
	require.Equal(t, int64(2), tomb.Offset)
	require.NotNil(t, empty.Value, "an empty value is not a tombstone")
	require.Empty(t, empty.Value)
}
