package producer_test

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/commitlog-go/commitlog"
	"github.com/commitlog-go/commitlog/producer"
)

// ExampleProducer sends records asynchronously and synchronously.
func ExampleProducer() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "example-")
	defer os.RemoveAll(dir)
	b, _ := commitlog.Open(dir)
	defer b.Close()
	b.CreateTopic("events", commitlog.TopicConfig{Partitions: 4})

	p, err := producer.New(b, producer.Config{
		Linger:      new(10 * time.Millisecond), // linger.ms
		BatchSize:   new(64 << 10),              // batch.size
		Partitioner: producer.Murmur2Partitioner(),
	})
	if err != nil {
		panic(err)
	}
	defer p.Close(ctx)

	// Asynchronous: a future per record.
	var futures []*producer.Future
	for i := 0; i < 3; i++ {
		futures = append(futures, p.Send(ctx, &producer.Record{Topic: "events", Key: []byte("user-7"), Value: []byte(fmt.Sprint(i))}))
	}
	for _, f := range futures {
		md, err := f.Wait(ctx)
		fmt.Println(md.Partition, md.Offset, err)
	}

	// Synchronous, to an explicit partition.
	md, err := p.SendSync(ctx, &producer.Record{Topic: "events", Partition: 0, ExplicitPartition: true, Value: []byte("x")})
	fmt.Println(md.Partition, md.Offset, err)
	// Output:
	// 0 0 <nil>
	// 0 1 <nil>
	// 0 2 <nil>
	// 0 3 <nil>
}
