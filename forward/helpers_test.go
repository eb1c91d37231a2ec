package forward

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/commitlog-go/commitlog"
	"github.com/commitlog-go/commitlog/record"
)

// trials is how many crash trials a test runs: a few by default,
// COMMITLOG_FORWARD_TRIALS for longer runs.
func trials(def int) int {
	if n, err := strconv.Atoi(os.Getenv("COMMITLOG_FORWARD_TRIALS")); err == nil && n > 0 {
		return n
	}
	return def
}

// newFake starts an in-process fake Kafka cluster closed at the end of the
// test.
func newFake(t testing.TB, opts ...kfake.Opt) *kfake.Cluster {
	t.Helper()
	fc, err := kfake.NewCluster(append([]kfake.Opt{kfake.NumBrokers(1)}, opts...)...)
	require.NoError(t, err)
	t.Cleanup(fc.Close)
	return fc
}

func openBroker(t testing.TB, dir string) *commitlog.Broker {
	t.Helper()
	b, err := commitlog.Open(dir, commitlog.WithoutExpvar())
	require.NoError(t, err)
	return b
}

// rec is a record as both sides compare it.
type rec struct {
	Key, Value []byte
	Headers    []record.Header
	Timestamp  int64
	Source     int64 // the OffsetHeader value, -1 without
}

func (r rec) String() string {
	return fmt.Sprintf("{key=%q value=%q headers=%v ts=%d src=%d}", r.Key, r.Value, r.Headers, r.Timestamp, r.Source)
}

// appendLocal appends n records in batches of up to 50 to partition p of
// topic, numbered from seq: keys, null keys and values, empty values,
// headers and timestamps vary; every third batch is LZ4-compressed.
func appendLocal(t testing.TB, b *commitlog.Broker, topic string, p int32, seq, n int, rng *rand.Rand) {
	t.Helper()
	tp, err := b.Topic(topic)
	require.NoError(t, err)
	part, err := tp.Partition(p)
	require.NoError(t, err)
	for done := 0; done < n; {
		k := min(n-done, 1+rng.IntN(50))
		opts := record.BatchOptions{ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1}
		if (seq+done)%3 == 0 {
			opts.Compression = record.LZ4
		}
		bl := record.NewBuilder(0, opts)
		for i := 0; i < k; i++ {
			id := seq + done + i
			r := genRecord(topic, p, id)
			bl.Add(r.Timestamp, r.Key, r.Value, r.Headers)
		}
		batch, err := bl.Build()
		require.NoError(t, err)
		_, err = part.Append(append([]byte(nil), batch...), false)
		require.NoError(t, err)
		done += k
	}
}

// genRecord is the id'th record of a partition.
func genRecord(topic string, p int32, id int) rec {
	r := rec{Timestamp: tsBase + int64(id)*7, Source: -1}
	if id%5 != 0 {
		r.Key = []byte(fmt.Sprintf("%s-%d-k%d", topic, p, id%97))
	}
	switch id % 11 {
	case 0:
		r.Value = nil
	case 1:
		r.Value = []byte{}
	default:
		r.Value = []byte(fmt.Sprintf("value %d of %s/%d %s", id, topic, p, string(make([]byte, id%40))))
	}
	if id%3 == 0 {
		r.Headers = []record.Header{{Key: "a", Value: []byte(strconv.Itoa(id))}, {Key: "nil", Value: nil}}
	}
	return r
}

// localRecords reads every record of a local partition.
func localRecords(t testing.TB, b *commitlog.Broker, topic string, p int32) ([]rec, []int64) {
	t.Helper()
	tp, err := b.Topic(topic)
	require.NoError(t, err)
	part, err := tp.Partition(p)
	require.NoError(t, err)
	var out []rec
	var offs []int64
	var it record.Iterator
	for off := part.LogStartOffset(); off < part.HighWatermark(); {
		buf, err := part.Read(nil, off, 1<<20)
		require.NoError(t, err)
		require.NoError(t, record.Batches(buf, func(h *record.BatchHeader, batch []byte) error {
			off = h.NextOffset()
			require.NoError(t, it.ResetChecked(h, batch))
			for it.Next() {
				r := it.Record()
				x := rec{Key: clone(r.Key), Value: clone(r.Value), Timestamp: r.Timestamp, Source: -1}
				for _, h := range r.Headers {
					x.Headers = append(x.Headers, record.Header{Key: h.Key, Value: clone(h.Value)})
				}
				out = append(out, x)
				offs = append(offs, r.Offset)
			}
			return it.Err()
		}))
	}
	return out, offs
}

func clone(b []byte) []byte {
	if b == nil {
		return nil
	}
	return append([]byte{}, b...)
}

// remoteRecords reads every committed record of a remote partition
// (read_committed, up to the last stable offset; transaction markers are
// read to count offsets and left out).
func remoteRecords(t testing.TB, seeds []string, topic string, p int32) ([]rec, []int64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	adm, err := kgo.NewClient(kgo.SeedBrokers(seeds...))
	require.NoError(t, err)
	defer adm.Close()
	ends, err := kadm.NewClient(adm).ListCommittedOffsets(ctx, topic)
	require.NoError(t, err)
	end, ok := ends.Lookup(topic, p)
	require.True(t, ok)
	if end.Offset == 0 {
		return nil, nil
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {p: kgo.NewOffset().AtStart()}}),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.KeepControlRecords(), kgo.FetchMaxWait(100*time.Millisecond))
	require.NoError(t, err)
	defer cl.Close()
	var out []rec
	var offs []int64
	last := int64(-1)
	for last < end.Offset-1 {
		fs := cl.PollFetches(ctx)
		require.NoError(t, ctx.Err())
		require.NoError(t, fs.Err())
		fs.EachRecord(func(r *kgo.Record) {
			last = r.Offset
			if r.Attrs.IsControl() {
				return
			}
			x := rec{Key: r.Key, Value: r.Value, Timestamp: r.Timestamp.UnixMilli(), Source: -1}
			for _, h := range r.Headers {
				x.Headers = append(x.Headers, record.Header{Key: h.Key, Value: h.Value})
			}
			out = append(out, x)
			offs = append(offs, r.Offset)
		})
	}
	return out, offs
}

// splitSource takes the trailing OffsetHeader off each record into Source.
func splitSource(t testing.TB, rs []rec) []rec {
	t.Helper()
	out := make([]rec, len(rs))
	for i, r := range rs {
		require.NotEmpty(t, r.Headers, "record %d has no %s header", i, OffsetHeader)
		last := r.Headers[len(r.Headers)-1]
		require.Equal(t, OffsetHeader, last.Key, "record %d", i)
		n, err := strconv.ParseInt(string(last.Value), 10, 64)
		require.NoError(t, err)
		r.Source = n
		r.Headers = r.Headers[:len(r.Headers)-1]
		if len(r.Headers) == 0 {
			r.Headers = nil
		}
		out[i] = r
	}
	return out
}

// normalize makes empty header lists nil, so that both sides compare.
func normalize(rs []rec) []rec {
	for i := range rs {
		if len(rs[i].Headers) == 0 {
			rs[i].Headers = nil
		}
		for j := range rs[i].Headers {
			if rs[i].Headers[j].Value != nil && len(rs[i].Headers[j].Value) == 0 {
				rs[i].Headers[j].Value = []byte{}
			}
		}
	}
	return rs
}

// requireForwarded checks that every remote partition of topic holds the
// local one record for record, each with its local offset in the header.
func requireForwarded(t testing.TB, b *commitlog.Broker, seeds []string, topic string) int {
	t.Helper()
	return requireCopied(t, b, seeds, topic, true)
}

// requireCopied checks that every partition of topic on the receiving side
// (remote when toRemote, else local) holds the sending side's record for
// record, each with the sender's offset in its source header; it returns
// the number of records.
func requireCopied(t testing.TB, b *commitlog.Broker, seeds []string, topic string, toRemote bool) int {
	t.Helper()
	tp, err := b.Topic(topic)
	require.NoError(t, err)
	total := 0
	for p := int32(0); p < tp.NumPartitions(); p++ {
		local, loffs := localRecords(t, b, topic, p)
		remote, roffs := remoteRecords(t, seeds, topic, p)
		sent, offs, got := local, loffs, remote
		if !toRemote {
			sent, offs, got = remote, roffs, local
		}
		got = splitSource(t, got)
		for i := range sent {
			sent[i].Source = offs[i]
		}
		require.Equal(t, len(sent), len(got), "%s/%d: record counts", topic, p)
		require.Equal(t, normalize(sent), normalize(got), "%s/%d", topic, p)
		total += len(got)
	}
	return total
}

func kfakeSeed(partitions int32, topics ...string) kfake.Opt {
	return kfake.SeedTopics(partitions, topics...)
}

// produceRemote produces n records to each partition of topic in the
// cluster, numbered from seq, as genRecord makes them.
func produceRemote(t testing.TB, seeds []string, topic string, partitions int32, seq, n int) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.DefaultProduceTopic(topic))
	require.NoError(t, err)
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var rs []*kgo.Record
	for p := int32(0); p < partitions; p++ {
		for i := seq; i < seq+n; i++ {
			g := genRecord(topic, p, i)
			r := &kgo.Record{Topic: topic, Partition: p, Key: g.Key, Value: g.Value, Timestamp: time.UnixMilli(g.Timestamp)}
			for _, h := range g.Headers {
				r.Headers = append(r.Headers, kgo.RecordHeader{Key: h.Key, Value: h.Value})
			}
			rs = append(rs, r)
		}
	}
	require.NoError(t, cl.ProduceSync(ctx, rs...).FirstErr())
}

// requireMirrored checks that every local partition of topic holds the
// remote one record for record, each with its remote offset in the header.
func requireMirrored(t testing.TB, b *commitlog.Broker, seeds []string, topic string) int {
	t.Helper()
	return requireCopied(t, b, seeds, topic, false)
}

// tsBase is the timestamp of the records genRecord makes: recent, so that
// the default retention of 7 days leaves them alone.
var tsBase = time.Now().Add(-time.Hour).UnixMilli()

// clientOpts are the kgo options of the tests' forwarders and mirrors:
// quick retries and metadata refreshes, since kfake drops connections and
// restarts in them.
func clientOpts(seeds []string) []kgo.Opt {
	return []kgo.Opt{
		kgo.SeedBrokers(seeds...),
		kgo.RetryBackoffFn(func(int) time.Duration { return 20 * time.Millisecond }),
		kgo.MetadataMinAge(50 * time.Millisecond),
	}
}

func adminCreate(ctx context.Context, cl *kgo.Client, topic string, partitions int32) (kadm.CreateTopicResponse, error) {
	return kadm.NewClient(cl).CreateTopic(ctx, partitions, -1, nil, topic)
}
