package consumer

import (
	"context"
	"testing"
	"time"

	"github.com/commitlog-go/commitlog"
	"github.com/commitlog-go/commitlog/assignor"
	"github.com/stretchr/testify/require"
)

func TestStaleGenerationCommitRejected(t *testing.T) {
	b := openBroker(t, t.TempDir())
	defer b.Close()
	_, err := b.CreateTopic("t", commitlog.TopicConfig{Partitions: 2})
	require.NoError(t, err)
	coord, err := CoordinatorFor(b)
	require.NoError(t, err)
	ctx := context.Background()
	req := JoinRequest{Topics: []string{"t"}, Assignors: []assignor.Assignor{assignor.Range()}, SessionTimeout: time.Minute, RebalanceTimeout: time.Second}
	r1, err := coord.JoinGroup(ctx, "g", req)
	require.NoError(t, err)
	tp := TopicPartition{Topic: "t", Partition: 0}
	require.NoError(t, coord.CommitOffsets("g", r1.MemberID, r1.Generation, map[TopicPartition]OffsetAndMetadata{tp: {Offset: 5}}))
	// A second member joins: the first must rejoin; its old generation is
	// stale once the rebalance completes.
	done := make(chan JoinResult)
	go func() {
		r, err := coord.JoinGroup(ctx, "g", req)
		require.NoError(t, err)
		done <- r
	}()
	<-r1.Rebalance
	require.ErrorIs(t, coord.Heartbeat("g", r1.MemberID, r1.Generation), ErrRebalanceInProgress)
	req1 := req
	req1.MemberID = r1.MemberID
	r1b, err := coord.JoinGroup(ctx, "g", req1)
	require.NoError(t, err)
	r2 := <-done
	require.Equal(t, r1b.Generation, r2.Generation)
	require.Greater(t, r1b.Generation, r1.Generation)
	err = coord.CommitOffsets("g", r1.MemberID, r1.Generation, map[TopicPartition]OffsetAndMetadata{tp: {Offset: 1}})
	require.ErrorIs(t, err, ErrIllegalGeneration)
	require.Equal(t, int64(5), coord.FetchOffsets("g", []TopicPartition{tp})[tp].Offset, "a stale member never rewinds offsets")
	err = coord.CommitOffsets("g", "nobody", r2.Generation, map[TopicPartition]OffsetAndMetadata{tp: {Offset: 1}})
	require.ErrorIs(t, err, ErrUnknownMemberID)
	require.Len(t, append(r1b.Assignment, r2.Assignment...), 2)
}
