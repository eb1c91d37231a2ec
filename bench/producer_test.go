package bench

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/commitlog-go/commitlog"
	prod "github.com/commitlog-go/commitlog/producer"
	"github.com/commitlog-go/commitlog/record"
)

// Whole-stack producer benchmarks: producer.Producer over a broker in a
// temporary directory, through the public API only. Run them with
//
//	go test ./bench -run '^$' -bench 'SyncSenders|AsyncThroughput' -count 5 -benchtime 2s
//
// ns/op is per record; records/s counts all senders together;
// allocs/record counts every allocation of the process (the partition
// senders' included) over the records sent.

// allocsSince reports allocs/record: the allocations since ms0 over n
// records.
func allocsSince(b *testing.B, ms0 *runtime.MemStats, n int) {
	var ms1 runtime.MemStats
	runtime.ReadMemStats(&ms1)
	b.ReportMetric(float64(ms1.Mallocs-ms0.Mallocs)/float64(n), "allocs/record")
}

// openPerfBroker opens a broker in a fresh directory with a topic of
// partitions partitions and a producer with cfg, all closed at cleanup.
func openPerfBroker(b *testing.B, topic string, partitions int32, cfg prod.Config) (*commitlog.Broker, *prod.Producer) {
	b.Helper()
	br, err := commitlog.Open(b.TempDir(), commitlog.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = br.Close() })
	if _, err := br.CreateTopic(topic, commitlog.TopicConfig{Partitions: partitions}); err != nil {
		b.Fatal(err)
	}
	p, err := prod.New(br, cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = p.Close(context.Background()) })
	return br, p
}

// countBatches returns the number of batches in partition 0 of topic:
// the number of appends (and, with fsync, at most the number of fsyncs)
// the producer made.
func countBatches(b *testing.B, br *commitlog.Broker, topic string) int64 {
	b.Helper()
	t, err := br.Topic(topic)
	if err != nil {
		b.Fatal(err)
	}
	part, err := t.Partition(0)
	if err != nil {
		b.Fatal(err)
	}
	var (
		n   int64
		off int64
		buf []byte
	)
	for off < part.HighWatermark() {
		if buf, err = part.Read(buf, off, 1<<20); err != nil {
			b.Fatal(err)
		}
		err = record.Batches(buf, func(h *record.BatchHeader, _ []byte) error {
			n++
			off = h.NextOffset()
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	return n
}

// BenchmarkSyncSenders has senders goroutines each calling SendSync in a
// loop on one partition (b.N records in all), with acks=all and linger 0.
//
// Group commit: a partition has at most one round of batches being
// appended (and, with Fsync, fsynced) at a time. While it is, the records
// of the other senders gather in the next open batch, and the next round
// carries them all with one write and one fsync. So with fsync=true one
// sender pays an fsync per record, while 8 senders share each fsync among
// the records that arrived during the previous one. It is a closed loop:
// every sender has at most one record in flight, so 8 senders can at best
// be 8 times as fast as one (records per fsync <= 8). Left alone the
// senders would split into two groups that take turns (one group's batch
// is being fsynced while the other's gathers), about 4 records per fsync;
// after each fsync the partition's sender yields until the senders it
// released have sent again, so that the groups merge.
// records/append reports the records carried by each append (and fsync).
// With fsync=false there is no slow step to amortise, so the gain is
// bounded by the CPU cost of a record and by the number of cores.
func BenchmarkSyncSenders(b *testing.B) {
	for _, fsync := range []bool{true, false} {
		for _, senders := range []int{1, 8} {
			b.Run(fmt.Sprintf("fsync=%t/senders=%d", fsync, senders), func(b *testing.B) {
				benchSyncSenders(b, senders, fsync)
			})
		}
	}
}

func benchSyncSenders(b *testing.B, senders int, fsync bool) {
	cfg := prod.Config{Fsync: fsync, Acks: new(prod.AcksAll), Linger: new(time.Duration(0))}
	br, p := openPerfBroker(b, "sync", 1, cfg)
	value := perfPayload(100)
	ctx := context.Background()
	var next atomic.Int64
	var wg sync.WaitGroup
	b.ReportAllocs()
	var ms0 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	b.ResetTimer()
	for range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rec := prod.Record{Topic: "sync", ExplicitPartition: true, Value: value}
			for next.Add(1) <= int64(b.N) {
				if _, err := p.SendSync(ctx, &rec); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	allocsSince(b, &ms0, b.N)
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
	// Records per append: how much group commit happened (at most senders).
	b.ReportMetric(float64(b.N)/float64(countBatches(b, br, "sync")), "records/append")
}

// BenchmarkAsyncThroughput sends keyless records (sticky partitioning)
// with Send as fast as it can, acks=1 and the default linger.ms and
// batch.size, waiting for the futures a chunk at a time while the next
// chunk is being sent, so the pipeline never runs dry.
func BenchmarkAsyncThroughput(b *testing.B) {
	sizes := []struct {
		name string
		n    int
	}{{"100B", 100}, {"1KiB", 1024}}
	comps := []struct {
		name string
		c    record.Compression
	}{{"none", record.None}, {"lz4", record.LZ4}}
	for _, size := range sizes {
		for _, parts := range []int32{1, 8} {
			for _, comp := range comps {
				b.Run(fmt.Sprintf("size=%s/partitions=%d/compression=%s", size.name, parts, comp.name), func(b *testing.B) {
					benchAsync(b, size.n, parts, comp.c)
				})
			}
		}
	}
}

func benchAsync(b *testing.B, size int, parts int32, comp record.Compression) {
	const chunk = 10000
	cfg := prod.Config{Compression: comp, Acks: new(prod.AcksLeader)}
	_, p := openPerfBroker(b, "async", parts, cfg)
	ctx := context.Background()
	rec := prod.Record{Topic: "async", Value: perfPayload(size)}
	wait := func(fs []*prod.Future) {
		for _, f := range fs {
			if _, err := f.Wait(ctx); err != nil {
				b.Fatal(err)
			}
		}
	}
	prev := make([]*prod.Future, 0, chunk)
	cur := make([]*prod.Future, 0, chunk)
	b.SetBytes(int64(size))
	b.ReportAllocs()
	var ms0 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	b.ResetTimer()
	for range b.N {
		cur = append(cur, p.Send(ctx, &rec))
		if len(cur) == chunk {
			wait(prev)
			prev, cur = cur, prev[:0]
		}
	}
	if err := p.Flush(ctx); err != nil {
		b.Fatal(err)
	}
	wait(prev)
	wait(cur)
	b.StopTimer()
	allocsSince(b, &ms0, b.N)
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
}

// TestProducerPerfSmoke runs the core of cmd/producer-perf on a small,
// throttled load.
func TestProducerPerfSmoke(t *testing.T) {
	var out, csvOut bytes.Buffer
	cfg := ProducerPerfConfig{
		Topic:      "perf",
		NumRecords: 2000,
		RecordSize: 100,
		Throughput: 20000, // 0.1 s
		Partitions: 2,
		Dir:        t.TempDir(),
		Interval:   30 * time.Millisecond,
		CSV:        &csvOut,
		Producer:   prod.Config{Acks: new(prod.AcksLeader), Linger: new(time.Millisecond)},
	}
	res, err := RunProducerPerf(context.Background(), cfg, &out)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("output:\n%s", out.String())
	if res.Records != 2000 || res.Errors != 0 || res.Bytes != 2000*100 {
		t.Fatalf("result %+v: want 2000 records, 0 errors, 200000 bytes", res)
	}
	if res.Elapsed < 90*time.Millisecond {
		t.Errorf("elapsed %v: --throughput 20000 should take about 100 ms", res.Elapsed)
	}
	if res.P50 > res.P99 || res.P99 > res.P999 || res.P999 > res.MaxLatency || res.MaxLatency <= 0 {
		t.Errorf("latencies out of order: %+v", res)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	final := lines[len(lines)-1]
	if !strings.HasPrefix(final, "2000 records sent, ") || !strings.HasSuffix(final, " ms 99.9th.") {
		t.Errorf("final line %q", final)
	}
	if len(lines) < 2 || !strings.HasSuffix(lines[0], " ms max latency.") {
		t.Errorf("no progress line before the final one:\n%s", out.String())
	}
	rows, err := csv.NewReader(&csvOut).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != len(lines)+1 || rows[0][0] != "type" || rows[len(rows)-1][0] != "final" || rows[len(rows)-1][2] != "2000" {
		t.Errorf("csv rows %q do not match the output lines", rows)
	}
}

// TestLatencyHist: every value falls in the bucket whose range holds it,
// buckets are at most 1/128 of their values wide, and quantiles are
// those of the sorted values to within that.
func TestLatencyHist(t *testing.T) {
	for _, v := range []int64{0, 1, 127, 128, 129, 255, 256, 257, 1000, 1 << 20, 1<<40 + 12345, math.MaxInt64} {
		i := histIndex(v)
		if lo := histLow(i); lo > v || (i+1 < histBuckets && histLow(i+1) <= v) {
			t.Fatalf("%d in bucket %d [%d, %d)", v, i, lo, histLow(i+1))
		}
		if lo := histLow(i); v >= histSub && float64(v-lo) > float64(v)/histSub {
			t.Fatalf("%d in bucket %d from %d: wider than 1/128", v, i, lo)
		}
	}
	for i := 1; i < histBuckets; i++ {
		if histLow(i) <= histLow(i-1) || histIndex(histLow(i)) != i {
			t.Fatalf("bucket %d starts at %d, after %d", i, histLow(i), histLow(i-1))
		}
	}
	r := rand.New(rand.NewPCG(3, 4))
	var h latencyHist
	vals := make([]int64, 100000)
	for i := range vals {
		vals[i] = int64(r.ExpFloat64() * 2000)
		h.add(vals[i])
	}
	slices.Sort(vals)
	for _, q := range []float64{0, 0.5, 0.95, 0.99, 0.999, 1} {
		want, got := vals[int(q*float64(len(vals)-1))], h.quantile(q)
		if got > want || float64(want-got) > float64(want)/histSub+1 {
			t.Errorf("quantile %v: %d, sorted values say %d", q, got, want)
		}
	}
	if h.max != vals[len(vals)-1] || h.n != int64(len(vals)) {
		t.Errorf("max %d n %d", h.max, h.n)
	}
}
