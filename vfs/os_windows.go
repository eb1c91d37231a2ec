//go:build windows

package vfs

import (
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"
)

// syncDir does nothing: Windows cannot fsync a directory, and NTFS
// journals its metadata.
func syncDir(string) error { return nil }

const errorDiskFull = syscall.Errno(112) // ERROR_DISK_FULL

func isOSNoSpace(err error) bool {
	return errors.Is(err, errorDiskFull) || errors.Is(err, syscall.Errno(39)) // ERROR_HANDLE_DISK_FULL
}

// lockFile opens name with no sharing: while it is open, every other
// open of it, in this process or another, fails with a sharing violation.
func lockFile(name string) (io.Closer, error) {
	p, err := syscall.UTF16PtrFromString(name)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", name, err)
	}
	h, err := syscall.CreateFile(p, syscall.GENERIC_READ|syscall.GENERIC_WRITE, 0, nil,
		syscall.OPEN_ALWAYS, syscall.FILE_ATTRIBUTE_NORMAL, 0)
	if err != nil {
		if errors.Is(err, syscall.Errno(32)) { // ERROR_SHARING_VIOLATION
			return nil, fmt.Errorf("%s is held by another process: %w", name, ErrLocked)
		}
		return nil, fmt.Errorf("lock %s: %w", name, err)
	}
	return os.NewFile(uintptr(h), name), nil
}
