// Package archive reads, builds, signs and verifies Debian binary packages
// (.deb files): an ar archive holding debian-binary, control.tar.* and
// data.tar.*, in that order, with optional members whose names start with
// '_' (such as debsigs' _gpgorigin signature) in between or after.
//
// Reading is sequential and streaming. A Reader reads the control part
// (control fields, conffiles, md5sums, maintainer scripts) into memory —
// capped, since a control archive is small — and then, only if asked,
// presents data.tar as a stream of entries in the manner of archive/tar,
// so a package of any size is unpacked without holding it in memory.
// The member order and the format version are checked as dpkg-deb checks
// them, and every problem is an *Error naming the file, the member and the
// entry.
//
// Build does what `dpkg-deb --build` does for a directory with a DEBIAN
// subdirectory, byte-reproducibly; Sign and Verify implement debsigs'
// origin signature.
package archive
