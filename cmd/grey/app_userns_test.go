package main

import (
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/greypm/grey/internal/testfixture"
)

// testGreyEnv, set to 1 in its environment, makes the test binary run
// grey's command line (run) instead of the tests: another user runs grey
// through a copy of it (testGrey) without a go build.
const testGreyEnv = "GREY_TEST_AS_GREY"

func init() {
	if os.Getenv(testGreyEnv) == "1" {
		os.Exit(run(context.Background(), os.Args[1:], os.Stdin, os.Stdout, os.Stderr, time.Now))
	}
}

// testGrey returns a copy of the test binary that every user may run,
// which is grey when testGreyEnv=1 is in its environment.
func testGrey(t *testing.T) string {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	in, err := os.Open(exe)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	bin := filepath.Join(t.TempDir(), "grey")
	out, err := os.OpenFile(bin, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
	return bin
}

// TestAppRunWithoutUserNamespaces: where the kernel forbids user
// namespaces, "grey app run" as an unprivileged user fails with a clear
// error naming the switch, before bubblewrap runs. The kernel's switch
// is real: the built grey runs as nobody inside a user namespace (uids
// and gids 0-65535 mapped to themselves) whose user.max_user_namespaces
// is set to 0, which is per user namespace, so the host's stays as it
// is; bwrap itself fails there too. grey is the test binary
// (testGrey).
func TestAppRunWithoutUserNamespaces(t *testing.T) {
	testfixture.AppCommands(t)
	root := t.TempDir()
	if code, out, errOut := greyAt(t, testfixture.Clock, "--root", root, "app", "install", "--command", "/usr/lib/libgreet/libgreet.so.1", "x", buildLib(t, "1.0")); code != 0 {
		t.Fatalf("app install: %d %q %s", code, out, errOut)
	}
	bin := testGrey(t)
	home := nobodyCanRun(t, filepath.Dir(bin), root)
	setpriv := testfixture.Tool(t, "setpriv", "util-linux")
	bwrap := testfixture.Tool(t, "bwrap", "bubblewrap")
	inNS := func(args ...string) (string, error) {
		t.Helper()
		c := exec.Command("/bin/sh", append([]string{"-c",
			`echo 0 > /proc/sys/user/max_user_namespaces && exec "$0" --reuid=65534 --regid=65534 --clear-groups "$@"`, setpriv}, args...)...)
		c.Env = []string{"HOME=" + home, "PATH=/usr/bin:/bin", testGreyEnv + "=1"}
		ids := []syscall.SysProcIDMap{{ContainerID: 0, HostID: 0, Size: 65536}}
		c.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWUSER, UidMappings: ids, GidMappings: ids, GidMappingsEnableSetgroups: true}
		b, err := c.CombinedOutput()
		return string(b), err
	}
	// The switch holds: bwrap cannot make its namespace there.
	if out, err := inNS(bwrap, "--ro-bind", "/", "/", "true"); err == nil || !strings.Contains(out, "max_") {
		if err == nil {
			t.Fatalf("bwrap made a user namespace with user.max_user_namespaces at 0: %s", out)
		}
		testfixture.Missing(t, "a user namespace with user.max_user_namespaces set to 0 ("+out+")")
	}
	out, err := inNS(bin, "--root", root, "app", "run", "x")
	want := "grey: cannot run the app: unprivileged user namespaces are not available (user.max_user_namespaces is 0); enable them"
	if err == nil || !strings.HasPrefix(out, want) || strings.Contains(out, "bwrap") {
		t.Errorf("app run with user namespaces disabled: %v\n%s\nwant %q...", err, out, want)
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) && ee.ExitCode() != 1 {
		t.Errorf("exit status %d, want 1", ee.ExitCode())
	}
}

// TestAppInstallAsUser: an unprivileged user (nobody, through testGrey)
// composes and runs an app in a root of their own; --scripts, which
// needs root (chroot, mount namespace), is refused before anything is
// downloaded or made, naming why.
func TestAppInstallAsUser(t *testing.T) {
	testfixture.AppCommands(t)
	deb := buildLib(t, "1.0")
	bin := testGrey(t)
	home := nobodyCanRun(t, filepath.Dir(bin), filepath.Dir(deb))
	root := filepath.Join(home, "root")
	if err := os.Mkdir(root, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(root, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	nobody := func(args ...string) (string, error) {
		t.Helper()
		b, err := asNobody(home, bin, append([]string{"--root", root}, args...)...).CombinedOutput()
		return string(b), err
	}
	if out, err := nobody("app", "install", "--scripts", "x", deb); err == nil || !strings.Contains(out, "--scripts needs root") {
		t.Errorf("app install --scripts as nobody: %v %s", err, out)
	}
	if _, err := os.Lstat(filepath.Join(root, "var/lib/grey/apps/x")); !os.IsNotExist(err) {
		t.Errorf("a refused install left its app: %v", err)
	}
	if out, err := nobody("app", "install", "--command", "/usr/lib/libgreet/libgreet.so.1", "x", deb); err != nil || !strings.Contains(out, "x: generation 1") {
		t.Fatalf("app install as nobody: %v %s", err, out)
	}
	fi, err := os.Stat(filepath.Join(root, "var/lib/grey/apps/x/current/usr/lib/libgreet/libgreet.so.1"))
	if err != nil || fi.Sys().(*syscall.Stat_t).Uid != 65534 {
		t.Errorf("nobody's app file: %v %v", fi, err)
	}
	if out, err := nobody("app", "verify"); err != nil || out != "" {
		t.Errorf("app verify as nobody: %v %s", err, out)
	}
}
