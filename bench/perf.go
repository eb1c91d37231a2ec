package bench

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/bits"
	"math/rand/v2"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/commitlog-go/commitlog"
	prod "github.com/commitlog-go/commitlog/producer"
)

// ProducerPerfConfig configures RunProducerPerf, the core of
// cmd/producer-perf (Kafka's kafka-producer-perf-test).
type ProducerPerfConfig struct {
	// Topic to write to; created with Partitions partitions if missing.
	Topic string
	// NumRecords is how many records to send.
	NumRecords int64
	// RecordSize is the size of each record's value in bytes.
	RecordSize int
	// Throughput caps the send rate in records/s; 0 or less is unthrottled
	// (the command's -1).
	Throughput float64
	// Partitions of the topic (default 1).
	Partitions int32
	// Keys: 0 sends keyless records (sticky partitioning); K > 0 cycles
	// through K distinct keys (hash partitioning).
	Keys int
	// Dir is the broker's data directory; "" uses a temporary directory
	// removed at the end.
	Dir string
	// Interval between progress lines (default 5 s).
	Interval time.Duration
	// CSV, if not nil, receives the progress and final rows as CSV.
	CSV io.Writer
	// Producer is the producer's configuration (acks, fsync, linger,
	// batch size, compression...).
	Producer prod.Config
}

// ProducerPerfResult is the outcome of RunProducerPerf. Latencies run from
// Send to the record's completion callback.
type ProducerPerfResult struct {
	Records       int64 // records sent (completed, with or without error)
	Errors        int64 // records that failed
	Bytes         int64 // value bytes sent
	Elapsed       time.Duration
	RecordsPerSec float64
	MBPerSec      float64 // MiB/s of values, as Kafka counts
	AvgLatency    time.Duration
	MaxLatency    time.Duration
	P50, P95      time.Duration
	P99, P999     time.Duration
}

// perfPayload returns size random upper-case letters, as Kafka's perf test
// generates (fixed seed, so runs compress alike).
func perfPayload(size int) []byte {
	r := rand.New(rand.NewPCG(1, 2))
	p := make([]byte, size)
	for i := range p {
		p[i] = byte('A' + r.IntN(26))
	}
	return p
}

const mib = 1 << 20

// perfWindow accumulates the completions of one progress interval, and
// of the whole run the latency histogram.
type perfWindow struct {
	mu     sync.Mutex // guards the fields below
	start  time.Time
	count  int64
	bytes  int64
	latSum int64 // µs
	latMax int64 // µs
	hist   latencyHist
}

func (w *perfWindow) record(latUs, bytes int64) {
	w.mu.Lock()
	w.count++
	w.bytes += bytes
	w.latSum += latUs
	w.latMax = max(w.latMax, latUs)
	w.hist.add(latUs)
	w.mu.Unlock()
}

// latencyHist counts latencies (µs) in buckets of at most 1/128 of their
// value (exact below 128 µs): percentiles to within 0.8%, in a fixed
// 35 KiB whatever the number of records, where one slot a record took
// 80 MB for 10 million.
type latencyHist struct {
	counts [histBuckets]int64
	n      int64
	sum    int64
	max    int64
}

const (
	histSub     = 128 // buckets per power of two, and the exact range
	histBuckets = histSub + 56*histSub
)

// histIndex is v's bucket: v itself below histSub, else its power of two
// and its top 7 bits below the leading one.
func histIndex(v int64) int {
	if v < histSub {
		return int(max(v, 0))
	}
	shift := bits.Len64(uint64(v)) - 8 // v>>shift is in [128, 256)
	return histSub + shift*histSub + int(v>>shift) - histSub
}

// histLow is the smallest value of bucket i.
func histLow(i int) int64 {
	if i < histSub {
		return int64(i)
	}
	shift := (i - histSub) / histSub
	return int64(histSub+(i-histSub)%histSub) << shift
}

func (h *latencyHist) add(v int64) {
	h.counts[histIndex(v)]++
	h.n++
	h.sum += v
	h.max = max(h.max, v)
}

// quantile is the value of rank q*(n-1) (0-based) in sorted order, as
// the bucket holding it gives it (its smallest value; the maximum for
// the top rank).
func (h *latencyHist) quantile(q float64) int64 {
	if h.n == 0 {
		return 0
	}
	rank := int64(q * float64(h.n-1))
	if rank >= h.n-1 {
		return h.max
	}
	var seen int64
	for i, c := range h.counts {
		if seen += c; seen > rank {
			return min(histLow(i), h.max)
		}
	}
	return h.max
}

// take returns the window's totals and starts a new one at now.
func (w *perfWindow) take(now time.Time) (count, bytes, latSum, latMax int64, elapsed time.Duration) {
	w.mu.Lock()
	count, bytes, latSum, latMax = w.count, w.bytes, w.latSum, w.latMax
	elapsed = now.Sub(w.start)
	w.start, w.count, w.bytes, w.latSum, w.latMax = now, 0, 0, 0, 0
	w.mu.Unlock()
	return
}

func ms(us int64) float64 { return float64(us) / 1000 }

func msd(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

var csvHeader = []string{"type", "elapsed_s", "records", "records_per_sec", "mb_per_sec",
	"avg_latency_ms", "max_latency_ms", "p50_ms", "p95_ms", "p99_ms", "p999_ms", "errors"}

func fmtf(f float64) string { return strconv.FormatFloat(f, 'f', 3, 64) }

// RunProducerPerf opens a broker (in cfg.Dir or a temporary directory),
// creates cfg.Topic, sends cfg.NumRecords records of cfg.RecordSize bytes
// with a producer, and writes Kafka-style progress lines every cfg.Interval
// and a final summary line to out:
//
//	N records sent, X records/sec (Y MB/sec), A ms avg latency, M ms max latency.
//	N records sent, X records/sec (Y MB/sec), A ms avg latency, M ms max latency, P ms 50th, P ms 95th, P ms 99th, P ms 99.9th.
//
// It returns early with ctx's error if ctx ends; the result then covers the
// records sent so far. Failed records are counted in Errors and the first
// failure is returned as the error.
func RunProducerPerf(ctx context.Context, cfg ProducerPerfConfig, out io.Writer) (res ProducerPerfResult, err error) {
	if cfg.Topic == "" {
		return res, errors.New("producer-perf: no topic")
	}
	if cfg.NumRecords < 0 || cfg.RecordSize < 0 || cfg.Keys < 0 {
		return res, errors.New("producer-perf: num-records, record-size and keys must not be negative")
	}
	if cfg.Partitions <= 0 {
		cfg.Partitions = 1
	}
	if cfg.Interval <= 0 {
		cfg.Interval = 5 * time.Second
	}
	b, _, closeBroker, err := openToolBroker(cfg.Dir, "producer-perf-", cfg.Topic, cfg.Partitions)
	if err != nil {
		return res, err
	}
	defer func() {
		if cerr := closeBroker(); err == nil {
			err = cerr
		}
	}()
	p, err := prod.New(b, cfg.Producer)
	if err != nil {
		return res, err
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if cerr := p.Close(cctx); err == nil {
			err = cerr
		}
	}()

	var cw *csv.Writer
	if cfg.CSV != nil {
		cw = csv.NewWriter(cfg.CSV)
		_ = cw.Write(csvHeader)
	}

	value := perfPayload(cfg.RecordSize)
	var keys [][]byte
	for i := range cfg.Keys {
		keys = append(keys, fmt.Appendf(nil, "key-%d", i))
	}
	var (
		wg       sync.WaitGroup
		errCount atomic.Int64
		firstErr atomic.Pointer[error]
		win      perfWindow
	)
	start := time.Now()
	win.start = start
	size := int64(len(value))
	// done is every record's completion; each record's callback is a
	// closure of its send time alone (24 bytes), not of the whole state.
	done := func(sendNs int64, err error) {
		l := (int64(time.Since(start)) - sendNs) / int64(time.Microsecond)
		if err != nil {
			if errCount.Add(1) == 1 {
				firstErr.Store(&err)
			}
		}
		win.record(l, size)
		wg.Done()
	}

	// Progress lines.
	var outMu sync.Mutex
	stopTicker := make(chan struct{})
	tickerDone := make(chan struct{})
	var stopOnce sync.Once
	stopProgress := func() { stopOnce.Do(func() { close(stopTicker); <-tickerDone }) }
	defer stopProgress()
	go func() {
		defer close(tickerDone)
		t := time.NewTicker(cfg.Interval)
		defer t.Stop()
		for {
			select {
			case <-stopTicker:
				return
			case now := <-t.C:
				n, by, sum, mx, el := win.take(now)
				secs := el.Seconds()
				avg := 0.0
				if n > 0 {
					avg = ms(sum) / float64(n)
				}
				outMu.Lock()
				fmt.Fprintf(out, "%d records sent, %.1f records/sec (%.2f MB/sec), %.1f ms avg latency, %.1f ms max latency.\n",
					n, float64(n)/secs, float64(by)/mib/secs, avg, ms(mx))
				if cw != nil {
					_ = cw.Write([]string{"interval", fmtf(now.Sub(start).Seconds()), strconv.FormatInt(n, 10),
						fmtf(float64(n) / secs), fmtf(float64(by) / mib / secs), fmtf(avg), fmtf(ms(mx)), "", "", "", "", ""})
					cw.Flush()
				}
				outMu.Unlock()
			}
		}
	}()

	rec := prod.Record{Topic: cfg.Topic, Value: value}
	var sent int64
	for i := range cfg.NumRecords {
		if ctx.Err() != nil {
			break
		}
		if cfg.Throughput > 0 {
			// Pacing: record i is due at start + i/Throughput. Oversleeping
			// is made up by sending the following records without a pause.
			due := start.Add(time.Duration(float64(i) / cfg.Throughput * float64(time.Second)))
			if d := time.Until(due); d > 0 {
				time.Sleep(d)
			}
		}
		if keys != nil {
			rec.Key = keys[i%int64(len(keys))]
		}
		wg.Add(1)
		sendNs := int64(time.Since(start))
		// The producer copies Key and Value before SendCallback returns, so
		// rec is reused.
		p.SendCallback(ctx, &rec, func(_ context.Context, _ prod.RecordMetadata, err error) { done(sendNs, err) })
		sent++
	}
	// Records already queued are waited for even when ctx has ended.
	if err := p.Flush(context.WithoutCancel(ctx)); err != nil {
		return res, err
	}
	wg.Wait()
	elapsed := time.Since(start)
	stopProgress()

	res.Records = sent
	res.Errors = errCount.Load()
	res.Bytes = sent * size
	res.Elapsed = elapsed
	res.RecordsPerSec = float64(sent) / elapsed.Seconds()
	res.MBPerSec = float64(res.Bytes) / mib / elapsed.Seconds()
	if h := &win.hist; h.n > 0 { // every callback has returned (wg)
		pct := func(q float64) time.Duration { return time.Duration(h.quantile(q)) * time.Microsecond }
		res.AvgLatency = time.Duration(h.sum/h.n) * time.Microsecond
		res.MaxLatency = time.Duration(h.max) * time.Microsecond
		res.P50, res.P95, res.P99, res.P999 = pct(0.5), pct(0.95), pct(0.99), pct(0.999)
	}
	outMu.Lock()
	fmt.Fprintf(out, "%d records sent, %.1f records/sec (%.2f MB/sec), %.2f ms avg latency, %.2f ms max latency, %.2f ms 50th, %.2f ms 95th, %.2f ms 99th, %.2f ms 99.9th.\n",
		res.Records, res.RecordsPerSec, res.MBPerSec, msd(res.AvgLatency), msd(res.MaxLatency),
		msd(res.P50), msd(res.P95), msd(res.P99), msd(res.P999))
	if cw != nil {
		_ = cw.Write([]string{"final", fmtf(elapsed.Seconds()), strconv.FormatInt(res.Records, 10),
			fmtf(res.RecordsPerSec), fmtf(res.MBPerSec), fmtf(msd(res.AvgLatency)), fmtf(msd(res.MaxLatency)),
			fmtf(msd(res.P50)), fmtf(msd(res.P95)), fmtf(msd(res.P99)), fmtf(msd(res.P999)),
			strconv.FormatInt(res.Errors, 10)})
		cw.Flush()
		if err := cw.Error(); err != nil {
			outMu.Unlock()
			return res, err
		}
	}
	outMu.Unlock()
	if e := firstErr.Load(); e != nil {
		return res, fmt.Errorf("producer-perf: %d of %d records failed, first: %w", res.Errors, res.Records, *e)
	}
	if ctx.Err() != nil {
		return res, ctx.Err()
	}
	return res, nil
}

// openToolBroker opens a broker for a perf tool in dir (a temporary
// directory named with prefix when dir is empty, removed by the returned
// close function) with warnings logged to stderr, and creates the topic
// or finds it.
func openToolBroker(dir, prefix, topic string, partitions int32) (*commitlog.Broker, *commitlog.Topic, func() error, error) {
	cleanup := func() {}
	if dir == "" {
		tmp, err := os.MkdirTemp("", prefix)
		if err != nil {
			return nil, nil, nil, err
		}
		dir, cleanup = tmp, func() { os.RemoveAll(tmp) }
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	b, err := commitlog.Open(dir, commitlog.WithLogger(logger))
	if err != nil {
		cleanup()
		return nil, nil, nil, err
	}
	closeAll := func() error {
		defer cleanup()
		return b.Close()
	}
	t, err := b.CreateTopic(topic, commitlog.TopicConfig{Partitions: partitions})
	if errors.Is(err, commitlog.ErrTopicExists) {
		t, err = b.Topic(topic)
	}
	if err != nil {
		closeAll()
		return nil, nil, nil, err
	}
	return b, t, closeAll, nil
}
