//go:build windows

package vfs

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/windows"
)

// syncDir does nothing: Windows cannot fsync a directory, and NTFS
// journals its metadata.
func syncDir(string) error { return nil }

func isOSNoSpace(err error) bool {
	return errors.Is(err, windows.ERROR_DISK_FULL) || errors.Is(err, windows.ERROR_HANDLE_DISK_FULL)
}

// lockOffset is where the lock's one byte lies: far past the end of the
// file, so that the pid written at its start stays readable by the
// process that is refused the lock (a byte-range lock also blocks reads
// of its range).
const lockOffset = 1<<63 - 2

// lockFile takes an exclusive LockFileEx lock on name and writes our pid
// in it. The lock belongs to the open handle, so a second lock in this
// process is refused just like one from another process, as with flock
// on unix; the system releases it when the handle closes or the process
// dies.
func lockFile(name string) (io.Closer, error) {
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", name, err)
	}
	ol := lockOverlapped()
	err = windows.LockFileEx(windows.Handle(f.Fd()), windows.LOCKFILE_EXCLUSIVE_LOCK|windows.LOCKFILE_FAIL_IMMEDIATELY, 0, 1, 0, ol)
	if err != nil {
		holder := "unknown"
		if b, rerr := os.ReadFile(name); rerr == nil && len(strings.TrimSpace(string(b))) > 0 {
			holder = strings.TrimSpace(string(b))
		}
		f.Close()
		if errors.Is(err, windows.ERROR_LOCK_VIOLATION) || errors.Is(err, windows.ERROR_IO_PENDING) {
			return nil, fmt.Errorf("%s is held by pid %s: %w", name, holder, ErrLocked)
		}
		return nil, fmt.Errorf("lock %s: %w", name, err)
	}
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return lockedFile{f}, nil
}

func lockOverlapped() *windows.Overlapped {
	return &windows.Overlapped{Offset: uint32(lockOffset & 0xffffffff), OffsetHigh: uint32(lockOffset >> 32)}
}

type lockedFile struct{ f *os.File }

func (l lockedFile) Close() error {
	_ = windows.UnlockFileEx(windows.Handle(l.f.Fd()), 0, 1, 0, lockOverlapped())
	return l.f.Close()
}
