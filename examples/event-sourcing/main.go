// Command event-sourcing keeps a key-value table (account balances) in a
// compacted topic and rebuilds it on start. Every change is a record keyed
// by account; a closed account is a tombstone (nil value). Compaction keeps
// at least the latest record of every key, so replaying the topic from
// the beginning always rebuilds the whole table, while the log stays
// proportional to the number of live keys rather than to the history.
//
//	go run ./examples/event-sourcing                                   # embedded
//	go run ./examples/event-sourcing -bootstrap-server localhost:9092  # on Kafka
//
// On the embedded broker the example compacts the log by hand (two passes
// of the cleaner) and prints its size before and after. On Kafka it cannot:
// the brokers' log cleaner compacts in the background when it chooses
// (min.cleanable.dirty.ratio, log.cleaner.backoff.ms), and the clients have
// no call that triggers it or reports a log's size; the example says so and
// rebuilds the table from whatever the cluster kept, which gives the same
// table. The topic is named balances-<run id> on Kafka. Its
// delete.retention.ms is 1 ms so that the passes by hand drop the
// tombstones at once; a real table keeps Kafka's default of a day, the time
// a replaying consumer has to see a tombstone before the cleaner removes it.
package main

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/commitlog-go/commitlog"
	"github.com/commitlog-go/commitlog/admin"
	"github.com/commitlog-go/commitlog/consumer"
	"github.com/commitlog-go/commitlog/examples/internal/exampleenv"
	"github.com/commitlog-go/commitlog/producer"
)

func main() {
	if err := run(exampleenv.Parse()); err != nil {
		fmt.Fprintln(os.Stderr, "event-sourcing:", err)
		os.Exit(1)
	}
}

func run(env exampleenv.Env) error {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "commitlog-es-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	// First run: 50 000 balance updates over 1 000 accounts; 100 close.
	if env.Kafka() {
		fmt.Println("on", env)
	}
	b, err := env.Open(ctx, dir)
	if err != nil {
		return err
	}
	topic := env.Name("balances")
	adm, err := admin.New(b)
	if err != nil {
		return err
	}
	err = adm.CreateTopic(ctx, topic, commitlog.TopicConfig{
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
	offsets, err := adm.ListOffsets(ctx, topic)
	if err != nil {
		return err
	}
	written := offsets[0].Latest
	if broker, ok := b.(*commitlog.Broker); ok {
		before, after, err := compact(broker, topic)
		if err != nil {
			return err
		}
		fmt.Printf("log: %d records written, %d KiB before compaction, %d KiB after\n", written, before>>10, after>>10)
	} else {
		fmt.Printf("log: %d records written; compaction is left to the brokers' log cleaner, which runs in the background and cannot be triggered or measured from a client\n", written)
	}
	if err := b.Close(); err != nil {
		return err
	}

	// Next start: rebuild the table by replaying the topic.
	b, err = env.Open(ctx, dir)
	if err != nil {
		return err
	}
	defer b.Close()
	table, replayed, err := rebuild(ctx, b, topic)
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

// compact compacts partition 0 of the topic on the embedded broker, whose
// cleaner does this in the background every log.cleaner.backoff.ms: it
// rolls the active segment and runs two passes by hand, the first compacts
// and stamps the tombstones' delete horizon, the second drops them. It
// returns the partition's size before and after.
func compact(b *commitlog.Broker, topic string) (before, after int64, err error) {
	t, err := b.Topic(topic)
	if err != nil {
		return 0, 0, err
	}
	part, err := t.Partition(0)
	if err != nil {
		return 0, 0, err
	}
	before = part.Size()
	if err := part.Roll(); err != nil {
		return 0, 0, err
	}
	for pass := 0; pass < 2; pass++ {
		if _, err := part.Compact(); err != nil {
			return 0, 0, err
		}
		time.Sleep(5 * time.Millisecond)
	}
	return before, part.Size(), nil
}

// rebuild reads the topic from the beginning to the end into a map.
func rebuild(ctx context.Context, b commitlog.Backend, topic string) (map[string]string, int, error) {
	c, err := consumer.New(b, consumer.Config{AutoOffsetReset: consumer.ResetEarliest, FetchMaxWait: new(10 * time.Millisecond), MaxPollRecords: 5000})
	if err != nil {
		return nil, 0, err
	}
	defer c.Close(ctx)
	tp := consumer.TopicPartition{Topic: topic, Partition: 0}
	if err := c.Assign([]consumer.TopicPartition{tp}); err != nil {
		return nil, 0, err
	}
	adm, err := admin.New(b)
	if err != nil {
		return nil, 0, err
	}
	offsets, err := adm.ListOffsets(ctx, topic)
	if err != nil {
		return nil, 0, err
	}
	end := offsets[0].Latest
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
