package consumer

import (
	"context"
	"errors"
	"fmt"
)

// lifecycle is the consumer's way through Close.
type lifecycle struct {
	// ctx is cancelled by the first Close: that wakes a Poll waiting for
	// data or in JoinGroup, and stops the heartbeat. It is the consumer's
	// "closed" flag.
	ctx    context.Context
	cancel context.CancelFunc

	// The poll role's (see pollGate):
	state closeState
	err   error // what closing the group returned (Assign mode: its final commit)
}

type closeState int

const (
	groupOpen    closeState = iota
	groupClosing            // closeGroup runs (a Close from its OnPartitionsRevoked finds it so)
	groupClosed
)

func newLifecycle() lifecycle {
	ctx, cancel := context.WithCancel(context.Background())
	return lifecycle{ctx: ctx, cancel: cancel}
}

func (c *Consumer) isClosed() bool { return c.life.ctx.Err() != nil }

// Close leaves the group: with auto-commit it commits what was consumed,
// runs OnPartitionsRevoked, leaves (the others rebalance at once), writes
// the async commits still queued, running their callbacks, and stops the
// heartbeat and commit goroutines. It wakes a Poll blocked in another
// goroutine, which returns ErrClosed. It is idempotent. It returns once
// every commit made before it is written or has failed, its callback run,
// unless ctx ends first: the commit goroutine then writes the rest (after
// the member has left, the coordinator refuses them, and their callbacks
// say so).
//
// Close never waits for a rebalance listener that is running when it is
// called, since it may be called from it, nor for a CommitAsync callback
// it is called from:
//
//   - From a listener, with the ctx the listener was given, Close closes
//     there and then (its OnPartitionsRevoked runs within the listener).
//   - While a listener runs otherwise (from the listener with another ctx,
//     or from another goroutine), Close writes the commits made before it
//     and returns; the Poll (or Close) running the listener does the rest
//     when the listener returns, and that Poll returns ErrClosed.
//   - From a CommitAsync callback, Close writes the commits queued behind
//     it and runs their callbacks there and then, inside that callback;
//     the commit goroutine ends when the callback returns. From another
//     goroutine while a callback runs, Close writes them too, and runs
//     their callbacks once the running one has returned, so that
//     callbacks keep the order of the commits.
func (c *Consumer) Close(ctx context.Context) error {
	if c.drv != nil {
		return c.drv.Close(ctx)
	}
	c.life.cancel()
	upTo := c.commits.lastMade()
	t, err := c.gate.enter(ctx)
	for err != nil {
		// ctx ended while a Poll or Close held the role: that one closes
		// the group as it lets go. (If it just let go, the role is free
		// and enter takes it without looking at ctx.)
		if c.gate.handOver() {
			return fmt.Errorf("consumer: close: %w", err)
		}
		t, err = c.gate.enter(ctx)
	}
	switch t {
	case turnBusy:
		c.gate.handOver()
		return c.commits.flush(ctx, upTo)
	case turnBorrowed:
		if c.closeGroup(ctx) {
			return c.commits.flush(ctx, upTo) // Close in the OnPartitionsRevoked of a Close
		}
	case turnTaken:
		c.closeGroup(ctx)
		c.gate.exit()
	}
	return c.stopBackground(ctx)
}

// leavePoll gives the poll role back at the end of Poll, first closing
// the consumer if a Close handed that over (it came while a listener ran,
// or its ctx ended while it waited for this Poll).
// That close is not cut short when Poll's ctx ends: the Close that handed
// it over has returned, and a cut-short close would leave the group with
// commits unwritten.
func (c *Consumer) leavePoll(ctx context.Context) {
	if !c.gate.finishRequested() {
		c.gate.exit()
		return
	}
	ctx = context.WithoutCancel(ctx)
	c.closeGroup(ctx)
	c.gate.exit()
	c.stopBackground(ctx) // what it returns, the next Close returns
}

// closeGroup is the part of closing that uses the poll role: the final
// commit of the positions (enable.auto.commit), OnPartitionsRevoked (or
// OnPartitionsLost if the member was already removed); then CommitAsync
// takes no more commits, those queued are written (as Kafka's close
// does, while the member can still commit), and the member leaves the
// group. It runs once; it reports true, doing nothing, when called from
// within itself (a listener's Close).
func (c *Consumer) closeGroup(ctx context.Context) (running bool) {
	switch c.life.state {
	case groupClosing:
		return true
	case groupClosed:
		return false
	}
	c.life.state = groupClosing
	m, _ := c.group.subscription()
	memberID, gen := c.group.identity()
	leave := false
	switch {
	case m == modeSubscribe && memberID != "":
		owned := c.fetch.assignment()
		if errors.Is(c.coord.Heartbeat(c.set.GroupID, memberID, gen), ErrUnknownMemberID) {
			c.callListener(ctx, partitionsLost, owned)
		} else {
			c.commitBeforeRevoke(memberID, gen)
			c.callListener(ctx, partitionsRevoked, owned)
			leave = true
		}
	case m == modeAssign && c.coord != nil && c.set.EnableAutoCommit:
		c.life.err = c.commits.commitNow(c.fetch.committable(), "", -1)
	}
	c.commits.close()
	// The callbacks are application code: a Close from one must not wait
	// for the role this goroutine holds. If ctx ends, stopBackground's
	// flush reports it to the Close running this.
	c.gate.runApp(func() { _ = c.commits.flush(ctx, allCommits) })
	if leave {
		c.coord.LeaveGroup(c.set.GroupID, memberID)
	}
	c.life.state = groupClosed
	return false
}

// stopBackground ends what runs in the background once the group is
// closed: it writes the queued commits (running their callbacks), then
// waits for the heartbeat goroutine and for the commit goroutine, unless
// that one runs a callback (see committer.waitStopped). Neither of them
// runs application code there, so the waits end.
func (c *Consumer) stopBackground(ctx context.Context) error {
	if err := c.commits.flush(ctx, allCommits); err != nil {
		return err
	}
	c.group.stopHeartbeat()
	if err := c.commits.waitStopped(ctx); err != nil {
		return err
	}
	c.metrics.stop()
	return c.life.err
}
