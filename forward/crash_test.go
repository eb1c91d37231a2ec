package forward

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/commitlog-go/commitlog"
)

// The child process of the SIGKILL tests: the test binary run again with
// childEnv set to "forward" or "mirror".
const (
	childEnv      = "COMMITLOG_FORWARD_CHILD"
	childDirEnv   = "COMMITLOG_FORWARD_CHILD_DIR"
	childSeedsEnv = "COMMITLOG_FORWARD_CHILD_SEEDS"
	childSeedEnv  = "COMMITLOG_FORWARD_CHILD_SEED"
)

func TestMain(m *testing.M) {
	if mode := os.Getenv(childEnv); mode != "" {
		if err := runChild(mode); err != nil {
			fmt.Fprintln(os.Stderr, "child:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// runChild opens the broker in childDirEnv and forwards (appending records
// all the while) or mirrors until it is killed.
func runChild(mode string) error {
	b, err := commitlog.Open(os.Getenv(childDirEnv), commitlog.WithoutExpvar())
	if err != nil {
		return err
	}
	seed, _ := strconv.ParseUint(os.Getenv(childSeedEnv), 10, 64)
	rng := rand.New(rand.NewPCG(seed, 7))
	seeds := clientOpts(strings.Split(os.Getenv(childSeedsEnv), ","))
	t := &childT{}
	switch mode {
	case "forward":
		f, err := New(b, Config{Topics: []string{"t"}, ClientOptions: seeds, CheckpointInterval: time.Duration(1+rng.IntN(50)) * time.Millisecond})
		if err != nil {
			return err
		}
		_ = f
		fmt.Println("up")
		tp, err := b.Topic("t")
		if err != nil {
			return err
		}
		for {
			for _, p := range tp.Partitions() {
				appendLocal(t, b, "t", p.ID(), int(p.HighWatermark()), 1+rng.IntN(30), rng)
			}
			time.Sleep(time.Millisecond)
		}
	case "mirror":
		if _, err := NewMirror(b, MirrorConfig{Topics: []string{"t"}, ClientOptions: seeds, CommitInterval: time.Duration(1+rng.IntN(50)) * time.Millisecond}); err != nil {
			return err
		}
		fmt.Println("up")
		select {}
	}
	return fmt.Errorf("unknown mode %q", mode)
}

// childT is the testing.TB of the child's helpers: a failure exits.
type childT struct{ testing.TB }

func (*childT) Helper() {}
func (*childT) Errorf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, format+"\n", args...)
}
func (*childT) FailNow() { os.Exit(2) }

// appender appends to every partition of topic t until stopped.
type appender struct {
	stop chan struct{}
	wg   sync.WaitGroup
}

func startAppender(t testing.TB, b *commitlog.Broker, rng *rand.Rand) *appender {
	a := &appender{stop: make(chan struct{})}
	tp, err := b.Topic("t")
	require.NoError(t, err)
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		for {
			select {
			case <-a.stop:
				return
			default:
			}
			for _, p := range tp.Partitions() {
				appendLocal(t, b, "t", p.ID(), int(p.HighWatermark()), 1+rng.IntN(20), rng)
			}
			time.Sleep(time.Millisecond)
		}
	}()
	return a
}

func (a *appender) Stop() { close(a.stop); a.wg.Wait() }

// dropSomeProduces makes kfake close the connection instead of answering
// about one produce request in five, before handling it: kgo retries.
func dropSomeProduces(fc *kfake.Cluster, seed uint64) {
	var mu sync.Mutex
	rng := rand.New(rand.NewPCG(seed, 3))
	fc.ControlKey(int16(kmsg.Produce), func(kmsg.Request) (kmsg.Response, error, bool) {
		fc.KeepControl()
		mu.Lock()
		drop := rng.IntN(5) == 0
		mu.Unlock()
		if drop {
			return nil, errors.New("dropped by the test"), true
		}
		return nil, nil, false
	})
}

func TestForwardRandomStops(t *testing.T) {
	for _, mode := range []Mode{ModeTransactional, ModeIdempotent} {
		t.Run(mode.String(), func(t *testing.T) { testForwardRandomStops(t, mode) })
	}
}

func testForwardRandomStops(t *testing.T, mode Mode) {
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	fc := newFake(t)
	dropSomeProduces(fc, 1)
	seeds := fc.ListenAddrs()
	b := openBroker(t, t.TempDir())
	defer b.Close()
	_, err := b.CreateTopic("t", commitlog.TopicConfig{Partitions: 3})
	require.NoError(t, err)
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	a := startAppender(t, b, rand.New(rand.NewPCG(2, 2)))
	for i := 0; i < trials(8); i++ {
		f, err := New(b, Config{Topics: []string{"t"}, Mode: mode, ClientOptions: clientOpts(seeds), CheckpointInterval: time.Duration(1+rng.IntN(30)) * time.Millisecond})
		require.NoError(t, err)
		time.Sleep(time.Duration(rng.IntN(60)) * time.Millisecond)
		cctx, ccancel := context.WithCancel(ctx)
		switch rng.IntN(3) {
		case 0:
			ccancel() // no time to flush: in-flight produce requests are cut off
		case 1:
			// As a crash: from now on no flush and no commit, so that the
			// checkpoint lags behind the cluster.
			f.crash.Store(true)
		}
		require.NoError(t, f.Close(cctx))
		ccancel()
	}
	a.Stop()
	f, err := New(b, Config{Topics: []string{"t"}, Mode: mode, ClientOptions: clientOpts(seeds)})
	require.NoError(t, err)
	require.NoError(t, f.Flush(ctx))
	require.NoError(t, f.Close(ctx))
	n := requireForwarded(t, b, seeds, "t")
	t.Logf("%d records forwarded across %d stops", n, trials(8))
}

// restartableFake is a kfake cluster on a fixed port and data directory,
// closed and started again by the test.
type restartableFake struct {
	dir  string
	port int
	fc   *kfake.Cluster
}

func newRestartableFake(t testing.TB, opts ...kfake.Opt) *restartableFake {
	r := &restartableFake{dir: t.TempDir()}
	fc, err := kfake.NewCluster(append([]kfake.Opt{kfake.NumBrokers(1), kfake.DataDir(r.dir)}, opts...)...)
	require.NoError(t, err)
	r.fc = fc
	addr := fc.ListenAddrs()[0]
	r.port, err = strconv.Atoi(addr[strings.LastIndexByte(addr, ':')+1:])
	require.NoError(t, err)
	t.Cleanup(func() {
		if r.fc != nil {
			r.fc.Close()
		}
	})
	return r
}

func (r *restartableFake) seeds() []string { return []string{"127.0.0.1:" + strconv.Itoa(r.port)} }

func (r *restartableFake) stop() { r.fc.Close(); r.fc = nil }

func (r *restartableFake) start(t testing.TB) {
	var err error
	for i := 0; i < 50; i++ { // the port may take a moment to be free again
		r.fc, err = kfake.NewCluster(kfake.NumBrokers(1), kfake.DataDir(r.dir), kfake.Ports(r.port))
		if err == nil {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	require.NoError(t, err)
}

func TestForwardClusterRestart(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	rf := newRestartableFake(t)
	b := openBroker(t, t.TempDir())
	defer b.Close()
	_, err := b.CreateTopic("t", commitlog.TopicConfig{Partitions: 2})
	require.NoError(t, err)
	rng := rand.New(rand.NewPCG(5, 5))
	a := startAppender(t, b, rng)
	f, err := New(b, Config{Topics: []string{"t"}, ClientOptions: clientOpts(rf.seeds())})
	require.NoError(t, err)
	for i := 0; i < trials(2); i++ {
		time.Sleep(50 * time.Millisecond)
		rf.stop()
		// The local log keeps taking writes; the lag grows.
		require.Eventually(t, func() bool {
			s := b.Stats()
			return len(s.Forwarders) == 1 && s.Forwarders[0].LagRecords > 0 && s.Forwarders[0].LagBytes > 0
		}, 30*time.Second, 5*time.Millisecond)
		time.Sleep(100 * time.Millisecond)
		rf.start(t)
	}
	a.Stop()
	require.NoError(t, f.Flush(ctx))
	require.NoError(t, f.Close(ctx))
	n := requireForwarded(t, b, rf.seeds(), "t")
	t.Logf("%d records forwarded across %d outages", n, trials(2))
}

func TestMirrorRandomStops(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	fc := newFake(t, kfakeSeed(3, "t"))
	seeds := fc.ListenAddrs()
	b := openBroker(t, t.TempDir())
	defer b.Close()
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 9))
	var produced atomic.Int64
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for seq := 0; ; seq += 20 {
			select {
			case <-stop:
				return
			default:
			}
			produceRemote(t, seeds, "t", 3, seq, 20)
			produced.Add(60)
		}
	}()
	for i := 0; i < trials(8); i++ {
		m, err := NewMirror(b, MirrorConfig{Topics: []string{"t"}, ClientOptions: clientOpts(seeds), CommitInterval: time.Duration(1+rng.IntN(30)) * time.Millisecond})
		require.NoError(t, err)
		time.Sleep(time.Duration(rng.IntN(80)) * time.Millisecond)
		if rng.IntN(2) == 0 {
			m.crash.Store(true) // as a crash: the remote commit lags behind the local log
		}
		require.NoError(t, m.Close(ctx))
	}
	close(stop)
	<-done
	m, err := NewMirror(b, MirrorConfig{Topics: []string{"t"}, ClientOptions: clientOpts(seeds)})
	require.NoError(t, err)
	require.NoError(t, m.Flush(ctx))
	require.NoError(t, m.Close(ctx))
	require.Equal(t, int(produced.Load()), requireMirrored(t, b, seeds, "t"))
}

func TestMirrorClusterRestart(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	rf := newRestartableFake(t, kfakeSeed(2, "t"))
	b := openBroker(t, t.TempDir())
	defer b.Close()
	m, err := NewMirror(b, MirrorConfig{Topics: []string{"t"}, ClientOptions: clientOpts(rf.seeds())})
	require.NoError(t, err)
	seq := 0
	for i := 0; i < trials(2); i++ {
		produceRemote(t, rf.seeds(), "t", 2, seq, 200)
		seq += 200
		time.Sleep(30 * time.Millisecond)
		rf.stop()
		time.Sleep(100 * time.Millisecond)
		rf.start(t)
	}
	produceRemote(t, rf.seeds(), "t", 2, seq, 100)
	require.NoError(t, m.Flush(ctx))
	require.NoError(t, m.Close(ctx))
	require.Equal(t, 2*(seq+100), requireMirrored(t, b, rf.seeds(), "t"))
}
