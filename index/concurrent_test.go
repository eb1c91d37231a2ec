package index

import (
	"math/rand/v2"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestOffsetIndexConcurrentReaders runs one writer appending entries (and
// periodically trimming, which forces a remap on the next Append, then
// closing) against readers doing random lookups. Every answer must be an
// entry the writer wrote, at or below the query, and no older than what the
// entry count promised before the lookup started.
func TestOffsetIndexConcurrentReaders(t *testing.T) {
	const (
		base    = 1000
		step    = 2 // offsets base, base+2, base+4, ...
		entries = 100_000
		readers = 4
	)
	ix, err := OpenOffsetIndex(nil, filepath.Join(t.TempDir(), "c.index"), base, entries*OffsetEntrySize)
	require.NoError(t, err)

	var closing atomic.Bool
	var done atomic.Bool
	var wg sync.WaitGroup
	errs := make(chan string, readers)
	for r := range readers {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(r), 42))
			for !done.Load() {
				q := base - 5 + rng.Int64N(entries*step+10)
				seen := ix.Entries() // entries visible before the lookup
				off, pos := ix.Lookup(q)
				// The floor answer given only the entries seen before.
				var floor int64 = -1
				if seen > 0 && q >= base {
					floor = base + min((q-base)/step, int64(seen-1))*step
				}
				switch {
				case off == base && pos == 0:
					// Not found: only allowed when nothing at or below q was
					// visible, or the index is being closed.
					if floor >= 0 && !closing.Load() {
						errs <- "not found although entries were visible"
						return
					}
				case off > q:
					errs <- "entry offset above the query"
					return
				case (off-base)%step != 0 || int64(pos) != off*10:
					errs <- "entry not written by the writer"
					return
				case off < floor:
					errs <- "entry older than the visible entries allow"
					return
				}
				if _, lp, ok := ix.LastEntry(); ok && int64(lp)%10 != 0 {
					errs <- "torn last entry"
					return
				}
			}
		})
	}

	for i := range entries {
		off := int64(base + i*step)
		if err := ix.Append(off, uint32(off*10)); err != nil {
			require.NoError(t, err)
		}
		if i%10_000 == 5_000 {
			require.NoError(t, ix.Trim())
		}
	}
	require.True(t, ix.IsFull())
	require.ErrorIs(t, ix.Append(base+entries*step, 1), ErrIndexFull)
	closing.Store(true)
	require.NoError(t, ix.Close())
	done.Store(true)
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

// TestTimeIndexConcurrentReaders is the time index counterpart: entry i has
// timestamp 10*i+5 and offset base+2*i.
func TestTimeIndexConcurrentReaders(t *testing.T) {
	const (
		base    = 500
		entries = 100_000
		readers = 4
	)
	ti, err := OpenTimeIndex(nil, filepath.Join(t.TempDir(), "c.timeindex"), base, entries*TimeEntrySize)
	require.NoError(t, err)

	var closing, done atomic.Bool
	var wg sync.WaitGroup
	errs := make(chan string, readers)
	for r := range readers {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(r), 7))
			for !done.Load() {
				q := rng.Int64N(entries*10 + 20)
				seen := int64(ti.Entries())
				ts, off, ok := ti.Lookup(q)
				if !ok {
					// Entry 0 (ts 5) is below q once visible.
					if seen > 0 && q > 5 && !closing.Load() {
						errs <- "Lookup: not found although entries were visible"
						return
					}
				} else if ts >= q || (ts-5)%10 != 0 || off != base+2*((ts-5)/10) {
					errs <- "Lookup: inconsistent entry"
					return
				} else if want := min((q-6)/10, seen-1); seen > 0 && (ts-5)/10 < want {
					errs <- "Lookup: entry older than the visible entries allow"
					return
				}
				ts, off, ok = ti.FirstAtOrAfter(q)
				if ok && (ts < q || (ts-5)%10 != 0 || off != base+2*((ts-5)/10)) {
					errs <- "FirstAtOrAfter: inconsistent entry"
					return
				}
			}
		})
	}

	for i := range entries {
		require.NoError(t, ti.Append(int64(10*i+5), int64(base+2*i)))
		if i%10_000 == 5_000 {
			require.NoError(t, ti.Trim())
		}
	}
	require.True(t, ti.IsFull())
	closing.Store(true)
	require.NoError(t, ti.Close())
	done.Store(true)
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}
