package forward

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/commitlog-go/commitlog"
	"github.com/commitlog-go/commitlog/consumer"
	"github.com/commitlog-go/commitlog/record"
)

// DefaultForwarderGroup is the checkpoint group of a Forwarder whose
// Config.Group is empty.
const DefaultForwarderGroup = "commitlog-forwarder"

// Mode is how a Forwarder writes to the cluster.
type Mode int

const (
	// ModeTransactional, the default, produces each chunk of the backlog in
	// a Kafka transaction under a stable transactional.id
	// (Config.TransactionalID), so that a restarted forwarder fences the
	// producer of the process before it: exactly once, with no window.
	ModeTransactional Mode = iota
	// ModeIdempotent produces with kgo's idempotent producer only: no
	// transaction round trips, and the remote records are visible to
	// read_uncommitted and read_committed consumers alike at once, but a
	// produce request a killed process had sent, delayed in the network
	// past the next process's reconciliation, lands as a duplicate (see the
	// package documentation).
	ModeIdempotent
)

func (m Mode) String() string {
	switch m {
	case ModeTransactional:
		return "transactional"
	case ModeIdempotent:
		return "idempotent"
	}
	return "Mode(" + strconv.Itoa(int(m)) + ")"
}

// instancePrefix starts the metadata of the checkpoint's commits: the rest
// is the forwarder's instance id, the stable part of its default
// transactional.id.
const instancePrefix = "commitlog-forward instance="

// Config configures a Forwarder.
type Config struct {
	// Topics are the local topics to forward, each to the remote topic of
	// the same name. They must exist; their partition count is taken at
	// New (partitions added later are forwarded after a restart, which then
	// finds the remote count different: ErrPartitionMismatch).
	Topics []string
	// Group is the consumer group of the embedded broker that holds the
	// checkpoint (default DefaultForwarderGroup). Give each forwarder of a
	// broker its own. It must have no members: nothing consumes with it.
	Group string
	// Mode is ModeTransactional (the default) or ModeIdempotent.
	Mode Mode
	// TransactionalID is the producer's transactional.id in
	// ModeTransactional. It must stay the same across restarts of the
	// forwarder (the fencing of the process before it depends on it) and
	// differ from that of every other producer of the cluster. The default
	// is Group + "-" + an instance id that the forwarder draws at random
	// the first time and keeps in the metadata of its checkpoint, so that
	// two devices with the same Group do not fence each other.
	TransactionalID string
	// TransactionBytes ends a transaction once it carries this many bytes
	// of local batches (default 16 MiB). A transaction also ends when the
	// forwarder has caught up with the local log, and once it has been open
	// for a quarter of the producer's transaction.timeout.ms
	// (kgo.TransactionTimeout, 40 s by default).
	TransactionBytes int
	// ClientOptions configure the kgo client that produces to the cluster:
	// kgo.SeedBrokers (required), TLS, SASL, and producer settings such as
	// kgo.ProducerBatchCompression (default lz4), kgo.ProducerLinger,
	// kgo.ProducerBatchMaxBytes or kgo.MaxBufferedRecords. The forwarder
	// adds kgo.RecordPartitioner(kgo.ManualPartitioner()) and
	// kgo.UnknownTopicRetries(-1) after them, and kgo.TransactionalID in
	// ModeTransactional (set Config.TransactionalID, not the kgo option).
	// Keep the producer idempotent and its retries unlimited (kgo's
	// defaults): kgo.DisableIdempotentWrite, kgo.RecordRetries or
	// kgo.RecordDeliveryTimeout would let a record fail while a later one
	// succeeds (ErrGap, in ModeIdempotent).
	ClientOptions []kgo.Opt
	// ReplicationFactor of the remote topics the forwarder creates (Kafka's
	// default.replication.factor when 0).
	ReplicationFactor int16
	// RemoteTopicConfigs are the settings of the remote topics it creates
	// (Kafka names: "retention.ms", ...); nil for the cluster's defaults.
	RemoteTopicConfigs map[string]*string
	// RetentionWarnRatio is the share of the local topic's retention.ms
	// (by the oldest unforwarded record's age) or retention.bytes (by the
	// backlog's size) past which the backlog is at risk; default 0.8.
	RetentionWarnRatio float64
	// CheckpointInterval is how often acknowledged positions are committed
	// to the checkpoint group (default 200 ms). Each commit is an fsync.
	CheckpointInterval time.Duration
	// CheckInterval is how often the backlog is checked against retention
	// (default 1 s).
	CheckInterval time.Duration
	// ReadBytes is how much a read of a local partition takes at most
	// (default 1 MiB; at least one batch).
	ReadBytes int
	// Logger receives failures, retention warnings and losses (default:
	// the broker's).
	Logger *slog.Logger
}

// Forwarder copies local topics to a Kafka cluster, exactly once across
// crashes: see the package documentation. It starts at New and runs until
// Close; it is safe for concurrent use.
type Forwarder struct {
	b     *commitlog.Broker
	cfg   Config
	log   *slog.Logger
	coord *consumer.Coordinator
	parts []*fwdPart
	txn   bool   // ModeTransactional
	txnID string // the transactional.id in ModeTransactional
	meta  string // the metadata of the checkpoint's commits

	ctx      context.Context
	cancel   context.CancelFunc
	done     chan struct{} // closed when run returns
	unreg    func()
	closeErr error
	once     sync.Once

	flushReq chan chan error                 // asks the checkpoint loop for a commit now
	closing  atomic.Pointer[context.Context] // Close's ctx, which bounds the last flush
	commitMu sync.Mutex                      // serialises commits: an older position never lands after a newer one

	crash atomic.Bool // tests: Close leaves what a crash would, no last flush or commit

	gen atomic.Int64 // the session number: promises of older sessions are ignored

	mu         sync.Mutex // guards fatal, lastErr, sessErr, sessCancel
	fatal      error      // the error that stopped the forwarder for good
	lastErr    error      // the last session failure, for Err
	sessErr    error      // the first produce failure of the running session
	sessCancel context.CancelFunc
}

// fwdPart is where forwarding one local partition stands.
type fwdPart struct {
	topic string
	id    int32
	p     *commitlog.Partition
	tc    commitlog.TopicConfig

	// Written by the session's reader and promises; read by anyone.
	acked       atomic.Int64 // local offset after the last record the cluster acknowledged (ModeTransactional: and committed)
	sent        atomic.Int64 // local offset after the last batch read and produced
	outstanding atomic.Int64 // records produced, not yet acknowledged or failed
	failed      atomic.Bool  // a record failed in this session: position is acked
	committed   atomic.Int64 // the checkpoint as last committed (-1: none)

	oldestAge atomic.Int64 // ns, set by the check loop
	atRisk    atomic.Bool
	lost      atomic.Int64

	lossMu    sync.Mutex // guards lostBelow
	lostBelow int64      // offsets below it are counted in lost already

	gapLogged atomic.Bool
	f         *Forwarder
}

// New starts a Forwarder of cfg.Topics of b. It returns at once: the
// cluster need not be reachable (the forwarder retries until it is).
// It fails on a Config without topics or seed brokers, on a topic b does not
// have (commitlog.ErrUnknownTopic) and when the checkpoint group cannot be
// read.
func New(b *commitlog.Broker, cfg Config) (*Forwarder, error) {
	if len(cfg.Topics) == 0 {
		return nil, fmt.Errorf("forward: %w: %w", ErrNoTopics, commitlog.ErrInvalidConfig)
	}
	if len(cfg.ClientOptions) == 0 {
		return nil, fmt.Errorf("forward: %w: ClientOptions need kgo.SeedBrokers", commitlog.ErrInvalidConfig)
	}
	if cfg.Group == "" {
		cfg.Group = DefaultForwarderGroup
	}
	if cfg.RetentionWarnRatio <= 0 || cfg.RetentionWarnRatio > 1 {
		if cfg.RetentionWarnRatio != 0 {
			return nil, fmt.Errorf("forward: RetentionWarnRatio %v not in (0, 1]: %w", cfg.RetentionWarnRatio, commitlog.ErrInvalidConfig)
		}
		cfg.RetentionWarnRatio = 0.8
	}
	if cfg.CheckpointInterval <= 0 {
		cfg.CheckpointInterval = 200 * time.Millisecond
	}
	if cfg.CheckInterval <= 0 {
		cfg.CheckInterval = time.Second
	}
	if cfg.ReadBytes <= 0 {
		cfg.ReadBytes = 1 << 20
	}
	if cfg.TransactionBytes <= 0 {
		cfg.TransactionBytes = 16 << 20
	}
	switch cfg.Mode {
	case ModeTransactional, ModeIdempotent:
	default:
		return nil, fmt.Errorf("forward: %v: %w", cfg.Mode, commitlog.ErrInvalidConfig)
	}
	f := &Forwarder{b: b, cfg: cfg, log: logger(cfg.Logger, b).With("forwarder", cfg.Group), flushReq: make(chan chan error), txn: cfg.Mode == ModeTransactional}
	seen := map[string]bool{}
	for _, name := range cfg.Topics {
		if seen[name] {
			continue
		}
		seen[name] = true
		t, err := b.Topic(name)
		if err != nil {
			return nil, fmt.Errorf("forward: %w", err)
		}
		tc := t.Config()
		for _, p := range t.Partitions() {
			fp := &fwdPart{topic: name, id: p.ID(), p: p, tc: tc, f: f}
			fp.committed.Store(-1)
			f.parts = append(f.parts, fp)
		}
	}
	coord, err := consumer.CoordinatorFor(b)
	if err != nil {
		return nil, fmt.Errorf("forward: the checkpoint group: %w", err)
	}
	f.coord = coord
	tps := make([]consumer.TopicPartition, len(f.parts))
	for i, fp := range f.parts {
		tps[i] = consumer.TopicPartition{Topic: fp.topic, Partition: fp.id}
	}
	cps := coord.FetchOffsets(cfg.Group, tps)
	for _, fp := range f.parts {
		pos := fp.p.LogStartOffset()
		c, ok := cps[consumer.TopicPartition{Topic: fp.topic, Partition: fp.id}]
		if ok && c.Offset >= 0 {
			fp.committed.Store(c.Offset)
			pos = c.Offset
		}
		if id, found := strings.CutPrefix(c.Metadata, instancePrefix); ok && found && id != "" && f.meta == "" {
			f.meta = c.Metadata
		}
		fp.acked.Store(pos)
		fp.sent.Store(pos)
		fp.lostBelow = pos
	}
	if f.meta == "" {
		// A new instance: its id is kept before anything is produced
		// under it, so that every later start derives the same
		// transactional.id and fences this one.
		var id [8]byte
		_, _ = rand.Read(id[:])
		f.meta = instancePrefix + hex.EncodeToString(id[:])
		offsets := map[consumer.TopicPartition]consumer.OffsetAndMetadata{}
		for _, fp := range f.parts {
			offsets[consumer.TopicPartition{Topic: fp.topic, Partition: fp.id}] = consumer.OffsetAndMetadata{Offset: fp.acked.Load(), Metadata: f.meta}
		}
		if err := coord.CommitOffsets(cfg.Group, "", -1, offsets); err != nil {
			return nil, fmt.Errorf("forward: keeping the instance id in the checkpoint group: %w", err)
		}
		for _, fp := range f.parts {
			fp.committed.Store(fp.acked.Load())
		}
	}
	f.txnID = cfg.TransactionalID
	if f.txnID == "" {
		f.txnID = cfg.Group + "-" + strings.TrimPrefix(f.meta, instancePrefix)
	}
	f.ctx, f.cancel = context.WithCancel(context.Background())
	f.done = make(chan struct{})
	f.unreg = b.RegisterForwarder(f)
	go f.run()
	return f, nil
}

// position is the local offset below which every record is acknowledged
// by the cluster.
func (fp *fwdPart) position() int64 {
	if fp.f.txn || fp.failed.Load() {
		return fp.acked.Load()
	}
	s := fp.sent.Load()
	if fp.outstanding.Load() == 0 {
		return s
	}
	return fp.acked.Load()
}

// noteLoss counts the offsets below the log start offset lso that were not
// forwarded from pos on, once.
func (fp *fwdPart) noteLoss(pos, lso int64) {
	fp.lossMu.Lock()
	defer fp.lossMu.Unlock()
	from := max(pos, fp.lostBelow)
	if lso <= from {
		return
	}
	fp.lostBelow = lso
	fp.lost.Add(lso - from)
	fp.f.log.Error("forward: retention deleted records before they were forwarded; continuing from the log start",
		"topic", fp.topic, "partition", fp.id, "from", from, "log_start_offset", lso, "lost", lso-from)
}

// run is the forwarder's goroutine: sessions with the cluster, retried with
// backoff, until Close or a fatal error.
func (f *Forwarder) run() {
	defer close(f.done)
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); f.checkpointLoop() }()
	go func() { defer wg.Done(); f.checkLoop() }()
	defer wg.Wait()
	for attempt := 0; f.ctx.Err() == nil; attempt++ {
		progressed, err := f.session()
		if f.ctx.Err() != nil {
			return
		}
		if errors.Is(err, ErrPartitionMismatch) {
			f.mu.Lock()
			f.fatal = err
			f.mu.Unlock()
			f.log.Error("forward: stopped", "err", err)
			f.cancel()
			return
		}
		f.mu.Lock()
		f.lastErr = err
		f.mu.Unlock()
		if progressed {
			attempt = 0
		}
		f.log.Warn("forward: the cluster failed; retrying", "err", err, "attempt", attempt+1)
		backoff(f.ctx, attempt)
	}
}

// Err returns the error that stopped the forwarder (ErrPartitionMismatch),
// or else the last failure it is retrying after, or nil.
func (f *Forwarder) Err() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fatal != nil {
		return f.fatal
	}
	return f.lastErr
}

// clientOptions are the options of the producing client; the tail
// readers take the same without the transactional.id.
func (f *Forwarder) clientOptions() []kgo.Opt {
	opts := []kgo.Opt{kgo.ProducerBatchCompression(kgo.Lz4Compression(), kgo.NoCompression())}
	opts = append(opts, f.cfg.ClientOptions...)
	return append(opts, kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.UnknownTopicRetries(-1))
}

// TransactionalID returns the transactional.id the forwarder produces
// with in ModeTransactional (see Config.TransactionalID).
func (f *Forwarder) TransactionalID() string { return f.txnID }

// session connects, reconciles every partition with its remote tail and
// forwards until an error or Close. progressed reports whether the
// cluster acknowledged anything.
func (f *Forwarder) session() (progressed bool, err error) {
	opts := f.clientOptions()
	popts := opts
	if f.txn {
		popts = append(popts[:len(popts):len(popts)], kgo.TransactionalID(f.txnID))
	}
	cl, err := kgo.NewClient(popts...)
	if err != nil {
		// Bad options never get better: a session error all the same,
		// so that Err and the log say it.
		return false, fmt.Errorf("forward: %w", err)
	}
	sctx, scancel := context.WithCancel(f.ctx)
	gen := f.gen.Add(1)
	f.mu.Lock()
	f.sessErr, f.sessCancel = nil, scancel
	f.mu.Unlock()
	var wg sync.WaitGroup
	pumped := make(chan struct{}) // closed when the pump returns
	defer func() {
		scancel()
		crash := f.crash.Load()
		if fctx := f.closing.Load(); fctx != nil && f.ctx.Err() != nil && !crash {
			// Close: let the cluster acknowledge what was sent, within
			// Close's ctx, so that nothing is left in flight (in
			// ModeTransactional, the pump ends its transaction).
			select {
			case <-pumped:
			case <-(*fctx).Done():
			}
			_ = cl.Flush(*fctx)
		}
		cl.Close() // fails what is still buffered, unblocking the readers: those positions stay unacknowledged
		wg.Wait()
		if !crash {
			f.commit()
		}
	}()
	if err := f.prepare(sctx, cl, opts); err != nil {
		close(pumped)
		return false, err
	}
	start := make([]int64, len(f.parts))
	sps := make([]*sessPart, len(f.parts))
	drained := make(chan struct{}, 1)
	for i, fp := range f.parts {
		start[i] = fp.acked.Load()
		sps[i] = &sessPart{fp: fp, gen: gen, next: fp.sent.Load(), drained: drained}
		sps[i].promiseFn = sps[i].promise
	}
	errc := make(chan error, 1)
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(pumped)
		if err := f.pump(sctx, cl, sps); err != nil {
			errc <- err
			scancel()
		}
	}()
	<-sctx.Done()
	for i, fp := range f.parts {
		if fp.acked.Load() > start[i] {
			progressed = true
		}
	}
	f.mu.Lock()
	serr := f.sessErr
	f.mu.Unlock()
	select {
	case err = <-errc:
	default:
		err = serr
	}
	if err == nil {
		err = fmt.Errorf("forward: %w", commitlog.ErrClosed)
	}
	return progressed, err
}

// prepare makes sure the remote topics exist with the local partition
// counts and sets every partition's position: max(checkpoint, highest
// source offset in the remote tail + 1), at least the log start offset.
func (f *Forwarder) prepare(ctx context.Context, cl *kgo.Client, opts []kgo.Opt) error {
	if f.txn {
		// InitProducerID under the transactional.id, before the tails are
		// read: it fences the producer of an earlier session or process
		// and aborts its open transaction, so that nothing it sent can be
		// committed after the read.
		if _, _, err := cl.ProducerID(ctx); err != nil {
			return fmt.Errorf("forward: initializing transactional.id %s: %w", f.txnID, err)
		}
	}
	adm := kadm.NewClient(cl)
	topics := f.topics()
	counts, err := remoteCounts(ctx, adm, topics)
	if err != nil {
		return err
	}
	var existing []string // topics that may hold records: the others were just created
	for _, t := range topics {
		local := f.localCount(t)
		switch counts[t] {
		case 0:
			_, err := adm.CreateTopic(ctx, local, f.replication(), f.cfg.RemoteTopicConfigs, t)
			if err != nil {
				// Also when someone else created it meanwhile: the next
				// session checks its partition count.
				return fmt.Errorf("forward: creating remote topic %s: %w", t, err)
			}
			f.log.Info("forward: created the remote topic", "topic", t, "partitions", local)
		case local:
			existing = append(existing, t)
		default:
			return fmt.Errorf("forward: topic %s has %d partitions here, %d in the cluster: %w", t, local, counts[t], ErrPartitionMismatch)
		}
	}
	var tails map[string]map[int32]int64
	if len(existing) > 0 {
		starts, err := adm.ListStartOffsets(ctx, existing...)
		if err == nil {
			err = starts.Error()
		}
		if err != nil {
			return fmt.Errorf("forward: listing remote start offsets: %w", err)
		}
		// Committed records only: up to the last stable offset.
		ends, err := adm.ListCommittedOffsets(ctx, existing...)
		if err == nil {
			err = ends.Error()
		}
		if err != nil {
			return fmt.Errorf("forward: listing remote last stable offsets: %w", err)
		}
		if tails, err = remoteTails(ctx, opts, starts, ends, existing); err != nil {
			return err
		}
	}
	for _, fp := range f.parts {
		pos := max(fp.committed.Load(), 0)
		if h, ok := tails[fp.topic][fp.id]; ok && h+1 > pos {
			pos = h + 1
		}
		if hw := fp.p.HighWatermark(); pos > hw {
			return fmt.Errorf("forward: the cluster holds %s/%d up to local offset %d, past the local high watermark %d: is another forwarder writing to it? %w",
				fp.topic, fp.id, pos-1, hw, commitlog.ErrCorrupt)
		}
		if lso := fp.p.LogStartOffset(); pos < lso {
			if fp.committed.Load() >= 0 || pos > 0 {
				fp.noteLoss(pos, lso)
			}
			pos = lso
		}
		fp.failed.Store(false)
		fp.outstanding.Store(0)
		fp.acked.Store(pos)
		fp.sent.Store(pos)
	}
	f.commit()
	return nil
}

func (f *Forwarder) topics() []string {
	var out []string
	for _, fp := range f.parts {
		if len(out) == 0 || out[len(out)-1] != fp.topic {
			out = append(out, fp.topic)
		}
	}
	return out
}

func (f *Forwarder) localCount(topic string) int32 {
	var n int32
	for _, fp := range f.parts {
		if fp.topic == topic {
			n++
		}
	}
	return n
}

func (f *Forwarder) replication() int16 {
	if f.cfg.ReplicationFactor == 0 {
		return -1
	}
	return f.cfg.ReplicationFactor
}

// pump reads every partition from its position and produces its records
// to the same remote partition, until ctx ends or a record fails. One
// goroutine feeds the kgo client, a chunk of one partition at a time in
// turn: kgo batches per partition anyway, and producers contending for its
// buffer cost more than they bring. In ModeTransactional the chunks go in
// transactions of up to TransactionBytes, each committed before the
// positions it carries count as acknowledged.
func (f *Forwarder) pump(ctx context.Context, cl *kgo.Client, sps []*sessPart) error {
	var it record.Iterator
	cases := make([]reflect.SelectCase, 0, len(sps)+1)
	inTxn, txnBytes, txnStart := false, 0, time.Time{}
	txnAge := 10 * time.Second
	if d, ok := cl.OptValue(kgo.TransactionTimeout).(time.Duration); ok && d > 0 {
		txnAge = d / 4
	}
	for {
		if ctx.Err() != nil {
			if inTxn && !f.crash.Load() && f.closing.Load() != nil {
				return f.endTxn(ctx, cl, sps)
			}
			return nil
		}
		// The wake-ups are taken before the high watermarks are looked at,
		// so that no append between the two goes unnoticed.
		cases = append(cases[:0], reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(ctx.Done())})
		moved := false
		for _, sp := range sps {
			if sp.fp.failed.Load() {
				if inTxn {
					f.abortTxn(cl)
				}
				return nil // the session ends: failSession cancelled ctx
			}
			cases = append(cases, reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(sp.fp.p.Changed())})
			if sp.next >= sp.fp.p.HighWatermark() || ctx.Err() != nil {
				continue
			}
			if f.txn && !inTxn {
				if err := cl.BeginTransaction(); err != nil {
					return fmt.Errorf("forward: beginning a transaction: %w", err)
				}
				inTxn, txnBytes, txnStart = true, 0, time.Now()
			}
			n, err := sp.step(cl, &it)
			if err != nil {
				if inTxn {
					f.abortTxn(cl)
				}
				return err
			}
			txnBytes += n
			moved = true
		}
		// A caught-up transaction ends once kgo has every record of it
		// acknowledged, not at once: records appended meanwhile join it,
		// so that under load the pipeline does not drain at every catch-up.
		if inTxn && ((!moved && !inFlight(sps)) || txnBytes >= f.cfg.TransactionBytes || time.Since(txnStart) >= txnAge) {
			if err := f.endTxn(ctx, cl, sps); err != nil {
				return err
			}
			inTxn = false
			continue
		}
		if !moved {
			if inTxn {
				cases = append(cases, reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(sps[0].drained)})
			}
			chosen, _, _ := reflect.Select(cases)
			if chosen == 0 {
				continue // ends the transaction, if one is open
			}
			if chosen > len(sps) {
				continue // the transaction's records are acknowledged
			}
			// A wake-up without new records: the partition may have closed
			// (its topic deleted, or the broker closing), which Read says.
			if sp := sps[chosen-1]; sp.next >= sp.fp.p.HighWatermark() {
				if _, err := sp.fp.p.Read(nil, sp.next, 1); err != nil && !errors.Is(err, commitlog.ErrOffsetOutOfRange) {
					if inTxn {
						f.abortTxn(cl)
					}
					return fmt.Errorf("forward: %s/%d: %w", sp.fp.topic, sp.fp.id, err)
				}
			}
		}
	}
}

// inFlight reports whether kgo has records of the session's partitions it
// has not called back for.
func inFlight(sps []*sessPart) bool {
	for _, sp := range sps {
		if sp.fp.outstanding.Load() > 0 {
			return true
		}
	}
	return false
}

// endTxn ends the open transaction: it waits for kgo to have every record
// acknowledged, commits the transaction and then moves every partition's
// acknowledged position to what the transaction carried. It aborts instead
// when a record failed. When ctx has ended (Close), it finishes within
// Close's ctx, or leaves the transaction open as a crash would (the next
// session's fencing aborts it).
func (f *Forwarder) endTxn(ctx context.Context, cl *kgo.Client, sps []*sessPart) error {
	wait, closing := ctx, false
	for {
		err := cl.Flush(wait)
		if err == nil {
			break
		}
		if fctx := f.closing.Load(); !closing && fctx != nil && !f.crash.Load() {
			wait, closing = *fctx, true // Close: finish within its ctx
			continue
		}
		if f.crash.Load() {
			return nil
		}
		f.abortTxn(cl)
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("forward: flushing a transaction: %w", err)
	}
	for _, sp := range sps {
		if sp.fp.failed.Load() {
			f.abortTxn(cl)
			return nil // the session ends: failSession has its error
		}
	}
	// Not cancelled with the session: an EndTxn cut off leaves its outcome
	// unknown. Closing the client (the session's end) bounds it.
	if err := cl.EndTransaction(context.WithoutCancel(ctx), kgo.TryCommit); err != nil {
		f.abortTxn(cl)
		return fmt.Errorf("forward: committing a transaction: %w", err)
	}
	for _, sp := range sps {
		sp.fp.acked.Store(sp.next)
	}
	return nil
}

// abortTxn aborts the open transaction, briefly: when the cluster cannot be
// reached the next session's fencing aborts it.
func (f *Forwarder) abortTxn(cl *kgo.Client) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := cl.AbortBufferedRecords(ctx); err == nil {
		_ = cl.EndTransaction(ctx, kgo.TryAbort)
	}
}

// step reads one chunk of the partition from sp.next and produces its
// records. It returns the size of the chunk read.
func (sp *sessPart) step(cl *kgo.Client, it *record.Iterator) (int, error) {
	fp := sp.fp
	txn := fp.f.txn
	next := sp.next
	c := sp.get()
	buf, err := fp.p.Read(c.buf, next, fp.f.cfg.ReadBytes)
	if err != nil {
		sp.put(c)
		if lso := fp.p.LogStartOffset(); errors.Is(err, commitlog.ErrOffsetOutOfRange) && next < lso {
			fp.noteLoss(next, lso)
			sp.next = lso
			fp.sent.Store(lso)
			if !txn && fp.outstanding.Load() == 0 {
				fp.acked.Store(lso)
			}
			return 0, nil
		}
		return 0, fmt.Errorf("forward: reading %s/%d at %d: %w", fp.topic, fp.id, next, err)
	}
	c.buf = buf
	end, err := fp.decode(it, c, next)
	if err != nil {
		sp.put(c)
		return 0, err
	}
	recs := c.recs
	if len(recs) == 0 {
		sp.put(c)
	} else {
		sp.push(c)
	}
	fp.outstanding.Add(int64(len(recs)))
	for i := range recs {
		cl.Produce(context.Background(), &recs[i], sp.promiseFn)
	}
	if !txn && len(recs) == 0 && fp.outstanding.Load() == 0 {
		fp.acked.Store(end)
	}
	fp.sent.Store(end)
	sp.next = end
	return len(buf), nil
}

// decode turns the batches in c.buf into kgo records for the remote
// partition (c.recs), from offset from on, and returns the offset after the
// last batch. The records point into c.buf where its batches are not
// compressed, and into c's slabs otherwise.
func (fp *fwdPart) decode(it *record.Iterator, c *chunk, from int64) (int64, error) {
	end := from
	// A walk over the batch headers sizes the records (record.Batches
	// below checks each batch, CRC included, before its records are used).
	n := 0
	for b := c.buf; len(b) >= record.HeaderSize; {
		h, err := record.ParseHeader(b)
		if err != nil || h.Size() > len(b) {
			break
		}
		if !h.IsControl() {
			n += int(h.NumRecords)
		}
		b = b[h.Size():]
	}
	if cap(c.recs) < n {
		c.recs = make([]kgo.Record, 0, n)
	}
	c.recs = c.recs[:0]
	c.hdrs.reset()
	c.mem.reset()
	var digits [20]byte
	num := decimal{n: -2, b: digits[:0]}
	err := record.Batches(c.buf, func(h *record.BatchHeader, batch []byte) error {
		end = h.NextOffset()
		if h.IsControl() {
			return nil
		}
		if err := it.ResetChecked(h, batch); err != nil {
			return err
		}
		compressed := h.Compression() != record.None
		for it.Next() {
			r := it.Record()
			if r.Offset < from {
				continue
			}
			hs := c.hdrs.take(len(r.Headers)+1, max(2*n, 64))
			key, value := r.Key, r.Value
			for i, x := range r.Headers {
				hs[i] = kgo.RecordHeader{Key: x.Key, Value: x.Value}
			}
			if compressed {
				// The decompressed bytes are the iterator's, reused by
				// the next batch.
				key, value = c.mem.keep(key), c.mem.keep(value)
				for i := range r.Headers {
					hs[i].Value = c.mem.keep(hs[i].Value)
				}
			}
			v := num.set(r.Offset)
			ov := c.mem.take(len(v), 64<<10)
			copy(ov, v)
			hs[len(r.Headers)] = kgo.RecordHeader{Key: OffsetHeader, Value: ov}
			c.recs = append(c.recs, kgo.Record{
				Topic:     fp.topic,
				Partition: fp.id,
				Key:       key,
				Value:     value,
				Headers:   hs,
				Timestamp: time.UnixMilli(r.Timestamp),
			})
		}
		return it.Err()
	})
	if err != nil {
		return 0, fmt.Errorf("forward: reading %s/%d at %d: %w", fp.topic, fp.id, from, err)
	}
	return end, nil
}

// chunk is one read of a local partition and the kgo records made from it,
// reused once kgo has called back for all of them.
type chunk struct {
	buf  []byte
	recs []kgo.Record
	hdrs slab[kgo.RecordHeader]
	mem  slab[byte]
	left int // records kgo has not called back for (guarded by sessPart.mu once pushed)
}

// decimal is an offset in decimal ASCII: the OffsetHeader values of a run
// of consecutive offsets, counted up digit by digit rather than formatted
// anew each (which costs a fifth of decode).
type decimal struct {
	n int64
	b []byte // n's digits
}

// set returns n's digits, valid until the next call.
func (d *decimal) set(n int64) []byte {
	if n == d.n+1 && len(d.b) > 0 {
		i := len(d.b) - 1
		for i >= 0 && d.b[i] == '9' {
			d.b[i] = '0'
			i--
		}
		if i >= 0 {
			d.b[i]++
			d.n = n
			return d.b
		}
	}
	if n != d.n || len(d.b) == 0 {
		d.b = strconv.AppendInt(d.b[:0], n, 10)
	}
	d.n = n
	return d.b
}

// slab hands out slices of larger allocations.
type slab[T any] struct{ buf []T }

// reset makes the slab's last allocation reusable. Slices taken before
// must no longer be in use.
func (s *slab[T]) reset() { s.buf = s.buf[:0] }

// keep returns a copy of b in the slab (nil stays nil, empty stays empty).
func (s *slab[T]) keep(b []T) []T {
	if len(b) == 0 {
		return b[:0:0]
	}
	m := s.take(len(b), 64<<10)
	copy(m, b)
	return m
}

// take returns a slice of n elements, allocating chunk (or n) at a time.
func (s *slab[T]) take(n, chunk int) []T {
	if cap(s.buf)-len(s.buf) < n {
		s.buf = make([]T, 0, max(n, chunk))
	}
	l := len(s.buf)
	s.buf = s.buf[:l+n]
	return s.buf[l : l+n : l+n]
}

// sessPart is a partition in one session.
type sessPart struct {
	fp        *fwdPart
	gen       int64
	next      int64                    // the next offset to read (the pump's own)
	promiseFn func(*kgo.Record, error) // sp.promise, made once
	drained   chan struct{}            // the session's: signalled when a partition has no record in flight (ModeTransactional)

	mu    sync.Mutex // guards queue and free
	queue []*chunk   // chunks produced, in order, with records kgo has not called back for
	free  []*chunk   // chunks to reuse
}

// get returns a chunk to read into.
func (sp *sessPart) get() *chunk {
	sp.mu.Lock()
	defer sp.mu.Unlock()
	if n := len(sp.free); n > 0 {
		c := sp.free[n-1]
		sp.free = sp.free[:n-1]
		return c
	}
	return &chunk{}
}

// put returns an unused chunk.
func (sp *sessPart) put(c *chunk) {
	sp.mu.Lock()
	sp.free = append(sp.free, c)
	sp.mu.Unlock()
}

// push queues a chunk whose records are about to be produced.
func (sp *sessPart) push(c *chunk) {
	sp.mu.Lock()
	c.left = len(c.recs)
	sp.queue = append(sp.queue, c)
	sp.mu.Unlock()
}

// done counts one callback for the oldest chunk: kgo calls back in order
// per partition. A chunk all of whose records are called back for is free.
func (sp *sessPart) done() {
	sp.mu.Lock()
	defer sp.mu.Unlock()
	if len(sp.queue) == 0 {
		return
	}
	c := sp.queue[0]
	if c.left--; c.left == 0 {
		sp.queue[0] = nil
		sp.queue = sp.queue[1:]
		sp.free = append(sp.free, c)
	}
}

// promise is called by kgo for every record, in order per partition.
func (sp *sessPart) promise(r *kgo.Record, err error) {
	fp := sp.fp
	if fp.f.gen.Load() != sp.gen {
		return // a late call from a closed client: the next session has reconciled
	}
	defer sp.done() // after the last use of r
	if err != nil {
		if !fp.failed.Swap(true) && !errors.Is(err, kgo.ErrClientClosed) {
			fp.f.log.Warn("forward: producing failed", "topic", fp.topic, "partition", fp.id, "err", err)
			fp.f.failSession(fmt.Errorf("forward: producing to %s/%d: %w", fp.topic, fp.id, err))
		}
		fp.outstanding.Add(-1)
		return
	}
	if fp.f.txn {
		// Acknowledged, not committed: endTxn moves the position.
		if fp.outstanding.Add(-1) == 0 {
			select {
			case sp.drained <- struct{}{}:
			default:
			}
		}
		return
	}
	off, ok := sourceOffset(r.Headers, kgoHeader)
	if !ok {
		off = fp.acked.Load()
	}
	if fp.failed.Load() {
		if !fp.gapLogged.Swap(true) {
			fp.f.log.Error("forward: records are missing in the cluster", "topic", fp.topic, "partition", fp.id, "before", off, "err", ErrGap)
			fp.f.mu.Lock()
			fp.f.lastErr = fmt.Errorf("forward: %s/%d before local offset %d: %w", fp.topic, fp.id, off, ErrGap)
			fp.f.mu.Unlock()
		}
		fp.outstanding.Add(-1)
		return
	}
	fp.acked.Store(off + 1)
	fp.outstanding.Add(-1)
}

// failSession ends the running session with err.
func (f *Forwarder) failSession(err error) {
	f.mu.Lock()
	if f.sessErr == nil {
		f.sessErr = err
	}
	c := f.sessCancel
	f.mu.Unlock()
	if c != nil {
		c()
	}
}

// checkpointLoop commits acknowledged positions every CheckpointInterval
// and when Flush asks.
func (f *Forwarder) checkpointLoop() {
	t := time.NewTicker(f.cfg.CheckpointInterval)
	defer t.Stop()
	for {
		select {
		case <-f.ctx.Done():
			return
		case <-t.C:
			if f.crash.Load() {
				continue
			}
			f.commit()
		case reply := <-f.flushReq:
			reply <- f.commit()
		}
	}
}

// commit writes the positions that moved to the checkpoint group.
func (f *Forwarder) commit() error {
	f.commitMu.Lock()
	defer f.commitMu.Unlock()
	offsets := map[consumer.TopicPartition]consumer.OffsetAndMetadata{}
	pos := make([]int64, len(f.parts))
	for i, fp := range f.parts {
		pos[i] = fp.position()
		if pos[i] > fp.committed.Load() {
			offsets[consumer.TopicPartition{Topic: fp.topic, Partition: fp.id}] = consumer.OffsetAndMetadata{Offset: pos[i], Metadata: f.meta}
		}
	}
	if len(offsets) == 0 {
		return nil
	}
	if err := f.coord.CommitOffsets(f.cfg.Group, "", -1, offsets); err != nil {
		f.log.Warn("forward: committing the checkpoint failed", "err", err)
		return fmt.Errorf("forward: committing the checkpoint: %w", err)
	}
	for i, fp := range f.parts {
		if pos[i] > fp.committed.Load() {
			fp.committed.Store(pos[i])
		}
	}
	return nil
}

// checkLoop watches the backlog against retention every CheckInterval.
func (f *Forwarder) checkLoop() {
	t := time.NewTicker(f.cfg.CheckInterval)
	defer t.Stop()
	var it record.Iterator
	for {
		for _, fp := range f.parts {
			fp.check(&it)
		}
		select {
		case <-f.ctx.Done():
			return
		case <-t.C:
		}
	}
}

// check updates the oldest unforwarded record's age and the at-risk flag,
// and counts records retention deleted unforwarded.
func (fp *fwdPart) check(it *record.Iterator) {
	pos := fp.position()
	if lso := fp.p.LogStartOffset(); pos < lso {
		fp.noteLoss(pos, lso)
		pos = lso
	}
	var age time.Duration
	if pos < fp.p.HighWatermark() {
		if buf, err := fp.p.Read(nil, pos, 1); err == nil {
			_ = record.Batches(buf, func(h *record.BatchHeader, batch []byte) error {
				if age != 0 || h.IsControl() || it.ResetChecked(h, batch) != nil {
					return nil
				}
				for it.Next() {
					if r := it.Record(); r.Offset >= pos {
						age = max(time.Since(time.UnixMilli(r.Timestamp)), time.Nanosecond)
						break
					}
				}
				return nil
			})
		}
	}
	fp.oldestAge.Store(int64(age))
	ratio := fp.f.cfg.RetentionWarnRatio
	risk := false
	var why string
	if ret := *fp.tc.Retention; ret >= 0 && age > 0 && float64(age) > ratio*float64(ret) {
		risk, why = true, fmt.Sprintf("the oldest unforwarded record is %v old, retention.ms is %v", age.Round(time.Millisecond), ret)
	}
	if rb := *fp.tc.RetentionBytes; rb >= 0 && pos < fp.p.HighWatermark() {
		if lb := fp.lagBytes(pos); float64(lb) > ratio*float64(rb) {
			risk, why = true, fmt.Sprintf("%d bytes are not forwarded, retention.bytes is %d", lb, rb)
		}
	}
	if risk && !fp.atRisk.Load() {
		fp.f.log.Warn("forward: the backlog nears the local retention: records may be deleted before they are forwarded",
			"topic", fp.topic, "partition", fp.id, "why", why)
	}
	fp.atRisk.Store(risk)
}

// lagBytes estimates the size of the records from pos to the high
// watermark by the partition's bytes per offset.
func (fp *fwdPart) lagBytes(pos int64) int64 {
	hw, lso := fp.p.HighWatermark(), fp.p.LogStartOffset()
	pos = max(pos, lso)
	if hw <= pos || hw <= lso {
		return 0
	}
	return int64(float64(fp.p.Size()) * float64(hw-pos) / float64(hw-lso))
}

// ForwarderStats reports the lag of every partition
// (commitlog.ForwarderStatsSource).
func (f *Forwarder) ForwarderStats() commitlog.ForwarderStats {
	s := commitlog.ForwarderStats{Name: f.cfg.Group, Direction: commitlog.ForwardOut}
	for _, fp := range f.parts {
		// Offsets retention deleted are lost (LostRecords), not lag.
		pos := max(fp.position(), fp.p.LogStartOffset())
		hw := fp.p.HighWatermark()
		l := commitlog.ForwardedLag{
			Topic: fp.topic, Partition: fp.id, Position: pos, HighWatermark: hw,
			LagRecords: max(hw-pos, 0), LagBytes: fp.lagBytes(pos),
			OldestAge: time.Duration(fp.oldestAge.Load()), AtRisk: fp.atRisk.Load(), LostRecords: fp.lost.Load(),
		}
		s.LagRecords += l.LagRecords
		s.LagBytes += l.LagBytes
		s.Partitions = append(s.Partitions, l)
	}
	return s
}

// Flush returns once every record appended to the forwarded topics before
// the call is acknowledged by the cluster (in ModeTransactional: in a
// committed transaction) and its position committed to the checkpoint, or with ctx's error, or with the error that stopped the
// forwarder.
func (f *Forwarder) Flush(ctx context.Context) error {
	target := make([]int64, len(f.parts))
	for i, fp := range f.parts {
		target[i] = fp.p.HighWatermark()
	}
	t := time.NewTicker(5 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-f.done:
			return f.stopped()
		default:
		}
		done := true
		for i, fp := range f.parts {
			if fp.position() < target[i] {
				done = false
				break
			}
		}
		if done {
			reply := make(chan error, 1)
			select {
			case f.flushReq <- reply:
				if err := <-reply; err != nil {
					return err
				}
				return nil
			case <-f.done:
				return f.stopped()
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("forward: flush: %w (last failure: %v)", ctx.Err(), f.Err())
		case <-f.done:
			return f.stopped()
		case <-t.C:
		}
	}
}

func (f *Forwarder) stopped() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fatal != nil {
		return f.fatal
	}
	return fmt.Errorf("forward: %w", commitlog.ErrClosed)
}

// Close stops the forwarder: it stops reading, lets the cluster acknowledge
// what was sent within ctx (in ModeTransactional: commits the open
// transaction within ctx, or else aborts it), commits the checkpoint and
// unregisters from the broker. Records not forwarded stay in the local log for the next
// Forwarder. It returns the error that stopped the forwarder, if any; it is
// idempotent. Close it before the broker.
func (f *Forwarder) Close(ctx context.Context) error {
	f.once.Do(func() {
		f.closing.Store(&ctx)
		f.cancel()
		<-f.done
		if !f.crash.Load() {
			f.commit()
		}
		f.unreg()
		f.mu.Lock()
		f.closeErr = f.fatal
		f.mu.Unlock()
	})
	return f.closeErr
}
