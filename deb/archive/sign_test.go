package archive

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/packet"

	"github.com/greypm/grey/internal/testfixture"
)

// testKey makes a throw-away signing key, created before testEpoch.
func testKey(t testing.TB, algo packet.PublicKeyAlgorithm, name string) *openpgp.Entity {
	t.Helper()
	cfg := &packet.Config{Algorithm: algo, RSABits: 2048, Time: func() time.Time { return testEpoch.Add(-24 * time.Hour) }}
	e, err := openpgp.NewEntity(name, "test only", strings.ToLower(name)+"@example.org", cfg)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func verifyBytes(deb []byte, ring openpgp.KeyRing) (*Signature, error) {
	return Verify(bytes.NewReader(deb), int64(len(deb)), ring, VerifyOptions{Name: "greet.deb", Now: func() time.Time { return testfixture.Clock }})
}

func TestSignVerify(t *testing.T) {
	dir := t.TempDir()
	makeTree(t, dir, true)
	unsigned, _ := buildBytes(t, dir, BuildOptions{SourceDateEpoch: testEpoch})
	other := testKey(t, packet.PubKeyAlgoEdDSA, "Other")
	for _, tc := range []struct {
		name string
		algo packet.PublicKeyAlgorithm
	}{{"ed25519", packet.PubKeyAlgoEdDSA}, {"rsa", packet.PubKeyAlgoRSA}} {
		t.Run(tc.name, func(t *testing.T) {
			key := testKey(t, tc.algo, "Origin")
			deb, _ := buildBytes(t, dir, BuildOptions{SourceDateEpoch: testEpoch, Signer: key})
			again, _ := buildBytes(t, dir, BuildOptions{SourceDateEpoch: testEpoch, Signer: key})
			if !bytes.Equal(deb, again) {
				t.Error("signed builds of the same tree differ")
			}
			// The signature is appended; everything before it is the
			// unsigned package.
			if !bytes.HasPrefix(deb, unsigned) {
				t.Error("signing changed the package members")
			}
			if _, _, err := readAll(deb, ReadOptions{}); err != nil {
				t.Fatalf("signed package does not read: %v", err)
			}
			sig, err := verifyBytes(deb, openpgp.EntityList{other, key})
			if err != nil {
				t.Fatal(err)
			}
			signing, ok := key.SigningKey(testfixture.Clock)
			if !ok || sig.KeyID != signing.PublicKey.KeyId || sig.SignerName() != "Origin (test only) <origin@example.org>" {
				t.Errorf("signature: key %s signer %q", sig.KeyIDString(), sig.SignerName())
			}
			if !sig.Created.Equal(testEpoch) {
				t.Errorf("signature made at %v, want the epoch", sig.Created)
			}

			// Wrong keyring: the error names the key.
			_, err = verifyBytes(deb, openpgp.EntityList{other})
			var se *SignatureError
			if !errors.As(err, &se) || !errors.Is(err, ErrBadSignature) || se.KeyID != signing.PublicKey.KeyId ||
				!strings.Contains(err.Error(), sig.KeyIDString()) || !strings.Contains(err.Error(), "greet.deb") {
				t.Errorf("wrong keyring: %v", err)
			}
			// One flipped byte anywhere in the signed members fails.
			members, err := scanMembers(bytes.NewReader(deb), int64(len(deb)))
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range members[:3] {
				bad := append([]byte(nil), deb...)
				bad[m.offset+m.size/2] ^= 0x01
				if _, err := verifyBytes(bad, openpgp.EntityList{key}); !errors.Is(err, ErrBadSignature) {
					t.Errorf("byte flipped in %s: %v", m.name, err)
				}
			}
		})
	}
	if _, err := verifyBytes(unsigned, openpgp.EntityList{other}); !errors.Is(err, ErrUnsigned) || !strings.Contains(err.Error(), "greet.deb") {
		t.Errorf("unsigned: %v", err)
	}
	if _, err := verifyBytes([]byte("!<arch>\nnot a package"), openpgp.EntityList{other}); err == nil {
		t.Error("garbage verified")
	}
}

// TestSignatureIsDebsigs checks the signature with GnuPG the way debsigs
// defines it: over `ar p FILE debian-binary control.tar.* data.tar.*`.
func TestSignatureIsDebsigs(t *testing.T) {
	gpgv := testfixture.Tool(t, "gpgv", "gpgv")
	dir := t.TempDir()
	makeTree(t, dir, false)
	key := testKey(t, packet.PubKeyAlgoEdDSA, "Origin")
	deb, _ := buildBytes(t, dir, BuildOptions{SourceDateEpoch: testEpoch, Signer: key})
	members, err := scanMembers(bytes.NewReader(deb), int64(len(deb)))
	if err != nil {
		t.Fatal(err)
	}
	var blob, sig []byte
	for _, m := range members {
		content := deb[m.offset : m.offset+m.size]
		if m.name == memberSignature {
			sig = content
			continue
		}
		blob = append(blob, content...)
	}
	if !bytes.HasPrefix(sig, []byte("-----BEGIN PGP SIGNATURE-----")) {
		t.Fatalf("_gpgorigin is not an armored signature: %q", sig)
	}
	tmp := t.TempDir()
	var ring bytes.Buffer
	if err := key.Serialize(&ring); err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string][]byte{"ring.gpg": ring.Bytes(), "blob": blob, "_gpgorigin": sig} {
		if err := os.WriteFile(filepath.Join(tmp, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(gpgv, "--keyring", filepath.Join(tmp, "ring.gpg"), filepath.Join(tmp, "_gpgorigin"), filepath.Join(tmp, "blob"))
	cmd.Env = append(os.Environ(), "GNUPGHOME="+tmp)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("gpgv rejects the origin signature: %v\n%s", err, out)
	}
}
