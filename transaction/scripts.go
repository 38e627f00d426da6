package transaction

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/greypm/grey/pkgdb"
)

// scriptTmpDir holds scripts that must run while not in the info
// directory: a new package's preinst, an old version's prerm and postrm.
const scriptTmpDir = "var/lib/grey/tmp"

// runScript runs one maintainer script with dpkg's environment: chrooted
// into the root when the root is not "/". hostPath is where the script is
// on the host; it must be inside the root.
func (t *txn) runScript(ctx context.Context, pkg, arch, script, hostPath string, args ...string) error {
	rel, err := filepath.Rel(t.root, hostPath)
	if err != nil || strings.HasPrefix(rel, "..") {
		return fmt.Errorf("script %s of %s is outside the root", hostPath, pkg)
	}
	env := []string{
		"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"DPKG_MAINTSCRIPT_PACKAGE=" + pkg,
		"DPKG_MAINTSCRIPT_ARCH=" + arch,
		"DPKG_MAINTSCRIPT_NAME=" + script,
		"DPKG_MAINTSCRIPT_PACKAGE_REFCOUNT=1",
		"DPKG_ADMINDIR=/" + pkgdb.DpkgAdminDir,
		// The script runs chrooted, so the root it sees is "/" and
		// DPKG_ROOT, which scripts prefix to paths, is empty.
		"DPKG_ROOT=",
		"DEBIAN_FRONTEND=noninteractive",
		"LC_ALL=C.UTF-8",
	}
	if t.fallbackPath != "" {
		env[0] += ":" + t.fallbackPath
	}
	cmd := exec.CommandContext(ctx, "/"+rel, args...)
	if t.root != "/" {
		if t.env == nil {
			if t.env, err = openScriptEnv(t.root); err != nil {
				return err
			}
		}
		cmd.SysProcAttr = &syscall.SysProcAttr{Chroot: t.root}
		cmd.Dir = "/"
	} else {
		cmd.Path = hostPath
		cmd.Dir = "/"
		env = append(os.Environ(), env...)
	}
	cmd.Env = env
	var out bytes.Buffer
	var w io.Writer = &out
	if t.opts.ScriptOutput != nil {
		w = io.MultiWriter(&out, t.opts.ScriptOutput)
	}
	cmd.Stdout, cmd.Stderr = w, w
	cmd.Stdin = nil
	run := cmd.Run
	if t.env != nil {
		run = func() error { return t.env.runCmd(cmd) }
	}
	if err := run(); err != nil {
		return &ScriptError{Package: pkg, Script: script, Args: args, Output: out.String(), Err: err}
	}
	return nil
}

// runTemp writes data as an executable under var/lib/grey/tmp and runs it.
func (t *txn) runTemp(ctx context.Context, pkg, arch, script string, data []byte, args ...string) error {
	// Written through the root's os.Root (inroot.go): a directory on the
	// way that is a link leading out of the root is refused.
	rfs := t.st.rfs
	dir := filepath.Join(rfs.host, scriptTmpDir)
	made := false
	if _, err := rfs.root.Stat(scriptTmpDir); err != nil {
		if err := rfs.root.MkdirAll(scriptTmpDir, 0o755); err != nil {
			return fmt.Errorf("script directory: %w", rfs.named(err))
		}
		made = true
	}
	p := filepath.Join(dir, pkg+"."+script)
	if err := rfs.writeAtomic(p, data, 0o755, false); err != nil {
		return fmt.Errorf("write %s %s: %w", pkg, script, err)
	}
	err := t.runScript(ctx, pkg, arch, script, p, args...)
	_ = rfs.remove(p, false)
	if made {
		_ = rfs.remove(dir, true)
	}
	return err
}

// preScripts runs, before the commit, what dpkg runs before unpacking:
// prerm remove for removals (dependents first), then for each package to
// install the old version's "prerm upgrade NEW" and the new
// "preinst install" or "preinst upgrade OLD NEW". A failing script is
// unwound as Debian Policy 6.6 and 6.8 say (lifecycle.go) and its
// package leaves the transaction; the others go on, as with dpkg -i.
func (t *txn) preScripts(ctx context.Context) {
	for i := len(t.removes) - 1; i >= 0; i-- {
		r := t.removes[i]
		if r.rec.State() != pkgdb.StateHalfConfigured && !r.rec.Configured() {
			continue
		}
		s, ok := t.oldScripts[r.rec.Key()]["prerm"]
		if !ok {
			continue
		}
		if err := t.runTemp(ctx, r.rec.Name, r.rec.Architecture, "prerm", s, "remove"); err != nil {
			t.abortRemove(ctx, r, err)
		}
	}
	for _, w := range t.works {
		if rec, err := t.preinst(ctx, w); err != nil {
			w.failed = true
			t.fail(rec, err)
		}
	}
}

// preinst runs the old prerm (on upgrade) and the new preinst of w. When
// one fails it unwinds as Policy 6.6 says and returns the record the
// package is left with and the error.
func (t *txn) preinst(ctx context.Context, w *work) (*pkgdb.Package, error) {
	newVer := w.pkg.Version.String()
	old := w.old
	upgrading := old != nil && old.IsInstalled()
	if upgrading && (old.Configured() || old.State() == pkgdb.StateHalfConfigured) {
		if s, ok := t.oldScripts[w.old.Key()]["prerm"]; ok {
			if err := t.runTemp(ctx, w.name(), old.Architecture, "prerm", s, "upgrade", newVer); err != nil {
				np := w.ctl.File("prerm")
				if np == nil || t.runTemp(ctx, w.name(), w.pkg.Architecture, "prerm", np.Data, "failed-upgrade", old.Version) != nil {
					return t.abortUpgrade(ctx, w, false), err
				}
			}
		}
	}
	cf := w.ctl.File("preinst")
	if cf == nil {
		return nil, nil
	}
	err := t.runTemp(ctx, w.name(), w.pkg.Architecture, "preinst", cf.Data, preinstArgs(w)...)
	if err == nil {
		return nil, nil
	}
	return t.abortInstall(ctx, w), err
}

// preinstArgs are the arguments of w's preinst: "install", "install OLD
// NEW" over config files left by a removal, or "upgrade OLD NEW".
func preinstArgs(w *work) []string {
	old := w.old
	switch {
	case old != nil && old.IsInstalled():
		return []string{"upgrade", old.Version, w.pkg.Version.String()}
	case old != nil && old.Version != "": // config-files left from an earlier removal
		return []string{"install", old.Version, w.pkg.Version.String()}
	}
	return []string{"install"}
}

// abortInstall unwinds w's installation when it cannot go on after its
// preinst ran (the preinst failed, or, as dpkg's unpack finds it, one of
// its files conflicts): "postrm abort-install" or "postrm abort-upgrade",
// as Policy 6.6 says, and returns the record the package is left with.
func (t *txn) abortInstall(ctx context.Context, w *work) *pkgdb.Package {
	old := w.old
	upgrading := old != nil && old.IsInstalled()
	newVer := w.pkg.Version.String()
	args := preinstArgs(w)
	np := w.ctl.File("postrm")
	if upgrading {
		if np != nil && t.runTemp(ctx, w.name(), w.pkg.Architecture, "postrm", np.Data, "abort-upgrade", old.Version, newVer) != nil {
			return t.abortUpgrade(ctx, w, true)
		}
		return t.abortUpgrade(ctx, w, false)
	}
	abort := []string{"abort-install"}
	if len(args) == 3 {
		abort = append(abort, args[1:]...)
	}
	if np != nil && t.runTemp(ctx, w.name(), w.pkg.Architecture, "postrm", np.Data, abort...) != nil {
		rec := t.record(w)
		rec.Files, rec.Conffiles = nil, nil
		rec.SetStatus("install", true, pkgdb.StateHalfInstalled)
		return rec
	}
	if old != nil {
		rec := *old
		rec.SetStatus("install", false, old.State())
		return &rec
	}
	return notInstalledRecord(w.name(), w.pkg.Architecture)
}

// abortUpgrade puts the old version of w back after its upgrade failed
// before the unpack: "old-postinst abort-upgrade NEW" leaves it as it was,
// or half-configured when that fails too. halfInstalled says the new
// postrm's abort-upgrade failed: dpkg then leaves the package
// half-installed and does not call the old postinst.
func (t *txn) abortUpgrade(ctx context.Context, w *work, halfInstalled bool) *pkgdb.Package {
	rec := *w.old
	if halfInstalled {
		rec.SetStatus("install", true, pkgdb.StateHalfInstalled)
		if w.old.Configured() {
			rec.ConfigVersion = w.old.Version // dpkg keeps what was configured
		}
		return &rec
	}
	rec.SetStatus("install", false, w.old.State())
	if s, ok := t.oldScripts[w.old.Key()]["postinst"]; ok {
		if t.runTemp(ctx, w.name(), w.old.Architecture, "postinst", s, "abort-upgrade", w.pkg.Version.String()) != nil {
			if w.old.Configured() {
				rec.ConfigVersion = w.old.Version
			}
			rec.SetStatus("install", false, pkgdb.StateHalfConfigured)
		}
	}
	return &rec
}

// abortRemove unwinds a failed "prerm remove" (Policy 6.8): "postinst
// abort-remove" leaves the package installed (and still selected for
// removal, as dpkg leaves it), or half-configured when it fails too.
func (t *txn) abortRemove(ctx context.Context, r *removal, err error) {
	rec := *r.rec
	want := "deinstall"
	if r.purge {
		want = "purge"
	}
	rec.SetStatus(want, false, r.rec.State())
	if s, ok := t.oldScripts[r.rec.Key()]["postinst"]; ok {
		if t.runTemp(ctx, r.rec.Name, r.rec.Architecture, "postinst", s, "abort-remove") != nil {
			if r.rec.Configured() {
				rec.ConfigVersion = r.rec.Version
			}
			rec.SetStatus(want, false, pkgdb.StateHalfConfigured)
		}
	}
	r.failed = true
	t.fail(&rec, err)
}

// postScripts runs what dpkg runs after unpacking: the old version's
// "postrm upgrade NEW", removals' "postrm remove" (and "postrm purge"),
// then "postinst configure OLD" with dependencies configured first, then
// the triggers the transaction fired (triggers.go). In bootstrap mode
// (the root had no shell) the preinst scripts run here, before any
// postinst. A failing script leaves its package in the state dpkg leaves
// it in (lifecycle.go); the others go on.
func (t *txn) postScripts(ctx context.Context, bootstrap bool) error {
	defer t.dropRemovedInfo()
	for _, w := range t.works {
		if w.old == nil || !w.old.IsInstalled() {
			continue
		}
		s, ok := t.oldScripts[w.old.Key()]["postrm"]
		if !ok {
			continue
		}
		newVer := w.pkg.Version.String()
		if err := t.runTemp(ctx, w.name(), w.old.Architecture, "postrm", s, "upgrade", newVer); err != nil {
			np := t.infoPath(t.record(w).InfoName(), "postrm")
			if _, serr := os.Stat(np); serr != nil || t.runScript(ctx, w.name(), w.pkg.Architecture, "postrm", np, "failed-upgrade", w.old.Version) != nil {
				rec := t.record(w)
				rec.SetStatus("install", true, pkgdb.StateHalfInstalled)
				w.failed = true
				t.fail(rec, err)
			}
		}
	}
	for _, r := range t.removes {
		s, ok := t.oldScripts[r.rec.Key()]["postrm"]
		if !ok {
			continue
		}
		want := "deinstall"
		if r.purge {
			want = "purge"
		}
		if r.rec.IsInstalled() {
			if err := t.runTemp(ctx, r.rec.Name, r.rec.Architecture, "postrm", s, "remove"); err != nil {
				// Policy 6.8: no unwinding; the package is half-installed.
				rec := *r.rec
				rec.Files, rec.Conffiles = nil, nil
				if r.rec.Configured() {
					rec.ConfigVersion = r.rec.Version
				}
				rec.SetStatus(want, false, pkgdb.StateHalfInstalled)
				r.failed = true
				t.fail(&rec, err)
				continue
			}
		}
		if r.purge {
			if err := t.runTemp(ctx, r.rec.Name, r.rec.Architecture, "postrm", s, "purge"); err != nil {
				rec := configFilesRecord(r.rec)
				rec.Files, rec.Conffiles, rec.ConfigVersion = nil, nil, ""
				rec.SetStatus(want, false, pkgdb.StateConfigFiles)
				r.failed = true
				t.fail(rec, err)
			}
		}
	}
	items := t.configureItems()
	if bootstrap {
		cleanup, err := t.busyboxFallback(ctx)
		if err != nil {
			return err
		}
		defer cleanup()
		for _, it := range items {
			if it.w == nil || it.w.failed {
				continue
			}
			if _, err := t.preinst(ctx, it.w); err != nil {
				// The files are unpacked already: what dpkg calls a
				// package that must be reinstalled.
				rec := t.record(it.w)
				rec.SetStatus("install", true, pkgdb.StateHalfInstalled)
				it.w.failed = true
				t.fail(rec, err)
			}
		}
	}
	t.configure(ctx, items)
	return t.runTriggers(ctx)
}

// dropRemovedInfo deletes the info files of removed packages once their
// postrm ran: everything for a purge, all but the list, conffiles and
// postrm (which a later purge needs) when conffiles stay. A removal whose
// postrm failed keeps its info files, as dpkg keeps them, with an empty
// list.
func (t *txn) dropRemovedInfo() {
	for _, r := range t.removes {
		if r.failed {
			// As dpkg: a failed postrm remove keeps every info file, a
			// failed postrm purge the list and the postrm.
			purgeFailed := t.final[r.rec.Key()] != nil && t.final[r.rec.Key()].State() == pkgdb.StateConfigFiles
			for _, ext := range infoExts {
				if purgeFailed && ext != "list" && ext != "postrm" {
					_ = t.st.rfs.remove(t.infoPath(r.rec.InfoName(), ext), false)
				}
			}
			_ = t.st.rfs.writeAtomic(t.infoPath(r.rec.InfoName(), "list"), nil, 0o644, t.opts.Sync)
			continue
		}
		keep := t.keepsConfigFiles(r)
		for _, ext := range infoExts {
			if keep && (ext == "list" || ext == "conffiles" || ext == "postrm") {
				continue
			}
			_ = t.st.rfs.remove(t.infoPath(r.rec.InfoName(), ext), false)
		}
		if keep {
			rc := configFilesRecord(r.rec)
			// Empty when nothing is left, as dpkg writes it (pkgdb.ListFile).
			_ = t.st.rfs.writeShrunk(t.infoPath(rc.InfoName(), "list"), pkgdb.ListFile(rc), 0o644, t.opts.Sync)
		}
	}
}

// keepsConfigFiles reports whether a removal (not a purge) leaves the
// package in dpkg's config-files state ("rc"): when it has conffiles, or
// a postrm that a later purge must run, as dpkg does.
func (t *txn) keepsConfigFiles(r *removal) bool {
	if r.purge || !r.rec.IsInstalled() {
		return false
	}
	if len(r.rec.Conffiles) > 0 {
		return true
	}
	_, ok := t.oldScripts[r.rec.Key()]["postrm"]
	return ok && !t.opts.NoScripts
}

// fallbackDir holds, during a bootstrap, links to busybox applets.
const fallbackDir = "var/lib/grey/tmp/busybox"

// busyboxFallback prepares a bootstrap's scripts. Maintainer scripts may
// assume every Essential package (coreutils and the like) is there, which
// a root being bootstrapped from a small closure does not have. When the
// root has busybox, its applets stand in for the missing commands,
// through links in a temporary directory placed last in the scripts' PATH
// and removed afterwards; nothing of it stays in the root.
func (t *txn) busyboxFallback(ctx context.Context) (func(), error) {
	if _, err := os.Stat(filepath.Join(t.root, "bin", "busybox")); err != nil {
		return func() {}, nil
	}
	// The links are made through the root's os.Root (inroot.go).
	var rfs *rootFS
	if t.st != nil && t.st.rfs != nil {
		rfs = t.st.rfs
	} else {
		r, err := openRootFS(t.root)
		if err != nil {
			return nil, err
		}
		rfs = r
	}
	done := func() {
		if t.st == nil || rfs != t.st.rfs {
			rfs.close()
		}
	}
	cmd := exec.CommandContext(ctx, "/bin/busybox", "--list")
	cmd.SysProcAttr = &syscall.SysProcAttr{Chroot: t.root}
	cmd.Dir = "/"
	out, err := cmd.Output()
	if err != nil {
		done()
		return nil, fmt.Errorf("list busybox applets in %s: %w", t.root, err)
	}
	dir := filepath.Join(rfs.host, fallbackDir)
	made := []string{}
	for d := fallbackDir; d != GreyStateDir && d != "."; d = path.Dir(d) {
		if _, err := rfs.root.Stat(d); err != nil {
			made = append(made, filepath.Join(rfs.host, d))
		}
	}
	if err := rfs.root.MkdirAll(fallbackDir, 0o755); err != nil {
		done()
		return nil, fmt.Errorf("busybox fallback: %w", rfs.named(err))
	}
	cleanup := func() {
		_ = rfs.removeAll(dir)
		for _, d := range made {
			_ = rfs.remove(d, true)
		}
		t.fallbackPath = ""
		done()
	}
	for _, applet := range strings.Fields(string(out)) {
		if strings.Contains(applet, "/") || t.inRootPath(applet) {
			continue
		}
		if err := rfs.symlink("/bin/busybox", filepath.Join(dir, applet)); err != nil {
			cleanup()
			return nil, fmt.Errorf("busybox fallback: %w", err)
		}
	}
	t.fallbackPath = "/" + fallbackDir
	return cleanup, nil
}

// inRootPath reports whether the root has a command called name in the
// directories of the scripts' PATH.
func (t *txn) inRootPath(name string) bool {
	for _, d := range []string{"usr/local/sbin", "usr/local/bin", "usr/sbin", "usr/bin", "sbin", "bin"} {
		if _, err := os.Lstat(filepath.Join(t.root, d, name)); err == nil {
			return true
		}
	}
	return false
}
