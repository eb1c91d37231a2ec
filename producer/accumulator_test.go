package producer

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/commitlog-go/commitlog"
	"github.com/commitlog-go/commitlog/record"
	"github.com/commitlog-go/commitlog/vfs"
	"github.com/stretchr/testify/require"
)

// TestFullBufferSendsLingeringBatches: when buffer.memory is exhausted,
// batches are sent without waiting out linger.ms (Kafka's accumulator
// counts them ready while anyone waits for memory), so a Send blocked for
// room gets it as soon as the batches are written. It used to wait for the
// linger to expire, and with linger.ms above max.block.ms it failed with
// ErrBufferFull though sending would have made room.
func TestFullBufferSendsLingeringBatches(t *testing.T) {
	b := newBroker(t, map[string]commitlog.TopicConfig{"t": {Partitions: 2}})
	p, err := New(b, Config{BufferMemory: new(int64(4096)), MaxBlock: new(2 * time.Second), Linger: new(time.Minute)})
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

// countBatches returns the number of batches in partition 0 of topic.
func countBatches(t *testing.T, b *commitlog.Broker, topic string) int {
	t.Helper()
	tp, err := b.Topic(topic)
	require.NoError(t, err)
	data, err := tp.Partitions()[0].Read(nil, 0, 1<<30)
	require.NoError(t, err)
	n := 0
	require.NoError(t, record.Batches(data, func(*record.BatchHeader, []byte) error { n++; return nil }))
	return n
}

// TestWaitedRecordsDoNotLinger: SendSync, Future.Wait and Future.Result
// send the record's batch without waiting out linger.ms (an hour here:
// the test hangs if they wait), together with the records already in it.
// SendSync used to wait out linger.ms for every record.
func TestWaitedRecordsDoNotLinger(t *testing.T) {
	ctx := context.Background()
	for _, how := range []string{"SendSync", "Wait", "Result"} {
		t.Run(how, func(t *testing.T) {
			b := newBroker(t, map[string]commitlog.TopicConfig{"t": {}})
			p, err := New(b, Config{Linger: new(time.Hour)})
			require.NoError(t, err)
			defer p.Close(ctx)
			for round := int64(0); round < 3; round++ {
				queued := p.Send(ctx, &Record{Topic: "t", Value: []byte("queued")})
				done := make(chan struct{})
				var md RecordMetadata
				go func() {
					defer close(done)
					rec := &Record{Topic: "t", Value: []byte("waited")}
					switch how {
					case "SendSync":
						md, err = p.SendSync(ctx, rec)
					case "Wait":
						md, err = p.Send(ctx, rec).Wait(ctx)
					case "Result":
						md, err = p.Send(ctx, rec).Result()
					}
				}()
				waitOrHang(t, done, how+" of a lingering record")
				require.NoError(t, err)
				require.Equal(t, 2*round+1, md.Offset)
				select {
				case <-queued.Done():
				default:
					t.Fatal("the record queued before the waited one went in another batch")
				}
				qmd, err := queued.Result()
				require.NoError(t, err)
				require.Equal(t, 2*round, qmd.Offset)
			}
			require.Equal(t, 3, countBatches(t, b, "t"), "one batch per waited record, holding the record queued before it")
		})
	}
}

// TestFuturesOfOneBatch: the Futures of the records of one batch (carved
// from slabs of growing size) each report their own record.
func TestFuturesOfOneBatch(t *testing.T) {
	b := newBroker(t, map[string]commitlog.TopicConfig{"t": {}})
	p, err := New(b, Config{Linger: new(time.Hour)})
	require.NoError(t, err)
	defer p.Close(context.Background())
	const n = 300
	futures := make([]*Future, n)
	for i := range futures {
		futures[i] = p.Send(context.Background(), &Record{Topic: "t", Value: []byte("v"), Timestamp: time.UnixMilli(int64(1000 + i))})
	}
	require.NoError(t, p.Flush(context.Background()))
	for i, f := range futures {
		md, err := f.Result()
		require.NoError(t, err)
		require.Equal(t, RecordMetadata{Topic: "t", Partition: 0, Offset: int64(i), Timestamp: time.UnixMilli(int64(1000 + i))}, md)
	}
	require.Equal(t, 1, countBatches(t, b, "t"))
}

// TestTimestampIsQueueTime: a record without a timestamp is stamped with
// the time it is queued: the first of a batch with a clock read of its
// own, the later ones with the producer's cached reading (see clock),
// which is never later than their Send and never goes back.
func TestTimestampIsQueueTime(t *testing.T) {
	b := newBroker(t, map[string]commitlog.TopicConfig{"t": {}})
	p, err := New(b, Config{Linger: new(time.Hour)})
	require.NoError(t, err)
	defer p.Close(context.Background())
	type span struct{ before, after int64 }
	var spans []span
	var futures []*Future
	for range 6 {
		before := time.Now().UnixMilli()
		futures = append(futures, p.Send(context.Background(), &Record{Topic: "t", Value: []byte("v")}))
		spans = append(spans, span{before, time.Now().UnixMilli()})
		time.Sleep(3 * time.Millisecond)
	}
	require.NoError(t, p.Flush(context.Background()))
	stored := readPartition(t, b, "t", 0)
	require.Len(t, stored, len(futures))
	prev := int64(0)
	for i, f := range futures {
		md, err := f.Result()
		require.NoError(t, err)
		ts := md.Timestamp.UnixMilli()
		if i == 0 {
			require.GreaterOrEqual(t, ts, spans[i].before, "the batch's first record reads the clock")
		} else {
			// A tick late, or however late the clock's goroutine ran on a
			// busy machine: bounded loosely here, exactly in TestClock.
			require.Greater(t, ts, spans[i].before-1000, "record %d", i)
		}
		require.LessOrEqual(t, ts, spans[i].after, "record %d", i)
		require.GreaterOrEqual(t, ts, prev, "record %d", i)
		require.Equal(t, ts, stored[i].timestamp)
		prev = ts
	}
	require.Equal(t, 1, countBatches(t, b, "t"))
	require.NoError(t, p.Close(context.Background()))
	p.clock.mu.Lock()
	defer p.clock.mu.Unlock()
	require.True(t, p.clock.stopped, "Close stops the clock's goroutine")
	require.False(t, p.clock.running)
}

// syncCounter counts the fsyncs of segment files (*.log).
type syncCounter struct {
	vfs.FS
	n atomic.Int64
}

type countedFile struct {
	vfs.File
	n *atomic.Int64
}

func (f countedFile) Sync() error { f.n.Add(1); return f.File.Sync() }

func (c *syncCounter) OpenFile(name string, flag int, perm fs.FileMode) (vfs.File, error) {
	f, err := c.FS.OpenFile(name, flag, perm)
	if err != nil || !strings.HasSuffix(name, ".log") {
		return f, err
	}
	return countedFile{f, &c.n}, nil
}

// blockSender sends a record to partition 0 of topic whose callback holds
// the partition's sender until the returned function is called.
func blockSender(t *testing.T, p *Producer, topic string) (release func()) {
	t.Helper()
	started, unblock := make(chan struct{}), make(chan struct{})
	p.SendCallback(context.Background(), &Record{Topic: topic, Value: []byte("blocker")}, func(_ context.Context, _ RecordMetadata, err error) {
		require.NoError(t, err)
		close(started)
		<-unblock
	})
	waitOrHang(t, started, "the blocking callback")
	return func() { close(unblock) }
}

// TestDurableBatchesShareOneFsync: with acks=all and Fsync, the batches
// that gathered while the sender was busy are written together and
// fsynced once, not once each as they used to be.
func TestDurableBatchesShareOneFsync(t *testing.T) {
	fsys := &syncCounter{FS: vfs.OS}
	b, err := commitlog.Open(t.TempDir(), commitlog.WithFS(fsys), commitlog.WithoutExpvar())
	require.NoError(t, err)
	defer b.Close()
	_, err = b.CreateTopic("t", commitlog.TopicConfig{})
	require.NoError(t, err)
	p, err := New(b, Config{Fsync: true, BatchSize: new(0), Linger: new(time.Duration(0))})
	require.NoError(t, err)
	defer p.Close(context.Background())
	release := blockSender(t, p, "t")
	var futures []*Future
	for i := range 9 {
		futures = append(futures, p.Send(context.Background(), &Record{Topic: "t", Value: fmt.Appendf(nil, "%d", i)}))
	}
	fsys.n.Store(0)
	release()
	for i, f := range futures {
		md, err := f.Wait(context.Background())
		require.NoError(t, err)
		require.Equal(t, int64(i+1), md.Offset)
	}
	require.Equal(t, int64(1), fsys.n.Load(), "9 batches, one fsync")
	require.Equal(t, 10, countBatches(t, b, "t"), "batch.size=0: a batch per record")
}

// TestSealerEncodesForBackloggedSender: while the sender is held up, the
// batches that pile up behind another (prebuildReady) are encoded by the Send
// that seals them; they are written as they were sent, and a record whose
// context ends before the sender takes its already encoded batch is still
// left out.
func TestSealerEncodesForBackloggedSender(t *testing.T) {
	for _, comp := range []record.Compression{record.None, record.GZIP, record.Snappy, record.LZ4, record.ZSTD} {
		t.Run(comp.String(), func(t *testing.T) {
			b := newBroker(t, map[string]commitlog.TopicConfig{"t": {}})
			p, err := New(b, Config{Compression: comp, Acks: new(AcksLeader), BatchSize: new(16 << 10)})
			require.NoError(t, err)
			defer p.Close(context.Background())
			release := blockSender(t, p, "t")
			value := func(i int) []byte { return fmt.Appendf(bytes.Repeat([]byte{'v'}, 1000), "%d", i) }
			const n = 600 // 600 KB: most of it beyond the backlog threshold
			ctx, cancel := context.WithCancel(context.Background())
			const dropped = n - 20
			var futures []*Future
			for i := range n {
				sctx := context.Background()
				if i == dropped {
					sctx = ctx
				}
				futures = append(futures, p.Send(sctx, &Record{Topic: "t", Value: value(i)}))
			}
			q := p.topicsForTest(t, "t")[0]
			q.mu.Lock()
			encoded := 0
			for _, bt := range q.ready {
				bt.buildMu.Lock()
				if bt.encoded {
					encoded++
				}
				bt.buildMu.Unlock()
			}
			q.mu.Unlock()
			require.NotZero(t, encoded, "batches encoded by their sealer")
			cancel()
			release()
			require.NoError(t, p.Flush(context.Background()))
			stored := readPartition(t, b, "t", 0)
			require.Len(t, stored, n) // the blocker, and every record but the dropped one
			require.Equal(t, "blocker", stored[0].val)
			at := 1
			for i, f := range futures {
				md, err := f.Result()
				if i == dropped {
					require.ErrorIs(t, err, context.Canceled)
					continue
				}
				require.NoError(t, err)
				require.Equal(t, int64(at), md.Offset)
				require.Equal(t, string(value(i)), stored[at].val)
				at++
			}
		})
	}
}

// topicsForTest returns the partition queues of topic.
func (p *Producer) topicsForTest(t *testing.T, topic string) []*partQueue {
	t.Helper()
	m := p.topics.Load()
	require.NotNil(t, m)
	tq := (*m)[topic]
	require.NotNil(t, tq)
	return tq.queues()
}
