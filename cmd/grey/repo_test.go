package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/greypm/grey/internal/testfixture"
)

func TestRepoPublish(t *testing.T) {
	fixture := testfixture.Bookworm(t)
	hello := filepath.Join(fixture, "debian/pool/main/h/hello/hello_2.10-3_amd64.deb")
	dash := filepath.Join(fixture, "debian/pool/main/d/dash/dash_0.5.12-2_amd64.deb")
	dir := t.TempDir()
	prefix := filepath.Join(dir, "k")
	if code, _, errOut := grey(t, "", "key", "generate", "--name", "CLI test", "--out", prefix); code != 0 {
		t.Fatalf("key generate: %d %s", code, errOut)
	}
	out := filepath.Join(dir, "repo")
	args := []string{"repo", "publish", "--key", prefix + ".key.asc", "--suite", "stable", "--arch", "amd64", "--valid-for", "7d", "--out", out}

	code, stdout, errOut := grey(t, "", append(args, hello, dash)...)
	if code != 0 {
		t.Fatalf("publish: exit %d\n%s", code, errOut)
	}
	for _, want := range []string{"published stable", "2 packages (main/amd64 2)", "added   pool/main/h/hello/hello_2.10-3_amd64.deb", "source: deb [signed-by="} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, stdout)
		}
	}
	rel, err := os.ReadFile(filepath.Join(out, "dists/stable/Release"))
	if err != nil {
		t.Fatal(err)
	}
	// The test clock is 2026-11-25 00:00 UTC (see grey()).
	if !strings.Contains(string(rel), "Valid-Until: Wed, 02 Dec 2026 00:00:00 UTC\n") {
		t.Errorf("Release lacks the Valid-Until:\n%s", rel)
	}

	// A dry run of a republish without dash reports the removal, changes nothing.
	code, stdout, errOut = grey(t, "", append([]string{"--dry-run"}, append(args, hello)...)...)
	if code != 0 || !strings.Contains(stdout, "would publish") || !strings.Contains(stdout, "removed pool/main/d/dash/dash_0.5.12-2_amd64.deb") {
		t.Fatalf("dry run: exit %d\n%s%s", code, stdout, errOut)
	}
	if _, err := os.Stat(filepath.Join(out, "pool/main/d/dash/dash_0.5.12-2_amd64.deb")); err != nil {
		t.Fatalf("dry run removed a file: %v", err)
	}

	// The real republish, as JSON.
	code, stdout, errOut = grey(t, "", append([]string{"--json"}, append(args, hello)...)...)
	if code != 0 {
		t.Fatalf("republish: exit %d\n%s", code, errOut)
	}
	var res struct {
		Packages int      `json:"packages"`
		Removed  []string `json:"removed"`
	}
	if err := json.Unmarshal([]byte(stdout), &res); err != nil {
		t.Fatalf("JSON %q: %v", stdout, err)
	}
	if res.Packages != 1 || len(res.Removed) != 1 {
		t.Errorf("republish result %+v", res)
	}
}

func TestRepoPublishErrors(t *testing.T) {
	dir := t.TempDir()
	prefix := filepath.Join(dir, "k")
	if code, _, errOut := grey(t, "", "key", "generate", "--name", "CLI test", "--out", prefix); code != 0 {
		t.Fatalf("key generate: %d %s", code, errOut)
	}
	notDeb := filepath.Join(dir, "x.deb")
	if err := os.WriteFile(notDeb, []byte("not a package"), 0o644); err != nil {
		t.Fatal(err)
	}
	base := []string{"repo", "publish", "--suite", "s", "--arch", "amd64", "--out", filepath.Join(dir, "repo")}
	tests := []struct {
		name string
		args []string
		code int
		text string
	}{
		{"bad validity", append(append([]string{}, base...), "--key", prefix+".key.asc", "--valid-for", "soon", notDeb), 2, "--valid-for"},
		{"public key given", append(append([]string{}, base...), "--key", prefix+".gpg", notDeb), 1, "no secret signing key"},
		{"not a deb", append(append([]string{}, base...), "--key", prefix+".key.asc", notDeb), 1, "x.deb"},
		{"no inputs", append(append([]string{}, base...), "--key", prefix+".key.asc"), 2, "PKG.deb|DIR"},
	}
	for _, tt := range tests {
		code, _, errOut := grey(t, "", tt.args...)
		if code != tt.code || !strings.Contains(errOut, tt.text) {
			t.Errorf("%s: exit %d (want %d), stderr %q (want %q)", tt.name, code, tt.code, errOut, tt.text)
		}
	}
}

func TestParseValidFor(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"", 0, true}, {"7d", 7 * 24 * time.Hour, true}, {"36h", 36 * time.Hour, true},
		{"0d", 0, false}, {"-1h", 0, false}, {"xd", 0, false}, {"soon", 0, false},
	}
	for _, tt := range tests {
		got, err := parseValidFor(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("parseValidFor(%q) = %v, %v", tt.in, got, err)
		}
	}
}

// TestGreyReadsPublishedRepository: grey update verifies and loads what
// grey repo publish wrote, and refuses it once the InRelease is tampered with.
func TestGreyReadsPublishedRepository(t *testing.T) {
	fixture := testfixture.Bookworm(t)
	hello := filepath.Join(fixture, "debian/pool/main/h/hello/hello_2.10-3_amd64.deb")
	dir := t.TempDir()
	now := time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC)
	key := newTestKey(t, dir, "CLI test", now)
	out := filepath.Join(dir, "repo")
	key.publish(now, out, hello)
	source := []string{"--root", filepath.Join(dir, "root"), "--source", key.source(out)}
	later := now.Add(time.Hour)
	code, stdout, errOut := greyAt(t, later, append(source, "update")...)
	if code != 0 {
		t.Fatalf("grey update of a published repository: %d\n%s%s", code, stdout, errOut)
	}
	code, stdout, errOut = greyAt(t, later, append(source, "show", "hello")...)
	if code != 0 || !strings.Contains(stdout, "Filename: pool/main/h/hello/hello_2.10-3_amd64.deb") {
		t.Fatalf("grey show hello: %d\n%s%s", code, stdout, errOut)
	}

	in := filepath.Join(out, "dists/stable/InRelease")
	data, err := os.ReadFile(in)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(in, []byte(strings.Replace(string(data), "Suite: stable", "Suite: stablE", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	fresh := []string{"--root", filepath.Join(dir, "root2"), source[2], source[3]}
	if code, stdout, errOut = greyAt(t, later, append(fresh, "update")...); code == 0 {
		t.Fatalf("grey update accepted a tampered InRelease:\n%s%s", stdout, errOut)
	}
}
