package segment

import (
	"bytes"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/commitlog-go/commitlog/record"
	"github.com/stretchr/testify/require"
)

// batchAt encodes a batch with base offset base and one record per
// timestamp in tss; values are valueSize bytes and name their offset.
func batchAt(t testing.TB, base int64, valueSize int, tss ...int64) []byte {
	t.Helper()
	b := record.NewBuilder(base, record.BatchOptions{})
	for i, ts := range tss {
		v := fmt.Appendf(nil, "%d/", base+int64(i))
		for len(v) < valueSize {
			v = append(v, 'v')
		}
		b.Add(ts, nil, v, nil)
	}
	out, err := b.Build()
	require.NoError(t, err)
	return bytes.Clone(out)
}

// batchN is batchAt with n records all at timestamp ts.
func batchN(t testing.TB, base int64, n, valueSize int, ts int64) []byte {
	t.Helper()
	tss := make([]int64, n)
	for i := range tss {
		tss[i] = ts
	}
	return batchAt(t, base, valueSize, tss...)
}

// written is one batch appended by a test, with where it went.
type written struct {
	h     record.BatchHeader
	pos   int64
	bytes []byte
}

// fill appends count batches of varying record counts and sizes at
// NextOffset and returns them in order.
func fill(t testing.TB, s *Segment, count int, ts int64) []written {
	t.Helper()
	var out []written
	for i := 0; i < count; i++ {
		raw := batchN(t, s.NextOffset(), 1+i%4, 20+(i*37)%90, ts+int64(i))
		out = append(out, appendBatch(t, s, raw))
	}
	return out
}

func appendBatch(t testing.TB, s *Segment, raw []byte) written {
	t.Helper()
	h, err := record.ParseHeader(raw)
	require.NoError(t, err)
	pos := s.Size()
	require.NoError(t, s.Append(raw))
	require.Equal(t, h.NextOffset(), s.NextOffset())
	require.Equal(t, pos+int64(len(raw)), s.Size())
	return written{h: h, pos: pos, bytes: raw}
}

func concat(ws []written) []byte {
	var out []byte
	for _, w := range ws {
		out = append(out, w.bytes...)
	}
	return out
}

func openSeg(t testing.TB, dir string, base int64, cfg Config) *Segment {
	t.Helper()
	s, err := Open(dir, base, cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func segPath(dir string, base int64, suffix string) string {
	return filepath.Join(dir, FileName(base, suffix))
}

// checkEveryOffset reads each offset of the segment with maxBytes 1 and
// checks that exactly the batch holding it comes back.
func checkEveryOffset(t *testing.T, s *Segment, ws []written) {
	t.Helper()
	var dst []byte
	for _, w := range ws {
		for off := w.h.BaseOffset; off <= w.h.LastOffset(); off++ {
			var err error
			dst, err = s.Read(dst, off, math.MaxInt64, 1)
			require.NoError(t, err)
			require.Equal(t, w.bytes, dst, "offset %d", off)
		}
	}
}

func TestFileName(t *testing.T) {
	require.Equal(t, "00000000000000000000.log", FileName(0, LogSuffix))
	require.Equal(t, "00000000000000001234.index", FileName(1234, IndexSuffix))
	require.Equal(t, "09223372036854775807.timeindex", FileName(math.MaxInt64, TimeIndexSuffix))
}

func TestAppendRead(t *testing.T) {
	const base = 100
	s := openSeg(t, t.TempDir(), base, Config{})
	require.Equal(t, int64(base), s.BaseOffset())
	require.Equal(t, int64(base), s.NextOffset())
	require.Equal(t, int64(-1), s.MaxTimestamp())
	// Ten batches of 3 records each: batch i holds offsets base+3i .. base+3i+2.
	var ws []written
	for i := 0; i < 10; i++ {
		ws = append(ws, appendBatch(t, s, batchN(t, s.NextOffset(), 3, 40+10*i, 1000+int64(i))))
	}
	require.Equal(t, int64(base+30), s.NextOffset())
	require.Equal(t, int64(1009), s.MaxTimestamp())
	require.NoError(t, s.Sync())
	sizeOf := func(i, j int) int { return len(concat(ws[i:j])) }
	first := func(i int) int64 { return ws[i].h.BaseOffset }
	last := func(i int) int64 { return ws[i].h.LastOffset() }

	cases := []struct {
		name      string
		offset    int64
		maxOffset int64
		maxBytes  int
		from, to  int // expected batches ws[from:to]; from == to means none
	}{
		{"base offset of the first batch", first(0), math.MaxInt64, 1 << 20, 0, 10},
		{"base offset of a later batch", first(4), math.MaxInt64, 1 << 20, 4, 10},
		{"middle of a batch returns it whole", first(4) + 1, math.MaxInt64, 1 << 20, 4, 10},
		{"last offset of a batch returns it whole", last(4), math.MaxInt64, 1 << 20, 4, 10},
		{"below the base offset starts at the first batch", 0, math.MaxInt64, 1 << 20, 0, 10},
		{"maxBytes 1 still returns the first batch (KIP-74)", first(2), math.MaxInt64, 1, 2, 3},
		{"maxBytes one byte short of the first batch", first(2), math.MaxInt64, sizeOf(2, 3) - 1, 2, 3},
		{"maxBytes exactly three batches", first(2), math.MaxInt64, sizeOf(2, 5), 2, 5},
		{"maxBytes cuts inside the fourth batch", first(2), math.MaxInt64, sizeOf(2, 5) + len(ws[5].bytes)/2, 2, 5},
		{"maxBytes one byte short of three batches", first(2), math.MaxInt64, sizeOf(2, 5) - 1, 2, 4},
		{"maxOffset at a batch's last offset stops before it", first(2), last(5), 1 << 20, 2, 5},
		{"maxOffset inside a batch stops before it", first(2), first(5) + 1, 1 << 20, 2, 5},
		{"maxOffset just past a batch includes it", first(2), last(5) + 1, 1 << 20, 2, 6},
		{"maxOffset inside the first batch returns nothing", first(2) + 1, last(2), 1 << 20, 2, 2},
		{"offset at maxOffset returns nothing", first(2), first(2), 1 << 20, 2, 2},
		{"maxOffset and maxBytes together", first(1), last(8) + 1, sizeOf(1, 4) + 5, 1, 4},
		{"offset at NextOffset returns nothing", base + 30, math.MaxInt64, 1 << 20, 10, 10},
		{"offset past NextOffset returns nothing", base + 1000, math.MaxInt64, 1 << 20, 10, 10},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := s.Read(nil, c.offset, c.maxOffset, c.maxBytes)
			require.NoError(t, err)
			if c.from == c.to {
				require.Empty(t, got)
				return
			}
			require.Equal(t, concat(ws[c.from:c.to]), got)
			// What comes back is a sequence of whole, valid batches.
			n := 0
			require.NoError(t, record.Batches(got, func(h *record.BatchHeader, _ []byte) error {
				require.Equal(t, ws[c.from+n].h.BaseOffset, h.BaseOffset)
				n++
				return nil
			}))
		})
	}

	t.Run("dst is reused", func(t *testing.T) {
		dst := make([]byte, 0, 1<<20)
		got, err := s.Read(dst, first(3), math.MaxInt64, 1)
		require.NoError(t, err)
		require.Equal(t, ws[3].bytes, got)
		require.Same(t, &dst[:1][0], &got[0], "a large enough dst is used in place")
		// The result is a copy: later appends and reads do not change it.
		keep := bytes.Clone(got)
		_, err = s.Read(nil, first(5), math.MaxInt64, 1)
		require.NoError(t, err)
		require.Equal(t, keep, got)
	})
}

func TestAppendErrors(t *testing.T) {
	// Compacted: the gap appended at the end must read back.
	s := openSeg(t, t.TempDir(), 10, Config{Compacted: true})
	appendBatch(t, s, batchN(t, 10, 5, 10, 1))
	cases := []struct {
		name  string
		batch []byte
	}{
		{"offset below NextOffset", batchN(t, 14, 1, 10, 1)},
		{"not a batch", []byte("hello, this is not a record batch at all and it is long enough to hold a header")},
		{"trailing bytes", append(batchN(t, 15, 1, 10, 1), 0, 0, 0)},
		{"cut short", batchN(t, 15, 2, 10, 1)[:70]},
		{"offset too far from the base for the index", batchN(t, 10+math.MaxUint32+1, 1, 10, 1)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			size, next := s.Size(), s.NextOffset()
			require.Error(t, s.Append(c.batch))
			require.Equal(t, size, s.Size())
			require.Equal(t, next, s.NextOffset())
		})
	}
	// Gaps in offsets are allowed (compacted or replicated logs have them).
	appendBatch(t, s, batchN(t, 40, 2, 10, 1))
	require.Equal(t, int64(42), s.NextOffset())
	got, err := s.Read(nil, 20, math.MaxInt64, 1)
	require.NoError(t, err)
	h, err := record.ParseHeader(got)
	require.NoError(t, err)
	require.Equal(t, int64(40), h.BaseOffset, "an offset in a gap reads from the next batch")
}

// TestIndexInterval checks that offset index entries appear every
// IndexIntervalBytes (0, Kafka's legal zero: every batch after the
// first), point at batch boundaries, and make every offset readable,
// before and after a reopen.
func TestIndexInterval(t *testing.T) {
	for _, interval := range []int{0, 1, 128, 1000, DefaultIndexIntervalBytes} {
		t.Run(fmt.Sprint(interval), func(t *testing.T) {
			dir := t.TempDir()
			cfg := Config{IndexIntervalBytes: new(interval)}
			s := openSeg(t, dir, 5000, cfg)
			ws := fill(t, s, 300, 1_700_000_000_000)
			checkIndex := func(s *Segment) {
				t.Helper()
				byPos := map[int64]written{}
				for _, w := range ws {
					byPos[w.pos] = w
				}
				// Replay Kafka's rule: an entry for a batch once more than
				// interval bytes were written since the previous entry.
				var want []written
				since := 0
				for _, w := range ws {
					if since > interval {
						want = append(want, w)
						since = 0
					}
					since += len(w.bytes)
				}
				require.Equal(t, len(want), s.oi.Entries())
				for _, w := range want {
					off, pos := s.oi.Lookup(w.h.LastOffset())
					require.Equal(t, w.h.LastOffset(), off)
					require.Equal(t, w.pos, int64(pos))
					require.Contains(t, byPos, int64(pos), "entries point at batch boundaries")
				}
				checkEveryOffset(t, s, ws)
			}
			checkIndex(s)
			if interval == 128 {
				require.Greater(t, s.oi.Entries(), int(s.Size())/(128+400), "a small interval gives many entries")
			}
			require.NoError(t, s.Close())
			s2 := openSeg(t, dir, 5000, cfg)
			require.Equal(t, s.Size(), s2.Size())
			require.Equal(t, s.NextOffset(), s2.NextOffset())
			require.Equal(t, s.MaxTimestamp(), s2.MaxTimestamp())
			checkIndex(s2)
			// Appending after the reopen continues the interval.
			ws = append(ws, fill(t, s2, 50, 1_800_000_000_000)...)
			checkEveryOffset(t, s2, ws)
		})
	}
}

func TestFindOffsetByTimestamp(t *testing.T) {
	// Timestamps go backwards between batches and within one.
	batches := [][]int64{
		{100, 110, 120}, // offsets 0-2
		{50, 60, 70},    // 3-5: older than the batch before
		{300, 290, 310}, // 6-8: out of order inside the batch
		{200, 205},      // 9-10
		{400, 400, 401}, // 11-13
		{10},            // 14
	}
	cases := []struct {
		ts        int64
		maxOffset int64
		wantOff   int64
		wantTS    int64
		found     bool
	}{
		{0, math.MaxInt64, 0, 100, true},
		{50, math.MaxInt64, 0, 100, true},
		{100, math.MaxInt64, 0, 100, true},
		{101, math.MaxInt64, 1, 110, true},
		{120, math.MaxInt64, 2, 120, true},
		{121, math.MaxInt64, 6, 300, true},
		{150, math.MaxInt64, 6, 300, true},
		{295, math.MaxInt64, 6, 300, true},
		{301, math.MaxInt64, 8, 310, true},
		{305, math.MaxInt64, 8, 310, true},
		{311, math.MaxInt64, 11, 400, true},
		{401, math.MaxInt64, 13, 401, true},
		{402, math.MaxInt64, 0, 0, false},
		// maxOffset (the high watermark) hides what is at or after it.
		{301, 8, 0, 0, false},
		{301, 9, 8, 310, true},
		{311, 11, 0, 0, false},
		{150, 6, 0, 0, false},
		{0, 1, 0, 100, true},
	}
	for _, interval := range []int{1, 100, DefaultIndexIntervalBytes} {
		t.Run(fmt.Sprintf("interval=%d", interval), func(t *testing.T) {
			dir := t.TempDir()
			cfg := Config{IndexIntervalBytes: new(interval)}
			s := openSeg(t, dir, 0, cfg)
			for _, tss := range batches {
				appendBatch(t, s, batchAt(t, s.NextOffset(), 30, tss...))
			}
			require.Equal(t, int64(401), s.MaxTimestamp())
			check := func(stage string, s *Segment) {
				for _, c := range cases {
					off, ts, found, err := s.FindOffsetByTimestamp(c.ts, c.maxOffset)
					require.NoError(t, err)
					require.Equal(t, c.found, found, "%s: ts %d max %d", stage, c.ts, c.maxOffset)
					if c.found {
						require.Equal(t, c.wantOff, off, "%s: ts %d max %d", stage, c.ts, c.maxOffset)
						require.Equal(t, c.wantTS, ts, "%s: ts %d max %d", stage, c.ts, c.maxOffset)
					}
				}
			}
			check("active", s)
			require.NoError(t, s.Seal())
			check("sealed", s)
			require.NoError(t, s.Close())
			s2 := openSeg(t, dir, 0, cfg)
			require.Equal(t, int64(401), s2.MaxTimestamp())
			check("reopened", s2)
			_, err := s2.Recover()
			require.NoError(t, err)
			check("recovered", s2)
		})
	}
}

func TestShouldRoll(t *testing.T) {
	t0 := time.UnixMilli(1_800_000_000_000)
	t.Run("empty segment never rolls", func(t *testing.T) {
		s := openSeg(t, t.TempDir(), 0, Config{})
		require.False(t, s.ShouldRoll(1<<30, 1, 100, time.Millisecond, t0))
		require.False(t, s.ShouldRoll(1<<30, math.MaxUint32+10, 100, time.Millisecond, t0.Add(time.Hour)))
	})
	t.Run("size", func(t *testing.T) {
		s := openSeg(t, t.TempDir(), 0, Config{})
		size := int64(len(appendBatch(t, s, batchN(t, 0, 10, 100, 1)).bytes))
		cases := []struct {
			batchBytes   int
			segmentBytes int64
			want         bool
		}{
			{100, size + 100, false},
			{100, size + 99, true},
			{1, size + 1, false},
			{1, size, true},
			{100, math.MaxInt64, false},
			{MaxSegmentBytes, math.MaxInt64, true}, // capped at MaxSegmentBytes
		}
		for _, c := range cases {
			require.Equal(t, c.want, s.ShouldRoll(c.batchBytes, 20, c.segmentBytes, 0, t0), "batch %d segment.bytes %d", c.batchBytes, c.segmentBytes)
		}
	})
	t.Run("offset beyond the index's 32-bit range", func(t *testing.T) {
		s := openSeg(t, t.TempDir(), 1000, Config{})
		appendBatch(t, s, batchN(t, 1000, 1, 10, 1))
		require.False(t, s.ShouldRoll(10, 1000+math.MaxUint32, math.MaxInt64, 0, t0))
		require.True(t, s.ShouldRoll(10, 1000+math.MaxUint32+1, math.MaxInt64, 0, t0))
	})
	t.Run("index full", func(t *testing.T) {
		// 24 bytes hold 3 offset entries and 2 time entries; with a
		// 1-byte interval every batch after the first adds an entry.
		s := openSeg(t, t.TempDir(), 0, Config{IndexIntervalBytes: new(1), MaxIndexBytes: 24})
		var got []bool
		for i := 0; i < 3; i++ {
			appendBatch(t, s, batchN(t, s.NextOffset(), 1, 10, int64(100+i)))
			got = append(got, s.ShouldRoll(10, s.NextOffset(), math.MaxInt64, 0, t0))
		}
		require.Equal(t, []bool{false, false, true}, got)
		require.True(t, s.ti.IsFull())
	})
	t.Run("segment.ms", func(t *testing.T) {
		// The age counts from the first ShouldRoll call, by the clock
		// passed in; record timestamps play no part.
		cases := []struct {
			name       string
			segmentAge time.Duration
			after      time.Duration
			want       bool
		}{
			{"younger", time.Hour, time.Hour - time.Millisecond, false},
			{"exactly the age", time.Hour, time.Hour, true},
			{"older", time.Hour, 2 * time.Hour, true},
			{"zero disables", 0, 1000 * time.Hour, false},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				s := openSeg(t, t.TempDir(), 0, Config{})
				// First call, on the empty segment, starts the clock.
				require.False(t, s.ShouldRoll(10, 0, math.MaxInt64, c.segmentAge, t0))
				// Records from long ago do not age the segment.
				appendBatch(t, s, batchN(t, 0, 1, 10, t0.Add(-100*time.Hour).UnixMilli()))
				require.False(t, s.ShouldRoll(10, 1, math.MaxInt64, c.segmentAge, t0))
				require.Equal(t, c.want, s.ShouldRoll(10, 1, math.MaxInt64, c.segmentAge, t0.Add(c.after)))
			})
		}
		t.Run("clock starts at the first call, not at Open", func(t *testing.T) {
			s := openSeg(t, t.TempDir(), 0, Config{})
			appendBatch(t, s, batchN(t, 0, 1, 10, 1))
			require.False(t, s.ShouldRoll(10, 1, math.MaxInt64, time.Hour, t0.Add(5*time.Hour)))
			require.False(t, s.ShouldRoll(10, 1, math.MaxInt64, time.Hour, t0.Add(5*time.Hour+59*time.Minute)))
			require.True(t, s.ShouldRoll(10, 1, math.MaxInt64, time.Hour, t0.Add(6*time.Hour)))
		})
	})
}

// TestRecover damages the tail (or the middle) of a segment's log file and
// checks that Recover cuts exactly the damaged part and keeps everything
// before it readable and appendable.
func TestRecover(t *testing.T) {
	const base = 1000
	cases := []struct {
		name string
		// damage changes the log file and returns how many of the batches
		// survive.
		damage func(t *testing.T, path string, ws []written, next int64) int
		// onOpen: Open alone notices the damage (a cheap header check
		// of the tail); CRC errors and out-of-order batches need Recover.
		onOpen bool
	}{
		{"torn header", func(t *testing.T, path string, ws []written, next int64) int {
			appendFile(t, path, batchN(t, next, 3, 50, 1)[:30])
			return len(ws)
		}, true},
		{"torn body", func(t *testing.T, path string, ws []written, next int64) int {
			b := batchN(t, next, 3, 50, 1)
			appendFile(t, path, b[:len(b)-5])
			return len(ws)
		}, true},
		{"garbage after the last batch", func(t *testing.T, path string, ws []written, next int64) int {
			g := make([]byte, 500)
			rng := rand.New(rand.NewPCG(7, 7))
			for i := range g {
				g[i] = byte(rng.Uint32())
			}
			g[16] = 0x7f // not magic 2
			appendFile(t, path, g)
			return len(ws)
		}, true},
		{"zeros after the last batch", func(t *testing.T, path string, ws []written, next int64) int {
			appendFile(t, path, make([]byte, 4096))
			return len(ws)
		}, true},
		{"bad crc in the last batch", func(t *testing.T, path string, ws []written, next int64) int {
			b := batchN(t, next, 3, 50, 1)
			b[len(b)-1] ^= 0xff
			appendFile(t, path, b)
			return len(ws)
		}, false},
		{"batch going back in offsets", func(t *testing.T, path string, ws []written, next int64) int {
			appendFile(t, path, batchN(t, next-2, 3, 50, 1))
			return len(ws)
		}, false},
		// The base offset lies outside the CRC: a damaged one must not
		// move the next offset where the segment could never have
		// appended (past its index's 32-bit relative offsets, or past
		// the largest int64 so that it wraps below the base offset).
		{"offsets past the index's reach", func(t *testing.T, path string, ws []written, next int64) int {
			appendFile(t, path, batchN(t, next+math.MaxUint32, 3, 50, 1))
			return len(ws)
		}, true},
		{"offsets past the largest int64", func(t *testing.T, path string, ws []written, next int64) int {
			appendFile(t, path, batchN(t, math.MaxInt64-1, 3, 50, 1))
			return len(ws)
		}, true},
		{"bad crc in the middle", func(t *testing.T, path string, ws []written, next int64) int {
			w := ws[7]
			f, err := os.OpenFile(path, os.O_RDWR, 0)
			require.NoError(t, err)
			defer f.Close()
			_, err = f.WriteAt([]byte{^w.bytes[len(w.bytes)-1]}, w.pos+int64(len(w.bytes))-1)
			require.NoError(t, err)
			return 7
		}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for _, how := range []string{"Recover", "Open"} {
				if how == "Open" && !c.onOpen {
					continue
				}
				t.Run(how, func(t *testing.T) {
					dir := t.TempDir()
					cfg := Config{IndexIntervalBytes: new(128)}
					s := openSeg(t, dir, base, cfg)
					ws := fill(t, s, 20, 1_700_000_000_000)
					path := segPath(dir, base, LogSuffix)
					var keep int
					if how == "Recover" {
						// Damage the file under the open segment, then recover it.
						keep = c.damage(t, path, ws, s.NextOffset())
						wantCut := fileSize(t, path) - ws[keep-1].pos - int64(len(ws[keep-1].bytes))
						cut, err := s.Recover()
						require.NoError(t, err)
						require.Equal(t, wantCut, cut)
					} else {
						require.NoError(t, s.Close())
						keep = c.damage(t, path, ws, s.NextOffset())
						s = openSeg(t, dir, base, cfg)
					}
					ws = ws[:keep]
					good := int64(len(concat(ws)))
					require.Equal(t, good, s.Size())
					require.Equal(t, good, fileSize(t, path), "the file is truncated")
					require.Equal(t, ws[keep-1].h.NextOffset(), s.NextOffset())
					require.Equal(t, ws[keep-1].h.MaxTimestamp, s.MaxTimestamp())
					checkEveryOffset(t, s, ws)
					// A second Recover finds nothing to cut.
					cut, err := s.Recover()
					require.NoError(t, err)
					require.Zero(t, cut)
					// The segment takes appends where the good data ends.
					ws = append(ws, fill(t, s, 5, 1_800_000_000_000)...)
					checkEveryOffset(t, s, ws)
					require.NoError(t, s.Close())
					s2 := openSeg(t, dir, base, cfg)
					require.Equal(t, ws[len(ws)-1].h.NextOffset(), s2.NextOffset())
					checkEveryOffset(t, s2, ws)
				})
			}
		})
	}
}

func appendFile(t *testing.T, path string, b []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	require.NoError(t, err)
	_, err = f.Write(b)
	require.NoError(t, err)
	require.NoError(t, f.Close())
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	st, err := os.Stat(path)
	require.NoError(t, err)
	return st.Size()
}

func TestOpenRebuildsIndexes(t *testing.T) {
	const base = 77
	cfg := Config{IndexIntervalBytes: new(128)}
	cases := []struct {
		name   string
		damage func(t *testing.T, dir string)
	}{
		{"offset index deleted", func(t *testing.T, dir string) {
			require.NoError(t, os.Remove(segPath(dir, base, IndexSuffix)))
		}},
		{"time index deleted", func(t *testing.T, dir string) {
			require.NoError(t, os.Remove(segPath(dir, base, TimeIndexSuffix)))
		}},
		{"both deleted", func(t *testing.T, dir string) {
			require.NoError(t, os.Remove(segPath(dir, base, IndexSuffix)))
			require.NoError(t, os.Remove(segPath(dir, base, TimeIndexSuffix)))
		}},
		{"offset index points past the end", func(t *testing.T, dir string) {
			f, err := os.OpenFile(segPath(dir, base, IndexSuffix), os.O_RDWR, 0)
			require.NoError(t, err)
			defer f.Close()
			// Entry 1: relative offset huge, position far past the log.
			_, err = f.WriteAt([]byte{0, 0, 0x10, 0, 0x7f, 0, 0, 0}, 8)
			require.NoError(t, err)
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			s, err := Open(dir, base, cfg)
			require.NoError(t, err)
			ws := fill(t, s, 100, 1_700_000_000_000)
			entries := s.oi.Entries()
			require.Greater(t, entries, 10)
			lookups := map[int64]uint32{}
			for _, w := range ws {
				_, lookups[w.h.BaseOffset] = s.oi.Lookup(w.h.BaseOffset)
			}
			size, next, maxTS := s.Size(), s.NextOffset(), s.MaxTimestamp()
			require.NoError(t, s.Close())

			c.damage(t, dir)
			s = openSeg(t, dir, base, cfg)
			require.FileExists(t, segPath(dir, base, IndexSuffix))
			require.FileExists(t, segPath(dir, base, TimeIndexSuffix))
			require.Equal(t, size, s.Size())
			require.Equal(t, next, s.NextOffset())
			require.Equal(t, maxTS, s.MaxTimestamp())
			require.Equal(t, entries, s.oi.Entries(), "the offset index is rebuilt whole")
			for off, pos := range lookups {
				_, got := s.oi.Lookup(off)
				require.Equal(t, pos, got, "offset %d", off)
			}
			require.Greater(t, s.ti.Entries(), 0, "the time index is rebuilt")
			checkEveryOffset(t, s, ws)
			for i := 0; i < len(ws); i += 7 {
				w := ws[i]
				off, ts, found, err := s.FindOffsetByTimestamp(w.h.MaxTimestamp, math.MaxInt64)
				require.NoError(t, err)
				require.True(t, found)
				require.Equal(t, w.h.BaseOffset, off)
				require.Equal(t, w.h.MaxTimestamp, ts)
			}
		})
	}
}

func TestOpenEmptyAndCreates(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, 42, Config{})
	require.NoError(t, err)
	for _, suffix := range []string{LogSuffix, IndexSuffix, TimeIndexSuffix} {
		require.FileExists(t, segPath(dir, 42, suffix))
	}
	got, err := s.Read(nil, 42, math.MaxInt64, 1<<20)
	require.NoError(t, err)
	require.Empty(t, got)
	_, _, found, err := s.FindOffsetByTimestamp(0, math.MaxInt64)
	require.NoError(t, err)
	require.False(t, found)
	require.NoError(t, s.Close())
	s = openSeg(t, dir, 42, Config{})
	require.Equal(t, int64(42), s.NextOffset())
	require.Zero(t, s.Size())

	_, err = Open(filepath.Join(dir, "missing", "dir"), 0, Config{})
	require.Error(t, err)
}

func TestScan(t *testing.T) {
	s := openSeg(t, t.TempDir(), 0, Config{})
	ws := fill(t, s, 50, 1)
	// A batch larger than Scan's 1 MiB chunk, then small ones again.
	ws = append(ws, appendBatch(t, s, batchN(t, s.NextOffset(), 3, 500<<10, 2)))
	ws = append(ws, fill(t, s, 10, 3)...)
	var got []written
	require.NoError(t, s.Scan(func(h *record.BatchHeader, pos int64, batch []byte) error {
		got = append(got, written{h: *h, pos: pos, bytes: bytes.Clone(batch)})
		return nil
	}))
	require.Equal(t, ws, got)
	stop := fmt.Errorf("stop")
	n := 0
	err := s.Scan(func(*record.BatchHeader, int64, []byte) error {
		n++
		if n == 3 {
			return stop
		}
		return nil
	})
	require.ErrorIs(t, err, stop)
	require.Equal(t, 3, n)
}

func TestAcquireReleaseDelete(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, 0, Config{})
	require.NoError(t, err)
	ws := fill(t, s, 20, 1)
	paths := []string{segPath(dir, 0, LogSuffix), segPath(dir, 0, IndexSuffix), segPath(dir, 0, TimeIndexSuffix)}

	require.True(t, s.Acquire())
	require.NoError(t, s.Delete(), "Delete does not wait for readers")
	for _, p := range paths {
		require.FileExists(t, p, "files stay while a reader holds a reference")
	}
	// The reader holding its reference keeps reading the open file; new
	// readers are refused once Delete has started.
	got := make([]byte, len(concat(ws)))
	_, err = s.f.ReadAt(got, 0)
	require.NoError(t, err)
	require.Equal(t, concat(ws), got)
	require.False(t, s.Acquire(), "no new references once Delete has started")
	_, err = s.Read(nil, 0, math.MaxInt64, 1<<20)
	require.ErrorIs(t, err, ErrClosed)

	s.Release()
	for _, p := range paths {
		require.NoFileExists(t, p, "the last Release removes the files")
	}
	require.False(t, s.Acquire())
	_, err = s.Read(nil, 0, math.MaxInt64, 1)
	require.ErrorIs(t, err, ErrClosed)
	require.NoError(t, s.Delete(), "Delete is idempotent")
	require.NoError(t, s.Close(), "Close after Delete")
}

func TestDeleteWithoutReaders(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, 5, Config{})
	require.NoError(t, err)
	fill(t, s, 3, 1)
	require.NoError(t, s.Delete())
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Empty(t, entries)
}

func TestCloseWaitsForReaders(t *testing.T) {
	s, err := Open(t.TempDir(), 0, Config{})
	require.NoError(t, err)
	fill(t, s, 3, 1)
	require.True(t, s.Acquire())
	closed := make(chan error, 1)
	go func() { closed <- s.Close() }()
	select {
	case <-closed:
		t.Fatal("Close returned while a reader held a reference")
	case <-time.After(50 * time.Millisecond):
	}
	buf := make([]byte, 1)
	_, err = s.f.ReadAt(buf, 0)
	require.NoError(t, err, "the reader keeps reading while Close waits")
	_, err = s.Read(nil, 0, math.MaxInt64, 1)
	require.ErrorIs(t, err, ErrClosed, "new readers are refused once Close has started")
	s.Release()
	select {
	case err := <-closed:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not return after the last Release")
	}
}

func TestCloseIdempotentAndUseAfterClose(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, 0, Config{})
	require.NoError(t, err)
	fill(t, s, 5, 1)
	require.NoError(t, s.Close())
	require.NoError(t, s.Close())
	_, err = s.Read(nil, 0, math.MaxInt64, 1)
	require.ErrorIs(t, err, ErrClosed)
	_, _, _, err = s.FindOffsetByTimestamp(0, math.MaxInt64)
	require.ErrorIs(t, err, ErrClosed)
	require.ErrorIs(t, s.Scan(func(*record.BatchHeader, int64, []byte) error { return nil }), ErrClosed)
	require.ErrorIs(t, s.Append(batchN(t, s.NextOffset(), 1, 1, 1)), ErrClosed)
	require.False(t, s.Acquire())
	// The files stay.
	require.FileExists(t, segPath(dir, 0, LogSuffix))
}

// TestConcurrentReadAppend runs readers against the writer; with -race it
// checks the publication order of size and next offset.
func TestConcurrentReadAppend(t *testing.T) {
	s := openSeg(t, t.TempDir(), 0, Config{IndexIntervalBytes: new(256)})
	const batches = 2000
	done := make(chan struct{})
	var wg sync.WaitGroup
	for r := 0; r < 2; r++ {
		wg.Add(1)
		go func(seed uint64) {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(seed, 1))
			var dst []byte
			for {
				select {
				case <-done:
					return
				default:
				}
				next := s.NextOffset()
				if next == 0 {
					continue
				}
				off := rng.Int64N(next)
				var err error
				dst, err = s.Read(dst, off, math.MaxInt64, 4096)
				// The writer publishes the next offset before the size, so
				// a batch whose next offset was seen may not be readable
				// yet for an instant: it must become readable.
				for try := 0; err == nil && len(dst) == 0 && try < 10000; try++ {
					runtime.Gosched()
					dst, err = s.Read(dst, off, math.MaxInt64, 4096)
				}
				if !assertNoErr(t, err) {
					return
				}
				if len(dst) == 0 {
					t.Errorf("offset %d below next offset %d read nothing", off, next)
					return
				}
				if err := record.Batches(dst, func(h *record.BatchHeader, _ []byte) error { return nil }); err != nil {
					t.Errorf("offset %d: %v", off, err)
					return
				}
				h, _ := record.ParseHeader(dst)
				if off < h.BaseOffset || off > h.LastOffset() {
					t.Errorf("offset %d: got batch %d-%d", off, h.BaseOffset, h.LastOffset())
					return
				}
			}
		}(uint64(r))
	}
	for i := 0; i < batches; i++ {
		require.NoError(t, s.Append(batchN(t, s.NextOffset(), 1+i%3, 30, int64(i))))
	}
	close(done)
	wg.Wait()
}

func assertNoErr(t *testing.T, err error) bool {
	if err != nil {
		t.Error(err)
		return false
	}
	return true
}

// BenchmarkSegmentRead reads a 32 MiB segment of 1 KiB records in batches of
// 100 sequentially, 1 MiB per Read, into a reused buffer.
func BenchmarkSegmentRead(b *testing.B) {
	s, err := Open(b.TempDir(), 0, Config{})
	require.NoError(b, err)
	defer s.Close()
	raw := batchN(b, 0, 100, 1024, 1_700_000_000_000)
	buf := make([]byte, len(raw))
	for s.Size() < 32<<20 {
		copy(buf, raw)
		record.SetBaseOffset(buf, s.NextOffset())
		require.NoError(b, s.Append(buf))
	}
	end := s.NextOffset()
	b.SetBytes(s.Size())
	b.ReportAllocs()
	dst := make([]byte, 0, 2<<20)
	for b.Loop() {
		for next := int64(0); next < end; {
			dst, err = s.Read(dst, next, math.MaxInt64, 1<<20)
			if err != nil || len(dst) == 0 {
				b.Fatalf("read at %d: %d bytes, %v", next, len(dst), err)
			}
			for p := dst; len(p) > 0; {
				h, err := record.ParseHeader(p)
				if err != nil {
					b.Fatal(err)
				}
				next = h.NextOffset()
				p = p[h.Size():]
			}
		}
	}
	b.ReportMetric(float64(end)*float64(b.N)/b.Elapsed().Seconds(), "records/s")
}

// TestBatchLengthPastTheEnd damages the length field of a batch in the
// middle of a segment (it is outside the part Open rescans) so that the
// batch claims to run far past the end of the file. Reads that reach it
// report ErrCorrupt: they neither return nothing, which lets a log reader
// move on to the next segment and silently skip the rest of this one, nor
// allocate the 2 GiB the length claims.
func TestBatchLengthPastTheEnd(t *testing.T) {
	const base = 10
	cfg := Config{IndexIntervalBytes: new(128)}
	dir := t.TempDir()
	s, err := Open(dir, base, cfg)
	require.NoError(t, err)
	ws := fill(t, s, 100, 1_700_000_000_000)
	size := s.Size()
	require.NoError(t, s.Close())

	bad := ws[10]
	f, err := os.OpenFile(segPath(dir, base, LogSuffix), os.O_RDWR, 0)
	require.NoError(t, err)
	_, err = f.WriteAt([]byte{0x7f, 0xff, 0, 0}, bad.pos+8) // batchLength
	require.NoError(t, err)
	require.NoError(t, f.Close())

	s = openSeg(t, dir, base, cfg)
	require.Equal(t, size, s.Size(), "the damage is before the last index entry: Open does not see it")

	for off := bad.h.BaseOffset; off <= bad.h.LastOffset(); off++ {
		got, err := s.Read(nil, off, math.MaxInt64, 1<<20)
		require.ErrorIs(t, err, record.ErrCorrupt, "offset %d", off)
		require.Empty(t, got)
	}
	// Reading from before it returns the whole batches before it.
	got, err := s.Read(nil, ws[9].h.BaseOffset, math.MaxInt64, 1<<20)
	require.NoError(t, err)
	require.Equal(t, ws[9].bytes, got)

	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, _, _, err = s.FindOffsetByTimestamp(bad.h.MaxTimestamp, math.MaxInt64)
	runtime.ReadMemStats(&after)
	require.ErrorIs(t, err, record.ErrCorrupt)
	require.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(64<<20), "allocated what the damaged length claims")
}

// TestReadLayouts reads random offsets with random maxBytes from segments
// whose index entries are dense (batches larger than the index interval,
// each with an entry), sparse (many small batches per entry) or mixed,
// also after reopening with another index interval than the one the
// segment was written with, compacted or not, and compares each result
// with the batches the reference says: the one holding the offset, then
// the following ones while they fit maxBytes.
func TestReadLayouts(t *testing.T) {
	layouts := []struct {
		name             string
		minSize, maxSize int // value bytes per record
		records          int // records per batch, at most
	}{
		{"dense", 100, 300, 60},
		{"sparse", 10, 60, 3},
		{"mixed", 10, 400, 40},
	}
	for _, lay := range layouts {
		for _, reopen := range []int{0, 256, 64 << 10} {
			for _, compacted := range []bool{false, true} {
				t.Run(fmt.Sprintf("%s/reopen=%d/compacted=%v", lay.name, reopen, compacted), func(t *testing.T) {
					r := rand.New(rand.NewPCG(uint64(len(lay.name)), uint64(reopen)))
					dir := t.TempDir()
					cfg := Config{IndexIntervalBytes: new(4096), Compacted: compacted}
					s := openSeg(t, dir, 1000, cfg)
					var ws []written
					for range 150 {
						n := 1 + r.IntN(lay.records)
						ws = append(ws, appendBatch(t, s, batchN(t, s.NextOffset(), n, lay.minSize+r.IntN(lay.maxSize-lay.minSize), 1000)))
					}
					if reopen > 0 {
						require.NoError(t, s.Close())
						cfg.IndexIntervalBytes = new(reopen)
						s = openSeg(t, dir, 1000, cfg)
					}
					end := ws[len(ws)-1].h.NextOffset()
					all := concat(ws)
					var dst []byte
					for range 1000 {
						off := 1000 + r.Int64N(end-1000)
						maxBytes := []int{1, 100, 4096, 16 << 10, 64 << 10, 1 << 20}[r.IntN(6)]
						i := 0
						for ws[i].h.LastOffset() < off {
							i++
						}
						j, total := i+1, len(ws[i].bytes)
						for j < len(ws) && total+len(ws[j].bytes) <= maxBytes {
							total += len(ws[j].bytes)
							j++
						}
						var err error
						dst, err = s.Read(dst, off, math.MaxInt64, maxBytes)
						require.NoError(t, err)
						want := all[ws[i].pos : ws[j-1].pos+int64(len(ws[j-1].bytes))]
						if !bytes.Equal(want, dst) {
							t.Fatalf("offset %d, maxBytes %d: got %d bytes, want batches %d to %d (%d bytes)", off, maxBytes, len(dst), i, j-1, len(want))
						}
					}
				})
			}
		}
	}
}
