package log

import (
	"errors"
	"fmt"
	"github.com/commitlog-go/commitlog/vfs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// CleanerCheckpointFile is the file in the log directory where the log
// cleaner keeps its progress: the first dirty offset (everything below it
// has been compacted against the keys mapped so far) and the earliest
// delete horizon of the tombstones it has kept. Kafka keeps the same
// offset in one "cleaner-offset-checkpoint" file per data directory; here
// each partition has its own, so that a partition directory is
// self-contained.
//
// The format is text: a version line "0", then "<firstDirtyOffset>
// <deleteHorizonMs>" (-1 when no tombstone waits). It is replaced
// atomically (write a temporary file, fsync, rename, fsync the directory).
// A missing or unreadable file only costs work: the next pass treats the
// whole log as dirty.
const CleanerCheckpointFile = "cleaner-offset-checkpoint"

type cleanerCheckpoint struct {
	firstDirty    int64 // -1: none
	deleteHorizon int64 // earliest horizon of a batch that still holds tombstones, -1: none
}

func readCheckpoint(fsys vfs.FS, dir string) (cleanerCheckpoint, error) {
	cp := cleanerCheckpoint{firstDirty: -1, deleteHorizon: -1}
	data, err := fsys.ReadFile(filepath.Join(dir, CleanerCheckpointFile))
	if errors.Is(err, os.ErrNotExist) {
		return cp, nil
	}
	if err != nil {
		return cp, err
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	if len(lines) != 2 || strings.TrimSpace(lines[0]) != "0" {
		return cp, fmt.Errorf("%s: unknown format: %w", CleanerCheckpointFile, ErrCorrupt)
	}
	fields := strings.Fields(lines[1])
	if len(fields) != 2 {
		return cp, fmt.Errorf("%s: unknown format: %w", CleanerCheckpointFile, ErrCorrupt)
	}
	off, err1 := strconv.ParseInt(fields[0], 10, 64)
	hor, err2 := strconv.ParseInt(fields[1], 10, 64)
	if err1 != nil || err2 != nil || off < -1 || hor < -1 {
		return cp, fmt.Errorf("%s: %q: %w", CleanerCheckpointFile, lines[1], ErrCorrupt)
	}
	return cleanerCheckpoint{firstDirty: off, deleteHorizon: hor}, nil
}

func writeCheckpoint(fsys vfs.FS, dir string, cp cleanerCheckpoint) error {
	return vfs.WriteAtomic(fsys, filepath.Join(dir, CleanerCheckpointFile), fmt.Appendf(nil, "0\n%d %d\n", cp.firstDirty, cp.deleteHorizon))
}
