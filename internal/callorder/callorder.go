// Package callorder owns the ordering of CommitAsync's callbacks, which
// both the embedded consumer and the Kafka backend's driver promise: they
// run one at a time, in the order of their commits, whichever goroutine
// runs them (the commit goroutine, or a Close writing the queue itself),
// except that a callback which runs further callbacks on its own
// goroutine (a Close called from it) runs them inside itself, since
// waiting for its own end would never end.
package callorder

import (
	"bytes"
	"runtime"
	"slices"
	"sync"
)

// Turns hands out the turns of callbacks numbered by their commits. The
// zero value is ready for use.
type Turns struct {
	mu    sync.Mutex // guards the fields below
	due   []uint64   // the numbers of the callbacks to run, in order
	owner uint64     // the goroutine (Goid) running a callback, 0 if none
	done  *sync.Cond // on mu: broadcast when a callback ends or leaves due
}

// Due records that callback seq runs after those recorded before it. The
// caller records them in the order of their commits (under the lock that
// orders the commits).
func (t *Turns) Due(seq uint64) {
	t.mu.Lock()
	t.due = append(t.due, seq)
	t.mu.Unlock()
}

// Run runs fn, callback seq (recorded by Due), in its turn: once the
// callbacks recorded before it have run and no other goroutine runs one;
// at once if the calling goroutine runs a callback (fn runs inside it). A
// nil fn only gives up the turn. The wait has no deadline: it waits for
// the application's own callback.
func (t *Turns) Run(seq uint64, fn func()) {
	var me uint64
	if fn != nil {
		me = Goid()
	}
	t.mu.Lock()
	if t.done == nil {
		t.done = sync.NewCond(&t.mu)
	}
	for fn != nil && t.owner != me && (t.owner != 0 || len(t.due) == 0 || t.due[0] != seq) {
		t.done.Wait()
	}
	t.due = slices.DeleteFunc(t.due, func(s uint64) bool { return s == seq })
	if fn == nil {
		t.done.Broadcast() // the next one's turn
		t.mu.Unlock()
		return
	}
	prev := t.owner
	t.owner = me
	t.mu.Unlock()
	defer func() {
		t.mu.Lock()
		t.owner = prev
		t.done.Broadcast()
		t.mu.Unlock()
	}()
	fn()
}

// InCallback reports whether the calling goroutine is running a callback
// of t.
func (t *Turns) InCallback() bool {
	me := Goid()
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.owner == me
}

// Goid is the calling goroutine's id, read from the header of its stack
// trace ("goroutine 42 [running]:"): Go has no other way to tell that a
// call comes from inside a callback, on the goroutine running it. It
// costs about a microsecond.
func Goid() uint64 {
	var buf [64]byte
	b := buf[:runtime.Stack(buf[:], false)]
	b, _ = bytes.CutPrefix(b, []byte("goroutine "))
	var id uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			break
		}
		id = id*10 + uint64(c-'0')
	}
	return id
}
