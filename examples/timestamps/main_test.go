package main

import (
	"testing"

	"github.com/commitlog-go/commitlog/examples/internal/exampleenv"
	"github.com/commitlog-go/commitlog/examples/internal/exampleenv/fake"
)

func TestTimestamps(t *testing.T) {
	if err := run(exampleenv.Env{}); err != nil {
		t.Fatal(err)
	}
}

// TestTimestampsKafka runs it on a Kafka cluster (kfake, in-process), as
// -bootstrap-server does.
func TestTimestampsKafka(t *testing.T) {
	if err := run(fake.Env(t)); err != nil {
		t.Fatal(err)
	}
}
