//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly || android || ios)

package segment

import "github.com/commitlog-go/commitlog/vfs"

// mapFile maps nothing here: segments read with ReadAt. (On Windows a map
// cannot reach past the end of a file without growing it, and a mapped
// file cannot be deleted, which retention does while readers may hold a
// segment.)
func mapFile(vfs.File, int) *fileMap { return nil }

func (m *fileMap) unmap() error { return nil }
