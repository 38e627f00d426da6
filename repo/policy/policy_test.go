package policy

import (
	"errors"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name, in string
		want     []Pin
		warnings int
		err      string
	}{
		{"release pin", "Package: *\nPin: release a=stable\nPin-Priority: 900\n",
			[]Pin{{Line: 1, Type: PinRelease, Data: "a=stable", Priority: 900}}, 0, ""},
		{"several names, comments, explanation", "# comment\nExplanation: why\nPackage: a b\n# inside\nPin: version 1.0*\nPin-Priority: 1001\n",
			[]Pin{{Line: 2, Package: "a", Type: PinVersion, Data: "1.0*", Priority: 1001}, {Line: 2, Package: "b", Type: PinVersion, Data: "1.0*", Priority: 1001}}, 0, ""},
		{"origin, case of the type", "Package: *\nPin: Origin \"deb.debian.org\"\nPin-Priority: -10\n",
			[]Pin{{Line: 1, Type: PinOrigin, Data: `"deb.debian.org"`, Priority: -10}}, 0, ""},
		{"never", "Package: *\nPin: release l=Debian-Security\nPin-Priority: never\n",
			[]Pin{{Line: 1, Type: PinRelease, Data: "l=Debian-Security", Priority: Never}}, 0, ""},
		{"the number of never is one more", "Package: *\nPin: release a=x\nPin-Priority: -32768\n",
			[]Pin{{Line: 1, Type: PinRelease, Data: "a=x", Priority: Never + 1}}, 0, ""},
		{"no Pin: skipped", "Package: a\nPin-Priority: 5\n", nil, 0, ""},
		{"unknown type: warned", "Package: a\nPin: codename x\nPin-Priority: 5\n", nil, 1, ""},
		{"version pin for every package: warned", "Package: *\nPin: version 1\nPin-Priority: 5\n", nil, 1, ""},
		{"no Package", "Pin: release a=x\nPin-Priority: 5\n", nil, 0, "no Package"},
		{"zero", "Package: a\nPin: release a=x\nPin-Priority: 0\n", nil, 0, "no priority"},
		{"missing priority", "Package: a\nPin: release a=x\n", nil, 0, "no priority"},
		{"out of range", "Package: a\nPin: release a=x\nPin-Priority: 40000\n", nil, 0, "outside the range"},
		{"not a number", "Package: a\nPin: release a=x\nPin-Priority: high\n", nil, 0, "outside the range"},
		{"never for a name", "Package: a\nPin: release a=x\nPin-Priority: never\n", nil, 0, "Package: *"},
		{"second stanza line", "Package: *\nPin: release a=x\nPin-Priority: 1\n\nPackage: b\nPin: release a=x\nPin-Priority: 0\n", nil, 0, "prefs:5:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pins, warnings, err := Parse(strings.NewReader(tt.in), "prefs")
			if tt.err != "" {
				var pe *ParseError
				if err == nil || !strings.Contains(err.Error(), tt.err) || !errors.As(err, &pe) && !strings.Contains(err.Error(), "prefs") {
					t.Fatalf("error %v, want one containing %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for i := range pins {
				pins[i].File = ""
			}
			if len(pins) != len(tt.want) {
				t.Fatalf("pins %+v, want %+v", pins, tt.want)
			}
			for i := range pins {
				if pins[i] != tt.want[i] {
					t.Errorf("pin %d: %+v, want %+v", i, pins[i], tt.want[i])
				}
			}
			if len(warnings) != tt.warnings {
				t.Errorf("warnings %q, want %d", warnings, tt.warnings)
			}
		})
	}
}

func TestPartName(t *testing.T) {
	for name, want := range map[string]bool{
		"backports": true, "a.pref": true, "a.b.pref": true, "x_y-z:1": true,
		".hidden": false, "a.conf": false, "a.pref.bak": false, "a.": false, "a b": false, "a~": false, "": false,
	} {
		if got := partName(name); got != want {
			t.Errorf("partName(%q) = %v, want %v", name, got, want)
		}
	}
}

func TestExpressions(t *testing.T) {
	tests := []struct {
		pattern, s string
		want       bool
	}{
		{"bookworm*", "bookworm-security", true},
		{"Bookworm", "bookworm", true},
		{"book?orm", "bookworm", true},
		{"[ab]*", "bookworm", true},
		{"[!b]*", "bookworm", false},
		{"/^book.*y$/", "bookworm-security", true},
		{"/^BOOK/", "bookworm", true},
		{"/(/", "(", false},
		{"a.b", "axb", false},
		{`a\*`, "a*", true},
		{"[", "[", true},
		{"*/x", "a/b/x", true},
		{"", "", true},
	}
	for _, tt := range tests {
		if got := compile(tt.pattern).match(tt.s); got != tt.want {
			t.Errorf("%q matches %q: %v, want %v", tt.pattern, tt.s, got, tt.want)
		}
	}
}

// files are a typical host's Packages files.
var files = []File{
	{Archive: "stable", Codename: "bookworm", Version: "12.8", Origin: "Debian", Label: "Debian", Component: "main", Architecture: "amd64", Site: "deb.debian.org"},
	{Archive: "stable-security", Codename: "bookworm-security", Version: "12", Origin: "Debian", Label: "Debian-Security", Component: "main", Architecture: "amd64", Site: "security.debian.org"},
	{Archive: "stable-backports", Codename: "bookworm-backports", Origin: "Debian Backports", Label: "Debian Backports", Component: "main", Architecture: "amd64", Site: "deb.debian.org", NotAutomatic: true, ButAutomaticUpgrades: true},
	{Archive: "experimental", Codename: "rc-buggy", Origin: "Debian", Label: "Debian", Component: "main", Architecture: "amd64", Site: "deb.debian.org", NotAutomatic: true},
	StatusFile(),
}

const status = 4

func TestPriorities(t *testing.T) {
	tests := []struct {
		name, prefs, target string
		want                []int
	}{
		{"defaults", "", "", []int{500, 500, 100, 1, 100}},
		{"target release", "", "bookworm-backports", []int{500, 500, 990, 1, 100}},
		{"target release by suite glob", "", "stable*", []int{990, 990, 990, 1, 100}},
		{"first pin wins", "Package: *\nPin: release o=Debian\nPin-Priority: 200\n\nPackage: *\nPin: release n=bookworm\nPin-Priority: 300\n", "", []int{200, 200, 100, 200, 100}},
		{"never beats an earlier pin", "Package: *\nPin: release n=bookworm\nPin-Priority: 300\n\nPackage: *\nPin: release n=bookworm\nPin-Priority: never\n", "", []int{Never, 500, 100, 1, 100}},
		{"origin", "Package: *\nPin: origin security.debian.org\nPin-Priority: 50\n", "", []int{500, 50, 100, 1, 100}},
		{"component and architecture", "Package: *\nPin: release c=main,b=amd64,l=Debian\nPin-Priority: 600\n", "", []int{600, 500, 100, 600, 100}},
		{"version prefix", "Package: *\nPin: release v=12*\nPin-Priority: 700\n", "", []int{700, 700, 100, 1, 100}},
		{"bare release name matches suite or codename", "Package: *\nPin: release rc-buggy\nPin-Priority: 400\n", "", []int{500, 500, 100, 400, 100}},
		{"status by a=now", "Package: *\nPin: release a=now\nPin-Priority: 1001\n", "", []int{500, 500, 100, 1, 1001}},
		{"status refuses other fields", "Package: *\nPin: release o=Debian\nPin-Priority: 42\n", "", []int{42, 42, 100, 42, 100}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pins, _, err := Parse(strings.NewReader(tt.prefs), "prefs")
			if err != nil {
				t.Fatal(err)
			}
			p, err := New(files, pins, "amd64", tt.target)
			if err != nil {
				t.Fatal(err)
			}
			for i, w := range tt.want {
				if got := p.FilePriority(i); got != w {
					t.Errorf("file %d (%s): priority %d, want %d", i, files[i].Codename, got, w)
				}
			}
		})
	}
	if _, err := New(files, nil, "amd64", "sid"); err == nil || !strings.Contains(err.Error(), "Default-Release") {
		t.Errorf("unknown target release: %v", err)
	}
}

func TestCandidate(t *testing.T) {
	v := func(ver string, installed bool, fs ...int) Version {
		if installed {
			fs = append(fs, status)
		}
		return Version{Name: "foo", Architecture: "amd64", Version: ver, Source: "foosrc", SourceVersion: ver, Files: fs, Installed: installed}
	}
	tests := []struct {
		name, prefs string
		vs          []Version
		want        int
	}{
		{"newest of equal priority", "", []Version{v("3", false, 1), v("2", false, 0)}, 0},
		{"backports lose to stable", "", []Version{v("4", false, 2), v("2", false, 0)}, 1},
		{"backports win once installed from there", "", []Version{v("5", false, 2), v("4", true, 2), v("2", false, 0)}, 0},
		{"experimental only: the only candidate", "", []Version{v("9", false, 3)}, 0},
		{"no downgrade below 1000", "Package: foo\nPin: version 2\nPin-Priority: 999\n", []Version{v("3", true, 0), v("2", false, 0)}, 0},
		{"downgrade at 1000", "Package: foo\nPin: version 2\nPin-Priority: 1000\n", []Version{v("3", true, 0), v("2", false, 0)}, 1},
		{"negative: none", "Package: foo\nPin: release a=stable\nPin-Priority: -1\n", []Version{v("2", false, 0)}, -1},
		{"source pin", "Package: src:foosrc\nPin: version 2\nPin-Priority: 800\n", []Version{v("3", false, 0), v("2", false, 1)}, 1},
		{"glob pin on the native arch", "Package: f*:amd64\nPin: release n=bookworm-security\nPin-Priority: 50\n", []Version{v("3", false, 1), v("2", false, 0)}, 1},
		{"pin of another arch does not apply", "Package: foo:i386\nPin: release n=bookworm-security\nPin-Priority: 50\n", []Version{v("3", false, 1), v("2", false, 0)}, 0},
		{"a pin never beats a file never", "Package: *\nPin: release n=bookworm-security\nPin-Priority: never\n\nPackage: foo\nPin: version 3\nPin-Priority: 900\n", []Version{v("3", false, 1), v("2", false, 0)}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pins, _, err := Parse(strings.NewReader(tt.prefs), "prefs")
			if err != nil {
				t.Fatal(err)
			}
			p, err := New(files, pins, "amd64", "")
			if err != nil {
				t.Fatal(err)
			}
			if got := p.Candidate(tt.vs); got != tt.want {
				var prios []int
				for _, v := range tt.vs {
					prios = append(prios, p.Priority(v))
				}
				t.Errorf("candidate %d, want %d (priorities %v)", got, tt.want, prios)
			}
		})
	}
}

func TestTrivial(t *testing.T) {
	p, _ := New(files[:2], nil, "amd64", "")
	if !p.Trivial() {
		t.Error("two plain releases: not trivial")
	}
	p, _ = New(files[:3], nil, "amd64", "")
	if p.Trivial() {
		t.Error("backports: trivial")
	}
	pins, _, _ := Parse(strings.NewReader("Package: a\nPin: version 1\nPin-Priority: 5\n"), "x")
	p, _ = New(files[:2], pins, "amd64", "")
	if p.Trivial() {
		t.Error("a package pin: trivial")
	}
}

func TestInRelease(t *testing.T) {
	for _, tt := range []struct {
		file int
		rel  string
		want bool
	}{{0, "bookworm", true}, {0, "stable", true}, {1, "bookworm", false}, {1, "bookworm-security", true}, {1, "stable-security", true}, {4, "now", true}, {0, "now", false}, {2, "*-backports", true}} {
		if got := InRelease(&files[tt.file], tt.rel); got != tt.want {
			t.Errorf("file %d in %q: %v, want %v", tt.file, tt.rel, got, tt.want)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add("Package: *\nPin: release a=stable\nPin-Priority: 900\n")
	f.Add("Package: a b\nPin: version 1*\nPin-Priority: never\n\n# c\nPackage: /x/\nPin: origin \"\"\nPin-Priority: -1\n")
	f.Fuzz(func(t *testing.T, in string) {
		pins, _, err := Parse(strings.NewReader(in), "prefs")
		if err != nil {
			return
		}
		p, err := New(files, pins, "amd64", "")
		if err != nil {
			t.Fatal(err)
		}
		p.Candidate([]Version{{Name: "a", Architecture: "amd64", Version: "2", Files: []int{0}}, {Name: "a", Architecture: "amd64", Version: "1", Files: []int{1, status}, Installed: true}})
	})
}

func FuzzExpr(f *testing.F) {
	f.Add("[!a-c]*?x\\", "bxyz")
	f.Fuzz(func(t *testing.T, pattern, s string) {
		compile(pattern).match(s)
	})
}
