package producer

import (
	"sync"
	"sync/atomic"
	"time"
)

// clock stamps the records sent without a timestamp. Reading the
// monotonic clock costs tens of nanoseconds on a virtual machine (65 ns
// where this was written), a fifth of a small record's whole cost through
// the producer, and CreateTime is in milliseconds: so while records are
// being stamped, a goroutine reads the clock once every tickEvery and each
// record takes the latest reading. It stops after idleTicks ticks in which
// no record was stamped; the next record then reads the clock itself and
// starts it again. The producer owns the goroutine: Close stops it.
//
// A reading is never later than the moment a record takes it, and is
// earlier by at most a tick plus however late the goroutine runs (its
// tick is a timer: on a machine whose processors are all busy, until the
// scheduler gets to it). A batch's first record, and every exactEvery-th
// one, read the clock themselves, and bring the cached reading forward
// when the goroutine is late.
type clock struct {
	epoch time.Time    // the origin of the readings, with its monotonic reading
	now   atomic.Int64 // the latest reading, ns since epoch; 0 when the goroutine is not running
	used  atomic.Bool  // a record took a reading since the latest tick

	mu      sync.Mutex // guards running and stopped, and the start of the goroutine
	running bool
	stopped bool // Close stopped the clock: it never starts again
	quit    chan struct{}
	wg      sync.WaitGroup // the goroutine
}

const (
	tickEvery  = time.Millisecond
	idleTicks  = 16
	exactEvery = 32
)

func (c *clock) init() {
	c.epoch = time.Now()
	c.quit = make(chan struct{})
}

// since returns the time elapsed since c.epoch, to within a tick.
func (c *clock) since() time.Duration {
	if ns := c.now.Load(); ns != 0 {
		if !c.used.Load() {
			c.used.Store(true)
		}
		return time.Duration(ns)
	}
	d := time.Since(c.epoch)
	c.start()
	return d
}

// exact reads the clock: the time elapsed since c.epoch. It brings the
// cached reading forward to it if the goroutine is late.
func (c *clock) exact() time.Duration {
	d := time.Since(c.epoch)
	if old := c.now.Load(); old != 0 && int64(d)-old > int64(tickEvery) {
		c.advance(int64(d), false) // rarely: a write to what every stamp reads
	}
	return d
}

// advance raises the cached reading to ns; only while the goroutine runs
// (the reading is not 0) unless start is set.
func (c *clock) advance(ns int64, start bool) {
	ns = max(ns, 1)
	for {
		old := c.now.Load()
		if (old == 0 && !start) || old >= ns || c.now.CompareAndSwap(old, ns) {
			return
		}
	}
}

// start starts the ticking goroutine unless it runs or the clock stopped.
func (c *clock) start() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.running || c.stopped {
		return
	}
	c.running = true
	c.used.Store(true)
	c.advance(int64(time.Since(c.epoch)), true)
	c.wg.Add(1)
	go c.tick()
}

// tick updates c.now every tickEvery until idleTicks ticks in a row saw
// no record stamped, or the clock stops.
func (c *clock) tick() {
	defer c.wg.Done()
	t := time.NewTicker(tickEvery)
	defer t.Stop()
	idle := 0
	for {
		select {
		case <-c.quit:
			c.halt()
			return
		case <-t.C:
		}
		if c.used.Swap(false) {
			idle = 0
		} else if idle++; idle >= idleTicks {
			c.halt()
			return
		}
		c.advance(int64(time.Since(c.epoch)), false)
	}
}

// halt marks the goroutine stopped: records read the clock themselves.
func (c *clock) halt() {
	c.mu.Lock()
	c.now.Store(0)
	c.running = false
	c.mu.Unlock()
}

// stop stops the goroutine for good and waits for it; idempotent.
func (c *clock) stop() {
	c.mu.Lock()
	if !c.stopped {
		c.stopped = true
		close(c.quit)
	}
	c.mu.Unlock()
	c.wg.Wait()
}
