package log

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/commitlog-go/commitlog/record"
	"github.com/commitlog-go/commitlog/segment"
	"github.com/stretchr/testify/require"
)

// batchOf encodes n records whose values name their batch and position, so
// a test can tell exactly which records it read back.
func batchOf(t testing.TB, tag string, n int, ts int64, valueSize int) []byte {
	t.Helper()
	b := record.NewBuilder(0, record.BatchOptions{})
	for i := 0; i < n; i++ {
		v := []byte(fmt.Sprintf("%s/%d/", tag, i))
		for len(v) < valueSize {
			v = append(v, 'x')
		}
		b.Add(ts, []byte(fmt.Sprintf("k%d", i)), v, nil)
	}
	out, err := b.Build()
	require.NoError(t, err)
	return append([]byte(nil), out...)
}

type readRec struct {
	Offset int64
	Key    string
	Value  string
	TS     int64
}

// readAll reads every record from offset to the log end offset, checking
// that batches come back whole, with valid CRCs, in offset order.
func readAll(t testing.TB, l *Log, from int64) []readRec {
	t.Helper()
	var out []readRec
	next := from
	var it record.Iterator
	for next < l.EndOffset() {
		data, err := l.Read(next, 64<<10)
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
				require.Equal(t, next, r.Offset, "offsets must be dense")
				out = append(out, readRec{r.Offset, string(r.Key), string(r.Value), r.Timestamp})
				next = r.Offset + 1
			}
			next = max(next, h.NextOffset())
			return it.Err()
		})
		require.NoError(t, err)
	}
	return out
}

func testConfig() Config {
	return Config{SegmentBytes: 4 << 10, IndexIntervalBytes: new(256), SegmentIndexBytes: 4 << 10, Retention: new(time.Duration(-1))}
}

type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time { return c.t }

func segmentFiles(t testing.TB, dir, suffix string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "*"+suffix))
	require.NoError(t, err)
	return m
}

func lastSegmentPath(t testing.TB, dir string) string {
	files := segmentFiles(t, dir, segment.LogSuffix)
	require.NotEmpty(t, files)
	return files[len(files)-1]
}

func fileSize(t testing.TB, path string) int64 {
	st, err := os.Stat(path)
	require.NoError(t, err)
	return st.Size()
}
