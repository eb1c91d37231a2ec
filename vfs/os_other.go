//go:build !unix && !windows

package vfs

import (
	"errors"
	"io"
)

func isOSNoSpace(error) bool { return false }

func lockFile(name string) (io.Closer, error) {
	return nil, errors.New("vfs: directory locks are not supported on this system")
}
