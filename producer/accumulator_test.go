package producer

import (
	"context"
	"testing"
	"time"

	"github.com/commitlog-go/commitlog"
	"github.com/stretchr/testify/require"
)

// TestFullBufferSendsLingeringBatches: when buffer.memory is exhausted,
// batches are sent without waiting out linger.ms (Kafka's accumulator
// counts them ready while anyone waits for memory), so a Send blocked for
// room gets it as soon as the batches are written. It used to wait for the
// linger to expire, and with linger.ms above max.block.ms it failed with
// ErrBufferFull though sending would have made room.
func TestFullBufferSendsLingeringBatches(t *testing.T) {
	b := newBroker(t, map[string]commitlog.TopicConfig{"t": {Partitions: 2}})
	p, err := New(b, Config{BufferMemory: new(int64(4096)), MaxBlock: new(2 * time.Second), Linger: new(time.Minute)})
	require.NoError(t, err)
	defer p.Close(context.Background())
	start := time.Now()
	var futures []*Future
	for i := 0; i < 20; i++ {
		f := p.Send(context.Background(), &Record{Topic: "t", Partition: int32(i % 2), ExplicitPartition: true, Value: make([]byte, 900)})
		select {
		case <-f.Done():
			_, err := f.Result()
			require.NoError(t, err, "send %d", i)
		default:
		}
		futures = append(futures, f)
	}
	require.NoError(t, p.Flush(context.Background()))
	for _, f := range futures {
		_, err := f.Result()
		require.NoError(t, err)
	}
	require.Less(t, time.Since(start), time.Second)
}
