package apps

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
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
	// sysctl is where the user-namespace switches are read (tests).
	sysctl string
}

// RunCommand returns the bwrap command that runs the current generation of
// app name: its root bound read-only as /, /proc, /dev, a tmpfs on /tmp,
// the home directory and the host's /etc/resolv.conf bound in.
func (a *Apps) RunCommand(name string, o RunOptions) (*exec.Cmd, error) {
	root, m, err := a.CurrentRoot(name)
	if err != nil {
		return nil, err
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
	args = append(args, "--", target)
	args = append(args, o.Args...)
	return exec.Command(bw, args...), nil
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
