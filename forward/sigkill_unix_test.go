//go:build unix

package forward

import (
	"bufio"
	"context"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/commitlog-go/commitlog"
)

// killChild runs this test binary as a child in mode on dir, waits until
// it is up, lets it work for a random while and kills it with SIGKILL.
func killChild(t *testing.T, mode, dir string, seeds []string, rng *rand.Rand) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+mode, childDirEnv+"="+dir,
		childSeedsEnv+"="+strings.Join(seeds, ","), childSeedEnv+"="+strconv.FormatUint(rng.Uint64(), 10))
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	sc := bufio.NewScanner(out)
	require.True(t, sc.Scan(), "the child did not come up")
	require.Equal(t, "up", sc.Text())
	time.Sleep(time.Duration(20+rng.IntN(200)) * time.Millisecond)
	require.NoError(t, cmd.Process.Kill()) // SIGKILL
	err = cmd.Wait()
	require.Error(t, err, "the child was killed")
}

func TestForwardSIGKILL(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	fc := newFake(t)
	dropSomeProduces(fc, 4)
	seeds := fc.ListenAddrs()
	dir := t.TempDir()
	b := openBroker(t, dir)
	_, err := b.CreateTopic("t", commitlog.TopicConfig{Partitions: 3})
	require.NoError(t, err)
	require.NoError(t, b.Close())
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 11))
	for i := 0; i < trials(3); i++ {
		killChild(t, "forward", dir, seeds, rng)
	}
	b = openBroker(t, dir)
	defer b.Close()
	f, err := New(b, Config{Topics: []string{"t"}, ClientOptions: clientOpts(seeds)})
	require.NoError(t, err)
	require.NoError(t, f.Flush(ctx))
	require.NoError(t, f.Close(ctx))
	n := requireForwarded(t, b, seeds, "t")
	require.Positive(t, n)
	t.Logf("%d records forwarded across %d kills", n, trials(3))
}

func TestMirrorSIGKILL(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	fc := newFake(t, kfakeSeed(3, "t"))
	seeds := fc.ListenAddrs()
	dir := t.TempDir()
	var produced atomic.Int64
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for seq := 0; ; seq += 50 {
			select {
			case <-stop:
				return
			default:
			}
			produceRemote(t, seeds, "t", 3, seq, 50)
			produced.Add(150)
			time.Sleep(2 * time.Millisecond)
		}
	}()
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 12))
	for i := 0; i < trials(3); i++ {
		killChild(t, "mirror", dir, seeds, rng)
	}
	close(stop)
	<-done
	b := openBroker(t, dir)
	defer b.Close()
	m, err := NewMirror(b, MirrorConfig{Topics: []string{"t"}, ClientOptions: clientOpts(seeds)})
	require.NoError(t, err)
	require.NoError(t, m.Flush(ctx))
	require.NoError(t, m.Close(ctx))
	require.Equal(t, int(produced.Load()), requireMirrored(t, b, seeds, "t"))
}
