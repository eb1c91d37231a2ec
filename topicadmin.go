package commitlog

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// ConfigSource says where a topic setting's value comes from, as Kafka's
// DescribeConfigs reports it.
type ConfigSource int

const (
	// ConfigDefault: the setting is not set on the topic; it has its
	// default (Kafka's DEFAULT_CONFIG or a broker-level default).
	ConfigDefault ConfigSource = iota
	// ConfigSet: the topic sets it (Kafka's DYNAMIC_TOPIC_CONFIG).
	ConfigSet
)

// String is "default" or "set".
func (s ConfigSource) String() string {
	if s == ConfigSet {
		return "set"
	}
	return "default"
}

// ConfigEntry is one topic setting: its Kafka name, its value in Kafka's
// string form (durations in ms) and its source.
type ConfigEntry struct {
	Name   string
	Value  string
	Source ConfigSource
}

// ConfigEntries returns every setting of the topic (those commitlog
// implements, by Kafka name, sorted), with its current value and whether
// the topic sets it. A setting counts as set when its value differs from
// the default: the topic's metadata keeps only those, so one set to its
// default value reads as a default.
func (t *Topic) ConfigEntries() []ConfigEntry {
	c := t.cfg.Load()
	all := topicSettings.FormatAll(c)
	set := topicSettings.Format(c)
	out := make([]ConfigEntry, 0, len(all))
	for _, name := range slices.Sorted(maps.Keys(all)) {
		e := ConfigEntry{Name: name, Value: all[name]}
		if _, ok := set[name]; ok {
			e.Source = ConfigSet
		}
		out = append(out, e)
	}
	return out
}

// AlterTopicConfig changes settings of a live topic, as kafka-configs
// --alter (Kafka's IncrementalAlterConfigs): each entry of changes sets a
// setting (by Kafka name, Kafka's string form) or, with a nil value,
// returns it to its default; the others keep their values. The result is
// checked as CreateTopic checks settings (an error wrapping
// ErrInvalidConfig names every bad one, and nothing changes), written to
// the metadata, and applied to the open partitions at once, without a
// reopen: retention (retention.ms, retention.bytes) at the next
// maintenance tick, segment.bytes and segment.ms at the next append,
// max.message.bytes and message.timestamp.type to the next append,
// cleanup.policy compact starts the log cleaner on the topic.
//
// A compacted topic cannot return to cleanup.policy delete (its cleaned
// segments have offset gaps): that is ErrInvalidConfig. The internal
// topics are refused with ErrInvalidTopic, an unknown topic is
// ErrUnknownTopic. It returns the new config, as Topic.Config.
func (b *Broker) AlterTopicConfig(name string, changes map[string]*string) (TopicConfig, error) {
	if b.readOnly {
		return TopicConfig{}, b.readOnlyErr("alter the config of " + name)
	}
	if err := internalTopicError("alter the config of", name); err != nil {
		return TopicConfig{}, err
	}
	b.adminM.Lock()
	defer b.adminM.Unlock()
	if b.closed.Load() {
		return TopicConfig{}, fmt.Errorf("commitlog: %w", ErrClosed)
	}
	cur := *b.topics.Load()
	t, ok := cur[name]
	if !ok {
		return TopicConfig{}, fmt.Errorf("commitlog: topic %s: %w", name, ErrUnknownTopic)
	}
	old := t.cfg.Load()
	settings := old.Settings()
	for k, v := range changes {
		if k == "partitions" {
			return TopicConfig{}, fmt.Errorf("commitlog: alter topic %s: partitions is no setting (AddPartitions raises the count): %w", name, ErrInvalidConfig)
		}
		if v == nil {
			if !slices.Contains(topicSettings.Names(), k) {
				return TopicConfig{}, fmt.Errorf("commitlog: alter topic %s: unknown setting %q: %w", name, k, ErrInvalidConfig)
			}
			delete(settings, k)
		} else {
			settings[k] = *v
		}
	}
	parsed, err := ParseTopicConfig(t.NumPartitions(), settings)
	if err != nil {
		return TopicConfig{}, fmt.Errorf("commitlog: alter topic %s: %w", name, err)
	}
	next := parsed.withDefaults()
	if old.Compacted() && !next.Compacted() {
		return TopicConfig{}, fmt.Errorf("commitlog: alter topic %s: cleanup.policy %q: a compacted topic cannot stop compacting (its cleaned segments have offset gaps): %w",
			name, next.CleanupPolicy, ErrInvalidConfig)
	}
	// writeMeta writes the topics' current configs: the new one is in
	// place while it runs, and put back if the metadata did not commit.
	t.cfg.Store(&next)
	committed, err := b.writeMeta(cur, b.deleted)
	if err != nil && !committed {
		t.cfg.Store(old)
		return TopicConfig{}, fmt.Errorf("commitlog: alter topic %s: %w", name, err)
	}
	lc := next.logConfig()
	var errs []error
	for _, p := range t.Partitions() {
		if rerr := p.log.Reconfigure(lc); rerr != nil && !errors.Is(rerr, ErrClosed) {
			errs = append(errs, fmt.Errorf("partition %d: %w", p.ID(), rerr))
		}
	}
	b.opts.logger.Info("altered topic config", "topic", name, "changes", changedNames(changes))
	if err != nil {
		errs = append(errs, fmt.Errorf("the config is in use, but making the metadata durable failed: %w", err))
	}
	if err := errors.Join(errs...); err != nil {
		return next.clone(), fmt.Errorf("commitlog: alter topic %s: %w", name, err)
	}
	c := next.clone()
	c.Partitions = t.NumPartitions()
	return c, nil
}

func changedNames(changes map[string]*string) string {
	return strings.Join(slices.Sorted(maps.Keys(changes)), ",")
}

// DeleteRecordsBefore advances the partition's log start offset to offset
// (Kafka's DeleteRecords; -1 is the high watermark): the records below it
// become unreadable at once (reads get ErrOffsetOutOfRange, ListOffsets
// earliest returns offset), the segments wholly below it are removed, and
// the new start is durable when it returns: it survives a restart or a
// crash. An offset above the high watermark (or below -1) is an error
// wrapping ErrOffsetOutOfRange; one at or below the log start offset
// changes nothing. It returns the log start offset (Kafka's low
// watermark).
func (p *Partition) DeleteRecordsBefore(offset int64) (int64, error) {
	if p.closed.Load() {
		return 0, p.gone()
	}
	hw := p.HighWatermark()
	if offset == -1 {
		offset = hw
	}
	start, err := p.log.DeleteRecordsBefore(offset, hw)
	if err != nil {
		if p.closed.Load() {
			return 0, p.gone()
		}
		return start, fmt.Errorf("partition %s-%d: %w", p.topic, p.id, err)
	}
	return start, nil
}

// OffsetOfMaxTimestamp returns the offset and timestamp of the record
// with the largest timestamp below the high watermark (Kafka's
// ListOffsets with the max-timestamp special timestamp, KIP-734), the
// first such record on ties; found is false when the partition holds no
// record.
func (p *Partition) OffsetOfMaxTimestamp() (offset, timestamp int64, found bool, err error) {
	if p.closed.Load() {
		return 0, 0, false, p.gone()
	}
	offset, timestamp, found, err = p.log.OffsetOfMaxTimestamp(p.HighWatermark())
	if err != nil {
		if p.closed.Load() {
			return 0, 0, false, p.gone()
		}
		return 0, 0, false, fmt.Errorf("partition %s-%d: %w", p.topic, p.id, err)
	}
	return offset, timestamp, found, nil
}

// TopicSettingNames returns the Kafka names of the topic settings
// ParseTopicConfig and AlterTopicConfig take with a value of their own,
// in the README's order.
func TopicSettingNames() []string { return topicSettings.Names() }
