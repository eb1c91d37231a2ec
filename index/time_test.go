package index

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/commitlog-go/commitlog/record"
	"github.com/stretchr/testify/require"
)

func TestOpenTimeIndexCreatesEmptyFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "00000000000000000042.timeindex")
	ti, err := OpenTimeIndex(nil, path, 42, 100)
	require.NoError(t, err)
	defer ti.Close()

	require.Equal(t, int64(0), fileSize(t, path), "no preallocation")
	require.Equal(t, 0, ti.Entries())
	require.Equal(t, int64(42), ti.BaseOffset())
	require.Equal(t, path, ti.Path())
	_, _, ok := ti.LastEntry()
	require.False(t, ok)
	_, _, ok = ti.Lookup(1000)
	require.False(t, ok)
	_, _, ok = ti.FirstAtOrAfter(0)
	require.False(t, ok)

	for _, maxBytes := range []int{-1, 0, 11} {
		_, err := OpenTimeIndex(nil, filepath.Join(t.TempDir(), "a.timeindex"), 0, maxBytes)
		require.Error(t, err, "maxBytes %d", maxBytes)
	}
}

func TestTimeIndexLookup(t *testing.T) {
	const base = 100
	ti := newTimeIndex(t, base, 1024, timeEntries{{1000, 100}, {2000, 105}, {3000, 110}, {4000, 110}})
	empty := newTimeIndex(t, base, 1024, nil)

	tests := []struct {
		name     string
		ti       *TimeIndex
		query    int64
		lookup   [2]int64 // {ts, offset} from Lookup
		lookupOK bool
		first    [2]int64 // {ts, offset} from FirstAtOrAfter
		firstOK  bool
	}{
		{"before first", ti, 500, [2]int64{}, false, [2]int64{1000, 100}, true},
		{"negative", ti, -1, [2]int64{}, false, [2]int64{1000, 100}, true},
		{"first exact", ti, 1000, [2]int64{}, false, [2]int64{1000, 100}, true},
		{"just after first", ti, 1001, [2]int64{1000, 100}, true, [2]int64{2000, 105}, true},
		{"second exact", ti, 2000, [2]int64{1000, 100}, true, [2]int64{2000, 105}, true},
		{"between", ti, 2500, [2]int64{2000, 105}, true, [2]int64{3000, 110}, true},
		{"last exact", ti, 4000, [2]int64{3000, 110}, true, [2]int64{4000, 110}, true},
		{"after last", ti, 4001, [2]int64{4000, 110}, true, [2]int64{}, false},
		{"max", ti, math.MaxInt64, [2]int64{4000, 110}, true, [2]int64{}, false},
		{"empty", empty, 1500, [2]int64{}, false, [2]int64{}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ts, off, ok := tc.ti.Lookup(tc.query)
			require.Equal(t, tc.lookupOK, ok)
			if ok {
				require.Equal(t, tc.lookup, [2]int64{ts, off})
			}
			ts, off, ok = tc.ti.FirstAtOrAfter(tc.query)
			require.Equal(t, tc.firstOK, ok)
			if ok {
				require.Equal(t, tc.first, [2]int64{ts, off})
			}
		})
	}
	ts, off, ok := ti.LastEntry()
	require.True(t, ok)
	require.Equal(t, int64(4000), ts)
	require.Equal(t, int64(110), off)
	require.NoError(t, ti.SanityCheck(111))
}

func TestTimeIndexAppend(t *testing.T) {
	const base = 100
	ti := newTimeIndex(t, base, 1024, timeEntries{{1000, 100}, {2000, 105}})

	// Timestamps that do not raise the maximum are ignored.
	require.NoError(t, ti.Append(2000, 106))
	require.NoError(t, ti.Append(1500, 107))
	require.Equal(t, 2, ti.Entries())

	// Offsets may repeat but not go back.
	require.NoError(t, ti.Append(2500, 105))
	for name, off := range map[string]int64{
		"before last offset": 104,
		"below base":         99,
		"too far":            base + math.MaxUint32 + 1,
	} {
		err := ti.Append(9000, off)
		require.Error(t, err, name)
		require.False(t, errors.Is(err, ErrIndexFull), name)
	}
	require.Equal(t, timeEntries{{1000, 100}, {2000, 105}, {2500, 105}}, timeContents(ti))
}

func TestTimeIndexFull(t *testing.T) {
	ti := newTimeIndex(t, 0, 2*12+11, timeEntries{{10, 0}, {20, 1}})
	require.True(t, ti.IsFull())
	require.ErrorIs(t, ti.Append(30, 2), ErrIndexFull)
	require.NoError(t, ti.Append(15, 2), "no entry due, so fullness does not matter")
	require.Equal(t, 2, ti.Entries())
}

func TestTimeIndexTruncateTo(t *testing.T) {
	const base = 50
	all := timeEntries{{100, 50}, {200, 60}, {300, 60}, {400, 80}}
	tests := []struct {
		name string
		to   int64
		want timeEntries
	}{
		{"below base", 0, timeEntries{}},
		{"base", 50, timeEntries{}},
		{"after first", 51, timeEntries{{100, 50}}},
		{"repeated offset", 60, timeEntries{{100, 50}}},
		{"between", 70, timeEntries{{100, 50}, {200, 60}, {300, 60}}},
		{"last", 80, timeEntries{{100, 50}, {200, 60}, {300, 60}}},
		{"after last", 81, all},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ti := newTimeIndex(t, base, 1024, all)
			require.NoError(t, ti.TruncateTo(tc.to))
			require.Equal(t, tc.want, timeContents(ti))
			require.NoError(t, ti.Trim())
			raw, err := os.ReadFile(ti.Path())
			require.NoError(t, err)
			require.Len(t, raw, len(tc.want)*12, "the file holds exactly the kept entries")
			require.NoError(t, ti.Append(1000, 90))
			ts, off, ok := ti.LastEntry()
			require.True(t, ok)
			require.Equal(t, [2]int64{1000, 90}, [2]int64{ts, off})
		})
	}

	ti := newTimeIndex(t, base, 1024, all)
	require.NoError(t, ti.Reset())
	require.Equal(t, 0, ti.Entries())
	require.NoError(t, ti.Append(5, 50), "after Reset any timestamp starts a new index")
}

func TestTimeIndexReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "00000000000000000100.timeindex")
	ti, err := OpenTimeIndex(nil, path, 100, 1200)
	require.NoError(t, err)
	want := timeEntries{{1000, 100}, {2000, 104}, {3000, 109}}
	for _, e := range want {
		require.NoError(t, ti.Append(e[0], e[1]))
	}
	require.NoError(t, ti.Sync())

	// A preallocated crash copy (older versions): padding dropped on open.
	crashed := copyFile(t, path)
	require.NoError(t, os.Truncate(crashed, 1200))
	cti, err := OpenTimeIndex(nil, crashed, 100, 1200)
	require.NoError(t, err)
	require.Equal(t, want, timeContents(cti))
	require.NoError(t, cti.SanityCheck(110))
	require.NoError(t, cti.Close())

	// Clean close: exactly the entries, then reopened.
	require.NoError(t, ti.Close())
	require.Equal(t, int64(36), fileSize(t, path))
	ti, err = OpenTimeIndex(nil, path, 100, 1200)
	require.NoError(t, err)
	defer ti.Close()
	require.Equal(t, want, timeContents(ti))
	require.NoError(t, ti.Append(4000, 112))
	ts, off, ok := ti.Lookup(3500)
	require.True(t, ok)
	require.Equal(t, [2]int64{3000, 109}, [2]int64{ts, off})
}

func TestTimeIndexSanityCheck(t *testing.T) {
	const base = 1000
	tests := []struct {
		name    string
		entries timeEntries
		leo     int64
		extra   []byte
		corrupt bool
	}{
		{"empty", nil, 1000, nil, false},
		{"good", timeEntries{{10, 1000}, {20, 1003}, {30, 1003}}, 1004, nil, false},
		{"timestamps decrease", timeEntries{{10, 1000}, {30, 1003}, {20, 1004}}, 1005, nil, true},
		{"offsets decrease", timeEntries{{10, 1000}, {20, 1004}, {30, 1003}}, 1005, nil, true},
		{"offset at log end", timeEntries{{10, 1000}, {20, 1004}}, 1004, nil, true},
		{"log end unknown", timeEntries{{10, 1000}, {20, 1004}}, -1, nil, false},
		{"odd size", timeEntries{{10, 1000}, {20, 1004}}, -1, []byte{1, 2, 3, 4, 5}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "x.timeindex")
			rawTimeFile(t, path, base, tc.entries, tc.extra)
			ti, err := OpenTimeIndex(nil, path, base, 1200)
			require.NoError(t, err)
			defer ti.Close()
			require.Equal(t, len(tc.entries), ti.Entries())
			err = ti.SanityCheck(tc.leo)
			if !tc.corrupt {
				require.NoError(t, err)
				return
			}
			require.True(t, errors.Is(err, record.ErrCorrupt), "got %v", err)
			require.Contains(t, err.Error(), path)
			ti.Lookup(25)
			ti.FirstAtOrAfter(25)
			require.NoError(t, ti.Reset())
			require.NoError(t, ti.SanityCheck(tc.leo))
		})
	}
}

func TestTimeIndexLifecycle(t *testing.T) {
	ti := newTimeIndex(t, 0, 1200, timeEntries{{10, 0}, {20, 5}})

	require.NoError(t, ti.Trim())
	require.Equal(t, int64(24), fileSize(t, ti.Path()))
	require.NoError(t, ti.Append(30, 9))
	require.Equal(t, int64(24), fileSize(t, ti.Path()), "written at the next Sync, Trim or Close")

	renamed := ti.Path() + ".deleted"
	require.NoError(t, ti.Rename(renamed))
	require.Equal(t, renamed, ti.Path())

	require.NoError(t, ti.Close())
	require.NoError(t, ti.Close())
	require.Equal(t, int64(36), fileSize(t, renamed))
	_, _, ok := ti.Lookup(100)
	require.False(t, ok)
	_, _, ok = ti.FirstAtOrAfter(0)
	require.False(t, ok)
	_, _, ok = ti.LastEntry()
	require.False(t, ok)
	require.Equal(t, 0, ti.Entries())
	require.ErrorIs(t, ti.Append(40, 10), os.ErrClosed)
	require.ErrorIs(t, ti.Sync(), os.ErrClosed)
	require.ErrorIs(t, ti.Trim(), os.ErrClosed)

	require.NoError(t, ti.Delete())
	_, err := os.Stat(renamed)
	require.ErrorIs(t, err, os.ErrNotExist)
}
