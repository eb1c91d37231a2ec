package main

import "testing"

func TestEventSourcing(t *testing.T) {
	if err := run(); err != nil {
		t.Fatal(err)
	}
}
