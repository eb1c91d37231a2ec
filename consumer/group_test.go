package consumer

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/commitlog-go/commitlog"
	"github.com/stretchr/testify/require"
)

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
	start := func(name string) *member {
		m := &member{name: name, stop: make(chan struct{}), hang: make(chan struct{}), done: make(chan struct{})}
		c, err := New(b, fastConfig("g"))
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

	m := []*member{start("m0"), start("m1"), start("m2")}
	time.Sleep(300 * time.Millisecond)
	m = append(m, start("m3"), start("m4"))
	time.Sleep(300 * time.Millisecond)
	leave(m[1])
	time.Sleep(200 * time.Millisecond)
	m = append(m, start("m5"))
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
