package commitlog

import (
	"math"
	"math/bits"
	"sync"
	"sync/atomic"
	"time"

	"github.com/commitlog-go/commitlog/internal/cumulative"
)

// metrics are a partition's counters, rates and latency histograms, cheap
// enough for the hot path: atomic adds, no locks. init makes them ready.
type metrics struct {
	Records       meter     // records appended (Kafka's MessagesInPerSec)
	Bytes         meter     // bytes appended (BytesInPerSec)
	Batches       meter     // batches appended (ProduceRequestsPerSec)
	BytesOut      meter     // bytes read by fetches (BytesOutPerSec)
	AppendLatency histogram // time in Append, including fsync when durable
	FetchLatency  histogram // time in Read
}

// init makes the cumulative latency histograms (the Prometheus export's).
func (m *metrics) init() {
	m.AppendLatency.cum = cumulative.New(cumulative.LatencyBounds, cumulative.Nanosecond)
	m.FetchLatency.cum = cumulative.New(cumulative.LatencyBounds, cumulative.Nanosecond)
}

// Tick advances the rates and rotates the latency windows; the broker
// calls it periodically. Reads tick too, so calling it is optional.
func (m *metrics) Tick(now time.Time) {
	for _, mt := range []*meter{&m.Records, &m.Bytes, &m.Batches, &m.BytesOut} {
		mt.tick(now)
	}
	m.AppendLatency.rotate(now)
	m.FetchLatency.rotate(now)
}

// meterInterval and meterAlpha make the rate a one-minute exponentially
// weighted moving average, ticked every 5 s, as Kafka's (Yammer) meters.
const meterInterval = 5 * time.Second

var meterAlpha = 1 - math.Exp(-5.0/60.0)

// meter counts events and keeps their one-minute rate.
type meter struct {
	count atomic.Int64

	mu        sync.Mutex // guards rate, started, lastTick and lastCount (tick and Rate; Mark only adds to count)
	rate      float64
	started   bool
	lastTick  time.Time
	lastCount int64
}

// Mark records n events.
func (m *meter) Mark(n int64) { m.count.Add(n) }

// Count is the total since the partition opened.
func (m *meter) Count() int64 { return m.count.Load() }

// Rate is the one-minute moving average, events per second.
func (m *meter) Rate() float64 {
	m.tick(time.Now())
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.rate
}

func (m *meter) tick(now time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.lastTick.IsZero() {
		m.lastTick = now
		m.lastCount = m.count.Load()
		return
	}
	ticks := int(now.Sub(m.lastTick) / meterInterval)
	if ticks == 0 {
		return
	}
	// Without a tick for a while, spread what happened evenly over the
	// missed intervals.
	c := m.count.Load()
	instant := float64(c-m.lastCount) / (float64(ticks) * meterInterval.Seconds())
	m.lastCount = c
	m.lastTick = m.lastTick.Add(time.Duration(ticks) * meterInterval)
	for i := 0; i < ticks; i++ {
		if !m.started {
			m.rate, m.started = instant, true
		} else {
			m.rate += meterAlpha * (instant - m.rate)
		}
		if i > 600 { // an hour of ticks: the average has converged
			m.rate = instant
			break
		}
	}
}

// histogram records durations in log-linear buckets (8 per power of two,
// so a percentile is within about 9% of the true value) over a sliding
// window of one to two minutes: the current minute and the one before,
// for Stats' percentiles. Beside the window, cum counts every observation
// since the partition opened into fixed buckets, for the Prometheus
// export (whose histograms are cumulative: rates and quantiles are
// computed by the server, over any window).
type histogram struct {
	cum     *cumulative.Histogram // set by metrics.init
	mu      sync.Mutex            // guards slots and rotated (rotate); Observe only adds to cur's buckets
	slots   [2]*buckets
	cur     atomic.Pointer[buckets]
	rotated time.Time
}

const subBuckets = 8

type buckets struct {
	n [64 * subBuckets]atomic.Int64
}

func bucketOf(ns int64) int {
	if ns < subBuckets {
		return int(max(ns, 0))
	}
	u := uint64(ns)
	e := bits.Len64(u) - 1 // position of the top bit, >= 3
	sub := int(u>>(e-3)) & (subBuckets - 1)
	return (e-2)*subBuckets + sub
}

// bucketLow is the smallest duration in bucket i (the inverse of bucketOf).
func bucketLow(i int) int64 {
	if i < subBuckets {
		return int64(i)
	}
	e := i/subBuckets + 2
	sub := i % subBuckets
	return int64(subBuckets+sub) << (e - 3)
}

func (h *histogram) current() *buckets {
	if b := h.cur.Load(); b != nil {
		return b
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.slots[0] == nil {
		h.slots[0], h.slots[1] = new(buckets), new(buckets)
		h.cur.Store(h.slots[0])
		h.rotated = time.Now()
	}
	return h.cur.Load()
}

// Observe records one duration.
func (h *histogram) Observe(d time.Duration) {
	if h.cum != nil {
		h.cum.ObserveDuration(d)
	}
	h.current().n[bucketOf(int64(d))].Add(1)
}

// histogram returns the cumulative histogram, in seconds.
func (h *histogram) histogram() Histogram {
	if h.cum == nil {
		return Histogram{}
	}
	return Histogram(h.cum.Snapshot())
}

func (h *histogram) rotate(now time.Time) {
	h.current()
	h.mu.Lock()
	defer h.mu.Unlock()
	if now.Sub(h.rotated) < time.Minute {
		return
	}
	h.rotated = now
	old := h.slots[1]
	for i := range old.n {
		old.n[i].Store(0)
	}
	h.slots[0], h.slots[1] = old, h.slots[0]
	h.cur.Store(h.slots[0])
}

// Percentiles returns the durations below which the given fractions (0..1)
// of the observations in the window fall, and the number of observations.
func (h *histogram) Percentiles(qs ...float64) ([]time.Duration, int64) {
	h.current()
	h.mu.Lock()
	a, b := h.slots[0], h.slots[1]
	h.mu.Unlock()
	var counts [64 * subBuckets]int64
	var total int64
	for i := range counts {
		counts[i] = a.n[i].Load() + b.n[i].Load()
		total += counts[i]
	}
	out := make([]time.Duration, len(qs))
	if total == 0 {
		return out, 0
	}
	for j, q := range qs {
		rank := int64(math.Ceil(q * float64(total)))
		var seen int64
		for i, c := range counts {
			seen += c
			if seen >= rank && c > 0 {
				// Report the middle of the bucket.
				lo, hi := bucketLow(i), bucketLow(i+1)
				out[j] = time.Duration(lo + (hi-lo)/2)
				break
			}
		}
	}
	return out, total
}
