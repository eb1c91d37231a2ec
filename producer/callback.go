package producer

import (
	"reflect"
	"runtime"
)

// SendCallback's callbacks run on the partition's sender, in record order,
// before the records' futures complete. Flush and Close wait for those
// very senders, so called from a callback they must not wait: they tell
// such a call from any other by finding runCallbacks among their callers,
// as every callback is called from it and from nowhere else. (Go gives
// code no other way to tell which goroutine, or which call, it runs in: no
// goroutine-local values, no lock owners, and a context carries the mark
// only if the caller passes it on, which a callback calling
// Flush(context.Background()) does not.)

// runCallbacks calls the callbacks of b's records, in record order. It is
// never inlined, so that it is a frame of its own on the sender's stack
// for as long as a callback runs.
//
//go:noinline
func runCallbacks(b *batch) {
	for i := range b.x.recs {
		if e := &b.x.recs[i]; e.cb != nil {
			e.cb(b.metadata(i, e.ts), b.recordErr(i))
		}
	}
}

// runCallbacksEntry is runCallbacks' entry PC, as runtime.Func reports it.
var runCallbacksEntry = runtime.FuncForPC(reflect.ValueOf(runCallbacks).Pointer()).Entry()

// inRunCallbacks reports whether runCallbacks is among the callers of its
// caller: whether it runs, at any depth, inside a SendCallback callback
// (of any producer; a goroutine the callback started is not inside it).
// It walks the whole stack, so callers first check that callbacks run.
func inRunCallbacks() bool {
	var pcs [64]uintptr
	for skip := 2; ; skip += len(pcs) {
		n := runtime.Callers(skip, pcs[:])
		for _, pc := range pcs[:n] {
			// pc-1 is in the call instruction: in the caller's frame. For
			// code inlined into a function, Entry is that function's, so
			// this matches every PC of runCallbacks' own frame and no other.
			if f := runtime.FuncForPC(pc - 1); f != nil && f.Entry() == runCallbacksEntry {
				return true
			}
		}
		if n < len(pcs) {
			return false
		}
	}
}
