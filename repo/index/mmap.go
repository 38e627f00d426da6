package index

import (
	"fmt"
	"os"
	"syscall"
)

// mapped is a cache file mapped read-only, checked by openView.
type mapped struct {
	*view
	data []byte
	// released is where releaseText stopped: the pages before it were
	// given back.
	released uint64
}

// mapFile maps path and checks it against the hex SHA256 want.
func mapFile(path, wantHex string) (*mapped, error) {
	want, err := decodeHex(wantHex)
	if err != nil {
		return nil, fmt.Errorf("index cache %s: %w", path, err)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("index cache: %w", err)
	}
	defer f.Close() // the mapping outlives the descriptor
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("index cache: %w", err)
	}
	size := fi.Size()
	if size < headerSize || size > maxFileSize {
		return nil, &CorruptError{Path: path, Reason: fmt.Sprintf("size %d outside [%d, %d]", size, headerSize, int64(maxFileSize))}
	}
	data, err := syscall.Mmap(int(f.Fd()), 0, int(size), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("index cache: mmap %s: %w", path, err)
	}
	v, err := openView(data, path, want)
	if err != nil {
		_ = syscall.Munmap(data)
		return nil, err
	}
	// The mapping stays valid after the unlink; the next Load rebuilds the
	// file.
	v.onCorrupt = func() { _ = os.Remove(path) }
	return &mapped{view: v, data: data}, nil
}

func (m *mapped) close() error {
	if m.data == nil {
		return nil
	}
	err := syscall.Munmap(m.data)
	m.data, m.view = nil, nil
	return err
}

// releaseText tells the kernel that the stanza text before package i is no
// longer needed by a pass over every package (All, Compact), in steps of
// releaseStep. The pages stay valid, read again from the page cache if
// touched; until then they no longer count in the process's resident
// memory, so a full pass does not hold the whole 50 MB text resident on
// top of what it decodes.
func (m *mapped) releaseText(i int) {
	if m.data == nil || i <= 0 || i >= m.n {
		return
	}
	off := m.secs[secText].off + uint64(le32(m.pkg(i), pTextOff))
	page := uint64(os.Getpagesize())
	end := off / page * page
	if end < m.released+releaseStep {
		return
	}
	start := max(m.released, m.secs[secText].off/page*page)
	if start < end {
		_ = syscall.Madvise(m.data[start:end], syscall.MADV_DONTNEED)
	}
	m.released = end
}

const releaseStep = 4 << 20
