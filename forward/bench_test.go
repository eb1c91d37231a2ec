package forward

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/commitlog-go/commitlog"
	"github.com/commitlog-go/commitlog/record"
)

// BenchmarkForward forwards benchRecords records (16-byte keys, 100-byte
// values, 4 partitions) from the embedded broker to kfake, in each Mode, and
// produces the same records with a kgo client straight to kfake in the same
// run, with the same producer settings (idempotent, not transactional, lz4,
// manual partitioning). It reports
// both rates and their ratio (forward/direct). The forwarder's time runs
// from the local appends of the records (a running forwarder, its session
// up) to the end of Flush (all acknowledged and checkpointed, one fsync);
// the direct time from the first Produce to the end of kgo's Flush.
//
//	go test -run '^$' -bench Forward -benchtime 3x ./forward
func BenchmarkForward(b *testing.B) {
	for _, mode := range []Mode{ModeTransactional, ModeIdempotent} {
		b.Run(mode.String(), func(b *testing.B) { benchForward(b, mode) })
	}
}

func benchForward(b *testing.B, mode Mode) {
	const (
		benchRecords = 200_000
		partitions   = 4
	)
	ctx := context.Background()
	fc := newFake(b)
	seeds := fc.ListenAddrs()
	br := openBroker(b, b.TempDir())
	defer br.Close()

	value := make([]byte, 100)
	for i := range value {
		value[i] = byte('a' + i%26)
	}
	key := func(i int) []byte { return []byte(fmt.Sprintf("key-%012d", i)) }
	opts := []kgo.Opt{kgo.SeedBrokers(seeds...), kgo.ProducerBatchCompression(kgo.Lz4Compression())}
	var fwdTime, directTime time.Duration
	for i := 0; i < b.N; i++ {
		// The local topic, with one record per partition, forwarded before
		// the measurement so that the forwarder's session is up; the
		// batches appended in the measurement are encoded outside it.
		name := "local-" + strconv.Itoa(i)
		tp, err := br.CreateTopic(name, commitlog.TopicConfig{Partitions: partitions})
		require.NoError(b, err)
		var batches [][]byte
		for p := int32(0); p < partitions; p++ {
			for done := 0; done < benchRecords/partitions; {
				bl := record.NewBuilder(0, record.BatchOptions{})
				for j := 0; j < 500 && done < benchRecords/partitions; j++ {
					bl.Add(time.Now().UnixMilli(), key(done), value, nil)
					done++
				}
				batch, err := bl.Build()
				require.NoError(b, err)
				batches = append(batches, append([]byte{byte(p)}, batch...))
			}
		}
		for _, p := range tp.Partitions() {
			bl := record.NewBuilder(0, record.BatchOptions{})
			bl.Add(time.Now().UnixMilli(), nil, value, nil)
			batch, err := bl.Build()
			require.NoError(b, err)
			_, err = p.Append(append([]byte(nil), batch...), false)
			require.NoError(b, err)
		}
		f, err := New(br, Config{Topics: []string{name}, ClientOptions: opts, Mode: mode})
		require.NoError(b, err)
		require.NoError(b, f.Flush(ctx))

		recs := make([]*kgo.Record, 0, benchRecords)
		direct := "direct-" + strconv.Itoa(i)
		for p := int32(0); p < partitions; p++ {
			for j := 0; j < benchRecords/partitions; j++ {
				recs = append(recs, &kgo.Record{Topic: direct, Partition: p, Key: key(j), Value: value, Timestamp: time.Now()})
			}
		}
		cl, err := kgo.NewClient(append(opts, kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.AllowAutoTopicCreation())...)
		require.NoError(b, err)
		_, err = adminCreate(ctx, cl, direct, partitions)
		require.NoError(b, err)

		start := time.Now()
		var first error
		for _, r := range recs {
			cl.Produce(ctx, r, func(_ *kgo.Record, err error) {
				if err != nil && first == nil {
					first = err
				}
			})
		}
		require.NoError(b, cl.Flush(ctx))
		directTime += time.Since(start)
		require.NoError(b, first)
		cl.Close()

		start = time.Now()
		for _, batch := range batches {
			p, _ := tp.Partition(int32(batch[0]))
			_, err := p.Append(batch[1:], false)
			require.NoError(b, err)
		}
		require.NoError(b, f.Flush(ctx))
		fwdTime += time.Since(start)
		require.NoError(b, f.Close(ctx))
	}
	n := float64(b.N * benchRecords)
	b.ReportMetric(n/fwdTime.Seconds(), "fwd-rec/s")
	b.ReportMetric(n/directTime.Seconds(), "kgo-rec/s")
	b.ReportMetric(directTime.Seconds()/fwdTime.Seconds(), "ratio")
	b.ReportMetric(0, "ns/op")
}

// BenchmarkDecode measures the pump's own work per record: turning a 1 MiB
// read of uncompressed local batches (16-byte keys, 100-byte values) into
// kgo records, as step does, without producing them.
//
//	go test -run '^$' -bench Decode ./forward
func BenchmarkDecode(b *testing.B) {
	value := make([]byte, 100)
	var buf []byte
	off := int64(0)
	for len(buf) < 1<<20 {
		bl := record.NewBuilder(off, record.BatchOptions{})
		for j := 0; j < 500; j++ {
			bl.Add(time.Now().UnixMilli(), []byte(fmt.Sprintf("key-%012d", off)), value, nil)
			off++
		}
		batch, err := bl.Build()
		require.NoError(b, err)
		buf = append(buf, batch...)
	}
	fp := &fwdPart{topic: "t"}
	c := &chunk{buf: buf}
	var it record.Iterator
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := fp.decode(&it, c, 0); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(off), "ns/record")
	b.ReportMetric(0, "ns/op")
}
