//go:build unix

package commitlog_test

// The two-process test is Unix only: it relies on a file another process
// holds open being renamed and removed under it (retention, compaction
// swaps), which Windows allows only with share modes this test does not
// control.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/commitlog-go/commitlog"
	"github.com/commitlog-go/commitlog/admin"
	"github.com/commitlog-go/commitlog/consumer"
	"github.com/commitlog-go/commitlog/record"
)

const ownerEnv = "COMMITLOG_READONLY_OWNER" // "<data dir>|<stop file>|<result file>"

func TestMain(m *testing.M) {
	if spec := os.Getenv(ownerEnv); spec != "" {
		os.Exit(runOwner(spec))
	}
	os.Exit(m.Run())
}

// ownerResult is what the owner process leaves when it stops.
type ownerResult struct {
	EventsEnd, KeyedEnd int64
}

// runOwner is the owner process: it writes until the stop file appears.
// Records of "events" have the value "e-<offset>", those of "keyed" the
// value "<offset>" under one of 37 keys; the keyed topic rolls and is
// compacted every 200 records, "events" loses segments to retention, and
// group "g" commits every 100 records.
func runOwner(spec string) int {
	parts := strings.Split(spec, "|")
	dir, stop, result := parts[0], parts[1], parts[2]
	fail := func(err error) int { fmt.Fprintln(os.Stderr, "owner:", err); return 2 }
	b, err := commitlog.Open(dir, commitlog.WithoutExpvar(), commitlog.WithMaintenanceInterval(10*time.Millisecond), commitlog.WithCleanerInterval(-1))
	if err != nil {
		return fail(err)
	}
	ev, err := b.CreateTopic("events", commitlog.TopicConfig{SegmentBytes: 8 << 10, RetentionBytes: new(int64(64 << 10))})
	if err != nil {
		return fail(err)
	}
	kt, err := b.CreateTopic("keyed", commitlog.TopicConfig{SegmentBytes: 4 << 10, CleanupPolicy: commitlog.CleanupCompact})
	if err != nil {
		return fail(err)
	}
	coord, err := consumer.CoordinatorFor(b)
	if err != nil {
		return fail(err)
	}
	ep, kp := ev.Partitions()[0], kt.Partitions()[0]
	appendOne := func(p *commitlog.Partition, key, value string) error {
		bb := record.NewBuilder(0, record.BatchOptions{})
		var k []byte
		if key != "" {
			k = []byte(key)
		}
		bb.Add(time.Now().UnixMilli(), k, []byte(value), nil)
		raw, err := bb.Build()
		if err != nil {
			return err
		}
		_, err = p.Append(raw, false)
		return err
	}
	for i := 0; i < 500_000; i++ {
		if i%50 == 0 {
			if _, err := os.Stat(stop); err == nil {
				break
			}
			time.Sleep(200 * time.Microsecond)
		}
		if err := appendOne(ep, "", "e-"+strconv.FormatInt(ep.LogEndOffset(), 10)); err != nil {
			return fail(err)
		}
		if i%5 == 0 {
			if err := appendOne(kp, "k-"+strconv.Itoa(i%37), strconv.FormatInt(kp.LogEndOffset(), 10)); err != nil {
				return fail(err)
			}
		}
		if i%1000 == 999 {
			if err := kp.Roll(); err != nil {
				return fail(err)
			}
			if _, err := kp.Compact(); err != nil {
				return fail(err)
			}
		}
		if i%100 == 99 {
			if err := coord.ResetOffsets("g", map[consumer.TopicPartition]consumer.OffsetAndMetadata{{Topic: "events", Partition: 0}: {Offset: ep.LogEndOffset()}}); err != nil {
				return fail(err)
			}
		}
	}
	res, _ := json.Marshal(ownerResult{EventsEnd: ep.LogEndOffset(), KeyedEnd: kp.LogEndOffset()})
	if err := b.Close(); err != nil {
		return fail(err)
	}
	if err := os.WriteFile(result, res, 0o644); err != nil {
		return fail(err)
	}
	return 0
}

// TestReadOnlyTwoProcesses runs the owner in a second process (this test
// binary again) writing under load, and tails its directory read-only.
func TestReadOnlyTwoProcesses(t *testing.T) {
	dir, side := t.TempDir(), t.TempDir()
	stop, result := filepath.Join(side, "stop"), filepath.Join(side, "result")
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), ownerEnv+"="+dir+"|"+stop+"|"+result)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	require.NoError(t, cmd.Start())
	exited := false
	t.Cleanup(func() {
		if !exited {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	// The owner creates its topics soon; until then the directory is empty.
	var ro *commitlog.Broker
	require.Eventually(t, func() bool {
		if ro == nil {
			b, err := commitlog.OpenReadOnly(dir, commitlog.WithRefreshInterval(10*time.Millisecond))
			if err != nil {
				return false
			}
			ro = b
		}
		_, e1 := ro.Topic("events")
		_, e2 := ro.Topic("keyed")
		return e1 == nil && e2 == nil
	}, 30*time.Second, 10*time.Millisecond, "owner stderr: %s", &stderr)
	defer ro.Close()
	ev := mustTopicPartition(t, ro, "events")
	keyed := mustTopicPartition(t, ro, "keyed")

	// Tail "events" through the partition: every batch passes its CRC,
	// offsets follow one another except where retention moved the start
	// past the reader, and every value is the owner's.
	next, jumps, seenStart := int64(0), 0, int64(0)
	var buf []byte
	tail := func(until int64) {
		for next < until {
			var err error
			buf, err = ev.Read(buf, next, 256<<10)
			if errors.Is(err, commitlog.ErrOffsetOutOfRange) && next < ev.LogStartOffset() {
				next, jumps = ev.LogStartOffset(), jumps+1
				continue
			}
			require.NoError(t, err)
			if len(buf) == 0 {
				wctx, wcancel := context.WithTimeout(ctx, time.Second)
				_ = ev.Wait(wctx, next)
				wcancel()
				require.NoError(t, ctx.Err(), "no new records; owner stderr: %s", &stderr)
				continue
			}
			for data := buf; len(data) > 0; {
				h, err := record.ParseHeader(data)
				require.NoError(t, err)
				_, err = record.Check(data[:h.Size()])
				require.NoError(t, err)
				it, err := record.NewIterator(data[:h.Size()])
				require.NoError(t, err)
				for it.Next() {
					r := it.Record()
					if r.Offset < next {
						continue
					}
					require.Equal(t, next, r.Offset)
					require.Equal(t, "e-"+strconv.FormatInt(r.Offset, 10), string(r.Value))
					next++
				}
				require.NoError(t, it.Err())
				data = data[h.Size():]
			}
			seenStart = max(seenStart, ev.LogStartOffset())
		}
	}
	// Tail "keyed" with a consumer (long polls) meanwhile.
	cons, err := consumer.New(ro, consumer.Config{AutoOffsetReset: "earliest", FetchMaxWait: new(time.Second)})
	require.NoError(t, err)
	defer cons.Close(context.Background())
	require.NoError(t, cons.Assign([]consumer.TopicPartition{{Topic: "keyed", Partition: 0}}))
	keyedNext := int64(-1)
	pollKeyed := func() {
		recs, err := cons.Poll(ctx)
		require.NoError(t, err)
		for _, r := range recs {
			require.Greater(t, r.Offset, keyedNext)
			require.Equal(t, strconv.FormatInt(r.Offset, 10), string(r.Value))
			keyedNext = r.Offset
		}
	}
	adm, err := admin.New(ro)
	require.NoError(t, err)
	var lastCommitted int64
	for target := int64(2000); target <= 12000; target += 2000 {
		tail(target)
		pollKeyed()
		committed, err := adm.CommittedOffsets(ctx, "g")
		require.NoError(t, err)
		c := committed[consumer.TopicPartition{Topic: "events", Partition: 0}].Offset
		require.GreaterOrEqual(t, c, lastCommitted)
		lastCommitted = c
	}
	require.Positive(t, seenStart, "retention removed segments under the reader")
	require.Positive(t, lastCommitted, "the owner's commits are seen")

	// Stop the owner; the reader catches up with its last records.
	require.NoError(t, os.WriteFile(stop, nil, 0o644))
	require.NoError(t, cmd.Wait(), "owner stderr: %s", &stderr)
	exited = true
	raw, err := os.ReadFile(result)
	require.NoError(t, err)
	var res ownerResult
	require.NoError(t, json.Unmarshal(raw, &res))
	tail(res.EventsEnd)
	require.Equal(t, res.EventsEnd, ev.HighWatermark())
	require.Eventually(t, func() bool { return keyed.HighWatermark() == res.KeyedEnd }, 30*time.Second, 10*time.Millisecond)
	values := readValues(t, keyed)
	for off, v := range values {
		require.Equal(t, strconv.FormatInt(off, 10), v)
	}
	gaps := res.KeyedEnd - keyed.LogStartOffset() - int64(len(values))
	require.Positive(t, gaps, "compaction removed records under the reader")
	require.NoError(t, ro.Close())

	// On the stopped owner's directory, a reader changes no file.
	before := snapshotDir(t, dir)
	ro2, err := commitlog.OpenReadOnly(dir)
	require.NoError(t, err)
	require.Len(t, readValues(t, mustTopicPartition(t, ro2, "events")), int(res.EventsEnd-mustTopicPartition(t, ro2, "events").LogStartOffset()))
	adm2, err := admin.New(ro2)
	require.NoError(t, err)
	groups, err := adm2.ListGroups(ctx)
	require.NoError(t, err)
	require.Equal(t, []string{"g"}, groups)
	require.NoError(t, ro2.Refresh())
	require.NoError(t, ro2.Close())
	require.Equal(t, before, snapshotDir(t, dir))
}
