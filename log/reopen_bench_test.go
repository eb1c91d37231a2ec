package log

import (
	"fmt"
	"testing"
)

// BenchmarkReopen opens a cleanly closed log of 64 segments of 1 MiB
// (100 B records, 100 per batch): the cost of a broker restart per
// partition. Opening trusts the sealed segments' indexes, checks a few
// batch headers per segment and writes nothing.
func BenchmarkReopen(b *testing.B) {
	for _, segs := range []int{16, 64} {
		b.Run(fmt.Sprintf("segments=%d", segs), func(b *testing.B) {
			dir := b.TempDir()
			cfg := benchConfig()
			cfg.SegmentBytes = 1 << 20
			l, err := Open(dir, cfg)
			if err != nil {
				b.Fatal(err)
			}
			batch := benchBatch(b, 100, 100)
			for l.NumSegments() < segs {
				if _, err := l.Append(append([]byte(nil), batch...)); err != nil {
					b.Fatal(err)
				}
			}
			if err := l.Close(); err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			for range b.N {
				l, err := Open(dir, cfg)
				if err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				if err := l.Close(); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
			}
		})
	}
}
