package trust

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
	"github.com/greypm/grey/internal/testfixture"
)

// sigPackets returns the raw packet of a text-mode signature of msg, as
// a clearsigned file carries.
func sigPackets(t *testing.T, e *openpgp.Entity, msg []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	cfg := &packet.Config{Time: func() time.Time { return created.Add(time.Hour) }}
	// The line end before the signature block is not part of the signed text.
	msg = bytes.TrimSuffix(msg, []byte("\n"))
	if err := openpgp.DetachSignText(&buf, e, bytes.NewReader(msg), cfg); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// corrupt flips a bit in the last byte of one signature packet: the
// signature's MPI, so the packet still parses and names its issuer but no
// longer verifies (gpgv's BADSIG).
func corrupt(p []byte) []byte {
	p = bytes.Clone(p)
	p[len(p)-1] ^= 0x01
	return p
}

// clearsignedWith builds an InRelease whose signature block holds the given
// signature packets, in order.
func clearsignedWith(t *testing.T, msg []byte, sigs ...[]byte) []byte {
	t.Helper()
	var out bytes.Buffer
	out.WriteString("-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n\n")
	out.Write(msg) // no line starts with '-', so no dash-escaping is needed
	w, err := armor.Encode(&out, "PGP SIGNATURE", nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range sigs {
		w.Write(s)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	out.WriteString("\n")
	return out.Bytes()
}

// gpgvVerdict runs gpgv with the keyring on a clearsigned file (data), or
// on a detached signature (data) of signed, and returns its exit status
// and its status lines.
func gpgvVerdict(t *testing.T, gpgv, keyring string, data, signed []byte) (int, string) {
	t.Helper()
	dir := t.TempDir()
	f := filepath.Join(dir, "InRelease")
	if err := os.WriteFile(f, data, 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{"--homedir", dir, "--status-fd", "1", "--keyring", keyring, f}
	if signed != nil {
		if err := os.WriteFile(filepath.Join(dir, "Release"), signed, 0o644); err != nil {
			t.Fatal(err)
		}
		args = append(args, filepath.Join(dir, "Release"))
	}
	var status bytes.Buffer
	cmd := exec.Command(gpgv, args...)
	cmd.Stdout = &status
	cmd.Stderr = io.Discard
	err := cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode(), status.String()
	}
	if err != nil {
		t.Fatal(err)
	}
	return 0, status.String()
}

// TestAttackBadSignatureBesideGood is issue 12's item 7: an InRelease with
// a good signature and a BAD one (by a key of the keyring, over other bytes)
// was accepted because verification stopped at the first good signature.
// gpgv exits 1 on it and apt refuses it. Each case is also given to gpgv,
// and grey's verdict must agree with apt's reading of gpgv's: any BADSIG
// refuses; a good signature beside one by an unknown key (NO_PUBKEY) is
// accepted.
func TestAttackBadSignatureBesideGood(t *testing.T) {
	gpgv := testfixture.Tool(t, "gpgv", "gpgv")
	a := newKey(t, packet.PubKeyAlgoEdDSA, 0)
	b := newKey(t, packet.PubKeyAlgoEdDSA, 0)
	stranger := newKey(t, packet.PubKeyAlgoEdDSA, 0)
	ringPath := keyringFile(t, false, a, b)
	kr, err := LoadKeyring(ringPath)
	if err != nil {
		t.Fatal(err)
	}
	msg := []byte(release)
	goodA := sigPackets(t, a, msg)
	goodB := sigPackets(t, b, msg)
	otherB := sigPackets(t, b, []byte(release+"Suite: unstable\n")) // b's signature of other text
	keyB := strings.ToUpper(fmt.Sprintf("%016x", b.PrimaryKey.KeyId))

	cases := []struct {
		name   string
		sigs   [][]byte
		gpgv   int    // gpgv's exit status
		refuse bool   // apt's and grey's verdict
		names  string // what grey's message must name
	}{
		{"two good", [][]byte{goodA, goodB}, 0, false, ""},
		{"good then corrupted", [][]byte{goodA, corrupt(goodB)}, 1, true, keyB},
		{"corrupted then good", [][]byte{corrupt(goodB), goodA}, 1, true, keyB},
		{"good then signature of other text", [][]byte{goodA, otherB}, 1, true, keyB},
		{"good then unknown key", [][]byte{goodA, sigPackets(t, stranger, msg)}, 2, false, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			data := clearsignedWith(t, msg, c.sigs...)
			code, status := gpgvVerdict(t, gpgv, ringPath, data, nil)
			if code != c.gpgv {
				t.Fatalf("gpgv exit %d, want %d\n%s", code, c.gpgv, status)
			}
			if c.refuse != strings.Contains(status, "[GNUPG:] BADSIG") {
				t.Fatalf("gpgv status does not match the case:\n%s", status)
			}
			// The same signatures as a detached Release.gpg.
			signed := bytes.TrimSuffix(msg, []byte("\n"))
			sig := bytes.Join(c.sigs, nil)
			if dcode, dstatus := gpgvVerdict(t, gpgv, ringPath, sig, signed); dcode != c.gpgv {
				t.Fatalf("gpgv on Release.gpg: exit %d, want %d\n%s", dcode, c.gpgv, dstatus)
			}
			_, derr := kr.VerifyDetached(signed, sig, now)

			text, _, err := kr.VerifyClearsigned(data, now)
			if !c.refuse {
				if err != nil || string(text) != release || derr != nil {
					t.Fatalf("refused %v, Release.gpg %v (gpgv exit %d)", err, derr, code)
				}
				return
			}
			if reasonOf(err) != BadSignature || text != nil {
				t.Fatalf("accepted or wrong reason: %v (gpgv exit %d)", err, code)
			}
			if !strings.Contains(err.Error(), c.names) {
				t.Fatalf("message %q does not name key %s", err, c.names)
			}

			if reasonOf(derr) != BadSignature || !strings.Contains(derr.Error(), c.names) {
				t.Fatalf("Release.gpg accepted or wrong reason: %v", derr)
			}
		})
	}
}
