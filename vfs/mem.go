package vfs

import (
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// MemFS is an in-memory file system that remembers what was made durable,
// for crash tests: Crash returns what a power cut would leave.
//
// Durability follows POSIX at its strictest: a file's bytes are durable
// as of its last Sync; a directory entry (a file or directory created,
// renamed or removed) is durable as of the last SyncDir of the directory
// that holds it. A file created and synced in a directory that was never
// synced does not survive a crash.
//
// It is safe for concurrent use. One mutex guards the directory tree;
// each file has its own for its bytes.
type MemFS struct {
	// io is held shared by every read, write, truncation and sync of a
	// file, and exclusively by Crash, so that a crash is one moment.
	io       sync.RWMutex
	mu       sync.Mutex // guards the tree (every node's children, synced maps, links and opens) and locks
	root     *memNode
	locks    map[string]bool
	capacity atomic.Int64 // bytes of file data the FS holds at most; 0: no limit
	used     atomic.Int64 // bytes of file data now held (current contents)
}

type memNode struct {
	dir bool
	// Directories: the entries now, and as of the last SyncDir.
	children map[string]*memNode
	synced   map[string]*memNode
	// Files. The space of a file's data is in use while a directory
	// names it or a handle has it open, as on a disk.
	links      int        // directory entries naming the node (MemFS.mu)
	opens      int        // open handles (MemFS.mu)
	mu         sync.Mutex // guards data, syncedData and mtime
	data       []byte
	syncedData []byte
	mtime      time.Time
}

func newDir() *memNode {
	return &memNode{dir: true, children: map[string]*memNode{}, synced: map[string]*memNode{}}
}

// NewMem returns an empty in-memory file system.
func NewMem() *MemFS {
	return &MemFS{root: newDir(), locks: map[string]bool{}}
}

// SetCapacity limits the bytes of file contents the file system holds
// (0: no limit). A write or truncation past the limit fails with an error
// wrapping ErrNoSpace, after writing what fits, as a full disk does.
func (m *MemFS) SetCapacity(bytes int64) { m.capacity.Store(bytes) }

// Used is the number of bytes of file contents the file system holds.
func (m *MemFS) Used() int64 { return m.used.Load() }

// split turns a path into its components below the root.
func split(name string) []string {
	name = filepath.ToSlash(filepath.Clean(name))
	var parts []string
	for _, p := range strings.Split(name, "/") {
		if p != "" && p != "." {
			parts = append(parts, p)
		}
	}
	return parts
}

func pathErr(op, name string, err error) error {
	return &fs.PathError{Op: op, Path: name, Err: err}
}

// lookup finds the node at name. The caller holds m.mu.
func (m *MemFS) lookup(name string) (*memNode, error) {
	n := m.root
	for _, p := range split(name) {
		if !n.dir {
			return nil, fs.ErrNotExist
		}
		c, ok := n.children[p]
		if !ok {
			return nil, fs.ErrNotExist
		}
		n = c
	}
	return n, nil
}

// parent finds the directory that holds name and name's last component.
// The caller holds m.mu.
func (m *MemFS) parent(name string) (*memNode, string, error) {
	parts := split(name)
	if len(parts) == 0 {
		return nil, "", fs.ErrInvalid
	}
	n := m.root
	for _, p := range parts[:len(parts)-1] {
		c, ok := n.children[p]
		if !ok || !c.dir {
			return nil, "", fs.ErrNotExist
		}
		n = c
	}
	return n, parts[len(parts)-1], nil
}

// OpenFile implements FS.
func (m *MemFS) OpenFile(name string, flag int, _ fs.FileMode) (File, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	dir, base, err := m.parent(name)
	if err != nil {
		return nil, pathErr("open", name, err)
	}
	n, ok := dir.children[base]
	switch {
	case ok && flag&os.O_CREATE != 0 && flag&os.O_EXCL != 0:
		return nil, pathErr("open", name, fs.ErrExist)
	case ok && n.dir:
		if flag&(os.O_WRONLY|os.O_RDWR) != 0 {
			return nil, pathErr("open", name, fmt.Errorf("is a directory"))
		}
	case !ok && flag&os.O_CREATE == 0:
		return nil, pathErr("open", name, fs.ErrNotExist)
	case !ok:
		n = &memNode{mtime: time.Now(), links: 1}
		dir.children[base] = n
	}
	n.opens++
	if flag&os.O_TRUNC != 0 && !n.dir {
		n.mu.Lock()
		m.used.Add(-int64(len(n.data)))
		n.data = nil
		n.mu.Unlock()
	}
	return &memFile{fs: m, n: n, name: name, write: flag&(os.O_WRONLY|os.O_RDWR) != 0}, nil
}

// ReadFile implements FS.
func (m *MemFS) ReadFile(name string) ([]byte, error) {
	m.mu.Lock()
	n, err := m.lookup(name)
	m.mu.Unlock()
	if err != nil {
		return nil, pathErr("open", name, err)
	}
	if n.dir {
		return nil, pathErr("read", name, fmt.Errorf("is a directory"))
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	return slices.Clone(n.data), nil
}

// Remove implements FS.
func (m *MemFS) Remove(name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	dir, base, err := m.parent(name)
	if err != nil {
		return pathErr("remove", name, err)
	}
	n, ok := dir.children[base]
	if !ok {
		return pathErr("remove", name, fs.ErrNotExist)
	}
	if n.dir && len(n.children) > 0 {
		return pathErr("remove", name, fmt.Errorf("directory not empty"))
	}
	m.drop(n)
	delete(dir.children, base)
	return nil
}

// drop removes one directory entry of n (and, for a directory, the
// entries below it). A file's space is freed once no entry names it and no
// handle has it open. The caller holds m.mu.
func (m *MemFS) drop(n *memNode) {
	if n.dir {
		for _, c := range n.children {
			m.drop(c)
		}
		return
	}
	n.links--
	m.release(n)
}

// release frees the space of a file nothing uses any more. The caller
// holds m.mu.
func (m *MemFS) release(n *memNode) {
	if n.links > 0 || n.opens > 0 {
		return
	}
	n.mu.Lock()
	m.used.Add(-int64(len(n.data)))
	n.mu.Unlock()
}

// RemoveAll implements FS.
func (m *MemFS) RemoveAll(path string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	dir, base, err := m.parent(path)
	if err != nil {
		return nil
	}
	if n, ok := dir.children[base]; ok {
		m.drop(n)
		delete(dir.children, base)
	}
	return nil
}

// Rename implements FS.
func (m *MemFS) Rename(oldpath, newpath string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	od, ob, err := m.parent(oldpath)
	if err != nil {
		return &os.LinkError{Op: "rename", Old: oldpath, New: newpath, Err: err}
	}
	n, ok := od.children[ob]
	if !ok {
		return &os.LinkError{Op: "rename", Old: oldpath, New: newpath, Err: fs.ErrNotExist}
	}
	nd, nb, err := m.parent(newpath)
	if err != nil {
		return &os.LinkError{Op: "rename", Old: oldpath, New: newpath, Err: err}
	}
	if old, ok := nd.children[nb]; ok && old != n {
		if old.dir != n.dir || old.dir && len(old.children) > 0 {
			return &os.LinkError{Op: "rename", Old: oldpath, New: newpath, Err: fs.ErrExist}
		}
		m.drop(old)
	}
	delete(od.children, ob)
	nd.children[nb] = n
	return nil
}

// MkdirAll implements FS.
func (m *MemFS) MkdirAll(path string, _ fs.FileMode) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := m.root
	for _, p := range split(path) {
		c, ok := n.children[p]
		if !ok {
			c = newDir()
			n.children[p] = c
		} else if !c.dir {
			return pathErr("mkdir", path, fmt.Errorf("not a directory"))
		}
		n = c
	}
	return nil
}

// ReadDir implements FS.
func (m *MemFS) ReadDir(name string) ([]fs.DirEntry, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n, err := m.lookup(name)
	if err != nil {
		return nil, pathErr("open", name, err)
	}
	if !n.dir {
		return nil, pathErr("readdir", name, fmt.Errorf("not a directory"))
	}
	out := make([]fs.DirEntry, 0, len(n.children))
	for _, k := range slices.Sorted(mapsKeys(n.children)) {
		out = append(out, fs.FileInfoToDirEntry(info(k, n.children[k])))
	}
	return out, nil
}

func mapsKeys(m map[string]*memNode) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// Stat implements FS.
func (m *MemFS) Stat(name string) (fs.FileInfo, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n, err := m.lookup(name)
	if err != nil {
		return nil, pathErr("stat", name, err)
	}
	parts := split(name)
	base := "/"
	if len(parts) > 0 {
		base = parts[len(parts)-1]
	}
	return info(base, n), nil
}

// SyncDir implements FS.
func (m *MemFS) SyncDir(dir string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	n, err := m.lookup(dir)
	if err != nil {
		return pathErr("sync", dir, err)
	}
	if !n.dir {
		return pathErr("sync", dir, fmt.Errorf("not a directory"))
	}
	n.synced = make(map[string]*memNode, len(n.children))
	for k, c := range n.children {
		n.synced[k] = c
	}
	return nil
}

// Lock implements FS: a lock held in this MemFS (a Crash forgets it, as
// a power cut ends the process that held it).
func (m *MemFS) Lock(name string) (io.Closer, error) {
	key := strings.Join(split(name), "/")
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.locks[key] {
		return nil, fmt.Errorf("%s is held by this process: %w", name, ErrLocked)
	}
	dir, base, err := m.parent(name)
	if err != nil {
		return nil, pathErr("lock", name, err)
	}
	if _, ok := dir.children[base]; !ok {
		dir.children[base] = &memNode{mtime: time.Now(), links: 1}
	}
	m.locks[key] = true
	return &memLock{fs: m, key: key}, nil
}

type memLock struct {
	fs   *MemFS
	key  string
	once sync.Once
}

func (l *memLock) Close() error {
	l.once.Do(func() {
		l.fs.mu.Lock()
		delete(l.fs.locks, l.key)
		l.fs.mu.Unlock()
	})
	return nil
}

// Crash returns the file system a power cut would leave behind: a new,
// independent MemFS holding only the directory entries made durable by
// SyncDir and, in each file, the bytes made durable by Sync. Files open
// on m are not open on the result, and nothing written to m afterwards
// reaches it.
//
// With a nil r, nothing unsynced survives. With r, each file's unsynced
// changes survive in part, chosen by r page by page (4 KiB) in any order,
// and its size lies anywhere between the synced and the current size: a
// disk writes back dirty pages when it likes. Directory entries stay
// strict either way.
func (m *MemFS) Crash(r *rand.Rand) *MemFS {
	m.io.Lock()
	defer m.io.Unlock()
	m.mu.Lock()
	defer m.mu.Unlock()
	out := &MemFS{locks: map[string]bool{}}
	out.capacity.Store(m.capacity.Load())
	seen := map[*memNode]*memNode{}
	out.root = out.cloneDurable(m.root, r, seen)
	return out
}

const pageSize = 4096

func (m *MemFS) cloneDurable(n *memNode, r *rand.Rand, seen map[*memNode]*memNode) *memNode {
	if c, ok := seen[n]; ok {
		c.links++
		return c
	}
	if n.dir {
		c := newDir()
		seen[n] = c
		for k, child := range n.synced {
			cc := m.cloneDurable(child, r, seen)
			c.children[k] = cc
			c.synced[k] = cc
		}
		return c
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	data := slices.Clone(n.syncedData)
	if r != nil && !slices.Equal(n.data, n.syncedData) {
		size := int64(len(n.syncedData))
		if lo, hi := min(int64(len(n.syncedData)), int64(len(n.data))), max(int64(len(n.syncedData)), int64(len(n.data))); hi > lo {
			size = lo + r.Int64N(hi-lo+1)
		}
		torn := make([]byte, size)
		for p := int64(0); p < size; p += pageSize {
			end := min(p+pageSize, size)
			src := n.syncedData
			if r.IntN(2) == 0 {
				src = n.data
			}
			for i := p; i < end; i++ {
				if i < int64(len(src)) {
					torn[i] = src[i]
				}
			}
		}
		data = torn
	}
	c := &memNode{data: data, syncedData: slices.Clone(data), mtime: n.mtime, links: 1}
	m.used.Add(int64(len(data)))
	seen[n] = c
	return c
}

func info(name string, n *memNode) fs.FileInfo {
	fi := memInfo{name: name, dir: n.dir}
	if !n.dir {
		n.mu.Lock()
		fi.size, fi.mtime = int64(len(n.data)), n.mtime
		n.mu.Unlock()
	}
	return fi
}

type memInfo struct {
	name  string
	size  int64
	dir   bool
	mtime time.Time
}

func (i memInfo) Name() string { return i.name }
func (i memInfo) Size() int64  { return i.size }
func (i memInfo) Mode() fs.FileMode {
	if i.dir {
		return fs.ModeDir | 0o755
	}
	return 0o644
}
func (i memInfo) ModTime() time.Time { return i.mtime }
func (i memInfo) IsDir() bool        { return i.dir }
func (i memInfo) Sys() any           { return nil }

type memFile struct {
	fs     *MemFS
	n      *memNode
	name   string
	write  bool
	mu     sync.Mutex // guards closed
	closed bool
}

func (f *memFile) check(op string, write bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return pathErr(op, f.name, fs.ErrClosed)
	}
	if f.n.dir && op != "sync" && op != "close" {
		return pathErr(op, f.name, fmt.Errorf("is a directory"))
	}
	if write && !f.write {
		return pathErr(op, f.name, fmt.Errorf("bad file descriptor"))
	}
	return nil
}

func (f *memFile) ReadAt(p []byte, off int64) (int, error) {
	f.fs.io.RLock()
	defer f.fs.io.RUnlock()
	if err := f.check("read", false); err != nil {
		return 0, err
	}
	if off < 0 {
		return 0, pathErr("read", f.name, fs.ErrInvalid)
	}
	f.n.mu.Lock()
	defer f.n.mu.Unlock()
	if off >= int64(len(f.n.data)) {
		return 0, io.EOF
	}
	n := copy(p, f.n.data[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// grant reserves room for growing a file by want bytes and returns how
// many of them fit.
func (f *memFile) grant(want int64) int64 {
	m := f.fs
	for {
		used, limit := m.used.Load(), m.capacity.Load()
		got := want
		if limit > 0 && used+want > limit {
			got = max(limit-used, 0)
		}
		if m.used.CompareAndSwap(used, used+got) {
			return got
		}
	}
}

func (f *memFile) release(n int64) { f.fs.used.Add(-n) }

func (f *memFile) WriteAt(p []byte, off int64) (int, error) {
	f.fs.io.RLock()
	defer f.fs.io.RUnlock()
	if err := f.check("write", true); err != nil {
		return 0, err
	}
	if off < 0 {
		return 0, pathErr("write", f.name, fs.ErrInvalid)
	}
	f.n.mu.Lock()
	defer f.n.mu.Unlock()
	end := off + int64(len(p))
	cur := int64(len(f.n.data))
	n := len(p)
	var err error
	if end > cur {
		got := f.grant(end - cur)
		if got < end-cur {
			err = pathErr("write", f.name, ErrNoSpace)
			end = cur + got
			n = int(max(end-off, 0))
		}
		if end > cur {
			f.n.data = append(f.n.data, make([]byte, end-cur)...)
		}
	}
	if n > 0 {
		copy(f.n.data[off:], p[:n])
	}
	f.n.mtime = time.Now()
	return n, err
}

func (f *memFile) Truncate(size int64) error {
	f.fs.io.RLock()
	defer f.fs.io.RUnlock()
	if err := f.check("truncate", true); err != nil {
		return err
	}
	if size < 0 {
		return pathErr("truncate", f.name, fs.ErrInvalid)
	}
	f.n.mu.Lock()
	defer f.n.mu.Unlock()
	cur := int64(len(f.n.data))
	switch {
	case size > cur:
		if got := f.grant(size - cur); got < size-cur {
			f.release(got)
			return pathErr("truncate", f.name, ErrNoSpace)
		}
		f.n.data = append(f.n.data, make([]byte, size-cur)...)
	case size < cur:
		f.release(cur - size)
		f.n.data = f.n.data[:size:size]
	}
	f.n.mtime = time.Now()
	return nil
}

func (f *memFile) Size() (int64, error) {
	f.fs.io.RLock()
	defer f.fs.io.RUnlock()
	if err := f.check("stat", false); err != nil {
		return 0, err
	}
	f.n.mu.Lock()
	defer f.n.mu.Unlock()
	return int64(len(f.n.data)), nil
}

func (f *memFile) Sync() error {
	f.fs.io.RLock()
	defer f.fs.io.RUnlock()
	if err := f.check("sync", false); err != nil {
		return err
	}
	if f.n.dir {
		return nil
	}
	f.n.mu.Lock()
	defer f.n.mu.Unlock()
	f.n.syncedData = slices.Clone(f.n.data)
	return nil
}

func (f *memFile) Close() error {
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		return pathErr("close", f.name, fs.ErrClosed)
	}
	f.closed = true
	f.mu.Unlock()
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	f.n.opens--
	f.fs.release(f.n)
	return nil
}
