package consumer

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/commitlog-go/commitlog"
	"github.com/commitlog-go/commitlog/record"
	"github.com/commitlog-go/commitlog/vfs"
	"github.com/stretchr/testify/require"
)

// TestPollReturnsFetchedRecordsAtOnce: records an earlier fetch buffered
// (beyond max.poll.records) are returned by the next Poll at once, as
// Kafka's consumer returns records it already holds; that Poll waited the
// whole fetch.max.wait.ms when no new data came.
func TestPollReturnsFetchedRecordsAtOnce(t *testing.T) {
	b := openBroker(t, t.TempDir())
	defer b.Close()
	_, err := b.CreateTopic("t", commitlog.TopicConfig{Partitions: 1})
	require.NoError(t, err)
	produce(t, b, "t", "v", 700)
	c, err := New(b, Config{AutoOffsetReset: ResetEarliest, FetchMaxWait: 5 * time.Second})
	require.NoError(t, err)
	defer c.Close(context.Background())
	require.NoError(t, c.Assign([]TopicPartition{{Topic: "t"}}))
	start := time.Now()
	recs, err := c.Poll(context.Background())
	require.NoError(t, err)
	require.Len(t, recs, 500)
	recs, err = c.Poll(context.Background())
	require.NoError(t, err)
	require.Len(t, recs, 200)
	require.Less(t, time.Since(start), 2*time.Second, "the second Poll waited for fetch.max.wait.ms")
}

// TestFetchMinBytesCountsTheWholePoll: fetch.min.bytes is met by what
// a Poll has fetched in all, not by one fetch round alone: data arriving
// in small appends made Poll wait the whole fetch.max.wait.ms.
func TestFetchMinBytesCountsTheWholePoll(t *testing.T) {
	b := openBroker(t, t.TempDir())
	defer b.Close()
	_, err := b.CreateTopic("t", commitlog.TopicConfig{Partitions: 1})
	require.NoError(t, err)
	c, err := New(b, Config{AutoOffsetReset: ResetEarliest, FetchMaxWait: 5 * time.Second, FetchMinBytes: 2000})
	require.NoError(t, err)
	defer c.Close(context.Background())
	require.NoError(t, c.Assign([]TopicPartition{{Topic: "t"}}))
	stop := make(chan struct{})
	defer close(stop)
	go func() { // about 70 bytes every 2 ms
		for {
			select {
			case <-stop:
				return
			case <-time.After(2 * time.Millisecond):
				produce(t, b, "t", "w", 1)
			}
		}
	}()
	start := time.Now()
	recs, err := c.Poll(context.Background())
	require.NoError(t, err)
	require.NotEmpty(t, recs)
	// 2000 bytes arrive in about 60 ms; max.poll.records (500) in 1.2 s.
	require.Less(t, time.Since(start), 500*time.Millisecond, "Poll waited with fetch.min.bytes met long before")
}

// TestDeletedTopicDoesNotStopOtherPartitions: a deleted topic's partition
// is skipped (with a warning) as Kafka's consumer does, so the other
// assigned partitions keep being consumed. Its read error failed every
// Poll instead, and the other partitions' records were never delivered.
func TestDeletedTopicDoesNotStopOtherPartitions(t *testing.T) {
	b := openBroker(t, t.TempDir())
	defer b.Close()
	for _, n := range []string{"t", "u"} {
		_, err := b.CreateTopic(n, commitlog.TopicConfig{Partitions: 1})
		require.NoError(t, err)
	}
	produce(t, b, "u", "u", 5)
	c, err := New(b, Config{AutoOffsetReset: ResetEarliest, FetchMaxWait: 20 * time.Millisecond})
	require.NoError(t, err)
	defer c.Close(context.Background())
	require.NoError(t, c.Assign([]TopicPartition{{Topic: "t"}, {Topic: "u"}}))
	require.NoError(t, b.DeleteTopic("u"))
	produce(t, b, "t", "t", 5)
	var got []Record
	for i := 0; i < 3 && len(got) < 5; i++ {
		recs, err := c.Poll(context.Background())
		require.NoError(t, err)
		got = append(got, recs...)
	}
	require.Len(t, got, 5)
	require.Equal(t, "t", got[0].Topic)
}

// memBroker is a broker on an in-memory file system, for benchmarks that
// should measure the consumer rather than the disk.
func memBroker(tb testing.TB) *commitlog.Broker {
	tb.Helper()
	b, err := commitlog.Open("/data", commitlog.WithFS(vfs.NewMem()), commitlog.WithoutExpvar(), commitlog.WithMaintenanceInterval(time.Hour))
	require.NoError(tb, err)
	return b
}

// BenchmarkPoll: Poll through one partition of 20,000 records of 100 bytes
// already on the log (fetch, decode, hand out max.poll.records at a time).
func BenchmarkPoll(b *testing.B) {
	br := memBroker(b)
	defer br.Close()
	topic, err := br.CreateTopic("t", commitlog.TopicConfig{Partitions: 1})
	require.NoError(b, err)
	p := topic.Partitions()[0]
	bl := record.NewBuilder(0, record.BatchOptions{})
	value := make([]byte, 100)
	for i := 0; i < 200; i++ {
		bl.Reset(0, record.BatchOptions{})
		for j := 0; j < 100; j++ {
			bl.Add(1_700_000_000_000, fmt.Appendf(nil, "k%d", j), value, nil)
		}
		raw, err := bl.Build()
		require.NoError(b, err)
		_, err = p.Append(raw, false)
		require.NoError(b, err)
	}
	end := p.HighWatermark()
	c, err := New(br, Config{AutoOffsetReset: ResetEarliest, FetchMaxWait: time.Millisecond})
	require.NoError(b, err)
	defer c.Close(context.Background())
	tp := TopicPartition{Topic: "t"}
	require.NoError(b, c.Assign([]TopicPartition{tp}))
	n := 0
	b.ReportAllocs()
	for b.Loop() {
		if pos, err := c.Position(tp); err != nil || pos == end {
			require.NoError(b, c.SeekToBeginning())
		}
		recs, err := c.Poll(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		n += len(recs)
	}
	b.ReportMetric(float64(n)/float64(b.N), "records/op")
}
