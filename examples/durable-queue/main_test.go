package main

import (
	"os"
	"testing"
)

// TestMain lets the test binary act as the worker process the example
// starts (it re-executes os.Args[0]).
func TestMain(m *testing.M) {
	if dir := os.Getenv(workerEnv); dir != "" {
		if err := worker(dir); err != nil {
			os.Stderr.WriteString("worker: " + err.Error() + "\n")
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func TestDurableQueue(t *testing.T) {
	if err := run(); err != nil {
		t.Fatal(err)
	}
}
