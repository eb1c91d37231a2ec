package clienttest

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/commitlog-go/commitlog"
	"github.com/commitlog-go/commitlog/assignor"
	"github.com/commitlog-go/commitlog/consumer"
	"github.com/commitlog-go/commitlog/producer"
)

func init() {
	for _, as := range []struct {
		name      string
		assignors []assignor.Assignor
	}{
		{"default", nil},
		{"cooperative-sticky", []assignor.Assignor{assignor.CooperativeSticky()}},
		{"roundrobin", []assignor.Assignor{assignor.RoundRobin()}},
		{"sticky", []assignor.Assignor{assignor.Sticky()}},
	} {
		register("group/rebalance-three-members/"+as.name, func(t *testing.T, env *Env) { testRebalanceThreeMembers(t, env, as.assignors) })
	}
	register("group/commits-survive-restart", testCommitsSurviveRestart)
	register("group/poll-in-listener", testPollInListener)
}

// fastWait is fetch.max.wait.ms in the cases: short, so that polls that
// find nothing return soon.
const fastWait = 50 * time.Millisecond

// testCtx bounds a case's waits generously: a hang fails, slowness does
// not.
func testCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), 30*time.Second)
}

// member is a group member polling on its own goroutine, as a consumer
// wants; it publishes what it owns and what its listener saw.
type member struct {
	c    *consumer.Consumer
	stop chan struct{}
	done chan struct{}

	mu       sync.Mutex // guards the fields below
	owned    []consumer.TopicPartition
	assigned int // OnPartitionsAssigned calls
	revoked  int
	records  int
	err      error
}

func startMember(t *testing.T, b commitlog.Backend, group, topic string, assignors []assignor.Assignor) *member {
	t.Helper()
	cfg := fastGroup(group)
	cfg.Assignors = assignors
	c, err := consumer.New(b, cfg)
	require.NoError(t, err)
	m := &member{c: c, stop: make(chan struct{}), done: make(chan struct{})}
	require.NoError(t, c.Subscribe([]string{topic}, consumer.ListenerFuncs{
		Assigned: func(_ context.Context, c *consumer.Consumer, _ []consumer.TopicPartition) {
			m.mu.Lock()
			m.assigned++
			m.owned = c.Assignment() // the listener runs on the polling goroutine
			m.mu.Unlock()
		},
		Revoked: func(ctx context.Context, c *consumer.Consumer, tps []consumer.TopicPartition) {
			m.mu.Lock()
			m.revoked++
			m.mu.Unlock()
			_ = c.CommitSync(ctx, nil) // the listener may commit
		},
	}))
	go func() {
		defer close(m.done)
		ctx, cancel := testCtx()
		defer cancel()
		for {
			select {
			case <-m.stop:
				m.setErr(c.Close(ctx))
				return
			default:
			}
			recs, err := c.Poll(ctx)
			m.mu.Lock()
			m.records += len(recs)
			m.owned = c.Assignment()
			m.mu.Unlock()
			if err != nil {
				m.setErr(err)
				_ = c.Close(ctx)
				return
			}
		}
	}()
	t.Cleanup(m.close)
	return m
}

func (m *member) setErr(err error) {
	m.mu.Lock()
	if m.err == nil {
		m.err = err
	}
	m.mu.Unlock()
}

func (m *member) close() {
	select {
	case <-m.stop:
	default:
		close(m.stop)
	}
	<-m.done
}

func (m *member) snapshot() (owned []consumer.TopicPartition, assigned, revoked int, err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.owned), m.assigned, m.revoked, m.err
}

// waitBalanced waits until the members own every partition of topic
// exactly once, each want of them.
func waitBalanced(t *testing.T, members []*member, topic string, parts, want int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		seen := map[consumer.TopicPartition]int{}
		balanced := true
		for _, m := range members {
			owned, _, _, err := m.snapshot()
			require.NoError(t, err)
			if len(owned) != want {
				balanced = false
			}
			for _, tp := range owned {
				seen[tp]++
			}
		}
		if balanced && len(seen) == parts {
			for p := range int32(parts) {
				require.Equal(t, 1, seen[consumer.TopicPartition{Topic: topic, Partition: p}], "partition %d owned once", p)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the group did not balance: %v", seen)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// testRebalanceThreeMembers: three members of a group share a topic's
// partitions, each owned exactly once, the listeners telling them; when
// one leaves the other two take its partitions.
func testRebalanceThreeMembers(t *testing.T, env *Env, assignors []assignor.Assignor) {
	b := env.Open(t)
	const parts = 6
	createTopicWith(t, b, "shared", commitlog.TopicConfig{Partitions: parts})
	var recs []*producer.Record
	for i := range 60 {
		recs = append(recs, &producer.Record{Topic: "shared", Partition: int32(i % parts), ExplicitPartition: true, Value: fmt.Appendf(nil, "v%d", i)})
	}
	produce(t, b, recs...)
	var members []*member
	for range 3 {
		members = append(members, startMember(t, b, "three", "shared", assignors))
	}
	waitBalanced(t, members, "shared", parts, 2)
	for _, m := range members {
		_, assigned, _, _ := m.snapshot()
		require.Positive(t, assigned, "OnPartitionsAssigned ran")
	}

	members[2].close()
	_, _, revoked, err := members[2].snapshot()
	require.NoError(t, err)
	require.Positive(t, revoked, "Close ran OnPartitionsRevoked")
	waitBalanced(t, members[:2], "shared", parts, 3)
}

// testCommitsSurviveRestart: offsets committed by a member are there
// after the backend restarts, and a new member of the group starts from
// them.
func testCommitsSurviveRestart(t *testing.T, env *Env) {
	b := env.Open(t)
	createTopicWith(t, b, "durable", commitlog.TopicConfig{Partitions: 1})
	var recs []*producer.Record
	for i := range 10 {
		recs = append(recs, &producer.Record{Topic: "durable", ExplicitPartition: true, Value: fmt.Appendf(nil, "v%d", i)})
	}
	produce(t, b, recs...)
	tp := consumer.TopicPartition{Topic: "durable"}
	ctx, cancel := testCtx()
	defer cancel()

	c, err := consumer.New(b, fastGroup("keeper"))
	require.NoError(t, err)
	require.NoError(t, c.Subscribe([]string{"durable"}, nil))
	pollUntil(t, c, 5)
	require.NoError(t, c.CommitSync(ctx, map[consumer.TopicPartition]consumer.OffsetAndMetadata{tp: {Offset: 6, Metadata: "six"}}))
	got, err := c.Committed(ctx, []consumer.TopicPartition{tp})
	require.NoError(t, err)
	require.Equal(t, consumer.OffsetAndMetadata{Offset: 6, Metadata: "six"}, got[tp])
	require.NoError(t, c.Close(ctx))
	require.NoError(t, c.Close(ctx), "Close is idempotent")
	_, err = c.Poll(ctx)
	require.ErrorIs(t, err, commitlog.ErrClosed)

	b = env.Restart(t, b)
	c = newConsumer(t, b, fastGroup("keeper"))
	got, err = c.Committed(ctx, []consumer.TopicPartition{tp})
	require.NoError(t, err)
	require.Equal(t, consumer.OffsetAndMetadata{Offset: 6, Metadata: "six"}, got[tp], "after the restart")
	require.NoError(t, c.Subscribe([]string{"durable"}, nil))
	first := pollUntil(t, c, 1)
	require.Equal(t, int64(6), first[0].Offset, "the new member starts at the committed offset")
	require.Equal(t, "v6", string(first[0].Value))
}

// testPollInListener: Poll from a rebalance listener fails with
// ErrPollInListener; the Poll running the listener goes on.
func testPollInListener(t *testing.T, env *Env) {
	b := env.Open(t)
	createTopicWith(t, b, "nested", commitlog.TopicConfig{Partitions: 1})
	produce(t, b, &producer.Record{Topic: "nested", ExplicitPartition: true, Value: []byte("x")})
	c := newConsumer(t, b, fastGroup("nested"))
	var nested error
	called := false
	require.NoError(t, c.Subscribe([]string{"nested"}, consumer.ListenerFuncs{
		Assigned: func(ctx context.Context, c *consumer.Consumer, _ []consumer.TopicPartition) {
			called = true
			_, nested = c.Poll(ctx)
		},
	}))
	got := pollUntil(t, c, 1)
	require.True(t, called)
	require.ErrorIs(t, nested, consumer.ErrPollInListener)
	require.Equal(t, "x", string(got[0].Value))
}

func init() {
	register("group/close-in-listener", testCloseInListener)
	register("group/close-while-listener-runs", testCloseWhileListenerRuns)
	register("group/commit-async-order", testCommitAsyncOrder)
	register("group/commit-async-order-close", testCommitAsyncOrderClose)
	register("group/standalone-commit-refused", testStandaloneCommitRefused)
}

// testCloseInListener: Close from a listener, with the listener's ctx,
// closes there and then (OnPartitionsRevoked running within it), and the
// Poll that ran the listener returns ErrClosed.
func testCloseInListener(t *testing.T, env *Env) {
	b := env.Open(t)
	createTopicWith(t, b, "brief", commitlog.TopicConfig{Partitions: 2})
	c := newConsumer(t, b, fastGroup("brief"))
	var closeErr error
	var events []string
	require.NoError(t, c.Subscribe([]string{"brief"}, consumer.ListenerFuncs{
		Assigned: func(ctx context.Context, c *consumer.Consumer, tps []consumer.TopicPartition) {
			events = append(events, fmt.Sprint("assigned ", len(tps)))
			closeErr = c.Close(ctx)
			events = append(events, "closed")
		},
		Revoked: func(_ context.Context, _ *consumer.Consumer, tps []consumer.TopicPartition) {
			events = append(events, fmt.Sprint("revoked ", len(tps)))
		},
	}))
	ctx, cancel := testCtx()
	defer cancel()
	for {
		_, err := c.Poll(ctx)
		if err != nil {
			require.ErrorIs(t, err, commitlog.ErrClosed)
			break
		}
	}
	require.NoError(t, closeErr)
	require.Equal(t, []string{"assigned 2", "revoked 2", "closed"}, events)
}

// testCommitAsyncOrder: CommitAsync's callbacks run in the order of the
// calls, the last commit wins, and after Close a callback gets ErrClosed.
func testCommitAsyncOrder(t *testing.T, env *Env) {
	b := env.Open(t)
	c, tp := assignedOne(t, b, "async")
	var mu sync.Mutex
	var order []int64
	for i := range int64(5) {
		c.CommitAsync(map[consumer.TopicPartition]consumer.OffsetAndMetadata{tp: {Offset: i}}, func(m map[consumer.TopicPartition]consumer.OffsetAndMetadata, err error) {
			require.NoError(t, err)
			mu.Lock()
			order = append(order, m[tp].Offset)
			mu.Unlock()
		})
	}
	ctx, cancel := testCtx()
	defer cancel()
	require.NoError(t, c.Close(ctx), "Close writes the queued commits")
	mu.Lock()
	require.Equal(t, []int64{0, 1, 2, 3, 4}, order)
	mu.Unlock()
	after := make(chan error, 1)
	c.CommitAsync(map[consumer.TopicPartition]consumer.OffsetAndMetadata{tp: {Offset: 9}}, func(_ map[consumer.TopicPartition]consumer.OffsetAndMetadata, err error) { after <- err })
	require.ErrorIs(t, <-after, commitlog.ErrClosed)

	c2 := newConsumer(t, b, fastGroup("async"))
	got, err := c2.Committed(ctx, []consumer.TopicPartition{tp})
	require.NoError(t, err)
	require.Equal(t, int64(4), got[tp].Offset)
}

// testStandaloneCommitRefused: a consumer outside the group (Assign) may
// commit for it only while the group has no members; otherwise the commit
// fails with ErrIllegalGeneration.
func testStandaloneCommitRefused(t *testing.T, env *Env) {
	b := env.Open(t)
	createTopicWith(t, b, "guarded", commitlog.TopicConfig{Partitions: 1})
	produce(t, b, &producer.Record{Topic: "guarded", ExplicitPartition: true, Value: []byte("a")})
	tp := consumer.TopicPartition{Topic: "guarded"}
	ctx, cancel := testCtx()
	defer cancel()
	solo := newConsumer(t, b, fastGroup("guarded"))
	require.NoError(t, solo.Assign([]consumer.TopicPartition{tp}))
	require.NoError(t, solo.CommitSync(ctx, map[consumer.TopicPartition]consumer.OffsetAndMetadata{tp: {Offset: 1}}), "the group is empty")
	require.ErrorIs(t, solo.CommitSync(ctx, map[consumer.TopicPartition]consumer.OffsetAndMetadata{tp: {Offset: -1}}), consumer.ErrInvalidOffset)

	m := newConsumer(t, b, fastGroup("guarded"))
	require.NoError(t, m.Subscribe([]string{"guarded"}, nil))
	for len(m.Assignment()) == 0 {
		_, err := m.Poll(ctx)
		require.NoError(t, err)
	}
	err := solo.CommitSync(ctx, map[consumer.TopicPartition]consumer.OffsetAndMetadata{tp: {Offset: 0}})
	require.ErrorIs(t, err, consumer.ErrIllegalGeneration)
}

// testCloseWhileListenerRuns: a Close from another goroutine while a
// listener runs does not wait for it; the Poll running the listener
// closes the consumer when it returns (OnPartitionsRevoked then), and
// returns ErrClosed.
func testCloseWhileListenerRuns(t *testing.T, env *Env) {
	b := env.Open(t)
	createTopicWith(t, b, "slow", commitlog.TopicConfig{Partitions: 1})
	c := newConsumer(t, b, fastGroup("slow"))
	inListener, release := make(chan struct{}), make(chan struct{})
	var mu sync.Mutex
	var events []string
	note := func(s string) {
		mu.Lock()
		events = append(events, s)
		mu.Unlock()
	}
	require.NoError(t, c.Subscribe([]string{"slow"}, consumer.ListenerFuncs{
		Assigned: func(context.Context, *consumer.Consumer, []consumer.TopicPartition) {
			note("assigned")
			close(inListener)
			<-release
			note("assigned returns")
		},
		Revoked: func(context.Context, *consumer.Consumer, []consumer.TopicPartition) { note("revoked") },
	}))
	ctx, cancel := testCtx()
	defer cancel()
	polled := make(chan error, 1)
	go func() {
		for {
			if _, err := c.Poll(ctx); err != nil {
				polled <- err
				return
			}
		}
	}()
	select {
	case <-inListener:
	case <-ctx.Done():
		t.Fatal("no assignment")
	}
	require.NoError(t, c.Close(ctx), "Close does not wait for the running listener")
	note("Close returned")
	close(release)
	select {
	case err := <-polled:
		require.ErrorIs(t, err, commitlog.ErrClosed)
	case <-ctx.Done():
		t.Fatal("the Poll running the listener did not return")
	}
	mu.Lock()
	defer mu.Unlock()
	require.Equal(t, []string{"assigned", "Close returned", "assigned returns", "revoked"}, events)
}

func init() {
	register("group/commit-unknown-partition", testCommitUnknownPartition)
}

// testCommitUnknownPartition: a commit for a topic or partition that does
// not exist fails with ErrUnknownTopic or ErrUnknownPartition, as a member
// and outside the group.
func testCommitUnknownPartition(t *testing.T, env *Env) {
	b := env.Open(t)
	createTopicWith(t, b, "real", commitlog.TopicConfig{Partitions: 1})
	produce(t, b, &producer.Record{Topic: "real", ExplicitPartition: true, Value: []byte("a")})
	ctx, cancel := testCtx()
	defer cancel()
	solo := newConsumer(t, b, fastGroup("unknowns-solo"))
	member := newConsumer(t, b, fastGroup("unknowns"))
	require.NoError(t, member.Subscribe([]string{"real"}, nil))
	pollUntil(t, member, 1)
	for name, c := range map[string]*consumer.Consumer{"outside the group": solo, "member": member} {
		err := c.CommitSync(ctx, map[consumer.TopicPartition]consumer.OffsetAndMetadata{{Topic: "ghost"}: {Offset: 1}})
		require.ErrorIs(t, err, commitlog.ErrUnknownTopic, name)
		err = c.CommitSync(ctx, map[consumer.TopicPartition]consumer.OffsetAndMetadata{{Topic: "real", Partition: 9}: {Offset: 1}})
		require.ErrorIs(t, err, commitlog.ErrUnknownPartition, name)
	}
}

func init() {
	register("group/auto-commit", testAutoCommit)
	register("group/resubscribe", testResubscribe)
}

// testAutoCommit: with enable.auto.commit, Close commits what Poll
// returned, and the next member of the group starts after it.
func testAutoCommit(t *testing.T, env *Env) {
	b := env.Open(t)
	createTopicWith(t, b, "auto", commitlog.TopicConfig{Partitions: 1})
	var recs []*producer.Record
	for i := range 10 {
		recs = append(recs, &producer.Record{Topic: "auto", ExplicitPartition: true, Value: fmt.Appendf(nil, "v%d", i)})
	}
	produce(t, b, recs...)
	tp := consumer.TopicPartition{Topic: "auto"}
	ctx, cancel := testCtx()
	defer cancel()
	cfg := fastGroup("auto")
	cfg.EnableAutoCommit, cfg.AutoCommitInterval, cfg.MaxPollRecords = new(true), new(time.Hour), 4
	c, err := consumer.New(b, cfg)
	require.NoError(t, err)
	require.NoError(t, c.Subscribe([]string{"auto"}, nil))
	got := pollUntil(t, c, 4)
	pos, err := c.Position(tp)
	require.NoError(t, err)
	require.Equal(t, got[len(got)-1].Offset+1, pos)
	require.NoError(t, c.Close(ctx))

	c2 := newConsumer(t, b, fastGroup("auto"))
	committed, err := c2.Committed(ctx, []consumer.TopicPartition{tp})
	require.NoError(t, err)
	require.Equal(t, pos, committed[tp].Offset, "Close committed the position")
	require.NoError(t, c2.Subscribe([]string{"auto"}, nil))
	next := pollUntil(t, c2, 1)
	require.Equal(t, pos, next[0].Offset)
}

// testResubscribe: a second Subscribe replaces the topics; the member
// gives up the old topic's partitions and gets the new one's.
func testResubscribe(t *testing.T, env *Env) {
	b := env.Open(t)
	createTopicWith(t, b, "first", commitlog.TopicConfig{Partitions: 1})
	createTopicWith(t, b, "second", commitlog.TopicConfig{Partitions: 1})
	produce(t, b, &producer.Record{Topic: "first", ExplicitPartition: true, Value: []byte("1")},
		&producer.Record{Topic: "second", ExplicitPartition: true, Value: []byte("2")})
	c := newConsumer(t, b, fastGroup("resub"))
	require.NoError(t, c.Subscribe([]string{"first"}, nil))
	got := pollUntil(t, c, 1)
	require.Equal(t, "first", got[0].Topic)
	require.NoError(t, c.Subscribe([]string{"second"}, nil))
	ctx, cancel := testCtx()
	defer cancel()
	for {
		recs, err := c.Poll(ctx)
		require.NoError(t, err)
		if len(recs) > 0 {
			require.Equal(t, "second", recs[0].Topic)
			require.Equal(t, "2", string(recs[0].Value))
			break
		}
	}
	require.Equal(t, []consumer.TopicPartition{{Topic: "second"}}, c.Assignment())
}

// testCommitAsyncOrderClose: a Close made while a CommitAsync callback
// runs (on another goroutine) writes the commits queued behind it, but
// runs their callbacks only after the running one, in order, and returns
// after them.
func testCommitAsyncOrderClose(t *testing.T, env *Env) {
	b := env.Open(t)
	c, tp := assignedOne(t, b, "asyncclose")
	var mu sync.Mutex
	var order []int64
	record := func(i int64) {
		mu.Lock()
		order = append(order, i)
		mu.Unlock()
	}
	entered, release := make(chan struct{}), make(chan struct{})
	c.CommitAsync(map[consumer.TopicPartition]consumer.OffsetAndMetadata{tp: {Offset: 1}}, func(_ map[consumer.TopicPartition]consumer.OffsetAndMetadata, err error) {
		require.NoError(t, err)
		close(entered)
		<-release
		record(1)
	})
	<-entered
	for i := int64(2); i <= 5; i++ {
		c.CommitAsync(map[consumer.TopicPartition]consumer.OffsetAndMetadata{tp: {Offset: i}}, func(_ map[consumer.TopicPartition]consumer.OffsetAndMetadata, err error) {
			require.NoError(t, err)
			record(i)
		})
	}
	ctx, cancel := testCtx()
	defer cancel()
	closed := make(chan error, 1)
	go func() { closed <- c.Close(ctx) }()
	time.Sleep(50 * time.Millisecond) // Close writes the queued commits meanwhile
	mu.Lock()
	require.Empty(t, order, "a callback ran while the first one still ran")
	mu.Unlock()
	close(release)
	require.NoError(t, <-closed)
	mu.Lock()
	defer mu.Unlock()
	require.Equal(t, []int64{1, 2, 3, 4, 5}, order)
}

// assignedOne is a consumer of group topic (not closed: the case closes
// it), assigned the one partition of topic, created here.
func assignedOne(t *testing.T, b commitlog.Backend, topic string) (*consumer.Consumer, consumer.TopicPartition) {
	t.Helper()
	createTopicWith(t, b, topic, commitlog.TopicConfig{Partitions: 1})
	tp := consumer.TopicPartition{Topic: topic}
	c, err := consumer.New(b, fastGroup(topic))
	require.NoError(t, err)
	require.NoError(t, c.Assign([]consumer.TopicPartition{tp}))
	return c, tp
}
