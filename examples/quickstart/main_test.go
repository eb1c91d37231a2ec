package main

import (
	"testing"

	"github.com/commitlog-go/commitlog/examples/internal/exampleenv"
	"github.com/commitlog-go/commitlog/examples/internal/exampleenv/fake"
)

// TestQuickstart runs the example end to end, as the README does.
func TestQuickstart(t *testing.T) {
	if err := run(exampleenv.Env{}); err != nil {
		t.Fatal(err)
	}
}

// TestQuickstartKafka runs it on a Kafka cluster (kfake, in-process), as
// -bootstrap-server does.
func TestQuickstartKafka(t *testing.T) {
	if err := run(fake.Env(t)); err != nil {
		t.Fatal(err)
	}
}
