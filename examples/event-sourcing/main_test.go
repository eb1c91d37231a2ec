package main

import (
	"testing"

	"github.com/commitlog-go/commitlog/examples/internal/exampleenv"
	"github.com/commitlog-go/commitlog/examples/internal/exampleenv/fake"
)

func TestEventSourcing(t *testing.T) {
	if err := run(exampleenv.Env{}); err != nil {
		t.Fatal(err)
	}
}

// TestEventSourcingKafka runs it on a Kafka cluster (kfake, in-process), as
// -bootstrap-server does.
func TestEventSourcingKafka(t *testing.T) {
	if err := run(fake.Env(t)); err != nil {
		t.Fatal(err)
	}
}
