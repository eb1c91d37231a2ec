package commitlog

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"github.com/commitlog-go/commitlog/internal/testenv"
	"io/fs"
	"maps"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/commitlog-go/commitlog/log"
	"github.com/commitlog-go/commitlog/record"
	"github.com/commitlog-go/commitlog/segment"
	"github.com/stretchr/testify/require"
)

// TestCorruption is a seeded corruption test. It builds a real broker
// directory once (a delete-policy topic with sealed segments, a compacted
// topic compacted once, committed offsets in __consumer_offsets), keeps it
// as closed cleanly and as a crash leaves it, and in every trial copies one
// of the two, damages one file at random (flips a byte, zeroes a range,
// truncates, deletes, or shifts a batch's base offset), Opens the copy,
// reads every partition from its log start offset to its high watermark,
// compacts the compacted partitions, and classifies the outcome.
//
// Allowed: a clear error at Open (wrapping ErrCorrupt, or an I/O error
// naming a file); a clear error at a read or a compaction (wrapping
// ErrCorrupt); or data served, every record with exactly the offset, key,
// value and timestamp written at that offset, missing records only at the
// head (the log start moved) or the tail of what the undamaged directory
// serves, and all of it when only derived or unused data was damaged (an
// index, a time index, the clean-shutdown marker, the cleaner checkpoint,
// meta.json.prev). Never: a panic, a hang, a read that makes no progress
// below the high watermark, a record that differs from what was written,
// records missing between records served, a partition directory or segment
// file gone, a file outside the data directory touched, a compaction that
// drops the latest record of a key.
//
//	go test -run TestCorruption -count=1 -v .
//	COMMITLOG_CORRUPTION_TRIALS=3000   more trials
//	COMMITLOG_CORRUPTION_SEED=7        another seed
//	COMMITLOG_CORRUPTION_TRIAL=123     replay one trial of the seed
//	COMMITLOG_CORRUPTION_REPORTS=1000  print more forbidden outcomes in full
func TestCorruption(t *testing.T) {
	trials := testenv.Int(t, "COMMITLOG_CORRUPTION_TRIALS", corruptionDefaultTrials)
	seed := uint64(testenv.Int(t, "COMMITLOG_CORRUPTION_SEED", corruptionDefaultSeed))
	only := testenv.Int(t, "COMMITLOG_CORRUPTION_TRIAL", -1)
	maxReports := testenv.Int(t, "COMMITLOG_CORRUPTION_REPORTS", corruptionMaxReports)

	began := time.Now()
	fx := buildCorruptFixture(t)
	t.Logf("fixture built in %v: %d files", time.Since(began).Round(time.Millisecond), len(fx.clean.files))

	// The undamaged copies serve everything: the baseline the trials
	// compare with.
	for _, clean := range []bool{true, false} {
		res, err := runCorruptTrial(fx, clean, nil, filepath.Join(t.TempDir(), "baseline"))
		require.NoError(t, err)
		require.Empty(t, res.forbidden, "undamaged directory (clean=%v)", clean)
		require.Equal(t, "opened, all served", res.class(), "undamaged directory (clean=%v): open %v, read %v", clean, res.openErr, res.readErr)
	}

	type job struct {
		trial int
		clean bool
		dmg   damage
	}
	var jobs []job
	first, end := 0, trials
	if only >= 0 {
		first, end = only, only+1
	}
	for trial := first; trial < end; trial++ {
		rng := rand.New(rand.NewPCG(seed, uint64(trial)))
		clean := trial%2 == 0
		tmpl := fx.unclean
		if clean {
			tmpl = fx.clean
		}
		jobs = append(jobs, job{trial, clean, chooseDamage(rng, tmpl)})
	}
	results := make([]trialResult, len(jobs))
	setupErrs := make([]error, len(jobs))
	work := t.TempDir()
	var next, hangs atomic.Int64
	var wg sync.WaitGroup
	for range corruptionWorkers {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= len(jobs) || hangs.Load() >= corruptionMaxHangs {
					return
				}
				j := jobs[i]
				root := filepath.Join(work, strconv.Itoa(j.trial))
				results[i], setupErrs[i] = runCorruptTrial(fx, j.clean, &j.dmg, root)
				if results[i].hang {
					hangs.Add(1)
				}
				_ = os.RemoveAll(root)
			}
		})
	}
	wg.Wait()

	st := newCorruptStats()
	reported, undetectable := 0, 0
	for i, j := range jobs {
		require.NoError(t, setupErrs[i], "trial %d", j.trial)
		res := results[i]
		if !res.ran {
			continue // stopped after too many hangs
		}
		if j.dmg.undetectable && len(res.forbidden) > 0 {
			undetectable++
			res.forbidden = nil
		}
		st.add(j.trial, j.clean, j.dmg, res)
		for _, f := range res.forbidden {
			if reported < maxReports {
				t.Errorf("FORBIDDEN (%s) seed=%d trial=%d clean=%v damage=[%s]: %s\n\treplay: COMMITLOG_CORRUPTION_SEED=%d COMMITLOG_CORRUPTION_TRIAL=%d go test -run TestCorruption -count=1 -v .",
					f.kind, seed, j.trial, j.clean, j.dmg, f.msg, seed, j.trial)
			}
			reported++
		}
		if only >= 0 {
			t.Logf("trial %d clean=%v damage=[%s]: %s (open: %v; read: %v; compact: %v; %s)",
				j.trial, j.clean, j.dmg, res.class(), res.openErr, res.readErr, res.compactErr, strings.Join(res.lost, "; "))
		}
	}
	if reported > maxReports {
		t.Errorf("%d more forbidden outcomes not printed (COMMITLOG_CORRUPTION_REPORTS sets how many are)", reported-maxReports)
	}
	if h := hangs.Load(); h >= corruptionMaxHangs {
		t.Errorf("stopped after %d hangs", h)
	}
	t.Logf("seed=%d trials=%d in %v: %s; undetectable base-offset moves inside compaction gaps %d", seed, st.trials, time.Since(began).Round(time.Millisecond), st.summary(), undetectable)
	for _, line := range st.details() {
		t.Log(line)
	}
}

const (
	corruptionDefaultTrials = 200
	corruptionDefaultSeed   = 0x5eed_c0de
	corruptionDeadline      = 20 * time.Second // for Open, the reads and the compactions of one trial: a hang
	corruptionMaxHangs      = 3                // then the test stops: hung goroutines keep running
	corruptionMaxReports    = 60               // forbidden outcomes printed in full
	// Trials run on a few goroutines: their cost is mostly waiting on
	// file creation and fsync, and each trial's outcome depends only on
	// the seed and its number.
	corruptionWorkers = 4
)

// Topics of the fixture.
const (
	corruptEvents = "events" // delete policy, 3 partitions, small segments
	corruptState  = "state"  // compacted, 2 partitions, compacted once
)

type corruptTP struct {
	topic string
	part  int32
}

func (tp corruptTP) String() string { return fmt.Sprintf("%s-%d", tp.topic, tp.part) }

// writtenRec is a record as appended.
type writtenRec struct {
	key, value []byte
	ts         int64
}

// servedRec is a record as read back.
type servedRec struct {
	offset     int64
	key, value []byte
	ts         int64
}

// corruptFixture is the undamaged broker directory and what it holds.
type corruptFixture struct {
	clean   *dirTemplate // after a clean Close
	unclean *dirTemplate // as a crash leaves it: taken while the broker was open, after a Sync
	parts   []corruptTP
	// compacted topics: offsets may have gaps.
	compacted map[string]bool
	written   map[corruptTP]map[int64]writtenRec // every record appended, by offset
	served    map[corruptTP][]servedRec          // what the undamaged directory serves
}

// buildCorruptFixture builds the broker directory: a delete-policy topic
// with several sealed segments per partition, a compacted topic compacted
// once (with tombstones), and committed offsets in __consumer_offsets. It
// snapshots the directory while the broker is open (after a Sync: what a
// crash leaves) and after a clean Close.
func buildCorruptFixture(t *testing.T) *corruptFixture {
	dir := t.TempDir()
	fx := &corruptFixture{
		compacted: map[string]bool{corruptState: true, OffsetsTopic: true},
		written:   map[corruptTP]map[int64]writtenRec{},
		served:    map[corruptTP][]servedRec{},
	}
	b, err := Open(dir, WithoutExpvar(), WithMaintenanceInterval(0), WithCleanerInterval(-1))
	require.NoError(t, err)
	defer func() { _ = b.Close() }()
	rng := rand.New(rand.NewPCG(1, 2))

	events, err := b.CreateTopic(corruptEvents, TopicConfig{Partitions: 3, SegmentBytes: 4 << 10,
		IndexIntervalBytes: new(256), SegmentIndexBytes: 4 << 10, Retention: new(time.Duration(-1))})
	require.NoError(t, err)
	state, err := b.CreateTopic(corruptState, TopicConfig{Partitions: 2, SegmentBytes: 4 << 10,
		IndexIntervalBytes: new(256), SegmentIndexBytes: 4 << 10, Retention: new(time.Duration(-1)), CleanupPolicy: CleanupCompact})
	require.NoError(t, err)
	offsets, err := b.OffsetsTopic(1)
	require.NoError(t, err)

	appendRecs := func(p *Partition, recs []writtenRec) {
		bl := record.NewBuilder(0, record.BatchOptions{})
		for _, r := range recs {
			bl.Add(r.ts, r.key, r.value, nil)
		}
		raw, err := bl.Build()
		require.NoError(t, err)
		info, err := p.Append(append([]byte(nil), raw...), false)
		require.NoError(t, err)
		tp := corruptTP{p.Topic(), p.ID()}
		if fx.written[tp] == nil {
			fx.written[tp] = map[int64]writtenRec{}
		}
		for i, r := range recs {
			fx.written[tp][info.BaseOffset+int64(i)] = r
		}
	}
	value := func(tag string) []byte {
		v := make([]byte, 10+rng.IntN(150))
		for i := range v {
			v[i] = byte('a' + rng.IntN(26))
		}
		return append([]byte(tag+":"), v...)
	}
	ts := int64(1_700_000_000_000)
	for _, p := range events.Partitions() {
		for batch := 0; batch < 22; batch++ {
			var recs []writtenRec
			for i := 0; i < 1+rng.IntN(8); i++ {
				var key []byte
				if rng.IntN(3) > 0 {
					key = fmt.Appendf(nil, "user-%d", rng.IntN(1000))
				}
				ts += int64(rng.IntN(50))
				recs = append(recs, writtenRec{key, value(fmt.Sprintf("e%d.%d.%d", p.ID(), batch, i)), ts})
			}
			appendRecs(p, recs)
		}
	}
	stateRound := func(p *Partition, round, batches int) {
		for batch := 0; batch < batches; batch++ {
			var recs []writtenRec
			for i := 0; i < 1+rng.IntN(6); i++ {
				ts += int64(rng.IntN(50))
				r := writtenRec{key: fmt.Appendf(nil, "key-%02d", rng.IntN(24)), ts: ts}
				if rng.IntN(10) > 0 { // else a tombstone
					r.value = value(fmt.Sprintf("s%d.%d.%d.%d", p.ID(), round, batch, i))
				}
				recs = append(recs, r)
			}
			appendRecs(p, recs)
		}
	}
	for _, p := range state.Partitions() {
		stateRound(p, 0, 24)
		res, err := p.log.Compact()
		require.NoError(t, err)
		require.Greater(t, res.RecordsBefore, res.RecordsAfter, "compaction removed records of %s-%d", p.Topic(), p.ID())
		stateRound(p, 1, 12)
	}
	// Committed offsets, in Kafka's layout (key v1, value v3), as the
	// consumer package writes them.
	for i := 0; i < 8; i++ {
		var recs []writtenRec
		for part := int32(0); part < 3; part++ {
			ts += 10
			recs = append(recs, writtenRec{
				key:   corruptOffsetKey(fmt.Sprintf("group-%d", i%3), corruptEvents, part),
				value: corruptOffsetValue(int64(i*10)+int64(part), fmt.Sprintf("md-%d", i), ts),
				ts:    ts,
			})
		}
		appendRecs(offsets.Partitions()[0], recs)
	}

	for _, name := range []string{corruptEvents, corruptState, OffsetsTopic} {
		for _, p := range mustTopic(t, b, name).Partitions() {
			key := corruptTP{name, p.ID()}
			fx.parts = append(fx.parts, key)
			require.NoError(t, p.SyncTo(p.LogEndOffset()))
			recs, err := corruptReadAll(p)
			require.NoError(t, err, "%s", key)
			fx.served[key] = recs
			if name == corruptEvents {
				require.Greater(t, p.log.NumSegments(), 2, "%s has sealed segments", key)
				require.Len(t, recs, len(fx.written[key]))
			}
		}
	}
	for id := range int32(2) {
		tp := corruptTP{corruptState, id}
		require.Less(t, len(fx.served[tp]), len(fx.written[tp]), "compaction removed records of %s", tp)
	}

	// What a crash leaves: the files as they are now, no shutdown marker.
	fx.unclean, err = loadTemplate(dir)
	require.NoError(t, err)
	require.NoError(t, b.Close())
	fx.clean, err = loadTemplate(dir)
	require.NoError(t, err)
	return fx
}

// corruptOffsetKey is consumer's encodeOffsetKey: Kafka's OffsetCommitKey
// v1 (version int16, group string, topic string, partition int32).
func corruptOffsetKey(group, topic string, part int32) []byte {
	p := binary.BigEndian.AppendUint16(nil, 1)
	p = binary.BigEndian.AppendUint16(p, uint16(len(group)))
	p = append(p, group...)
	p = binary.BigEndian.AppendUint16(p, uint16(len(topic)))
	p = append(p, topic...)
	return binary.BigEndian.AppendUint32(p, uint32(part))
}

// corruptOffsetValue is consumer's encodeOffsetValue: OffsetCommitValue
// v3 (version, offset, leader epoch, metadata, commit timestamp).
func corruptOffsetValue(offset int64, md string, ts int64) []byte {
	p := binary.BigEndian.AppendUint16(nil, 3)
	p = binary.BigEndian.AppendUint64(p, uint64(offset))
	p = binary.BigEndian.AppendUint32(p, 0xffffffff)
	p = binary.BigEndian.AppendUint16(p, uint16(len(md)))
	p = append(p, md...)
	return binary.BigEndian.AppendUint64(p, uint64(ts))
}

// dirTemplate is a directory tree held in memory, to be written out once
// per trial.
type dirTemplate struct {
	dirs  []string // relative paths, parents first
	files []templateFile
}

type templateFile struct {
	rel  string
	data []byte
}

func loadTemplate(dir string) (*dirTemplate, error) {
	tm := &dirTemplate{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil || rel == "." {
			return err
		}
		if d.IsDir() {
			tm.dirs = append(tm.dirs, rel)
			return nil
		}
		data, err := os.ReadFile(path)
		tm.files = append(tm.files, templateFile{rel, data})
		return err
	})
	return tm, err
}

// writeTo writes the tree to dst. A file's run of trailing zero bytes (the
// preallocated part of an active segment's index) is not written but made
// by extending the file: it reads back the same, for less.
func (tm *dirTemplate) writeTo(dst string) error {
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return err
	}
	for _, d := range tm.dirs {
		if err := os.Mkdir(filepath.Join(dst, d), 0o755); err != nil {
			return err
		}
	}
	for _, f := range tm.files {
		path := filepath.Join(dst, f.rel)
		end := len(f.data)
		for end > 0 && f.data[end-1] == 0 {
			end--
		}
		if err := os.WriteFile(path, f.data[:end], 0o644); err != nil {
			return err
		}
		if end < len(f.data) {
			if err := os.Truncate(path, int64(len(f.data))); err != nil {
				return err
			}
		}
	}
	return nil
}

// corruptReadAll reads p from its log start offset to its high watermark
// as a consumer does (CRCs checked), returning the records with copies of
// their bytes. Records before the offset asked for (a batch may begin
// before it) are skipped. A read below the high watermark that makes no
// progress is an error wrapping errCorruptStall (a consumer would spin on
// it forever); batches that fail the consumer's checks, one wrapping
// errCorruptClient.
func corruptReadAll(p *Partition) ([]servedRec, error) {
	var out []servedRec
	next := p.LogStartOffset()
	for hw := p.HighWatermark(); next < hw; {
		data, err := p.Read(nil, next, 64<<10)
		if err != nil {
			return out, fmt.Errorf("read at %d: %w", next, err)
		}
		if len(data) == 0 {
			return out, fmt.Errorf("read at %d below the high watermark %d returned nothing: %w", next, hw, errCorruptStall)
		}
		before := next
		err = record.Batches(data, func(h *record.BatchHeader, b []byte) error {
			_, recs, err := record.Decode(b)
			if err != nil {
				return err
			}
			for _, r := range recs {
				if r.Offset < next {
					continue
				}
				out = append(out, servedRec{r.Offset, r.Key, r.Value, r.Timestamp})
				next = r.Offset + 1
			}
			next = max(next, h.NextOffset())
			return nil
		})
		if err != nil {
			return out, fmt.Errorf("batches read at %d: %w: %w", before, errCorruptClient, err)
		}
		if next <= before {
			return out, fmt.Errorf("read at %d below the high watermark %d returned only batches before it: %w", before, hw, errCorruptStall)
		}
	}
	return out, nil
}

var (
	// errCorruptStall: a read below the high watermark made no progress.
	errCorruptStall = errors.New("read makes no progress")
	// errCorruptClient: the read succeeded but the batches it returned
	// fail the consumer's checks (CRC, framing).
	errCorruptClient = errors.New("served batches fail the consumer's checks")
)

// Damage.

type damageKind string

const (
	dmgFlip     damageKind = "flip"
	dmgZero     damageKind = "zero"
	dmgTruncate damageKind = "truncate"
	dmgDelete   damageKind = "delete"
	dmgShift    damageKind = "shift-base-offset"
)

type damage struct {
	file   string // relative to the data directory
	kind   damageKind
	detail string
	// inert: the file is derived or unused data (an index, the
	// clean-shutdown marker, the cleaner checkpoint, meta.json.prev): if
	// Open succeeds, every record must still be served.
	inert bool
	// undetectable: a base offset moved inside a compacted segment to
	// offsets that compaction left empty, between the batches around it.
	// The CRC does not cover the base offset and no ordering rule is
	// broken, so no reader can tell (Kafka cannot either): such a trial is
	// counted, not failed.
	undetectable bool
	apply        func(path string) error
}

func (d damage) String() string {
	return strings.TrimSpace(fmt.Sprintf("%s %s %s", d.file, d.kind, d.detail))
}

// fileClass sorts the fixture's files into the classes damage is spread
// over, so that the few metadata files are hit as often as the many
// segment files. The lock file is not damaged.
func fileClass(rel string) string {
	name := filepath.Base(rel)
	switch {
	case name == metaFile, name == metaPrevFile:
		return name
	case name == log.CleanShutdownFile:
		return "marker"
	case name == log.CleanerCheckpointFile:
		return "checkpoint"
	case name == RecoveryPointCheckpointFile, name == LogStartOffsetCheckpointFile:
		return "offsets-checkpoint"
	case strings.HasSuffix(name, segment.LogSuffix):
		return "log"
	case strings.HasSuffix(name, segment.IndexSuffix):
		return "index"
	case strings.HasSuffix(name, segment.TimeIndexSuffix):
		return "timeindex"
	}
	return ""
}

var damageClassWeights = []struct {
	class  string
	weight int
}{
	{"log", 40}, {"index", 14}, {"timeindex", 14}, {metaFile, 10},
	{metaPrevFile, 5}, {"checkpoint", 7}, {"offsets-checkpoint", 8}, {"marker", 10},
}

// chooseDamage picks a file of tm and a damage for it.
func chooseDamage(rng *rand.Rand, tm *dirTemplate) damage {
	byClass := map[string][]templateFile{}
	for _, f := range tm.files {
		if c := fileClass(f.rel); c != "" {
			byClass[c] = append(byClass[c], f)
		}
	}
	total := 0
	for _, w := range damageClassWeights {
		if len(byClass[w.class]) > 0 {
			total += w.weight
		}
	}
	pick := rng.IntN(total)
	var files []templateFile
	for _, w := range damageClassWeights {
		if len(byClass[w.class]) == 0 {
			continue
		}
		if pick < w.weight {
			files = byClass[w.class]
			break
		}
		pick -= w.weight
	}
	f := files[rng.IntN(len(files))]
	class := fileClass(f.rel)

	kinds := []damageKind{dmgFlip, dmgFlip, dmgZero, dmgTruncate, dmgDelete}
	if class == "log" {
		kinds = append(kinds, dmgShift, dmgShift, dmgShift)
	}
	size := len(f.data)
	if size == 0 {
		kinds = []damageKind{dmgDelete}
	}
	d := damage{file: f.rel, kind: kinds[rng.IntN(len(kinds))]}
	switch class {
	case "index", "timeindex", "marker", "checkpoint", metaPrevFile:
		d.inert = true
	}
	switch d.kind {
	case dmgFlip:
		at := rng.IntN(size)
		mask := byte(1) << rng.IntN(8)
		if rng.IntN(2) == 0 {
			mask = byte(1 + rng.IntN(255))
		}
		d.detail = fmt.Sprintf("byte %d of %d ^0x%02x", at, size, mask)
		d.apply = func(path string) error {
			return editFile(path, func(b []byte) { b[at] ^= mask })
		}
	case dmgZero:
		at := rng.IntN(size)
		n := 1 + rng.IntN(min(size-at, []int{8, 64, 512, 8192}[rng.IntN(4)]))
		d.detail = fmt.Sprintf("bytes [%d, %d) of %d", at, at+n, size)
		d.apply = func(path string) error {
			return editFile(path, func(b []byte) { clear(b[at : at+n]) })
		}
	case dmgTruncate:
		n := rng.IntN(size)
		d.detail = fmt.Sprintf("to %d of %d bytes", n, size)
		d.apply = func(path string) error { return os.Truncate(path, int64(n)) }
	case dmgDelete:
		d.apply = os.Remove
	case dmgShift:
		starts := batchStarts(f.data)
		if len(starts) == 0 {
			d.kind, d.apply = dmgDelete, os.Remove // no batch to shift
			break
		}
		at := starts[rng.IntN(len(starts))]
		deltas := []int64{1, -1, 2, -2, int64(1 + rng.IntN(100)), -int64(1 + rng.IntN(100)),
			1 << 31, -(1 << 31), 1 << 32, 1 << 40, -(1 << 40), math.MaxInt64 / 2, math.MinInt64 / 2}
		delta := deltas[rng.IntN(len(deltas))]
		old := int64(binary.BigEndian.Uint64(f.data[at:]))
		d.detail = fmt.Sprintf("batch at byte %d: base offset %d%+d", at, old, delta)
		d.undetectable = movedWithinGap(f.rel, f.data, starts, at, old+delta)
		d.apply = func(path string) error {
			return editFile(path, func(b []byte) { binary.BigEndian.PutUint64(b[at:], uint64(old+delta)) })
		}
	}
	return d
}

// movedWithinGap reports whether the batch at byte at of a compacted
// topic's segment file, given base offset base, lands strictly between
// the batches around it (and at or after the segment's base offset), so
// that it breaks no ordering rule. The last batch of a segment is never
// that: the next segment's base offset pins where it ends.
func movedWithinGap(rel string, data []byte, starts []int, at int, base int64) bool {
	if !strings.HasPrefix(rel, "state-") && !strings.HasPrefix(rel, "__consumer_offsets-") {
		return false
	}
	i := slices.Index(starts, at)
	if i < 0 || i == len(starts)-1 {
		return false
	}
	last := base + int64(int32(binary.BigEndian.Uint32(data[at+23:])))
	nextBase := int64(binary.BigEndian.Uint64(data[starts[i+1]:]))
	lower, err := strconv.ParseInt(strings.TrimSuffix(filepath.Base(rel), segment.LogSuffix), 10, 64)
	if err != nil {
		return false
	}
	if i > 0 {
		p := starts[i-1]
		lower = int64(binary.BigEndian.Uint64(data[p:])) + int64(int32(binary.BigEndian.Uint32(data[p+23:]))) + 1
	}
	return base >= lower && last >= base && last < nextBase
}

// batchStarts walks the batch headers of a segment file (baseOffset int64,
// batchLength int32) and returns the positions of the batches.
func batchStarts(data []byte) []int {
	var starts []int
	for pos := 0; pos+record.LogOverhead <= len(data); {
		n := int(int32(binary.BigEndian.Uint32(data[pos+8:])))
		if n <= 0 || pos+record.LogOverhead+n > len(data) {
			break // the zero tail of a preallocated file, or garbage
		}
		starts = append(starts, pos)
		pos += record.LogOverhead + n
	}
	return starts
}

func editFile(path string, edit func([]byte)) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	edit(data)
	return os.WriteFile(path, data, 0o644)
}

// A trial.

type trialResult struct {
	ran        bool
	hang       bool
	openErr    error
	readErr    error // the first read error
	compactErr error // the first compaction error
	partial    bool  // opened, read without error, but served less than the undamaged directory
	headLost   bool  // records lost below the log start offset
	clientErr  bool  // readErr: the broker served batches that fail the consumer's checks
	forbidden  []forbidden
	lost       []string // what was missing, for the partial class
}

// forbidden is a forbidden outcome: its kind, for the summary, and what
// happened.
type forbidden struct{ kind, msg string }

func (r trialResult) class() string {
	switch {
	case r.hang:
		return "hang"
	case r.openErr != nil:
		return "error at open"
	case r.readErr != nil:
		return "error at read"
	case r.partial:
		return "opened, partial"
	default:
		return "opened, all served"
	}
}

type corruptOutcome struct {
	openErr    error
	readErr    error
	readTP     corruptTP
	compactErr error
	compactTP  corruptTP
	served     map[corruptTP][]servedRec
	compacted  map[corruptTP][]servedRec // read again after a compaction
	missing    []corruptTP               // partitions the opened broker does not have
	files      map[string]int64          // listBrokerFiles after Open and the first reads
	panic      string
}

// runCorruptTrial writes the fixture's clean or unclean directory to
// root/data, applies dmg (nil: none), opens, reads and compacts it within
// the deadline, and checks the outcome. An error is a failure of the test
// itself.
func runCorruptTrial(fx *corruptFixture, clean bool, dmg *damage, root string) (trialResult, error) {
	res := trialResult{ran: true}
	tmpl := fx.unclean
	if clean {
		tmpl = fx.clean
	}
	dir := filepath.Join(root, "data")
	outside := filepath.Join(root, "outside")
	if err := tmpl.writeTo(dir); err != nil {
		return res, err
	}
	sentinel := []byte("not the broker's")
	if err := os.MkdirAll(outside, 0o755); err != nil {
		return res, err
	}
	if err := os.WriteFile(filepath.Join(outside, "keep"), sentinel, 0o644); err != nil {
		return res, err
	}
	if dmg != nil {
		if err := dmg.apply(filepath.Join(dir, dmg.file)); err != nil {
			return res, fmt.Errorf("damage %s: %w", dmg, err)
		}
	}
	before, err := listBrokerFiles(dir)
	if err != nil {
		return res, err
	}

	done := make(chan corruptOutcome, 1)
	compact := func(corruptTP) bool { return true }
	if dmg != nil {
		// Only the damaged partition: compacting the others is the
		// baseline's work again.
		damaged := filepath.Dir(dmg.file)
		compact = func(tp corruptTP) bool { return tp.String() == damaged }
	}
	go func() { done <- openAndRead(fx, dir, compact) }()
	var o corruptOutcome
	select {
	case o = <-done:
	case <-time.After(corruptionDeadline):
		res.hang = true
		res.forbidden = append(res.forbidden, forbidden{"hang", fmt.Sprintf("Open, reads and compactions did not finish in %v", corruptionDeadline)})
		return res, nil
	}
	res.openErr, res.readErr, res.compactErr = o.openErr, o.readErr, o.compactErr
	bad := func(kind, format string, args ...any) {
		res.forbidden = append(res.forbidden, forbidden{kind, fmt.Sprintf(format, args...)})
	}
	if o.panic != "" {
		bad("panic", "panic: %s", o.panic)
		return res, nil
	}

	// Nothing outside the data directory touched.
	entries, err := os.ReadDir(root)
	if err != nil {
		return res, err
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if !slices.Equal(names, []string{"data", "outside"}) {
		bad("outside touched", "the data directory's parent now holds %v", names)
	}
	if got, err := os.ReadFile(filepath.Join(outside, "keep")); err != nil || !bytes.Equal(got, sentinel) {
		bad("outside touched", "a file outside the data directory changed: %q, %v", got, err)
	}
	if entries, err := os.ReadDir(outside); err != nil || len(entries) != 1 {
		bad("outside touched", "the directory beside the data directory changed: %d entries, %v", len(entries), err)
	}
	// No partition directory, no segment file gone, no segment but a
	// partition's last one cut short (listed before the compactions, which
	// merge segments, when Open succeeded).
	after := o.files
	if after == nil {
		if after, err = listBrokerFiles(dir); err != nil {
			return res, err
		}
	}
	for _, f := range slices.Sorted(maps.Keys(before)) {
		size, ok := after[f]
		switch {
		case !ok:
			bad("file removed", "%s was removed", f)
		case size < before[f] && !lastSegment(before, f):
			bad("sealed segment cut at Open", "Open cut sealed segment %s from %d to %d bytes: acknowledged data in the middle of the log destroyed", f, before[f], size)
		}
	}

	switch {
	case o.openErr != nil:
		if !errors.Is(o.openErr, ErrCorrupt) && !namesFileIOError(o.openErr) {
			bad("unclear Open error", "Open failed with an error that neither wraps ErrCorrupt nor is an I/O error naming a file: %v", o.openErr)
		}
		return res, nil
	case o.readErr != nil:
		res.clientErr = errors.Is(o.readErr, errCorruptClient)
		switch {
		case errors.Is(o.readErr, errCorruptStall):
			bad("read stalls below the high watermark", "%s: %v", o.readTP, o.readErr)
		case !errors.Is(o.readErr, ErrCorrupt):
			bad("unclear read error", "%s: read failed with an error that does not wrap ErrCorrupt: %v", o.readTP, o.readErr)
		}
	}
	if o.compactErr != nil && !errors.Is(o.compactErr, ErrCorrupt) {
		bad("unclear compaction error", "%s: compaction failed with an error that does not wrap ErrCorrupt: %v", o.compactTP, o.compactErr)
	}
	for _, tp := range o.missing {
		bad("partition missing", "Open succeeded without partition %s", tp)
	}
	if dmg != nil && dmg.inert && o.readErr != nil {
		bad("records lost after damage to derived data", "only derived or unused data (%s) was damaged but %s fails to read: %v", dmg.file, o.readTP, o.readErr)
	}

	complete := o.readErr == nil && len(o.missing) == 0
	for _, tp := range fx.parts {
		served, ok := o.served[tp]
		if !ok {
			continue
		}
		res.forbidden = append(res.forbidden, checkServed(fx, tp, served, "")...)
		if o.readErr != nil {
			continue
		}
		want := fx.served[tp]
		if slices.EqualFunc(served, want, sameServed) {
			continue
		}
		complete = false
		lost, head, middle := lostRecords(want, served)
		res.headLost = res.headLost || head
		res.lost = append(res.lost, fmt.Sprintf("%s lost %d of %d records (%s)", tp, len(lost), len(want), offsetRanges(lost)))
		if len(middle) > 0 && fx.compacted[tp.topic] { // checkServed has reported it on delete-policy topics
			bad("records lost between records served (compacted)", "%s: records %s lost between records served (only a head or a tail may be missing)", tp, offsetRanges(middle))
		}
		if dmg != nil && dmg.inert {
			bad("records lost after damage to derived data", "only derived or unused data (%s) was damaged but %s serves %d of %d records (lost %s)",
				dmg.file, tp, len(served), len(want), offsetRanges(lost))
		}
	}
	res.partial = o.readErr == nil && !complete

	// After a compaction: still a subset of what was written, and the
	// latest record of every key served before is served still.
	for tp, after := range o.compacted {
		res.forbidden = append(res.forbidden, checkServed(fx, tp, after, " after compaction")...)
		latest := map[string]servedRec{}
		for _, r := range o.served[tp] {
			latest[string(r.key)] = r
		}
		for _, r := range after {
			delete(latest, string(r.key)) // a record of the key is served still
		}
		// A key may be gone only if it was deleted: its latest record
		// written is a tombstone after the one served (which damage may
		// have hidden from readers).
		var dropped []int64
		for k, r := range latest {
			if last, ok := latestWritten(fx.written[tp], k); !ok || last.offset <= r.offset || last.value != nil {
				dropped = append(dropped, r.offset)
			}
		}
		if len(dropped) > 0 {
			slices.Sort(dropped)
			bad("compaction dropped a key's latest record", "%s: compaction dropped the latest record served of %d keys, not deleted since (offsets %s)", tp, len(dropped), offsetRanges(dropped))
		}
	}
	return res, nil
}

// openAndRead opens dir, reads every partition of the fixture, compacts
// those of compacted topics that compact selects (if reading them
// succeeded) and reads them again.
func openAndRead(fx *corruptFixture, dir string, compact func(corruptTP) bool) (o corruptOutcome) {
	defer func() {
		if p := recover(); p != nil {
			o.panic = fmt.Sprintf("%v\n%s", p, debug.Stack())
		}
	}()
	b, err := Open(dir, WithoutExpvar(), WithMaintenanceInterval(0), WithCleanerInterval(-1))
	if err != nil {
		o.openErr = err
		return o
	}
	defer func() {
		if err := b.Close(); err != nil && o.readErr == nil {
			o.readErr = fmt.Errorf("close: %w", err)
		}
	}()
	o.served = map[corruptTP][]servedRec{}
	var ps []*Partition
	for _, tp := range fx.parts {
		topic, err := b.Topic(tp.topic)
		var p *Partition
		if err == nil {
			p, err = topic.Partition(tp.part)
		}
		if err != nil {
			o.missing = append(o.missing, tp)
			continue
		}
		recs, err := corruptReadAll(p)
		o.served[tp] = recs
		if err != nil {
			if o.readErr == nil {
				o.readErr, o.readTP = err, tp
			}
			continue
		}
		if fx.compacted[tp.topic] && compact(tp) && p.log.NumSegments() > 1 {
			ps = append(ps, p)
		}
	}
	if o.files, err = listBrokerFiles(dir); err != nil {
		o.readErr = fmt.Errorf("listing %s: %w", dir, err)
		return o
	}
	for _, p := range ps {
		tp := corruptTP{p.Topic(), p.ID()}
		if _, err := p.log.Compact(); err != nil {
			if o.compactErr == nil {
				o.compactErr, o.compactTP = err, tp
			}
			continue
		}
		after, err := corruptReadAll(p)
		if err != nil {
			if o.readErr == nil {
				o.readErr, o.readTP = fmt.Errorf("after compaction: %w", err), tp
			}
			continue
		}
		if o.compacted == nil {
			o.compacted = map[corruptTP][]servedRec{}
		}
		o.compacted[tp] = after
	}
	return o
}

// checkServed checks records read from tp against what was written: same
// offset, key, value and timestamp, increasing offsets, dense on a
// delete-policy topic. Mismatches are reported once per partition.
func checkServed(fx *corruptFixture, tp corruptTP, served []servedRec, when string) []forbidden {
	var out []forbidden
	written := fx.written[tp]
	prev := int64(-1)
	differ, first := 0, ""
	for i, r := range served {
		w, ok := written[r.offset]
		switch {
		case i > 0 && r.offset <= prev:
			out = append(out, forbidden{"offsets out of order", fmt.Sprintf("%s%s: offset %d served after %d", tp, when, r.offset, prev)})
		case !ok:
			if differ++; first == "" {
				first = fmt.Sprintf("offset %d served, never written (key %q value %.40q)", r.offset, r.key, r.value)
			}
		case !sameBytes(w.key, r.key) || !sameBytes(w.value, r.value) || w.ts != r.ts:
			if differ++; first == "" {
				first = fmt.Sprintf("offset %d served key %q value %.40q ts %d, written key %q value %.40q ts %d",
					r.offset, r.key, r.value, r.ts, w.key, w.value, w.ts)
			}
		case !fx.compacted[tp.topic] && i > 0 && r.offset != prev+1:
			out = append(out, forbidden{"offset gap (delete policy)", fmt.Sprintf("%s%s: offsets %d to %d missing between records served (delete policy: offsets are dense)", tp, when, prev+1, r.offset-1)})
		}
		prev = max(prev, r.offset)
	}
	if differ > 0 {
		out = append(out, forbidden{"record served differs from what was written", fmt.Sprintf("%s%s: %d records served that differ from what was written; the first: %s", tp, when, differ, first)})
	}
	return out
}

// lostRecords lists the offsets of want missing from served, and those of
// them that lie between two served records (neither at the head nor at
// the tail). head reports records lost below the first served one.
func lostRecords(want, served []servedRec) (lost []int64, head bool, middle []int64) {
	got := map[int64]bool{}
	lo, hi := int64(math.MaxInt64), int64(-1)
	for _, r := range served {
		got[r.offset] = true
		lo, hi = min(lo, r.offset), max(hi, r.offset)
	}
	for _, r := range want {
		if got[r.offset] {
			continue
		}
		lost = append(lost, r.offset)
		switch {
		case r.offset < lo:
			head = true
		case r.offset < hi:
			middle = append(middle, r.offset)
		}
	}
	return lost, head, middle
}

// latestWritten is the last record written with the key.
func latestWritten(written map[int64]writtenRec, key string) (servedRec, bool) {
	var last servedRec
	found := false
	for off, w := range written {
		if string(w.key) == key && (!found || off > last.offset) {
			last, found = servedRec{off, w.key, w.value, w.ts}, true
		}
	}
	return last, found
}

func sameBytes(a, b []byte) bool { return (a == nil) == (b == nil) && bytes.Equal(a, b) }

func sameServed(a, b servedRec) bool {
	return a.offset == b.offset && a.ts == b.ts && sameBytes(a.key, b.key) && sameBytes(a.value, b.value)
}

// namesFileIOError reports whether err is an I/O error naming a file.
func namesFileIOError(err error) bool {
	var pe *fs.PathError
	var le *os.LinkError
	return errors.As(err, &pe) || errors.As(err, &le)
}

// listBrokerFiles lists the directories (size -1) and segment (.log)
// files under dir with their sizes.
func listBrokerFiles(dir string) (map[string]int64, error) {
	out := map[string]int64{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil || rel == "." {
			return err
		}
		if d.IsDir() {
			out[rel+"/"] = -1
		} else if strings.HasSuffix(rel, segment.LogSuffix) {
			info, err := d.Info()
			if err != nil {
				return err
			}
			out[rel] = info.Size()
		}
		return nil
	})
	return out, err
}

// lastSegment reports whether the segment file f is the last (by name,
// hence by base offset) of its directory in files.
func lastSegment(files map[string]int64, f string) bool {
	dir := filepath.Dir(f)
	for g := range files {
		if filepath.Dir(g) == dir && strings.HasSuffix(g, segment.LogSuffix) && g > f {
			return false
		}
	}
	return true
}

// offsetRanges prints sorted offsets as ranges: "3-7 12".
func offsetRanges(offs []int64) string {
	var parts []string
	for i := 0; i < len(offs); {
		j := i
		for j+1 < len(offs) && offs[j+1] == offs[j]+1 {
			j++
		}
		if i == j {
			parts = append(parts, strconv.FormatInt(offs[i], 10))
		} else {
			parts = append(parts, fmt.Sprintf("%d-%d", offs[i], offs[j]))
		}
		i = j + 1
	}
	if len(parts) > 6 {
		parts = append(parts[:6], "...")
	}
	return strings.Join(parts, " ")
}

// Statistics.

type corruptStats struct {
	trials   int
	classes  map[string]int
	byDamage map[string]map[string]int // "file class/damage kind" -> outcome -> count
	byKind   map[string]int            // forbidden kind -> trials
	// forbidden kind -> "file class/damage kind" -> trials
	kindDamage map[string]map[string]int
	kindFirst  map[string]string // forbidden kind -> its first trial
	bad        int
	headLost   int
	clientErr  int
	compErr    int
}

func newCorruptStats() *corruptStats {
	return &corruptStats{classes: map[string]int{}, byDamage: map[string]map[string]int{},
		byKind: map[string]int{}, kindDamage: map[string]map[string]int{}, kindFirst: map[string]string{}}
}

func (s *corruptStats) add(trial int, clean bool, d damage, r trialResult) {
	s.trials++
	c := r.class()
	s.classes[c]++
	key := fileClass(d.file) + "/" + string(d.kind)
	if s.byDamage[key] == nil {
		s.byDamage[key] = map[string]int{}
	}
	s.byDamage[key][c]++
	if len(r.forbidden) > 0 {
		s.bad++
		s.byDamage[key]["FORBIDDEN"]++
	}
	seen := map[string]bool{}
	for _, f := range r.forbidden {
		if !seen[f.kind] {
			seen[f.kind] = true
			s.byKind[f.kind]++
			if s.kindDamage[f.kind] == nil {
				s.kindDamage[f.kind] = map[string]int{}
			}
			s.kindDamage[f.kind][key]++
			if _, ok := s.kindFirst[f.kind]; !ok {
				s.kindFirst[f.kind] = fmt.Sprintf("trial=%d clean=%v damage=[%s]: %s", trial, clean, d, f.msg)
			}
		}
	}
	if r.headLost {
		s.headLost++
	}
	if r.clientErr && c == "error at read" {
		s.clientErr++
	}
	if r.compactErr != nil {
		s.compErr++
	}
}

func (s *corruptStats) summary() string {
	return fmt.Sprintf("opened+all served %d, opened+partial served %d (log start moved in %d), error at open %d, error at read %d (of which %d served batches failing the consumer's CRC check), hang %d; compaction errors %d; trials with a forbidden outcome %d",
		s.classes["opened, all served"], s.classes["opened, partial"], s.headLost, s.classes["error at open"],
		s.classes["error at read"], s.clientErr, s.classes["hang"], s.compErr, s.bad)
}

func (s *corruptStats) details() []string {
	keys := make([]string, 0, len(s.byDamage))
	for k := range s.byDamage {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var out []string
	for _, k := range keys {
		m := s.byDamage[k]
		out = append(out, fmt.Sprintf("  %-28s all=%-3d partial=%-3d open-err=%-3d read-err=%-3d hang=%d FORBIDDEN=%d", k,
			m["opened, all served"], m["opened, partial"], m["error at open"], m["error at read"], m["hang"], m["FORBIDDEN"]))
	}
	for _, k := range slices.Sorted(maps.Keys(s.byKind)) {
		var where []string
		for _, d := range slices.Sorted(maps.Keys(s.kindDamage[k])) {
			where = append(where, fmt.Sprintf("%s %d", d, s.kindDamage[k][d]))
		}
		out = append(out, fmt.Sprintf("  FORBIDDEN %s: %d trials (%s); first: %.400s", k, s.byKind[k], strings.Join(where, ", "), s.kindFirst[k]))
	}
	return out
}
