package publish

import (
	"io"

	"github.com/greypm/grey/deb/archive"
	"github.com/greypm/grey/deb/control"
)

// archiveControl is the default ControlReader: deb/archive reads the
// control member only, never decompressing the data member.
func archiveControl(r io.Reader, name string) (*control.Stanza, error) {
	c, err := archive.ReadControl(r, name)
	if err != nil {
		return nil, err
	}
	return c.Fields, nil
}
