package transaction

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"

	"github.com/greypm/grey/deb"
	"github.com/greypm/grey/deb/archive"
	"github.com/greypm/grey/repo/fetch"
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

// mib formats a byte count for messages.
func mib(n int64) string {
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
		f, err := os.Open(w.item.Path)
		if err != nil {
			return fmt.Errorf("open %s: %w", w.item.Path, err)
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

// checkDownloadSpace refuses downloads whose sizes (from the index) do
// not fit the free space of the archive cache's file system, before
// anything is fetched, as apt does.
func checkDownloadSpace(root string, reqs []fetch.Request) error {
	var need int64
	for _, r := range reqs {
		need += r.Expect.Size
	}
	dir := filepath.Join(root, ArchivesDir)
	free, err := freeBytes(dir)
	if err != nil || need <= free {
		return nil
	}
	return fmt.Errorf("%s: the packages to download need %s, %s is free: %w", dir, mib(need), mib(free), ErrNoSpace)
}
