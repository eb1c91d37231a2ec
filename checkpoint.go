package commitlog

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/commitlog-go/commitlog/log"
	"github.com/commitlog-go/commitlog/vfs"
)

// Kafka's per-data-directory checkpoint files, in Kafka's text format: a
// version line "0", a line with the number of entries, then one line
// "<topic> <partition> <offset>" per partition.
const (
	// RecoveryPointCheckpointFile records, per partition, the offset below
	// which the log is fsynced (Kafka's recovery point). Open requires
	// every byte below it: damage there is ErrCorrupt, never a truncation.
	RecoveryPointCheckpointFile = "recovery-point-offset-checkpoint"
	// LogStartOffsetCheckpointFile records, per partition, the log start
	// offset. Retention writes it before it removes segments, so Open can
	// tell a segment retention removed from one that went missing.
	LogStartOffsetCheckpointFile = "log-start-offset-checkpoint"
)

// topicPartition names a partition in the checkpoint files.
type topicPartition struct {
	topic     string
	partition int32
}

// encodeCheckpoint writes offsets in Kafka's checkpoint format, sorted by
// topic and partition.
func encodeCheckpoint(offsets map[topicPartition]int64) []byte {
	keys := make([]topicPartition, 0, len(offsets))
	for k := range offsets {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b topicPartition) int {
		return cmp.Or(strings.Compare(a.topic, b.topic), cmp.Compare(a.partition, b.partition))
	})
	var buf bytes.Buffer
	fmt.Fprintf(&buf, "0\n%d\n", len(keys))
	for _, k := range keys {
		fmt.Fprintf(&buf, "%s %d %d\n", k.topic, k.partition, offsets[k])
	}
	return buf.Bytes()
}

// decodeCheckpoint reads a checkpoint file. Anything but the exact format
// (version 0, the announced number of entries, valid topic names,
// non-negative partitions and offsets, no partition twice) is an error
// wrapping ErrCorrupt.
func decodeCheckpoint(name string, data []byte) (map[topicPartition]int64, error) {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("commitlog: %s: %s: %w", name, fmt.Sprintf(format, args...), ErrCorrupt)
	}
	text := string(data)
	if !strings.HasSuffix(text, "\n") {
		return nil, bad("does not end with a newline (torn write?)")
	}
	lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
	if len(lines) < 2 || lines[0] != "0" {
		return nil, bad("not a version 0 checkpoint file")
	}
	n, err := strconv.Atoi(lines[1])
	if err != nil || n < 0 || n != len(lines)-2 {
		return nil, bad("announces %q entries, holds %d", lines[1], len(lines)-2)
	}
	out := make(map[topicPartition]int64, n)
	for i, line := range lines[2:] {
		f := strings.Split(line, " ")
		if len(f) != 3 {
			return nil, bad("line %d: %q is not \"<topic> <partition> <offset>\"", i+3, line)
		}
		if err := ValidateTopicName(f[0]); err != nil {
			return nil, bad("line %d: %v", i+3, err)
		}
		p, err1 := strconv.ParseInt(f[1], 10, 32)
		off, err2 := strconv.ParseInt(f[2], 10, 64)
		if err1 != nil || err2 != nil || p < 0 || off < 0 {
			return nil, bad("line %d: %q: partition and offset must be non-negative integers", i+3, line)
		}
		k := topicPartition{f[0], int32(p)}
		if _, dup := out[k]; dup {
			return nil, bad("line %d: %s-%d appears twice", i+3, f[0], p)
		}
		out[k] = off
	}
	return out, nil
}

// checkpoints is the broker's view of its two checkpoint files.
type checkpoints struct {
	mu sync.Mutex // serialises writes of the files and guards the fields

	// loaded is what the files held at Open, for the partitions Open
	// opens; nil once Open is done.
	loaded map[topicPartition]*log.Checkpoint
	// written is what the files hold now, to skip writes that change
	// nothing.
	written [2][]byte
}

// readCheckpoints reads both checkpoint files. A missing file names no
// partition; a damaged one is ErrCorrupt, unless the metadata is being
// recovered, when it is ignored with a warning (Open then checks the logs
// against nothing, as before the files existed).
func (b *Broker) readCheckpoints() (map[topicPartition]*log.Checkpoint, error) {
	out := map[topicPartition]*log.Checkpoint{}
	var files [2]map[topicPartition]int64
	for i, name := range []string{RecoveryPointCheckpointFile, LogStartOffsetCheckpointFile} {
		data, err := b.readFile(name)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err == nil {
			files[i], err = decodeCheckpoint(filepath.Join(b.dir, name), data)
		}
		if err != nil {
			if b.opts.recoverMeta {
				b.opts.logger.Warn("commitlog: ignoring a damaged checkpoint file while recovering the metadata", "file", name, "err", err)
				files[i] = nil
				continue
			}
			return nil, fmt.Errorf("commitlog: %w (remove the file to open without it: Open then checks the logs against nothing)", err)
		}
	}
	for i, m := range files {
		for tp, off := range m {
			cp := out[tp]
			if cp == nil {
				// A partition in one file only: the other bound is unknown.
				cp = &log.Checkpoint{RecoveryPoint: 0, StartOffset: -1}
				out[tp] = cp
			}
			if i == 0 {
				cp.RecoveryPoint = off
			} else {
				cp.StartOffset = off
			}
		}
	}
	return out, nil
}

// writeCheckpoints records every open partition's flushed offset and log
// start offset in the checkpoint files, each replaced atomically, when
// they changed. The log-start file goes first: a recovery point is only
// checked above the log start.
func (b *Broker) writeCheckpoints() error {
	if b.readOnly {
		return b.readOnlyErr("write the checkpoint files")
	}
	b.cp.mu.Lock()
	defer b.cp.mu.Unlock()
	rp := map[topicPartition]int64{}
	start := map[topicPartition]int64{}
	for name, t := range *b.topics.Load() {
		if t.deleted.Load() {
			continue
		}
		for _, p := range t.Partitions() {
			tp := topicPartition{name, p.ID()}
			rp[tp] = p.log.FlushedOffset()
			start[tp] = p.log.PendingStartOffset() // recorded before the start moves
		}
	}
	for i, data := range [2][]byte{encodeCheckpoint(start), encodeCheckpoint(rp)} {
		if bytes.Equal(data, b.cp.written[i]) {
			continue
		}
		name := []string{LogStartOffsetCheckpointFile, RecoveryPointCheckpointFile}[i]
		if err := vfs.WriteAtomic(b.fs, filepath.Join(b.dir, name), data); err != nil {
			return fmt.Errorf("commitlog: writing %s: %w", name, err)
		}
		b.cp.written[i] = data
	}
	return nil
}
