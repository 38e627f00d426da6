package transaction

import (
	"fmt"
	"syscall"

	"github.com/greypm/grey/deb/archive"
)

// mknod creates a device node or fifo for an entry (only when the caller
// allowed devices).
func mknod(p string, e *archive.Entry) error {
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
	if err := syscall.Mknod(p, mode, dev); err != nil {
		return fmt.Errorf("mknod %s: %w", p, err)
	}
	return nil
}
