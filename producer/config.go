package producer

import (
	"errors"
	"math"
	"time"

	"github.com/commitlog-go/commitlog"
	"github.com/commitlog-go/commitlog/internal/settings"
	"github.com/commitlog-go/commitlog/record"
)

// Acks is how much of a write must be done before a record's future
// completes (Kafka's acks).
type Acks int8

const (
	// AcksNone (acks=0): complete when the record is queued.
	AcksNone Acks = 0
	// AcksLeader (acks=1): complete when the batch is in the log.
	AcksLeader Acks = 1
	// AcksAll (acks=all, -1): complete when every in-sync replica has the
	// batch, after fsync when Config.Fsync is set. Kafka's default.
	AcksAll Acks = -1
)

// Defaults of Config, Kafka's producer defaults where one exists.
const (
	DefaultAcks           = AcksAll              // acks
	DefaultBatchSize      = 16384                // batch.size
	DefaultLinger         = 5 * time.Millisecond // linger.ms (Kafka 4.0's default)
	DefaultBufferMemory   = 32 << 20             // buffer.memory
	DefaultMaxBlock       = 60 * time.Second     // max.block.ms
	DefaultMaxRequestSize = 1 << 20              // max.request.size
)

// Config configures a Producer. Every field mirrors the Kafka producer
// setting its doc names. Each setting is declared once in this package,
// with its name, type, default, valid range and meaning; ParseConfig,
// Settings, the checks of New and the README's table derive from that
// declaration.
//
// A plain field's zero value means the default. The pointer fields are
// the settings whose Kafka zero is legal and differs from the default:
// nil means the default, and new(v) sets any value, 0 included
// (new(producer.AcksNone) is acks=0, new(time.Duration(0)) linger.ms=0).
type Config struct {
	// Acks: acks; nil is AcksAll.
	Acks *Acks
	// Fsync makes acks=all also wait for the batch to be fsynced (Kafka
	// leaves durability to replication; an embedded log has only the
	// disk). Default false.
	Fsync bool
	// BatchSize: batch.size, the most bytes of records in one batch per
	// partition; nil is 16384, 0 puts every record in a batch of its own.
	BatchSize *int
	// Linger: linger.ms, how long a batch that is not full waits for more
	// records; nil is 5 ms. 0 sends as soon as the partition's sender is
	// free, which still batches records that arrive while it is busy.
	Linger *time.Duration
	// BufferMemory: buffer.memory, total bytes of batches waiting to be
	// sent; nil is 32 MiB. As in Kafka, a new batch takes batch.size of it
	// at once when that much is free (else what its records need). No
	// record is larger than it.
	BufferMemory *int64
	// MaxBlock: max.block.ms, how long Send blocks for buffer space; nil is
	// 60 s, 0 fails at once (the context can end the wait sooner). It also
	// bounds Send's wait for a partition's sender far behind, which fails
	// nothing (see the package doc, Sending); 0 never waits for it.
	MaxBlock *time.Duration
	// MaxRequestSize: max.request.size, the largest record accepted; nil
	// is 1 MiB. Records over the topic's max.message.bytes are refused too.
	MaxRequestSize *int
	// Compression: compression.type, record.None (default), record.GZIP,
	// record.Snappy, record.LZ4 or record.ZSTD (level 3, Kafka's default
	// compression.zstd.level).
	Compression record.Compression
	// Partitioner: partitioner.class; nil is Murmur2Partitioner (Kafka's
	// default: murmur2 of the key, sticky for keyless records), which puts a
	// key on the partition a Kafka client picks. HashPartitioner (xxhash) was
	// the default before.
	Partitioner Partitioner
	// ClientID: client.id, the producer's name in its metrics (Stats, the
	// broker's Prometheus export); "" is "producer-N", N counting the
	// process's producers from 1, as Kafka's default. On the Kafka
	// backend it is also the client id the producer's client sends
	// ("": the cluster's kafka.Config.ClientID).
	ClientID string
}

// config is a Config resolved: defaults filled in, every value plain. The
// producer reads it.
type config struct {
	Acks           Acks
	Fsync          bool
	BatchSize      int
	Linger         time.Duration
	BufferMemory   int64
	MaxBlock       time.Duration
	MaxRequestSize int
	Compression    record.Compression
	Partitioner    Partitioner
	ClientID       string
}

type (
	val[T comparable] = settings.Val[Config, config, T]
	ptr[T comparable] = settings.Ptr[Config, config, T]
)

var acksNames = settings.Enum(nil,
	settings.Name[Acks]{Name: "all", Value: AcksAll}, settings.Name[Acks]{Name: "-1", Value: AcksAll},
	settings.Name[Acks]{Name: "0", Value: AcksNone}, settings.Name[Acks]{Name: "1", Value: AcksLeader})

var compressionNames = settings.Enum(nil,
	settings.Name[record.Compression]{Name: "none", Value: record.None},
	settings.Name[record.Compression]{Name: "gzip", Value: record.GZIP},
	settings.Name[record.Compression]{Name: "snappy", Value: record.Snappy},
	settings.Name[record.Compression]{Name: "lz4", Value: record.LZ4},
	settings.Name[record.Compression]{Name: "zstd", Value: record.ZSTD})

// producerSettings is the declaration of every producer setting, in the
// README's order.
var producerSettings = settings.New("producer", commitlog.ErrInvalidConfig,
	ptr[Acks]{Name: "acks", Field: "Acks", Get: func(c *Config) **Acks { return &c.Acks },
		Codec: acksNames, Default: DefaultAcks, Check: settings.OneOf(acksNames, AcksNone, AcksLeader, AcksAll),
		Lower: func(l *config, v Acks) { l.Acks = v },
		Doc:   "`0`: done when queued; `1`: when in the log; `all`: when in every in-sync replica"},
	val[bool]{Field: "Fsync", Get: func(c *Config) *bool { return &c.Fsync }, Codec: settings.Bool,
		Lower: func(l *config, v bool) { l.Fsync = v },
		Doc:   "with acks=all, also wait for fsync (shared by concurrent senders)"},
	ptr[int]{Name: "batch.size", Field: "BatchSize", Get: func(c *Config) **int { return &c.BatchSize },
		Codec: settings.Bytes, Default: DefaultBatchSize, Check: settings.Between(0, math.MaxInt32),
		Lower: func(l *config, v int) { l.BatchSize = v },
		Doc:   "bytes of records per partition batch (0: one record a batch)"},
	ptr[time.Duration]{Name: "linger.ms", Field: "Linger", Get: func(c *Config) **time.Duration { return &c.Linger },
		Codec: settings.Ms, Default: DefaultLinger, Check: settings.MsAtLeast(0),
		Lower: func(l *config, v time.Duration) { l.Linger = v },
		Doc:   "how long a batch that is not full waits (0: sent as soon as the partition's sender is free)"},
	ptr[int64]{Name: "buffer.memory", Field: "BufferMemory", Get: func(c *Config) **int64 { return &c.BufferMemory },
		Codec: settings.Bytes64, Default: DefaultBufferMemory, Check: settings.AtLeast[int64](0),
		Lower: func(l *config, v int64) { l.BufferMemory = v },
		Doc:   "bytes buffered over all partitions; `Send` blocks when full"},
	ptr[time.Duration]{Name: "max.block.ms", Field: "MaxBlock", Get: func(c *Config) **time.Duration { return &c.MaxBlock },
		Codec: settings.Ms, Default: DefaultMaxBlock, Check: settings.MsAtLeast(0),
		Lower: func(l *config, v time.Duration) { l.MaxBlock = v },
		Doc:   "how long `Send` blocks for buffer space"},
	ptr[int]{Name: "max.request.size", Field: "MaxRequestSize", Get: func(c *Config) **int { return &c.MaxRequestSize },
		Codec: settings.Bytes, Default: DefaultMaxRequestSize, Check: settings.Between(0, math.MaxInt32),
		Lower: func(l *config, v int) { l.MaxRequestSize = v },
		Doc:   "largest record accepted (at most buffer.memory, and the topic's max.message.bytes)"},
	val[record.Compression]{Name: "compression.type", Field: "Compression", Get: func(c *Config) *record.Compression { return &c.Compression },
		Codec: compressionNames, Default: record.None, Check: settings.OneOf(compressionNames, record.None, record.GZIP, record.Snappy, record.LZ4, record.ZSTD),
		Lower: func(l *config, v record.Compression) { l.Compression = v },
		Doc:   "`gzip`, `snappy`, `lz4` or `zstd` compresses each batch"},
	settings.GoOnly[Config, config]{Name: "partitioner.class", Field: "Partitioner", Type: "producer.Partitioner", Default: "murmur2 + sticky",
		Doc: "`Murmur2Partitioner()` (the default: Kafka's partition for a key); `HashPartitioner()` (xxhash); `RoundRobinPartitioner()`"},
	val[string]{Name: "client.id", Field: "ClientID", Get: func(c *Config) *string { return &c.ClientID },
		Codec: settings.String, Lower: func(l *config, v string) { l.ClientID = v },
		Doc: "the producer's name in its metrics; default `producer-N`"},
)

// ParseConfig builds a Config from Kafka's producer setting names and
// string values (durations in ms; acks all, -1, 0 or 1), and checks it as
// New does. Only the named settings are set; the others keep their zero
// value, which means the default. partitioner.class has no string form:
// set Config.Partitioner. Unknown names and bad values are errors wrapping
// commitlog.ErrInvalidConfig that name the setting; all are reported.
func ParseConfig(settings map[string]string) (Config, error) {
	var c Config
	perr := producerSettings.Parse(&c, settings)
	// The settings that parsed are checked too, so that every bad one is
	// reported at once.
	_, verr := c.resolve()
	return c, errors.Join(perr, verr)
}

// Settings returns the config as Kafka setting names and string values,
// the inverse of ParseConfig. Only settings that differ from their
// defaults are listed; Fsync and Partitioner have no Kafka string form.
func (c Config) Settings() map[string]string { return producerSettings.Format(&c) }

// resolve checks c and returns it resolved. Errors wrap
// commitlog.ErrInvalidConfig.
func (c Config) resolve() (config, error) {
	if err := producerSettings.Validate(&c); err != nil {
		return config{}, err // "producer setting ...": names the package
	}
	var r config
	producerSettings.Lower(&c, &r)
	r.MaxRequestSize = int(min(int64(r.MaxRequestSize), r.BufferMemory))
	r.Partitioner = c.Partitioner
	if r.Partitioner == nil {
		r.Partitioner = Murmur2Partitioner()
	}
	return r, nil
}
