package triggers

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     []Directive
		err      string
	}{
		{name: "libc-bin", in: "# Triggers added by dh_makeshlibs\ninterest-noawait ldconfig\n",
			want: []Directive{{Kind: Interest, Name: "ldconfig", NoAwait: true}}},
		{name: "every keyword", in: "interest a\ninterest-await b\ninterest-noawait c\nactivate d\nactivate-await e\n\n  activate-noawait /usr/share/man  \n",
			want: []Directive{{Interest, "a", false}, {Interest, "b", false}, {Interest, "c", true}, {Activate, "d", false}, {Activate, "e", false}, {Activate, "/usr/share/man", true}}},
		{name: "empty", in: "", want: nil},
		{name: "unknown keyword", in: "interested x\n", err: "unknown keyword"},
		{name: "two names", in: "interest a b\n", err: "one trigger name"},
		{name: "no name", in: "activate\n", err: "one trigger name"},
		{name: "non-ascii", in: "interest caf\xc3\xa9\n", err: "byte"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Parse(strings.NewReader(tc.in))
			if tc.err != "" {
				var se *SyntaxError
				if !errors.As(err, &se) || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want a SyntaxError with %q", err, tc.err)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("Parse = %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
}

func TestActivations(t *testing.T) {
	in := Interests{
		"libc-bin":     {{Kind: Interest, Name: "ldconfig", NoAwait: true}},
		"man-db":       {{Kind: Interest, Name: "/usr/share/man", NoAwait: true}},
		"root-watcher": {{Kind: Interest, Name: "/"}},
		"fonts":        {{Kind: Interest, Name: "/usr/share/fonts/"}, {Kind: Interest, Name: "fontconfig"}},
	}
	a := NewActivations(in)
	a.Path("/usr/share/man/man1/hello.1.gz")
	a.Path("/usr/share/manual") // not under /usr/share/man
	a.Path("/usr/share/fonts")  // the directory itself
	a.Name("ldconfig")
	a.Name("ldconfig") // once is enough
	a.Name("unheard-of")
	got := a.Pending()
	want := []Pending{
		{"fonts", []string{"/usr/share/fonts/"}},
		{"libc-bin", []string{"ldconfig"}},
		{"man-db", []string{"/usr/share/man"}},
		{"root-watcher", []string{"/"}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Pending = %+v\nwant %+v", got, want)
	}
	if arg := (Pending{"x", []string{"a", "/b"}}).Arg(); arg != "a /b" {
		t.Fatalf("Arg = %q", arg)
	}
}

func FuzzParse(f *testing.F) {
	f.Add("interest-noawait ldconfig\n")
	f.Add("activate /usr/share/man\n# c\n")
	f.Add("interest a b\n")
	f.Fuzz(func(t *testing.T, in string) {
		ds, err := Parse(strings.NewReader(in))
		if err != nil {
			return
		}
		for _, d := range ds {
			if d.Name == "" || strings.ContainsAny(d.Name, " \t\n") {
				t.Fatalf("accepted name %q", d.Name)
			}
		}
	})
}
