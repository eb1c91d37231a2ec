package index

import (
	"encoding/binary"
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/commitlog-go/commitlog/record"
	"github.com/stretchr/testify/require"
)

func TestOpenOffsetIndexCreatesEmptyFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "00000000000000000042.index")
	ix, err := OpenOffsetIndex(nil, path, 42, 100)
	require.NoError(t, err)
	defer ix.Close()

	require.Equal(t, int64(0), fileSize(t, path), "no preallocation: a full disk fails a write, never a page fault")
	require.Equal(t, 0, ix.Entries())
	require.Equal(t, int64(42), ix.BaseOffset())
	require.Equal(t, path, ix.Path())
	require.False(t, ix.IsFull())
	_, _, ok := ix.LastEntry()
	require.False(t, ok)
	off, pos := ix.Lookup(50)
	require.Equal(t, int64(42), off)
	require.Equal(t, uint32(0), pos)
	require.NoError(t, ix.SanityCheck(0))
}

func TestOpenOffsetIndexErrors(t *testing.T) {
	dir := t.TempDir()
	for _, maxBytes := range []int{-1, 0, 7} {
		_, err := OpenOffsetIndex(nil, filepath.Join(dir, "a.index"), 0, maxBytes)
		require.Error(t, err, "maxBytes %d", maxBytes)
	}
	_, err := OpenOffsetIndex(nil, filepath.Join(dir, "missing-dir", "a.index"), 0, 1024)
	require.Error(t, err)
	_, err = OpenOffsetIndex(nil, filepath.Join(dir, "b.index"), -1, 1024)
	require.Error(t, err)
}

func TestOffsetIndexLookup(t *testing.T) {
	const base = 100
	ix := newOffsetIndex(t, base, 1024, offsetEntries{{100, 0}, {110, 500}, {120, 1000}, {150, 4096}})
	gappy := newOffsetIndex(t, base, 1024, offsetEntries{{105, 200}, {200, 900}})
	empty := newOffsetIndex(t, base, 1024, nil)

	tests := []struct {
		name    string
		ix      *OffsetIndex
		query   int64
		wantOff int64
		wantPos uint32
	}{
		{"below base", ix, 0, base, 0},
		{"negative", ix, -5, base, 0},
		{"first entry exact", ix, 100, 100, 0},
		{"between first and second", ix, 105, 100, 0},
		{"second exact", ix, 110, 110, 500},
		{"just before third", ix, 119, 110, 500},
		{"third exact", ix, 120, 120, 1000},
		{"last exact", ix, 150, 150, 4096},
		{"after last", ix, 151, 150, 4096},
		{"far after last", ix, base + math.MaxUint32 + 10, 150, 4096},
		{"max int64", ix, math.MaxInt64, 150, 4096},
		{"before first entry above base", gappy, 101, base, 0},
		{"gappy exact", gappy, 105, 105, 200},
		{"gappy between", gappy, 199, 105, 200},
		{"gappy after", gappy, 1000, 200, 900},
		{"empty", empty, 120, base, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			off, pos := tc.ix.Lookup(tc.query)
			require.Equal(t, tc.wantOff, off)
			require.Equal(t, tc.wantPos, pos)
		})
	}

	off, pos, ok := ix.LastEntry()
	require.True(t, ok)
	require.Equal(t, int64(150), off)
	require.Equal(t, uint32(4096), pos)
	require.Equal(t, 4, ix.Entries())
	require.NoError(t, ix.SanityCheck(4097))
}

// TestUpperBound checks the interpolating search against sort.Search on
// entries whose offsets grow evenly, unevenly (runs of small and huge
// steps, as batches of very different sizes give) and at the limits of
// the 32-bit relative offset, for every target around every entry.
func TestUpperBound(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	gens := map[string]func(i int) uint32{
		"even":    func(i int) uint32 { return uint32(100*i + 99) },
		"uneven":  func(i int) uint32 { return uint32(r.IntN(3) + 1) },
		"bursty":  func(i int) uint32 { return []uint32{1, 1, 1, 5000}[r.IntN(4)] },
		"huge":    func(i int) uint32 { return uint32(r.IntN(1 << 22)) }, // 1000 entries stay below 2^32
		"skewed":  func(i int) uint32 { return uint32(1 + i*i) },
		"one-gap": func(i int) uint32 { return map[bool]uint32{true: 1 << 30, false: 1}[i == 7] },
	}
	for name, gen := range gens {
		for _, n := range []int{0, 1, 2, 3, 5, 17, 1000} {
			rels := make([]uint32, n)
			b := make([]byte, n*OffsetEntrySize)
			var rel uint32
			for i := range n {
				if name == "even" {
					rel = gen(i)
				} else if i > 0 {
					rel += gen(i)
				}
				rels[i] = rel
				binary.BigEndian.PutUint32(b[i*OffsetEntrySize:], rel)
			}
			targets := []uint32{0, math.MaxUint32, math.MaxUint32 - 1}
			for _, x := range rels {
				targets = append(targets, x-1, x, x+1)
			}
			for range 200 {
				targets = append(targets, r.Uint32N(rel+2))
			}
			for _, target := range targets {
				want := sort.Search(n, func(i int) bool { return rels[i] > target })
				require.Equal(t, want, upperBound(b, n, target), "%s, %d entries, target %d", name, n, target)
			}
		}
	}
}

func TestOffsetIndexLookupSpan(t *testing.T) {
	const base = 100
	ix := newOffsetIndex(t, base, 1024, offsetEntries{{100, 0}, {110, 500}, {120, 1000}, {150, 4096}})
	gappy := newOffsetIndex(t, base, 1024, offsetEntries{{105, 200}})
	empty := newOffsetIndex(t, base, 1024, nil)
	tests := []struct {
		name  string
		ix    *OffsetIndex
		query int64
		want  Span
	}{
		{"below base", ix, 0, Span{Offset: base, NextOffset: 100, NextPosition: 0, HasNext: true, AfterPosition: 500, HasAfter: true}},
		{"first exact", ix, 100, Span{Offset: 100, NextOffset: 110, NextPosition: 500, HasNext: true, AfterPosition: 1000, HasAfter: true}},
		{"between second and third", ix, 115, Span{Offset: 110, Position: 500, NextOffset: 120, NextPosition: 1000, HasNext: true, AfterPosition: 4096, HasAfter: true}},
		{"third exact", ix, 120, Span{Offset: 120, Position: 1000, NextOffset: 150, NextPosition: 4096, HasNext: true}},
		{"after last", ix, 151, Span{Offset: 150, Position: 4096}},
		{"max int64", ix, math.MaxInt64, Span{Offset: 150, Position: 4096}},
		{"before the only entry", gappy, 101, Span{Offset: base, NextOffset: 105, NextPosition: 200, HasNext: true}},
		{"empty", empty, 120, Span{Offset: base}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, tc.ix.LookupSpan(tc.query))
			off, pos := tc.ix.Lookup(tc.query)
			require.Equal(t, tc.want.Offset, off)
			require.Equal(t, tc.want.Position, pos)
		})
	}
}

func TestOffsetIndexAppendErrors(t *testing.T) {
	const base = 1000
	ix := newOffsetIndex(t, base, 1024, offsetEntries{{1000, 0}, {1010, 100}})

	tests := []struct {
		name   string
		offset int64
	}{
		{"equal to last", 1010},
		{"below last", 1005},
		{"below base", 999},
		{"too far past base", base + math.MaxUint32 + 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := ix.Append(tc.offset, 200)
			require.Error(t, err)
			require.False(t, errors.Is(err, ErrIndexFull))
			require.Equal(t, 2, ix.Entries())
		})
	}
	// The largest representable relative offset is fine.
	require.NoError(t, ix.Append(base+math.MaxUint32, 300))
	off, pos, ok := ix.LastEntry()
	require.True(t, ok)
	require.Equal(t, int64(base+math.MaxUint32), off)
	require.Equal(t, uint32(300), pos)
}

func TestOffsetIndexFull(t *testing.T) {
	ix := newOffsetIndex(t, 0, 3*8+5, nil)
	for i := range 3 {
		require.False(t, ix.IsFull())
		require.NoError(t, ix.Append(int64(i*10), uint32(i*100)))
	}
	require.True(t, ix.IsFull())
	err := ix.Append(100, 1000)
	require.ErrorIs(t, err, ErrIndexFull)
	require.Equal(t, 3, ix.Entries())
	off, pos := ix.Lookup(1000)
	require.Equal(t, int64(20), off)
	require.Equal(t, uint32(200), pos)

	// Truncating makes room again.
	require.NoError(t, ix.TruncateTo(20))
	require.False(t, ix.IsFull())
	require.NoError(t, ix.Append(25, 250))
	require.True(t, ix.IsFull())
}

func TestOffsetIndexTruncateTo(t *testing.T) {
	const base = 50
	all := offsetEntries{{50, 0}, {60, 100}, {70, 200}, {80, 300}}
	tests := []struct {
		name string
		to   int64
		want offsetEntries
	}{
		{"below base", 10, offsetEntries{}},
		{"base", 50, offsetEntries{}},
		{"just after first", 51, offsetEntries{{50, 0}}},
		{"exact middle entry", 70, offsetEntries{{50, 0}, {60, 100}}},
		{"between entries", 75, offsetEntries{{50, 0}, {60, 100}, {70, 200}}},
		{"last entry", 80, offsetEntries{{50, 0}, {60, 100}, {70, 200}}},
		{"after last", 81, all},
		{"far after", math.MaxInt64, all},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ix := newOffsetIndex(t, base, 1024, all)
			require.NoError(t, ix.TruncateTo(tc.to))
			require.Equal(t, tc.want, offsetContents(ix))
			require.Equal(t, len(tc.want), ix.Entries())

			// Dropped entries leave the file at the next Trim: it holds
			// exactly the kept entries.
			require.NoError(t, ix.Trim())
			raw, err := os.ReadFile(ix.Path())
			require.NoError(t, err)
			require.Len(t, raw, len(tc.want)*8)

			// Appending continues after the new last entry.
			next := int64(base)
			if len(tc.want) > 0 {
				next = tc.want[len(tc.want)-1][0] + 1
			}
			require.NoError(t, ix.Append(next, 999))
			off, pos := ix.Lookup(next)
			require.Equal(t, next, off)
			require.Equal(t, uint32(999), pos)
		})
	}
}

func TestOffsetIndexReset(t *testing.T) {
	ix := newOffsetIndex(t, 0, 1024, offsetEntries{{0, 0}, {5, 50}, {9, 90}})
	require.NoError(t, ix.Reset())
	require.Equal(t, 0, ix.Entries())
	_, _, ok := ix.LastEntry()
	require.False(t, ok)
	off, pos := ix.Lookup(9)
	require.Equal(t, int64(0), off)
	require.Equal(t, uint32(0), pos)
	require.NoError(t, ix.Append(3, 30))
	require.Equal(t, offsetEntries{{3, 30}}, offsetContents(ix))
}

func TestOffsetIndexReopenAfterClose(t *testing.T) {
	path := filepath.Join(t.TempDir(), "00000000000000000100.index")
	ix, err := OpenOffsetIndex(nil, path, 100, 1<<20)
	require.NoError(t, err)
	want := offsetEntries{{100, 0}, {103, 4096}, {107, 8192}}
	for _, e := range want {
		require.NoError(t, ix.Append(e[0], uint32(e[1])))
	}
	require.NoError(t, ix.Sync())
	require.NoError(t, ix.Close())
	require.NoError(t, ix.Close(), "Close is idempotent")
	require.Equal(t, int64(24), fileSize(t, path), "the file holds exactly the entries")

	ix, err = OpenOffsetIndex(nil, path, 100, 1<<20)
	require.NoError(t, err)
	defer ix.Close()
	require.Equal(t, want, offsetContents(ix))
	require.NoError(t, ix.SanityCheck(8193))
	require.NoError(t, ix.Append(110, 12288))
	off, pos := ix.Lookup(111)
	require.Equal(t, int64(110), off)
	require.Equal(t, uint32(12288), pos)
}

func TestOffsetIndexReopenUntrimmed(t *testing.T) {
	ix := newOffsetIndex(t, 0, 4096, offsetEntries{{0, 0}, {10, 100}, {20, 200}})
	require.NoError(t, ix.Sync())

	// A preallocated file, as versions that memory-mapped the index left
	// it after a crash, keeps its entries and drops the padding.
	crashed := copyFile(t, ix.Path())
	require.NoError(t, os.Truncate(crashed, 4096))
	cx, err := OpenOffsetIndex(nil, crashed, 0, 4096)
	require.NoError(t, err)
	require.Equal(t, offsetEntries{{0, 0}, {10, 100}, {20, 200}}, offsetContents(cx))
	require.NoError(t, cx.SanityCheck(201))
	require.NoError(t, cx.Append(30, 300))
	require.NoError(t, cx.Close())
	require.Equal(t, int64(32), fileSize(t, crashed))

	// Opening the same live file a second time sees the same entries.
	second, err := OpenOffsetIndex(nil, ix.Path(), 0, 4096)
	require.NoError(t, err)
	require.Equal(t, 3, second.Entries())
	off, pos := second.Lookup(15)
	require.Equal(t, int64(10), off)
	require.Equal(t, uint32(100), pos)
	require.NoError(t, second.m.f.Close())
}

func TestOffsetIndexReopenAllPadding(t *testing.T) {
	// A preallocated file that never got an entry reads as one all-zero
	// entry {base, 0}: entry 0 is never treated as padding. That entry is
	// harmless for lookups, and SanityCheck flags it against an empty log.
	path := filepath.Join(t.TempDir(), "a.index")
	require.NoError(t, os.WriteFile(path, make([]byte, 800), 0o644))
	ix, err := OpenOffsetIndex(nil, path, 7, 800)
	require.NoError(t, err)
	defer ix.Close()
	require.Equal(t, offsetEntries{{7, 0}}, offsetContents(ix))
	require.ErrorIs(t, ix.SanityCheck(0), record.ErrCorrupt)
	require.NoError(t, ix.SanityCheck(10))
}

func TestOffsetIndexSanityCheck(t *testing.T) {
	const base = 1000
	tests := []struct {
		name    string
		entries offsetEntries
		logSize int64
		corrupt bool
	}{
		{"empty", nil, 0, false},
		{"good", offsetEntries{{1000, 0}, {1005, 10}, {1009, 20}}, 21, false},
		{"equal positions allowed", offsetEntries{{1000, 0}, {1005, 10}, {1009, 10}}, 21, false},
		{"offsets decrease", offsetEntries{{1000, 0}, {1009, 10}, {1005, 20}}, 21, true},
		{"offsets repeat", offsetEntries{{1000, 0}, {1005, 10}, {1005, 20}}, 21, true},
		{"positions decrease", offsetEntries{{1000, 0}, {1005, 20}, {1009, 10}}, 21, true},
		{"position at log end", offsetEntries{{1000, 0}, {1005, 10}, {1009, 20}}, 20, true},
		{"position past log end", offsetEntries{{1000, 0}, {1005, 10}, {1009, 20}}, 5, true},
		{"log size unknown", offsetEntries{{1000, 0}, {1005, 10}, {1009, 20}}, -1, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "x.index")
			rawOffsetFile(t, path, base, tc.entries, nil)
			ix, err := OpenOffsetIndex(nil, path, base, 1024)
			require.NoError(t, err, "opening never fails on bad contents")
			defer ix.Close()
			require.Equal(t, len(tc.entries), ix.Entries())
			err = ix.SanityCheck(tc.logSize)
			if !tc.corrupt {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, record.ErrCorrupt)
			require.Contains(t, err.Error(), path)
			// Lookups on a corrupt index still do not panic.
			ix.Lookup(1007)
			ix.Lookup(0)
			// Reset and rebuild fixes it.
			require.NoError(t, ix.Reset())
			require.NoError(t, ix.SanityCheck(tc.logSize))
		})
	}
}

func TestOffsetIndexCorruptedInPlace(t *testing.T) {
	// Flip bytes of a valid file so that offsets decrease.
	path := filepath.Join(t.TempDir(), "x.index")
	ix, err := OpenOffsetIndex(nil, path, 0, 1024)
	require.NoError(t, err)
	for i := range 10 {
		require.NoError(t, ix.Append(int64(i*10), uint32(i*100)))
	}
	require.NoError(t, ix.Close())
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	raw[5*8] = 0xff // entry 5's relative offset becomes huge
	require.NoError(t, os.WriteFile(path, raw, 0o644))

	ix, err = OpenOffsetIndex(nil, path, 0, 1024)
	require.NoError(t, err)
	defer ix.Close()
	err = ix.SanityCheck(-1)
	require.True(t, errors.Is(err, record.ErrCorrupt), "got %v", err)
}

func TestOffsetIndexOddFileSize(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.index")
	rawOffsetFile(t, path, 0, offsetEntries{{0, 0}, {4, 40}}, []byte{1, 2, 3})
	ix, err := OpenOffsetIndex(nil, path, 0, 1024)
	require.NoError(t, err)
	require.Equal(t, offsetEntries{{0, 0}, {4, 40}}, offsetContents(ix))
	err = ix.SanityCheck(-1)
	require.ErrorIs(t, err, record.ErrCorrupt)
	off, pos := ix.Lookup(5)
	require.Equal(t, int64(4), off)
	require.Equal(t, uint32(40), pos)

	// The partial entry's bytes were cleared: a crash now leaves clean padding.
	crashed, err := OpenOffsetIndex(nil, copyFile(t, path), 0, 1024)
	require.NoError(t, err)
	require.Equal(t, 2, crashed.Entries())
	require.NoError(t, crashed.Close())

	require.NoError(t, ix.Reset())
	require.NoError(t, ix.SanityCheck(-1))
	require.NoError(t, ix.Close())

	// A file larger than maxBytes with an odd size is rounded down too.
	rawOffsetFile(t, path, 0, offsetEntries{{0, 0}, {4, 40}, {8, 80}}, []byte{9})
	ix, err = OpenOffsetIndex(nil, path, 0, 16)
	require.NoError(t, err)
	defer ix.Close()
	require.Equal(t, 3, ix.Entries())
	require.True(t, ix.IsFull())
	require.ErrorIs(t, ix.Append(9, 90), ErrIndexFull)
	require.ErrorIs(t, ix.SanityCheck(-1), record.ErrCorrupt)
}

func TestOffsetIndexTrimThenAppend(t *testing.T) {
	ix := newOffsetIndex(t, 0, 4096, offsetEntries{{0, 0}, {1, 10}, {2, 20}})
	require.NoError(t, ix.Trim())
	require.Equal(t, int64(24), fileSize(t, ix.Path()))
	require.NoError(t, ix.Trim(), "trimming twice is fine")
	off, pos := ix.Lookup(5)
	require.Equal(t, int64(2), off)
	require.Equal(t, uint32(20), pos)

	require.NoError(t, ix.Append(3, 30))
	require.Equal(t, int64(24), fileSize(t, ix.Path()), "an entry reaches the file at the next Trim, Sync or Close")
	require.Equal(t, offsetEntries{{0, 0}, {1, 10}, {2, 20}, {3, 30}}, offsetContents(ix))
	require.NoError(t, ix.Sync())
	require.Equal(t, int64(32), fileSize(t, ix.Path()))

	// An empty index trims to an empty file and can still be appended to.
	empty := newOffsetIndex(t, 0, 4096, nil)
	require.NoError(t, empty.Trim())
	require.Equal(t, int64(0), fileSize(t, empty.Path()))
	off, pos = empty.Lookup(5)
	require.Equal(t, int64(0), off)
	require.Equal(t, uint32(0), pos)
	require.NoError(t, empty.Sync())
	require.NoError(t, empty.Append(4, 40))
	require.Equal(t, 1, empty.Entries())
}

func TestOffsetIndexAfterClose(t *testing.T) {
	ix := newOffsetIndex(t, 10, 1024, offsetEntries{{10, 0}, {20, 100}})
	require.NoError(t, ix.Close())

	off, pos := ix.Lookup(25)
	require.Equal(t, int64(10), off)
	require.Equal(t, uint32(0), pos)
	_, _, ok := ix.LastEntry()
	require.False(t, ok)
	require.Equal(t, 0, ix.Entries())
	for name, err := range map[string]error{
		"Append":      ix.Append(30, 200),
		"TruncateTo":  ix.TruncateTo(15),
		"Reset":       ix.Reset(),
		"Sync":        ix.Sync(),
		"Trim":        ix.Trim(),
		"SanityCheck": ix.SanityCheck(-1),
	} {
		require.ErrorIs(t, err, os.ErrClosed, name)
	}
	require.NoError(t, ix.Close())
}

func TestOffsetIndexDelete(t *testing.T) {
	ix := newOffsetIndex(t, 0, 1024, offsetEntries{{0, 0}})
	path := ix.Path()
	require.NoError(t, ix.Delete())
	_, err := os.Stat(path)
	require.ErrorIs(t, err, os.ErrNotExist)
	require.NoError(t, ix.Delete(), "deleting twice is fine")
	off, _ := ix.Lookup(3)
	require.Equal(t, int64(0), off)
}

func TestOffsetIndexRename(t *testing.T) {
	ix := newOffsetIndex(t, 0, 1024, offsetEntries{{0, 0}, {5, 50}})
	old := ix.Path()
	renamed := old + ".deleted"
	require.NoError(t, ix.Rename(renamed))
	require.Equal(t, renamed, ix.Path())
	_, err := os.Stat(old)
	require.ErrorIs(t, err, os.ErrNotExist)

	// Still usable, and Close writes the file under its new name.
	require.NoError(t, ix.Append(9, 90))
	require.NoError(t, ix.Close())
	require.Equal(t, int64(24), fileSize(t, renamed))

	// A closed index can be renamed, and Delete removes the renamed file.
	cleaned := old + ".cleaned"
	require.NoError(t, ix.Rename(cleaned))
	require.NoError(t, ix.Delete())
	_, err = os.Stat(cleaned)
	require.ErrorIs(t, err, os.ErrNotExist)

	require.Error(t, ix.Rename(old+".again"), "renaming a missing file fails")
}
