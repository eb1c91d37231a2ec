package consumer_test

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

// ExampleConsumer consumes a topic as a member of a group, committing after
// processing (at-least-once) and in OnPartitionsRevoked.
func ExampleConsumer() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "example-")
	defer os.RemoveAll(dir)
	b, _ := commitlog.Open(dir)
	defer b.Close()
	b.CreateTopic("events", commitlog.TopicConfig{Partitions: 2})
	p, _ := producer.New(b, producer.Config{})
	for i := 0; i < 10; i++ {
		p.Send(ctx, &producer.Record{Topic: "events", Value: []byte(fmt.Sprint(i))})
	}
	p.Close(ctx)

	c, err := consumer.New(b, consumer.Config{
		GroupID:          "billing",
		AutoOffsetReset:  consumer.ResetEarliest,     // auto.offset.reset
		EnableAutoCommit: new(false),                 // enable.auto.commit=false
		FetchMaxWait:     new(50 * time.Millisecond), // fetch.max.wait.ms
	})
	if err != nil {
		panic(err)
	}
	defer c.Close(ctx)
	c.Subscribe([]string{"events"}, consumer.ListenerFuncs{
		Revoked: func(ctx context.Context, c *consumer.Consumer, tps []consumer.TopicPartition) {
			c.CommitSync(ctx, nil) // commit before the partitions move
		},
	})
	n := 0
	for n < 10 {
		recs, err := c.Poll(ctx)
		if err != nil {
			panic(err)
		}
		n += len(recs) // process the records here
		if err := c.CommitSync(ctx, nil); err != nil {
			panic(err)
		}
	}
	committed, _ := c.Committed(ctx, nil)
	total := int64(0)
	for _, om := range committed {
		total += om.Offset
	}
	fmt.Println(n, total)
	// Output: 10 10
}

// ExampleConsumer_PollInto reads a partition with PollInto, which reuses
// the consumer's buffers and the slice passed back to it: each record is
// handled before the next call, which may overwrite its bytes.
func ExampleConsumer_PollInto() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "example-")
	defer os.RemoveAll(dir)
	b, _ := commitlog.Open(dir)
	defer b.Close()
	b.CreateTopic("events", commitlog.TopicConfig{Partitions: 1})
	p, _ := producer.New(b, producer.Config{})
	for i := 0; i < 10; i++ {
		p.Send(ctx, &producer.Record{Topic: "events", Value: []byte(fmt.Sprint(i))})
	}
	p.Close(ctx)

	c, err := consumer.New(b, consumer.Config{AutoOffsetReset: consumer.ResetEarliest})
	if err != nil {
		panic(err)
	}
	defer c.Close(ctx)
	c.Assign([]consumer.TopicPartition{{Topic: "events", Partition: 0}})
	var recs []consumer.Record
	sum := 0
	for n := 0; n < 10; n += len(recs) {
		if recs, err = c.PollInto(ctx, recs); err != nil {
			panic(err)
		}
		for _, r := range recs {
			v, _ := strconv.Atoi(string(r.Value)) // used here, not kept
			sum += v
		}
	}
	fmt.Println(sum)
	// Output: 45
}
