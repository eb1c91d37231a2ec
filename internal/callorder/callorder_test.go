package callorder

import (
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestGoid(t *testing.T) {
	me := Goid()
	require.NotZero(t, me)
	require.Equal(t, me, Goid(), "the same goroutine, the same id")
	other := make(chan uint64)
	go func() { other <- Goid() }()
	require.NotEqual(t, me, <-other)
}

// TestRunInOrder: callbacks recorded in order run in that order, one at
// a time, even when their goroutines reach Run in the opposite order.
func TestRunInOrder(t *testing.T) {
	var tr Turns
	const n = 20
	for seq := uint64(1); seq <= n; seq++ {
		tr.Due(seq)
	}
	var mu sync.Mutex
	var order []uint64
	running := 0
	var wg sync.WaitGroup
	for seq := uint64(n); seq >= 1; seq-- {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tr.Run(seq, func() {
				mu.Lock()
				running++
				require.Equal(t, 1, running, "one callback at a time")
				mu.Unlock()
				time.Sleep(time.Millisecond)
				mu.Lock()
				running--
				order = append(order, seq)
				mu.Unlock()
			})
		}()
		time.Sleep(time.Millisecond) // later numbers reach Run first
	}
	wg.Wait()
	want := make([]uint64, 0, n)
	for seq := uint64(1); seq <= n; seq++ {
		want = append(want, seq)
	}
	require.Equal(t, want, order)
}

// TestRunNested: a callback that runs the next ones on its own goroutine
// runs them inside itself rather than waiting for itself; a nil callback
// gives up its turn.
func TestRunNested(t *testing.T) {
	var tr Turns
	for seq := uint64(1); seq <= 3; seq++ {
		tr.Due(seq)
	}
	var order []string
	done := make(chan struct{})
	go func() {
		defer close(done)
		tr.Run(1, func() {
			order = append(order, "1 begins")
			require.True(t, tr.InCallback())
			tr.Run(2, nil)
			tr.Run(3, func() { order = append(order, "3") })
			order = append(order, "1 ends")
		})
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("a nested Run waited for its own callback")
	}
	require.Equal(t, []string{"1 begins", "3", "1 ends"}, order)
	require.False(t, tr.InCallback())
}
