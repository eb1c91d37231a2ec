// Command consumer-perf measures the consumer's throughput, modelled on
// Kafka's kafka-consumer-perf-test. It opens a broker, creates the topic
// and fills it with --messages records of --record-size bytes (acks=1,
// large batches; records already in the topic count), then consumes them
// with a group of --members consumers, each polling in its own goroutine
// from the earliest offset, and prints Kafka's header and result row:
//
//	start.time, end.time, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec, rebalance.time.ms, fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec, fetch.count
//
// rebalance.time.ms runs from Subscribe to the last member's first
// assignment; the fetch.* rates leave it out; fetch.count is the number of
// polls that returned records. The run ends when every record has been
// consumed, or when none came for --timeout.
//
// Usage:
//
//	go run ./bench/cmd/consumer-perf --topic t --messages 1000000 --partitions 8
//	go run ./bench/cmd/consumer-perf --topic t --messages N [--record-size 100] \
//		[--partitions 1] [--members 1] [--group G] [--dir DIR] [--timeout 10s] \
//		[--fetch-max-wait 50ms] [--max-poll-records 500]
//
// Without --dir the broker lives in a temporary directory removed at exit.
// Without --group a fresh perf-consumer-N group is used.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"time"

	"github.com/commitlog-go/commitlog/bench"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "consumer-perf:", err)
		os.Exit(1)
	}
}

func run() error {
	var (
		topic          = flag.String("topic", "", "topic to consume (required)")
		messages       = flag.Int64("messages", 0, "number of records to pre-fill and consume (required)")
		recordSize     = flag.Int("record-size", 100, "record value size in bytes")
		partitions     = flag.Int("partitions", 1, "partitions of the topic")
		members        = flag.Int("members", 1, "consumers in the group, one goroutine each")
		group          = flag.String("group", "", "consumer group id (default: perf-consumer-<random>)")
		dir            = flag.String("dir", "", "data directory (default: a temporary directory removed at exit)")
		timeout        = flag.Duration("timeout", 10*time.Second, "give up when no record came for this long")
		fetchMaxWait   = flag.Duration("fetch-max-wait", 50*time.Millisecond, "fetch.max.wait.ms of the consumers")
		maxPollRecords = flag.Int("max-poll-records", 500, "max.poll.records of the consumers")
	)
	flag.Parse()
	if *topic == "" || *messages <= 0 {
		flag.Usage()
		return fmt.Errorf("--topic and --messages are required")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	_, err := bench.RunConsumerPerf(ctx, bench.ConsumerPerfConfig{
		Topic:          *topic,
		NumRecords:     *messages,
		RecordSize:     *recordSize,
		Partitions:     int32(*partitions),
		Members:        *members,
		Group:          *group,
		Dir:            *dir,
		Timeout:        *timeout,
		FetchMaxWait:   *fetchMaxWait,
		MaxPollRecords: *maxPollRecords,
	}, os.Stdout)
	return err
}
