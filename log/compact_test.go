package log

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/commitlog-go/commitlog/record"
	"github.com/commitlog-go/commitlog/segment"
	"github.com/stretchr/testify/require"
)

var epoch = time.UnixMilli(1_700_000_000_000)

func openCompacted(t testing.TB, dir string, cfg Config) *Log {
	t.Helper()
	l, err := Open(dir, cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = l.Close() })
	return l
}

// keysBelow checks that no key appears twice below end.
func requireDeduplicatedBelow(t testing.TB, recs []crec, end int64) {
	t.Helper()
	seen := map[string]int64{}
	for _, r := range recs {
		if r.Offset >= end {
			break
		}
		if prev, ok := seen[r.Key]; ok {
			t.Fatalf("key %s at offsets %d and %d, both below the cleaned end %d", r.Key, prev, r.Offset, end)
		}
		seen[r.Key] = r.Offset
	}
}

// The main property: a random workload of puts and deletes over a
// small key space, compacted again and again; what is read back always
// equals the model, offsets strictly increase and never change, and each
// pass leaves one record per key below its end.
func TestCompactRandomWorkload(t *testing.T) {
	for _, seed := range []uint64{1, 2, 3} {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			t.Parallel()
			clock := &fakeClock{epoch}
			cfg := compactConfig(clock)
			cfg.DeleteRetention = new(time.Hour)
			l := openCompacted(t, t.TempDir(), cfg)
			w := newWorkload(t, seed, 40, clock)
			for round := 0; round < 6; round++ {
				w.run(l, 150)
				before := readRecords(t, l)
				require.Equal(t, w.model, state(before))
				end := l.EndOffset()
				byOffset := map[int64]crec{}
				for _, r := range before {
					byOffset[r.Offset] = r
				}

				res, err := l.Compact()
				require.NoError(t, err)
				require.False(t, res.MapFull)
				after := readRecords(t, l)
				require.Equal(t, w.model, state(after), "round %d", round)
				require.Equal(t, end, l.EndOffset(), "compaction never changes the end offset")
				require.Equal(t, int64(0), l.StartOffset())
				for _, r := range after {
					require.Equal(t, byOffset[r.Offset], r, "a kept record keeps its offset, key, value and timestamp")
				}
				requireDeduplicatedBelow(t, after, res.EndOffset)
				require.Less(t, len(after), len(before))
				requireOnlySegmentFiles(t, l)
				for _, s := range l.segments() {
					require.LessOrEqual(t, s.Size(), cfg.SegmentBytes)
				}
				if round%3 == 2 {
					clock.t = clock.t.Add(2 * time.Hour) // past delete.retention.ms
				}
			}
			// Past every horizon, two passes leave no tombstone in the
			// closed segments (the first may have stamped the last ones).
			require.NoError(t, l.Roll())
			clock.t = clock.t.Add(2 * time.Hour)
			_, err := l.Compact()
			require.NoError(t, err)
			clock.t = clock.t.Add(2 * time.Hour)
			_, err = l.Compact()
			require.NoError(t, err)
			after := readRecords(t, l)
			require.Equal(t, w.model, state(after))
			require.Len(t, after, len(w.model), "one record per live key, no tombstones")
		})
	}
}

func TestCompactKeepsYoungRecords(t *testing.T) {
	clock := &fakeClock{epoch}
	cfg := compactConfig(clock)
	cfg.MinCompactionLag = time.Hour
	l := openCompacted(t, t.TempDir(), cfg)
	w := newWorkload(t, 7, 20, clock)
	w.run(l, 200) // old
	clock.t = clock.t.Add(2 * time.Hour)
	w.run(l, 200) // young: within the lag when compacted
	require.NoError(t, l.Roll())
	clock.t = clock.t.Add(30 * time.Minute)
	before := readRecords(t, l)
	limit := clock.t.Add(-time.Hour).UnixMilli()
	var young []crec
	for _, r := range before {
		if r.TS > limit {
			young = append(young, r)
		}
	}
	require.NotEmpty(t, young)

	res, err := l.Compact()
	require.NoError(t, err)
	require.Equal(t, young[0].Offset, res.EndOffset, "the cleanable range ends at the first batch within the lag")
	after := readRecords(t, l)
	require.Equal(t, w.model, state(after))
	var youngAfter []crec
	for _, r := range after {
		if r.TS > limit {
			youngAfter = append(youngAfter, r)
		}
	}
	require.Equal(t, young, youngAfter, "no record younger than min.compaction.lag.ms is touched")
	require.Less(t, len(after), len(before), "older records were compacted")
	requireDeduplicatedBelow(t, after, res.EndOffset)
	st := l.CleanerState()
	require.Equal(t, res.EndOffset, st.FirstDirtyOffset)
	require.Zero(t, st.DirtyBytes, "what is left is within the lag")

	// Once the lag has passed, the rest is cleaned.
	clock.t = clock.t.Add(2 * time.Hour)
	require.True(t, l.CleanerState().NeedsCleaning)
	res, err = l.Compact()
	require.NoError(t, err)
	after = readRecords(t, l)
	require.Equal(t, w.model, state(after))
	requireDeduplicatedBelow(t, after, res.EndOffset)
}

func TestCompactTombstoneHorizon(t *testing.T) {
	clock := &fakeClock{epoch}
	cfg := compactConfig(clock)
	cfg.DeleteRetention = new(time.Hour)
	cfg.MinCleanableDirtyRatio = new(0.9)
	l := openCompacted(t, t.TempDir(), cfg)
	ts := clock.t.UnixMilli()
	_, err := l.Append(kvBatch(t, ts, record.BatchOptions{}, put("a", "1"), put("b", "1"), put("c", "1")))
	require.NoError(t, err)
	_, err = l.Append(kvBatch(t, ts+10, record.BatchOptions{}, put("d", "1"), del("a"), put("b", "2")))
	require.NoError(t, err)
	require.NoError(t, l.Roll())
	clock.t = clock.t.Add(time.Minute)

	res, err := l.Compact()
	require.NoError(t, err)
	require.Equal(t, int64(6), res.EndOffset)
	got := readRecords(t, l)
	require.Equal(t, []crec{
		{Offset: 2, Key: "c", Value: "1", TS: ts},
		{Offset: 3, Key: "d", Value: "1", TS: ts + 10},
		{Offset: 4, Key: "a", Null: true, TS: ts + 10},
		{Offset: 5, Key: "b", Value: "2", TS: ts + 10},
	}, got, "the tombstone stays for delete.retention.ms; timestamps read back unchanged")
	horizon := clock.t.Add(time.Hour).UnixMilli()
	var horizons []int64
	data, err := l.Read(0, 1<<20)
	require.NoError(t, err)
	require.NoError(t, record.Batches(data, func(h *record.BatchHeader, _ []byte) error {
		ms, _ := h.DeleteHorizon()
		horizons = append(horizons, ms)
		return nil
	}))
	require.Equal(t, []int64{-1, horizon}, horizons, "the batch holding the tombstone carries the horizon")
	require.Equal(t, horizon, l.CleanerState().DeleteHorizon)

	// Before the horizon nothing changes, and nothing is due.
	clock.t = clock.t.Add(59 * time.Minute)
	require.False(t, l.CleanerState().NeedsCleaning)
	_, err = l.Compact()
	require.NoError(t, err)
	require.Equal(t, got, readRecords(t, l))

	// From the horizon on the log is due for cleaning even though nothing
	// is dirty, and the tombstone goes.
	clock.t = clock.t.Add(time.Minute)
	st := l.CleanerState()
	require.Zero(t, st.DirtyBytes)
	require.True(t, st.NeedsCleaning)
	res, err = l.Compact()
	require.NoError(t, err)
	require.Equal(t, int64(1), res.TombstonesRemoved)
	require.Equal(t, []crec{
		{Offset: 2, Key: "c", Value: "1", TS: ts},
		{Offset: 3, Key: "d", Value: "1", TS: ts + 10},
		{Offset: 5, Key: "b", Value: "2", TS: ts + 10},
	}, readRecords(t, l))
	require.Equal(t, int64(-1), l.CleanerState().DeleteHorizon)
	require.False(t, l.CleanerState().NeedsCleaning)
	require.Equal(t, int64(6), l.EndOffset())
	_, err = l.Read(0, 100)
	require.NoError(t, err, "the log start offset stays")
}

// A pass rewrites each closed segment; groups of segments that are small
// (typically cleaned ones) are merged, up to segment.bytes, under the name
// of the first of the group. The active segment is never touched.
func TestCompactMergesSegments(t *testing.T) {
	clock := &fakeClock{epoch}
	cfg := compactConfig(clock)
	cfg.SegmentBytes = 2 << 10
	l := openCompacted(t, t.TempDir(), cfg)
	ts := clock.t.UnixMilli() - 1000
	value := func(i int) string { return fmt.Sprintf("v%d-%030d", i, 0) }
	for i := 0; i < 200; i++ {
		_, err := l.Append(kvBatch(t, ts+int64(i), record.BatchOptions{}, put(fmt.Sprintf("k%d", i%5), value(i))))
		require.NoError(t, err)
	}
	segsBefore := l.segments()
	active := segsBefore[len(segsBefore)-1]
	activeBytes, err := l.ReadUpTo(nil, active.BaseOffset(), l.EndOffset(), 1<<20)
	require.NoError(t, err)
	activeBytes = append([]byte(nil), activeBytes...)
	require.Greater(t, len(segsBefore), 10)

	// Full segments cannot be merged (their sizes add up past
	// segment.bytes): each is rewritten under its own name.
	res, err := l.Compact()
	require.NoError(t, err)
	segs := l.segments()
	require.Equal(t, len(segsBefore)-1, res.SegmentsBefore)
	require.Equal(t, len(segsBefore)-1, res.SegmentsAfter)
	require.Len(t, segs, len(segsBefore))
	for i, s := range segs {
		require.Equal(t, segsBefore[i].BaseOffset(), s.BaseOffset())
		require.Equal(t, segsBefore[i].NextOffset(), s.NextOffset(), "a cleaned segment ends where it did")
	}
	require.Same(t, active, segs[len(segs)-1], "the active segment stays")
	again, err := l.ReadUpTo(nil, active.BaseOffset(), l.EndOffset(), 1<<20)
	require.NoError(t, err)
	require.Equal(t, activeBytes, again, "byte for byte")
	requireOnlySegmentFiles(t, l)

	// The next pass merges the small cleaned segments.
	_, err = l.Append(kvBatch(t, ts+200, record.BatchOptions{}, put("k0", value(200))))
	require.NoError(t, err)
	require.NoError(t, l.Roll())
	segsBefore = l.segments()
	res, err = l.Compact()
	require.NoError(t, err)
	segs = l.segments()
	require.Equal(t, len(segsBefore)-1, res.SegmentsBefore)
	require.Less(t, len(segs), len(segsBefore)/3, "cleaned segments are merged")
	require.Equal(t, len(segs)-1, res.SegmentsAfter)
	// Each merged segment is named by the base offset of the first segment
	// of its group, ends where the group ended, and fits segment.bytes.
	bases := map[int64]bool{}
	for _, s := range segsBefore {
		bases[s.BaseOffset()] = true
	}
	require.Equal(t, int64(0), segs[0].BaseOffset())
	for i, s := range segs[:len(segs)-1] {
		require.True(t, bases[s.BaseOffset()], "segment %d is named after an old one", s.BaseOffset())
		require.Equal(t, segs[i+1].BaseOffset(), s.NextOffset(), "offset ranges stay contiguous")
		require.LessOrEqual(t, s.Size(), cfg.SegmentBytes)
	}
	requireOnlySegmentFiles(t, l)
	recs := readRecords(t, l)
	got := state(recs)
	require.Len(t, got, 5)
	require.Len(t, recs, 5, "one record per key")
	require.Equal(t, value(200), got["k0"])
	for k := 1; k < 5; k++ {
		require.Equal(t, value(195+k), got[fmt.Sprintf("k%d", k)])
	}
	// A pass with nothing new to map does nothing.
	res, err = l.Compact()
	require.NoError(t, err)
	require.Zero(t, res.SegmentsBefore)
}

// compact,delete: retention deletes whole segments as usual, compaction
// cleans what is left, and the cleaner's checkpoint follows the log start.
func TestCompactWithRetention(t *testing.T) {
	clock := &fakeClock{epoch}
	cfg := compactConfig(clock)
	cfg.Retention = new(time.Hour)
	dir := t.TempDir()
	l := openCompacted(t, dir, cfg)
	w := newWorkload(t, 11, 30, clock)
	w.run(l, 200)
	_, err := l.Compact()
	require.NoError(t, err)
	clock.t = clock.t.Add(50 * time.Minute)
	w.run(l, 200)
	require.NoError(t, l.Roll())
	_, err = l.Compact()
	require.NoError(t, err)
	firstRound := readRecords(t, l)

	// The first round's data ages out of retention.ms; retention deletes
	// those segments, compacted or not.
	clock.t = clock.t.Add(20 * time.Minute)
	n, err := l.Maintain()
	require.NoError(t, err)
	require.Positive(t, n)
	start := l.StartOffset()
	require.Positive(t, start)
	var want []crec
	for _, r := range firstRound {
		if r.Offset >= start {
			want = append(want, r)
		}
	}
	require.Equal(t, want, readRecords(t, l))

	w.run(l, 100)
	require.NoError(t, l.Roll())
	st := l.CleanerState()
	require.GreaterOrEqual(t, st.FirstDirtyOffset, start)
	res, err := l.Compact()
	require.NoError(t, err)
	require.GreaterOrEqual(t, res.FirstDirtyOffset, start)
	after := readRecords(t, l)
	requireDeduplicatedBelow(t, after, res.EndOffset)
	require.Equal(t, start, l.StartOffset())
	// What survives is the latest of each key among what retention left.
	var tail []crec
	for _, r := range readRecords(t, l) {
		if r.Offset >= start {
			tail = append(tail, r)
		}
	}
	require.Equal(t, state(tail), state(after))
	for k, v := range state(after) {
		require.Equal(t, w.model[k], v, "a key still present has its latest value")
	}
}

// Reopening after compaction: the segments open from their indexes (which
// are valid), lookups by timestamp give the same answers, and the
// checkpoint is remembered.
func TestCompactReopen(t *testing.T) {
	for _, crash := range []bool{false, true} {
		t.Run(fmt.Sprintf("crash=%v", crash), func(t *testing.T) {
			clock := &fakeClock{epoch}
			cfg := compactConfig(clock)
			dir := t.TempDir()
			l, err := Open(dir, cfg)
			require.NoError(t, err)
			w := newWorkload(t, 5, 25, clock)
			w.run(l, 400)
			res, err := l.Compact()
			require.NoError(t, err)
			recs := readRecords(t, l)
			type tsAnswer struct {
				off, ts int64
				found   bool
			}
			lookup := func(l *Log) []tsAnswer {
				var out []tsAnswer
				for _, r := range recs {
					for _, ts := range []int64{r.TS - 1, r.TS, r.TS + 1} {
						o, t2, found, err := l.OffsetForTimestamp(ts)
						require.NoError(t, err)
						out = append(out, tsAnswer{o, t2, found})
					}
				}
				return out
			}
			answers := lookup(l)
			// The answers are right: the first record at or after ts.
			for i, r := range recs {
				a := answers[3*i+1]
				require.True(t, a.found)
				var want crec
				for _, c := range recs {
					if c.TS >= r.TS {
						want = c
						break
					}
				}
				require.Equal(t, want.Offset, a.off, "timestamp %d", r.TS)
				require.Equal(t, want.TS, a.ts)
			}
			if crash {
				snap := snapshot(t, dir)
				require.NoError(t, l.Close())
				dir = snap
			} else {
				require.NoError(t, l.Close())
			}
			l2, info, err := OpenWithInfo(dir, cfg)
			require.NoError(t, err)
			defer l2.Close()
			require.Equal(t, !crash, info.CleanShutdown)
			require.Zero(t, info.TruncatedBytes)
			require.Equal(t, recs, readRecords(t, l2))
			require.Equal(t, answers, lookup(l2))
			require.Equal(t, res.EndOffset, l2.CleanerState().FirstDirtyOffset)
			for _, s := range l2.segments() {
				// Indexes pass their sanity checks (Open restored them
				// without a rebuild) and every offset is found.
				require.NoError(t, s.Scan(func(h *record.BatchHeader, pos int64, _ []byte) error {
					p, err := s.Position(h.BaseOffset)
					require.NoError(t, err)
					require.Equal(t, pos, p)
					return nil
				}))
			}
			_, err = l2.Append(kvBatch(t, clock.t.UnixMilli(), record.BatchOptions{}, put("new", "1")))
			require.NoError(t, err)
		})
	}
}

// Readers run during compaction (and appends, rolls and more passes) and
// always see, reading from the start to an end offset, each key's latest
// value as of that offset, except for keys written again at or after it:
// once those records are in a sealed segment, a pass may remove the older
// ones while the reader is on its way (Kafka's cleaner promises no more).
func TestCompactConcurrentReaders(t *testing.T) {
	clock := &fakeClock{epoch}
	cfg := compactConfig(clock)
	cfg.Now = time.Now
	l := openCompacted(t, t.TempDir(), cfg)

	var mu sync.Mutex
	var history []crec // every record appended, by offset order
	// stateAt is each key's latest value below end, and the keys written
	// again at or after it.
	stateAt := func(end int64) (map[string]string, map[string]bool) {
		mu.Lock()
		defer mu.Unlock()
		var upTo []crec
		later := map[string]bool{}
		for _, r := range history {
			if r.Offset < end {
				upTo = append(upTo, r)
			} else {
				later[r.Key] = true
			}
		}
		return state(upTo), later
	}
	done := make(chan struct{})
	errs := make(chan error, 16)
	var wg sync.WaitGroup
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var it record.Iterator
			for {
				select {
				case <-done:
					return
				default:
				}
				mu.Lock() // the history has everything below end
				end := l.EndOffset()
				mu.Unlock()
				got := map[string]string{}
				last := int64(-1)
				for next := l.StartOffset(); next < end; {
					data, err := l.ReadUpTo(nil, next, end, 4<<10)
					if err != nil {
						errs <- err
						return
					}
					err = record.Batches(data, func(h *record.BatchHeader, b []byte) error {
						if err := it.ResetChecked(h, b); err != nil {
							return err
						}
						for it.Next() {
							r := it.Record()
							if r.Offset < next {
								continue
							}
							if r.Offset <= last {
								return fmt.Errorf("offset %d after %d", r.Offset, last)
							}
							last = r.Offset
							if r.Value == nil {
								delete(got, string(r.Key))
							} else {
								got[string(r.Key)] = string(r.Value)
							}
						}
						next = max(next, h.NextOffset())
						return it.Err()
					})
					if err != nil {
						errs <- err
						return
					}
				}
				want, later := stateAt(end)
				keys := map[string]bool{}
				for k := range want {
					keys[k] = true
				}
				for k := range got {
					keys[k] = true
				}
				for k := range keys {
					if g, w := got[k], want[k]; g != w && !later[k] {
						errs <- fmt.Errorf("read to %d: %s=%q, want %q", end, k, g, w)
						return
					}
				}
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-done:
				return
			default:
			}
			if _, err := l.Compact(); err != nil {
				errs <- err
				return
			}
		}
	}()
	w := newWorkload(t, 3, 30, clock)
	for i := 0; i < 800; i++ {
		mu.Lock()
		before := l.EndOffset()
		w.run(l, 1)
		// The workload's batch is the last one: read it back for history.
		data, err := l.Read(before, 1<<20)
		require.NoError(t, err)
		require.NoError(t, record.Batches(data, func(h *record.BatchHeader, b []byte) error {
			_, recs, err := record.Decode(b)
			for _, r := range recs {
				history = append(history, crec{r.Offset, string(r.Key), string(r.Value), r.Value == nil, r.Timestamp})
			}
			return err
		}))
		mu.Unlock()
	}
	close(done)
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	require.Equal(t, w.model, state(readRecords(t, l)))
	requireOnlySegmentFiles(t, l)
}

// Compact holds the log's mutex only to swap: appends go on while it
// reads and writes.
func TestCompactDoesNotBlockAppends(t *testing.T) {
	clock := &fakeClock{epoch}
	cfg := compactConfig(clock)
	l := openCompacted(t, t.TempDir(), cfg)
	w := newWorkload(t, 9, 10, clock)
	w.run(l, 200)
	appended := 0
	l.hook = func(step string) error {
		if step == "cleaned" {
			// The cleaned copy is written; the swap has not begun.
			_, err := l.Append(kvBatch(t, clock.t.UnixMilli(), record.BatchOptions{}, put("during", "x")))
			require.NoError(t, err)
			appended++
		}
		return nil
	}
	_, err := l.Compact()
	require.NoError(t, err)
	require.Positive(t, appended)
	w.model["during"] = "x"
	require.Equal(t, w.model, state(readRecords(t, l)))
}

// When the offset map fills, a pass cleans up to the end of the last
// segment it mapped whole; the next passes go on from there.
func TestCompactMapFull(t *testing.T) {
	clock := &fakeClock{epoch}
	cfg := compactConfig(clock)
	cfg.DedupeBufferSize = 1 // the smallest map: 1024 slots, 921 keys
	l := openCompacted(t, t.TempDir(), cfg)
	model := map[string]string{}
	ts := clock.t.UnixMilli()
	for round := 0; round < 3; round++ {
		for i := 0; i < 1500; i += 10 {
			var recs []kv
			for j := i; j < i+10; j++ {
				k, v := fmt.Sprintf("k%04d", j), fmt.Sprintf("r%d", round)
				recs = append(recs, put(k, v))
				model[k] = v
			}
			_, err := l.Append(kvBatch(t, ts, record.BatchOptions{}, recs...))
			require.NoError(t, err)
		}
	}
	require.NoError(t, l.Roll())
	closedEnd := l.EndOffset()
	var ends []int64
	for {
		res, err := l.Compact()
		require.NoError(t, err)
		require.Equal(t, model, state(readRecords(t, l)))
		if res.EndOffset <= res.FirstDirtyOffset {
			break
		}
		require.LessOrEqual(t, res.KeysMapped, 921)
		ends = append(ends, res.EndOffset)
		// The end is a segment boundary.
		var bases []int64
		for _, s := range l.segments() {
			bases = append(bases, s.BaseOffset())
		}
		require.Contains(t, bases, res.EndOffset)
		if res.EndOffset == closedEnd {
			require.False(t, res.MapFull)
			break
		}
		require.True(t, res.MapFull)
	}
	require.Greater(t, len(ends), 2, "several passes")
	require.Equal(t, closedEnd, ends[len(ends)-1])
	// In the end, one record per key.
	_, err := l.Compact()
	require.NoError(t, err)
	recs := readRecords(t, l)
	require.Len(t, recs, len(model))
}

func TestCompactRefusesKeylessRecords(t *testing.T) {
	clock := &fakeClock{epoch}
	l := openCompacted(t, t.TempDir(), compactConfig(clock))
	b := record.NewBuilder(0, record.BatchOptions{Compression: record.LZ4})
	b.Add(1, []byte("k"), []byte("v"), nil)
	b.Add(1, nil, []byte("no key"), nil)
	raw, err := b.Build()
	require.NoError(t, err)
	_, err = l.Append(raw)
	require.ErrorIs(t, err, ErrInvalidRecord)
	require.Equal(t, int64(0), l.EndOffset())

	plain := openCompacted(t, t.TempDir(), testConfig())
	_, err = plain.Append(raw)
	require.NoError(t, err, "a log that is not compacted takes records without keys")
	_, err = plain.Compact()
	require.Error(t, err, "Compact needs cleanup.policy compact")
}

func TestCleanerStateAndCheckpoint(t *testing.T) {
	clock := &fakeClock{epoch}
	cfg := compactConfig(clock)
	dir := t.TempDir()
	l := openCompacted(t, dir, cfg)
	st := l.CleanerState()
	require.Zero(t, st.DirtyBytes)
	require.False(t, st.NeedsCleaning)
	w := newWorkload(t, 1, 10, clock)
	w.run(l, 100)
	var closed int64
	segs := l.segments()
	for _, s := range segs[:len(segs)-1] {
		closed += s.Size()
	}
	st = l.CleanerState()
	require.Equal(t, int64(0), st.FirstDirtyOffset)
	require.Equal(t, closed, st.DirtyBytes)
	require.Zero(t, st.CleanBytes)
	require.Equal(t, 1.0, st.DirtyRatio)
	require.True(t, st.NeedsCleaning)

	compactedAt := clock.t
	res, err := l.Compact()
	require.NoError(t, err)
	st = l.CleanerState()
	require.Equal(t, res.EndOffset, st.FirstDirtyOffset)
	require.Zero(t, st.DirtyBytes)
	require.Positive(t, st.CleanBytes)
	require.False(t, st.NeedsCleaning)

	// New dirty data: the ratio counts the bytes from the checkpoint on,
	// measured inside the segment that holds it.
	w.run(l, 30)
	require.NoError(t, l.Roll())
	st = l.CleanerState()
	require.Positive(t, st.DirtyBytes)
	require.InDelta(t, float64(st.DirtyBytes)/float64(st.DirtyBytes+st.CleanBytes), st.DirtyRatio, 1e-9)
	require.Equal(t, st.DirtyRatio >= 0.5, st.NeedsCleaning)

	require.NoError(t, l.Close())
	data, err := os.ReadFile(filepath.Join(dir, CleanerCheckpointFile))
	require.NoError(t, err)
	require.Equal(t, fmt.Sprintf("0\n%d %d\n", res.EndOffset, st.DeleteHorizon), string(data))
	require.Equal(t, compactedAt.Add(DefaultDeleteRetention).UnixMilli(), st.DeleteHorizon, "the workload's tombstones wait for delete.retention.ms")
	l2 := openCompacted(t, dir, cfg)
	require.Equal(t, st, l2.CleanerState())

	// A damaged checkpoint only means the whole log is dirty again.
	require.NoError(t, l2.Close())
	require.NoError(t, os.WriteFile(filepath.Join(dir, CleanerCheckpointFile), []byte("garbage"), 0o644))
	l3 := openCompacted(t, dir, cfg)
	require.Equal(t, int64(0), l3.CleanerState().FirstDirtyOffset)
	_, err = l3.Compact()
	require.NoError(t, err)
	require.Equal(t, w.model, state(readRecords(t, l3)))
}

// Close stops a pass in flight (here a throttled one) and leaves no
// cleaned files behind.
func TestCloseStopsCompaction(t *testing.T) {
	clock := &fakeClock{epoch}
	cfg := compactConfig(clock)
	dir := t.TempDir()
	l, err := Open(dir, cfg)
	require.NoError(t, err)
	w := newWorkload(t, 4, 10, clock)
	w.run(l, 300)
	c := NewCleaner(CleanerConfig{IOMaxBytesPerSecond: 1 << 10}) // 1 KiB/s: would take minutes
	errc := make(chan error, 1)
	go func() {
		_, err := c.Clean(t.Context(), l)
		errc <- err
	}()
	time.Sleep(100 * time.Millisecond)
	start := time.Now()
	require.NoError(t, l.Close())
	require.Less(t, time.Since(start), 2*time.Second)
	require.ErrorIs(t, <-errc, ErrClosed)
	for _, name := range dirFiles(t, dir) {
		require.NotContains(t, name, CleanedFileSuffix)
	}
	l2 := openCompacted(t, dir, cfg)
	require.Equal(t, w.model, state(readRecords(t, l2)))
}

func TestCleanContextCancel(t *testing.T) {
	clock := &fakeClock{epoch}
	l := openCompacted(t, t.TempDir(), compactConfig(clock))
	newWorkload(t, 4, 10, clock).run(l, 100)
	before := readRecords(t, l)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := NewCleaner(CleanerConfig{}).Clean(ctx, l)
	require.Error(t, err)
	require.Equal(t, before, readRecords(t, l))
	requireOnlySegmentFiles(t, l)
}

func TestOffsetMap(t *testing.T) {
	m := newOffsetMap(64 << 10) // 4096 slots at most
	require.Equal(t, 3686, m.capacity())
	_, ok := m.get([]byte("x"))
	require.False(t, ok)
	for i := 0; i < m.capacity(); i++ {
		require.True(t, m.put(fmt.Appendf(nil, "key-%d", i), int64(i)))
	}
	require.True(t, m.full())
	require.False(t, m.put([]byte("one more"), 1<<40), "full")
	require.True(t, m.put([]byte("key-7"), 1<<40), "an update still fits")
	for i := 0; i < m.capacity(); i++ {
		off, ok := m.get(fmt.Appendf(nil, "key-%d", i))
		require.True(t, ok)
		if i == 7 {
			require.Equal(t, int64(1<<40), off)
		} else {
			require.Equal(t, int64(i), off)
		}
	}
	require.Equal(t, int64(4096*16), m.bytes())
	m.reset()
	require.Zero(t, m.n)
	_, ok = m.get([]byte("key-1"))
	require.False(t, ok)
	require.Equal(t, 921, newOffsetMap(0).capacity(), "never below one small table")
}

// A damaged batch stops the pass: it is never rewritten into a new batch
// with a valid CRC, and the segments stay as they were.
func TestCompactRefusesCorruptBatches(t *testing.T) {
	clock := &fakeClock{epoch}
	dir := t.TempDir()
	l := openCompacted(t, dir, compactConfig(clock))
	newWorkload(t, 8, 10, clock).run(l, 100)
	first := filepath.Join(dir, segment.FileName(0, segment.LogSuffix))
	f, err := os.OpenFile(first, os.O_RDWR, 0)
	require.NoError(t, err)
	b := make([]byte, 1)
	_, err = f.ReadAt(b, 100)
	require.NoError(t, err)
	_, err = f.WriteAt([]byte{b[0] ^ 0x20}, 100) // inside the first batch's records
	require.NoError(t, err)
	require.NoError(t, f.Close())
	names := dirFiles(t, dir)
	_, err = l.Compact()
	require.ErrorIs(t, err, ErrCorrupt)
	require.Equal(t, names, dirFiles(t, dir))
}
