//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly || solaris || aix || windows)

package main

import "os"

// isTerminal reports whether f is a character device, the best guess
// without terminal ioctls.
func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
