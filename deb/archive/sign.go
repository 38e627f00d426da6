package archive

import (
	"bytes"
	"crypto"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
)

// maxSignature caps the _gpgorigin member: a signature is under 1 KiB.
const maxSignature = 64 << 10

// detachSign returns debsigs' origin signature over signed: an armored,
// detached OpenPGP signature made at the given time, so that a build with
// a fixed SOURCE_DATE_EPOCH signs to the same bytes (Ed25519 and RSA
// PKCS#1 v1.5 signatures are deterministic).
func detachSign(signed io.Reader, signer *openpgp.Entity, when time.Time) ([]byte, error) {
	if signer == nil || signer.PrivateKey == nil {
		return nil, errors.New("signing key has no private part")
	}
	if signer.PrivateKey.Encrypted {
		return nil, fmt.Errorf("signing key %s is protected by a passphrase; decrypt it first", keyIDString(signer.PrimaryKey.KeyId))
	}
	var buf bytes.Buffer
	// go-crypto salts v4 signatures by default; GnuPG does not, and the
	// salt would make every signed build differ.
	salt := false
	cfg := &packet.Config{DefaultHash: crypto.SHA512, Time: func() time.Time { return when }, NonDeterministicSignaturesViaNotation: &salt}
	if err := openpgp.ArmoredDetachSign(&buf, signer, signed, cfg); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// signatureTime dates a build's signature: the build's date, or the
// signing key's creation time when that is later, since a signature older
// than its key does not verify. Both are inputs of the build, so a signed
// build stays reproducible.
func signatureTime(date time.Time, signer *openpgp.Entity) time.Time {
	if signer == nil || signer.PrimaryKey == nil {
		return date
	}
	t := date
	if signer.PrimaryKey.CreationTime.After(t) {
		t = signer.PrimaryKey.CreationTime
	}
	for _, sk := range signer.Subkeys {
		if sk.PublicKey != nil && sk.PublicKey.CreationTime.After(t) {
			t = sk.PublicKey.CreationTime
		}
	}
	return t
}

// Signature describes a verified debsigs origin signature.
type Signature struct {
	// KeyID is the signing (sub)key's id.
	KeyID uint64
	// Signer is the keyring entity the key belongs to.
	Signer  *openpgp.Entity
	Created time.Time
}

// SignerName returns the signer's primary user id, e.g.
// "Example Archive <archive@example.org>", or "" when it has none.
func (s *Signature) SignerName() string {
	if s.Signer == nil {
		return ""
	}
	if id := s.Signer.PrimaryIdentity(); id != nil {
		return id.Name
	}
	return ""
}

// KeyIDString formats a key id as gpg prints it (16 upper-case hex digits).
func (s *Signature) KeyIDString() string { return keyIDString(s.KeyID) }

func keyIDString(id uint64) string { return fmt.Sprintf("%016X", id) }

// SignatureError is a signature that does not verify: made by a key not in
// the keyring, or not matching the package's bytes. It wraps
// ErrBadSignature.
type SignatureError struct {
	KeyID uint64 // issuer key id from the signature, 0 if unreadable
	Err   error
}

func (e *SignatureError) Error() string {
	if e.KeyID == 0 {
		return fmt.Sprintf("%v: %v", ErrBadSignature, e.Err)
	}
	return fmt.Sprintf("%v by key %s: %v", ErrBadSignature, keyIDString(e.KeyID), e.Err)
}

// Unwrap returns ErrBadSignature and the underlying cause.
func (e *SignatureError) Unwrap() []error { return []error{ErrBadSignature, e.Err} }

// VerifyOptions configures Verify.
type VerifyOptions struct {
	// Name identifies the package in errors, usually its path.
	Name string
	// Now is the clock against which key expiry and signature times are
	// checked; nil means time.Now.
	Now func() time.Time
}

// arMember is a member's place in a package read through io.ReaderAt.
type arMember struct {
	name   string
	offset int64
	size   int64
}

// scanMembers lists the members of the ar archive in r, checking dpkg's
// member order (debian-binary, control.tar*, data.tar*, with '_' members
// anywhere after debian-binary).
func scanMembers(r io.ReaderAt, size int64) ([]arMember, error) {
	ar := newArReader(io.NewSectionReader(r, 0, size))
	var out []arMember
	stage := 0 // 0: want debian-binary, 1: want control, 2: want data, 3: done
	for {
		h, err := ar.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, &Error{Err: err}
		}
		m := arMember{name: h.Name, offset: ar.offset, size: h.Size}
		switch {
		case stage == 0 && h.Name != memberDebianBinary:
			return nil, &Error{Member: h.Name, Err: fmt.Errorf("%w: first member is %q, want %q", ErrNotDeb, h.Name, memberDebianBinary)}
		case stage == 0:
			stage = 1
		case strings.HasPrefix(h.Name, "_"):
		case stage == 1 && strings.HasPrefix(h.Name, memberControl):
			stage = 2
		case stage == 2 && strings.HasPrefix(h.Name, memberData):
			stage = 3
		case stage == 3:
			// dpkg ignores what follows data.tar.
		default:
			return nil, &Error{Member: h.Name, Err: fmt.Errorf("%w: unexpected member", ErrMemberOrder)}
		}
		out = append(out, m)
	}
	if stage != 3 {
		return nil, &Error{Err: fmt.Errorf("%w: control or data member missing", ErrMemberOrder)}
	}
	return out, nil
}

// Verify checks the debsigs origin signature (_gpgorigin) of the package in
// r (size bytes, e.g. an os.File) against keyring: an OpenPGP detached
// signature, armored or binary, over the contents of debian-binary,
// control.tar* and data.tar*, concatenated in that order.
//
// An unsigned package is an *Error wrapping ErrUnsigned; a signature that
// does not verify is an *Error wrapping a *SignatureError (and
// ErrBadSignature) that names the key.
func Verify(r io.ReaderAt, size int64, keyring openpgp.KeyRing, opts VerifyOptions) (*Signature, error) {
	fail := func(err error) error {
		var ae *Error
		if errors.As(err, &ae) {
			ae.File = opts.Name
			return ae
		}
		return &Error{File: opts.Name, Member: memberSignature, Err: err}
	}
	members, err := scanMembers(r, size)
	if err != nil {
		return nil, fail(err)
	}
	var signed []io.Reader
	var sig *arMember
	for i := range members {
		m := &members[i]
		switch {
		case m.name == memberSignature:
			if sig != nil {
				return nil, fail(fmt.Errorf("%w: two %s members", ErrMemberOrder, memberSignature))
			}
			sig = m
		case strings.HasPrefix(m.name, "_"):
		case len(signed) < 3:
			signed = append(signed, io.NewSectionReader(r, m.offset, m.size))
		}
	}
	if sig == nil {
		return nil, &Error{File: opts.Name, Err: ErrUnsigned}
	}
	if sig.size > maxSignature {
		return nil, fail(fmt.Errorf("%w: %d bytes", ErrTooLarge, sig.size))
	}
	sigData := make([]byte, sig.size)
	if _, err := r.ReadAt(sigData, sig.offset); err != nil {
		return nil, fail(fmt.Errorf("%w: %w", ErrTruncated, err))
	}
	binarySig := sigData
	if bytes.HasPrefix(bytes.TrimSpace(sigData), []byte("-----BEGIN PGP")) {
		block, err := armor.Decode(bytes.NewReader(sigData))
		if err != nil {
			return nil, fail(&SignatureError{Err: fmt.Errorf("unreadable armor: %w", err)})
		}
		if binarySig, err = io.ReadAll(io.LimitReader(block.Body, maxSignature)); err != nil {
			return nil, fail(&SignatureError{Err: fmt.Errorf("unreadable armor: %w", err)})
		}
	}
	issuer := issuerKeyID(binarySig)
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	cfg := &packet.Config{Time: now}
	ps, entity, err := openpgp.VerifyDetachedSignature(keyring, io.MultiReader(signed...), bytes.NewReader(binarySig), cfg)
	if err != nil {
		return nil, fail(&SignatureError{KeyID: issuer, Err: err})
	}
	out := &Signature{KeyID: issuer, Signer: entity, Created: ps.CreationTime}
	if ps.IssuerKeyId != nil {
		out.KeyID = *ps.IssuerKeyId
	}
	return out, nil
}

// issuerKeyID reads the key id from the first signature packet, so that
// an error can name the key even when it is not in the keyring.
func issuerKeyID(sig []byte) uint64 {
	p, err := packet.Read(bytes.NewReader(sig))
	if err != nil {
		return 0
	}
	s, ok := p.(*packet.Signature)
	if !ok {
		return 0
	}
	if s.IssuerKeyId != nil {
		return *s.IssuerKeyId
	}
	if len(s.IssuerFingerprint) >= 8 {
		var id uint64
		for _, b := range s.IssuerFingerprint[len(s.IssuerFingerprint)-8:] {
			id = id<<8 | uint64(b)
		}
		return id
	}
	return 0
}

// ReadKeyring reads OpenPGP public keys, armored or binary (a keyring as
// apt's signed-by names it), for Verify.
func ReadKeyring(r io.Reader) (openpgp.EntityList, error) {
	data, err := io.ReadAll(io.LimitReader(r, 64<<20))
	if err != nil {
		return nil, err
	}
	var ring openpgp.EntityList
	if bytes.HasPrefix(bytes.TrimSpace(data), []byte("-----BEGIN PGP")) {
		ring, err = openpgp.ReadArmoredKeyRing(bytes.NewReader(data))
	} else {
		ring, err = openpgp.ReadKeyRing(bytes.NewReader(data))
	}
	if err != nil {
		return nil, fmt.Errorf("read keyring: %w", err)
	}
	if len(ring) == 0 {
		return nil, errors.New("read keyring: no keys")
	}
	return ring, nil
}

// ReadSigningKey reads an OpenPGP secret key (armored or binary, without a
// passphrase) for BuildOptions.Signer: the first key of r that can sign.
func ReadSigningKey(r io.Reader) (*openpgp.Entity, error) {
	ring, err := ReadKeyring(r)
	if err != nil {
		return nil, err
	}
	for _, e := range ring {
		if e.PrivateKey == nil {
			continue
		}
		if e.PrivateKey.Encrypted {
			return nil, fmt.Errorf("secret key %s is protected by a passphrase; export it without one for signing packages", keyIDString(e.PrimaryKey.KeyId))
		}
		return e, nil
	}
	return nil, errors.New("no secret key (this is a public keyring)")
}
