//go:build !unix

package producer

// processCPU is 0 where the benchmarks do not read the process's
// processor time.
func processCPU() int64 { return 0 }
