package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync/atomic"
)

// Physical limits, measured on the same bytes (the values back to back) in
// the same run.

const (
	nameWrite     = "limit: write(2)"
	nameWriteSync = "limit: write(2) + one fdatasync at the end"
	nameRead      = "limit: read(2) 1 MiB + the same verification"
	nameReadRaw   = "limit: read(2) 1 MiB, no verification"
	nameMemmove   = "limit: memmove (copy between 64 MiB buffers)"
	namePwrite    = "limit: concurrent pwrite + fdatasync per record"
	namePrealloc  = "limit: concurrent pwrite + fdatasync per record, preallocated file"
)

var physicalSystems = []sysInfo{
	{name: nameWrite, physical: true, new: newRawWrite, only: map[int]bool{1: true, 2: true, 3: true, 6: true},
		syncNote: "one write(2) per batch of values to one file, no fsync (the page-cache limit); read back with read(2) 1 MiB at a time and the same verification as every system. In workload 6 (row \"" + namePwrite + "\") each sender does pwrite(2) of one record + fdatasync, into a growing file"},
	{name: nameWriteSync, physical: true, new: newSyncEnd, only: map[int]bool{1: true, 2: true},
		syncNote: "the same write(2)s, then one fdatasync at the end, inside the timing: what the disk itself sustains"},
	{name: namePrealloc, physical: true, new: newPrealloc, only: map[int]bool{6: true},
		syncNote: "durable only: as the pwrite + fdatasync row, the file fallocate'd (1 GiB) first, as etcd's and raft-wal's segments are, so fdatasync has no file size to commit"},
}

// rawWrite: write(2) of each batch's bytes (one call per batch) to one
// file, no fsync: the page-cache limit. Its Scan is a plain sequential
// read(2), 1 MiB at a time, with the same verification of every value as
// the systems get. Durable (workload 6): pwrite of one value + fdatasync,
// per record, from any number of senders.
type rawWrite struct {
	p       *payload
	path    string
	f       *os.File
	syncEnd bool // one fdatasync at the end (in Flush)
	pre     bool // durable: preallocate the file
	off     atomic.Int64
	size    int64
}

func newRawWrite(p *payload) Sys { return &rawWrite{p: p} }
func newSyncEnd(p *payload) Sys  { return &rawWrite{p: p, syncEnd: true} }
func newPrealloc(p *payload) Sys { return &rawWrite{p: p, pre: true} }

func (s *rawWrite) Create(dir string, durable bool) error {
	if s.pre && !durable {
		return errUnsupported
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	s.path = filepath.Join(dir, "data")
	f, err := os.OpenFile(s.path, os.O_CREATE|os.O_TRUNC|os.O_RDWR, 0o644)
	if err != nil {
		return err
	}
	s.f = f
	if s.pre {
		if err := fallocate(f, 1<<30); err != nil {
			f.Close()
			return err
		}
	}
	return nil
}

func (s *rawWrite) Append(b *batch) error {
	_, err := s.f.Write(b.Buf)
	return err
}

func (s *rawWrite) AppendOne(v []byte) error {
	off := s.off.Add(int64(len(v))) - int64(len(v))
	if _, err := s.f.WriteAt(v, off); err != nil {
		return err
	}
	return fdatasync(s.f)
}

func (s *rawWrite) Flush() error {
	if !s.syncEnd {
		return nil
	}
	return fdatasync(s.f)
}

func (s *rawWrite) Close() error { return s.f.Close() }

func (s *rawWrite) Reopen(dir string) error {
	s.path = filepath.Join(dir, "data")
	f, err := os.Open(s.path)
	if err != nil {
		return err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return err
	}
	s.f, s.size = f, st.Size()
	return nil
}

func (s *rawWrite) Count() (int64, error) {
	if s.size == 0 {
		// Written by AppendOne, in this session.
		return s.off.Load() / int64(s.p.size), nil
	}
	return s.size / int64(s.p.size), nil
}

// Scan reads the file sequentially with read(2), 1 MiB at a time (a
// multiple of the value size), and hands each value to fn.
func (s *rawWrite) Scan(n int64, fn func(v []byte) error) error {
	chunk := (1 << 20) / s.p.size * s.p.size
	buf := make([]byte, chunk)
	var got int64
	for off := int64(0); got < n; {
		m, err := s.f.ReadAt(buf, off)
		off += int64(m)
		if m%s.p.size != 0 {
			return fmt.Errorf("read %d bytes, not whole values", m)
		}
		for i := 0; i < m && got < n; i += s.p.size {
			if err := fn(buf[i : i+s.p.size]); err != nil {
				return err
			}
			got++
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// readRaw reads the file at path sequentially, 1 MiB a read(2), and
// returns the bytes read (no verification: the syscall and copy alone).
func readRaw(path string) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	buf := make([]byte, 1<<20)
	var total int64
	for {
		n, err := f.Read(buf)
		total += int64(n)
		if err == io.EOF {
			return total, nil
		}
		if err != nil {
			return total, err
		}
	}
}

// memmove copies total bytes with copy() between two 64 MiB buffers
// (larger than any cache): the memory bandwidth limit of a read that
// copies.
var mmSrc, mmDst []byte

func memmoveInit() {
	if mmSrc == nil {
		mmSrc, mmDst = make([]byte, 64<<20), make([]byte, 64<<20)
		for i := range mmSrc {
			mmSrc[i] = byte(i)
		}
		copy(mmDst, mmSrc)
	}
}

func memmove(total int64) {
	for total > 0 {
		n := min(total, int64(len(mmSrc)))
		copy(mmDst[:n], mmSrc[:n])
		total -= n
	}
}
