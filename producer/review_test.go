package producer

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/commitlog-go/commitlog"
	"github.com/stretchr/testify/require"
)

// TestSendNilRecord: a nil record fails its future (and callback) instead
// of panicking in Send.
func TestSendNilRecord(t *testing.T) {
	b := newBroker(t, map[string]commitlog.TopicConfig{"t": {}})
	p, err := New(b, Config{})
	require.NoError(t, err)
	defer p.Close(context.Background())
	_, err = p.Send(context.Background(), nil).Wait(context.Background())
	require.ErrorIs(t, err, commitlog.ErrInvalidRecord)
	_, err = p.SendSync(context.Background(), nil)
	require.ErrorIs(t, err, commitlog.ErrInvalidRecord)
	var cbErr error
	p.SendCallback(context.Background(), nil, func(_ RecordMetadata, err error) { cbErr = err })
	require.ErrorIs(t, cbErr, commitlog.ErrInvalidRecord)
}

// TestKeylessRecordOnCompactedTopic: a record without a key sent to a
// compacted topic fails alone, in Send; it used to join a batch with other
// records, and the log refused the whole batch, failing records that were
// valid (sent by other goroutines, possibly).
func TestKeylessRecordOnCompactedTopic(t *testing.T) {
	b := newBroker(t, map[string]commitlog.TopicConfig{"c": {CleanupPolicy: commitlog.CleanupCompact}})
	p, err := New(b, Config{}.SetLinger(50*time.Millisecond))
	require.NoError(t, err)
	defer p.Close(context.Background())
	good := p.Send(context.Background(), &Record{Topic: "c", Key: []byte("k"), Value: []byte("v")})
	bad := p.Send(context.Background(), &Record{Topic: "c", Value: []byte("v")})
	_, err = bad.Wait(context.Background())
	require.ErrorIs(t, err, commitlog.ErrInvalidRecord)
	md, err := good.Wait(context.Background())
	require.NoError(t, err, "a valid record failed with the invalid one in its batch")
	require.Equal(t, int64(0), md.Offset)
}

// TestKeylessRecordsReachAddedPartitions: after AddPartitions, sticky
// partitioning of keyless records moves over every partition, the new ones
// included; it kept drawing from the partition count the partition's queue
// saw first, so the new partitions never got a keyless record.
func TestKeylessRecordsReachAddedPartitions(t *testing.T) {
	b := newBroker(t, map[string]commitlog.TopicConfig{"t": {Partitions: 2}})
	p, err := New(b, Config{}.SetLinger(0))
	require.NoError(t, err)
	defer p.Close(context.Background())
	for i := 0; i < 20; i++ {
		_, err := p.SendSync(context.Background(), &Record{Topic: "t", Value: []byte(fmt.Sprint(i))})
		require.NoError(t, err)
	}
	require.NoError(t, b.AddPartitions("t", 4))
	counts := map[int32]int{}
	for i := 0; i < 200; i++ { // one record per batch: every batch moves on
		md, err := p.SendSync(context.Background(), &Record{Topic: "t", Value: []byte(fmt.Sprint(i))})
		require.NoError(t, err)
		counts[md.Partition]++
	}
	require.Positive(t, counts[2], "partition 2: %v", counts)
	require.Positive(t, counts[3], "partition 3: %v", counts)
}

// TestFullBufferSendsLingeringBatches: when buffer.memory is exhausted,
// batches are sent without waiting out linger.ms (Kafka's accumulator
// counts them ready while anyone waits for memory), so a Send blocked for
// room gets it as soon as the batches are written. It used to wait for the
// linger to expire, and with linger.ms above max.block.ms it failed with
// ErrBufferFull though sending would have made room.
func TestFullBufferSendsLingeringBatches(t *testing.T) {
	b := newBroker(t, map[string]commitlog.TopicConfig{"t": {Partitions: 2}})
	p, err := New(b, Config{BufferMemory: 4096, MaxBlock: 2 * time.Second}.SetLinger(time.Minute))
	require.NoError(t, err)
	defer p.Close(context.Background())
	start := time.Now()
	var futures []*Future
	for i := 0; i < 20; i++ {
		f := p.Send(context.Background(), &Record{Topic: "t", Partition: int32(i % 2), ExplicitPartition: true, Value: make([]byte, 900)})
		select {
		case <-f.Done():
			_, err := f.Result()
			require.NoError(t, err, "send %d", i)
		default:
		}
		futures = append(futures, f)
	}
	require.NoError(t, p.Flush(context.Background()))
	for _, f := range futures {
		_, err := f.Result()
		require.NoError(t, err)
	}
	require.Less(t, time.Since(start), time.Second)
}

// TestCloseCompletesRecordsOfARecreatedTopic: records lingering for a
// topic that is then deleted and created again are completed (with an
// error: their partition is gone) by Flush and Close, like every other
// record. The producer dropped their partition queue when the new topic's
// first record came, and Flush and Close no longer saw them: their futures
// stayed open (for the linger, or for good once the sender had stopped)
// and their buffer.memory stayed reserved.
func TestCloseCompletesRecordsOfARecreatedTopic(t *testing.T) {
	b := newBroker(t, map[string]commitlog.TopicConfig{"t": {}})
	p, err := New(b, Config{}.SetLinger(time.Hour))
	require.NoError(t, err)
	old := p.Send(context.Background(), &Record{Topic: "t", Value: []byte("old")})
	require.NoError(t, b.DeleteTopic("t"))
	_, err = b.CreateTopic("t", commitlog.TopicConfig{})
	require.NoError(t, err)
	cur := p.Send(context.Background(), &Record{Topic: "t", Value: []byte("new")})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(t, p.Close(ctx))
	select {
	case <-old.Done():
	default:
		t.Fatal("Close returned with a record of the deleted topic still pending")
	}
	_, err = old.Result()
	require.ErrorIs(t, err, commitlog.ErrUnknownTopic)
	md, err := cur.Result()
	require.NoError(t, err)
	require.Equal(t, int64(0), md.Offset)
	require.Equal(t, int64(DefaultBufferMemory), p.mem.avail, "buffer.memory all given back")
}

// TestFlushAndCloseFromCallback: SendCallback's callback runs on the
// partition's sender, and Flush and Close wait for the batch whose
// callbacks are running: called from a callback they deadlocked forever.
// Flush now refuses (as Kafka's does from a callback) and Close stops
// accepting records at once and completes everything once the callback
// returns.
func TestFlushAndCloseFromCallback(t *testing.T) {
	b := newBroker(t, map[string]commitlog.TopicConfig{"t": {Partitions: 2}})
	wait := func(t *testing.T, ch <-chan struct{}) {
		t.Helper()
		select {
		case <-ch:
		case <-time.After(2 * time.Second):
			t.Fatal("deadlock")
		}
	}
	t.Run("flush", func(t *testing.T) {
		p, err := New(b, Config{})
		require.NoError(t, err)
		defer func() {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			p.Close(ctx)
		}()
		done := make(chan struct{})
		var flushErr error
		p.SendCallback(context.Background(), &Record{Topic: "t", Value: []byte("x")}, func(RecordMetadata, error) {
			defer close(done)
			flushErr = p.Flush(context.Background())
		})
		wait(t, done)
		require.Error(t, flushErr)
	})
	t.Run("close", func(t *testing.T) {
		p, err := New(b, Config{}.SetLinger(time.Hour))
		require.NoError(t, err)
		done := make(chan struct{})
		var closeErr, sendErr error
		var other *Future
		p.SendCallback(context.Background(), &Record{Topic: "t", Partition: 0, ExplicitPartition: true, Value: []byte("x")}, func(RecordMetadata, error) {
			defer close(done)
			closeErr = p.Close(context.Background())
			_, sendErr = p.Send(context.Background(), &Record{Topic: "t", Value: []byte("late")}).Wait(context.Background())
		})
		other = p.Send(context.Background(), &Record{Topic: "t", Partition: 1, ExplicitPartition: true, Value: []byte("y")})
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = p.Flush(ctx) // sends the first record; its callback closes
		wait(t, done)
		require.NoError(t, closeErr)
		require.ErrorIs(t, sendErr, commitlog.ErrClosed)
		closed := make(chan struct{})
		go func() { defer close(closed); require.NoError(t, p.Close(context.Background())) }()
		wait(t, closed)
		_, err = other.Result()
		require.NoError(t, err)
	})
}

// TestFailedSendCallbackMayCallProducer: the callback of a Send that fails
// at once (unknown topic, record too large, buffer full, closed) ran while
// Send held the lock Close takes to wait for Sends in progress: a callback
// calling Close deadlocked.
func TestFailedSendCallbackMayCallProducer(t *testing.T) {
	b := newBroker(t, map[string]commitlog.TopicConfig{"t": {}})
	p, err := New(b, Config{})
	require.NoError(t, err)
	done := make(chan error, 1)
	go p.SendCallback(context.Background(), &Record{Topic: "nope"}, func(_ RecordMetadata, err error) {
		require.ErrorIs(t, err, commitlog.ErrUnknownTopic)
		done <- p.Close(context.Background())
	})
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(2 * time.Second):
		t.Fatal("deadlock")
	}
}
