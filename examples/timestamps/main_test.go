package main

import "testing"

func TestTimestamps(t *testing.T) {
	if err := run(); err != nil {
		t.Fatal(err)
	}
}
