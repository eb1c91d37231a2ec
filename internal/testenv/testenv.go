// Package testenv owns what the tests of several packages read from the
// environment: the trial counts and seeds of the randomised crash and
// damage tests, which the README lists.
package testenv

import (
	"os"
	"strconv"
	"testing"
)

// Int returns the integer in the environment variable name (decimal, or
// with a 0x prefix), or def when it is unset. A value that is not an
// integer fails the test.
func Int(t testing.TB, name string, def int) int {
	t.Helper()
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	n, err := strconv.ParseInt(s, 0, 64)
	if err != nil {
		t.Fatalf("%s=%q: %v", name, s, err)
	}
	return int(n)
}
