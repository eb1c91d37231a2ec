package clienttest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/commitlog-go/commitlog"
	"github.com/commitlog-go/commitlog/consumer"
	"github.com/commitlog-go/commitlog/producer"
)

// This file holds the consumer's basic cases (order per partition,
// headers and timestamps) and the helpers of the consumer cases.

func init() {
	register("consumer/order-per-partition", testOrderPerPartition)
	register("consumer/headers-and-timestamps", testHeadersAndTimestamps)
}

// produce writes recs (each with its partition set) and waits until they
// are written.
//
// produce sends recs with the public producer API, each acknowledged
// before the next is sent.
func produce(t *testing.T, b commitlog.Backend, recs ...*producer.Record) {
	t.Helper()
	ctx := caseCtx(t)
	p, err := producer.New(b, producer.Config{Linger: new(time.Duration(0))})
	require.NoError(t, err)
	defer func() { require.NoError(t, p.Close(ctx)) }()
	for _, r := range recs {
		_, err := p.SendSync(ctx, r)
		require.NoError(t, err)
	}
}

// newConsumer makes a consumer closed at the end of the test.
func newConsumer(t *testing.T, b commitlog.Backend, cfg consumer.Config) *consumer.Consumer {
	t.Helper()
	c, err := consumer.New(b, cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close(context.Background()) })
	return c
}

// fastGroup is a consumer config with short group timeouts, for the
// group cases (session.timeout.ms stays above kgo's floor of 100 ms).
func fastGroup(group string) consumer.Config {
	return consumer.Config{
		GroupID: group, AutoOffsetReset: consumer.ResetEarliest, EnableAutoCommit: new(false),
		SessionTimeout: 800 * time.Millisecond, HeartbeatInterval: 50 * time.Millisecond,
		MaxPollInterval: 5 * time.Second, FetchMaxWait: new(50 * time.Millisecond),
	}
}

// pollUntil polls c until it has returned n records, failing the test
// after a generous deadline (a hang, not slowness, is the fault).
func pollUntil(t *testing.T, c *consumer.Consumer, n int) []consumer.Record {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var got []consumer.Record
	for len(got) < n {
		recs, err := c.Poll(ctx)
		require.NoError(t, err, "after %d of %d records", len(got), n)
		got = append(got, recs...)
	}
	return got
}

func testOrderPerPartition(t *testing.T, env *Env) {
	b := env.Open(t)
	const parts, perPart = 3, 20
	createTopicWith(t, b, "orders", commitlog.TopicConfig{Partitions: parts})
	var recs []*producer.Record
	for i := range parts * perPart {
		recs = append(recs, &producer.Record{Topic: "orders", Partition: int32(i % parts), ExplicitPartition: true,
			Key: fmt.Appendf(nil, "k%d", i), Value: fmt.Appendf(nil, "v%d", i)})
	}
	produce(t, b, recs...)

	c := newConsumer(t, b, consumer.Config{AutoOffsetReset: consumer.ResetEarliest, MaxPollRecords: 7, FetchMaxWait: new(50 * time.Millisecond)})
	var tps []consumer.TopicPartition
	for p := range int32(parts) {
		tps = append(tps, consumer.TopicPartition{Topic: "orders", Partition: p})
	}
	require.NoError(t, c.Assign(tps))
	require.Equal(t, tps, c.Assignment())
	got := pollUntil(t, c, parts*perPart)
	require.Len(t, got, parts*perPart, "no record twice")
	next := map[int32]int64{}
	for _, r := range got {
		require.Equal(t, next[r.Partition], r.Offset, "partition %d in order, no gap", r.Partition)
		i := int(r.Offset)*parts + int(r.Partition)
		require.Equal(t, fmt.Sprintf("v%d", i), string(r.Value))
		require.Equal(t, fmt.Sprintf("k%d", i), string(r.Key))
		require.Equal(t, "orders", r.Topic)
		next[r.Partition]++
	}
	for _, tp := range tps {
		pos, err := c.Position(tp)
		require.NoError(t, err)
		require.Equal(t, int64(perPart), pos)
	}
}

func testHeadersAndTimestamps(t *testing.T, env *Env) {
	b := env.Open(t)
	createTopicWith(t, b, "hdrs", commitlog.TopicConfig{Partitions: 1})
	at := time.UnixMilli(1_700_000_000_123)
	produce(t, b,
		&producer.Record{Topic: "hdrs", ExplicitPartition: true, Key: []byte("k"), Value: []byte("v"), Timestamp: at,
			Headers: []producer.Header{{Key: "trace", Value: []byte("abc")}, {Key: "n", Value: []byte{0, 1, 2}}, {Key: "trace", Value: []byte("dup")}}},
		&producer.Record{Topic: "hdrs", ExplicitPartition: true, Value: []byte("bare"), Timestamp: at.Add(time.Second)})

	c := newConsumer(t, b, consumer.Config{AutoOffsetReset: consumer.ResetEarliest, FetchMaxWait: new(50 * time.Millisecond)})
	require.NoError(t, c.Assign([]consumer.TopicPartition{{Topic: "hdrs"}}))
	got := pollUntil(t, c, 2)
	require.Len(t, got, 2)
	r := got[0]
	require.Equal(t, "k", string(r.Key))
	require.True(t, at.Equal(r.Timestamp), "timestamp %v, want %v", r.Timestamp, at)
	require.Equal(t, "CreateTime", r.TimestampType.String())
	require.Len(t, r.Headers, 3, "headers keep their order and duplicates")
	require.Equal(t, "trace", r.Headers[0].Key)
	require.Equal(t, "abc", string(r.Headers[0].Value))
	require.Equal(t, "n", r.Headers[1].Key)
	require.Equal(t, []byte{0, 1, 2}, r.Headers[1].Value)
	require.Equal(t, "dup", string(r.Headers[2].Value))
	require.Nil(t, got[1].Key, "a null key stays null")
	require.Empty(t, got[1].Headers)
	require.True(t, at.Add(time.Second).Equal(got[1].Timestamp))
}

func init() {
	register("consumer/pause-resume", testPauseResume)
	register("consumer/reset-none", testResetNone)
	register("consumer/close-wakes-poll", testCloseWakesPoll)
}

// testPauseResume: a paused partition returns nothing until Resume, the
// others go on.
func testPauseResume(t *testing.T, env *Env) {
	b := env.Open(t)
	createTopicWith(t, b, "paused", commitlog.TopicConfig{Partitions: 2})
	var recs []*producer.Record
	for i := range 10 {
		recs = append(recs, &producer.Record{Topic: "paused", Partition: int32(i % 2), ExplicitPartition: true, Value: fmt.Appendf(nil, "v%d", i)})
	}
	produce(t, b, recs...)
	p0, p1 := consumer.TopicPartition{Topic: "paused"}, consumer.TopicPartition{Topic: "paused", Partition: 1}
	c := newConsumer(t, b, consumer.Config{AutoOffsetReset: consumer.ResetEarliest, FetchMaxWait: new(fastWait)})
	require.NoError(t, c.Assign([]consumer.TopicPartition{p0, p1}))
	require.NoError(t, c.Pause(p1))
	require.Equal(t, []consumer.TopicPartition{p1}, c.Paused())
	require.ErrorIs(t, c.Pause(consumer.TopicPartition{Topic: "paused", Partition: 9}), commitlog.ErrUnknownPartition)
	got := pollUntil(t, c, 5)
	ctx, cancel := testCtx()
	defer cancel()
	for range 3 { // a few more polls: still nothing from the paused partition
		more, err := c.Poll(ctx)
		require.NoError(t, err)
		got = append(got, more...)
	}
	require.Len(t, got, 5)
	for _, r := range got {
		require.Equal(t, int32(0), r.Partition, "nothing from the paused partition")
	}
	require.NoError(t, c.Resume(p1))
	require.Empty(t, c.Paused())
	got = pollUntil(t, c, 5)
	for i, r := range got {
		require.Equal(t, int32(1), r.Partition)
		require.Equal(t, int64(i), r.Offset, "the paused partition resumes where it was")
	}
}

// testResetNone: with auto.offset.reset=none a partition without a
// committed offset has no position: Position and Poll fail with
// ErrOffsetOutOfRange until a Seek gives it one.
func testResetNone(t *testing.T, env *Env) {
	b := env.Open(t)
	createTopicWith(t, b, "strict", commitlog.TopicConfig{Partitions: 1})
	produce(t, b, &producer.Record{Topic: "strict", ExplicitPartition: true, Value: []byte("a")},
		&producer.Record{Topic: "strict", ExplicitPartition: true, Value: []byte("b")})
	tp := consumer.TopicPartition{Topic: "strict"}
	ctx, cancel := testCtx()
	defer cancel()

	c := newConsumer(t, b, consumer.Config{GroupID: "strict-assign", AutoOffsetReset: consumer.ResetNone, FetchMaxWait: new(fastWait)})
	require.NoError(t, c.Assign([]consumer.TopicPartition{tp}))
	_, err := c.Position(tp)
	require.ErrorIs(t, err, commitlog.ErrOffsetOutOfRange)
	_, err = c.Poll(ctx)
	require.ErrorIs(t, err, commitlog.ErrOffsetOutOfRange)
	require.NoError(t, c.Seek(tp, 1))
	got := pollUntil(t, c, 1)
	require.Equal(t, "b", string(got[0].Value))
	require.NoError(t, c.Seek(tp, 50), "Seek does not check the log")
	for {
		_, err := c.Poll(ctx)
		if err != nil {
			require.ErrorIs(t, err, commitlog.ErrOffsetOutOfRange, "past the high watermark")
			break
		}
		require.NoError(t, ctx.Err(), "the position past the end never failed")
	}
	require.NoError(t, c.Seek(tp, 0))
	got = pollUntil(t, c, 2)
	require.Equal(t, "a", string(got[0].Value), "a Seek ends the error")

	cfg := fastGroup("strict-group")
	cfg.AutoOffsetReset = consumer.ResetNone
	g := newConsumer(t, b, cfg)
	require.NoError(t, g.Subscribe([]string{"strict"}, nil))
	for {
		_, err := g.Poll(ctx)
		if err != nil {
			require.ErrorIs(t, err, commitlog.ErrOffsetOutOfRange)
			break
		}
		require.NoError(t, ctx.Err(), "the member never failed")
	}
	require.Equal(t, []consumer.TopicPartition{tp}, g.Assignment())
	require.NoError(t, g.Seek(tp, 0))
	got = pollUntil(t, g, 2)
	require.Equal(t, "a", string(got[0].Value))
}

// testCloseWakesPoll: Close from another goroutine wakes a waiting Poll,
// which returns ErrClosed; so does every Poll after it.
func testCloseWakesPoll(t *testing.T, env *Env) {
	b := env.Open(t)
	createTopicWith(t, b, "quiet", commitlog.TopicConfig{Partitions: 1})
	c, err := consumer.New(b, consumer.Config{FetchMaxWait: new(time.Minute)})
	require.NoError(t, err)
	require.NoError(t, c.Assign([]consumer.TopicPartition{{Topic: "quiet"}}))
	ctx, cancel := testCtx()
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := c.Poll(ctx)
		done <- err
	}()
	time.Sleep(100 * time.Millisecond) // let it wait (the case holds if Close comes first too)
	require.NoError(t, c.Close(ctx))
	select {
	case err := <-done:
		require.ErrorIs(t, err, commitlog.ErrClosed)
	case <-ctx.Done():
		t.Fatal("Close did not wake the Poll")
	}
	_, err = c.Poll(ctx)
	require.ErrorIs(t, err, commitlog.ErrClosed)
}
