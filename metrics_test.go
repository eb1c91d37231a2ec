package commitlog

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestBuckets(t *testing.T) {
	for _, ns := range []int64{0, 1, 7, 8, 9, 15, 16, 100, 1000, 123456, 1 << 40} {
		i := bucketOf(ns)
		require.LessOrEqual(t, bucketLow(i), ns, "ns %d bucket %d", ns, i)
		require.Greater(t, bucketLow(i+1), ns, "ns %d bucket %d", ns, i)
	}
}

func TestHistogramPercentiles(t *testing.T) {
	var h histogram
	for i := 1; i <= 1000; i++ {
		h.Observe(time.Duration(i) * time.Microsecond)
	}
	ps, n := h.Percentiles(0.5, 0.99, 0.999)
	require.Equal(t, int64(1000), n)
	within := func(got time.Duration, want time.Duration) {
		require.InEpsilon(t, float64(want), float64(got), 0.1, "got %v want %v", got, want)
	}
	within(ps[0], 500*time.Microsecond)
	within(ps[1], 990*time.Microsecond)
	within(ps[2], 999*time.Microsecond)
	// The window slides: two rotations forget the observations.
	h.rotate(time.Now().Add(2 * time.Minute))
	h.rotate(time.Now().Add(4 * time.Minute))
	_, n = h.Percentiles(0.5)
	require.Zero(t, n)
}

func TestMeterRate(t *testing.T) {
	var m meter
	start := time.Now()
	m.tick(start)
	for i := 1; i <= 24; i++ { // two minutes of 100 events/s
		m.Mark(500)
		m.tick(start.Add(time.Duration(i) * meterInterval))
	}
	require.InEpsilon(t, 100.0, m.rate, 0.01)
	require.Equal(t, int64(12000), m.Count())
}

func TestMeterMissedTicks(t *testing.T) {
	var m meter
	start := time.Now()
	m.tick(start)
	m.Mark(60000) // 100/s over ten minutes, read only at the end
	m.tick(start.Add(10 * time.Minute))
	require.InEpsilon(t, 100.0, m.rate, 0.01)
}
