package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/greypm/grey/deb/archive"
	"github.com/greypm/grey/deb/control"
	"github.com/greypm/grey/deb/version"
)

// DebCmd groups the commands that inspect .deb files and versions, as
// dpkg-deb and dpkg --compare-versions do.
type DebCmd struct {
	Info            DebInfoCmd            `cmd:"" help:"Print a package file's control fields (as dpkg-deb --field)."`
	Contents        DebContentsCmd        `cmd:"" help:"List a package file's contents (as dpkg-deb --contents)."`
	Verify          DebVerifyCmd          `cmd:"" help:"Check a package file's debsigs origin signature against a keyring."`
	CompareVersions DebCompareVersionsCmd `cmd:"" name:"compare-versions" help:"Compare two versions as dpkg --compare-versions: exit 0 when the relation holds, 1 when not."`
}

// DebInfoCmd prints the control fields of a package file.
type DebInfoCmd struct {
	File string `arg:"" type:"existingfile" help:"The .deb file."`
}

// openDeb opens a package file for reading; errors name the file.
func openDeb(path string) (*os.File, *archive.Reader, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	return f, archive.NewReader(f, archive.ReadOptions{Name: path}), nil
}

// Run reads only the control member (the data is not decompressed).
func (c *DebInfoCmd) Run(g *Globals) error {
	f, r, err := openDeb(c.File)
	if err != nil {
		return err
	}
	defer f.Close()
	ctl, err := r.Control()
	if err != nil {
		return err
	}
	if g.JSON {
		return writeFieldsJSON(g.Stdout, ctl.Fields)
	}
	return control.WriteStanza(g.Stdout, ctl.Fields)
}

// writeFieldsJSON writes a stanza as one JSON object whose keys keep the
// stanza's order.
func writeFieldsJSON(w io.Writer, s *control.Stanza) error {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, f := range s.Fields {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(f.Name)
		v, _ := json.Marshal(f.Value)
		b.Write(k)
		b.WriteByte(':')
		b.Write(v)
	}
	b.WriteString("}\n")
	_, err := w.Write(b.Bytes())
	return err
}

// DebContentsCmd lists the entries of a package's data member.
type DebContentsCmd struct {
	File string `arg:"" type:"existingfile" help:"The .deb file."`
}

// contentsEntry is one entry in `grey --json deb contents`.
type contentsEntry struct {
	Path     string    `json:"path"`
	Type     string    `json:"type"`
	Mode     string    `json:"mode"`
	Uid      int       `json:"uid"`
	Gid      int       `json:"gid"`
	Uname    string    `json:"uname,omitempty"`
	Gname    string    `json:"gname,omitempty"`
	Size     int64     `json:"size"`
	ModTime  time.Time `json:"mtime"`
	Linkname string    `json:"link,omitempty"`
}

// Run streams the data member: a package of any size is listed without
// being held in memory. Dates are in the local zone, as dpkg-deb prints them.
func (c *DebContentsCmd) Run(g *Globals) error {
	f, r, err := openDeb(c.File)
	if err != nil {
		return err
	}
	defer f.Close()
	data, err := r.Data()
	if err != nil {
		return err
	}
	defer data.Close()
	out := bufio.NewWriter(g.Stdout)
	lf := archive.ContentsFormatter{Location: time.Local}
	var list []contentsEntry
	for {
		e, err := data.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		if g.JSON {
			list = append(list, contentsEntry{
				Path: e.Path, Type: e.Type.String(), Mode: fmt.Sprintf("%04o", archiveMode(e)),
				Uid: e.Uid, Gid: e.Gid, Uname: e.Uname, Gname: e.Gname, Size: e.Size,
				ModTime: e.ModTime.UTC(), Linkname: e.Linkname,
			})
			continue
		}
		out.WriteString(lf.Line(e))
		out.WriteByte('\n')
	}
	if g.JSON {
		if list == nil {
			list = []contentsEntry{}
		}
		return json.NewEncoder(g.Stdout).Encode(list)
	}
	return out.Flush()
}

// archiveMode is the entry's Unix permission and special bits.
func archiveMode(e *archive.Entry) uint32 {
	m := uint32(e.Mode.Perm())
	if e.Mode&os.ModeSetuid != 0 {
		m |= 0o4000
	}
	if e.Mode&os.ModeSetgid != 0 {
		m |= 0o2000
	}
	if e.Mode&os.ModeSticky != 0 {
		m |= 0o1000
	}
	return m
}

// DebVerifyCmd checks a package's origin signature.
type DebVerifyCmd struct {
	Keyring string `required:"" type:"existingfile" placeholder:"FILE" help:"Keyring of trusted keys, binary or armored (e.g. the .gpg from grey key generate)."`
	File    string `arg:"" type:"existingfile" help:"The .deb file."`
}

// Run exits 0 for a good signature by a key of the keyring, 1 for an
// unsigned package or a bad signature, naming the key.
func (c *DebVerifyCmd) Run(g *Globals) error {
	kf, err := os.Open(c.Keyring)
	if err != nil {
		return &exitError{Code: 2, Err: err}
	}
	ring, err := archive.ReadKeyring(kf)
	kf.Close()
	if err != nil {
		return &exitError{Code: 2, Err: fmt.Errorf("%s: %w", c.Keyring, err)}
	}
	f, err := os.Open(c.File)
	if err != nil {
		return &exitError{Code: 2, Err: err}
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return &exitError{Code: 2, Err: err}
	}
	sig, err := archive.Verify(f, fi.Size(), ring, archive.VerifyOptions{Name: c.File, Now: g.Now})
	if err != nil {
		if g.JSON {
			res := map[string]any{"file": c.File, "good": false, "error": err.Error()}
			var se *archive.SignatureError
			if errors.As(err, &se) && se.KeyID != 0 {
				res["key_id"] = fmt.Sprintf("%016X", se.KeyID)
			}
			if jerr := json.NewEncoder(g.Stdout).Encode(res); jerr != nil {
				return jerr
			}
		}
		return &exitError{Code: 1, Err: err}
	}
	if g.JSON {
		return json.NewEncoder(g.Stdout).Encode(map[string]any{
			"file": c.File, "good": true, "key_id": sig.KeyIDString(), "signer": sig.SignerName(), "created": sig.Created.UTC(),
		})
	}
	_, err = fmt.Fprintf(g.Stdout, "%s: good signature from %q, key %s, made %s\n",
		c.File, sig.SignerName(), sig.KeyIDString(), sig.Created.UTC().Format(time.RFC3339))
	return err
}

// DebCompareVersionsCmd compares two versions with one of dpkg's relations.
type DebCompareVersionsCmd struct {
	V1 string `arg:"" help:"First version (may be empty)."`
	Op string `arg:"" help:"Relation: lt le eq ne ge gt, << <= = >= >> (and the obsolete < >), or lt-nl le-nl ge-nl gt-nl (empty version counts as later)."`
	V2 string `arg:"" help:"Second version (may be empty)."`
}

// Help gives dpkg's rules for empty versions.
func (DebCompareVersionsCmd) Help() string {
	return `Exits 0 when "V1 OP V2" holds, 1 when it does not, 2 when a version or the
operator is invalid. As with dpkg, an empty version is earlier than every
version for lt le eq ne ge gt (and << <= = >= >>), and later than every version
for lt-nl le-nl ge-nl gt-nl.`
}

// Run compares and reports only through the exit status, as dpkg does.
func (c *DebCompareVersionsCmd) Run(g *Globals) error {
	holds, err := compareVersions(c.V1, c.Op, c.V2)
	if err != nil {
		return &exitError{Code: 2, Err: err}
	}
	if !holds {
		return &exitError{Code: 1}
	}
	return nil
}

// compareVersions evaluates dpkg's --compare-versions relation.
func compareVersions(v1, op, v2 string) (bool, error) {
	parse := func(s string) (version.Version, error) {
		if s == "" {
			return version.Version{}, nil
		}
		return version.Parse(s)
	}
	a, err := parse(v1)
	if err != nil {
		return false, err
	}
	b, err := parse(v2)
	if err != nil {
		return false, err
	}
	// The -nl forms treat an empty version as later than any other.
	nl := func() int {
		switch {
		case a.IsZero() && b.IsZero():
			return 0
		case a.IsZero():
			return 1
		case b.IsZero():
			return -1
		}
		return version.Compare(a, b)
	}
	switch op {
	case "lt", "<<":
		return version.Compare(a, b) < 0, nil
	case "le", "<=", "<": // "<" and ">" are dpkg's obsolete spellings

		return version.Compare(a, b) <= 0, nil
	case "eq", "=":
		return version.Compare(a, b) == 0, nil
	case "ne":
		return version.Compare(a, b) != 0, nil
	case "ge", ">=", ">":
		return version.Compare(a, b) >= 0, nil
	case "gt", ">>":
		return version.Compare(a, b) > 0, nil
	case "lt-nl":
		return nl() < 0, nil
	case "le-nl":
		return nl() <= 0, nil
	case "ge-nl":
		return nl() >= 0, nil
	case "gt-nl":
		return nl() > 0, nil
	}
	return false, fmt.Errorf("unknown relation %q (use lt le eq ne ge gt, << <= = >= >>, or lt-nl le-nl ge-nl gt-nl)", op)
}
