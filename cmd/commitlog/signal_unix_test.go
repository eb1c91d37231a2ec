//go:build unix

package main

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestConsoleConsumerInterrupt: console-consumer tails until SIGINT, then
// exits 0 after saying how many records it printed, as Kafka's does.
func TestConsoleConsumerInterrupt(t *testing.T) {
	root := fixture(t)
	cmd := exec.CommandContext(t.Context(), bin, "console-consumer", "--data-dir", "data", "--topic", "events", "--from-beginning")
	cmd.Dir = root
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	require.NoError(t, cmd.Start())
	sc := bufio.NewScanner(stdout)
	for range 3 {
		require.True(t, sc.Scan(), "a record line")
	}
	// The three records are out; the consumer now waits for more.
	require.NoError(t, cmd.Process.Signal(os.Interrupt))
	require.False(t, sc.Scan(), "nothing after the interrupt")
	require.NoError(t, cmd.Wait(), stderr.String())
	require.Equal(t, "Processed a total of 3 messages\n", stderr.String())
}
