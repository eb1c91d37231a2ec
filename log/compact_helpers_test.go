package log

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/commitlog-go/commitlog/record"
	"github.com/commitlog-go/commitlog/segment"
	"github.com/stretchr/testify/require"
)

// crec is a record as read back, tombstones included.
type crec struct {
	Offset int64
	Key    string
	Value  string
	Null   bool // a tombstone
	TS     int64
}

// kv is a record to write; a nil value is a tombstone.
type kv struct {
	key   string
	value []byte
}

func put(key, value string) kv { return kv{key, []byte(value)} }
func del(key string) kv        { return kv{key: key} }

// kvBatch encodes records with one timestamp.
func kvBatch(t testing.TB, ts int64, opts record.BatchOptions, recs ...kv) []byte {
	t.Helper()
	b := record.NewBuilder(0, opts)
	for _, r := range recs {
		b.Add(ts, []byte(r.key), r.value, nil)
	}
	out, err := b.Build()
	require.NoError(t, err)
	return slices.Clone(out)
}

// readRecords reads the whole log, checking that batches are valid and
// that offsets strictly increase (compaction leaves gaps).
func readRecords(t testing.TB, l *Log) []crec {
	t.Helper()
	var out []crec
	next := l.StartOffset()
	last := int64(-1)
	var it record.Iterator
	for next < l.EndOffset() {
		data, err := l.Read(next, 16<<10)
		require.NoError(t, err)
		require.NotEmpty(t, data, "read at %d below end %d returned nothing", next, l.EndOffset())
		err = record.Batches(data, func(h *record.BatchHeader, batch []byte) error {
			if err := it.ResetChecked(h, batch); err != nil {
				return err
			}
			for it.Next() {
				r := it.Record()
				if r.Offset < next {
					continue
				}
				require.Greater(t, r.Offset, last, "offsets strictly increase")
				last = r.Offset
				out = append(out, crec{r.Offset, string(r.Key), string(r.Value), r.Value == nil, r.Timestamp})
			}
			next = max(next, h.NextOffset())
			return it.Err()
		})
		require.NoError(t, err)
	}
	return out
}

// state applies records in order: the latest value of each key, deleted
// keys absent.
func state(recs []crec) map[string]string {
	m := map[string]string{}
	for _, r := range recs {
		if r.Null {
			delete(m, r.Key)
		} else {
			m[r.Key] = r.Value
		}
	}
	return m
}

func compactConfig(clock *fakeClock) Config {
	cfg := testConfig()
	cfg.Compact = true
	cfg.Retention, cfg.RetentionBytes = new(time.Duration(-1)), new(int64(-1))
	cfg.Now = clock.now
	return cfg
}

// workload appends n batches of random puts and deletes over keys keys,
// at the clock's time, and keeps model (key -> latest value) in step.
type workload struct {
	t     testing.TB
	rng   *rand.Rand
	keys  int
	model map[string]string
	clock *fakeClock
}

func newWorkload(t testing.TB, seed uint64, keys int, clock *fakeClock) *workload {
	return &workload{t: t, rng: rand.New(rand.NewPCG(seed, seed+1)), keys: keys, model: map[string]string{}, clock: clock}
}

func (w *workload) run(l *Log, batches int) {
	w.t.Helper()
	for range batches {
		n := 1 + w.rng.IntN(5)
		recs := make([]kv, 0, n)
		for range n {
			k := fmt.Sprintf("k%03d", w.rng.IntN(w.keys))
			if w.rng.IntN(5) == 0 {
				recs = append(recs, del(k))
			} else {
				recs = append(recs, put(k, fmt.Sprintf("%s=%d%s", k, w.rng.Uint64(), strings.Repeat("x", w.rng.IntN(60)))))
			}
		}
		opts := record.BatchOptions{}
		if w.rng.IntN(4) == 0 {
			opts.Compression = record.LZ4
		}
		_, err := l.Append(kvBatch(w.t, w.clock.t.UnixMilli(), opts, recs...))
		require.NoError(w.t, err)
		for _, r := range recs {
			if r.value == nil {
				delete(w.model, r.key)
			} else {
				w.model[r.key] = string(r.value)
			}
		}
		w.clock.t = w.clock.t.Add(time.Duration(w.rng.IntN(100)) * time.Millisecond)
	}
}

// dirFiles lists the directory's file names, sorted.
func dirFiles(t testing.TB, dir string) []string {
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

// segmentNames are the file names the log's segments should have.
func segmentNames(l *Log) []string {
	var names []string
	for _, s := range l.segments() {
		for _, kind := range []string{segment.LogSuffix, segment.IndexSuffix, segment.TimeIndexSuffix} {
			names = append(names, segment.FileName(s.BaseOffset(), kind))
		}
	}
	slices.Sort(names)
	return names
}

// requireOnlySegmentFiles checks that the directory holds the log's
// segment files and nothing half-done.
func requireOnlySegmentFiles(t testing.TB, l *Log) {
	t.Helper()
	var got []string
	for _, name := range dirFiles(t, l.Dir()) {
		if name != CleanerCheckpointFile && name != CleanShutdownFile {
			got = append(got, name)
		}
	}
	require.Equal(t, segmentNames(l), got)
}

// snapshot copies dir as a crash at this moment would leave it.
func snapshot(t testing.TB, dir string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "snap")
	require.NoError(t, os.MkdirAll(dst, 0o755))
	for _, name := range dirFiles(t, dir) {
		data, err := os.ReadFile(filepath.Join(dir, name))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(dst, name), data, 0o644))
	}
	return dst
}
