package transaction

// The attack suite (make attack runs every TestAttack* test of the
// repository): each test feeds grey a hostile package, plan or fault and
// checks that it is refused with a message that says why, and that the
// root, grey's database, dpkg's database, the content store and the
// package cache are byte for byte what they were (treeListing: every path
// with its type, mode, owner, size, SHA256 and link target).
// docs/security.md lists the attack classes and where each is tested.

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/greypm/grey/deb"
	"github.com/greypm/grey/deb/archive"
	"github.com/greypm/grey/deb/compress"
	"github.com/greypm/grey/deb/version"
	"github.com/greypm/grey/internal/rootfs"
	"github.com/greypm/grey/internal/testfixture"
	"github.com/greypm/grey/pkgdb"
	"github.com/greypm/grey/repo/fetch"
)

// attackRoot is a root with grey's and dpkg's databases and one package,
// base, installed (usr/bin/owned, a setuid usr/bin/su-like file).
func attackRoot(t *testing.T) (string, *Root) {
	t.Helper()
	root := t.TempDir()
	r := openRoot(t, root)
	base := tpkg{name: "base", version: "1", files: []tentry{
		{name: "./usr/", typ: 'd'}, {name: "./usr/bin/", typ: 'd'}, {name: "./usr/bin/owned", body: "base\n"},
		{name: "./etc/", typ: 'd'}, {name: "./etc/base.conf", body: "x=1\n"},
	}}.build(t, t.TempDir())
	if _, err := Apply(context.Background(), r.DB, Plan{Install: []Install{{Path: base}}}, Options{Root: root, NoScripts: true}); err != nil {
		t.Fatal(err)
	}
	return root, r
}

// refused applies plan and requires an error that is want (when not nil)
// and says msg, with the root's listing unchanged.
func refused(t *testing.T, r *Root, plan Plan, opts Options, want error, msg string) {
	t.Helper()
	before := testfixture.TreeListing(t, r.Dir)
	opts.Root = r.Dir
	_, err := Apply(context.Background(), r.DB, plan, opts)
	if err == nil {
		t.Fatalf("accepted; want an error saying %q", msg)
	}
	if want != nil && !errors.Is(err, want) {
		t.Errorf("error %v, want %v", err, want)
	}
	if !strings.Contains(err.Error(), msg) {
		t.Errorf("error %q does not say %q", err, msg)
	}
	if after := testfixture.TreeListing(t, r.Dir); after != before {
		t.Errorf("the root changed:\n%s", testfixture.DiffListings(before, after))
	}
}

// TestAttackStateDirs: a package may not write grey's database or
// dpkg's, nor anything else in their directories, by their paths or
// through a symlink of the root or of an installed package (issue 12,
// item 1).
func TestAttackStateDirs(t *testing.T) {
	root, r := attackRoot(t)
	dir := t.TempDir()
	// A symlink an earlier package shipped, and symlinks in the root.
	lnk := tpkg{name: "lnk", version: "1", files: []tentry{
		{name: "./usr/", typ: 'd'}, {name: "./usr/share/", typ: 'd'},
		{name: "./usr/share/lnk", typ: 's', link: "/var/lib/grey"},
		{name: "./usr/share/dlnk", typ: 's', link: "../../var/lib/dpkg/info"},
	}}.build(t, dir)
	if _, err := Apply(context.Background(), r.DB, Plan{Install: []Install{{Path: lnk}}}, Options{Root: root, NoScripts: true}); err != nil {
		t.Fatal(err)
	}
	must(t, os.Symlink("/var/lib/grey", filepath.Join(root, "srv")))
	must(t, os.Symlink("lib", filepath.Join(root, "var/state")))
	evil := func(files ...tentry) Plan {
		n := fmt.Sprintf("evil%d", len(files))
		for _, f := range files {
			n += strings.NewReplacer("/", "", ".", "").Replace(f.name)
		}
		return Plan{Install: []Install{{Path: tpkg{name: strings.ToLower(n)[:min(len(n), 40)], version: "1", files: files}.build(t, dir)}}}
	}
	file := func(name string) tentry { return tentry{name: name, body: "planted\n"} }
	cases := []struct {
		name string
		plan Plan
		msg  string
	}{
		{"grey's database", evil(file("./var/lib/grey/grey.db")), "in grey's state directory /var/lib/grey"},
		{"grey's store", evil(file("./var/lib/grey/store/aa/bb")), "in grey's state directory"},
		{"grey's directory as a directory", evil(tentry{name: "./var/lib/grey/", typ: 'd'}), "in grey's state directory"},
		{"grey's directory as a symlink", evil(tentry{name: "./var/lib/grey", typ: 's', link: "/tmp"}), "in grey's state directory"},
		{"dpkg's status", evil(file("./var/lib/dpkg/status")), "in dpkg's database /var/lib/dpkg"},
		{"dpkg's info", evil(file("./var/lib/dpkg/info/base.postinst")), "in dpkg's database"},
		{"dpkg's directory as a symlink", evil(tentry{name: "./var/lib/dpkg", typ: 's', link: "/tmp"}), "in dpkg's database"},
		{"a directory dpkg does not ship", evil(tentry{name: "./var/lib/dpkg/status", typ: 'd'}), "in dpkg's database"},
		{"through the root's absolute symlink", evil(file("./srv/grey.db")), "resolves through a symlink to /var/lib/grey/grey.db"},
		{"a directory through the root's symlink", evil(tentry{name: "./srv/new/", typ: 'd'}), "resolves through a symlink"},
		{"through the root's relative symlink", evil(file("./var/state/dpkg/status")), "in dpkg's database"},
		{"through an installed package's symlink", evil(file("./usr/share/lnk/grey.db")), "resolves through a symlink"},
		{"through an installed package's relative symlink", evil(file("./usr/share/dlnk/base.list")), "resolves through a symlink"},
		{"a hard link through the symlink", evil(file("./usr/x"), tentry{name: "./srv/lock", typ: 'h', link: "./usr/x"}), "resolves through a symlink"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			refused(t, r, c.plan, Options{NoScripts: true}, ErrUnsafePath, c.msg)
		})
	}
	// dpkg's own package ships these directories; that stays allowed.
	ok := tpkg{name: "dpkgdirs", version: "1", files: []tentry{
		{name: "./var/", typ: 'd'}, {name: "./var/lib/", typ: 'd'}, {name: "./var/lib/dpkg/", typ: 'd'},
		{name: "./var/lib/dpkg/info/", typ: 'd'}, {name: "./var/lib/dpkg/alternatives/", typ: 'd'},
	}}.build(t, dir)
	if _, err := Apply(context.Background(), r.DB, Plan{Install: []Install{{Path: ok}}}, Options{Root: root, NoScripts: true}); err != nil {
		t.Fatalf("dpkg's directories: %v", err)
	}
}

// TestAttackSetuidLeftBehind: a user's hard link to a setuid or setgid
// binary, and the content store's, must not stay a runnable setuid copy
// once an upgrade or a removal takes the file out of the root; the store
// is out of other users' reach (issue 12, item 2). A rollback still
// restores the bits.
func TestAttackSetuidLeftBehind(t *testing.T) {
	root, r := attackRoot(t)
	dir := t.TempDir()
	suid := func(v string) string {
		return tpkg{name: "suid", version: v, files: []tentry{
			{name: "./usr/", typ: 'd'}, {name: "./usr/bin/", typ: 'd'},
			{name: "./usr/bin/su-like", body: "#!/bin/sh\necho " + v + "\n", mode: 0o4755},
			{name: "./usr/bin/sg-like", body: "#!/bin/sh\necho sg " + v + "\n", mode: 0o2755},
			{name: "./usr/bin/plain", body: "plain " + v + "\n", mode: 0o755},
		}}.build(t, dir)
	}
	opts := Options{Root: root, NoScripts: true}
	if _, err := Apply(context.Background(), r.DB, Plan{Install: []Install{{Path: suid("1")}}}, opts); err != nil {
		t.Fatal(err)
	}
	must(t, os.MkdirAll(filepath.Join(root, "home/user"), 0o755))
	keep := func(name, as string) string {
		p := filepath.Join(root, "home/user", as)
		must(t, os.Link(filepath.Join(root, "usr/bin", name), p))
		return p
	}
	noSetid := func(label, p string) {
		t.Helper()
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode()&(fs.ModeSetuid|fs.ModeSetgid) != 0 {
			t.Errorf("%s: %s is still %v after its file left the root", label, p, fi.Mode())
		}
	}
	storeSafe := func(label string) {
		t.Helper()
		st := filepath.Join(root, StoreDir)
		if fi, err := os.Stat(st); err == nil && fi.Mode().Perm() != 0o700 {
			t.Errorf("%s: the content store is mode %v, want 0700", label, fi.Mode().Perm())
		}
		_ = filepath.WalkDir(st, func(p string, d fs.DirEntry, err error) error {
			if err == nil && d.Type().IsRegular() {
				noSetid(label+" (store)", p)
			}
			return nil
		})
	}
	u1, g1 := keep("su-like", "su1"), keep("sg-like", "sg1")
	if _, err := Apply(context.Background(), r.DB, Plan{Install: []Install{{Path: suid("2")}}}, opts); err != nil {
		t.Fatal(err)
	}
	noSetid("upgrade", u1)
	noSetid("upgrade", g1)
	storeSafe("upgrade")
	if fi, _ := os.Stat(filepath.Join(root, "usr/bin/su-like")); fi.Mode()&fs.ModeSetuid == 0 {
		t.Errorf("the new version lost its setuid bit: %v", fi.Mode())
	}
	u2, g2 := keep("su-like", "su2"), keep("sg-like", "sg2")
	if _, err := Apply(context.Background(), r.DB, Plan{Remove: []Remove{{Name: "suid", Purge: true}}}, opts); err != nil {
		t.Fatal(err)
	}
	noSetid("remove", u2)
	noSetid("remove", g2)
	storeSafe("remove")
	// Back to the state after the first install (entry 2): the bits
	// come back on the restored file.
	rollbackTo(t, r, 2)
	fi, err := os.Stat(filepath.Join(root, "usr/bin/su-like"))
	if err != nil || fi.Mode()&fs.ModeSetuid == 0 || fi.Mode().Perm() != 0o755 {
		t.Errorf("rollback: su-like is %v (%v), want setuid 0755", fi.Mode(), err)
	}
	if b, _ := os.ReadFile(filepath.Join(root, "usr/bin/su-like")); !strings.Contains(string(b), "echo 1") {
		t.Errorf("rollback: su-like is %q", b)
	}
}

// bombDeb writes a package whose Installed-Size is 4 KiB and whose
// data.tar (or, with inControl, control.tar's templates file) holds one
// file of total bytes of zeros, compressed as many concatenated streams
// (gzip members or zstd frames) of one MiB each, the same bytes repeated:
// small on disk, endless when unpacked.
func bombDeb(t *testing.T, dir string, f compress.Format, total int64, inControl bool) string {
	t.Helper()
	squeezeBytes := func(b []byte) []byte {
		var buf bytes.Buffer
		w, err := compress.NewWriter(&buf, f)
		must(t, err)
		_, err = w.Write(b)
		must(t, err)
		must(t, w.Close())
		return buf.Bytes()
	}
	name := "./usr/share/bomb"
	if inControl {
		name = "./templates"
	}
	var hdr bytes.Buffer
	tw := tar.NewWriter(&hdr)
	must(t, tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: total, Typeflag: tar.TypeReg, ModTime: testTime, Format: tar.FormatGNU}))
	var stream []byte
	stream = append(stream, squeezeBytes(hdr.Bytes())...)
	chunk := squeezeBytes(make([]byte, 1<<20))
	for range total >> 20 {
		stream = append(stream, chunk...)
	}
	stream = append(stream, squeezeBytes(make([]byte, 1024))...) // end of archive
	ext := map[compress.Format]string{compress.Gzip: ".gz", compress.Zstd: ".zst", compress.Xz: ".xz"}[f]
	ctl := "Package: bomb\nVersion: 1\nArchitecture: all\nInstalled-Size: 4\nMaintainer: T <t@example.org>\nDescription: bomb\n"
	ctlTar, err := tarball(func(tw *tar.Writer) error {
		must(t, tw.WriteHeader(&tar.Header{Name: "./control", Mode: 0o644, Size: int64(len(ctl)), Typeflag: tar.TypeReg, ModTime: testTime}))
		_, err := tw.Write([]byte(ctl))
		return err
	})
	must(t, err)
	dataMember, ctlMember := "data.tar"+ext, stream
	ctlName := "control.tar.gz"
	var data []byte
	if inControl {
		// control.tar is the bomb (after the control file); data.tar is empty.
		var c bytes.Buffer
		ctw := tar.NewWriter(&c)
		must(t, ctw.WriteHeader(&tar.Header{Name: "./control", Mode: 0o644, Size: int64(len(ctl)), Typeflag: tar.TypeReg, ModTime: testTime}))
		_, _ = ctw.Write([]byte(ctl))
		must(t, ctw.Flush())
		ctlMember = append(squeezeBytes(c.Bytes()), stream...)
		ctlName = "control.tar" + ext
		data, err = tarball(func(*tar.Writer) error { return nil })
		must(t, err)
		dataMember = "data.tar.gz"
	} else {
		ctlMember, data = ctlTar, stream
	}
	ar := arArchive(arMember{"debian-binary", []byte("2.0\n")}, arMember{ctlName, ctlMember}, arMember{dataMember, data})
	p := filepath.Join(dir, fmt.Sprintf("bomb-%s-%v.deb", f, inControl))
	must(t, os.WriteFile(p, ar, 0o644))
	return p
}

// TestAttackDecompressionBomb: a package of a few hundred KiB that
// expands to far more than its Installed-Size (4 KiB) is refused at the
// cap, for gzip members and zstd frames in data.tar and in control.tar,
// and a package whose Installed-Size does not fit the free space is
// refused before anything is written (issue 12, items 3 and 4: such a
// package was written until the disk was full).
func TestAttackDecompressionBomb(t *testing.T) {
	_, r := attackRoot(t)
	dir := t.TempDir()
	for _, f := range []compress.Format{compress.Gzip, compress.Zstd} {
		t.Run(string(f)+" data", func(t *testing.T) {
			deb := bombDeb(t, dir, f, 1<<30, false) // 1 GiB unpacked
			if fi, _ := os.Stat(deb); fi.Size() > 2<<20 {
				t.Fatalf("the bomb is %d bytes", fi.Size())
			}
			refused(t, r, Plan{Install: []Install{{Path: deb}}}, Options{NoScripts: true}, archive.ErrTooLarge,
				"decompresses to more than 16785408 bytes (Installed-Size says 4 KiB; a package may write at most twice that plus 16.0 MiB)")
		})
		t.Run(string(f)+" control", func(t *testing.T) {
			deb := bombDeb(t, dir, f, 100<<20, true)
			refused(t, r, Plan{Install: []Install{{Path: deb}}}, Options{NoScripts: true}, archive.ErrTooLarge,
				"member control.tar")
		})
	}
	t.Run("Installed-Size larger than the free space", func(t *testing.T) {
		huge := tpkg{name: "huge", version: "1", extra: "Installed-Size: 1099511627776\n", files: []tentry{
			{name: "./opt/", typ: 'd'}, {name: "./opt/huge", body: "small\n"}}}.build(t, dir)
		refused(t, r, Plan{Install: []Install{{Path: huge}}}, Options{NoScripts: true}, ErrNoSpace, "is free")
	})
}

// TestAttackSymlinkSwapRace: while packages are staged into /opt/d, a
// local user with write access to /opt swaps the directory for a symlink
// to a directory outside the root and back, as fast as they can. Every
// access goes through the os.Root and directory descriptors (inroot.go),
// so nothing is ever written outside the root; resolving a path and then
// opening it by name (securejoin) wrote there (issue 12, item 9).
func TestAttackSymlinkSwapRace(t *testing.T) {
	root, r := attackRoot(t)
	outside := t.TempDir()
	d := filepath.Join(root, "opt/d")
	must(t, os.MkdirAll(d, 0o755))
	files := []tentry{{name: "./opt/", typ: 'd'}, {name: "./opt/d/", typ: 'd'}}
	for i := range 200 {
		files = append(files, tentry{name: fmt.Sprintf("./opt/d/f%03d", i), body: "x\n"},
			tentry{name: fmt.Sprintf("./opt/d/l%03d", i), typ: 's', link: "f000"})
	}
	deb := tpkg{name: "swapped", version: "1", files: files}.build(t, t.TempDir())
	stop := make(chan struct{})
	done := make(chan int)
	go func() {
		swaps := 0
		for {
			select {
			case <-stop:
				done <- swaps
				return
			default:
			}
			if os.Rename(d, d+".real") == nil {
				_ = os.Symlink(outside, d)
				_ = os.Remove(d)
				_ = os.Rename(d+".real", d)
				swaps++
			}
		}
	}()
	installed := 0
	for range 12 {
		if _, err := Apply(context.Background(), r.DB, Plan{Install: []Install{{Path: deb}}}, Options{Root: root, NoScripts: true}); err == nil {
			installed++
			_, _ = Apply(context.Background(), r.DB, Plan{Remove: []Remove{{Name: "swapped"}}}, Options{Root: root, NoScripts: true})
		}
	}
	close(stop)
	swaps := <-done
	ents, err := os.ReadDir(outside)
	must(t, err)
	t.Logf("%d swaps during 12 installs (%d succeeded)", swaps, installed)
	if len(ents) > 0 {
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		t.Errorf("%d names were written outside the root: %s", len(ents), strings.Join(names[:min(5, len(names))], " "))
	}
}

// TestAttackStoreLinksOutOfRoot: the content store's directories are
// reached through the root's os.Root, its objects by one name in a
// descriptor of their directory (issue 12, item 9). A directory of the
// store that is a link out of the root (the check before a transaction
// looks at the store itself, not at its 256 subdirectories; a writer
// racing it could swap either) is refused, naming it, and nothing outside
// changes: joining paths linked the replaced file into the directory
// outside (upgrade), and gc, which no check precedes, deleted the
// unreferenced files of a store that was a link outside.
func TestAttackStoreLinksOutOfRoot(t *testing.T) {
	v2 := tpkg{name: "base", version: "2", files: []tentry{
		{name: "./usr/", typ: 'd'}, {name: "./usr/bin/", typ: 'd'}, {name: "./usr/bin/owned", body: "base 2\n"},
		{name: "./etc/", typ: 'd'}, {name: "./etc/base.conf", body: "x=1\n"},
	}}.build(t, t.TempDir())
	sum := fmt.Sprintf("%x", sha256.Sum256([]byte("base\n"))) // usr/bin/owned, replaced by the upgrade
	for _, c := range []struct {
		name, link string // link: what is made a link to the directory outside
		refused    bool   // an error, or (false) the link is left alone
		run        func(t *testing.T, r *Root) error
	}{
		{"upgrade, a store directory", filepath.Join(StoreDir, sum[:2]), true, func(t *testing.T, r *Root) error {
			_, err := Apply(context.Background(), r.DB, Plan{Install: []Install{{Path: v2}}}, Options{Root: r.Dir, NoScripts: true})
			return err
		}},
		{"gc, the store", StoreDir, true, func(t *testing.T, r *Root) error {
			_, err := GC(context.Background(), r.Dir, r.DB, 1)
			return err
		}},
		{"gc, a store directory", filepath.Join(StoreDir, "ab"), false, func(t *testing.T, r *Root) error {
			_, err := GC(context.Background(), r.Dir, r.DB, 1)
			return err
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			root, r := attackRoot(t)
			// The directory outside looks like a store: a content no
			// record refers to, and a directory of one.
			outside := t.TempDir()
			must(t, os.MkdirAll(filepath.Join(outside, "ab"), 0o700))
			must(t, os.WriteFile(filepath.Join(outside, "ab", "cdef"), []byte("host\n"), 0o644))
			must(t, os.WriteFile(filepath.Join(outside, "keep"), []byte("host\n"), 0o644))
			link := filepath.Join(root, c.link)
			must(t, os.MkdirAll(filepath.Dir(link), 0o700))
			must(t, os.RemoveAll(link))
			must(t, os.Symlink(outside, link))
			was := testfixture.TreeListing(t, outside)
			before := testfixture.TreeListing(t, root)
			err := c.run(t, r)
			switch {
			case !c.refused && err != nil:
				t.Errorf("error %v; want the link left alone", err)
			case c.refused && (err == nil || !strings.Contains(err.Error(), link+": path escapes")):
				t.Errorf("error %v; want one saying %s leads out", err, link)
			}
			if got := testfixture.TreeListing(t, outside); got != was {
				t.Errorf("outside the root changed:\n%s", testfixture.DiffListings(was, got))
			}
			if got := testfixture.TreeListing(t, root); got != before {
				t.Errorf("the root changed:\n%s", testfixture.DiffListings(before, got))
			}
		})
	}
}

// TestAttackStateDirSwappedMidTransaction: a writer in the root swaps one
// of grey's and dpkg's state directories for a link to a directory
// outside the root after the transaction checked them (Options.atStep
// stands in for the race): the journal's directory once packages are
// staged (the staging log is in it, the journal's copy of dpkg's
// database goes there), dpkg's triggers directory just before the
// commit writes the interest files. Every access goes through the
// root's os.Root and directory descriptors (issue 12, item 9), so the
// directory outside stays byte for byte as it was; joining paths (before)
// removed the staging log and the database copy there and wrote the
// interest files there.
func TestAttackStateDirSwappedMidTransaction(t *testing.T) {
	dir := t.TempDir()
	v2 := tpkg{name: "base", version: "2", files: []tentry{
		{name: "./usr/", typ: 'd'}, {name: "./usr/bin/", typ: 'd'}, {name: "./usr/bin/owned", body: "base 2\n"},
		{name: "./etc/", typ: 'd'}, {name: "./etc/base.conf", body: "x=1\n"},
	}}.build(t, dir)
	watcher := tpkg{name: "watcher", version: "1", scripts: map[string]string{"triggers": "interest tg-name\ninterest /usr/share/watched\n"},
		files: []tentry{{name: "./usr/", typ: 'd'}, {name: "./usr/share/", typ: 'd'}, {name: "./usr/share/watcher", body: "w\n"}}}.build(t, dir)
	for _, c := range []struct {
		name, state, step string
		plan              Plan
	}{
		{"journal, upgrade", journalDir, "staged", Plan{Install: []Install{{Path: v2}}}},
		{"journal, removal", journalDir, "staged", Plan{Remove: []Remove{{Name: "base", Purge: true}}}},
		{"triggers, install", pkgdb.DpkgAdminDir + "/triggers", "removed", Plan{Install: []Install{{Path: watcher}}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			root, r := attackRoot(t)
			// Outside, what grey would find, write or remove there.
			outside := t.TempDir()
			must(t, os.MkdirAll(filepath.Join(outside, "dpkg", "info"), 0o755))
			for _, f := range []string{"staging", "dpkg/status", "dpkg/info/base.list", "File", "tg-name", "Unincorp", "keep"} {
				must(t, os.WriteFile(filepath.Join(outside, f), []byte("host\n"), 0o644))
			}
			was := testfixture.TreeListing(t, outside)
			state := filepath.Join(root, filepath.FromSlash(c.state))
			swapped := false
			opts := Options{Root: root, NoScripts: true, atStep: func(step string) {
				if step != c.step || swapped {
					return
				}
				swapped = true
				if _, err := os.Lstat(state); err == nil {
					must(t, os.Rename(state, state+".moved"))
				}
				must(t, os.MkdirAll(filepath.Dir(state), 0o755))
				must(t, os.Symlink(outside, state))
			}}
			_, err := Apply(context.Background(), r.DB, c.plan, opts)
			if !swapped {
				t.Fatalf("the transaction never reached step %q (%v)", c.step, err)
			}
			t.Logf("with %s swapped at %q: %v", c.state, c.step, err)
			if got := testfixture.TreeListing(t, outside); got != was {
				t.Errorf("outside the root changed:\n%s", testfixture.DiffListings(was, got))
			}
		})
	}
}

// cacheSwapFetcher writes content to each request's destination; when
// swap is set it first moves the root's archive cache aside and puts a
// symlink to outside in its place (a writer racing the download).
type cacheSwapFetcher struct {
	content       []byte
	root, outside string
	swap          bool
}

func (f *cacheSwapFetcher) FetchAll(_ context.Context, reqs []fetch.Request) []error {
	errs := make([]error, len(reqs))
	for i, r := range reqs {
		if f.swap {
			cache := filepath.Join(f.root, ArchivesDir)
			if err := os.Rename(cache, cache+".moved"); err != nil {
				errs[i] = err
				continue
			}
			if err := os.Symlink(f.outside, cache); err != nil {
				errs[i] = err
				continue
			}
			f.swap = false
		}
		errs[i] = os.WriteFile(r.Dest, f.content, 0o644)
	}
	return errs
}

// TestAttackCacheOutOfRoot: the package cache inside the root
// (var/cache/grey/archives) is reached through the root's os.Root: a
// cache, or its parent, that is a symlink leading out of the root is
// refused, naming the link, and one swapped for such a link while the
// download runs is not written through; the directory outside is left
// byte for byte as it was (issue 12, item 9).
func TestAttackCacheOutOfRoot(t *testing.T) {
	debPath := tpkg{name: "cached", version: "1", arch: "all", files: []tentry{
		{name: "./usr/", typ: 'd'}, {name: "./usr/share/", typ: 'd'}, {name: "./usr/share/cached", body: "cached\n"},
	}}.build(t, t.TempDir())
	content, err := os.ReadFile(debPath)
	must(t, err)
	sum := sha256.Sum256(content)
	pkg := &deb.Package{Name: "cached", Version: version.MustParse("1"), Architecture: "all",
		Filename: "pool/cached_1_all.deb", Size: int64(len(content)), SHA256: fmt.Sprintf("%x", sum)}
	urlOf := func(p *deb.Package) (string, error) { return JoinURL("http://deb.example.org/debian", p.Filename) }
	for _, c := range []struct {
		name, link string // link: the root's path that is a symlink to outside beforehand
		swap       bool
		msg        string
	}{
		{name: "cache's parent linked out", link: "var/cache/grey", msg: "/var/cache/grey (-> "},
		{name: "cache linked out", link: ArchivesDir, msg: "/var/cache/grey/archives (-> "},
		{name: "cache swapped during the download", swap: true, msg: "/var/cache/grey/archives (-> "},
	} {
		t.Run(c.name, func(t *testing.T) {
			root, r := attackRoot(t)
			outside := t.TempDir()
			must(t, os.MkdirAll(filepath.Join(outside, "archives"), 0o755))
			must(t, os.WriteFile(filepath.Join(outside, "keep"), []byte("host\n"), 0o644))
			target := outside
			if c.link == "var/cache/grey" {
				must(t, os.MkdirAll(filepath.Join(root, "var/cache"), 0o755))
			} else {
				must(t, os.MkdirAll(filepath.Join(root, "var/cache/grey"), 0o755))
			}
			if c.link != "" {
				must(t, os.Symlink(target, filepath.Join(root, c.link)))
			} else {
				must(t, os.MkdirAll(filepath.Join(root, ArchivesDir), 0o755))
			}
			was := testfixture.TreeListing(t, outside)
			before := testfixture.TreeListing(t, root)
			pd := &Pending{Install: []Wanted{{Package: pkg}}}
			f := &cacheSwapFetcher{content: content, root: root, outside: outside, swap: c.swap}
			plan, err := pd.Download(context.Background(), DownloadOptions{Fetcher: f, Dir: root, URL: urlOf})
			if got := testfixture.TreeListing(t, outside); got != was {
				t.Errorf("the download wrote outside the root:\n%s", testfixture.DiffListings(was, got))
			}
			if err == nil {
				var res *Result
				res, err = Apply(context.Background(), r.DB, plan, Options{Root: root, NoScripts: true})
				if res == nil {
					if derr := pd.Discard(); derr != nil {
						t.Logf("discard: %v", derr)
					}
				}
			}
			if err == nil {
				t.Fatal("accepted")
			}
			t.Logf("refused: %v", err)
			if !errors.Is(err, rootfs.ErrOutside) {
				t.Errorf("error %v, want rootfs.ErrOutside", err)
			}
			if !strings.Contains(err.Error(), c.msg) {
				t.Errorf("error %q does not name the link (%q)", err, c.msg)
			}
			if got := testfixture.TreeListing(t, outside); got != was {
				t.Errorf("outside the root changed:\n%s", testfixture.DiffListings(was, got))
			}
			if !c.swap {
				if after := testfixture.TreeListing(t, root); after != before {
					t.Errorf("the root changed:\n%s", testfixture.DiffListings(before, after))
				}
			}
		})
	}
}
