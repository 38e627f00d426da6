// Package triggers reads a package's triggers control file (deb-triggers(5))
// and works out which triggers a set of changes activates, as dpkg does:
// a package declares interest in a trigger name, or in a path (a file
// trigger, a name that starts with "/"), and its postinst is later called
// with "triggered" and the names that fired.
//
// The package only computes; running the postinst is the caller's job.
package triggers

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"slices"
	"strings"
)

// Kind is what a directive does.
type Kind int

const (
	// Interest: the package wants its postinst called when the trigger fires.
	Interest Kind = iota
	// Activate: changing the package (unpacking or removing it) fires the
	// trigger.
	Activate
)

// Directive is one line of a triggers file.
type Directive struct {
	Kind Kind
	// Name is the trigger: an explicit name, or an absolute path for a
	// file trigger.
	Name string
	// NoAwait is set by the -noawait forms: the activating package need
	// not wait for the trigger to be processed before it counts as
	// installed. (grey processes every trigger before its transaction
	// ends, so the two forms act alike; the flag is kept to write the file
	// back.)
	NoAwait bool
}

// IsFile reports whether d's name is a path (a file trigger).
func (d Directive) IsFile() bool { return strings.HasPrefix(d.Name, "/") }

// SyntaxError is a line of a triggers file that is not a directive.
type SyntaxError struct {
	Line int
	Text string
	Msg  string
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("triggers line %d: %s: %q", e.Line, e.Msg, e.Text)
}

// Parse reads a triggers file. Blank lines and lines starting with "#" are
// skipped; every other line is a keyword and one trigger name.
func Parse(r io.Reader) ([]Directive, error) {
	var out []Directive
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 4096), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		fields := strings.Fields(line)
		if len(fields) != 2 {
			return nil, &SyntaxError{n, line, "want a keyword and one trigger name"}
		}
		var d Directive
		switch fields[0] {
		case "interest", "interest-await":
			d.Kind = Interest
		case "interest-noawait":
			d.Kind, d.NoAwait = Interest, true
		case "activate", "activate-await":
			d.Kind = Activate
		case "activate-noawait":
			d.Kind, d.NoAwait = Activate, true
		default:
			return nil, &SyntaxError{n, line, "unknown keyword " + fields[0]}
		}
		d.Name = fields[1]
		if err := checkName(d.Name); err != nil {
			return nil, &SyntaxError{n, line, err.Error()}
		}
		out = append(out, d)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("triggers: %w", err)
	}
	return out, nil
}

// ParseBytes is Parse of a file already in memory.
func ParseBytes(b []byte) ([]Directive, error) { return Parse(bytes.NewReader(b)) }

// checkName applies dpkg's rule: printable ASCII, no spaces; a file
// trigger is an absolute path.
func checkName(name string) error {
	for i := 0; i < len(name); i++ {
		if c := name[i]; c <= ' ' || c >= 0x7f {
			return fmt.Errorf("trigger name has byte %#x", c)
		}
	}
	return nil
}

// Interests is what every installed package is interested in: package name
// to its Interest directives.
type Interests map[string][]Directive

// Activations collects fired triggers, then names, per interested package,
// the ones to pass to its postinst.
type Activations struct {
	interests Interests
	fired     map[string][]string // package -> trigger names, in firing order
}

// NewActivations starts an empty set of activations against interests.
func NewActivations(in Interests) *Activations {
	return &Activations{interests: in, fired: map[string][]string{}}
}

// Path records that a file or directory at path (absolute, as dpkg lists
// it: "/usr/lib/x.so") was installed or removed; it fires every file
// trigger at path or at a directory above it.
func (a *Activations) Path(path string) {
	for pkg, ds := range a.interests {
		for _, d := range ds {
			if d.IsFile() && under(path, d.Name) {
				a.fire(pkg, d.Name)
			}
		}
	}
}

// Name records that an explicit trigger fired (from an activate directive
// of a changed package, or from dpkg-trigger in a maintainer script).
func (a *Activations) Name(name string) {
	for pkg, ds := range a.interests {
		for _, d := range ds {
			if d.Name == name {
				a.fire(pkg, name)
			}
		}
	}
}

func (a *Activations) fire(pkg, name string) {
	if !slices.Contains(a.fired[pkg], name) {
		a.fired[pkg] = append(a.fired[pkg], name)
	}
}

// Pending returns the packages with fired triggers, sorted by name, each
// with its trigger names in the order they fired: the argument of its
// postinst "triggered" call is those names joined by spaces.
func (a *Activations) Pending() []Pending {
	out := make([]Pending, 0, len(a.fired))
	for pkg, names := range a.fired {
		out = append(out, Pending{Package: pkg, Triggers: slices.Clone(names)})
	}
	slices.SortFunc(out, func(x, y Pending) int { return strings.Compare(x.Package, y.Package) })
	return out
}

// Pending is one package whose postinst is to be called with "triggered".
type Pending struct {
	Package  string
	Triggers []string
}

// Arg is the postinst's second argument: the names, space-separated.
func (p Pending) Arg() string { return strings.Join(p.Triggers, " ") }

// under reports whether path is dir or lies below it.
func under(path, dir string) bool {
	dir = strings.TrimSuffix(dir, "/")
	if dir == "" {
		return strings.HasPrefix(path, "/")
	}
	return path == dir || strings.HasPrefix(path, dir) && len(path) > len(dir) && path[len(dir)] == '/'
}
