// Command event-sourcing keeps a key-value table (account balances) in a
// compacted topic and rebuilds it on start. Every change is a record keyed
// by account; a closed account is a tombstone (nil value). Compaction keeps
// at least the latest record of every key, so replaying the topic from
// the beginning always rebuilds the whole table, while the log stays
// proportional to the number of live keys rather than to the history.
//
//	go run ./examples/event-sourcing
package main

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/commitlog-go/commitlog"
	"github.com/commitlog-go/commitlog/consumer"
	"github.com/commitlog-go/commitlog/producer"
)

const topic = "balances"

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "event-sourcing:", err)
		os.Exit(1)
	}
}

func run() error {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "commitlog-es-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	// First run: 50 000 balance updates over 1 000 accounts; 100 close.
	b, err := commitlog.Open(dir)
	if err != nil {
		return err
	}
	_, err = b.CreateTopic(topic, commitlog.TopicConfig{
		CleanupPolicy:   commitlog.CleanupCompact,
		SegmentBytes:    256 << 10, // small segments, so that there is something to compact
		DeleteRetention: new(time.Millisecond),
	})
	if err != nil {
		return err
	}
	p, err := producer.New(b, producer.Config{})
	if err != nil {
		return err
	}
	want := map[string]int{}
	for i := 0; i < 50_000; i++ {
		acct := fmt.Sprintf("acct-%04d", i%1000)
		want[acct] = i
		p.Send(ctx, &producer.Record{Topic: topic, Key: []byte(acct), Value: []byte(strconv.Itoa(i))})
	}
	for i := 0; i < 100; i++ {
		acct := fmt.Sprintf("acct-%04d", i*10)
		delete(want, acct)
		p.Send(ctx, &producer.Record{Topic: topic, Key: []byte(acct), Value: nil}) // tombstone
	}
	if err := p.Close(ctx); err != nil {
		return err
	}
	t, _ := b.Topic(topic)
	part, _ := t.Partition(0)
	before := part.Size()
	// The broker's cleaner does this in the background every
	// log.cleaner.backoff.ms; run two passes by hand: the first compacts and
	// stamps the tombstones' delete horizon, the second drops them.
	if err := part.Roll(); err != nil {
		return err
	}
	for pass := 0; pass < 2; pass++ {
		if _, err := part.Compact(); err != nil {
			return err
		}
		time.Sleep(5 * time.Millisecond)
	}
	fmt.Printf("log: %d records written, %d KiB before compaction, %d KiB after\n",
		part.LogEndOffset(), before>>10, part.Size()>>10)
	if err := b.Close(); err != nil {
		return err
	}

	// Next start: rebuild the table by replaying the topic.
	b, err = commitlog.Open(dir)
	if err != nil {
		return err
	}
	defer b.Close()
	table, replayed, err := rebuild(ctx, b)
	if err != nil {
		return err
	}
	fmt.Printf("rebuilt %d accounts from %d records (of %d written)\n", len(table), replayed, 50_100)
	if len(table) != len(want) {
		return fmt.Errorf("table has %d accounts, want %d", len(table), len(want))
	}
	for k, v := range want {
		if table[k] != strconv.Itoa(v) {
			return fmt.Errorf("%s = %q, want %d", k, table[k], v)
		}
	}
	fmt.Println("every account has its latest balance; closed accounts are gone")
	return nil
}

// rebuild reads the topic from the beginning to the end into a map.
func rebuild(ctx context.Context, b *commitlog.Broker) (map[string]string, int, error) {
	c, err := consumer.New(b, consumer.Config{AutoOffsetReset: consumer.ResetEarliest, FetchMaxWait: new(10 * time.Millisecond), MaxPollRecords: 5000})
	if err != nil {
		return nil, 0, err
	}
	defer c.Close(ctx)
	tp := consumer.TopicPartition{Topic: topic, Partition: 0}
	if err := c.Assign([]consumer.TopicPartition{tp}); err != nil {
		return nil, 0, err
	}
	t, _ := b.Topic(topic)
	part, _ := t.Partition(0)
	end := part.HighWatermark()
	table := map[string]string{}
	n := 0
	for {
		pos, err := c.Position(tp)
		if err != nil {
			return nil, 0, err
		}
		if pos >= end {
			return table, n, nil
		}
		recs, err := c.Poll(ctx)
		if err != nil {
			return nil, 0, err
		}
		for _, r := range recs {
			n++
			if r.Value == nil {
				delete(table, string(r.Key))
			} else {
				table[string(r.Key)] = string(r.Value)
			}
		}
	}
}
