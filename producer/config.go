package producer

import (
	"fmt"
	"time"

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
	DefaultBatchSize      = 16384                // batch.size
	DefaultLinger         = 5 * time.Millisecond // linger.ms (Kafka 4.0's default)
	DefaultBufferMemory   = 32 << 20             // buffer.memory
	DefaultMaxBlock       = 60 * time.Second     // max.block.ms
	DefaultMaxRequestSize = 1 << 20              // max.request.size
)

// Config configures a Producer. Zero values mean the defaults.
type Config struct {
	// Acks: acks, default AcksAll. The zero Acks is AcksNone, so Acks is
	// only read when AcksSet is true; SetAcks sets both.
	Acks Acks
	// AcksSet marks Acks as chosen (the zero Acks is AcksNone, which is
	// not the default). SetAcks sets both.
	AcksSet bool
	// Fsync makes acks=all also wait for the batch to be fsynced (Kafka
	// leaves durability to replication; an embedded log has only the
	// disk). Default false.
	Fsync bool
	// BatchSize: batch.size, the most bytes of records in one batch per
	// partition, default 16384.
	BatchSize int
	// Linger: linger.ms, how long a batch that is not full waits for more
	// records, default 5 ms. 0 sends as soon as the partition's sender is
	// free, which still batches records that arrive while it is busy.
	Linger time.Duration
	// LingerSet marks Linger as chosen, so that 0 means 0 and not the
	// default. SetLinger sets both.
	LingerSet bool
	// BufferMemory: buffer.memory, total bytes of records waiting to be
	// sent, default 32 MiB.
	BufferMemory int64
	// MaxBlock: max.block.ms, how long Send blocks for buffer space, default
	// 60 s (the context can end the wait sooner).
	MaxBlock time.Duration
	// MaxRequestSize: max.request.size, the largest record accepted, default
	// 1 MiB. Records over the topic's max.message.bytes are refused too.
	MaxRequestSize int
	// Compression: compression.type, record.None (default) or record.LZ4
	// (record.GZIP also works).
	Compression record.Compression
	// Partitioner: partitioner.class, default HashPartitioner (xxhash of the
	// key, sticky for keyless records). Murmur2Partitioner picks what the
	// Java client picks.
	Partitioner Partitioner
}

// SetAcks returns c with acks set to a.
func (c Config) SetAcks(a Acks) Config { c.Acks, c.AcksSet = a, true; return c }

// SetLinger returns c with linger.ms set to d (0 included).
func (c Config) SetLinger(d time.Duration) Config { c.Linger, c.LingerSet = d, true; return c }

func (c Config) withDefaults() (Config, error) {
	if !c.AcksSet {
		c.Acks = AcksAll
	}
	switch c.Acks {
	case AcksNone, AcksLeader, AcksAll:
	default:
		return c, fmt.Errorf("producer: acks=%d: want 0, 1 or -1 (all)", c.Acks)
	}
	if c.BatchSize <= 0 {
		c.BatchSize = DefaultBatchSize
	}
	if !c.LingerSet && c.Linger == 0 {
		c.Linger = DefaultLinger
	}
	if c.Linger < 0 {
		return c, fmt.Errorf("producer: linger.ms %v is negative", c.Linger)
	}
	if c.BufferMemory <= 0 {
		c.BufferMemory = DefaultBufferMemory
	}
	if c.MaxBlock <= 0 {
		c.MaxBlock = DefaultMaxBlock
	}
	if c.MaxRequestSize <= 0 {
		c.MaxRequestSize = DefaultMaxRequestSize
	}
	if int64(c.MaxRequestSize) > c.BufferMemory {
		c.MaxRequestSize = int(c.BufferMemory)
	}
	switch c.Compression {
	case record.None, record.LZ4, record.GZIP:
	default:
		return c, fmt.Errorf("producer: compression.type %v is not supported", c.Compression)
	}
	if c.Partitioner == nil {
		c.Partitioner = HashPartitioner()
	}
	return c, nil
}
