package resolver

import (
	"errors"
	"fmt"
	"io"

	"github.com/greypm/grey/deb"
	"github.com/greypm/grey/deb/control"
)

// ReadPackages decodes every stanza of a Packages-format stream (plain or
// compressed) and sets each package's Origin to origin. name is used in
// errors. It is the loader of NewMemIndex's input for tests, small
// universes and `grey why --packages`.
func ReadPackages(r io.Reader, name, origin string) ([]*deb.Package, error) {
	cr := control.NewReaderName(r, name)
	defer cr.Close()
	var out []*deb.Package
	for {
		st, err := cr.Next()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", name, err)
		}
		p, err := deb.FromStanza(st)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", name, err)
		}
		p.Origin = origin
		out = append(out, p)
	}
}
