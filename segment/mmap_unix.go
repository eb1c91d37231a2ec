//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly || android || ios

package segment

import (
	"math"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/commitlog-go/commitlog/vfs"
)

// mapFile maps n bytes of address range of f read-only and shared, or
// returns nil: when f gives no file descriptor (syscall.Conn: the OS file
// system's files do, in-memory ones and wrappers that do not pass it on
// do not), on 32-bit platforms (a segment's range would take too much of
// the address space), or when the map fails (too many maps: the segments
// then read with ReadAt). The range may reach past the end of the file:
// the active segment's batches appended later show through the map (one
// page cache), and the pages past the end are never read (see readAt).
func mapFile(f vfs.File, n int) *fileMap {
	if math.MaxInt < math.MaxInt64 || n <= 0 {
		return nil
	}
	sc, ok := f.(syscall.Conn)
	if !ok {
		return nil
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	var data []byte
	cerr := rc.Control(func(fd uintptr) {
		data, err = unix.Mmap(int(fd), 0, n, unix.PROT_READ, unix.MAP_SHARED)
	})
	if cerr != nil || err != nil {
		return nil
	}
	return newFileMap(data)
}

func (m *fileMap) unmap() error { return unix.Munmap(m.data) }
