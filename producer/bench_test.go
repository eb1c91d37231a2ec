package producer

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/commitlog-go/commitlog"
)

// BenchmarkSendCallback sends b.N keyless records with SendCallback
// (acks=1, default linger.ms and batch.size) and flushes: the cost of a
// record through the accumulator, the sender and its callback.
func BenchmarkSendCallback(b *testing.B) {
	for _, parts := range []int32{1, 4} {
		b.Run(fmt.Sprintf("partitions=%d", parts), func(b *testing.B) {
			p := benchProducer(b, parts, Config{Acks: new(AcksLeader)})
			ctx := context.Background()
			rec := Record{Topic: "t", Value: make([]byte, 100)}
			var n atomic.Int64
			cb := func(_ RecordMetadata, err error) {
				if err != nil {
					b.Error(err)
				}
				n.Add(1)
			}
			b.ReportAllocs()
			for b.Loop() {
				p.SendCallback(ctx, &rec, cb)
			}
			if err := p.Flush(ctx); err != nil {
				b.Fatal(err)
			}
			if n.Load() != int64(b.N) {
				b.Fatalf("%d callbacks for %d records", n.Load(), b.N)
			}
		})
	}
}

// BenchmarkFlushAfterSendCallback sends one record with SendCallback and
// flushes, b.N times (linger.ms 0): Flush's own cost with callbacks.
func BenchmarkFlushAfterSendCallback(b *testing.B) {
	p := benchProducer(b, 1, Config{Acks: new(AcksLeader), Linger: new(time.Duration(0))})
	ctx := context.Background()
	rec := Record{Topic: "t", Value: make([]byte, 100)}
	var n int64 // written by the callback, read after Flush
	cb := func(_ RecordMetadata, err error) {
		if err != nil {
			b.Error(err)
		}
		n++
	}
	b.ReportAllocs()
	for b.Loop() {
		p.SendCallback(ctx, &rec, cb)
		if err := p.Flush(ctx); err != nil {
			b.Fatal(err)
		}
	}
	if n != int64(b.N) {
		b.Fatalf("%d callbacks for %d records", n, b.N)
	}
}

func benchProducer(b *testing.B, parts int32, cfg Config) *Producer {
	b.Helper()
	br, err := commitlog.Open(b.TempDir(), commitlog.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = br.Close() })
	if _, err := br.CreateTopic("t", commitlog.TopicConfig{Partitions: parts}); err != nil {
		b.Fatal(err)
	}
	p, err := New(br, cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = p.Close(context.Background()) })
	return p
}
