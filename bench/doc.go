// Package bench holds the performance tools and whole-stack benchmarks of
// commitlog.
package bench
