package producer

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/cespare/xxhash/v2"
	"github.com/commitlog-go/commitlog"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"
)

// u32 reinterprets a 32-bit pattern (as published in hex) as a Java int.
func u32(x uint32) int32 { return int32(x) }

// TestMurmur2KnownVectors checks Murmur2 against values computed by Kafka's Java
// Utils.murmur2, as published by Kafka itself and by two Java-compatible clients.
func TestMurmur2KnownVectors(t *testing.T) {
	const (
		// apache/kafka clients/src/test/java/org/apache/kafka/common/utils/UtilsTest.java, testMurmur2.
		kafkaUtilsTest = "apache/kafka UtilsTest.testMurmur2"
		// confluentinc/librdkafka src/rdmurmur2.c, unittest_murmur2 ("java_murmur2_results").
		librdkafka = "confluentinc/librdkafka rdmurmur2.c unittest_murmur2"
	)
	const unaligned = "PreAmbleWillBeRemoved,ThePrePartThatIs"
	tests := []struct {
		source string
		key    []byte
		want   int32
	}{
		{kafkaUtilsTest, []byte("21"), -973932308},
		{kafkaUtilsTest, []byte("foobar"), -790332482},
		{kafkaUtilsTest, []byte("a-little-bit-long-string"), -985981536},
		{kafkaUtilsTest, []byte("a-little-bit-longer-string"), -1486304829},
		{kafkaUtilsTest, []byte("lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8"), -58897971},
		{kafkaUtilsTest, []byte{'a', 'b', 'c'}, 479470107},

		{librdkafka, []byte("kafka"), u32(0xd067cf64)},
		{librdkafka, []byte("giberish123456789"), u32(0x8f552b0c)},
		{librdkafka, []byte("1234"), u32(0x9fc97b14)},
		{librdkafka, []byte("234"), u32(0xe7c009ca)},
		{librdkafka, []byte("34"), u32(0x873930da)},
		{librdkafka, []byte("4"), u32(0x5a4b5ca1)},
		{librdkafka, []byte(unaligned), u32(0x78424f1c)},
		{librdkafka, []byte(unaligned[1:]), u32(0x4a62b377)},
		{librdkafka, []byte(unaligned[2:]), u32(0xe0e4e09e)},
		{librdkafka, []byte(unaligned[3:]), u32(0x62b8b43f)},
		{librdkafka, []byte(""), u32(0x106e08d9)},
		{librdkafka, nil, u32(0x106e08d9)},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%q", tc.key), func(t *testing.T) {
			require.Equal(t, tc.want, Murmur2(tc.key), "source: %s", tc.source)
		})
	}
}

// TestMurmur2PartitionerJavaCompat checks key -> partition results of the Java
// client's default partitioner.
func TestMurmur2PartitionerJavaCompat(t *testing.T) {
	t.Run("kafka-python vectors", func(t *testing.T) {
		// dpkp/kafka-python test/test_partitioner.py, test_murmur2_java_compatibility:
		// "compare with output from Kafka's org.apache.kafka.clients.producer.Partitioner",
		// 1000 partitions.
		tests := []struct {
			key  []byte
			want int32
		}{
			{[]byte(""), 681},
			{[]byte("a"), 524},
			{[]byte("ab"), 434},
			{[]byte("abc"), 107},
			{[]byte("123456789"), 566},
			{[]byte("\x00 "), 742},
		}
		p := Murmur2Partitioner()
		for _, tc := range tests {
			require.Equal(t, tc.want, p.Partition("t", tc.key, 1000), "key %q", tc.key)
		}
	})

	t.Run("UtilsTest hashes through toPositive % n", func(t *testing.T) {
		// Hashes from apache/kafka UtilsTest.testMurmur2, mostly negative, so
		// toPositive (x & 0x7fffffff, not Math.abs) matters; partitions
		// computed independently from BuiltInPartitioner.partitionForKey's formula.
		tests := []struct {
			key  string
			n    int32
			want int32
		}{
			{"foobar", 10, 6},                         // -790332482  -> 1357151166
			{"21", 7, 3},                              // -973932308  -> 1173551340
			{"a-little-bit-long-string", 100, 12},     // -985981536  -> 1161502112
			{"a-little-bit-longer-string", 1000, 819}, // -1486304829 -> 661178819
			{"abc", 3, 0},                             // 479470107
			{"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", 16, 13}, // -58897971 -> 2088585677
		}
		p := Murmur2Partitioner()
		for _, tc := range tests {
			require.Equal(t, tc.want, p.Partition("t", []byte(tc.key), tc.n), "key %q n=%d", tc.key, tc.n)
		}
	})
}

func TestHashPartitionerIsXXHash(t *testing.T) {
	p := HashPartitioner()
	for _, key := range []string{"", "a", "foobar", "order-42", "0123456789abcdef"} {
		for _, n := range []int32{2, 3, 10, 1000} {
			want := int32(xxhash.Sum64String(key) % uint64(n))
			require.Equal(t, want, p.Partition("t", []byte(key), n), "key %q n=%d", key, n)
		}
	}
}

type namedPartitioner struct {
	name string
	new  func() Partitioner
}

var allPartitioners = []namedPartitioner{
	{"hash", HashPartitioner},
	{"murmur2", Murmur2Partitioner},
	{"roundrobin", RoundRobinPartitioner},
}

var keyedPartitioners = allPartitioners[:2]

func TestKeyedPartitionIsStable(t *testing.T) {
	keys := [][]byte{[]byte{}, []byte("k"), []byte("foobar"), []byte("user-1002"), make([]byte, 100)}
	for _, np := range keyedPartitioners {
		t.Run(np.name, func(t *testing.T) {
			a, b := np.new(), np.new()
			for _, key := range keys {
				for _, n := range []int32{1, 2, 7, 64, 1000} {
					first := a.Partition("topic-a", key, n)
					for range 5 {
						require.Equal(t, first, a.Partition("topic-a", key, n), "same instance")
						require.Equal(t, first, b.Partition("topic-a", key, n), "other instance")
						require.Equal(t, first, a.Partition("topic-b", key, n), "other topic")
					}
					// Keyed records ignore the sticky state entirely.
					a.OnNewBatch("topic-a", first, n)
					require.Equal(t, first, a.Partition("topic-a", key, n), "after OnNewBatch")
				}
			}
		})
	}
}

// TestEmptyKeyIsKeyed: as in Kafka, only a nil key is keyless; an empty key is hashed.
func TestEmptyKeyIsKeyed(t *testing.T) {
	p := Murmur2Partitioner()
	for range 50 {
		require.Equal(t, int32(681), p.Partition("t", []byte{}, 1000)) // kafka-python vector for b''
		p.OnNewBatch("t", 681, 1000)
	}
}

func TestPartitionInRange(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, np := range allPartitioners {
		t.Run(np.name, func(t *testing.T) {
			p := np.new()
			negative := 0
			for n := int32(1); n <= 1000; n++ {
				for range 20 {
					key := make([]byte, rng.IntN(40))
					for i := range key {
						key[i] = byte(rng.Uint32())
					}
					if Murmur2(key) < 0 {
						negative++
					}
					got := p.Partition("t", key, n)
					require.True(t, got >= 0 && got < n, "keyed: got %d, n=%d", got, n)
				}
				got := p.Partition("t", nil, n)
				require.True(t, got >= 0 && got < n, "keyless: got %d, n=%d", got, n)
				p.OnNewBatch("t", got, n)
				got = p.Partition("t", nil, n)
				require.True(t, got >= 0 && got < n, "keyless after OnNewBatch: got %d, n=%d", got, n)
			}
			require.Greater(t, negative, 1000, "random keys should include many negative murmur2 hashes")

			// Keys known to hash to negative values (apache/kafka UtilsTest.testMurmur2).
			for _, key := range []string{"21", "foobar", "a-little-bit-longer-string"} {
				require.Negative(t, Murmur2([]byte(key)))
				for _, n := range []int32{1, 2, 3, 1000} {
					got := p.Partition("t", []byte(key), n)
					require.True(t, got >= 0 && got < n, "key %q: got %d, n=%d", key, got, n)
				}
			}
		})
	}
}

func TestNonPositivePartitionCount(t *testing.T) {
	for _, np := range allPartitioners {
		p := np.new()
		for _, n := range []int32{0, -1} {
			require.Equal(t, int32(0), p.Partition("t", nil, n), np.name)
			require.Equal(t, int32(0), p.Partition("t", []byte("k"), n), np.name)
			require.NotPanics(t, func() { p.OnNewBatch("t", 0, n) }, np.name)
		}
	}
}

func TestStickyKeyless(t *testing.T) {
	tests := []struct {
		name string
		n    int32
	}{
		{"one partition", 1},
		{"two partitions", 2},
		{"three partitions", 3},
		{"many partitions", 64},
	}
	for _, np := range keyedPartitioners {
		for _, tc := range tests {
			t.Run(np.name+"/"+tc.name, func(t *testing.T) {
				p := np.new()
				n := tc.n
				cur := p.Partition("t", nil, n)
				require.True(t, cur >= 0 && cur < n)
				seen := map[int32]bool{cur: true}
				for range 200 {
					// Sticks until told the batch is done.
					for range 20 {
						require.Equal(t, cur, p.Partition("t", nil, n))
					}
					// A stale notification (prev is not the current partition) is ignored.
					if n > 1 {
						p.OnNewBatch("t", (cur+1)%n, n)
						require.Equal(t, cur, p.Partition("t", nil, n))
					}
					p.OnNewBatch("t", cur, n)
					next := p.Partition("t", nil, n)
					require.True(t, next >= 0 && next < n)
					if n == 1 {
						require.Equal(t, int32(0), next)
					} else {
						require.NotEqual(t, cur, next, "OnNewBatch must move to another partition")
					}
					cur = next
					seen[cur] = true
				}
				if n <= 3 {
					require.Len(t, seen, int(n), "random moves should reach every partition")
				}
			})
		}
	}
}

func TestStickyKeylessPerTopic(t *testing.T) {
	for _, np := range keyedPartitioners {
		t.Run(np.name, func(t *testing.T) {
			p := np.new()
			const n = 8
			a := p.Partition("a", nil, n)
			b := p.Partition("b", nil, n)
			for range 50 {
				p.OnNewBatch("a", a, n)
				a = p.Partition("a", nil, n)
				require.Equal(t, b, p.Partition("b", nil, n), "OnNewBatch on a must not move b")
			}
			// OnNewBatch for a topic never partitioned is harmless.
			p.OnNewBatch("unseen", 3, n)
			got := p.Partition("unseen", nil, n)
			require.True(t, got >= 0 && got < n)
		})
	}
}

func TestStickyKeylessPartitionCountShrinks(t *testing.T) {
	for _, np := range keyedPartitioners {
		t.Run(np.name, func(t *testing.T) {
			p := np.new()
			// Find a state where the sticky partition is >= 4, then shrink to 4.
			cur := p.Partition("t", nil, 1000)
			for cur < 4 {
				p.OnNewBatch("t", cur, 1000)
				cur = p.Partition("t", nil, 1000)
			}
			got := p.Partition("t", nil, 4)
			require.True(t, got >= 0 && got < 4, "got %d", got)
			require.Equal(t, got, p.Partition("t", nil, 4), "sticks after re-pick")
			// prev outside the new range still moves it if current.
			p.OnNewBatch("t", got, 4)
			require.NotEqual(t, got, p.Partition("t", nil, 4))
		})
	}
}

func TestRoundRobin(t *testing.T) {
	tests := []struct {
		name string
		n    int32
	}{
		{"one", 1},
		{"two", 2},
		{"five", 5},
		{"hundred", 100},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := RoundRobinPartitioner()
			n := tc.n
			for i := range 3 * int(n) {
				want := int32(i) % n
				// Interleave two topics: each has its own counter.
				require.Equal(t, want, p.Partition("a", nil, n), "topic a, call %d", i)
				// Keys are ignored, as in Kafka's RoundRobinPartitioner.
				require.Equal(t, want, p.Partition("b", []byte("fixed-key"), n), "topic b, call %d", i)
				p.OnNewBatch("a", want, n) // no-op
			}
		})
	}
}

func TestConcurrentUse(t *testing.T) {
	const (
		goroutines = 8
		perG       = 2000
		n          = int32(16) // divides goroutines*perG
	)
	for _, np := range allPartitioners {
		t.Run(np.name, func(t *testing.T) {
			p := np.new()
			ref := np.new()
			keys := make([][]byte, 32)
			want := make([]int32, len(keys))
			for i := range keys {
				keys[i] = fmt.Appendf(nil, "key-%d", i)
				want[i] = ref.Partition("t", keys[i], n)
			}
			topics := []string{"t0", "t1", "t2"}
			counts := make([][]int, goroutines)
			var wg sync.WaitGroup
			for g := range goroutines {
				counts[g] = make([]int, n)
				wg.Go(func() {
					for i := range perG {
						topic := topics[i%len(topics)]
						k := i % len(keys)
						got := p.Partition(topic, keys[k], n)
						if np.name != "roundrobin" && got != want[k] {
							t.Errorf("key %q: got %d, want %d", keys[k], got, want[k])
							return
						}
						kl := p.Partition("keyless", nil, n)
						if kl < 0 || kl >= n {
							t.Errorf("keyless out of range: %d", kl)
							return
						}
						counts[g][kl]++
						if i%7 == 0 {
							p.OnNewBatch("keyless", kl, n)
						}
					}
				})
			}
			wg.Wait()
			if np.name == "roundrobin" {
				// The counter is shared: exactly even spread over the topic.
				total := make([]int, n)
				for g := range goroutines {
					for i, c := range counts[g] {
						total[i] += c
					}
				}
				for i, c := range total {
					require.Equal(t, goroutines*perG/int(n), c, "partition %d", i)
				}
			}
		})
	}
}

func TestPartitionDoesNotAllocate(t *testing.T) {
	key := []byte("0123456789abcdef")
	for _, np := range allPartitioners {
		p := np.new()
		p.Partition("t", nil, 12) // create per-topic state
		for _, k := range [][]byte{key, nil} {
			allocs := testing.AllocsPerRun(100, func() { p.Partition("t", k, 12) })
			require.Zero(t, allocs, "%s key=%v", np.name, k != nil)
		}
	}
}

func BenchmarkPartition(b *testing.B) {
	key := []byte("0123456789abcdef") // 16 bytes
	const n = 12
	for _, np := range allPartitioners {
		for _, kc := range []struct {
			name string
			key  []byte
		}{{"key16", key}, {"keyless", nil}} {
			b.Run(np.name+"/"+kc.name, func(b *testing.B) {
				p := np.new()
				b.ReportAllocs()
				var sink int32
				for b.Loop() {
					sink += p.Partition("topic", kc.key, n)
				}
				_ = sink
			})
			b.Run(np.name+"/"+kc.name+"/parallel", func(b *testing.B) {
				p := np.new()
				b.ReportAllocs()
				b.RunParallel(func(pb *testing.PB) {
					var sink int32
					for pb.Next() {
						sink += p.Partition("topic", kc.key, n)
					}
					_ = sink
				})
			})
		}
	}
}

// TestKeylessRecordsReachAddedPartitions: after AddPartitions, sticky
// partitioning of keyless records moves over every partition, the new ones
// included; it kept drawing from the partition count the partition's queue
// saw first, so the new partitions never got a keyless record.
func TestKeylessRecordsReachAddedPartitions(t *testing.T) {
	b := newBroker(t, map[string]commitlog.TopicConfig{"t": {Partitions: 2}})
	p, err := New(b, Config{Linger: new(time.Duration(0))})
	require.NoError(t, err)
	defer p.Close(context.Background())
	for i := 0; i < 20; i++ {
		_, err := p.SendSync(context.Background(), &Record{Topic: "t", Value: []byte(fmt.Sprint(i))})
		require.NoError(t, err)
	}
	require.NoError(t, b.AddPartitions("t", 4))
	counts := map[int32]int{}
	for i := 0; i < 200; i++ { // one record per batch: every batch moves on
		md, err := p.SendSync(context.Background(), &Record{Topic: "t", Value: []byte(fmt.Sprint(i))})
		require.NoError(t, err)
		counts[md.Partition]++
	}
	require.Positive(t, counts[2], "partition 2: %v", counts)
	require.Positive(t, counts[3], "partition 3: %v", counts)
}

// TestDefaultPartitionerIsKgoDefault: with no Partitioner set, a keyed
// record goes where franz-go's default keyed placement
// (kgo.StickyKeyPartitioner(nil), Kafka's murmur2) puts it, for many keys
// and partition counts, the empty key included.
func TestDefaultPartitionerIsKgoDefault(t *testing.T) {
	rc, err := Config{}.resolve()
	require.NoError(t, err)
	ours := rc.Partitioner
	theirs := kgo.StickyKeyPartitioner(nil).ForTopic("t")
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 5000 {
		key := make([]byte, rng.IntN(40))
		for j := range key {
			key[j] = byte(rng.Uint32())
		}
		if i%2 == 0 {
			key = fmt.Appendf(nil, "key-%d", i)
		}
		for _, n := range []int32{1, 2, 3, 7, 16, 100, 1009} {
			want := theirs.Partition(&kgo.Record{Key: key}, int(n))
			require.Equal(t, int32(want), ours.Partition("t", key, n), "key %x n=%d", key, n)
		}
	}
}
