package forward

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/commitlog-go/commitlog"
	"github.com/commitlog-go/commitlog/record"
)

// DefaultMirrorGroup is the remote consumer group of a Mirror whose
// MirrorConfig.Group is empty.
const DefaultMirrorGroup = "commitlog-mirror"

// MirrorConfig configures a Mirror.
type MirrorConfig struct {
	// Topics are the remote topics to mirror, each into the local topic of
	// the same name, created with the remote partition count (and
	// TopicConfig's settings) when it does not exist.
	Topics []string
	// Group is the consumer group of the cluster to which the mirror
	// commits how far it got (default DefaultMirrorGroup): for monitoring
	// with Kafka's tools, and the resume point when the local tail holds
	// nothing (retention deleted it). It must have no members.
	Group string
	// ClientOptions configure the kgo client that reads from the cluster:
	// kgo.SeedBrokers (required), TLS, SASL, fetch settings. The mirror
	// reads committed records only (kgo.ReadCommitted, placed before these
	// options, so they may change it) and adds kgo.ConsumePartitions after
	// them.
	ClientOptions []kgo.Opt
	// TopicConfig holds the settings of the local topics the mirror
	// creates; Partitions is ignored. A topic with message.timestamp.type
	// LogAppendTime does not keep the remote timestamps.
	TopicConfig commitlog.TopicConfig
	// Compression of the local batches (compression.type; default none).
	Compression record.Compression
	// CommitInterval is how often the positions are committed to Group
	// (default 200 ms).
	CommitInterval time.Duration
	// Logger receives failures and losses (default: the broker's).
	Logger *slog.Logger
}

// Mirror copies topics of a Kafka cluster into the embedded broker, exactly
// once across crashes: see the package documentation. It starts at
// NewMirror and runs until Close; it is safe for concurrent use.
type Mirror struct {
	b   *commitlog.Broker
	cfg MirrorConfig
	log *slog.Logger

	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}
	unreg  func()
	once   sync.Once

	parts   atomic.Pointer[[]*mirPart]      // set by the first session that reaches the cluster
	crash   atomic.Bool                     // tests: commit nothing more, as after a crash
	closing atomic.Pointer[context.Context] // Close's ctx, which bounds the last commit

	mu      sync.Mutex // guards fatal, lastErr
	fatal   error
	lastErr error
}

// mirPart is where mirroring one remote partition stands.
type mirPart struct {
	topic string
	id    int32
	p     *commitlog.Partition
	tc    commitlog.TopicConfig

	pos       atomic.Int64 // remote offset after the last record appended durably here
	hw        atomic.Int64 // the remote high watermark, as last fetched
	committed atomic.Int64 // as last committed to the group (-1: none)
	lost      atomic.Int64
	records   atomic.Int64 // mirrored since start, with bytes, for the lag in bytes
	bytes     atomic.Int64
}

// NewMirror starts a Mirror of cfg.Topics into b. It returns at once: the
// cluster need not be reachable (the mirror retries until it is).
func NewMirror(b *commitlog.Broker, cfg MirrorConfig) (*Mirror, error) {
	if len(cfg.Topics) == 0 {
		return nil, fmt.Errorf("forward: %w: %w", ErrNoTopics, commitlog.ErrInvalidConfig)
	}
	if len(cfg.ClientOptions) == 0 {
		return nil, fmt.Errorf("forward: %w: ClientOptions need kgo.SeedBrokers", commitlog.ErrInvalidConfig)
	}
	for _, t := range cfg.Topics {
		if err := commitlog.ValidateTopicName(t); err != nil {
			return nil, fmt.Errorf("forward: %w", err)
		}
	}
	if cfg.Group == "" {
		cfg.Group = DefaultMirrorGroup
	}
	if cfg.CommitInterval <= 0 {
		cfg.CommitInterval = 200 * time.Millisecond
	}
	m := &Mirror{b: b, cfg: cfg, log: logger(cfg.Logger, b).With("mirror", cfg.Group), done: make(chan struct{})}
	m.ctx, m.cancel = context.WithCancel(context.Background())
	m.unreg = b.RegisterForwarder(m)
	go m.run()
	return m, nil
}

func (m *Mirror) run() {
	defer close(m.done)
	for attempt := 0; m.ctx.Err() == nil; attempt++ {
		progressed, err := m.session()
		if m.ctx.Err() != nil {
			return
		}
		if errors.Is(err, ErrPartitionMismatch) {
			m.mu.Lock()
			m.fatal = err
			m.mu.Unlock()
			m.log.Error("forward: mirror stopped", "err", err)
			m.cancel()
			return
		}
		m.mu.Lock()
		m.lastErr = err
		m.mu.Unlock()
		if progressed {
			attempt = 0
		}
		m.log.Warn("forward: mirroring failed; retrying", "err", err, "attempt", attempt+1)
		backoff(m.ctx, attempt)
	}
}

// Err returns the error that stopped the mirror (ErrPartitionMismatch), or
// else the last failure it is retrying after, or nil.
func (m *Mirror) Err() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fatal != nil {
		return m.fatal
	}
	return m.lastErr
}

func (m *Mirror) clientOptions() []kgo.Opt {
	return append([]kgo.Opt{kgo.FetchIsolationLevel(kgo.ReadCommitted())}, m.cfg.ClientOptions...)
}

// session connects, sets up the local topics, reconciles each partition
// with the local tail and mirrors until an error or Close.
func (m *Mirror) session() (progressed bool, err error) {
	opts := m.clientOptions()
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return false, fmt.Errorf("forward: %w", err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	ctx, cancel := context.WithCancel(m.ctx)
	defer cancel()
	parts, err := m.prepare(ctx, adm)
	if err != nil {
		return false, err
	}
	consume := map[string]map[int32]kgo.Offset{}
	byTP := map[string]map[int32]*mirPart{}
	start := map[*mirPart]int64{}
	for _, mp := range parts {
		if consume[mp.topic] == nil {
			consume[mp.topic] = map[int32]kgo.Offset{}
			byTP[mp.topic] = map[int32]*mirPart{}
		}
		consume[mp.topic][mp.id] = kgo.NewOffset().At(mp.pos.Load())
		byTP[mp.topic][mp.id] = mp
		start[mp] = mp.pos.Load()
	}
	cons, err := kgo.NewClient(append(opts, kgo.ConsumePartitions(consume))...)
	if err != nil {
		return false, fmt.Errorf("forward: %w", err)
	}
	defer cons.Close()

	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(m.cfg.CommitInterval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				m.commit(ctx, adm, parts)
			}
		}
	}()
	defer func() {
		cancel()
		wg.Wait()
		// A last commit, bounded by Close's ctx (or a second after a
		// failure): the local tail covers it if it does not get through.
		cctx, ccancel := context.WithTimeout(context.Background(), time.Second)
		if c := m.closing.Load(); c != nil {
			cctx, ccancel = context.WithCancel(*c)
		}
		m.commit(cctx, adm, parts)
		ccancel()
		for _, mp := range parts {
			if mp.pos.Load() > start[mp] {
				progressed = true
			}
		}
	}()
	bl := record.NewBuilder(0, record.BatchOptions{Compression: m.cfg.Compression})
	for {
		fs := cons.PollFetches(ctx)
		if ctx.Err() != nil {
			return false, fmt.Errorf("forward: %w", commitlog.ErrClosed)
		}
		var ferr error
		fs.EachError(func(t string, p int32, err error) {
			if ferr == nil {
				ferr = fmt.Errorf("forward: fetching %s/%d: %w", t, p, err)
			}
		})
		if ferr != nil {
			return false, ferr
		}
		var aerr error
		fs.EachPartition(func(ftp kgo.FetchTopicPartition) {
			mp := byTP[ftp.Topic][ftp.Partition]
			if mp == nil || aerr != nil || len(ftp.Records) == 0 {
				return
			}
			mp.hw.Store(ftp.HighWatermark)
			aerr = m.append(ctx, adm, mp, bl, ftp.Records)
		})
		if aerr != nil {
			return false, aerr
		}
	}
}

// prepare learns the remote partition counts, creates or checks the local
// topics and sets each partition's position: max(committed, highest source
// offset in the local tail + 1), at least the remote log start offset.
func (m *Mirror) prepare(ctx context.Context, adm *kadm.Client) ([]*mirPart, error) {
	counts, err := remoteCounts(ctx, adm, m.cfg.Topics)
	if err != nil {
		return nil, err
	}
	old := map[string]*mirPart{}
	if ps := m.parts.Load(); ps != nil {
		for _, mp := range *ps {
			old[mp.topic+"/"+strconv.Itoa(int(mp.id))] = mp
		}
	}
	var parts []*mirPart
	seen := map[string]bool{}
	for _, name := range m.cfg.Topics {
		if seen[name] {
			continue
		}
		seen[name] = true
		n := counts[name]
		if n == 0 {
			return nil, fmt.Errorf("forward: remote topic %s: %w", name, commitlog.ErrUnknownTopic)
		}
		t, err := m.b.Topic(name)
		if errors.Is(err, commitlog.ErrUnknownTopic) {
			tc := m.cfg.TopicConfig
			tc.Partitions = n
			t, err = m.b.CreateTopic(name, tc)
			if err == nil {
				m.log.Info("forward: created the local topic", "topic", name, "partitions", n)
			}
		}
		if err != nil {
			return nil, fmt.Errorf("forward: local topic %s: %w", name, err)
		}
		if t.NumPartitions() != n {
			return nil, fmt.Errorf("forward: topic %s has %d partitions here, %d in the cluster: %w", name, t.NumPartitions(), n, ErrPartitionMismatch)
		}
		tc := t.Config()
		for _, p := range t.Partitions() {
			mp := old[name+"/"+strconv.Itoa(int(p.ID()))]
			if mp == nil || mp.p != p {
				mp = &mirPart{topic: name, id: p.ID(), p: p, tc: tc}
				mp.committed.Store(-1)
			}
			parts = append(parts, mp)
		}
	}
	committed, err := adm.FetchOffsetsForTopics(ctx, m.cfg.Group, m.cfg.Topics...)
	if err == nil {
		err = committed.Error()
	}
	if errors.Is(err, kerr.GroupIDNotFound) {
		committed, err = nil, nil // nothing committed yet
	}
	if err != nil {
		return nil, fmt.Errorf("forward: fetching the offsets of group %s: %w", m.cfg.Group, err)
	}
	starts, err := adm.ListStartOffsets(ctx, m.cfg.Topics...)
	if err == nil {
		err = starts.Error()
	}
	if err != nil {
		return nil, fmt.Errorf("forward: listing remote start offsets: %w", err)
	}
	ends, err := adm.ListEndOffsets(ctx, m.cfg.Topics...)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return nil, fmt.Errorf("forward: listing remote end offsets: %w", err)
	}
	for _, mp := range parts {
		pos, known := int64(0), false
		if c, ok := committed.Lookup(mp.topic, mp.id); ok && c.At >= 0 {
			pos, known = c.At, true
			mp.committed.Store(c.At)
		}
		h, found, err := localTail(mp.p)
		if err != nil {
			return nil, err
		}
		if found && h+1 > pos {
			pos, known = h+1, true
		}
		if e, ok := ends.Lookup(mp.topic, mp.id); ok {
			mp.hw.Store(e.Offset)
			if pos > e.Offset {
				return nil, fmt.Errorf("forward: %s/%d here holds up to remote offset %d, past the remote end offset %d: was the remote topic recreated? %w",
					mp.topic, mp.id, pos-1, e.Offset, commitlog.ErrCorrupt)
			}
		}
		if s, ok := starts.Lookup(mp.topic, mp.id); ok && pos < s.Offset {
			if known {
				m.noteLoss(mp, pos, s.Offset)
			}
			pos = s.Offset
		}
		mp.pos.Store(pos)
	}
	m.parts.Store(&parts)
	return parts, nil
}

func (m *Mirror) noteLoss(mp *mirPart, from, to int64) {
	mp.lost.Add(to - from)
	m.log.Error("forward: the cluster's retention deleted records before they were mirrored; continuing from its log start",
		"topic", mp.topic, "partition", mp.id, "from", from, "log_start_offset", to, "lost", to-from)
}

// append writes records (of one remote partition, in order) to the local
// partition in batches within max.message.bytes, fsynced, and then moves
// the position past them.
func (m *Mirror) append(ctx context.Context, adm *kadm.Client, mp *mirPart, bl *record.Builder, recs []*kgo.Record) error {
	pos := mp.pos.Load()
	if first := recs[0].Offset; first > pos {
		// A gap: compaction, transaction markers, or retention.
		if starts, err := adm.ListStartOffsets(ctx, mp.topic); err == nil {
			if s, ok := starts.Lookup(mp.topic, mp.id); ok && s.Err == nil && s.Offset > pos {
				m.noteLoss(mp, pos, min(s.Offset, first))
			}
		}
	}
	maxBytes := *mp.tc.MaxMessageBytes - 64
	var hdrs []record.Header
	var num [20]byte
	flush := func(durable bool) error {
		if bl.Len() == 0 {
			return nil
		}
		batch, err := bl.Build()
		if err != nil {
			return fmt.Errorf("forward: encoding for %s/%d: %w", mp.topic, mp.id, err)
		}
		if _, err := mp.p.Append(append([]byte(nil), batch...), durable); err != nil {
			return fmt.Errorf("forward: appending to %s/%d: %w", mp.topic, mp.id, err)
		}
		bl.Reset(0, record.BatchOptions{Compression: m.cfg.Compression})
		return nil
	}
	var size int64
	for _, r := range recs {
		hdrs = hdrs[:0]
		for _, h := range r.Headers {
			hdrs = append(hdrs, record.Header{Key: h.Key, Value: h.Value})
		}
		hdrs = append(hdrs, record.Header{Key: OffsetHeader, Value: strconv.AppendInt(num[:0], r.Offset, 10)})
		n := record.RecordSize(0, 0, r.Key, r.Value, hdrs)
		if bl.Len() > 0 && bl.Size()+n > maxBytes {
			if err := flush(false); err != nil {
				return err
			}
		}
		bl.Add(r.Timestamp.UnixMilli(), r.Key, r.Value, hdrs)
		size += int64(n)
	}
	if err := flush(true); err != nil {
		return err
	}
	last := recs[len(recs)-1].Offset
	mp.pos.Store(last + 1)
	mp.records.Add(int64(len(recs)))
	mp.bytes.Add(size)
	return nil
}

// commit commits the positions that moved to the remote group.
func (m *Mirror) commit(ctx context.Context, adm *kadm.Client, parts []*mirPart) {
	if m.crash.Load() {
		return
	}
	var os kadm.Offsets
	for _, mp := range parts {
		if pos := mp.pos.Load(); pos > mp.committed.Load() {
			os.Add(kadm.Offset{Topic: mp.topic, Partition: mp.id, At: pos, LeaderEpoch: -1})
		}
	}
	if len(os) == 0 {
		return
	}
	rs, err := adm.CommitOffsets(ctx, m.cfg.Group, os)
	if err == nil {
		err = rs.Error()
	}
	if err != nil {
		if ctx.Err() == nil {
			m.log.Warn("forward: committing the mirror's offsets failed", "err", err)
		}
		return
	}
	os.Each(func(o kadm.Offset) {
		for _, mp := range parts {
			if mp.topic == o.Topic && mp.id == o.Partition && o.At > mp.committed.Load() {
				mp.committed.Store(o.At)
			}
		}
	})
}

// ForwarderStats reports the lag of every remote partition
// (commitlog.ForwarderStatsSource): empty until the mirror first reached
// the cluster.
func (m *Mirror) ForwarderStats() commitlog.ForwarderStats {
	s := commitlog.ForwarderStats{Name: m.cfg.Group, Direction: commitlog.ForwardIn}
	ps := m.parts.Load()
	if ps == nil {
		return s
	}
	for _, mp := range *ps {
		pos, hw := mp.pos.Load(), mp.hw.Load()
		l := commitlog.ForwardedLag{Topic: mp.topic, Partition: mp.id, Position: pos, HighWatermark: hw, LagRecords: max(hw-pos, 0), LostRecords: mp.lost.Load()}
		if n := mp.records.Load(); n > 0 {
			l.LagBytes = l.LagRecords * mp.bytes.Load() / n
		}
		s.LagRecords += l.LagRecords
		s.LagBytes += l.LagBytes
		s.Partitions = append(s.Partitions, l)
	}
	return s
}

// Flush returns once every record the remote topics held at the call is
// appended durably here and its offset committed to the group, or with
// ctx's error, or with the error that stopped the mirror.
func (m *Mirror) Flush(ctx context.Context) error {
	cl, err := kgo.NewClient(m.cfg.ClientOptions...)
	if err != nil {
		return fmt.Errorf("forward: %w", err)
	}
	ends, err := kadm.NewClient(cl).ListEndOffsets(ctx, m.cfg.Topics...)
	cl.Close()
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return fmt.Errorf("forward: flush: listing remote end offsets: %w", err)
	}
	t := time.NewTicker(5 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-m.done:
			return m.stopped()
		default:
		}
		if ps := m.parts.Load(); ps != nil {
			done := true
			for _, mp := range *ps {
				e, ok := ends.Lookup(mp.topic, mp.id)
				if ok && (mp.pos.Load() < e.Offset || mp.committed.Load() < e.Offset) {
					done = false
					break
				}
			}
			if done {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("forward: flush: %w (last failure: %v)", ctx.Err(), m.Err())
		case <-m.done:
			return m.stopped()
		case <-t.C:
		}
	}
}

func (m *Mirror) stopped() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fatal != nil {
		return m.fatal
	}
	return fmt.Errorf("forward: %w", commitlog.ErrClosed)
}

// Close stops the mirror, commits its positions within ctx (best effort:
// the local tail covers them) and unregisters it from the broker. It
// returns the error that stopped the mirror, if any; it is idempotent.
// Close it before the broker.
func (m *Mirror) Close(ctx context.Context) error {
	m.once.Do(func() {
		m.closing.Store(&ctx)
		m.cancel()
		<-m.done
		m.unreg()
	})
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.fatal
}
