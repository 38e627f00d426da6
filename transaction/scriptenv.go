package transaction

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"

	"golang.org/x/sys/unix"
)

// policyRcD is the policy-rc.d that maintainer scripts find in a root that
// is not "/": invoke-rc.d and deb-systemd-invoke ask it before starting or
// stopping a service, and 101 ("action forbidden") means never, so that
// installing into an image or a chroot starts no daemon.
const policyRcD = "#!/bin/sh\n# grey: no service starts in a root that is not /.\nexit 101\n"

// devNode is a device node maintainer scripts expect in /dev.
type devNode struct {
	name         string
	major, minor uint32
}

// scriptDevs are the nodes mmdebstrap gives a chroot (character devices,
// mode 0666, as on every Linux system).
var scriptDevs = []devNode{
	{"null", 1, 3}, {"zero", 1, 5}, {"full", 1, 7},
	{"random", 1, 8}, {"urandom", 1, 9}, {"tty", 5, 0},
}

// scriptDevLinks are /dev's links to /proc that scripts use (mmdebstrap
// makes the same ones).
var scriptDevLinks = [][2]string{
	{"fd", "/proc/self/fd"},
	{"stdin", "/proc/self/fd/0"},
	{"stdout", "/proc/self/fd/1"},
	{"stderr", "/proc/self/fd/2"},
}

// scriptEnv runs maintainer scripts chrooted in a root that is not "/",
// with what they expect of a running system, as mmdebstrap gives its
// chroot: /dev with null, zero, full, random, urandom, tty and the fd
// links; /proc; and a policy-rc.d that forbids starting services.
//
// None of it is written into the root. The scripts run from one OS
// thread that has its own mount namespace: there, a tmpfs holding the
// device nodes is mounted on the root's /dev, proc on its /proc, and,
// while each script runs, the policy-rc.d is bind-mounted on
// /usr/sbin/policy-rc.d. Nobody outside sees these mounts, and they
// vanish with the thread (and with grey, if it is killed). What a script
// writes in /dev stays in the tmpfs. The root only gets the empty
// directories to mount on when it lacks them, removed by close, and,
// while a script runs, an empty policy-rc.d file to mount on (an empty,
// non-executable file, which invoke-rc.d ignores, if grey is killed then).
type scriptEnv struct {
	root    string
	run     chan func() // run on the namespace's thread
	stop    chan struct{}
	stopped chan struct{}
	created []string // mount points made in the root, in creation order
	tmp     string   // host directory holding the policy-rc.d
}

// openScriptEnv sets up the script environment for root; close removes
// it. It needs root privileges, as chroot does.
func openScriptEnv(root string) (*scriptEnv, error) {
	e := &scriptEnv{root: root, run: make(chan func()), stop: make(chan struct{}), stopped: make(chan struct{})}
	fail := func(err error) (*scriptEnv, error) {
		e.removeCreated()
		if e.tmp != "" {
			_ = os.RemoveAll(e.tmp)
		}
		return nil, fmt.Errorf("maintainer scripts' environment in %s: %w", root, err)
	}
	mountPoint := func(rel string, dir bool) (string, error) {
		p := filepath.Join(root, rel)
		fi, err := os.Lstat(p)
		switch {
		case err == nil && fi.IsDir() == dir && fi.Mode()&fs.ModeSymlink == 0:
			return p, nil
		case err == nil:
			return "", fmt.Errorf("/%s is not a plain %s", rel, map[bool]string{true: "directory", false: "file"}[dir])
		case !errors.Is(err, fs.ErrNotExist):
			return "", err
		}
		if dir {
			err = os.Mkdir(p, 0o755)
		} else {
			var f *os.File
			if f, err = os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644); err == nil {
				err = f.Close()
			}
		}
		if err != nil {
			return "", err
		}
		e.created = append(e.created, p)
		return p, nil
	}
	dev, err := mountPoint("dev", true)
	if err != nil {
		return fail(err)
	}
	proc, err := mountPoint("proc", true)
	if err != nil {
		return fail(err)
	}
	if e.tmp, err = os.MkdirTemp("", "grey-policy-rc.d-"); err != nil {
		return fail(err)
	}
	if err := os.WriteFile(filepath.Join(e.tmp, "policy-rc.d"), []byte(policyRcD), 0o755); err != nil {
		return fail(err)
	}
	if err := os.Chmod(filepath.Join(e.tmp, "policy-rc.d"), 0o755); err != nil {
		return fail(err)
	}
	ready := make(chan error)
	go e.thread(ready, dev, proc)
	if err := <-ready; err != nil {
		<-e.stopped
		return fail(err)
	}
	return e, nil
}

// thread owns the OS thread whose mount namespace the scripts share. It
// never unlocks the thread: when it returns, Go ends the thread, and the
// namespace and its mounts go with it.
func (e *scriptEnv) thread(ready chan<- error, dev, proc string) {
	defer close(e.stopped)
	runtime.LockOSThread()
	if err := e.mount(dev, proc); err != nil {
		ready <- err
		return
	}
	ready <- nil
	for {
		select {
		case f := <-e.run:
			f()
		case <-e.stop:
			return
		}
	}
}

func (e *scriptEnv) mount(dev, proc string) error {
	if err := unix.Unshare(unix.CLONE_NEWNS); err != nil {
		return fmt.Errorf("new mount namespace: %w", err)
	}
	// Nothing mounted here may reach the host's namespace.
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("make mounts private: %w", err)
	}
	if err := unix.Mount("tmpfs", dev, "tmpfs", unix.MS_NOSUID|unix.MS_NOEXEC, "mode=0755,size=1m"); err != nil {
		return fmt.Errorf("mount /dev: %w", err)
	}
	for _, d := range scriptDevs {
		p := filepath.Join(dev, d.name)
		if err := unix.Mknod(p, unix.S_IFCHR|0o666, int(unix.Mkdev(d.major, d.minor))); err != nil {
			return fmt.Errorf("mknod /dev/%s: %w", d.name, err)
		}
		if err := unix.Chmod(p, 0o666); err != nil { // mknod's mode went through the umask
			return fmt.Errorf("chmod /dev/%s: %w", d.name, err)
		}
	}
	for _, l := range scriptDevLinks {
		if err := os.Symlink(l[1], filepath.Join(dev, l[0])); err != nil {
			return err
		}
	}
	for _, d := range []string{"pts", "shm"} {
		if err := os.Mkdir(filepath.Join(dev, d), 0o755); err != nil {
			return err
		}
	}
	if err := unix.Mount("proc", proc, "proc", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
		return fmt.Errorf("mount /proc: %w", err)
	}
	return nil
}

// withPolicyRcD runs f with grey's policy-rc.d mounted on the root's
// /usr/sbin/policy-rc.d, unless the root has its own (the admin's
// decides) or no /usr/sbin. It runs on the namespace's thread.
func (e *scriptEnv) withPolicyRcD(f func() error) error {
	p := filepath.Join(e.root, "usr/sbin/policy-rc.d")
	if fi, err := os.Stat(filepath.Dir(p)); err != nil || !fi.IsDir() {
		return f()
	}
	if _, err := os.Lstat(p); !errors.Is(err, fs.ErrNotExist) {
		return f()
	}
	mp, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return fmt.Errorf("maintainer scripts' environment: %w", err)
	}
	_ = mp.Close()
	defer os.Remove(p)
	if err := unix.Mount(filepath.Join(e.tmp, "policy-rc.d"), p, "", unix.MS_BIND, ""); err != nil {
		return fmt.Errorf("maintainer scripts' environment: mount policy-rc.d: %w", err)
	}
	defer func() { _ = unix.Unmount(p, unix.MNT_DETACH) }()
	return f()
}

// runCmd runs cmd from the namespace's thread, so that it starts in the
// namespace, with grey's policy-rc.d, and waits for it.
func (e *scriptEnv) runCmd(cmd *exec.Cmd) error {
	errc := make(chan error, 1)
	select {
	case e.run <- func() { errc <- e.withPolicyRcD(cmd.Run) }:
	case <-e.stopped:
		return errors.New("maintainer scripts' environment is closed")
	}
	return <-errc
}

// close ends the namespace (and so its mounts) and removes the mount
// points it made in the root. A directory it made stays when something
// else was put in it since.
func (e *scriptEnv) close() error {
	if e == nil {
		return nil
	}
	close(e.stop)
	<-e.stopped
	err := e.removeCreated()
	if e.tmp != "" {
		_ = os.RemoveAll(e.tmp)
	}
	return err
}

func (e *scriptEnv) removeCreated() error {
	var errs []error
	for _, p := range slices.Backward(e.created) {
		fi, err := os.Lstat(p)
		if err != nil {
			continue
		}
		if err := os.Remove(p); err != nil && !fi.IsDir() {
			errs = append(errs, err)
		}
	}
	e.created = nil
	return errors.Join(errs...)
}
