package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/greypm/grey/internal/testfixture"
)

// TestAppLauncher: "grey app export NAME" writes a launcher into a bin
// directory that runs the app (under bubblewrap) with its arguments, by
// the built grey binary; a file there that grey did not write is never
// overwritten; "app remove" deletes the launchers it wrote and leaves a
// file that replaced one. As root the default bin directory is
// ROOT/usr/local/bin. As root, the test also has nobody run root's
// launcher and write their own into ~/.local/bin.
func TestAppLauncher(t *testing.T) {
	testfixture.AppCommands(t)
	t.Parallel()
	testfixture.Bookworm(t)
	testfixture.Tool(t, "bwrap", "bubblewrap")
	root := t.TempDir()
	g := fixtureGrey(t, root)
	if code, out, errOut := g("app", "install", "hello", "hello"); code != 0 {
		t.Fatalf("app install: %d %q %s", code, out, errOut)
	}
	if code, out, errOut := g("app", "install", "x", buildLib(t, "1.0")); code != 0 {
		t.Fatalf("app install x: %d %q %s", code, out, errOut)
	}
	bin := testGrey(t) // grey with GREY_TEST_AS_GREY=1, which the launcher passes on
	binDir := filepath.Join(t.TempDir(), "bin")
	launcher := filepath.Join(binDir, "hello")
	if code, out, errOut := g("app", "export", "hello", "--bin-dir", binDir, "--grey", bin); code != 0 || out != "hello: launcher "+launcher+"\n" {
		t.Fatalf("app export: %d %q %s", code, out, errOut)
	}
	if fi, err := os.Stat(launcher); err != nil || fi.Mode().Perm() != 0o755 {
		t.Fatalf("launcher: %v %v", fi, err)
	}
	run := func(args ...string) (string, error) {
		t.Helper()
		var out, errb strings.Builder
		c := exec.Command(launcher, args...)
		c.Env = append(os.Environ(), testGreyEnv+"=1")
		c.Stdout, c.Stderr = &out, &errb
		err := c.Run()
		if err != nil {
			t.Logf("%s: %s", launcher, errb.String())
		}
		return out.String(), err
	}
	if out, err := run(); err != nil || out != "Hello, world!\n" {
		t.Errorf("launcher: %q %v", out, err)
	}
	// Arguments reach the program as given, quotes and all.
	if out, err := run("-g", "it's \"quoted\" $HOME"); err != nil || out != "it's \"quoted\" $HOME\n" {
		t.Errorf("launcher -g: %q %v", out, err)
	}
	// Writing it again replaces grey's own launcher.
	if code, _, errOut := g("app", "export", "hello", "--bin-dir", binDir, "--grey", bin); code != 0 {
		t.Errorf("second export: %d %s", code, errOut)
	}

	// Another user runs the launcher root wrote, and writes their own
	// into ~/.local/bin (not recorded: root's app directory is not theirs).
	if os.Geteuid() == 0 {
		home := nobodyCanRun(t, binDir, root, filepath.Dir(bin))
		var out, errb strings.Builder
		c := asNobody(home, launcher, "-g", "as nobody")
		c.Stdout, c.Stderr = &out, &errb
		if err := c.Run(); err != nil || out.String() != "as nobody\n" {
			t.Errorf("launcher as nobody: %v %q %s", err, out.String(), errb.String())
		}
		out.Reset()
		errb.Reset()
		c = asNobody(home, bin, "--root", root, "app", "export", "hello", "--grey", bin)
		c.Stdout, c.Stderr = &out, &errb
		own := filepath.Join(home, ".local/bin/hello")
		if err := c.Run(); err != nil || out.String() != "hello: launcher "+own+"\n" || !strings.Contains(errb.String(), "will not delete "+own) {
			t.Errorf("app export as nobody: %v %q %s", err, out.String(), errb.String())
		}
		out.Reset()
		c = asNobody(home, own)
		c.Stdout, c.Stderr = &out, &errb
		if err := c.Run(); err != nil || out.String() != "Hello, world!\n" {
			t.Errorf("nobody's own launcher: %v %q %s", err, out.String(), errb.String())
		}
	}

	// A file grey did not write is never overwritten.
	foreign := filepath.Join(binDir, "x")
	if err := os.WriteFile(foreign, []byte("#!/bin/sh\necho mine\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if code, _, errOut := g("app", "export", "x", "--bin-dir", binDir, "--grey", bin); code != 1 || !strings.Contains(errOut, foreign+" exists and is not a grey app launcher") {
		t.Errorf("export over a foreign file: %d %s", code, errOut)
	}
	if b, _ := os.ReadFile(foreign); string(b) != "#!/bin/sh\necho mine\n" {
		t.Errorf("foreign file changed: %q", b)
	}
	if code, _, _ := g("app", "export", "nope", "--bin-dir", binDir); code != 100 {
		t.Errorf("export of a missing app: %d, want 100", code)
	}
	if code, _, _ := g("app", "export", "hello", "--bin-dir", binDir, "-o", filepath.Join(t.TempDir(), "x.tar")); code != 2 {
		t.Errorf("--bin-dir with -o: %d, want 2", code)
	}

	// As root the default is ROOT/usr/local/bin.
	if os.Geteuid() == 0 {
		if code, _, errOut := g("app", "export", "x", "--grey", bin); code != 0 {
			t.Errorf("export to the default bin directory: %d %s", code, errOut)
		}
		if _, err := os.Stat(filepath.Join(root, "usr/local/bin/x")); err != nil {
			t.Errorf("no launcher in ROOT/usr/local/bin: %v", err)
		}
	}

	// app remove deletes the launchers it wrote...
	if code, _, errOut := g("app", "remove", "hello"); code != 0 {
		t.Fatalf("app remove: %d %s", code, errOut)
	}
	if _, err := os.Lstat(launcher); !os.IsNotExist(err) {
		t.Errorf("launcher left after app remove: %v", err)
	}
	if os.Geteuid() == 0 {
		// ...but not one replaced by another file since.
		other := filepath.Join(root, "usr/local/bin/x")
		if err := os.WriteFile(other, []byte("#!/bin/sh\necho replaced\n"), 0o755); err != nil {
			t.Fatal(err)
		}
		if code, _, errOut := g("app", "remove", "x"); code != 0 {
			t.Fatalf("app remove x: %d %s", code, errOut)
		}
		if b, _ := os.ReadFile(other); string(b) != "#!/bin/sh\necho replaced\n" {
			t.Errorf("app remove deleted a file that replaced its launcher: %q", b)
		}
	}
	if _, err := os.Stat(foreign); err != nil {
		t.Errorf("app remove deleted a foreign file: %v", err)
	}
}
