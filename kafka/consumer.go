package kafka

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/commitlog-go/commitlog"
	"github.com/commitlog-go/commitlog/assignor"
	"github.com/commitlog-go/commitlog/consumer"
	"github.com/commitlog-go/commitlog/internal/callorder"
	"github.com/commitlog-go/commitlog/record"
)

// This file is the consumer driver: consumer.New(cluster, cfg) makes a
// consumer.Consumer whose every call runs here, on a kgo.Client of its
// own. OpenConsumerDriver's doc has the mapping of settings and calls.

var _ consumer.DriverOpener = (*Cluster)(nil)

type (
	tp = consumer.TopicPartition
	om = consumer.OffsetAndMetadata
)

// OpenConsumerDriver implements consumer.DriverOpener: consumer.New calls
// it with the config checked and its defaults filled in. Applications do
// not call it. The settings that cannot be mapped fail here.
//
// Each consumer has a kgo.Client of its own (made by its first Subscribe
// or Assign, closed by its Close), built from Cluster.ClientOptions. The
// settings map to kgo as follows:
//
//	group.id                       kgo.ConsumerGroup (Subscribe); commits and Committed in any mode
//	auto.offset.reset              kgo.ConsumeResetOffset: earliest NewOffset().AtStart(), latest AtEnd(),
//	                               none NoResetOffset(); a partition with no committed offset fails Poll and
//	                               Position with ErrOffsetOutOfRange until a Seek (kgo would start it at the log start)
//	enable.auto.commit,            the driver's, not kgo's (kgo.DisableAutoCommit): Poll commits the positions
//	auto.commit.interval.ms        every interval (CommitAsync), and before partitions are revoked and in Close
//	                               (CommitSync), as on the embedded backend
//	max.poll.records               PollRecords' maximum
//	fetch.max.bytes                kgo.FetchMaxBytes
//	max.partition.fetch.bytes      kgo.FetchMaxPartitionBytes
//	fetch.min.bytes                kgo.FetchMinBytes
//	fetch.max.wait.ms              Poll's own wait; kgo.FetchMaxWait (the broker's) is at least kgo's floor of 10 ms
//	session.timeout.ms             kgo.SessionTimeout (kgo refuses < 100 ms: ErrInvalidConfig)
//	heartbeat.interval.ms          kgo.HeartbeatInterval
//	max.poll.interval.ms           kgo.RebalanceTimeout, as the Java client sends it: how long the group waits in a
//	                               rebalance for the member to Poll (which runs its listeners) before removing it.
//	                               kgo heartbeats from its own goroutine, so a member that stops polling outside a
//	                               rebalance is not removed (refused < 100 ms: ErrInvalidConfig)
//	partition.assignment.strategy  by name: range kgo.RangeBalancer, roundrobin RoundRobinBalancer, sticky
//	                               StickyBalancer, cooperative-sticky CooperativeStickyBalancer; any other
//	                               assignor.Assignor (the application's own) is refused with errors.ErrUnsupported
//
// and the calls:
//
//	Subscribe        ConsumeTopics (again: AddConsumeTopics, PurgeTopicsFromConsuming for the topics dropped).
//	                 kgo's OnPartitionsAssigned/Revoked/Lost hand the event to the polling goroutine and wait:
//	                 the listener runs inside the next Poll (or Close), kgo goes on when it returns
//	Assign           direct consuming: AddConsumePartitions at the committed offset or auto.offset.reset's,
//	                 looked up by the next Poll or Position; RemoveConsumePartitions for those dropped;
//	                 unknown topics and partitions are refused (ListTopics)
//	Poll, PollInto   PollRecords, records converted (headers, timestamp, TimestampType); records of partitions
//	                 not assigned, paused or before a Seek's offset are left out
//	Seek             SetOffsets; SeekToBeginning, SeekToEnd: kadm ListStartOffsets, ListEndOffsets, then Seek
//	Position         the offset after the last record returned; before one, the committed offset or
//	                 auto.offset.reset's, which kgo is set to (SetOffsets) so that both agree
//	Pause, Resume    PauseFetchPartitions, ResumeFetchPartitions
//	CommitSync       subscribed: CommitOffsetsSync as the member (the metadata set by PreCommitFnContext);
//	                 otherwise kadm CommitOffsets as no member, which Kafka refuses with UNKNOWN_MEMBER_ID while
//	                 the group has members: ErrIllegalGeneration, as on the embedded backend. A missing topic or
//	                 partition fails with ErrUnknownTopic or ErrUnknownPartition (told apart by ListTopics after
//	                 Kafka's UNKNOWN_TOPIC_OR_PARTITION), but Kafka may have written the commit's other entries
//	CommitAsync      the driver's commit goroutine, in order, with CommitSync's writes
//	Committed        kadm FetchOffsets
//	OffsetsForTimes  kadm ListOffsetsAfterMilli, one request per distinct time; nil where no record is at or after it
//	EndOffsets       kadm ListEndOffsets (the high watermark) of any partitions; Lag is the Consumer's, from Position and EndOffsets
//	MemberID         GroupMetadata
//	Close            final commit, OnPartitionsRevoked, queued commits, then kgo's Close, which leaves the group
func (c *Cluster) OpenConsumerDriver(cfg consumer.Config) (consumer.Driver, error) {
	d := &kconsumer{
		cluster:  c,
		cfg:      cfg,
		assigned: map[tp]*kpart{},
		closeCh:  make(chan struct{}),
		stopped:  make(chan struct{}),
		work:     make(chan struct{}, 1),
	}
	var err error
	if d.base, err = consumerOptions(cfg); err != nil {
		return nil, err
	}
	if d.balancers, err = balancers(cfg.Assignors); err != nil {
		return nil, err
	}
	// Check the options as a group member would use them, so that a bad
	// one fails New rather than Subscribe.
	check := d.base
	if cfg.GroupID != "" {
		check = append(slices.Clone(d.base), d.groupOptions(nil)...)
	}
	if err := kgo.ValidateOpts(c.ClientOptions(check...)...); err != nil {
		return nil, fmt.Errorf("consumer: kafka: %w: %w", commitlog.ErrInvalidConfig, err)
	}
	d.lastAutoCommit = time.Now()
	go d.commitLoop()
	return d, nil
}

// consumerOptions maps the fetch settings, auto.offset.reset and client.id.
func consumerOptions(cfg consumer.Config) ([]kgo.Opt, error) {
	var reset kgo.Offset
	switch cfg.AutoOffsetReset {
	case consumer.ResetEarliest:
		reset = kgo.NewOffset().AtStart()
	case consumer.ResetLatest:
		reset = kgo.NewOffset().AtEnd()
	case consumer.ResetNone:
		// A partition without a committed offset is the driver's to
		// refuse (kgo would start it at the log start); out of range
		// later, kgo's NoResetOffset fails the partition.
		reset = kgo.NoResetOffset()
	default:
		return nil, fmt.Errorf("consumer: kafka: auto.offset.reset %q: %w", cfg.AutoOffsetReset, commitlog.ErrInvalidConfig)
	}
	opts := []kgo.Opt{
		kgo.ConsumeResetOffset(reset),
		kgo.FetchMaxBytes(int32(*cfg.FetchMaxBytes)),
		kgo.FetchMaxPartitionBytes(int32(*cfg.MaxPartitionFetchBytes)),
		kgo.FetchMinBytes(int32(*cfg.FetchMinBytes)),
		// kgo's floor is 10 ms; Poll's own wait is fetch.max.wait.ms,
		// 0 included.
		kgo.FetchMaxWait(max(*cfg.FetchMaxWait, 10*time.Millisecond)),
	}
	if cfg.ClientID != "" {
		opts = append(opts, kgo.ClientID(cfg.ClientID)) // over the cluster's
	}
	return opts, nil
}

// balancers maps partition.assignment.strategy to kgo's balancers, by
// name; an assignor that is not one of package assignor's built-ins is
// refused: kgo runs its own implementations of the four strategies.
func balancers(as []assignor.Assignor) ([]kgo.GroupBalancer, error) {
	var out []kgo.GroupBalancer
	for _, a := range as {
		builtin, err := assignor.ByName(a.Name())
		if err != nil || builtin != a {
			return nil, fmt.Errorf("consumer: kafka: partition.assignment.strategy %q (%T): only the built-in assignors (range, roundrobin, sticky, cooperative-sticky) run on Kafka: %w",
				a.Name(), a, errors.ErrUnsupported)
		}
		switch a.Name() {
		case "range":
			out = append(out, kgo.RangeBalancer())
		case "roundrobin":
			out = append(out, kgo.RoundRobinBalancer())
		case "sticky":
			out = append(out, kgo.StickyBalancer())
		case "cooperative-sticky":
			out = append(out, kgo.CooperativeStickyBalancer())
		}
	}
	return out, nil
}

// kconsumer is the consumer driver on Kafka.
//
// Like the embedded consumer it belongs to its polling goroutine: Poll,
// Seek, Assign, ... come from it (or from the listener Poll runs on it),
// Close from any goroutine. kgo runs its rebalance callbacks on its own
// goroutines: each hands its event to the polling goroutine (the events
// queue, waking a waiting Poll) and waits until Poll has run the
// application's listener, so that listeners run inside Poll as on the
// embedded backend, and kgo goes on with the rebalance (fetching the
// partitions' offsets, giving up revoked ones) only after them. Once Close
// has begun the callbacks no longer wait, so kgo's Close, which waits for
// them, never waits for the application.
type kconsumer struct {
	cluster   *Cluster
	cfg       consumer.Config // filled in by consumer.New
	base      []kgo.Opt       // fetch settings and auto.offset.reset
	balancers []kgo.GroupBalancer

	// mu guards the fields below; it is never held while kgo is called or
	// application code runs.
	mu           sync.Mutex
	cl           *kgo.Client // nil until Subscribe or Assign makes it
	mode         int         // modeNone, modeSubscribe, modeAssign
	topics       []string    // subscribed
	onRebalance  func(context.Context, consumer.RebalanceEvent, []tp)
	assigned     map[tp]*kpart
	events       []*rebalance       // kgo callbacks waiting for Poll
	wake         context.CancelFunc // ends the PollRecords that Poll waits in
	inListener   int                // listener calls running (a Close in one runs OnPartitionsRevoked: nested)
	closing      bool               // Close began
	finishInPoll bool               // a Close came while a listener ran: the Poll running it closes when it returns
	closed       bool               // closed: Close is done with the group and the client

	closeCh chan struct{} // closed when Close begins: kgo callbacks stop waiting

	lastAutoCommit time.Time // the polling goroutine's
	pollErr        error     // the polling goroutine's: a partition's error held back while the records with it are returned

	// The commit queue: CommitAsync's commits, written in order by the
	// commit goroutine; commitMu is held while a commit is written, so
	// that sync and async commits are written one at a time, in order.
	// takeMu is held from taking a queued commit to the end of its write,
	// so that queued commits are written in the order made, whoever takes
	// them (the goroutine or a Close); it comes before qmu and commitMu.
	// turns runs their callbacks in that order (package callorder).
	takeMu   sync.Mutex
	turns    callorder.Turns
	commitMu sync.Mutex
	written  map[tp]uint64 // guarded by commitMu: per partition, the number of the last commit written
	qmu      sync.Mutex    // guards made, queue, qclosed, flushers
	made     uint64
	queue    []asyncCommit
	qclosed  bool
	flushers int           // Close calls writing the queue themselves: the commit goroutine leaves it to them
	work     chan struct{} // cap 1: the queue changed
	stopped  chan struct{} // closed when the commit goroutine returns
}

const (
	modeNone = iota
	modeSubscribe
	modeAssign
)

// kpart is an assigned partition.
type kpart struct {
	pos    int64 // the next offset Poll returns; -1: not known yet (committed offset or auto.offset.reset)
	paused bool
	noPos  bool // auto.offset.reset=none and no committed offset: Poll fails until a Seek
	inKgo  bool // Assign mode: handed to kgo (AddConsumePartitions)
}

type rebalance struct {
	ev   consumer.RebalanceEvent
	tps  []tp
	done chan struct{}
}

type asyncCommit struct {
	offsets map[tp]om
	seq     uint64
	cb      func(map[tp]om, error)
}

// listenerKey marks the ctx of a listener call, with its driver.
type listenerKey struct{}

func errClosed() error { return fmt.Errorf("consumer: %w", commitlog.ErrClosed) }

// groupOptions are the options of a group member subscribed to topics.
func (d *kconsumer) groupOptions(topics []string) []kgo.Opt {
	opts := []kgo.Opt{
		kgo.ConsumerGroup(d.cfg.GroupID),
		kgo.Balancers(d.balancers...),
		kgo.SessionTimeout(d.cfg.SessionTimeout),
		kgo.HeartbeatInterval(d.cfg.HeartbeatInterval),
		// max.poll.interval.ms is what the Java client sends as the
		// rebalance timeout: how long the group waits for a member to
		// rejoin, i.e. to call Poll, which runs the listeners.
		kgo.RebalanceTimeout(d.cfg.MaxPollInterval),
		// Auto-commit is the driver's (in Poll, before revoking, in Close),
		// on the positions Poll returned, as on the embedded backend.
		kgo.DisableAutoCommit(),
		kgo.OnPartitionsAssigned(func(_ context.Context, _ *kgo.Client, m map[string][]int32) {
			d.handOff(consumer.PartitionsAssigned, m)
		}),
		kgo.OnPartitionsRevoked(func(_ context.Context, _ *kgo.Client, m map[string][]int32) {
			d.handOff(consumer.PartitionsRevoked, m)
		}),
		kgo.OnPartitionsLost(func(_ context.Context, _ *kgo.Client, m map[string][]int32) {
			d.handOff(consumer.PartitionsLost, m)
		}),
	}
	if len(topics) > 0 {
		opts = append(opts, kgo.ConsumeTopics(topics...))
	}
	return opts
}

// newClient makes the consumer's kgo client.
func (d *kconsumer) newClient(extra []kgo.Opt) (*kgo.Client, error) {
	opts := append(slices.Clone(d.base), extra...)
	cl, err := kgo.NewClient(d.cluster.ClientOptions(opts...)...)
	if err != nil {
		return nil, fmt.Errorf("consumer: kafka client: %w: %w", commitlog.ErrInvalidConfig, err)
	}
	return cl, nil
}

// handOff runs on kgo's goroutine, in a rebalance callback: it queues the
// event for Poll and waits until Poll has run the listener, or Close
// begins.
func (d *kconsumer) handOff(ev consumer.RebalanceEvent, m map[string][]int32) {
	r := &rebalance{ev: ev, tps: toTPs(m), done: make(chan struct{})}
	d.mu.Lock()
	if d.closing {
		d.mu.Unlock()
		return
	}
	d.events = append(d.events, r)
	wake := d.wake
	d.mu.Unlock()
	if wake != nil {
		wake()
	}
	select {
	case <-r.done:
	case <-d.closeCh:
	}
}

func toTPs(m map[string][]int32) []tp {
	var out []tp
	for t, ps := range m {
		for _, p := range ps {
			out = append(out, tp{Topic: t, Partition: p})
		}
	}
	sortTPs(out)
	return out
}

func sortTPs(tps []tp) { slices.SortFunc(tps, tp.Compare) }

func kmap(tps []tp) map[string][]int32 {
	m := map[string][]int32{}
	for _, t := range tps {
		m[t.Topic] = append(m[t.Topic], t.Partition)
	}
	return m
}

// Subscribe joins the group; the first Subscribe makes the client.
func (d *kconsumer) Subscribe(topics []string, onRebalance func(context.Context, consumer.RebalanceEvent, []tp)) error {
	d.mu.Lock()
	if d.closing {
		d.mu.Unlock()
		return errClosed()
	}
	if d.mode == modeAssign {
		d.mu.Unlock()
		return fmt.Errorf("consumer: Subscribe after Assign: %w", commitlog.ErrInvalidConfig)
	}
	d.onRebalance = onRebalance
	cl, old := d.cl, d.topics
	d.mode, d.topics = modeSubscribe, slices.Clone(topics)
	d.mu.Unlock()
	if cl == nil {
		cl, err := d.newClient(d.groupOptions(topics))
		if err != nil {
			return err
		}
		d.mu.Lock()
		d.cl = cl
		d.mu.Unlock()
		return nil
	}
	var gone []string
	for _, t := range old {
		if !slices.Contains(topics, t) {
			gone = append(gone, t)
		}
	}
	if len(gone) > 0 {
		cl.PurgeTopicsFromConsuming(gone...)
	}
	cl.AddConsumeTopics(topics...)
	return nil
}

// Assign consumes exactly tps, outside any group: kgo consumes them
// directly (AddConsumePartitions), from their committed offset (with a
// group.id) or auto.offset.reset, which the next Poll or Position looks up.
func (d *kconsumer) Assign(tps []tp) error {
	d.mu.Lock()
	if d.closing {
		d.mu.Unlock()
		return errClosed()
	}
	if d.mode == modeSubscribe {
		d.mu.Unlock()
		return fmt.Errorf("consumer: Assign after Subscribe: %w", commitlog.ErrInvalidConfig)
	}
	d.mode = modeAssign
	cl := d.cl
	d.mu.Unlock()
	if err := d.checkPartitions(slices.Clone(tps)); err != nil {
		return fmt.Errorf("consumer: assign: %w", err)
	}
	if cl == nil {
		var err error
		if cl, err = d.newClient(nil); err != nil {
			return err
		}
	}
	d.mu.Lock()
	d.cl = cl
	var drop []tp
	for t, p := range d.assigned {
		if p.inKgo {
			drop = append(drop, t)
		}
	}
	d.assigned = map[tp]*kpart{}
	for _, t := range tps {
		d.assigned[t] = &kpart{pos: -1}
	}
	d.mu.Unlock()
	if len(drop) > 0 {
		cl.RemoveConsumePartitions(kmap(drop))
	}
	return nil
}

// checkPartitions fails with ErrUnknownTopic or ErrUnknownPartition, as the
// embedded Assign and commits do, unless every partition exists.
func (d *kconsumer) checkPartitions(tps []tp) error {
	if len(tps) == 0 {
		return nil
	}
	sortTPs(tps) // the first missing one is named, the same each time
	var topics []string
	for _, t := range tps {
		if !slices.Contains(topics, t.Topic) {
			topics = append(topics, t.Topic)
		}
	}
	ctx, cancel := d.requestCtx()
	defer cancel()
	details, err := d.cluster.Admin().ListTopics(ctx, topics...)
	if err != nil {
		return consumerErr("list topics", err)
	}
	for _, t := range tps {
		td, ok := details[t.Topic]
		if !ok || td.Err != nil {
			return fmt.Errorf("consumer: %s: %w", t, commitlog.ErrUnknownTopic)
		}
		if _, ok := td.Partitions[t.Partition]; !ok {
			return fmt.Errorf("consumer: %s: %w", t, commitlog.ErrUnknownPartition)
		}
	}
	return nil
}

// requestCtx bounds a request made by a call that takes no ctx; it ends
// early when the consumer closes.
func (d *kconsumer) requestCtx() (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	stop := context.AfterFunc(d.closedCtx(), cancel)
	return ctx, func() { stop(); cancel() }
}

// closedCtx is done once the consumer's client is closed.
func (d *kconsumer) closedCtx() context.Context {
	d.mu.Lock()
	cl := d.cl
	d.mu.Unlock()
	if cl == nil {
		return context.Background()
	}
	return cl.Context()
}

// Assignment returns the assigned partitions, sorted.
func (d *kconsumer) Assignment() []tp {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := slices.Collect(maps.Keys(d.assigned))
	sortTPs(out)
	return out
}

// MemberID is kgo's member id and generation, "" and -1 outside a group.
func (d *kconsumer) MemberID() (string, int32) {
	d.mu.Lock()
	cl, m := d.cl, d.mode
	d.mu.Unlock()
	if cl == nil || m != modeSubscribe {
		return "", -1
	}
	return cl.GroupMetadata()
}

// Poll runs the pending listeners, then returns kgo's records, converted.
func (d *kconsumer) Poll(ctx context.Context, dst []consumer.Record, keep bool) ([]consumer.Record, error) {
	d.mu.Lock()
	switch {
	case d.closing && !d.finishInPoll:
		d.mu.Unlock()
		return dst, errClosed()
	case d.inListener > 0:
		d.mu.Unlock()
		return dst, consumer.ErrPollInListener
	}
	d.mu.Unlock()
	if err := d.pollErr; err != nil {
		d.pollErr = nil
		return dst, err
	}
	deadline := time.Now().Add(*d.cfg.FetchMaxWait)
	for {
		if err := d.runEvents(ctx); err != nil {
			return dst, err
		}
		d.mu.Lock()
		cl, closing := d.cl, d.closing
		d.mu.Unlock()
		if closing {
			return dst, errClosed()
		}
		if cl == nil { // neither subscribed nor assigned: nothing to read
			if err := d.sleep(ctx, deadline); err != nil {
				return dst, err
			}
			return dst, nil
		}
		if err := d.ensurePositions(cl); err != nil {
			return dst, err
		}
		d.maybeAutoCommit()
		fs := d.pollRecords(ctx, cl, deadline)
		out, err := d.convert(fs, dst)
		if err != nil || len(out) > len(dst) {
			return out, err
		}
		if err := ctx.Err(); err != nil {
			return dst, fmt.Errorf("consumer: poll: %w", err)
		}
		d.mu.Lock()
		pending := len(d.events) > 0
		d.mu.Unlock()
		if !pending && !time.Now().Before(deadline) {
			return dst, nil
		}
	}
}

// pollRecords waits in kgo's PollRecords until records come, the deadline
// passes, or a rebalance callback wakes it.
func (d *kconsumer) pollRecords(ctx context.Context, cl *kgo.Client, deadline time.Time) kgo.Fetches {
	if !time.Now().Before(deadline) {
		var drain context.Context // nil: kgo returns what it has buffered, at once
		return cl.PollRecords(drain, d.cfg.MaxPollRecords)
	}
	pctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	d.mu.Lock()
	if len(d.events) > 0 || d.closing {
		d.mu.Unlock()
		return nil
	}
	d.wake = cancel
	d.mu.Unlock()
	fs := cl.PollRecords(pctx, d.cfg.MaxPollRecords)
	d.mu.Lock()
	d.wake = nil
	d.mu.Unlock()
	return fs
}

// sleep waits until deadline, ctx's end or Close.
func (d *kconsumer) sleep(ctx context.Context, deadline time.Time) error {
	t := time.NewTimer(time.Until(deadline))
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("consumer: poll: %w", ctx.Err())
	case <-d.closeCh:
		return errClosed()
	}
}

// convert appends fs's records to dst, keeping only those of assigned,
// unpaused partitions at or after their position, and moves the
// positions past them; a partition error fails the poll.
func (d *kconsumer) convert(fs kgo.Fetches, dst []consumer.Record) (_ []consumer.Record, err error) {
	var ferr error
	fs.EachError(func(t string, p int32, err error) {
		switch {
		case ferr != nil:
		case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
			// Poll's own wait ended (deadline, a rebalance callback);
			// the caller's ctx is checked by Poll.
		default:
			if t == "" {
				ferr = consumerErr("poll", err)
			} else {
				ferr = consumerErr(fmt.Sprintf("poll %s-%d", t, p), err)
			}
		}
	})
	if errors.Is(ferr, commitlog.ErrClosed) {
		return dst, errClosed()
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	n := len(dst)
	defer func() {
		// A partition's error comes with the other partitions' records:
		// they are returned first, the error by the next Poll.
		switch {
		case ferr == nil:
		case len(dst) > n:
			d.pollErr = ferr
		default:
			err = ferr
		}
	}()
	fs.EachRecord(func(r *kgo.Record) {
		p := d.assigned[tp{Topic: r.Topic, Partition: r.Partition}]
		if p == nil || p.paused || p.noPos || r.Offset < p.pos {
			return
		}
		p.pos = r.Offset + 1
		rec := consumer.Record{
			Topic: r.Topic, Partition: r.Partition, Offset: r.Offset,
			Key: r.Key, Value: r.Value, Timestamp: r.Timestamp,
		}
		if r.Attrs.TimestampType() == 1 {
			rec.TimestampType = record.LogAppendTime
		}
		if len(r.Headers) > 0 {
			rec.Headers = make([]record.Header, len(r.Headers))
			for i, h := range r.Headers {
				rec.Headers[i] = record.Header{Key: h.Key, Value: h.Value}
			}
		}
		dst = append(dst, rec)
	})
	return dst, err
}

// runEvents runs, on the polling goroutine, the listeners of the
// rebalances kgo handed over, and lets kgo go on after each.
func (d *kconsumer) runEvents(ctx context.Context) error {
	for {
		d.mu.Lock()
		if d.finishInPoll {
			d.mu.Unlock()
			_ = d.shutdown(context.WithoutCancel(ctx))
			return errClosed()
		}
		if d.closing {
			d.mu.Unlock()
			return errClosed()
		}
		if len(d.events) == 0 {
			d.mu.Unlock()
			return nil
		}
		r := d.events[0]
		d.events = d.events[1:]
		// Counted from here, not only while the listener runs, so that
		// a Close from another goroutine finds the event in hand and
		// leaves the closing to this Poll.
		d.inListener++
		d.mu.Unlock()
		d.apply(ctx, r)
		d.mu.Lock()
		d.inListener--
		d.mu.Unlock()
		close(r.done)
	}
}

// apply is one rebalance event: the partitions' state, the commit before
// a revoke (enable.auto.commit) and the listener.
func (d *kconsumer) apply(ctx context.Context, r *rebalance) {
	switch r.ev {
	case consumer.PartitionsRevoked, consumer.PartitionsLost:
		d.mu.Lock()
		var tps []tp
		for _, t := range r.tps {
			if d.assigned[t] != nil {
				tps = append(tps, t)
			}
		}
		d.mu.Unlock()
		if len(tps) == 0 {
			return
		}
		if r.ev == consumer.PartitionsRevoked {
			d.commitBeforeRevoke(ctx)
		}
		d.callListener(ctx, r.ev, tps)
		d.mu.Lock()
		for _, t := range tps {
			delete(d.assigned, t)
		}
		d.mu.Unlock()
	case consumer.PartitionsAssigned:
		var added []tp
		d.mu.Lock()
		for _, t := range r.tps {
			if d.assigned[t] == nil {
				d.assigned[t] = &kpart{pos: -1}
				added = append(added, t)
			}
		}
		d.mu.Unlock()
		if d.cfg.AutoOffsetReset == consumer.ResetNone && len(added) > 0 {
			d.markUncommitted(added)
		}
		d.callListener(ctx, r.ev, added)
	}
}

// markUncommitted marks the partitions of added that have no committed
// offset (auto.offset.reset=none): kgo would start them at the log
// start, Kafka's consumer fails them.
func (d *kconsumer) markUncommitted(added []tp) {
	ctx, cancel := d.requestCtx()
	defer cancel()
	committed, err := d.Committed(ctx, added)
	if err != nil {
		d.cluster.Logger().Warn("consumer: committed offsets of assigned partitions", "group", d.cfg.GroupID, "err", err)
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, t := range added {
		if _, ok := committed[t]; !ok {
			if p := d.assigned[t]; p != nil && p.pos < 0 {
				p.noPos = true
			}
		}
	}
}

func (d *kconsumer) callListener(ctx context.Context, ev consumer.RebalanceEvent, tps []tp) {
	d.mu.Lock()
	on := d.onRebalance
	if on == nil {
		d.mu.Unlock()
		return
	}
	d.inListener++
	d.mu.Unlock()
	defer func() {
		d.mu.Lock()
		d.inListener--
		d.mu.Unlock()
	}()
	on(context.WithValue(ctx, listenerKey{}, d), ev, tps)
}

// ensurePositions gives the partitions assigned in Assign mode their
// position and hands them to kgo, and fails while a partition has no
// position under auto.offset.reset=none.
func (d *kconsumer) ensurePositions(cl *kgo.Client) error {
	d.mu.Lock()
	var todo []tp
	for t, p := range d.assigned {
		if p.noPos {
			d.mu.Unlock()
			return fmt.Errorf("consumer: %s has no committed offset and auto.offset.reset is none: %w", t, commitlog.ErrOffsetOutOfRange)
		}
		if d.mode == modeAssign && !p.inKgo {
			todo = append(todo, t)
		}
	}
	d.mu.Unlock()
	if len(todo) == 0 {
		return nil
	}
	sortTPs(todo)
	add := map[string]map[int32]kgo.Offset{}
	for _, t := range todo {
		pos, err := d.Position(t)
		if err != nil {
			return err
		}
		if add[t.Topic] == nil {
			add[t.Topic] = map[int32]kgo.Offset{}
		}
		add[t.Topic][t.Partition] = kgo.NewOffset().At(pos)
	}
	d.mu.Lock()
	for _, t := range todo {
		if p := d.assigned[t]; p != nil {
			p.inKgo = true
		}
	}
	d.mu.Unlock()
	cl.AddConsumePartitions(add)
	return nil
}

func (d *kconsumer) part(t tp) (*kpart, error) {
	p := d.assigned[t]
	if p == nil {
		return nil, fmt.Errorf("consumer: %s is not assigned to this consumer: %w", t, commitlog.ErrUnknownPartition)
	}
	return p, nil
}

// Seek sets the position and tells kgo (SetOffsets), which fetches from
// there; in Assign mode a partition not handed to kgo yet starts there.
func (d *kconsumer) Seek(t tp, offset int64) error {
	d.mu.Lock()
	p, err := d.part(t)
	if err != nil {
		d.mu.Unlock()
		return err
	}
	if offset < 0 {
		d.mu.Unlock()
		return fmt.Errorf("consumer: seek %s to negative offset %d: %w", t, offset, commitlog.ErrOffsetOutOfRange)
	}
	p.pos, p.noPos = offset, false
	cl, inKgo := d.cl, d.mode == modeSubscribe || p.inKgo
	d.mu.Unlock()
	if inKgo {
		cl.SetOffsets(map[string]map[int32]kgo.EpochOffset{t.Topic: {t.Partition: {Epoch: -1, Offset: offset}}})
	}
	return nil
}

// SeekToBeginning seeks to the log start offsets (ListStartOffsets).
func (d *kconsumer) SeekToBeginning(tps ...tp) error {
	return d.seekEach(tps, (*kadm.Client).ListStartOffsets)
}

// SeekToEnd seeks to the high watermarks (ListEndOffsets).
func (d *kconsumer) SeekToEnd(tps ...tp) error {
	return d.seekEach(tps, (*kadm.Client).ListEndOffsets)
}

func (d *kconsumer) seekEach(tps []tp, list func(*kadm.Client, context.Context, ...string) (kadm.ListedOffsets, error)) error {
	if len(tps) == 0 {
		tps = d.Assignment()
	}
	d.mu.Lock()
	for _, t := range tps {
		if _, err := d.part(t); err != nil {
			d.mu.Unlock()
			return err
		}
	}
	d.mu.Unlock()
	offs, err := d.listOffsets(tps, list)
	if err != nil {
		return err
	}
	for _, t := range tps {
		if err := d.Seek(t, offs[t]); err != nil {
			return err
		}
	}
	return nil
}

func (d *kconsumer) listOffsets(tps []tp, list func(*kadm.Client, context.Context, ...string) (kadm.ListedOffsets, error)) (map[tp]int64, error) {
	ctx, cancel := d.requestCtx()
	defer cancel()
	return d.listOffsetsCtx(ctx, "list offsets", tps, list)
}

// listOffsetsCtx lists the offsets of tps with list (a kadm ListOffsets
// form) on the cluster's admin client under ctx; what names the call in
// errors.
func (d *kconsumer) listOffsetsCtx(ctx context.Context, what string, tps []tp, list func(*kadm.Client, context.Context, ...string) (kadm.ListedOffsets, error)) (map[tp]int64, error) {
	var topics []string
	for _, t := range tps {
		if !slices.Contains(topics, t.Topic) {
			topics = append(topics, t.Topic)
		}
	}
	lo, err := list(d.cluster.Admin(), ctx, topics...)
	if err != nil {
		return nil, consumerErr(what, err)
	}
	out := make(map[tp]int64, len(tps))
	for _, t := range tps {
		o, ok := lo.Lookup(t.Topic, t.Partition)
		switch {
		case !ok:
			return nil, missingPartition(what, lo, t)
		case o.Err != nil:
			return nil, consumerErr(what+" of "+t.String(), o.Err)
		}
		out[t] = o.Offset
	}
	return out, nil
}

// missingPartition is the error for a partition a listing lacks: kadm
// lists a missing topic as its partition -1 with the error.
func missingPartition(what string, lo kadm.ListedOffsets, t tp) error {
	if e, ok := lo.Lookup(t.Topic, -1); ok && e.Err != nil {
		return consumerErr(what+" of "+t.String(), e.Err)
	}
	if _, ok := lo[t.Topic]; !ok {
		return fmt.Errorf("consumer: %s of %s: %w", what, t, commitlog.ErrUnknownTopic)
	}
	return fmt.Errorf("consumer: %s of %s: %w", what, t, commitlog.ErrUnknownPartition)
}

// Position is the next offset Poll returns; before the first record it is
// the committed offset, else auto.offset.reset's (ListStartOffsets or
// ListEndOffsets), which kgo is then set to (SetOffsets) so that both
// agree.
func (d *kconsumer) Position(t tp) (int64, error) {
	d.mu.Lock()
	p, err := d.part(t)
	if err != nil {
		d.mu.Unlock()
		return 0, err
	}
	pos, noPos := p.pos, p.noPos
	d.mu.Unlock()
	if noPos {
		return 0, fmt.Errorf("consumer: %s has no committed offset and auto.offset.reset is none: %w", t, commitlog.ErrOffsetOutOfRange)
	}
	if pos >= 0 {
		return pos, nil
	}
	if pos, err = d.resolve(t); err != nil {
		return 0, err
	}
	d.mu.Lock()
	if p.pos < 0 && d.assigned[t] == p {
		p.pos = pos
	}
	pos = p.pos
	cl, inKgo := d.cl, d.mode == modeSubscribe || p.inKgo
	d.mu.Unlock()
	if inKgo {
		cl.SetOffsets(map[string]map[int32]kgo.EpochOffset{t.Topic: {t.Partition: {Epoch: -1, Offset: pos}}})
	}
	return pos, nil
}

// resolve is a partition's starting position: its committed offset, or
// auto.offset.reset.
func (d *kconsumer) resolve(t tp) (int64, error) {
	if d.cfg.GroupID != "" {
		ctx, cancel := d.requestCtx()
		committed, err := d.Committed(ctx, []tp{t})
		cancel()
		if err != nil {
			return 0, err
		}
		if c, ok := committed[t]; ok {
			return c.Offset, nil
		}
	}
	var list func(*kadm.Client, context.Context, ...string) (kadm.ListedOffsets, error)
	switch d.cfg.AutoOffsetReset {
	case consumer.ResetEarliest:
		list = (*kadm.Client).ListStartOffsets
	case consumer.ResetLatest:
		list = (*kadm.Client).ListEndOffsets
	default:
		return 0, fmt.Errorf("consumer: %s has no valid position and auto.offset.reset is none: %w", t, commitlog.ErrOffsetOutOfRange)
	}
	offs, err := d.listOffsets([]tp{t}, list)
	if err != nil {
		return 0, err
	}
	return offs[t], nil
}

// Pause is kgo's PauseFetchPartitions; records of a paused partition kgo
// had buffered are not returned (kgo keeps them for Resume).
func (d *kconsumer) Pause(tps ...tp) error { return d.setPaused(tps, true) }

// Resume is kgo's ResumeFetchPartitions.
func (d *kconsumer) Resume(tps ...tp) error { return d.setPaused(tps, false) }

func (d *kconsumer) setPaused(tps []tp, paused bool) error {
	d.mu.Lock()
	for _, t := range tps {
		if _, err := d.part(t); err != nil {
			d.mu.Unlock()
			return err
		}
	}
	for _, t := range tps {
		d.assigned[t].paused = paused
	}
	cl := d.cl
	d.mu.Unlock()
	if cl == nil || len(tps) == 0 {
		return nil
	}
	if paused {
		cl.PauseFetchPartitions(kmap(tps))
	} else {
		cl.ResumeFetchPartitions(kmap(tps))
	}
	return nil
}

// Paused lists the paused partitions, sorted.
func (d *kconsumer) Paused() []tp {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []tp
	for t, p := range d.assigned {
		if p.paused {
			out = append(out, t)
		}
	}
	sortTPs(out)
	return out
}

// OffsetsForTimes is kadm's ListOffsetsAfterMilli, one request per
// distinct time; a partition with no record at or after its time gets
// nil, as on the embedded backend.
func (d *kconsumer) OffsetsForTimes(times map[tp]time.Time) (map[tp]*consumer.OffsetAndTimestamp, error) {
	byMilli := map[int64][]tp{}
	for t, at := range times {
		ms := at.UnixMilli()
		byMilli[ms] = append(byMilli[ms], t)
	}
	out := map[tp]*consumer.OffsetAndTimestamp{}
	ctx, cancel := d.requestCtx()
	defer cancel()
	for ms, tps := range byMilli {
		var topics []string
		for _, t := range tps {
			if !slices.Contains(topics, t.Topic) {
				topics = append(topics, t.Topic)
			}
		}
		lo, err := d.cluster.Admin().ListOffsetsAfterMilli(ctx, ms, topics...)
		if err != nil {
			return nil, consumerErr("offsets for times", err)
		}
		for _, t := range tps {
			o, ok := lo.Lookup(t.Topic, t.Partition)
			switch {
			case !ok:
				return nil, missingPartition("offsets for times", lo, t)
			case o.Err != nil:
				return nil, consumerErr("offsets for times: "+t.String(), o.Err)
			case o.Timestamp < 0: // no record at or after ms: kadm gives the end offset
				out[t] = nil
			default:
				out[t] = &consumer.OffsetAndTimestamp{Offset: o.Offset, Timestamp: time.UnixMilli(o.Timestamp)}
			}
		}
	}
	return out, nil
}

// committable is the positions of the assigned partitions that have one.
func (d *kconsumer) committable() map[tp]om {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := map[tp]om{}
	for t, p := range d.assigned {
		if p.pos >= 0 {
			out[t] = om{Offset: p.pos}
		}
	}
	return out
}

// CommitSync commits offsets (nil: the positions) and waits for the
// answer.
func (d *kconsumer) CommitSync(ctx context.Context, offsets map[tp]om) error {
	if offsets == nil {
		offsets = d.committable()
	}
	d.qmu.Lock()
	d.made++
	seq := d.made
	d.qmu.Unlock()
	return d.writeCommit(ctx, offsets, seq)
}

// CommitAsync queues a commit for the commit goroutine, which writes the
// commits in order and runs their callbacks; after Close, cb gets
// ErrClosed at once.
func (d *kconsumer) CommitAsync(offsets map[tp]om, cb func(map[tp]om, error)) {
	if offsets == nil {
		offsets = d.committable()
	}
	d.qmu.Lock()
	if d.qclosed {
		d.qmu.Unlock()
		if cb != nil {
			cb(offsets, errClosed())
		}
		return
	}
	d.made++
	d.queue = append(d.queue, asyncCommit{offsets: offsets, seq: d.made, cb: cb})
	d.qmu.Unlock()
	d.ring()
}

func (d *kconsumer) ring() {
	select {
	case d.work <- struct{}{}:
	default:
	}
}

// commitLoop is the commit goroutine: it runs from OpenConsumerDriver
// until Close has closed the queue and it is empty.
func (d *kconsumer) commitLoop() {
	defer close(d.stopped)
	for {
		if !d.writeNext(context.Background(), true) {
			d.qmu.Lock()
			done := d.qclosed && len(d.queue) == 0
			d.qmu.Unlock()
			if done {
				return
			}
			<-d.work
		}
	}
}

// writeNext writes the oldest queued commit and runs its callback; false
// if none is queued.
func (d *kconsumer) writeNext(ctx context.Context, byGoroutine bool) bool {
	d.takeMu.Lock()
	d.qmu.Lock()
	if len(d.queue) == 0 || byGoroutine && d.flushers > 0 {
		d.qmu.Unlock()
		d.takeMu.Unlock()
		return false
	}
	e := d.queue[0]
	d.queue = d.queue[1:]
	d.turns.Due(e.seq)
	d.qmu.Unlock()
	err := d.writeCommit(ctx, e.offsets, e.seq)
	d.takeMu.Unlock()
	var cb func()
	if e.cb != nil {
		cb = func() { e.cb(e.offsets, err) }
	}
	d.turns.Run(e.seq, cb)
	return true
}

// writeCommit writes commit number seq, leaving out the partitions a
// later commit has already written, so that an async commit queued before
// a CommitSync does not rewind it.
func (d *kconsumer) writeCommit(ctx context.Context, offsets map[tp]om, seq uint64) error {
	if d.cfg.GroupID == "" {
		return fmt.Errorf("consumer: commits need a group.id: %w", commitlog.ErrInvalidConfig)
	}
	for t, o := range offsets {
		if o.Offset < 0 {
			return fmt.Errorf("consumer: commit %s at offset %d: %w", t, o.Offset, consumer.ErrInvalidOffset)
		}
	}
	d.commitMu.Lock()
	defer d.commitMu.Unlock()
	fresh := map[tp]om{}
	for t, o := range offsets {
		if d.written[t] <= seq {
			fresh[t] = o
		}
	}
	if len(fresh) == 0 {
		return nil
	}
	if err := d.commit(ctx, fresh); err != nil {
		if errors.Is(err, kerr.UnknownTopicOrPartition) {
			// Kafka says the same of a missing topic and of a missing
			// partition; the embedded backend tells them apart.
			if perr := d.checkPartitions(slices.Collect(maps.Keys(fresh))); perr != nil {
				return fmt.Errorf("%w (%w)", perr, err)
			}
		}
		return err
	}
	if d.written == nil {
		d.written = map[tp]uint64{}
	}
	for t := range fresh {
		d.written[t] = seq
	}
	return nil
}

// commit sends one OffsetCommit: as the member (kgo's CommitOffsetsSync)
// when subscribed, else as no member (kadm's CommitOffsets, generation
// -1), which Kafka accepts only while the group has no members.
func (d *kconsumer) commit(ctx context.Context, offsets map[tp]om) error {
	d.mu.Lock()
	cl, m, closed := d.cl, d.mode, d.closed
	d.mu.Unlock()
	if closed {
		return errClosed()
	}
	if m == modeSubscribe && cl != nil {
		eo := map[string]map[int32]kgo.EpochOffset{}
		for t, o := range offsets {
			if eo[t.Topic] == nil {
				eo[t.Topic] = map[int32]kgo.EpochOffset{}
			}
			eo[t.Topic][t.Partition] = kgo.EpochOffset{Epoch: -1, Offset: o.Offset}
		}
		// kgo writes its own commit metadata; the request is changed to
		// carry the application's.
		ctx = kgo.PreCommitFnContext(ctx, func(req *kmsg.OffsetCommitRequest) error {
			for i := range req.Topics {
				rt := &req.Topics[i]
				for j := range rt.Partitions {
					rp := &rt.Partitions[j]
					md := offsets[tp{Topic: rt.Topic, Partition: rp.Partition}].Metadata
					rp.Metadata = &md
				}
			}
			return nil
		})
		var cerr error
		cl.CommitOffsetsSync(ctx, eo, func(_ *kgo.Client, _ *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse, err error) {
			if err != nil {
				cerr = consumerErr("commit", err)
				return
			}
			for _, rt := range resp.Topics {
				for _, rp := range rt.Partitions {
					if err := kerr.ErrorForCode(rp.ErrorCode); err != nil && cerr == nil {
						cerr = consumerErr(fmt.Sprintf("commit %s-%d", rt.Topic, rp.Partition), err)
					}
				}
			}
		})
		return cerr
	}
	ko := kadm.Offsets{}
	for t, o := range offsets {
		ko.Add(kadm.Offset{Topic: t.Topic, Partition: t.Partition, At: o.Offset, LeaderEpoch: -1, Metadata: o.Metadata})
	}
	resp, err := d.cluster.Admin().CommitOffsets(ctx, d.cfg.GroupID, ko)
	if err == nil {
		err = resp.Error()
	}
	if errors.Is(err, kerr.UnknownMemberID) || errors.Is(err, kerr.IllegalGeneration) {
		// Kafka refuses a commit made as no member (generation -1) while
		// the group has members with UNKNOWN_MEMBER_ID; the embedded
		// coordinator, as for any commit of a generation that is not
		// current, with ErrIllegalGeneration.
		return fmt.Errorf("consumer: commit outside group %s, which has members: %w: %w", d.cfg.GroupID, consumer.ErrIllegalGeneration, err)
	}
	return consumerErr("commit", err)
}

// Committed is kadm's FetchOffsets for the group.
func (d *kconsumer) Committed(ctx context.Context, tps []tp) (map[tp]om, error) {
	if d.cfg.GroupID == "" {
		return nil, fmt.Errorf("consumer: Committed needs a group.id: %w", commitlog.ErrInvalidConfig)
	}
	out := map[tp]om{}
	resp, err := d.cluster.Admin().FetchOffsets(ctx, d.cfg.GroupID)
	if err == nil {
		err = resp.Error()
	}
	switch {
	case errors.Is(err, kerr.GroupIDNotFound):
		return out, nil // a group that never committed (some brokers say so)
	case err != nil:
		return nil, consumerErr("committed", err)
	}
	resp.Each(func(o kadm.OffsetResponse) {
		t := tp{Topic: o.Topic, Partition: o.Partition}
		if o.At < 0 || tps != nil && !slices.Contains(tps, t) {
			return
		}
		out[t] = om{Offset: o.At, Metadata: o.Metadata}
	})
	return out, nil
}

// maybeAutoCommit is enable.auto.commit: every auto.commit.interval.ms,
// Poll commits the positions in the background.
func (d *kconsumer) maybeAutoCommit() {
	if !*d.cfg.EnableAutoCommit || d.cfg.GroupID == "" || time.Since(d.lastAutoCommit) < *d.cfg.AutoCommitInterval {
		return
	}
	d.lastAutoCommit = time.Now()
	d.CommitAsync(nil, func(_ map[tp]om, err error) {
		if err != nil {
			d.cluster.Logger().Warn("consumer: auto-commit failed", "group", d.cfg.GroupID, "err", err)
		}
	})
}

// commitBeforeRevoke is enable.auto.commit before partitions are revoked
// (a rebalance, Close): commit the positions at once.
func (d *kconsumer) commitBeforeRevoke(ctx context.Context) {
	if !*d.cfg.EnableAutoCommit || d.cfg.GroupID == "" {
		return
	}
	if err := d.CommitSync(ctx, nil); err != nil {
		d.cluster.Logger().Warn("consumer: auto-commit before revoke failed", "group", d.cfg.GroupID, "err", err)
	}
}

// Close closes the consumer as the embedded one does: the final commit
// (enable.auto.commit), OnPartitionsRevoked on the caller's goroutine, the
// queued async commits, then kgo's Close, which leaves the group. From a
// listener (with its ctx) it closes there and then; from another
// goroutine while a listener runs it writes the queued commits and leaves
// the rest to the Poll running the listener. It is idempotent.
func (d *kconsumer) Close(ctx context.Context) error {
	fromListener := ctx.Value(listenerKey{}) == d
	d.mu.Lock()
	if d.closing {
		d.mu.Unlock()
		return nil
	}
	d.closing = true
	close(d.closeCh)
	busy := d.inListener > 0 && !fromListener
	if busy {
		d.finishInPoll = true
	}
	wake := d.wake
	d.mu.Unlock()
	if wake != nil {
		wake()
	}
	if busy {
		return d.flush(ctx)
	}
	return d.shutdown(ctx)
}

// shutdown is the part of closing that runs the listener and closes the
// client; it runs once.
func (d *kconsumer) shutdown(ctx context.Context) error {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return nil
	}
	d.finishInPoll = false
	cl, m := d.cl, d.mode
	d.mu.Unlock()
	var err error
	switch {
	case m == modeSubscribe && cl != nil:
		if owned := d.Assignment(); len(owned) > 0 {
			d.commitBeforeRevoke(ctx)
			d.callListener(ctx, consumer.PartitionsRevoked, owned)
		}
	case m == modeAssign && d.cfg.GroupID != "" && *d.cfg.EnableAutoCommit:
		err = d.CommitSync(ctx, nil)
	}
	d.qmu.Lock()
	d.qclosed = true
	d.qmu.Unlock()
	d.ring()
	if ferr := d.flush(ctx); err == nil {
		err = ferr
	}
	d.mu.Lock()
	d.closed = true
	d.mu.Unlock()
	if cl != nil {
		cl.Close() // leaves the group; the callbacks it runs do not wait
	}
	if d.turns.InCallback() {
		return err // from a callback: the commit goroutine ends once it returns
	}
	select {
	case <-d.stopped:
	case <-ctx.Done():
		if err == nil {
			err = fmt.Errorf("consumer: close: %w", ctx.Err())
		}
	}
	return err
}

// flush writes the queued commits on the calling goroutine, running their
// callbacks, until none is left or ctx ends.
func (d *kconsumer) flush(ctx context.Context) error {
	d.qmu.Lock()
	d.flushers++
	d.qmu.Unlock()
	defer func() {
		d.qmu.Lock()
		d.flushers--
		d.qmu.Unlock()
		d.ring()
	}()
	for {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("consumer: close: queued commits not all written: %w", err)
		}
		if !d.writeNext(ctx, false) {
			return nil
		}
	}
}

// EndOffsets is kadm ListEndOffsets (ListOffsets with the latest
// timestamp: the high watermark) of the topics of tps, on the cluster's
// admin client, under ctx (and the consumer's close).
func (d *kconsumer) EndOffsets(ctx context.Context, tps []tp) (map[tp]int64, error) {
	if len(tps) == 0 {
		return map[tp]int64{}, nil
	}
	ctx, cancel := context.WithCancel(ctx)
	defer context.AfterFunc(d.closedCtx(), cancel)()
	defer cancel()
	return d.listOffsetsCtx(ctx, "end offsets", tps, (*kadm.Client).ListEndOffsets)
}
