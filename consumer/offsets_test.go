package consumer

import (
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/commitlog-go/commitlog"
	"github.com/commitlog-go/commitlog/record"
	"github.com/stretchr/testify/require"
)

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

// offsetsSegment is the first segment file of the offsets topic's
// partition that group's commits go to, and that partition's id.
func offsetsSegment(t *testing.T, b *commitlog.Broker, group string) (string, int32) {
	t.Helper()
	coord, err := CoordinatorFor(b)
	require.NoError(t, err)
	p, err := coord.offsets.partitionFor(group)
	require.NoError(t, err)
	return filepath.Join(b.Dir(), fmt.Sprintf("%s-%d", OffsetsTopic, p.ID()), "00000000000000000000.log"), p.ID()
}

// batchPositions lists the file positions of the batches of a segment file.
func batchPositions(t *testing.T, data []byte) []int {
	t.Helper()
	var out []int
	for pos := 0; pos < len(data); {
		h, err := record.ParseHeader(data[pos:])
		require.NoError(t, err)
		out = append(out, pos)
		pos += h.Size()
	}
	return out
}

// TestDamagedOffsetsTopicDoesNotHang: a damaged commit batch in
// __consumer_offsets makes the coordinator's load fail with ErrCorrupt (or
// load what is intact), never loop forever. Before the fix a batch whose
// base offset field (not covered by the CRC) was damaged so that a read
// made no progress, or returned nothing below the high watermark, hung
// consumer.New for good.
func TestDamagedOffsetsTopicDoesNotHang(t *testing.T) {
	const commits = 5
	setBase := func(base int64) func(data []byte, pos []int, i int) []byte {
		return func(data []byte, pos []int, i int) []byte {
			binary.BigEndian.PutUint64(data[pos[i]:], uint64(base))
			return data
		}
	}
	cases := []struct {
		name    string
		batch   int // which batch is damaged
		damage  func(data []byte, pos []int, i int) []byte
		corrupt bool // the load must fail with ErrCorrupt
	}{
		{name: "last batch's base offset moved back by one", batch: commits - 1, damage: setBase(commits - 2), corrupt: true},
		{name: "middle batch's base offset moved back", batch: 2, damage: setBase(0), corrupt: true},
		{name: "middle batch's base offset moved past the end", batch: 1, damage: setBase(1000), corrupt: true},
		{name: "first batch's base offset moved past the end", batch: 0, damage: setBase(1000), corrupt: true},
		{name: "middle batch zeroed", batch: 2, damage: func(data []byte, pos []int, i int) []byte {
			clear(data[pos[i] : pos[i]+40])
			return data
		}},
		{name: "truncated in the middle of a batch", batch: 3, damage: func(data []byte, pos []int, i int) []byte {
			return data[:pos[i]+20]
		}},
		{name: "truncated to nothing", batch: 0, damage: func(data []byte, pos []int, i int) []byte {
			return data[:0]
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			b := openBroker(t, dir)
			_, err := b.CreateTopic("t", commitlog.TopicConfig{Partitions: 1})
			require.NoError(t, err)
			coord, err := CoordinatorFor(b)
			require.NoError(t, err)
			tp := TopicPartition{Topic: "t"}
			for i := 1; i <= commits; i++ {
				require.NoError(t, coord.CommitOffsets("g", "", -1, map[TopicPartition]OffsetAndMetadata{tp: {Offset: int64(i)}}))
			}
			file, _ := offsetsSegment(t, b, "g")
			require.NoError(t, b.Close())

			data, err := os.ReadFile(file)
			require.NoError(t, err)
			pos := batchPositions(t, data)
			require.Len(t, pos, commits)
			require.NoError(t, os.WriteFile(file, tc.damage(data, pos, tc.batch), 0o644))

			b, err = commitlog.Open(dir, commitlog.WithMaintenanceInterval(time.Hour))
			require.NoError(t, err)
			var c *Consumer
			within(t, "consumer.New", func() { c, err = New(b, Config{GroupID: "g"}) })
			if tc.corrupt {
				require.ErrorIs(t, err, commitlog.ErrCorrupt)
				require.ErrorContains(t, err, OffsetsTopic)
			}
			if err == nil {
				got, err := c.Committed(context.Background(), []TopicPartition{tp})
				require.NoError(t, err)
				if om, ok := got[tp]; ok {
					require.GreaterOrEqual(t, om.Offset, int64(1), "a committed offset that was never committed")
					require.LessOrEqual(t, om.Offset, int64(commits), "a committed offset that was never committed")
				}
				require.NoError(t, c.Close(context.Background()))
			}
			within(t, "Broker.Close", func() { _ = b.Close() })
		})
	}
}
