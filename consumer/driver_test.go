package consumer

import (
	"context"
	"errors"
	"log/slog"
	"reflect"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/commitlog-go/commitlog"
	"github.com/commitlog-go/commitlog/assignor"
)

// plainBackend is a Backend that is neither a Store nor a DriverOpener.
type plainBackend struct{}

func (plainBackend) Logger() *slog.Logger { return slog.Default() }
func (plainBackend) Close() error         { return nil }

// openerBackend records the config its driver was opened with; its driver
// records the calls delegated to it.
type openerBackend struct {
	plainBackend
	cfg Config
	drv *recordingDriver
	err error
}

func (o *openerBackend) OpenConsumerDriver(cfg Config) (Driver, error) {
	o.cfg = cfg
	if o.err != nil {
		return nil, o.err
	}
	o.drv = &recordingDriver{}
	return o.drv, nil
}

type recordingDriver struct{ calls []string }

func (d *recordingDriver) note(s string) { d.calls = append(d.calls, s) }

func (d *recordingDriver) Subscribe(topics []string, on func(context.Context, RebalanceEvent, []TopicPartition)) error {
	d.note("Subscribe")
	on(context.Background(), PartitionsAssigned, []TopicPartition{{Topic: topics[0]}})
	return nil
}
func (d *recordingDriver) Assign([]TopicPartition) error { d.note("Assign"); return nil }
func (d *recordingDriver) Assignment() []TopicPartition  { d.note("Assignment"); return nil }
func (d *recordingDriver) Poll(_ context.Context, dst []Record, keep bool) ([]Record, error) {
	d.note("Poll")
	return append(dst, Record{Topic: "t", Offset: map[bool]int64{true: 1, false: 2}[keep]}), nil
}
func (d *recordingDriver) Seek(TopicPartition, int64) error { d.note("Seek"); return nil }
func (d *recordingDriver) SeekToBeginning(...TopicPartition) error {
	d.note("SeekToBeginning")
	return nil
}
func (d *recordingDriver) SeekToEnd(...TopicPartition) error      { d.note("SeekToEnd"); return nil }
func (d *recordingDriver) Position(TopicPartition) (int64, error) { d.note("Position"); return 7, nil }
func (d *recordingDriver) Pause(...TopicPartition) error          { d.note("Pause"); return nil }
func (d *recordingDriver) Resume(...TopicPartition) error         { d.note("Resume"); return nil }
func (d *recordingDriver) Paused() []TopicPartition               { d.note("Paused"); return nil }
func (d *recordingDriver) MemberID() (string, int32)              { d.note("MemberID"); return "m", 3 }
func (d *recordingDriver) Close(context.Context) error            { d.note("Close"); return nil }
func (d *recordingDriver) CommitSync(context.Context, map[TopicPartition]OffsetAndMetadata) error {
	d.note("CommitSync")
	return nil
}
func (d *recordingDriver) CommitAsync(_ map[TopicPartition]OffsetAndMetadata, cb func(map[TopicPartition]OffsetAndMetadata, error)) {
	d.note("CommitAsync")
	cb(nil, nil)
}
func (d *recordingDriver) Committed(context.Context, []TopicPartition) (map[TopicPartition]OffsetAndMetadata, error) {
	d.note("Committed")
	return nil, nil
}
func (d *recordingDriver) OffsetsForTimes(map[TopicPartition]time.Time) (map[TopicPartition]*OffsetAndTimestamp, error) {
	d.note("OffsetsForTimes")
	return nil, nil
}
func (d *recordingDriver) EndOffsets(_ context.Context, tps []TopicPartition) (map[TopicPartition]int64, error) {
	d.note("EndOffsets")
	out := map[TopicPartition]int64{}
	for _, tp := range tps {
		out[tp] = 10
	}
	return out, nil
}

func TestNewBackends(t *testing.T) {
	_, err := New(plainBackend{}, Config{})
	require.ErrorIs(t, err, commitlog.ErrUnsupportedBackend)
	_, err = New(nil, Config{})
	require.ErrorIs(t, err, commitlog.ErrUnsupportedBackend)

	// A bad config fails before the driver is opened.
	o := &openerBackend{}
	_, err = New(o, Config{MaxPollRecords: -1})
	require.ErrorIs(t, err, commitlog.ErrInvalidConfig)
	require.Nil(t, o.drv)

	o.err = errors.ErrUnsupported
	_, err = New(o, Config{})
	require.ErrorIs(t, err, errors.ErrUnsupported)
}

func TestNewDriverGetsFilledConfig(t *testing.T) {
	o := &openerBackend{}
	_, err := New(o, Config{GroupID: "g", FetchMaxWait: new(time.Duration(0))})
	require.NoError(t, err)
	got := o.cfg
	require.Equal(t, "g", got.GroupID)
	require.Equal(t, ResetLatest, got.AutoOffsetReset)
	require.Equal(t, new(true), got.EnableAutoCommit)
	require.Equal(t, new(DefaultAutoCommitInterval), got.AutoCommitInterval)
	require.Equal(t, DefaultMaxPollRecords, got.MaxPollRecords)
	require.Equal(t, new(DefaultFetchMaxBytes), got.FetchMaxBytes)
	require.Equal(t, new(DefaultMaxPartitionFetchBytes), got.MaxPartitionFetchBytes)
	require.Equal(t, new(DefaultFetchMinBytes), got.FetchMinBytes)
	require.Equal(t, new(time.Duration(0)), got.FetchMaxWait, "a set zero stays zero")
	require.Equal(t, DefaultSessionTimeout, got.SessionTimeout)
	require.Equal(t, DefaultHeartbeatInterval, got.HeartbeatInterval)
	require.Equal(t, DefaultMaxPollInterval, got.MaxPollInterval)
	require.Equal(t, []assignor.Assignor{assignor.Range(), assignor.CooperativeSticky()}, got.Assignors)
	// The filled config is a valid config that says the same.
	again, err := got.resolve()
	require.NoError(t, err)
	want, _ := Config{GroupID: "g", FetchMaxWait: new(time.Duration(0))}.resolve()
	require.Equal(t, want, again)
}

func TestDriverDelegation(t *testing.T) {
	o := &openerBackend{}
	c, err := New(o, Config{GroupID: "g"})
	require.NoError(t, err)
	ctx := context.Background()
	tp := TopicPartition{Topic: "t"}
	var listened *Consumer
	require.NoError(t, c.Subscribe([]string{"t"}, ListenerFuncs{Assigned: func(_ context.Context, lc *Consumer, _ []TopicPartition) { listened = lc }}))
	require.Same(t, c, listened, "the listener gets the Consumer")
	require.NoError(t, c.Assign(nil))
	c.Assignment()
	recs, err := c.Poll(ctx)
	require.NoError(t, err)
	require.Equal(t, int64(1), recs[0].Offset, "Poll keeps its records")
	recs, err = c.PollInto(ctx, recs)
	require.NoError(t, err)
	require.Len(t, recs, 1, "PollInto empties dst first")
	require.Equal(t, int64(2), recs[0].Offset)
	require.NoError(t, c.Seek(tp, 1))
	require.NoError(t, c.SeekToBeginning())
	require.NoError(t, c.SeekToEnd())
	pos, err := c.Position(tp)
	require.NoError(t, err)
	require.Equal(t, int64(7), pos)
	require.NoError(t, c.Pause(tp))
	require.NoError(t, c.Resume(tp))
	c.Paused()
	require.NoError(t, c.CommitSync(ctx, nil))
	c.CommitAsync(nil, func(map[TopicPartition]OffsetAndMetadata, error) {})
	_, err = c.Committed(ctx, nil)
	require.NoError(t, err)
	_, err = c.OffsetsForTimes(nil)
	require.NoError(t, err)
	end, err := c.EndOffsets(ctx, tp)
	require.NoError(t, err)
	require.Equal(t, map[TopicPartition]int64{tp: 10}, end)
	id, gen := c.MemberID()
	require.Equal(t, "m", id)
	require.Equal(t, int32(3), gen)
	require.NoError(t, c.Close(ctx))
	require.Equal(t, []string{"Subscribe", "Assign", "Assignment", "Poll", "Poll", "Seek", "SeekToBeginning", "SeekToEnd",
		"Position", "Pause", "Resume", "Paused", "CommitSync", "CommitAsync", "Committed", "OffsetsForTimes", "EndOffsets", "MemberID", "Close"}, o.drv.calls)
}

// TestFilledKeepsEverySetting: what a driver gets carries every field of
// Config (client.id went missing once, so the Kafka backend never sent
// it).
func TestFilledKeepsEverySetting(t *testing.T) {
	cfg, err := Config{GroupID: "g", ClientID: "c", Assignors: []assignor.Assignor{assignor.Range()}}.resolve()
	require.NoError(t, err)
	v := reflect.ValueOf(cfg.filled())
	for i := range v.NumField() {
		require.False(t, v.Field(i).IsZero(), "filled() leaves out Config.%s", v.Type().Field(i).Name)
	}
}
