package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/greypm/grey/repo/key"
)

func TestKeyGenerate(t *testing.T) {
	prefix := filepath.Join(t.TempDir(), "repo")
	code, out, errOut := grey(t, "", "--json", "key", "generate", "--name", "Test Repo", "--email", "t@example.org", "--out", prefix)
	if code != 0 {
		t.Fatalf("key generate: exit %d, stderr %q", code, errOut)
	}
	var res map[string]string
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("JSON output %q: %v", out, err)
	}
	if res["secret_key"] != prefix+".key.asc" || res["keyring"] != prefix+".gpg" || res["algorithm"] != "ed25519" {
		t.Errorf("unexpected output %v", res)
	}
	k, err := key.LoadSecret(prefix + ".key.asc")
	if err != nil {
		t.Fatal(err)
	}
	if k.Fingerprint() != res["fingerprint"] || k.UserID() != "Test Repo <t@example.org>" {
		t.Errorf("key %s %q does not match output %v", k.Fingerprint(), k.UserID(), res)
	}
	if st, err := os.Stat(prefix + ".key.asc"); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("secret key mode: %v %v", st, err)
	}
	if _, err := os.Stat(prefix + ".gpg"); err != nil {
		t.Error(err)
	}

	// A second run must refuse to overwrite the key.
	code, _, errOut = grey(t, "", "key", "generate", "--name", "Other", "--out", prefix)
	if code != 1 || !strings.Contains(errOut, "already exists") {
		t.Errorf("overwrite: exit %d, stderr %q", code, errOut)
	}
	if k2, err := key.LoadSecret(prefix + ".key.asc"); err != nil || k2.Fingerprint() != k.Fingerprint() {
		t.Errorf("existing key changed: %v", err)
	}

	code, _, errOut = grey(t, "", "key", "generate", "--out", prefix+"2")
	if code != 2 || !strings.Contains(errOut, "--name") {
		t.Errorf("missing --name: exit %d, stderr %q", code, errOut)
	}
}
