package forward

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/commitlog-go/commitlog"
	"github.com/commitlog-go/commitlog/record"
)

// OffsetHeader is the header every copied record carries, after its own
// headers: the offset of the record in the partition it was copied from,
// as decimal ASCII. Reconciliation after a restart reads it back from the
// destination's tail (the last header of that name counts, so a record
// copied twice over, local to Kafka to local, keeps both).
const OffsetHeader = "commitlog-source-offset"

var (
	// ErrPartitionMismatch: the destination topic exists with another
	// partition count than the source. The copier stops: partition p must
	// go to partition p.
	ErrPartitionMismatch = errors.New("forward: source and destination partition counts differ")
	// ErrNoTopics: a Config names no topic.
	ErrNoTopics = errors.New("forward: no topics to copy")
	// ErrGap: the cluster acknowledged a record after it failed an earlier
	// one of the same partition, so the earlier one is missing there. It
	// is logged; kgo does not do this with unlimited retries (its
	// default), which the forwarder keeps. ModeIdempotent only: in
	// ModeTransactional a failed record aborts its transaction.
	ErrGap = errors.New("forward: a record failed while a later one of its partition was acknowledged")
)

// sourceOffset returns the value of the last OffsetHeader among hs.
func sourceOffset[H any](hs []H, kv func(*H) (string, []byte)) (int64, bool) {
	for i := len(hs) - 1; i >= 0; i-- {
		k, v := kv(&hs[i])
		if k != OffsetHeader {
			continue
		}
		n, err := strconv.ParseInt(string(v), 10, 64)
		if err != nil || n < 0 {
			return 0, false
		}
		return n, true
	}
	return 0, false
}

func kgoHeader(h *kgo.RecordHeader) (string, []byte) { return h.Key, h.Value }
func localHeader(h *record.Header) (string, []byte)  { return h.Key, h.Value }

// backoff sleeps for the attempt'th retry delay (100 ms doubling to 10 s,
// with jitter) or until ctx ends.
func backoff(ctx context.Context, attempt int) {
	d := 100 * time.Millisecond << min(attempt, 7)
	d = min(d, 10*time.Second)
	d = d/2 + rand.N(d/2+1)
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// remoteCounts returns the partition count of each topic in the cluster,
// 0 for a topic that does not exist.
func remoteCounts(ctx context.Context, adm *kadm.Client, topics []string) (map[string]int32, error) {
	td, err := adm.ListTopics(ctx, topics...)
	if err != nil {
		return nil, fmt.Errorf("forward: listing topics: %w", err)
	}
	out := map[string]int32{}
	for _, t := range topics {
		d, ok := td[t]
		switch {
		case !ok || errors.Is(d.Err, kerr.UnknownTopicOrPartition):
			out[t] = 0
		case d.Err != nil:
			return nil, fmt.Errorf("forward: topic %s: %w", t, d.Err)
		default:
			out[t] = int32(len(d.Partitions))
		}
	}
	return out, nil
}

// remoteTails reads back from the end of each remote partition of topics
// (ends: the last stable offsets) until it finds a committed record
// carrying OffsetHeader, and returns the highest source offset per
// partition (absent: none found). clientOpts connect to the cluster. It
// reads committed records only, and counts offsets, not records: control
// records (transaction markers) are read too, so that a partition ending in
// one is read to its end, and aborted records are skipped.
func remoteTails(ctx context.Context, clientOpts []kgo.Opt, starts, ends kadm.ListedOffsets, topics []string) (map[string]map[int32]int64, error) {
	out := map[string]map[int32]int64{}
	type span struct{ start, end, from int64 }
	pending := map[string]map[int32]*span{}
	for _, t := range topics {
		for p, e := range ends[t] {
			s, ok := starts.Lookup(t, p)
			if !ok || e.Err != nil || s.Err != nil {
				return nil, fmt.Errorf("forward: offsets of %s/%d: %w %w", t, p, e.Err, s.Err)
			}
			if e.Offset > s.Offset {
				if pending[t] == nil {
					pending[t] = map[int32]*span{}
				}
				pending[t][p] = &span{start: s.Offset, end: e.Offset, from: max(s.Offset, e.Offset-16)}
			}
		}
	}
	for len(pending) > 0 {
		consume := map[string]map[int32]kgo.Offset{}
		for t, ps := range pending {
			consume[t] = map[int32]kgo.Offset{}
			for p, sp := range ps {
				consume[t][p] = kgo.NewOffset().At(sp.from)
			}
		}
		cl, err := kgo.NewClient(append(append([]kgo.Opt(nil), clientOpts...),
			kgo.ConsumePartitions(consume),
			kgo.FetchIsolationLevel(kgo.ReadCommitted()),
			kgo.KeepControlRecords(),
			// Close waits for a fetch in flight: keep the long poll short.
			kgo.FetchMaxWait(100*time.Millisecond))...)
		if err != nil {
			return nil, fmt.Errorf("forward: reading remote tails: %w", err)
		}
		seen := map[string]map[int32]int64{} // last offset read
		left := 0
		for _, ps := range pending {
			left += len(ps)
		}
		for left > 0 {
			fs := cl.PollFetches(ctx)
			if ctx.Err() != nil {
				cl.Close()
				return nil, fmt.Errorf("forward: reading remote tails: %w", ctx.Err())
			}
			var ferr error
			fs.EachError(func(t string, p int32, err error) { ferr = fmt.Errorf("forward: reading %s/%d: %w", t, p, err) })
			if ferr != nil {
				cl.Close()
				return nil, ferr
			}
			fs.EachRecord(func(r *kgo.Record) {
				sp := pending[r.Topic][r.Partition]
				if sp == nil {
					return
				}
				if so, ok := sourceOffset(r.Headers, kgoHeader); ok && !r.Attrs.IsControl() {
					if out[r.Topic] == nil {
						out[r.Topic] = map[int32]int64{}
					}
					if cur, had := out[r.Topic][r.Partition]; !had || so > cur {
						out[r.Topic][r.Partition] = so
					}
				}
				if seen[r.Topic] == nil {
					seen[r.Topic] = map[int32]int64{}
				}
				prev, had := seen[r.Topic][r.Partition]
				seen[r.Topic][r.Partition] = r.Offset
				if r.Offset >= sp.end-1 && (!had || prev < sp.end-1) {
					left--
				}
			})
		}
		cl.Close()
		// Partitions whose window held no record of ours look further back.
		for t, ps := range pending {
			for p, sp := range ps {
				if _, found := out[t][p]; found || sp.from == sp.start {
					delete(ps, p)
					continue
				}
				sp.end = sp.from
				sp.from = max(sp.start, sp.end-8*(sp.end-sp.from+16))
			}
			if len(ps) == 0 {
				delete(pending, t)
			}
		}
	}
	return out, nil
}

// localTail returns the highest OffsetHeader among the last records of p,
// looking further back while none of the records read carries one.
func localTail(p *commitlog.Partition) (int64, bool, error) {
	end := p.HighWatermark()
	window := int64(256)
	var it record.Iterator
	for {
		start := p.LogStartOffset()
		if end <= start {
			return 0, false, nil
		}
		from := max(start, end-window)
		best, found := int64(-1), false
		for off := from; off < end; {
			buf, err := p.Read(nil, off, 1<<20)
			if errors.Is(err, commitlog.ErrOffsetOutOfRange) && off < p.LogStartOffset() {
				off = p.LogStartOffset()
				continue
			}
			if err != nil {
				return 0, false, fmt.Errorf("forward: reading the tail of %s/%d: %w", p.Topic(), p.ID(), err)
			}
			if len(buf) == 0 {
				break
			}
			next := off
			err = record.Batches(buf, func(h *record.BatchHeader, batch []byte) error {
				next = h.NextOffset()
				if h.IsControl() {
					return nil
				}
				if err := it.ResetChecked(h, batch); err != nil {
					return err
				}
				for it.Next() {
					r := it.Record()
					if r.Offset < off || r.Offset >= end {
						continue
					}
					if so, ok := sourceOffset(r.Headers, localHeader); ok && so > best {
						best, found = so, true
					}
				}
				return it.Err()
			})
			if err != nil {
				return 0, false, fmt.Errorf("forward: reading the tail of %s/%d: %w", p.Topic(), p.ID(), err)
			}
			if next <= off {
				break
			}
			off = next
		}
		if found || from == start {
			return best, found, nil
		}
		end = from
		window *= 8
	}
}

func logger(l *slog.Logger, b *commitlog.Broker) *slog.Logger {
	if l != nil {
		return l
	}
	return b.Logger()
}
