package bench

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/commitlog-go/commitlog"
	cons "github.com/commitlog-go/commitlog/consumer"
	prod "github.com/commitlog-go/commitlog/producer"
)

// Whole-stack consumer benchmarks, through the public API only. Run them
// with
//
//	go test ./bench -run '^$' -bench 'EndToEnd|Rebalance' -count 5
//
// BenchmarkEndToEndLatency is a ping-pong: ns/op is one record's trip from
// Send to the Poll that returns it (the producer's sender, the append, the
// long-poll wake-up and the fetch), and p50-µs/p99-µs its percentiles.
// BenchmarkRebalance10Members100Partitions times a group of 10 forming
// over 100 partitions; ns/op and ms/rebalance both measure it.

// TestConsumerPerfSmoke runs the consumer perf tool on a small topic with
// two members: every record is consumed once, quickly, and the output is
// Kafka's header and one row.
func TestConsumerPerfSmoke(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out bytes.Buffer
	dir := t.TempDir()
	res, err := RunConsumerPerf(ctx, ConsumerPerfConfig{
		Topic:      "smoke",
		NumRecords: 5000,
		RecordSize: 100,
		Partitions: 4,
		Members:    2,
		Group:      "smoke-group",
		Dir:        dir,
		Timeout:    10 * time.Second,
	}, &out)
	t.Logf("\n%s", out.String())
	if err != nil {
		t.Fatal(err)
	}
	if res.Records != 5000 {
		t.Errorf("records = %d, want 5000", res.Records)
	}
	if want := int64(5000 * 100); res.Bytes != want {
		t.Errorf("bytes = %d, want %d", res.Bytes, want)
	}
	if elapsed := res.End.Sub(res.Start); elapsed <= 0 || elapsed >= 3*time.Second {
		t.Errorf("consumption took %v, want (0, 3s)", elapsed)
	}
	if res.Rebalance <= 0 || res.Rebalance >= 3*time.Second {
		t.Errorf("rebalance time %v, want (0, 3s)", res.Rebalance)
	}
	if res.Fetches <= 0 || res.Fetches > res.Records+res.Duplicates {
		t.Errorf("fetches = %d for %d records", res.Fetches, res.Records)
	}
	if res.RecordsPerSec <= 0 || res.MBPerSec <= 0 || res.FetchMBPerSec < res.MBPerSec {
		t.Errorf("rates: %+v", res)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) < 2 || lines[len(lines)-2] != ConsumerPerfHeader ||
		strings.Count(lines[len(lines)-1], ",") != strings.Count(ConsumerPerfHeader, ",") {
		t.Errorf("output is not the header and a row:\n%s", out.String())
	}
	// The members committed the end of every partition.
	b, err := commitlog.Open(dir, commitlog.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	coord, err := cons.CoordinatorFor(b)
	if err != nil {
		t.Fatal(err)
	}
	committed := coord.FetchOffsets("smoke-group", nil)
	var sum int64
	for _, om := range committed {
		sum += om.Offset
	}
	if len(committed) != 4 || sum != 5000 {
		t.Errorf("committed %v, want the ends of 4 partitions summing to 5000", committed)
	}
}

// consumerBenchBroker opens a broker in a fresh directory with a topic of
// partitions partitions, closed at cleanup.
func consumerBenchBroker(b *testing.B, topic string, partitions int32) *commitlog.Broker {
	b.Helper()
	br, err := commitlog.Open(b.TempDir(), commitlog.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = br.Close() })
	if _, err := br.CreateTopic(topic, commitlog.TopicConfig{Partitions: partitions}); err != nil {
		b.Fatal(err)
	}
	return br
}

// BenchmarkEndToEndLatency sends one record at a time (acks=1, linger 0)
// carrying its send time, and polls with a consumer assigned to the
// partition until it arrives before sending the next: the latency is the
// pure produce-to-consume path, including the long-poll wake-up.
func BenchmarkEndToEndLatency(b *testing.B) {
	const topic = "e2e"
	br := consumerBenchBroker(b, topic, 1)
	p, err := prod.New(br, prod.Config{Linger: new(time.Duration(0)), Acks: new(prod.AcksLeader)})
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close(context.Background())
	c, err := cons.New(br, cons.Config{AutoOffsetReset: cons.ResetEarliest, FetchMaxWait: new(100 * time.Millisecond)})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close(context.Background())
	if err := c.Assign([]cons.TopicPartition{{Topic: topic, Partition: 0}}); err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	lat := make([]time.Duration, 0, b.N)
	value := make([]byte, 8)
	rec := prod.Record{Topic: topic, Partition: 0, ExplicitPartition: true, Value: value}
	b.ResetTimer()
	for range b.N {
		binary.BigEndian.PutUint64(value, uint64(time.Now().UnixNano()))
		f := p.Send(ctx, &rec)
		var got []cons.Record
		for len(got) == 0 {
			if got, err = c.Poll(ctx); err != nil {
				b.Fatal(err)
			}
		}
		now := time.Now().UnixNano()
		if len(got) != 1 {
			b.Fatalf("polled %d records, want 1", len(got))
		}
		lat = append(lat, time.Duration(now-int64(binary.BigEndian.Uint64(got[0].Value))))
		if _, err := f.Wait(ctx); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	slices.Sort(lat)
	pct := func(q float64) float64 {
		return float64(lat[int(q*float64(len(lat)-1))]) / float64(time.Microsecond)
	}
	b.ReportMetric(pct(0.50), "p50-µs")
	b.ReportMetric(pct(0.99), "p99-µs")
}

// rebalanceTracker holds each member's latest assignment and generation
// and signals when the group's members all hold one of the same
// generation that covers every partition exactly once.
type rebalanceTracker struct {
	mu         sync.Mutex
	partitions int
	gens       []int32
	assigned   [][]cons.TopicPartition
	done       chan struct{}
	closed     bool
}

func newRebalanceTracker(members, partitions int) *rebalanceTracker {
	r := &rebalanceTracker{partitions: partitions, gens: make([]int32, members),
		assigned: make([][]cons.TopicPartition, members), done: make(chan struct{})}
	for i := range r.gens {
		r.gens[i] = -1
	}
	return r
}

func (r *rebalanceTracker) set(member int, gen int32, tps []cons.TopicPartition) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.gens[member], r.assigned[member] = gen, tps
	if r.closed {
		return
	}
	seen := make(map[cons.TopicPartition]bool, r.partitions)
	for i, tps := range r.assigned {
		if len(tps) == 0 || r.gens[i] != gen {
			return
		}
		for _, tp := range tps {
			if seen[tp] {
				return
			}
			seen[tp] = true
		}
	}
	if len(seen) == r.partitions {
		r.closed = true
		close(r.done)
	}
}

// BenchmarkRebalance10Members100Partitions times, per iteration, a fresh
// group of 10 consumers subscribing to a 100-partition topic until all of
// them hold a non-empty assignment of one generation covering every
// partition exactly once. Creating and closing the consumers is not timed.
func BenchmarkRebalance10Members100Partitions(b *testing.B) {
	const (
		topic      = "rb"
		members    = 10
		partitions = 100
	)
	br := consumerBenchBroker(b, topic, partitions)
	var total time.Duration
	b.ResetTimer()
	for i := range b.N {
		b.StopTimer()
		group := fmt.Sprintf("rb-%d", i)
		cs := make([]*cons.Consumer, members)
		for m := range cs {
			c, err := cons.New(br, cons.Config{
				GroupID:           group,
				EnableAutoCommit:  new(false),
				FetchMaxWait:      new(20 * time.Millisecond),
				HeartbeatInterval: 50 * time.Millisecond,
				SessionTimeout:    time.Second,
			})
			if err != nil {
				b.Fatal(err)
			}
			cs[m] = c
		}
		tr := newRebalanceTracker(members, partitions)
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		errs := make(chan error, members)
		b.StartTimer()
		start := time.Now()
		for m, c := range cs {
			listener := cons.ListenerFuncs{Assigned: func(_ context.Context, c *cons.Consumer, _ []cons.TopicPartition) {
				_, gen := c.MemberID()
				tr.set(m, gen, c.Assignment())
			}}
			if err := c.Subscribe([]string{topic}, listener); err != nil {
				b.Fatal(err)
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				for ctx.Err() == nil {
					if _, err := c.Poll(ctx); err != nil && ctx.Err() == nil {
						errs <- err
						return
					}
				}
			}()
		}
		select {
		case <-tr.done:
		case err := <-errs:
			b.Fatal(err)
		case <-time.After(30 * time.Second):
			tr.mu.Lock()
			b.Fatalf("no complete assignment after 30s: generations %v", tr.gens)
		}
		total += time.Since(start)
		b.StopTimer()
		cancel()
		wg.Wait()
		var cwg sync.WaitGroup
		for _, c := range cs {
			cwg.Go(func() { _ = c.Close(context.Background()) })
		}
		cwg.Wait()
		b.StartTimer()
	}
	b.StopTimer()
	b.ReportMetric(float64(total)/float64(time.Millisecond)/float64(b.N), "ms/rebalance")
}
