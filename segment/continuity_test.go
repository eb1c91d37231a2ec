package segment

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"testing"

	"github.com/commitlog-go/commitlog/record"
	"github.com/stretchr/testify/require"
)

const contBase = 1000

// contSegment writes a closed segment of 30 batches in a directory of its
// own and returns the directory and the batches. A compacted one has
// offset gaps between some batches, as the log cleaner leaves them.
func contSegment(t testing.TB, compacted bool) (string, []written) {
	t.Helper()
	dir := t.TempDir()
	s, err := Open(dir, contBase, Config{IndexIntervalBytes: new(128), Compacted: compacted})
	require.NoError(t, err)
	var ws []written
	for i := 0; i < 30; i++ {
		base := s.NextOffset()
		if compacted && i > 0 {
			base += int64(i % 3 * 4) // gaps of 0, 4 and 8 offsets
		}
		ws = append(ws, appendBatch(t, s, batchN(t, base, 1+i%4, 20+(i*37)%90, 1_700_000_000_000+int64(i))))
	}
	require.NoError(t, s.Close())
	return dir, ws
}

// copySegment copies the files of the segment at contBase from src into
// a new directory.
func copySegment(t testing.TB, src string) string {
	t.Helper()
	dst := t.TempDir()
	for _, suffix := range []string{LogSuffix, IndexSuffix, TimeIndexSuffix} {
		b, err := os.ReadFile(segPath(src, contBase, suffix))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(segPath(dst, contBase, suffix), b, 0o644))
	}
	return dst
}

// writeBase overwrites the base offset field of the batch at pos.
func writeBase(t testing.TB, dir string, pos, base int64) {
	t.Helper()
	f, err := os.OpenFile(segPath(dir, contBase, LogSuffix), os.O_RDWR, 0)
	require.NoError(t, err)
	defer f.Close()
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(base))
	_, err = f.WriteAt(b[:], pos)
	require.NoError(t, err)
}

// movedDetectably reports whether batch k of ws moved to base offset base
// contradicts the segment's rules, so that a check can notice it: in a
// dense segment any move does; in a compacted one a move within a gap does
// not, nor a move up of the last batch (the segment's next offset comes
// from it; the log checks it against the next segment).
func movedDetectably(ws []written, k int, base int64, compacted bool) bool {
	if base == ws[k].h.BaseOffset {
		return false
	}
	if !compacted {
		return true
	}
	delta := int64(ws[k].h.LastOffsetDelta)
	if base < contBase || base > math.MaxInt64-delta || base-contBase > math.MaxUint32-delta {
		return true
	}
	if k > 0 && base <= ws[k-1].h.LastOffset() {
		return true
	}
	return k+1 < len(ws) && base+delta >= ws[k+1].h.BaseOffset
}

// checkNeverMisplaced opens the segment in dir, whose batch k had its base
// offset changed, and reads it every way there is. Every batch served must
// be byte for byte one of ws, the one the read asked for; anything else is
// an error wrapping record.ErrCorrupt. Open may refuse, a Sealed segment
// is never cut, and an unsealed one only at batch k.
func checkNeverMisplaced(t *testing.T, dir string, cfg Config, ws []written, k int) {
	t.Helper()
	path := segPath(dir, contBase, LogSuffix)
	before, err := os.ReadFile(path)
	require.NoError(t, err)
	s, err := Open(dir, contBase, cfg)
	if err != nil {
		require.ErrorIs(t, err, record.ErrCorrupt)
		require.Contains(t, err.Error(), fmt.Sprintf("segment %d", contBase))
		after, rerr := os.ReadFile(path)
		require.NoError(t, rerr)
		require.Equal(t, before, after, "a refused segment is left as it is")
		return
	}
	defer s.Close()
	// cutAt is what is left of ws after a cut at size: a cut is at batch
	// k, or in a compacted segment at the batch before it, which k's
	// offsets may contradict without telling which of the two moved.
	cutAt := func(size int64) []written {
		t.Helper()
		i := 0
		for i < len(ws) && ws[i].pos < size {
			i++
		}
		require.True(t, i < len(ws) && ws[i].pos == size && (i == k || cfg.Compacted && i == k-1),
			"cut at %d, batch %d is at %d", size, k, ws[k].pos)
		return ws[:i]
	}
	if s.Size() < int64(len(before)) {
		require.False(t, cfg.Sealed, "a sealed segment is never cut")
		ws = cutAt(s.Size())
	}
	checkServesOnly(t, s, ws)

	cut, err := s.Recover()
	if cfg.Sealed {
		if err != nil {
			require.ErrorIs(t, err, record.ErrCorrupt)
			require.Contains(t, err.Error(), fmt.Sprintf("segment %d, position", contBase))
			after, rerr := os.ReadFile(path)
			require.NoError(t, rerr)
			require.Equal(t, before, after, "Recover does not cut a sealed segment")
			checkServesOnly(t, s, ws)
			return
		}
		require.Zero(t, cut)
	} else {
		require.NoError(t, err)
		if len(ws) > k {
			ws = cutAt(s.Size())
			require.Equal(t, int64(len(before))-s.Size(), cut)
		}
	}
	checkServesOnly(t, s, ws)
}

// checkServesOnly reads s at every offset, with small and large reads, by
// timestamp and with Scan; see checkNeverMisplaced.
func checkServesOnly(t *testing.T, s *Segment, ws []written) {
	t.Helper()
	if len(ws) == 0 {
		return
	}
	// The index of the batch a read at off must start with.
	holding := func(off int64) int {
		for i, w := range ws {
			if w.h.LastOffset() >= off {
				return i
			}
		}
		return len(ws)
	}
	end := ws[len(ws)-1].h.NextOffset()
	for off := int64(contBase); off < end; off++ {
		i := holding(off)
		for _, maxBytes := range []int{1, 1 << 20} {
			got, err := s.Read(nil, off, math.MaxInt64, maxBytes)
			if err != nil {
				require.ErrorIs(t, err, record.ErrCorrupt, "read at %d", off)
				continue
			}
			require.NotEmpty(t, got, "read at %d returned nothing: a reader would skip the rest", off)
			var want []byte
			for j := i; j < len(ws) && len(want) < len(got); j++ {
				want = append(want, ws[j].bytes...)
			}
			require.True(t, bytes.Equal(want[:min(len(want), len(got))], got) && len(got) <= len(want),
				"read at %d (maxBytes %d): not the batches written from offset %d on", off, maxBytes, ws[i].h.BaseOffset)
		}
	}
	for _, w := range ws {
		off, _, found, err := s.FindOffsetByTimestamp(w.h.MaxTimestamp, math.MaxInt64)
		if err != nil {
			require.ErrorIs(t, err, record.ErrCorrupt)
			continue
		}
		require.True(t, found)
		require.Equal(t, w.h.BaseOffset, off, "by timestamp %d", w.h.MaxTimestamp)
	}
	n, strays := 0, 0
	err := s.Scan(func(h *record.BatchHeader, pos int64, batch []byte) error {
		if strays == 0 && n < len(ws) && bytes.Equal(ws[n].bytes, batch) {
			n++
			return nil
		}
		if s.cfg.Compacted && strays == 0 {
			// Scan may hand out the batch that moved before it sees the
			// next one contradict it; it must then fail.
			strays++
			return nil
		}
		return fmt.Errorf("Scan handed out batch %d at position %d other than written", n, pos)
	})
	if err != nil || strays > 0 {
		require.ErrorIs(t, err, record.ErrCorrupt)
	} else {
		require.Equal(t, len(ws), n, "Scan handed out every batch as written")
	}
}

// damages are the base offsets a test writes over batch k's.
func damages(ws []written, k int) []struct {
	name string
	base int64
} {
	w := ws[k]
	out := []struct {
		name string
		base int64
	}{
		{"+1", w.h.BaseOffset + 1},
		{"-1", w.h.BaseOffset - 1},
		{"+1000", w.h.BaseOffset + 1000},
		{"huge", 1 << 62},
		{"largest", math.MaxInt64 - 1},
		{"negative", w.h.BaseOffset | math.MinInt64},
		{"segment base", contBase},
	}
	if k > 0 {
		out = append(out, struct {
			name string
			base int64
		}{"previous base", ws[k-1].h.BaseOffset})
	}
	if k+1 < len(ws) {
		out = append(out, struct {
			name string
			base int64
		}{"next base", ws[k+1].h.BaseOffset})
	}
	return out
}

// TestMisplacedBatchNeverServed changes the base offset field of one batch
// (outside the CRC) of a dense and of a compacted segment, reopens it
// sealed and unsealed, and reads it every way: no batch is ever served
// under offsets other than those it was written with.
func TestMisplacedBatchNeverServed(t *testing.T) {
	for _, compacted := range []bool{false, true} {
		tmpl, ws := contSegment(t, compacted)
		for _, k := range []int{0, len(ws) / 2, len(ws) - 2, len(ws) - 1} {
			for _, d := range damages(ws, k) {
				if !movedDetectably(ws, k, d.base, compacted) {
					continue
				}
				for _, sealed := range []bool{false, true} {
					t.Run(fmt.Sprintf("compacted=%v/batch %d/%s/sealed=%v", compacted, k, d.name, sealed), func(t *testing.T) {
						dir := copySegment(t, tmpl)
						writeBase(t, dir, ws[k].pos, d.base)
						checkNeverMisplaced(t, dir, Config{IndexIntervalBytes: new(128), Compacted: compacted, Sealed: sealed}, ws, k)
					})
				}
			}
		}
	}
}

// TestSealedSegmentNotCut: a sealed segment whose first batch does not
// start at its base offset, or whose tail has a batch out of place, is
// refused by Open with ErrCorrupt naming the position, and its file is
// left whole; unsealed, Open cuts it there (the active segment's recovery).
func TestSealedSegmentNotCut(t *testing.T) {
	tmpl, ws := contSegment(t, false)
	for _, k := range []int{0, len(ws) - 1} {
		t.Run(fmt.Sprint("batch ", k), func(t *testing.T) {
			dir := copySegment(t, tmpl)
			writeBase(t, dir, ws[k].pos, ws[k].h.BaseOffset+1)
			before, err := os.ReadFile(segPath(dir, contBase, LogSuffix))
			require.NoError(t, err)
			_, err = Open(dir, contBase, Config{IndexIntervalBytes: new(128), Sealed: true})
			require.ErrorIs(t, err, record.ErrCorrupt)
			require.Contains(t, err.Error(), fmt.Sprintf("segment %d, position %d", contBase, ws[k].pos))
			after, err := os.ReadFile(segPath(dir, contBase, LogSuffix))
			require.NoError(t, err)
			require.Equal(t, before, after)

			// Without its indexes Open goes straight to Recover: the same.
			for _, suffix := range []string{IndexSuffix, TimeIndexSuffix} {
				require.NoError(t, os.Remove(segPath(dir, contBase, suffix)))
			}
			_, err = Open(dir, contBase, Config{IndexIntervalBytes: new(128), Sealed: true})
			require.ErrorIs(t, err, record.ErrCorrupt)
			after, err = os.ReadFile(segPath(dir, contBase, LogSuffix))
			require.NoError(t, err)
			require.Equal(t, before, after)

			// Unsealed (the active segment after a crash), Recover cuts
			// the file at the batch.
			s, err := Open(dir, contBase, Config{IndexIntervalBytes: new(128)})
			require.NoError(t, err)
			defer s.Close()
			cut, err := s.Recover()
			require.NoError(t, err)
			require.Equal(t, int64(len(before))-ws[k].pos, cut)
			require.Equal(t, ws[k].pos, s.Size())
			require.Equal(t, ws[k].h.BaseOffset, s.NextOffset())
			checkServesOnly(t, s, ws[:k])
		})
	}
}

// TestCompactedGapsAreNoDamage: gaps in a compacted segment survive
// Recover and every read; the same bytes opened as a dense segment are
// refused where the first gap is.
func TestCompactedGapsAreNoDamage(t *testing.T) {
	tmpl, ws := contSegment(t, true)
	dir := copySegment(t, tmpl)
	s, err := Open(dir, contBase, Config{IndexIntervalBytes: new(128), Compacted: true, Sealed: true})
	require.NoError(t, err)
	cut, err := s.Recover()
	require.NoError(t, err)
	require.Zero(t, cut)
	checkServesOnly(t, s, ws)
	require.NoError(t, s.Close())

	// Dense: reads from before the first gap stop before it, and a read
	// at or after the gap is ErrCorrupt.
	gap := 1
	for ws[gap].h.BaseOffset == ws[gap-1].h.NextOffset() {
		gap++
	}
	s, err = Open(dir, contBase, Config{IndexIntervalBytes: new(128)})
	require.NoError(t, err)
	got, err := s.Read(nil, contBase, math.MaxInt64, 1<<20)
	require.NoError(t, err)
	require.Equal(t, concat(ws[:gap]), got)
	_, err = s.Read(nil, ws[gap].h.BaseOffset, math.MaxInt64, 1<<20)
	require.ErrorIs(t, err, record.ErrCorrupt)
	require.Contains(t, err.Error(), fmt.Sprintf("segment %d, position %d", contBase, ws[gap].pos))
	require.ErrorIs(t, s.Scan(func(*record.BatchHeader, int64, []byte) error { return nil }), record.ErrCorrupt)
	cut, err = s.Recover()
	require.NoError(t, err)
	require.Equal(t, int64(len(concat(ws[gap:]))), cut, "an unsealed dense segment is cut at the gap")
	require.NoError(t, s.Close())

	// Sealed, without indexes (so that Open scans it all): refused.
	dir = copySegment(t, tmpl)
	require.NoError(t, os.Remove(segPath(dir, contBase, IndexSuffix)))
	_, err = Open(dir, contBase, Config{IndexIntervalBytes: new(128), Sealed: true})
	require.ErrorIs(t, err, record.ErrCorrupt, "a sealed dense segment with a gap is refused")
	require.Contains(t, err.Error(), fmt.Sprintf("segment %d, position %d", contBase, ws[gap].pos))
}

// FuzzMisplacedBatch is TestMisplacedBatchNeverServed for any batch and
// any base offset. Run it with:
// go test ./segment -run '^$' -fuzz FuzzMisplacedBatch
func FuzzMisplacedBatch(f *testing.F) {
	for _, seed := range []struct {
		k         uint8
		base      int64
		compacted bool
		sealed    bool
	}{
		{0, contBase + 1, false, false},
		{5, 0, false, true},
		{29, math.MaxInt64, true, false},
		{14, 1 << 40, true, true},
		{3, -1, false, false},
		{7, contBase + 20, true, false},
	} {
		f.Add(seed.k, seed.base, seed.compacted, seed.sealed)
	}
	tmpls := map[bool]string{}
	wss := map[bool][]written{}
	f.Fuzz(func(t *testing.T, k uint8, base int64, compacted, sealed bool) {
		if tmpls[compacted] == "" {
			// Built once per process, in a directory that outlives this call.
			dir, err := os.MkdirTemp("", "fuzz-misplaced")
			require.NoError(t, err)
			src, ws := contSegment(t, compacted)
			for _, suffix := range []string{LogSuffix, IndexSuffix, TimeIndexSuffix} {
				b, err := os.ReadFile(segPath(src, contBase, suffix))
				require.NoError(t, err)
				require.NoError(t, os.WriteFile(segPath(dir, contBase, suffix), b, 0o644))
			}
			tmpls[compacted], wss[compacted] = dir, ws
		}
		ws := wss[compacted]
		i := int(k) % len(ws)
		if !movedDetectably(ws, i, base, compacted) {
			return
		}
		dir := copySegment(t, tmpls[compacted])
		writeBase(t, dir, ws[i].pos, base)
		checkNeverMisplaced(t, dir, Config{IndexIntervalBytes: new(128), Compacted: compacted, Sealed: sealed}, ws, i)
	})
	f.Cleanup(func() {
		for _, dir := range tmpls {
			_ = os.RemoveAll(dir)
		}
	})
}
