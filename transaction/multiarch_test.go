package transaction

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/greypm/grey/deb"
	"github.com/greypm/grey/deb/control"
	"github.com/greypm/grey/pkgdb"
	"github.com/greypm/grey/resolver"
)

// maPkg is a Multi-Arch: same test library: a file of its own under its
// architecture's directory, a file every instance shares (shared is its
// content), and scripts that log each call with the instance's name,
// "name:arch script args", to /var/tmp/calls.
func maPkg(name, version, arch, shared, extra string) tpkg {
	triplet := map[string]string{"amd64": "x86_64-linux-gnu", "i386": "i386-linux-gnu"}[arch]
	scripts := map[string]string{}
	for _, s := range []string{"preinst", "postinst", "prerm", "postrm"} {
		scripts[s] = "#!/bin/sh\necho \"$DPKG_MAINTSCRIPT_PACKAGE:$DPKG_MAINTSCRIPT_ARCH " + s + " $*\" >> /var/tmp/calls\nexit 0\n"
	}
	return tpkg{name: name, version: version, arch: arch, extra: "Multi-Arch: same\n" + extra, scripts: scripts, files: []tentry{
		{name: "./usr/", typ: 'd'}, {name: "./usr/lib/", typ: 'd'}, {name: "./usr/lib/" + triplet + "/", typ: 'd'},
		{name: "./usr/lib/" + triplet + "/" + name + ".so", body: name + " " + version + " " + arch + "\n"},
		{name: "./usr/share/", typ: 'd'}, {name: "./usr/share/doc/", typ: 'd'}, {name: "./usr/share/doc/" + name + "/", typ: 'd'},
		{name: "./usr/share/doc/" + name + "/copyright", body: shared},
		{name: "./usr/share/doc/" + name + "/README", link: "copyright", typ: 's'},
	}}
}

// dpkgQuery runs the real dpkg (or dpkg-query) with args on root and
// returns its output, the lines containing grep (all when "").
func dpkgQuery(t *testing.T, bin, root, grep string, args ...string) string {
	t.Helper()
	out, _ := exec.Command(bin, append([]string{"--root=" + root}, args...)...).CombinedOutput()
	var keep []string
	for _, l := range strings.Split(string(out), "\n") {
		if grep == "" || strings.Contains(l, grep) {
			keep = append(keep, l)
		}
	}
	return strings.Join(keep, "\n")
}

// TestMultiArchAgainstDpkg installs a Multi-Arch: same library for amd64
// and i386 in one root, with grey in one and the real dpkg in a copy of
// it: both instances' status stanzas, their info files (NAME:ARCH.list,
// ...), the script calls, the tree, dpkg -l, dpkg -S of a shared file and
// dpkg --audit agree, and dpkg --verify is clean. A shared file that
// differs between instances is refused by both; so is a second
// instance of a package that is not Multi-Arch: same. Removing one
// instance leaves the other whole.
func TestMultiArchAgainstDpkg(t *testing.T) {
	tw := newTwin(t)
	dir := t.TempDir()
	if err := AddArchitecture(tw.grey, "i386"); err != nil {
		t.Fatal(err)
	}
	if out, err := tw.runDpkg(t, "--add-architecture", "i386"); err != nil {
		t.Fatalf("dpkg --add-architecture: %v\n%s", err, out)
	}
	for _, f := range []string{"var/lib/dpkg/arch"} {
		g, _ := os.ReadFile(filepath.Join(tw.grey, f))
		d, _ := os.ReadFile(filepath.Join(tw.dpkg, f))
		if string(g) != string(d) {
			t.Errorf("%s: grey %q, dpkg %q", f, g, d)
		}
	}
	amd := maPkg("malib", "1", "amd64", "shared copyright\n", "").build(t, dir)
	i386 := maPkg("malib", "1", "i386", "shared copyright\n", "").build(t, dir)
	names := []string{"malib:amd64", "malib:i386"}

	step := func(name string, dpkgArgs []string, plan Plan, wantErr string) {
		t.Helper()
		out, derr := tw.runDpkg(t, dpkgArgs...)
		_, gerr := apply(t, tw.r, plan, Options{})
		if wantErr != "" {
			// grey checks files before any script runs; dpkg runs the
			// preinst first and unwinds it (postrm abort-install).
			calls(t, tw.dpkg)
		}
		if wantErr == "" && (derr != nil || gerr != nil) {
			t.Fatalf("%s: dpkg: %v %s\ngrey: %v", name, derr, out, gerr)
		}
		if wantErr != "" {
			if derr == nil || !strings.Contains(out, wantErr) {
				t.Errorf("%s: dpkg did not refuse with %q: %v\n%s", name, wantErr, derr, out)
			}
			if gerr == nil || !strings.Contains(gerr.Error(), wantErr) {
				t.Errorf("%s: grey did not refuse with %q: %v", name, wantErr, gerr)
			}
		}
		tw.compare(t, name, names)
		for _, args := range [][]string{{"-l"}, {"-S", "/usr/share/doc/malib/copyright"}, {"-L", "malib:i386"}, {"-s", "malib:i386"}} {
			g := dpkgQuery(t, "dpkg", tw.grey, "", args...)
			d := dpkgQuery(t, "dpkg", tw.dpkg, "", args...)
			g = strings.TrimPrefix(g, "/.\n") // grey's lists start with "/."
			if args[0] == "-S" {
				// dpkg reads the lists in inode order: owners in any order.
				g, d = sortedOwners(g), sortedOwners(d)
			}
			if g != d {
				t.Errorf("%s: dpkg %v\ngrey root:\n%s\ndpkg root:\n%s", name, args, g, d)
			}
		}
		if out, err := exec.Command("dpkg", "--root="+tw.grey, "--verify").CombinedOutput(); err != nil || len(out) > 0 {
			t.Errorf("%s: dpkg --verify in grey's root: %v\n%s", name, err, out)
		}
	}
	step("install malib:amd64 and malib:i386", []string{"-i", amd, i386},
		Plan{Install: []Install{{Path: amd}, {Path: i386}}}, "")
	for _, n := range names {
		if _, err := os.Stat(filepath.Join(tw.grey, "var/lib/dpkg/info", n+".list")); err != nil {
			t.Errorf("info file of %s: %v", n, err)
		}
	}
	_ = tw.r.DB.View(func(tx *bolt.Tx) error {
		for _, k := range []string{"malib", "malib:i386"} {
			if p, _ := pkgdb.GetPackage(tx, k); p == nil || !p.IsInstalled() {
				t.Errorf("grey's database has no installed record %s", k)
			}
		}
		// A user's names for the instances, as dpkg takes them.
		for name, want := range map[string]string{"malib": "malib:amd64", "malib:amd64": "malib:amd64", "malib:i386": "malib:i386", "malib:arm64": "none"} {
			got := "none"
			if p, err := GetInstance(tx, name); err != nil {
				t.Error(err)
			} else if p != nil {
				got = p.Name + ":" + p.Architecture
			}
			if got != want {
				t.Errorf("GetInstance(%s) = %s, want %s", name, got, want)
			}
		}
		owners := pkgdb.Owners(tx, "/usr/share/doc/malib/copyright")
		if fmt.Sprint(owners) != "[malib malib:i386]" {
			t.Errorf("owners of the shared file: %v", owners)
		}
		return nil
	})

	// An instance whose shared file differs: both refuse it.
	bad := maPkg("mabad", "1", "amd64", "one\n", "").build(t, dir)
	badI := maPkg("mabad", "1", "i386", "two\n", "").build(t, dir)
	step("install mabad:amd64", []string{"-i", bad}, Plan{Install: []Install{{Path: bad}}}, "")
	step("install mabad:i386 with a different shared file", []string{"-i", badI}, Plan{Install: []Install{{Path: badI}}},
		"trying to overwrite shared '/usr/share/doc/mabad/copyright', which is different from other instances of package mabad:i386")

	// Remove one instance: the other stays whole, shared files too.
	step("remove malib:i386", []string{"-r", "malib:i386"}, Plan{Remove: []Remove{{Name: "malib:i386"}}}, "")
	if _, err := os.Stat(filepath.Join(tw.grey, "usr/share/doc/malib/copyright")); err != nil {
		t.Errorf("the shared file went with malib:i386: %v", err)
	}
	step("install malib:i386 again", []string{"-i", i386}, Plan{Install: []Install{{Path: i386}}}, "")

	// A package that is not Multi-Arch: same: its i386 instance
	// replaces the amd64 one (a crossgrade).
	crossA := lcPkg("macross", "1", "", nil)
	crossI := lcPkg("macross", "1", "", nil)
	crossI.arch = "i386"
	ca, ci := crossA.build(t, dir), crossI.build(t, dir)
	names = append(names, "macross:amd64", "macross:i386")
	step("install macross:amd64", []string{"-i", ca}, Plan{Install: []Install{{Path: ca}}}, "")
	step("crossgrade to macross:i386", []string{"-i", ci}, Plan{Install: []Install{{Path: ci}}}, "")
	_ = tw.r.DB.View(func(tx *bolt.Tx) error {
		a, _ := pkgdb.GetPackage(tx, "macross")
		i, _ := pkgdb.GetPackage(tx, "macross:i386")
		if a != nil || i == nil || !i.IsInstalled() || fmt.Sprint(pkgdb.Owners(tx, "/usr/share/macross/file")) != "[macross:i386]" {
			t.Errorf("after the crossgrade grey's database has macross %+v, macross:i386 %+v", a, i)
		}
		return nil
	})
	step("purge malib:amd64", []string{"-P", "malib:amd64"}, Plan{Remove: []Remove{{Name: "malib:amd64", Purge: true}}}, "")
}

// sortedOwners sorts the owners of each "a, b: path" line of dpkg -S.
func sortedOwners(out string) string {
	lines := strings.Split(out, "\n")
	for i, l := range lines {
		if owners, p, ok := strings.Cut(l, ": "); ok {
			o := strings.Split(owners, ", ")
			slices.Sort(o)
			lines[i] = strings.Join(o, ", ") + ": " + p
		}
	}
	return strings.Join(lines, "\n")
}

// maIndexPkg is an index candidate: "Field: value" lines after the name,
// version and architecture.
func maIndexPkg(t *testing.T, name, arch, fields string) *deb.Package {
	t.Helper()
	st, err := control.ParseOne([]byte("Package: " + name + "\nVersion: 1\nArchitecture: " + arch + "\n" + fields))
	if err != nil {
		t.Fatal(err)
	}
	p, err := deb.FromStanza(st)
	if err != nil {
		t.Fatal(err)
	}
	p.Origin, p.SHA256, p.Filename = "test", "00", "pool/"+name+"_"+arch+".deb"
	return p
}

// TestPrepareMultiArch resolves pkg:arch, Multi-Arch: foreign and :any
// across architectures, only for the architectures the root enabled
// (ForeignArchs).
func TestPrepareMultiArch(t *testing.T) {
	var pkgs []*deb.Package
	for _, a := range []string{"amd64", "i386"} {
		pkgs = append(pkgs,
			maIndexPkg(t, "libm", a, "Multi-Arch: same\n"),
			maIndexPkg(t, "app", a, "Depends: libm, tool, interp:any\n"),
			maIndexPkg(t, "plain", a, "Depends: interp\n"))
	}
	pkgs = append(pkgs, maIndexPkg(t, "tool", "amd64", "Multi-Arch: foreign\n"),
		maIndexPkg(t, "interp", "amd64", "Multi-Arch: allowed\n"))
	idx := resolver.NewMemIndex(pkgs)
	tests := []struct {
		name    string
		job     string
		foreign []string
		want    string // the plan's installs, sorted; "" for an error
	}{
		{"pkg:arch of an enabled architecture", "libm:i386", []string{"i386"}, "libm:i386"},
		{"pkg:arch of an architecture not enabled", "libm:i386", nil, ""},
		{"foreign and :any from the native architecture", "app:i386", []string{"i386"}, "app:i386 interp:amd64 libm:i386 tool:amd64"},
		{"a plain dependency stays in its architecture", "plain:i386", []string{"i386"}, ""},
		{"native by default", "app", []string{"i386"}, "app:amd64 interp:amd64 libm:amd64 tool:amd64"},
	}
	for _, tc := range tests {
		j, err := resolver.ParseJob(tc.job)
		if err != nil {
			t.Fatal(err)
		}
		req := resolver.Request{Install: []resolver.Job{j}, Architecture: "amd64", ForeignArchs: tc.foreign}
		pd, err := Prepare(context.Background(), nil, idx, ChangeRequest{Request: req})
		got := ""
		if err == nil {
			var names []string
			for _, w := range pd.Install {
				names = append(names, w.Package.Name+":"+w.Package.Architecture)
			}
			slices.Sort(names)
			got = strings.Join(names, " ")
		}
		if got != tc.want {
			t.Errorf("%s: install %s gives %q (%v), want %q", tc.name, tc.job, got, err, tc.want)
		}
	}
}
