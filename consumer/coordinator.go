package consumer

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/commitlog-go/commitlog"
	"github.com/commitlog-go/commitlog/assignor"
)

// Group errors, as Kafka names them.
var (
	// ErrIllegalGeneration: a commit or heartbeat from a generation that is
	// no longer current; the member lost its partitions in a rebalance.
	ErrIllegalGeneration = errors.New("commitlog: illegal generation")
	// ErrRebalanceInProgress: the group is rebalancing; rejoin.
	ErrRebalanceInProgress = errors.New("commitlog: rebalance in progress")
	// ErrUnknownMemberID: the member is not in the group (it left, or was
	// removed after session.timeout.ms or max.poll.interval.ms).
	ErrUnknownMemberID = errors.New("commitlog: unknown member id")
	// ErrInconsistentGroupProtocol: the member shares no assignor with the
	// group.
	ErrInconsistentGroupProtocol = errors.New("commitlog: inconsistent group protocol")
	// ErrInvalidOffset: a commit of a negative offset (Kafka's clients
	// refuse them too: a committed offset is the next offset to consume).
	ErrInvalidOffset = errors.New("commitlog: invalid offset")
)

// Coordinator is the in-process group coordinator of one broker: it keeps
// each group's members, generations and assignments, runs the leader's
// assignor, expires members that stop heartbeating, and stores committed
// offsets in __consumer_offsets. Each group has its own lock, so a
// rebalance in one group never stops another. Consumers use it; it is
// exported for tools and tests.
type Coordinator struct {
	broker  commitlog.Store
	offsets *offsetStore
	mu      sync.Mutex        // guards groups, the table only (each group has its own lock; only DeleteGroup takes this one under a group's, never the reverse)
	groups  map[string]*group // by group id, made on first use
	seq     atomic.Int64      // the number of the last member id handed out
	stop    chan struct{}     // closed by Close: stops run, releases JoinGroup waiters
	wg      sync.WaitGroup    // the run goroutine
	once    sync.Once         // Close runs once
}

// CoordinatorFor returns the broker's coordinator, starting it (and
// creating __consumer_offsets, then loading the committed offsets) on first
// use. The broker stops it on Close.
func CoordinatorFor(b commitlog.Store) (*Coordinator, error) {
	return brokerCoordinator(b, func() (*Coordinator, error) {
		open := func() (*offsetStore, error) { return openOffsetStore(b, DefaultOffsetsTopicPartitions) }
		if readOnlyStore(b) {
			open = func() (*offsetStore, error) { return openReadOnlyOffsetStore(b) }
		}
		store, err := open()
		if err != nil {
			return nil, err
		}
		c := &Coordinator{broker: b, offsets: store, groups: map[string]*group{}, stop: make(chan struct{})}
		c.wg.Add(1)
		go c.run()
		return c, nil
	})
}

// Close stops the coordinator's expiry loop and releases members waiting
// in JoinGroup with ErrClosed. The broker calls it on Close.
func (c *Coordinator) Close() error {
	c.once.Do(func() {
		close(c.stop)
		c.wg.Wait()
	})
	return nil
}

type groupState int

const (
	stateEmpty groupState = iota
	statePreparing
	stateStable
)

type group struct {
	id string
	// mu guards the fields below and the members'. CommitOffsets holds it
	// across the write, so that no stale commit lands after a rebalance.
	mu         sync.Mutex
	state      groupState
	generation int32
	protocol   string
	leader     string
	members    map[string]*member
	joined     map[string]bool
	done       chan struct{} // closed when the current rebalance completes
	deadline   time.Time     // rebalance timeout
	counts     map[string]int32
	deleted    bool // DeleteGroup took it out of the table: a JoinGroup that found it looks again
}

type member struct {
	id               string
	clientID         string
	topics           []string
	assignors        []assignor.Assignor
	owned            []TopicPartition
	ownedGen         int32
	lastSeen         time.Time
	sessionTimeout   time.Duration
	rebalanceTimeout time.Duration
	assignment       []TopicPartition
	rebalance        chan struct{} // closed when a rebalance starts
}

// JoinRequest is what a member says when it joins.
type JoinRequest struct {
	MemberID         string // "" for a new member
	ClientID         string // client.id, which DescribeGroup shows
	Topics           []string
	Assignors        []assignor.Assignor // in preference order
	Owned            []TopicPartition    // current partitions, for sticky assignors
	OwnedGeneration  int32
	SessionTimeout   time.Duration
	RebalanceTimeout time.Duration
}

// JoinResult is the outcome of a completed rebalance for one member.
type JoinResult struct {
	MemberID   string
	Generation int32
	Leader     string
	Protocol   assignor.RebalanceProtocol
	Assignor   string
	Assignment []TopicPartition
	// Rebalance is closed when the next rebalance starts: the member must
	// then rejoin.
	Rebalance <-chan struct{}
}

func (c *Coordinator) group(id string) *group {
	c.mu.Lock()
	defer c.mu.Unlock()
	g := c.groups[id]
	if g == nil {
		g = &group{id: id, members: map[string]*member{}}
		c.groups[id] = g
	}
	return g
}

// JoinGroup adds or refreshes a member and waits until the rebalance it
// takes part in completes (every member has rejoined, or the rebalance
// timeout removed those that did not). The leader's assignor computes the
// assignment.
func (c *Coordinator) JoinGroup(ctx context.Context, groupID string, req JoinRequest) (JoinResult, error) {
	if err := c.offsets.readOnlyErr("join", groupID); err != nil {
		return JoinResult{}, err
	}
	if len(req.Assignors) == 0 {
		return JoinResult{}, fmt.Errorf("consumer: join %s: no assignor: %w", groupID, ErrInconsistentGroupProtocol)
	}
	g := c.group(groupID)
	g.mu.Lock()
	for g.deleted { // DeleteGroup removed it meanwhile: join the group that replaces it
		g.mu.Unlock()
		g = c.group(groupID)
		g.mu.Lock()
	}
	m := g.members[req.MemberID]
	if m == nil && req.MemberID != "" {
		g.mu.Unlock()
		return JoinResult{}, fmt.Errorf("consumer: group %s member %s: %w", groupID, req.MemberID, ErrUnknownMemberID)
	}
	if len(g.members) > 0 && g.commonAssignor(req.Assignors) == "" {
		g.mu.Unlock()
		return JoinResult{}, fmt.Errorf("consumer: group %s: %w", groupID, ErrInconsistentGroupProtocol)
	}
	if m == nil {
		m = &member{id: fmt.Sprintf("%s-%d", groupID, c.seq.Add(1)), rebalance: make(chan struct{})}
		g.members[m.id] = m
	}
	m.clientID = req.ClientID
	m.topics = slices.Clone(req.Topics)
	m.assignors = req.Assignors
	m.owned = slices.Clone(req.Owned)
	m.ownedGen = req.OwnedGeneration
	m.sessionTimeout = req.SessionTimeout
	m.rebalanceTimeout = req.RebalanceTimeout
	m.lastSeen = time.Now()
	if g.state != statePreparing {
		g.startRebalanceLocked()
	}
	g.joined[m.id] = true
	if len(g.joined) == len(g.members) {
		c.completeLocked(g)
	}
	done := g.done
	// The channel the next rebalance closes. Taken now, not after done: a
	// rebalance that starts between the completion and this member's
	// wake-up replaces m.rebalance, and the member, handed the new open
	// channel, would not rejoin until a heartbeat told it to.
	rebalance := m.rebalance
	g.mu.Unlock()

	select {
	case <-done:
	case <-ctx.Done():
		if req.MemberID == "" {
			// The caller never learns the new member's id, so it could
			// not leave: take it out now rather than at the rebalance
			// timeout.
			g.mu.Lock()
			if g.members[m.id] == m {
				c.removeLocked(g, m.id, "join cancelled")
			}
			g.mu.Unlock()
		}
		return JoinResult{}, ctx.Err()
	case <-c.stop:
		return JoinResult{}, fmt.Errorf("consumer: coordinator: %w", commitlog.ErrClosed)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.members[m.id] != m {
		return JoinResult{}, fmt.Errorf("consumer: group %s member %s: %w", groupID, m.id, ErrUnknownMemberID)
	}
	res := JoinResult{MemberID: m.id, Generation: g.generation, Leader: g.leader, Assignor: g.protocol,
		Assignment: slices.Clone(m.assignment), Rebalance: rebalance}
	if a := g.assignorByName(g.protocol); a != nil {
		res.Protocol = a.Protocol()
	}
	return res, nil
}

// startRebalanceLocked tells every member to rejoin.
func (g *group) startRebalanceLocked() {
	g.state = statePreparing
	g.joined = map[string]bool{}
	g.done = make(chan struct{})
	timeout := time.Duration(0)
	for _, m := range g.members {
		close(m.rebalance)
		m.rebalance = make(chan struct{})
		timeout = max(timeout, m.rebalanceTimeout)
	}
	g.deadline = time.Now().Add(timeout)
}

func (g *group) commonAssignor(candidates []assignor.Assignor) string {
	for _, a := range candidates {
		ok := true
		for _, m := range g.members {
			if !slices.ContainsFunc(m.assignors, func(b assignor.Assignor) bool { return b.Name() == a.Name() }) {
				ok = false
				break
			}
		}
		if ok {
			return a.Name()
		}
	}
	return ""
}

func (g *group) assignorByName(name string) assignor.Assignor {
	if l := g.members[g.leader]; l != nil {
		for _, a := range l.assignors {
			if a.Name() == name {
				return a
			}
		}
	}
	return nil
}

// completeLocked ends a rebalance: members that did not rejoin are
// dropped, the generation advances, the leader's assignor runs.
func (c *Coordinator) completeLocked(g *group) {
	now := time.Now()
	for id, m := range g.members {
		if !g.joined[id] {
			delete(g.members, id)
			continue
		}
		// Each member's session starts afresh, as in Kafka: one that
		// waited in JoinGroup (a new one cannot heartbeat) for longer
		// than its session timeout is not expired the moment it joins.
		m.lastSeen = now
	}
	g.generation++
	defer close(g.done)
	if len(g.members) == 0 {
		g.state = stateEmpty
		g.leader, g.protocol = "", ""
		return
	}
	ids := slices.Sorted(maps.Keys(g.members))
	if g.members[g.leader] == nil {
		g.leader = ids[0]
	}
	leader := g.members[g.leader]
	g.protocol = g.commonAssignor(leader.assignors)
	a := g.assignorByName(g.protocol)
	counts := map[string]int32{}
	var in []assignor.Member
	for _, id := range ids {
		m := g.members[id]
		for _, topic := range m.topics {
			if _, ok := counts[topic]; ok {
				continue
			}
			if t, err := c.broker.Topic(topic); err == nil {
				counts[topic] = t.NumPartitions()
			}
		}
		in = append(in, assignor.Member{ID: id, Topics: m.topics, Owned: m.owned, Generation: m.ownedGen})
	}
	g.counts = counts
	out, err := a.Assign(in, counts)
	if err != nil {
		c.broker.Logger().Error("assignor failed; members get no partitions", "group", g.id, "assignor", g.protocol, "err", err)
		out = assignor.Assignment{}
	}
	for _, id := range ids {
		g.members[id].assignment = out[id]
	}
	g.state = stateStable
	c.broker.Logger().Info("group rebalanced", "group", g.id, "generation", g.generation, "members", len(ids), "assignor", g.protocol, "leader", g.leader)
}

// Heartbeat keeps a member alive. It returns ErrRebalanceInProgress when
// the member must rejoin, ErrIllegalGeneration for a stale generation and
// ErrUnknownMemberID for a member the group no longer has.
func (c *Coordinator) Heartbeat(groupID, memberID string, generation int32) error {
	g := c.group(groupID)
	g.mu.Lock()
	defer g.mu.Unlock()
	m := g.members[memberID]
	if m == nil {
		return fmt.Errorf("consumer: group %s member %s: %w", groupID, memberID, ErrUnknownMemberID)
	}
	m.lastSeen = time.Now()
	if g.state == statePreparing {
		return fmt.Errorf("consumer: group %s: %w", groupID, ErrRebalanceInProgress)
	}
	if generation != g.generation {
		return fmt.Errorf("consumer: group %s generation %d, current %d: %w", groupID, generation, g.generation, ErrIllegalGeneration)
	}
	return nil
}

// LeaveGroup removes a member; the others rebalance.
func (c *Coordinator) LeaveGroup(groupID, memberID string) {
	g := c.group(groupID)
	g.mu.Lock()
	defer g.mu.Unlock()
	c.removeLocked(g, memberID, "left")
}

func (c *Coordinator) removeLocked(g *group, memberID, why string) {
	m := g.members[memberID]
	if m == nil {
		return
	}
	delete(g.members, memberID)
	close(m.rebalance)
	m.rebalance = make(chan struct{})
	c.broker.Logger().Info("member removed", "group", g.id, "member", memberID, "reason", why)
	if g.state != statePreparing {
		g.startRebalanceLocked()
	}
	delete(g.joined, memberID)
	if len(g.joined) == len(g.members) {
		c.completeLocked(g)
	}
}

// CommitOffsets stores offsets for a group. Members commit with their
// member id and generation; a stale generation gets ErrIllegalGeneration
// and an unknown member ErrUnknownMemberID, so a member that lost its
// partitions can never rewind their offsets. A consumer without group
// membership (manual assignment) commits with an empty member id and
// generation -1, accepted only while the group has no members.
//
// Every entry must name an existing partition (any topic's, not only those
// the group consumes, as in Kafka) and a non-negative offset: otherwise the
// commit fails with ErrUnknownTopic, ErrUnknownPartition or
// ErrInvalidOffset, and none of its entries is written.
func (c *Coordinator) CommitOffsets(groupID, memberID string, generation int32, offsets map[TopicPartition]OffsetAndMetadata) error {
	g := c.group(groupID)
	g.mu.Lock()
	defer g.mu.Unlock() // held across the write: no stale commit can land after a rebalance
	if memberID == "" && generation < 0 {
		if len(g.members) > 0 {
			return fmt.Errorf("consumer: group %s has members; a standalone commit: %w", groupID, ErrIllegalGeneration)
		}
	} else {
		m := g.members[memberID]
		if m == nil {
			return fmt.Errorf("consumer: group %s member %s: %w", groupID, memberID, ErrUnknownMemberID)
		}
		if generation != g.generation {
			return fmt.Errorf("consumer: group %s generation %d, current %d: %w", groupID, generation, g.generation, ErrIllegalGeneration)
		}
		m.lastSeen = time.Now()
	}
	if err := c.validateCommit(groupID, offsets); err != nil {
		return err
	}
	return c.offsets.commit(groupID, offsets)
}

// validateCommit checks every entry of a commit before any is written.
func (c *Coordinator) validateCommit(groupID string, offsets map[TopicPartition]OffsetAndMetadata) error {
	for tp, om := range offsets {
		if om.Offset < 0 {
			return fmt.Errorf("consumer: commit for group %s: %s-%d offset %d: %w", groupID, tp.Topic, tp.Partition, om.Offset, ErrInvalidOffset)
		}
		t, err := c.broker.Topic(tp.Topic)
		if err != nil {
			return fmt.Errorf("consumer: commit for group %s: %s-%d: %w", groupID, tp.Topic, tp.Partition, err)
		}
		if n := t.NumPartitions(); tp.Partition < 0 || tp.Partition >= n {
			return fmt.Errorf("consumer: commit for group %s: topic %s has %d partitions, no partition %d: %w",
				groupID, tp.Topic, n, tp.Partition, commitlog.ErrUnknownPartition)
		}
	}
	return nil
}

// FetchOffsets returns a group's committed offsets for tps (all of them
// when tps is nil).
func (c *Coordinator) FetchOffsets(groupID string, tps []TopicPartition) map[TopicPartition]OffsetAndMetadata {
	return c.offsets.fetch(groupID, tps)
}

// run expires members past session.timeout.ms, ends rebalances past their
// timeout, and rebalances groups whose topics gained partitions.
func (c *Coordinator) run() {
	defer c.wg.Done()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-c.stop:
			return
		case <-tick.C:
		}
		c.mu.Lock()
		groups := slices.Collect(maps.Values(c.groups))
		c.mu.Unlock()
		now := time.Now()
		for _, g := range groups {
			g.mu.Lock()
			for id, m := range g.members {
				if g.state == statePreparing && g.joined[id] {
					continue // waiting in JoinGroup counts as alive
				}
				if now.Sub(m.lastSeen) > m.sessionTimeout {
					c.removeLocked(g, id, "session timeout")
				}
			}
			if g.state == statePreparing && now.After(g.deadline) {
				c.completeLocked(g)
			}
			if g.state == stateStable && c.partitionsChanged(g) {
				c.broker.Logger().Info("topic partitions changed; rebalancing", "group", g.id)
				g.startRebalanceLocked()
			}
			g.mu.Unlock()
		}
	}
}

func (c *Coordinator) partitionsChanged(g *group) bool {
	for _, m := range g.members {
		for _, topic := range m.topics {
			n := int32(0)
			if t, err := c.broker.Topic(topic); err == nil {
				n = t.NumPartitions()
			}
			if g.counts[topic] != n {
				return true
			}
		}
	}
	return false
}
