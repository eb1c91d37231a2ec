package main

import (
	"os"
	"testing"
	"time"

	"github.com/commitlog-go/commitlog/examples/internal/exampleenv"
	"github.com/commitlog-go/commitlog/examples/internal/exampleenv/fake"
)

// TestMain lets the test binary act as the worker process the example
// starts (it re-executes os.Args[0]).
func TestMain(m *testing.M) {
	if os.Getenv(workerEnv) != "" {
		if err := workerFromEnviron(); err != nil {
			os.Stderr.WriteString("worker: " + err.Error() + "\n")
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func TestDurableQueue(t *testing.T) {
	if err := run(exampleenv.Env{}); err != nil {
		t.Fatal(err)
	}
}

// TestDurableQueueKafka runs it on a Kafka cluster (kfake, in-process, in
// this test's process; the workers connect to it), as -bootstrap-server
// does. The session timeout is short so that the group drops the killed
// worker quickly.
func TestDurableQueueKafka(t *testing.T) {
	defer func(d time.Duration) { sessionTimeout = d }(sessionTimeout)
	sessionTimeout = 500 * time.Millisecond
	if err := run(fake.Env(t)); err != nil {
		t.Fatal(err)
	}
}
