// Command timestamps shows the two timestamp types of a topic and seeking
// by time: a CreateTime topic keeps the producer's timestamps (here, events
// that happened over the last hour), a LogAppendTime topic replaces them
// with the time the log appended them; OffsetsForTimes finds the first
// record at or after a time, and Seek starts consuming there.
//
//	go run ./examples/timestamps                                   # embedded
//	go run ./examples/timestamps -bootstrap-server localhost:9092  # on Kafka
//
// On Kafka the topics are named events-<run id> and audit-<run id>, and
// the LogAppendTime topic is stamped by the brokers. The stored timestamps
// are read back with OffsetsForTimes, on both backends, because a Kafka
// producer is not told the append time (franz-go does not pass the produce
// response's on). A cluster that keeps
// the producer's timestamps there anyway (kfake, the in-process cluster
// the tests use, does) is reported as such.
package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/commitlog-go/commitlog"
	"github.com/commitlog-go/commitlog/admin"
	"github.com/commitlog-go/commitlog/consumer"
	"github.com/commitlog-go/commitlog/examples/internal/exampleenv"
	"github.com/commitlog-go/commitlog/producer"
	"github.com/commitlog-go/commitlog/record"
)

func main() {
	if err := run(exampleenv.Parse()); err != nil {
		fmt.Fprintln(os.Stderr, "timestamps:", err)
		os.Exit(1)
	}
}

func run(env exampleenv.Env) error {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "commitlog-timestamps-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if env.Kafka() {
		fmt.Println("on", env)
	}
	b, err := env.Open(ctx, dir)
	if err != nil {
		return err
	}
	defer b.Close()
	events, audit := env.Name("events"), env.Name("audit")
	adm, err := admin.New(b)
	if err != nil {
		return err
	}
	if err := adm.CreateTopic(ctx, events, commitlog.TopicConfig{}); err != nil {
		return err
	}
	if err := adm.CreateTopic(ctx, audit, commitlog.TopicConfig{MessageTimestampType: record.LogAppendTime}); err != nil {
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
		for _, topic := range []string{events, audit} {
			if _, err := p.SendSync(ctx, &producer.Record{Topic: topic, Value: []byte(fmt.Sprintf("event %d", i)), Timestamp: at}); err != nil {
				return err
			}
		}
	}

	c, err := consumer.New(b, consumer.Config{FetchMaxWait: new(20 * time.Millisecond)})
	if err != nil {
		return err
	}
	defer c.Close(ctx)
	tp := consumer.TopicPartition{Topic: events, Partition: 0}
	tpa := consumer.TopicPartition{Topic: audit, Partition: 0}

	// What each topic stored for record 0: the first record at or after
	// the epoch. (The log's timestamp, as a consumer reads it; a Kafka
	// producer is not told the broker's append time.)
	first, err := c.OffsetsForTimes(map[consumer.TopicPartition]time.Time{tp: time.UnixMilli(0), tpa: time.UnixMilli(0)})
	if err != nil {
		return err
	}
	for _, t := range []struct {
		label string
		tp    consumer.TopicPartition
	}{{"events", tp}, {"audit", tpa}} {
		if first[t.tp] == nil || first[t.tp].Offset != 0 {
			return fmt.Errorf("%s: record 0 not found by time: %v", t.label, first[t.tp])
		}
		fmt.Printf("%-6s record 0 sent with %s, stored with %s\n", t.label, hourAgo.Format(time.TimeOnly), first[t.tp].Timestamp.Format(time.TimeOnly))
	}

	// Seek by time: where do the last 15 minutes of events start?
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
	// Poll until the end of the partition: a Poll returns what has arrived
	// within fetch.max.wait.ms, which over a network may be less than all.
	offsets, err := adm.ListOffsets(ctx, events)
	if err != nil {
		return err
	}
	var recs []consumer.Record
	for {
		pos, err := c.Position(tp)
		if err != nil {
			return err
		}
		if pos >= offsets[0].Latest {
			break
		}
		got, err := c.Poll(ctx)
		if err != nil {
			return err
		}
		recs = append(recs, got...)
	}
	if len(recs) == 0 {
		return fmt.Errorf("no events from offset %d", at.Offset)
	}
	fmt.Printf("replaying %d events from there: %q .. %q\n", len(recs), recs[0].Value, recs[len(recs)-1].Value)
	if len(recs) != 15 || at.Offset != 45 {
		return fmt.Errorf("expected 15 events from offset 45, got %d from %d", len(recs), at.Offset)
	}

	// In the LogAppendTime topic every record carries its append time, so
	// the same question finds nothing: all were appended just now.
	found, err = c.OffsetsForTimes(map[consumer.TopicPartition]time.Time{tpa: since})
	if err != nil {
		return err
	}
	if found[tpa] == nil {
		return fmt.Errorf("audit: no record at or after %v", since)
	}
	fmt.Printf("audit (LogAppendTime): first record at or after %s is offset %d, stamped %s\n",
		since.Format(time.TimeOnly), found[tpa].Offset, found[tpa].Timestamp.Format(time.TimeOnly))
	if found[tpa].Offset != 0 {
		fmt.Println("audit: this cluster kept the producer's timestamps in a LogAppendTime topic (kfake ignores message.timestamp.type; Kafka's brokers do not)")
	}
	return nil
}
