package main

import "testing"

// TestQuickstart runs the example end to end, as the README does.
func TestQuickstart(t *testing.T) {
	if err := run(); err != nil {
		t.Fatal(err)
	}
}
