package producer

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/commitlog-go/commitlog"
	"github.com/commitlog-go/commitlog/record"
	"github.com/stretchr/testify/require"
)

func logEnd(t *testing.T, b *commitlog.Broker, topic string) int64 {
	t.Helper()
	tp, err := b.Topic(topic)
	require.NoError(t, err)
	p, err := tp.Partition(0)
	require.NoError(t, err)
	return p.LogEndOffset()
}

// TestSendWithDoneContextWritesNothing: a Send, SendSync or SendCallback
// whose context is already done fails with ctx.Err() and its record never
// reaches the log. Before the fix the record was queued and written all
// the same (only a full buffer.memory looked at the context).
func TestSendWithDoneContextWritesNothing(t *testing.T) {
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	expired, cancel2 := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel2()
	sends := map[string]func(p *Producer, ctx context.Context, rec *Record) error{
		"Send": func(p *Producer, ctx context.Context, rec *Record) error {
			_, err := p.Send(ctx, rec).Wait(context.Background())
			return err
		},
		"SendSync": func(p *Producer, ctx context.Context, rec *Record) error {
			_, err := p.SendSync(ctx, rec)
			return err
		},
		"SendCallback": func(p *Producer, ctx context.Context, rec *Record) error {
			done := make(chan error, 1)
			p.SendCallback(ctx, rec, func(_ context.Context, _ RecordMetadata, err error) { done <- err })
			return <-done
		},
	}
	for _, acks := range []Acks{AcksNone, AcksLeader, AcksAll} {
		for name, send := range sends {
			for _, ctx := range []context.Context{cancelled, expired} {
				t.Run(fmt.Sprintf("%s/acks=%d/%v", name, acks, ctx.Err()), func(t *testing.T) {
					b := newBroker(t, map[string]commitlog.TopicConfig{"t": {Partitions: 1}})
					p, err := New(b, Config{Acks: new(acks), Linger: new(time.Duration(0))})
					require.NoError(t, err)
					err = send(p, ctx, &Record{Topic: "t", Value: []byte("v")})
					require.ErrorIs(t, err, ctx.Err())
					require.NoError(t, p.Close(context.Background()))
					require.Equal(t, int64(0), logEnd(t, b, "t"), "the record was written")
				})
			}
		}
	}
}

// TestContextCancelledWhileQueued: a record whose context ends while it
// waits in the accumulator (lingering) fails with ctx.Err() and is not
// written; the records batched with it are written, densely, whole (key,
// value, timestamp, headers), and report their own offsets. Before the fix
// it was written once its batch went.
func TestContextCancelledWhileQueued(t *testing.T) {
	for _, acks := range []Acks{AcksLeader, AcksAll} {
		for _, comp := range []record.Compression{record.None, record.LZ4} {
			t.Run(fmt.Sprintf("acks=%d/%v", acks, comp), func(t *testing.T) {
				b := newBroker(t, map[string]commitlog.TopicConfig{"t": {Partitions: 1}})
				p, err := New(b, Config{Compression: comp, Acks: new(acks), Linger: new(time.Hour)})
				require.NoError(t, err)
				rec := func(v string) *Record {
					return &Record{Topic: "t", Key: []byte("k" + v), Value: []byte(v), Timestamp: time.UnixMilli(1000 + int64(len(v))),
						Headers: []Header{{Key: "h", Value: []byte("h" + v)}}}
				}
				ctx, cancel := context.WithCancel(context.Background())
				var cbErr error
				cbDone := make(chan struct{})
				a := p.Send(context.Background(), rec("a"))
				x := p.Send(ctx, rec("x"))
				p.SendCallback(ctx, rec("y"), func(_ context.Context, _ RecordMetadata, err error) { cbErr = err; close(cbDone) })
				c := p.Send(context.Background(), rec("ccc"))
				cancel()
				require.NoError(t, p.Flush(context.Background()))
				<-cbDone
				require.ErrorIs(t, cbErr, context.Canceled)
				mdX, err := x.Result()
				require.ErrorIs(t, err, context.Canceled)
				require.Equal(t, int64(-1), mdX.Offset)
				mdA, err := a.Result()
				require.NoError(t, err)
				mdC, err := c.Result()
				require.NoError(t, err)
				require.Equal(t, int64(0), mdA.Offset)
				require.Equal(t, int64(1), mdC.Offset)
				require.Equal(t, []got{{0, "ka", "a", 1001}, {1, "kccc", "ccc", 1003}}, readPartition(t, b, "t", 0))
				tp, err := b.Topic("t")
				require.NoError(t, err)
				data, err := tp.Partitions()[0].Read(nil, 0, 1<<20)
				require.NoError(t, err)
				it, err := record.NewIterator(data)
				require.NoError(t, err)
				for _, v := range []string{"a", "ccc"} {
					require.True(t, it.Next())
					require.Equal(t, []record.Header{{Key: "h", Value: []byte("h" + v)}}, it.Record().Headers)
				}

				// A batch of cancelled records only is not written at all.
				ctx, cancel = context.WithCancel(context.Background())
				f := p.Send(ctx, rec("z"))
				cancel()
				require.NoError(t, p.Flush(context.Background()))
				_, err = f.Result()
				require.ErrorIs(t, err, context.Canceled)
				require.Equal(t, int64(2), logEnd(t, b, "t"))
				require.NoError(t, p.Close(context.Background()))
			})
		}
	}
}
