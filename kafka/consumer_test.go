package kafka

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/commitlog-go/commitlog"
	"github.com/commitlog-go/commitlog/admin"
	"github.com/commitlog-go/commitlog/assignor"
	"github.com/commitlog-go/commitlog/consumer"
	"github.com/commitlog-go/commitlog/producer"
)

// customAssignor is an application's own strategy.
type customAssignor struct{}

func (customAssignor) Name() string                         { return "range" } // a built-in's name does not make it one
func (customAssignor) Protocol() assignor.RebalanceProtocol { return assignor.Eager }
func (customAssignor) Assign([]assignor.Member, map[string]int32) (assignor.Assignment, error) {
	return nil, nil
}

func TestConsumerConfigRefused(t *testing.T) {
	c := connectFake(t)
	for _, tc := range []struct {
		name string
		cfg  consumer.Config
		want error
	}{
		{"custom assignor", consumer.Config{GroupID: "g", Assignors: []assignor.Assignor{customAssignor{}}}, errors.ErrUnsupported},
		{"session.timeout.ms under kgo's 100 ms", consumer.Config{GroupID: "g", SessionTimeout: 50 * time.Millisecond, HeartbeatInterval: 10 * time.Millisecond}, commitlog.ErrInvalidConfig},
		{"max.poll.interval.ms under kgo's 100 ms", consumer.Config{GroupID: "g", MaxPollInterval: 50 * time.Millisecond}, commitlog.ErrInvalidConfig},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := consumer.New(c, tc.cfg)
			require.ErrorIs(t, err, tc.want)
		})
	}
	// Without a group the group settings are not checked by kgo, as they
	// are not used.
	cons, err := consumer.New(c, consumer.Config{SessionTimeout: 50 * time.Millisecond, HeartbeatInterval: 10 * time.Millisecond})
	require.NoError(t, err)
	require.NoError(t, cons.Close(context.Background()))
}

func TestBalancers(t *testing.T) {
	got, err := balancers([]assignor.Assignor{assignor.Range(), assignor.RoundRobin(), assignor.Sticky(), assignor.CooperativeSticky()})
	require.NoError(t, err)
	var names []string
	for _, b := range got {
		names = append(names, b.ProtocolName())
	}
	require.Equal(t, []string{"range", "roundrobin", "sticky", "cooperative-sticky"}, names)
}

func TestConsumerErrMapping(t *testing.T) {
	for _, tc := range []struct {
		in   error
		want error
	}{
		{kgo.ErrClientClosed, commitlog.ErrClosed},
		{kerr.OffsetOutOfRange, commitlog.ErrOffsetOutOfRange},
		{kerr.UnknownTopicOrPartition, commitlog.ErrUnknownTopic},
		{kerr.IllegalGeneration, consumer.ErrIllegalGeneration},
		{kerr.UnknownMemberID, consumer.ErrUnknownMemberID},
		{kerr.RebalanceInProgress, consumer.ErrRebalanceInProgress},
		{kerr.InconsistentGroupProtocol, consumer.ErrInconsistentGroupProtocol},
		{kerr.OffsetMetadataTooLarge, commitlog.ErrRecordTooLarge},
		{fmt.Errorf("wrapped: %w", kerr.IllegalGeneration), consumer.ErrIllegalGeneration},
	} {
		err := consumerErr("x", tc.in)
		require.ErrorIs(t, err, tc.want, "%v", tc.in)
		require.ErrorIs(t, err, tc.in, "the Kafka error stays in the chain")
	}
	require.NoError(t, consumerErr("x", nil))
	other := errors.New("other")
	require.ErrorIs(t, consumerErr("x", other), other)
}

// TestConsumerZeroWait: fetch.max.wait.ms=0 is Poll without waiting,
// though kgo's broker-side wait has a floor of 10 ms.
func TestConsumerZeroWait(t *testing.T) {
	c := connectFake(t, kfake.SeedTopics(1, "t"))
	cons, err := consumer.New(c, consumer.Config{FetchMaxWait: new(time.Duration(0)), AutoOffsetReset: consumer.ResetEarliest})
	require.NoError(t, err)
	defer cons.Close(context.Background())
	require.NoError(t, cons.Assign([]consumer.TopicPartition{{Topic: "t"}}))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	recs, err := cons.Poll(ctx)
	require.NoError(t, err)
	require.Empty(t, recs)

	cl, err := kgo.NewClient(c.ClientOptions(kgo.DefaultProduceTopic("t"))...)
	require.NoError(t, err)
	defer cl.Close()
	require.NoError(t, cl.ProduceSync(ctx, kgo.StringRecord("a")).FirstErr())
	for len(recs) == 0 {
		recs, err = cons.Poll(ctx)
		require.NoError(t, err)
	}
	require.Equal(t, "a", string(recs[0].Value))
}

// TestConsumerPollBeforeAssign: with neither Subscribe nor Assign there is
// nothing to read: Poll waits fetch.max.wait.ms and returns nothing, as
// on the embedded backend.
func TestConsumerPollBeforeAssign(t *testing.T) {
	c := connectFake(t)
	cons, err := consumer.New(c, consumer.Config{FetchMaxWait: new(10 * time.Millisecond)})
	require.NoError(t, err)
	recs, err := cons.Poll(context.Background())
	require.NoError(t, err)
	require.Empty(t, recs)
	id, gen := cons.MemberID()
	require.Equal(t, "", id)
	require.Equal(t, int32(-1), gen)
	_, err = cons.Committed(context.Background(), nil)
	require.ErrorIs(t, err, commitlog.ErrInvalidConfig, "Committed needs a group.id")
	require.ErrorIs(t, cons.CommitSync(context.Background(), nil), commitlog.ErrInvalidConfig)
	require.ErrorIs(t, cons.Subscribe([]string{"t"}, nil), commitlog.ErrInvalidConfig, "Subscribe needs a group.id")
	require.NoError(t, cons.Close(context.Background()))
	require.NoError(t, cons.Close(context.Background()))
}

// TestConsumerMemberID: a subscribed member has kgo's member id and
// generation once it joined.
func TestConsumerMemberID(t *testing.T) {
	c := connectFake(t, kfake.SeedTopics(1, "t"))
	cons, err := consumer.New(c, consumer.Config{GroupID: "ids", SessionTimeout: time.Second, HeartbeatInterval: 50 * time.Millisecond, FetchMaxWait: new(20 * time.Millisecond)})
	require.NoError(t, err)
	defer cons.Close(context.Background())
	require.NoError(t, cons.Subscribe([]string{"t"}, nil))
	require.ErrorIs(t, cons.Assign(nil), commitlog.ErrInvalidConfig, "Assign after Subscribe")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for len(cons.Assignment()) == 0 {
		_, err := cons.Poll(ctx)
		require.NoError(t, err)
	}
	id, gen := cons.MemberID()
	require.NotEmpty(t, id)
	require.Positive(t, gen)
}

// TestClientIDReachesKafka: a consumer's and a producer's client.id is
// the id their franz-go clients send (the group's description shows the
// member's), over the cluster's; without one, the cluster's is used.
func TestClientIDReachesKafka(t *testing.T) {
	fc := newFake(t, kfake.GroupMinSessionTimeout(100*time.Millisecond), kfake.SeedTopics(1, "t"))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := Connect(ctx, Config{BootstrapServers: fc.ListenAddrs(), ClientID: "cluster-id"})
	require.NoError(t, err)
	defer c.Close()

	cons, err := consumer.New(c, consumer.Config{GroupID: "ids", ClientID: "billing-1", SessionTimeout: time.Second, HeartbeatInterval: 50 * time.Millisecond, FetchMaxWait: new(20 * time.Millisecond)})
	require.NoError(t, err)
	defer cons.Close(context.Background())
	require.NoError(t, cons.Subscribe([]string{"t"}, nil))
	for len(cons.Assignment()) == 0 {
		_, err := cons.Poll(ctx)
		require.NoError(t, err)
	}
	a, err := admin.New(c)
	require.NoError(t, err)
	d, err := a.DescribeGroup(ctx, "ids")
	require.NoError(t, err)
	require.Len(t, d.Members, 1)
	require.Equal(t, "billing-1", d.Members[0].ClientID)

	for _, tc := range []struct{ set, want string }{{"orders-1", "orders-1"}, {"", "cluster-id"}} {
		opts, _, err := producerOptions(producer.Config{ClientID: tc.set})
		require.NoError(t, err)
		cl, err := kgo.NewClient(c.ClientOptions(opts...)...)
		require.NoError(t, err)
		require.Equal(t, tc.want, cl.OptValue(kgo.ClientID))
		cl.Close()
	}
}
