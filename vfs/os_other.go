//go:build !unix && !windows

package vfs

import (
	"errors"
	"os"
)

func isOSNoSpace(error) bool { return false }

// errNoLocks is Lock's error where the system has no file locks (wasip1,
// plan9): Open fails with it rather than run without a lock.
var errNoLocks = errors.New("vfs: directory locks are not supported on this system")

func lockFD(*os.File) (bool, error) { return false, errNoLocks }

func unlockFD(*os.File) {}
