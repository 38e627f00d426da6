package transaction

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/greypm/grey/deb/relation"
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
	dir := filepath.Join(t.root, scriptTmpDir)
	made := false
	if _, err := os.Stat(dir); err != nil {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("script directory: %w", err)
		}
		made = true
	}
	p := filepath.Join(dir, pkg+"."+script)
	if err := os.WriteFile(p, data, 0o755); err != nil {
		return fmt.Errorf("write %s %s: %w", pkg, script, err)
	}
	err := t.runScript(ctx, pkg, arch, script, p, args...)
	_ = os.Remove(p)
	if made {
		_ = os.Remove(dir)
	}
	return err
}

// preScripts runs, before the commit, what dpkg runs before unpacking:
// prerm remove for removals (dependents first), then for each package to
// install the old version's "prerm upgrade NEW" and the new
// "preinst install" or "preinst upgrade OLD".
func (t *txn) preScripts(ctx context.Context) error {
	for i := len(t.removes) - 1; i >= 0; i-- {
		r := t.removes[i]
		if !r.rec.IsInstalled() {
			continue
		}
		if s, ok := t.oldScripts[r.rec.Name]["prerm"]; ok {
			if err := t.runTemp(ctx, r.rec.Name, r.rec.Architecture, "prerm", s, "remove"); err != nil {
				return err
			}
		}
	}
	for _, w := range t.works {
		if err := t.preinst(ctx, w); err != nil {
			return err
		}
	}
	return nil
}

// preinst runs the old prerm (on upgrade) and the new preinst of w.
func (t *txn) preinst(ctx context.Context, w *work) error {
	newVer := w.pkg.Version.String()
	upgrading := w.old != nil && w.old.IsInstalled()
	if upgrading {
		if s, ok := t.oldScripts[w.name()]["prerm"]; ok {
			if err := t.runTemp(ctx, w.name(), w.pkg.Architecture, "prerm", s, "upgrade", newVer); err != nil {
				return err
			}
		}
	}
	cf := w.ctl.File("preinst")
	if cf == nil {
		return nil
	}
	args := []string{"install"}
	switch {
	case upgrading:
		args = []string{"upgrade", w.old.Version}
	case w.old != nil: // config-files left from an earlier removal
		args = []string{"install", w.old.Version}
	}
	return t.runTemp(ctx, w.name(), w.pkg.Architecture, "preinst", cf.Data, args...)
}

// postScripts runs what dpkg runs after unpacking: the old version's
// "postrm upgrade NEW", removals' "postrm remove" (and "postrm purge"),
// then "postinst configure OLD" with dependencies configured first, then
// the triggers the transaction fired (triggers.go). In
// bootstrap mode (the root had no shell) the preinst scripts run here,
// before any postinst.
func (t *txn) postScripts(ctx context.Context, bootstrap bool) error {
	defer t.dropRemovedInfo()
	for _, w := range t.works {
		if w.old == nil || !w.old.IsInstalled() {
			continue
		}
		if s, ok := t.oldScripts[w.name()]["postrm"]; ok {
			if err := t.runTemp(ctx, w.name(), w.pkg.Architecture, "postrm", s, "upgrade", w.pkg.Version.String()); err != nil {
				return err
			}
		}
	}
	for _, r := range t.removes {
		s, ok := t.oldScripts[r.rec.Name]["postrm"]
		if !ok {
			continue
		}
		if r.rec.IsInstalled() {
			if err := t.runTemp(ctx, r.rec.Name, r.rec.Architecture, "postrm", s, "remove"); err != nil {
				return err
			}
		}
		if r.purge {
			if err := t.runTemp(ctx, r.rec.Name, r.rec.Architecture, "postrm", s, "purge"); err != nil {
				return err
			}
		}
	}
	order := configureOrder(t.works)
	if bootstrap {
		cleanup, err := t.busyboxFallback(ctx)
		if err != nil {
			return err
		}
		defer cleanup()
		for _, w := range order {
			if err := t.preinst(ctx, w); err != nil {
				return err
			}
		}
	}
	done := 0
	for _, w := range order {
		t.progress("configure", w.name(), &done)
		if w.ctl.File("postinst") == nil {
			continue
		}
		old := ""
		if w.old != nil && w.old.IsInstalled() {
			old = w.old.Version
		}
		rec := t.record(w)
		if err := t.runScript(ctx, w.name(), w.pkg.Architecture, "postinst", t.infoPath(rec.InfoName(), "postinst"), "configure", old); err != nil {
			return err
		}
	}
	return t.runTriggers(ctx)
}

// dropRemovedInfo deletes the info files of removed packages once their
// postrm ran: everything for a purge, all but the list, conffiles and
// postrm (which a later purge needs) when conffiles stay.
func (t *txn) dropRemovedInfo() {
	for _, r := range t.removes {
		keep := !r.purge && len(r.rec.Conffiles) > 0
		for _, ext := range infoExts {
			if keep && (ext == "list" || ext == "conffiles" || ext == "postrm") {
				continue
			}
			_ = os.Remove(t.infoPath(r.rec.InfoName(), ext))
		}
		if keep {
			rc := configFilesRecord(r.rec)
			_ = writeAtomic(t.infoPath(rc.InfoName(), "list"), pkgdb.ListFile(rc), 0o644, t.opts.Sync)
		}
	}
}

// configureOrder sorts the packages so that each comes after the ones it
// depends on (Depends and Pre-Depends among this transaction's packages);
// cycles are broken in plan order.
func configureOrder(works []*work) []*work {
	byName := map[string]*work{}
	for _, w := range works {
		byName[w.name()] = w
	}
	state := map[*work]int{} // 0 new, 1 visiting, 2 done
	var out []*work
	var visit func(w *work)
	visit = func(w *work) {
		if state[w] != 0 {
			return
		}
		state[w] = 1
		for _, dep := range [][]relation.Relation{w.pkg.PreDepends, w.pkg.Depends} {
			for _, rel := range dep {
				for _, p := range rel {
					if d, ok := byName[p.Name]; ok {
						visit(d)
					}
				}
			}
		}
		state[w] = 2
		out = append(out, w)
	}
	for _, w := range works {
		visit(w)
	}
	return out
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
	cmd := exec.CommandContext(ctx, "/bin/busybox", "--list")
	cmd.SysProcAttr = &syscall.SysProcAttr{Chroot: t.root}
	cmd.Dir = "/"
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("list busybox applets in %s: %w", t.root, err)
	}
	dir := filepath.Join(t.root, fallbackDir)
	made := []string{}
	for d := dir; d != filepath.Join(t.root, "var/lib/grey"); d = filepath.Dir(d) {
		if _, err := os.Stat(d); err != nil {
			made = append(made, d)
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("busybox fallback: %w", err)
	}
	cleanup := func() {
		_ = os.RemoveAll(dir)
		for _, d := range made {
			_ = os.Remove(d)
		}
		t.fallbackPath = ""
	}
	for _, applet := range strings.Fields(string(out)) {
		if strings.Contains(applet, "/") || t.inRootPath(applet) {
			continue
		}
		if err := os.Symlink("/bin/busybox", filepath.Join(dir, applet)); err != nil {
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
