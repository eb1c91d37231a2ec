package commitlog

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestDurableVisibility: a deferred append stays invisible (high
// watermark, Read, Wait) until the fsync covering it, which wakes the
// waiting readers; one SyncTo publishes several deferred appends; a plain
// append is visible at once; and the maintenance pass fsyncs and publishes
// a deferred append nobody synced.
func TestDurableVisibility(t *testing.T) {
	p := openTestPartition(t, t.TempDir())
	for i, tag := range []string{"a", "b"} {
		info, err := p.AppendDeferred(partBatch(t, tag, 2, 1))
		require.NoError(t, err)
		require.Equal(t, int64(2*i), info.BaseOffset)
	}
	require.Equal(t, int64(4), p.LogEndOffset())
	require.Zero(t, p.HighWatermark(), "not fsynced: not visible")
	data, err := p.Read(nil, 0, 1<<20)
	require.NoError(t, err)
	require.Empty(t, data)

	woke := make(chan error, 1)
	go func() { woke <- p.Wait(context.Background(), 0) }()
	select {
	case err := <-woke:
		t.Fatalf("Wait returned (%v) before the fsync", err)
	case <-time.After(20 * time.Millisecond):
	}
	require.NoError(t, p.SyncTo(4))
	require.NoError(t, <-woke, "the fsync wakes the long poll")
	require.Equal(t, int64(4), p.HighWatermark())
	data, err = p.Read(nil, 0, 1<<20)
	require.NoError(t, err)
	require.Len(t, partDecode(t, data, 4), 4)

	// A durable Append is visible once it returns, a plain one at once.
	_, err = p.Append(partBatch(t, "c", 1, 1), true)
	require.NoError(t, err)
	require.Equal(t, int64(5), p.HighWatermark())
	require.Equal(t, int64(5), p.log.FlushedOffset())
	_, err = p.Append(partBatch(t, "d", 1, 1), false)
	require.NoError(t, err)
	require.Equal(t, int64(6), p.HighWatermark())
	require.Equal(t, int64(5), p.log.FlushedOffset())

	// Nobody syncs a deferred append: the maintenance pass does.
	_, err = p.AppendDeferred(partBatch(t, "e", 1, 1))
	require.NoError(t, err)
	require.Equal(t, int64(6), p.HighWatermark())
	require.NoError(t, p.maintain())
	require.Equal(t, int64(7), p.HighWatermark())
	require.Equal(t, int64(7), p.log.FlushedOffset())
}

// TestFlushEveryAppendIsDurableVisibility: with flush.messages=1 a plain
// append returns fsynced, and deferred appends are published by it.
func TestFlushEveryAppendIsDurableVisibility(t *testing.T) {
	cfg := partTestConfig()
	cfg.FlushMessages = 1
	p, err := openPartition(t.TempDir(), "t", 0, cfg)
	require.NoError(t, err)
	defer p.close()
	_, err = p.Append(partBatch(t, "a", 3, 1), false)
	require.NoError(t, err)
	require.Equal(t, int64(3), p.log.FlushedOffset())
	require.Equal(t, int64(3), p.HighWatermark())
	_, err = p.AppendDeferred(partBatch(t, "b", 1, 1))
	require.NoError(t, err)
	require.Equal(t, int64(4), p.HighWatermark(), "the log fsynced it: visible")
}
