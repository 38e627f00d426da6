// Package trust verifies the OpenPGP signatures of Debian repository
// metadata: a clearsigned InRelease or a Release with its detached
// Release.gpg, against one keyring only: the source's signed-by keyring.
// There is no global keyring, so a key trusted for one source can never vouch
// for another.
//
// Verification returns the text that the signature covers and nothing else:
// a caller parses exactly the bytes that were signed, never text placed
// around the signed block.
package trust

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/clearsign"
	pgperrors "github.com/ProtonMail/go-crypto/openpgp/errors"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
)

// MaxFutureSkew is how far in the future of the verifier's clock a
// signature's creation time may lie (clocks of signer and verifier differ a
// little); a signature made later than that is refused.
const MaxFutureSkew = 10 * time.Minute

// Keyring is a set of public keys read from one file.
type Keyring struct {
	// Name is where the keys came from, used in messages.
	Name     string
	entities openpgp.EntityList
}

// LoadKeyring reads a keyring file, binary (as apt's signed-by usually
// names, *.gpg) or ASCII-armored (*.asc), telling them apart by content.
func LoadKeyring(path string) (*Keyring, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("keyring: %w", err)
	}
	return ParseKeyring(data, path)
}

// ParseKeyring reads a binary or ASCII-armored keyring from data; name is
// used in messages.
func ParseKeyring(data []byte, name string) (*Keyring, error) {
	var el openpgp.EntityList
	var err error
	if bytes.Contains(data[:min(len(data), 1024)], []byte("-----BEGIN PGP")) {
		el, err = readArmoredKeyrings(data)
	} else {
		el, err = openpgp.ReadKeyRing(bytes.NewReader(data))
	}
	if err != nil {
		return nil, fmt.Errorf("keyring %s: %w", name, err)
	}
	if len(el) == 0 {
		return nil, fmt.Errorf("keyring %s: no public keys", name)
	}
	return &Keyring{Name: name, entities: el}, nil
}

// readArmoredKeyrings reads every armored key block in data: a file may
// hold several, one after another. Each block is decoded on its own because
// the armor decoder reads ahead past the end of its block.
func readArmoredKeyrings(data []byte) (openpgp.EntityList, error) {
	var all openpgp.EntityList
	begin := []byte("-----BEGIN PGP")
	for {
		i := bytes.Index(data, begin)
		if i < 0 {
			break
		}
		data = data[i:]
		next := len(data)
		if j := bytes.Index(data[len(begin):], begin); j >= 0 {
			next = len(begin) + j
		}
		block, err := armor.Decode(bytes.NewReader(data[:next]))
		if err != nil {
			return nil, err
		}
		if block.Type != openpgp.PublicKeyType && block.Type != openpgp.PrivateKeyType {
			return nil, fmt.Errorf("armored block of type %q is not a key", block.Type)
		}
		el, err := openpgp.ReadKeyRing(block.Body)
		if err != nil {
			return nil, err
		}
		all = append(all, el...)
		data = data[next:]
	}
	return all, nil
}

// Join returns a keyring holding the keys of all rings, named name.
func Join(name string, rings ...*Keyring) *Keyring {
	k := &Keyring{Name: name}
	for _, r := range rings {
		k.entities = append(k.entities, r.entities...)
	}
	return k
}

// Len returns the number of primary keys in the keyring.
func (k *Keyring) Len() int { return len(k.entities) }

// Fingerprints returns the primary key fingerprints, upper-case hex.
func (k *Keyring) Fingerprints() []string {
	out := make([]string, len(k.entities))
	for i, e := range k.entities {
		out[i] = fingerprint(e.PrimaryKey.Fingerprint)
	}
	return out
}

func fingerprint(b []byte) string { return strings.ToUpper(fmt.Sprintf("%x", b)) }

// Signer describes the key that made a good signature.
type Signer struct {
	// Fingerprint is the fingerprint of the key (primary or subkey) that
	// made the signature; Primary that of its primary key.
	Fingerprint string
	Primary     string
	// UserID is the primary user ID of the key, for messages.
	UserID string
	// Signed is the signature's creation time.
	Signed time.Time
}

func (s *Signer) String() string {
	return fmt.Sprintf("%s (%s)", s.Primary, s.UserID)
}

// Reason classifies why verification failed.
type Reason string

// The reasons a signature check fails.
const (
	NotSigned    Reason = "not signed"                      // no signature, or not a clearsigned file
	Malformed    Reason = "malformed signed file"           // text outside the signed block, broken armor
	UnknownKey   Reason = "no key of the keyring signed it" // signed, but by keys not in the keyring
	BadSignature Reason = "bad signature"                   // the text does not match the signature
	KeyExpired   Reason = "signing key expired"             // or not yet valid at the clock
	KeyRevoked   Reason = "signing key revoked"
	SigExpired   Reason = "signature expired"
	SigFuture    Reason = "signature made in the future"
)

// Error is a failed verification. Err, when set, is the underlying error of
// the OpenPGP library.
type Error struct {
	Reason Reason
	// Keyring is the name of the keyring used.
	Keyring string
	Detail  string
	Err     error
}

func (e *Error) Error() string {
	s := string(e.Reason)
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	if e.Keyring != "" {
		s += " (keyring " + e.Keyring + ")"
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *Error) Unwrap() error { return e.Err }

// decodeClearsigned splits a clearsigned file, refusing text around the
// signed block.
func decodeClearsigned(data []byte, keyring string) (*clearsign.Block, error) {
	trimmed := bytes.TrimLeft(data, " \t\r\n")
	if !bytes.HasPrefix(trimmed, []byte("-----BEGIN PGP SIGNED MESSAGE-----")) {
		return nil, &Error{Reason: NotSigned, Keyring: keyring, Detail: "no clearsigned message at the start of the file"}
	}
	block, rest := clearsign.Decode(trimmed)
	if block == nil {
		return nil, &Error{Reason: Malformed, Keyring: keyring, Detail: "cannot decode the clearsigned message"}
	}
	if len(bytes.TrimSpace(rest)) != 0 {
		return nil, &Error{Reason: Malformed, Keyring: keyring, Detail: "text after the signature"}
	}
	return block, nil
}

// signedText returns a block's text with LF line ends and a final newline.
func signedText(block *clearsign.Block) []byte {
	text := block.Plaintext
	if len(text) > 0 && text[len(text)-1] != '\n' {
		text = append(text, '\n')
	}
	return text
}

// ClearsignedText returns the text of a clearsigned file WITHOUT checking
// its signature, applying the same rules about text around the signed
// block as VerifyClearsigned. It exists for sources explicitly marked
// trusted; everything else must use VerifyClearsigned.
func ClearsignedText(data []byte) ([]byte, error) {
	block, err := decodeClearsigned(data, "")
	if err != nil {
		return nil, err
	}
	return signedText(block), nil
}

// VerifyClearsigned checks a clearsigned file (an InRelease) and returns its
// signed text, with line ends as LF, and the signer. It refuses a file with
// anything but whitespace before or after the signed block, since apt would
// not parse such text either and an attacker could otherwise add fields
// outside the signature.
func (k *Keyring) VerifyClearsigned(data []byte, now time.Time) ([]byte, *Signer, error) {
	block, err := decodeClearsigned(data, k.Name)
	if err != nil {
		return nil, nil, err
	}
	sigData, err := io.ReadAll(block.ArmoredSignature.Body)
	if err != nil {
		return nil, nil, &Error{Reason: Malformed, Keyring: k.Name, Detail: "signature armor", Err: err}
	}
	signer, err := k.verify(block.Bytes, sigData, now)
	if err != nil {
		return nil, nil, err
	}
	return signedText(block), signer, nil
}

// VerifyDetached checks a detached signature (Release.gpg, armored or
// binary) of signed (the Release file).
func (k *Keyring) VerifyDetached(signed, signature []byte, now time.Time) (*Signer, error) {
	sigData := signature
	if bytes.Contains(signature[:min(len(signature), 1024)], []byte("-----BEGIN PGP")) {
		block, err := armor.Decode(bytes.NewReader(signature))
		if err != nil {
			return nil, &Error{Reason: Malformed, Keyring: k.Name, Detail: "signature armor", Err: err}
		}
		if block.Type != openpgp.SignatureType {
			return nil, &Error{Reason: Malformed, Keyring: k.Name, Detail: "armored block of type " + block.Type}
		}
		if sigData, err = io.ReadAll(block.Body); err != nil {
			return nil, &Error{Reason: Malformed, Keyring: k.Name, Detail: "signature armor", Err: err}
		}
	}
	return k.verify(signed, sigData, now)
}

// verify checks each signature packet of sigData on its own. A file signed
// by several keys (Debian signs with two or three) verifies when one of them
// is in the keyring and valid, and signatures by keys not in the keyring are
// ignored, as apt does with gpgv's NO_PUBKEY. But a signature by a key of the
// keyring that does not match the text (gpgv's BADSIG, exit status 1) refuses
// the whole file even beside a good one, as gpgv and apt do: every signature
// is checked, not just up to the first good one.
func (k *Keyring) verify(signed, sigData []byte, now time.Time) (*Signer, error) {
	or := packet.NewOpaqueReader(bytes.NewReader(sigData))
	var good *Signer
	var firstErr *Error
	seen := 0
	for {
		op, err := or.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, &Error{Reason: Malformed, Keyring: k.Name, Detail: "signature packets", Err: err}
		}
		if op.Tag != 2 { // only signature packets belong in a detached signature
			return nil, &Error{Reason: Malformed, Keyring: k.Name, Detail: fmt.Sprintf("unexpected OpenPGP packet type %d in signature", op.Tag)}
		}
		seen++
		var one bytes.Buffer
		if err := op.Serialize(&one); err != nil {
			return nil, &Error{Reason: Malformed, Keyring: k.Name, Detail: "signature packet", Err: err}
		}
		signer, e := k.verifyOne(signed, one.Bytes(), seen, now)
		if e == nil {
			if good == nil {
				good = signer
			}
			continue
		}
		if e.Reason == BadSignature {
			return nil, e
		}
		// An unknown key is the least informative reason: keep a more
		// specific one (expired key, future signature) when there is one.
		if firstErr == nil || firstErr.Reason == UnknownKey {
			firstErr = e
		}
	}
	if seen == 0 {
		return nil, &Error{Reason: NotSigned, Keyring: k.Name, Detail: "no signature packet"}
	}
	if good != nil {
		return good, nil
	}
	return nil, firstErr
}

// verifyOne checks the n-th signature packet (one serialized packet).
func (k *Keyring) verifyOne(signed, one []byte, n int, now time.Time) (*Signer, *Error) {
	issuer := issuerOf(one)
	config := &packet.Config{Time: func() time.Time { return now }}
	sig, ent, err := openpgp.VerifyDetachedSignature(k.entities, bytes.NewReader(signed), bytes.NewReader(one), config)
	if sig != nil && sig.CreationTime.After(now) {
		// go-crypto calls a signature from the future expired. Within
		// the allowed skew, check it again at its own creation time.
		if sig.CreationTime.After(now.Add(MaxFutureSkew)) {
			err = &Error{Reason: SigFuture, Keyring: k.Name, Detail: "made at " + sig.CreationTime.UTC().Format(time.RFC3339)}
		} else if errors.Is(err, pgperrors.ErrSignatureExpired) {
			at := sig.CreationTime
			sig, ent, err = openpgp.VerifyDetachedSignature(k.entities, bytes.NewReader(signed), bytes.NewReader(one),
				&packet.Config{Time: func() time.Time { return at }})
		}
	}
	if err == nil {
		return signerOf(sig, ent), nil
	}
	e := classify(err, k.Name)
	if e.Reason == BadSignature && e.Detail == "" {
		e.Detail = fmt.Sprintf("signature %d, by key %s, does not verify", n, issuer)
	}
	return nil, e
}

// issuerOf names the key that made a signature packet: its issuer
// fingerprint when the packet carries one, else its 64-bit key ID, as
// gpgv's BADSIG line does.
func issuerOf(one []byte) string {
	p, err := packet.Read(bytes.NewReader(one))
	if err != nil {
		return "unknown (unreadable signature packet)"
	}
	sig, ok := p.(*packet.Signature)
	switch {
	case !ok:
		return "unknown"
	case sig.IssuerFingerprint != nil:
		return fingerprint(sig.IssuerFingerprint)
	case sig.IssuerKeyId != nil:
		return fmt.Sprintf("%016X", *sig.IssuerKeyId)
	}
	return "unknown (no issuer)"
}

func signerOf(sig *packet.Signature, ent *openpgp.Entity) *Signer {
	s := &Signer{Primary: fingerprint(ent.PrimaryKey.Fingerprint), Signed: sig.CreationTime}
	s.Fingerprint = s.Primary
	if sig.IssuerFingerprint != nil {
		s.Fingerprint = fingerprint(sig.IssuerFingerprint)
	} else if sig.IssuerKeyId != nil {
		for _, sk := range ent.Subkeys {
			if sk.PublicKey.KeyId == *sig.IssuerKeyId {
				s.Fingerprint = fingerprint(sk.PublicKey.Fingerprint)
			}
		}
	}
	if id := ent.PrimaryIdentity(); id != nil {
		s.UserID = id.Name
	}
	return s
}

func classify(err error, keyring string) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	r := BadSignature
	switch {
	case errors.Is(err, pgperrors.ErrUnknownIssuer):
		r = UnknownKey
	case errors.Is(err, pgperrors.ErrKeyExpired):
		r = KeyExpired
	case errors.Is(err, pgperrors.ErrKeyRevoked):
		r = KeyRevoked
	case errors.Is(err, pgperrors.ErrSignatureExpired):
		r = SigExpired
	}
	return &Error{Reason: r, Keyring: keyring, Err: err}
}
