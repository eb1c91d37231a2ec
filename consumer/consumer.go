package consumer

import (
	"fmt"
	"time"

	"github.com/commitlog-go/commitlog"
	"github.com/commitlog-go/commitlog/assignor"
)

// Consumer reads records from a broker's topics, alone (Assign) or as a
// member of a consumer group (Subscribe). Like Kafka's KafkaConsumer it is
// meant for one goroutine: Poll, Seek, Commit and the rest are called from
// the polling goroutine (or its rebalance listener). Close may be called
// from any goroutine and wakes a waiting Poll. The package documentation
// says what runs on which goroutine.
type Consumer struct {
	b     *commitlog.Broker
	set   settings
	coord *Coordinator // nil without a group.id

	// Each part owns its state; its type says what guards it.
	gate    pollGate   // the poll role, which Poll and Close take in turn
	fetch   fetcher    // assigned partitions, positions, fetched records: the poll role's
	group   membership // subscription and place in the group: own lock
	commits committer  // numbering, order and queue of commits, its goroutine: own locks
	life    lifecycle  // Close's progress

	lastAutoCommit time.Time // the poll role's: when Poll last auto-committed
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
	c := &Consumer{b: b, set: settingsOf(cfg), group: newMembership(), life: newLifecycle(), lastAutoCommit: time.Now()}
	if c.set.groupID != "" {
		if c.coord, err = CoordinatorFor(b); err != nil {
			return nil, err
		}
	}
	c.fetch = newFetcher(b, &c.set, c.committedOffset)
	c.commits.start(c.writeCommit)
	return c, nil
}

func errClosed() error { return fmt.Errorf("consumer: %w", commitlog.ErrClosed) }
