package commitlog

import (
	"encoding/json"
	"errors"
	"fmt"
	"github.com/commitlog-go/commitlog/vfs"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/commitlog-go/commitlog/log"
	"github.com/commitlog-go/commitlog/segment"
)

// The metadata files in the data directory.
const (
	metaFile        = "meta.json"           // the topic list, replaced atomically on every change
	metaPrevFile    = metaFile + ".prev"    // the metadata meta.json replaced, kept for recovery
	metaDamagedFile = metaFile + ".damaged" // an unreadable meta.json, kept aside by recovery
	metaVersion     = 1
)

// metadata is the content of meta.json.
type metadata struct {
	Version int                  `json:"version"`
	Topics  map[string]topicMeta `json:"topics"`
	// Deleted lists the topics deleted while their partition directories
	// may still exist (DeleteTopic commits the metadata before it moves
	// them): the proof that lets Open remove those directories. An entry
	// is dropped once its directories are gone.
	Deleted []deletedTopic `json:"deleted,omitempty"`
}

type topicMeta struct {
	Partitions int32             `json:"partitions"`
	Config     map[string]string `json:"config,omitempty"`
}

// deletedTopic is a deleted topic whose partitions 0 to Partitions-1 are
// garbage unless a topic of the same name, created since, names them.
type deletedTopic struct {
	Name       string `json:"name"`
	Partitions int32  `json:"partitions"`
}

// decodeMeta parses and validates the bytes of meta.json. Every name it
// accepts is a valid topic name (so every path built from it stays in the
// data directory), every partition count is in 1..MaxPartitions and every
// topic's settings parse. Errors wrap ErrCorrupt and name the file and the
// entry.
func decodeMeta(data []byte) (metadata, error) {
	var m metadata
	if err := json.Unmarshal(data, &m); err != nil {
		return metadata{}, fmt.Errorf("%s: %v: %w", metaFile, err, ErrCorrupt)
	}
	if m.Version != metaVersion {
		return metadata{}, fmt.Errorf("%s: version %d, want %d: %w", metaFile, m.Version, metaVersion, ErrCorrupt)
	}
	if m.Topics == nil {
		m.Topics = map[string]topicMeta{}
	}
	for _, name := range slices.Sorted(maps.Keys(m.Topics)) {
		tm := m.Topics[name]
		if err := checkStoredTopic(name, tm.Partitions); err != nil {
			return metadata{}, fmt.Errorf("%s: topic %q: %v: %w", metaFile, name, err, ErrCorrupt)
		}
		tm.Config = upgradeStoredSettings(tm.Config)
		m.Topics[name] = tm
		if _, err := ParseTopicConfig(tm.Partitions, tm.Config); err != nil {
			return metadata{}, fmt.Errorf("%s: topic %q: %v: %w", metaFile, name, err, ErrCorrupt)
		}
	}
	seen := map[string]bool{}
	for _, d := range m.Deleted {
		if err := checkStoredTopic(d.Name, d.Partitions); err != nil {
			return metadata{}, fmt.Errorf("%s: deleted topic %q: %v: %w", metaFile, d.Name, err, ErrCorrupt)
		}
		if seen[d.Name] {
			return metadata{}, fmt.Errorf("%s: deleted topic %q listed twice: %w", metaFile, d.Name, ErrCorrupt)
		}
		seen[d.Name] = true
	}
	return m, nil
}

// checkStoredTopic applies CreateTopic's rules to a name and partition
// count read from disk.
func checkStoredTopic(name string, partitions int32) error {
	if err := ValidateTopicName(name); err != nil {
		return err
	}
	return checkPartitionCount(partitions)
}

func checkPartitionCount(n int32) error {
	if n < 1 || n > MaxPartitions {
		return fmt.Errorf("partitions %d not in [1, %d]: %w", n, MaxPartitions, ErrInvalidConfig)
	}
	return nil
}

// encodeMeta is the inverse of decodeMeta.
func encodeMeta(m metadata) ([]byte, error) {
	m.Deleted = slices.Clone(m.Deleted)
	slices.SortFunc(m.Deleted, func(a, b deletedTopic) int { return strings.Compare(a.Name, b.Name) })
	return json.MarshalIndent(m, "", "  ")
}

// partitionDir is the directory of partition id of topic. It refuses a
// name or id that CreateTopic would (whatever its source), so the path
// never leaves the data directory.
func (b *Broker) partitionDir(topic string, id int32) (string, error) {
	if err := ValidateTopicName(topic); err != nil {
		return "", err
	}
	if id < 0 || id >= MaxPartitions {
		return "", fmt.Errorf("topic %s: partition %d: %w", topic, id, ErrInvalidConfig)
	}
	p := filepath.Join(b.dir, topic+"-"+strconv.Itoa(int(id)))
	if filepath.Dir(p) != filepath.Clean(b.dir) {
		return "", fmt.Errorf("topic %q: partition directory %s is not in %s: %w", topic, p, b.dir, ErrInvalidTopic)
	}
	return p, nil
}

// splitPartitionDir parses a partition directory name, "<topic>-<id>".
func splitPartitionDir(name string) (string, int32, bool) {
	i := strings.LastIndexByte(name, '-')
	if i <= 0 || i == len(name)-1 {
		return "", 0, false
	}
	for _, c := range name[i+1:] {
		if c < '0' || c > '9' {
			return "", 0, false
		}
	}
	id, err := strconv.ParseInt(name[i+1:], 10, 32)
	if err != nil || id >= MaxPartitions || name[i+1:] != strconv.FormatInt(id, 10) || ValidateTopicName(name[:i]) != nil {
		return "", 0, false
	}
	return name[:i], int32(id), true
}

// isDeletedAside reports whether name is a partition directory renamed
// aside by a deletion, "<topic>-<id>.<nanos>-delete" (log.Log.Delete):
// garbage by construction.
func isDeletedAside(name string) bool {
	rest, ok := strings.CutSuffix(name, log.DeletedSuffix)
	if !ok {
		return false
	}
	i := strings.LastIndexByte(rest, '.')
	if i < 0 || i == len(rest)-1 {
		return false
	}
	for _, c := range rest[i+1:] {
		if c < '0' || c > '9' {
			return false
		}
	}
	_, _, ok = splitPartitionDir(rest[:i])
	return ok
}

// dirKind is what a directory named like a partition holds.
type dirKind int

const (
	// dirEmpty: what partition.Open creates and nothing else (an empty
	// first segment, its indexes, a clean-shutdown marker), or nothing at
	// all. It holds no record and no offset: the leftover of a topic
	// change that never committed.
	dirEmpty dirKind = iota
	// dirData: a segment file with bytes, one starting past offset 0 (its
	// records are gone but its offsets must not be reused), or one of the
	// compaction files.
	dirData
	// dirForeign: no segment data but files partitions do not have: not
	// ours, left alone.
	dirForeign
)

const firstSegment = "00000000000000000000"

// classifyDir looks at the files in a directory named like a partition.
func (b *Broker) classifyDir(dir string) (dirKind, error) {
	entries, err := b.fs.ReadDir(dir)
	if err != nil {
		return dirForeign, err
	}
	kind := dirEmpty
	for _, e := range entries {
		name := e.Name()
		if isSegmentFile(name) {
			info, err := e.Info()
			if err != nil {
				return dirForeign, err
			}
			if name != firstSegment+segment.LogSuffix || info.Size() != 0 || !info.Mode().IsRegular() {
				return dirData, nil
			}
			continue
		}
		switch name {
		case firstSegment + segment.IndexSuffix, firstSegment + segment.TimeIndexSuffix, log.CleanShutdownFile:
			if e.Type().IsRegular() {
				continue
			}
		}
		kind = dirForeign
	}
	return kind, nil
}

// isSegmentFile: "<20 digits>.log", or that with a compaction suffix.
func isSegmentFile(name string) bool {
	if len(name) < 20 {
		return false
	}
	for _, c := range name[:20] {
		if c < '0' || c > '9' {
			return false
		}
	}
	switch name[20:] {
	case segment.LogSuffix, segment.LogSuffix + log.SwapFileSuffix, segment.LogSuffix + log.CleanedFileSuffix, segment.LogSuffix + log.DeletedFileSuffix:
		return true
	}
	return false
}

// dirScan is what the data directory holds besides the metadata.
type dirScan struct {
	parts map[string]map[int32]string // topic -> partition -> directory
	aside []string                    // directories renamed aside by a deletion
}

func (b *Broker) scanDir() (dirScan, error) {
	s := dirScan{parts: map[string]map[int32]string{}}
	entries, err := b.fs.ReadDir(b.dir)
	if err != nil {
		return s, err
	}
	for _, e := range entries {
		path := filepath.Join(b.dir, e.Name())
		isDir := e.IsDir()
		if e.Type()&fs.ModeSymlink != 0 {
			// A partition directory may be a link to another disk.
			info, err := b.fs.Stat(path)
			isDir = err == nil && info.IsDir()
		}
		if !isDir {
			continue
		}
		if isDeletedAside(e.Name()) {
			s.aside = append(s.aside, path)
			continue
		}
		if name, id, ok := splitPartitionDir(e.Name()); ok {
			if s.parts[name] == nil {
				s.parts[name] = map[int32]string{}
			}
			s.parts[name][id] = path
		}
	}
	return s, nil
}

// The file I/O of the metadata, in one place.

// readFile returns the content of a file in the data directory.
func (b *Broker) readFile(name string) ([]byte, error) {
	return b.fs.ReadFile(filepath.Join(b.dir, name))
}

func (b *Broker) fileExists(name string) bool {
	return vfs.Exists(b.fs, filepath.Join(b.dir, name))
}

// writeFileSynced writes data to a new file in the data directory and
// fsyncs it.
func (b *Broker) writeFileSynced(name string, data []byte) error {
	return vfs.WriteFile(b.fs, filepath.Join(b.dir, name), data, true)
}

// renameFile renames a file of the data directory; syncDir makes it
// durable.
func (b *Broker) renameFile(from, to string) error {
	return b.fs.Rename(filepath.Join(b.dir, from), filepath.Join(b.dir, to))
}

func (b *Broker) removeFile(name string) error {
	err := b.fs.Remove(filepath.Join(b.dir, name))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return err
}

// removeDir removes a partition directory (a path partitionDir or
// scanDir built, inside the data directory) and everything in it.
func (b *Broker) removeDir(dir string) error { return b.fs.RemoveAll(dir) }

func (b *Broker) dirExists(dir string) bool { return vfs.Exists(b.fs, dir) }

func (b *Broker) syncDir(dir string) error { return b.fs.SyncDir(dir) }
