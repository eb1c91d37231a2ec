package producer

import (
	"context"
	"fmt"
	"log/slog"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/commitlog-go/commitlog"
	cllog "github.com/commitlog-go/commitlog/log"
	"github.com/commitlog-go/commitlog/record"
)

// The benchmarks count one op per record: ns/op is per record, and
// allocs/record counts every allocation of the process during the loop
// (the senders' and callbacks' included) divided by the records sent.
// Compare before and after a change with
//
//	go test ./producer -run '^$' -bench . -count 6 | benchstat ...

// perRecord reports records/s and allocs/record for n records sent since
// ms0 was read, at the end of a benchmark's timed loop, and the processor
// time of the whole process per record (cpu-ns/record, every goroutine's:
// on a shared machine a steadier figure than ns/op) where it is known.
func perRecord(b *testing.B, n int, ms0 *startStats) {
	b.Helper()
	cpu := processCPU()
	var ms1 runtime.MemStats
	runtime.ReadMemStats(&ms1)
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "records/s")
	b.ReportMetric(float64(ms1.Mallocs-ms0.Mallocs)/float64(n), "allocs/record")
	if cpu > 0 {
		b.ReportMetric(float64(cpu-ms0.cpu)/float64(n), "cpu-ns/record")
	}
}

// startStats are the memory statistics and processor time at the start of
// a benchmark's loop.
type startStats struct {
	runtime.MemStats
	cpu int64
}

func memStats() *startStats {
	var ms startStats
	runtime.ReadMemStats(&ms.MemStats)
	ms.cpu = processCPU()
	return &ms
}

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
			cb := func(_ context.Context, _ RecordMetadata, err error) {
				if err != nil {
					b.Error(err)
				}
				n.Add(1)
			}
			b.ReportAllocs()
			ms0 := memStats()
			for b.Loop() {
				p.SendCallback(ctx, &rec, cb)
			}
			if err := p.Flush(ctx); err != nil {
				b.Fatal(err)
			}
			perRecord(b, b.N, ms0)
			if n.Load() != int64(b.N) {
				b.Fatalf("%d callbacks for %d records", n.Load(), b.N)
			}
		})
	}
}

// BenchmarkSendSync is one goroutine calling SendSync in a loop with the
// default Config (acks=all without fsync, linger.ms 5): the round trip of
// one record through the accumulator, the sender and the log.
func BenchmarkSendSync(b *testing.B) {
	p := benchProducer(b, 1, Config{})
	ctx := context.Background()
	rec := Record{Topic: "t", Value: make([]byte, 100)}
	b.ReportAllocs()
	ms0 := memStats()
	for b.Loop() {
		if _, err := p.SendSync(ctx, &rec); err != nil {
			b.Fatal(err)
		}
	}
	perRecord(b, b.N, ms0)
}

// BenchmarkBatched is the peer benchmark's workloads 1 and 2 (bench/peers):
// one goroutine writing values of 100 B and 1 KiB to one partition in
// batches of 100 records, without fsync, either through the producer
// (SendCallback, acks=all, batch.size holding 100 records, Flush at the
// end) or straight into a log.Log (record.Builder encoding each batch of
// 100, then Append): the producer's cost over the storage core's.
func BenchmarkBatched(b *testing.B) {
	for _, size := range []int{100, 1024} {
		name := fmt.Sprintf("%dB", size)
		if size == 1024 {
			name = "1KiB"
		}
		value := make([]byte, size)
		for i := range value {
			value[i] = byte('A' + i%26)
		}
		b.Run("size="+name+"/path=producer", func(b *testing.B) {
			batch := 100 * record.RecordSize(99, 0, nil, value, nil)
			p := benchProducer(b, 1, Config{BatchSize: &batch})
			ctx := context.Background()
			rec := Record{Topic: "t", ExplicitPartition: true, Value: value}
			var failed atomic.Int64
			cb := func(_ context.Context, _ RecordMetadata, err error) {
				if err != nil {
					failed.Add(1)
				}
			}
			b.SetBytes(int64(size))
			b.ReportAllocs()
			ms0 := memStats()
			for b.Loop() {
				p.SendCallback(ctx, &rec, cb)
			}
			if err := p.Flush(ctx); err != nil {
				b.Fatal(err)
			}
			perRecord(b, b.N, ms0)
			if failed.Load() != 0 {
				b.Fatalf("%d records failed", failed.Load())
			}
		})
		b.Run("size="+name+"/path=log", func(b *testing.B) {
			l, err := cllog.Open(b.TempDir(), cllog.Config{Retention: new(time.Duration(-1))})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { _ = l.Close() })
			bl := record.NewBuilder(0, record.BatchOptions{})
			appendBatch := func() {
				raw, err := bl.Build()
				if err != nil {
					b.Fatal(err)
				}
				if _, err := l.Append(raw); err != nil {
					b.Fatal(err)
				}
				bl.Reset(0, record.BatchOptions{})
			}
			b.SetBytes(int64(size))
			b.ReportAllocs()
			ms0 := memStats()
			var ts int64
			for b.Loop() {
				if bl.Len() == 0 {
					ts = time.Now().UnixMilli() // once a batch, as bench/peers does
				}
				bl.Add(ts, nil, value, nil)
				if bl.Len() == 100 {
					appendBatch()
				}
			}
			if bl.Len() > 0 {
				appendBatch()
			}
			perRecord(b, b.N, ms0)
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
	cb := func(_ context.Context, _ RecordMetadata, err error) {
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
