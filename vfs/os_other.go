//go:build !unix && !windows

package vfs

import (
	"errors"
	"io"
	"os"
)

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

func isOSNoSpace(error) bool { return false }

func lockFile(name string) (io.Closer, error) {
	return nil, errors.New("vfs: directory locks are not supported on this system")
}
