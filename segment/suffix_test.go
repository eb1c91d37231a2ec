package segment

import (
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/commitlog-go/commitlog/record"
	"github.com/stretchr/testify/require"
)

func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	slices.Sort(names)
	return names
}

func suffixedNames(base int64, suffix string) []string {
	return []string{
		FileName(base, IndexSuffix) + suffix,
		FileName(base, LogSuffix) + suffix,
		FileName(base, TimeIndexSuffix) + suffix,
	}
}

// The log cleaner's life cycle of a segment: written under ".cleaned",
// renamed to ".swap", then to its final names, and read back by Open.
func TestSuffixLifeCycle(t *testing.T) {
	dir := t.TempDir()
	cfg := Config{IndexIntervalBytes: new(100), Compacted: true} // the cleaner's output has gaps
	s, err := OpenWithSuffix(dir, 100, ".cleaned", cfg)
	require.NoError(t, err)
	require.Equal(t, ".cleaned", s.Suffix())
	require.Equal(t, suffixedNames(100, ".cleaned"), dirNames(t, dir))

	// Batches with gaps, written back to back with one AppendBatches.
	var all []byte
	var ws []written
	for i, base := range []int64{100, 104, 110, 113, 130} {
		raw := batchN(t, base, 1+i%3, 80, int64(1000+i))
		h, err := record.ParseHeader(raw)
		require.NoError(t, err)
		ws = append(ws, written{h: h, pos: int64(len(all)), bytes: raw})
		all = append(all, raw...)
	}
	require.NoError(t, s.AppendBatches(all))
	require.Equal(t, int64(len(all)), s.Size())
	require.Equal(t, int64(132), s.NextOffset())
	require.Equal(t, int64(1004), s.MaxTimestamp())
	require.NoError(t, s.Seal())
	checkEveryOffset(t, s, ws)

	// A reader holding a reference keeps reading across the renames.
	require.True(t, s.Acquire())
	require.NoError(t, s.RenameSuffix(".swap"))
	require.Equal(t, suffixedNames(100, ".swap"), dirNames(t, dir))
	require.NoError(t, s.RenameSuffix(""))
	require.Equal(t, "", s.Suffix())
	require.Equal(t, suffixedNames(100, ""), dirNames(t, dir))
	checkEveryOffset(t, s, ws)
	s.Release()
	require.NoError(t, s.Close())

	s2 := openSeg(t, dir, 100, cfg)
	require.Equal(t, int64(132), s2.NextOffset())
	require.Equal(t, int64(1004), s2.MaxTimestamp())
	checkEveryOffset(t, s2, ws)

	// Positions: the first batch whose last offset is at or after.
	for _, c := range []struct {
		offset int64
		pos    int64
	}{{0, 0}, {100, 0}, {103, ws[1].pos}, {104, ws[1].pos}, {112, ws[2].pos}, {114, ws[4].pos}, {131, ws[4].pos}, {132, s2.Size()}, {500, s2.Size()}} {
		got, err := s2.Position(c.offset)
		require.NoError(t, err)
		require.Equal(t, c.pos, got, "offset %d", c.offset)
	}
}

func TestAppendBatchesChecks(t *testing.T) {
	s := openSeg(t, t.TempDir(), 10, Config{})
	a := batchN(t, 10, 2, 10, 1)
	b := batchN(t, 11, 2, 10, 1) // overlaps a
	require.Error(t, s.AppendBatches(append(slices.Clone(a), b...)))
	require.Error(t, s.AppendBatches(append(slices.Clone(a), b[:20]...)), "a cut batch")
	require.Error(t, s.AppendBatches(batchN(t, 9, 1, 10, 1)), "below the base offset")
	require.Equal(t, int64(0), s.Size(), "nothing written when a batch fails")
	require.NoError(t, s.AppendBatches(nil))
	require.NoError(t, s.AppendBatches(a))
	require.Equal(t, int64(12), s.NextOffset())
}

// Delete after a rename removes the files under their new names, and only
// those: a segment renamed aside (".deleted") never removes files that now
// carry its old names.
func TestDeleteAfterRename(t *testing.T) {
	dir := t.TempDir()
	old, err := Open(dir, 0, Config{})
	require.NoError(t, err)
	ws := fill(t, old, 5, 1)
	require.NoError(t, old.RenameSuffix(".deleted"))
	require.True(t, old.Acquire())
	require.NoError(t, old.Delete())

	// A new segment takes the final names meanwhile.
	repl, err := Open(dir, 0, Config{})
	require.NoError(t, err)
	fill(t, repl, 2, 1)
	require.NoError(t, repl.Seal())

	got := make([]byte, len(concat(ws)))
	_, err = old.f.ReadAt(got, 0)
	require.NoError(t, err)
	require.Equal(t, concat(ws), got, "the reader still reads the renamed file")
	old.Release()
	require.Equal(t, suffixedNames(0, ""), dirNames(t, dir))
	require.NoError(t, repl.Close())

	require.NoError(t, RemoveFiles(nil, dir, 0, ""))
	require.NoError(t, RemoveFiles(nil, dir, 0, ".swap"), "missing files are not an error")
	require.Empty(t, dirNames(t, dir))
}

func TestOpenWithSuffixRebuildsMissingIndexes(t *testing.T) {
	dir := t.TempDir()
	s, err := OpenWithSuffix(dir, 0, ".swap", Config{IndexIntervalBytes: new(50)})
	require.NoError(t, err)
	ws := fill(t, s, 30, 1)
	require.NoError(t, s.Close())
	require.NoError(t, os.Remove(filepath.Join(dir, FileName(0, IndexSuffix)+".swap")))
	s, err = OpenWithSuffix(dir, 0, ".swap", Config{IndexIntervalBytes: new(50)})
	require.NoError(t, err)
	defer s.Close()
	checkEveryOffset(t, s, ws)
	_, err = s.Read(nil, ws[len(ws)-1].h.NextOffset(), math.MaxInt64, 1)
	require.NoError(t, err)
}
