package main

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/greypm/grey/repo/key"
)

// KeyCmd groups the commands on repository signing keys.
type KeyCmd struct {
	Generate KeyGenerateCmd `cmd:"" help:"Generate an OpenPGP keypair for signing a repository."`
}

// KeyGenerateCmd writes a new signing keypair as PREFIX.key.asc and PREFIX.gpg.
type KeyGenerateCmd struct {
	Name    string `required:"" help:"Name in the key's user ID, e.g. \"Example Repository Signing Key\"."`
	Email   string `help:"E-mail address in the key's user ID." placeholder:"ADDR"`
	Comment string `help:"Comment in the key's user ID." placeholder:"TEXT"`
	RSA     bool   `name:"rsa" help:"Make an RSA-4096 key instead of Ed25519 (for clients older than GnuPG 2.1)."`
	Out     string `required:"" type:"path" placeholder:"PREFIX" help:"Write PREFIX.key.asc (secret, mode 0600) and PREFIX.gpg (public keyring for apt's signed-by). Existing files are never overwritten."`
}

// Help explains what the two files are for.
func (KeyGenerateCmd) Help() string {
	return `Writes two files:
  PREFIX.key.asc  the armored secret key; give it to "grey repo publish --key" and keep it private
  PREFIX.gpg      the public key as a binary keyring; clients name it in signed-by=

The key is an OpenPGP v4 key that apt's gpgv accepts (Ed25519 needs GnuPG 2.1 or
later, i.e. Debian 9 and later). It is created without a passphrase so that
publishing can run unattended: protect the file instead.`
}

// Run generates the key and writes both files.
func (c *KeyGenerateCmd) Run(ctx context.Context, g *Globals) error {
	alg := key.Ed25519
	if c.RSA {
		alg = key.RSA4096
	}
	k, err := key.Generate(ctx, key.Options{
		Name: c.Name, Email: c.Email, Comment: c.Comment,
		Algorithm: alg, Created: g.Now(),
	})
	if err != nil {
		return err
	}
	paths, err := k.WriteFiles(c.Out)
	if err != nil {
		return err
	}
	if g.JSON {
		return json.NewEncoder(g.Stdout).Encode(map[string]string{
			"fingerprint": k.Fingerprint(),
			"algorithm":   string(alg),
			"user_id":     k.UserID(),
			"secret_key":  paths.Secret,
			"keyring":     paths.Keyring,
		})
	}
	_, err = fmt.Fprintf(g.Stdout, "%s key %s\n  %s\nsecret key: %s (keep it private)\npublic keyring: %s (for signed-by=)\n",
		alg, k.Fingerprint(), k.UserID(), paths.Secret, paths.Keyring)
	return err
}
