//go:build !linux

package archive

import "io/fs"

// fileID is what the tree walk needs from stat(2) beyond fs.FileInfo:
// the inode (to pair hard links) and a device's numbers. Outside Linux it
// is not known: hard links are packaged as separate files and device
// nodes are refused.
type fileID struct {
	dev, ino, nlink uint64
	major, minor    int64
	ok              bool
}

func identity(fs.FileInfo) fileID { return fileID{} }
