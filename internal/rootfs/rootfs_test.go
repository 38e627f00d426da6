package rootfs

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"testing/fstest"
)

// layout makes a root and, beside it, a directory "outside" that every
// link in the root names; it returns both.
func layout(t *testing.T) (root, outside string) {
	t.Helper()
	base := t.TempDir()
	root, outside = filepath.Join(base, "root"), filepath.Join(base, "outside")
	for _, d := range []string{root + "/etc/apt", root + "/usr/share/keyrings", root + outside, outside} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	files := map[string]string{
		outside + "/secret":                     "host secret\n",
		root + outside + "/secret":              "root's own\n",
		root + "/usr/share/keyrings/debian.gpg": "keyring\n",
		root + "/etc/apt/sources.list":          "deb http://x/ y main\n",
	}
	for p, s := range files {
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	links := map[string]string{
		"etc/abs":     outside,                          // absolute: the root's own path
		"etc/up":      "../../../../../../.." + outside, // relative, climbing above the root
		"etc/key.gpg": "/usr/share/keyrings/debian.gpg",
		"etc/loop":    "loop",
		"etc/dangle":  "/nowhere",
	}
	for l, target := range links {
		if err := os.Symlink(target, filepath.Join(root, l)); err != nil {
			t.Fatal(err)
		}
	}
	return root, outside
}

func TestResolveStaysInside(t *testing.T) {
	root, outside := layout(t)
	r, err := os.OpenRoot(root)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	in := strings.TrimPrefix(outside, "/")
	for _, c := range []struct {
		name   string
		follow bool
		want   string
		errIs  error
		read   string
	}{
		{name: "etc/abs/secret", follow: true, want: in + "/secret", read: "root's own\n"},
		{name: "/etc/up/secret", follow: true, want: in + "/secret", read: "root's own\n"},
		{name: "../../etc/abs/secret", follow: true, want: in + "/secret", read: "root's own\n"},
		{name: "etc/key.gpg", follow: true, want: "usr/share/keyrings/debian.gpg", read: "keyring\n"},
		{name: "etc/key.gpg", follow: false, want: "etc/key.gpg"},
		{name: "etc/dangle", follow: true, want: "nowhere", errIs: fs.ErrNotExist},
		{name: "etc/dangle/below", follow: true, want: "nowhere/below", errIs: fs.ErrNotExist},
		{name: "etc/loop", follow: true, errIs: syscall.ELOOP},
		{name: "/", follow: true, want: "."},
	} {
		got, err := Resolve(r, c.name, c.follow)
		if c.errIs == syscall.ELOOP {
			if !errors.Is(err, syscall.ELOOP) || !strings.Contains(err.Error(), root) {
				t.Errorf("Resolve(%s) = %q, %v; want ELOOP naming the root", c.name, got, err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("Resolve(%s, %v) = %q, %v; want %q", c.name, c.follow, got, err, c.want)
			continue
		}
		if !c.follow {
			continue
		}
		b, err := ReadFile(r, c.name)
		switch {
		case c.errIs != nil:
			if !errors.Is(err, c.errIs) || !strings.Contains(err.Error(), filepath.Join(root, c.name)) {
				t.Errorf("ReadFile(%s): %v; want %v naming the path", c.name, err, c.errIs)
			}
		case c.read != "" && (err != nil || string(b) != c.read):
			t.Errorf("ReadFile(%s) = %q, %v; want %q", c.name, b, err, c.read)
		}
	}
}

// TestWriteFileStaysInside: writes through links of the root land inside
// it; a link at the written name is replaced, not followed; nothing
// outside changes.
func TestWriteFileStaysInside(t *testing.T) {
	root, outside := layout(t)
	r, err := os.OpenRoot(root)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for _, c := range []struct{ name, want string }{
		{"etc/abs/secret", strings.TrimPrefix(outside, "/") + "/secret"},
		{"etc/up/new/deeper/file", strings.TrimPrefix(outside, "/") + "/new/deeper/file"},
		{"etc/key.gpg", "etc/key.gpg"}, // the link itself is replaced
	} {
		got, err := WriteFile(r, c.name, []byte("written\n"), 0o640, true)
		if err != nil || got != c.want {
			t.Fatalf("WriteFile(%s) = %q, %v; want %q", c.name, got, err, c.want)
		}
		fi, err := os.Lstat(filepath.Join(root, got))
		if err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm() != 0o640 {
			t.Errorf("%s: %v %v", got, fi, err)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(outside, "secret")); string(b) != "host secret\n" {
		t.Errorf("the file outside the root changed: %q", b)
	}
	if ents, _ := os.ReadDir(outside); len(ents) != 1 {
		t.Errorf("outside the root: %v", ents)
	}
	if b, _ := os.ReadFile(filepath.Join(root, "usr/share/keyrings/debian.gpg")); string(b) != "keyring\n" {
		t.Errorf("the link's target was written: %q", b)
	}
	if _, err := WriteFile(r, "etc/apt", nil, 0o644, false); err == nil || !strings.Contains(err.Error(), "a directory is there") {
		t.Errorf("writing over a directory: %v", err)
	}
	if _, err := WriteFile(r, "etc/apt/sources.list/x", nil, 0o644, false); err == nil || !strings.Contains(err.Error(), filepath.Join(root, "etc/apt/sources.list")+" is not a directory") {
		t.Errorf("writing below a file: %v", err)
	}
}

func TestFS(t *testing.T) {
	root, outside := layout(t)
	r, err := os.OpenRoot(root)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	fsys := FS(r)
	b, err := fs.ReadFile(fsys, "etc/abs/secret")
	if err != nil || string(b) != "root's own\n" {
		t.Errorf("ReadFile through an absolute link: %q %v", b, err)
	}
	ents, err := fs.ReadDir(fsys, "etc/up")
	if err != nil || len(ents) != 1 || ents[0].Name() != "secret" {
		t.Errorf("ReadDir %s: %v %v", outside, ents, err)
	}
	if _, err := fs.ReadFile(fsys, "../x"); !errors.Is(err, fs.ErrInvalid) {
		t.Errorf("invalid name: %v", err)
	}
	// fstest opens every entry it lists: the bad links go first.
	for _, l := range []string{"etc/loop", "etc/dangle"} {
		if err := os.Remove(filepath.Join(root, l)); err != nil {
			t.Fatal(err)
		}
	}
	if err := fstest.TestFS(fsys, "etc/apt/sources.list", "usr/share/keyrings/debian.gpg"); err != nil {
		t.Error(err)
	}
}

// TestOutsideNamesTheLink: Explain says which component of a path leads
// out of the root (an absolute link, one climbing above it), and leaves
// other errors as they are, naming the host path.
func TestOutsideNamesTheLink(t *testing.T) {
	root, _ := layout(t)
	r, err := os.OpenRoot(root)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for _, c := range []struct {
		name, want string // want: the component named; "" for none
	}{
		{"etc/abs/secret", "etc/abs"},
		{"etc/up/secret", "etc/up"},
		{"etc/abs", "etc/abs"},
		{"etc/key.gpg", ""}, // absolute: os.Root refuses it, so Outside names it
		{"etc/apt/sources.list", ""},
		{"etc/missing/x", ""},
		{"etc/loop", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, oerr := r.Open(c.name)
			err := Explain(r, "open", c.name, oerr)
			out := Outside(r, c.name)
			switch {
			case c.want != "":
				if !errors.Is(err, ErrOutside) || !strings.Contains(err.Error(), filepath.Join(root, c.want)+" (-> ") || out == nil {
					t.Errorf("Explain: %v, Outside: %v; want %s named", err, out, c.want)
				}
			case c.name == "etc/key.gpg":
				if !errors.Is(out, ErrOutside) {
					t.Errorf("Outside: %v; want the absolute link named", out)
				}
			default:
				if errors.Is(err, ErrOutside) || out != nil {
					t.Errorf("Explain: %v, Outside: %v; want no ErrOutside", err, out)
				}
			}
		})
	}
}

// TestStateNameHostRoot: in the host's root "/" a state path's links are
// followed as the kernel follows them (os.Root would refuse an absolute
// one), the last only for a directory; in another root the name is kept,
// for os.Root to refuse a link leading out.
func TestStateNameHostRoot(t *testing.T) {
	host, err := os.OpenRoot("/")
	if err != nil {
		t.Skip(err)
	}
	defer host.Close()
	if _, err := os.Lstat("/proc/self"); err != nil {
		t.Skip("no /proc")
	}
	pid := "proc/" + strconv.Itoa(os.Getpid())
	for _, c := range []struct {
		got  func() (string, error)
		want string
	}{
		{func() (string, error) { return StateName(host, "/proc/self") }, "proc/self"},
		{func() (string, error) { return StateDirName(host, "/proc/self") }, pid},
		{func() (string, error) { return StateName(host, "proc/self/status") }, pid + "/status"},
	} {
		if got, err := c.got(); err != nil || got != c.want {
			t.Errorf("%q, %v; want %q", got, err, c.want)
		}
	}
	root, _ := layout(t)
	r, err := os.OpenRoot(root)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if got, err := StateDirName(r, "/etc/abs/x"); err != nil || got != "etc/abs/x" {
		t.Errorf("in a root: %q, %v; want the name as it is", got, err)
	}
}
