package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/greypm/grey/internal/testfixture"
)

// build compiles the package in dir (relative to this one) to out.
func build(t *testing.T, pkg, out string) {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		// go test runs with the toolchain's GOROOT in the environment.
		goTool = filepath.Join(os.Getenv("GOROOT"), "bin", "go")
	}
	cmd := exec.Command(goTool, "build", "-o", out, pkg)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", pkg, err, b)
	}
}

type result struct {
	code           int
	stdout, stderr string
}

func runBin(t *testing.T, env []string, bin string, args ...string) result {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var ee *exec.ExitError
	code := 0
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run %s %q: %v", bin, args, err)
	}
	return result{code, out.String(), errOut.String()}
}

// TestFrontAnswersQueriesAndHandsOver builds the front as grey beside the
// whole tool as grey-core, then checks that every query the front answers
// itself prints exactly what grey-core prints, with the same exit status,
// and that every other command line reaches grey-core unchanged.
func TestFrontAnswersQueriesAndHandsOver(t *testing.T) {
	fixture := testfixture.Bookworm(t)
	bin := t.TempDir()
	front, core := filepath.Join(bin, "grey"), filepath.Join(bin, "grey-core")
	build(t, ".", front)
	build(t, "../grey", core)
	root := t.TempDir()
	// bookworm-updates: signed, small, and without a Valid-Until, so the
	// test does not depend on the day it runs.
	src := []string{"--root", root, "--source", "deb [arch=amd64 signed-by=" + filepath.Join(fixture, "debian-archive-keyring.gpg") + "] file:" + filepath.Join(fixture, "debian") + " bookworm-updates main"}
	if r := runBin(t, nil, front, append(src, "update")...); r.code != 0 || !strings.Contains(r.stdout, "bookworm-updates") {
		t.Fatalf("grey update through the front: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	for _, args := range [][]string{
		{"show", "openssh-client"},
		{"--json", "show", "openssh-client", "libssl3"},
		{"policy", "libssl3"},
		{"--json", "policy", "libssl3"},
		{"search", "^openssh"},
		{"show", "no-such-package"},
		{"search", "("},
		{"show", "--help"},
	} {
		want := runBin(t, nil, core, append(src, args...)...)
		got := runBin(t, []string{"GREY_CORE=/nonexistent"}, front, append(src, args...)...)
		if got != want {
			t.Errorf("grey %q: front gave exit %d\n%s%s\ngrey-core gave exit %d\n%s%s", args, got.code, got.stdout, got.stderr, want.code, want.stdout, want.stderr)
		}
	}
	// Everything else is grey-core's, reached by exec with the same
	// arguments: the whole tool's answers, exit statuses included.
	for _, args := range [][]string{
		{"version"},
		{"--help"},
		{"list", "openssh*"},
		{"install", "--no-such-flag"},
	} {
		want := runBin(t, nil, core, append(src, args...)...)
		got := runBin(t, nil, front, append(src, args...)...)
		if got != want {
			t.Errorf("grey %q: front gave exit %d\n%s%s\ngrey-core gave exit %d\n%s%s", args, got.code, got.stdout, got.stderr, want.code, want.stdout, want.stderr)
		}
	}
	// GREY_CORE names the whole tool when it is elsewhere.
	alone := filepath.Join(t.TempDir(), "grey")
	if err := os.Link(front, alone); err != nil {
		t.Fatal(err)
	}
	if r := runBin(t, []string{"GREY_CORE=" + core}, alone, "version"); r.code != 0 || !strings.HasPrefix(r.stdout, "grey ") {
		t.Fatalf("GREY_CORE: exit %d %q %q", r.code, r.stdout, r.stderr)
	}
	// Without grey-core the queries still work, and the rest is a clear
	// error that says what is missing.
	r := runBin(t, []string{"GREY_CORE="}, alone, "install", "hello")
	if r.code != 127 || !strings.Contains(r.stderr, "grey-core") || r.stdout != "" {
		t.Fatalf("no grey-core: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	if r := runBin(t, []string{"GREY_CORE="}, alone, append(src, "policy", "libssl3")...); r.code != 0 || !strings.Contains(r.stdout, "Candidate:") {
		t.Fatalf("policy without grey-core: exit %d %q %q", r.code, r.stdout, r.stderr)
	}
}

func TestFindCore(t *testing.T) {
	dir := t.TempDir()
	mk := func(p string) string {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("#!/bin/sh\n"), 0o755); err != nil {
			t.Fatal(err)
		}
		return p
	}
	beside := filepath.Join(dir, "a", "bin")
	mk(filepath.Join(beside, "grey"))
	coreBeside := mk(filepath.Join(beside, coreName))
	prefix := filepath.Join(dir, "b")
	mk(filepath.Join(prefix, "bin", "grey"))
	coreLib := mk(filepath.Join(prefix, "lib", "grey", coreName))
	none := filepath.Join(dir, "c", "bin")
	mk(filepath.Join(none, "grey"))
	// A directory named grey-core is not the tool.
	if err := os.MkdirAll(filepath.Join(none, coreName), 0o755); err != nil {
		t.Fatal(err)
	}
	exe := func(p string) func() (string, error) { return func() (string, error) { return p, nil } }
	for _, tc := range []struct {
		name, env, exe, want string
	}{
		{"beside", "", filepath.Join(beside, "grey"), coreBeside},
		{"lib", "", filepath.Join(prefix, "bin", "grey"), filepath.Clean(coreLib)},
		{"env wins", "/opt/x/grey-core", filepath.Join(beside, "grey"), "/opt/x/grey-core"},
		{"none", "", filepath.Join(none, "grey"), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := findCore(tc.env, exe(tc.exe))
			if tc.want == "" {
				if err == nil || !strings.Contains(err.Error(), "GREY_CORE") {
					t.Fatalf("findCore = %q, %v; want an error naming GREY_CORE", got, err)
				}
				return
			}
			if err != nil || filepath.Clean(got) != tc.want {
				t.Fatalf("findCore = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
	if _, err := findCore("", func() (string, error) { return "", errors.New("no /proc") }); err == nil {
		t.Fatal("findCore hid the executable's error")
	}
}
