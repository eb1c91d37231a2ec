package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/commitlog-go/commitlog"
	cons "github.com/commitlog-go/commitlog/consumer"
	prod "github.com/commitlog-go/commitlog/producer"
)

// ConsumerPerfConfig configures RunConsumerPerf, the core of
// cmd/consumer-perf (Kafka's kafka-consumer-perf-test).
type ConsumerPerfConfig struct {
	// Topic to consume; created with Partitions partitions if missing.
	Topic string
	// NumRecords is how many records to consume. The topic is first
	// filled up to this many records (records already there count).
	NumRecords int64
	// RecordSize is the size of each pre-filled record's value in bytes
	// (default 100).
	RecordSize int
	// Partitions of the topic (default 1).
	Partitions int32
	// Members is the number of consumers in the group, each polling in
	// its own goroutine (default 1).
	Members int
	// Group is the consumer group id (default "perf-consumer-<random>",
	// as Kafka's tool). A group that already committed offsets resumes
	// from them.
	Group string
	// Dir is the broker's data directory; "" uses a temporary directory
	// removed at the end.
	Dir string
	// Timeout ends the run when no new record has been consumed for this
	// long (Kafka's --timeout, default 10 s).
	Timeout time.Duration
	// FetchMaxWait is the consumers' fetch.max.wait.ms (default 50 ms).
	FetchMaxWait time.Duration
	// MaxPollRecords is the consumers' max.poll.records (default 500).
	MaxPollRecords int
}

// ConsumerPerfResult is the outcome of RunConsumerPerf, Kafka's columns
// plus the number of non-empty polls.
type ConsumerPerfResult struct {
	Start, End    time.Time // consumption start (before Subscribe) and the last record
	Records       int64     // distinct records consumed
	Bytes         int64     // their key and value bytes
	MB            float64   // Bytes in MiB, as Kafka counts
	MBPerSec      float64   // over End-Start
	RecordsPerSec float64   // over End-Start
	// Rebalance is the time from Subscribe until the last member got its
	// first assignment (Kafka's rebalance.time.ms, for the whole group).
	Rebalance time.Duration
	// FetchTime is End-Start without Rebalance; the fetch rates use it.
	FetchTime          time.Duration
	FetchMBPerSec      float64
	FetchRecordsPerSec float64
	// Fetches is the number of Polls that returned records, over all
	// members.
	Fetches int64
	// Duplicates counts records delivered again after a rebalance moved
	// their partition before the end-of-run commit (eager rebalances while
	// the group forms); they are not in Records.
	Duplicates int64
	// Prefill is how long filling the topic took (not part of the rates).
	Prefill time.Duration
}

const consumerPerfMiB = 1 << 20

// ConsumerPerfHeader is the header line RunConsumerPerf prints above its
// result row, Kafka's plus fetch.count.
const ConsumerPerfHeader = "start.time, end.time, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec, rebalance.time.ms, fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec, fetch.count"

// Row formats r as the row under ConsumerPerfHeader.
func (r ConsumerPerfResult) Row() string {
	// Kafka's yyyy-MM-dd HH:mm:ss:SSS (Go's layouts take only '.' or ','
	// before the fraction).
	ts := func(t time.Time) string {
		return fmt.Sprintf("%s:%03d", t.Format("2006-01-02 15:04:05"), t.Nanosecond()/int(time.Millisecond))
	}
	return fmt.Sprintf("%s, %s, %.4f, %.4f, %d, %.4f, %d, %d, %.4f, %.4f, %d",
		ts(r.Start), ts(r.End), r.MB, r.MBPerSec, r.Records, r.RecordsPerSec,
		r.Rebalance.Milliseconds(), r.FetchTime.Milliseconds(), r.FetchMBPerSec, r.FetchRecordsPerSec, r.Fetches)
}

// RunConsumerPerf opens a broker (in cfg.Dir or a temporary directory),
// creates cfg.Topic, fills it up to cfg.NumRecords records of
// cfg.RecordSize bytes with a producer (acks=1, large batches), then
// consumes them with a group of cfg.Members consumers, each polling in its
// own goroutine (auto.offset.reset=earliest, no auto-commit; each member
// commits once at the end), until cfg.NumRecords distinct records are
// consumed or no record came for cfg.Timeout. It writes a pre-fill line,
// then ConsumerPerfHeader and the result row to out:
//
//	start.time, end.time, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec, rebalance.time.ms, fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec, fetch.count
//	2025-11-25 07:00:00:000, 2025-11-25 07:00:01:000, 95.3674, 95.3674, 1000000, 1000000.0000, 3, 997, 95.6543, 1003009.0271, 2001
//
// A timeout or ctx's end returns the result so far with an error.
func RunConsumerPerf(ctx context.Context, cfg ConsumerPerfConfig, out io.Writer) (res ConsumerPerfResult, err error) {
	if cfg.Topic == "" {
		return res, errors.New("consumer-perf: no topic")
	}
	if cfg.NumRecords <= 0 {
		return res, errors.New("consumer-perf: messages must be positive")
	}
	if cfg.RecordSize < 0 {
		return res, errors.New("consumer-perf: record-size must not be negative")
	}
	if cfg.RecordSize == 0 {
		cfg.RecordSize = 100
	}
	if cfg.Partitions <= 0 {
		cfg.Partitions = 1
	}
	if cfg.Members <= 0 {
		cfg.Members = 1
	}
	if cfg.Group == "" {
		cfg.Group = fmt.Sprintf("perf-consumer-%d", rand.IntN(100000))
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	if cfg.FetchMaxWait <= 0 {
		cfg.FetchMaxWait = 50 * time.Millisecond
	}
	b, t, closeBroker, err := openToolBroker(cfg.Dir, "consumer-perf-", cfg.Topic, cfg.Partitions)
	if err != nil {
		return res, err
	}
	defer func() {
		if cerr := closeBroker(); err == nil {
			err = cerr
		}
	}()

	var have int64
	for _, p := range t.Partitions() {
		have += p.HighWatermark() - p.LogStartOffset()
	}
	if missing := cfg.NumRecords - have; missing > 0 {
		start := time.Now()
		if err := consumerPerfPrefill(ctx, b, t, missing, cfg.RecordSize); err != nil {
			return res, err
		}
		res.Prefill = time.Since(start)
		fmt.Fprintf(out, "pre-filled %s with %d records of %d bytes in %d partitions in %v\n",
			cfg.Topic, missing, cfg.RecordSize, t.NumPartitions(), res.Prefill.Round(time.Millisecond))
	}

	res2, err := consumerPerfConsume(ctx, b, cfg, t.NumPartitions())
	res2.Prefill = res.Prefill
	res = res2
	fmt.Fprintln(out, ConsumerPerfHeader)
	fmt.Fprintln(out, res.Row())
	return res, err
}

// consumerPerfPrefill appends n records of size random letters to t,
// round-robin over its partitions, with acks=1 and 512 KiB batches.
func consumerPerfPrefill(ctx context.Context, b *commitlog.Broker, t *commitlog.Topic, n int64, size int) (err error) {
	p, err := prod.New(b, prod.Config{BatchSize: new(512 << 10), BufferMemory: new(int64(64 << 20)), Acks: new(prod.AcksLeader), Linger: new(10 * time.Millisecond)})
	if err != nil {
		return err
	}
	defer func() {
		if cerr := p.Close(context.WithoutCancel(ctx)); err == nil {
			err = cerr
		}
	}()
	r := rand.New(rand.NewPCG(3, 4))
	value := make([]byte, size)
	for i := range value {
		value[i] = byte('A' + r.IntN(26))
	}
	var firstErr atomic.Pointer[error]
	var failed atomic.Int64
	cb := func(_ context.Context, _ prod.RecordMetadata, err error) {
		if err != nil && failed.Add(1) == 1 {
			firstErr.Store(&err)
		}
	}
	parts := t.NumPartitions()
	rec := prod.Record{Topic: t.Name(), Value: value, ExplicitPartition: true}
	for i := range n {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		rec.Partition = int32(i % int64(parts))
		p.SendCallback(ctx, &rec, cb) // copies the value before returning
	}
	if err := p.Flush(ctx); err != nil {
		return err
	}
	if e := firstErr.Load(); e != nil {
		return fmt.Errorf("consumer-perf: pre-fill: %d of %d records failed, first: %w", failed.Load(), n, *e)
	}
	return nil
}

// consumerPerfCounter counts distinct records: per partition, the next
// offset not yet seen. A record below it was delivered before, to a
// member that lost the partition in a rebalance before committing.
type consumerPerfCounter struct {
	next      []atomic.Int64
	records   atomic.Int64
	bytes     atomic.Int64
	dups      atomic.Int64
	fetches   atomic.Int64
	lastNanos atomic.Int64 // time of the last new record
	target    int64
	done      chan struct{}
	doneOnce  sync.Once
}

func (c *consumerPerfCounter) add(recs []cons.Record) {
	if len(recs) == 0 {
		return
	}
	c.fetches.Add(1)
	var n, by, dups int64
	// Records of one partition come in offset order within a poll.
	for i := 0; i < len(recs); {
		j := i
		for j < len(recs) && recs[j].Partition == recs[i].Partition {
			j++
		}
		slot := &c.next[recs[i].Partition]
		last := recs[j-1].Offset + 1
		for {
			old := slot.Load()
			if old >= last {
				dups += int64(j - i)
				break
			}
			if slot.CompareAndSwap(old, last) {
				for _, r := range recs[i:j] {
					if r.Offset >= old {
						n++
						by += int64(len(r.Key) + len(r.Value))
					} else {
						dups++
					}
				}
				break
			}
		}
		i = j
	}
	c.dups.Add(dups)
	c.bytes.Add(by)
	if n > 0 {
		c.lastNanos.Store(time.Now().UnixNano())
		if c.records.Add(n) >= c.target {
			c.doneOnce.Do(func() { close(c.done) })
		}
	}
}

func consumerPerfConsume(ctx context.Context, b *commitlog.Broker, cfg ConsumerPerfConfig, parts int32) (res ConsumerPerfResult, err error) {
	cnt := &consumerPerfCounter{next: make([]atomic.Int64, parts), target: cfg.NumRecords, done: make(chan struct{})}
	members := make([]*cons.Consumer, cfg.Members)
	defer func() {
		for _, c := range members {
			if c != nil {
				if cerr := c.Close(context.Background()); err == nil {
					err = cerr
				}
			}
		}
	}()
	for i := range members {
		c, err := cons.New(b, cons.Config{
			GroupID:          cfg.Group,
			AutoOffsetReset:  cons.ResetEarliest,
			EnableAutoCommit: new(false),
			FetchMaxWait:     new(cfg.FetchMaxWait),
			MaxPollRecords:   cfg.MaxPollRecords,
		})
		if err != nil {
			return res, err
		}
		members[i] = c
	}

	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg        sync.WaitGroup
		errMu     sync.Mutex
		firstErr  error
		rebalance atomic.Int64 // max over members of Subscribe -> first assignment, ns
	)
	fail := func(err error) {
		errMu.Lock()
		if firstErr == nil {
			firstErr = err
		}
		errMu.Unlock()
		cancel()
	}
	res.Start = time.Now()
	cnt.lastNanos.Store(res.Start.UnixNano())
	for _, c := range members {
		subscribed := time.Now()
		var assignedOnce sync.Once
		listener := cons.ListenerFuncs{
			// Partitions that move in a rebalance take their progress along,
			// so the final commit of their new owner does not go back.
			Revoked: func(ctx context.Context, c *cons.Consumer, _ []cons.TopicPartition) {
				if err := c.CommitSync(ctx, nil); err != nil {
					fail(fmt.Errorf("consumer-perf: commit on revoke: %w", err))
				}
			},
			Assigned: func(_ context.Context, _ *cons.Consumer, tps []cons.TopicPartition) {
				if len(tps) == 0 {
					return
				}
				assignedOnce.Do(func() {
					d := int64(time.Since(subscribed))
					for {
						old := rebalance.Load()
						if d <= old || rebalance.CompareAndSwap(old, d) {
							return
						}
					}
				})
			}}
		if err := c.Subscribe([]string{cfg.Topic}, listener); err != nil {
			return res, err
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for runCtx.Err() == nil {
				recs, err := c.Poll(runCtx)
				if err != nil {
					if runCtx.Err() == nil {
						fail(err)
					}
					break
				}
				cnt.add(recs)
			}
			// Commit once, at the end, before any member leaves (a
			// departure would start a rebalance and fence the commits).
			// A member without partitions has nothing to commit.
			if len(c.Assignment()) == 0 {
				return
			}
			if err := c.CommitSync(context.Background(), nil); err != nil {
				fail(fmt.Errorf("consumer-perf: commit: %w", err))
			}
		}()
	}

	// Stop at the target, at ctx's end, or when no new record came for
	// cfg.Timeout.
	tick := time.NewTicker(min(cfg.Timeout/10, 100*time.Millisecond))
	var waitErr error
wait:
	for {
		select {
		case <-cnt.done:
			break wait
		case <-runCtx.Done():
			waitErr = ctx.Err()
			break wait
		case <-tick.C:
			if idle := time.Since(time.Unix(0, cnt.lastNanos.Load())); idle > cfg.Timeout {
				waitErr = fmt.Errorf("consumer-perf: no record for %v (timeout): %d of %d records consumed",
					cfg.Timeout, cnt.records.Load(), cfg.NumRecords)
				break wait
			}
		}
	}
	tick.Stop()
	cancel()
	wg.Wait()

	res.End = time.Unix(0, cnt.lastNanos.Load())
	res.Records = cnt.records.Load()
	res.Bytes = cnt.bytes.Load()
	res.Duplicates = cnt.dups.Load()
	res.Fetches = cnt.fetches.Load()
	res.MB = float64(res.Bytes) / consumerPerfMiB
	res.Rebalance = time.Duration(rebalance.Load())
	elapsed := res.End.Sub(res.Start)
	if s := elapsed.Seconds(); s > 0 {
		res.MBPerSec = res.MB / s
		res.RecordsPerSec = float64(res.Records) / s
	}
	res.FetchTime = max(elapsed-res.Rebalance, 0)
	if s := res.FetchTime.Seconds(); s > 0 {
		res.FetchMBPerSec = res.MB / s
		res.FetchRecordsPerSec = float64(res.Records) / s
	}
	errMu.Lock()
	defer errMu.Unlock()
	return res, errors.Join(firstErr, waitErr)
}
