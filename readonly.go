package commitlog

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/commitlog-go/commitlog/log"
	"github.com/commitlog-go/commitlog/vfs"
)

// ErrReadOnly: a change asked of a broker opened with OpenReadOnly (or of
// one of its topics, partitions or consumer groups): another process owns
// the data directory.
var ErrReadOnly = log.ErrReadOnly

// DefaultRefreshInterval is how often a read-only broker catches up with
// the owner of its directory (WithRefreshInterval).
const DefaultRefreshInterval = 200 * time.Millisecond

// WithRefreshInterval sets how often a broker opened with OpenReadOnly
// catches up with the process that owns the directory: new records, rolls,
// retention, compaction swaps, topic and partition changes (default
// DefaultRefreshInterval). Zero or less runs no refresher: only
// Broker.Refresh catches up. Open ignores it.
func WithRefreshInterval(d time.Duration) Option {
	return func(o *options) { o.refresh = &d }
}

// nopCloser stands in for the directory lock a read-only broker does not
// take.
type nopCloser struct{}

func (nopCloser) Close() error { return nil }

// OpenReadOnly opens the data directory dir, which another process (or
// another Broker of this one) owns and may be writing, for reading only.
// It takes no lock and writes nothing to the directory: no lock file, no
// recovery or truncation, no index file, no checkpoint, no metadata, no
// clean-shutdown marker; and it runs no retention, flush or log cleaner.
// The directory must exist; meta.json missing is an empty broker (the
// owner has created no topic yet), meta.json damaged is ErrCorrupt.
//
// The broker works with the clients unchanged for reading: admin.New for
// the topic, offset and group descriptions, consumer.New with Assign and
// Poll (long polls wake when the refresher sees new records). Every
// change fails with an error wrapping ErrReadOnly: CreateTopic,
// AddPartitions, DeleteTopic, AlterTopicConfig, DeleteRecordsBefore,
// Partition.Append (and with it a producer's sends), Roll and Compact; a
// consumer's Subscribe (joining a group) and commits. See the package
// documentation, "Read-only opening", for what a reader sees and when.
//
// Close closes the files; it is idempotent. A read-only broker is not
// published in the "commitlog" expvar (the owner is, under the same
// directory name).
func OpenReadOnly(dir string, opts ...Option) (*Broker, error) {
	o := options{logger: slog.New(slog.DiscardHandler)}
	for _, fn := range opts {
		fn(&o)
	}
	fsys := vfs.Default(o.fs)
	if st, err := fsys.Stat(dir); err != nil {
		return nil, fmt.Errorf("commitlog: open read-only: %w", err)
	} else if !st.IsDir() {
		return nil, fmt.Errorf("commitlog: open read-only: %s is not a directory", dir)
	}
	b := &Broker{dir: dir, opts: o, fs: fsys, lock: nopCloser{}, stop: make(chan struct{}), readOnly: true}
	empty := map[string]*Topic{}
	b.topics.Store(&empty)
	if err := b.refresh(true); err != nil {
		b.closeTopics()
		return nil, err
	}
	interval := DefaultRefreshInterval
	if o.refresh != nil {
		interval = *o.refresh
	}
	if interval > 0 {
		b.wg.Add(1)
		go b.refresher(interval)
	}
	return b, nil
}

// ReadOnly reports whether the broker was opened with OpenReadOnly.
func (b *Broker) ReadOnly() bool { return b.readOnly }

// Refresh catches a read-only broker up with the owner of its directory
// now, as its refresher does every WithRefreshInterval: it re-reads
// meta.json (topics created, deleted, altered, partitions added) and the
// log start offsets the owner recorded, and refreshes every partition
// (see log.Log.Refresh): new complete batches become readable and wake
// the readers waiting for them. A broker opened with Open returns nil at
// once.
func (b *Broker) Refresh() error {
	if !b.readOnly {
		return nil
	}
	if b.closed.Load() {
		return fmt.Errorf("commitlog: %w", ErrClosed)
	}
	return b.refresh(false)
}

func (b *Broker) refresher(interval time.Duration) {
	defer b.wg.Done()
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-b.stop:
			return
		case <-tick.C:
		}
		if err := b.refresh(false); err != nil && !errors.Is(err, ErrClosed) {
			b.opts.logger.Warn("commitlog: read-only refresh failed; trying again at the next tick", "dir", b.dir, "err", err)
		}
	}
}

// refresh is Refresh; first is the call of OpenReadOnly, for which a
// partition that cannot be opened is an error (later, it is tried again at
// the next refresh: the owner may be in the middle of creating or deleting
// its topic).
func (b *Broker) refresh(first bool) error {
	b.refreshMu.Lock()
	defer b.refreshMu.Unlock()
	if b.closed.Load() {
		return fmt.Errorf("commitlog: %w", ErrClosed)
	}
	meta := metadata{Version: metaVersion, Topics: map[string]topicMeta{}}
	raw, err := b.readFile(metaFile)
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return fmt.Errorf("commitlog: reading %s: %w", filepath.Join(b.dir, metaFile), err)
	default:
		if meta, err = decodeMeta(raw); err != nil {
			// The owner replaces meta.json by a rename: a damaged one is
			// damage, not a change in flight.
			return fmt.Errorf("commitlog: %s: %w", filepath.Join(b.dir, metaFile), err)
		}
	}
	starts := b.readStartOffsets()
	cur := *b.topics.Load()
	next := make(map[string]*Topic, len(meta.Topics))
	var errs []error
	for _, name := range slices.Sorted(maps.Keys(meta.Topics)) {
		tm := meta.Topics[name]
		cfg, err := ParseTopicConfig(tm.Partitions, tm.Config)
		if err != nil {
			errs = append(errs, fmt.Errorf("commitlog: %s: topic %q: %w", metaFile, name, err))
			if t := cur[name]; t != nil {
				next[name] = t
			}
			continue
		}
		cfg = cfg.withDefaults()
		t := cur[name]
		if t == nil {
			t = &Topic{name: name, broker: b}
			t.cfg.Store(&cfg)
		} else if old := t.cfg.Load(); !maps.Equal(old.Settings(), cfg.Settings()) {
			t.cfg.Store(&cfg)
			for _, p := range t.Partitions() {
				if err := p.log.Reconfigure(cfg.logConfig()); err != nil {
					b.opts.logger.Warn("commitlog: read-only refresh: applying the owner's new topic settings", "topic", name, "partition", p.ID(), "err", err)
				}
			}
		}
		parts := t.Partitions()
		for _, p := range parts {
			if err := b.refreshPartition(p, starts); err != nil && !errors.Is(err, fs.ErrNotExist) {
				errs = append(errs, err)
			}
		}
		added := slices.Clone(parts)
		for id := int32(len(parts)); id < tm.Partitions; id++ {
			p, err := b.openReadOnlyPartition(name, id, cfg, starts)
			if err != nil {
				if first {
					return err
				}
				b.opts.logger.Debug("commitlog: read-only refresh: partition not ready yet", "topic", name, "partition", id, "err", err)
				break
			}
			added = append(added, p)
		}
		if len(added) > len(parts) {
			t.parts.Store(&added)
		}
		if len(added) > 0 {
			next[name] = t
		}
	}
	for name, t := range cur {
		if next[name] == t {
			continue
		}
		// Deleted by the owner (or deleted and created again: the new
		// topic's partitions were opened above).
		t.deleted.Store(true)
		for _, p := range t.Partitions() {
			p.deleted.Store(true)
			if !p.closed.Swap(true) {
				p.notify()
				errs = append(errs, p.log.Close())
			}
		}
	}
	b.topics.Store(&next)
	return errors.Join(errs...)
}

// readStartOffsets reads the log start offsets the owner recorded, or
// nil if the file is missing or damaged (the owner replaces it by a
// rename, so damage is not a write in flight): the starts then follow
// the segment files only.
func (b *Broker) readStartOffsets() map[topicPartition]int64 {
	data, err := b.readFile(LogStartOffsetCheckpointFile)
	if err != nil {
		return nil
	}
	m, err := decodeCheckpoint(filepath.Join(b.dir, LogStartOffsetCheckpointFile), data)
	if err != nil {
		b.opts.logger.Debug("commitlog: read-only refresh: ignoring the log start offset checkpoint", "err", err)
		return nil
	}
	return m
}

func startOf(starts map[topicPartition]int64, topic string, id int32) int64 {
	if s, ok := starts[topicPartition{topic, id}]; ok {
		return s
	}
	return -1
}

// refreshPartition refreshes a read-only partition's log and moves its
// high watermark to the log's end, waking the readers waiting for it.
func (b *Broker) refreshPartition(p *Partition, starts map[topicPartition]int64) error {
	if p.closed.Load() {
		return nil
	}
	if _, err := p.log.Refresh(startOf(starts, p.topic, p.id)); err != nil {
		return fmt.Errorf("commitlog: partition %s-%d: %w", p.topic, p.id, err)
	}
	if end := p.log.EndOffset(); end > p.hw.Load() {
		p.advance(end)
		p.notify()
	}
	return nil
}

// openReadOnlyPartition opens partition id of topic for reading only.
func (b *Broker) openReadOnlyPartition(topic string, id int32, cfg TopicConfig, starts map[topicPartition]int64) (*Partition, error) {
	dir, lc, err := b.partitionLogConfig(topic, id, cfg)
	if err != nil {
		return nil, err
	}
	lc.Checkpoint = &log.Checkpoint{StartOffset: startOf(starts, topic, id)}
	l, err := log.OpenReadOnly(dir, lc)
	if err != nil {
		return nil, fmt.Errorf("commitlog: partition %s-%d: %w", topic, id, err)
	}
	p := &Partition{topic: topic, id: id, log: l}
	p.hw.Store(l.EndOffset())
	p.wake.Store(&waker{ch: make(chan struct{})})
	return p, nil
}

// readOnlyErr is the error of a change asked of a read-only broker.
func (b *Broker) readOnlyErr(op string) error {
	return fmt.Errorf("commitlog: %s: %s is open read-only: %w", op, b.dir, ErrReadOnly)
}
