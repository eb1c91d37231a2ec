// Package cumulative owns the cumulative histograms behind the Prometheus
// export of the broker and its clients: fixed bucket bounds, counts that
// only grow (as a Prometheus histogram's _bucket, _count and _sum), updated
// with atomic adds and no lock.
package cumulative

import (
	"math"
	"sort"
	"sync/atomic"
	"time"
)

// Histogram counts observations into fixed buckets. The zero value is
// not usable: make one with New.
type Histogram struct {
	bounds []float64      // upper bounds, increasing; +Inf implied
	counts []atomic.Int64 // per bucket (not cumulative), the last one +Inf
	sum    atomic.Uint64  // math.Float64bits of the sum
}

// New returns a histogram with the given increasing upper bounds.
func New(bounds []float64) *Histogram {
	return &Histogram{bounds: bounds, counts: make([]atomic.Int64, len(bounds)+1)}
}

// Observe records v.
func (h *Histogram) Observe(v float64) {
	h.counts[sort.SearchFloat64s(h.bounds, v)].Add(1)
	for {
		old := h.sum.Load()
		if h.sum.CompareAndSwap(old, math.Float64bits(math.Float64frombits(old)+v)) {
			return
		}
	}
}

// ObserveDuration records d in seconds.
func (h *Histogram) ObserveDuration(d time.Duration) { h.Observe(d.Seconds()) }

// Snapshot is a histogram's state: the upper bounds of its buckets (+Inf
// left out), the cumulative count of each (observations at most its
// bound), the number of observations (the +Inf bucket) and their sum. It
// has the shape of commitlog.Histogram, which converts from it.
type Snapshot struct {
	Bounds []float64
	Counts []uint64
	Count  uint64
	Sum    float64
}

// Snapshot returns the histogram's buckets, cumulative. Under concurrent
// observations, Sum may lag or lead Count by the observations in flight.
func (h *Histogram) Snapshot() Snapshot {
	s := Snapshot{Bounds: h.bounds, Counts: make([]uint64, len(h.bounds))}
	var n uint64
	for i := range h.bounds {
		n += uint64(h.counts[i].Load())
		s.Counts[i] = n
	}
	s.Count = n + uint64(h.counts[len(h.bounds)].Load())
	s.Sum = math.Float64frombits(h.sum.Load())
	return s
}

// LatencyBounds are the bucket bounds of latencies, in seconds: 10 µs to
// 10 s, 1-2.5-5 steps.
var LatencyBounds = []float64{
	0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005,
	0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
	0.1, 0.25, 0.5, 1, 2.5, 5, 10,
}

// SizeBounds are the bucket bounds of sizes in bytes: 64 B to 16 MiB,
// powers of 4.
var SizeBounds = []float64{64, 256, 1 << 10, 4 << 10, 16 << 10, 64 << 10, 256 << 10, 1 << 20, 4 << 20, 16 << 20}
