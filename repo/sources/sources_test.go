package sources

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/greypm/grey/deb/control"
	"github.com/greypm/grey/internal/testfixture"
)

// manKey is the inline key example of apt's sources.list(5).
const manKey = `-----BEGIN PGP PUBLIC KEY BLOCK-----

mDMEYCQjIxYJKwYBBAHaRw8BAQdAD/P5Nvvnvk66SxBBHDbhRml9ORg1WV5CvzKY
CuMfoIS0BmFiY2RlZoiQBBMWCgA4FiEErCIG1VhKWMWo2yfAREZd5NfO31cFAmAk
IyMCGyMFCwkIBwMFFQoJCAsFFgIDAQACHgECF4AACgkQREZd5NfO31fbOwD6ArzS
dM0Dkd5h2Ujy1b6KcAaVW9FOa5UNfJ9FFBtjLQEBAJ7UyWD3dZzhvlaAwunsk7DG
3bHcln8DMpIJVXht78sL
=IE0r
-----END PGP PUBLIC KEY BLOCK-----
`

// view is the comparable content of a Source.
type view struct {
	Type, URI, Suite string
	Components       []string
	Flat             bool
	Archs, SignedBy  []string
	Key              string
	CVU, Trusted     Tristate
	VMin, VMax       time.Duration
	Options          map[string]string
}

func viewOf(s *Source) view {
	v := view{Type: s.Type, Suite: s.Suite, Components: s.Components, Flat: s.Flat,
		Archs: s.Architectures, SignedBy: s.SignedBy, Key: s.SignedByKey,
		CVU: s.CheckValidUntil, Trusted: s.Trusted, VMin: s.ValidUntilMin, VMax: s.ValidUntilMax, Options: s.Options}
	if s.URI != nil {
		v.URI = s.URI.String()
	}
	if len(v.Options) == 0 {
		v.Options = nil
	}
	return v
}

func opts(kv ...string) map[string]string {
	m := map[string]string{}
	for i := 0; i < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return m
}

func TestParseLine(t *testing.T) {
	const fpr = "A7236886F3CCCAAD148A27F80E98404D386FA1D9"
	tests := []struct {
		line string
		want view
	}{
		// The one-line examples of apt's sources.list(5).
		{"deb http://deb.debian.org/debian bookworm main contrib non-free non-free-firmware",
			view{Type: "deb", URI: "http://deb.debian.org/debian", Suite: "bookworm", Components: []string{"main", "contrib", "non-free", "non-free-firmware"}}},
		{"deb-src file:/home/apt/debian unstable main contrib non-free non-free-firmware",
			view{Type: "deb-src", URI: "file:/home/apt/debian", Suite: "unstable", Components: []string{"main", "contrib", "non-free", "non-free-firmware"}}},
		{"deb [ arch=amd64,armel ] http://deb.debian.org/debian bookworm main",
			view{Type: "deb", URI: "http://deb.debian.org/debian", Suite: "bookworm", Components: []string{"main"}, Archs: []string{"amd64", "armel"}, Options: opts("arch", "amd64,armel")}},
		{"deb http://ftp.tlh.debian.org/universe unstable/binary-$(ARCH)/",
			view{Type: "deb", URI: "http://ftp.tlh.debian.org/universe", Suite: "unstable/binary-$(ARCH)/", Flat: true}},
		{"deb ftp://ftp.debian.org/debian bookworm contrib",
			view{Type: "deb", URI: "ftp://ftp.debian.org/debian", Suite: "bookworm", Components: []string{"contrib"}}},
		// Options.
		{"deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] https://deb.debian.org/debian bookworm main",
			view{Type: "deb", URI: "https://deb.debian.org/debian", Suite: "bookworm", Components: []string{"main"},
				SignedBy: []string{"/usr/share/keyrings/debian-archive-keyring.gpg"}, Options: opts("signed-by", "/usr/share/keyrings/debian-archive-keyring.gpg")}},
		{"deb [arch=amd64 signed-by=keys/a.gpg," + fpr + "!] file:/srv/repo ./",
			view{Type: "deb", URI: "file:/srv/repo", Suite: "./", Flat: true, Archs: []string{"amd64"},
				SignedBy: []string{"keys/a.gpg", fpr + "!"}, Options: opts("arch", "amd64", "signed-by", "keys/a.gpg,"+fpr+"!")}},
		{"deb [trusted=yes check-valid-until=false valid-until-max=604800 valid-until-min=60 by-hash=force lang=en,,de target=Packages x-custom=1] http://h/d s main",
			view{Type: "deb", URI: "http://h/d", Suite: "s", Components: []string{"main"}, Trusted: Yes, CVU: No,
				VMax: 7 * 24 * time.Hour, VMin: time.Minute,
				Options: opts("trusted", "yes", "check-valid-until", "no", "valid-until-max", "604800", "valid-until-min", "60",
					"by-hash", "force", "lang", "en,de", "target", "Packages", "x-custom", "1")}},
		{"deb [trusted=no] http://h/d s main", view{Type: "deb", URI: "http://h/d", Suite: "s", Components: []string{"main"}, Trusted: No, Options: opts("trusted", "no")}},
		{"deb [arch+=i386 arch-=armel] http://h/d s main",
			view{Type: "deb", URI: "http://h/d", Suite: "s", Components: []string{"main"}, Options: opts("arch+", "i386", "arch-", "armel")}},
		// Layout: blanks, comments, brackets without blanks, quoting.
		{"  deb\thttp://h/d\ts\tmain  ", view{Type: "deb", URI: "http://h/d", Suite: "s", Components: []string{"main"}}},
		{"deb http://h/d s main # the main archive", view{Type: "deb", URI: "http://h/d", Suite: "s", Components: []string{"main"}}},
		{"deb http://h/d s main#comment", view{Type: "deb", URI: "http://h/d", Suite: "s", Components: []string{"main"}}},
		{"deb [arch=amd64] http://h/d s main", view{Type: "deb", URI: "http://h/d", Suite: "s", Components: []string{"main"}, Archs: []string{"amd64"}, Options: opts("arch", "amd64")}},
		{"deb [ ] http://h/d s main", view{Type: "deb", URI: "http://h/d", Suite: "s", Components: []string{"main"}}},
		{"deb [ signed-by=/k#1.gpg ] http://h/d s main", view{Type: "deb", URI: "http://h/d", Suite: "s", Components: []string{"main"},
			SignedBy: []string{"/k#1.gpg"}, Options: opts("signed-by", "/k#1.gpg")}},
		{`deb "http://h/a b" s main`, view{Type: "deb", URI: "http://h/a%20b", Suite: "s", Components: []string{"main"}}},
		{"deb http://h/d s%20x main%2f1", view{Type: "deb", URI: "http://h/d", Suite: "s x", Components: []string{"main/1"}}},
		{"deb http://[::1]:8080/debian s main", view{Type: "deb", URI: "http://[::1]:8080/debian", Suite: "s", Components: []string{"main"}}},
		{"deb file:///srv/debian/ bookworm main", view{Type: "deb", URI: "file:///srv/debian/", Suite: "bookworm", Components: []string{"main"}}},
	}
	for _, tc := range tests {
		t.Run(tc.line, func(t *testing.T) {
			s, err := Parse(tc.line)
			if err != nil {
				t.Fatal(err)
			}
			if got := viewOf(s); !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got  %+v\nwant %+v", got, tc.want)
			}
			// String prints a line that reads back the same.
			again, err := Parse(s.String())
			if err != nil {
				t.Fatalf("re-parse %q: %v", s.String(), err)
			}
			if !reflect.DeepEqual(viewOf(again), viewOf(s)) {
				t.Errorf("String() = %q reads back as %+v", s.String(), viewOf(again))
			}
			// So does the deb822 form, unless a suite or component holds a
			// blank, which deb822 cannot spell.
			if strings.ContainsAny(s.Suite+strings.Join(s.Components, ""), " \t") {
				return
			}
			srcs, err := FromStanza(s.Stanza())
			if err != nil || len(srcs) != 1 || !reflect.DeepEqual(viewOf(srcs[0]), viewOf(s)) {
				t.Errorf("Stanza() %q reads back as %v, %v", s.Stanza().Fields, srcs, err)
			}
		})
	}
}

func TestString(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"deb  http://h/d   s main   contrib", "deb http://h/d s main contrib"},
		{"deb [ trusted=true arch=amd64 ] http://h/d ./", "deb [arch=amd64 trusted=yes] http://h/d ./"},
		{`deb "http://h/a b" s main`, "deb http://h/a%2520b s main"},
		{"deb [x=a%20b] http://h/d s main", "deb [x=a%20b] http://h/d s main"},
	} {
		s, err := Parse(tc.in)
		if err != nil {
			t.Fatal(err)
		}
		if got := s.String(); got != tc.want {
			t.Errorf("String(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestParseLineErrors(t *testing.T) {
	tests := []struct{ line, msg string }{
		{"", "no source"},
		{"   # just a comment", "no source"},
		{"deb http://h/d s main\ndeb http://h/e s main", "more than one line"},
		{"deb", "no URI after the type"},
		{"rpm http://h/d s main", `type "rpm" is not known`},
		{"deb[arch=amd64] http://h/d s main", "is not known"},
		{"deb http://h/d", "missing suite"},
		{"deb http://h/d bookworm", "needs at least one component"},
		{"deb http://h/d bookworm # main", "needs at least one component"},
		{"deb http://h/d ./ main", "takes no components"},
		{`deb http://h/d "" main`, "empty suite"},
		{`deb http://h/d s main ""`, "empty component"},
		{"deb [arch=amd64 http://h/d s main", `option "http://h/d" is not key=value`},
		{"deb [arch=amd64", "missing ']'"},
		{"deb [arch] http://h/d s main", "not key=value"},
		{"deb [=x] http://h/d s main", "too short"},
		{"deb [=xy] http://h/d s main", "has no name"},
		{"deb [arch=] http://h/d s main", "has no value"},
		{"deb [sig=] http://h/d s main", "has no value"},
		{"deb [arch=,] http://h/d s main", "lists no architecture"},
		{"deb [lang=,] http://h/d s main", "lists no value"},
		{"deb [signed-by=,] http://h/d s main", "names no keyring"},
		{"deb [trusted=maybe] http://h/d s main", `"maybe" is not yes or no`},
		{"deb [check-valid-until=2] http://h/d s main", "is not yes or no"},
		{"deb [valid-until-max=week] http://h/d s main", "not a positive number of seconds"},
		{"deb [valid-until-min=-5] http://h/d s main", "not a positive number of seconds"},
		{"deb /srv/debian s main", "has no scheme"},
		{"deb file:srv/debian s main", "not absolute"},
		{"deb file://srv/debian s main", "names a host"},
		{"deb http:/debian s main", "has no host"},
		{"deb http://h/d#frag s main", "missing suite"},
		{"deb http://h/%zz s main", "bad URI"},
		{`deb "http://h/d s main`, "missing URI"},
		{"deb http://h/d [s main", "missing suite"},
	}
	for _, tc := range tests {
		t.Run(tc.line, func(t *testing.T) {
			_, err := Parse(tc.line)
			var se *Error
			if !errors.As(err, &se) || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("got %v, want a *Error containing %q", err, tc.msg)
			}
		})
	}
}

func TestParseListLines(t *testing.T) {
	in := "# sources\n\ndeb http://h/d s main\n   \n#deb http://h/d s contrib\ndeb-src http://h/d s main\n"
	srcs, err := ParseList(strings.NewReader(in), "etc/sources.list")
	if err != nil {
		t.Fatal(err)
	}
	if len(srcs) != 2 || srcs[0].Line != 3 || srcs[1].Line != 6 || srcs[1].Type != Src || srcs[0].File != "etc/sources.list" {
		t.Fatalf("got %+v", srcs)
	}
	_, err = ParseList(strings.NewReader("deb http://h/d s main\n\ndeb http://h/d s\n"), "x.list")
	var se *Error
	if !errors.As(err, &se) || se.Line != 3 || !strings.HasPrefix(err.Error(), "x.list:3: ") {
		t.Fatalf("got %v", err)
	}
}

func TestParseSources(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []view
	}{
		{"man page: two stanzas", `Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main contrib non-free non-free-firmware

Types: deb
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main contrib non-free non-free-firmware
`, []view{
			{Type: "deb", URI: "http://deb.debian.org/debian", Suite: "bookworm", Components: []string{"main", "contrib", "non-free", "non-free-firmware"}},
			{Type: "deb", URI: "http://deb.debian.org/debian", Suite: "bookworm-updates", Components: []string{"main", "contrib", "non-free", "non-free-firmware"}},
			{Type: "deb", URI: "http://deb.debian.org/debian-security", Suite: "bookworm-security", Components: []string{"main", "contrib", "non-free", "non-free-firmware"}},
		}},
		{"types x uris x suites", `Types: deb deb-src
URIs: http://a/debian
 http://b/debian
Suites: stable testing
Components: main
`, []view{
			{Type: "deb", URI: "http://a/debian", Suite: "stable", Components: []string{"main"}},
			{Type: "deb", URI: "http://a/debian", Suite: "testing", Components: []string{"main"}},
			{Type: "deb", URI: "http://b/debian", Suite: "stable", Components: []string{"main"}},
			{Type: "deb", URI: "http://b/debian", Suite: "testing", Components: []string{"main"}},
			{Type: "deb-src", URI: "http://a/debian", Suite: "stable", Components: []string{"main"}},
			{Type: "deb-src", URI: "http://a/debian", Suite: "testing", Components: []string{"main"}},
			{Type: "deb-src", URI: "http://b/debian", Suite: "stable", Components: []string{"main"}},
			{Type: "deb-src", URI: "http://b/debian", Suite: "testing", Components: []string{"main"}},
		}},
		{"man page: inline key", `Types: deb
URIs: https://deb.debian.org
Suites: stable
Components: main contrib non-free non-free-firmware
Signed-By:
 -----BEGIN PGP PUBLIC KEY BLOCK-----
 .
 mDMEYCQjIxYJKwYBBAHaRw8BAQdAD/P5Nvvnvk66SxBBHDbhRml9ORg1WV5CvzKY
 CuMfoIS0BmFiY2RlZoiQBBMWCgA4FiEErCIG1VhKWMWo2yfAREZd5NfO31cFAmAk
 IyMCGyMFCwkIBwMFFQoJCAsFFgIDAQACHgECF4AACgkQREZd5NfO31fbOwD6ArzS
 dM0Dkd5h2Ujy1b6KcAaVW9FOa5UNfJ9FFBtjLQEBAJ7UyWD3dZzhvlaAwunsk7DG
 3bHcln8DMpIJVXht78sL
 =IE0r
 -----END PGP PUBLIC KEY BLOCK-----
`, []view{{Type: "deb", URI: "https://deb.debian.org", Suite: "stable", Components: []string{"main", "contrib", "non-free", "non-free-firmware"},
			Key: manKey, Options: opts("signed-by", manKey)}}},
		{"options and comments", `# grey's own
Types: deb
URIs: file:/srv/repo
# flat repository
Suites: ./
Architectures: amd64
 arm64
Architectures-Add: i386
Signed-By: /etc/grey/keyrings/a.gpg
 keys/b.gpg
Check-Valid-Until: no
Trusted: no
Valid-Until-Max: 86400
By-Hash: yes
X-Repolib-Name: local
`, []view{{Type: "deb", URI: "file:/srv/repo", Suite: "./", Flat: true, Archs: []string{"amd64", "arm64"},
			SignedBy: []string{"/etc/grey/keyrings/a.gpg", "keys/b.gpg"}, CVU: No, Trusted: No, VMax: 24 * time.Hour,
			Options: opts("arch", "amd64,arm64", "arch+", "i386", "signed-by", "/etc/grey/keyrings/a.gpg,keys/b.gpg",
				"check-valid-until", "no", "trusted", "no", "valid-until-max", "86400", "by-hash", "yes", "x-repolib-name", "local")}}},
		{"disabled stanza", `Types: deb
URIs: http://a/debian
Suites: s
Components: main
Enabled: no

types: deb
uris: http://b/debian
suites: s
components: main
enabled: yes
`, []view{{Type: "deb", URI: "http://b/debian", Suite: "s", Components: []string{"main"}}}},
		{"empty file", "# nothing here\n", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srcs, err := ParseSources(strings.NewReader(tc.in), "x.sources")
			if err != nil {
				t.Fatal(err)
			}
			var got []view
			for _, s := range srcs {
				got = append(got, viewOf(s))
				if s.File != "x.sources" || s.Line < 1 {
					t.Errorf("source at %s:%d", s.File, s.Line)
				}
				again, err := Parse(s.String())
				if err != nil || !reflect.DeepEqual(viewOf(again), viewOf(s)) {
					t.Errorf("String() %q reads back as %+v, %v", s.String(), again, err)
				}
				back, err := FromStanza(s.Stanza())
				if err != nil || len(back) != 1 || !reflect.DeepEqual(viewOf(back[0]), viewOf(s)) {
					t.Errorf("Stanza() reads back as %v, %v", back, err)
				}
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got  %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func TestParseSourcesErrors(t *testing.T) {
	tests := []struct {
		name, in string
		line     int
		msg      string
	}{
		{"no types", "A: b\n\nURIs: http://h/d\nSuites: s\nComponents: main\n", 1, "missing Types"},
		{"no uris", "Types: deb\nSuites: s\nComponents: main\n", 1, "missing URIs"},
		{"no suites", "Types: deb\nURIs: http://h/d\nComponents: main\n", 1, "missing Suites"},
		{"unknown type", "Types: deb rpm\nURIs: http://h/d\nSuites: s\nComponents: main\n", 1, `type "rpm" is not known`},
		{"flat with components", "\n\nTypes: deb\nURIs: http://h/d\nSuites: ./\nComponents: main\n", 3, "takes no Components"},
		{"no components", "Types: deb\nURIs: http://h/d\nSuites: s\n", 1, "needs Components"},
		{"bad uri", "Types: deb\nURIs: http://h/d relative/path\nSuites: s\nComponents: main\n", 1, "has no scheme"},
		{"bad enabled", "Types: deb\nURIs: http://h/d\nSuites: s\nComponents: main\nEnabled: perhaps\n", 1, "Enabled"},
		{"bad trusted", "Types: deb\nURIs: http://h/d\nSuites: s\nComponents: main\nTrusted: perhaps\n", 1, "field Trusted"},
		{"empty option", "Types: deb\nURIs: http://h/d\nSuites: s\nComponents: main\nBy-Hash:\n", 1, "has no value"},
		{"option name with =", "Types: deb\nURIs: http://h/d\nSuites: s\nComponents: main\na=b: c\n", 1, "contains '='"},
		{"duplicate field", "Types: deb\nURIs: http://h/d\nSuites: s\nsuites: t\n", 4, "duplicate field"},
		{"second stanza", "Types: deb\nURIs: http://h/d\nSuites: s\nComponents: main\n\nTypes: deb\nURIs: http://h/d\n", 6, "missing Suites"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseSources(strings.NewReader(tc.in), "etc/x.sources")
			var se *Error
			var ce *control.SyntaxError
			line := 0
			switch {
			case errors.As(err, &se):
				line = se.Line
			case errors.As(err, &ce):
				line = ce.Line
			default:
				t.Fatalf("got %v, want a located error", err)
			}
			if line != tc.line || !strings.Contains(err.Error(), tc.msg) || !strings.HasPrefix(err.Error(), "etc/x.sources:") {
				t.Fatalf("got %q at line %d, want line %d containing %q", err, line, tc.line, tc.msg)
			}
		})
	}
}

// TestFormatsAgree checks the one-line and deb822 examples that apt's
// manual gives as equivalent.
func TestFormatsAgree(t *testing.T) {
	pairs := []struct{ lines, stanza string }{
		{"deb file:/home/apt/debian stable main contrib non-free non-free-firmware",
			"Types: deb\nURIs: file:/home/apt/debian\nSuites: stable\nComponents: main contrib non-free non-free-firmware\n"},
		{"deb [ arch=amd64,armel ] http://deb.debian.org/debian bookworm main",
			"Types: deb\nURIs: http://deb.debian.org/debian\nSuites: bookworm\nComponents: main\nArchitectures: amd64 armel\n"},
		{"deb http://ftp.tlh.debian.org/universe unstable/binary-$(ARCH)/",
			"Types: deb\nURIs: http://ftp.tlh.debian.org/universe\nSuites: unstable/binary-$(ARCH)/\n"},
		{`deb http://deb.debian.org/debian stable main contrib
deb-src http://deb.debian.org/debian stable main contrib
deb http://deb.debian.org/debian testing main contrib
deb-src http://deb.debian.org/debian testing main contrib
deb http://deb.debian.org/debian unstable main contrib
deb-src http://deb.debian.org/debian unstable main contrib`,
			"Types: deb deb-src\nURIs: http://deb.debian.org/debian\nSuites: stable testing unstable\nComponents: main contrib\n"},
	}
	for _, p := range pairs {
		a, err := ParseList(strings.NewReader(p.lines), "a.list")
		if err != nil {
			t.Fatal(err)
		}
		b, err := ParseSources(strings.NewReader(p.stanza), "b.sources")
		if err != nil {
			t.Fatal(err)
		}
		set := func(srcs []*Source) map[string]view {
			m := map[string]view{}
			for _, s := range srcs {
				m[s.Type+" "+s.ID()] = viewOf(s)
			}
			return m
		}
		if len(a) != len(b) || !reflect.DeepEqual(set(a), set(b)) {
			t.Errorf("%q and its deb822 form differ:\n%+v\n%+v", p.lines, set(a), set(b))
		}
	}
}

func mustParse(t *testing.T, line string) *Source {
	t.Helper()
	s, err := Parse(line)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestID(t *testing.T) {
	for _, tc := range []struct{ line, id string }{
		{"deb file:/srv/debian bookworm main", "file_srv_debian_dists_bookworm"},
		{"deb file:///srv/debian/ bookworm main", "file_srv_debian_dists_bookworm"},
		{"deb file://localhost/srv/debian bookworm main", "file_srv_debian_dists_bookworm"},
		{"deb http://deb.debian.org/debian bookworm main", "http_deb.debian.org_debian_dists_bookworm"},
		{"deb-src http://deb.debian.org/debian bookworm contrib", "http_deb.debian.org_debian_dists_bookworm"},
		{"deb http://user:secret@deb.debian.org/debian bookworm main", "http_deb.debian.org_debian_dists_bookworm"},
		{"deb https://Deb.Debian.org:8443/debian-security bookworm-security main", "https_deb.debian.org%3A8443_debian-security_dists_bookworm-security"},
		{"deb file:/srv/repo ./", "file_srv_repo"},
		{"deb file:/srv/repo dists/bookworm/", "file_srv_repo_dists_bookworm"},
		{"deb file:/srv/my_repo s main", "file_srv_my%5Frepo_dists_s"},
		{"deb http://h s main", "http_h_dists_s"},
		{"deb http://h/u unstable/binary-$(ARCH)/", "http_h_u_unstable_binary-%24%28ARCH%29"},
	} {
		if got := mustParse(t, tc.line).ID(); got != tc.id {
			t.Errorf("ID(%q) = %q, want %q", tc.line, got, tc.id)
		}
	}
	// Different suites never share an ID.
	distinct := []string{
		"deb file:/srv/a_b s main", "deb file:/srv/a/b s main", "deb http://srv/a/b s main",
		"deb https://srv/a/b s main", "deb http://srv:80/a/b s main", "deb file:/srv/a/b t main",
		"deb file:/srv/a/b s_t main", "deb file:/srv/a/b s/t main", "deb file:/srv/a/b ./",
		"deb file:/srv/" + strings.Repeat("x", 300) + "/a s main", "deb file:/srv/" + strings.Repeat("x", 300) + "/b s main",
	}
	seen := map[string]string{}
	for _, line := range distinct {
		id := mustParse(t, line).ID()
		if prev, ok := seen[id]; ok {
			t.Errorf("%q and %q share ID %q", prev, line, id)
		}
		seen[id] = line
		if len(id) > maxIDLen || strings.ContainsAny(id, "/\x00") || id == "." || id == ".." {
			t.Errorf("ID %q of %q is not a safe file name", id, line)
		}
	}
}

func TestURLs(t *testing.T) {
	for _, tc := range []struct{ line, dist, base string }{
		{"deb http://h/debian bookworm main", "http://h/debian/dists/bookworm/", "http://h/debian/"},
		{"deb http://h/debian/ bookworm main", "http://h/debian/dists/bookworm/", "http://h/debian/"},
		{"deb http://h bookworm main", "http://h/dists/bookworm/", "http://h/"},
		{"deb file:/srv/repo ./", "file:/srv/repo/", "file:/srv/repo/"},
		{"deb file:/srv/repo sub/", "file:/srv/repo/sub/", "file:/srv/repo/"},
		{"deb file://localhost/srv/repo sub/", "file:///srv/repo/sub/", "file:///srv/repo/"},
		{"deb http://h/u unstable/binary-$(ARCH)/", "http://h/u/unstable/binary-amd64/", "http://h/u/"},
	} {
		s := mustParse(t, tc.line)
		if got := s.DistURL("amd64").String(); got != tc.dist {
			t.Errorf("DistURL(%q) = %q, want %q", tc.line, got, tc.dist)
		}
		if got := s.BaseURL().String(); got != tc.base {
			t.Errorf("BaseURL(%q) = %q, want %q", tc.line, got, tc.base)
		}
	}
}

func TestArchs(t *testing.T) {
	host := []string{"amd64", "armel"}
	for _, tc := range []struct {
		line string
		want []string
	}{
		{"deb http://h/d s main", []string{"amd64", "armel"}},
		{"deb [arch=arm64] http://h/d s main", []string{"arm64"}},
		{"deb [arch+=i386,amd64 arch-=armel] http://h/d s main", []string{"amd64", "i386"}},
	} {
		if got := mustParse(t, tc.line).Archs(host); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("Archs(%q) = %v, want %v", tc.line, got, tc.want)
		}
	}
	if Unset.Bool(true) != true || Yes.Bool(false) != true || No.Bool(true) != false {
		t.Error("Tristate.Bool")
	}
}

func TestLoad(t *testing.T) {
	root := t.TempDir()
	testfixture.WriteFiles(t, root, map[string]string{
		"etc/grey/sources.list":                        "deb http://h/main s main\n",
		"etc/grey/sources.list.d/b.sources":            "Types: deb\nURIs: http://h/b\nSuites: s\nComponents: main\n",
		"etc/grey/sources.list.d/a.list":               "# a\ndeb http://h/a s main\n",
		"etc/grey/sources.list.d/c.list.disabled":      "not a source\n",
		"etc/grey/sources.list.d/c.list.dpkg-old":      "not a source\n",
		"etc/grey/sources.list.d/bad name.list":        "not a source\n",
		"etc/grey/sources.list.d/README":               "not a source\n",
		"etc/grey/sources.list.d/dir.list/x.list":      "not a source\n",
		"etc/grey/sources.list.d/Z_9-x.y.sources":      "Types: deb\nURIs: http://h/z\nSuites: s\nComponents: main\nEnabled: no\n",
		"etc/grey/sources.list.d/0first.list":          "deb http://h/0 s main\n",
		"etc/grey/sources.list.d/zz-broken.list~":      "not a source\n",
		"etc/grey/sources.list.d/zz-notes.sources.bak": "not a source\n",
	})
	srcs, err := Load(root)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, s := range srcs {
		got = append(got, s.URI.Path+"@"+strings.TrimPrefix(s.File, root))
	}
	want := []string{
		"/main@/etc/grey/sources.list",
		"/0@/etc/grey/sources.list.d/0first.list",
		"/a@/etc/grey/sources.list.d/a.list",
		"/b@/etc/grey/sources.list.d/b.sources",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %q\nwant %q", got, want)
	}

	// Nothing configured is not an error.
	if srcs, err := Load(t.TempDir()); err != nil || len(srcs) != 0 {
		t.Errorf("empty root: %v, %v", srcs, err)
	}
	// Only the directory, or only the file.
	only := t.TempDir()
	testfixture.WriteFiles(t, only, map[string]string{"etc/grey/sources.list.d/x.list": "deb http://h/x s main\n"})
	if srcs, err := Load(only); err != nil || len(srcs) != 1 {
		t.Errorf("only sources.list.d: %v, %v", srcs, err)
	}
}

func TestLoadErrorsNameFileAndLine(t *testing.T) {
	for _, tc := range []struct {
		file, data, want string
	}{
		{"etc/grey/sources.list", "deb http://h/d s main\ndeb http://h/d\n", "etc/grey/sources.list:2: "},
		{"etc/grey/sources.list.d/x.list", "\n\n\nrpm http://h/d s main\n", "etc/grey/sources.list.d/x.list:4: "},
		{"etc/grey/sources.list.d/x.sources", "Types: deb\nURIs: http://h/d\nSuites: s\n\nTypes: deb\nURIs: http://h/d\nSuites: s\nComponents: main\nTrusted: maybe\n", "etc/grey/sources.list.d/x.sources:1: "},
		{"etc/grey/sources.list.d/y.sources", "Types: deb\n bad continuation\nURIs http://h/d\n", "etc/grey/sources.list.d/y.sources:3: "},
	} {
		root := t.TempDir()
		testfixture.WriteFiles(t, root, map[string]string{tc.file: tc.data})
		_, err := Load(root)
		if err == nil || !strings.Contains(err.Error(), filepath.Join(root, tc.want)) {
			t.Errorf("%s: got %v, want an error starting %q", tc.file, err, tc.want)
		}
	}
}

func TestLoadFS(t *testing.T) {
	fsys := fstest.MapFS{
		"etc/grey/sources.list":             {Data: []byte("deb http://h/a s main\n")},
		"etc/grey/sources.list.d/b.sources": {Data: []byte("Types: deb\nURIs: http://h/b\nSuites: s t\nComponents: main\n")},
	}
	srcs, err := LoadFS(fsys)
	if err != nil || len(srcs) != 3 || srcs[2].Suite != "t" || srcs[1].File != "etc/grey/sources.list.d/b.sources" {
		t.Fatalf("got %v, %v", srcs, err)
	}
}

// TestFixtureSource points a source at the real bookworm fixture, as apt
// accepts it, and finds its InRelease where DistURL says.
func TestFixtureSource(t *testing.T) {
	dir := testfixture.Bookworm(t)
	line := "deb [signed-by=" + dir + "/debian-archive-keyring.gpg] file://" + dir + "/debian bookworm main"
	s := mustParse(t, line)
	if _, err := os.Stat(filepath.Join(s.DistURL("amd64").Path, "InRelease")); err != nil {
		t.Errorf("InRelease not where DistURL says: %v", err)
	}
	if _, err := os.Stat(s.SignedBy[0]); err != nil {
		t.Errorf("keyring: %v", err)
	}
	if _, err := os.Stat(filepath.Join(s.BaseURL().Path, "pool/main")); err != nil {
		t.Errorf("pool not under BaseURL: %v", err)
	}
}

// TestLoadApt: with no grey sources, Load reads apt's, and every source gets
// the keyrings apt would check it with, looked up inside the root.
func TestLoadApt(t *testing.T) {
	root := t.TempDir()
	testfixture.WriteFiles(t, root, map[string]string{
		"etc/apt/sources.list":                          "deb http://h/plain s main\n",
		"etc/apt/sources.list.d/a.sources":              "Types: deb\nURIs: http://h/signed\nSuites: s\nComponents: main\nSigned-By: /usr/share/keyrings/k.gpg\n",
		"etc/apt/sources.list.d/b.list":                 "deb [signed-by=0123456789ABCDEF0123456789ABCDEF01234567] http://h/fpr s main\n",
		"etc/apt/sources.list.d/c.list.disabled":        "deb http://h/off s main\n",
		"etc/apt/trusted.gpg.d/b.asc":                   "key b\n",
		"etc/apt/trusted.gpg.d/a.gpg":                   "key a\n",
		"etc/apt/trusted.gpg.d/notes.txt":               "not a key\n",
		"etc/apt/trusted.gpg.d/bad name.gpg":            "not read by apt\n",
		"etc/apt/trusted.gpg":                           "legacy\n",
		"usr/share/keyrings/k.gpg":                      "key k\n",
		"usr/share/keyrings/debian-archive-keyring.gpg": "key d\n",
	})
	// Debian's trusted.gpg.d entries may be absolute links: they resolve
	// inside the root, never on the host.
	if err := os.Symlink("/usr/share/keyrings/debian-archive-keyring.gpg", filepath.Join(root, "etc/apt/trusted.gpg.d/c.gpg")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/nonexistent/dangling.gpg", filepath.Join(root, "etc/apt/trusted.gpg.d/d.gpg")); err != nil {
		t.Fatal(err)
	}
	srcs, err := Load(root)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][]string{}
	for _, s := range srcs {
		var keys []string
		for _, k := range s.SignedBy {
			keys = append(keys, strings.TrimPrefix(k, root))
		}
		got[s.URI.Path] = keys
	}
	trusted := []string{"/etc/apt/trusted.gpg", "/etc/apt/trusted.gpg.d/a.gpg", "/etc/apt/trusted.gpg.d/b.asc", "/usr/share/keyrings/debian-archive-keyring.gpg"}
	want := map[string][]string{
		"/plain":  trusted,
		"/signed": {"/usr/share/keyrings/k.gpg"},
		"/fpr":    append(slices.Clone(trusted), "0123456789ABCDEF0123456789ABCDEF01234567"),
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %q\nwant %q", got, want)
	}
	if srcs[0].File != filepath.Join(root, "etc/apt/sources.list") {
		t.Errorf("File = %q", srcs[0].File)
	}

	// grey's own sources, when there are any, are the only ones read.
	testfixture.WriteFiles(t, root, map[string]string{"etc/grey/sources.list.d/x.list": "deb [trusted=yes] http://h/grey s main\n"})
	srcs, err = Load(root)
	if err != nil || len(srcs) != 1 || srcs[0].URI.Path != "/grey" {
		t.Errorf("with grey sources: %v, %v", srcs, err)
	}
	// LoadFS reads grey's files only.
	if srcs, err := LoadFS(os.DirFS(t.TempDir())); err != nil || len(srcs) != 0 {
		t.Errorf("LoadFS: %v, %v", srcs, err)
	}

	// A broken apt file is an error naming it.
	bad := t.TempDir()
	testfixture.WriteFiles(t, bad, map[string]string{"etc/apt/sources.list.d/x.list": "deb http://h/d\n"})
	if _, err := Load(bad); err == nil || !strings.Contains(err.Error(), filepath.Join(bad, "etc/apt/sources.list.d/x.list")+":1") {
		t.Errorf("broken apt file: %v", err)
	}
}
