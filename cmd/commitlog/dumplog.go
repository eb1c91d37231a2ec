package main

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/commitlog-go/commitlog/index"
	"github.com/commitlog-go/commitlog/record"
	"github.com/commitlog-go/commitlog/segment"
	"github.com/commitlog-go/commitlog/vfs"
)

// dumpOptions are dump-log's flags, kafka-dump-log.sh's.
type dumpOptions struct {
	printData, deep, verifyOnly, sanityOnly, skipMetadata, json bool
	maxBytes                                                    int64
}

// dumpNotes collects what kafka-dump-log.sh prints on stderr after every
// file: index mismatches, time index errors, offset gaps.
type dumpNotes struct {
	lines  []string
	failed bool
}

func (n *dumpNotes) add(format string, args ...any) {
	n.lines = append(n.lines, fmt.Sprintf(format, args...))
}

func (a *app) dumpLog(ctx context.Context, args []string) error {
	fs := a.newFlags("dump-log", "--files F[,F]... [--print-data-log] [--deep-iteration] [--verify-index-only] [--index-sanity-check]")
	files := &multiFlag{split: true}
	fs.Var(files, "files", "the `files` to dump: .log, .index and .timeindex segment files, comma-separated (repeatable; trailing arguments are files too)")
	var o dumpOptions
	fs.BoolVar(&o.printData, "print-data-log", false, "print the records' keys and values (implies --deep-iteration)")
	fs.BoolVar(&o.deep, "deep-iteration", false, "print every record, not only the batches")
	fs.BoolVar(&o.verifyOnly, "verify-index-only", false, "check the index against the log without printing its entries")
	fs.BoolVar(&o.sanityOnly, "index-sanity-check", false, "only run the index sanity check commitlog runs when it opens a segment")
	fs.BoolVar(&o.skipMetadata, "skip-record-metadata", false, "do not print the records' metadata")
	fs.Int64Var(&o.maxBytes, "max-bytes", math.MaxInt32, "read at most this many `bytes` of batches from each .log file")
	fs.BoolVar(&o.json, "json", false, "print one JSON document instead of text")
	rest, err := a.parseArgs(fs, args)
	if err != nil {
		return err
	}
	for _, arg := range rest {
		_ = files.Set(arg)
	}
	if len(files.values) == 0 {
		return usagef("--files is required")
	}
	if o.maxBytes <= 0 {
		return usagef("--max-bytes must be positive")
	}
	o.deep = o.deep || o.printData
	w := bufio.NewWriter(a.stdout)
	notes := &dumpNotes{}
	var docs []*fileDump
	for _, file := range files.values {
		if err := ctx.Err(); err != nil {
			return err
		}
		d := &fileDump{File: file}
		if !o.json {
			fmt.Fprintf(w, "Dumping %s\n", file)
		}
		var err error
		switch {
		case strings.HasSuffix(file, segment.LogSuffix):
			d.Kind = "log"
			err = a.dumpSegmentLog(ctx, w, d, notes, o)
		case strings.HasSuffix(file, segment.IndexSuffix):
			d.Kind = "index"
			err = a.dumpOffsetIndex(ctx, w, d, notes, o)
		case strings.HasSuffix(file, segment.TimeIndexSuffix):
			d.Kind = "timeindex"
			err = a.dumpTimeIndex(ctx, w, d, notes, o)
		default:
			fmt.Fprintf(a.stderr, "Ignoring unknown file %s\n", file)
			continue
		}
		if err != nil {
			notes.failed = true
			d.Error = err.Error()
			if !o.json {
				w.Flush()
				fmt.Fprintf(a.stderr, "Error: %s: %v\n", file, err)
			}
		}
		docs = append(docs, d)
	}
	if err := w.Flush(); err != nil {
		return err
	}
	if o.json {
		if err := a.writeJSON(nonNil(docs)); err != nil {
			return err
		}
	} else {
		for _, l := range notes.lines {
			fmt.Fprintln(a.stderr, l)
		}
	}
	if notes.failed {
		return errors.New("some files could not be dumped")
	}
	return nil
}

// fileDump is one file's dump in the --json document.
type fileDump struct {
	File string `json:"file"`
	// Kind is log, index or timeindex.
	Kind       string       `json:"kind"`
	BaseOffset int64        `json:"base_offset"`
	Batches    []*jsonBatch `json:"batches,omitempty"`
	// InvalidBytes are the bytes after the last whole batch.
	InvalidBytes   int64          `json:"invalid_bytes,omitempty"`
	NonConsecutive [][2]int64     `json:"non_consecutive_offsets,omitempty"`
	Entries        []jsonEntry    `json:"entries,omitempty"`
	Mismatches     []jsonMismatch `json:"mismatches,omitempty"`
	// SanityCheck is "passed" after --index-sanity-check that passed.
	SanityCheck string `json:"sanity_check,omitempty"`
	Error       string `json:"error,omitempty"`
}

type jsonBatch struct {
	BaseOffset           int64        `json:"base_offset"`
	LastOffset           int64        `json:"last_offset"`
	Count                int32        `json:"count"`
	BaseSequence         int32        `json:"base_sequence"`
	LastSequence         int32        `json:"last_sequence"`
	ProducerID           int64        `json:"producer_id"`
	ProducerEpoch        int16        `json:"producer_epoch"`
	PartitionLeaderEpoch int32        `json:"partition_leader_epoch"`
	IsTransactional      bool         `json:"is_transactional"`
	IsControl            bool         `json:"is_control"`
	DeleteHorizonMs      *int64       `json:"delete_horizon_ms"`
	Position             int64        `json:"position"`
	TimestampType        string       `json:"timestamp_type"`
	MaxTimestamp         int64        `json:"max_timestamp"`
	Size                 int          `json:"size"`
	Magic                int8         `json:"magic"`
	Compression          string       `json:"compresscodec"`
	CRC                  uint32       `json:"crc"`
	IsValid              bool         `json:"is_valid"`
	Records              []jsonRecord `json:"records,omitempty"`
}

type jsonRecord struct {
	Offset     int64    `json:"offset"`
	Timestamp  int64    `json:"timestamp"`
	KeySize    int      `json:"key_size"`
	ValueSize  int      `json:"value_size"`
	Sequence   int32    `json:"sequence"`
	HeaderKeys []string `json:"header_keys"`
	// Key and Value (--print-data-log) are nil for null.
	Key     *string `json:"key,omitempty"`
	Payload *string `json:"payload,omitempty"`
	// Control describes a control record (transaction marker).
	Control string `json:"control,omitempty"`
}

type jsonEntry struct {
	Offset    int64  `json:"offset"`
	Position  *int64 `json:"position,omitempty"`
	Timestamp *int64 `json:"timestamp,omitempty"`
}

type jsonMismatch struct {
	// Problem is offset-mismatch (an offset index entry whose batch ends
	// elsewhere), timestamp-mismatch, out-of-order-timestamp or
	// offset-not-found (time index entries).
	Problem string `json:"problem"`
	// IndexValue is the index's offset or timestamp, LogValue what the log
	// or the previous entry has.
	IndexValue int64 `json:"index_value"`
	LogValue   int64 `json:"log_value"`
}

// baseOffsetOf parses the base offset a segment file is named by.
func baseOffsetOf(file string) (int64, error) {
	name := filepath.Base(file)
	digits, _, _ := strings.Cut(name, ".")
	n, err := strconv.ParseInt(digits, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("the file name %s does not start with a base offset", name)
	}
	return n, nil
}

// siblingOf is the segment file with the same base offset and another suffix.
func siblingOf(file, suffix string) string {
	dir, name := filepath.Split(file)
	digits, _, _ := strings.Cut(name, ".")
	return filepath.Join(dir, digits+suffix)
}

// logFile reads the batches of a segment file.
type logFile struct {
	f    *os.File
	size int64
	buf  []byte
}

func openLogFile(path string) (*logFile, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	return &logFile{f: f, size: st.Size()}, nil
}

func (l *logFile) Close() error { return l.f.Close() }

// batchAt reads the batch at pos, within limit (the end of what may be
// read): its header and, with whole, all its bytes (valid until the next
// call). ok is false when no whole, plausible batch starts at pos: the end
// of the file, or bytes that are not a batch.
func (l *logFile) batchAt(pos, limit int64, whole bool) (h record.BatchHeader, b []byte, ok bool, err error) {
	limit = min(limit, l.size)
	if pos+record.HeaderSize > limit {
		return h, nil, false, nil
	}
	if cap(l.buf) < record.HeaderSize {
		l.buf = make([]byte, 64<<10)
	}
	if _, err := l.f.ReadAt(l.buf[:record.HeaderSize], pos); err != nil {
		return h, nil, false, err
	}
	h, err = record.ParseHeader(l.buf[:record.HeaderSize])
	if err != nil || pos+int64(h.Size()) > limit {
		return h, nil, false, nil //nolint:nilerr // not a batch: the end of the valid bytes
	}
	if !whole {
		return h, l.buf[:record.HeaderSize], true, nil
	}
	n := h.Size()
	if cap(l.buf) < n {
		l.buf = make([]byte, n)
	}
	if _, err := l.f.ReadAt(l.buf[:n], pos); err != nil && !errors.Is(err, io.EOF) {
		return h, nil, false, err
	}
	return h, l.buf[:n], true, nil
}

// endOffset is the offset after the last whole batch of the file.
func (l *logFile) endOffset(base int64) (int64, error) {
	end, pos := base, int64(0)
	for {
		h, _, ok, err := l.batchAt(pos, l.size, false)
		if err != nil || !ok {
			return end, err
		}
		end = h.NextOffset()
		pos += int64(h.Size())
	}
}

// sequenceAt is Kafka's sequence of the record delta records after
// base: -1 without a producer, wrapping past the int32 maximum.
func sequenceAt(base int32, delta int32) int32 {
	if base == record.NoProducer {
		return record.NoProducer
	}
	if base > math.MaxInt32-delta {
		return delta - (math.MaxInt32 - base) - 1
	}
	return base + delta
}

func deleteHorizonString(h *record.BatchHeader) (string, *int64) {
	if t, ok := h.DeleteHorizon(); ok {
		return fmt.Sprintf("OptionalLong[%d]", t), &t
	}
	return "OptionalLong.empty", nil
}

// controlName names a control record by its key's type, as Kafka's
// ControlRecordType.
func controlDescription(key, value []byte) string {
	if len(key) < 4 {
		return "controlType: UNKNOWN(-1)"
	}
	typ := int16(binary.BigEndian.Uint16(key[2:4]))
	switch typ {
	case 0, 1:
		name := "ABORT"
		if typ == 1 {
			name = "COMMIT"
		}
		epoch := int32(-1)
		if len(value) >= 6 {
			epoch = int32(binary.BigEndian.Uint32(value[2:6]))
		}
		return fmt.Sprintf("endTxnMarker: %s coordinatorEpoch: %d", name, epoch)
	}
	names := map[int16]string{2: "LEADER_CHANGE", 3: "SNAPSHOT_HEADER", 4: "SNAPSHOT_FOOTER", 5: "KRAFT_VERSION", 6: "KRAFT_VOTERS"}
	name, ok := names[typ]
	if !ok {
		name = "UNKNOWN"
	}
	return fmt.Sprintf("controlType: %s(%d)", name, typ)
}

// decodeString is Kafka's StringDecoder: UTF-8, invalid bytes replaced.
func decodeString(b []byte) string { return strings.ToValidUTF8(string(b), "\uFFFD") }

func (a *app) dumpSegmentLog(ctx context.Context, w *bufio.Writer, d *fileDump, notes *dumpNotes, o dumpOptions) error {
	base, err := baseOffsetOf(d.File)
	if err != nil {
		return err
	}
	d.BaseOffset = base
	if !o.json {
		fmt.Fprintf(w, "Log starting offset: %d\n", base)
	}
	l, err := openLogFile(d.File)
	if err != nil {
		return err
	}
	defer l.Close()
	bar := a.progress(filepath.Base(d.File), l.size)
	defer bar.done()
	limit := min(o.maxBytes, l.size)
	var pos int64
	lastOffset := int64(-1)
	var gaps [][2]int64
	var it record.Iterator
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		h, b, ok, err := l.batchAt(pos, limit, true)
		if err != nil {
			return err
		}
		if !ok {
			break
		}
		_, crcErr := record.Check(b)
		horizon, horizonMs := deleteHorizonString(&h)
		jb := &jsonBatch{
			BaseOffset: h.BaseOffset, LastOffset: h.LastOffset(), Count: h.NumRecords,
			BaseSequence: h.BaseSequence, LastSequence: sequenceAt(h.BaseSequence, h.LastOffsetDelta),
			ProducerID: h.ProducerID, ProducerEpoch: h.ProducerEpoch, PartitionLeaderEpoch: h.PartitionLeaderEpoch,
			IsTransactional: h.IsTransactional(), IsControl: h.IsControl(), DeleteHorizonMs: horizonMs,
			Position: pos, TimestampType: h.TimestampType().String(), MaxTimestamp: h.MaxTimestamp,
			Size: h.Size(), Magic: h.Magic, Compression: h.Compression().String(), CRC: h.CRC, IsValid: crcErr == nil,
		}
		if o.json {
			d.Batches = append(d.Batches, jb)
		} else {
			fmt.Fprintf(w, "baseOffset: %d lastOffset: %d count: %d baseSequence: %d lastSequence: %d producerId: %d producerEpoch: %d partitionLeaderEpoch: %d isTransactional: %t isControl: %t deleteHorizonMs: %s position: %d %s: %d size: %d magic: %d compresscodec: %s crc: %d isvalid: %t\n",
				jb.BaseOffset, jb.LastOffset, jb.Count, jb.BaseSequence, jb.LastSequence, jb.ProducerID, jb.ProducerEpoch,
				jb.PartitionLeaderEpoch, jb.IsTransactional, jb.IsControl, horizon, jb.Position, jb.TimestampType,
				jb.MaxTimestamp, jb.Size, jb.Magic, jb.Compression, jb.CRC, jb.IsValid)
		}
		if o.deep {
			if err := it.Reset(b); err != nil {
				return fmt.Errorf("batch at position %d: %w", pos, err)
			}
			for it.Next() {
				r := it.Record()
				if lastOffset >= 0 && r.Offset != lastOffset+1 {
					gaps = append(gaps, [2]int64{lastOffset, r.Offset})
				}
				lastOffset = r.Offset
				ts := r.Timestamp
				if h.TimestampType() == record.LogAppendTime {
					ts = h.MaxTimestamp
				}
				jr := jsonRecord{Offset: r.Offset, Timestamp: ts, KeySize: sizeOf(r.Key), ValueSize: sizeOf(r.Value),
					Sequence: sequenceAt(h.BaseSequence, int32(r.Offset-h.BaseOffset)), HeaderKeys: []string{}}
				for _, hd := range r.Headers {
					jr.HeaderKeys = append(jr.HeaderKeys, hd.Key)
				}
				if h.IsControl() {
					jr.Control = controlDescription(r.Key, r.Value)
				} else if o.printData {
					if r.Key != nil {
						jr.Key = new(decodeString(r.Key))
					}
					if r.Value != nil {
						jr.Payload = new(decodeString(r.Value))
					}
				}
				if o.json {
					jb.Records = append(jb.Records, jr)
					continue
				}
				prefix := "| "
				if !o.skipMetadata {
					fmt.Fprintf(w, "%soffset: %d %s: %d keySize: %d valueSize: %d sequence: %d headerKeys: [%s]",
						prefix, jr.Offset, jb.TimestampType, jr.Timestamp, jr.KeySize, jr.ValueSize, jr.Sequence,
						strings.Join(jr.HeaderKeys, ","))
					prefix = " "
					if jr.Control != "" {
						fmt.Fprintf(w, " %s", jr.Control)
					}
				}
				if jr.Key != nil {
					fmt.Fprintf(w, "%skey: %s", prefix, *jr.Key)
					prefix = " "
				}
				if jr.Payload != nil {
					fmt.Fprintf(w, " payload: %s", *jr.Payload)
				}
				w.WriteString("\n")
			}
			if err := it.Err(); err != nil {
				return fmt.Errorf("batch at position %d: %w", pos, err)
			}
		}
		pos += int64(h.Size())
		bar.set(pos)
	}
	if trailing := l.size - pos; trailing > 0 && o.maxBytes == math.MaxInt32 {
		d.InvalidBytes = trailing
		if !o.json {
			fmt.Fprintf(w, "Found %d invalid bytes at the end of %s\n", trailing, filepath.Base(d.File))
		}
	}
	if len(gaps) > 0 {
		d.NonConsecutive = gaps
		abs, _ := filepath.Abs(d.File)
		notes.add("Non-consecutive offsets in %s", abs)
		for i := len(gaps) - 1; i >= 0; i-- { // kafka-dump-log lists the last first
			notes.add("  %d is followed by %d", gaps[i][0], gaps[i][1])
		}
	}
	return nil
}

func sizeOf(b []byte) int {
	if b == nil {
		return -1
	}
	return len(b)
}

// readIndex reads an index file's raw entries of size entrySize, as
// Kafka's tools see them: the file's length divided by the entry size.
func readIndex(path string, entrySize int) ([]byte, int, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, 0, err
	}
	return data, len(data) / entrySize, nil
}

// sanityCheck runs the index package's check, the one a segment's Open
// runs, on a copy of the file in memory: the file itself is not opened
// for writing.
func sanityCheck(path string, data []byte, base int64, logLimit func() (int64, error), timeIndex bool) error {
	mem := vfs.NewMem()
	name, err := filepath.Abs(path)
	if err != nil {
		return err
	}
	if err := mem.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		return err
	}
	if err := vfs.WriteFile(mem, name, data, false); err != nil {
		return err
	}
	maxBytes := max(len(data), segment.DefaultMaxIndexBytes)
	limit, lerr := logLimit()
	if lerr != nil {
		limit = -1
	}
	if timeIndex {
		ti, err := index.OpenTimeIndex(mem, name, base, maxBytes)
		if err != nil {
			return err
		}
		defer ti.Close()
		return ti.SanityCheck(limit)
	}
	ix, err := index.OpenOffsetIndex(mem, name, base, maxBytes)
	if err != nil {
		return err
	}
	defer ix.Close()
	return ix.SanityCheck(limit)
}

func (a *app) dumpOffsetIndex(ctx context.Context, w *bufio.Writer, d *fileDump, notes *dumpNotes, o dumpOptions) error {
	base, err := baseOffsetOf(d.File)
	if err != nil {
		return err
	}
	d.BaseOffset = base
	data, n, err := readIndex(d.File, index.OffsetEntrySize)
	if err != nil {
		return err
	}
	logPath := siblingOf(d.File, segment.LogSuffix)
	l, err := openLogFile(logPath)
	if err != nil {
		return err
	}
	defer l.Close()
	if n == 0 {
		if !o.json {
			fmt.Fprintf(w, "%s is empty.\n", d.File)
		}
		return nil
	}
	if o.sanityOnly {
		if err := sanityCheck(d.File, data, base, func() (int64, error) { return l.size, nil }, false); err != nil {
			return err
		}
		d.SanityCheck = "passed"
		if !o.json {
			fmt.Fprintf(w, "%s passed sanity check.\n", d.File)
		}
		return nil
	}
	bar := a.progress(filepath.Base(d.File), int64(n))
	defer bar.done()
	var mismatches [][2]int64
	for i := range n {
		if err := ctx.Err(); err != nil {
			return err
		}
		off := base + int64(binary.BigEndian.Uint32(data[i*8:]))
		position := int64(binary.BigEndian.Uint32(data[i*8+4:]))
		if off == base && i > 0 {
			break // zero padding after a crash, as Kafka stops there
		}
		logOffset := int64(-1)
		h, _, ok, err := l.batchAt(position, l.size, false)
		if err != nil {
			return err
		}
		if ok {
			logOffset = h.LastOffset()
		}
		if logOffset != off {
			mismatches = append(mismatches, [2]int64{off, logOffset})
			d.Mismatches = append(d.Mismatches, jsonMismatch{"offset-mismatch", off, logOffset})
		}
		if !o.verifyOnly {
			if o.json {
				d.Entries = append(d.Entries, jsonEntry{Offset: off, Position: new(position)})
			} else {
				fmt.Fprintf(w, "offset: %d position: %d\n", off, position)
			}
		}
		bar.set(int64(i + 1))
	}
	if len(mismatches) > 0 {
		abs, _ := filepath.Abs(d.File)
		notes.add("Mismatches in :%s", abs)
		for i := len(mismatches) - 1; i >= 0; i-- { // kafka-dump-log lists the last first
			notes.add("  Index offset: %d, log offset: %d", mismatches[i][0], mismatches[i][1])
		}
	}
	return nil
}

func (a *app) dumpTimeIndex(ctx context.Context, w *bufio.Writer, d *fileDump, notes *dumpNotes, o dumpOptions) error {
	base, err := baseOffsetOf(d.File)
	if err != nil {
		return err
	}
	d.BaseOffset = base
	data, n, err := readIndex(d.File, index.TimeEntrySize)
	if err != nil {
		return err
	}
	l, err := openLogFile(siblingOf(d.File, segment.LogSuffix))
	if err != nil {
		return err
	}
	defer l.Close()
	offData, offN, err := readIndex(siblingOf(d.File, segment.IndexSuffix), index.OffsetEntrySize)
	if err != nil {
		return err
	}
	if o.sanityOnly {
		if err := sanityCheck(d.File, data, base, func() (int64, error) { return l.endOffset(base) }, true); err != nil {
			return err
		}
		d.SanityCheck = "passed"
		if !o.json {
			fmt.Fprintf(w, "%s passed sanity check.\n", d.File)
		}
		return nil
	}
	// lookup is the offset index's entry at or below off: where to scan
	// the log from.
	lookup := func(off int64) int64 {
		lo, hi := 0, offN // first entry above off
		for lo < hi {
			m := (lo + hi) / 2
			if base+int64(binary.BigEndian.Uint32(offData[m*8:])) <= off {
				lo = m + 1
			} else {
				hi = m
			}
		}
		if lo == 0 {
			return 0
		}
		return int64(binary.BigEndian.Uint32(offData[(lo-1)*8+4:]))
	}
	bar := a.progress(filepath.Base(d.File), int64(n))
	defer bar.done()
	var mismatchTS, outOfOrder, notFound [][2]int64
	prevTS := int64(-1) // Kafka's NO_TIMESTAMP
	var it record.Iterator
	for i := range n {
		if err := ctx.Err(); err != nil {
			return err
		}
		ts := int64(binary.BigEndian.Uint64(data[i*12:]))
		off := base + int64(binary.BigEndian.Uint32(data[i*12+8:]))
		if off == base && i > 0 {
			break // zero padding after a crash, as Kafka stops there
		}
		// The first batch at or after the entry's offset, from the
		// offset index's position for it.
		pos := lookup(off)
		var (
			h     record.BatchHeader
			b     []byte
			found bool
		)
		for {
			h, b, found, err = l.batchAt(pos, l.size, true)
			if err != nil {
				return err
			}
			if !found || h.LastOffset() >= off {
				break
			}
			pos += int64(h.Size())
		}
		switch {
		case !found:
			notFound = append(notFound, [2]int64{off, -1})
		case h.LastOffset() != off:
			notFound = append(notFound, [2]int64{off, h.LastOffset()})
		default:
			maxTS := int64(-1)
			if err := it.Reset(b); err != nil {
				return fmt.Errorf("batch at position %d: %w", pos, err)
			}
			for it.Next() {
				rts := it.Record().Timestamp
				if h.TimestampType() == record.LogAppendTime {
					rts = h.MaxTimestamp
				}
				maxTS = max(maxTS, rts)
			}
			if err := it.Err(); err != nil {
				return fmt.Errorf("batch at position %d: %w", pos, err)
			}
			if maxTS != ts {
				mismatchTS = append(mismatchTS, [2]int64{ts, maxTS})
			}
			if prevTS >= ts {
				outOfOrder = append(outOfOrder, [2]int64{ts, prevTS})
			}
		}
		if !o.verifyOnly {
			if o.json {
				d.Entries = append(d.Entries, jsonEntry{Offset: off, Timestamp: new(ts)})
			} else {
				fmt.Fprintf(w, "timestamp: %d offset: %d\n", ts, off)
			}
		}
		prevTS = ts
		bar.set(int64(i + 1))
	}
	abs, _ := filepath.Abs(d.File)
	if len(mismatchTS) > 0 {
		notes.add("Found timestamp mismatch in :%s", abs)
		for _, m := range mismatchTS {
			notes.add("  Index timestamp: %d, log timestamp: %d", m[0], m[1])
			d.Mismatches = append(d.Mismatches, jsonMismatch{"timestamp-mismatch", m[0], m[1]})
		}
	}
	if len(outOfOrder) > 0 {
		notes.add("Found out of order timestamp in :%s", abs)
		for _, m := range outOfOrder {
			notes.add("  Index timestamp: %d, Previously indexed timestamp: %d", m[0], m[1])
			d.Mismatches = append(d.Mismatches, jsonMismatch{"out-of-order-timestamp", m[0], m[1]})
		}
	}
	if len(notFound) > 0 {
		notes.add("The following indexed offsets are not found in the log.")
		for _, m := range notFound {
			notes.add("Indexed offset: %d, found log offset: %d", m[0], m[1])
			d.Mismatches = append(d.Mismatches, jsonMismatch{"offset-not-found", m[0], m[1]})
		}
	}
	return nil
}
