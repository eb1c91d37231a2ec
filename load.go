package commitlog

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// WithRecoverMetadata lets Open rebuild the topic list when meta.json is
// missing, damaged or disagrees with the partition directories, instead of
// failing with ErrCorrupt. Every "<topic>-<n>" directory holding a
// partition becomes partition n of its topic (a topic has as many
// partitions as its highest number plus one; missing ones are created
// empty). A topic's settings come from meta.json if it is readable and
// names the topic, else from meta.json.prev (the metadata before the last
// change), else from the defaults (the internal settings for an internal
// topic); each recovered topic is logged at warning level with where its
// settings came from. A fresh meta.json is written; an unreadable one is
// kept as meta.json.damaged.
//
// Recovery cannot know what the lost metadata said: topics deleted or
// created by the last change may come back or lack their settings.
// Check the topics after a recovery. Without a problem to recover from,
// the option changes nothing.
func WithRecoverMetadata() Option { return func(o *options) { o.recoverMeta = true } }

// loadPlan is what Open found in the data directory for some metadata.
type loadPlan struct {
	missing []string // partitions the metadata names whose directory is gone
	orphans []string // partition directories with data the metadata does not name
	garbage []string // directories Open removes: renamed aside by a deletion, of deleted topics, empty leftovers
	foreign []string // directories named like partitions that hold other files: left alone
}

// load reads the metadata, checks it against the partition directories,
// opens every partition it names and removes what is provably garbage:
// the temporary metadata files, partition directories renamed aside by a
// deletion, the partitions of topics the metadata records as deleted, and
// empty partition directories (no record, no offset) that a crash in the
// middle of CreateTopic or AddPartitions left. Anything else it cannot
// account for makes it fail with ErrCorrupt, unless WithRecoverMetadata.
func (b *Broker) load() error {
	metaPath := filepath.Join(b.dir, metaFile)
	raw, err := b.readFile(metaFile)
	exists := err == nil
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("commitlog: reading %s: %w", metaPath, err)
	}
	scan, err := b.scanDir()
	if err != nil {
		return fmt.Errorf("commitlog: %w", err)
	}

	var meta *metadata // nil: meta.json cannot be used
	var problems []string
	switch {
	case exists:
		m, err := decodeMeta(raw)
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s is damaged: %v", metaPath, err))
		} else {
			meta = &m
		}
	case b.fileExists(metaPrevFile):
		problems = append(problems, fmt.Sprintf("%s is missing, but %s is there: this directory had metadata", metaPath, metaPrevFile))
	default:
		var withData []string
		for _, dir := range scan.partitionDirs() {
			kind, err := b.classifyDir(dir)
			if err != nil {
				return fmt.Errorf("commitlog: %w", err)
			}
			if kind == dirData {
				withData = append(withData, filepath.Base(dir))
			}
		}
		if len(withData) > 0 {
			problems = append(problems, fmt.Sprintf("%s is missing, but partition directories hold data: %s", metaPath, list(withData)))
		} else {
			// A new directory, or a crash in the middle of its first
			// CreateTopic: the empty partition directories go below.
			meta = &metadata{Version: metaVersion, Topics: map[string]topicMeta{}}
		}
	}
	var plan loadPlan
	if meta != nil {
		if plan, err = b.plan(*meta, scan); err != nil {
			return fmt.Errorf("commitlog: %w", err)
		}
		if len(plan.missing) > 0 {
			problems = append(problems, fmt.Sprintf("partitions that %s names have no directory (directories are made durable before the metadata names them, so they were lost): %s", metaPath, list(plan.missing)))
		}
		if len(plan.orphans) > 0 {
			problems = append(problems, fmt.Sprintf("partition directories with data that %s does not name: %s", metaPath, list(plan.orphans)))
		}
	}

	readable := exists && meta != nil // meta.json decodes, even if it disagrees with the directories
	recovered := len(problems) > 0
	var recreated []topicPartition // partitions recovery makes anew, empty
	if recovered {
		if !b.opts.recoverMeta {
			return b.refusal(problems)
		}
		b.opts.logger.Warn("commitlog: recovering the metadata from the partition directories", "dir", b.dir, "problems", strings.Join(problems, "; "))
		m, err := b.rebuild(meta, scan)
		if err != nil {
			return err
		}
		meta = &m
		if plan, err = b.plan(m, scan); err != nil {
			return fmt.Errorf("commitlog: %w", err)
		}
		for _, dir := range plan.missing {
			b.opts.logger.Warn("commitlog: recovery creates a missing partition empty", "dir", dir)
			if name, id, ok := splitPartitionDir(filepath.Base(dir)); ok {
				recreated = append(recreated, topicPartition{name, id})
			}
		}
	}
	// Uncommitted changes (kept by a refusal, which changes nothing).
	for _, tmp := range []string{metaFile + ".tmp", metaPrevFile + ".tmp"} {
		if err := b.removeFile(tmp); err != nil {
			return fmt.Errorf("commitlog: %w", err)
		}
	}
	if readable {
		// What the next change keeps as meta.json.prev (after a recovery,
		// the inconsistent but readable file).
		b.lastMeta = raw
	}
	b.deleted = deletedMap(meta.Deleted)
	if b.cp.loaded, err = b.readCheckpoints(); err != nil {
		return err
	}
	for _, tp := range recreated {
		delete(b.cp.loaded, tp) // its data is lost: nothing to check it against
	}
	defer func() { b.cp.loaded = nil }()

	topics := map[string]*Topic{}
	defer func() { b.topics.Store(&topics) }()
	for _, name := range slices.Sorted(maps.Keys(meta.Topics)) {
		tm := meta.Topics[name]
		cfg, err := ParseTopicConfig(tm.Partitions, tm.Config)
		if err != nil {
			return fmt.Errorf("commitlog: %s: topic %q: %w", metaPath, name, err)
		}
		cfg = cfg.withDefaults()
		t := &Topic{name: name, broker: b}
		t.cfg.Store(&cfg)
		parts := make([]*Partition, 0, tm.Partitions)
		t.parts.Store(&parts)
		topics[name] = t
		for i := int32(0); i < tm.Partitions; i++ {
			p, err := b.openTopicPartition(name, i, cfg)
			if err != nil {
				return err
			}
			parts = append(parts, p)
			t.parts.Store(&parts)
		}
	}

	if recovered {
		if exists && !readable {
			if err := b.renameFile(metaFile, metaDamagedFile); err != nil {
				return fmt.Errorf("commitlog: keeping the damaged %s: %w", metaPath, err)
			}
		}
		if _, err := b.writeMeta(topics, b.deleted); err != nil {
			return fmt.Errorf("commitlog: writing the recovered %s: %w", metaPath, err)
		}
	}
	for _, dir := range plan.garbage {
		b.opts.logger.Info("commitlog: removing a partition directory that no topic uses", "dir", dir)
		if err := b.removeDir(dir); err != nil {
			return fmt.Errorf("commitlog: %w", err)
		}
	}
	for _, dir := range plan.foreign {
		b.opts.logger.Warn("commitlog: leaving alone a directory named like a partition that holds other files", "dir", dir)
	}
	// The checkpoints, from the partitions just opened: entries of
	// partitions that are gone go now, before a topic of the same name
	// could be created.
	b.topics.Store(&topics)
	if err := b.writeCheckpoints(); err != nil {
		return err
	}
	if !recovered && len(meta.Deleted) > 0 {
		// The directories of deleted topics are gone: forget them.
		if _, err := b.writeMeta(topics, b.deleted); err != nil {
			b.opts.logger.Warn("commitlog: could not drop the deleted topics from the metadata", "err", err)
		}
	}
	return nil
}

// plan compares metadata with the partition directories.
func (b *Broker) plan(m metadata, s dirScan) (loadPlan, error) {
	p := loadPlan{garbage: slices.Clone(s.aside)}
	for _, name := range slices.Sorted(maps.Keys(m.Topics)) {
		for id := range m.Topics[name].Partitions {
			if _, ok := s.parts[name][id]; !ok {
				dir, err := b.partitionDir(name, id)
				if err != nil {
					return p, err
				}
				p.missing = append(p.missing, filepath.Base(dir))
			}
		}
	}
	deleted := deletedMap(m.Deleted)
	for _, name := range slices.Sorted(maps.Keys(s.parts)) {
		live := m.Topics[name].Partitions
		for _, id := range slices.Sorted(maps.Keys(s.parts[name])) {
			dir := s.parts[name][id]
			switch {
			case id < live:
				continue
			case id < deleted[name]:
				p.garbage = append(p.garbage, dir)
				continue
			}
			kind, err := b.classifyDir(dir)
			if err != nil {
				return p, err
			}
			switch kind {
			case dirEmpty:
				p.garbage = append(p.garbage, dir)
			case dirData:
				p.orphans = append(p.orphans, filepath.Base(dir))
			default:
				p.foreign = append(p.foreign, dir)
			}
		}
	}
	return p, nil
}

// rebuild makes the topic list from the partition directories, for
// WithRecoverMetadata. cur is meta.json if it is readable.
func (b *Broker) rebuild(cur *metadata, s dirScan) (metadata, error) {
	prev := b.readPrev()
	out := metadata{Version: metaVersion, Topics: map[string]topicMeta{}}
	deleted := map[string]int32{}
	if cur != nil {
		out.Deleted = cur.Deleted
		deleted = deletedMap(cur.Deleted)
	}
	for _, name := range slices.Sorted(maps.Keys(s.parts)) {
		var tm topicMeta
		inCur := false
		if cur != nil {
			tm, inCur = cur.Topics[name]
		}
		n := int32(0)
		for id, dir := range s.parts[name] {
			if id >= tm.Partitions && id < deleted[name] {
				continue // a partition of a deleted topic
			}
			kind, err := b.classifyDir(dir)
			if err != nil {
				return out, fmt.Errorf("commitlog: %w", err)
			}
			if kind == dirForeign || kind == dirEmpty && cur != nil && !inCur {
				continue // not a partition, or the leftover of an uncommitted change
			}
			n = max(n, id+1)
		}
		if n == 0 {
			continue
		}
		source := metaFile
		settings := tm.Config
		switch {
		case inCur:
			n = max(n, tm.Partitions)
		case prev != nil && prev.Topics[name].Partitions > 0:
			source, settings = metaPrevFile, prev.Topics[name].Config
		case IsInternalTopic(name):
			source, settings = "the internal topic's settings", internalTopicConfig(name).Settings()
		default:
			source, settings = "defaults", nil
		}
		out.Topics[name] = topicMeta{Partitions: n, Config: settings}
		if !inCur || n != tm.Partitions {
			b.opts.logger.Warn("commitlog: RECOVERED TOPIC from its partition directories: check its settings",
				"topic", name, "partitions", n, "settings_from", source, "settings", settings)
		}
	}
	if cur != nil {
		for _, name := range slices.Sorted(maps.Keys(cur.Topics)) {
			if _, ok := out.Topics[name]; !ok {
				b.opts.logger.Warn("commitlog: recovery drops a topic that meta.json names but that has no partition directory",
					"topic", name, "partitions", cur.Topics[name].Partitions)
			}
		}
	}
	return out, nil
}

// readPrev returns meta.json.prev if it is readable.
func (b *Broker) readPrev() *metadata {
	raw, err := b.readFile(metaPrevFile)
	if err != nil {
		return nil
	}
	m, err := decodeMeta(raw)
	if err != nil {
		b.opts.logger.Warn("commitlog: ignoring a damaged "+metaPrevFile, "err", err)
		return nil
	}
	return &m
}

// refusal is Open's error for metadata it cannot trust.
func (b *Broker) refusal(problems []string) error {
	msg := strings.Join(problems, "; ")
	if raw, err := b.readFile(metaPrevFile); err == nil {
		if _, err := decodeMeta(raw); err == nil {
			msg += "; " + metaPrevFile + ", the metadata before the last change, is readable, but Open does not use it on its own: it may lack that change"
		} else {
			msg += "; " + metaPrevFile + " is damaged too"
		}
	}
	msg += ". Open changed nothing. To rebuild the topic list from the partition directories (settings from " + metaFile +
		" where readable, else " + metaPrevFile + ", else defaults), open with WithRecoverMetadata and check the recovered topics"
	return fmt.Errorf("commitlog: %s: %w", msg, ErrCorrupt)
}

func (s dirScan) partitionDirs() []string {
	var out []string
	for _, ids := range s.parts {
		for _, dir := range ids {
			out = append(out, dir)
		}
	}
	slices.Sort(out)
	return out
}

func deletedMap(ds []deletedTopic) map[string]int32 {
	m := map[string]int32{}
	for _, d := range ds {
		m[d.Name] = max(m[d.Name], d.Partitions)
	}
	return m
}

// list names up to 10 directories.
func list(names []string) string {
	const most = 10
	if len(names) <= most {
		return strings.Join(names, ", ")
	}
	return strings.Join(names[:most], ", ") + " and " + strconv.Itoa(len(names)-most) + " more"
}
