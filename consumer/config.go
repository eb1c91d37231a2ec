package consumer

import (
	"fmt"
	"time"

	"github.com/commitlog-go/commitlog/assignor"
)

// Offset reset policies (auto.offset.reset).
const (
	ResetLatest   = "latest"
	ResetEarliest = "earliest"
	ResetNone     = "none"
)

// Defaults of Config, Kafka's consumer defaults.
const (
	DefaultAutoCommitInterval     = 5 * time.Second        // auto.commit.interval.ms
	DefaultMaxPollRecords         = 500                    // max.poll.records
	DefaultFetchMaxBytes          = 52428800               // fetch.max.bytes
	DefaultMaxPartitionFetchBytes = 1048576                // max.partition.fetch.bytes
	DefaultFetchMinBytes          = 1                      // fetch.min.bytes
	DefaultFetchMaxWait           = 500 * time.Millisecond // fetch.max.wait.ms
	DefaultSessionTimeout         = 45 * time.Second       // session.timeout.ms
	DefaultHeartbeatInterval      = 3 * time.Second        // heartbeat.interval.ms
	DefaultMaxPollInterval        = 5 * time.Minute        // max.poll.interval.ms
)

// Config configures a Consumer. Zero values mean Kafka's defaults.
type Config struct {
	// GroupID: group.id. Required for Subscribe and for commits.
	GroupID string
	// AutoOffsetReset: auto.offset.reset, where to start without a committed
	// offset or when the position is out of range: "latest" (default),
	// "earliest" or "none" (Poll returns ErrOffsetOutOfRange).
	AutoOffsetReset string
	// DisableAutoCommit turns off enable.auto.commit (Kafka's default is
	// on: every auto.commit.interval.ms, Poll commits what the previous
	// polls returned).
	DisableAutoCommit bool
	// AutoCommitInterval: auto.commit.interval.ms, default 5 s.
	AutoCommitInterval time.Duration
	// MaxPollRecords: max.poll.records, default 500.
	MaxPollRecords int
	// FetchMaxBytes: fetch.max.bytes, the most bytes one Poll fetches over
	// all partitions, default 50 MiB.
	FetchMaxBytes int
	// MaxPartitionFetchBytes: max.partition.fetch.bytes, default 1 MiB (a
	// larger first batch is still returned whole).
	MaxPartitionFetchBytes int
	// FetchMinBytes: fetch.min.bytes, default 1: Poll returns as soon as
	// this many bytes are available, or after FetchMaxWait.
	FetchMinBytes int
	// FetchMaxWait: fetch.max.wait.ms, how long Poll waits for data,
	// default 500 ms.
	FetchMaxWait time.Duration
	// SessionTimeout: session.timeout.ms, default 45 s.
	SessionTimeout time.Duration
	// HeartbeatInterval: heartbeat.interval.ms, default 3 s.
	HeartbeatInterval time.Duration
	// MaxPollInterval: max.poll.interval.ms, default 5 min: a member that
	// does not call Poll for this long leaves the group.
	MaxPollInterval time.Duration
	// Assignors: partition.assignment.strategy, in preference order;
	// default [Range, CooperativeSticky] as in Kafka 3.x and later (the
	// group uses the first one every member supports).
	Assignors []assignor.Assignor
}

func (c Config) withDefaults() (Config, error) {
	if c.AutoOffsetReset == "" {
		c.AutoOffsetReset = ResetLatest
	}
	switch c.AutoOffsetReset {
	case ResetLatest, ResetEarliest, ResetNone:
	default:
		return c, fmt.Errorf("consumer: auto.offset.reset %q: want latest, earliest or none", c.AutoOffsetReset)
	}
	def := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&c.AutoCommitInterval, DefaultAutoCommitInterval)
	def(&c.FetchMaxWait, DefaultFetchMaxWait)
	def(&c.SessionTimeout, DefaultSessionTimeout)
	def(&c.HeartbeatInterval, DefaultHeartbeatInterval)
	def(&c.MaxPollInterval, DefaultMaxPollInterval)
	if c.MaxPollRecords <= 0 {
		c.MaxPollRecords = DefaultMaxPollRecords
	}
	if c.FetchMaxBytes <= 0 {
		c.FetchMaxBytes = DefaultFetchMaxBytes
	}
	if c.MaxPartitionFetchBytes <= 0 {
		c.MaxPartitionFetchBytes = DefaultMaxPartitionFetchBytes
	}
	if c.FetchMinBytes <= 0 {
		c.FetchMinBytes = DefaultFetchMinBytes
	}
	if c.HeartbeatInterval >= c.SessionTimeout {
		return c, fmt.Errorf("consumer: heartbeat.interval.ms %v must be below session.timeout.ms %v", c.HeartbeatInterval, c.SessionTimeout)
	}
	if len(c.Assignors) == 0 {
		c.Assignors = []assignor.Assignor{assignor.Range(), assignor.CooperativeSticky()}
	}
	return c, nil
}
