package producer

import (
	"context"
	"time"
)

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
// the callback ctx of their partition. The common case, a batch written
// whole whose records share a callback, fills in each record's offset and
// timestamp from the batch's (a record's time.Time is made once a
// millisecond, not once a record).
func runCallbacks(ctx context.Context, b *batch) {
	runs := b.x.ts
	if b.mixedCB || b.cancelled != nil {
		run := 0
		for i := range b.n {
			ts := tsAt(runs, &run, i)
			cb := b.cb
			if b.mixedCB {
				cb = b.x.cbs[i]
			}
			if cb != nil {
				cb(ctx, b.metadata(i, ts), b.recordErr(i))
			}
		}
		return
	}
	md := b.metadata(0, runs[0].ts)
	err := b.err
	fixed := err == nil && b.info.LogAppendTime >= 0 // every record has the log's timestamp, md's already
	for r, run := range runs {
		end := b.n
		if r+1 < len(runs) {
			end = int(runs[r+1].from)
		}
		if r > 0 && !fixed {
			md.Timestamp = time.UnixMilli(run.ts)
		}
		for i := int(run.from); i < end; i++ {
			if err == nil {
				md.Offset = b.info.BaseOffset + int64(i)
			}
			b.cb(ctx, md, err)
		}
	}
}
