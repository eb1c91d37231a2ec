package consumer

import (
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/commitlog-go/commitlog"
	"github.com/commitlog-go/commitlog/assignor"
	"github.com/commitlog-go/commitlog/internal/settings"
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

// Config configures a Consumer. Every field mirrors the Kafka consumer
// setting its doc names. Each setting is declared once in this package,
// with its name, type, default, valid range and meaning; ParseConfig,
// Settings, the checks of New and the README's table derive from that
// declaration.
//
// A plain field's zero value means Kafka's default. The pointer fields are
// the settings whose Kafka zero is legal and differs from the default:
// nil means the default, and new(v) sets any value, 0 included
// (new(time.Duration(0)) is fetch.max.wait.ms=0, a Poll that does not
// wait).
type Config struct {
	// GroupID: group.id. Required for Subscribe and for commits.
	GroupID string
	// AutoOffsetReset: auto.offset.reset, where to start without a committed
	// offset or when the position is out of range: "latest" (default),
	// "earliest" or "none" (Poll returns ErrOffsetOutOfRange).
	AutoOffsetReset string
	// EnableAutoCommit: enable.auto.commit; nil is true: every
	// auto.commit.interval.ms, Poll commits what the previous polls
	// returned. new(false) leaves commits to the program.
	EnableAutoCommit *bool
	// AutoCommitInterval: auto.commit.interval.ms; nil is 5 s, 0 commits
	// at every Poll.
	AutoCommitInterval *time.Duration
	// MaxPollRecords: max.poll.records, default 500.
	MaxPollRecords int
	// FetchMaxBytes: fetch.max.bytes, the most bytes one Poll fetches over
	// all partitions; nil is 50 MiB. The first batch is returned whole
	// whatever its size, 0 included.
	FetchMaxBytes *int
	// MaxPartitionFetchBytes: max.partition.fetch.bytes; nil is 1 MiB (a
	// larger first batch is still returned whole).
	MaxPartitionFetchBytes *int
	// FetchMinBytes: fetch.min.bytes; nil is 1: Poll returns as soon as
	// this many bytes are available, or after FetchMaxWait.
	FetchMinBytes *int
	// FetchMaxWait: fetch.max.wait.ms, how long Poll waits for data; nil
	// is 500 ms, 0 does not wait.
	FetchMaxWait *time.Duration
	// SessionTimeout: session.timeout.ms, default 45 s.
	SessionTimeout time.Duration
	// HeartbeatInterval: heartbeat.interval.ms, default 3 s; below
	// SessionTimeout.
	HeartbeatInterval time.Duration
	// MaxPollInterval: max.poll.interval.ms, default 5 min: a member that
	// does not call Poll for this long leaves the group.
	MaxPollInterval time.Duration
	// Assignors: partition.assignment.strategy, in preference order;
	// default [Range, CooperativeSticky] as in Kafka 3.x and later (the
	// group uses the first one every member supports).
	Assignors []assignor.Assignor
	// ClientID: client.id, the consumer's name in its metrics (Stats, the
	// broker's Prometheus export); "" is "consumer-<group.id>-N" (without
	// a group, "consumer-N"), N counting the process's consumers from 1,
	// as Kafka's default. On the Kafka backend it is also the client id
	// the consumer's client sends, which DescribeGroup shows ("": the
	// cluster's kafka.Config.ClientID).
	ClientID string
}

// config is a Config resolved: defaults filled in, every value plain. The
// consumer reads it.
type config struct {
	GroupID                string
	AutoOffsetReset        string
	EnableAutoCommit       bool
	AutoCommitInterval     time.Duration
	MaxPollRecords         int
	FetchMaxBytes          int
	MaxPartitionFetchBytes int
	FetchMinBytes          int
	FetchMaxWait           time.Duration
	SessionTimeout         time.Duration
	HeartbeatInterval      time.Duration
	MaxPollInterval        time.Duration
	Assignors              []assignor.Assignor
	ClientID               string
}

type (
	val[T comparable] = settings.Val[Config, config, T]
	ptr[T comparable] = settings.Ptr[Config, config, T]
)

var resetPolicies = settings.Enum(nil,
	settings.Name[string]{Name: ResetLatest, Value: ResetLatest},
	settings.Name[string]{Name: ResetEarliest, Value: ResetEarliest},
	settings.Name[string]{Name: ResetNone, Value: ResetNone})

// consumerSettings is the declaration of every consumer setting, in the
// README's order.
var consumerSettings = settings.New("consumer", commitlog.ErrInvalidConfig,
	val[string]{Name: "group.id", Field: "GroupID", Get: func(c *Config) *string { return &c.GroupID },
		Codec: settings.String, Lower: func(l *config, v string) { l.GroupID = v },
		Doc: "needed for `Subscribe` and commits"},
	val[string]{Name: "auto.offset.reset", Field: "AutoOffsetReset", Get: func(c *Config) *string { return &c.AutoOffsetReset },
		Codec: resetPolicies, Default: ResetLatest, Check: settings.OneOf(resetPolicies, ResetLatest, ResetEarliest, ResetNone),
		Lower: func(l *config, v string) { l.AutoOffsetReset = v },
		Doc:   "where to start without a committed offset; `none`: `ErrOffsetOutOfRange`"},
	ptr[bool]{Name: "enable.auto.commit", Field: "EnableAutoCommit", Get: func(c *Config) **bool { return &c.EnableAutoCommit },
		Codec: settings.Bool, Default: true, Lower: func(l *config, v bool) { l.EnableAutoCommit = v },
		Doc: "`false`: commit yourself (CommitSync, CommitAsync)"},
	ptr[time.Duration]{Name: "auto.commit.interval.ms", Field: "AutoCommitInterval", Get: func(c *Config) **time.Duration { return &c.AutoCommitInterval },
		Codec: settings.Ms, Default: DefaultAutoCommitInterval, Check: settings.MsAtLeast(0),
		Lower: func(l *config, v time.Duration) { l.AutoCommitInterval = v },
		Doc:   "how often Poll commits what the previous polls returned (0: at every Poll)"},
	val[int]{Name: "max.poll.records", Field: "MaxPollRecords", Get: func(c *Config) *int { return &c.MaxPollRecords },
		Codec: settings.Int, Default: DefaultMaxPollRecords, Check: settings.Between(1, math.MaxInt32),
		Lower: func(l *config, v int) { l.MaxPollRecords = v },
		Doc:   "records one Poll returns at most"},
	ptr[int]{Name: "fetch.max.bytes", Field: "FetchMaxBytes", Get: func(c *Config) **int { return &c.FetchMaxBytes },
		Codec: settings.Bytes, Default: DefaultFetchMaxBytes, Check: settings.Between(0, math.MaxInt32),
		Lower: func(l *config, v int) { l.FetchMaxBytes = v },
		Doc:   "per poll, over all partitions (the first batch still comes whole)"},
	ptr[int]{Name: "max.partition.fetch.bytes", Field: "MaxPartitionFetchBytes", Get: func(c *Config) **int { return &c.MaxPartitionFetchBytes },
		Codec: settings.Bytes, Default: DefaultMaxPartitionFetchBytes, Check: settings.Between(0, math.MaxInt32),
		Lower: func(l *config, v int) { l.MaxPartitionFetchBytes = v },
		Doc:   "per partition (a larger first batch still comes whole)"},
	ptr[int]{Name: "fetch.min.bytes", Field: "FetchMinBytes", Get: func(c *Config) **int { return &c.FetchMinBytes },
		Codec: settings.Bytes, Default: DefaultFetchMinBytes, Check: settings.Between(0, math.MaxInt32),
		Lower: func(l *config, v int) { l.FetchMinBytes = v },
		Doc:   "`Poll` returns once this many bytes came, or after fetch.max.wait.ms"},
	ptr[time.Duration]{Name: "fetch.max.wait.ms", Field: "FetchMaxWait", Get: func(c *Config) **time.Duration { return &c.FetchMaxWait },
		Codec: settings.Ms, Default: DefaultFetchMaxWait, Check: settings.MsAtLeast(0),
		Lower: func(l *config, v time.Duration) { l.FetchMaxWait = v },
		Doc:   "how long `Poll` waits for data (0: not at all)"},
	val[time.Duration]{Name: "session.timeout.ms", Field: "SessionTimeout", Get: func(c *Config) *time.Duration { return &c.SessionTimeout },
		Codec: settings.Ms, Default: DefaultSessionTimeout, Check: settings.MsAtLeast(time.Millisecond),
		Lower: func(l *config, v time.Duration) { l.SessionTimeout = v },
		Doc:   "a member silent this long is removed"},
	val[time.Duration]{Name: "heartbeat.interval.ms", Field: "HeartbeatInterval", Get: func(c *Config) *time.Duration { return &c.HeartbeatInterval },
		Codec: settings.Ms, Default: DefaultHeartbeatInterval, Check: settings.MsAtLeast(time.Millisecond),
		Lower: func(l *config, v time.Duration) { l.HeartbeatInterval = v },
		Doc:   "below session.timeout.ms"},
	val[time.Duration]{Name: "max.poll.interval.ms", Field: "MaxPollInterval", Get: func(c *Config) *time.Duration { return &c.MaxPollInterval },
		Codec: settings.Ms, Default: DefaultMaxPollInterval, Check: settings.MsAtLeast(time.Millisecond),
		Lower: func(l *config, v time.Duration) { l.MaxPollInterval = v },
		Doc:   "a member that does not poll this long leaves"},
	settings.GoOnly[Config, config]{Name: "partition.assignment.strategy", Field: "Assignors", Type: "[]assignor.Assignor", Default: "range, cooperative-sticky",
		Doc: "the group uses the first every member supports"},
	val[string]{Name: "client.id", Field: "ClientID", Get: func(c *Config) *string { return &c.ClientID },
		Codec: settings.String, Lower: func(l *config, v string) { l.ClientID = v },
		Doc: "the consumer's name in its metrics; default `consumer-<group.id>-N`"},
)

// ParseConfig builds a Config from Kafka's consumer setting names and
// string values (durations in ms), and checks it as New does. Only the
// named settings are set; the others keep their zero value, which means
// the default. partition.assignment.strategy has no string form: set
// Config.Assignors. Unknown names and bad values are errors wrapping
// commitlog.ErrInvalidConfig that name the setting; all are reported.
func ParseConfig(settings map[string]string) (Config, error) {
	var c Config
	perr := consumerSettings.Parse(&c, settings)
	// The settings that parsed are checked too, so that every bad one is
	// reported at once.
	_, verr := c.resolve()
	return c, errors.Join(perr, verr)
}

// Settings returns the config as Kafka setting names and string values,
// the inverse of ParseConfig. Only settings that differ from their
// defaults are listed; Assignors has no string form.
func (c Config) Settings() map[string]string { return consumerSettings.Format(&c) }

// resolve checks c and returns it resolved. Errors wrap
// commitlog.ErrInvalidConfig.
func (c Config) resolve() (config, error) {
	if err := consumerSettings.Validate(&c); err != nil {
		return config{}, err // "consumer setting ...": names the package
	}
	var r config
	consumerSettings.Lower(&c, &r)
	if r.HeartbeatInterval >= r.SessionTimeout {
		return r, fmt.Errorf("consumer: heartbeat.interval.ms %v must be below session.timeout.ms %v: %w", r.HeartbeatInterval, r.SessionTimeout, commitlog.ErrInvalidConfig)
	}
	r.Assignors = c.Assignors
	if len(r.Assignors) == 0 {
		r.Assignors = []assignor.Assignor{assignor.Range(), assignor.CooperativeSticky()}
	}
	return r, nil
}
