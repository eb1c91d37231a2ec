package commitlog_test

import (
	"errors"
	"fmt"
	"os"

	"github.com/commitlog-go/commitlog"
	"github.com/commitlog-go/commitlog/record"
)

// ExampleBroker opens a broker, creates a topic and appends a batch to one
// of its partitions directly (producers do this for you).
func ExampleBroker() {
	dir, _ := os.MkdirTemp("", "example-")
	defer os.RemoveAll(dir)
	b, err := commitlog.Open(dir)
	if err != nil {
		panic(err)
	}
	defer b.Close()

	t, err := b.CreateTopic("orders", commitlog.TopicConfig{Partitions: 3, RetentionBytes: new(int64(1 << 30))})
	if err != nil {
		panic(err)
	}
	fmt.Println(b.Topics(), t.NumPartitions())

	_, err = b.CreateTopic("bad name!", commitlog.TopicConfig{})
	fmt.Println(errors.Is(err, commitlog.ErrInvalidTopic))

	bl := record.NewBuilder(0, record.BatchOptions{})
	bl.Add(1_700_000_000_000, []byte("k"), []byte("v"), nil)
	batch, _ := bl.Build()
	p, _ := t.Partition(1)
	info, _ := p.Append(batch, false)
	fmt.Println(info.BaseOffset, p.HighWatermark())

	_, err = b.Topic("missing")
	fmt.Println(errors.Is(err, commitlog.ErrUnknownTopic))
	// Output:
	// [orders] 3
	// true
	// 0 1
	// true
}
