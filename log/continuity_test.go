package log

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/commitlog-go/commitlog/record"
	"github.com/commitlog-go/commitlog/segment"
	"github.com/stretchr/testify/require"
)

// contBatch is one batch of a continuity fixture: where it is on disk and
// the offsets it was written with.
type contBatch struct {
	seg        int // index of its segment in contLog.segs
	path       string
	pos        int64
	base, last int64
}

// contLog is a closed log (clean-shutdown marker in place) with what a
// reader must get back from it.
type contLog struct {
	dir     string
	cfg     Config
	want    []readRec // every record the log serves, in offset order
	segs    []int64   // base offsets of the segments
	batches []contBatch
}

// contFixture writes a log of several segments. kind is "dense" (a
// delete-policy log), "compacted" (Config.Compact, nothing cleaned yet:
// the offsets are still dense) or "cleaned" (Config.Compact after a
// compaction pass: the closed segments have offset gaps).
func contFixture(t *testing.T, kind string) *contLog {
	t.Helper()
	cfg := testConfig()
	cfg.Compact = kind != "dense"
	fx := &contLog{dir: t.TempDir(), cfg: cfg}
	l, err := Open(fx.dir, cfg)
	require.NoError(t, err)
	// Three segments, the active one with a few batches.
	for i, inActive := 0, 0; l.NumSegments() < 3 || inActive < 6; i++ {
		segs := l.NumSegments()
		n := 1 + i%3
		b := record.NewBuilder(0, record.BatchOptions{})
		for j := 0; j < n; j++ {
			v := fmt.Sprintf("%d/%d/", i, j)
			for len(v) < 60 {
				v += "x"
			}
			// 40 keys: a compaction pass removes about half the records.
			b.Add(1_700_000_000_000+int64(i), fmt.Appendf(nil, "k%d", (i*3+j)%40), []byte(v), nil)
		}
		raw, err := b.Build()
		require.NoError(t, err)
		_, err = l.Append(raw)
		require.NoError(t, err)
		if l.NumSegments() != segs {
			inActive = 0
		}
		inActive++
	}
	if kind == "cleaned" {
		_, err := l.Compact()
		require.NoError(t, err)
	}
	got, err := readServed(l, 64<<10)
	require.NoError(t, err)
	fx.want = got
	require.NoError(t, l.Close())

	for i, path := range segmentFiles(t, fx.dir, segment.LogSuffix) {
		base, ok := parseName(filepath.Base(path), segment.LogSuffix)
		require.True(t, ok)
		fx.segs = append(fx.segs, base)
		data, err := os.ReadFile(path)
		require.NoError(t, err)
		for pos := 0; pos < len(data); {
			h, err := record.ParseHeader(data[pos:])
			require.NoError(t, err)
			fx.batches = append(fx.batches, contBatch{seg: i, path: filepath.Base(path), pos: int64(pos), base: h.BaseOffset, last: h.LastOffset()})
			pos += h.Size()
		}
	}
	require.GreaterOrEqual(t, len(fx.segs), 3)
	if kind == "cleaned" {
		gaps := false
		for i := 1; i < len(fx.want); i++ {
			gaps = gaps || fx.want[i].Offset != fx.want[i-1].Offset+1
		}
		require.True(t, gaps, "compaction left no gaps")
	} else {
		for i, r := range fx.want {
			require.Equal(t, int64(i), r.Offset)
		}
	}
	return fx
}

// readServed reads the log from its start to its end as a consumer does:
// each read at the next offset, the records below it in the first batch
// skipped. It returns what was served and the error that stopped it, if
// any (an empty read below the log end offset is one).
func readServed(l *Log, maxBytes int) ([]readRec, error) {
	var out []readRec
	var it record.Iterator
	for next := l.StartOffset(); next < l.EndOffset(); {
		data, err := l.Read(next, maxBytes)
		if err != nil {
			return out, err
		}
		if len(data) == 0 {
			return out, fmt.Errorf("read at %d below the end %d returned nothing", next, l.EndOffset())
		}
		err = record.Batches(data, func(h *record.BatchHeader, batch []byte) error {
			if err := it.ResetChecked(h, batch); err != nil {
				return err
			}
			for it.Next() {
				r := it.Record()
				if r.Offset >= next {
					out = append(out, readRec{r.Offset, string(r.Key), string(r.Value), r.Timestamp})
				}
			}
			next = h.NextOffset()
			return it.Err()
		})
		if err != nil {
			return out, err
		}
	}
	return out, nil
}

// setBase overwrites the base offset field of the batch at pos in path.
func setBase(t *testing.T, path string, pos, base int64) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	require.NoError(t, err)
	defer f.Close()
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(base))
	_, err = f.WriteAt(b[:], pos)
	require.NoError(t, err)
}

// detectable reports whether a batch moved to offsets [base, base+delta]
// contradicts its neighbours or its segment's range: only then can any
// check notice it. A batch moved inside a gap that compaction left is
// indistinguishable from one written there (as in Kafka).
func (fx *contLog) detectable(i int, base int64) bool {
	b := fx.batches[i]
	delta := b.last - b.base
	if base < 0 || base > math.MaxInt64-delta || base < fx.segs[b.seg] {
		return true
	}
	last := base + delta
	if i > 0 && fx.batches[i-1].seg == b.seg && base <= fx.batches[i-1].last {
		return true
	}
	if i+1 < len(fx.batches) && fx.batches[i+1].seg == b.seg && last >= fx.batches[i+1].base {
		return true
	}
	if b.seg+1 < len(fx.segs) && last >= fx.segs[b.seg+1] {
		return true
	}
	// The active segment is never compacted: it is dense.
	if b.seg == len(fx.segs)-1 {
		return base != b.base
	}
	return false
}

// TestDamagedBaseOffsetNeverServed changes the base offset field of one
// batch (outside the CRC) in a sealed or the active segment of dense,
// compacted and cleaned logs, after a clean or an unclean shutdown, and
// reads everything back in three ways. The log must either refuse with
// ErrCorrupt (at Open or at the read that reaches the damage) or serve
// exactly the records written, at their offsets; never a record under
// another offset, never a silent gap. Only the active segment after an
// unclean shutdown may be cut at the damaged batch, and then the log ends
// there.
func TestDamagedBaseOffsetNeverServed(t *testing.T) {
	for _, kind := range []string{"dense", "compacted", "cleaned"} {
		t.Run(kind, func(t *testing.T) {
			fx := contFixture(t, kind)
			t.Run("undamaged", func(t *testing.T) {
				for _, unclean := range []bool{false, true} {
					dir := copyDir(t, fx.dir)
					if unclean {
						require.NoError(t, os.Remove(filepath.Join(dir, CleanShutdownFile)))
					}
					l, err := Open(dir, fx.cfg)
					require.NoError(t, err)
					for _, maxBytes := range []int{1, 64 << 10} {
						got, err := readServed(l, maxBytes)
						require.NoError(t, err)
						requirePrefix(t, fx.want, got, "maxBytes %d", maxBytes)
						require.Len(t, got, len(fx.want))
					}
					require.NoError(t, l.Close())
				}
			})
			sealed, active := len(fx.segs)-2, len(fx.segs)-1
			for _, seg := range []int{sealed, active} {
				var idx []int
				for i, b := range fx.batches {
					if b.seg == seg {
						idx = append(idx, i)
					}
				}
				require.GreaterOrEqual(t, len(idx), 3, "segment %d", seg)
				for _, at := range []struct {
					name string
					i    int
				}{{"first", idx[0]}, {"middle", idx[len(idx)/2]}, {"last", idx[len(idx)-1]}} {
					b := fx.batches[at.i]
					prev := fx.batches[at.i-1]
					for _, v := range []struct {
						name string
						base int64
					}{
						{"+1", b.base + 1},
						{"-1", b.base - 1},
						{"+1000", b.base + 1000},
						{"previous base", prev.base},
						{"huge", math.MaxInt64 - 1}, // its last offset overflows
					} {
						for _, unclean := range []bool{false, true} {
							name := fmt.Sprintf("%s/%s/%s/unclean=%v", map[bool]string{true: "active", false: "sealed"}[seg == active], at.name, v.name, unclean)
							if !fx.detectable(at.i, v.base) {
								// Inside a compaction gap: nothing can tell (see detectable).
								continue
							}
							t.Run(name, func(t *testing.T) {
								t.Parallel() // mostly waiting for the file system
								dir := copyDir(t, fx.dir)
								if unclean {
									require.NoError(t, os.Remove(filepath.Join(dir, CleanShutdownFile)))
								}
								setBase(t, filepath.Join(dir, b.path), b.pos, v.base)
								checkServed(t, fx, dir, b, seg == active && unclean)
							})
						}
					}
				}
			}
		})
	}
}

// checkServed opens the damaged copy dir of fx and checks what it serves;
// damaged is the batch whose base offset was changed. mayCut says the log
// may end at the damaged batch (the active segment after a crash).
func checkServed(t *testing.T, fx *contLog, dir string, damaged contBatch, mayCut bool) {
	t.Helper()
	l, info, err := OpenWithInfo(dir, fx.cfg)
	if err != nil {
		require.ErrorIs(t, err, ErrCorrupt)
		require.Contains(t, err.Error(), fmt.Sprintf("segment %d", fx.segs[damaged.seg]), "the error names the segment")
		return
	}
	defer l.Close()
	want := fx.want
	if l.EndOffset() != fx.want[len(fx.want)-1].Offset+1 {
		// Only a cut at the damaged batch, logged as a truncation.
		require.True(t, mayCut, "log end offset %d, want %d", l.EndOffset(), fx.want[len(fx.want)-1].Offset+1)
		require.Equal(t, damaged.base, l.EndOffset())
		require.Positive(t, info.TruncatedBytes)
		n := 0
		for n < len(want) && want[n].Offset < damaged.base {
			n++
		}
		want = want[:n]
	}
	for _, maxBytes := range []int{1, 64 << 10} {
		got, err := readServed(l, maxBytes)
		requirePrefix(t, want, got, "maxBytes %d", maxBytes)
		if err != nil {
			require.ErrorIs(t, err, ErrCorrupt, "maxBytes %d", maxBytes)
			continue
		}
		require.Len(t, got, len(want), "maxBytes %d: nothing is skipped", maxBytes)
	}
	// Every offset on its own, as a lookup through the indexes.
	byOffset := map[int64]readRec{}
	for _, r := range want {
		byOffset[r.Offset] = r
	}
	var it record.Iterator
	for off, w := l.StartOffset(), 0; off < l.EndOffset(); off++ {
		for w < len(want) && want[w].Offset < off {
			w++
		}
		data, err := l.Read(off, 1)
		if err != nil {
			require.ErrorIs(t, err, ErrCorrupt, "offset %d", off)
			continue
		}
		first := true
		reach := off // the reader's next offset after this read
		err = record.Batches(data, func(h *record.BatchHeader, batch []byte) error {
			if err := it.ResetChecked(h, batch); err != nil {
				return err
			}
			for it.Next() {
				r := it.Record()
				wr, ok := byOffset[r.Offset]
				require.True(t, ok, "read at %d: record at offset %d was never written there", off, r.Offset)
				require.Equal(t, wr, readRec{r.Offset, string(r.Key), string(r.Value), r.Timestamp})
				if r.Offset >= off && first {
					first = false
					require.Less(t, w, len(want))
					require.Equal(t, want[w].Offset, r.Offset, "read at %d skips records", off)
				}
			}
			reach = max(reach, h.NextOffset())
			return it.Err()
		})
		if err != nil {
			require.True(t, errors.Is(err, ErrCorrupt), "offset %d: %v", off, err)
			continue
		}
		require.NotEmpty(t, data, "read at %d below the end returned nothing", off)
		if first && w < len(want) {
			// Only empty batches (compaction keeps some): the reader
			// goes on after them, and must not pass a record.
			require.GreaterOrEqual(t, want[w].Offset, reach, "read at %d skips records", off)
		}
	}
}

// requirePrefix requires got to be want or a prefix of it, and names the
// first record that differs; format and args say which read it was.
func requirePrefix(t *testing.T, want, got []readRec, format string, args ...any) {
	t.Helper()
	for i, r := range got {
		require.Less(t, i, len(want), "record %d (offset %d) served past the last one written; %s", i, r.Offset, fmt.Sprintf(format, args...))
		if r != want[i] {
			require.Failf(t, "a record is served other than as written", "record %d: got offset %d %q, want offset %d %q; %s",
				i, r.Offset, r.Value, want[i].Offset, want[i].Value, fmt.Sprintf(format, args...))
		}
	}
}

// TestMissingSegmentIsAGap removes the files of a middle segment: every
// segment starts where the previous one ends (a compacted one too: the
// cleaner keeps each group's last batch), so Open refuses the log, naming
// the segments around the hole, rather than serve it without those
// records.
func TestMissingSegmentIsAGap(t *testing.T) {
	for _, kind := range []string{"dense", "compacted"} {
		t.Run(kind, func(t *testing.T) {
			fx := contFixture(t, kind)
			for _, unclean := range []bool{false, true} {
				dir := copyDir(t, fx.dir)
				if unclean {
					require.NoError(t, os.Remove(filepath.Join(dir, CleanShutdownFile)))
				}
				require.NoError(t, segment.RemoveFiles(nil, dir, fx.segs[1], ""))
				_, err := Open(dir, fx.cfg)
				require.ErrorIs(t, err, ErrCorrupt)
				require.Contains(t, err.Error(), fmt.Sprintf("segment %d ends before offset %d but segment %d starts at %d", fx.segs[0], fx.segs[1], fx.segs[2], fx.segs[2]))
			}
		})
	}
}
