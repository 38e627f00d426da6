package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/greypm/grey/internal/testfixture"
	"github.com/greypm/grey/resolver/edsp"
	"github.com/greypm/grey/resolver/edsp/edsptest"
)

const solveScenario = `Request: EDSP 0.5
Architecture: amd64
Install: app:amd64

Package: app
Architecture: amd64
Version: 1
APT-ID: 7
APT-Pin: 500
APT-Candidate: yes
Depends: lib (>= 2)

Package: lib
Architecture: amd64
Version: 2
APT-ID: 9
APT-Pin: 500
APT-Candidate: yes
`

func runGrey(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), args, strings.NewReader(stdin), &out, &errb, func() time.Time { return testfixture.Clock })
	return code, out.String(), errb.String()
}

func TestSolveCommand(t *testing.T) {
	code, out, stderr := runGrey(t, solveScenario, "solve", "--no-progress")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	want := "Install: 7\nPackage: app\nVersion: 1\nArchitecture: amd64\n\nInstall: 9\nPackage: lib\nVersion: 2\nArchitecture: amd64\n"
	if out != want {
		t.Fatalf("answer:\n%s\nwant:\n%s", out, want)
	}

	code, out, _ = runGrey(t, solveScenario, "solve")
	if code != 0 || !strings.HasPrefix(out, "Progress: Wed, 25 Nov 2026 00:00:00 +0000\nPercentage: 0\n") || !strings.Contains(out, "\nInstall: 9\n") {
		t.Fatalf("with progress (exit %d):\n%s", code, out)
	}

	// Unsatisfiable: an Error stanza and exit status 0, as EDSP wants.
	unsat := strings.Replace(solveScenario, "Depends: lib (>= 2)", "Depends: lib (>= 3)", 1)
	code, out, stderr = runGrey(t, unsat, "solve", "--no-progress")
	if code != 0 {
		t.Fatalf("unsatisfiable: exit %d: %s", code, stderr)
	}
	sc, err := edsp.Read(strings.NewReader(unsat))
	if err != nil {
		t.Fatal(err)
	}
	ans, err := edsp.ReadAnswer(strings.NewReader(out), sc)
	if err != nil || ans.Error == nil || !strings.Contains(ans.Error.Message, "lib") {
		t.Fatalf("unsatisfiable answer %q: %+v %v", out, ans, err)
	}

	// A malformed scenario is a solver failure: exit 1, message on
	// stderr, and an Error stanza on stdout (apt shows its message).
	for _, bad := range []string{"Package: x\n", "garbage\n", "Request: EDSP 0.5\nArchitecture: amd64\n\nPackage: a\nVersion: !\nArchitecture: amd64\nAPT-ID: 1\n"} {
		code, out, stderr = runGrey(t, bad, "solve")
		if code != 1 || stderr == "" {
			t.Fatalf("malformed %q: exit %d, %q", bad, code, stderr)
		}
		ans, err := edsp.ReadAnswer(strings.NewReader(out), &edsp.Scenario{})
		if err != nil || ans.Error == nil || !strings.HasPrefix(ans.Error.Message, "grey: ") {
			t.Fatalf("malformed %q: stdout %q is no Error stanza: %v", bad, out, err)
		}
	}
	// What apt's solver accepts is answered: no Request stanza is an
	// empty request.
	code, out, stderr = runGrey(t, "Package: a\nVersion: 1\nArchitecture: amd64\nAPT-ID: 1\nMulti-Arch: none\n", "solve", "--no-progress")
	if code != 0 || out != "" || !strings.Contains(stderr, "no Request stanza") {
		t.Fatalf("no Request: exit %d, %q, %q", code, out, stderr)
	}
}

// buildGrey compiles this command into dir.
func buildGrey(t *testing.T, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, "grey-under-test")
	goTool, err := exec.LookPath("go")
	if err != nil {
		// go test runs with the toolchain's GOROOT in the environment.
		goTool = filepath.Join(os.Getenv("GOROOT"), "bin", "go")
	}
	cmd := exec.Command(goTool, "build", "-o", bin, ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// TestAptUsesGreyAsSolver installs grey as an external solver in a
// private apt configuration and has real apt-get use it on the fixture.
func TestAptUsesGreyAsSolver(t *testing.T) {
	testfixture.Tool(t, "apt-get", "apt")
	hostCache, _ := os.Stat("/var/cache/apt/pkgcache.bin")
	a := edsptest.New(t, edsptest.Options{})
	bin := buildGrey(t, t.TempDir())
	script := "#!/bin/sh\nexec " + bin + " solve\n"
	if err := os.WriteFile(filepath.Join(a.Solvers, "grey"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}

	out, err := a.Run(nil, "-s", "--solver", "grey", "install", "hello")
	if err != nil {
		t.Fatalf("apt-get --solver grey install hello: %v\n%s", err, out)
	}
	for _, want := range []string{"Inst hello (2.10-3 ", "Inst libc6 ("} {
		if !strings.Contains(out, want) {
			t.Errorf("apt's output lacks %q:\n%s", want, out)
		}
	}

	// apt shows grey's explanation when there is no solution.
	out, err = a.Run(nil, "-s", "--solver", "grey", "install", "hello", "hello-traditional")
	if err == nil {
		t.Fatalf("conflicting request accepted:\n%s", out)
	}
	if !strings.Contains(out, "grey cannot satisfy the request") || !strings.Contains(out, "hello-traditional") {
		t.Errorf("apt does not show grey's explanation:\n%s", out)
	}

	// On a root where hello is installed: removals and replacements.
	root := edsptest.New(t, edsptest.Options{Status: a.Status(t, "hello")})
	if err := os.WriteFile(filepath.Join(root.Solvers, "grey"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	out, err = root.Run(nil, "-s", "--solver", "grey", "remove", "hello")
	if err != nil || !strings.Contains(out, "Remv hello [2.10-3]") || strings.Contains(out, "Remv libc6") {
		t.Errorf("apt-get --solver grey remove hello: %v\n%s", err, out)
	}
	out, err = root.Run(nil, "-s", "--solver", "grey", "install", "hello-traditional")
	if err != nil || !strings.Contains(out, "Remv hello [2.10-3]") || !strings.Contains(out, "Inst hello-traditional (") {
		t.Errorf("apt-get --solver grey install hello-traditional (conflicts with hello): %v\n%s", err, out)
	}

	// Nothing outside the private directory: the host's apt cache is as
	// it was.
	if hostCache != nil {
		if now, err := os.Stat("/var/cache/apt/pkgcache.bin"); err != nil || !now.ModTime().Equal(hostCache.ModTime()) {
			t.Errorf("the host's /var/cache/apt/pkgcache.bin changed")
		}
	}
	if _, err := os.Stat(filepath.Join(a.Dir, "cache", "pkgcache.bin")); err != nil {
		t.Errorf("apt did not use the private cache: %v", err)
	}
}
