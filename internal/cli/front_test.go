package cli

import (
	"strings"
	"testing"

	"github.com/alecthomas/kong"
)

func TestIsQuery(t *testing.T) {
	for _, tc := range []struct {
		args string
		want bool
	}{
		{"show hello", true},
		{"search ^hello$", true},
		{"policy hello", true},
		{"--root /r --source deb_x show hello", true},
		{"--root=/r --json -y --dry-run --source=x policy hello", true},
		{"--yes show", true},
		{"-qq --quiet -q show hello", true},
		{"-o APT::Color=0 show hello", true},
		{"-oAPT::Color=0 --color never --colour=auto show hello", true},
		{"-o show hello", false}, // show is -o's value
		{"--json show --help", true},
		{"", false},
		{"list --all", false},
		{"install hello", false},
		{"version", false},
		{"--help", false},
		{"-h show hello", false},
		{"--root", false},
		{"--root show", false}, // show is --root's value; no command
		{"--unknown show hello", false},
		{"-- show hello", false},
		{"showx hello", false},
	} {
		if got := IsQuery(strings.Fields(tc.args)); got != tc.want {
			t.Errorf("IsQuery(%q) = %v, want %v", tc.args, got, tc.want)
		}
	}
}

// TestIsQueryKnowsEveryGlobalFlag keeps IsQuery in step with Globals: every
// global flag, in each form kong accepts before a command, still lets the
// front see the query after it. A flag added to Globals and not to IsQuery
// would send queries to grey-core (slow, not wrong), and this test fails.
func TestIsQueryKnowsEveryGlobalFlag(t *testing.T) {
	var c struct {
		Globals
		Queries
	}
	parser, err := kong.New(&c)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, f := range parser.Model.Flags {
		if f.Name == "help" || f.Name == "version" || f.Hidden {
			// Both print and exit before any command: the front hands
			// them to grey-core, which answers them.
			continue
		}
		n++
		var forms [][]string
		if f.IsBool() || f.IsCounter() {
			forms = append(forms, []string{"--" + f.Name})
		} else {
			forms = append(forms, []string{"--" + f.Name, "v"}, []string{"--" + f.Name + "=v"})
		}
		if f.Short != 0 && (f.IsBool() || f.IsCounter()) {
			forms = append(forms, []string{"-" + string(f.Short)})
		} else if f.Short != 0 {
			forms = append(forms, []string{"-" + string(f.Short), "v"}, []string{"-" + string(f.Short) + "v"})
		}
		for _, a := range f.Aliases {
			if f.IsBool() || f.IsCounter() {
				forms = append(forms, []string{"--" + a})
			} else {
				forms = append(forms, []string{"--" + a, "v"}, []string{"--" + a + "=v"})
			}
		}
		for _, form := range forms {
			args := append(form, "show", "hello")
			if !IsQuery(args) {
				t.Errorf("IsQuery(%q) = false: global flag --%s is unknown to it", args, f.Name)
			}
			if _, err := parser.Parse(args); err != nil {
				t.Errorf("kong refuses %q (the test's forms are wrong): %v", args, err)
			}
		}
	}
	if n < 5 {
		t.Fatalf("found %d global flags; the model walk is broken", n)
	}
}
