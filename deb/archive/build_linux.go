//go:build linux

package archive

import (
	"io/fs"
	"syscall"
)

// fileID is what the tree walk needs from stat(2) beyond fs.FileInfo:
// the inode (to pair hard links) and a device's numbers.
type fileID struct {
	dev, ino, nlink uint64
	major, minor    int64
	ok              bool
}

func identity(fi fs.FileInfo) fileID {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fileID{}
	}
	rdev := uint64(st.Rdev)
	return fileID{
		dev:   uint64(st.Dev),
		ino:   st.Ino,
		nlink: uint64(st.Nlink),
		// glibc's gnu_dev_major/gnu_dev_minor encoding.
		major: int64((rdev>>8)&0xfff | (rdev>>32)&^0xfff),
		minor: int64(rdev&0xff | (rdev>>12)&^0xff),
		ok:    true,
	}
}
