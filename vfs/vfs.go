// Package vfs owns the file-system layer that every byte commitlog stores
// goes through: segment files, index files, checkpoints, the topic
// metadata and the directory lock.
//
// Two implementations come with it. OS is the real file system, and the
// default everywhere. MemFS is an in-memory file system for tests that
// keeps, next to what a program wrote, what it made durable: the contents
// of a file as of its last Sync, and the entries of a directory as of its
// last SyncDir. Its Crash method returns the file system a power cut would
// leave: only what was made durable survives (optionally with some of the
// unsynced pages written, in any order, as a disk may do). MemFS can also
// run out of space, to test what a full disk does.
//
// The interface is the small set of calls the storage needs: positional
// reads and writes (no shared file offset), fsync of files and of
// directories, rename, and an exclusive lock of a data directory. File
// names are operating-system paths (package path/filepath).
package vfs

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// File is an open file. ReadAt and WriteAt may be called concurrently
// with each other on distinct byte ranges, as with *os.File.
type File interface {
	io.ReaderAt
	io.WriterAt
	// Sync makes the file's contents durable (fsync).
	Sync() error
	// Truncate changes the file's size.
	Truncate(size int64) error
	// Size is the file's current size.
	Size() (int64, error)
	// Close closes the file; it does not sync.
	Close() error
}

// FS is a file system.
type FS interface {
	// OpenFile opens a file with os.OpenFile's flags (os.O_RDONLY,
	// os.O_RDWR, os.O_CREATE, os.O_EXCL, os.O_TRUNC; O_APPEND is not
	// supported).
	OpenFile(name string, flag int, perm fs.FileMode) (File, error)
	// ReadFile reads a whole file.
	ReadFile(name string) ([]byte, error)
	// Remove removes a file or an empty directory.
	Remove(name string) error
	// RemoveAll removes a path and everything below it; a missing path is
	// not an error.
	RemoveAll(path string) error
	// Rename renames a file or directory, replacing a file at newpath.
	Rename(oldpath, newpath string) error
	// MkdirAll creates a directory and its missing parents.
	MkdirAll(path string, perm fs.FileMode) error
	// ReadDir lists a directory, sorted by name.
	ReadDir(name string) ([]fs.DirEntry, error)
	// Stat describes a file or directory.
	Stat(name string) (fs.FileInfo, error)
	// SyncDir makes the directory's entries durable: files created,
	// renamed or removed in it (fsync of the directory).
	SyncDir(dir string) error
	// Lock takes an exclusive lock named by a file path (created if
	// missing) that excludes every other holder, in this process or
	// another, until the returned Closer is closed. When another holder
	// has it, the error wraps ErrLocked.
	Lock(name string) (io.Closer, error)
}

// ErrLocked reports a lock that another holder has.
var ErrLocked = errors.New("commitlog: data directory locked")

// ErrNoSpace reports a write that found the file system full. The OS file
// system reports the operating system's own error (ENOSPC), which
// errors.Is matches too: use IsNoSpace to test for either.
var ErrNoSpace = errors.New("commitlog: no space left on device")

// IsNoSpace reports whether err says the file system is full.
func IsNoSpace(err error) bool {
	return errors.Is(err, ErrNoSpace) || isOSNoSpace(err)
}

// Default returns fsys, or OS when fsys is nil.
func Default(fsys FS) FS {
	if fsys == nil {
		return OS
	}
	return fsys
}

// Exists reports whether name exists.
func Exists(fsys FS, name string) bool {
	_, err := fsys.Stat(name)
	return err == nil
}

// WriteFile writes data to name, creating or truncating it, and syncs it
// when sync is set. It does not sync the directory.
func WriteFile(fsys FS, name string, data []byte, sync bool) error {
	f, err := fsys.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.WriteAt(data, 0); err != nil {
		_ = f.Close()
		return err
	}
	if sync {
		if err := f.Sync(); err != nil {
			_ = f.Close()
			return err
		}
	}
	return f.Close()
}

// WriteAtomic replaces name with data so that a crash leaves either the
// old or the new contents: it writes name+".tmp", fsyncs it, renames it
// over name and fsyncs the directory. A failure before the rename removes
// the temporary file and leaves name as it was.
func WriteAtomic(fsys FS, name string, data []byte) error {
	tmp := name + ".tmp"
	if err := WriteFile(fsys, tmp, data, true); err != nil {
		_ = fsys.Remove(tmp)
		return err
	}
	if err := fsys.Rename(tmp, name); err != nil {
		_ = fsys.Remove(tmp)
		return err
	}
	return fsys.SyncDir(filepath.Dir(name))
}

// MkdirAllSync creates dir and its missing parents and makes each new
// directory's entry durable by syncing its parent.
func MkdirAllSync(fsys FS, dir string) error {
	dir = filepath.Clean(dir)
	if st, err := fsys.Stat(dir); err == nil {
		if !st.IsDir() {
			return fmt.Errorf("%s: not a directory", dir)
		}
		return nil
	}
	parent := filepath.Dir(dir)
	if parent != dir {
		if err := MkdirAllSync(fsys, parent); err != nil {
			return err
		}
	}
	if err := fsys.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if parent != dir {
		return fsys.SyncDir(parent)
	}
	return nil
}
