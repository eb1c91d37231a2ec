package record

import (
	"fmt"
	"testing"
)

func benchRecords(n, size int) (keys, values [][]byte) {
	for i := 0; i < n; i++ {
		keys = append(keys, []byte(fmt.Sprintf("key-%08d", i)))
		v := make([]byte, size)
		for j := range v {
			v[j] = byte('a' + (i+j)%26)
		}
		values = append(values, v)
	}
	return keys, values
}

func BenchmarkBuild(b *testing.B) {
	for _, c := range []Compression{None, Snappy, LZ4, ZSTD} {
		for _, size := range []int{100, 1024} {
			b.Run(fmt.Sprintf("%v/%dB/100rec", c, size), func(b *testing.B) {
				keys, values := benchRecords(100, size)
				bl := NewBuilder(0, BatchOptions{Compression: c})
				b.SetBytes(int64(100 * size))
				b.ReportAllocs()
				for b.Loop() {
					bl.Reset(0, BatchOptions{Compression: c})
					for i := range keys {
						bl.Add(1_700_000_000_000, keys[i], values[i], nil)
					}
					if _, err := bl.Build(); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(100*b.N)/b.Elapsed().Seconds(), "records/s")
			})
		}
	}
}

func BenchmarkIterate(b *testing.B) {
	for _, c := range []Compression{None, Snappy, LZ4, ZSTD} {
		for _, size := range []int{100, 1024} {
			b.Run(fmt.Sprintf("%v/%dB/100rec", c, size), func(b *testing.B) {
				keys, values := benchRecords(100, size)
				bl := NewBuilder(0, BatchOptions{Compression: c})
				for i := range keys {
					bl.Add(1_700_000_000_000, keys[i], values[i], []Header{{Key: "trace", Value: []byte("x")}})
				}
				raw, err := bl.Build()
				if err != nil {
					b.Fatal(err)
				}
				var it Iterator
				b.SetBytes(int64(100 * size))
				b.ReportAllocs()
				for b.Loop() {
					if err := it.Reset(raw); err != nil {
						b.Fatal(err)
					}
					for it.Next() {
					}
					if it.Err() != nil {
						b.Fatal(it.Err())
					}
				}
				b.ReportMetric(float64(100*b.N)/b.Elapsed().Seconds(), "records/s")
			})
		}
	}
}

// BenchmarkCodec measures each codec alone on the records section of a
// batch of 100 records of 1 KiB: compress and decompress throughput (of
// uncompressed bytes) and the compressed size.
// Run it with: go test ./record -run '^$' -bench Codec -benchmem
func BenchmarkCodec(b *testing.B) {
	keys, values := benchRecords(100, 1024)
	bl := NewBuilder(0, BatchOptions{})
	for i := range keys {
		bl.Add(1_700_000_000_000, keys[i], values[i], nil)
	}
	raw, err := bl.Build()
	if err != nil {
		b.Fatal(err)
	}
	body := raw[HeaderSize:]
	for _, c := range []Compression{GZIP, Snappy, LZ4, ZSTD} {
		z, err := compress(c, nil, body)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(fmt.Sprintf("%v/compress", c), func(b *testing.B) {
			var dst []byte
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				if dst, err = compress(c, dst[:0], body); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(len(z))/float64(len(body)), "ratio")
		})
		b.Run(fmt.Sprintf("%v/decompress", c), func(b *testing.B) {
			var dst []byte
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				if dst, err = decompress(c, dst[:0], z); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
