// Command producer-perf measures the producer's throughput and latency,
// modelled on Kafka's kafka-producer-perf-test. It opens a broker, creates
// the topic, sends --num-records records of --record-size bytes (one
// payload of random letters, keyless so sticky partitioning applies unless
// --keys is set) and reports, every --interval,
//
//	N records sent, X records/sec (Y MB/sec), A ms avg latency, M ms max latency.
//
// and at the end the same with the 50th, 95th, 99th and 99.9th percentile
// latencies. Latency runs from Send to the record's completion callback.
//
// Usage:
//
//	go run ./bench/cmd/producer-perf --topic t --num-records N --record-size S \
//		--throughput T --partitions P [--acks all|1|0] [--fsync] [--linger 5ms] \
//		[--batch-size 16384] [--compression none|lz4] [--keys K] [--dir DIR] \
//		[--csv FILE] [--interval 5s]
//
// --throughput -1 sends as fast as possible; a positive value caps the rate
// in records/s. Without --dir the broker lives in a temporary directory
// removed at exit. --csv also writes the progress and final rows as CSV.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"time"

	"github.com/commitlog-go/commitlog/bench"
	"github.com/commitlog-go/commitlog/producer"
	"github.com/commitlog-go/commitlog/record"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "producer-perf:", err)
		os.Exit(1)
	}
}

func run() (err error) {
	var (
		topic       = flag.String("topic", "", "topic to produce to (required)")
		numRecords  = flag.Int64("num-records", 0, "number of records to send (required)")
		recordSize  = flag.Int("record-size", 100, "record value size in bytes")
		throughput  = flag.Float64("throughput", -1, "max records/s, -1 for unthrottled")
		partitions  = flag.Int("partitions", 1, "partitions of the topic")
		acks        = flag.String("acks", "all", "acks: all (-1), 1 or 0")
		fsync       = flag.Bool("fsync", false, "with acks=all, wait for fsync")
		linger      = flag.Duration("linger", producer.DefaultLinger, "linger.ms")
		batchSize   = flag.Int("batch-size", producer.DefaultBatchSize, "batch.size in bytes")
		compression = flag.String("compression", "none", "compression.type: none or lz4")
		keys        = flag.Int("keys", 0, "distinct keys to cycle through (0: keyless)")
		dir         = flag.String("dir", "", "data directory (default: a temporary directory removed at exit)")
		csvFile     = flag.String("csv", "", "also write the rows as CSV to this file")
		interval    = flag.Duration("interval", 5*time.Second, "progress report interval")
	)
	flag.Parse()
	if *topic == "" || *numRecords <= 0 {
		flag.Usage()
		return fmt.Errorf("--topic and --num-records are required")
	}

	pc := producer.Config{Fsync: *fsync, BatchSize: new(*batchSize), Linger: new(*linger)}
	switch *acks {
	case "all", "-1":
		pc.Acks = new(producer.AcksAll)
	case "1":
		pc.Acks = new(producer.AcksLeader)
	case "0":
		pc.Acks = new(producer.AcksNone)
	default:
		return fmt.Errorf("--acks %q: want all, 1 or 0", *acks)
	}
	switch *compression {
	case "none":
		pc.Compression = record.None
	case "lz4":
		pc.Compression = record.LZ4
	default:
		return fmt.Errorf("--compression %q: want none or lz4", *compression)
	}

	cfg := bench.ProducerPerfConfig{
		Topic:      *topic,
		NumRecords: *numRecords,
		RecordSize: *recordSize,
		Throughput: *throughput,
		Partitions: int32(*partitions),
		Keys:       *keys,
		Dir:        *dir,
		Interval:   *interval,
		Producer:   pc,
	}
	if *csvFile != "" {
		f, err := os.Create(*csvFile)
		if err != nil {
			return err
		}
		cfg.CSV = f
		defer func() {
			if cerr := f.Close(); err == nil {
				err = cerr
			}
		}()
	}
	var out io.Writer = os.Stdout

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	_, err = bench.RunProducerPerf(ctx, cfg, out)
	return err
}
