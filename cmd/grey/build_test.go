package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writePackageTree writes a small package source tree (as under
// examples/packages) and returns its directory.
func writePackageTree(t *testing.T, version string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "hello-"+version)
	files := map[string]string{
		"DEBIAN/control": "Package: hello-grey\nVersion: " + version + "\nArchitecture: all\n" +
			"Maintainer: Grey Test <test@example.org>\nDescription: says hello\n A test package.\n",
		"usr/bin/hello-grey":                    "#!/bin/sh\necho hello\n",
		"usr/share/doc/hello-grey/README":       "hello\n",
		"usr/share/doc/hello-grey/changelog.gz": "not really gzip\n",
	}
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		mode := os.FileMode(0o644)
		if strings.HasPrefix(name, "usr/bin/") {
			mode = 0o755
		}
		if err := os.WriteFile(p, []byte(body), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestBuildCommand(t *testing.T) {
	t.Setenv("SOURCE_DATE_EPOCH", "1700000000")
	tree := writePackageTree(t, "1.0-1")
	out := t.TempDir()

	// Default name, in the current directory.
	t.Chdir(out)
	code, stdout, stderr := grey(t, "", "build", tree)
	if code != 0 {
		t.Fatalf("grey build: exit %d, stderr %q", code, stderr)
	}
	if !strings.Contains(stdout, "built hello-grey 1.0-1 (all): hello-grey_1.0-1_all.deb") {
		t.Errorf("output %q", stdout)
	}
	first, err := os.ReadFile(filepath.Join(out, "hello-grey_1.0-1_all.deb"))
	if err != nil {
		t.Fatal(err)
	}

	// -o FILE, same epoch: same bytes.
	other := filepath.Join(t.TempDir(), "again.deb")
	if code, _, stderr := grey(t, "", "build", tree, "-o", other); code != 0 {
		t.Fatalf("grey build -o: exit %d, %s", code, stderr)
	}
	again, _ := os.ReadFile(other)
	if !bytes.Equal(first, again) {
		t.Error("two builds with the same SOURCE_DATE_EPOCH differ")
	}

	// -o DIR and --compress, with --json.
	dir := t.TempDir()
	code, stdout, stderr = grey(t, "", "--json", "build", tree, "-o", dir, "--compress", "gz")
	if code != 0 {
		t.Fatalf("grey build --compress gz: exit %d, %s", code, stderr)
	}
	var res map[string]any
	if err := json.Unmarshal([]byte(stdout), &res); err != nil {
		t.Fatalf("JSON %q: %v", stdout, err)
	}
	if res["file"] != filepath.Join(dir, "hello-grey_1.0-1_all.deb") || res["package"] != "hello-grey" || res["signed"] != false {
		t.Errorf("JSON output %v", res)
	}
	gz, _ := os.ReadFile(filepath.Join(dir, "hello-grey_1.0-1_all.deb"))
	if !bytes.Contains(gz, []byte("control.tar.gz  ")) || !bytes.Contains(gz, []byte("data.tar.gz  ")) {
		t.Error("--compress gz did not name the members .gz")
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("build left %d files in the output directory, want 1", len(entries))
	}
}

func TestBuildCommandErrors(t *testing.T) {
	tree := writePackageTree(t, "1.0-1")
	out := filepath.Join(t.TempDir(), "x.deb")
	if err := os.WriteFile(filepath.Join(tree, "DEBIAN/postinst"), []byte("#!/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := grey(t, "", "build", tree, "-o", out)
	if code != 1 || !strings.Contains(stderr, "DEBIAN/postinst") || !strings.Contains(stderr, "bad permissions 644") {
		t.Errorf("non-executable postinst: exit %d, stderr %q", code, stderr)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Error("a failed build left its output file")
	}
	if entries, _ := os.ReadDir(filepath.Dir(out)); len(entries) != 0 {
		t.Errorf("a failed build left %d files behind", len(entries))
	}
	os.Remove(filepath.Join(tree, "DEBIAN/postinst"))

	t.Setenv("SOURCE_DATE_EPOCH", "yesterday")
	code, _, stderr = grey(t, "", "build", tree, "-o", out)
	if code != 2 || !strings.Contains(stderr, "SOURCE_DATE_EPOCH") {
		t.Errorf("bad SOURCE_DATE_EPOCH: exit %d, stderr %q", code, stderr)
	}
	t.Setenv("SOURCE_DATE_EPOCH", "")

	code, _, stderr = grey(t, "", "build", tree, "--compress", "bz2")
	if code != 2 || !strings.Contains(stderr, "--compress") {
		t.Errorf("--compress bz2: exit %d, stderr %q", code, stderr)
	}
	code, _, stderr = grey(t, "", "build", filepath.Join(tree, "nonexistent"))
	if code != 2 {
		t.Errorf("missing directory: exit %d, stderr %q", code, stderr)
	}
	// A public keyring cannot sign.
	prefix := filepath.Join(t.TempDir(), "k")
	if code, _, stderr := grey(t, "", "key", "generate", "--name", "Packager", "--out", prefix); code != 0 {
		t.Fatalf("key generate: %s", stderr)
	}
	code, _, stderr = grey(t, "", "build", tree, "-o", out, "--sign", prefix+".gpg")
	if code != 2 || !strings.Contains(stderr, "no secret key") {
		t.Errorf("--sign with a public keyring: exit %d, stderr %q", code, stderr)
	}
}

func TestBuildSignVerifyCommands(t *testing.T) {
	t.Setenv("SOURCE_DATE_EPOCH", "1700000000")
	tree := writePackageTree(t, "2.0-1")
	tmp := t.TempDir()
	for _, name := range []string{"packager", "stranger"} {
		if code, _, stderr := grey(t, "", "key", "generate", "--name", name, "--out", filepath.Join(tmp, name)); code != 0 {
			t.Fatalf("key generate: %s", stderr)
		}
	}
	signed := filepath.Join(tmp, "signed.deb")
	code, stdout, stderr := grey(t, "", "build", tree, "-o", signed, "--sign", filepath.Join(tmp, "packager.key.asc"))
	if code != 0 || !strings.Contains(stdout, "signed") {
		t.Fatalf("build --sign: exit %d, out %q, stderr %q", code, stdout, stderr)
	}
	code, stdout, stderr = grey(t, "", "deb", "verify", "--keyring", filepath.Join(tmp, "packager.gpg"), signed)
	if code != 0 || !strings.Contains(stdout, `good signature from "packager"`) {
		t.Errorf("verify: exit %d, out %q, stderr %q", code, stdout, stderr)
	}
	code, stdout, _ = grey(t, "", "--json", "deb", "verify", "--keyring", filepath.Join(tmp, "packager.gpg"), signed)
	var res map[string]any
	if code != 0 || json.Unmarshal([]byte(stdout), &res) != nil || res["good"] != true || len(res["key_id"].(string)) != 16 {
		t.Errorf("verify --json: exit %d, out %q", code, stdout)
	}

	// The wrong keyring: exit 1, naming the signing key.
	code, _, stderr = grey(t, "", "deb", "verify", "--keyring", filepath.Join(tmp, "stranger.gpg"), signed)
	if code != 1 || !strings.Contains(stderr, "bad signature by key "+res["key_id"].(string)) {
		t.Errorf("wrong keyring: exit %d, stderr %q", code, stderr)
	}
	// One byte changed in the data member.
	data, _ := os.ReadFile(signed)
	i := bytes.Index(data, []byte("data.tar.xz"))
	data[i+60+100] ^= 0x20
	tampered := filepath.Join(tmp, "tampered.deb")
	os.WriteFile(tampered, data, 0o644)
	code, _, stderr = grey(t, "", "deb", "verify", "--keyring", filepath.Join(tmp, "packager.gpg"), tampered)
	if code != 1 || !strings.Contains(stderr, "bad signature") || !strings.Contains(stderr, "tampered.deb") {
		t.Errorf("tampered: exit %d, stderr %q", code, stderr)
	}
	// Unsigned.
	unsigned := filepath.Join(tmp, "unsigned.deb")
	grey(t, "", "build", tree, "-o", unsigned)
	code, _, stderr = grey(t, "", "deb", "verify", "--keyring", filepath.Join(tmp, "packager.gpg"), unsigned)
	if code != 1 || !strings.Contains(stderr, "not signed") {
		t.Errorf("unsigned: exit %d, stderr %q", code, stderr)
	}
}
