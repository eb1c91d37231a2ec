package main

// Everything that touches commitlog's API is in this file, so that a change
// of that API is adapted here and nowhere else.

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/commitlog-go/commitlog"
	"github.com/commitlog-go/commitlog/consumer"
	cllog "github.com/commitlog-go/commitlog/log"
	"github.com/commitlog-go/commitlog/producer"
	"github.com/commitlog-go/commitlog/record"
	"github.com/commitlog-go/commitlog/vfs"
)

// Row names of commitlog's variants; the targets refer to them.
const (
	nameCLLog       = "commitlog log.Log"
	nameCLProducer  = "commitlog producer"
	nameCLConsumer  = "commitlog consumer"
	nameCLPartition = "commitlog Partition.Append(durable)"
	nameCLDefault   = "commitlog producer, default config"
)

var commitlogSystems = []sysInfo{
	{name: nameCLLog, commitlog: true, new: newCLLog,
		syncNote: "log.Log driven directly: the caller encodes each batch with record.Builder (inside the timing) and calls Append; reads are ReadUpTo of 1 MiB + record.Iterator (CRC-32C per batch). No fsync: none per append (a 1 GiB segment roll would fsync, not reached). Durable: flush.messages=1, an fsync inside every Append, under the log's lock"},
	{name: nameCLProducer, readName: nameCLConsumer, commitlog: true, new: newCLClient,
		syncNote: "a Broker with one topic of one partition; writes with producer.SendCallback (acks=all, linger 5 ms, batch.size = 100 records) + Flush, reads with consumer.Assign + PollInto, zero-copy (random read: Seek + PollInto, one batch per fetch). No fsync: acks=all means in the log (page cache). Durable: acks=all + Config.Fsync, linger 0: each batch is fsynced before its records are acknowledged, and records that arrive meanwhile share the next batch (group commit)"},
	{name: nameCLPartition, commitlog: true, new: newCLPartition, only: map[int]bool{6: true},
		syncNote: "durable only: each sender encodes a one-record batch and calls Partition.Append(b, true), which waits in SyncTo for an fsync that concurrent appenders share"},
	{name: nameCLDefault, commitlog: true, new: newCLDefault, only: map[int]bool{5: true},
		syncNote: "workload 5 only: producer.Config{} (Kafka's defaults: acks=all, linger.ms=5, batch.size=16384), no fsync; one goroutine calls SendSync, or SendCallback (the async path) + Flush"},
}

// syncCounter is a vfs.FS over the operating system's that counts the
// fsyncs of segment files (*.log), so that records per fsync is a count,
// not an estimate. Index and metadata fsyncs are not counted.
type syncCounter struct {
	vfs.FS
	n atomic.Int64
}

type countedFile struct {
	vfs.File
	n *atomic.Int64
}

func (f countedFile) Sync() error { f.n.Add(1); return f.File.Sync() }

// SyscallConn passes on the file's descriptor, which commitlog's segments
// map to read from (package segment), so that counting fsyncs leaves
// reads as they are with the plain OS file system.
func (f countedFile) SyscallConn() (syscall.RawConn, error) {
	if c, ok := f.File.(syscall.Conn); ok {
		return c.SyscallConn()
	}
	return nil, errors.ErrUnsupported
}

func (c *syncCounter) OpenFile(name string, flag int, perm fs.FileMode) (vfs.File, error) {
	f, err := c.FS.OpenFile(name, flag, perm)
	if err != nil || !strings.HasSuffix(name, ".log") {
		return f, err
	}
	return countedFile{f, &c.n}, nil
}

func newSyncCounter() *syncCounter { return &syncCounter{FS: vfs.OS} }

// ---- commitlog, package log directly: the caller encodes v2 batches with
// record.Builder (inside the timed loop) and appends them; reads decode them
// with record.Iterator (CRC-32C checked per batch).

type clLog struct {
	p      *payload
	dir    string
	cfg    cllog.Config
	l      *cllog.Log
	bl     *record.Builder
	buf    []byte
	it     record.Iterator
	fsyncs *syncCounter
	// pool holds one builder per concurrent AppendOne caller.
	pool sync.Pool
}

func newCLLog(p *payload) Sys { return &clLog{p: p} }

func (s *clLog) Create(dir string, durable bool) error {
	// Kafka's defaults (1 GiB segments, 4 KiB index interval) without
	// time-based retention; durable: flush.messages=1.
	s.fsyncs = newSyncCounter()
	s.cfg = cllog.Config{Retention: new(time.Duration(-1)), FS: s.fsyncs}
	if durable {
		s.cfg.FlushMessages = 1
	}
	return s.Reopen(dir)
}

func (s *clLog) Reopen(dir string) error {
	if s.fsyncs == nil {
		s.fsyncs = newSyncCounter()
		s.cfg = cllog.Config{Retention: new(time.Duration(-1)), FS: s.fsyncs}
	}
	l, err := cllog.Open(dir, s.cfg)
	if err != nil {
		return err
	}
	s.l, s.dir = l, dir
	s.bl = record.NewBuilder(0, record.BatchOptions{})
	return nil
}

func (s *clLog) Append(b *batch) error {
	s.bl.Reset(0, record.BatchOptions{})
	ts := time.Now().UnixMilli()
	for _, v := range b.Vals {
		s.bl.Add(ts, nil, v, nil)
	}
	raw, err := s.bl.Build()
	if err != nil {
		return err
	}
	_, err = s.l.Append(raw)
	return err
}

func buildOne(pool *sync.Pool, v []byte, fn func(raw []byte) error) error {
	bl, _ := pool.Get().(*record.Builder)
	if bl == nil {
		bl = record.NewBuilder(0, record.BatchOptions{})
	}
	defer pool.Put(bl)
	bl.Reset(0, record.BatchOptions{})
	bl.Add(time.Now().UnixMilli(), nil, v, nil)
	raw, err := bl.Build()
	if err != nil {
		return err
	}
	return fn(raw)
}

func (s *clLog) AppendOne(v []byte) error {
	return buildOne(&s.pool, v, func(raw []byte) error {
		_, err := s.l.Append(raw)
		return err
	})
}

func (s *clLog) Flush() error { return nil }
func (s *clLog) Close() error { return s.l.Close() }
func (s *clLog) Count() (int64, error) {
	return s.l.EndOffset() - s.l.StartOffset(), nil
}

// scanBatches decodes the concatenated batches in data, calling fn with the
// value of every record at or after *next, and advances *next.
func scanBatches(data []byte, it *record.Iterator, next *int64, fn func(v []byte) error) error {
	return record.Batches(data, func(h *record.BatchHeader, b []byte) error {
		if err := it.ResetChecked(h, b); err != nil {
			return err
		}
		for it.Next() {
			r := it.Record()
			if r.Offset < *next {
				continue
			}
			if err := fn(r.Value); err != nil {
				return err
			}
		}
		*next = h.NextOffset()
		return it.Err()
	})
}

func (s *clLog) Scan(n int64, fn func(v []byte) error) error {
	off, end := s.l.StartOffset(), s.l.EndOffset()
	for off < end {
		data, err := s.l.ReadUpTo(s.buf, off, end, 1<<20)
		if err != nil {
			return err
		}
		s.buf = data
		if len(data) == 0 {
			return fmt.Errorf("empty read at %d of %d", off, end)
		}
		if err := scanBatches(data, &s.it, &off, fn); err != nil {
			return err
		}
	}
	return nil
}

// Get reads the batch holding offset i (ReadUpTo with maxBytes 1: one whole
// batch into a reused buffer), checks its CRC and decodes it up to i.
func (s *clLog) Get(i int64, fn func(v []byte) error) error {
	data, err := s.l.ReadUpTo(s.buf, i, s.l.EndOffset(), 1)
	if err != nil {
		return err
	}
	s.buf = data
	if err := s.it.Reset(data); err != nil {
		return err
	}
	for s.it.Next() {
		if r := s.it.Record(); r.Offset == i {
			return fn(r.Value)
		}
	}
	return fmt.Errorf("offset %d not in the batch read (%v)", i, s.it.Err())
}

func (s *clLog) ResetSyncCount() { s.fsyncs.n.Store(0) }
func (s *clLog) Fsyncs() int64   { return s.fsyncs.n.Load() }

// ---- commitlog through its clients: a Broker with one topic of one
// partition, producer.Producer (SendCallback: async) and consumer.Consumer
// (Assign, Poll) to read.

const clTopic = "bench"

type clClient struct {
	p        *payload
	durable  bool
	defaults bool // producer.Config{} as it is (workload 5)
	fsyncs   *syncCounter
	br       *commitlog.Broker
	part     *commitlog.Partition
	prod     *producer.Producer
	cb       func(context.Context, producer.RecordMetadata, error)
	errMu    sync.Mutex
	err      error // guarded by errMu: the first error a callback reported
	rec      producer.Record
	// random reads (Get): a consumer kept across calls
	rc   *consumer.Consumer
	recs []consumer.Record
}

func newCLClient(p *payload) Sys  { return &clClient{p: p} }
func newCLDefault(p *payload) Sys { return &clClient{p: p, defaults: true} }

func (s *clClient) openBroker(dir string) (*commitlog.Broker, error) {
	if s.fsyncs == nil {
		s.fsyncs = newSyncCounter()
	}
	return commitlog.Open(dir, commitlog.WithLogger(slog.New(slog.DiscardHandler)),
		commitlog.WithoutExpvar(), commitlog.WithFS(s.fsyncs))
}

// batchBytes is producer batch.size for n records of size bytes: the
// records section of a v2 batch holding exactly n of them.
func batchBytes(n, size int) int {
	return n * record.RecordSize(int32(n-1), 0, nil, make([]byte, size), nil)
}

// batchMaxBytes is a whole v2 batch of n records of size bytes.
func batchMaxBytes(n, size int) int { return batchBytes(n, size) + record.HeaderSize }

func (s *clClient) Create(dir string, durable bool) error {
	br, err := s.openBroker(dir)
	if err != nil {
		return err
	}
	if _, err := br.CreateTopic(clTopic, commitlog.TopicConfig{Partitions: 1, Retention: new(time.Duration(-1))}); err != nil {
		br.Close()
		return err
	}
	s.br, s.durable = br, durable
	return s.open()
}

func (s *clClient) open() error {
	t, err := s.br.Topic(clTopic)
	if err != nil {
		return err
	}
	if s.part, err = t.Partition(0); err != nil {
		return err
	}
	var cfg producer.Config
	switch {
	case s.defaults:
		// Kafka's defaults, untouched.
	case s.durable:
		// acks=all waits for the fsync; linger 0: records that arrive
		// while one batch is being written and fsynced share the next.
		cfg = producer.Config{Fsync: true, Acks: new(producer.AcksAll), Linger: new(time.Duration(0))}
	default:
		// Kafka's defaults (acks=all = in the log, linger.ms=5), with
		// batch.size holding 100 records as the other systems' batches.
		cfg = producer.Config{BatchSize: new(batchBytes(100, s.p.size))}
	}
	if s.prod, err = producer.New(s.br, cfg); err != nil {
		return err
	}
	s.rec = producer.Record{Topic: clTopic, Partition: 0, ExplicitPartition: true}
	s.cb = func(_ context.Context, _ producer.RecordMetadata, err error) {
		if err != nil {
			s.errMu.Lock()
			if s.err == nil {
				s.err = err
			}
			s.errMu.Unlock()
		}
	}
	return nil
}

func (s *clClient) Append(b *batch) error {
	ctx := context.Background()
	for _, v := range b.Vals {
		s.rec.Value = v
		s.prod.SendCallback(ctx, &s.rec, s.cb)
	}
	return nil
}

// SendOne is the async path of one record (workload 5).
func (s *clClient) SendOne(v []byte) error {
	s.rec.Value = v
	s.prod.SendCallback(context.Background(), &s.rec, s.cb)
	return nil
}

func (s *clClient) AppendOne(v []byte) error {
	rec := producer.Record{Topic: clTopic, Partition: 0, ExplicitPartition: true, Value: v}
	_, err := s.prod.SendSync(context.Background(), &rec)
	return err
}

func (s *clClient) Flush() error {
	if err := s.prod.Flush(context.Background()); err != nil {
		return err
	}
	s.errMu.Lock()
	defer s.errMu.Unlock()
	return s.err
}

func (s *clClient) Close() error {
	ctx := context.Background()
	var err error
	if s.rc != nil {
		err = s.rc.Close(ctx)
		s.rc = nil
	}
	return errors.Join(err, s.prod.Close(ctx), s.br.Close())
}

func (s *clClient) Reopen(dir string) error {
	br, err := s.openBroker(dir)
	if err != nil {
		return err
	}
	s.br = br
	return s.open()
}

func (s *clClient) Count() (int64, error) {
	return s.part.HighWatermark() - s.part.LogStartOffset(), nil
}

func (s *clClient) Scan(n int64, fn func(v []byte) error) error {
	ctx := context.Background()
	c, err := consumer.New(s.br, consumer.Config{AutoOffsetReset: consumer.ResetEarliest, FetchMaxWait: new(100 * time.Millisecond)})
	if err != nil {
		return err
	}
	defer c.Close(ctx)
	tp := consumer.TopicPartition{Topic: clTopic, Partition: 0}
	if err := c.Assign([]consumer.TopicPartition{tp}); err != nil {
		return err
	}
	if err := c.SeekToBeginning(tp); err != nil {
		return err
	}
	var got int64
	var recs []consumer.Record
	for got < n {
		recs, err = c.PollInto(ctx, recs)
		if err != nil {
			return err
		}
		if len(recs) == 0 {
			return fmt.Errorf("poll returned nothing after %d of %d records", got, n)
		}
		for i := range recs {
			if err := fn(recs[i].Value); err != nil {
				return err
			}
		}
		got += int64(len(recs))
	}
	return nil
}

// Get is a random read through the consumer: Seek to offset i, PollInto. The
// consumer fetches one batch per Poll (max.partition.fetch.bytes=1: at least
// one whole batch) and returns one record (max.poll.records=1).
func (s *clClient) Get(i int64, fn func(v []byte) error) error {
	ctx := context.Background()
	tp := consumer.TopicPartition{Topic: clTopic, Partition: 0}
	if s.rc == nil {
		c, err := consumer.New(s.br, consumer.Config{AutoOffsetReset: consumer.ResetNone,
			MaxPollRecords: 1, MaxPartitionFetchBytes: new(1), FetchMaxWait: new(100 * time.Millisecond)})
		if err != nil {
			return err
		}
		if err := c.Assign([]consumer.TopicPartition{tp}); err != nil {
			c.Close(ctx)
			return err
		}
		s.rc = c
	}
	if err := s.rc.Seek(tp, i); err != nil {
		return err
	}
	recs, err := s.rc.PollInto(ctx, s.recs)
	if err != nil {
		return err
	}
	s.recs = recs
	if len(recs) == 0 || recs[0].Offset != i {
		return fmt.Errorf("seek to %d, poll returned %d records (first %v)", i, len(recs), firstOffset(recs))
	}
	return fn(recs[0].Value)
}

func firstOffset(recs []consumer.Record) any {
	if len(recs) == 0 {
		return "none"
	}
	return recs[0].Offset
}

// RecordsPerBatch is from the broker's Stats: messages ÷ batches appended
// since the broker opened.
func (s *clClient) RecordsPerBatch() (float64, error) {
	for _, t := range s.br.Stats().Topics {
		if t.Name == clTopic && t.Throughput.Batches > 0 {
			return float64(t.Throughput.Messages) / float64(t.Throughput.Batches), nil
		}
	}
	return 0, errors.New("no batches in the broker's stats")
}

func (s *clClient) ResetSyncCount() { s.fsyncs.n.Store(0) }
func (s *clClient) Fsyncs() int64   { return s.fsyncs.n.Load() }

// ---- commitlog Partition.Append(batch, durable=true): each sender encodes
// a one-record batch and appends it; the partition shares one fsync among
// the appends that wait for it (SyncTo). Workload 6 only.

type clPartition struct {
	clClient
	pool sync.Pool
}

func newCLPartition(p *payload) Sys { return &clPartition{clClient: clClient{p: p}} }

func (s *clPartition) AppendOne(v []byte) error {
	return buildOne(&s.pool, v, func(raw []byte) error {
		_, err := s.part.Append(raw, true)
		return err
	})
}

// countV2Batches counts the Kafka v2 record batches in data and the
// records they hold (used to read kfake's segment files).
func countV2Batches(data []byte) (batches, records int64, err error) {
	err = record.Batches(data, func(h *record.BatchHeader, _ []byte) error {
		batches++
		records += int64(h.NumRecords)
		return nil
	})
	return batches, records, err
}
