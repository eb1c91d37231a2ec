package producer

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/commitlog-go/commitlog"
	"github.com/commitlog-go/commitlog/record"
	"github.com/stretchr/testify/require"
)

func newBroker(t testing.TB, topics map[string]commitlog.TopicConfig) *commitlog.Broker {
	t.Helper()
	b, err := commitlog.Open(t.TempDir())
	require.NoError(t, err)
	t.Cleanup(func() { b.Close() })
	for name, cfg := range topics {
		_, err := b.CreateTopic(name, cfg)
		require.NoError(t, err)
	}
	return b
}

type got struct {
	offset    int64
	key, val  string
	timestamp int64
}

// readPartition returns every record of one partition.
func readPartition(t testing.TB, b *commitlog.Broker, topic string, id int32) []got {
	t.Helper()
	tp, err := b.Topic(topic)
	require.NoError(t, err)
	p, err := tp.Partition(id)
	require.NoError(t, err)
	var out []got
	var it record.Iterator
	for next := p.LogStartOffset(); next < p.HighWatermark(); {
		data, err := p.Read(nil, next, 1<<20)
		require.NoError(t, err)
		require.NoError(t, record.Batches(data, func(h *record.BatchHeader, raw []byte) error {
			require.NoError(t, it.ResetChecked(h, raw))
			for it.Next() {
				r := it.Record()
				out = append(out, got{r.Offset, string(r.Key), string(r.Value), r.Timestamp})
			}
			next = h.NextOffset()
			return it.Err()
		}))
	}
	return out
}

func TestSendAndOrderPerPartition(t *testing.T) {
	for _, cfg := range []Config{
		{},
		Config{Compression: record.LZ4, Linger: new(time.Duration(0))},
		Config{BatchSize: new(200), Fsync: true},
		Config{Acks: new(AcksLeader)},
	} {
		t.Run(fmt.Sprintf("linger=%v,comp=%v,batch=%d", cfg.Linger, cfg.Compression, cfg.BatchSize), func(t *testing.T) {
			b := newBroker(t, map[string]commitlog.TopicConfig{"t": {Partitions: 4}})
			p, err := New(b, cfg)
			require.NoError(t, err)
			const senders, each = 8, 300
			var wg sync.WaitGroup
			for s := 0; s < senders; s++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					var futures []*Future
					for i := 0; i < each; i++ {
						key := fmt.Sprintf("sender-%d", s) // one key per sender: one partition
						futures = append(futures, p.Send(context.Background(), &Record{Topic: "t", Key: []byte(key), Value: []byte(fmt.Sprintf("%d:%d", s, i))}))
					}
					last := int64(-1)
					for _, f := range futures {
						md, err := f.Wait(context.Background())
						require.NoError(t, err)
						require.Greater(t, md.Offset, last, "one sender's records keep their order")
						last = md.Offset
					}
				}()
			}
			wg.Wait()
			require.NoError(t, p.Close(context.Background()))
			total := 0
			for id := int32(0); id < 4; id++ {
				next := map[string]int{}
				for _, r := range readPartition(t, b, "t", id) {
					var s, i int
					_, err := fmt.Sscanf(r.val, "%d:%d", &s, &i)
					require.NoError(t, err)
					require.Equal(t, fmt.Sprintf("sender-%d", s), r.key)
					require.Equal(t, next[r.key], i, "per-partition order of sender %d", s)
					next[r.key]++
					total++
				}
			}
			require.Equal(t, senders*each, total)
		})
	}
}

func TestKeyedRecordsStayOnOnePartition(t *testing.T) {
	b := newBroker(t, map[string]commitlog.TopicConfig{"t": {Partitions: 7}})
	p, err := New(b, Config{Partitioner: Murmur2Partitioner()})
	require.NoError(t, err)
	defer p.Close(context.Background())
	seen := map[string]int32{}
	for i := 0; i < 500; i++ {
		key := fmt.Sprintf("k%d", i%20)
		md, err := p.SendSync(context.Background(), &Record{Topic: "t", Key: []byte(key), Value: []byte("v")})
		require.NoError(t, err)
		if prev, ok := seen[key]; ok {
			require.Equal(t, prev, md.Partition)
		}
		seen[key] = md.Partition
		require.Equal(t, (Murmur2([]byte(key))&0x7fffffff)%7, md.Partition)
	}
}

func TestExplicitPartitionAndErrors(t *testing.T) {
	b := newBroker(t, map[string]commitlog.TopicConfig{"t": {Partitions: 3, MaxMessageBytes: new(2000)}})
	p, err := New(b, Config{})
	require.NoError(t, err)
	defer p.Close(context.Background())
	ctx := context.Background()
	md, err := p.SendSync(ctx, &Record{Topic: "t", Partition: 2, ExplicitPartition: true, Value: []byte("x")})
	require.NoError(t, err)
	require.Equal(t, int32(2), md.Partition)
	require.Equal(t, int64(0), md.Offset)

	_, err = p.SendSync(ctx, &Record{Topic: "t", Partition: 3, ExplicitPartition: true})
	require.ErrorIs(t, err, commitlog.ErrUnknownPartition)
	_, err = p.SendSync(ctx, &Record{Topic: "nope", Value: []byte("x")})
	require.ErrorIs(t, err, commitlog.ErrUnknownTopic)
	_, err = p.SendSync(ctx, &Record{Topic: "t", Value: make([]byte, 5000)})
	require.ErrorIs(t, err, commitlog.ErrRecordTooLarge)
	var cbErr error
	done := make(chan struct{})
	p.SendCallback(ctx, &Record{Topic: "nope"}, func(_ context.Context, _ RecordMetadata, err error) { cbErr = err; close(done) })
	<-done
	require.ErrorIs(t, cbErr, commitlog.ErrUnknownTopic)
}

func TestTimestamps(t *testing.T) {
	b := newBroker(t, map[string]commitlog.TopicConfig{
		"create": {},
		"append": {MessageTimestampType: record.LogAppendTime},
	})
	p, err := New(b, Config{})
	require.NoError(t, err)
	defer p.Close(context.Background())
	old := time.UnixMilli(1_500_000_000_000)
	md, err := p.SendSync(context.Background(), &Record{Topic: "create", Value: []byte("v"), Timestamp: old})
	require.NoError(t, err)
	require.Equal(t, old, md.Timestamp)
	require.Equal(t, old.UnixMilli(), readPartition(t, b, "create", 0)[0].timestamp)

	before := time.Now().Add(-time.Millisecond)
	md, err = p.SendSync(context.Background(), &Record{Topic: "append", Value: []byte("v"), Timestamp: old})
	require.NoError(t, err)
	require.True(t, md.Timestamp.After(before), "LogAppendTime overwrites the producer's timestamp: %v", md.Timestamp)
	require.Equal(t, md.Timestamp.UnixMilli(), readPartition(t, b, "append", 0)[0].timestamp, "metadata returns the stored timestamp")
}

func TestBufferFullBlocksThenFails(t *testing.T) {
	b := newBroker(t, map[string]commitlog.TopicConfig{"t": {}})
	// The first record's memory stays reserved while its callback runs (a
	// lingering batch would be sent at once for a Send waiting for room).
	p, err := New(b, Config{BufferMemory: new(int64(1000)), MaxBlock: new(200 * time.Millisecond), Linger: new(time.Duration(0))})
	require.NoError(t, err)
	release, written := make(chan struct{}), make(chan struct{})
	var md1 RecordMetadata
	var err1 error
	p.SendCallback(context.Background(), &Record{Topic: "t", Value: make([]byte, 600)}, func(_ context.Context, md RecordMetadata, err error) {
		md1, err1 = md, err
		close(written)
		<-release
	})
	<-written
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = p.SendSync(ctx, &Record{Topic: "t", Value: make([]byte, 600)})
	require.ErrorIs(t, err, ErrBufferFull)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.GreaterOrEqual(t, time.Since(start), 40*time.Millisecond, "Send blocked for room first")
	_, err = p.SendSync(context.Background(), &Record{Topic: "t", Value: make([]byte, 600)})
	require.ErrorIs(t, err, ErrBufferFull, "max.block.ms ends the wait")
	close(release)
	require.NoError(t, p.Close(context.Background()))
	require.NoError(t, err1)
	require.Equal(t, int64(0), md1.Offset)
	require.Len(t, readPartition(t, b, "t", 0), 1)
	_, err = p.SendSync(context.Background(), &Record{Topic: "t"})
	require.ErrorIs(t, err, commitlog.ErrClosed)
	require.NoError(t, p.Close(context.Background()), "Close is idempotent")
}

func TestCloseDrainsEverything(t *testing.T) {
	b := newBroker(t, map[string]commitlog.TopicConfig{"t": {Partitions: 3}})
	p, err := New(b, Config{Linger: new(time.Hour)})
	require.NoError(t, err)
	var futures []*Future
	for i := 0; i < 1000; i++ {
		futures = append(futures, p.Send(context.Background(), &Record{Topic: "t", Value: []byte(fmt.Sprint(i))}))
	}
	require.NoError(t, p.Close(context.Background()))
	for _, f := range futures {
		select {
		case <-f.Done():
		default:
			t.Fatal("Close returned before every future completed")
		}
		_, err := f.Result()
		require.NoError(t, err)
	}
	n := 0
	for id := int32(0); id < 3; id++ {
		n += len(readPartition(t, b, "t", id))
	}
	require.Equal(t, 1000, n)
}

func TestAcksNoneAndDeletedTopic(t *testing.T) {
	b := newBroker(t, map[string]commitlog.TopicConfig{"t": {}})
	p, err := New(b, Config{Acks: new(AcksNone)})
	require.NoError(t, err)
	md, err := p.SendSync(context.Background(), &Record{Topic: "t", Value: []byte("x")})
	require.NoError(t, err)
	require.Equal(t, int64(-1), md.Offset)
	require.NoError(t, p.Flush(context.Background()))
	require.Len(t, readPartition(t, b, "t", 0), 1)
	require.NoError(t, p.Close(context.Background()))

	p2, err := New(b, Config{})
	require.NoError(t, err)
	defer p2.Close(context.Background())
	_, err = p2.SendSync(context.Background(), &Record{Topic: "t", Value: []byte("x")})
	require.NoError(t, err)
	require.NoError(t, b.DeleteTopic("t"))
	_, err = p2.SendSync(context.Background(), &Record{Topic: "t", Value: []byte("x")})
	require.True(t, errors.Is(err, commitlog.ErrUnknownTopic), "%v", err)
}

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
	p.SendCallback(context.Background(), nil, func(_ context.Context, _ RecordMetadata, err error) { cbErr = err })
	require.ErrorIs(t, cbErr, commitlog.ErrInvalidRecord)
}

// TestKeylessRecordOnCompactedTopic: a record without a key sent to a
// compacted topic fails alone, in Send; it used to join a batch with other
// records, and the log refused the whole batch, failing records that were
// valid (sent by other goroutines, possibly).
func TestKeylessRecordOnCompactedTopic(t *testing.T) {
	b := newBroker(t, map[string]commitlog.TopicConfig{"c": {CleanupPolicy: commitlog.CleanupCompact}})
	p, err := New(b, Config{Linger: new(50 * time.Millisecond)})
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

// TestCloseCompletesRecordsOfARecreatedTopic: records lingering for a
// topic that is then deleted and created again are completed (with an
// error: their partition is gone) by Flush and Close, like every other
// record. The producer dropped their partition queue when the new topic's
// first record came, and Flush and Close no longer saw them: their futures
// stayed open (for the linger, or for good once the sender had stopped)
// and their buffer.memory stayed reserved.
func TestCloseCompletesRecordsOfARecreatedTopic(t *testing.T) {
	b := newBroker(t, map[string]commitlog.TopicConfig{"t": {}})
	p, err := New(b, Config{Linger: new(time.Hour)})
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
	require.Equal(t, int64(DefaultBufferMemory), p.mem.avail.Load(), "buffer.memory all given back")
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
		p.SendCallback(context.Background(), &Record{Topic: "t", Value: []byte("x")}, func(ctx context.Context, _ RecordMetadata, _ error) {
			defer close(done)
			flushErr = p.Flush(ctx)
		})
		wait(t, done)
		require.ErrorIs(t, flushErr, ErrFlushInCallback)
	})
	t.Run("close", func(t *testing.T) {
		p, err := New(b, Config{Linger: new(time.Hour)})
		require.NoError(t, err)
		done := make(chan struct{})
		var closeErr, sendErr error
		var other *Future
		p.SendCallback(context.Background(), &Record{Topic: "t", Partition: 0, ExplicitPartition: true, Value: []byte("x")}, func(ctx context.Context, _ RecordMetadata, _ error) {
			defer close(done)
			closeErr = p.Close(ctx)
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
	go p.SendCallback(context.Background(), &Record{Topic: "nope"}, func(_ context.Context, _ RecordMetadata, err error) {
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

type testCtxKey struct{}

// TestFlushAndCloseFromCallbackAnyContext: called from a callback, at any
// depth, with the callback's ctx or any ctx derived from it (cancelled,
// with a deadline, with a value), Flush and Close return at once and lose
// nothing: Flush sends the records lingering on other partitions and
// returns ErrFlushInCallback; Close stops accepting records and the
// producer finishes the close once the callback has returned.
func TestFlushAndCloseFromCallbackAnyContext(t *testing.T) {
	ctxs := map[string]func(cb context.Context) context.Context{
		"callback's": func(cb context.Context) context.Context { return cb },
		"cancelled": func(cb context.Context) context.Context {
			ctx, cancel := context.WithCancel(cb)
			cancel()
			return ctx
		},
		"timeout": func(cb context.Context) context.Context {
			ctx, cancel := context.WithTimeout(cb, time.Hour)
			t.Cleanup(cancel)
			return ctx
		},
		"value": func(cb context.Context) context.Context { return context.WithValue(cb, testCtxKey{}, 1) },
	}
	for name, ctx := range ctxs {
		for _, op := range []string{"flush", "close"} {
			for _, depth := range []int{0, 100} {
				t.Run(fmt.Sprintf("%s/%s/depth=%d", op, name, depth), func(t *testing.T) {
					b := newBroker(t, map[string]commitlog.TopicConfig{"t": {Partitions: 2}})
					// A record over batch.size is sent at once; a small one
					// lingers for the hour.
					p, err := New(b, Config{BatchSize: new(100), Linger: new(time.Hour)})
					require.NoError(t, err)
					defer p.Close(context.Background())
					other := p.Send(context.Background(), &Record{Topic: "t", Partition: 1, ExplicitPartition: true, Value: []byte("y")})
					var opErr error
					var late *Future
					done := make(chan struct{})
					p.SendCallback(context.Background(), &Record{Topic: "t", Partition: 0, ExplicitPartition: true, Value: make([]byte, 200)}, func(cbCtx context.Context, _ RecordMetadata, err error) {
						defer close(done)
						require.NoError(t, err)
						ctx := ctx(cbCtx)
						deep(depth, func() {
							if op == "flush" {
								opErr = p.Flush(ctx)
							} else {
								opErr = p.Close(ctx)
							}
						})
						// Not waited for here: its batch goes after this one.
						late = p.Send(context.Background(), &Record{Topic: "t", Partition: 0, ExplicitPartition: true, Value: []byte("late")})
					})
					waitOrHang(t, done, "the callback's "+op)
					waitOrHang(t, other.Done(), "the record lingering on the other partition")
					_, err = other.Result()
					require.NoError(t, err)
					if op == "flush" {
						require.ErrorIs(t, opErr, ErrFlushInCallback)
						require.NoError(t, p.Flush(context.Background()), "Flush outside the callback waits")
						_, err = late.Result()
						require.NoError(t, err)
					} else {
						require.NoError(t, opErr)
						_, err = late.Wait(context.Background())
						require.ErrorIs(t, err, commitlog.ErrClosed)
					}
					closed := make(chan struct{})
					go func() {
						defer close(closed)
						require.NoError(t, p.Close(context.Background()))
						require.NoError(t, p.Close(context.Background()), "Close is idempotent")
					}()
					waitOrHang(t, closed, "Close after the callback")
					written := len(readPartition(t, b, "t", 0)) + len(readPartition(t, b, "t", 1))
					if op == "flush" {
						require.Equal(t, 3, written)
					} else {
						require.Equal(t, 2, written)
					}
				})
			}
		}
	}
}

// TestFlushAndCloseWaitForRunningCallbacks: Flush and Close called outside
// a callback while one runs wait until it has returned, and a future
// completes only after the callbacks of its batch up to its record: the
// callbacks stay on the sender, before the futures, as in Kafka.
func TestFlushAndCloseWaitForRunningCallbacks(t *testing.T) {
	b := newBroker(t, map[string]commitlog.TopicConfig{"t": {}})
	p, err := New(b, Config{Linger: new(time.Duration(0))})
	require.NoError(t, err)
	started, release := make(chan struct{}), make(chan struct{})
	var returned atomic.Bool
	p.SendCallback(context.Background(), &Record{Topic: "t", Value: []byte("x")}, func(context.Context, RecordMetadata, error) {
		close(started)
		<-release
		returned.Store(true)
	})
	<-started
	f := p.Send(context.Background(), &Record{Topic: "t", Value: []byte("y")})
	flushed, closed := make(chan error, 1), make(chan error, 1)
	go func() { flushed <- p.Flush(context.Background()) }()
	go func() { closed <- p.Close(context.Background()) }()
	select {
	case err := <-flushed:
		t.Fatalf("Flush returned (%v) while the callback of a record sent before it ran", err)
	case err := <-closed:
		t.Fatalf("Close returned (%v) while a callback ran", err)
	case <-f.Done():
		t.Fatal("a later record completed while a callback ran")
	case <-time.After(50 * time.Millisecond):
	}
	close(release)
	require.NoError(t, <-flushed)
	require.True(t, returned.Load())
	require.NoError(t, <-closed)
	_, err = f.Result()
	require.NoError(t, err)
}

// TestCallbacksInOrderBeforeFutures: one partition's callbacks run in
// record order, each before the future of every later record completes,
// across many batches.
func TestCallbacksInOrderBeforeFutures(t *testing.T) {
	b := newBroker(t, map[string]commitlog.TopicConfig{"t": {}})
	p, err := New(b, Config{BatchSize: new(300), Linger: new(time.Duration(0))})
	require.NoError(t, err)
	defer p.Close(context.Background())
	const n = 300
	var mu sync.Mutex
	var ran []int
	var offsets []int64
	futures := make([]*Future, n)
	for i := range n {
		p.SendCallback(context.Background(), &Record{Topic: "t", Value: []byte(fmt.Sprint(i))}, func(_ context.Context, md RecordMetadata, err error) {
			require.NoError(t, err)
			mu.Lock()
			ran = append(ran, i)
			offsets = append(offsets, md.Offset)
			mu.Unlock()
		})
		futures[i] = p.Send(context.Background(), &Record{Topic: "t", Value: []byte("f")})
	}
	for i, f := range futures {
		_, err := f.Wait(context.Background())
		require.NoError(t, err)
		mu.Lock()
		require.GreaterOrEqual(t, len(ran), i+1, "future %d completed before the callback of the record sent before it", i)
		mu.Unlock()
	}
	require.NoError(t, p.Flush(context.Background()))
	require.Len(t, ran, n)
	for i := range ran {
		require.Equal(t, i, ran[i])
		require.Equal(t, int64(2*i), offsets[i])
	}
}

// TestCallbackOfOneProducerFlushesAnother: a callback of one producer may
// flush and close another, which waits as usual.
func TestCallbackOfOneProducerFlushesAnother(t *testing.T) {
	b := newBroker(t, map[string]commitlog.TopicConfig{"a": {}, "b": {}})
	pa, err := New(b, Config{Linger: new(time.Duration(0))})
	require.NoError(t, err)
	defer pa.Close(context.Background())
	pb, err := New(b, Config{Linger: new(time.Hour)})
	require.NoError(t, err)
	fb := pb.Send(context.Background(), &Record{Topic: "b", Value: []byte("b")})
	var flushErr, closeErr error
	done := make(chan struct{})
	pa.SendCallback(context.Background(), &Record{Topic: "a", Value: []byte("a")}, func(context.Context, RecordMetadata, error) {
		defer close(done)
		flushErr = pb.Flush(context.Background())
		closeErr = pb.Close(context.Background())
	})
	waitOrHang(t, done, "callback")
	require.NoError(t, flushErr)
	require.NoError(t, closeErr)
	select {
	case <-fb.Done():
	default:
		t.Fatal("the other producer's Flush returned before its record completed")
	}
	_, err = fb.Result()
	require.NoError(t, err)
}

// TestCloseAgainAfterItsContextEnded: a Close whose context ends after it
// stopped the senders, before they were all gone, left the producer half
// closed, and the next Close closed the stop channel again and panicked.
func TestCloseAgainAfterItsContextEnded(t *testing.T) {
	b := newBroker(t, map[string]commitlog.TopicConfig{"t": {}})
	done, cancel := context.WithCancel(context.Background())
	cancel()
	for i := range 200 {
		p, err := New(b, Config{Linger: new(time.Hour)})
		require.NoError(t, err)
		var f *Future
		if i%2 == 1 {
			f = p.Send(context.Background(), &Record{Topic: "t", Value: []byte("x")})
		}
		if err := p.Close(done); err != nil {
			require.ErrorIs(t, err, context.Canceled)
		}
		require.NoError(t, p.Close(context.Background()))
		require.NoError(t, p.Close(done), "a closed producer's Close returns nil whatever its context")
		if f != nil {
			_, err := f.Result()
			require.NoError(t, err)
		}
	}
	require.Len(t, readPartition(t, b, "t", 0), 100)
}

// TestRecordSizeLimit: the largest record is what the partition's log
// accepts in one batch (the topic's max.message.bytes, Kafka's 1048588 by
// default, less the batch header), and max.request.size.
func TestRecordSizeLimit(t *testing.T) {
	for _, tc := range []struct {
		name     string
		topic    commitlog.TopicConfig
		cfg      Config
		value    int
		tooLarge bool
	}{
		{"default max.message.bytes, fits", commitlog.TopicConfig{}, Config{}, 1048400, false},
		// Below max.request.size (1 MiB), over max.message.bytes' default.
		{"default max.message.bytes, over it", commitlog.TopicConfig{}, Config{}, 1048540, true},
		{"larger max.message.bytes", commitlog.TopicConfig{MaxMessageBytes: new(4 << 20)}, Config{MaxRequestSize: new(4 << 20)}, 2 << 20, false},
		{"larger max.message.bytes, over max.request.size", commitlog.TopicConfig{MaxMessageBytes: new(4 << 20)}, Config{}, 2 << 20, true},
		{"smaller max.message.bytes", commitlog.TopicConfig{MaxMessageBytes: new(1000)}, Config{}, 1000, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := newBroker(t, map[string]commitlog.TopicConfig{"t": tc.topic})
			p, err := New(b, tc.cfg)
			require.NoError(t, err)
			defer p.Close(context.Background())
			_, err = p.SendSync(context.Background(), &Record{Topic: "t", Value: make([]byte, tc.value)})
			if tc.tooLarge {
				require.ErrorIs(t, err, commitlog.ErrRecordTooLarge)
				require.Contains(t, err.Error(), "producer: record of", "refused by the producer, alone, not by the log")
				return
			}
			require.NoError(t, err)
			require.Len(t, readPartition(t, b, "t", 0), 1)
		})
	}
}

// TestFlushWaitsForRecordsOfARecreatedTopic: Flush waits for the records
// of a topic deleted and created again as for every other record sent
// before it. Once the new topic's first record had replaced their
// partition queue, Flush no longer saw them and returned while their
// callbacks had not run.
func TestFlushWaitsForRecordsOfARecreatedTopic(t *testing.T) {
	b := newBroker(t, map[string]commitlog.TopicConfig{"t": {}})
	p, err := New(b, Config{Linger: new(time.Hour)})
	require.NoError(t, err)
	defer p.Close(context.Background())
	release, called := make(chan struct{}), make(chan struct{})
	p.SendCallback(context.Background(), &Record{Topic: "t", Value: []byte("old")}, func(context.Context, RecordMetadata, error) {
		close(called)
		<-release
	})
	require.NoError(t, b.DeleteTopic("t"))
	_, err = b.CreateTopic("t", commitlog.TopicConfig{})
	require.NoError(t, err)
	p.Send(context.Background(), &Record{Topic: "t", Value: []byte("new")}) // retires the old queue, which sends at once
	waitOrHang(t, called, "the old record's callback")
	flushed := make(chan error, 1)
	go func() { flushed <- p.Flush(context.Background()) }()
	select {
	case err := <-flushed:
		t.Fatalf("Flush returned (%v) while the callback of a record sent before it runs", err)
	case <-time.After(50 * time.Millisecond):
	}
	close(release)
	select {
	case err := <-flushed:
		require.NoError(t, err)
	case <-time.After(20 * time.Second):
		t.Fatal("hang: Flush after the callback returned")
	}
}

// TestRecordBound: recordBound is never below what a record takes in a
// batch, at any offset or timestamp delta.
func TestRecordBound(t *testing.T) {
	for _, rec := range []Record{
		{},
		{Value: []byte{}},
		{Key: []byte("k"), Value: make([]byte, 100)},
		{Value: make([]byte, 1<<20)},
		{Key: make([]byte, 300), Value: make([]byte, 70000), Headers: []Header{{Key: "a", Value: []byte("b")}, {Key: "c"}}},
	} {
		bound := recordBound(&rec)
		for _, d := range []struct {
			off int32
			ts  int64
		}{{0, 0}, {1 << 30, 0}, {0, -1 << 62}, {1<<31 - 1, 1<<63 - 1}} {
			require.LessOrEqual(t, record.RecordSize(d.off, d.ts, rec.Key, rec.Value, rec.Headers), bound, "%d-byte key, %d-byte value, deltas %v", len(rec.Key), len(rec.Value), d)
		}
	}
}
