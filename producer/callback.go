package producer

import "context"

// SendCallback's callbacks run on the partition's sender, in record order,
// before the records' futures complete. Flush and Close wait for those
// very senders, so called from a callback they must not wait. They know
// such a call by construction: a callback gets a ctx carrying its
// partition's queue (callbackScopeKey), which is marked while its
// callbacks run; Flush and Close called with that ctx, or one derived
// from it, see the mark. Go has no goroutine identity to go by, so a
// callback that calls them with another ctx (context.Background()) is
// treated as any caller: it waits, for itself, until that ctx ends.

// callbackScopeKey is the ctx key of a callback's scope: the *partQueue
// whose callbacks run.
type callbackScopeKey struct{}

// runCallbacks calls the callbacks of b's records, in record order, with
// the callback ctx of their partition.
func runCallbacks(ctx context.Context, b *batch) {
	if !b.mixedCB {
		for i, ts := range b.x.ts {
			b.cb(ctx, b.metadata(i, ts), b.recordErr(i))
		}
		return
	}
	for i, cb := range b.x.cbs {
		if cb != nil {
			cb(ctx, b.metadata(i, b.x.ts[i]), b.recordErr(i))
		}
	}
}
