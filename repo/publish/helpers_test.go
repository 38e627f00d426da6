package publish

import (
	"bufio"
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/clearsign"
	"github.com/ProtonMail/go-crypto/openpgp/packet"

	"github.com/greypm/grey/deb/archive"
	"github.com/greypm/grey/deb/control"
	"github.com/greypm/grey/internal/testdeb"
	"github.com/greypm/grey/repo/key"
)

// clock is the publish time used by the tests.
var clock = time.Date(2026, 11, 25, 10, 16, 37, 0, time.UTC)

// testKey returns a fixed Ed25519 key created a day before clock.
func testKey(t testing.TB) *key.Key {
	t.Helper()
	return testdeb.Key(t, "publish", key.Options{
		Name: "grey publish test", Email: "publish@example.org", Created: clock.Add(-24 * time.Hour),
	})
}

// writeKeyring writes k's public keyring into dir and returns its path.
func writeKeyring(t testing.TB, k *key.Key, dir string) string {
	t.Helper()
	var b bytes.Buffer
	if err := k.WritePublicKeyring(&b); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "key.gpg")
	if err := os.WriteFile(p, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// debSpec describes a tiny package for buildDeb.
type debSpec struct {
	name, version, arch string
	extra               string // more control lines
	content             string // the content of /usr/share/doc/NAME/README
}

// buildDeb builds a .deb with grey's builder (deb/archive), reproducibly.
func buildDeb(t testing.TB, dir string, s debSpec) string {
	t.Helper()
	return testdeb.Build(t, dir, testdeb.Spec{
		Name: s.name, Version: s.version, Arch: s.arch,
		Control:     s.extra + "Section: misc\nPriority: optional\n",
		Description: "test package " + s.name + "\n a package made by the publish tests.",
		Files:       map[string]string{"usr/share/doc/" + s.name + "/README": s.content + "\n"},
		Build:       archive.BuildOptions{TempDir: t.TempDir()},
	})
}

// releaseEntry is one line of a Release hash list.
type releaseEntry struct {
	hash string
	size int64
	path string
}

// parseRelease returns the fields and the MD5Sum and SHA256 lists of a
// Release file.
func parseRelease(t testing.TB, data []byte) (*control.Stanza, map[string][]releaseEntry) {
	t.Helper()
	st, err := control.ParseOne(data)
	if err != nil {
		t.Fatalf("parse Release: %v", err)
	}
	lists := map[string][]releaseEntry{}
	for _, name := range []string{"MD5Sum", "SHA256"} {
		sc := bufio.NewScanner(strings.NewReader(st.Get(name)))
		for sc.Scan() {
			f := strings.Fields(sc.Text())
			if len(f) == 0 {
				continue
			}
			if len(f) != 3 {
				t.Fatalf("Release %s line %q", name, sc.Text())
			}
			n, err := strconv.ParseInt(f[1], 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			lists[name] = append(lists[name], releaseEntry{f[0], n, f[2]})
		}
	}
	return st, lists
}

// checkConsistent verifies what a client would: the InRelease signature,
// then that every file it lists exists under its by-hash name with that
// hash and size, and every pool file its indexes list exists with the
// listed SHA256. It returns the Release text.
func checkConsistent(t testing.TB, root, suite string, k *key.Key) []byte {
	t.Helper()
	in, err := os.ReadFile(filepath.Join(root, "dists", suite, "InRelease"))
	if err != nil {
		t.Fatalf("read InRelease: %v", err)
	}
	var pub bytes.Buffer
	if err := k.WritePublicKeyring(&pub); err != nil {
		t.Fatal(err)
	}
	ring, err := openpgp.ReadKeyRing(&pub)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := clearsign.Decode(in)
	if b == nil {
		t.Fatal("InRelease is not clearsigned")
	}
	if _, err := b.VerifySignature(ring, &packet.Config{Time: func() time.Time { return clock.Add(24 * time.Hour) }}); err != nil {
		t.Fatalf("InRelease signature: %v", err)
	}
	_, lists := parseRelease(t, b.Plaintext)
	for _, e := range lists["SHA256"] {
		dir := filepath.Join(root, "dists", suite, filepath.Dir(e.path))
		data, err := os.ReadFile(filepath.Join(dir, "by-hash", "SHA256", e.hash))
		if err != nil {
			t.Fatalf("by-hash of %s: %v", e.path, err)
		}
		if int64(len(data)) != e.size || sha256Hex(data) != e.hash {
			t.Fatalf("by-hash of %s: wrong content", e.path)
		}
		if strings.HasSuffix(e.path, "/Packages") {
			checkPoolFiles(t, root, data)
		}
	}
	for _, e := range lists["MD5Sum"] {
		data, err := os.ReadFile(filepath.Join(root, "dists", suite, filepath.Dir(e.path), "by-hash", "MD5Sum", e.hash))
		if err != nil {
			t.Fatalf("by-hash MD5Sum of %s: %v", e.path, err)
		}
		if m := md5.Sum(data); hex.EncodeToString(m[:]) != e.hash {
			t.Fatalf("by-hash MD5Sum of %s: wrong content", e.path)
		}
	}
	return b.Plaintext
}

func checkPoolFiles(t testing.TB, root string, packages []byte) {
	t.Helper()
	stanzas, err := control.ParseAll(bytes.NewReader(packages))
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range stanzas {
		data, err := os.ReadFile(filepath.Join(root, st.Get("Filename")))
		if err != nil {
			t.Fatalf("pool file of %s: %v", st.Get("Package"), err)
		}
		if sha256Hex(data) != st.Get("SHA256") || strconv.Itoa(len(data)) != st.Get("Size") {
			t.Fatalf("pool file %s does not match its index entry", st.Get("Filename"))
		}
	}
}
