package log

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/commitlog-go/commitlog/record"
	"github.com/commitlog-go/commitlog/segment"
	"github.com/stretchr/testify/require"
)

// crashCase is a closed log directory about to be compacted, with what it
// reads back before and after the pass and the offset ranges of the
// groups the pass swaps in one by one.
type crashCase struct {
	base          string
	cfg           Config
	before, after []crec
	groups        [][2]int64 // [base, next) of each cleaned segment
	steps         []string
}

// newCrashCase writes a log whose next pass merges several groups of
// cleaned segments, with tombstones to stamp and to remove.
func newCrashCase(t *testing.T, singleGroup bool) *crashCase {
	clock := &fakeClock{epoch}
	cfg := compactConfig(clock)
	cfg.SegmentBytes = 1 << 10
	cfg.DeleteRetention = new(time.Minute)
	if singleGroup {
		cfg.SegmentBytes = 64 << 10
	}
	dir := t.TempDir()
	l, err := Open(dir, cfg)
	require.NoError(t, err)
	w := newWorkload(t, 42, 12, clock)
	w.run(l, 50)
	if singleGroup {
		require.NoError(t, l.Roll())
	}
	_, err = l.Compact()
	require.NoError(t, err)
	clock.t = clock.t.Add(2 * time.Minute) // the first pass's tombstones are due
	w.run(l, 8)
	require.NoError(t, l.Roll())
	require.NoError(t, l.Close())
	cfg.Now = func() time.Time { return clock.t } // the clock stands still from here

	c := &crashCase{base: dir, cfg: cfg}
	ref, err := Open(copyDir(t, dir), cfg)
	require.NoError(t, err)
	defer ref.Close()
	c.before = readRecords(t, ref)
	ref.hook = func(step string) error {
		c.steps = append(c.steps, step)
		return nil
	}
	res, err := ref.Compact()
	require.NoError(t, err)
	c.after = readRecords(t, ref)
	require.NotEqual(t, c.before, c.after)
	require.Equal(t, state(c.before), state(c.after))
	segs := ref.segments()
	for _, s := range segs[:len(segs)-1] {
		c.groups = append(c.groups, [2]int64{s.BaseOffset(), s.NextOffset()})
	}
	if singleGroup {
		require.Len(t, c.groups, 1)
		require.Greater(t, res.SegmentsBefore, 1, "the group merges several segments")
	} else {
		require.Greater(t, len(c.groups), 2)
		require.Greater(t, res.SegmentsBefore, len(c.groups), "groups merge segments")
	}
	return c
}

// sampleSteps picks the steps worth a crash: every kind of step of the
// first group (of its renames of old segments, the first and the last),
// the first two steps of the second group (a crash between swaps), and
// the checkpoint. Steps of one kind later on leave the same kind of state;
// skipping them keeps the test fast (every step costs two passes).
func (c *crashCase) sampleSteps() []int {
	var out []int
	group := 0
	for i, s := range c.steps {
		if s == "cleaned" {
			group++
		}
		switch {
		case i == len(c.steps)-1:
			out = append(out, i) // checkpoint
		case group == 1:
			middle := strings.HasPrefix(s, "deleted ") && strings.HasPrefix(c.steps[i-1], "deleted ") && strings.HasPrefix(c.steps[i+1], "deleted ")
			if !middle {
				out = append(out, i)
			}
		case group == 2 && (s == "cleaned" || s == "swap"):
			out = append(out, i)
		}
	}
	return out
}

func inRange(recs []crec, r [2]int64) []crec {
	var out []crec
	for _, c := range recs {
		if c.Offset >= r[0] && c.Offset < r[1] {
			out = append(out, c)
		}
	}
	return out
}

// requireBeforeOrAfter checks that each group reads back exactly as
// before the pass or as after it (each swap is atomic), and the rest as
// it was. It returns how many groups read as after.
func (c *crashCase) requireBeforeOrAfter(t *testing.T, got []crec, what string) int {
	t.Helper()
	done := 0
	for _, g := range c.groups {
		b, a, x := inRange(c.before, g), inRange(c.after, g), inRange(got, g)
		switch {
		case fmt.Sprint(x) == fmt.Sprint(a):
			done++
		case fmt.Sprint(x) == fmt.Sprint(b):
		default:
			t.Fatalf("%s: offsets [%d, %d) read back neither as before nor as after the pass:\n got %v\nbefore %v\n after %v", what, g[0], g[1], x, b, a)
		}
	}
	last := c.groups[len(c.groups)-1][1]
	require.Equal(t, inRange(c.before, [2]int64{last, 1 << 62}), inRange(got, [2]int64{last, 1 << 62}), what)
	return done
}

// reopen opens dir as after a crash and checks what it reads and that no
// file of the swap is left over.
func (c *crashCase) reopen(t *testing.T, dir, what string) (*Log, int) {
	t.Helper()
	require.NoFileExists(t, filepath.Join(dir, CleanShutdownFile))
	l, err := Open(dir, c.cfg)
	require.NoError(t, err, what)
	got := readRecords(t, l)
	done := c.requireBeforeOrAfter(t, got, what)
	requireOnlySegmentFiles(t, l)
	require.Equal(t, state(c.after), state(got), what)
	return l, done
}

// A crash at each step of the swap: the directory as it is at that step
// (copied from inside the hook) reopens as before or after the swap, and
// a pass over it then gives exactly what an uninterrupted pass gives.
func TestCompactCrashAtEachStep(t *testing.T) {
	for _, single := range []bool{true, false} {
		t.Run(fmt.Sprintf("single-group=%v", single), func(t *testing.T) {
			c := newCrashCase(t, single)
			for _, k := range c.sampleSteps() {
				step := c.steps[k]
				t.Run(fmt.Sprintf("%d %s", k, step), func(t *testing.T) {
					t.Parallel() // the passes wait on fsync: overlap them
					c.crashAt(t, k, step, single)
				})
			}
		})
	}
}

func (c *crashCase) crashAt(t *testing.T, k int, step string, single bool) {
	dir := copyDir(t, c.base)
	l, err := Open(dir, c.cfg)
	require.NoError(t, err)
	n := 0
	var snap string
	l.hook = func(s string) error {
		if n == k {
			snap = snapshot(t, dir)
		}
		n++
		return nil
	}
	_, err = l.Compact()
	require.NoError(t, err)
	require.NoError(t, l.Close())

	what := fmt.Sprintf("crash at step %d (%s)", k, step)
	l2, done := c.reopen(t, snap, what)
	if single {
		// The whole pass is one swap: before it commits, the
		// log is as before; from the .swap rename on, as after.
		committed := step != "cleaned"
		require.Equal(t, committed, done == 1, what)
	}
	if single || k < 3 {
		// The pass over the recovered log gives exactly what an
		// uninterrupted pass gives (checked for some steps only when
		// there are many groups: it is the slow part).
		_, err = l2.Compact()
		require.NoError(t, err)
		require.Equal(t, c.after, readRecords(t, l2), "%s, then a pass", what)
	}
	require.NoError(t, l2.Close())
}

// A failure at each step of the swap: Compact returns the error, the live
// log still reads every key's latest value, and after a reopen the log
// reads as before or after each swap.
func TestCompactFailureAtEachStep(t *testing.T) {
	c := newCrashCase(t, false)
	boom := errors.New("injected failure")
	for _, k := range c.sampleSteps() {
		step := c.steps[k]
		t.Run(fmt.Sprintf("%d %s", k, step), func(t *testing.T) {
			t.Parallel()
			c.failAt(t, k, step, boom)
		})
	}
}

func (c *crashCase) failAt(t *testing.T, k int, step string, boom error) {
	what := fmt.Sprintf("failure at step %d (%s)", k, step)
	dir := copyDir(t, c.base)
	l, err := Open(dir, c.cfg)
	require.NoError(t, err)
	n := 0
	l.hook = func(string) error {
		n++
		if n-1 == k {
			return boom
		}
		return nil
	}
	_, err = l.Compact()
	if step == "published" {
		require.NoError(t, err, "the swap is done when its last hook runs")
	} else {
		require.ErrorIs(t, err, boom, what)
	}
	got := readRecords(t, l)
	c.requireBeforeOrAfter(t, got, what+", live")
	require.Equal(t, state(c.after), state(got), what)
	committed := step == "swap" || step == "installed" || strings.HasPrefix(step, "deleted ")
	require.Equal(t, committed, l.CleanerState().Uncleanable, what)
	if committed {
		_, err = l.Compact()
		require.Error(t, err, "no more passes until the log is reopened")
	}
	_, err = l.Append(kvBatch(t, epoch.UnixMilli(), record.BatchOptions{}, put("k000", "still writable")))
	require.NoError(t, err)
	require.NoError(t, l.Close())

	// Reopen and compare everything below the extra record.
	l2, err := Open(dir, c.cfg)
	require.NoError(t, err)
	got = readRecords(t, l2)
	require.Equal(t, "still writable", got[len(got)-1].Value)
	got = got[:len(got)-1]
	c.requireBeforeOrAfter(t, got, what+", reopened")
	requireOnlySegmentFiles(t, l2)
	require.False(t, l2.CleanerState().Uncleanable)
	_, err = l2.Compact()
	require.NoError(t, err)
	want := state(c.after)
	want["k000"] = "still writable"
	require.Equal(t, want, state(readRecords(t, l2)))
	require.NoError(t, l2.Close())
}

// snapshotAt runs the pass on a copy of the case and returns the directory
// as it was at the first step named step.
func (c *crashCase) snapshotAt(t *testing.T, step string) string {
	dir := copyDir(t, c.base)
	l, err := Open(dir, c.cfg)
	require.NoError(t, err)
	var snap string
	l.hook = func(s string) error {
		if s == step && snap == "" {
			snap = snapshot(t, dir)
		}
		return nil
	}
	_, err = l.Compact()
	require.NoError(t, err)
	require.NoError(t, l.Close())
	require.NotEmpty(t, snap, "no step %s", step)
	return snap
}

func renameFile(t *testing.T, dir, from, to string) {
	t.Helper()
	require.NoError(t, os.Rename(filepath.Join(dir, from), filepath.Join(dir, to)))
}

// A crash between the renames of one segment's three files, at each
// transition: the .log file decides.
func TestCompactCrashMidRename(t *testing.T) {
	c := newCrashCase(t, true)
	g := c.groups[0][0]
	name := func(kind, suffix string) string { return segment.FileName(g, kind) + suffix }

	t.Run("cleaned to swap, indexes renamed", func(t *testing.T) {
		dir := c.snapshotAt(t, "cleaned")
		renameFile(t, dir, name(segment.IndexSuffix, CleanedFileSuffix), name(segment.IndexSuffix, SwapFileSuffix))
		renameFile(t, dir, name(segment.TimeIndexSuffix, CleanedFileSuffix), name(segment.TimeIndexSuffix, SwapFileSuffix))
		l, done := c.reopen(t, dir, "mid cleaned->swap")
		defer l.Close()
		require.Zero(t, done, "the .log file was not yet a swap file: before")
	})
	t.Run("old to deleted, first old segment's index renamed", func(t *testing.T) {
		dir := c.snapshotAt(t, "swap")
		renameFile(t, dir, name(segment.IndexSuffix, ""), name(segment.IndexSuffix, DeletedFileSuffix))
		l, done := c.reopen(t, dir, "mid old->deleted")
		defer l.Close()
		require.Equal(t, 1, done)
	})
	t.Run("swap to final, indexes renamed", func(t *testing.T) {
		var last string
		for _, s := range c.steps {
			if strings.HasPrefix(s, "deleted ") {
				last = s
			}
		}
		for _, both := range []bool{false, true} {
			dir := c.snapshotAt(t, last)
			renameFile(t, dir, name(segment.IndexSuffix, SwapFileSuffix), name(segment.IndexSuffix, ""))
			if both {
				renameFile(t, dir, name(segment.TimeIndexSuffix, SwapFileSuffix), name(segment.TimeIndexSuffix, ""))
			}
			l, info, err := OpenWithInfo(dir, c.cfg)
			require.NoError(t, err)
			require.Equal(t, 1, info.SwapsCompleted)
			require.NoError(t, l.Close())
			require.NoError(t, os.Remove(filepath.Join(dir, CleanShutdownFile)))
			l, done := c.reopen(t, dir, "mid swap->final")
			require.Equal(t, 1, done)
			require.NoError(t, l.Close())
		}
	})
	t.Run("swap to final, log renamed, indexes not", func(t *testing.T) {
		dir := c.snapshotAt(t, "installed")
		// Put the index files back to .swap: as if the crash came between
		// renaming them and renaming the .log file, in the other order.
		renameFile(t, dir, name(segment.IndexSuffix, ""), name(segment.IndexSuffix, SwapFileSuffix))
		l, done := c.reopen(t, dir, "log final, index .swap")
		defer l.Close()
		require.Equal(t, 1, done)
	})
}

// A .log.swap file found torn (cut short, or empty) while the segments it
// was cleaned from are all still there under their final names: the swap
// is discarded and the log reads as before the pass. Completing it would
// remove every old segment whose base offset lies in what is left of it
// and lose the records past the tear.
func TestCompactTornSwapWithOldSegmentsIntact(t *testing.T) {
	c := newCrashCase(t, true)
	g := c.groups[0]
	swapLog := segment.FileName(g[0], segment.LogSuffix) + SwapFileSuffix
	for _, keep := range []float64{0.5, 0} {
		t.Run(fmt.Sprintf("kept %.0f%%", keep*100), func(t *testing.T) {
			dir := c.snapshotAt(t, "swap")
			require.FileExists(t, filepath.Join(dir, segment.FileName(g[0], segment.LogSuffix)), "no old segment renamed yet")
			path := filepath.Join(dir, swapLog)
			require.NoError(t, os.Truncate(path, int64(float64(fileSize(t, path))*keep)))

			l, info, err := OpenWithInfo(dir, c.cfg)
			require.NoError(t, err)
			defer l.Close()
			require.Zero(t, info.SwapsCompleted)
			got := readRecords(t, l)
			require.Zero(t, c.requireBeforeOrAfter(t, got, "torn swap"), "the group reads as before the pass")
			require.Equal(t, c.before, got)
			requireOnlySegmentFiles(t, l)
		})
	}
}
