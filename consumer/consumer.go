package consumer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/commitlog-go/commitlog"
	"github.com/commitlog-go/commitlog/assignor"
)

// RebalanceListener is told when partitions move, as Kafka's
// ConsumerRebalanceListener. Its methods run inside Poll (and Close), on
// the polling goroutine, and may call the consumer's methods, CommitSync
// in particular.
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

type mode int

const (
	modeNone mode = iota
	modeSubscribe
	modeAssign
)

func (c *Consumer) getMode() mode { return mode(c.curMode.Load()) }

type membershipShim struct{ c *Consumer }

func (g membershipShim) assign() error {
	if g.c.getMode() == modeSubscribe {
		return fmt.Errorf("consumer: Assign after Subscribe: %w", commitlog.ErrInvalidConfig)
	}
	g.c.curMode.Store(int32(modeAssign))
	return nil
}

// Consumer reads records from a broker's topics, alone (Assign) or as a
// member of a consumer group (Subscribe). Like Kafka's KafkaConsumer it is
// meant for one goroutine: Poll, Seek, Commit and the rest are called from
// the polling goroutine (or its rebalance listener). Close may be called
// from any goroutine and wakes a waiting Poll.
type Consumer struct {
	b     *commitlog.Broker
	set   settings
	coord *Coordinator

	pollMu     sync.Mutex   // held by Poll and Close
	curMode    atomic.Int32 // a mode: the commit goroutine and Close read it
	topics     []string
	listener   RebalanceListener
	fetch      fetcher
	group      membershipShim
	lastCommit time.Time

	gmu        sync.Mutex // group state shared with the heartbeat goroutine
	memberID   string
	generation int32
	rebalance  <-chan struct{}
	needRejoin bool
	lastPoll   time.Time
	joining    bool // Poll waits in JoinGroup: that is polling
	protocol   assignor.RebalanceProtocol

	closing      chan struct{}
	closed       atomic.Bool
	closeDone    chan struct{} // closed once Close has finished
	closeErr     error
	wg           sync.WaitGroup // the heartbeat goroutine
	commitDone   chan struct{}  // closed when the commit goroutine ends
	commits      chan asyncCommit
	noHeartbts   atomic.Bool // test hook: a hung member
	commitsMu    sync.Mutex  // guards sending on commits against its close
	heartbeating bool

	// Commits land in the order they were made (as over Kafka's one
	// coordinator connection): each takes a sequence number when made, and
	// an entry is dropped when a later commit of its partition has
	// already been written.
	commitSeq  atomic.Uint64
	orderMu    sync.Mutex
	appliedSeq map[TopicPartition]uint64

	// Goroutines (see goid) that run Close, a rebalance listener inside
	// Poll, and a CommitAsync callback: a Close from inside a callback
	// must not wait for what its own goroutine holds.
	closerG, listenerG, callbackG atomic.Uint64
}

type asyncCommit struct {
	offsets    map[TopicPartition]OffsetAndMetadata
	memberID   string
	generation int32
	seq        uint64
	cb         func(map[TopicPartition]OffsetAndMetadata, error)
}

// settings are the values of Config the consumer runs with, defaults
// applied. settingsOf is the one place that reads Config's fields.
type settings struct {
	groupID                string        // group.id; "" for none
	autoOffsetReset        string        // auto.offset.reset
	autoCommit             bool          // enable.auto.commit
	autoCommitInterval     time.Duration // auto.commit.interval.ms
	maxPollRecords         int           // max.poll.records
	fetchMaxBytes          int           // fetch.max.bytes
	maxPartitionFetchBytes int           // max.partition.fetch.bytes
	fetchMinBytes          int           // fetch.min.bytes
	fetchMaxWait           time.Duration // fetch.max.wait.ms
	sessionTimeout         time.Duration // session.timeout.ms
	heartbeatInterval      time.Duration // heartbeat.interval.ms
	maxPollInterval        time.Duration // max.poll.interval.ms
	assignors              []assignor.Assignor
}

// settingsOf reads cfg, which withDefaults has completed.
func settingsOf(cfg Config) settings {
	return settings{
		groupID:                cfg.GroupID,
		autoOffsetReset:        cfg.AutoOffsetReset,
		autoCommit:             !cfg.DisableAutoCommit,
		autoCommitInterval:     cfg.AutoCommitInterval,
		maxPollRecords:         cfg.MaxPollRecords,
		fetchMaxBytes:          cfg.FetchMaxBytes,
		maxPartitionFetchBytes: cfg.MaxPartitionFetchBytes,
		fetchMinBytes:          cfg.FetchMinBytes,
		fetchMaxWait:           cfg.FetchMaxWait,
		sessionTimeout:         cfg.SessionTimeout,
		heartbeatInterval:      cfg.HeartbeatInterval,
		maxPollInterval:        cfg.MaxPollInterval,
		assignors:              cfg.Assignors,
	}
}

// New returns a consumer of b.
func New(b *commitlog.Broker, cfg Config) (*Consumer, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	c := &Consumer{b: b, set: settingsOf(cfg), generation: -1,
		closing: make(chan struct{}), closeDone: make(chan struct{}), commitDone: make(chan struct{}),
		commits: make(chan asyncCommit, 1024), lastCommit: time.Now()}
	if cfg.GroupID != "" {
		if c.coord, err = CoordinatorFor(b); err != nil {
			return nil, err
		}
	}
	c.group = membershipShim{c}
	c.fetch = newFetcher(b, &c.set, c.committedOffset)
	go c.committer(c.commits)
	return c, nil
}

// committedOffset is the group's committed offset of tp.
func (c *Consumer) committedOffset(tp TopicPartition) (OffsetAndMetadata, bool) {
	if c.coord == nil {
		return OffsetAndMetadata{}, false
	}
	om, ok := c.coord.FetchOffsets(c.set.groupID, []TopicPartition{tp})[tp]
	return om, ok
}

// Subscribe joins the consumer group to consume topics; the group's
// assignor decides which partitions this member gets, from the next Poll
// on. listener may be nil.
func (c *Consumer) Subscribe(topics []string, listener RebalanceListener) error {
	if c.set.groupID == "" {
		return fmt.Errorf("consumer: Subscribe needs a group.id: %w", commitlog.ErrInvalidConfig)
	}
	if c.getMode() == modeAssign {
		return fmt.Errorf("consumer: Subscribe after Assign: %w", commitlog.ErrInvalidConfig)
	}
	if listener == nil {
		listener = ListenerFuncs{}
	}
	c.curMode.Store(int32(modeSubscribe))
	c.topics = slices.Clone(topics)
	c.listener = listener
	c.gmu.Lock()
	c.needRejoin = true
	c.gmu.Unlock()
	if !c.heartbeating {
		c.heartbeating = true
		c.wg.Add(1)
		go c.heartbeat()
	}
	return nil
}

// MemberID and Generation identify this member in its group ("" and -1
// outside a group).
func (c *Consumer) MemberID() (string, int32) {
	c.gmu.Lock()
	defer c.gmu.Unlock()
	return c.memberID, c.generation
}

// Poll returns the next records of the assigned partitions, at most
// max.poll.records. In group mode it first takes part in any pending
// rebalance, running the listener. Without data it waits, without
// spinning, until data arrives (fetch.min.bytes), fetch.max.wait.ms passes
// (then it returns no records and no error), or ctx ends.
func (c *Consumer) Poll(ctx context.Context) ([]Record, error) {
	c.pollMu.Lock()
	defer c.pollMu.Unlock()
	if c.closed.Load() {
		return nil, fmt.Errorf("consumer: %w", commitlog.ErrClosed)
	}
	c.gmu.Lock()
	c.lastPoll = time.Now()
	c.gmu.Unlock()
	deadline := time.Now().Add(c.set.fetchMaxWait)
	// Records an earlier fetch buffered are returned without waiting, as
	// Kafka's consumer does; fetch.min.bytes counts what this Poll fetched
	// in all its rounds.
	ready := len(c.fetch.buffered) > 0
	fetched := 0
	for {
		if c.getMode() == modeSubscribe {
			if err := c.ensureGroup(ctx); err != nil {
				return nil, err
			}
		}
		c.maybeAutoCommit()
		if c.fetch.full() {
			return c.fetch.take(), nil
		}
		n, err := c.fetch.fetch()
		if err != nil {
			return nil, err
		}
		fetched += n
		if len(c.fetch.buffered) > 0 && (ready || fetched >= c.set.fetchMinBytes || !time.Now().Before(deadline)) {
			return c.fetch.take(), nil
		}
		if !time.Now().Before(deadline) {
			return nil, nil
		}
		c.gmu.Lock()
		rebalance := c.rebalance
		c.gmu.Unlock()
		woke, err := c.fetch.wait(ctx, deadline, c.closing, rebalance)
		if err != nil {
			return nil, err
		}
		if woke == 0 {
			return nil, fmt.Errorf("consumer: %w", commitlog.ErrClosed)
		}
	}
}

// ensureGroup takes part in rebalances until the member is in a stable
// generation.
func (c *Consumer) ensureGroup(ctx context.Context) error {
	for {
		c.gmu.Lock()
		need := c.needRejoin || c.memberID == ""
		if c.rebalance != nil {
			select {
			case <-c.rebalance:
				need = true
			default:
			}
		}
		memberID, gen, proto := c.memberID, c.generation, c.protocol
		c.gmu.Unlock()
		if !need {
			return nil
		}
		owned := c.fetch.assignment()
		if memberID != "" && errors.Is(c.coord.Heartbeat(c.set.groupID, memberID, gen), ErrUnknownMemberID) {
			// Removed from the group (session or poll timeout): another
			// member may own these partitions now.
			if len(owned) > 0 {
				c.callListener(func() { c.listener.OnPartitionsLost(ctx, c, owned) })
				c.fetch.remove(owned)
			}
			c.gmu.Lock()
			c.memberID, c.generation, c.rebalance, c.protocol = "", -1, nil, assignor.Eager
			c.gmu.Unlock()
			if c.closed.Load() {
				return fmt.Errorf("consumer: %w", commitlog.ErrClosed)
			}
			continue
		}
		if proto == assignor.Eager && len(owned) > 0 && memberID != "" {
			c.commitBeforeRevoke(ctx, memberID, gen)
			c.callListener(func() { c.listener.OnPartitionsRevoked(ctx, c, owned) })
			c.fetch.remove(owned)
			owned = nil
			if c.closed.Load() {
				return fmt.Errorf("consumer: %w", commitlog.ErrClosed)
			}
		}
		res, err := c.join(ctx, JoinRequest{
			MemberID: memberID, Topics: c.topics, Assignors: c.set.assignors, Owned: owned, OwnedGeneration: gen,
			SessionTimeout: c.set.sessionTimeout, RebalanceTimeout: c.set.maxPollInterval,
		})
		if errors.Is(err, ErrUnknownMemberID) {
			if lost := c.fetch.assignment(); len(lost) > 0 {
				c.callListener(func() { c.listener.OnPartitionsLost(ctx, c, lost) })
				c.fetch.remove(lost)
			}
			c.gmu.Lock()
			c.memberID, c.generation, c.rebalance, c.protocol = "", -1, nil, assignor.Eager
			c.gmu.Unlock()
			if c.closed.Load() {
				return fmt.Errorf("consumer: %w", commitlog.ErrClosed)
			}
			continue
		}
		if err != nil {
			return err
		}
		c.gmu.Lock()
		c.memberID, c.generation, c.rebalance, c.protocol = res.MemberID, res.Generation, res.Rebalance, res.Protocol
		c.needRejoin = false
		c.lastPoll = time.Now()
		c.gmu.Unlock()
		newSet := map[TopicPartition]bool{}
		for _, tp := range res.Assignment {
			newSet[tp] = true
		}
		var revoked, added []TopicPartition
		for _, tp := range c.fetch.assignment() {
			if !newSet[tp] {
				revoked = append(revoked, tp)
			}
		}
		for _, tp := range res.Assignment {
			if c.fetch.parts[tp] == nil {
				added = append(added, tp)
			}
		}
		if len(revoked) > 0 {
			// Cooperative: give up only what moves, then rejoin so the
			// partitions can be assigned to their new owners.
			c.callListener(func() { c.listener.OnPartitionsRevoked(ctx, c, revoked) })
			c.fetch.remove(revoked)
			c.gmu.Lock()
			c.needRejoin = true
			c.gmu.Unlock()
			if c.closed.Load() {
				return fmt.Errorf("consumer: %w", commitlog.ErrClosed)
			}
		}
		for _, tp := range added {
			if err := c.fetch.add(tp); err != nil {
				c.b.Logger().Warn("assigned partition unavailable", "topic", tp.Topic, "partition", tp.Partition, "err", err)
			}
		}
		c.callListener(func() { c.listener.OnPartitionsAssigned(ctx, c, added) })
		if c.closed.Load() {
			return fmt.Errorf("consumer: %w", commitlog.ErrClosed)
		}
	}
}

// callListener runs a rebalance listener method, noting the goroutine so
// that a Close from inside the listener knows that it runs within Poll,
// which holds pollMu.
func (c *Consumer) callListener(f func()) {
	prev := c.listenerG.Swap(goid())
	defer c.listenerG.Store(prev)
	f()
}

// goid is the running goroutine's id, read from the header runtime.Stack
// writes ("goroutine 18 [running]:"). Go has no other way to tell a Close
// called from inside one of this consumer's callbacks, on the goroutine
// Close would wait for, from a Close on another goroutine; it is used only
// around callbacks and in Close.
func goid() uint64 {
	var buf [32]byte
	n := runtime.Stack(buf[:], false)
	var id uint64
	for _, ch := range bytes.TrimPrefix(buf[:n], []byte("goroutine ")) {
		if ch < '0' || ch > '9' {
			break
		}
		id = id*10 + uint64(ch-'0')
	}
	return id
}

// join is JoinGroup, cut short by Close: the wait for the other members
// can last up to the rebalance timeout (max.poll.interval.ms).
func (c *Consumer) join(ctx context.Context, req JoinRequest) (JoinResult, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-c.closing:
			cancel()
		case <-ctx.Done():
		}
	}()
	// Waiting for the other members inside Poll is not a poll timeout:
	// the rebalance can last the largest max.poll.interval.ms of the group.
	c.gmu.Lock()
	c.joining = true
	c.gmu.Unlock()
	res, err := c.coord.JoinGroup(ctx, c.set.groupID, req)
	c.gmu.Lock()
	c.joining = false
	c.lastPoll = time.Now()
	c.gmu.Unlock()
	if err != nil && c.closed.Load() {
		return res, fmt.Errorf("consumer: %w", commitlog.ErrClosed)
	}
	return res, err
}

// rejoinIfCurrent marks the member for a rejoin after the coordinator
// refused a request made as memberID in generation gen, unless the member
// has rejoined since: a late answer to a request of an older generation (a
// queued async commit, a heartbeat racing with the join) must not force
// another rebalance of the whole group.
func (c *Consumer) rejoinIfCurrent(memberID string, gen int32) {
	c.gmu.Lock()
	defer c.gmu.Unlock()
	if c.memberID == memberID && c.generation == gen { // (outside a group, needRejoin is never read)
		c.needRejoin = true
	}
}

// commitBeforeRevoke is what enable.auto.commit does before a rebalance:
// commit what was consumed, synchronously.
func (c *Consumer) commitBeforeRevoke(ctx context.Context, memberID string, gen int32) {
	if !c.set.autoCommit {
		return
	}
	if err := c.commitInOrder(ctx, c.fetch.committable(), memberID, gen, c.commitSeq.Add(1)); err != nil {
		c.b.Logger().Warn("auto-commit before rebalance failed", "group", c.set.groupID, "err", err)
	}
}

func (c *Consumer) maybeAutoCommit() {
	if !c.set.autoCommit || c.set.groupID == "" || time.Since(c.lastCommit) < c.set.autoCommitInterval {
		return
	}
	c.lastCommit = time.Now()
	c.CommitAsync(nil, func(_ map[TopicPartition]OffsetAndMetadata, err error) {
		if err != nil {
			c.b.Logger().Warn("auto-commit failed", "group", c.set.groupID, "err", err)
		}
	})
}

func (c *Consumer) commit(_ context.Context, offsets map[TopicPartition]OffsetAndMetadata, memberID string, gen int32) error {
	if c.coord == nil {
		return fmt.Errorf("consumer: commits need a group.id: %w", commitlog.ErrInvalidConfig)
	}
	if c.getMode() != modeSubscribe {
		memberID, gen = "", -1
	}
	err := c.coord.CommitOffsets(c.set.groupID, memberID, gen, offsets)
	if errors.Is(err, ErrIllegalGeneration) || errors.Is(err, ErrUnknownMemberID) || errors.Is(err, ErrRebalanceInProgress) {
		c.rejoinIfCurrent(memberID, gen)
	}
	return err
}

// CommitSync commits offsets (nil: the positions of every assigned
// partition, i.e. what Poll has returned, leaving out partitions whose
// topic was deleted) and returns once they are durable. A member that lost
// its partitions in a rebalance gets ErrIllegalGeneration or
// ErrUnknownMemberID and commits nothing. An entry for a topic or
// partition that does not exist fails the commit with ErrUnknownTopic or
// ErrUnknownPartition, a negative offset with ErrInvalidOffset; then no
// entry of it is written. Partitions need not be assigned to the consumer.
func (c *Consumer) CommitSync(ctx context.Context, offsets map[TopicPartition]OffsetAndMetadata) error {
	if offsets == nil {
		offsets = c.fetch.committable()
	}
	memberID, gen := c.MemberID()
	return c.commitInOrder(ctx, offsets, memberID, gen, c.commitSeq.Add(1))
}

// commitInOrder writes the entries of a commit made as number seq that no
// later commit has overtaken: a CommitAsync queued before a CommitSync
// must not rewind what the CommitSync wrote.
func (c *Consumer) commitInOrder(ctx context.Context, offsets map[TopicPartition]OffsetAndMetadata, memberID string, gen int32, seq uint64) error {
	c.orderMu.Lock()
	defer c.orderMu.Unlock()
	fresh := offsets
	for tp := range offsets {
		if c.appliedSeq[tp] > seq {
			fresh = map[TopicPartition]OffsetAndMetadata{}
			for tp, om := range offsets {
				if c.appliedSeq[tp] <= seq {
					fresh[tp] = om
				}
			}
			break
		}
	}
	err := c.commit(ctx, fresh, memberID, gen)
	if err == nil {
		if c.appliedSeq == nil {
			c.appliedSeq = map[TopicPartition]uint64{}
		}
		for tp := range fresh {
			c.appliedSeq[tp] = seq
		}
	}
	return err
}

// CommitAsync commits offsets (nil: the current positions) in the
// background and calls cb, if not nil, with the result: the errors of
// CommitSync. Callbacks run in the order of the calls, on the consumer's
// commit goroutine.
func (c *Consumer) CommitAsync(offsets map[TopicPartition]OffsetAndMetadata, cb func(map[TopicPartition]OffsetAndMetadata, error)) {
	if offsets == nil {
		offsets = c.fetch.committable()
	}
	memberID, gen := c.MemberID()
	c.commitsMu.Lock()
	if c.commits == nil {
		c.commitsMu.Unlock() // before cb, which may call CommitAsync
		if cb != nil {
			cb(offsets, fmt.Errorf("consumer: %w", commitlog.ErrClosed))
		}
		return
	}
	c.commits <- asyncCommit{offsets: offsets, memberID: memberID, generation: gen, seq: c.commitSeq.Add(1), cb: cb}
	c.commitsMu.Unlock()
}

func (c *Consumer) committer(commits <-chan asyncCommit) {
	defer close(c.commitDone)
	me := goid()
	for req := range commits {
		err := c.commitInOrder(context.Background(), req.offsets, req.memberID, req.generation, req.seq)
		if req.cb != nil {
			c.callbackG.Store(me) // a Close in cb must not wait for this goroutine
			req.cb(req.offsets, err)
			c.callbackG.Store(0)
		}
	}
}

// heartbeat keeps the member in its group every heartbeat.interval.ms and
// leaves the group when Poll has not been called for max.poll.interval.ms.
func (c *Consumer) heartbeat() {
	defer c.wg.Done()
	tick := time.NewTicker(c.set.heartbeatInterval)
	defer tick.Stop()
	for {
		select {
		case <-c.closing:
			return
		case <-tick.C:
		}
		if c.noHeartbts.Load() {
			continue
		}
		c.gmu.Lock()
		memberID, gen, lastPoll, joining := c.memberID, c.generation, c.lastPoll, c.joining
		c.gmu.Unlock()
		if memberID == "" {
			continue
		}
		if !joining && time.Since(lastPoll) > c.set.maxPollInterval {
			c.b.Logger().Warn("max.poll.interval.ms passed without a poll; leaving the group", "group", c.set.groupID, "member", memberID)
			c.coord.LeaveGroup(c.set.groupID, memberID)
			continue
		}
		if err := c.coord.Heartbeat(c.set.groupID, memberID, gen); err != nil {
			c.rejoinIfCurrent(memberID, gen)
		}
	}
}

// Committed returns the group's committed offsets for tps.
func (c *Consumer) Committed(_ context.Context, tps []TopicPartition) (map[TopicPartition]OffsetAndMetadata, error) {
	if c.coord == nil {
		return nil, fmt.Errorf("consumer: Committed needs a group.id: %w", commitlog.ErrInvalidConfig)
	}
	return c.coord.FetchOffsets(c.set.groupID, tps), nil
}

// Close leaves the group: with auto-commit it commits what was consumed,
// runs OnPartitionsRevoked, leaves (the others rebalance at once), finishes
// pending async commits and stops the heartbeat. It wakes a Poll blocked
// in another goroutine. It is idempotent, and may be called from a
// rebalance listener or a CommitAsync callback: there it does not wait for
// the Poll or commit goroutine it runs on (a Poll then returns ErrClosed
// once the listener returns; later async commits finish after Close).
func (c *Consumer) Close(ctx context.Context) error {
	me := goid()
	if c.closed.Swap(true) {
		if c.closerG.Load() == me || c.listenerG.Load() == me || c.callbackG.Load() == me {
			return nil // from a callback of a Close or of what Close waits for
		}
		<-c.closeDone
		return c.closeErr
	}
	c.closerG.Store(me)
	defer close(c.closeDone)
	close(c.closing)
	if c.listenerG.Load() != me { // else Poll holds pollMu on this goroutine
		c.pollMu.Lock()
		defer c.pollMu.Unlock()
	}
	memberID, gen := c.MemberID()
	if c.getMode() == modeSubscribe && memberID != "" {
		owned := c.fetch.assignment()
		if errors.Is(c.coord.Heartbeat(c.set.groupID, memberID, gen), ErrUnknownMemberID) {
			c.callListener(func() { c.listener.OnPartitionsLost(ctx, c, owned) })
		} else {
			c.commitBeforeRevoke(ctx, memberID, gen)
			c.callListener(func() { c.listener.OnPartitionsRevoked(ctx, c, owned) })
			c.coord.LeaveGroup(c.set.groupID, memberID)
		}
	} else if c.getMode() == modeAssign && c.coord != nil && c.set.autoCommit {
		c.closeErr = c.commitInOrder(ctx, c.fetch.committable(), "", -1, c.commitSeq.Add(1))
	}
	c.commitsMu.Lock()
	close(c.commits)
	c.commits = nil
	c.commitsMu.Unlock()
	c.wg.Wait()
	if c.callbackG.Load() != me {
		<-c.commitDone
	}
	return c.closeErr
}
