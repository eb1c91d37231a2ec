package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kfake"
)

// TestEdgeForwarder runs the example offline, as the README does: the
// in-process cluster goes away and comes back, and everything is forwarded.
func TestEdgeForwarder(t *testing.T) {
	var out bytes.Buffer
	require.NoError(t, run([]string{"-data", t.TempDir(), "-records", "1000"}, &out), out.String())
	s := out.String()
	require.Contains(t, s, "the cluster went away")
	require.Contains(t, s, "forwarded everything: lag 0")
	require.Contains(t, s, "the cluster holds 1000 records of readings")
	require.Contains(t, s, "transactional.id commitlog-forwarder-")
}

// TestEdgeForwarderIdempotent runs it in the idempotent-only mode.
func TestEdgeForwarderIdempotent(t *testing.T) {
	var out bytes.Buffer
	require.NoError(t, run([]string{"-data", t.TempDir(), "-records", "500", "-mode", "idempotent"}, &out), out.String())
	require.Contains(t, out.String(), "the cluster holds 500 records of readings")
	require.NotContains(t, out.String(), "transactional.id")
	require.Error(t, run([]string{"-mode", "exactly"}, &out))
}

// TestEdgeForwarderBrokers runs it against a cluster given by -brokers,
// twice on the same data directory: the second run forwards only its own
// records.
func TestEdgeForwarderBrokers(t *testing.T) {
	fc, err := kfake.NewCluster(kfake.NumBrokers(1))
	require.NoError(t, err)
	defer fc.Close()
	dir := t.TempDir()
	for _, want := range []string{"holds 400 records", "holds 800 records"} {
		var out bytes.Buffer
		require.NoError(t, run([]string{"-data", dir, "-brokers", strings.Join(fc.ListenAddrs(), ","), "-records", "400"}, &out), out.String())
		require.Contains(t, out.String(), want)
		require.NotContains(t, out.String(), "went away")
	}
}
