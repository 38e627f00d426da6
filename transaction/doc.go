// Package transaction changes a root: it installs, upgrades, removes and
// purges Debian packages given as concrete .deb files, and verifies what is
// installed against the database.
//
// A change happens in three steps, so that a failure before the last one
// leaves the root byte-for-byte as it was:
//
//  1. Stage. Every package's data.tar is streamed (two packages decoded at
//     once, since xz decoding is the bottleneck) and each file is written next
//     to its target under a temporary name (.grey-new-XXXXXXXX), hashed while
//     it is written, and fsynced. Paths are resolved inside the root with
//     chroot semantics through an os.Root, and files are made by one name in
//     a directory descriptor (inroot.go); entries that climb out of the
//     root, write through a symlink the transaction itself ships, land in
//     grey's or dpkg's state directories, or are device nodes (unless
//     allowed) are refused. File conflicts
//     with installed packages are found here too.
//  2. Before the commit, prerm and preinst scripts run (dpkg's arguments and
//     order); a failing script, like any staging error, removes every staged
//     file and every directory the staging created.
//  3. Commit. Staged files are renamed over their targets, files the new
//     versions dropped are removed (directories only when no package owns
//     them any more), the database is written in one bbolt transaction and
//     dpkg's own database (var/lib/dpkg) is rewritten so dpkg and apt see the
//     same state. Then postrm and postinst scripts run.
//
// The database is reached through the DB interface, which *bbolt.DB (and
// pkgdb's handle) satisfy.
package transaction
