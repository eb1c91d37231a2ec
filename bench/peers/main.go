// Command peers runs the same workloads on commitlog and on the embeddable
// logs and queues a Go user would pick instead, interleaved (A B C ... A B C
// ...), together with the physical limits of the machine (write(2),
// fdatasync, read(2), memmove), and prints one table per workload with
// medians, min–max and the ratio commitlog ÷ peer measured in the same run,
// then each of commitlog's performance targets with PASS or MISS.
//
//	go run . -mode quick   # a smoke run: small sizes, one round
//	go run . -mode full    # the measurement: medians of 3 interleaved rounds
//
// It is a module of its own, so commitlog gains none of the peers as
// dependencies; go.mod's replace directive points it at the working tree
// (../..). See README.md for what each system's "sync" means.
package main

import (
	"flag"
	"fmt"
	"io/fs"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

type params struct {
	mode     string
	reps     int
	batch    int
	n100     int // workload 1: records of 100 B
	n1k      int // workloads 2, 3: records of 1 KiB
	rsizes   []int64
	rdur     time.Duration
	w5dur    time.Duration
	w6dur    time.Duration
	senders  []int
	tmp      string
	onlyW    map[int]bool
	onlySys  []string
	skipSys  []string
	fullMode bool
}

// registry lists every system, commitlog's variants first.
var registry = func() []sysInfo {
	peers := []sysInfo{
		{name: "tidwall/wal", new: newTidwall,
			syncNote: "no fsync: NoSync=true (it still fsyncs each 20 MB segment as it cycles to the next); durable: NoSync=false, write + fsync per Write, under its lock, no group commit"},
		{name: "nsqio/go-diskqueue", new: newDiskQueue, only: map[int]bool{1: true, 2: true, 3: true, 6: true},
			syncNote: "one Put per record (no batch API); no fsync: fsync only when it starts a new 100 MiB file; durable: syncEvery=1, an fsync of the data file and a rewrite + fsync of its metadata after every Put, BUT Put returns before that fsync: its acknowledgement is not durable. No random read (reading consumes)"},
		{name: "liftbridge commitlog", new: newLiftbridge, only: map[int]bool{1: true, 2: true, 3: true, 4: true},
			syncNote: "never fsyncs data on append (replication is its durability), so it has no durable mode and is absent from workload 6"},
		{name: "etcd wal", new: newEtcd, only: map[int]bool{1: true, 2: true, 3: true, 6: true},
			syncNote: "no fsync: SetUnsafeNoFsync; durable: its default, one fdatasync per Save into preallocated 64 MB segments, no group commit; no random read; reopen = Open + ReadAll (it replays everything before it takes an append)"},
		{name: "hashicorp/raft-wal", new: newRaftWAL,
			syncNote: "it always fsyncs at the end of StoreLogs (no option to turn that off): for the no-fsync workloads its segment files' Sync is stubbed out by a wrapping VFS (its bolt meta store still fsyncs per new segment); durable: the real VFS, one fsync per StoreLogs under its write lock, no group commit"},
		{name: "NATS JetStream (embedded server)", new: newNATS,
			syncNote: "the file store through an nats-server embedded in this process and nats.go over loopback TCP (no exported API opens a file store alone); no fsync: the default sync_interval (2 min, not reached); durable: sync_always, an fsync after every stored message, before the publish is acknowledged"},
		{name: "franz-go → kfake (DataDir)", new: newKfake, only: map[int]bool{1: true, 2: true, 3: true, 6: true},
			syncNote: "the Kafka-client route: a kgo producer and consumer against franz-go's in-process fake cluster over loopback, persisting to DataDir; no fsync: kfake's default (page cache; fsync on segment roll and shutdown); durable: SyncWrites, an fsync of segment + index per produced batch before the response, kgo linger 0; no random read"},
	}
	r := append([]sysInfo(nil), commitlogSystems...)
	r = append(r, peers...)
	return append(r, physicalSystems...)
}()

func main() {
	var (
		mode     = flag.String("mode", "quick", "quick (smoke run: small sizes, 1 round) or full (3 interleaved rounds, full sizes)")
		reps     = flag.Int("reps", 0, "override: rounds (repetitions)")
		only     = flag.String("w", "", "comma-separated workloads to run (1-6; 2 and 3 run together)")
		sysF     = flag.String("systems", "", "comma-separated substrings: run only matching systems")
		skipF    = flag.String("skip", "", "comma-separated substrings: skip matching systems")
		tmp      = flag.String("tmp", os.TempDir(), "parent of the data directory (removed at the end)")
		cpuprof  = flag.String("cpuprofile", "", "write a CPU profile of the whole run")
		n100     = flag.Int("n100", 0, "override: records in workload 1")
		n1k      = flag.Int("n1k", 0, "override: records in workloads 2/3")
		rsizes   = flag.String("rsizes", "", "override: comma-separated log sizes of workload 4 (e.g. 1e5,1e6,1e7)")
		rdur     = flag.Duration("rdur", 0, "override: duration of one workload-4 measurement")
		w5dur    = flag.Duration("w5dur", 0, "override: duration of one workload-5 measurement")
		w6dur    = flag.Duration("w6dur", 0, "override: duration of one workload-6 measurement")
		sendersF = flag.String("senders", "8,64", "workload 6: comma-separated numbers of concurrent senders")
	)
	flag.Parse()
	p := params{mode: *mode, batch: 100, tmp: *tmp}
	switch *mode {
	case "quick":
		p.reps, p.n100, p.n1k = 1, 100_000, 20_000
		p.rsizes = []int64{1e5, 1e6}
		p.rdur, p.w5dur, p.w6dur = 150*time.Millisecond, 300*time.Millisecond, 300*time.Millisecond
	case "full":
		p.fullMode = true
		p.reps, p.n100, p.n1k = 3, 1_000_000, 500_000
		p.rsizes = []int64{1e5, 1e6, 1e7}
		p.rdur, p.w5dur, p.w6dur = time.Second, 2*time.Second, 2*time.Second
	default:
		fmt.Fprintln(os.Stderr, "-mode must be quick or full")
		os.Exit(2)
	}
	overrideInt(&p.reps, *reps)
	overrideInt(&p.n100, *n100)
	overrideInt(&p.n1k, *n1k)
	overrideDur(&p.rdur, *rdur)
	overrideDur(&p.w5dur, *w5dur)
	overrideDur(&p.w6dur, *w6dur)
	if *rsizes != "" {
		p.rsizes = nil
		for _, f := range strings.Split(*rsizes, ",") {
			v, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
			if err != nil || v < 1 {
				fmt.Fprintf(os.Stderr, "bad -rsizes entry %q\n", f)
				os.Exit(2)
			}
			p.rsizes = append(p.rsizes, int64(v))
		}
	}
	for _, f := range strings.Split(*sendersF, ",") {
		v, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || v < 1 {
			fmt.Fprintf(os.Stderr, "bad -senders entry %q\n", f)
			os.Exit(2)
		}
		p.senders = append(p.senders, v)
	}
	if p.reps < 1 || p.n100 < 1 || p.n1k < 1 {
		fmt.Fprintln(os.Stderr, "-reps, -n100 and -n1k must be positive")
		os.Exit(2)
	}
	if *only != "" {
		p.onlyW = map[int]bool{}
		for _, f := range strings.Split(*only, ",") {
			w, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil || w < 1 || w > 6 {
				fmt.Fprintf(os.Stderr, "bad -w entry %q\n", f)
				os.Exit(2)
			}
			p.onlyW[w] = true
		}
	}
	p.onlySys = splitList(*sysF)
	p.skipSys = splitList(*skipF)

	dir, err := os.MkdirTemp(*tmp, "peers-bench-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	p.tmp = dir
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-sig
		os.RemoveAll(dir)
		os.Exit(130)
	}()
	defer os.RemoveAll(dir)
	if *cpuprof != "" {
		f, err := os.Create(*cpuprof)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		defer pprof.StopCPUProfile()
	}

	t0 := time.Now()
	fmt.Printf("# peers benchmark, mode %s: %d round(s), systems interleaved; GOMAXPROCS=%d, %s, %s/%s\n",
		p.mode, p.reps, runtime.GOMAXPROCS(0), runtime.Version(), runtime.GOOS, runtime.GOARCH)
	fmt.Printf("# %s\n", machine())
	fmt.Printf("# command: go run . %s\n", strings.Join(os.Args[1:], " "))
	if free, err := freeBytes(p.tmp); err == nil {
		fmt.Printf("# data under %s (%.0f GB free), removed at the end\n", filepath.Dir(p.tmp), float64(free)/1e9)
	}
	if !p.fullMode {
		fmt.Println("# quick mode is a smoke run (small sizes, one round): it proves every system works and verifies; its figures are not measurements")
	}
	printSyncNotes(p)
	var res results
	run := func(w int) bool { return p.onlyW == nil || p.onlyW[w] }
	if run(1) {
		res.w1 = w1(p)
		res.w1.print(os.Stdout)
	}
	if run(2) || run(3) {
		res.w2, res.w3, res.reopen = w23(p)
		for _, t := range []*table{res.w2, res.w3, res.reopen} {
			t.print(os.Stdout)
		}
	}
	if run(4) {
		w4(p, &res)
		for _, n := range res.w4sizes {
			res.w4[n].print(os.Stdout)
		}
		if res.w4growth != nil {
			res.w4growth.print(os.Stdout)
		}
	}
	if run(5) {
		res.w5 = w5(p)
		res.w5.print(os.Stdout)
	}
	if run(6) {
		res.w6 = w6(p)
		for _, n := range p.senders {
			res.w6[n].print(os.Stdout)
		}
	}
	printTargets(os.Stdout, p, &res)
	fmt.Printf("\n# total %.0f s\n", time.Since(t0).Seconds())
}

func overrideInt(dst *int, v int) {
	if v != 0 {
		*dst = v
	}
}

func overrideDur(dst *time.Duration, v time.Duration) {
	if v != 0 {
		*dst = v
	}
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// machine describes the CPU and memory, for the header of the output.
func machine() string {
	desc := fmt.Sprintf("%d CPUs", runtime.NumCPU())
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
				desc += ", " + strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && k == "MemTotal" {
				if kb, err := strconv.ParseInt(strings.Fields(v)[0], 10, 64); err == nil {
					desc += fmt.Sprintf(", %.0f GiB memory", float64(kb)/(1<<20))
				}
				break
			}
		}
	}
	return desc
}

func selected(p params, w int) []sysInfo {
	var out []sysInfo
	for _, s := range registry {
		if s.only != nil && !s.only[w] {
			continue
		}
		if !wanted(p, s) {
			continue
		}
		out = append(out, s)
	}
	return out
}

func wanted(p params, s sysInfo) bool {
	if len(p.onlySys) > 0 && !matchAny(s.name, p.onlySys) && !matchAny(s.readName, p.onlySys) {
		return false
	}
	return !matchAny(s.name, p.skipSys)
}

func matchAny(name string, subs []string) bool {
	for _, s := range subs {
		if name != "" && strings.Contains(strings.ToLower(name), strings.ToLower(s)) {
			return true
		}
	}
	return false
}

func printSyncNotes(p params) {
	fmt.Println("\n## What \"no fsync\" and \"durable\" mean for each system")
	fmt.Println()
	for _, s := range registry {
		if wanted(p, s) {
			fmt.Printf("- **%s**: %s\n", s.name, s.syncNote)
		}
	}
}

// rotate returns the systems in the order of round rep: each round starts
// one system later, so no system always runs first.
func rotate(s []sysInfo, rep int) []sysInfo {
	if len(s) == 0 {
		return s
	}
	k := rep % len(s)
	return append(append([]sysInfo(nil), s[k:]...), s[:k]...)
}

var dirSeq atomic.Int64

func newDir(p params, tag string) string {
	d := filepath.Join(p.tmp, fmt.Sprintf("%s-%d", tag, dirSeq.Add(1)))
	if err := os.MkdirAll(d, 0o755); err != nil {
		panic(err)
	}
	return d
}

// syncTree fsyncs every file under dir (outside any timing), so that the
// next measurement does not pay for this one's writeback.
func syncTree(dir string) {
	filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		if f, err := os.OpenFile(path, os.O_RDONLY, 0); err == nil {
			f.Sync()
			f.Close()
		}
		return nil
	})
}

func logf(format string, a ...any) {
	fmt.Fprintf(os.Stderr, time.Now().Format("15:04:05 ")+format+"\n", a...)
}
