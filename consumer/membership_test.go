package consumer

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/commitlog-go/commitlog"
	"github.com/commitlog-go/commitlog/assignor"
	"github.com/stretchr/testify/require"
)

// pollInBackground polls c until stop is closed, recording the assignment.
func pollInBackground(t *testing.T, c *Consumer, stop chan struct{}, wg *sync.WaitGroup) {
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := c.Poll(context.Background()); err != nil {
				t.Errorf("poll: %v", err)
				return
			}
		}
	}()
}

type assignmentLog struct {
	mu  sync.Mutex
	own map[string]map[TopicPartition]bool
}

func (a *assignmentLog) listener(t *testing.T, name string) RebalanceListener {
	set := func(tps []TopicPartition, v bool) {
		a.mu.Lock()
		defer a.mu.Unlock()
		if a.own[name] == nil {
			a.own[name] = map[TopicPartition]bool{}
		}
		for _, tp := range tps {
			if v {
				for other, m := range a.own {
					if other != name && m[tp] {
						t.Errorf("%v assigned to %s while %s owns it", tp, name, other)
					}
				}
				a.own[name][tp] = true
			} else {
				delete(a.own[name], tp)
			}
		}
	}
	return ListenerFuncs{
		Assigned: func(_ context.Context, _ *Consumer, tps []TopicPartition) { set(tps, true) },
		Revoked:  func(_ context.Context, _ *Consumer, tps []TopicPartition) { set(tps, false) },
		Lost:     func(_ context.Context, _ *Consumer, tps []TopicPartition) { set(tps, false) },
	}
}

func (a *assignmentLog) counts() map[string]int {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := map[string]int{}
	for name, m := range a.own {
		out[name] = len(m)
	}
	return out
}

// setListener replaces c's rebalance listener without the rejoin a
// Subscribe would cause.
func setListener(c *Consumer, l RebalanceListener) {
	c.group.mu.Lock()
	c.group.listener = l
	c.group.mu.Unlock()
}

// TestNewPartitionsRebalance: a topic that gains partitions is rebalanced
// and the new partitions are consumed.
func TestNewPartitionsRebalance(t *testing.T) {
	b := openBroker(t, t.TempDir())
	defer b.Close()
	_, err := b.CreateTopic("t", commitlog.TopicConfig{Partitions: 2})
	require.NoError(t, err)
	log := &assignmentLog{own: map[string]map[TopicPartition]bool{}}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var cs []*Consumer
	for _, name := range []string{"a", "b"} {
		c, err := New(b, fastConfig("g"))
		require.NoError(t, err)
		require.NoError(t, c.Subscribe([]string{"t"}, log.listener(t, name)))
		pollInBackground(t, c, stop, &wg)
		cs = append(cs, c)
	}
	require.Eventually(t, func() bool { c := log.counts(); return c["a"]+c["b"] == 2 && c["a"] == 1 }, 5*time.Second, 10*time.Millisecond)
	require.NoError(t, b.AddPartitions("t", 6))
	require.Eventually(t, func() bool { c := log.counts(); return c["a"] == 3 && c["b"] == 3 }, 5*time.Second, 10*time.Millisecond,
		"the 4 new partitions are assigned: %v", log.counts())
	close(stop)
	wg.Wait()
	for _, c := range cs {
		require.NoError(t, c.Close(context.Background()))
	}
}

// TestMaxPollIntervalLeavesGroup: a member that stops calling Poll leaves
// the group after max.poll.interval.ms and the others take over; when it
// polls again it learns its partitions were lost and rejoins.
func TestMaxPollIntervalLeavesGroup(t *testing.T) {
	b := openBroker(t, t.TempDir())
	defer b.Close()
	_, err := b.CreateTopic("t", commitlog.TopicConfig{Partitions: 4})
	require.NoError(t, err)
	log := &assignmentLog{own: map[string]map[TopicPartition]bool{}}
	cfg := fastConfig("g")
	cfg.MaxPollInterval = 300 * time.Millisecond
	stop := make(chan struct{})
	var wg sync.WaitGroup
	active, err := New(b, cfg)
	require.NoError(t, err)
	require.NoError(t, active.Subscribe([]string{"t"}, log.listener(t, "active")))
	pollInBackground(t, active, stop, &wg)
	slow, err := New(b, cfg)
	require.NoError(t, err)
	require.NoError(t, slow.Subscribe([]string{"t"}, log.listener(t, "slow")))
	// The slow member polls until it has partitions, then stops polling.
	require.Eventually(t, func() bool {
		_, err := slow.Poll(context.Background())
		require.NoError(t, err)
		c := log.counts()
		return c["slow"] == 2 && c["active"] == 2
	}, 5*time.Second, time.Millisecond)
	// Its heartbeats go on, but without polls it leaves the group; the
	// active member gets everything. (The slow member still believes it owns
	// its partitions until it polls, so the test log sees it as lost then.)
	log.mu.Lock()
	delete(log.own, "slow")
	log.mu.Unlock()
	require.Eventually(t, func() bool { return log.counts()["active"] == 4 }, 5*time.Second, 10*time.Millisecond)
	var lost []TopicPartition
	setListener(slow, ListenerFuncs{
		Lost: func(_ context.Context, _ *Consumer, tps []TopicPartition) { lost = tps },
		Revoked: func(_ context.Context, _ *Consumer, tps []TopicPartition) {
			t.Errorf("revoked %v after being removed", tps)
		},
		Assigned: log.listener(t, "slow").OnPartitionsAssigned,
	})
	_, err = slow.Poll(context.Background())
	require.NoError(t, err)
	require.Len(t, lost, 2, "the partitions it held were lost, not revoked")
	setListener(slow, ListenerFuncs{}) // it rejoined: Close revokes normally
	close(stop)
	wg.Wait()
	require.NoError(t, active.Close(context.Background()))
	require.NoError(t, slow.Close(context.Background()))
}

// TestCooperativeGroup uses the cooperative-sticky assignor: members join
// one by one, partitions move incrementally (revoked in one rebalance,
// assigned in the next), never owned twice, and end balanced.
func TestCooperativeGroup(t *testing.T) {
	b := openBroker(t, t.TempDir())
	defer b.Close()
	_, err := b.CreateTopic("t", commitlog.TopicConfig{Partitions: 6})
	require.NoError(t, err)
	log := &assignmentLog{own: map[string]map[TopicPartition]bool{}}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var cs []*Consumer
	for i, name := range []string{"a", "b", "c"} {
		cfg := fastConfig("g")
		cfg.Assignors = []assignor.Assignor{assignor.CooperativeSticky()}
		c, err := New(b, cfg)
		require.NoError(t, err)
		require.NoError(t, c.Subscribe([]string{"t"}, log.listener(t, name)))
		pollInBackground(t, c, stop, &wg)
		cs = append(cs, c)
		want := 6 / (i + 1)
		require.Eventually(t, func() bool {
			for _, n := range log.counts() {
				if n != want {
					return false
				}
			}
			return len(log.counts()) == i+1
		}, 5*time.Second, 10*time.Millisecond, "after %s joins: %v", name, log.counts())
	}
	_, gen := cs[0].MemberID()
	require.Greater(t, gen, int32(3), "cooperative moves take two rebalances each")
	close(stop)
	wg.Wait()
	for _, c := range cs {
		require.NoError(t, c.Close(context.Background()))
	}
}

// TestJoinWaitIsNotAPollTimeout: time spent inside Poll waiting in
// JoinGroup is polling, not a max.poll.interval.ms overrun. The group's
// rebalance timeout is the largest max.poll.interval.ms of its members, so
// a member with a smaller one that waited in Poll for a busy member was
// expelled by its own heartbeat goroutine, and rejoined as a new member
// only to be expelled again while the busy member stayed busy.
func TestJoinWaitIsNotAPollTimeout(t *testing.T) {
	b := openBroker(t, t.TempDir())
	defer b.Close()
	_, err := b.CreateTopic("t", commitlog.TopicConfig{Partitions: 4})
	require.NoError(t, err)
	quickCfg := fastConfig("g")
	quickCfg.MaxPollInterval = 300 * time.Millisecond
	var lost []TopicPartition
	quick, err := New(b, quickCfg)
	require.NoError(t, err)
	defer quick.Close(context.Background())
	require.NoError(t, quick.Subscribe([]string{"t"}, ListenerFuncs{
		Lost: func(_ context.Context, _ *Consumer, tps []TopicPartition) { lost = append(lost, tps...) },
	}))
	busy, err := New(b, fastConfig("g")) // max.poll.interval.ms 5 s
	require.NoError(t, err)
	defer busy.Close(context.Background())
	require.NoError(t, busy.Subscribe([]string{"t"}, nil))
	// Both join and settle.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	pollInBackground(t, quick, stop, &wg)
	pollInBackground(t, busy, stop, &wg)
	require.Eventually(t, func() bool {
		for _, g := range b.Stats().Groups {
			if g.Group == "g" && g.State == "Stable" && g.Members == 2 {
				return true
			}
		}
		return false
	}, 5*time.Second, 5*time.Millisecond)
	close(stop)
	wg.Wait()
	quickID, _ := quick.MemberID()

	// A third member joins; quick rejoins at once and waits for busy,
	// which processes for a second.
	third, err := New(b, fastConfig("g"))
	require.NoError(t, err)
	defer third.Close(context.Background())
	require.NoError(t, third.Subscribe([]string{"t"}, nil))
	polls := make(chan error, 2)
	go func() { _, err := third.Poll(context.Background()); polls <- err }()
	time.Sleep(50 * time.Millisecond)
	go func() { _, err := quick.Poll(context.Background()); polls <- err }()
	time.Sleep(time.Second)
	_, err = busy.Poll(context.Background())
	require.NoError(t, err)
	require.NoError(t, <-polls)
	require.NoError(t, <-polls)
	id, _ := quick.MemberID()
	require.Equal(t, quickID, id, "quick was expelled while it waited in Poll")
	require.Empty(t, lost)
}

// ownership is the test's view of who owns each partition; it fails the
// test the moment two members own one partition.
type ownership struct {
	t         *testing.T
	mu        sync.Mutex
	owner     map[TopicPartition]string
	processed map[string]int
}

func (o *ownership) assign(who string, tps []TopicPartition) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, tp := range tps {
		if cur := o.owner[tp]; cur != "" && cur != who {
			o.t.Errorf("%v assigned to %s while %s owns it", tp, who, cur)
		}
		o.owner[tp] = who
	}
}

func (o *ownership) release(who string, tps []TopicPartition) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, tp := range tps {
		if o.owner[tp] == who {
			delete(o.owner, tp)
		}
	}
}

func (o *ownership) releaseAll(who string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for tp, w := range o.owner {
		if w == who {
			delete(o.owner, tp)
		}
	}
}

func (o *ownership) process(who string, recs []Record) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, r := range recs {
		tp := TopicPartition{Topic: r.Topic, Partition: r.Partition}
		if o.owner[tp] != who {
			o.t.Errorf("%s processed %v, owned by %q", who, tp, o.owner[tp])
		}
		o.processed[string(r.Value)]++
	}
}

func (o *ownership) count() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.processed)
}

// TestGroupChurn runs a group of up to 5 consumers over a 7-partition
// topic while records keep arriving, members join and leave, and one member
// hangs (stops polling and heartbeating) until the coordinator expires it.
// At no moment do two members own a partition; every record is processed,
// and, with commits after each poll and in OnPartitionsRevoked, none twice.
// Only the member that hangs has a short session.timeout.ms: the others'
// is long enough that a slow machine (the race detector, other work)
// never expires one, which would make it a zombie that rightly still
// believes it owns its partitions.
func TestGroupChurn(t *testing.T) {
	b := openBroker(t, t.TempDir())
	defer b.Close()
	_, err := b.CreateTopic("t", commitlog.TopicConfig{Partitions: 7})
	require.NoError(t, err)
	const total = 3000
	own := &ownership{t: t, owner: map[TopicPartition]string{}, processed: map[string]int{}}

	go func() { // records keep arriving during the churn
		for i := 0; i < total/100; i++ {
			produce(t, b, "t", fmt.Sprintf("batch%d", i), 100)
			time.Sleep(40 * time.Millisecond)
		}
	}()

	type member struct {
		name string
		stop chan struct{}
		hang chan struct{}
		done chan struct{}
		c    *Consumer
	}
	start := func(name string, willHang bool) *member {
		m := &member{name: name, stop: make(chan struct{}), hang: make(chan struct{}), done: make(chan struct{})}
		cfg := fastConfig("g")
		if !willHang {
			cfg.SessionTimeout = 30 * time.Second
		}
		c, err := New(b, cfg)
		require.NoError(t, err)
		m.c = c
		listener := ListenerFuncs{
			Assigned: func(ctx context.Context, c *Consumer, tps []TopicPartition) { own.assign(name, tps) },
			Revoked: func(ctx context.Context, c *Consumer, tps []TopicPartition) {
				if err := c.CommitSync(ctx, nil); err != nil {
					t.Errorf("%s: commit in revoke: %v", name, err)
				}
				own.release(name, tps)
			},
			Lost: func(ctx context.Context, c *Consumer, tps []TopicPartition) { own.release(name, tps) },
		}
		require.NoError(t, c.Subscribe([]string{"t"}, listener))
		go func() {
			defer close(m.done)
			for {
				select {
				case <-m.stop:
					return
				case <-m.hang:
					// Hung: no polls, no heartbeats, no processing.
					c.group.mu.Lock()
					c.group.hung = true
					c.group.mu.Unlock()
					own.releaseAll(name)
					<-m.stop
					return
				default:
				}
				recs, err := c.Poll(context.Background())
				if err != nil {
					t.Errorf("%s: poll: %v", name, err)
					return
				}
				own.process(name, recs)
				if len(recs) > 0 {
					if err := c.CommitSync(context.Background(), nil); err != nil {
						// A rebalance started; the records were processed
						// but not committed: that would be a duplicate.
						t.Errorf("%s: commit after poll: %v", name, err)
					}
				}
			}
		}()
		return m
	}
	leave := func(m *member) {
		close(m.stop)
		<-m.done
		require.NoError(t, m.c.Close(context.Background()))
	}

	m := []*member{start("m0", false), start("m1", false), start("m2", true)}
	time.Sleep(300 * time.Millisecond)
	m = append(m, start("m3", false), start("m4", false))
	time.Sleep(300 * time.Millisecond)
	leave(m[1])
	time.Sleep(200 * time.Millisecond)
	m = append(m, start("m5", false))
	time.Sleep(200 * time.Millisecond)
	close(m[2].hang) // m2 hangs; its session times out
	time.Sleep(800 * time.Millisecond)
	leave(m[3])

	require.Eventually(t, func() bool { return own.count() == total }, 20*time.Second, 20*time.Millisecond,
		"every record processed at least once")
	for _, mm := range []*member{m[0], m[2], m[4], m[5]} {
		leave(mm)
	}
	own.mu.Lock()
	defer own.mu.Unlock()
	for v, n := range own.processed {
		require.Equal(t, 1, n, "record %s processed %d times", v, n)
	}
}

// TestLongJoinDoesNotExpireNewMember: a new member waits in JoinGroup
// longer than session.timeout.ms for a busy member to rejoin (it cannot
// heartbeat yet: it has no member id). When the rebalance completes, its
// session starts afresh, as Kafka's coordinator reschedules every member's
// heartbeat expiry on completing a join; it was expired at once instead,
// and the group rebalanced again.
func TestLongJoinDoesNotExpireNewMember(t *testing.T) {
	b := openBroker(t, t.TempDir())
	defer b.Close()
	_, err := b.CreateTopic("t", commitlog.TopicConfig{Partitions: 2})
	require.NoError(t, err)
	cfg := fastConfig("g")
	busy, err := New(b, cfg)
	require.NoError(t, err)
	defer busy.Close(context.Background())
	require.NoError(t, busy.Subscribe([]string{"t"}, nil))
	_, err = busy.Poll(context.Background())
	require.NoError(t, err)

	joiner, err := New(b, cfg)
	require.NoError(t, err)
	defer joiner.Close(context.Background())
	require.NoError(t, joiner.Subscribe([]string{"t"}, nil))
	polled := make(chan error, 1)
	go func() {
		_, err := joiner.Poll(context.Background())
		polled <- err
	}()
	time.Sleep(2 * cfg.SessionTimeout) // busy processes; joiner waits
	_, err = busy.Poll(context.Background())
	require.NoError(t, err)
	require.NoError(t, <-polled)
	id, gen := joiner.MemberID()
	require.NotEmpty(t, id)
	require.Len(t, joiner.Assignment(), 1)
	time.Sleep(cfg.SessionTimeout / 2) // the coordinator checks every 20 ms
	require.NoError(t, joiner.coord.Heartbeat("g", id, gen), "the new member was expired right after joining")
}

func TestTwoGroupsEachSeeEverything(t *testing.T) {
	b := openBroker(t, t.TempDir())
	defer b.Close()
	_, err := b.CreateTopic("t", commitlog.TopicConfig{Partitions: 4})
	require.NoError(t, err)
	produce(t, b, "t", "v", 400)
	var wg sync.WaitGroup
	for _, g := range []string{"a", "b"} {
		for m := 0; m < 2; m++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				c, err := New(b, fastConfig(g))
				require.NoError(t, err)
				defer c.Close(context.Background())
				require.NoError(t, c.Subscribe([]string{"t"}, nil))
				deadline := time.Now().Add(10 * time.Second)
				for time.Now().Before(deadline) {
					_, err := c.Poll(context.Background())
					require.NoError(t, err)
					require.NoError(t, c.CommitSync(context.Background(), nil))
					committed, _ := c.Committed(context.Background(), nil)
					var sum int64
					for _, om := range committed {
						sum += om.Offset
					}
					if sum == 400 {
						return
					}
				}
				t.Errorf("group %s did not consume everything", g)
			}()
		}
	}
	wg.Wait()
}

// countingHandler counts the log records whose message contains match.
type countingHandler struct {
	match string
	n     *atomic.Int64
}

func (h countingHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h countingHandler) Handle(_ context.Context, r slog.Record) error {
	if strings.Contains(r.Message, h.match) {
		h.n.Add(1)
	}
	return nil
}
func (h countingHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h countingHandler) WithGroup(string) slog.Handler      { return h }

// TestMaxPollIntervalLeavesOnce: a member past max.poll.interval.ms leaves
// the group once; its heartbeat goroutine then neither leaves again nor
// warns again at every tick until the next Poll.
func TestMaxPollIntervalLeavesOnce(t *testing.T) {
	var warnings atomic.Int64
	b, err := commitlog.Open(t.TempDir(), commitlog.WithMaintenanceInterval(time.Hour),
		commitlog.WithLogger(slog.New(countingHandler{"max.poll.interval.ms passed", &warnings})))
	require.NoError(t, err)
	defer b.Close()
	_, err = b.CreateTopic("t", commitlog.TopicConfig{})
	require.NoError(t, err)
	cfg := fastConfig("g")
	cfg.MaxPollInterval = 100 * time.Millisecond
	c, err := New(b, cfg)
	require.NoError(t, err)
	defer c.Close(context.Background())
	require.NoError(t, c.Subscribe([]string{"t"}, nil))
	require.Eventually(t, func() bool {
		_, err := c.Poll(context.Background())
		require.NoError(t, err)
		return len(c.Assignment()) == 1
	}, 5*time.Second, time.Millisecond)
	require.Eventually(t, func() bool { return warnings.Load() > 0 }, 5*time.Second, 10*time.Millisecond)
	time.Sleep(10 * cfg.HeartbeatInterval) // ten more ticks without a Poll
	require.Equal(t, int64(1), warnings.Load())
}
