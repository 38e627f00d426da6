// Package key makes and uses the OpenPGP keys that sign a Debian repository:
// it generates a keypair that apt's gpgv (GnuPG 2.2 in bookworm) accepts,
// writes it as an armored secret key and a binary public keyring (what a
// sources entry's signed-by names), and signs Release files, clearsigned
// (InRelease) and detached (Release.gpg).
//
// Keys are OpenPGP v4. Ed25519 keys use the EdDSA algorithm (22) with the
// Ed25519 curve, the form GnuPG 2.2 reads; the newer Ed25519 algorithm (27)
// and v6 keys of RFC 9580 are not understood by the gpgv that apt runs on
// bookworm, so they are never produced. Signatures use SHA-512, as Debian's
// archive signatures do.
//
// Signing is deterministic: the signature time is the caller's clock and no
// random salt notation is added, so the same key, message and time give the
// same bytes (Ed25519 and RSA PKCS#1 v1.5 signatures are deterministic), and
// a repository published twice from the same inputs is byte-identical.
package key

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/clearsign"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
)

// Algorithm names the public-key algorithm of a generated key.
type Algorithm string

// The algorithms Generate offers. Debian signs with both: RSA-4096 for the
// archive keys, Ed25519 for newer ones.
const (
	Ed25519 Algorithm = "ed25519"
	RSA4096 Algorithm = "rsa4096"
)

// Options describe a key to generate.
type Options struct {
	// Name is the user ID's name, for example "Example Repository Signing Key".
	Name string
	// Email is the user ID's e-mail address; it may be empty.
	Email string
	// Comment is the user ID's comment; it may be empty.
	Comment string
	// Algorithm is Ed25519 when empty.
	Algorithm Algorithm
	// Created is the key's creation time. Signatures made with the key must
	// be dated at or after it, since gpgv rejects a key "created in the future".
	Created time.Time
	// Rand is the entropy source; crypto/rand when nil. Tests pass a fixed
	// stream to get a fixed Ed25519 key.
	Rand io.Reader
}

// Key is an OpenPGP keypair able to sign.
type Key struct {
	entity *openpgp.Entity
}

// ErrNoSecretKey reports a key file that holds no usable secret signing key
// (a public key, or a secret key whose private part is a GnuPG stub).
var ErrNoSecretKey = errors.New("no secret signing key")

// ErrEncrypted reports a secret key protected by a passphrase; grey signs
// unattended and reads only unprotected keys.
var ErrEncrypted = errors.New("secret key is protected by a passphrase")

// Generate makes a new primary key that can sign and certify, with one user
// ID and no subkeys: a repository key signs nothing else, so an encryption
// subkey would only be secret material to guard for no use. It returns
// ctx.Err() if ctx ends first (RSA-4096 generation takes seconds).
func Generate(ctx context.Context, opts Options) (*Key, error) {
	if strings.TrimSpace(opts.Name) == "" {
		return nil, errors.New("generate key: a name is required")
	}
	if strings.ContainsAny(opts.Name+opts.Email+opts.Comment, "()<>\x00") {
		return nil, fmt.Errorf("generate key: user ID %q: name, e-mail and comment may not contain ( ) < > or NUL", opts.Name)
	}
	if opts.Created.IsZero() {
		return nil, errors.New("generate key: a creation time is required")
	}
	rnd := opts.Rand
	if rnd == nil {
		rnd = rand.Reader
	}
	created := opts.Created.UTC().Truncate(time.Second)
	cfg := &packet.Config{
		Rand:        rnd,
		DefaultHash: crypto.SHA512,
		Time:        func() time.Time { return created },
		// Self-signatures stay reproducible for a fixed Rand.
		NonDeterministicSignaturesViaNotation: new(bool),
	}

	type result struct {
		e   *openpgp.Entity
		err error
	}
	done := make(chan result, 1)
	go func() {
		e, err := newEntity(opts, cfg)
		done <- result{e, err}
	}()
	select {
	case <-ctx.Done():
		return nil, fmt.Errorf("generate key: %w", ctx.Err())
	case r := <-done:
		if r.err != nil {
			return nil, fmt.Errorf("generate %s key: %w", algorithmOr(opts.Algorithm), r.err)
		}
		return &Key{entity: r.e}, nil
	}
}

func algorithmOr(a Algorithm) Algorithm {
	if a == "" {
		return Ed25519
	}
	return a
}

func newEntity(opts Options, cfg *packet.Config) (*openpgp.Entity, error) {
	switch algorithmOr(opts.Algorithm) {
	case Ed25519:
		cfg.Algorithm = packet.PubKeyAlgoEdDSA
		cfg.Curve = packet.Curve25519
		e, err := openpgp.NewEntity(opts.Name, opts.Comment, opts.Email, cfg)
		if err != nil {
			return nil, err
		}
		// NewEntity always adds an ECDH encryption subkey; drop it.
		e.Subkeys = nil
		return e, nil
	case RSA4096:
		// Built by hand rather than with NewEntity, which would also spend
		// seconds on an RSA encryption subkey that is then thrown away.
		rk, err := rsa.GenerateKey(cfg.Rand, 4096)
		if err != nil {
			return nil, err
		}
		priv := packet.NewSignerPrivateKey(cfg.Now(), rk)
		e := &openpgp.Entity{
			PrimaryKey: &priv.PublicKey,
			PrivateKey: priv,
			Identities: map[string]*openpgp.Identity{},
		}
		if err := e.AddUserId(opts.Name, opts.Comment, opts.Email, cfg); err != nil {
			return nil, err
		}
		return e, nil
	}
	return nil, fmt.Errorf("unknown algorithm %q (want %s or %s)", opts.Algorithm, Ed25519, RSA4096)
}

// Fingerprint returns the primary key's fingerprint in upper-case hex, as
// gpg prints it.
func (k *Key) Fingerprint() string {
	return fmt.Sprintf("%X", k.entity.PrimaryKey.Fingerprint)
}

// KeyID returns the primary key's long key ID in upper-case hex.
func (k *Key) KeyID() string {
	return fmt.Sprintf("%016X", k.entity.PrimaryKey.KeyId)
}

// UserID returns the key's primary user ID, "Name (Comment) <email>".
func (k *Key) UserID() string {
	if id := k.entity.PrimaryIdentity(); id != nil {
		return id.Name
	}
	return ""
}

// Created returns the primary key's creation time.
func (k *Key) Created() time.Time { return k.entity.PrimaryKey.CreationTime }

// Algorithm returns the primary key's algorithm, or "" for one Generate does
// not make (a key read from a file may use any algorithm go-crypto reads).
func (k *Key) Algorithm() Algorithm {
	switch k.entity.PrimaryKey.PubKeyAlgo {
	case packet.PubKeyAlgoEdDSA:
		return Ed25519
	case packet.PubKeyAlgoRSA, packet.PubKeyAlgoRSASignOnly:
		if n, err := k.entity.PrimaryKey.BitLength(); err == nil && n == 4096 {
			return RSA4096
		}
	}
	return ""
}

// WriteSecret writes the key with its secret part as an armored
// "PGP PRIVATE KEY BLOCK", the form `gpg --export-secret-keys --armor` writes
// and `gpg --import` reads.
func (k *Key) WriteSecret(w io.Writer) error {
	if k.entity.PrivateKey == nil {
		return ErrNoSecretKey
	}
	aw, err := armor.Encode(w, openpgp.PrivateKeyType, nil)
	if err != nil {
		return fmt.Errorf("armor secret key: %w", err)
	}
	if err := k.entity.SerializePrivateWithoutSigning(aw, nil); err != nil {
		return fmt.Errorf("serialize secret key: %w", err)
	}
	if err := aw.Close(); err != nil {
		return fmt.Errorf("armor secret key: %w", err)
	}
	_, err = io.WriteString(w, "\n")
	return err
}

// WritePublicKeyring writes the public key as a binary OpenPGP keyring, the
// format of the files apt's signed-by option and `gpgv --keyring` take.
func (k *Key) WritePublicKeyring(w io.Writer) error {
	if err := k.entity.Serialize(w); err != nil {
		return fmt.Errorf("serialize public key: %w", err)
	}
	return nil
}

// WritePublicArmored writes the public key as an armored "PGP PUBLIC KEY
// BLOCK", for publishing next to a repository.
func (k *Key) WritePublicArmored(w io.Writer) error {
	aw, err := armor.Encode(w, openpgp.PublicKeyType, nil)
	if err != nil {
		return fmt.Errorf("armor public key: %w", err)
	}
	if err := k.entity.Serialize(aw); err != nil {
		return fmt.Errorf("serialize public key: %w", err)
	}
	if err := aw.Close(); err != nil {
		return fmt.Errorf("armor public key: %w", err)
	}
	_, err = io.WriteString(w, "\n")
	return err
}

// Paths are the files WriteFiles writes for a prefix.
type Paths struct {
	// Secret is PREFIX.key.asc, the armored secret key (mode 0600).
	Secret string
	// Keyring is PREFIX.gpg, the binary public keyring for signed-by.
	Keyring string
}

// PathsFor returns the file names WriteFiles uses for prefix.
func PathsFor(prefix string) Paths {
	return Paths{Secret: prefix + ".key.asc", Keyring: prefix + ".gpg"}
}

// ErrExists reports that WriteFiles would overwrite an existing key file.
var ErrExists = errors.New("key file already exists")

// WriteFiles writes PREFIX.key.asc (the armored secret key, mode 0600) and
// PREFIX.gpg (the binary public keyring, mode 0644). It never overwrites a
// file: losing a repository's signing key strands every client that trusts
// it, so an existing file is ErrExists. On failure it removes what it wrote.
func (k *Key) WriteFiles(prefix string) (Paths, error) {
	p := PathsFor(prefix)
	var sec, pub bytes.Buffer
	if err := k.WriteSecret(&sec); err != nil {
		return p, err
	}
	if err := k.WritePublicKeyring(&pub); err != nil {
		return p, err
	}
	if err := createExclusive(p.Secret, sec.Bytes(), 0o600); err != nil {
		return p, err
	}
	if err := createExclusive(p.Keyring, pub.Bytes(), 0o644); err != nil {
		_ = os.Remove(p.Secret)
		return p, err
	}
	return p, nil
}

func createExclusive(path string, data []byte, mode os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		if errors.Is(err, os.ErrExist) {
			return fmt.Errorf("write %s: %w", path, ErrExists)
		}
		return fmt.Errorf("write %s: %w", path, err)
	}
	// The umask may have narrowed the mode; a wider one is never set here.
	if err := f.Chmod(mode); err != nil {
		f.Close()
		os.Remove(path)
		return fmt.Errorf("chmod %s: %w", path, err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(path)
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		os.Remove(path)
		return fmt.Errorf("sync %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		os.Remove(path)
		return fmt.Errorf("close %s: %w", path, err)
	}
	return nil
}

// ReadSecret reads a secret key, armored or binary, as WriteSecret or
// `gpg --export-secret-keys` writes it. The file must hold exactly one key
// with an unprotected secret part that can sign.
func ReadSecret(r io.Reader) (*Key, error) {
	// Key files are small; a bound keeps a wrong path (an ISO, /dev/zero)
	// from being read whole.
	data, err := io.ReadAll(io.LimitReader(r, maxKeyFile+1))
	if err != nil {
		return nil, fmt.Errorf("read key: %w", err)
	}
	if len(data) > maxKeyFile {
		return nil, fmt.Errorf("read key: larger than %d bytes, not a key file", maxKeyFile)
	}
	var list openpgp.EntityList
	if blocks := bytes.Count(data, []byte("-----BEGIN PGP")); blocks > 0 {
		if blocks > 1 {
			return nil, fmt.Errorf("read key: want one armored block, found %d", blocks)
		}
		list, err = openpgp.ReadArmoredKeyRing(bytes.NewReader(data))
	} else {
		list, err = openpgp.ReadKeyRing(bytes.NewReader(data))
	}
	if err != nil {
		return nil, fmt.Errorf("read key: %w", err)
	}
	if len(list) != 1 {
		return nil, fmt.Errorf("read key: want exactly one key, found %d", len(list))
	}
	e := list[0]
	if e.PrivateKey == nil {
		return nil, ErrNoSecretKey
	}
	k := &Key{entity: e}
	if err := k.checkPrivate(); err != nil {
		return nil, err
	}
	return k, nil
}

// checkPrivate refuses keys whose signing secret is encrypted or missing,
// whichever key (primary or subkey) signs.
func (k *Key) checkPrivate() error {
	privs := []*packet.PrivateKey{k.entity.PrivateKey}
	for _, s := range k.entity.Subkeys {
		if s.Sig != nil && s.Sig.FlagSign && s.PrivateKey != nil {
			privs = append(privs, s.PrivateKey)
		}
	}
	usable := false
	for _, p := range privs {
		if p == nil || p.Dummy() {
			continue
		}
		if p.Encrypted {
			return ErrEncrypted
		}
		usable = true
	}
	if !usable {
		return ErrNoSecretKey
	}
	return nil
}

// maxKeyFile bounds a key file; an RSA-16384 secret key is under 20 KiB.
const maxKeyFile = 1 << 20

// LoadSecret reads the secret key file at path (see ReadSecret).
func LoadSecret(path string) (*Key, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open key: %w", err)
	}
	defer f.Close()
	k, err := ReadSecret(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return k, nil
}

func (k *Key) config(at time.Time) *packet.Config {
	at = at.UTC().Truncate(time.Second)
	return &packet.Config{
		DefaultHash: crypto.SHA512,
		Time:        func() time.Time { return at },
		// A random salt notation would make every publish differ; the
		// signatures are deterministic without it (see the package doc).
		NonDeterministicSignaturesViaNotation: new(bool),
	}
}

// SignatureTimeError reports a signing time before the key's creation (a
// clock set back, or a key made on a machine whose clock ran ahead): gpgv
// refuses such a signature, so grey refuses to make it.
type SignatureTimeError struct {
	At, Created time.Time
}

func (e *SignatureTimeError) Error() string {
	return fmt.Sprintf("signing time %s is before the key's creation time %s",
		e.At.UTC().Format(time.RFC3339), e.Created.UTC().Format(time.RFC3339))
}

func (k *Key) signingKey(at time.Time) (*packet.PrivateKey, error) {
	if at.Truncate(time.Second).Before(k.entity.PrimaryKey.CreationTime) {
		return nil, &SignatureTimeError{At: at, Created: k.entity.PrimaryKey.CreationTime}
	}
	sk, ok := k.entity.SigningKey(at)
	if !ok || sk.PrivateKey == nil || sk.PrivateKey.Dummy() {
		return nil, fmt.Errorf("%w valid at %s (expired or revoked?)", ErrNoSecretKey, at.UTC().Format(time.RFC3339))
	}
	if sk.PrivateKey.Encrypted {
		return nil, ErrEncrypted
	}
	return sk.PrivateKey, nil
}

// ClearSign writes msg clearsigned (an InRelease file) to w, with the
// signature dated at.
func (k *Key) ClearSign(w io.Writer, msg []byte, at time.Time) error {
	priv, err := k.signingKey(at)
	if err != nil {
		return fmt.Errorf("clearsign: %w", err)
	}
	pw, err := clearsign.Encode(w, priv, k.config(at))
	if err != nil {
		return fmt.Errorf("clearsign: %w", err)
	}
	if _, err := pw.Write(msg); err != nil {
		return fmt.Errorf("clearsign: %w", err)
	}
	if err := pw.Close(); err != nil {
		return fmt.Errorf("clearsign: %w", err)
	}
	_, err = io.WriteString(w, "\n")
	return err
}

// DetachSign writes an armored detached binary signature of msg (a
// Release.gpg file) to w, dated at.
func (k *Key) DetachSign(w io.Writer, msg []byte, at time.Time) error {
	if _, err := k.signingKey(at); err != nil {
		return fmt.Errorf("detach-sign: %w", err)
	}
	if err := openpgp.ArmoredDetachSign(w, k.entity, bytes.NewReader(msg), k.config(at)); err != nil {
		return fmt.Errorf("detach-sign: %w", err)
	}
	_, err := io.WriteString(w, "\n")
	return err
}
