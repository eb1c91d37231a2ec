package commitlog_test

import (
	"context"
	"fmt"
	"github.com/commitlog-go/commitlog/internal/testenv"
	"maps"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/commitlog-go/commitlog"
	"github.com/commitlog-go/commitlog/consumer"
	"github.com/commitlog-go/commitlog/producer"
	"github.com/commitlog-go/commitlog/record"
	"github.com/commitlog-go/commitlog/vfs"
	"github.com/stretchr/testify/require"
)

type ackedRecord struct {
	topic     string
	partition int32
	offset    int64
	value     string
}

// powerCutRun is what one trial did before the power was cut.
type powerCutRun struct {
	mu      sync.Mutex
	acked   []ackedRecord                     // records whose send succeeded
	sent    map[string]bool                   // every value sent
	commits map[consumer.TopicPartition]int64 // acknowledged commits of group "g"
	seen    map[[2]int64]string               // partition, offset -> value: every record group "g" processed
	topics  map[string]int32                  // topics as the last admin change that returned left them
}

func (r *powerCutRun) snapshot() ([]ackedRecord, map[consumer.TopicPartition]int64, map[[2]int64]string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.acked), maps.Clone(r.commits), maps.Clone(r.seen)
}

// TestPowerCut runs producers, a committing consumer group and topic
// changes against a broker on vfs.MemFS, cuts the power at a random
// moment and reopens what the cut left. With durable settings (acks=all
// and fsync) every acknowledged record, commit and topic change
// survives, and every record the group processed survives too (durable
// records only become visible once fsynced); with the default settings
// (no fsync) only topic changes and commits are promised, and the group
// may have processed records the cut took back. Either way Open succeeds,
// every record it serves is one that was sent, at dense offsets, nothing
// else is lost, and the group never resumes past a record it did not
// process: its committed offset is at most the log end (a commit beyond it
// is clamped there at load), and every record below it was processed.
//
// COMMITLOG_POWERCUT_TRIALS sets the number of trials (default 40).
func TestPowerCut(t *testing.T) {
	n := testenv.Int(t, "COMMITLOG_POWERCUT_TRIALS", 40)
	for trial := range n {
		durable := trial%2 == 0
		t.Run(fmt.Sprintf("trial%d-durable=%v", trial, durable), func(t *testing.T) {
			powerCutTrial(t, uint64(trial), durable)
		})
	}
}

func powerCutTrial(t *testing.T, seed uint64, durable bool) {
	rng := rand.New(rand.NewPCG(11, seed))
	m := vfs.NewMem()
	b, err := commitlog.Open("/data", commitlog.WithFS(m), commitlog.WithoutExpvar(), commitlog.WithMaintenanceInterval(3*time.Millisecond))
	require.NoError(t, err)
	small := commitlog.TopicConfig{SegmentBytes: int64(2<<10 + rng.IntN(6<<10)), IndexIntervalBytes: new(256), Retention: new(time.Duration(-1))}
	main := small
	main.Partitions = 3
	if seed%3 == 0 {
		main.RetentionBytes = new(int64(16 << 10)) // retention runs (and records the log start) while the power goes
	}
	_, err = b.CreateTopic("events", main)
	require.NoError(t, err)
	run := &powerCutRun{sent: map[string]bool{}, commits: map[consumer.TopicPartition]int64{}, seen: map[[2]int64]string{}, topics: map[string]int32{"events": 3}}

	pcfg := producer.Config{Acks: new(producer.AcksAll), Fsync: durable, Linger: new(time.Duration(rng.IntN(2)) * time.Millisecond)}
	prod, err := producer.New(b, pcfg)
	require.NoError(t, err)
	cons, err := consumer.New(b, consumer.Config{GroupID: "g", AutoOffsetReset: consumer.ResetEarliest, EnableAutoCommit: new(false)})
	require.NoError(t, err)
	require.NoError(t, cons.Subscribe([]string{"events"}, nil))

	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for s := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ctx.Err() == nil && i < 5000; i++ {
				value := fmt.Sprintf("events/%d/%d/%s", s, i, strings.Repeat("v", i%50))
				run.mu.Lock()
				run.sent[value] = true
				run.mu.Unlock()
				md, err := prod.SendSync(ctx, &producer.Record{Topic: "events", Key: []byte(strconv.Itoa(i % 17)), Value: []byte(value)})
				if err != nil {
					return
				}
				run.mu.Lock()
				run.acked = append(run.acked, ackedRecord{"events", md.Partition, md.Offset, value})
				run.mu.Unlock()
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for ctx.Err() == nil {
			pctx, pcancel := context.WithTimeout(ctx, 20*time.Millisecond)
			recs, err := cons.Poll(pctx)
			pcancel()
			if err != nil && ctx.Err() != nil {
				return
			}
			if len(recs) == 0 {
				continue
			}
			run.mu.Lock()
			for _, r := range recs {
				run.seen[[2]int64{int64(r.Partition), r.Offset}] = string(r.Value)
			}
			run.mu.Unlock()
			if err := cons.CommitSync(ctx, nil); err != nil {
				continue
			}
			run.mu.Lock()
			for _, tp := range cons.Assignment() {
				if pos, err := cons.Position(tp); err == nil {
					run.commits[tp] = max(run.commits[tp], pos)
				}
			}
			run.mu.Unlock()
		}
	}()

	// Topic changes in this goroutine, until the cut.
	deadline := time.Now().Add(time.Duration(5+rng.IntN(60)) * time.Millisecond)
	for k := 0; time.Now().Before(deadline); k++ {
		name := fmt.Sprintf("admin%d", rng.IntN(3))
		run.mu.Lock()
		parts, exists := run.topics[name]
		run.mu.Unlock()
		switch {
		case !exists:
			cfg := small
			cfg.Partitions = int32(1 + rng.IntN(2))
			if _, err := b.CreateTopic(name, cfg); err == nil {
				run.mu.Lock()
				run.topics[name] = cfg.Partitions
				run.mu.Unlock()
			}
		case rng.IntN(2) == 0:
			if err := b.AddPartitions(name, parts+1); err == nil {
				run.mu.Lock()
				run.topics[name] = parts + 1
				run.mu.Unlock()
			}
		default:
			if err := b.DeleteTopic(name); err == nil {
				run.mu.Lock()
				delete(run.topics, name)
				run.mu.Unlock()
			}
		}
		time.Sleep(time.Millisecond)
	}

	// The cut: what was acknowledged before it must be there after it.
	acked, commits, seen := run.snapshot()
	run.mu.Lock()
	topics := map[string]int32{}
	for k, v := range run.topics {
		topics[k] = v
	}
	run.mu.Unlock()
	var crashRand *rand.Rand
	if seed%4 >= 2 {
		crashRand = rng // some unsynced pages reach the disk too
	}
	after := m.Crash(crashRand)
	cancel()
	wg.Wait()
	_ = cons.Close(context.Background())
	_ = prod.Close(context.Background())
	_ = b.Close()
	// Everything the group processed, also between the snapshot and the
	// cut (commits made then survive): what a commit can cover.
	run.mu.Lock()
	processed := maps.Clone(run.seen)
	run.mu.Unlock()

	b2, err := commitlog.Open("/data", commitlog.WithFS(after), commitlog.WithoutExpvar())
	require.NoError(t, err, "Open after the power cut")
	defer b2.Close()

	got := map[string]int32{}
	for _, name := range b2.Topics() {
		if commitlog.IsInternalTopic(name) {
			continue
		}
		tp, err := b2.Topic(name)
		require.NoError(t, err)
		got[name] = tp.NumPartitions()
	}
	require.Equal(t, topics, got, "every acknowledged topic change survives, and nothing else")

	// Every record served is one that was sent, at dense offsets.
	served := map[[2]int64]string{} // partition, offset -> value
	starts := map[int32]int64{}     // partition -> log start offset
	tp, err := b2.Topic("events")
	require.NoError(t, err)
	for _, p := range tp.Partitions() {
		next := p.LogStartOffset()
		starts[p.ID()] = next
		for next < p.HighWatermark() {
			data, err := p.Read(nil, next, 1<<20)
			require.NoError(t, err)
			require.NotEmpty(t, data)
			require.NoError(t, record.Batches(data, func(h *record.BatchHeader, raw []byte) error {
				_, recs, err := record.Decode(raw)
				if err != nil {
					return err
				}
				for _, r := range recs {
					if r.Offset < next {
						continue
					}
					require.Equal(t, next, r.Offset, "offsets are dense")
					require.True(t, run.sent[string(r.Value)], "partition %d offset %d holds %q, never sent", p.ID(), r.Offset, r.Value)
					served[[2]int64{int64(p.ID()), r.Offset}] = string(r.Value)
					next++
				}
				return nil
			}))
		}
	}
	if durable {
		for _, a := range acked {
			if a.offset < starts[a.partition] {
				continue // removed by retention
			}
			require.Equal(t, a.value, served[[2]int64{int64(a.partition), a.offset}], "acknowledged record %s-%d@%d lost or changed", a.topic, a.partition, a.offset)
		}
	}

	if durable {
		// A consumer saw only durable records: the cut took back none of
		// them.
		for k, v := range seen {
			if k[1] < starts[int32(k[0])] {
				continue // removed by retention
			}
			require.Equal(t, v, served[k], "the group processed events-%d@%d, which the power cut took back", k[0], k[1])
		}
	}

	// Acknowledged commits survive (they are fsynced in every mode), except
	// that a commit beyond its partition's recovered log end (past records
	// the cut took back) is clamped to the log end.
	c2, err := consumer.New(b2, consumer.Config{GroupID: "g", EnableAutoCommit: new(false)})
	require.NoError(t, err)
	defer c2.Close(context.Background())
	var tps []consumer.TopicPartition
	for _, p := range tp.Partitions() {
		tps = append(tps, consumer.TopicPartition{Topic: "events", Partition: p.ID()})
	}
	committed, err := c2.Committed(context.Background(), tps)
	require.NoError(t, err)
	var clamped int64
	for _, g := range b2.Stats().Groups {
		if g.Group == "g" {
			clamped = g.ClampedCommits
		}
	}
	t.Logf("acked %d records, %d commits, %d topics; processed %d, served %d records; %d commits clamped", len(acked), len(commits), len(topics), len(seen), len(served), clamped)
	if durable {
		require.Zero(t, clamped, "with durable visibility no commit lies beyond the log end")
	}
	for _, p := range tp.Partitions() {
		ctp := consumer.TopicPartition{Topic: "events", Partition: p.ID()}
		end := p.LogEndOffset()
		if off, ok := commits[ctp]; ok {
			require.GreaterOrEqual(t, committed[ctp].Offset, min(off, end), "acknowledged commit of %v lost", ctp)
		}
		om, ok := committed[ctp]
		if !ok {
			continue
		}
		// Never resume past a record not processed: the commit is at most
		// the log end (the next record appended is consumed), and every
		// record below it was processed by the group, as it is now.
		require.LessOrEqual(t, om.Offset, end, "group g resumes at %d on %v, beyond the log end", om.Offset, ctp)
		for off := starts[p.ID()]; off < om.Offset; off++ {
			k := [2]int64{int64(p.ID()), off}
			require.Equal(t, served[k], processed[k], "group g resumes at %d on %v but never processed the record at %d", om.Offset, ctp, off)
		}
	}
}
