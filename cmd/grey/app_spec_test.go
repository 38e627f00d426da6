package main

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/layout"

	"github.com/greypm/grey/internal/testfixture"
)

// TestAppSpecCommand: an app installed from a spec with command: runs
// that program under "grey app run" (with the run's arguments), --command
// at install wins over it, an upgrade takes a changed command: (a new
// generation even though the packages are the same) and then says "up to
// date", "app export -o oci:" records it as the image's Cmd, and a spec
// whose command: is not one program is refused (exit 2) naming the file,
// line and key, leaving no app behind.
func TestAppSpecCommand(t *testing.T) {
	testfixture.AppCommands(t)
	t.Parallel()
	testfixture.Tool(t, "bwrap", "bubblewrap")
	fx := testfixture.Bookworm(t)
	root := t.TempDir()
	dir := t.TempDir()
	spec := filepath.Join(dir, "app.yaml")
	write := func(file, command string) {
		t.Helper()
		text := fmt.Sprintf("sources:\n  - \"deb [signed-by=%s/debian-archive-keyring.gpg] file://%s/debian bookworm main\"\npackages: [hello, busybox]\ncommand: %s\n", fx, fx, command)
		if err := os.WriteFile(file, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	g := func(args ...string) (int, string, string) {
		t.Helper()
		return greyAt(t, testfixture.Clock, append([]string{"--root", root}, args...)...)
	}
	apps := filepath.Join(root, "var/lib/grey/apps")

	// The app is named greeter: without command: there is no program
	// of that name to run.
	write(spec, "hello")
	if code, out, errOut := g("app", "install", "--spec", spec, "greeter"); code != 0 || !strings.Contains(out, "greeter: generation 1") {
		t.Fatalf("app install --spec: %d %q %s", code, out, errOut)
	}
	if code, out, errOut := g("app", "run", "greeter"); code != 0 || out != "Hello, world!\n" {
		t.Errorf("app run greeter (command: hello): %d %q %s", code, out, errOut)
	}
	if code, out, errOut := g("app", "run", "greeter", "--", "-g", "from the spec"); code != 0 || out != "from the spec\n" {
		t.Errorf("app run greeter -- -g ...: %d %q %s", code, out, errOut)
	}

	// --command wins over the spec's.
	if code, out, errOut := g("app", "install", "--spec", spec, "--command", "busybox", "shell"); code != 0 || !strings.Contains(out, "shell: generation 1") {
		t.Fatalf("app install --spec --command: %d %q %s", code, out, errOut)
	}
	if code, out, errOut := g("app", "run", "shell", "--", "echo", "flag wins"); code != 0 || out != "flag wins\n" {
		t.Errorf("app run shell (--command busybox): %d %q %s", code, out, errOut)
	}

	// A changed command: alone makes a new generation on upgrade.
	write(spec, "/bin/busybox")
	if code, out, errOut := g("app", "upgrade", "greeter"); code != 0 || !strings.Contains(out, "greeter: generation 2") {
		t.Fatalf("app upgrade after command: changed: %d %q %s", code, out, errOut)
	}
	if code, out, errOut := g("app", "run", "greeter", "--", "echo", "upgraded"); code != 0 || out != "upgraded\n" {
		t.Errorf("app run greeter after the upgrade: %d %q %s", code, out, errOut)
	}
	if code, out, errOut := g("app", "upgrade", "greeter"); code != 0 || out != "greeter: up to date\n" {
		t.Errorf("second upgrade: %d %q %s", code, out, errOut)
	}
	// Rolling back brings the old command back with the old generation.
	if code, _, errOut := g("app", "rollback", "greeter"); code != 0 {
		t.Fatalf("app rollback: %d %s", code, errOut)
	}
	if code, out, errOut := g("app", "run", "greeter"); code != 0 || out != "Hello, world!\n" {
		t.Errorf("app run greeter after rollback: %d %q %s", code, out, errOut)
	}

	// The OCI export carries the command as Cmd.
	oci := filepath.Join(t.TempDir(), "oci")
	if code, _, errOut := g("app", "export", "greeter", "-o", "oci:"+oci); code != 0 {
		t.Fatalf("app export -o oci: %d %s", code, errOut)
	}
	p, err := layout.FromPath(oci)
	if err != nil {
		t.Fatal(err)
	}
	idx, err := p.ImageIndex()
	if err != nil {
		t.Fatal(err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	img, err := idx.Image(im.Manifests[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(cfg.Config.Cmd, []string{"hello"}) {
		t.Errorf("exported image's Cmd: %q, want [hello]", cfg.Config.Cmd)
	}

	// Bad command: values are refused before anything is resolved.
	for _, tc := range []struct{ command, msg string }{
		{`""`, "must not be empty"},
		{"usr/bin/hello", "clean absolute path"},
		{"/usr/bin/../bin/hello", "clean absolute path"},
		{"hello -g hi", "not a command line"},
		{"[hello, -g, hi]", "not a list"},
	} {
		bad := filepath.Join(dir, "bad.yaml")
		write(bad, tc.command)
		code, _, errOut := g("app", "install", "--spec", bad, "bad")
		if code != 2 || !strings.Contains(errOut, bad+":4: command: ") || !strings.Contains(errOut, tc.msg) {
			t.Errorf("command: %s: %d %q, want exit 2 naming %s:4: command and %q", tc.command, code, errOut, bad, tc.msg)
		}
		if _, err := os.Lstat(filepath.Join(apps, "bad")); !os.IsNotExist(err) {
			t.Errorf("command: %s: refused spec left an app directory: %v", tc.command, err)
		}
		if _, err := os.Lstat(filepath.Join(dir, "bad.lock")); !os.IsNotExist(err) {
			t.Errorf("command: %s: refused spec left a lock: %v", tc.command, err)
		}
	}
}

// TestAppRunSessionSockets: "grey app run" binds the Wayland, X11 and
// PulseAudio sockets its environment names (fake ones here) into the
// sandbox, and --no-display and --no-sound leave them out.
func TestAppRunSessionSockets(t *testing.T) {
	testfixture.AppCommands(t)
	testfixture.Tool(t, "bwrap", "bubblewrap")
	g := fixtureGrey(t, t.TempDir())
	if code, out, errOut := g("app", "install", "--command", "busybox", "sh", "busybox"); code != 0 || !strings.Contains(out, "sh: generation 1") {
		t.Fatalf("app install: %d %q %s", code, out, errOut)
	}
	dir, err := os.MkdirTemp("", "grey-session-") // short: socket paths are at most 107 bytes
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	for _, p := range []string{"wayland-1", "pulse/native", "pipewire-0"} {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, p)), 0o700); err != nil {
			t.Fatal(err)
		}
		l, err := net.Listen("unix", filepath.Join(dir, p))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { l.Close() })
	}
	t.Setenv("XDG_RUNTIME_DIR", dir)
	t.Setenv("WAYLAND_DISPLAY", "wayland-1")
	t.Setenv("PULSE_SERVER", "")
	const script = `cd "$XDG_RUNTIME_DIR" && for f in wayland-1 pulse/native pipewire-0; do test -S $f && echo $f; done; echo "$WAYLAND_DISPLAY|$PULSE_SERVER"`
	rt := fmt.Sprintf("/run/user/%d", os.Getuid())
	for _, tc := range []struct {
		flags []string
		want  string
	}{
		{nil, "wayland-1\npulse/native\npipewire-0\nwayland-1|unix:" + rt + "/pulse/native\n"},
		{[]string{"--no-display"}, "pulse/native\npipewire-0\n|unix:" + rt + "/pulse/native\n"},
		{[]string{"--no-sound"}, "wayland-1\nwayland-1|\n"},
		{[]string{"--no-display", "--no-sound"}, "|\n"},
	} {
		args := append(append([]string{"app", "run"}, tc.flags...), "sh", "--", "sh", "-c", script)
		if code, out, errOut := g(args...); code != 0 || out != tc.want {
			t.Errorf("app run %v: %d %q %s, want %q", tc.flags, code, out, errOut, tc.want)
		}
	}
}
