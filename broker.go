package commitlog

import (
	"errors"
	"fmt"
	"github.com/commitlog-go/commitlog/vfs"
	"io"
	"log/slog"
	"maps"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Broker owns a data directory: its topics, their partitions and the
// background maintenance (retention, time-based flushes). Open one per
// directory per process; it is safe for concurrent use.
type Broker struct {
	dir    string
	opts   options
	fs     vfs.FS // opts.fs or the OS
	lock   io.Closer
	adminM sync.Mutex // serialises metadata changes (create, alter, delete)
	topics atomic.Pointer[map[string]*Topic]
	closed atomic.Bool
	stop   chan struct{}
	wg     sync.WaitGroup
	once   sync.Once
	err    error
	coord  coordinatorSlot // the consumer group coordinator (client.go)

	// forwarders are the registered store-and-forward processes (forwardstats.go).
	forwarders forwarderSet
	// clients are the registered producers and consumers (clientstats.go).
	clients clientSets

	// Guarded by adminM (and written by load before Open returns).
	deleted  map[string]int32 // deleted topics whose directories may remain: name -> partitions
	lastMeta []byte           // the committed meta.json, kept as meta.json.prev when replaced

	cp checkpoints // the recovery-point and log-start checkpoint files (checkpoint.go)

	// Read-only brokers (readonly.go): another process owns dir.
	readOnly  bool
	refreshMu sync.Mutex // serialises refreshes
}

type options struct {
	logger      *slog.Logger
	maintenance time.Duration
	hook        func(step string) error // failure injection for tests
	noExpvar    bool
	cleaner     cleanerOptions // the log cleaner (cleaner.go)
	recoverMeta bool           // WithRecoverMetadata
	fs          vfs.FS         // WithFS
	refresh     *time.Duration // WithRefreshInterval (OpenReadOnly)
}

// WithFS puts the data directory on another file system than the
// operating system's: a vfs.MemFS, whose Crash shows what a power cut
// leaves, in crash tests. Every file the broker and its logs read or
// write goes through it.
func WithFS(fsys vfs.FS) Option { return func(o *options) { o.fs = fsys } }

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
// default 1 s). A roll finds the expired segments at once; at the next
// tick the new log start offset is checkpointed, then the log start moves
// past them and their files go, so that a power cut never brings back
// records a consumer was sent past.
func WithMaintenanceInterval(d time.Duration) Option {
	return func(o *options) { o.maintenance = d }
}

// Open opens the broker in dir, creating it if needed. It takes an
// exclusive lock on the directory (a second Open, here or in another
// process, fails with ErrLocked naming the holder's pid), loads the topic
// metadata and opens every partition, recovering logs that were not shut
// down cleanly.
//
// Open never removes data it cannot prove is garbage. When meta.json is
// missing or damaged while partition directories hold data, when it names
// a partition whose directory is gone, or when a partition directory with
// data is not in it, Open fails with an error wrapping ErrCorrupt that
// names the files and changes nothing; WithRecoverMetadata rebuilds the
// metadata from the directories instead. An empty or new directory opens
// as an empty broker. See the package documentation for what Open does
// remove.
func Open(dir string, opts ...Option) (*Broker, error) {
	o := options{logger: slog.New(slog.DiscardHandler), maintenance: time.Second}
	for _, fn := range opts {
		fn(&o)
	}
	fsys := vfs.Default(o.fs)
	// A new data directory's entry is made durable too.
	if err := vfs.MkdirAllSync(fsys, dir); err != nil {
		return nil, fmt.Errorf("commitlog: %w", err)
	}
	lock, err := fsys.Lock(filepath.Join(dir, ".lock"))
	if err != nil {
		return nil, fmt.Errorf("commitlog: %w", err)
	}
	b := &Broker{dir: dir, opts: o, fs: fsys, lock: lock, stop: make(chan struct{})}
	empty := map[string]*Topic{}
	b.topics.Store(&empty)
	if err := b.load(); err != nil {
		b.closeTopics()
		lock.Close()
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

func (b *Broker) openTopicPartition(topic string, id int32, cfg TopicConfig) (*Partition, error) {
	dir, lc, err := b.partitionLogConfig(topic, id, cfg)
	if err != nil {
		return nil, err
	}
	lc.Checkpoint = b.cp.loaded[topicPartition{topic, id}]
	lc.OnStartOffset = func(int64) error { return b.writeCheckpoints() }
	p, err := openPartition(dir, topic, id, lc)
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

// writeMeta commits a new topic map, with the partition counts of
// override, and the deletions in deleted whose directories are not all
// gone yet. See commitMeta.
func (b *Broker) writeMeta(topics map[string]*Topic, deleted map[string]int32, override ...topicChange) (committed bool, err error) {
	meta := metadata{Version: metaVersion, Topics: map[string]topicMeta{}}
	for name, t := range topics {
		meta.Topics[name] = topicMeta{Partitions: t.NumPartitions(), Config: t.cfg.Load().Settings()}
	}
	for _, o := range override {
		tm := meta.Topics[o.name]
		tm.Partitions = o.partitions
		meta.Topics[o.name] = tm
	}
	meta.Deleted = b.pendingDeletes(meta.Topics, deleted)
	data, err := encodeMeta(meta)
	if err != nil {
		return false, err
	}
	committed, err = b.commitMeta(data)
	if committed {
		b.lastMeta = data
		b.deleted = deletedMap(meta.Deleted)
	}
	return committed, err
}

// pendingDeletes lists the deleted topics some partition directory of
// which, not used by a live topic of the same name, still exists.
func (b *Broker) pendingDeletes(live map[string]topicMeta, deleted map[string]int32) []deletedTopic {
	var out []deletedTopic
	for name, n := range deleted {
		for id := live[name].Partitions; id < n; id++ {
			if dir, err := b.partitionDir(name, id); err == nil && b.dirExists(dir) {
				out = append(out, deletedTopic{Name: name, Partitions: n})
				break
			}
		}
	}
	return out
}

// commitMeta replaces meta.json with data: it writes a temporary file and
// fsyncs it, keeps the metadata it replaces as meta.json.prev (written
// the same way), renames the temporary file over meta.json and fsyncs the
// directory, so a crash leaves either the old or the new metadata, never
// a mix.
//
// It reports whether the rename happened: from then on the change is in
// effect (it is what the next Open sees), even if what follows fails.
func (b *Broker) commitMeta(data []byte) (committed bool, err error) {
	if b.readOnly {
		return false, b.readOnlyErr("write " + metaFile)
	}
	tmp := metaFile + ".tmp"
	if err := b.writeFileSynced(tmp, data); err != nil {
		return false, err
	}
	if err := b.step("meta-temp-written"); err != nil {
		return false, err
	}
	if b.lastMeta != nil {
		prevTmp := metaPrevFile + ".tmp"
		err := b.writeFileSynced(prevTmp, b.lastMeta)
		if err == nil {
			err = b.renameFile(prevTmp, metaPrevFile)
		}
		if err == nil {
			err = b.syncDir(b.dir)
		}
		if err != nil {
			return false, fmt.Errorf("keeping %s: %w", metaPrevFile, err)
		}
	}
	if err := b.step("meta-prev-written"); err != nil {
		return false, err
	}
	if err := b.renameFile(tmp, metaFile); err != nil {
		return false, err
	}
	if err := b.step("meta-renamed"); err != nil {
		return true, err
	}
	return true, b.syncDir(b.dir)
}

// topicChange is a partition count the metadata commits before the topic
// object shows it.
type topicChange struct {
	name       string
	partitions int32
}

// makeRoom clears the way for a new partition directory. A directory
// already there is removed only if it is provably garbage: a partition of
// a deleted topic that the metadata records, or an empty leftover of a
// change that never committed. Anything else is an error: the topic's
// name is taken on disk by data the broker cannot account for.
func (b *Broker) makeRoom(name string, id int32) error {
	dir, err := b.partitionDir(name, id)
	if err != nil {
		return fmt.Errorf("commitlog: %w", err)
	}
	if !b.dirExists(dir) {
		return nil
	}
	if id >= b.deleted[name] {
		kind, err := b.classifyDir(dir)
		if err != nil {
			return fmt.Errorf("commitlog: %w", err)
		}
		if kind != dirEmpty {
			return fmt.Errorf("commitlog: topic %s: %s exists and holds files the metadata does not account for; refusing to replace it: %w", name, dir, ErrCorrupt)
		}
	}
	if err := b.removeDir(dir); err != nil {
		return fmt.Errorf("commitlog: %w", err)
	}
	return nil
}

// createPartitions makes room for and opens partitions [from, to) of
// topic name; on failure it deletes those it opened.
func (b *Broker) createPartitions(name string, from, to int32, cfg TopicConfig) ([]*Partition, error) {
	parts := make([]*Partition, 0, to-from)
	for i := from; i < to; i++ {
		err := b.makeRoom(name, i)
		var p *Partition
		if err == nil {
			p, err = b.openTopicPartition(name, i, cfg)
		}
		if err != nil {
			deletePartitions(parts)
			return nil, err
		}
		parts = append(parts, p)
	}
	return parts, nil
}

// deletePartitions deletes partitions that a change which did not commit
// created.
func deletePartitions(parts []*Partition) {
	for _, p := range parts {
		_ = p.delete()
	}
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
	if b.readOnly {
		return nil, b.readOnlyErr("create topic " + name)
	}
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
	// The checkpoint files must not name a partition of this name before
	// it exists (a deleted topic's entries, if DeleteTopic could not drop
	// them): the next Open would check the new partitions against them.
	if err := b.writeCheckpoints(); err != nil {
		return nil, fmt.Errorf("commitlog: create topic %s: %w", name, err)
	}
	t := &Topic{name: name, broker: b}
	t.cfg.Store(&cfg)
	parts, err := b.createPartitions(name, 0, cfg.Partitions, cfg)
	if err != nil {
		return nil, err
	}
	fail := func(err error) (*Topic, error) {
		deletePartitions(parts)
		return nil, err
	}
	t.parts.Store(&parts)
	if err := b.step("partitions-created"); err != nil {
		return fail(err)
	}
	next := maps.Clone(cur)
	next[name] = t
	committed, err := b.writeMeta(next, b.deleted)
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
	if b.readOnly {
		return b.readOnlyErr("add partitions to " + name)
	}
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
	// No checkpoint entry may name the new partitions yet (see CreateTopic).
	if err := b.writeCheckpoints(); err != nil {
		return fmt.Errorf("commitlog: add partitions to %s: %w", name, err)
	}
	added, err := b.createPartitions(name, int32(len(old)), total, *t.cfg.Load())
	if err != nil {
		return err
	}
	fail := func(err error) error {
		deletePartitions(added)
		return err
	}
	if err := b.step("partitions-created"); err != nil {
		return fail(err)
	}
	committed, err := b.writeMeta(cur, b.deleted, topicChange{name, total})
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

// DeleteTopic removes a topic. The metadata change commits first, recording
// the deletion; then the partitions are closed and their directories
// renamed aside and removed (an Open after a crash in between removes
// them). Readers and writers of the topic get ErrUnknownTopic from then
// on; a read already in flight finishes with the data it holds. The
// internal topics are refused with ErrInvalidTopic.
func (b *Broker) DeleteTopic(name string) error {
	if b.readOnly {
		return b.readOnlyErr("delete topic " + name)
	}
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
	// The metadata records the deletion until the directories are gone,
	// so that Open can tell them from data it must keep.
	deleted := map[string]int32{}
	maps.Copy(deleted, b.deleted)
	deleted[name] = max(deleted[name], t.NumPartitions())
	committed, err := b.writeMeta(next, deleted)
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
		errs = append(errs, p.delete())
	}
	// Drop the topic from the checkpoints, so that a topic created under
	// its name is never checked against its offsets.
	errs = append(errs, b.writeCheckpoints())
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
				p.metrics.Tick(now)
				if err := p.maintain(); err != nil && !errors.Is(err, ErrClosed) {
					b.opts.logger.Error("maintenance failed", "topic", t.name, "partition", p.ID(), "err", err)
				}
			}
		}
		// Kafka's log.flush.offset.checkpoint.interval.ms, here the
		// maintenance interval: a write only when an offset moved.
		if err := b.writeCheckpoints(); err != nil {
			b.opts.logger.Error("writing the checkpoint files failed", "err", err)
		}
	}
}

func (b *Broker) closeTopics() error {
	var errs []error
	for _, t := range *b.topics.Load() {
		for _, p := range t.Partitions() {
			errs = append(errs, p.close())
		}
	}
	return errors.Join(errs...)
}

// Close stops the maintenance goroutine, flushes and closes every
// partition and releases the directory lock. It is idempotent.
func (b *Broker) Close() error {
	b.once.Do(func() {
		unpublishExpvar(b)
		extErr := b.closeCoordinator()
		b.adminM.Lock()
		b.closed.Store(true)
		b.adminM.Unlock()
		close(b.stop)
		b.wg.Wait()
		b.refreshMu.Lock() // a Refresh in flight opens no partition past this
		closeErr := b.closeTopics()
		b.refreshMu.Unlock()
		var cpErr error
		if closeErr == nil && !b.readOnly {
			// The logs are flushed: the recovery points are their ends.
			cpErr = b.writeCheckpoints()
		}
		b.err = errors.Join(extErr, closeErr, cpErr, b.lock.Close())
	})
	return b.err
}
