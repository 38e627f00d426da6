package trust

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/clearsign"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
	"github.com/greypm/grey/internal/testfixture"
)

var (
	created = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	now     = testfixture.Clock
)

func newKey(t testing.TB, algo packet.PublicKeyAlgorithm, lifetime uint32) *openpgp.Entity {
	t.Helper()
	cfg := &packet.Config{Algorithm: algo, RSABits: 2048, Time: func() time.Time { return created }, KeyLifetimeSecs: lifetime}
	e, err := openpgp.NewEntity("Test Repo", "", "repo@example.org", cfg)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func keyringOf(t testing.TB, armored bool, ents ...*openpgp.Entity) *Keyring {
	t.Helper()
	k, err := LoadKeyring(keyringFile(t, armored, ents...))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// keyringFile writes the public keys of ents into a keyring file (armored
// or binary) and returns its path.
func keyringFile(t testing.TB, armored bool, ents ...*openpgp.Entity) string {
	t.Helper()
	var buf bytes.Buffer
	for _, e := range ents {
		if armored {
			buf.Write(mustArmored(t, e))
		} else if err := e.Serialize(&buf); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(t.TempDir(), "keyring")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func clearsignAt(t testing.TB, e *openpgp.Entity, msg []byte, at time.Time) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := clearsign.Encode(&buf, e.PrivateKey, &packet.Config{Time: func() time.Time { return at }})
	if err != nil {
		t.Fatal(err)
	}
	w.Write(msg)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	buf.WriteString("\n")
	return buf.Bytes()
}

func detachAt(t testing.TB, e *openpgp.Entity, msg []byte, at time.Time, armored bool) []byte {
	t.Helper()
	var buf bytes.Buffer
	cfg := &packet.Config{Time: func() time.Time { return at }}
	var err error
	if armored {
		err = openpgp.ArmoredDetachSign(&buf, e, bytes.NewReader(msg), cfg)
	} else {
		err = openpgp.DetachSign(&buf, e, bytes.NewReader(msg), cfg)
	}
	if err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

const release = "Origin: Test\nSuite: stable\nDate: Tue, 24 Nov 2026 00:00:00 UTC\n"

func reasonOf(err error) Reason {
	var e *Error
	if errors.As(err, &e) {
		return e.Reason
	}
	return ""
}

func TestGeneratedKeys(t *testing.T) {
	algos := []struct {
		name string
		algo packet.PublicKeyAlgorithm
	}{
		{"rsa", packet.PubKeyAlgoRSA},
		{"eddsa-ed25519", packet.PubKeyAlgoEdDSA},
		{"ed25519", packet.PubKeyAlgoEd25519},
	}
	for _, a := range algos {
		t.Run(a.name, func(t *testing.T) {
			key := newKey(t, a.algo, 0)
			other := newKey(t, a.algo, 0)
			shortLived := newKey(t, a.algo, 3600*24*30) // expired long before now
			signAt := now.Add(-time.Hour)
			good := clearsignAt(t, key, []byte(release), signAt)
			kr := keyringOf(t, false, key)
			krArmored := keyringOf(t, true, other, key)

			for _, k := range []*Keyring{kr, krArmored} {
				text, signer, err := k.VerifyClearsigned(good, now)
				if err != nil {
					t.Fatalf("verify: %v", err)
				}
				if string(text) != release {
					t.Fatalf("signed text %q, want %q", text, release)
				}
				if signer.Primary != fingerprint(key.PrimaryKey.Fingerprint) || !signer.Signed.Equal(signAt.Truncate(time.Second)) {
					t.Fatalf("signer %+v", signer)
				}
			}
			for _, armored := range []bool{false, true} {
				sig := detachAt(t, key, []byte(release), signAt, armored)
				if _, err := kr.VerifyDetached([]byte(release), sig, now); err != nil {
					t.Fatalf("detached (armored %v): %v", armored, err)
				}
				if _, err := kr.VerifyDetached([]byte(release+"X: y\n"), sig, now); reasonOf(err) != BadSignature {
					t.Fatalf("detached over changed text: %v", err)
				}
			}

			tampered := bytes.Replace(good, []byte("Suite: stable"), []byte("Suite: stablf"), 1)
			cases := []struct {
				name string
				kr   *Keyring
				data []byte
				at   time.Time
				want Reason
			}{
				{"tampered text", kr, tampered, now, BadSignature},
				{"wrong keyring", keyringOf(t, false, other), good, now, UnknownKey},
				{"expired key", keyringOf(t, false, shortLived), clearsignAt(t, shortLived, []byte(release), created.Add(time.Hour)), now, KeyExpired},
				{"signature from the future", kr, clearsignAt(t, key, []byte(release), now.Add(time.Hour)), now, SigFuture},
				{"signature within the skew", kr, clearsignAt(t, key, []byte(release), now.Add(5*time.Minute)), now, ""},
				{"key not yet valid", kr, clearsignAt(t, key, []byte(release), created.Add(-time.Hour)), created.Add(-30 * time.Minute), KeyExpired},
				{"text after the signature", kr, append(append([]byte{}, good...), "Suite: unstable\n"...), now, Malformed},
				{"text before the message", kr, append([]byte("Suite: unstable\n\n"), good...), now, NotSigned},
				{"unsigned", kr, []byte(release), now, NotSigned},
			}
			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) {
					text, _, err := c.kr.VerifyClearsigned(c.data, c.at)
					if got := reasonOf(err); got != c.want || (text != nil) != (c.want == "") {
						t.Fatalf("reason %q (err %v), want %q", got, err, c.want)
					}
				})
			}
		})
	}
}

func TestDebianFixture(t *testing.T) {
	dir := testfixture.Bookworm(t)
	kr, err := LoadKeyring(filepath.Join(dir, "debian-archive-keyring.gpg"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{
		"debian/dists/bookworm/InRelease",
		"debian/dists/bookworm-updates/InRelease",
		"debian-security/dists/bookworm-security/InRelease",
	} {
		data, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		text, signer, err := kr.VerifyClearsigned(data, now)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if !bytes.HasPrefix(text, []byte("Origin: Debian\n")) || bytes.Contains(text, []byte("PGP")) {
			t.Fatalf("%s: signed text starts %q", f, text[:40])
		}
		if !strings.Contains(signer.UserID, "Debian") {
			t.Fatalf("%s: signer %v", f, signer)
		}
		// Long after every Debian key in the keyring has expired.
		if _, _, err := kr.VerifyClearsigned(data, time.Date(2045, 1, 1, 0, 0, 0, 0, time.UTC)); reasonOf(err) != KeyExpired {
			t.Fatalf("%s in 2045: %v", f, err)
		}
		// A byte flipped inside the signed text.
		bad := bytes.Clone(data)
		i := bytes.Index(bad, []byte("Date: ")) + 7
		bad[i] ^= 1
		if _, _, err := kr.VerifyClearsigned(bad, now); reasonOf(err) != BadSignature {
			t.Fatalf("%s flipped: %v", f, err)
		}
	}
	other, err := ParseKeyring(mustArmored(t, newKey(t, packet.PubKeyAlgoEdDSA, 0)), "other")
	if err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(filepath.Join(dir, "debian/dists/bookworm/InRelease"))
	if _, _, err := other.VerifyClearsigned(data, now); reasonOf(err) != UnknownKey {
		t.Fatalf("wrong keyring: %v", err)
	}
}

func mustArmored(t testing.TB, e *openpgp.Entity) []byte {
	var buf bytes.Buffer
	a, _ := armor.Encode(&buf, openpgp.PublicKeyType, nil)
	if err := e.Serialize(a); err != nil {
		t.Fatal(err)
	}
	a.Close()
	return buf.Bytes()
}

func TestKeyringErrors(t *testing.T) {
	for _, c := range []struct {
		name string
		data []byte
	}{
		{"empty", nil},
		{"garbage", []byte("not a key at all")},
		{"armored signature", []byte("-----BEGIN PGP SIGNATURE-----\n\nwsBcBAABCAAQBQJ=\n-----END PGP SIGNATURE-----\n")},
	} {
		if _, err := ParseKeyring(c.data, c.name); err == nil || !strings.Contains(err.Error(), c.name) {
			t.Errorf("%s: err %v", c.name, err)
		}
	}
	if _, err := LoadKeyring(filepath.Join(t.TempDir(), "missing.gpg")); err == nil || !strings.Contains(err.Error(), "missing.gpg") {
		t.Errorf("missing file: %v", err)
	}
}

func FuzzVerifyClearsigned(f *testing.F) {
	key := newKey(f, packet.PubKeyAlgoEdDSA, 0)
	kr := keyringOf(f, false, key)
	f.Add(clearsignAt(f, key, []byte(release), now))
	f.Add([]byte(release))
	dir := filepath.Join(filepath.Dir(testfixture.RepoRoot(f)), "shared", "testdata", "debian-bookworm")
	if data, err := os.ReadFile(filepath.Join(dir, "debian/dists/bookworm-updates/InRelease")); err == nil {
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		text, signer, err := kr.VerifyClearsigned(data, now)
		if err == nil && (signer == nil || text == nil) {
			t.Fatal("success without signer or text")
		}
		if err == nil && !bytes.Equal(text, []byte(release)) {
			t.Fatalf("verified text %q differs from the signed release", text)
		}
	})
}

func TestClearsignedText(t *testing.T) {
	key := newKey(t, packet.PubKeyAlgoEdDSA, 0)
	good := clearsignAt(t, key, []byte(release), now)
	text, err := ClearsignedText(good)
	if err != nil || string(text) != release {
		t.Fatalf("%q, %v", text, err)
	}
	if _, err := ClearsignedText(append(good, "Suite: evil\n"...)); reasonOf(err) != Malformed {
		t.Fatalf("text after the signature: %v", err)
	}
}

func FuzzParseKeyring(f *testing.F) {
	f.Add(mustArmored(f, newKey(f, packet.PubKeyAlgoEdDSA, 0)))
	var bin bytes.Buffer
	if err := newKey(f, packet.PubKeyAlgoEd25519, 0).Serialize(&bin); err != nil {
		f.Fatal(err)
	}
	f.Add(bin.Bytes())
	f.Fuzz(func(t *testing.T, data []byte) {
		k, err := ParseKeyring(data, "fuzz")
		if err == nil && (k.Len() == 0 || len(k.Fingerprints()) != k.Len()) {
			t.Fatalf("keyring with %d keys accepted", k.Len())
		}
	})
}
