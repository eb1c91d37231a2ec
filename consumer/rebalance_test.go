package consumer

import (
	"context"
	"sync"
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
