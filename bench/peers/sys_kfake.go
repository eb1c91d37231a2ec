package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// The Kafka-client route: franz-go's kgo producer and consumer against
// kfake, franz-go's in-process fake Kafka cluster (one broker), over
// loopback TCP, with kfake's disk persistence (DataDir: raw v2 record
// batches in segment files plus an index). No fsync: kfake's default
// (page cache; it syncs on segment roll and shutdown). Durable: SyncWrites,
// kfake fsyncs the segment file and its index after every produced batch,
// before the produce response; kgo batches the records that arrive while
// a request is in flight (linger 0).
// Producer: linger 5 ms (commitlog's default) and a max batch of 100
// records (ProducerBatchMaxBytes), acks=all, idempotent (kgo's default).
// kgo keeps a record's Value until its promise runs, so the adapter copies
// each batch's values into a fresh buffer. No random read (a Kafka client
// has no "get offset N": it seeks a consumer and fetches from there).
type kfakeKgo struct {
	p       *payload
	dir     string
	durable bool
	c       *kfake.Cluster
	cl      *kgo.Client
	errMu   sync.Mutex
	err     error
	promise func(*kgo.Record, error)
}

func newKfake(p *payload) Sys { return &kfakeKgo{p: p} }

const kfTopic = "bench"

func (s *kfakeKgo) start(create bool) error {
	opts := []kfake.Opt{kfake.NumBrokers(1), kfake.DataDir(s.dir)}
	if create {
		opts = append(opts, kfake.SeedTopics(1, kfTopic))
	}
	if s.durable {
		opts = append(opts, kfake.SyncWrites())
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		return err
	}
	linger := 5 * time.Millisecond
	if s.durable {
		linger = 0
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.DefaultProduceTopic(kfTopic),
		kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.ProducerLinger(linger),
		kgo.ProducerBatchMaxBytes(int32(batchMaxBytes(100, s.p.size))),
		kgo.ProducerBatchCompression(kgo.NoCompression()))
	if err != nil {
		c.Close()
		return err
	}
	s.c, s.cl = c, cl
	s.promise = func(_ *kgo.Record, err error) {
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

func (s *kfakeKgo) Create(dir string, durable bool) error {
	s.dir, s.durable = dir, durable
	return s.start(true)
}

func (s *kfakeKgo) Reopen(dir string) error {
	s.dir = dir
	return s.start(false)
}

func (s *kfakeKgo) Append(b *batch) error {
	buf := append([]byte(nil), b.Buf...)
	recs := make([]kgo.Record, len(b.Vals))
	ctx := context.Background()
	sz := s.p.size
	for i := range recs {
		recs[i].Value = buf[i*sz : (i+1)*sz : (i+1)*sz]
		s.cl.Produce(ctx, &recs[i], s.promise)
	}
	return nil
}

func (s *kfakeKgo) AppendOne(v []byte) error {
	r := &kgo.Record{Value: append([]byte(nil), v...)}
	return s.cl.ProduceSync(context.Background(), r).FirstErr()
}

func (s *kfakeKgo) Flush() error {
	if err := s.cl.Flush(context.Background()); err != nil {
		return err
	}
	s.errMu.Lock()
	defer s.errMu.Unlock()
	return s.err
}

func (s *kfakeKgo) Close() error {
	if s.cl != nil {
		s.cl.Close()
	}
	if s.c != nil {
		s.c.Close()
	}
	s.cl, s.c = nil, nil
	return nil
}

func (s *kfakeKgo) Count() (int64, error) {
	req := kmsg.NewPtrListOffsetsRequest()
	rt := kmsg.NewListOffsetsRequestTopic()
	rt.Topic = kfTopic
	rp := kmsg.NewListOffsetsRequestTopicPartition()
	rp.Partition, rp.Timestamp = 0, -1
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(context.Background(), s.cl)
	if err != nil {
		return 0, err
	}
	if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
		return 0, errors.New("kfake: odd ListOffsets response")
	}
	p := resp.Topics[0].Partitions[0]
	if p.ErrorCode != 0 {
		return 0, fmt.Errorf("kfake: ListOffsets error %d", p.ErrorCode)
	}
	return p.Offset, nil
}

func (s *kfakeKgo) Scan(n int64, fn func(v []byte) error) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(s.c.ListenAddrs()...),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{kfTopic: {0: kgo.NewOffset().AtStart()}}),
		kgo.FetchMaxWait(100*time.Millisecond))
	if err != nil {
		return err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var got int64
	for got < n {
		fs := cl.PollFetches(ctx)
		if err := fs.Err(); err != nil {
			return fmt.Errorf("kfake: after %d of %d records: %w", got, n, err)
		}
		var ferr error
		fs.EachRecord(func(r *kgo.Record) {
			if ferr == nil {
				ferr = fn(r.Value)
				got++
			}
		})
		if ferr != nil {
			return ferr
		}
	}
	return nil
}

// RecordsPerSync counts the batches kfake wrote into its segment files
// (raw v2 batches, parsed by countV2Batches); with
// SyncWrites it fsyncs once per batch.
func (s *kfakeKgo) RecordsPerSync() (float64, error) {
	var batches, records int64
	err := filepath.WalkDir(s.dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".dat") || !strings.Contains(path, kfTopic) {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		b, r, err := countV2Batches(data)
		batches += b
		records += r
		return err
	})
	if err != nil {
		return 0, err
	}
	if batches == 0 {
		return 0, errors.New("kfake: no batches found in its segment files")
	}
	return float64(records) / float64(batches), nil
}

func (s *kfakeKgo) RecordsPerBatch() (float64, error) { return s.RecordsPerSync() }
