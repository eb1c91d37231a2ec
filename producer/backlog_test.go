package producer

import (
	"context"
	"io/fs"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/commitlog-go/commitlog"
	"github.com/commitlog-go/commitlog/vfs"
	"github.com/stretchr/testify/require"
)

// gatedFS holds up the writes of segment files (*.log) while its gate is
// shut: a partition's sender stalls in its append, as on a slow disk.
type gatedFS struct {
	vfs.FS
	mu   sync.Mutex
	gate chan struct{} // non-nil: shut, writes wait for it to close
}

type gatedFile struct {
	vfs.File
	fs *gatedFS
}

func (f gatedFile) WriteAt(p []byte, off int64) (int, error) {
	f.fs.mu.Lock()
	g := f.fs.gate
	f.fs.mu.Unlock()
	if g != nil {
		<-g
	}
	return f.File.WriteAt(p, off)
}

func (g *gatedFS) OpenFile(name string, flag int, perm fs.FileMode) (vfs.File, error) {
	f, err := g.FS.OpenFile(name, flag, perm)
	if err != nil || !strings.HasSuffix(name, ".log") {
		return f, err
	}
	return gatedFile{f, g}, nil
}

func (g *gatedFS) shut() {
	g.mu.Lock()
	g.gate = make(chan struct{})
	g.mu.Unlock()
}

func (g *gatedFS) open() {
	g.mu.Lock()
	close(g.gate)
	g.gate = nil
	g.mu.Unlock()
}

func gatedProducer(t *testing.T, cfg Config) (*commitlog.Broker, *gatedFS, *Producer) {
	t.Helper()
	fsys := &gatedFS{FS: vfs.OS}
	b, err := commitlog.Open(t.TempDir(), commitlog.WithFS(fsys), commitlog.WithoutExpvar())
	require.NoError(t, err)
	t.Cleanup(func() { b.Close() })
	_, err = b.CreateTopic("t", commitlog.TopicConfig{})
	require.NoError(t, err)
	p, err := New(b, cfg)
	require.NoError(t, err)
	t.Cleanup(func() { p.Close(context.Background()) })
	t.Cleanup(func() { // first: a failed test leaves no write held up
		fsys.mu.Lock()
		defer fsys.mu.Unlock()
		if fsys.gate != nil {
			close(fsys.gate)
			fsys.gate = nil
		}
	})
	return b, fsys, p
}

// waiting reports whether a Send waits for p's partition t-0 to catch up.
func waiting(p *Producer) bool {
	m := p.topics.Load()
	if m == nil {
		return false
	}
	q := (*m)["t"].queues()[0]
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.room != nil
}

// TestSendWaitsForBacklog: once maxBacklog bytes of sealed batches wait
// for a partition's stalled sender, Send waits for it after queuing its
// record (buffer.memory is far from full), and goes on when the sender
// catches up; every record is written. A Send whose ctx ends while it
// waits returns: its record is queued, and left out as any record whose
// ctx ended before its batch went.
func TestSendWaitsForBacklog(t *testing.T) {
	b, fsys, p := gatedProducer(t, Config{Acks: new(AcksLeader), Linger: new(time.Duration(0)), MaxBlock: new(time.Hour)})
	value := make([]byte, 1000)
	n := 2 * maxBacklog / len(value)
	fsys.shut()
	var sent atomic.Int64
	futures := make([]*Future, n)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range n {
			futures[i] = p.Send(context.Background(), &Record{Topic: "t", Value: value})
			sent.Add(1)
		}
	}()
	require.Eventually(t, func() bool { return waiting(p) }, 20*time.Second, time.Millisecond)
	require.Less(t, sent.Load(), int64(n), "a Send waits")
	require.GreaterOrEqual(t, sent.Load()*int64(len(value)), int64(maxBacklog), "not before the backlog is full")
	fsys.open()
	waitOrHang(t, done, "the Sends after the sender caught up")
	require.NoError(t, p.Flush(context.Background()))
	for i, f := range futures {
		md, err := f.Result()
		require.NoError(t, err, "record %d", i)
		require.Equal(t, int64(i), md.Offset)
	}

	// A ctx that ends stops the wait.
	fsys.shut()
	filled := make(chan struct{})
	go func() {
		defer close(filled)
		for range n {
			p.Send(context.Background(), &Record{Topic: "t", Value: value})
		}
	}()
	require.Eventually(t, func() bool { return waiting(p) }, 20*time.Second, time.Millisecond)
	ctx, cancel := context.WithCancel(context.Background())
	var f *Future
	returned := make(chan struct{})
	go func() {
		f = p.Send(ctx, &Record{Topic: "t", Value: value})
		close(returned)
	}()
	select {
	case <-returned:
		t.Fatal("Send did not wait")
	case <-time.After(20 * time.Millisecond):
	}
	cancel()
	waitOrHang(t, returned, "the Send whose ctx ended")
	fsys.open()
	waitOrHang(t, filled, "the Sends after the sender caught up")
	_, err := f.Result()
	require.ErrorIs(t, err, context.Canceled)
	require.NoError(t, p.Flush(context.Background()))
	require.Positive(t, countBatches(t, b, "t"))
}

// TestSendDoesNotWaitForBacklog: Send never waits for a stalled sender
// with max.block.ms=0 (it must not block), nor in a callback of the
// partition, which the sender waits for (it would wait for itself).
func TestSendDoesNotWaitForBacklog(t *testing.T) {
	value := make([]byte, 1000)
	n := 2 * maxBacklog / len(value)
	t.Run("max.block.ms=0", func(t *testing.T) {
		_, fsys, p := gatedProducer(t, Config{Acks: new(AcksLeader), Linger: new(time.Duration(0)), MaxBlock: new(time.Duration(0))})
		fsys.shut()
		done := make(chan struct{})
		go func() {
			defer close(done)
			for range n {
				p.SendCallback(context.Background(), &Record{Topic: "t", Value: value}, func(_ context.Context, _ RecordMetadata, err error) {
					require.NoError(t, err)
				})
			}
		}()
		waitOrHang(t, done, "Sends with max.block.ms=0")
		fsys.open()
		require.NoError(t, p.Flush(context.Background()))
	})
	t.Run("callback", func(t *testing.T) {
		_, _, p := gatedProducer(t, Config{Acks: new(AcksLeader), Linger: new(time.Duration(0)), MaxBlock: new(time.Hour)})
		var failed atomic.Int64
		sent := make(chan struct{})
		p.SendCallback(context.Background(), &Record{Topic: "t", Value: value}, func(context.Context, RecordMetadata, error) {
			for range n {
				p.SendCallback(context.Background(), &Record{Topic: "t", Value: value}, func(_ context.Context, _ RecordMetadata, err error) {
					if err != nil {
						failed.Add(1)
					}
				})
			}
			close(sent)
		})
		waitOrHang(t, sent, "Sends from a callback of the partition")
		require.NoError(t, p.Flush(context.Background()))
		require.Zero(t, failed.Load())
	})
}
