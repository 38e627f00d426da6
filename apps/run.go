package apps

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// NoUserNamespacesError says the kernel does not let this user make the
// namespaces bubblewrap needs.
type NoUserNamespacesError struct{ Reason string }

func (e *NoUserNamespacesError) Error() string {
	return "cannot run the app: unprivileged user namespaces are not available (" + e.Reason + "); enable them (sysctl user.max_user_namespaces, kernel.unprivileged_userns_clone=1) or run as root"
}

// RunOptions say how to start an app.
type RunOptions struct {
	// Command overrides the app's command (a path inside the root, or a
	// name looked up in /usr/bin, /bin, /usr/sbin, /sbin, /usr/games).
	Command string
	Args    []string
	// Home is bound read-write at the same path ("" = none).
	Home string
	// Bwrap is the bubblewrap binary; "" looks up "bwrap" in PATH.
	Bwrap string
	// StateDir holds the app's writable state: StateDir/N/etc and
	// StateDir/N/var are private copies of generation N's /etc and /var,
	// made at its first run and bound read-write over them (the root
	// itself stays read-only). "" binds /etc and /var read-only.
	// StateDirOf gives the one for root.
	StateDir string
	// Env is the environment the app is started from (os.Environ() for
	// the command line): bwrap runs with it, and the display and sound
	// sockets it names are bound in (sessionArgs). nil: bwrap inherits
	// grey's environment and no socket is bound.
	Env []string
	// NoDisplay leaves out the Wayland and X11 sockets (and unsets
	// WAYLAND_DISPLAY, DISPLAY and XAUTHORITY inside).
	NoDisplay bool
	// NoSound leaves out the PulseAudio and PipeWire sockets (and unsets
	// PULSE_SERVER inside).
	NoSound bool
	// sysctl is where the user-namespace switches are read (tests).
	sysctl string
	// x11Dir is where X11 sockets are looked for ("" = /tmp/.X11-unix;
	// tests).
	x11Dir string
}

// RunCommand returns the bwrap command that runs the current generation of
// app name: its root bound read-only as /, /proc, /dev, a tmpfs on /tmp,
// the home directory, the host's /etc/resolv.conf and the display and
// sound sockets o.Env names (sessionArgs) bound in.
func (a *Apps) RunCommand(name string, o RunOptions) (*exec.Cmd, error) {
	root, m, err := a.CurrentRoot(name)
	if err != nil {
		return nil, err
	}
	// A shared file written outside grey is refused before it runs.
	damage, _, err := a.CheckGeneration(name, m.Generation)
	if err != nil {
		return nil, err
	}
	if len(damage) > 0 {
		return nil, &DamagedError{Name: name, Generation: m.Generation, Damage: damage}
	}
	var state string
	if o.StateDir != "" {
		if state, err = ensureState(root, filepath.Join(o.StateDir, strconv.Itoa(m.Generation))); err != nil {
			return nil, fmt.Errorf("app %s: writable state: %w", name, err)
		}
	}
	prog := o.Command
	if prog == "" {
		prog = m.Command
	}
	if prog == "" {
		prog = name
	}
	target, err := findCommand(root, prog)
	if err != nil {
		return nil, fmt.Errorf("app %s: %w", name, err)
	}
	bw := o.Bwrap
	if bw == "" {
		if bw, err = exec.LookPath("bwrap"); err != nil {
			return nil, errors.New("cannot run the app: bwrap not found (install the Debian package bubblewrap)")
		}
	}
	if os.Geteuid() != 0 {
		if err := checkUserNS(o.sysctl); err != nil {
			return nil, err
		}
	}
	args := []string{
		"--ro-bind", root, "/",
		"--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp", "--tmpfs", "/run",
		"--unshare-pid", "--die-with-parent",
		"--setenv", "PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
	}
	if state != "" {
		args = append(args, "--bind", filepath.Join(state, "etc"), "/etc", "--bind", filepath.Join(state, "var"), "/var")
	}
	if _, err := os.Stat("/etc/resolv.conf"); err == nil {
		args = append(args, "--ro-bind", "/etc/resolv.conf", "/etc/resolv.conf")
	}
	if h := filepath.Clean(o.Home); o.Home != "" && h != "/" {
		if fi, err := os.Stat(h); err == nil && fi.IsDir() {
			parent := filepath.Dir(h)
			if parent != "/" {
				// The home's parent becomes a tmpfs so the mount point
				// can be made without writing into the read-only root.
				args = append(args, "--tmpfs", parent)
			}
			args = append(args, "--bind", h, h, "--chdir", h, "--setenv", "HOME", h)
		}
	}
	args = append(args, sessionArgs(session{
		env: envMap(o.Env), uid: os.Getuid(), x11Dir: o.x11Dir, noDisplay: o.NoDisplay, noSound: o.NoSound,
	})...)
	args = append(args, "--", target)
	args = append(args, o.Args...)
	cmd := exec.Command(bw, args...)
	if o.Env != nil {
		cmd.Env = o.Env
	}
	return cmd, nil
}

// findCommand resolves prog to a path inside root.
func findCommand(root, prog string) (string, error) {
	if strings.Contains(prog, "/") {
		p := path.Clean("/" + prog)
		if _, err := os.Lstat(filepath.Join(root, p)); err != nil {
			return "", fmt.Errorf("no %s in the app root", p)
		}
		return p, nil
	}
	for _, d := range []string{"/usr/bin", "/bin", "/usr/sbin", "/sbin", "/usr/games"} {
		p := path.Join(d, prog)
		if _, err := os.Lstat(filepath.Join(root, p)); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("no program %s in the app root (give one with --command)", prog)
}

// checkUserNS reports whether the kernel's switches forbid unprivileged
// user namespaces.
func checkUserNS(sysctl string) error {
	if sysctl == "" {
		sysctl = "/proc/sys"
	}
	if b, err := os.ReadFile(filepath.Join(sysctl, "user", "max_user_namespaces")); err == nil && strings.TrimSpace(string(b)) == "0" {
		return &NoUserNamespacesError{Reason: "user.max_user_namespaces is 0"}
	}
	if b, err := os.ReadFile(filepath.Join(sysctl, "kernel", "unprivileged_userns_clone")); err == nil && strings.TrimSpace(string(b)) == "0" {
		return &NoUserNamespacesError{Reason: "kernel.unprivileged_userns_clone is 0"}
	}
	return nil
}

// StateDirOf is where root keeps the writable state of app name:
// NAME/state beside its generations (RunOptions.StateDir).
func (a *Apps) StateDirOf(name string) string { return filepath.Join(a.appDir(name), "state") }

// ensureState returns dir, holding private copies of root's /etc and
// /var, made now when it does not exist yet (in a temporary directory
// renamed into place, so a half-made copy is never used). Files the
// caller cannot read are left out of the copy.
func ensureState(root, dir string) (string, error) {
	if fi, err := os.Stat(dir); err == nil && fi.IsDir() {
		return dir, nil
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return "", err
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dir), ".new-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	if err := os.Chmod(tmp, 0o755); err != nil {
		return "", err
	}
	for _, d := range []string{"etc", "var"} {
		if err := copyTree(filepath.Join(root, d), filepath.Join(tmp, d)); err != nil {
			return "", err
		}
	}
	if err := os.Rename(tmp, dir); err != nil {
		if fi, serr := os.Stat(dir); serr == nil && fi.IsDir() {
			return dir, nil // made meanwhile by another run
		}
		return "", err
	}
	return dir, nil
}

// copyTree copies the directory src to dst: directories, regular files
// (new inodes, never links: the copy is written to) and symlinks, with
// their modes, times and, as root, owners.
func copyTree(src, dst string) error {
	root := os.Geteuid() == 0
	type dirTime struct {
		path string
		t    time.Time
		mode uint32
	}
	var dirs []dirTime
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p != src && errors.Is(err, fs.ErrPermission) {
				return filepath.SkipDir
			}
			return err
		}
		rel, _ := filepath.Rel(src, p)
		out := filepath.Join(dst, rel)
		fi, err := d.Info()
		if err != nil {
			return err
		}
		st := fi.Sys().(*syscall.Stat_t)
		switch {
		case fi.IsDir():
			if err := os.Mkdir(out, 0o700); err != nil {
				return err
			}
			dirs = append(dirs, dirTime{out, fi.ModTime(), st.Mode & 0o7777})
		case fi.Mode().IsRegular():
			in, err := os.Open(p)
			if errors.Is(err, fs.ErrPermission) {
				return nil
			}
			if err != nil {
				return err
			}
			f, err := os.OpenFile(out, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
			if err == nil {
				_, err = io.Copy(f, in)
				if cerr := f.Close(); err == nil {
					err = cerr
				}
			}
			in.Close()
			if err != nil {
				return err
			}
			if err := os.Chtimes(out, fi.ModTime(), fi.ModTime()); err != nil {
				return err
			}
		case fi.Mode()&fs.ModeSymlink != 0:
			l, err := os.Readlink(p)
			if err != nil {
				return err
			}
			if err := os.Symlink(l, out); err != nil {
				return err
			}
		default:
			return nil // sockets, fifos, devices: not state to copy
		}
		if root {
			if err := os.Lchown(out, int(st.Uid), int(st.Gid)); err != nil {
				return err
			}
		}
		if fi.Mode().IsRegular() {
			return syscall.Chmod(out, st.Mode&0o7777)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("copy %s: %w", src, err)
	}
	// Directories last, deepest first: a read-only one is filled first.
	for i := len(dirs) - 1; i >= 0; i-- {
		if err := syscall.Chmod(dirs[i].path, dirs[i].mode); err != nil {
			return fmt.Errorf("copy %s: %w", src, err)
		}
		os.Chtimes(dirs[i].path, dirs[i].t, dirs[i].t)
	}
	return nil
}
