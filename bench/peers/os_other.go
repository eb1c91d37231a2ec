//go:build !linux

package main

import (
	"errors"
	"os"
)

// Elsewhere than on Linux the physical limits use fsync (what os.File.Sync
// does), there is no preallocated row, and the free disk space is unknown.

func fdatasync(f *os.File) error { return f.Sync() }

func fallocate(*os.File, int64) error { return errUnsupported }

func freeBytes(string) (int64, error) { return 0, errors.New("free disk space: not known on this OS") }
