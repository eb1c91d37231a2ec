package commitlog

import (
	"context"
	"errors"
	"time"

	"github.com/commitlog-go/commitlog/log"
)

// DefaultCleanerInterval is Kafka's log.cleaner.backoff.ms: how long the
// log cleaner sleeps when no partition needs cleaning.
const DefaultCleanerInterval = 15 * time.Second

// cleanerOptions are the broker-wide settings of the log cleaner.
type cleanerOptions struct {
	interval         time.Duration // 0: DefaultCleanerInterval; negative: no cleaner
	ioBytesPerSecond float64       // <= 0: unlimited
	dedupeBufferSize int64         // 0: log.DefaultDedupeBufferSize
}

// WithCleanerInterval sets how long the log cleaner sleeps when no
// partition of a compacted topic needs cleaning (Kafka's
// log.cleaner.backoff.ms, default 15 s). A negative interval turns the
// cleaner off (log.cleaner.enable=false); partitions can still be
// compacted by hand with log.Log.Compact.
func WithCleanerInterval(d time.Duration) Option {
	return func(o *options) { o.cleaner.interval = d }
}

// WithCleanerIOMaxBytesPerSecond throttles the log cleaner so that the
// bytes it reads and writes stay below this rate on average (Kafka's
// log.cleaner.io.max.bytes.per.second; default unlimited).
func WithCleanerIOMaxBytesPerSecond(bytesPerSecond float64) Option {
	return func(o *options) { o.cleaner.ioBytesPerSecond = bytesPerSecond }
}

// WithCleanerDedupeBufferSize sets the memory of the cleaner's offset map
// (Kafka's log.cleaner.dedupe.buffer.size, default 128 MiB, about 7.5
// million distinct keys per pass). A partition with more dirty keys is
// cleaned over several passes.
func WithCleanerDedupeBufferSize(bytes int64) Option {
	return func(o *options) { o.cleaner.dedupeBufferSize = bytes }
}

// startCleaner starts the log cleaner: one goroutine per broker that
// compacts the partitions of topics whose cleanup.policy includes compact.
// Close stops it (it watches b.stop and is counted in b.wg).
func (b *Broker) startCleaner() {
	if b.opts.cleaner.interval < 0 {
		return
	}
	b.wg.Add(1)
	go b.runCleaner()
}

func (b *Broker) runCleaner() {
	defer b.wg.Done()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-b.stop:
			cancel() // stops a pass in flight at its next batch
		case <-ctx.Done():
		}
	}()
	o := b.opts.cleaner
	interval := o.interval
	if interval == 0 {
		interval = DefaultCleanerInterval
	}
	c := log.NewCleaner(log.CleanerConfig{DedupeBufferSize: o.dedupeBufferSize, IOMaxBytesPerSecond: o.ioBytesPerSecond})
	timer := time.NewTimer(interval)
	defer timer.Stop()
	for {
		select {
		case <-b.stop:
			return
		case <-timer.C:
		}
		b.cleanRound(ctx, c)
		timer.Reset(interval)
	}
}

// cleanRound cleans, one after the other, the partitions that need it,
// the dirtiest first (Kafka's "filthiest log"), each at most once, until
// none is left; then the cleaner sleeps for its interval.
func (b *Broker) cleanRound(ctx context.Context, c *log.Cleaner) {
	done := map[*log.Log]bool{}
	for ctx.Err() == nil {
		var best *Partition
		var bestState log.CleanerState
		for _, t := range *b.topics.Load() {
			if t.deleted.Load() || !t.Compacted() {
				continue
			}
			for _, p := range t.Partitions() {
				l := p.log
				if done[l] {
					continue
				}
				st := l.CleanerState()
				if st.NeedsCleaning && (best == nil || st.DirtyRatio > bestState.DirtyRatio) {
					best, bestState = p, st
				}
			}
		}
		if best == nil {
			return
		}
		l := best.log
		done[l] = true
		res, err := c.Clean(ctx, l)
		logger := b.opts.logger.With("topic", best.Topic(), "partition", best.ID())
		switch {
		case ctx.Err() != nil:
			return
		case errors.Is(err, ErrClosed):
			// Closed or deleted meanwhile.
		case err != nil:
			logger.Error("log cleaner failed", "err", err)
		default:
			mbps := 0.0
			if s := res.Duration.Seconds(); s > 0 {
				mbps = float64(res.BytesRead) / s / 1e6
			}
			logger.Info("cleaned log", "dirty_ratio", bestState.DirtyRatio,
				"first_dirty_offset", res.FirstDirtyOffset, "end_offset", res.EndOffset, "map_full", res.MapFull,
				"keys", res.KeysMapped, "segments_before", res.SegmentsBefore, "segments_after", res.SegmentsAfter,
				"bytes_before", res.BytesBefore, "bytes_after", res.BytesAfter,
				"records_before", res.RecordsBefore, "records_after", res.RecordsAfter,
				"tombstones_removed", res.TombstonesRemoved, "duration", res.Duration, "read_mb_per_s", mbps)
		}
	}
}
