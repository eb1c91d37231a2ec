//go:build unix

package vfs

import (
	"errors"
	"os"
	"syscall"
)

func isOSNoSpace(err error) bool { return errors.Is(err, syscall.ENOSPC) }

// lockFD takes an exclusive flock on f without waiting; held reports that
// another open file has it.
func lockFD(f *os.File) (held bool, err error) {
	err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
	if errors.Is(err, syscall.EWOULDBLOCK) {
		return true, nil
	}
	return false, err
}

func unlockFD(f *os.File) { _ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN) }
