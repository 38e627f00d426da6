package dpkgdb

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"github.com/greypm/grey/internal/rootfs"
)

// Conffile is one line of a status stanza's Conffiles field.
type Conffile struct {
	Path string
	// MD5 is the hash of the conffile as the package shipped it;
	// "newconffile" for one dpkg has not configured yet.
	MD5 string
	// Obsolete and RemoveOnUpgrade are the flags after the hash.
	Obsolete, RemoveOnUpgrade bool
}

// ParseConffiles reads a Conffiles field's value (" /etc/x 0123... [obsolete]"
// lines).
func ParseConffiles(value string) ([]Conffile, error) {
	var out []Conffile
	for _, line := range strings.Split(value, "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		if len(f) < 2 || !strings.HasPrefix(f[0], "/") {
			return nil, fmt.Errorf("bad Conffiles line %q", strings.TrimSpace(line))
		}
		c := Conffile{Path: f[0], MD5: f[1]}
		for _, flag := range f[2:] {
			switch flag {
			case "obsolete":
				c.Obsolete = true
			case "remove-on-upgrade":
				c.RemoveOnUpgrade = true
			}
		}
		out = append(out, c)
	}
	return out, nil
}

// ReadList reads info/NAME.list from info, dpkg's info directory opened
// as an os.Root (a file there that is a link leading out of it is
// refused): the paths the instance installed, in order, without dpkg's
// "/." line. A missing file, or a nil info (no info directory), is an
// empty list (config-files packages have none).
func ReadList(info *os.Root, infoName string) ([]string, error) {
	data, err := readInfo(info, infoName+".list")
	if data == nil || err != nil {
		return nil, err
	}
	return ParseList(data), nil
}

// readInfo reads the file name of info; nil, and no error, when it or
// info is missing.
func readInfo(info *os.Root, name string) ([]byte, error) {
	if info == nil {
		return nil, nil
	}
	data, err := info.ReadFile(name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, rootfs.Explain(info, "read", name, err)
	}
	return data, nil
}

// ParseList splits a .list file into paths, dropping "/." and empty lines.
func ParseList(data []byte) []string {
	n := bytes.Count(data, []byte("\n")) + 1
	out := make([]string, 0, n)
	for len(data) > 0 {
		i := bytes.IndexByte(data, '\n')
		var line []byte
		if i < 0 {
			line, data = data, nil
		} else {
			line, data = data[:i], data[i+1:]
		}
		if len(line) == 0 || string(line) == "/." {
			continue
		}
		out = append(out, string(line))
	}
	return out
}

// ReadMD5Sums reads info/NAME.md5sums from info (ReadList) into absolute
// path → hex MD5. A missing file gives an empty map.
func ReadMD5Sums(info *os.Root, infoName string) (map[string]string, error) {
	data, err := readInfo(info, infoName+".md5sums")
	if data == nil || err != nil {
		return nil, err
	}
	return ParseMD5Sums(rootfs.Host(info, infoName+".md5sums"), data)
}

// ParseMD5Sums reads "hash  relative/path" lines into absolute path →
// hash. name is used in errors.
func ParseMD5Sums(name string, data []byte) (map[string]string, error) {
	// One string for the whole file: the sums are slices of it.
	rest := string(data)
	out := make(map[string]string, strings.Count(rest, "\n")+1)
	for n := 1; len(rest) > 0; n++ {
		line, after, _ := strings.Cut(rest, "\n")
		rest = after
		line = strings.TrimSuffix(line, "\r")
		if line == "" {
			continue
		}
		sum, path, ok := strings.Cut(line, " ")
		if !ok || len(sum) != 32 {
			return nil, fmt.Errorf("%s:%d: not an md5sums line", name, n)
		}
		path = strings.TrimLeft(path, " *")
		if path == "" {
			return nil, fmt.Errorf("%s:%d: no path", name, n)
		}
		if path[0] != '/' {
			path = "/" + path
		}
		out[path] = sum
	}
	return out, nil
}

// InfoFiles lists the extensions of the info files instance infoName has
// ("list", "postinst", ...), from one directory listing.
func InfoFiles(names []string, infoName string) []string {
	var out []string
	for _, n := range names {
		if rest, ok := strings.CutPrefix(n, infoName+"."); ok && !strings.Contains(rest, ".") {
			out = append(out, rest)
		}
	}
	return out
}

// Architectures reads the arch file: the architectures dpkg was told
// about (dpkg --add-architecture), one a line. A missing file is none. It
// is read through an os.Root of root: a var/lib/dpkg or arch file that
// leads out of the root is an error naming it.
func Architectures(root string) ([]string, error) {
	r, err := os.OpenRoot(root)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	name, err := rootfs.StateName(r, AdminDir+"/arch")
	if err != nil {
		return nil, err
	}
	data, err := r.ReadFile(name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, rootfs.Explain(r, "read", name, err)
	}
	return strings.Fields(string(data)), nil
}
