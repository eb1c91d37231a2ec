package log

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/commitlog-go/commitlog/record"
)

// A read-only log follows its owner, in the same process here, while the
// owner appends, rolls, compacts and applies retention: what it serves
// is always what the owner holds, and it writes nothing.
func TestReadOnlyRefresh(t *testing.T) {
	dir := t.TempDir()
	clock := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	cfg := compactConfig(clock)
	owner, err := Open(dir, cfg)
	require.NoError(t, err)
	defer owner.Close()
	w := newWorkload(t, 7, 40, clock)
	w.run(owner, 50)

	ro, err := OpenReadOnly(dir, Config{Compact: true})
	require.NoError(t, err)
	defer ro.Close()
	require.True(t, ro.ReadOnly())
	require.Equal(t, owner.EndOffset(), ro.EndOffset())
	require.Equal(t, readRecords(t, owner), readRecords(t, ro))
	for name, err := range map[string]error{
		"append": func() error { _, err := ro.Append(batchOf(t, "x", 1, 0, 10)); return err }(),
		"roll":   ro.Roll(),
		"compact": func() error {
			_, err := ro.Compact()
			return err
		}(),
		"delete records": func() error { _, err := ro.DeleteRecordsBefore(1, ro.EndOffset()); return err }(),
		"delete":         ro.Delete(),
	} {
		require.ErrorIs(t, err, ErrReadOnly, name)
	}
	_, err = owner.Refresh(-1)
	require.Error(t, err, "Refresh is for read-only logs")

	// A reader refreshing and reading while the owner works.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := ro.Refresh(-1); err != nil {
				t.Error(err)
				return
			}
			for off := ro.StartOffset(); off < ro.EndOffset(); {
				data, err := ro.Read(off, 4<<10)
				if errors.Is(err, ErrOffsetOutOfRange) {
					break
				}
				if err != nil || len(data) == 0 {
					t.Error("read", off, err)
					return
				}
				off = lastNext(data)
			}
		}
	}()
	for range 5 {
		w.run(owner, 40)
		require.NoError(t, owner.Roll())
		_, err := owner.Compact()
		require.NoError(t, err)
	}
	close(stop)
	wg.Wait()
	_, err = ro.Refresh(-1)
	require.NoError(t, err)
	require.Equal(t, owner.EndOffset(), ro.EndOffset())
	require.Equal(t, owner.NumSegments(), ro.NumSegments())
	require.Equal(t, readRecords(t, owner), readRecords(t, ro))

	// The start offset the owner recorded hides what is below it.
	changed, err := ro.Refresh(owner.EndOffset() - 1)
	require.NoError(t, err)
	require.True(t, changed)
	require.Equal(t, owner.EndOffset()-1, ro.StartOffset())
	require.NoError(t, ro.Close())
	require.NoError(t, ro.Close())
	_, err = ro.Refresh(-1)
	require.ErrorIs(t, err, ErrClosed)

	_, err = OpenReadOnly(t.TempDir(), Config{})
	require.Error(t, err, "an empty directory has no log to read")
}

// lastNext is the next offset after the batches in data.
func lastNext(data []byte) int64 {
	var next int64
	_ = record.Batches(data, func(h *record.BatchHeader, _ []byte) error {
		next = h.NextOffset()
		return nil
	})
	return next
}
