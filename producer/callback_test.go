package producer

import (
	"context"
	"testing"
	"time"

	"github.com/commitlog-go/commitlog"
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

// TestInRunCallbacks: a caller is inside a callback exactly when it runs,
// at any depth, on the sender while it calls the callbacks; not on the
// caller of SendCallback, nor on a goroutine the callback starts.
func TestInRunCallbacks(t *testing.T) {
	require.NotZero(t, runCallbacksEntry)
	require.False(t, inRunCallbacks())
	deep(200, func() { require.False(t, inRunCallbacks()) })

	b := newBroker(t, map[string]commitlog.TopicConfig{"t": {}})
	p, err := New(b, Config{Linger: new(time.Duration(0))})
	require.NoError(t, err)
	defer p.Close(context.Background())
	var direct, deeper, spawned bool
	done := make(chan struct{})
	p.SendCallback(context.Background(), &Record{Topic: "t", Value: []byte("x")}, func(RecordMetadata, error) {
		defer close(done)
		direct = inRunCallbacks()
		deep(200, func() { deeper = inRunCallbacks() })
		ch := make(chan bool)
		go func() { ch <- inRunCallbacks() }()
		spawned = <-ch
	})
	waitOrHang(t, done, "callback")
	require.True(t, direct, "called from the callback")
	require.True(t, deeper, "called 200 frames below the callback")
	require.False(t, spawned, "called from a goroutine the callback started")
}
