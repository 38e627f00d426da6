package transaction

import (
	"errors"
	"fmt"
	"path/filepath"

	"golang.org/x/sys/unix"

	"github.com/greypm/grey/deb"
	"github.com/greypm/grey/deb/archive"
)

// ErrNoSpace: the file system has less free space than a plan needs
// (from the packages' Installed-Size, or their download sizes).
var ErrNoSpace = errors.New("not enough free space")

// dataSlack is added to twice a package's Installed-Size to bound what its
// data.tar may decompress to: Installed-Size is in KiB and approximate (a
// file counts its size rounded up to a KiB), and the tar stream adds a
// 512-byte header, padding and long-name headers per entry.
const dataSlack = 16 << 20

// freeBytes returns the space an unprivileged writer may still use on the
// file system holding dir (or its nearest existing ancestor).
func freeBytes(dir string) (int64, error) {
	for {
		var st unix.Statfs_t
		err := unix.Statfs(dir, &st)
		if err == nil {
			return int64(st.Bavail) * int64(st.Bsize), nil
		}
		parent := filepath.Dir(dir)
		if !errors.Is(err, unix.ENOENT) || parent == dir {
			return 0, fmt.Errorf("free space of %s: %w", dir, err)
		}
		dir = parent
	}
}

// mib formats a byte count for messages: MiB, or KiB below one MiB.
func mib(n int64) string {
	if n < 1<<20 {
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
}

// dataCap is the most a package's data.tar may decompress to: twice its
// Installed-Size plus dataSlack, and never more than the free space when
// the transaction started (free, 0 when unknown). 0 means no cap.
func dataCap(installedKiB, free int64) int64 {
	limit := free
	if installedKiB > 0 {
		if b := installedKiB*1024*2 + dataSlack; limit <= 0 || b < limit {
			limit = b
		}
	}
	return limit
}

// controlCap bounds control.tar: archive's default, or the free space
// when that is less (its files are written to dpkg's info directory).
func controlCap(free int64) int64 {
	if free > 0 && free < archive.DefaultMaxControlSize {
		return max(free, 1<<20)
	}
	return archive.DefaultMaxControlSize
}

// explainCap adds to a size-cap error where w's cap came from.
func explainCap(err error, w *work, free int64) error {
	if err == nil || !errors.Is(err, archive.ErrTooLarge) || w.pkg == nil || w.dataCap == 0 {
		return err
	}
	if w.dataCap == free {
		return fmt.Errorf("%w (the file system had %s free: %w)", err, mib(free), ErrNoSpace)
	}
	return fmt.Errorf("%w (Installed-Size says %d KiB; a package may write at most twice that plus %s)",
		err, w.pkg.InstalledSize, mib(dataSlack))
}

// checkSpace refuses a plan whose new packages need more space than the
// root's file system has free, before anything is written, as apt does.
// Everything is staged beside the files it replaces, so the need is the
// whole Installed-Size of every package to install, not the difference.
func (t *txn) checkSpace(free int64) error {
	if free <= 0 {
		return nil
	}
	var need int64
	for _, w := range t.works {
		if w.item.Snapshot != nil {
			// A rollback restores most contents as hard links to the
			// store or the root; counting their sizes would refuse
			// rollbacks that fit.
			continue
		}
		f, err := t.st.rfs.openDeb(w.item.Path)
		if err != nil {
			return err // names the file
		}
		ctl, err := archive.ReadControl(f, w.item.Path)
		f.Close()
		if err != nil {
			return err
		}
		p, err := deb.FromStanza(ctl.Fields)
		if err != nil {
			return fmt.Errorf("%s: control: %w", w.item.Path, err)
		}
		need += p.InstalledSize * 1024
	}
	if need > free {
		return fmt.Errorf("%s: the packages to install need %s (their Installed-Size), %s is free: %w",
			t.root, mib(need), mib(free), ErrNoSpace)
	}
	return nil
}

// fsSpace is the free space and device of the file system holding dir
// (or its nearest existing ancestor).
type fsSpace struct {
	dir  string // the directory asked about, for messages
	free int64
	dev  uint64
}

func spaceOf(dir string) (fsSpace, error) {
	free, err := freeBytes(dir)
	if err != nil {
		return fsSpace{}, err
	}
	for p := dir; ; p = filepath.Dir(p) {
		var st unix.Stat_t
		err := unix.Stat(p, &st)
		if err == nil {
			return fsSpace{dir: dir, free: free, dev: st.Dev}, nil
		}
		if !errors.Is(err, unix.ENOENT) || filepath.Dir(p) == p {
			return fsSpace{}, fmt.Errorf("free space of %s: %w", dir, err)
		}
	}
}

// checkFreeSpace refuses a plan before anything is fetched or changed,
// as apt does ("You don't have enough free space in
// /var/cache/apt/archives/", and the Installed-Size check): the downloads
// (download bytes, from the index's Size) must fit the file system of the
// archive cache, and the packages to install (install bytes, their
// Installed-Size: each is staged beside the files it replaces, so the
// whole size, not the growth, is what Apply checks) the root's; when both
// are one file system, the two together, as the downloads are still in
// the cache while the packages are staged. An unknown free space (statfs
// failing) is no refusal.
func checkFreeSpace(root, archives string, download, install int64) error {
	if download <= 0 && install <= 0 {
		return nil
	}
	rs, err := spaceOf(root)
	if err != nil {
		return nil
	}
	cs := rs
	if download > 0 {
		if cs, err = spaceOf(archivesOf(root, archives)); err != nil {
			return nil
		}
	}
	if download > 0 && install > 0 && cs.dev == rs.dev {
		if download+install > rs.free {
			return fmt.Errorf("%s: the packages to download (%s) and to install (%s, their Installed-Size) need %s together, %s is free: %w",
				root, mib(download), mib(install), mib(download+install), mib(rs.free), ErrNoSpace)
		}
		return nil
	}
	if download > cs.free {
		return fmt.Errorf("%s: the packages to download need %s, %s is free: %w", cs.dir, mib(download), mib(cs.free), ErrNoSpace)
	}
	if install > rs.free {
		return fmt.Errorf("%s: the packages to install need %s (their Installed-Size), %s is free: %w", root, mib(install), mib(rs.free), ErrNoSpace)
	}
	return nil
}
