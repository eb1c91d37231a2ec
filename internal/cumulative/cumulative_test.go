package cumulative

import (
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestHistogram(t *testing.T) {
	h := New([]float64{1, 2, 4})
	for _, v := range []float64{0.5, 1, 1.5, 3, 4, 100} {
		h.Observe(v)
	}
	s := h.Snapshot()
	require.Equal(t, []uint64{2, 3, 5}, s.Counts, "cumulative, le inclusive")
	require.Equal(t, uint64(6), s.Count)
	require.InDelta(t, 110.0, s.Sum, 1e-9)
}

func TestHistogramConcurrent(t *testing.T) {
	h := New(LatencyBounds)
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
