// Command quickstart opens a broker in a temporary directory (or connects
// to a Kafka cluster), creates a topic of 3 partitions, produces 10 000
// keyed records with the batching producer, consumes them with a consumer
// group of 3 members, and prints how many records each partition held and
// the offsets the group committed.
//
//	go run ./examples/quickstart                                   # embedded
//	go run ./examples/quickstart -bootstrap-server localhost:9092  # on Kafka
//
// On Kafka the topic and the group are named orders-<run id> and
// quickstart-<run id>, so that every run starts from an empty topic.
package main

import (
	"context"
	"fmt"
	"os"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/commitlog-go/commitlog"
	"github.com/commitlog-go/commitlog/admin"
	"github.com/commitlog-go/commitlog/consumer"
	"github.com/commitlog-go/commitlog/examples/internal/exampleenv"
	"github.com/commitlog-go/commitlog/producer"
)

const (
	records = 10_000
	members = 3
)

func main() {
	if err := run(exampleenv.Parse()); err != nil {
		fmt.Fprintln(os.Stderr, "quickstart:", err)
		os.Exit(1)
	}
}

func run(env exampleenv.Env) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dir, err := os.MkdirTemp("", "commitlog-quickstart-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	// 1. The backend: a broker that owns the data directory, or a Kafka
	// cluster. Everything after this line is the same on both.
	if env.Kafka() {
		fmt.Println("on", env)
	}
	b, err := env.Open(ctx, dir)
	if err != nil {
		return err
	}
	defer b.Close()
	topic, group := env.Name("orders"), env.Name("quickstart")
	adm, err := admin.New(b)
	if err != nil {
		return err
	}
	if err := adm.CreateTopic(ctx, topic, commitlog.TopicConfig{Partitions: 3}); err != nil {
		return err
	}

	// 2. Produce: records with the same key go to the same partition.
	start := time.Now()
	p, err := producer.New(b, producer.Config{})
	if err != nil {
		return err
	}
	futures := make([]*producer.Future, 0, records)
	for i := 0; i < records; i++ {
		futures = append(futures, p.Send(ctx, &producer.Record{
			Topic: topic,
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
	fmt.Printf("produced %d records in %v\n", records, time.Since(start).Round(time.Millisecond))

	// 3. Consume with a group of 3: the group splits the partitions.
	var consumed atomic.Int64
	var mu sync.Mutex
	perPartition := map[int32]int{}
	var wg sync.WaitGroup
	errs := make(chan error, members)
	for m := 0; m < members; m++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := consumer.New(b, consumer.Config{
				GroupID:          group,
				AutoOffsetReset:  consumer.ResetEarliest,
				EnableAutoCommit: new(false),
				FetchMaxWait:     new(50 * time.Millisecond),
			})
			if err != nil {
				errs <- err
				return
			}
			defer c.Close(ctx)
			if err := c.Subscribe([]string{topic}, nil); err != nil {
				errs <- err
				return
			}
			for consumed.Load() < records {
				recs, err := c.Poll(ctx)
				if err != nil {
					errs <- err
					return
				}
				mu.Lock()
				for _, r := range recs {
					perPartition[r.Partition]++
				}
				mu.Unlock()
				consumed.Add(int64(len(recs)))
				if err := c.CommitSync(ctx, nil); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		return err
	}

	// 4. What the group committed: the next offset to read per partition.
	c, err := consumer.New(b, consumer.Config{GroupID: group})
	if err != nil {
		return err
	}
	defer c.Close(ctx)
	committed, err := c.Committed(ctx, nil)
	if err != nil {
		return err
	}
	var ids []int
	for id := range perPartition {
		ids = append(ids, int(id))
	}
	sort.Ints(ids)
	for _, id := range ids {
		tp := consumer.TopicPartition{Topic: topic, Partition: int32(id)}
		fmt.Printf("partition %d: consumed %d records, committed offset %d\n", id, perPartition[int32(id)], committed[tp].Offset)
	}
	fmt.Printf("consumed %d records with a group of %d in %v\n", consumed.Load(), members, time.Since(start).Round(time.Millisecond))
	if consumed.Load() != records {
		return fmt.Errorf("consumed %d records, produced %d", consumed.Load(), records)
	}
	return nil
}
