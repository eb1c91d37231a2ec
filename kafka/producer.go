package kafka

import (
	"context"
	"errors"
	"fmt"
	"math"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/commitlog-go/commitlog"
	"github.com/commitlog-go/commitlog/producer"
	"github.com/commitlog-go/commitlog/record"
)

// maxBuffered lifts kgo's buffered-records limit: package producer keeps
// buffer.memory itself.
const maxBuffered = math.MaxInt32

// noPartition marks a kgo.Record whose partition the partitioner picks;
// badPartition one whose explicit partition the topic lacks.
const (
	noPartition  = -1
	badPartition = math.MinInt32
)

// OpenProducerDriver implements producer.DriverOpener: producer.New calls
// it with a checked config; applications do not call it.
//
// The producer on Kafka: one kgo.Client per producer.New, made from the
// cluster's ClientOptions and these options derived from producer.Config:
//
//	acks              -> kgo.RequiredAcks (NoAck, LeaderAck, AllISRAcks); acks 0 and 1
//	                     also kgo.DisableIdempotentWrite (idempotence needs acks=all)
//	Fsync             -> allowed only with acks=all: durability is Kafka's replication
//	                     (min.insync.replicas) and the brokers' flush policy; with
//	                     acks 0 or 1 it is refused (ErrInvalidConfig)
//	linger.ms         -> kgo.ProducerLinger (at most franz-go's limit of 1 minute; more
//	                     is refused, ErrInvalidConfig)
//	batch.size        -> no kgo equivalent (kgo fills a batch up to its byte cap,
//	                     which also caps one record); accepted, not applied
//	buffer.memory     -> kept by package producer, as on the embedded broker (each
//	                     record holds its bytes until done); kgo's own limits are
//	                     lifted so that it never blocks a Send
//	max.block.ms      -> package producer's wait for buffer.memory (ErrBufferFull)
//	max.request.size  -> package producer's record check (ErrRecordTooLarge) and
//	                     kgo.ProducerBatchMaxBytes (clamped to kgo's 512 B .. 1 GiB)
//	compression.type  -> kgo.ProducerBatchCompression with the same codec (none,
//	                     gzip, snappy, lz4, zstd; kgo's own default, snappy, is
//	                     not used: none stays none)
//	partitioner.class -> nil (Murmur2Partitioner, the default): kgo.StickyKeyPartitioner(nil);
//	                     any other producer.Partitioner: adapted to kgo.Partitioner
//	                     (Partition per record, OnNewBatch when kgo starts a batch)
//
// Record.ExplicitPartition is honoured by every partitioner; a partition
// the topic lacks fails with commitlog.ErrUnknownPartition.
//
// The semantics package producer documents hold: Futures, SendCallback's
// callbacks (run on franz-go's promise goroutine, one at a time, in order
// per partition; Flush from one returns producer.ErrFlushInCallback, Close
// from one returns at once; as the callbacks of every partition share that
// goroutine, a callback must not wait for any record, not only for one of
// its own partition), ErrBufferFull after max.block.ms, and the
// sentinel errors (UNKNOWN_TOPIC_OR_PARTITION is commitlog.ErrUnknownTopic
// once franz-go gives up on the topic, MESSAGE_TOO_LARGE
// commitlog.ErrRecordTooLarge, INVALID_RECORD commitlog.ErrInvalidRecord, a
// closed client commitlog.ErrClosed). What differs is Kafka's: a record
// whose ctx ends while buffered fails with the other records buffered for
// its partition (franz-go keeps a partition's order that way), a keyless
// record sent to a compacted topic fails its whole batch (the broker
// refuses the batch), and on a LogAppendTime topic RecordMetadata.Timestamp
// is the producer's CreateTime, not the time the broker stamped (franz-go
// does not read the append time from the produce response; the broker
// still stores its own time, and a consumer sees that one).
func (c *Cluster) OpenProducerDriver(cfg producer.Config) (producer.Driver, error) {
	c.mu.Lock()
	closed := c.closed
	c.mu.Unlock()
	if closed {
		return nil, fmt.Errorf("kafka: producer: %w", commitlog.ErrClosed)
	}
	opts, acks, err := producerOptions(cfg)
	if err != nil {
		return nil, err
	}
	cl, err := kgo.NewClient(c.ClientOptions(opts...)...)
	if err != nil {
		return nil, fmt.Errorf("kafka: producer client: %w (%w)", err, commitlog.ErrInvalidConfig)
	}
	return &producerDriver{cl: cl, acks: acks}, nil
}

// producerOptions maps cfg to kgo options; it also returns acks.
func producerOptions(cfg producer.Config) ([]kgo.Opt, producer.Acks, error) {
	acks := deref(cfg.Acks, producer.DefaultAcks)
	opts := []kgo.Opt{kgo.MaxBufferedRecords(maxBuffered)}
	switch acks {
	case producer.AcksNone:
		opts = append(opts, kgo.RequiredAcks(kgo.NoAck()), kgo.DisableIdempotentWrite())
	case producer.AcksLeader:
		opts = append(opts, kgo.RequiredAcks(kgo.LeaderAck()), kgo.DisableIdempotentWrite())
	default:
		opts = append(opts, kgo.RequiredAcks(kgo.AllISRAcks()))
	}
	if cfg.Fsync && acks != producer.AcksAll {
		return nil, 0, fmt.Errorf("kafka: producer: Fsync with acks=%d: on Kafka, durability is acks=all with the topic's min.insync.replicas: %w", acks, commitlog.ErrInvalidConfig)
	}
	if cfg.ClientID != "" {
		opts = append(opts, kgo.ClientID(cfg.ClientID)) // over the cluster's
	}
	opts = append(opts, kgo.ProducerLinger(deref(cfg.Linger, producer.DefaultLinger)))
	maxReq := deref(cfg.MaxRequestSize, producer.DefaultMaxRequestSize)
	opts = append(opts, kgo.ProducerBatchMaxBytes(int32(min(max(maxReq, 512), 1<<30))))
	switch cfg.Compression {
	case record.None:
		opts = append(opts, kgo.ProducerBatchCompression(kgo.NoCompression()))
	case record.GZIP:
		opts = append(opts, kgo.ProducerBatchCompression(kgo.GzipCompression()))
	case record.Snappy:
		opts = append(opts, kgo.ProducerBatchCompression(kgo.SnappyCompression()))
	case record.LZ4:
		opts = append(opts, kgo.ProducerBatchCompression(kgo.Lz4Compression()))
	case record.ZSTD:
		opts = append(opts, kgo.ProducerBatchCompression(kgo.ZstdCompression()))
	default:
		return nil, 0, fmt.Errorf("kafka: producer: compression.type %v: %w", cfg.Compression, errors.ErrUnsupported)
	}
	var inner kgo.Partitioner = kgo.StickyKeyPartitioner(nil)
	if cfg.Partitioner != nil {
		inner = adaptedPartitioner{cfg.Partitioner}
	}
	opts = append(opts, kgo.RecordPartitioner(explicitPartitioner{inner}))
	return opts, acks, nil
}

func deref[T any](p *T, def T) T {
	if p == nil {
		return def
	}
	return *p
}

// producerDriver is a producer.Driver on its own kgo.Client.
type producerDriver struct {
	cl   *kgo.Client
	acks producer.Acks
}

// Send produces rec; the promise (kgo calls them one at a time, in order
// per partition) completes it.
func (d *producerDriver) Send(ctx context.Context, rec *producer.Record, done func(producer.RecordMetadata, error)) {
	kr := &kgo.Record{Topic: rec.Topic, Key: rec.Key, Value: rec.Value, Timestamp: rec.Timestamp, Partition: noPartition}
	if rec.ExplicitPartition {
		kr.Partition = rec.Partition
	}
	if len(rec.Headers) > 0 {
		kr.Headers = make([]kgo.RecordHeader, len(rec.Headers))
		for i, h := range rec.Headers {
			kr.Headers[i] = kgo.RecordHeader{Key: h.Key, Value: h.Value}
		}
	}
	d.cl.Produce(ctx, kr, func(r *kgo.Record, err error) {
		md := producer.RecordMetadata{Topic: r.Topic, Partition: r.Partition, Offset: r.Offset, Timestamp: r.Timestamp}
		if err != nil || d.acks == producer.AcksNone {
			md.Offset = -1
		}
		if err != nil {
			switch {
			case r.Partition == badPartition && rec.ExplicitPartition:
				err = fmt.Errorf("kafka: produce to %s: no partition %d: %w (%w)", r.Topic, rec.Partition, commitlog.ErrUnknownPartition, err)
			case r.Partition == badPartition:
				err = fmt.Errorf("kafka: produce to %s: the partitioner picked a partition the topic lacks: %w (%w)", r.Topic, commitlog.ErrUnknownPartition, err)
			case errors.Is(err, kgo.ErrMaxBuffered):
				err = fmt.Errorf("kafka: produce to %s: %w (%w)", r.Topic, producer.ErrBufferFull, err)
			default:
				err = mapErr("produce to "+r.Topic, err)
			}
			md.Partition = -1
			if rec.ExplicitPartition {
				md.Partition = rec.Partition
			}
		}
		done(md, err)
	})
}

// Flush flushes the client: every buffered record is sent and its promise
// has returned.
func (d *producerDriver) Flush(ctx context.Context) error {
	return d.cl.Flush(ctx)
}

// Close closes the client; records still buffered fail with
// kgo.ErrClientClosed (commitlog.ErrClosed).
func (d *producerDriver) Close() error {
	d.cl.Close()
	return nil
}

// explicitPartitioner honours Record.ExplicitPartition (a kgo.Record with
// a Partition of 0 or more) and leaves the others to inner.
type explicitPartitioner struct{ inner kgo.Partitioner }

func (p explicitPartitioner) ForTopic(topic string) kgo.TopicPartitioner {
	tp := &explicitTopicPartitioner{inner: p.inner.ForTopic(topic)}
	tp.onNewBatch, _ = tp.inner.(kgo.TopicPartitionerOnNewBatch)
	return tp
}

// explicitTopicPartitioner: kgo calls one topic's partitioner for one
// record at a time (and again for the same record after OnNewBatch,
// having set its Partition meanwhile), so its fields need no lock.
type explicitTopicPartitioner struct {
	inner      kgo.TopicPartitioner
	onNewBatch kgo.TopicPartitionerOnNewBatch // inner's, or nil
	last       *kgo.Record                    // the record partitioned last
	explicit   bool                           // last has an explicit partition
}

// isExplicit reports whether r has an explicit partition, as it came
// from Send: kgo sets a record's Partition as it buffers it, before it
// partitions it again after OnNewBatch.
func (p *explicitTopicPartitioner) isExplicit(r *kgo.Record) bool {
	if r != p.last {
		p.last, p.explicit = r, r.Partition >= 0
	}
	return p.explicit
}

func (p *explicitTopicPartitioner) RequiresConsistency(r *kgo.Record) bool {
	return p.isExplicit(r) || p.inner.RequiresConsistency(r)
}

func (p *explicitTopicPartitioner) Partition(r *kgo.Record, n int) int {
	if !p.isExplicit(r) {
		pick := p.inner.Partition(r, n)
		if pick < 0 || pick >= n {
			r.Partition = badPartition // a Partitioner's bad pick: ErrUnknownPartition too
			return -1
		}
		return pick
	}
	if int(r.Partition) >= n {
		r.Partition = badPartition // the promise reports ErrUnknownPartition
		return -1
	}
	return int(r.Partition)
}

// OnNewBatch moves a sticky inner partitioner on, unless the batch is
// that of an explicitly partitioned record, which it did not choose.
func (p *explicitTopicPartitioner) OnNewBatch() {
	if p.onNewBatch != nil && !p.explicit {
		p.onNewBatch.OnNewBatch()
	}
}

// adaptedPartitioner is a producer.Partitioner as a kgo.Partitioner. It
// requires consistency for every record, so that kgo offers every
// partition and the index picked is the partition's id.
type adaptedPartitioner struct{ p producer.Partitioner }

func (a adaptedPartitioner) ForTopic(topic string) kgo.TopicPartitioner {
	return &adaptedTopicPartitioner{p: a.p, topic: topic, last: -1}
}

// adaptedTopicPartitioner: kgo calls one topic's partitioner for one
// record at a time, so last and n need no lock.
type adaptedTopicPartitioner struct {
	p     producer.Partitioner
	topic string
	last  int32 // the partition picked last
	n     int32 // the partition count then
}

func (a *adaptedTopicPartitioner) RequiresConsistency(*kgo.Record) bool { return true }

func (a *adaptedTopicPartitioner) Partition(r *kgo.Record, n int) int {
	a.n = int32(min(n, math.MaxInt32))
	a.last = a.p.Partition(a.topic, r.Key, a.n)
	return int(a.last)
}

func (a *adaptedTopicPartitioner) OnNewBatch() {
	if a.last >= 0 {
		a.p.OnNewBatch(a.topic, a.last, a.n)
	}
}

// Compile-time checks.
var (
	_ producer.DriverOpener          = (*Cluster)(nil)
	_ kgo.TopicPartitionerOnNewBatch = (*explicitTopicPartitioner)(nil)
	_ kgo.TopicPartitionerOnNewBatch = (*adaptedTopicPartitioner)(nil)
)
