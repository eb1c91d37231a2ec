package log

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/commitlog-go/commitlog/record"
)

// TestReconfigureWhileInUse: settings change while appends, reads,
// retention and the cleaner's measurements run (go test -race checks
// that nothing reads a setting being written), and take effect at once.
func TestReconfigureWhileInUse(t *testing.T) {
	l, err := Open(t.TempDir(), Config{SegmentBytes: 512, Retention: new(time.Duration(-1))})
	require.NoError(t, err)
	defer l.Close()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			b := record.NewBuilder(0, record.BatchOptions{})
			b.Add(time.Now().UnixMilli(), []byte("k"), []byte("value"), nil)
			raw, err := b.Build()
			if err != nil {
				panic(err)
			}
			_, _ = l.Append(append([]byte(nil), raw...))
			_ = l.Compacted()
			_ = l.CleanerState()
		}
	}()
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			_, _ = l.Maintain()
			_ = l.Config()
		}
	}()
	for i := range 50 {
		require.NoError(t, l.Reconfigure(Config{SegmentBytes: int64(512 + i), RetentionBytes: new(int64(4096)), MaxMessageBytes: new(1 << 20), Compact: i >= 25}))
	}
	close(stop)
	wg.Wait()

	require.True(t, l.Compacted())
	require.NoError(t, l.Reconfigure(Config{MaxMessageBytes: new(10), Compact: true}))
	_, err = l.Append(batchOf(t, "big", 3, 0, 10))
	require.ErrorIs(t, err, ErrRecordTooLarge)
	require.Equal(t, 10, *l.Config().MaxMessageBytes)

	require.ErrorIs(t, l.Reconfigure(Config{}), errors.ErrUnsupported, "compaction stays on")
}
