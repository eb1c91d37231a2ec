// Command quickstart opens a broker in a temporary directory, creates a
// topic, produces 10 000 keyed records with the batching producer and reads
// them back partition by partition, printing what each partition holds.
//
//	go run ./examples/quickstart
package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/commitlog-go/commitlog"
	"github.com/commitlog-go/commitlog/producer"
	"github.com/commitlog-go/commitlog/record"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "quickstart:", err)
		os.Exit(1)
	}
}

func run() error {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "commitlog-quickstart-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	b, err := commitlog.Open(dir)
	if err != nil {
		return err
	}
	defer b.Close()
	if _, err := b.CreateTopic("orders", commitlog.TopicConfig{Partitions: 3}); err != nil {
		return err
	}

	p, err := producer.New(b, producer.Config{})
	if err != nil {
		return err
	}
	start := time.Now()
	const n = 10_000
	futures := make([]*producer.Future, 0, n)
	for i := 0; i < n; i++ {
		futures = append(futures, p.Send(ctx, &producer.Record{
			Topic: "orders",
			Key:   []byte(fmt.Sprintf("customer-%d", i%100)),
			Value: []byte(fmt.Sprintf("order %d", i)),
		}))
	}
	for _, f := range futures {
		if _, err := f.Wait(ctx); err != nil {
			return err
		}
	}
	if err := p.Close(ctx); err != nil {
		return err
	}
	fmt.Printf("produced %d records in %v\n", n, time.Since(start).Round(time.Millisecond))

	t, err := b.Topic("orders")
	if err != nil {
		return err
	}
	total := 0
	var it record.Iterator
	for _, part := range t.Partitions() {
		count := 0
		for next := part.LogStartOffset(); next < part.HighWatermark(); {
			data, err := part.Read(nil, next, 1<<20)
			if err != nil {
				return err
			}
			err = record.Batches(data, func(h *record.BatchHeader, raw []byte) error {
				if err := it.ResetChecked(h, raw); err != nil {
					return err
				}
				for it.Next() {
					count++
				}
				next = h.NextOffset()
				return it.Err()
			})
			if err != nil {
				return err
			}
		}
		fmt.Printf("partition %d: %d records, log end offset %d\n", part.ID(), count, part.LogEndOffset())
		total += count
	}
	fmt.Printf("read back %d records\n", total)
	if total != n {
		return fmt.Errorf("read %d records, produced %d", total, n)
	}
	return nil
}
