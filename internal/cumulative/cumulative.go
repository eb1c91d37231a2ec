// Package cumulative owns the cumulative histograms behind the Prometheus
// export of the broker and its clients: fixed bucket bounds, counts that
// only grow (as a Prometheus histogram's _bucket, _count and _sum), updated
// with atomic adds and no lock.
package cumulative

import (
	"math"
	"sync/atomic"
	"time"
)

// Histogram counts observations into fixed buckets. Observations are
// integers in a raw unit (nanoseconds, bytes) that unit converts to the
// exported one (seconds, bytes), so that the sum is one atomic add. The
// zero value is not usable: make one with New.
type Histogram struct {
	bounds []float64      // upper bounds in the exported unit, increasing; +Inf implied
	raw    []int64        // bounds in the raw unit, rounded down: v <= raw[i] is v <= bounds[i]
	unit   float64        // exported unit per raw unit
	counts []atomic.Int64 // per bucket (not cumulative), the last one +Inf
	sum    atomic.Int64   // raw unit
}

// New returns a histogram with the given increasing upper bounds, in the
// exported unit; unit is the exported unit per raw unit (1e-9 for
// nanoseconds exported as seconds, 1 for bytes).
func New(bounds []float64, unit float64) *Histogram {
	h := &Histogram{bounds: bounds, unit: unit, raw: make([]int64, len(bounds)), counts: make([]atomic.Int64, len(bounds)+1)}
	for i, b := range bounds {
		h.raw[i] = int64(math.Floor(b/unit + 1e-6)) // 1e-6: float error in b/unit, far below one raw unit
	}
	return h
}

// Observe records v, in the raw unit.
func (h *Histogram) Observe(v int64) {
	i := 0
	for i < len(h.raw) && v > h.raw[i] {
		i++
	}
	h.counts[i].Add(1)
	h.sum.Add(v)
}

// ObserveDuration records d, for a histogram whose raw unit is the
// nanosecond.
func (h *Histogram) ObserveDuration(d time.Duration) { h.Observe(int64(d)) }

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
	s.Sum = float64(h.sum.Load()) * h.unit
	return s
}

// Nanosecond is the unit of a histogram of durations exported in seconds.
const Nanosecond = 1e-9

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
