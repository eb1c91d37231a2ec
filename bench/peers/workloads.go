package main

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"
)

// results holds every table, for the targets.
type results struct {
	w1, w2, w3, reopen *table
	w4                 map[int64]*table
	w4sizes            []int64
	w4growth           *table
	w4small, w4large   int64 // the sizes the growth table compares
	w5                 *table
	w6                 map[int]*table
}

// writeAll appends n values of p in batches of bs, timed, and returns the
// seconds it took until everything was acknowledged.
func writeAll(s Sys, p *payload, n, bs int) (float64, error) {
	b := p.newBatch(bs)
	t0 := time.Now()
	for i := 0; i < n; i += bs {
		if n-i < bs {
			b = p.newBatch(n - i)
		}
		b.setSeq(uint64(i))
		if err := s.Append(b); err != nil {
			return 0, fmt.Errorf("append at %d: %w", i, err)
		}
	}
	if err := s.Flush(); err != nil {
		return 0, fmt.Errorf("flush: %w", err)
	}
	return since(t0), nil
}

func verifyScan(s Sys, p *payload, n int64) error {
	v := orderedVerifier{p: p}
	if err := s.Scan(n, v.add); err != nil {
		return err
	}
	return v.done(n)
}

func refsOf(s []sysInfo, read bool) []string {
	var r []string
	for _, x := range s {
		if x.commitlog {
			if read {
				r = append(r, x.readRow())
			} else {
				r = append(r, x.name)
			}
		}
	}
	return r
}

const verifiedNote = "Every system's data was read back (untimed) and each value compared byte for byte with what was written; count and checksum of sequence numbers checked."

// ---- workload 1: 100-byte values, batches of 100, no fsync, one writer.

func w1(p params) *table {
	pl := newPayload(100)
	syss := selected(p, 1)
	t := newTable(fmt.Sprintf("Workload 1: append %d values of 100 B, batches of %d, no fsync, one writer", p.n100, p.batch), "records/s", true)
	t.second, t.secondScale = "MB/s", 100/1e6
	t.refs = refsOf(syss, false)
	for rep := range p.reps {
		for _, si := range rotate(syss, rep) {
			logf("w1 round %d %s", rep, si.name)
			t.rowOf(si.name, si.kind())
			dir := newDir(p, "w1")
			s := si.new(pl)
			err := func() error {
				if err := s.Create(dir, false); err != nil {
					return err
				}
				sec, err := writeAll(s, pl, p.n100, p.batch)
				if err != nil {
					s.Close()
					return err
				}
				t.add(si.name, float64(p.n100)/sec)
				if rb, ok := s.(RecordsPerBatcher); ok {
					if v, err := rb.RecordsPerBatch(); err == nil {
						t.addExtra(si.name, "records/batch", v)
					}
				}
				if err := verifyScan(s, pl, int64(p.n100)); err != nil {
					s.Close()
					return fmt.Errorf("verify: %w", err)
				}
				return s.Close()
			}()
			if err != nil {
				t.addErr(si.name, err)
				logf("  error: %v", err)
			}
			os.RemoveAll(dir)
		}
	}
	t.notes = append(t.notes, verifiedNote)
	return t
}

// ---- workloads 2 and 3 on the same data: append 1 KiB values (timed:
// 2), close, fsync the files (untimed), reopen (timed: the reopen table),
// read everything sequentially from the page cache and verify it (timed: 3).

func w23(p params) (t2, t3, t6 *table) {
	pl := newPayload(1024)
	mb := float64(p.n1k) * 1024 / 1e6
	syss := selected(p, 2)
	t2 = newTable(fmt.Sprintf("Workload 2: append %d values of 1 KiB (%.0f MB), batches of %d, no fsync", p.n1k, mb, p.batch), "MB/s", true)
	t2.refs = refsOf(syss, false)
	t3 = newTable(fmt.Sprintf("Workload 3: sequential read of the %.0f MB just written (page cache), every value verified", mb), "MB/s", true)
	t3.refs = refsOf(syss, true)
	t6 = newTable(fmt.Sprintf("Reopen after a clean close, %.0f MB log (warm page cache), until ready to append (not a target; measured on the way)", mb), "ms", false)
	t6.refs = refsOf(syss, false)
	for rep := range p.reps {
		for _, si := range rotate(syss, rep) {
			logf("w2/3 round %d %s", rep, si.name)
			t2.rowOf(si.name, si.kind())
			readRow := si.readRow()
			if si.name != nameWriteSync {
				if si.name == nameWrite {
					readRow = nameRead
				}
				t3.rowOf(readRow, si.kind())
			}
			if !si.physical {
				t6.rowOf(si.name, si.kind())
			}
			dir := newDir(p, "w2")
			err := func() error {
				s := si.new(pl)
				if err := s.Create(dir, false); err != nil {
					return err
				}
				sec, err := writeAll(s, pl, p.n1k, p.batch)
				if err != nil {
					s.Close()
					return err
				}
				t2.add(si.name, mb/sec)
				if rb, ok := s.(RecordsPerBatcher); ok {
					if v, err := rb.RecordsPerBatch(); err == nil {
						t2.addExtra(si.name, "records/batch", v)
					}
				}
				if err := s.Close(); err != nil {
					return fmt.Errorf("close: %w", err)
				}
				syncTree(dir)
				s = si.new(pl)
				t0 := time.Now()
				if err := s.Reopen(dir); err != nil {
					return fmt.Errorf("reopen: %w", err)
				}
				reopen := since(t0)
				n, err := s.Count()
				if err != nil {
					s.Close()
					return fmt.Errorf("count after reopen: %w", err)
				}
				if n != int64(p.n1k) {
					s.Close()
					return fmt.Errorf("reopened with %d records, want %d", n, p.n1k)
				}
				if !si.physical {
					t6.add(si.name, reopen*1e3)
				}
				t0 = time.Now()
				if err := verifyScan(s, pl, int64(p.n1k)); err != nil {
					s.Close()
					return fmt.Errorf("read: %w", err)
				}
				if si.name != nameWriteSync { // verified, not timed: the same bytes as write(2)'s
					t3.add(readRow, mb/since(t0))
				}
				if err := s.Close(); err != nil {
					return err
				}
				if si.name == nameWrite {
					// The same file again: read(2) alone, and memmove.
					t3.rowOf(nameReadRaw, kindLimit)
					t3.rowOf(nameMemmove, kindLimit)
					t0 = time.Now()
					got, err := readRaw(filepath.Join(dir, "data"))
					if err != nil {
						return err
					}
					if got != int64(p.n1k)*1024 {
						return fmt.Errorf("raw read %d bytes", got)
					}
					t3.add(nameReadRaw, mb/since(t0))
					memmoveInit()
					t0 = time.Now()
					memmove(int64(p.n1k) * 1024)
					t3.add(nameMemmove, mb/since(t0))
				}
				return nil
			}()
			if err != nil {
				t2.addErr(si.name, err)
				logf("  error: %v", err)
			}
			os.RemoveAll(dir)
		}
	}
	t2.notes = append(t2.notes, "Each system's data is then closed, fsynced (untimed), reopened and read back in full: workload 3.")
	t3.notes = append(t3.notes, "Each system reads back everything through its own read API (decoding and CRC checks included) and every value is compared byte for byte with what was written, count and checksum checked. The read(2) row does the same verification on the raw file; the no-verification and memmove rows show what the verification and the copy cost.")
	t6.notes = append(t6.notes, "Timed from the open call until the store is ready for appends; the record count it reports is checked afterwards (untimed). NATS's figure includes starting the embedded server; etcd's is Open + ReadAll, which its WAL needs before the next append; kfake's includes NewCluster's reload and a kgo client.")
	return t2, t3, t6
}

// ---- workload 4: random read of one record by offset, at several log
// sizes. For each size every system's log is built (untimed), then the
// lookups are interleaved round by round, then the logs are removed.

// bytesPerRecordOnDisk is a generous estimate of what one 100 B record
// costs on disk in any of the systems (framing, indexes), to check that the
// largest size fits before building it.
const bytesPerRecordOnDisk = 300

func w4(p params, r *results) {
	pl := newPayload(100)
	var syss []sysInfo
	for _, si := range selected(p, 4) {
		if _, ok := si.new(pl).(RandomReader); ok {
			syss = append(syss, si)
		}
	}
	tabs := map[int64]*table{}
	var sizes []int64
	for _, n := range p.rsizes {
		t := newTable(fmt.Sprintf("Workload 4: random read of one 100 B record by offset, log of %s records (batches of %d)", si(float64(n)), p.batch), "ns/op", false)
		t.refs = refsOf(syss, true)
		need := n * bytesPerRecordOnDisk * int64(len(syss))
		if free, err := freeBytes(p.tmp); err == nil && free < need+need/2 {
			t.notes = append(t.notes, fmt.Sprintf("Not run: %d systems × %s records need about %.1f GB, and %.1f GB are free under %s.", len(syss), si(float64(n)), float64(need)/1e9, float64(free)/1e9, filepath.Dir(p.tmp)))
			logf("w4: skipping %d records: %.1f GB free, %.1f GB needed", n, float64(free)/1e9, float64(need)/1e9)
			tabs[n] = t
			sizes = append(sizes, n)
			continue
		}
		tabs[n] = t
		sizes = append(sizes, n)
		type built struct {
			s   Sys
			dir string
		}
		logs := map[string]built{}
		for _, si := range syss {
			t.rowOf(si.readRow(), si.kind())
			logf("w4 build %s %d", si.readRow(), n)
			dir := newDir(p, "w4")
			s := si.new(pl)
			if err := s.Create(dir, false); err != nil {
				t.addErr(si.readRow(), err)
				os.RemoveAll(dir)
				continue
			}
			t0 := time.Now()
			if _, err := writeAll(s, pl, int(n), p.batch); err != nil {
				t.addErr(si.readRow(), err)
				s.Close()
				os.RemoveAll(dir)
				continue
			}
			logf("  built in %.1f s", since(t0))
			logs[si.name] = built{s, dir}
		}
		for rep := range p.reps {
			for _, si := range rotate(syss, rep) {
				b, ok := logs[si.name]
				if !ok {
					continue
				}
				rr := b.s.(RandomReader)
				rng := rand.New(rand.NewPCG(uint64(rep), uint64(n)))
				var i int64
				check := func(v []byte) error { return pl.check(v, uint64(i)) }
				var err error
				for range 200 { // warm-up, untimed
					i = rng.Int64N(n)
					if err = rr.Get(i, check); err != nil {
						break
					}
				}
				ops := 0
				t0 := time.Now()
				for err == nil {
					i = rng.Int64N(n)
					if err = rr.Get(i, check); err != nil {
						break
					}
					ops++
					if ops%16 == 0 && time.Since(t0) >= p.rdur {
						break
					}
				}
				if err != nil {
					t.addErr(si.readRow(), fmt.Errorf("get %d: %w", i, err))
					continue
				}
				ns := float64(time.Since(t0).Nanoseconds()) / float64(ops)
				t.add(si.readRow(), ns)
				logf("w4 round %d n=%d %s: %.0f ns/op (%d ops)", rep, n, si.readRow(), ns, ops)
			}
		}
		for _, b := range logs {
			b.s.Close()
			os.RemoveAll(b.dir)
		}
		t.notes = append(t.notes, "Each op draws a uniformly random offset (the same sequence for every system within a round), reads that one record through the system's read-by-position API and checks its content. Systems without read-by-position (etcd wal, go-diskqueue, the Kafka-client route) are absent.")
	}
	var measured []int64
	for _, n := range sizes {
		if len(tabs[n].rows) > 0 {
			measured = append(measured, n)
		}
	}
	r.w4, r.w4sizes = tabs, sizes
	if len(measured) < 2 {
		return
	}
	small, large := measured[0], measured[len(measured)-1]
	tr := newTable(fmt.Sprintf("Workload 4: growth, ns/op at %s records ÷ ns/op at %s", si(float64(large)), si(float64(small))), "ratio", false)
	tr.refs = refsOf(syss, true)
	for _, s := range syss {
		name := s.readRow()
		a, b := tabs[small].vals(name), tabs[large].vals(name)
		tr.rowOf(name, s.kind())
		if len(a) == 0 || len(b) == 0 {
			continue
		}
		if len(a) == len(b) {
			for i := range a {
				tr.add(name, b[i]/a[i])
			}
		} else {
			tr.add(name, median(b)/median(a))
		}
	}
	r.w4growth, r.w4small, r.w4large = tr, small, large
}

// ---- workload 5: one goroutine, commitlog's producer with its default
// config: SendSync per record, against the async path (SendCallback +
// Flush). 100 B records.

const (
	nameW5Sync  = "commitlog SendSync, 1 goroutine, default config"
	nameW5Async = "commitlog SendCallback (async) + Flush, 1 goroutine, default config"
)

func w5(p params) *table {
	pl := newPayload(100)
	t := newTable(fmt.Sprintf("Workload 5: one goroutine sending 100 B records for %s, commitlog's producer with producer.Config{} (no fsync)", p.w5dur), "records/s", true)
	var info *sysInfo
	for _, s := range selected(p, 5) {
		if s.name == nameCLDefault {
			info = &s
		}
	}
	if info == nil {
		return t
	}
	type variant struct {
		name string
		sync bool
	}
	vars := []variant{{nameW5Sync, true}, {nameW5Async, false}}
	for rep := range p.reps {
		for k := range vars {
			v := vars[(k+rep)%len(vars)]
			t.rowOf(v.name, kindCommitlog)
			logf("w5 round %d %s", rep, v.name)
			dir := newDir(p, "w5")
			err := func() error {
				s := info.new(pl)
				if err := s.Create(dir, false); err != nil {
					return err
				}
				buf := make([]byte, 0, pl.size)
				var n uint64
				t0 := time.Now()
				for time.Since(t0) < p.w5dur {
					val := pl.one(buf, n)
					var err error
					if v.sync {
						err = s.(SyncWriter).AppendOne(val)
					} else {
						err = s.(AsyncSender).SendOne(val)
					}
					if err != nil {
						s.Close()
						return err
					}
					n++
				}
				if err := s.Flush(); err != nil {
					s.Close()
					return err
				}
				t.add(v.name, float64(n)/since(t0))
				if err := verifyScan(s, pl, int64(n)); err != nil {
					s.Close()
					return fmt.Errorf("verify: %w", err)
				}
				return s.Close()
			}()
			if err != nil {
				t.addErr(v.name, err)
				logf("  error: %v", err)
			}
			os.RemoveAll(dir)
		}
	}
	t.notes = append(t.notes, "SendSync waits for each record's acknowledgement (acks=all: in the log) before sending the next; the async row is timed until Flush returns. "+verifiedNote)
	return t
}

// ---- workload 6: durable sends: each of N goroutines appends one 100 B
// record and waits for its acknowledgement after fsync, in a loop.

// w6Notes says how each system's records per fsync are known when it does
// not count them.
var w6Notes = map[string]string{
	"tidwall/wal":                      "1 record per fsync (one fsync per Write)",
	"etcd wal":                         "1 record per fdatasync (one per Save)",
	"hashicorp/raft-wal":               "1 record per fsync (one per StoreLogs)",
	"NATS JetStream (embedded server)": "1 record per fsync (sync_always)",
	"nsqio/go-diskqueue":               "acknowledged BEFORE its fsync: not durable when acknowledged",
	namePwrite:                         "1 record per fdatasync",
	namePrealloc:                       "1 record per fdatasync",
}

func w6(p params) map[int]*table {
	pl := newPayload(100)
	var syss []sysInfo
	for _, si := range selected(p, 6) {
		if _, ok := si.new(pl).(SyncWriter); ok {
			syss = append(syss, si)
		}
	}
	tabs := map[int]*table{}
	for _, w := range p.senders {
		t := newTable(fmt.Sprintf("Workload 6: durable sends, %d goroutines each sending one 100 B record at a time, acknowledged after fsync", w), "records/s", true)
		t.refs = refsOf(syss, false)
		tabs[w] = t
	}
	for rep := range p.reps {
		for _, w := range p.senders {
			t := tabs[w]
			for _, si := range rotate(syss, rep) {
				name := si.name
				if name == nameWrite {
					name = namePwrite
				}
				logf("w6 round %d senders %d %s", rep, w, name)
				t.rowOf(name, si.kind())
				if note, ok := w6Notes[name]; ok {
					t.setNote(name, note)
				}
				dir := newDir(p, "w6")
				err := durableRun(p, t, name, si, pl, dir, w)
				if err != nil {
					t.addErr(name, err)
					logf("  error: %v", err)
				}
				os.RemoveAll(dir)
			}
		}
	}
	for _, w := range p.senders {
		tabs[w].notes = append(tabs[w].notes, "Each sender loops: send one record, wait for its acknowledgement; the run lasts "+p.w6dur.String()+" and counts acknowledged records; all of them are read back afterwards and verified (count, content, checksum). records/fsync: commitlog's rows count the fsyncs of segment files through a counting vfs.FS (index fsyncs not counted); kfake's is records ÷ batches in its segment files (SyncWrites fsyncs once per batch); the others fsync once per call by construction.")
	}
	return tabs
}

func durableRun(p params, t *table, name string, si sysInfo, pl *payload, dir string, senders int) error {
	s := si.new(pl)
	if err := s.Create(dir, true); err != nil {
		return err
	}
	sw := s.(SyncWriter)
	sc, counts := s.(SyncCounter)
	if counts {
		sc.ResetSyncCount()
	}
	var (
		stop  atomic.Bool
		wg    sync.WaitGroup
		total atomic.Int64
		mu    sync.Mutex
		ferr  error // guarded by mu: the first sender's error
		sent  = make([]uint64, senders)
	)
	t0 := time.Now()
	for wi := range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 0, pl.size)
			for k := uint64(0); !stop.Load(); k++ {
				v := pl.one(buf, uint64(wi)<<40|k)
				if err := sw.AppendOne(v); err != nil {
					mu.Lock()
					if ferr == nil {
						ferr = err
					}
					mu.Unlock()
					stop.Store(true)
					return
				}
				total.Add(1)
				sent[wi] = k + 1
			}
		}()
	}
	time.Sleep(p.w6dur)
	stop.Store(true)
	wg.Wait()
	sec := since(t0)
	if ferr != nil {
		s.Close()
		return ferr
	}
	n := total.Load()
	t.add(name, float64(n)/sec)
	switch fc, ok := s.(FsyncCounter); {
	case counts:
		if f := sc.Fsyncs(); f > 0 {
			t.addExtra(name, "records/fsync", float64(n)/float64(f))
		}
	case ok:
		if v, err := fc.RecordsPerSync(); err == nil {
			t.addExtra(name, "records/fsync", v)
		} else {
			logf("  records/fsync: %v", err)
		}
	}
	if err := s.Flush(); err != nil {
		s.Close()
		return err
	}
	sv := setVerifier{p: pl}
	if err := s.Scan(n, sv.add); err != nil {
		s.Close()
		return fmt.Errorf("verify: %w", err)
	}
	if sv.n != n {
		s.Close()
		return fmt.Errorf("verify: read %d records, %d acknowledged", sv.n, n)
	}
	// Sender wi sent sequence numbers wi<<40 | 0..sent[wi]-1: their sum
	// (modulo 2^64) catches a duplicate that replaced another record.
	var want uint64
	for wi, c := range sent {
		want += uint64(wi)<<40*c + c*(c-1)/2
	}
	if sv.sum != want {
		s.Close()
		return fmt.Errorf("verify: checksum %d, want %d", sv.sum, want)
	}
	return s.Close()
}
