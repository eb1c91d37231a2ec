// Command timestamps shows the two timestamp types of a topic and seeking
// by time: a CreateTime topic keeps the producer's timestamps (here, events
// that happened over the last hour), a LogAppendTime topic replaces them
// with the time the log appended them; OffsetsForTimes finds the first
// record at or after a time, and Seek starts consuming there.
//
//	go run ./examples/timestamps
package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/commitlog-go/commitlog"
	"github.com/commitlog-go/commitlog/consumer"
	"github.com/commitlog-go/commitlog/producer"
	"github.com/commitlog-go/commitlog/record"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "timestamps:", err)
		os.Exit(1)
	}
}

func run() error {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "commitlog-timestamps-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	b, err := commitlog.Open(dir)
	if err != nil {
		return err
	}
	defer b.Close()
	if _, err := b.CreateTopic("events", commitlog.TopicConfig{}); err != nil {
		return err
	}
	if _, err := b.CreateTopic("audit", commitlog.TopicConfig{MessageTimestampType: record.LogAppendTime}); err != nil {
		return err
	}
	p, err := producer.New(b, producer.Config{})
	if err != nil {
		return err
	}
	defer p.Close(ctx)

	// 60 events, one a minute over the last hour, in both topics.
	hourAgo := time.Now().Add(-time.Hour).Truncate(time.Minute)
	for i := 0; i < 60; i++ {
		at := hourAgo.Add(time.Duration(i) * time.Minute)
		for _, topic := range []string{"events", "audit"} {
			md, err := p.SendSync(ctx, &producer.Record{Topic: topic, Value: []byte(fmt.Sprintf("event %d", i)), Timestamp: at})
			if err != nil {
				return err
			}
			if i == 0 {
				fmt.Printf("%-6s record 0 sent with %s, stored with %s\n", topic, at.Format(time.TimeOnly), md.Timestamp.Format(time.TimeOnly))
			}
		}
	}

	// Seek by time: where do the last 15 minutes of events start?
	c, err := consumer.New(b, consumer.Config{FetchMaxWait: new(20 * time.Millisecond)})
	if err != nil {
		return err
	}
	defer c.Close(ctx)
	tp := consumer.TopicPartition{Topic: "events", Partition: 0}
	since := hourAgo.Add(45 * time.Minute)
	found, err := c.OffsetsForTimes(map[consumer.TopicPartition]time.Time{tp: since})
	if err != nil {
		return err
	}
	at := found[tp]
	if at == nil {
		return fmt.Errorf("no event at or after %v", since)
	}
	fmt.Printf("first event at or after %s: offset %d (%s)\n", since.Format(time.TimeOnly), at.Offset, at.Timestamp.Format(time.TimeOnly))
	if err := c.Assign([]consumer.TopicPartition{tp}); err != nil {
		return err
	}
	if err := c.Seek(tp, at.Offset); err != nil {
		return err
	}
	recs, err := c.Poll(ctx)
	if err != nil {
		return err
	}
	fmt.Printf("replaying %d events from there: %q .. %q\n", len(recs), recs[0].Value, recs[len(recs)-1].Value)
	if len(recs) != 15 || at.Offset != 45 {
		return fmt.Errorf("expected 15 events from offset 45, got %d from %d", len(recs), at.Offset)
	}

	// In the LogAppendTime topic every record carries its append time, so
	// the same question finds nothing: all were appended just now.
	tpa := consumer.TopicPartition{Topic: "audit", Partition: 0}
	found, err = c.OffsetsForTimes(map[consumer.TopicPartition]time.Time{tpa: since})
	if err != nil {
		return err
	}
	fmt.Printf("audit (LogAppendTime): first record at or after %s is offset %d, stamped %s\n",
		since.Format(time.TimeOnly), found[tpa].Offset, found[tpa].Timestamp.Format(time.TimeOnly))
	return nil
}
