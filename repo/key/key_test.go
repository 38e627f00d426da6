package key

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"flag"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/clearsign"
	"github.com/ProtonMail/go-crypto/openpgp/packet"

	"github.com/greypm/grey/internal/testfixture"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata/")

var created = time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)

// fixedRand is a deterministic entropy stream: a SHA-256 counter.
type fixedRand struct {
	seed []byte
	n    uint64
	buf  []byte
}

func (r *fixedRand) Read(p []byte) (int, error) {
	for len(r.buf) < len(p) {
		h := sha256.Sum256(append(append([]byte{}, r.seed...), byte(r.n), byte(r.n>>8), byte(r.n>>16)))
		r.n++
		r.buf = append(r.buf, h[:]...)
	}
	copy(p, r.buf)
	r.buf = r.buf[len(p):]
	return len(p), nil
}

func fixedKey(t testing.TB, seed string) *Key {
	t.Helper()
	k, err := Generate(context.Background(), Options{
		Name: "grey test repository", Email: "repo@example.org",
		Created: created, Rand: &fixedRand{seed: []byte(seed)},
	})
	if err != nil {
		t.Fatal(err)
	}
	return k
}

const release = "Origin: grey\nSuite: stable\nCodename: test\nDate: Sun, 01 Nov 2026 12:00:00 UTC\nSHA256:\n 0123 12 main/binary-amd64/Packages\n"

// gpgv verifies sig (and data, for a detached signature) against keyring
// with the host's gpgv, the verifier apt runs. It returns gpgv's output and
// whether it accepted.
func gpgv(t *testing.T, keyring string, files ...string) (string, bool) {
	t.Helper()
	bin := testfixture.Tool(t, "gpgv", "gpgv")
	home := t.TempDir()
	args := append([]string{"--homedir", home, "--keyring", keyring}, files...)
	out, err := exec.Command(bin, args...).CombinedOutput()
	return string(out), err == nil
}

func TestGenerateVerifyWithGpgv(t *testing.T) {
	algs := []Algorithm{Ed25519, RSA4096}
	if testing.Short() {
		algs = algs[:1]
	}
	for _, alg := range algs {
		t.Run(string(alg), func(t *testing.T) {
			k, err := Generate(context.Background(), Options{Name: "grey test", Email: "t@example.org", Algorithm: alg, Created: created})
			if err != nil {
				t.Fatal(err)
			}
			if k.Algorithm() != alg {
				t.Errorf("Algorithm() = %q, want %q", k.Algorithm(), alg)
			}
			dir := t.TempDir()
			p, err := k.WriteFiles(filepath.Join(dir, "repo"))
			if err != nil {
				t.Fatal(err)
			}
			st, err := os.Stat(p.Secret)
			if err != nil {
				t.Fatal(err)
			}
			if st.Mode().Perm() != 0o600 {
				t.Errorf("%s mode %v, want 0600", p.Secret, st.Mode().Perm())
			}
			k2, err := LoadSecret(p.Secret)
			if err != nil {
				t.Fatal(err)
			}
			if k2.Fingerprint() != k.Fingerprint() {
				t.Fatalf("reloaded fingerprint %s, want %s", k2.Fingerprint(), k.Fingerprint())
			}
			at := created.Add(time.Hour)
			var in, det bytes.Buffer
			if err := k2.ClearSign(&in, []byte(release), at); err != nil {
				t.Fatal(err)
			}
			if err := k2.DetachSign(&det, []byte(release), at); err != nil {
				t.Fatal(err)
			}
			inPath := filepath.Join(dir, "InRelease")
			relPath := filepath.Join(dir, "Release")
			detPath := filepath.Join(dir, "Release.gpg")
			for path, data := range map[string][]byte{inPath: in.Bytes(), relPath: []byte(release), detPath: det.Bytes()} {
				if err := os.WriteFile(path, data, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if out, ok := gpgv(t, p.Keyring, inPath); !ok || !strings.Contains(out, "Good signature") {
				t.Errorf("gpgv InRelease rejected:\n%s", out)
			}
			if out, ok := gpgv(t, p.Keyring, detPath, relPath); !ok || !strings.Contains(out, "Good signature") {
				t.Errorf("gpgv Release.gpg rejected:\n%s", out)
			}
			// One flipped byte in the signed text must fail.
			bad := bytes.Replace(in.Bytes(), []byte("Suite: stable"), []byte("Suite: stabla"), 1)
			if err := os.WriteFile(inPath, bad, 0o644); err != nil {
				t.Fatal(err)
			}
			if out, ok := gpgv(t, p.Keyring, inPath); ok {
				t.Errorf("gpgv accepted a tampered InRelease:\n%s", out)
			}
			// The clearsigned text is the message, byte for byte.
			b, _ := clearsign.Decode(in.Bytes())
			if b == nil || string(b.Plaintext) != release {
				t.Fatalf("clearsigned plaintext differs")
			}
		})
	}
}

func TestGoCryptoVerifies(t *testing.T) {
	k := fixedKey(t, "a")
	var pub, in, det bytes.Buffer
	if err := k.WritePublicKeyring(&pub); err != nil {
		t.Fatal(err)
	}
	ring, err := openpgp.ReadKeyRing(&pub)
	if err != nil {
		t.Fatal(err)
	}
	at := created.Add(time.Minute)
	if err := k.ClearSign(&in, []byte(release), at); err != nil {
		t.Fatal(err)
	}
	if err := k.DetachSign(&det, []byte(release), at); err != nil {
		t.Fatal(err)
	}
	cfg := &packet.Config{Time: func() time.Time { return at }}
	b, _ := clearsign.Decode(in.Bytes())
	if _, err := b.VerifySignature(ring, cfg); err != nil {
		t.Errorf("clearsigned: %v", err)
	}
	if _, err := openpgp.CheckArmoredDetachedSignature(ring, strings.NewReader(release), &det, cfg); err != nil {
		t.Errorf("detached: %v", err)
	}
	if ring[0].PrivateKey != nil {
		t.Error("public keyring holds secret material")
	}
	if len(ring[0].Subkeys) != 0 {
		t.Errorf("key has %d subkeys, want none", len(ring[0].Subkeys))
	}
	if v := ring[0].PrimaryKey.Version; v != 4 {
		t.Errorf("key version %d, want 4", v)
	}
	if a := ring[0].PrimaryKey.PubKeyAlgo; a != packet.PubKeyAlgoEdDSA {
		t.Errorf("algorithm %v, want EdDSA (22)", a)
	}
}

func TestDeterministicGolden(t *testing.T) {
	k := fixedKey(t, "golden")
	at := created.Add(24 * time.Hour)
	render := func() []byte {
		var out bytes.Buffer
		if err := k.WritePublicArmored(&out); err != nil {
			t.Fatal(err)
		}
		if err := k.ClearSign(&out, []byte(release), at); err != nil {
			t.Fatal(err)
		}
		if err := k.DetachSign(&out, []byte(release), at); err != nil {
			t.Fatal(err)
		}
		return out.Bytes()
	}
	got := render()
	if again := render(); !bytes.Equal(got, again) {
		t.Fatal("two signatures of the same message at the same time differ")
	}
	if other := fixedKey(t, "golden"); other.Fingerprint() != k.Fingerprint() {
		t.Fatal("the same entropy gave two different keys")
	}
	golden := filepath.Join("testdata", "signed.golden")
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("output differs from %s (run go test -update if intended):\n%s", golden, got)
	}
}

func TestSignErrors(t *testing.T) {
	k := fixedKey(t, "b")
	var sink bytes.Buffer
	var te *SignatureTimeError
	if err := k.ClearSign(&sink, []byte(release), created.Add(-time.Hour)); !errors.As(err, &te) {
		t.Errorf("signing before creation: err = %v, want SignatureTimeError", err)
	}
	if err := k.DetachSign(&sink, []byte(release), created.Add(-time.Hour)); !errors.As(err, &te) {
		t.Errorf("detached signing before creation: err = %v, want SignatureTimeError", err)
	}
}

func TestGenerateErrors(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name string
		opts Options
	}{
		{"no name", Options{Created: created}},
		{"bad char", Options{Name: "a <b>", Created: created}},
		{"no time", Options{Name: "a"}},
		{"bad algorithm", Options{Name: "a", Created: created, Algorithm: "dsa"}},
	}
	for _, tt := range tests {
		if _, err := Generate(ctx, tt.opts); err == nil {
			t.Errorf("%s: no error", tt.name)
		}
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := Generate(cctx, Options{Name: "a", Created: created, Algorithm: RSA4096}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled RSA generation: err = %v", err)
	}
}

func TestReadSecretErrors(t *testing.T) {
	k := fixedKey(t, "c")
	var pub, armPub, sec bytes.Buffer
	if err := k.WritePublicKeyring(&pub); err != nil {
		t.Fatal(err)
	}
	if err := k.WritePublicArmored(&armPub); err != nil {
		t.Fatal(err)
	}
	if err := k.WriteSecret(&sec); err != nil {
		t.Fatal(err)
	}
	// A passphrase-protected export of the same key.
	var enc bytes.Buffer
	e := *k.entity
	priv := *e.PrivateKey
	e.PrivateKey = &priv
	if err := e.EncryptPrivateKeys([]byte("secret"), nil); err != nil {
		t.Fatal(err)
	}
	if err := e.SerializePrivateWithoutSigning(&enc, nil); err != nil {
		t.Fatal(err)
	}
	two := append(append([]byte{}, sec.Bytes()...), sec.Bytes()...)
	tests := []struct {
		name string
		in   []byte
		want error
	}{
		{"public binary", pub.Bytes(), ErrNoSecretKey},
		{"public armored", armPub.Bytes(), ErrNoSecretKey},
		{"encrypted", enc.Bytes(), ErrEncrypted},
		{"garbage", []byte("hello"), nil},
		{"empty", nil, nil},
		{"two armored blocks", two, nil},
	}
	for _, tt := range tests {
		_, err := ReadSecret(bytes.NewReader(tt.in))
		if err == nil {
			t.Errorf("%s: no error", tt.name)
			continue
		}
		if tt.want != nil && !errors.Is(err, tt.want) {
			t.Errorf("%s: err = %v, want %v", tt.name, err, tt.want)
		}
	}
	if _, err := ReadSecret(bytes.NewReader(sec.Bytes())); err != nil {
		t.Errorf("own secret key: %v", err)
	}
}

func TestWriteFilesNeverOverwrites(t *testing.T) {
	k := fixedKey(t, "d")
	prefix := filepath.Join(t.TempDir(), "k")
	if _, err := k.WriteFiles(prefix); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(prefix + ".key.asc")
	other := fixedKey(t, "e")
	if _, err := other.WriteFiles(prefix); !errors.Is(err, ErrExists) {
		t.Fatalf("second WriteFiles: err = %v, want ErrExists", err)
	}
	after, _ := os.ReadFile(prefix + ".key.asc")
	if !bytes.Equal(before, after) {
		t.Fatal("existing secret key was changed")
	}
	// Keyring exists but secret does not: the new secret must not be left behind.
	prefix2 := filepath.Join(t.TempDir(), "k2")
	if err := os.WriteFile(prefix2+".gpg", []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := k.WriteFiles(prefix2); !errors.Is(err, ErrExists) {
		t.Fatalf("err = %v, want ErrExists", err)
	}
	if _, err := os.Stat(prefix2 + ".key.asc"); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("half-written key pair left behind: %v", err)
	}
}

func FuzzReadSecret(f *testing.F) {
	k := fixedKey(f, "fuzz")
	var sec, pub bytes.Buffer
	_ = k.WriteSecret(&sec)
	_ = k.WritePublicKeyring(&pub)
	f.Add(sec.Bytes())
	f.Add(pub.Bytes())
	f.Add([]byte("-----BEGIN PGP PRIVATE KEY BLOCK-----\n\n-----END PGP PRIVATE KEY BLOCK-----\n"))
	// Debian's archive keyring from the fixture: public keys only.
	ring := filepath.Join(filepath.Dir(testfixture.RepoRoot(f)), "shared/testdata/debian-bookworm/debian-archive-keyring.gpg")
	if b, err := os.ReadFile(ring); err == nil {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		k, err := ReadSecret(bytes.NewReader(data))
		if err != nil {
			return
		}
		// Whatever was accepted must be able to sign (or say why not).
		_ = k.ClearSign(io.Discard, []byte("x\n"), time.Now())
	})
}
