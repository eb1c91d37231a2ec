package consumer

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/commitlog-go/commitlog"
	"github.com/commitlog-go/commitlog/assignor"
)

// RebalanceListener is told when partitions move, as Kafka's
// ConsumerRebalanceListener. Its methods run inside Poll, on the polling
// goroutine, and inside Close, on the goroutine calling it. They may call
// the consumer's methods, CommitSync in particular; the ctx they get marks
// the call as the listener's (see Close), so pass it on.
type RebalanceListener interface {
	// OnPartitionsRevoked runs before partitions are taken away in a
	// rebalance: commit their offsets here.
	OnPartitionsRevoked(ctx context.Context, c *Consumer, revoked []TopicPartition)
	// OnPartitionsAssigned runs after a rebalance with the new partitions.
	OnPartitionsAssigned(ctx context.Context, c *Consumer, assigned []TopicPartition)
	// OnPartitionsLost runs instead of OnPartitionsRevoked when the member
	// was already removed from the group (session or poll timeout): another
	// member may own the partitions now, so do not commit.
	OnPartitionsLost(ctx context.Context, c *Consumer, lost []TopicPartition)
}

// ListenerFuncs adapts functions to RebalanceListener; nil fields do nothing.
type ListenerFuncs struct {
	Revoked  func(ctx context.Context, c *Consumer, tps []TopicPartition)
	Assigned func(ctx context.Context, c *Consumer, tps []TopicPartition)
	Lost     func(ctx context.Context, c *Consumer, tps []TopicPartition)
}

// OnPartitionsRevoked calls Revoked.
func (l ListenerFuncs) OnPartitionsRevoked(ctx context.Context, c *Consumer, tps []TopicPartition) {
	if l.Revoked != nil {
		l.Revoked(ctx, c, tps)
	}
}

// OnPartitionsAssigned calls Assigned.
func (l ListenerFuncs) OnPartitionsAssigned(ctx context.Context, c *Consumer, tps []TopicPartition) {
	if l.Assigned != nil {
		l.Assigned(ctx, c, tps)
	}
}

// OnPartitionsLost calls Lost.
func (l ListenerFuncs) OnPartitionsLost(ctx context.Context, c *Consumer, tps []TopicPartition) {
	if l.Lost != nil {
		l.Lost(ctx, c, tps)
	}
}

// mode is how the consumer gets its partitions; it is set once.
type mode int

const (
	modeNone      mode = iota
	modeSubscribe      // from its group (Subscribe)
	modeAssign         // by the application (Assign)
)

// phase is a step of the membership state machine that ensureGroup runs
// inside Poll. A stable member fetches; any other phase is a step of a
// rebalance, each a method of Consumer below that returns the next phase:
//
//	stable --(rebalance, refused request)--> revoke --> join --> assign --> stable
//	                                            |         |         `--(cooperative: partitions moved)--> revoke
//	                                            `---------`--(member unknown)--> lost --> join
type phase int

const (
	// phaseStable: a member of the current generation; nothing to do.
	phaseStable phase = iota
	// phaseRevoke: the group rebalances, or refused a heartbeat or commit
	// as stale. Check that the coordinator still knows the member, and
	// under an eager protocol give up every partition before rejoining.
	phaseRevoke
	// phaseJoin: join (a new member) or rejoin, and wait in JoinGroup for
	// the generation's assignment.
	phaseJoin
	// phaseAssign: the join completed: give up the partitions that moved
	// (cooperative protocol; another rebalance then gives them to their new
	// owners) and take the new ones.
	phaseAssign
	// phaseLost: the coordinator removed the member (session or poll
	// timeout): its partitions are lost, and it joins again as a new
	// member.
	phaseLost
)

// membership is the consumer's subscription and its place in the group.
type membership struct {
	// mu guards the fields up to rebalance: the heartbeat goroutine, the
	// commit paths (MemberID) and Close read them while Subscribe and Poll
	// change them.
	mu         sync.Mutex
	mode       mode
	topics     []string
	listener   RebalanceListener // never nil once subscribed
	memberID   string            // "" outside a group
	generation int32             // -1 outside a group
	needRejoin bool              // rejoin at the next Poll: (re)subscribed, or a request was refused as stale
	lastPoll   time.Time         // when Poll last ran: max.poll.interval.ms counts from it
	joining    bool              // Poll waits in JoinGroup, which counts as polling
	hung       bool              // test hook: send no heartbeats, as a hung process would
	hbDone     chan struct{}     // closed when the heartbeat goroutine returns; nil until Subscribe starts it
	hbStopped  bool              // stopHeartbeat ran: start no heartbeat goroutine

	// The poll role's (see pollGate): only Poll and Close use them.
	rebalance <-chan struct{} // closed by the coordinator when the next rebalance starts
	protocol  assignor.RebalanceProtocol
}

func newMembership() membership { return membership{generation: -1} }

// identity is the member id and generation commits and heartbeats are
// made as ("" and -1 outside a group).
func (g *membership) identity() (string, int32) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.memberID, g.generation
}

// subscription is the mode and, subscribed, the listener.
func (g *membership) subscription() (mode, RebalanceListener) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.mode, g.listener
}

func (g *membership) subscribe(topics []string, listener RebalanceListener) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.mode == modeAssign {
		return fmt.Errorf("consumer: Subscribe after Assign: %w", commitlog.ErrInvalidConfig)
	}
	g.mode, g.topics, g.listener, g.needRejoin = modeSubscribe, slices.Clone(topics), listener, true
	return nil
}

func (g *membership) assign() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.mode == modeSubscribe {
		return fmt.Errorf("consumer: Assign after Subscribe: %w", commitlog.ErrInvalidConfig)
	}
	g.mode = modeAssign
	return nil
}

// polled notes that Poll runs (or waited in JoinGroup until now).
func (g *membership) polled() {
	g.mu.Lock()
	g.lastPoll = time.Now()
	g.mu.Unlock()
}

// next is the phase a member starts a Poll (or the next step) in.
func (g *membership) next() phase {
	g.mu.Lock()
	defer g.mu.Unlock()
	switch {
	case g.memberID == "":
		return phaseJoin
	case g.needRejoin:
		return phaseRevoke
	}
	select {
	case <-g.rebalance: // nil before the first join: never ready
		return phaseRevoke
	default:
		return phaseStable
	}
}

// joined records the outcome of a completed join.
func (g *membership) joined(res JoinResult) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.memberID, g.generation, g.needRejoin, g.lastPoll = res.MemberID, res.Generation, false, time.Now()
	g.rebalance, g.protocol = res.Rebalance, res.Protocol
}

// forget makes the member a new one, after the coordinator removed it.
func (g *membership) forget() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.memberID, g.generation, g.rebalance, g.protocol = "", -1, nil, assignor.Eager
}

func (g *membership) requestRejoin() {
	g.mu.Lock()
	g.needRejoin = true
	g.mu.Unlock()
}

// rejoinIfCurrent marks the member for a rejoin after the coordinator
// refused a request made as memberID in generation gen, unless the member
// has rejoined since: a late answer to a request of an older generation (a
// queued async commit, a heartbeat racing with the join) must not force
// another rebalance of the whole group.
func (g *membership) rejoinIfCurrent(memberID string, gen int32) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.memberID == memberID && g.generation == gen { // (outside a group, needRejoin is never read)
		g.needRejoin = true
	}
}

// Subscribe joins the consumer group to consume topics; the group's
// assignor decides which partitions this member gets, from the next Poll
// on. listener may be nil.
func (c *Consumer) Subscribe(topics []string, listener RebalanceListener) error {
	if c.set.GroupID == "" {
		return fmt.Errorf("consumer: Subscribe needs a group.id: %w", commitlog.ErrInvalidConfig)
	}
	if listener == nil {
		listener = ListenerFuncs{}
	}
	if c.drv != nil {
		return c.drv.Subscribe(topics, c.onRebalance(listener))
	}
	if readOnlyStore(c.b) {
		return fmt.Errorf("consumer: Subscribe to group %s: the broker is open read-only (its groups are its owner's; use Assign): %w", c.set.GroupID, commitlog.ErrReadOnly)
	}
	if err := c.group.subscribe(topics, listener); err != nil {
		return err
	}
	c.startHeartbeat()
	return nil
}

// MemberID and Generation identify this member in its group ("" and -1
// outside a group).
func (c *Consumer) MemberID() (string, int32) {
	if c.drv != nil {
		return c.drv.MemberID()
	}
	return c.group.identity()
}

// ensureGroup runs the membership state machine (see phase) until the
// member is stable in a generation, or the consumer closes.
func (c *Consumer) ensureGroup(ctx context.Context) error {
	var joined JoinResult
	for ph := c.group.next(); ph != phaseStable; {
		var err error
		switch ph {
		case phaseRevoke:
			ph, err = c.revoke(ctx)
		case phaseJoin:
			ph, joined, err = c.join(ctx)
		case phaseAssign:
			ph, err = c.assign(ctx, joined)
		case phaseLost:
			ph, err = c.lose(ctx)
		}
		if err != nil {
			return err
		}
		if c.isClosed() { // Close was called, from a listener perhaps: it takes over
			return errClosed()
		}
	}
	return nil
}

// revoke is phaseRevoke: it moves to phaseLost if the coordinator no
// longer knows the member, else to phaseJoin, having given up every
// partition first under an eager protocol (committing them with
// enable.auto.commit, then OnPartitionsRevoked).
func (c *Consumer) revoke(ctx context.Context) (phase, error) {
	memberID, gen := c.group.identity()
	if errors.Is(c.coord.Heartbeat(c.set.GroupID, memberID, gen), ErrUnknownMemberID) {
		return phaseLost, nil
	}
	if owned := c.fetch.assignment(); c.group.protocol == assignor.Eager && len(owned) > 0 {
		c.commitBeforeRevoke(memberID, gen)
		c.callListener(ctx, partitionsRevoked, owned)
		c.fetch.remove(owned)
	}
	return phaseJoin, nil
}

// join is phaseJoin: JoinGroup, then phaseAssign with its result, or
// phaseLost if the coordinator no longer knows the member.
func (c *Consumer) join(ctx context.Context) (phase, JoinResult, error) {
	memberID, gen := c.group.identity()
	c.group.mu.Lock()
	topics := c.group.topics
	c.group.mu.Unlock()
	res, err := c.joinGroup(ctx, JoinRequest{
		MemberID: memberID, ClientID: c.metrics.clientID, Topics: topics, Assignors: c.set.Assignors, Owned: c.fetch.assignment(), OwnedGeneration: gen,
		SessionTimeout: c.set.SessionTimeout, RebalanceTimeout: c.set.MaxPollInterval,
	})
	switch {
	case errors.Is(err, ErrUnknownMemberID):
		return phaseLost, res, nil
	case err != nil:
		return 0, res, err
	}
	c.group.joined(res)
	return phaseAssign, res, nil
}

// assign is phaseAssign: it gives up what the new assignment moved away
// (cooperative: OnPartitionsRevoked, then a rejoin so that the partitions
// reach their new owners), takes the rest and runs OnPartitionsAssigned
// with what was added. The member is then stable, unless a rejoin is due.
func (c *Consumer) assign(ctx context.Context, res JoinResult) (phase, error) {
	c.metrics.rebalances.Add(1)
	now := map[TopicPartition]bool{}
	for _, tp := range res.Assignment {
		now[tp] = true
	}
	var revoked, added []TopicPartition
	for _, tp := range c.fetch.assignment() {
		if !now[tp] {
			revoked = append(revoked, tp)
		}
	}
	for _, tp := range res.Assignment {
		if c.fetch.parts[tp] == nil {
			added = append(added, tp)
		}
	}
	if len(revoked) > 0 {
		c.callListener(ctx, partitionsRevoked, revoked)
		c.fetch.remove(revoked)
		c.group.requestRejoin()
		if c.isClosed() {
			return 0, errClosed()
		}
	}
	for _, tp := range added {
		if err := c.fetch.add(tp); err != nil {
			c.b.Logger().Warn("assigned partition unavailable", "topic", tp.Topic, "partition", tp.Partition, "err", err)
		}
	}
	c.callListener(ctx, partitionsAssigned, added)
	return c.group.next(), nil
}

// lose is phaseLost: OnPartitionsLost with the partitions the member held,
// which it drops, and then phaseJoin as a new member.
func (c *Consumer) lose(ctx context.Context) (phase, error) {
	if owned := c.fetch.assignment(); len(owned) > 0 {
		c.callListener(ctx, partitionsLost, owned)
		c.fetch.remove(owned)
	}
	c.group.forget()
	return phaseJoin, nil
}

// joinGroup is JoinGroup, cut short by Close: the wait for the other
// members can last up to the rebalance timeout (max.poll.interval.ms).
func (c *Consumer) joinGroup(ctx context.Context, req JoinRequest) (JoinResult, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer context.AfterFunc(c.life.ctx, cancel)()
	// Waiting for the other members inside Poll is not a poll timeout:
	// the rebalance can last the largest max.poll.interval.ms of the group.
	c.group.mu.Lock()
	c.group.joining = true
	c.group.mu.Unlock()
	res, err := c.coord.JoinGroup(ctx, c.set.GroupID, req)
	c.group.mu.Lock()
	c.group.joining = false
	c.group.lastPoll = time.Now()
	c.group.mu.Unlock()
	if err != nil && c.isClosed() {
		return res, errClosed()
	}
	return res, err
}

// startHeartbeat starts the heartbeat goroutine, once; none after Close.
func (c *Consumer) startHeartbeat() {
	g := &c.group
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.hbDone != nil || g.hbStopped {
		return
	}
	g.hbDone = make(chan struct{})
	go c.heartbeat(g.hbDone)
}

// stopHeartbeat waits for the heartbeat goroutine, which returns once the
// consumer is closing, and keeps another from starting.
func (g *membership) stopHeartbeat() {
	g.mu.Lock()
	g.hbStopped = true
	done := g.hbDone
	g.mu.Unlock()
	if done != nil {
		<-done
	}
}

// heartbeat keeps the member in its group every heartbeat.interval.ms and
// leaves the group when Poll has not been called for max.poll.interval.ms.
// It runs no application code, so Close can always wait for it.
func (c *Consumer) heartbeat(done chan struct{}) {
	defer close(done)
	tick := time.NewTicker(c.set.HeartbeatInterval)
	defer tick.Stop()
	left := "" // the member id this goroutine left the group as: no more heartbeats, nor warnings, for it
	for {
		select {
		case <-c.life.ctx.Done():
			return
		case <-tick.C:
		}
		c.group.mu.Lock()
		memberID, gen, lastPoll, joining, hung := c.group.memberID, c.group.generation, c.group.lastPoll, c.group.joining, c.group.hung
		c.group.mu.Unlock()
		if memberID == "" || memberID == left || hung {
			continue
		}
		if !joining && time.Since(lastPoll) > c.set.MaxPollInterval {
			c.b.Logger().Warn("max.poll.interval.ms passed without a poll; leaving the group", "group", c.set.GroupID, "member", memberID)
			c.coord.LeaveGroup(c.set.GroupID, memberID)
			left = memberID
			continue
		}
		if err := c.coord.Heartbeat(c.set.GroupID, memberID, gen); err != nil {
			c.group.rejoinIfCurrent(memberID, gen)
		}
	}
}
