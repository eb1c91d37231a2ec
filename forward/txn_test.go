package forward

import (
	"context"
	"math/rand/v2"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/commitlog-go/commitlog"
)

// A produce request of a forwarder's process, held in the network until
// the next process has reconciled and forwarded everything, is then
// delivered. In ModeIdempotent it lands as a duplicate (the window the
// package documentation names); in ModeTransactional the next process's
// InitProducerID has fenced it, and the remote partition stays equal to the
// local one.
func TestForwardZombieProduce(t *testing.T) {
	for _, tc := range []struct {
		mode      Mode
		duplicate bool
	}{
		{ModeTransactional, false},
		{ModeIdempotent, true},
	} {
		t.Run(tc.mode.String(), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			fc := newFake(t)
			seeds := fc.ListenAddrs()
			b := openBroker(t, t.TempDir())
			defer b.Close()
			_, err := b.CreateTopic("t", commitlog.TopicConfig{Partitions: 1})
			require.NoError(t, err)
			rng := rand.New(rand.NewPCG(1, 1))
			appendLocal(t, b, "t", 0, 0, 100, rng)
			cfg := Config{Topics: []string{"t"}, ClientOptions: clientOpts(seeds), Mode: tc.mode}
			f1, err := New(b, cfg)
			require.NoError(t, err)
			require.NoError(t, f1.Flush(ctx))

			// Hold the next produce request (f1 is idle: it is f1's next one).
			var armed atomic.Bool
			armed.Store(true)
			held, release, handled := make(chan struct{}), make(chan struct{}), make(chan struct{})
			fc.ControlKey(int16(kmsg.Produce), func(req kmsg.Request) (kmsg.Response, error, bool) {
				fc.KeepControl()
				pr := req.(*kmsg.ProduceRequest)
				if len(pr.Topics) == 0 || !armed.CompareAndSwap(true, false) {
					return nil, nil, false
				}
				close(held)
				fc.SleepControl(func() { <-release })
				// Handled by the cluster once this returns; the next
				// request through here comes after it.
				fc.ControlKey(int16(kmsg.Produce), func(kmsg.Request) (kmsg.Response, error, bool) {
					fc.DropControl()
					close(handled)
					return nil, nil, false
				})
				return nil, nil, false
			})
			appendLocal(t, b, "t", 0, 100, 100, rng)
			select {
			case <-held:
			case <-ctx.Done():
				t.Fatal("no produce request to hold")
			}
			f1.crash.Store(true) // killed: no flush, no commit
			require.NoError(t, f1.Close(ctx))

			f2, err := New(b, cfg)
			require.NoError(t, err)
			if tc.mode == ModeTransactional {
				require.Equal(t, f1.TransactionalID(), f2.TransactionalID(), "the instance id is kept")
			}
			require.NoError(t, f2.Flush(ctx)) // reconciled, and 100..199 forwarded again
			close(release)
			// One more request, which passes after the held one.
			appendLocal(t, b, "t", 0, 200, 10, rng)
			require.NoError(t, f2.Flush(ctx))
			select {
			case <-handled:
			case <-ctx.Done():
				t.Fatal("the held request was not handled")
			}
			require.NoError(t, f2.Close(ctx))

			local, _ := localRecords(t, b, "t", 0)
			remote, _ := remoteRecords(t, seeds, "t", 0)
			if tc.duplicate {
				require.Greater(t, len(remote), len(local), "the held request landed as a duplicate")
				return
			}
			requireForwarded(t, b, seeds, "t")
		})
	}
}

// A remote partition that ends in a transaction marker (the forwarder's
// own commit marker, or the abort marker of another producer) reconciles:
// a forwarder without a checkpoint (another Group, the same
// transactional.id) resumes from the remote tail alone.
func TestForwardTailEndsInMarker(t *testing.T) {
	for _, tc := range []struct {
		name  string
		mode  Mode
		abort bool // another producer aborts a transaction at the end
	}{
		{"commit marker", ModeTransactional, false},
		{"abort marker, transactional", ModeTransactional, true},
		{"abort marker, idempotent", ModeIdempotent, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			fc := newFake(t)
			seeds := fc.ListenAddrs()
			b := openBroker(t, t.TempDir())
			defer b.Close()
			_, err := b.CreateTopic("t", commitlog.TopicConfig{Partitions: 2})
			require.NoError(t, err)
			rng := rand.New(rand.NewPCG(3, 3))
			for p := int32(0); p < 2; p++ {
				appendLocal(t, b, "t", p, 0, 120, rng)
			}
			cfg := Config{Topics: []string{"t"}, ClientOptions: clientOpts(seeds), Mode: tc.mode, TransactionalID: "edge-1"}
			f, err := New(b, cfg)
			require.NoError(t, err)
			require.NoError(t, f.Flush(ctx))
			require.NoError(t, f.Close(ctx))

			if tc.abort {
				cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.TransactionalID("other"), kgo.RecordPartitioner(kgo.ManualPartitioner()))
				require.NoError(t, err)
				require.NoError(t, cl.BeginTransaction())
				for p := int32(0); p < 2; p++ {
					require.NoError(t, cl.ProduceSync(ctx, &kgo.Record{Topic: "t", Partition: p, Value: []byte("aborted")}).FirstErr())
				}
				require.NoError(t, cl.EndTransaction(ctx, kgo.TryAbort))
				cl.Close()
			}
			// The last offset of every remote partition is a marker.
			adm, err := kgo.NewClient(kgo.SeedBrokers(seeds...))
			require.NoError(t, err)
			ends, err := kadm.NewClient(adm).ListCommittedOffsets(ctx, "t")
			require.NoError(t, err)
			adm.Close()
			for p := int32(0); p < 2; p++ {
				_, offs := remoteRecords(t, seeds, "t", p)
				e, ok := ends.Lookup("t", p)
				require.True(t, ok)
				require.Greater(t, e.Offset-1, offs[len(offs)-1], "partition %d ends in a marker", p)
			}

			for p := int32(0); p < 2; p++ {
				appendLocal(t, b, "t", p, 120, 30, rng)
			}
			cfg.Group = "another"
			f, err = New(b, cfg)
			require.NoError(t, err)
			require.NoError(t, f.Flush(ctx))
			require.NoError(t, f.Close(ctx))
			require.Equal(t, 2*150, requireForwarded(t, b, seeds, "t"))
		})
	}
}
