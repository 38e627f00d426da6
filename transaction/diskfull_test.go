package transaction

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"
	"golang.org/x/sys/unix"

	"github.com/greypm/grey/deb"
	"github.com/greypm/grey/deb/version"
	"github.com/greypm/grey/internal/testfixture"
	"github.com/greypm/grey/pkgdb"
	"github.com/greypm/grey/repo/fetch"
)

// sizedPkg is a package of n files of size bytes each (their content
// depends on v for the files a later version changes), a conffile, and
// the Installed-Size dpkg-gencontrol would give it.
func sizedPkg(t *testing.T, dir, v string, n, size int, later bool) string {
	return sizedPkgAs(t, dir, "sized", v, n, size, later, -1)
}

// sizedPkgAs is sizedPkg with another name and, when claim >= 0, that
// Installed-Size instead of the true one.
func sizedPkgAs(t *testing.T, dir, name, v string, n, size int, later bool, claim int64) string {
	files := []tentry{{name: "./etc/", typ: 'd'}, {name: "./etc/" + name + ".conf", body: "setting=" + v + "\n"},
		{name: "./usr/", typ: 'd'}, {name: "./usr/share/", typ: 'd'}, {name: "./usr/share/" + name + "/", typ: 'd'}}
	kib := int64(4)
	for i := range n {
		if later && i%10 == 0 {
			continue // dropped by the later version
		}
		body := fmt.Sprintf("file %d same\n", i)
		if i%3 != 0 {
			body = fmt.Sprintf("file %d version %s\n", i, v)
		}
		body = strings.Repeat(body, size/len(body)+1)[:size]
		files = append(files, tentry{name: fmt.Sprintf("./usr/share/%s/f%03d", name, i), body: body})
		kib += int64(size+1023) / 1024
	}
	if claim >= 0 {
		kib = claim
	}
	return tpkg{name: name, version: v, conffiles: []string{"/etc/" + name + ".conf"}, files: files,
		extra: fmt.Sprintf("Installed-Size: %d\n", kib)}.build(t, dir)
}

// noJournal fails the test when the root holds an open journal or a
// staging log: a failed command must have undone itself already.
func noJournal(t *testing.T, root, label string) {
	t.Helper()
	if _, err := os.Stat(filepath.Join(root, journalDir)); err == nil {
		t.Errorf("%s: %s is still there", label, journalDir)
	}
	db, err := bolt.Open(filepath.Join(root, pkgdb.Path), 0o600, &bolt.Options{ReadOnly: true})
	if err != nil {
		t.Errorf("%s: open the database: %v", label, err)
		return
	}
	defer db.Close()
	_ = db.View(func(tx *bolt.Tx) error {
		if j, err := pkgdb.GetJournal(tx); err != nil || j != nil {
			t.Errorf("%s: journal in the database: %+v %v", label, j, err)
		}
		return nil
	})
}

// TestDiskFull runs an install, an upgrade and a removal on a small tmpfs
// filled to leave from 1 MiB to just enough free, and checks right after
// each command, with no other command in between, that the root is
// exactly as before (the command failed, saying why) or after (it
// succeeded), with no journal left open (issue 12, item 3: with the disk
// full at the database write, install exited 1 with the package's files
// in the root until the next command).
func TestDiskFull(t *testing.T) {
	testfixture.Root(t)
	bin := greyBinary(t)
	dir := t.TempDir()
	v1 := sizedPkg(t, dir, "1.0", 64, 24<<10, false)
	v2 := sizedPkg(t, dir, "2.0", 64, 24<<10, true)
	mnt := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=24m,mode=0755", "tmpfs", mnt).CombinedOutput(); err != nil {
		testfixture.Missing(t, fmt.Sprintf("a tmpfs mount (%v: %s)", err, out))
	}
	t.Cleanup(func() { _ = exec.Command("umount", mnt).Run() })

	// Small files: Installed-Size counts a KiB for each, tmpfs a page.
	s1 := sizedPkgAs(t, dir, "small", "1.0", 300, 200, false, -1)
	s2 := sizedPkgAs(t, dir, "small", "2.0", 300, 200, true, -1)
	// A package that claims 1 KiB.
	liar := sizedPkgAs(t, dir, "liar", "1.0", 60, 32<<10, false, 1)
	// The state before is an empty root as grey leaves it once opened.
	empty := filepath.Join(dir, "empty")
	must(t, os.MkdirAll(filepath.Join(empty, "var/cache/grey/archives"), 0o755))
	if out, err := runGrey(bin, empty, nil, "verify"); err != nil {
		t.Fatalf("open the empty root: %v\n%s", err, out)
	}
	withV1 := filepath.Join(dir, "withv1")
	copyTree(t, empty, withV1)
	if out, err := runGrey(bin, withV1, nil, "install", "-y", "--no-scripts", "--no-sync", v1, s1); err != nil {
		t.Fatalf("install v1: %v\n%s", err, out)
	}
	cases := []struct {
		name     string
		template string
		args     []string
	}{
		{"install", empty, []string{"install", "-y", "--no-scripts", v1}},
		{"upgrade", withV1, []string{"install", "-y", "--no-scripts", v2}},
		{"remove", withV1, []string{"remove", "-y", "--no-scripts", "sized"}},
		{"install small files", empty, []string{"install", "-y", "--no-scripts", s1}},
		{"upgrade small files", withV1, []string{"install", "-y", "--no-scripts", s2}},
		{"remove both", withV1, []string{"remove", "-y", "--purge", "--no-scripts", "sized", "small"}},
		{"install a package that understates its size", empty, []string{"install", "-y", "--no-scripts", liar}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := rootTreeHash(t, c.template)
			full := filepath.Join(dir, c.name+"-after")
			copyTree(t, c.template, full)
			if out, err := runGrey(bin, full, nil, c.args...); err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			after := rootTreeHash(t, full)
			var failed, ok []string
			okRun := 0
			for level := int64(1 << 20); okRun < 3 && level < 16<<20; level += 64 << 10 {
				r := filepath.Join(mnt, "root")
				fill := filepath.Join(mnt, "fill")
				copyTree(t, c.template, r)
				free, err := freeBytes(mnt)
				must(t, err)
				if free < level {
					t.Fatalf("tmpfs has %d bytes free, want %d", free, level)
				}
				f, err := os.Create(fill)
				must(t, err)
				must(t, unix.Fallocate(int(f.Fd()), 0, 0, free-level))
				f.Close()
				out, err := runGrey(bin, r, nil, c.args...)
				label := fmt.Sprintf("%s with %d KiB free", c.name, level>>10)
				switch got := rootTreeHash(t, r); {
				case err == nil && got == after:
					ok = append(ok, fmt.Sprint(level>>10))
					okRun++
				case err != nil && got == before:
					kind := "planned" // refused by the free-space check
					switch {
					case strings.Contains(out, "too large") && strings.Contains(out, "not enough free space"):
						kind = "capped at the free space"
					case strings.Contains(out, "no space left on device"):
						kind = "ENOSPC"
						if strings.Contains(out, "undid interrupted") {
							kind = "ENOSPC, undone"
						}
					case !strings.Contains(out, "not enough free space"):
						t.Errorf("%s: the error does not say the disk is full:\n%s", label, out)
					}
					failed = append(failed, fmt.Sprintf("%d (%s)", level>>10, kind))
					okRun = 0
				default:
					t.Errorf("%s: exit %v, and the root is neither before nor after:\n%s", label, err, out)
				}
				noJournal(t, r, label)
				must(t, os.RemoveAll(r))
				must(t, os.Remove(fill))
			}
			t.Logf("%s: refused with the root unchanged at %s KiB free; done at %s KiB free", c.name,
				strings.Join(failed, ", "), strings.Join(ok, ", "))
			if okRun < 3 {
				t.Errorf("%s never succeeded", c.name)
			}
		})
	}
}

// failFetcher fails the test if anything is fetched.
type failFetcher struct{ t *testing.T }

func (f failFetcher) FetchAll(_ context.Context, reqs []fetch.Request) []error {
	f.t.Errorf("fetched %d files", len(reqs))
	return make([]error, len(reqs))
}

// TestDownloadFreeSpace: downloads that do not fit the cache's file
// system are refused before anything is fetched or created (issue 12,
// item 3, as apt checks).
func TestDownloadFreeSpace(t *testing.T) {
	root := t.TempDir()
	before := testfixture.TreeListing(t, root)
	pkgs := []*deb.Package{{Name: "huge", Architecture: "amd64", Filename: "pool/huge.deb", Size: 1 << 50, SHA256: strings.Repeat("a", 64)}}
	_, err := Download(context.Background(), failFetcher{t}, root, pkgs, func(*deb.Package) (string, error) { return "http://example.invalid/huge.deb", nil })
	if !errors.Is(err, ErrNoSpace) || !strings.Contains(err.Error(), "the packages to download need 1073741824.0 MiB") {
		t.Fatalf("error %v", err)
	}
	if after := testfixture.TreeListing(t, root); after != before {
		t.Errorf("the root changed:\n%s", testfixture.DiffListings(before, after))
	}
}

// countFetcher counts the files it is asked for and fetches none.
type countFetcher struct{ n *int }

func (f countFetcher) FetchAll(_ context.Context, reqs []fetch.Request) []error {
	*f.n += len(reqs)
	errs := make([]error, len(reqs))
	for i := range errs {
		errs[i] = errors.New("not fetched (test)")
	}
	return errs
}

// TestFreeSpaceBeforeDownload: Pending.Download checks, before anything
// is fetched, the downloads against the archive cache's file system and
// the Installed-Size of the packages to install against the root's (both
// together when they are one file system), as apt does; a refusal names
// the directory and the sizes, and leaves the root as it was (issue 12,
// item 3: the Installed-Size check came only in Apply, after the
// download). Small tmpfs mounts stand for the file systems.
func TestFreeSpaceBeforeDownload(t *testing.T) {
	testfixture.Root(t)
	mount := func(t *testing.T, dir, size string) {
		t.Helper()
		must(t, os.MkdirAll(dir, 0o755))
		if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size+",mode=0755", "tmpfs", dir).CombinedOutput(); err != nil {
			testfixture.Missing(t, fmt.Sprintf("a tmpfs mount (%v: %s)", err, out))
		}
		t.Cleanup(func() { _ = exec.Command("umount", dir).Run() })
	}
	const MiB = 1 << 20
	pkg := func(name string, size, installed int64) *deb.Package {
		return &deb.Package{Name: name, Version: version.MustParse("1.0"), Architecture: "amd64", Filename: "pool/" + name + ".deb",
			Size: size, InstalledSize: installed / 1024, SHA256: strings.Repeat("a", 64)}
	}
	for _, c := range []struct {
		name         string
		separate     bool // the cache is a file system of its own (8 MiB; the root's 16 MiB)
		download     int64
		install      int64
		local        bool // a local .deb: nothing to download
		downloadOnly bool
		want         string // "" for no refusal (the fetcher is asked)
	}{
		{name: "both fit on their own file systems", separate: true, download: 6 * MiB, install: 12 * MiB},
		{name: "downloads larger than the cache's file system", separate: true, download: 10 * MiB, install: MiB,
			want: "ROOT/var/cache/grey/archives: the packages to download need 10.0 MiB, "},
		{name: "Installed-Size larger than the root's file system", separate: true, download: MiB, install: 20 * MiB,
			want: "ROOT: the packages to install need 20.0 MiB (their Installed-Size), "},
		{name: "download only: Installed-Size not checked", separate: true, download: 6 * MiB, install: 20 * MiB, downloadOnly: true},
		{name: "one file system: each fits, not both", download: 6 * MiB, install: 12 * MiB,
			want: "ROOT: the packages to download (6.0 MiB) and to install (12.0 MiB, their Installed-Size) need 18.0 MiB together, "},
		{name: "one file system: both fit", download: 6 * MiB, install: 8 * MiB},
		{name: "a local package larger than the root's file system", local: true, install: 20 * MiB,
			want: "ROOT: the packages to install need 20.0 MiB (their Installed-Size), "},
	} {
		t.Run(c.name, func(t *testing.T) {
			root := filepath.Join(t.TempDir(), "root")
			mount(t, root, "16m")
			if c.separate {
				mount(t, filepath.Join(root, ArchivesDir), "8m")
			}
			before := testfixture.TreeListing(t, root)
			w := Wanted{Package: pkg("big", c.download, c.install)}
			if c.local {
				w.Path = "/nonexistent/big.deb"
			}
			pd := &Pending{Install: []Wanted{w}}
			fetched := 0
			_, err := pd.Download(context.Background(), DownloadOptions{
				Fetcher: countFetcher{&fetched}, Dir: root, DownloadOnly: c.downloadOnly,
				URL: func(*deb.Package) (string, error) { return "http://example.invalid/big.deb", nil },
			})
			if c.want == "" {
				if errors.Is(err, ErrNoSpace) || fetched != 1 {
					t.Fatalf("refused (%d fetched): %v", fetched, err)
				}
				return
			}
			want := strings.ReplaceAll(c.want, "ROOT", root)
			if !errors.Is(err, ErrNoSpace) || !strings.Contains(err.Error(), want) || !strings.HasSuffix(err.Error(), "is free: not enough free space") {
				t.Fatalf("error %v\nwant %q ... is free: not enough free space", err, want)
			}
			if fetched != 0 {
				t.Errorf("%d files fetched", fetched)
			}
			if after := testfixture.TreeListing(t, root); after != before {
				t.Errorf("the root changed:\n%s", testfixture.DiffListings(before, after))
			}
		})
	}
}

// TestDiskFullRemoval makes removals fail for want of space (no removal
// failed at 1 MiB free and above in TestDiskFull: a removal frees space):
// a tmpfs filled to leave from nothing to a few hundred KiB free, a
// removal and a purge of two packages at each level. Right after each
// command, with nothing in between, the root is exactly before (the
// command failed, saying why, with no journal left) or after; and, with
// the space given back, the next command finds nothing to repair, both
// packages still installed and verifying clean when the removal failed:
// nothing is lost (issue 12, item 3). It found two faults: with no
// space at all the staging log's first line failed and the log stayed
// (the next command reported an interrupted transaction), and with 144
// KiB free the config-files package's new .list could not be written
// after the commit (the command failed with the removal half finished).
func TestDiskFullRemoval(t *testing.T) {
	testfixture.Root(t)
	bin := greyBinary(t)
	dir := t.TempDir()
	v1 := sizedPkg(t, dir, "1.0", 64, 24<<10, false)
	s1 := sizedPkgAs(t, dir, "small", "1.0", 300, 200, false, -1)
	mnt := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=24m,mode=0755", "tmpfs", mnt).CombinedOutput(); err != nil {
		testfixture.Missing(t, fmt.Sprintf("a tmpfs mount (%v: %s)", err, out))
	}
	t.Cleanup(func() { _ = exec.Command("umount", mnt).Run() })
	withV1 := filepath.Join(dir, "withv1")
	must(t, os.MkdirAll(filepath.Join(withV1, "var/cache/grey/archives"), 0o755))
	if out, err := runGrey(bin, withV1, nil, "install", "-y", "--no-scripts", "--no-sync", v1, s1); err != nil {
		t.Fatalf("install: %v\n%s", err, out)
	}
	installed := func(r string) string {
		out, err := runGrey(bin, r, nil, "installed")
		if err != nil {
			t.Fatalf("installed: %v\n%s", err, out)
		}
		return out
	}
	listBefore := installed(withV1)
	for _, c := range []struct {
		name string
		args []string
	}{
		{"remove", []string{"remove", "-y", "--no-scripts", "sized", "small"}},
		{"purge", []string{"remove", "-y", "--purge", "--no-scripts", "sized", "small"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			before := rootTreeHash(t, withV1)
			full := filepath.Join(dir, c.name+"-after")
			copyTree(t, withV1, full)
			if out, err := runGrey(bin, full, nil, c.args...); err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			after := rootTreeHash(t, full)
			var failed, ok []string
			okRun := 0
			for level := int64(0); okRun < 3 && level < 2<<20; level += 16 << 10 {
				r := filepath.Join(mnt, "root")
				fill := filepath.Join(mnt, "fill")
				copyTree(t, withV1, r)
				free, err := freeBytes(mnt)
				must(t, err)
				if free < level {
					t.Fatalf("tmpfs has %d bytes free, want %d", free, level)
				}
				f, err := os.Create(fill)
				must(t, err)
				if free > level {
					must(t, unix.Fallocate(int(f.Fd()), 0, 0, free-level))
				}
				f.Close()
				out, err := runGrey(bin, r, nil, c.args...)
				label := fmt.Sprintf("%s with %d KiB free", c.name, level>>10)
				got := rootTreeHash(t, r)
				switch {
				case err == nil && got == after:
					ok = append(ok, fmt.Sprint(level>>10))
					okRun++
				case err != nil && got == before:
					if !strings.Contains(out, "no space left on device") && !strings.Contains(out, "not enough free space") {
						t.Errorf("%s: the error does not say the disk is full:\n%s", label, out)
					}
					where := "database" // bbolt's write of grey.db
					switch {
					case strings.Contains(out, "staging log"):
						where = "staging log"
					case strings.Contains(out, "journal"):
						where = "journal"
					case strings.Contains(out, "var/lib/dpkg/status"):
						where = "dpkg status"
					}
					if strings.Contains(out, "undid") {
						where += ", undone"
					}
					failed = append(failed, fmt.Sprintf("%d (%s)", level>>10, where))
					okRun = 0
				default:
					t.Errorf("%s: exit %v, and the root is neither before nor after:\n%s", label, err, out)
				}
				noJournal(t, r, label)
				must(t, os.Remove(fill))
				if err != nil {
					// Nothing lost: with the space back, the next command
					// repairs nothing and both packages are installed,
					// their files as recorded.
					if out, verr := runGrey(bin, r, nil, "verify"); verr != nil || strings.Contains(out, "undid") || strings.Contains(out, "finished") {
						t.Errorf("%s: verify after the failure: %v\n%s", label, verr, out)
					}
					if l := installed(r); l != listBefore {
						t.Errorf("%s: installed after the failure:\n%s\nwant\n%s", label, l, listBefore)
					}
					if got := rootTreeHash(t, r); got != before {
						t.Errorf("%s: the next command changed the root", label)
					}
				}
				must(t, os.RemoveAll(r))
			}
			t.Logf("%s: failed with the root unchanged at %s KiB free; done at %s KiB free", c.name,
				strings.Join(failed, ", "), strings.Join(ok, ", "))
			if len(failed) == 0 {
				t.Errorf("%s never failed: nothing was shown", c.name)
			}
			if okRun < 3 {
				t.Errorf("%s never succeeded", c.name)
			}
		})
	}
}
