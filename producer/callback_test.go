package producer

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/commitlog-go/commitlog"
	"github.com/commitlog-go/commitlog/record"
	"github.com/stretchr/testify/require"
)

// waitOrHang fails the test if ch is not closed in a long while: the test
// is about a deadlock, not about speed.
func waitOrHang(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(20 * time.Second):
		t.Fatalf("hang: %s", what)
	}
}

// deep calls f under n more frames, to test stack walks past one buffer.
//
//go:noinline
func deep(n int, f func()) {
	if n == 0 {
		f()
		return
	}
	deep(n-1, f)
}

// TestCallbackScope: a callback's ctx marks calls made with it, or with a
// ctx derived from it, as made from inside that callback, while it runs
// and at any depth; not the caller of SendCallback, not the same ctx once
// the callback has returned, and not another producer's calls.
func TestCallbackScope(t *testing.T) {
	b := newBroker(t, map[string]commitlog.TopicConfig{"t": {}})
	p, err := New(b, Config{Linger: new(time.Duration(0))})
	require.NoError(t, err)
	defer p.Close(context.Background())
	other, err := New(b, Config{})
	require.NoError(t, err)
	defer other.Close(context.Background())
	require.False(t, p.calledFromCallback(context.Background()))
	var direct, deeper, derived, otherProducer bool
	var kept context.Context
	done := make(chan struct{})
	p.SendCallback(context.Background(), &Record{Topic: "t", Value: []byte("x")}, func(ctx context.Context, _ RecordMetadata, _ error) {
		defer close(done)
		kept = ctx
		direct = p.calledFromCallback(ctx)
		deep(200, func() { deeper = p.calledFromCallback(ctx) })
		d, cancel := context.WithTimeout(ctx, time.Hour)
		defer cancel()
		derived = p.calledFromCallback(d)
		otherProducer = other.calledFromCallback(ctx)
	})
	waitOrHang(t, done, "callback")
	require.True(t, direct, "the callback's ctx")
	require.True(t, deeper, "200 frames below the callback")
	require.True(t, derived, "a ctx derived from the callback's")
	require.False(t, otherProducer, "another producer's Flush waits as usual")
	require.Eventually(t, func() bool { return !p.calledFromCallback(kept) }, 5*time.Second, time.Millisecond, "once the callback has returned")
	require.NoError(t, p.Flush(kept), "the kept ctx waits as any other")
}

// TestFlushFromCallbackWithAnotherContext: a callback that calls Flush with
// a ctx that is not its own is treated as any caller: Flush waits for the
// callback itself, so until that ctx ends. Nothing is lost.
func TestFlushFromCallbackWithAnotherContext(t *testing.T) {
	b := newBroker(t, map[string]commitlog.TopicConfig{"t": {}})
	p, err := New(b, Config{Linger: new(time.Duration(0))})
	require.NoError(t, err)
	var flushErr error
	done := make(chan struct{})
	p.SendCallback(context.Background(), &Record{Topic: "t", Value: []byte("x")}, func(context.Context, RecordMetadata, error) {
		defer close(done)
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		flushErr = p.Flush(ctx)
	})
	waitOrHang(t, done, "callback")
	require.ErrorIs(t, flushErr, context.DeadlineExceeded)
	require.NoError(t, p.Close(context.Background()))
	require.Len(t, readPartition(t, b, "t", 0), 1)
}

// TestMixedCallbacksInABatch: the records of one batch sent with Send,
// with one callback, with another, and with a ctx that ends before the
// batch goes each get their own outcome, in order.
func TestMixedCallbacksInABatch(t *testing.T) {
	b := newBroker(t, map[string]commitlog.TopicConfig{"t": {}})
	p, err := New(b, Config{Linger: new(time.Hour)})
	require.NoError(t, err)
	defer p.Close(context.Background())
	var calls []string
	cb := func(name string) func(context.Context, RecordMetadata, error) {
		return func(_ context.Context, md RecordMetadata, err error) {
			calls = append(calls, fmt.Sprintf("%s %d %v", name, md.Offset, err != nil))
		}
	}
	a, c := cb("a"), cb("c")
	bg := context.Background()
	ctx, cancel := context.WithCancel(bg)
	f0 := p.Send(bg, &Record{Topic: "t", Value: []byte("0")})
	p.SendCallback(bg, &Record{Topic: "t", Value: []byte("1")}, a)
	p.SendCallback(bg, &Record{Topic: "t", Value: []byte("2")}, a)
	p.SendCallback(bg, &Record{Topic: "t", Value: []byte("3")}, c)
	p.SendCallback(ctx, &Record{Topic: "t", Value: []byte("4")}, a)
	f5 := p.Send(bg, &Record{Topic: "t", Value: []byte("5")})
	cancel()
	require.NoError(t, p.Flush(bg))
	require.Equal(t, []string{"a 1 false", "a 2 false", "c 3 false", "a -1 true"}, calls)
	md, err := f0.Result()
	require.NoError(t, err)
	require.Equal(t, int64(0), md.Offset)
	md, err = f5.Result()
	require.NoError(t, err)
	require.Equal(t, int64(4), md.Offset, "dense offsets without the record whose ctx ended")
	require.Equal(t, 1, countBatches(t, b, "t"))
}

// TestCallbackMetadata: callbacks sharing a batch get each record's own
// offset and timestamp: the producer's (CreateTime), the log's
// (LogAppendTime), or the record's with offset -1 and the error when the
// batch failed.
func TestCallbackMetadata(t *testing.T) {
	for _, tc := range []struct {
		name        string
		cfg         commitlog.TopicConfig
		closeBroker bool
		mixed       bool // records alternate between two callbacks (the per-record path)
	}{
		{"create-time", commitlog.TopicConfig{}, false, false},
		{"create-time-mixed", commitlog.TopicConfig{}, false, true},
		{"log-append-time", commitlog.TopicConfig{MessageTimestampType: record.LogAppendTime}, false, false},
		{"failed", commitlog.TopicConfig{}, true, false},
		{"failed-mixed", commitlog.TopicConfig{}, true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := newBroker(t, map[string]commitlog.TopicConfig{"t": tc.cfg})
			p, err := New(b, Config{Linger: new(time.Hour)})
			require.NoError(t, err)
			defer p.Close(context.Background())
			type call struct {
				md  RecordMetadata
				err error
			}
			var calls []call
			cb := func(_ context.Context, md RecordMetadata, err error) { calls = append(calls, call{md, err}) }
			cb2 := func(_ context.Context, md RecordMetadata, err error) { calls = append(calls, call{md, err}) }
			stamps := []int64{1000, 1000, 1001, 1001, 1005}
			for i, ms := range stamps {
				f := cb
				if tc.mixed && i%2 == 1 {
					f = cb2
				}
				p.SendCallback(context.Background(), &Record{Topic: "t", Value: []byte("v"), Timestamp: time.UnixMilli(ms)}, f)
			}
			if tc.closeBroker {
				require.NoError(t, b.Close())
			}
			require.NoError(t, p.Flush(context.Background()))
			require.Len(t, calls, len(stamps))
			for i, c := range calls {
				require.Equal(t, "t", c.md.Topic)
				switch strings.TrimSuffix(tc.name, "-mixed") {
				case "create-time":
					require.NoError(t, c.err)
					require.Equal(t, RecordMetadata{Topic: "t", Offset: int64(i), Timestamp: time.UnixMilli(stamps[i])}, c.md)
				case "log-append-time":
					require.NoError(t, c.err)
					require.Equal(t, int64(i), c.md.Offset)
					require.Equal(t, calls[0].md.Timestamp, c.md.Timestamp)
					require.Greater(t, c.md.Timestamp.UnixMilli(), int64(1005), "the log's time")
				case "failed":
					require.Error(t, c.err)
					require.Equal(t, RecordMetadata{Topic: "t", Offset: -1, Timestamp: time.UnixMilli(stamps[i])}, c.md)
				}
			}
		})
	}
}

// TestTsAt: the timestamp of each record from runs, walked in order.
func TestTsAt(t *testing.T) {
	for _, tc := range []struct {
		name string
		runs []tsRun
		n    int
		want []int64
	}{
		{"one run", []tsRun{{0, 7}}, 3, []int64{7, 7, 7}},
		{"a run a record", []tsRun{{0, 1}, {1, 2}, {2, 3}}, 3, []int64{1, 2, 3}},
		{"runs of several", []tsRun{{0, 5}, {2, 9}, {3, 4}}, 5, []int64{5, 5, 9, 4, 4}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			run := 0
			got := make([]int64, tc.n)
			for i := range got {
				got[i] = tsAt(tc.runs, &run, i)
			}
			require.Equal(t, tc.want, got)
		})
	}
}
