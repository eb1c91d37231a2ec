package bench

import (
	"context"
	"encoding/binary"
	"log/slog"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/commitlog-go/commitlog"
	cons "github.com/commitlog-go/commitlog/consumer"
	prod "github.com/commitlog-go/commitlog/producer"
)

// BenchmarkProduceToConsume measures end-to-end latency: from
// producer.Send to the record coming out of consumer.Poll, over a broker
// in a temporary directory (a real disk: fsyncs cost what they cost).
// Four senders each keep one record in flight (send, wait until the
// consumer has it, send the next), so durable appends can share fsyncs;
// one consumer polls the partition. p50-us and p99-us are the latency
// percentiles in microseconds; ns/op is per record. The modes:
//
//   - default: acks=all, no fsync (records visible once written);
//   - fsync: the producer's Fsync option (acks=all and fsync);
//   - flush.messages=1: the topic fsyncs every append, whatever the
//     producer, and its records are visible once fsynced.
//
// COMMITLOG_BENCH_DIR puts the broker's directory under another
// directory (a tmpfs such as /dev/shm takes the disk's fsync time out).
// Run it with
//
//	go test ./bench -run '^$' -bench ProduceToConsume -benchtime 2000x
func BenchmarkProduceToConsume(b *testing.B) {
	for _, mode := range []struct {
		name  string
		fsync bool
		topic commitlog.TopicConfig
	}{
		{"default", false, commitlog.TopicConfig{}},
		{"fsync", true, commitlog.TopicConfig{}},
		{"flush.messages=1", false, commitlog.TopicConfig{FlushMessages: 1}},
	} {
		b.Run(mode.name, func(b *testing.B) {
			benchProduceToConsume(b, mode.fsync, mode.topic)
		})
	}
}

func benchProduceToConsume(b *testing.B, fsync bool, tc commitlog.TopicConfig) {
	const senders = 4
	dir := b.TempDir()
	if d := os.Getenv("COMMITLOG_BENCH_DIR"); d != "" {
		var err error
		if dir, err = os.MkdirTemp(d, "produce-to-consume"); err != nil { // e.g. /dev/shm: fsync nearly free, what is left is the mechanism
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = os.RemoveAll(dir) })
	}
	br, err := commitlog.Open(dir, commitlog.WithLogger(slog.New(slog.DiscardHandler)), commitlog.WithoutExpvar())
	if err != nil {
		b.Fatal(err)
	}
	defer br.Close()
	if _, err := br.CreateTopic("lat", tc); err != nil {
		b.Fatal(err)
	}
	p, err := prod.New(br, prod.Config{Acks: new(prod.AcksAll), Fsync: fsync, Linger: new(time.Duration(0))})
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close(context.Background())
	c, err := cons.New(br, cons.Config{AutoOffsetReset: cons.ResetEarliest})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close(context.Background())
	if err := c.Assign([]cons.TopicPartition{{Topic: "lat", Partition: 0}}); err != nil {
		b.Fatal(err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// seen[s] receives the latency of each record of sender s.
	seen := make([]chan time.Duration, senders)
	for s := range seen {
		seen[s] = make(chan time.Duration, 1)
	}
	start := time.Now()
	consumed := make(chan struct{})
	go func() {
		defer close(consumed)
		for ctx.Err() == nil {
			recs, err := c.Poll(ctx)
			if err != nil {
				return
			}
			now := time.Since(start)
			for _, r := range recs {
				s := r.Value[0]
				sent := time.Duration(binary.BigEndian.Uint64(r.Value[1:]))
				seen[s] <- now - sent
			}
		}
	}()

	lat := make([][]time.Duration, senders)
	var wg sync.WaitGroup
	b.ResetTimer()
	for s := range senders {
		n := b.N / senders
		if s < b.N%senders {
			n++
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range n {
				v := make([]byte, 9, 100)
				v[0] = byte(s)
				binary.BigEndian.PutUint64(v[1:], uint64(time.Since(start)))
				p.Send(ctx, &prod.Record{Topic: "lat", Partition: 0, ExplicitPartition: true, Value: v[:100]})
				select {
				case d := <-seen[s]:
					lat[s] = append(lat[s], d)
				case <-ctx.Done():
					return
				}
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	cancel()
	<-consumed
	all := slices.Concat(lat...)
	if len(all) == 0 {
		return
	}
	slices.Sort(all)
	pct := func(q float64) float64 { return float64(all[int(q*float64(len(all)-1))].Microseconds()) }
	b.ReportMetric(pct(0.50), "p50-us")
	b.ReportMetric(pct(0.99), "p99-us")
}
