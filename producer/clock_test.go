package producer

import (
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestClock: the cached reading starts the ticking goroutine, never runs
// ahead of the clock nor goes back, is brought forward by exact, stops
// when unused and for good on stop.
func TestClock(t *testing.T) {
	var c clock
	c.init()
	running := func() bool { c.mu.Lock(); defer c.mu.Unlock(); return c.running }
	require.False(t, running())

	d := c.since() // not running: a real reading, which starts it
	require.True(t, running())
	require.Positive(t, c.now.Load())
	require.LessOrEqual(t, c.since(), c.exact(), "never ahead of the clock")

	// exact brings a late reading forward (here a clock whose goroutine
	// is not running, which is as late as can be).
	var late clock
	late.init()
	late.now.Store(1)
	time.Sleep(2 * tickEvery)
	e := late.exact()
	require.GreaterOrEqual(t, e, 2*tickEvery)
	require.Equal(t, int64(e), late.now.Load())
	require.GreaterOrEqual(t, c.exact(), d)

	// Concurrent readers see cached readings that never go back, and
	// exact readings never earlier than those: the stamps of a batch,
	// kept from going back by its latest stamp, need no more.
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			prev := time.Duration(0)
			for i := range 2000 {
				if i%7 == 0 {
					assert.GreaterOrEqual(t, c.exact(), prev)
					continue
				}
				r := c.since()
				assert.GreaterOrEqual(t, r, prev)
				assert.LessOrEqual(t, r, time.Since(c.epoch))
				prev = r
			}
		})
	}
	wg.Wait()

	// Unused, it stops; the next reading is a real one and starts it again.
	require.Eventually(t, func() bool { return !running() }, 10*time.Second, time.Millisecond)
	require.Zero(t, c.now.Load())
	before := time.Since(c.epoch)
	require.GreaterOrEqual(t, c.since(), before)
	require.True(t, running())

	c.stop()
	c.stop() // idempotent
	require.False(t, running())
	require.Zero(t, c.now.Load())
	before = time.Since(c.epoch)
	require.GreaterOrEqual(t, c.since(), before, "stopped: real readings")
	require.False(t, running(), "never starts again")
}
