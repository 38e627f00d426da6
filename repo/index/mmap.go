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
