package producer

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/commitlog-go/commitlog"
)

// plainBackend is a Backend that is neither the embedded broker nor a
// DriverOpener.
type plainBackend struct{}

func (plainBackend) Logger() *slog.Logger { return slog.Default() }
func (plainBackend) Close() error         { return nil }

// openerBackend opens no driver: its error comes back from New.
type openerBackend struct{ plainBackend }

var errNoDriver = errors.New("no driver here")

func (openerBackend) OpenProducerDriver(Config) (Driver, error) { return nil, errNoDriver }

func TestNewBackends(t *testing.T) {
	_, err := New(plainBackend{}, Config{})
	require.ErrorIs(t, err, commitlog.ErrUnsupportedBackend)

	_, err = New(openerBackend{}, Config{})
	require.ErrorIs(t, err, errNoDriver)

	_, err = New(openerBackend{}, Config{BatchSize: new(-1)})
	require.ErrorIs(t, err, commitlog.ErrInvalidConfig, "the config is checked before the driver opens")
	require.NotErrorIs(t, err, errNoDriver)
}

// memDriver is a Driver that completes records in order on one goroutine
// (as franz-go's promises run), numbering them per partition.
type memDriver struct {
	mu      sync.Mutex // guards next, pending and closes
	idle    *sync.Cond // on mu: pending became 0
	next    map[int32]int64
	pending int // records sent and not yet done (a counter, not a WaitGroup: Flush may wait while Send adds)
	queue   chan func()
	closes  int
}

func newMemDriver() *memDriver {
	d := &memDriver{next: map[int32]int64{}, queue: make(chan func(), 1024)}
	d.idle = sync.NewCond(&d.mu)
	go func() {
		for fn := range d.queue {
			fn()
		}
	}()
	return d
}

func (d *memDriver) Send(_ context.Context, rec *Record, done func(RecordMetadata, error)) {
	d.mu.Lock()
	d.pending++
	d.mu.Unlock()
	d.queue <- func() {
		d.mu.Lock()
		off := d.next[rec.Partition]
		d.next[rec.Partition]++
		d.mu.Unlock()
		done(RecordMetadata{Topic: rec.Topic, Partition: rec.Partition, Offset: off, Timestamp: rec.Timestamp}, nil)
		d.mu.Lock()
		if d.pending--; d.pending == 0 {
			d.idle.Broadcast()
		}
		d.mu.Unlock()
	}
}

func (d *memDriver) Flush(ctx context.Context) error {
	ch := make(chan struct{})
	go func() {
		d.mu.Lock()
		for d.pending > 0 {
			d.idle.Wait()
		}
		d.mu.Unlock()
		close(ch)
	}()
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (d *memDriver) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.closes++
	if d.closes == 1 {
		close(d.queue)
	}
	return nil
}

type memOpener struct {
	plainBackend
	d *memDriver
}

func (o memOpener) OpenProducerDriver(Config) (Driver, error) { return o.d, nil }

// TestDriverSemantics: on a Driver, the Producer keeps its own promises:
// the record is copied, a callback's ctx kept after it returned is an
// ordinary ctx, and Close closes the driver once.
func TestDriverSemantics(t *testing.T) {
	d := newMemDriver()
	p, err := New(memOpener{d: d}, Config{})
	require.NoError(t, err)
	ctx := context.Background()

	key := []byte("key")
	f := p.Send(ctx, &Record{Topic: "t", Key: key, Value: []byte("v")})
	key[0] = 'X' // the producer copied it
	md, err := f.Wait(ctx)
	require.NoError(t, err)
	require.Equal(t, int64(0), md.Offset)
	<-f.Done()

	var kept context.Context
	p.SendCallback(ctx, &Record{Topic: "t", Value: []byte("v")}, func(cctx context.Context, md RecordMetadata, err error) {
		kept = cctx
		if err := p.Flush(cctx); !errors.Is(err, ErrFlushInCallback) {
			t.Errorf("Flush from a callback: %v", err)
		}
	})
	require.NoError(t, p.Flush(ctx))
	require.NoError(t, p.Flush(kept), "once the callback has returned, its ctx waits as any other")

	require.NoError(t, p.Close(ctx))
	require.NoError(t, p.Close(ctx))
	require.Equal(t, 1, d.closes)
	_, err = p.SendSync(ctx, &Record{Topic: "t"})
	require.ErrorIs(t, err, commitlog.ErrClosed)
}
