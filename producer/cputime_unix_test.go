//go:build unix

package producer

import "syscall"

// processCPU is the processor time the process has used so far, user and
// system, in ns: what a benchmark's loop costs on a machine whose other
// load moves its wall-clock figures.
func processCPU() int64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}
