package image

import (
	"errors"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseSpecGood(t *testing.T) {
	text := `
sources:
  - "deb [signed-by=keys/a.gpg] file:///srv/mirror/debian bookworm main"
  - Types: deb
    URIs: [file:///srv/b, file:///srv/c]
    Suites: stable
    Components: main contrib
    Signed-By: /abs/b.gpg
architecture: arm64
packages: [hello, "busybox=1:1.35.0-4"]
recommends: true
essential: true
scripts: true
source-date-epoch: 1700000000
files:
  - path: /etc/motd
    mode: "0600"
    content: "hi\n"
  - path: /usr/local/bin/x
    mode: 4755
    source: files/x
    uid: 0
    gid: 50
users:
  - {name: app, uid: 1000, gid: 1000, home: /home/app, shell: /bin/sh}
groups:
  - {name: app, gid: 1000, members: [zed, app]}
`
	s, err := ParseSpec([]byte(text), "/specs/dir/image.yaml")
	must(t, err)
	if len(s.Sources) != 3 {
		t.Fatalf("sources: got %d, want 3 (one line + a stanza with two URIs)", len(s.Sources))
	}
	if got := s.Sources[0].SignedBy[0]; got != "/specs/dir/keys/a.gpg" {
		t.Errorf("relative keyring resolved to %q, want it relative to the spec", got)
	}
	if got := s.Sources[1].SignedBy[0]; got != "/abs/b.gpg" {
		t.Errorf("absolute keyring changed to %q", got)
	}
	if s.Architecture != "arm64" || !s.Recommends || !s.Essential || !s.Scripts || s.SourceDateEpoch != 1700000000 {
		t.Errorf("scalars: %+v", s)
	}
	if strings.Join(s.Packages, ",") != "hello,busybox=1:1.35.0-4" {
		t.Errorf("packages: %q", s.Packages)
	}
	if f := s.Files[0]; f.Path != "/etc/motd" || f.Mode != 0o600 || f.Content != "hi\n" {
		t.Errorf("files[0]: %+v", f)
	}
	if f := s.Files[1]; f.Source != "/specs/dir/files/x" || f.Mode != 0o755|os.ModeSetuid || f.GID != 50 {
		t.Errorf("files[1]: %+v", f)
	}
	if u := s.Users[0]; u.Name != "app" || u.UID != 1000 || u.Shell != "/bin/sh" {
		t.Errorf("users[0]: %+v", u)
	}
	if g := s.Groups[0]; strings.Join(g.Members, ",") != "app,zed" {
		t.Errorf("group members not sorted: %q", g.Members)
	}
}

// TestParseSpecCommand: command: is one program, a name or a clean
// absolute path, kept as written; absent, it is "".
func TestParseSpecCommand(t *testing.T) {
	const head = "sources: [\"deb file:///r s main\"]\npackages: [a]\n"
	for _, tc := range []struct{ text, want string }{
		{"", ""},
		{"command: hello\n", "hello"},
		{"command: /usr/bin/hello\n", "/usr/bin/hello"},
		{"command: \"/usr/games/fortune\"\n", "/usr/games/fortune"},
		{"command: python3.11\n", "python3.11"},
		{"command: true\n", "true"}, // a program named true, not a boolean
	} {
		s, err := ParseSpec([]byte(head+tc.text), "x.yaml")
		if err != nil {
			t.Errorf("%q: %v", tc.text, err)
			continue
		}
		if s.Command != tc.want {
			t.Errorf("%q: command %q, want %q", tc.text, s.Command, tc.want)
		}
	}
}

func TestParseSpecDefaults(t *testing.T) {
	s, err := ParseSpec([]byte("sources: [\"deb file:///r s main\"]\npackages: [a]\n"), "x.yaml")
	must(t, err)
	if s.Architecture != "amd64" || s.Recommends || s.Essential || s.Scripts || s.SourceDateEpoch != 0 {
		t.Errorf("defaults: %+v", s)
	}
}

func TestParseSpecBad(t *testing.T) {
	const src = "sources: [\"deb file:///r s main\"]\n"
	for _, tc := range []struct {
		name, text string
		line       int
		key, msg   string
	}{
		{"unknown top key", src + "packages: [a]\nrecomends: true\n", 3, "recomends", "unknown key"},
		{"unknown file key", src + "packages: [a]\nfiles:\n  - {path: /a, content: x, owner: root}\n", 4, "files[0].owner", "unknown key"},
		{"unknown user key", src + "packages: [a]\nusers:\n  - {name: a, uid: 1, gid: 1, password: x}\n", 4, "users[0].password", "unknown key"},
		{"duplicate key", src + "packages: [a]\npackages: [b]\n", 3, "packages", "given twice"},
		{"no sources", "packages: [a]\n", 0, "sources", "at least one source"},
		{"bad source line", "sources: [\"deb\"]\npackages: [a]\n", 1, "sources[0]", ""},
		{"deb-src source", "sources: [\"deb-src file:///r s main\"]\npackages: [a]\n", 1, "sources[0]", "only binary"},
		{"no packages", src + "packages: []\n", 0, "packages", "empty"},
		{"packages not a list", src + "packages: hello\n", 2, "packages", "list of strings"},
		{"bool as string", src + "packages: [a]\nrecommends: \"yes\"\n", 3, "recommends", "true or false"},
		{"epoch not int", src + "packages: [a]\nsource-date-epoch: soon\n", 3, "source-date-epoch", "integer"},
		{"negative epoch", src + "packages: [a]\nsource-date-epoch: -1\n", 3, "source-date-epoch", "negative"},
		{"relative file path", src + "packages: [a]\nfiles:\n  - {path: etc/x, content: x}\n", 4, "files[0].path", "absolute"},
		{"unclean file path", src + "packages: [a]\nfiles:\n  - {path: /etc/../x, content: x}\n", 4, "files[0].path", "clean"},
		{"bad mode", src + "packages: [a]\nfiles:\n  - {path: /x, mode: \"0999\", content: x}\n", 4, "files[0].mode", "octal"},
		{"content and source", src + "packages: [a]\nfiles:\n  - {path: /x, content: x, source: y}\n", 4, "files[0]", "exactly one"},
		{"neither content nor source", src + "packages: [a]\nfiles:\n  - {path: /x}\n", 4, "files[0]", "exactly one"},
		{"file twice", src + "packages: [a]\nfiles:\n  - {path: /x, content: a}\n  - {path: /x, content: b}\n", 5, "files[1].path", "twice"},
		{"user without uid", src + "packages: [a]\nusers:\n  - {name: a, gid: 1}\n", 4, "users[0]", "required"},
		{"user with colon", src + "packages: [a]\nusers:\n  - {name: \"a:b\", uid: 1, gid: 1}\n", 4, "users[0].name", "':'"},
		{"group member comma", src + "packages: [a]\ngroups:\n  - {name: g, gid: 1, members: [\"a,b\"]}\n", 4, "groups[0].members", "','"},
		{"files not a list", src + "packages: [a]\nfiles: hello\n", 3, "files", "list of mappings"},
		{"file not a mapping", src + "packages: [a]\nfiles: [a]\n", 3, "files[0]", "must be a mapping"},
		{"file key twice", src + "packages: [a]\nfiles:\n  - path: /x\n    content: y\n    content: z\n", 6, "files[0].content", "given twice"},
		{"unknown group key", src + "packages: [a]\ngroups:\n  - name: g\n    gid: 1\n    color: red\n", 6, "groups[0].color", "unknown key (known: name, gid, members)"},
		{"uid not int", src + "packages: [a]\nusers: [{name: a, uid: x, gid: 1}]\n", 3, "users[0].uid", "integer"},
		{"command empty", src + "packages: [a]\ncommand: \"\"\n", 3, "command", "must not be empty"},
		{"command null", src + "packages: [a]\ncommand:\n", 3, "command", "must not be empty"},
		{"command relative path", src + "packages: [a]\ncommand: bin/hello\n", 3, "command", "clean absolute path"},
		{"command unclean path", src + "packages: [a]\ncommand: /usr/bin/../bin/hello\n", 3, "command", "clean absolute path"},
		{"command root", src + "packages: [a]\ncommand: /\n", 3, "command", "clean absolute path"},
		{"command dot-dot", src + "packages: [a]\ncommand: ..\n", 3, "command", "program name"},
		{"command with arguments", src + "packages: [a]\ncommand: hello --greeting hi\n", 3, "command", "not a command line"},
		{"command with a tab", src + "packages: [a]\ncommand: \"hello\\tx\"\n", 3, "command", "not a command line"},
		{"command as a list", src + "packages: [a]\ncommand: [hello, --greeting]\n", 3, "command", "not a list"},
		{"command as a mapping", src + "packages: [a]\ncommand: {path: /x}\n", 3, "command", "must be a string"},
		{"not a mapping", "- a\n- b\n", 1, "", "mapping"},
		{"not yaml", "sources: [\n", 0, "", "YAML"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseSpec([]byte(tc.text), "dir/spec.yaml")
			var se *SpecError
			if !errors.As(err, &se) {
				t.Fatalf("got %v, want a *SpecError", err)
			}
			if se.File != "dir/spec.yaml" {
				t.Errorf("error names file %q", se.File)
			}
			if se.Key != tc.key {
				t.Errorf("error names key %q, want %q (%v)", se.Key, tc.key, err)
			}
			if tc.line != 0 && se.Line != tc.line {
				t.Errorf("error at line %d, want %d (%v)", se.Line, tc.line, err)
			}
			if !strings.Contains(err.Error(), tc.msg) || !strings.HasPrefix(err.Error(), "dir/spec.yaml") {
				t.Errorf("message %q lacks %q or does not start with the file", err, tc.msg)
			}
		})
	}
}

func TestReadSpecMissing(t *testing.T) {
	_, err := ReadSpec(filepath.Join(t.TempDir(), "none.yaml"))
	if !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("got %v, want not exist", err)
	}
}

func TestLockPath(t *testing.T) {
	for in, want := range map[string]string{
		"spec.yaml":          "spec.lock",
		"a/b/img.yml":        "a/b/img.lock",
		"noext":              "noext.lock",
		"/x/debian.min.yaml": "/x/debian.min.lock",
	} {
		if got := LockPath(in); got != want {
			t.Errorf("LockPath(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestParseOutput(t *testing.T) {
	for _, tc := range []struct {
		in   string
		kind OutputKind
		c    Compression
		path string
	}{
		{"out", Directory, None, "out"},
		{"out/", Directory, None, "out/"},
		{"x.tar", Tarball, None, "x.tar"},
		{"x.tar.gz", Tarball, Gzip, "x.tar.gz"},
		{"x.tgz", Tarball, Gzip, "x.tgz"},
		{"x.tar.zst", Tarball, Zstd, "x.tar.zst"},
		{"oci:layout", OCILayout, None, "layout"},
	} {
		o, err := ParseOutput(tc.in)
		must(t, err)
		if o.Kind != tc.kind || o.Compression != tc.c || o.Path != tc.path {
			t.Errorf("ParseOutput(%q) = %+v", tc.in, o)
		}
	}
	for _, bad := range []string{"", "oci:"} {
		if _, err := ParseOutput(bad); err == nil {
			t.Errorf("ParseOutput(%q) succeeded", bad)
		}
	}
}

// FuzzParseSpec: no input makes the parser panic, and every accepted spec
// has sources and something to install.
func FuzzParseSpec(f *testing.F) {
	for _, p := range []string{"../examples/debian-minimal.yaml", "../examples/demo.yaml"} {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte("sources: [\"deb file:///r s main\"]\npackages: [a]\nfiles:\n  - {path: /x, mode: \"0644\", content: y}\n"))
	f.Add([]byte("sources:\n  - Types: deb\n    URIs: file:///r\n    Suites: s\n    Components: main\npackages: [a]\n"))
	f.Add([]byte("sources: [\"deb file:///r s main\"]\npackages: [a]\ncommand: /usr/bin/a\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := ParseSpec(data, "fuzz.yaml")
		if err != nil {
			return
		}
		if len(s.Sources) == 0 || (len(s.Packages) == 0 && !s.Essential) {
			t.Fatalf("accepted a spec with nothing to do: %+v", s)
		}
		if c := s.Command; c != "" && (strings.ContainsAny(c, " \t\n\x00") || strings.Contains(c, "/") && (!path.IsAbs(c) || path.Clean(c) != c)) {
			t.Fatalf("accepted command %q", c)
		}
	})
}
