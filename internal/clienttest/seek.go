package clienttest

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/commitlog-go/commitlog"
	"github.com/commitlog-go/commitlog/consumer"
	"github.com/commitlog-go/commitlog/producer"
)

func init() {
	register("consumer/seek-by-time", testSeekByTime)
	register("consumer/seek-and-position", testSeekAndPosition)
}

// testSeekByTime: OffsetsForTimes finds the first record at or after a
// time (nil past the last one), and a Seek there reads from it.
func testSeekByTime(t *testing.T, env *Env) {
	b := env.Open(t)
	createTopicWith(t, b, "timed", commitlog.TopicConfig{Partitions: 2})
	base := time.UnixMilli(1_700_000_000_000)
	var recs []*producer.Record
	for i := range 10 {
		recs = append(recs, &producer.Record{Topic: "timed", Partition: 1, ExplicitPartition: true,
			Value: fmt.Appendf(nil, "v%d", i), Timestamp: base.Add(time.Duration(i) * time.Second)})
	}
	produce(t, b, recs...)
	c := newConsumer(t, b, consumer.Config{AutoOffsetReset: consumer.ResetLatest, FetchMaxWait: new(fastWait)})
	tp := consumer.TopicPartition{Topic: "timed", Partition: 1}
	empty := consumer.TopicPartition{Topic: "timed", Partition: 0}
	got, err := c.OffsetsForTimes(map[consumer.TopicPartition]time.Time{tp: base.Add(3500 * time.Millisecond), empty: base})
	require.NoError(t, err)
	require.Len(t, got, 2)
	require.NotNil(t, got[tp])
	require.Equal(t, int64(4), got[tp].Offset)
	require.True(t, base.Add(4*time.Second).Equal(got[tp].Timestamp))
	require.Nil(t, got[empty], "no record in the partition")

	got, err = c.OffsetsForTimes(map[consumer.TopicPartition]time.Time{tp: base.Add(time.Hour)})
	require.NoError(t, err)
	require.Nil(t, got[tp], "no record at or after the time")
	got, err = c.OffsetsForTimes(map[consumer.TopicPartition]time.Time{tp: base.Add(-time.Hour)})
	require.NoError(t, err)
	require.Equal(t, int64(0), got[tp].Offset)

	_, err = c.OffsetsForTimes(map[consumer.TopicPartition]time.Time{{Topic: "no-such-topic"}: base})
	require.ErrorIs(t, err, commitlog.ErrUnknownTopic)

	require.NoError(t, c.Assign([]consumer.TopicPartition{tp}))
	require.NoError(t, c.Seek(tp, 4))
	pos, err := c.Position(tp)
	require.NoError(t, err)
	require.Equal(t, int64(4), pos)
	recsGot := pollUntil(t, c, 6)
	require.Equal(t, int64(4), recsGot[0].Offset)
	require.Equal(t, "v4", string(recsGot[0].Value))
}

// testSeekAndPosition: Position before a record is auto.offset.reset's,
// Seek moves back and forward, SeekToBeginning and SeekToEnd go to the
// log's ends, and a partition that is not assigned is refused.
func testSeekAndPosition(t *testing.T, env *Env) {
	b := env.Open(t)
	createTopicWith(t, b, "seeks", commitlog.TopicConfig{Partitions: 1})
	var recs []*producer.Record
	for i := range 10 {
		recs = append(recs, &producer.Record{Topic: "seeks", ExplicitPartition: true, Value: fmt.Appendf(nil, "v%d", i)})
	}
	produce(t, b, recs...)
	tp := consumer.TopicPartition{Topic: "seeks"}
	c := newConsumer(t, b, consumer.Config{AutoOffsetReset: consumer.ResetLatest, FetchMaxWait: new(fastWait), MaxPollRecords: 3})
	require.NoError(t, c.Assign([]consumer.TopicPartition{tp}))
	pos, err := c.Position(tp)
	require.NoError(t, err)
	require.Equal(t, int64(10), pos, "latest")

	require.NoError(t, c.SeekToBeginning())
	got := pollUntil(t, c, 3)
	require.Equal(t, int64(0), got[0].Offset)
	pos, err = c.Position(tp)
	require.NoError(t, err)
	require.Equal(t, got[len(got)-1].Offset+1, pos)

	require.NoError(t, c.Seek(tp, 7))
	got = pollUntil(t, c, 1)
	require.Equal(t, int64(7), got[0].Offset, "forward")
	require.NoError(t, c.Seek(tp, 1))
	got = pollUntil(t, c, 1)
	require.Equal(t, int64(1), got[0].Offset, "back")

	require.NoError(t, c.SeekToEnd(tp))
	pos, err = c.Position(tp)
	require.NoError(t, err)
	require.Equal(t, int64(10), pos)

	other := consumer.TopicPartition{Topic: "seeks", Partition: 5}
	require.ErrorIs(t, c.Seek(other, 0), commitlog.ErrUnknownPartition)
	_, err = c.Position(other)
	require.ErrorIs(t, err, commitlog.ErrUnknownPartition)
	require.ErrorIs(t, c.Seek(tp, -1), commitlog.ErrOffsetOutOfRange)
	require.ErrorIs(t, c.Assign([]consumer.TopicPartition{{Topic: "no-such-topic"}}), commitlog.ErrUnknownTopic)
}
