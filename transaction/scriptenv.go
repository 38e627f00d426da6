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
//
// Every access to the root goes through its os.Root and descriptors
// (rootFS, inroot.go): the mount points are made and opened by one name
// in a descriptor of their directory, never following a symlink there,
// and the file systems are attached to those descriptors with the mount
// API (fsopen, fsmount, move_mount): a writer in the root swapping /dev
// or /usr/sbin for a link meanwhile cannot lead a mount, a device node or
// the policy-rc.d file out of the root.
type scriptEnv struct {
	root    string
	rfs     *rootFS     // the root, opened in grey's mount namespace
	nsfs    *rootFS     // the root, opened in the scripts' namespace (mounts attach there)
	run     chan func() // run on the namespace's thread
	stop    chan struct{}
	stopped chan struct{}
	created []string // mount points made in the root (host paths), in creation order
	tmp     string   // host directory holding the policy-rc.d
}

// openScriptEnv sets up the script environment for root; close removes
// it. It needs root privileges, as chroot does.
func openScriptEnv(root string) (*scriptEnv, error) {
	e := &scriptEnv{root: root, run: make(chan func()), stop: make(chan struct{}), stopped: make(chan struct{})}
	fail := func(err error) (*scriptEnv, error) {
		e.removeCreated()
		e.nsfs.close()
		e.rfs.close()
		if e.tmp != "" {
			_ = os.RemoveAll(e.tmp)
		}
		return nil, fmt.Errorf("maintainer scripts' environment in %s: %w", root, err)
	}
	var err error
	if e.rfs, err = openRootFS(root); err != nil {
		return nil, err
	}
	// mountPoint makes the directory rel of the root (mode 0755) when
	// missing; a symlink or a file there is refused.
	mountPoint := func(rel string) error {
		host := filepath.Join(e.rfs.host, rel)
		st, err := e.rfs.lstat(host)
		switch {
		case err == nil && st.Mode&unix.S_IFMT == unix.S_IFDIR:
			return nil
		case err == nil:
			return fmt.Errorf("/%s is not a plain directory", rel)
		case !errors.Is(err, fs.ErrNotExist):
			return err
		}
		if err := e.rfs.mkdir(host); err != nil {
			return err
		}
		e.created = append(e.created, host)
		fd, err := mountFD(e.rfs, rel)
		if err != nil {
			return err
		}
		defer unix.Close(fd)
		if err := unix.Fchmod(fd, 0o755); err != nil {
			return &os.PathError{Op: "chmod", Path: host, Err: err}
		}
		return nil
	}
	if err := mountPoint("dev"); err != nil {
		return fail(err)
	}
	if err := mountPoint("proc"); err != nil {
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
	go e.thread(ready)
	if err := <-ready; err != nil {
		<-e.stopped
		return fail(err)
	}
	return e, nil
}

// thread owns the OS thread whose mount namespace the scripts share. It
// never unlocks the thread: when it returns, Go ends the thread, and the
// namespace and its mounts go with it.
func (e *scriptEnv) thread(ready chan<- error) {
	defer close(e.stopped)
	runtime.LockOSThread()
	if err := e.mount(); err != nil {
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

// newMount makes a detached mount of a new file system of type fstype
// with the options opts ("key", "value" pairs) and mount attributes
// attrs, and returns its descriptor.
func newMount(fstype string, attrs int, opts ...string) (int, error) {
	fsfd, err := unix.Fsopen(fstype, unix.FSOPEN_CLOEXEC)
	if err != nil {
		return -1, fmt.Errorf("fsopen %s: %w", fstype, err)
	}
	defer unix.Close(fsfd)
	for i := 0; i+1 < len(opts); i += 2 {
		if err := unix.FsconfigSetString(fsfd, opts[i], opts[i+1]); err != nil {
			return -1, fmt.Errorf("%s option %s=%s: %w", fstype, opts[i], opts[i+1], err)
		}
	}
	if err := unix.FsconfigCreate(fsfd); err != nil {
		return -1, fmt.Errorf("create %s: %w", fstype, err)
	}
	mfd, err := unix.Fsmount(fsfd, unix.FSMOUNT_CLOEXEC, attrs)
	if err != nil {
		return -1, fmt.Errorf("fsmount %s: %w", fstype, err)
	}
	return mfd, nil
}

// attach attaches the detached mount mfd on the directory or file the
// descriptor target refers to.
func attach(mfd, target int) error {
	return unix.MoveMount(mfd, "", target, "", unix.MOVE_MOUNT_F_EMPTY_PATH|unix.MOVE_MOUNT_T_EMPTY_PATH)
}

// mountFD opens the directory rel (one name) of the root r, not
// following a symlink there.
func mountFD(r *rootFS, rel string) (int, error) {
	host := filepath.Join(r.host, rel)
	dfd, name, err := r.at(host)
	if err != nil {
		return -1, err
	}
	fd, err := unix.Openat(dfd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, &os.PathError{Op: "open", Path: host, Err: err}
	}
	return fd, nil
}

// mount mounts a tmpfs holding the device nodes on the root's /dev and
// proc on its /proc, each on a descriptor of its directory opened in the
// new namespace (a descriptor opened before it names the mount in grey's
// namespace, where move_mount cannot attach). The tmpfs is filled before
// it is attached, by names in its own descriptor.
func (e *scriptEnv) mount() error {
	if err := unix.Unshare(unix.CLONE_NEWNS); err != nil {
		return fmt.Errorf("new mount namespace: %w", err)
	}
	// Nothing mounted here may reach the host's namespace.
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("make mounts private: %w", err)
	}
	var err error
	if e.nsfs, err = openRootFS(e.root); err != nil {
		return err
	}
	dev, err := mountFD(e.nsfs, "dev")
	if err != nil {
		return fmt.Errorf("mount /dev: %w", err)
	}
	defer unix.Close(dev)
	proc, err := mountFD(e.nsfs, "proc")
	if err != nil {
		return fmt.Errorf("mount /proc: %w", err)
	}
	defer unix.Close(proc)
	tmp, err := newMount("tmpfs", unix.MOUNT_ATTR_NOSUID|unix.MOUNT_ATTR_NOEXEC, "mode", "0755", "size", "1m")
	if err != nil {
		return fmt.Errorf("mount /dev: %w", err)
	}
	defer unix.Close(tmp)
	for _, d := range scriptDevs {
		if err := unix.Mknodat(tmp, d.name, unix.S_IFCHR|0o666, int(unix.Mkdev(d.major, d.minor))); err != nil {
			return fmt.Errorf("mknod /dev/%s: %w", d.name, err)
		}
		if err := unix.Fchmodat(tmp, d.name, 0o666, 0); err != nil { // mknod's mode went through the umask
			return fmt.Errorf("chmod /dev/%s: %w", d.name, err)
		}
	}
	for _, l := range scriptDevLinks {
		if err := unix.Symlinkat(l[1], tmp, l[0]); err != nil {
			return fmt.Errorf("symlink /dev/%s: %w", l[0], err)
		}
	}
	for _, d := range []string{"pts", "shm"} {
		if err := unix.Mkdirat(tmp, d, 0o755); err != nil {
			return fmt.Errorf("mkdir /dev/%s: %w", d, err)
		}
	}
	if err := attach(tmp, dev); err != nil {
		return fmt.Errorf("mount /dev: %w", err)
	}
	pfd, err := newMount("proc", unix.MOUNT_ATTR_NOSUID|unix.MOUNT_ATTR_NODEV|unix.MOUNT_ATTR_NOEXEC)
	if err != nil {
		return fmt.Errorf("mount /proc: %w", err)
	}
	defer unix.Close(pfd)
	if err := attach(pfd, proc); err != nil {
		return fmt.Errorf("mount /proc: %w", err)
	}
	return nil
}

// withPolicyRcD runs f with grey's policy-rc.d mounted on the root's
// /usr/sbin/policy-rc.d, unless the root has its own (the admin's
// decides) or no /usr/sbin. It runs on the namespace's thread. The
// empty file to mount on is created by name in a descriptor of
// /usr/sbin opened through the root's os.Root, and the bind mount is
// attached to its descriptor.
func (e *scriptEnv) withPolicyRcD(f func() error) error {
	r := e.nsfs
	// /usr/sbin as the chrooted scripts see it (a link there is followed
	// inside the root, never out of it).
	sbin, err := r.resolve("usr/sbin", true)
	if err != nil || !r.isDir(sbin) {
		return f()
	}
	p := filepath.Join(sbin, "policy-rc.d")
	if _, err := r.lstat(p); !errors.Is(err, fs.ErrNotExist) {
		return f()
	}
	mp, err := r.create(p)
	if err != nil {
		return fmt.Errorf("maintainer scripts' environment: %w", err)
	}
	defer func() { _ = r.remove(p, false) }()
	defer mp.Close()
	if err := mp.Chmod(0o644); err != nil {
		return fmt.Errorf("maintainer scripts' environment: %w", err)
	}
	src, err := unix.OpenTree(unix.AT_FDCWD, filepath.Join(e.tmp, "policy-rc.d"), unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC)
	if err != nil {
		return fmt.Errorf("maintainer scripts' environment: bind policy-rc.d: %w", err)
	}
	defer unix.Close(src)
	if err := attach(src, int(mp.Fd())); err != nil {
		return fmt.Errorf("maintainer scripts' environment: mount policy-rc.d: %w", err)
	}
	// The attached mount's root is what src refers to now: unmounted by
	// that, not by a path in the root.
	defer func() { _ = unix.Unmount(fmt.Sprintf("/proc/self/fd/%d", src), unix.MNT_DETACH) }()
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
	e.nsfs.close()
	e.rfs.close()
	return err
}

// removeCreated removes the mount points made in the root (empty
// directories), by name in their directory's descriptor.
func (e *scriptEnv) removeCreated() error {
	var errs []error
	for _, p := range slices.Backward(e.created) {
		st, err := e.rfs.lstat(p)
		if err != nil {
			continue
		}
		if err := e.rfs.remove(p, st.Mode&unix.S_IFMT == unix.S_IFDIR); err != nil && st.Mode&unix.S_IFMT != unix.S_IFDIR {
			errs = append(errs, err)
		}
	}
	e.created = nil
	return errors.Join(errs...)
}
