package main

import (
	"errors"
	"time"
)

// Sys is one system under test, adapted to the harness. A fresh value is
// made for every measurement (sysInfo.new), so no state leaks from one to
// the next.
type Sys interface {
	// Create makes a new, empty store in dir. durable selects the
	// configuration of workload 6 (acknowledged = fsynced); otherwise the
	// system writes without a per-append fsync (what each one still fsyncs
	// on its own, e.g. on a segment roll, is said in its syncNote).
	Create(dir string, durable bool) error
	// Append writes one batch of values; they are valid only during the
	// call. Async systems may return before the batch is acknowledged.
	Append(b *batch) error
	// Flush returns when everything appended so far is acknowledged.
	Flush() error
	// Close closes the store cleanly (whatever the system does then:
	// flush, fsync, checkpoint).
	Close() error
	// Reopen opens the store in dir after a clean Close, until it is
	// ready to take appends.
	Reopen(dir string) error
	// Count is the number of records the (re)opened store holds.
	Count() (int64, error)
	// Scan reads every record from the first one on, in order.
	Scan(n int64, fn func(v []byte) error) error
}

// RandomReader is a system that can read one record by its position
// (0-based) without reading those before it.
type RandomReader interface {
	Get(i int64, fn func(v []byte) error) error
}

// SyncWriter appends one record and returns once it is acknowledged; safe
// for concurrent use. With Create(dir, true) the acknowledgement follows
// an fsync (except where the syncNote says otherwise).
type SyncWriter interface {
	AppendOne(v []byte) error
}

// AsyncSender queues one record without waiting for it (Flush waits).
type AsyncSender interface {
	SendOne(v []byte) error
}

// SyncCounter counts the fsyncs a system makes, exactly.
type SyncCounter interface {
	ResetSyncCount()
	Fsyncs() int64
}

// FsyncCounter reports how many records each fsync carried, where the
// system cannot count fsyncs but its files tell.
type FsyncCounter interface {
	RecordsPerSync() (float64, error)
}

// RecordsPerBatcher reports records per batch as written, for the producers
// whose batching is by bytes and time rather than by the caller.
type RecordsPerBatcher interface {
	RecordsPerBatch() (float64, error)
}

type sysInfo struct {
	name string
	// readName, if set, names the system's rows in the read workloads
	// (commitlog writes with its producer and reads with its consumer).
	readName string
	// commitlog marks the project's own variants (ratios are against them).
	commitlog bool
	// physical marks the physical limits (raw syscalls, memmove).
	physical bool
	new      func(p *payload) Sys
	// workloads this system takes part in (1..6); nil: all it supports.
	only map[int]bool
	// syncNote says what "no fsync" and "durable" mean for this system.
	syncNote string
}

func (s sysInfo) readRow() string {
	if s.readName != "" {
		return s.readName
	}
	return s.name
}

func (s sysInfo) kind() string {
	switch {
	case s.commitlog:
		return kindCommitlog
	case s.physical:
		return kindLimit
	}
	return kindPeer
}

const (
	kindCommitlog = "commitlog"
	kindPeer      = "peer"
	kindLimit     = "limit"
)

var errUnsupported = errors.New("unsupported")

func since(t0 time.Time) float64 { return time.Since(t0).Seconds() }
