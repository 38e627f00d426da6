package transaction

import (
	"fmt"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/greypm/grey/deb/archive"
)

// mknod creates a device node or fifo for an entry at host (only when the
// caller allowed devices), by name in its directory's descriptor.
func (r *rootFS) mknod(p string, e *archive.Entry) error {
	mode := uint32(e.Mode.Perm())
	switch e.Type {
	case archive.TypeChar:
		mode |= syscall.S_IFCHR
	case archive.TypeBlock:
		mode |= syscall.S_IFBLK
	case archive.TypeFifo:
		mode |= syscall.S_IFIFO
	}
	dev := int((e.Devmajor&0xfff)<<8 | (e.Devminor & 0xff) | (e.Devminor&^0xff)<<12)
	fd, name, err := r.at(p)
	if err == nil {
		err = unix.Mknodat(fd, name, mode, dev)
	}
	if err != nil {
		return fmt.Errorf("mknod %s: %w", p, err)
	}
	return nil
}
