package commitlog

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/commitlog-go/commitlog/log"
	"github.com/commitlog-go/commitlog/partition"
)

const metaFile = "meta.json"

// Broker owns a data directory: its topics, their partitions and the
// background maintenance (retention, time-based flushes). Open one per
// directory per process; it is safe for concurrent use.
type Broker struct {
	dir    string
	opts   options
	lock   *os.File
	adminM sync.Mutex // serialises metadata changes (create, alter, delete)
	topics atomic.Pointer[map[string]*Topic]
	closed atomic.Bool
	stop   chan struct{}
	wg     sync.WaitGroup
	once   sync.Once
	err    error
	ext    extensions
}

type options struct {
	logger      *slog.Logger
	maintenance time.Duration
	hook        func(step string) error // failure injection for tests
	noExpvar    bool
	cleaner     cleanerOptions // the log cleaner (cleaner.go)
}

// WithoutExpvar keeps the broker out of the "commitlog" expvar, which by
// default publishes the Stats of every open broker (at /debug/vars when
// the program serves expvar's handler).
func WithoutExpvar() Option { return func(o *options) { o.noExpvar = true } }

// Option configures Open.
type Option func(*options)

// WithLogger sets the structured logger for segment rolls, retention,
// recovery and topic changes. The default discards everything.
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

// WithMaintenanceInterval sets how often the broker applies retention and
// time-based flushes to every partition (Kafka's
// log.retention.check.interval.ms and log.flush.scheduler.interval.ms;
// default 1 s). Rolls also apply retention at once.
func WithMaintenanceInterval(d time.Duration) Option {
	return func(o *options) { o.maintenance = d }
}

type metadata struct {
	Version int                  `json:"version"`
	Topics  map[string]topicMeta `json:"topics"`
}

type topicMeta struct {
	Partitions int32             `json:"partitions"`
	Config     map[string]string `json:"config,omitempty"`
}

// Open opens the broker in dir, creating it if needed. It takes an
// exclusive lock on the directory (a second Open, here or in another
// process, fails with ErrLocked naming the holder's pid), loads the topic
// metadata and opens every partition, recovering logs that were not shut
// down cleanly.
func Open(dir string, opts ...Option) (*Broker, error) {
	o := options{logger: slog.New(slog.DiscardHandler), maintenance: time.Second}
	for _, fn := range opts {
		fn(&o)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("commitlog: %w", err)
	}
	lock, err := lockDir(dir)
	if err != nil {
		return nil, err
	}
	b := &Broker{dir: dir, opts: o, lock: lock, stop: make(chan struct{})}
	empty := map[string]*Topic{}
	b.topics.Store(&empty)
	if err := b.load(); err != nil {
		b.closeTopics()
		unlockDir(lock)
		return nil, err
	}
	if o.maintenance > 0 {
		b.wg.Add(1)
		go b.maintain()
	}
	b.startCleaner()
	if !o.noExpvar {
		publishExpvar(b)
	}
	return b, nil
}

// load reads the metadata, opens every partition it names, and removes
// what a crash in the middle of a topic change left behind: the temporary
// metadata file and partition directories that the metadata does not name.
func (b *Broker) load() error {
	_ = os.Remove(filepath.Join(b.dir, metaFile+".tmp"))
	meta := metadata{Version: 1, Topics: map[string]topicMeta{}}
	data, err := os.ReadFile(filepath.Join(b.dir, metaFile))
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return fmt.Errorf("commitlog: %w", err)
	default:
		if err := json.Unmarshal(data, &meta); err != nil {
			return fmt.Errorf("commitlog: %s: %v: %w", metaFile, err, ErrCorrupt)
		}
	}
	topics := map[string]*Topic{}
	for name, tm := range meta.Topics {
		cfg, err := ParseTopicConfig(tm.Partitions, tm.Config)
		if err != nil {
			return fmt.Errorf("commitlog: topic %s: %w", name, err)
		}
		t := &Topic{name: name, cfg: cfg, broker: b}
		parts := make([]*partition.Partition, 0, tm.Partitions)
		for i := int32(0); i < tm.Partitions; i++ {
			p, err := b.openPartition(name, i, cfg)
			if err != nil {
				for _, p := range parts {
					p.Close()
				}
				b.topics.Store(&topics)
				return err
			}
			parts = append(parts, p)
		}
		t.parts.Store(&parts)
		topics[name] = t
	}
	b.topics.Store(&topics)
	// Partition directories of topics or partitions the metadata does not
	// name were left by a change that never committed.
	entries, err := os.ReadDir(b.dir)
	if err != nil {
		return fmt.Errorf("commitlog: %w", err)
	}
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		if strings.HasSuffix(e.Name(), log.DeletedSuffix) {
			_ = os.RemoveAll(filepath.Join(b.dir, e.Name())) // a deletion cut short
			continue
		}
		name, id, ok := splitPartitionDir(e.Name())
		if !ok {
			continue
		}
		if t := topics[name]; t == nil || id >= t.NumPartitions() {
			b.opts.logger.Warn("removing partition directory not in the metadata", "dir", e.Name())
			if err := os.RemoveAll(filepath.Join(b.dir, e.Name())); err != nil {
				return fmt.Errorf("commitlog: %w", err)
			}
		}
	}
	return nil
}

func splitPartitionDir(name string) (string, int32, bool) {
	i := strings.LastIndexByte(name, '-')
	if i <= 0 {
		return "", 0, false
	}
	id, err := strconv.ParseInt(name[i+1:], 10, 32)
	if err != nil || id < 0 || ValidateTopicName(name[:i]) != nil {
		return "", 0, false
	}
	return name[:i], int32(id), true
}

func (b *Broker) partitionDir(topic string, id int32) string {
	return filepath.Join(b.dir, fmt.Sprintf("%s-%d", topic, id))
}

func (b *Broker) openPartition(topic string, id int32, cfg TopicConfig) (*partition.Partition, error) {
	lc := cfg.logConfig()
	lc.Logger = b.opts.logger.With("topic", topic, "partition", id)
	p, err := partition.Open(b.partitionDir(topic, id), topic, id, lc)
	if err != nil {
		return nil, fmt.Errorf("commitlog: %w", err)
	}
	return p, nil
}

func (b *Broker) step(name string) error {
	if b.opts.hook != nil {
		return b.opts.hook(name)
	}
	return nil
}

// writeMeta commits a new topic map: it writes a temporary file, fsyncs
// it, renames it over meta.json and fsyncs the directory, so a crash
// leaves either the old or the new metadata, never a mix.
//
// It reports whether the rename happened: from then on the change is in
// effect (it is what the next Open sees), even if what follows fails.
func (b *Broker) writeMeta(topics map[string]*Topic, override ...topicChange) (committed bool, err error) {
	meta := metadata{Version: 1, Topics: map[string]topicMeta{}}
	for name, t := range topics {
		meta.Topics[name] = topicMeta{Partitions: t.NumPartitions(), Config: t.cfg.Settings()}
	}
	for _, o := range override {
		tm := meta.Topics[o.name]
		tm.Partitions = o.partitions
		meta.Topics[o.name] = tm
	}
	data, err := json.MarshalIndent(meta, "", "  ")
	if err != nil {
		return false, err
	}
	tmp := filepath.Join(b.dir, metaFile+".tmp")
	f, err := os.Create(tmp)
	if err != nil {
		return false, err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return false, err
	}
	if err := errors.Join(f.Sync(), f.Close()); err != nil {
		return false, err
	}
	if err := b.step("meta-temp-written"); err != nil {
		return false, err
	}
	if err := os.Rename(tmp, filepath.Join(b.dir, metaFile)); err != nil {
		return false, err
	}
	if err := b.step("meta-renamed"); err != nil {
		return true, err
	}
	return true, syncDir(b.dir)
}

// topicChange is a partition count the metadata commits before the topic
// object shows it.
type topicChange struct {
	name       string
	partitions int32
}

func joinErrs(errs []error) error { return errors.Join(errs...) }

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// CreateTopic creates a topic with cfg.Partitions partitions (default 1).
// The change is atomic and crash-safe: the partition directories are
// created first and the metadata file is replaced last, so after a crash
// the topic either exists whole or not at all.
//
// The internal topics (__consumer_offsets; see IsInternalTopic) and names
// that collide with them are refused with ErrInvalidTopic.
func (b *Broker) CreateTopic(name string, cfg TopicConfig) (*Topic, error) {
	if err := ValidateTopicName(name); err != nil {
		return nil, err
	}
	if err := internalTopicError("create topic", name); err != nil {
		return nil, err
	}
	if internal, ok := collidesWithInternal(name); ok {
		return nil, fmt.Errorf("commitlog: topic %s collides with the internal topic %s once '.' and '_' are treated alike: %w", name, internal, ErrInvalidTopic)
	}
	return b.createTopic(name, cfg)
}

func (b *Broker) createTopic(name string, cfg TopicConfig) (*Topic, error) {
	if err := ValidateTopicName(name); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("commitlog: topic %s: %w", name, err)
	}
	b.adminM.Lock()
	defer b.adminM.Unlock()
	if b.closed.Load() {
		return nil, fmt.Errorf("commitlog: %w", ErrClosed)
	}
	cur := *b.topics.Load()
	if _, ok := cur[name]; ok {
		return nil, fmt.Errorf("commitlog: topic %s: %w", name, ErrTopicExists)
	}
	if collides(cur, name) {
		return nil, fmt.Errorf("commitlog: topic %s collides with an existing topic once '.' and '_' are treated alike, as Kafka forbids: %w", name, ErrInvalidTopic)
	}
	t := &Topic{name: name, cfg: cfg, broker: b}
	parts := make([]*partition.Partition, 0, cfg.Partitions)
	fail := func(err error) (*Topic, error) {
		for _, p := range parts {
			_ = p.Delete()
		}
		return nil, err
	}
	for i := int32(0); i < cfg.Partitions; i++ {
		// A directory left by an earlier failed attempt is not ours.
		_ = os.RemoveAll(b.partitionDir(name, i))
		p, err := b.openPartition(name, i, cfg)
		if err != nil {
			return fail(err)
		}
		parts = append(parts, p)
	}
	t.parts.Store(&parts)
	if err := b.step("partitions-created"); err != nil {
		return fail(err)
	}
	next := maps.Clone(cur)
	next[name] = t
	committed, err := b.writeMeta(next)
	if err != nil && !committed {
		return fail(fmt.Errorf("commitlog: create topic %s: %w", name, err))
	}
	b.topics.Store(&next)
	b.opts.logger.Info("created topic", "topic", name, "partitions", cfg.Partitions)
	if err != nil {
		return t, fmt.Errorf("commitlog: create topic %s: the topic exists, but making its metadata durable failed: %w", name, err)
	}
	return t, nil
}

func collides(topics map[string]*Topic, name string) bool {
	for other := range topics {
		if normTopic(other) == normTopic(name) {
			return true
		}
	}
	return false
}

// AddPartitions raises the partition count of a topic to total, as
// kafka-topics --alter --partitions does; the count never shrinks, nor
// grows beyond MaxPartitions. Existing partitions keep their data; keys
// may now hash elsewhere. The internal topics are refused with
// ErrInvalidTopic: their keys would move, and with them the consumer
// groups' committed offsets.
func (b *Broker) AddPartitions(name string, total int32) error {
	if err := internalTopicError("add partitions to", name); err != nil {
		return err
	}
	b.adminM.Lock()
	defer b.adminM.Unlock()
	if b.closed.Load() {
		return fmt.Errorf("commitlog: %w", ErrClosed)
	}
	cur := *b.topics.Load()
	t, ok := cur[name]
	if !ok {
		return fmt.Errorf("commitlog: topic %s: %w", name, ErrUnknownTopic)
	}
	old := t.Partitions()
	if total <= int32(len(old)) {
		return fmt.Errorf("commitlog: topic %s has %d partitions, cannot change to %d: only increases are allowed: %w", name, len(old), total, ErrInvalidConfig)
	}
	if total > MaxPartitions {
		return fmt.Errorf("commitlog: topic %s: %d partitions, more than MaxPartitions (%d): %w", name, total, MaxPartitions, ErrInvalidConfig)
	}
	added := make([]*partition.Partition, 0, int(total)-len(old))
	fail := func(err error) error {
		for _, p := range added {
			_ = p.Delete()
		}
		return err
	}
	for i := int32(len(old)); i < total; i++ {
		_ = os.RemoveAll(b.partitionDir(name, i))
		p, err := b.openPartition(name, i, t.cfg)
		if err != nil {
			return fail(err)
		}
		added = append(added, p)
	}
	if err := b.step("partitions-created"); err != nil {
		return fail(err)
	}
	committed, err := b.writeMeta(cur, topicChange{name, total})
	if err != nil && !committed {
		return fail(fmt.Errorf("commitlog: add partitions to %s: %w", name, err))
	}
	parts := append(slices.Clone(old), added...)
	t.parts.Store(&parts)
	b.opts.logger.Info("added partitions", "topic", name, "from", len(old), "to", total)
	if err != nil {
		return fmt.Errorf("commitlog: add partitions to %s: the partitions exist, but making the metadata durable failed: %w", name, err)
	}
	return nil
}

// DeleteTopic removes a topic. The metadata change commits first; then the
// partitions are closed and their files removed. Readers and writers of the
// topic get ErrUnknownTopic from then on; a read already in flight
// finishes with the data it holds. The internal topics are refused with
// ErrInvalidTopic.
func (b *Broker) DeleteTopic(name string) error {
	if err := internalTopicError("delete topic", name); err != nil {
		return err
	}
	b.adminM.Lock()
	defer b.adminM.Unlock()
	if b.closed.Load() {
		return fmt.Errorf("commitlog: %w", ErrClosed)
	}
	cur := *b.topics.Load()
	t, ok := cur[name]
	if !ok {
		return fmt.Errorf("commitlog: topic %s: %w", name, ErrUnknownTopic)
	}
	next := maps.Clone(cur)
	delete(next, name)
	committed, err := b.writeMeta(next)
	if err != nil && !committed {
		return fmt.Errorf("commitlog: delete topic %s: %w", name, err)
	}
	b.topics.Store(&next)
	t.deleted.Store(true)
	errs := []error{err}
	if err == nil {
		errs = append(errs, b.step("meta-committed"))
	}
	for _, p := range t.Partitions() {
		errs = append(errs, p.Delete())
	}
	b.opts.logger.Info("deleted topic", "topic", name)
	return errors.Join(errs...)
}

// Topic returns the named topic, or an error wrapping ErrUnknownTopic. It
// takes no lock.
func (b *Broker) Topic(name string) (*Topic, error) {
	if t, ok := (*b.topics.Load())[name]; ok {
		return t, nil
	}
	if b.closed.Load() {
		return nil, fmt.Errorf("commitlog: %w", ErrClosed)
	}
	return nil, fmt.Errorf("commitlog: topic %s: %w", name, ErrUnknownTopic)
}

// Topics lists the topic names, sorted.
func (b *Broker) Topics() []string {
	return slices.Sorted(maps.Keys(*b.topics.Load()))
}

// Dir is the broker's data directory.
func (b *Broker) Dir() string { return b.dir }

// Logger is the broker's structured logger, for the clients built on it.
func (b *Broker) Logger() *slog.Logger { return b.opts.logger }

func (b *Broker) maintain() {
	defer b.wg.Done()
	tick := time.NewTicker(b.opts.maintenance)
	defer tick.Stop()
	for {
		select {
		case <-b.stop:
			return
		case <-tick.C:
		}
		now := time.Now()
		for _, t := range *b.topics.Load() {
			for _, p := range t.Partitions() {
				p.Metrics().Tick(now)
				if err := p.Maintain(); err != nil && !errors.Is(err, ErrClosed) {
					b.opts.logger.Error("maintenance failed", "topic", t.name, "partition", p.ID(), "err", err)
				}
			}
		}
	}
}

func (b *Broker) closeTopics() error {
	var errs []error
	for _, t := range *b.topics.Load() {
		for _, p := range t.Partitions() {
			errs = append(errs, p.Close())
		}
	}
	return errors.Join(errs...)
}

// Close stops the maintenance goroutine, flushes and closes every
// partition and releases the directory lock. It is idempotent.
func (b *Broker) Close() error {
	b.once.Do(func() {
		unpublishExpvar(b)
		extErr := b.closeExtensions()
		b.adminM.Lock()
		b.closed.Store(true)
		b.adminM.Unlock()
		close(b.stop)
		b.wg.Wait()
		b.err = errors.Join(extErr, b.closeTopics(), unlockDir(b.lock))
	})
	return b.err
}
