package consumer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"reflect"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/commitlog-go/commitlog"
	"github.com/commitlog-go/commitlog/assignor"
	"github.com/commitlog-go/commitlog/record"
)

// Record is a consumed record. Key, Value and header values are the
// consumer's own copy: they stay valid.
type Record struct {
	Topic         string
	Partition     int32
	Offset        int64
	Key, Value    []byte
	Headers       []record.Header
	Timestamp     time.Time
	TimestampType record.TimestampType
}

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

// OffsetAndTimestamp is a result of OffsetsForTimes.
type OffsetAndTimestamp struct {
	Offset    int64
	Timestamp time.Time
}

type mode int

const (
	modeNone mode = iota
	modeSubscribe
	modeAssign
)

func (c *Consumer) getMode() mode { return mode(c.curMode.Load()) }

type partState struct {
	tp       TopicPartition
	part     *brokerPartition
	fetchPos int64 // next offset to fetch; -1 until resolved
	pos      int64 // next offset Poll returns (what a commit stores); -1 until resolved
	paused   bool
	buffered int  // records of this partition in Consumer.buffered
	gone     bool // its topic was deleted: skipped, as Kafka does
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
	assigned   map[TopicPartition]*partState
	order      []TopicPartition
	next       int // round-robin start of the next fetch
	buffered   []Record
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
	c := &Consumer{b: b, set: settingsOf(cfg), assigned: map[TopicPartition]*partState{}, generation: -1,
		closing: make(chan struct{}), closeDone: make(chan struct{}), commitDone: make(chan struct{}),
		commits: make(chan asyncCommit, 1024), lastCommit: time.Now()}
	if cfg.GroupID != "" {
		if c.coord, err = CoordinatorFor(b); err != nil {
			return nil, err
		}
	}
	go c.committer(c.commits)
	return c, nil
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

// Assign consumes exactly the given partitions, with no group membership
// (Kafka's manual assignment). Commits then need a group.id and succeed
// only while that group has no active members.
func (c *Consumer) Assign(tps []TopicPartition) error {
	if c.getMode() == modeSubscribe {
		return fmt.Errorf("consumer: Assign after Subscribe: %w", commitlog.ErrInvalidConfig)
	}
	c.curMode.Store(int32(modeAssign))
	c.assigned = map[TopicPartition]*partState{}
	c.order = nil
	c.buffered = nil
	for _, tp := range tps {
		if c.assigned[tp] != nil {
			continue // a set, as in Kafka
		}
		if err := c.addPartition(tp); err != nil {
			return err
		}
	}
	return nil
}

func (c *Consumer) addPartition(tp TopicPartition) error {
	t, err := c.b.Topic(tp.Topic)
	if err != nil {
		return err
	}
	p, err := t.Partition(tp.Partition)
	if err != nil {
		return err
	}
	c.assigned[tp] = &partState{tp: tp, part: p, fetchPos: -1, pos: -1}
	c.order = append(c.order, tp)
	return nil
}

func (c *Consumer) removePartitions(tps []TopicPartition) {
	for _, tp := range tps {
		delete(c.assigned, tp)
	}
	c.order = slices.DeleteFunc(c.order, func(tp TopicPartition) bool { return c.assigned[tp] == nil })
	c.buffered = slices.DeleteFunc(c.buffered, func(r Record) bool {
		return c.assigned[TopicPartition{Topic: r.Topic, Partition: r.Partition}] == nil
	})
}

// Assignment returns the partitions currently assigned, sorted.
func (c *Consumer) Assignment() []TopicPartition {
	out := slices.Clone(c.order)
	sortTPs(out)
	return out
}

func sortTPs(tps []TopicPartition) {
	slices.SortFunc(tps, func(a, b TopicPartition) int {
		if a.Topic != b.Topic {
			if a.Topic < b.Topic {
				return -1
			}
			return 1
		}
		return int(a.Partition - b.Partition)
	})
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
	ready := len(c.buffered) > 0
	fetched := 0
	for {
		if c.getMode() == modeSubscribe {
			if err := c.ensureGroup(ctx); err != nil {
				return nil, err
			}
		}
		c.maybeAutoCommit()
		if len(c.buffered) >= c.set.maxPollRecords {
			return c.take(), nil
		}
		n, err := c.fetch()
		if err != nil {
			return nil, err
		}
		fetched += n
		if len(c.buffered) > 0 && (ready || fetched >= c.set.fetchMinBytes || !time.Now().Before(deadline)) {
			return c.take(), nil
		}
		if !time.Now().Before(deadline) {
			return nil, nil
		}
		if err := c.wait(ctx, deadline); err != nil {
			return nil, err
		}
	}
}

// take hands out up to max.poll.records buffered records and moves the
// positions past them.
func (c *Consumer) take() []Record {
	n := min(len(c.buffered), c.set.maxPollRecords)
	out := c.buffered[:n:n]
	c.buffered = c.buffered[n:]
	for _, r := range out {
		if ps := c.assigned[TopicPartition{Topic: r.Topic, Partition: r.Partition}]; ps != nil {
			ps.pos = r.Offset + 1
			ps.buffered--
		}
	}
	// Partitions whose buffered records are all handed out are positioned
	// at their fetch position (skipping compaction gaps and empty batches).
	// ps.buffered counts them: scanning the rest of the buffer instead
	// would make every Poll cost O(buffered records).
	for _, ps := range c.assigned {
		if ps.buffered == 0 && ps.fetchPos >= 0 {
			ps.pos = ps.fetchPos
		}
	}
	return out
}

// wait blocks until a partition gets data, a rebalance starts, the
// deadline passes, ctx ends or the consumer closes.
func (c *Consumer) wait(ctx context.Context, deadline time.Time) error {
	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	cases := []reflect.SelectCase{
		{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(ctx.Done())},
		{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(timer.C)},
		{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(c.closing)},
	}
	c.gmu.Lock()
	if c.rebalance != nil {
		cases = append(cases, reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(c.rebalance)})
	}
	c.gmu.Unlock()
	for _, tp := range c.order {
		ps := c.assigned[tp]
		if ps.paused || ps.fetchPos < 0 || ps.gone {
			continue
		}
		ch := ps.part.Changed()
		if ps.part.HighWatermark() > ps.fetchPos {
			return nil // data arrived since the fetch
		}
		cases = append(cases, reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(ch)})
	}
	chosen, _, _ := reflect.Select(cases)
	switch chosen {
	case 0:
		return ctx.Err()
	case 2:
		return fmt.Errorf("consumer: %w", commitlog.ErrClosed)
	}
	return nil
}

// fetch reads from every assigned, unpaused partition, starting with a
// different one each time so that none starves, and buffers the records.
// It returns the bytes fetched.
func (c *Consumer) fetch() (int, error) {
	budget := c.set.fetchMaxBytes
	total := 0
	// Every assigned partition gets a position (committed offset or
	// auto.offset.reset) even if this fetch stops early, so that Position
	// and commits cover it, as in Kafka.
	for _, tp := range c.order {
		if err := c.resolve(c.assigned[tp]); err != nil {
			return 0, err
		}
	}
	for i := range c.order {
		if budget <= 0 || len(c.buffered) >= c.set.maxPollRecords {
			break // enough for this poll; the rest waits for the next fetch
		}
		tp := c.order[(c.next+i)%len(c.order)]
		ps := c.assigned[tp]
		if ps.paused || ps.gone {
			continue
		}
		if hw := ps.part.HighWatermark(); hw < ps.fetchPos {
			// Past the end (a Seek, or a committed offset of a topic that
			// was created again): out of range, as a fetch there is in
			// Kafka. The high watermark never goes back, so this is no race.
			if err := c.reset(ps); err != nil {
				return total, err
			}
			if ps.part.HighWatermark() <= ps.fetchPos {
				continue
			}
		} else if hw == ps.fetchPos {
			continue
		}
		data, err := ps.part.Read(nil, ps.fetchPos, min(c.set.maxPartitionFetchBytes, budget))
		if errors.Is(err, commitlog.ErrOffsetOutOfRange) {
			if err := c.reset(ps); err != nil {
				return total, err
			}
			continue
		}
		if errors.Is(err, commitlog.ErrUnknownTopic) {
			// Deleted: the other partitions go on (a group rebalances it
			// away). Failing the Poll would starve them all.
			ps.gone = true
			c.b.Logger().Warn("assigned partition's topic was deleted; skipping it", "topic", tp.Topic, "partition", tp.Partition)
			continue
		}
		if err != nil {
			return total, fmt.Errorf("consumer: %w", err)
		}
		budget -= len(data)
		total += len(data)
		if err := c.decode(ps, data); err != nil {
			return total, err
		}
	}
	if len(c.order) > 0 {
		c.next = (c.next + 1) % len(c.order)
	}
	return total, nil
}

// decode buffers the records of data, fetched at ps.fetchPos, and moves
// ps.fetchPos past them. The log returns whole batches that start with the
// one holding the position, or on a compacted topic, whose cleaner may have
// removed it, with the first one after it; each batch then starts where
// the one before it ends (compacted: after it). Records of the first
// batch below the position were consumed before and are skipped. Any
// other data is damage: it is an error wrapping commitlog.ErrCorrupt,
// never records skipped or jumped to.
func (c *Consumer) decode(ps *partState, data []byte) error {
	var it record.Iterator
	compacted := ps.part.Log().Config().Compact
	at, first, prevLast := ps.fetchPos, true, int64(0)
	err := record.Batches(data, func(h *record.BatchHeader, raw []byte) error {
		last := h.LastOffset()
		switch {
		case last < h.BaseOffset: // overflows
			return fmt.Errorf("a batch fetched at offset %d spans %d more offsets than there are: %w", h.BaseOffset, h.LastOffsetDelta, commitlog.ErrCorrupt)
		case first && last < at:
			return fmt.Errorf("the first batch fetched (offsets %d-%d) ends below the position: %w", h.BaseOffset, last, commitlog.ErrCorrupt)
		case first && !compacted && h.BaseOffset > at:
			return fmt.Errorf("the first batch fetched (offsets %d-%d) starts after the position: %w", h.BaseOffset, last, commitlog.ErrCorrupt)
		case !first && (h.BaseOffset <= prevLast || !compacted && h.BaseOffset-1 != prevLast):
			return fmt.Errorf("a batch fetched at offset %d does not follow the one before it, which ends at %d: %w", h.BaseOffset, prevLast, commitlog.ErrCorrupt)
		}
		first, prevLast = false, last
		if h.Compression() != record.None {
			// The records alias the iterator's decompression buffer, which
			// the next compressed batch would overwrite: each compressed
			// batch gets a buffer of its own (data is this fetch's own).
			it = record.Iterator{}
		}
		if err := it.ResetChecked(h, raw); err != nil {
			return err
		}
		if h.IsControl() {
			ps.fetchPos = max(ps.fetchPos, h.NextOffset())
			return nil
		}
		for it.Next() {
			r := it.Record()
			if r.Offset < ps.fetchPos {
				continue
			}
			rec := Record{Topic: ps.tp.Topic, Partition: ps.tp.Partition, Offset: r.Offset, Key: r.Key, Value: r.Value,
				Timestamp: time.UnixMilli(r.Timestamp), TimestampType: h.TimestampType()}
			if len(r.Headers) > 0 {
				rec.Headers = slices.Clone(r.Headers)
			}
			c.buffered = append(c.buffered, rec)
			ps.buffered++
		}
		if it.Err() != nil {
			return it.Err()
		}
		ps.fetchPos = max(ps.fetchPos, h.NextOffset())
		return nil
	})
	if err != nil {
		return fmt.Errorf("consumer: %s-%d at offset %d: %w", ps.tp.Topic, ps.tp.Partition, ps.fetchPos, err)
	}
	return nil
}

// resolve gives a partition without a position one: its committed offset,
// or auto.offset.reset.
func (c *Consumer) resolve(ps *partState) error {
	if ps.fetchPos >= 0 {
		return nil
	}
	if c.coord != nil {
		if om, ok := c.coord.FetchOffsets(c.set.groupID, []TopicPartition{ps.tp})[ps.tp]; ok {
			ps.fetchPos, ps.pos = om.Offset, om.Offset
			return nil
		}
	}
	return c.reset(ps)
}

func (c *Consumer) reset(ps *partState) error {
	switch c.set.autoOffsetReset {
	case ResetEarliest:
		ps.fetchPos = ps.part.LogStartOffset()
	case ResetLatest:
		ps.fetchPos = ps.part.HighWatermark()
	default:
		return fmt.Errorf("consumer: %s-%d has no valid position and auto.offset.reset is none: %w", ps.tp.Topic, ps.tp.Partition, commitlog.ErrOffsetOutOfRange)
	}
	ps.pos = ps.fetchPos
	c.buffered = slices.DeleteFunc(c.buffered, func(r Record) bool { return r.Topic == ps.tp.Topic && r.Partition == ps.tp.Partition })
	ps.buffered = 0
	return nil
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
		owned := c.Assignment()
		if memberID != "" && errors.Is(c.coord.Heartbeat(c.set.groupID, memberID, gen), ErrUnknownMemberID) {
			// Removed from the group (session or poll timeout): another
			// member may own these partitions now.
			if len(owned) > 0 {
				c.callListener(func() { c.listener.OnPartitionsLost(ctx, c, owned) })
				c.removePartitions(owned)
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
			c.removePartitions(owned)
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
			if lost := c.Assignment(); len(lost) > 0 {
				c.callListener(func() { c.listener.OnPartitionsLost(ctx, c, lost) })
				c.removePartitions(lost)
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
		for _, tp := range c.Assignment() {
			if !newSet[tp] {
				revoked = append(revoked, tp)
			}
		}
		for _, tp := range res.Assignment {
			if c.assigned[tp] == nil {
				added = append(added, tp)
			}
		}
		if len(revoked) > 0 {
			// Cooperative: give up only what moves, then rejoin so the
			// partitions can be assigned to their new owners.
			c.callListener(func() { c.listener.OnPartitionsRevoked(ctx, c, revoked) })
			c.removePartitions(revoked)
			c.gmu.Lock()
			c.needRejoin = true
			c.gmu.Unlock()
			if c.closed.Load() {
				return fmt.Errorf("consumer: %w", commitlog.ErrClosed)
			}
		}
		for _, tp := range added {
			if err := c.addPartition(tp); err != nil {
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
	if err := c.commitInOrder(ctx, c.currentOffsets(), memberID, gen, c.commitSeq.Add(1)); err != nil {
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

// currentOffsets is what a commit of the positions stores: the position of
// every assigned partition that has one, except partitions whose topic was
// deleted (or deleted and created again: the position is in the old one),
// which would fail the whole commit.
func (c *Consumer) currentOffsets() map[TopicPartition]OffsetAndMetadata {
	out := map[TopicPartition]OffsetAndMetadata{}
	for tp, ps := range c.assigned {
		if ps.pos < 0 || ps.gone {
			continue
		}
		t, err := c.b.Topic(tp.Topic)
		if err != nil {
			continue
		}
		if p, err := t.Partition(tp.Partition); err != nil || p != ps.part {
			continue
		}
		out[tp] = OffsetAndMetadata{Offset: ps.pos}
	}
	return out
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
		offsets = c.currentOffsets()
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
		offsets = c.currentOffsets()
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

func (c *Consumer) state(tp TopicPartition) (*partState, error) {
	ps := c.assigned[tp]
	if ps == nil {
		return nil, fmt.Errorf("consumer: %s-%d is not assigned to this consumer: %w", tp.Topic, tp.Partition, commitlog.ErrUnknownPartition)
	}
	return ps, nil
}

// Seek sets the next offset Poll returns for an assigned partition. A
// negative offset is refused, as Kafka's seek refuses it.
func (c *Consumer) Seek(tp TopicPartition, offset int64) error {
	ps, err := c.state(tp)
	if err != nil {
		return err
	}
	if offset < 0 {
		return fmt.Errorf("consumer: seek %s-%d to negative offset %d: %w", tp.Topic, tp.Partition, offset, commitlog.ErrOffsetOutOfRange)
	}
	ps.fetchPos, ps.pos = offset, offset
	c.buffered = slices.DeleteFunc(c.buffered, func(r Record) bool { return r.Topic == tp.Topic && r.Partition == tp.Partition })
	ps.buffered = 0
	return nil
}

// SeekToBeginning moves partitions (all assigned when none given) to their
// log start offset.
func (c *Consumer) SeekToBeginning(tps ...TopicPartition) error {
	return c.seekEach(tps, func(ps *partState) int64 { return ps.part.LogStartOffset() })
}

// SeekToEnd moves partitions (all assigned when none given) to their high
// watermark.
func (c *Consumer) SeekToEnd(tps ...TopicPartition) error {
	return c.seekEach(tps, func(ps *partState) int64 { return ps.part.HighWatermark() })
}

func (c *Consumer) seekEach(tps []TopicPartition, to func(*partState) int64) error {
	if len(tps) == 0 {
		tps = c.Assignment()
	}
	for _, tp := range tps {
		ps, err := c.state(tp)
		if err != nil {
			return err
		}
		if err := c.Seek(tp, to(ps)); err != nil {
			return err
		}
	}
	return nil
}

// Position is the offset of the next record Poll returns for tp.
func (c *Consumer) Position(tp TopicPartition) (int64, error) {
	ps, err := c.state(tp)
	if err != nil {
		return 0, err
	}
	if err := c.resolve(ps); err != nil {
		return 0, err
	}
	return ps.pos, nil
}

// OffsetsForTimes returns, for each partition, the first offset whose
// timestamp is at or after the given time (nil when there is none), as
// Kafka's offsetsForTimes. The partitions need not be assigned.
func (c *Consumer) OffsetsForTimes(times map[TopicPartition]time.Time) (map[TopicPartition]*OffsetAndTimestamp, error) {
	out := map[TopicPartition]*OffsetAndTimestamp{}
	for tp, ts := range times {
		t, err := c.b.Topic(tp.Topic)
		if err != nil {
			return nil, err
		}
		p, err := t.Partition(tp.Partition)
		if err != nil {
			return nil, err
		}
		off, at, found, err := p.OffsetForTimestamp(ts.UnixMilli())
		if err != nil {
			return nil, err
		}
		if found {
			out[tp] = &OffsetAndTimestamp{Offset: off, Timestamp: time.UnixMilli(at)}
		} else {
			out[tp] = nil
		}
	}
	return out, nil
}

// Pause stops fetching from partitions until Resume; the group membership
// is kept.
func (c *Consumer) Pause(tps ...TopicPartition) error {
	return c.setPaused(tps, true)
}

// Resume undoes Pause.
func (c *Consumer) Resume(tps ...TopicPartition) error {
	return c.setPaused(tps, false)
}

func (c *Consumer) setPaused(tps []TopicPartition, paused bool) error {
	for _, tp := range tps {
		ps, err := c.state(tp)
		if err != nil {
			return err
		}
		ps.paused = paused
		if paused {
			c.buffered = slices.DeleteFunc(c.buffered, func(r Record) bool { return r.Topic == tp.Topic && r.Partition == tp.Partition })
			ps.buffered = 0
			ps.fetchPos = ps.pos
		}
	}
	return nil
}

// Paused lists the paused partitions.
func (c *Consumer) Paused() []TopicPartition {
	var out []TopicPartition
	for tp, ps := range c.assigned {
		if ps.paused {
			out = append(out, tp)
		}
	}
	sortTPs(out)
	return out
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
		owned := c.Assignment()
		if errors.Is(c.coord.Heartbeat(c.set.groupID, memberID, gen), ErrUnknownMemberID) {
			c.callListener(func() { c.listener.OnPartitionsLost(ctx, c, owned) })
		} else {
			c.commitBeforeRevoke(ctx, memberID, gen)
			c.callListener(func() { c.listener.OnPartitionsRevoked(ctx, c, owned) })
			c.coord.LeaveGroup(c.set.groupID, memberID)
		}
	} else if c.getMode() == modeAssign && c.coord != nil && c.set.autoCommit {
		c.closeErr = c.commitInOrder(ctx, c.currentOffsets(), "", -1, c.commitSeq.Add(1))
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
