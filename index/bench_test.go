package index

import (
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// BenchmarkOffsetIndexLookup looks up offsets in indexes of 1,000 and
// 1,000,000 entries. "hot" cycles through 4096 queries, whose entries the
// cache soon holds; "random" draws a fresh offset each time, as random
// reads of a large log do, so that a lookup in the large index pays for
// the cache lines it reads.
func BenchmarkOffsetIndexLookup(b *testing.B) {
	for _, n := range []int{1_000, 1_000_000} {
		for _, mode := range []string{"hot", "random"} {
			b.Run(fmt.Sprintf("entries=%d/%s", n, mode), func(b *testing.B) {
				ix, err := OpenOffsetIndex(nil, filepath.Join(b.TempDir(), "b.index"), 0, n*OffsetEntrySize)
				require.NoError(b, err)
				defer ix.Close()
				for i := range n {
					require.NoError(b, ix.Append(int64(i)*3, uint32(i)*4096))
				}
				rng := rand.New(rand.NewPCG(1, 2))
				queries := make([]int64, 4096)
				for i := range queries {
					queries[i] = rng.Int64N(int64(n) * 3)
				}
				b.ReportAllocs()
				i := 0
				for b.Loop() {
					if mode == "hot" {
						ix.Lookup(queries[i&4095])
					} else {
						ix.Lookup(rng.Int64N(int64(n) * 3))
					}
					i++
				}
			})
		}
	}
}

func BenchmarkTimeIndexLookup(b *testing.B) {
	for _, n := range []int{1_000, 1_000_000} {
		b.Run(fmt.Sprintf("entries=%d", n), func(b *testing.B) {
			ti, err := OpenTimeIndex(nil, filepath.Join(b.TempDir(), "b.timeindex"), 0, n*TimeEntrySize)
			require.NoError(b, err)
			defer ti.Close()
			for i := range n {
				require.NoError(b, ti.Append(1_700_000_000_000+int64(i)*7, int64(i)*3))
			}
			rng := rand.New(rand.NewPCG(1, 2))
			queries := make([]int64, 4096)
			for i := range queries {
				queries[i] = 1_700_000_000_000 + rng.Int64N(int64(n)*7)
			}
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				ti.Lookup(queries[i&4095])
				i++
			}
		})
	}
}

func BenchmarkOffsetIndexAppend(b *testing.B) {
	ix, err := OpenOffsetIndex(nil, filepath.Join(b.TempDir(), "b.index"), 0, 10<<20)
	require.NoError(b, err)
	defer ix.Close()
	b.ReportAllocs()
	var off int64
	for b.Loop() {
		if ix.IsFull() {
			require.NoError(b, ix.Reset())
		}
		if err := ix.Append(off, uint32(off)); err != nil {
			b.Fatal(err)
		}
		off++
	}
}
