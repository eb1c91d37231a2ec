package consumer

import (
	"context"
	"errors"
	"sync"
)

// pollGate hands out the poll role: the right to use what only one
// goroutine at a time may touch, the fetcher and the group's phase. Poll
// holds it for its whole run; Close takes it to close the group. The
// holder runs application code, the rebalance listeners (and, closing the
// group, commit callbacks), and tells the gate while it does: a Poll or
// Close made then never waits for the role, since it may come from that
// code, on the goroutine that holds the role. Go cannot tell which
// goroutine calls; the ctx a listener gets can (listenerScope).
type pollGate struct {
	mu           sync.Mutex    // guards the fields below and listenerScope.active
	held         bool          // a Poll or Close holds the role
	inApp        int           // application calls the holder is inside (nested: a Close in a listener runs OnPartitionsRevoked)
	finishOnExit bool          // a Close could not wait for the holder: the holder, a Poll, closes the consumer before it lets go
	changed      chan struct{} // closed (and dropped) when held drops or inApp grows; made by the first waiter
}

// turn is how a caller got on with the poll role.
type turn int

const (
	// turnTaken: the caller holds the role until it calls exit.
	turnTaken turn = iota
	// turnBusy: the holder is running application code. The caller may
	// be that code, so it must not wait for the role, and must not use it.
	turnBusy
	// turnBorrowed: the caller is inside a running listener (its ctx is
	// that listener's): it may use the role, which its goroutine holds,
	// until it returns to the listener.
	turnBorrowed
)

// listenerScope marks the ctx of one listener call; it is active while
// the call runs.
type listenerScope struct {
	gate   *pollGate
	active bool
}

type listenerScopeKey struct{}

// ErrPollInListener is Poll's error when called from a rebalance listener (or from
// another goroutine while one runs), which would need the poll role that
// the listener's own Poll holds.
var ErrPollInListener = errors.New("consumer: Poll called from a rebalance listener, or while one runs")

// enter takes the poll role, waiting while another Poll or Close holds it
// outside application code, or says why it does not.
func (g *pollGate) enter(ctx context.Context) (turn, error) {
	s, _ := ctx.Value(listenerScopeKey{}).(*listenerScope)
	g.mu.Lock()
	defer g.mu.Unlock()
	for {
		switch {
		case !g.held:
			g.held = true
			return turnTaken, nil
		case g.inApp > 0 && s != nil && s.gate == g && s.active:
			return turnBorrowed, nil
		case g.inApp > 0:
			return turnBusy, nil
		}
		if g.changed == nil {
			g.changed = make(chan struct{})
		}
		ch := g.changed
		g.mu.Unlock()
		select {
		case <-ch:
			g.mu.Lock()
		case <-ctx.Done():
			g.mu.Lock()
			return 0, ctx.Err()
		}
	}
}

// exit gives the role back.
func (g *pollGate) exit() {
	g.mu.Lock()
	g.held, g.finishOnExit = false, false
	g.broadcastLocked()
	g.mu.Unlock()
}

func (g *pollGate) broadcastLocked() {
	if g.changed != nil {
		close(g.changed)
		g.changed = nil
	}
}

// handOver asks the holder of the role to close the consumer before it
// gives the role back (a Close holding it does anyway); false if nobody
// holds it.
func (g *pollGate) handOver() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.held {
		g.finishOnExit = true
	}
	return g.held
}

// finishRequested says whether a Close handed the closing over to the
// holder. Once the holder runs no application code no Close can ask any
// more: it waits for the role instead.
func (g *pollGate) finishRequested() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.finishOnExit
}

// runApp runs application code other than a listener (commit callbacks)
// from the holder of the poll role.
func (g *pollGate) runApp(f func()) {
	g.enterApp()
	defer g.exitApp(nil)
	f()
}

func (g *pollGate) enterApp() {
	g.mu.Lock()
	g.inApp++
	g.broadcastLocked() // a Close waiting for the role must not wait for this code
	g.mu.Unlock()
}

// exitApp ends what enterApp began; s, if not nil, is the scope of the
// listener call that ends.
func (g *pollGate) exitApp(s *listenerScope) {
	g.mu.Lock()
	g.inApp--
	if s != nil {
		s.active = false
	}
	g.mu.Unlock()
}

// listenerEvent names a RebalanceListener method.
type listenerEvent int

const (
	partitionsRevoked listenerEvent = iota
	partitionsAssigned
	partitionsLost
)

// callListener runs the rebalance listener, from the holder of the poll
// role, telling the gate, and with a ctx marking the call as the
// listener's: a Close passed that ctx knows it runs inside the listener,
// and closes there and then.
func (c *Consumer) callListener(ctx context.Context, ev listenerEvent, tps []TopicPartition) {
	_, l := c.group.subscription()
	if l == nil {
		return // never subscribed: Close of a consumer in no group
	}
	s := &listenerScope{gate: &c.gate, active: true}
	c.gate.enterApp()
	defer c.gate.exitApp(s)
	ctx = context.WithValue(ctx, listenerScopeKey{}, s)
	switch ev {
	case partitionsRevoked:
		l.OnPartitionsRevoked(ctx, c, tps)
	case partitionsAssigned:
		l.OnPartitionsAssigned(ctx, c, tps)
	case partitionsLost:
		l.OnPartitionsLost(ctx, c, tps)
	}
}
