package log

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/commitlog-go/commitlog/record"
	"github.com/commitlog-go/commitlog/segment"
	"github.com/stretchr/testify/require"
)

// crashFixture writes a log of several segments and returns its directory
// (closed cleanly, marker removed as after a crash), the records written,
// and the base offset and file position of the last batch of the last
// segment.
func crashFixture(t *testing.T) (dir string, want []string, lastBase int64, lastPos int64) {
	dir = t.TempDir()
	l, err := Open(dir, testConfig())
	require.NoError(t, err)
	for i := 0; i < 60; i++ {
		n := 1 + i%3
		info, err := l.Append(batchOf(t, fmt.Sprint(i), n, 1_700_000_000_000+int64(i), 60))
		require.NoError(t, err)
		for j := 0; j < n; j++ {
			want = append(want, fmt.Sprintf("%d/%d/", i, j))
		}
		lastBase = info.BaseOffset
	}
	segs := l.segments()
	last := segs[len(segs)-1]
	lastPos = -1
	require.NoError(t, last.Scan(func(h *record.BatchHeader, pos int64, _ []byte) error {
		if h.BaseOffset == lastBase {
			lastPos = pos
		}
		return nil
	}))
	require.GreaterOrEqual(t, lastPos, int64(0))
	require.Greater(t, len(segs), 2)
	require.NoError(t, l.Close())
	require.NoError(t, os.Remove(filepath.Join(dir, CleanShutdownFile)))
	return dir, want, lastBase, lastPos
}

func copyDir(t *testing.T, src string) string {
	dst := t.TempDir()
	entries, err := os.ReadDir(src)
	require.NoError(t, err)
	for _, e := range entries {
		in, err := os.Open(filepath.Join(src, e.Name()))
		require.NoError(t, err)
		out, err := os.Create(filepath.Join(dst, e.Name()))
		require.NoError(t, err)
		_, err = io.Copy(out, in)
		require.NoError(t, err)
		in.Close()
		require.NoError(t, out.Close())
	}
	return dst
}

// checkPrefix opens dir and checks that exactly the first n records are
// served, that nothing after them is, and that appends continue at n.
func checkPrefix(t *testing.T, dir string, want []string, n int64) {
	t.Helper()
	l, info, err := OpenWithInfo(dir, testConfig())
	require.NoError(t, err)
	defer l.Close()
	require.False(t, info.CleanShutdown)
	require.Equal(t, n, l.EndOffset())
	got := readAll(t, l, 0)
	require.Len(t, got, int(n))
	for i, r := range got {
		require.Equal(t, want[i], r.Value[:len(want[i])])
	}
	_, err = l.Read(n+1, 1024)
	require.ErrorIs(t, err, ErrOffsetOutOfRange)
	a, err := l.Append(batchOf(t, "again", 2, 1_800_000_000_000, 10))
	require.NoError(t, err)
	require.Equal(t, n, a.BaseOffset)
	got = readAll(t, l, n)
	require.Len(t, got, 2)
	require.Equal(t, "again/0/", got[0].Value[:8])
}

// TestCrashTruncateEveryByte cuts the active segment at every byte of its
// last batch: after reopen every batch before it is there and nothing of it.
func TestCrashTruncateEveryByte(t *testing.T) {
	tmpl, want, lastBase, lastPos := crashFixture(t)
	logPath := lastSegmentPath(t, tmpl)
	end := fileSize(t, logPath)
	for cut := lastPos; cut < end; cut++ {
		dir := copyDir(t, tmpl)
		require.NoError(t, os.Truncate(filepath.Join(dir, filepath.Base(logPath)), cut))
		checkPrefix(t, dir, want, lastBase)
	}
	// Uncut, after a crash, everything is there.
	checkPrefix(t, copyDir(t, tmpl), want, int64(len(want)))
}

// TestCrashFlippedBytes flips bytes inside batches of the active segment:
// the log is cut at the first damaged batch.
func TestCrashFlippedBytes(t *testing.T) {
	tmpl, want, _, _ := crashFixture(t)
	logName := filepath.Base(lastSegmentPath(t, tmpl))
	type batchAt struct{ base, pos, size int64 }
	var batches []batchAt
	data, err := os.ReadFile(filepath.Join(tmpl, logName))
	require.NoError(t, err)
	require.NoError(t, record.Batches(data, func(h *record.BatchHeader, b []byte) error {
		pos := int64(0)
		if len(batches) > 0 {
			p := batches[len(batches)-1]
			pos = p.pos + p.size
		}
		batches = append(batches, batchAt{h.BaseOffset, pos, int64(h.Size())})
		return nil
	}))
	for i, b := range batches {
		// Damage the header's CRC field, the record count, and the middle
		// of the records.
		for _, at := range []int64{17, 58, b.size / 2, b.size - 1} {
			dir := copyDir(t, tmpl)
			path := filepath.Join(dir, logName)
			f, err := os.OpenFile(path, os.O_RDWR, 0)
			require.NoError(t, err)
			one := []byte{0}
			_, err = f.ReadAt(one, b.pos+at)
			require.NoError(t, err)
			one[0] ^= 0x5a
			_, err = f.WriteAt(one, b.pos+at)
			require.NoError(t, err)
			require.NoError(t, f.Close())
			checkPrefix(t, dir, want, batches[i].base)
		}
	}
}

// TestIndexesRebuilt deletes or scrambles index files: they are rebuilt and
// lookups by offset and by time still work.
func TestIndexesRebuilt(t *testing.T) {
	tmpl, want, _, _ := crashFixture(t)
	cases := []struct {
		name   string
		damage func(t *testing.T, dir string)
	}{
		{"delete all indexes", func(t *testing.T, dir string) {
			for _, suffix := range []string{segment.IndexSuffix, segment.TimeIndexSuffix} {
				for _, p := range segmentFiles(t, dir, suffix) {
					require.NoError(t, os.Remove(p))
				}
			}
		}},
		{"scramble offset indexes", func(t *testing.T, dir string) {
			for _, p := range segmentFiles(t, dir, segment.IndexSuffix) {
				require.NoError(t, os.WriteFile(p, []byte{0, 0, 0, 9, 0, 0, 0, 200, 0, 0, 0, 3, 0, 0, 0, 100}, 0o644))
			}
		}},
		{"scramble time indexes", func(t *testing.T, dir string) {
			for _, p := range segmentFiles(t, dir, segment.TimeIndexSuffix) {
				require.NoError(t, os.WriteFile(p, []byte{0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 7}, 0o644))
			}
		}},
		{"odd-sized index", func(t *testing.T, dir string) {
			p := segmentFiles(t, dir, segment.IndexSuffix)[0]
			f, err := os.OpenFile(p, os.O_APPEND|os.O_WRONLY, 0)
			require.NoError(t, err)
			_, err = f.Write([]byte{1, 2, 3})
			require.NoError(t, err)
			require.NoError(t, f.Close())
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := copyDir(t, tmpl)
			tc.damage(t, dir)
			checkPrefix(t, dir, want, int64(len(want)))
			l, err := Open(dir, testConfig())
			require.NoError(t, err)
			defer l.Close()
			for i := 0; i < 60; i += 7 {
				off, _, found, err := l.OffsetForTimestamp(1_700_000_000_000 + int64(i))
				require.NoError(t, err)
				require.True(t, found)
				require.Equal(t, want[off][:len(fmt.Sprint(i))+1], fmt.Sprint(i)+"/")
			}
			for off := int64(0); off < int64(len(want)); off += 5 {
				got := readAll(t, l, off)
				require.Equal(t, off, got[0].Offset)
				require.Equal(t, want[off], got[0].Value[:len(want[off])])
			}
		})
	}
}

// TestCrashWithoutClose reopens a log whose process died without closing
// it: indexes still preallocated, no marker.
func TestCrashWithoutClose(t *testing.T) {
	dir := t.TempDir()
	l, err := Open(dir, testConfig())
	require.NoError(t, err)
	var want []string
	for i := 0; i < 40; i++ {
		_, err := l.Append(batchOf(t, fmt.Sprint(i), 1, 1_700_000_000_000, 100))
		require.NoError(t, err)
		want = append(want, fmt.Sprintf("%d/0/", i))
	}
	// No Close: copy the files as they are on disk now.
	dir2 := copyDir(t, dir)
	require.NoError(t, l.Close())
	checkPrefix(t, dir2, want, int64(len(want)))
}

// TestCorruptOldSegmentIsReported flips a byte in an inactive segment,
// which Open does not rescan: reading it gives ErrCorrupt, never a panic
// and never wrong data.
func TestCorruptOldSegmentIsReported(t *testing.T) {
	dir, _, _, _ := crashFixture(t)
	first := segmentFiles(t, dir, segment.LogSuffix)[0]
	data, err := os.ReadFile(first)
	require.NoError(t, err)
	data[len(data)-5] ^= 0xff
	require.NoError(t, os.WriteFile(first, data, 0o644))
	l, err := Open(dir, testConfig())
	require.NoError(t, err)
	defer l.Close()
	var sawCorrupt bool
	for off := int64(0); off < l.EndOffset() && !sawCorrupt; {
		data, err := l.Read(off, 1<<20)
		require.NoError(t, err)
		err = record.Batches(data, func(h *record.BatchHeader, b []byte) error {
			off = h.NextOffset()
			return nil
		})
		if err != nil {
			require.ErrorIs(t, err, ErrCorrupt)
			sawCorrupt = true
		}
	}
	require.True(t, sawCorrupt)
}

// TestSignedSegmentNamesAreNotSegments puts files whose names parse as
// base offsets only with a sign ("+0000000000000000000.log.swap", 20
// characters) next to a real log: they are not Kafka segment names, and
// must neither replace the real segment 0 nor be opened as segments.
func TestSignedSegmentNamesAreNotSegments(t *testing.T) {
	for _, name := range []string{
		"+0000000000000000000.log.swap",
		"+0000000000000000000.log",
		"+0000000000000000039.log",
	} {
		t.Run(name, func(t *testing.T) {
			dir, want, _, _ := crashFixture(t)
			require.NoError(t, os.WriteFile(filepath.Join(dir, name), nil, 0o644))
			l, info, err := OpenWithInfo(dir, testConfig())
			require.NoError(t, err)
			defer l.Close()
			require.Zero(t, info.SwapsCompleted)
			require.Equal(t, 3, info.Segments)
			got := readAll(t, l, 0)
			require.Len(t, got, len(want))
			for i, r := range got {
				require.Equal(t, want[i], r.Value[:len(want[i])])
			}
		})
	}
}
