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
	for _, c := range []Compression{None, LZ4} {
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
	for _, c := range []Compression{None, LZ4} {
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
