package image

import (
	"archive/tar"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/validate"

	"github.com/greypm/grey/internal/testfixture"
	"github.com/greypm/grey/pkgdb"
	"github.com/greypm/grey/transaction"
)

// TestReproducible builds the same lock twice, from spec copies in
// different directories with different work directories, as a tar, a
// compressed tar and an OCI layout (with a command: as its Cmd); the
// outputs must be byte-identical.
func TestReproducible(t *testing.T) {
	testfixture.Root(t) // owners come from the packages only when chown works
	_, line := testRepo(t, defaultPkgs())
	extra := "files:\n  - {path: /etc/motd, mode: \"0640\", content: \"welcome\\n\"}\nusers:\n  - {name: app, uid: 1000, gid: 1000}\ngroups:\n  - {name: app, gid: 1000}\ncommand: greet\n"
	spec1 := writeSpec(t, specText(line, extra))
	s1, err := ReadSpec(spec1)
	must(t, err)
	ctx := context.Background()
	l, _, err := LockSpec(ctx, s1, ResolveOptions{StateDir: t.TempDir(), Now: testNow})
	must(t, err)
	// The second copy lives elsewhere with the same lock.
	spec2 := writeSpec(t, specText(line, extra))
	must(t, WriteLock(LockPath(spec2), l))
	s2, err := ReadSpec(spec2)
	must(t, err)

	for _, out := range []string{"img.tar", "img.tar.gz", "img.tar.zst"} {
		var sums [2]string
		for i, s := range []*Spec{s1, s2} {
			p := filepath.Join(t.TempDir(), out)
			_, err := Build(ctx, s, buildOpts(t, p, true))
			must(t, err)
			sums[i] = sha256File(t, p)
		}
		if sums[0] != sums[1] {
			t.Errorf("%s: two builds differ: %s %s", out, sums[0], sums[1])
		}
	}
	var trees [2]map[string]string
	for i, s := range []*Spec{s1, s2} {
		p := filepath.Join(t.TempDir(), "oci")
		_, err := Build(ctx, s, buildOpts(t, "oci:"+p, true))
		must(t, err)
		trees[i] = treeSums(t, p)
	}
	if len(trees[0]) != 5 { // oci-layout, index.json, 3 blobs
		t.Errorf("OCI layout has %d files: %v", len(trees[0]), trees[0])
	}
	for k, v := range trees[0] {
		if trees[1][k] != v {
			t.Errorf("OCI %s differs between builds", k)
		}
	}
}

// TestTarContent checks what the tar holds: sorted names, clamped times,
// owners, no user names, the database and dpkg status, the extra files.
func TestTarContent(t *testing.T) {
	testfixture.Root(t)
	_, line := testRepo(t, defaultPkgs())
	spec := writeSpec(t, specText(line, "files:\n  - {path: /etc/motd, mode: \"0640\", content: \"welcome\\n\", gid: 4}\nusers:\n  - {name: app, uid: 1000, gid: 1000}\n"))
	s, err := ReadSpec(spec)
	must(t, err)
	p := filepath.Join(t.TempDir(), "img.tar")
	res, err := Build(context.Background(), s, buildOpts(t, p, false))
	must(t, err)
	if !res.LockWritten || len(res.Packages) != 2 {
		t.Fatalf("lock: %+v", res)
	}
	f, err := os.Open(p)
	must(t, err)
	defer f.Close()
	tr := tar.NewReader(f)
	prev := ""
	seen := map[string]*tar.Header{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		must(t, err)
		if h.Name <= prev {
			t.Errorf("entries not sorted: %q after %q", h.Name, prev)
		}
		prev = h.Name
		if h.ModTime.Unix() > s.SourceDateEpoch {
			t.Errorf("%s: mtime %v after source-date-epoch", h.Name, h.ModTime)
		}
		if h.Uname != "" || h.Gname != "" || !h.AccessTime.IsZero() || !h.ChangeTime.IsZero() || len(h.PAXRecords) > 0 && h.PAXRecords["SCHILY.xattr.security.selinux"] != "" {
			t.Errorf("%s: host state leaked: %+v", h.Name, h)
		}
		seen[h.Name] = h
		if h.Name == "etc/passwd" {
			b, _ := io.ReadAll(tr)
			if !strings.Contains(string(b), "app:x:1000:1000::/nonexistent:/usr/sbin/nologin\n") {
				t.Errorf("etc/passwd: %q", b)
			}
		}
	}
	for _, name := range []string{"usr/bin/greet", "usr/share/libgreet/words", "var/lib/dpkg/status", "var/lib/grey/grey.db", "etc/motd", "etc/greet.conf"} {
		if seen[name] == nil {
			t.Errorf("%s missing from the tar", name)
		}
	}
	if h := seen["etc/motd"]; h != nil && (h.Mode != 0o640 || h.Gid != 4) {
		t.Errorf("etc/motd: mode %o gid %d", h.Mode, h.Gid)
	}
	if seen[strings.TrimPrefix(pkgdb.LockPath, "/")] != nil {
		t.Errorf("the root lock file (holder's pid) is in the image")
	}
	if h := seen["usr/bin/greet"]; h != nil && (h.Uid != 0 || h.Gid != 0 || h.Mode != 0o755) {
		t.Errorf("usr/bin/greet: %d/%d %o", h.Uid, h.Gid, h.Mode)
	}
}

// TestDirectoryRoot: the composed directory is a dpkg root and a grey root.
func TestDirectoryRoot(t *testing.T) {
	_, line := testRepo(t, defaultPkgs())
	spec := writeSpec(t, specText(line, ""))
	s, err := ReadSpec(spec)
	must(t, err)
	out := filepath.Join(t.TempDir(), "root")
	_, err = Build(context.Background(), s, buildOpts(t, out, false))
	must(t, err)

	db, err := pkgdb.Open(out, pkgdb.Options{})
	must(t, err)
	inst, err := transaction.InstalledSet(db)
	must(t, err)
	probs, err := transaction.Verify(context.Background(), db, out, nil)
	must(t, err)
	must(t, db.Close())
	names := map[string]bool{}
	for _, p := range inst {
		names[p.Package.Name] = p.Auto
	}
	if len(names) != 2 || names["greet"] || !names["libgreet"] {
		t.Errorf("installed (name: auto) = %v, want greet manual, libgreet auto", names)
	}
	if len(probs) != 0 {
		t.Errorf("verify: %v", probs)
	}
	// Modes the package ships survive the normalization of grey's state.
	for path, want := range map[string]os.FileMode{"usr/bin/greet-suid": 0o755 | os.ModeSetuid, "usr/share/greet/key": 0o600} {
		fi, err := os.Stat(filepath.Join(out, path))
		must(t, err)
		if got := fi.Mode() & (os.ModePerm | os.ModeSetuid); got != want {
			t.Errorf("%s: mode %v, want %v", path, got, want)
		}
	}

	// A second build into a non-empty directory is refused.
	if _, err := Build(context.Background(), s, buildOpts(t, out, true)); err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Errorf("build over an existing root: %v", err)
	}

	dpkg := testfixture.Tool(t, "dpkg", "dpkg")
	cmd := exec.Command(dpkg, "--root="+out, "-l")
	b, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("dpkg -l: %v\n%s", err, b)
	}
	ii := 0
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) > 1 && (f[1] == "greet" || f[1] == "libgreet") {
			if f[0] != "ii" {
				t.Errorf("dpkg -l: %s", l)
			}
			ii++
		}
	}
	if ii != 2 {
		t.Errorf("dpkg -l lists %d of 2 packages:\n%s", ii, b)
	}
}

// TestOCIValid reads the layout back with go-containerregistry and
// validates every digest and size, the config and the layer; the
// spec's command: is the config's Cmd.
func TestOCIValid(t *testing.T) {
	_, line := testRepo(t, defaultPkgs())
	for _, command := range []string{"", "greet"} {
		t.Run("command="+command, func(t *testing.T) { testOCIValid(t, line, command) })
	}
}

func testOCIValid(t *testing.T, line, command string) {
	extra := ""
	if command != "" {
		extra = "command: " + command + "\n"
	}
	s, err := ReadSpec(writeSpec(t, specText(line, extra)))
	must(t, err)
	out := filepath.Join(t.TempDir(), "oci")
	_, err = Build(context.Background(), s, buildOpts(t, "oci:"+out, false))
	must(t, err)
	p, err := layout.FromPath(out)
	must(t, err)
	idx, err := p.ImageIndex()
	must(t, err)
	must(t, validate.Index(idx))
	im, err := idx.IndexManifest()
	must(t, err)
	if len(im.Manifests) != 1 || im.Manifests[0].Annotations["org.opencontainers.image.ref.name"] != "latest" {
		t.Fatalf("index: %+v", im)
	}
	img, err := idx.Image(im.Manifests[0].Digest)
	must(t, err)
	cfg, err := img.ConfigFile()
	must(t, err)
	if cfg.Architecture != "amd64" || cfg.OS != "linux" || cfg.Created.Unix() != s.SourceDateEpoch {
		t.Errorf("config: %+v", cfg)
	}
	if want := []string{command}; command == "" && len(cfg.Config.Cmd) != 0 || command != "" && !slices.Equal(cfg.Config.Cmd, want) {
		t.Errorf("config's Cmd %q, want %q", cfg.Config.Cmd, command)
	}
	layers, err := img.Layers()
	must(t, err)
	if len(layers) != 1 {
		t.Fatalf("%d layers", len(layers))
	}
	rc, err := layers[0].Uncompressed()
	must(t, err)
	defer rc.Close()
	tr := tar.NewReader(rc)
	found := false
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		must(t, err)
		found = found || h.Name == "usr/bin/greet"
	}
	if !found {
		t.Error("usr/bin/greet not in the layer")
	}
}

// TestLockedFailures: --locked fails, naming the package, when the lock's
// hash is wrong or the file is gone; and refuses a stale or missing lock.
func TestLockedFailures(t *testing.T) {
	repoDir, line := testRepo(t, defaultPkgs())
	spec := writeSpec(t, specText(line, ""))
	s, err := ReadSpec(spec)
	must(t, err)
	ctx := context.Background()

	if _, err := Build(ctx, s, buildOpts(t, filepath.Join(t.TempDir(), "r"), true)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("no lock: %v", err)
	}
	l, lockPath, err := LockSpec(ctx, s, ResolveOptions{StateDir: t.TempDir(), Now: testNow})
	must(t, err)
	data, err := os.ReadFile(lockPath)
	must(t, err)
	back, err := ParseLock(data, lockPath)
	must(t, err)
	again, err := back.Marshal()
	must(t, err)
	if string(again) != string(data) {
		t.Errorf("lock round trip changed it:\n%s\n---\n%s", data, again)
	}

	t.Run("changed sha256", func(t *testing.T) {
		bad := *l
		bad.Packages = append([]LockedPackage(nil), l.Packages...)
		for i := range bad.Packages {
			if bad.Packages[i].Name == "libgreet" {
				bad.Packages[i].SHA256 = strings.Repeat("0", 64)
			}
		}
		must(t, WriteLock(lockPath, &bad))
		_, err := Build(ctx, s, buildOpts(t, filepath.Join(t.TempDir(), "r"), true))
		var pe *PackageError
		if !errors.As(err, &pe) || pe.Package != "libgreet" || !strings.HasPrefix(err.Error(), "libgreet_1.0-1_all: ") {
			t.Fatalf("got %v, want a PackageError naming libgreet", err)
		}
	})
	t.Run("missing from the repository", func(t *testing.T) {
		must(t, WriteLock(lockPath, l))
		for _, p := range l.Packages {
			if p.Name == "greet" {
				must(t, os.Remove(filepath.Join(repoDir, filepath.FromSlash(p.Filename))))
			}
		}
		_, err := Build(ctx, s, buildOpts(t, filepath.Join(t.TempDir(), "r"), true))
		var pe *PackageError
		if !errors.As(err, &pe) || pe.Package != "greet" || !strings.HasPrefix(err.Error(), "greet_1.0-1_amd64: ") {
			t.Fatalf("got %v, want a PackageError naming greet", err)
		}
	})
	t.Run("stale", func(t *testing.T) {
		s2 := *s
		s2.Packages = []string{"greet", "tool"}
		_, err := Build(ctx, &s2, buildOpts(t, filepath.Join(t.TempDir(), "r"), true))
		var se *StaleError
		if !errors.As(err, &se) || !strings.Contains(err.Error(), "tool") {
			t.Fatalf("got %v, want a StaleError naming the packages", err)
		}
	})
	t.Run("unknown package", func(t *testing.T) {
		s2 := *s
		s2.Packages = []string{"nosuch"}
		_, err := Build(ctx, &s2, buildOpts(t, filepath.Join(t.TempDir(), "r"), false))
		if err == nil || !strings.Contains(err.Error(), "nosuch") {
			t.Fatalf("got %v, want an error naming nosuch", err)
		}
	})
}

func TestParseLockBad(t *testing.T) {
	good := `{"version":1,"request":{"architecture":"amd64","packages":["a"],"recommends":false,"essential":false},"sources":[],"packages":[{"name":"a","version":"1","architecture":"all","source":"s","url":"file:///a.deb","filename":"a.deb","sha256":"` + strings.Repeat("a", 64) + `","size":3}]}`
	if _, err := ParseLock([]byte(good), "x.lock"); err != nil {
		t.Fatal(err)
	}
	for name, text := range map[string]string{
		"unknown field": strings.Replace(good, `"size":3`, `"size":3,"md5":"x"`, 1),
		"version":       strings.Replace(good, `"version":1`, `"version":9`, 1),
		"bad sha":       strings.Replace(good, strings.Repeat("a", 64), "zz", 1),
		"no size":       strings.Replace(good, `"size":3`, `"size":0`, 1),
		"no url":        strings.Replace(good, `"url":"file:///a.deb"`, `"url":""`, 1),
		"not json":      "{",
	} {
		if _, err := ParseLock([]byte(text), "x.lock"); err == nil || !strings.HasPrefix(err.Error(), "x.lock") {
			t.Errorf("%s: got %v, want an error naming x.lock", name, err)
		}
	}
}

// FuzzParseLock: no input panics, and an accepted lock survives a round
// trip.
func FuzzParseLock(f *testing.F) {
	f.Add([]byte(`{"version":1,"request":{"architecture":"amd64","packages":["a"]},"sources":[],"packages":[{"name":"a","version":"1","architecture":"all","source":"s","url":"file:///a.deb","filename":"a.deb","sha256":"` + strings.Repeat("a", 64) + `","size":3}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		l, err := ParseLock(data, "f.lock")
		if err != nil {
			return
		}
		b, err := l.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ParseLock(b, "f.lock"); err != nil {
			t.Fatalf("re-parse: %v", err)
		}
	})
}

// TestUmaskIndependent: the modes of what grey itself writes (dpkg's and
// grey's state) do not depend on the builder's umask.
func TestUmaskIndependent(t *testing.T) {
	_, line := testRepo(t, defaultPkgs())
	s, err := ReadSpec(writeSpec(t, specText(line, "")))
	must(t, err)
	_, _, err = LockSpec(context.Background(), s, ResolveOptions{StateDir: t.TempDir(), Now: testNow})
	must(t, err)
	var sums []string
	for _, mask := range []int{0o022, 0o077} {
		old := syscall.Umask(mask)
		p := filepath.Join(t.TempDir(), "img.tar")
		_, err := Build(context.Background(), s, buildOpts(t, p, true))
		syscall.Umask(old)
		must(t, err)
		sums = append(sums, sha256File(t, p))
	}
	if sums[0] != sums[1] {
		t.Errorf("umask 022 and 077 give different tars: %v", sums)
	}
}

// TestEssentialAndScripts: essential adds the Essential and required
// packages; scripts decides whether maintainer scripts run (here a root
// without a shell, so running them fails, naming the package).
func TestEssentialAndScripts(t *testing.T) {
	pkgs := append(defaultPkgs(),
		testPkg{name: "ess", version: "1", arch: "all", control: "Essential: yes\n", files: map[string]string{"usr/share/ess": "e\n"}},
		testPkg{name: "req", version: "1", arch: "all", control: "Priority: required\n", files: map[string]string{"usr/share/req": "r\n"}},
		testPkg{name: "scripted", version: "1", arch: "all", postinst: "#!/bin/sh\nexit 0\n", files: map[string]string{"usr/share/scripted": "s\n"}},
	)
	_, line := testRepo(t, pkgs)
	ctx := context.Background()

	s, err := ReadSpec(writeSpec(t, specText(line, "essential: true\n")))
	must(t, err)
	l, err := Resolve(ctx, s, ResolveOptions{StateDir: t.TempDir(), Now: testNow})
	must(t, err)
	var names []string
	for _, p := range l.Packages {
		names = append(names, p.Name)
	}
	if got := strings.Join(names, " "); got != "ess greet libgreet req" {
		t.Errorf("essential: locked %q, want ess greet libgreet req", got)
	}

	text := strings.Replace(specText(line, ""), "packages: [greet]", "packages: [scripted]", 1)
	s, err = ReadSpec(writeSpec(t, text))
	must(t, err)
	_, err = Build(ctx, s, buildOpts(t, filepath.Join(t.TempDir(), "off"), false))
	must(t, err)

	s, err = ReadSpec(writeSpec(t, text+"scripts: true\n"))
	must(t, err)
	_, err = Build(ctx, s, buildOpts(t, filepath.Join(t.TempDir(), "on"), false))
	var se *transaction.ScriptError
	if !errors.As(err, &se) || se.Package != "scripted" {
		t.Fatalf("scripts: true in a root without a shell: got %v, want a ScriptError for scripted", err)
	}
}
