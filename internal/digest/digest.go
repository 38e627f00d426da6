// Package digest computes the SHA256 of a file's content as grey names
// content everywhere (the archive's indexes, the content stores, image
// locks): lower-case hex. It is the one place that reads a file for that.
package digest

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
)

// File returns the lower-case hex SHA256 of the content of the file at
// path (following symbolic links); errors name the path.
func File(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	return Reader(f, path)
}

// Reader returns the lower-case hex SHA256 of what r yields; name is used
// in errors.
func Reader(r io.Reader, name string) (string, error) {
	h := sha256.New()
	if _, err := io.Copy(h, r); err != nil {
		return "", fmt.Errorf("read %s: %w", name, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
