package clienttest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/commitlog-go/commitlog"
	"github.com/commitlog-go/commitlog/producer"
)

// The producer's cases: what a program sees of Send, SendSync,
// SendCallback, Flush and Close, the same on every backend. Records are
// checked through their RecordMetadata and the admin client's offsets
// (reading them back is the consumer's cases' concern).

func init() {
	register("producer/order-per-partition", producerOrderPerPartition)
	register("producer/metadata", producerMetadata)
	register("producer/errors", producerErrors)
	register("producer/buffer-full", producerBufferFull)
	register("producer/callback-scope", producerCallbackScope)
	register("producer/close-from-callback", producerCloseFromCallback)
}

// producerOrderPerPartition: records sent to a partition get dense offsets
// in send order, whichever way they are sent, and the partition's latest
// offset counts them.
func producerOrderPerPartition(t *testing.T, env *Env) {
	b := env.Open(t)
	ctx := caseCtx(t)
	const parts, perPart = 3, 50
	createTopic(t, b, "order", parts)
	p := newProducer(t, b, producer.Config{Linger: new(2 * time.Millisecond)})
	var mu sync.Mutex // guards got
	got := map[int32][]int64{}
	var futures []*producer.Future
	for i := range parts * perPart {
		rec := &producer.Record{Topic: "order", Partition: int32(i % parts), ExplicitPartition: true,
			Key: fmt.Appendf(nil, "k%d", i), Value: fmt.Appendf(nil, "v%d", i)}
		if i%3 != 1 {
			futures = append(futures, p.Send(ctx, rec))
			continue
		}
		p.SendCallback(ctx, rec, func(_ context.Context, md producer.RecordMetadata, err error) {
			if err != nil {
				t.Errorf("record %d: %v", i, err)
				return
			}
			mu.Lock()
			got[md.Partition] = append(got[md.Partition], md.Offset)
			mu.Unlock()
		})
	}
	require.NoError(t, p.Flush(ctx))
	for _, f := range futures {
		select {
		case <-f.Done():
		default:
			t.Fatal("a Future is not done after Flush")
		}
		md, err := f.Result()
		require.NoError(t, err)
		got[md.Partition] = append(got[md.Partition], md.Offset)
	}
	offs, err := newAdmin(t, b).ListOffsets(ctx, "order")
	require.NoError(t, err)
	require.Len(t, offs, parts)
	for id := range int32(parts) {
		o := got[id]
		require.Len(t, o, perPart, "partition %d", id)
		seen := map[int64]bool{}
		for _, off := range o {
			require.False(t, seen[off], "offset %d of partition %d twice", off, id)
			seen[off] = true
			require.True(t, off >= 0 && off < perPart, "offset %d of partition %d", off, id)
		}
		require.Equal(t, int64(0), offs[id].Earliest)
		require.Equal(t, int64(perPart), offs[id].Latest, "partition %d", id)
	}
	// Per partition, offsets follow send order: with one producer the
	// records of a partition are sent in order.
	var last [parts]int64
	for i := range last {
		last[i] = -1
	}
	for i := range 30 {
		md, err := p.SendSync(ctx, &producer.Record{Topic: "order", Partition: int32(i % parts), ExplicitPartition: true, Value: []byte("x")})
		require.NoError(t, err)
		require.Equal(t, int32(i%parts), md.Partition)
		if last[md.Partition] >= 0 {
			require.Equal(t, last[md.Partition]+1, md.Offset)
		} else {
			require.Equal(t, int64(perPart), md.Offset)
		}
		last[md.Partition] = md.Offset
	}
}

// producerMetadata: SendSync, Future.Wait and callbacks report the topic,
// partition, offset and the record's own CreateTime.
func producerMetadata(t *testing.T, env *Env) {
	b := env.Open(t)
	ctx := caseCtx(t)
	createTopic(t, b, "md", 2)
	p := newProducer(t, b, producer.Config{})
	ts := time.UnixMilli(1_700_000_000_123)
	md, err := p.SendSync(ctx, &producer.Record{Topic: "md", Partition: 1, ExplicitPartition: true, Value: []byte("a"), Timestamp: ts})
	require.NoError(t, err)
	require.Equal(t, "md", md.Topic)
	require.Equal(t, int32(1), md.Partition)
	require.Equal(t, int64(0), md.Offset)
	require.True(t, md.Timestamp.Equal(ts), "timestamp %v, want %v", md.Timestamp, ts)

	md, err = p.Send(ctx, &producer.Record{Topic: "md", Partition: 1, ExplicitPartition: true, Value: []byte("b"), Timestamp: ts.Add(time.Second)}).Wait(ctx)
	require.NoError(t, err)
	require.Equal(t, int64(1), md.Offset)
	require.True(t, md.Timestamp.Equal(ts.Add(time.Second)))

	// A record without a timestamp is stamped about when it is sent.
	before := time.Now().Add(-time.Minute)
	md, err = p.SendSync(ctx, &producer.Record{Topic: "md", Partition: 0, ExplicitPartition: true, Value: []byte("c")})
	require.NoError(t, err)
	require.Equal(t, int64(0), md.Offset)
	require.True(t, md.Timestamp.After(before), "timestamp %v", md.Timestamp)

	// acks=0: done once queued, offset -1.
	p0 := newProducer(t, b, producer.Config{Acks: new(producer.AcksNone)})
	md, err = p0.SendSync(ctx, &producer.Record{Topic: "md", Partition: 0, ExplicitPartition: true, Value: []byte("d")})
	require.NoError(t, err)
	require.Equal(t, int64(-1), md.Offset)
	require.NoError(t, p0.Close(ctx))
}

// producerErrors: the sentinel errors of bad records match with errors.Is
// the same way on every backend.
func producerErrors(t *testing.T, env *Env) {
	b := env.Open(t)
	ctx := caseCtx(t)
	createTopic(t, b, "errs", 2)
	p := newProducer(t, b, producer.Config{MaxRequestSize: new(1000)})

	_, err := p.SendSync(ctx, &producer.Record{Topic: "no-such-topic", Value: []byte("x")})
	require.ErrorIs(t, err, commitlog.ErrUnknownTopic)

	_, err = p.SendSync(ctx, &producer.Record{Topic: "errs", Partition: 7, ExplicitPartition: true, Value: []byte("x")})
	require.ErrorIs(t, err, commitlog.ErrUnknownPartition)

	_, err = p.SendSync(ctx, &producer.Record{Topic: "errs", Value: make([]byte, 2000)})
	require.ErrorIs(t, err, commitlog.ErrRecordTooLarge)

	_, err = p.SendSync(ctx, nil)
	require.ErrorIs(t, err, commitlog.ErrInvalidRecord)

	done, cancel := context.WithCancel(ctx)
	cancel()
	_, err = p.SendSync(done, &producer.Record{Topic: "errs", Value: []byte("x")})
	require.ErrorIs(t, err, context.Canceled)

	// The producer still works after failed records.
	_, err = p.SendSync(ctx, &producer.Record{Topic: "errs", Value: []byte("ok")})
	require.NoError(t, err)

	require.NoError(t, p.Close(ctx))
	require.NoError(t, p.Close(ctx), "Close is idempotent")
	_, err = p.SendSync(ctx, &producer.Record{Topic: "errs", Value: []byte("x")})
	require.ErrorIs(t, err, commitlog.ErrClosed)
	var cbErr error
	p.SendCallback(ctx, &producer.Record{Topic: "errs", Value: []byte("x")}, func(_ context.Context, _ producer.RecordMetadata, err error) { cbErr = err })
	require.ErrorIs(t, cbErr, commitlog.ErrClosed, "a record failed before it is queued calls back at once")
	require.NoError(t, p.Flush(ctx), "Flush of a closed producer has nothing to do")
}

// producerBufferFull: with buffer.memory held by records whose partition
// cannot complete them (its callback blocks), Send fails with
// ErrBufferFull once max.block.ms has passed.
func producerBufferFull(t *testing.T, env *Env) {
	b := env.Open(t)
	ctx := caseCtx(t)
	createTopic(t, b, "full", 1)
	p := newProducer(t, b, producer.Config{BufferMemory: new(int64(1500)), MaxBlock: new(20 * time.Millisecond), Linger: new(time.Duration(0))})
	entered, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	rec := func() *producer.Record { return &producer.Record{Topic: "full", Value: make([]byte, 500)} }
	p.SendCallback(ctx, rec(), func(context.Context, producer.RecordMetadata, error) {
		once.Do(func() { close(entered) })
		<-release
	})
	<-entered
	// The sender (or the driver's completion) is stuck in the callback:
	// the records sent now hold their bytes until it returns.
	var futures []*producer.Future
	full := false
	for range 5 {
		f := p.Send(ctx, rec())
		futures = append(futures, f)
		select {
		case <-f.Done():
			if _, err := f.Result(); errors.Is(err, producer.ErrBufferFull) {
				full = true
			}
		default:
		}
		if full {
			break
		}
	}
	require.True(t, full, "a Send fails with ErrBufferFull while buffer.memory is held")
	close(release)
	require.NoError(t, p.Flush(ctx))
	for _, f := range futures[:len(futures)-1] {
		_, err := f.Result()
		require.NoError(t, err, "the records that fit are written")
	}
}

// producerCallbackScope: Flush called from a callback with its ctx does
// not wait for the callback (ErrFlushInCallback), and the callbacks of a
// partition run in record order.
func producerCallbackScope(t *testing.T, env *Env) {
	b := env.Open(t)
	ctx := caseCtx(t)
	createTopic(t, b, "scope", 1)
	p := newProducer(t, b, producer.Config{})
	var order []int
	flushErr := make(chan error, 1)
	for i := range 20 {
		p.SendCallback(ctx, &producer.Record{Topic: "scope", Value: []byte("x")}, func(cctx context.Context, _ producer.RecordMetadata, err error) {
			if err != nil {
				t.Errorf("record %d: %v", i, err)
			}
			order = append(order, i) // callbacks of a partition run one at a time
			if i == 10 {
				flushErr <- p.Flush(cctx)
				// A record sent from a callback is accepted.
				p.SendCallback(cctx, &producer.Record{Topic: "scope", Value: []byte("from callback")}, func(context.Context, producer.RecordMetadata, error) {})
			}
		})
	}
	require.NoError(t, p.Flush(ctx))
	require.ErrorIs(t, <-flushErr, producer.ErrFlushInCallback)
	want := make([]int, 20)
	for i := range want {
		want[i] = i
	}
	require.Equal(t, want, order)
	require.NoError(t, p.Close(ctx))
}

// producerCloseFromCallback: Close called from a callback with its ctx
// returns at once; the producer finishes closing once the callback has
// returned, a Close elsewhere waits for that, and later sends fail with
// ErrClosed.
func producerCloseFromCallback(t *testing.T, env *Env) {
	b := env.Open(t)
	ctx := caseCtx(t)
	createTopic(t, b, "closecb", 1)
	p := newProducer(t, b, producer.Config{})
	closed := make(chan error, 1)
	f := p.Send(ctx, &producer.Record{Topic: "closecb", Value: []byte("y")})
	p.SendCallback(ctx, &producer.Record{Topic: "closecb", Value: []byte("x")}, func(cctx context.Context, _ producer.RecordMetadata, err error) {
		if err != nil {
			t.Errorf("record: %v", err)
		}
		closed <- p.Close(cctx)
	})
	require.NoError(t, <-closed)
	require.NoError(t, p.Close(ctx), "a Close elsewhere waits for the close begun in the callback")
	_, err := f.Result()
	require.NoError(t, err, "a record sent before the close is written")
	_, err = p.SendSync(ctx, &producer.Record{Topic: "closecb", Value: []byte("z")})
	require.ErrorIs(t, err, commitlog.ErrClosed)
}
