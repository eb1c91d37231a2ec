package cumulative

import (
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestHistogram(t *testing.T) {
	h := New([]float64{1, 2, 4}, 1)
	for _, v := range []int64{0, 1, 2, 3, 4, 100} {
		h.Observe(v)
	}
	s := h.Snapshot()
	require.Equal(t, []uint64{2, 3, 5}, s.Counts, "cumulative, le inclusive")
	require.Equal(t, uint64(6), s.Count)
	require.Equal(t, 110.0, s.Sum)

	// Seconds from nanoseconds: 1 ms is in le=0.001 exactly.
	d := New(LatencyBounds, Nanosecond)
	d.ObserveDuration(time.Millisecond)
	d.ObserveDuration(time.Millisecond + 1)
	ds := d.Snapshot()
	require.Equal(t, uint64(1), ds.Counts[6], "le=0.001")
	require.Equal(t, uint64(2), ds.Counts[7], "le=0.0025")
	require.InDelta(t, 0.002000001, ds.Sum, 1e-15)
}

func TestHistogramConcurrent(t *testing.T) {
	h := New(LatencyBounds, Nanosecond)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 1000 {
				h.ObserveDuration(time.Millisecond)
			}
		})
	}
	wg.Wait()
	s := h.Snapshot()
	require.Equal(t, uint64(4000), s.Count)
	require.InDelta(t, 4.0, s.Sum, 1e-6)
	require.Equal(t, uint64(4000), s.Counts[6], "1 ms falls in le=0.001")
	require.Equal(t, uint64(0), s.Counts[5])
}
