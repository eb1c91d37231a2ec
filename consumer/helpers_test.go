package consumer

import (
	"fmt"
	"testing"
	"time"

	"github.com/commitlog-go/commitlog"
	"github.com/commitlog-go/commitlog/record"
	"github.com/commitlog-go/commitlog/vfs"
	"github.com/stretchr/testify/require"
)

func openBroker(t testing.TB, dir string) *commitlog.Broker {
	t.Helper()
	b, err := commitlog.Open(dir, commitlog.WithMaintenanceInterval(time.Hour))
	require.NoError(t, err)
	return b
}

// memBroker is a broker on an in-memory file system, for benchmarks that
// should measure the consumer rather than the disk.
func memBroker(tb testing.TB) *commitlog.Broker {
	tb.Helper()
	b, err := commitlog.Open("/data", commitlog.WithFS(vfs.NewMem()), commitlog.WithoutExpvar(), commitlog.WithMaintenanceInterval(time.Hour))
	require.NoError(tb, err)
	return b
}

// produce appends n records with values "tag-i" round-robin over the
// topic's partitions, one record per batch.
func produce(t testing.TB, b *commitlog.Broker, topic, tag string, n int) {
	t.Helper()
	tp, err := b.Topic(topic)
	require.NoError(t, err)
	parts := tp.Partitions()
	bl := record.NewBuilder(0, record.BatchOptions{})
	for i := 0; i < n; i++ {
		bl.Reset(0, record.BatchOptions{})
		bl.Add(time.Now().UnixMilli(), []byte(fmt.Sprint(i)), []byte(fmt.Sprintf("%s-%d", tag, i)), nil)
		raw, err := bl.Build()
		require.NoError(t, err)
		_, err = parts[i%len(parts)].Append(raw, false)
		require.NoError(t, err)
	}
}

func fastConfig(group string) Config {
	return Config{GroupID: group, AutoOffsetReset: ResetEarliest, SessionTimeout: 400 * time.Millisecond,
		HeartbeatInterval: 40 * time.Millisecond, FetchMaxWait: new(30 * time.Millisecond), MaxPollInterval: 5 * time.Second}
}

// within runs f in a goroutine and fails the test, rather than hanging it,
// if f does not return within a generous deadline: the faults it guards
// against are endless loops, not slowness.
func within(t *testing.T, what string, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		f()
	}()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatalf("%s did not return: it hangs", what)
	}
}
