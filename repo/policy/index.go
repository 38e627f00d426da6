package policy

import (
	"net/url"
	"strings"
	"sync"

	"github.com/greypm/grey/deb"
	"github.com/greypm/grey/repo/index"
	"github.com/greypm/grey/repo/lists"
)

// IndexPolicy is a Policy over the packages of an index: the files of a
// version are the index inputs that list its name, version and
// architecture (apt merges them into one version the same way), and dpkg's
// status file for the installed version. It gives the resolver its
// Policy (resolver.Policy) and `grey policy` its table.
type IndexPolicy struct {
	*Policy
	x *index.Index
	// inputFile maps an index input to its file in Policy; status is
	// dpkg's status file (-1 when the policy has none).
	inputFile []int
	status    int
	trivial   bool

	mu     sync.Mutex
	byName map[string][]index.Summary
}

// ForIndex returns the policy of x's packages: inputFile[i] is the file of
// Policy that describes x's input i, and status the file standing for
// dpkg's status file (-1 for none).
func ForIndex(p *Policy, x *index.Index, inputFile []int, status int) *IndexPolicy {
	return &IndexPolicy{Policy: p, x: x, inputFile: inputFile, status: status, trivial: p.Trivial(), byName: map[string][]index.Summary{}}
}

func (ip *IndexPolicy) lookup(name string) []index.Summary {
	ip.mu.Lock()
	defer ip.mu.Unlock()
	s, ok := ip.byName[name]
	if !ok {
		s = ip.x.Lookup(name)
		ip.byName[name] = s
	}
	return s
}

// Of returns p as the policy sees it: its files.
func (ip *IndexPolicy) Of(p *deb.Package, installed bool) Version {
	v := Version{Name: p.Name, Architecture: p.Architecture, Version: p.Version.String(), Source: p.Source, Installed: installed}
	if !p.SourceVersion.IsZero() {
		v.SourceVersion = p.SourceVersion.String()
	}
	for _, s := range ip.lookup(p.Name) {
		if s.Architecture != p.Architecture || s.Version != v.Version {
			continue
		}
		if p.Origin == "installed" {
			// The installed record is available from an index only
			// when the index has the same build of it (apt keeps a
			// rebuild of the installed version apart).
			if q, err := ip.x.Decode(s.Ref); err != nil || !deb.SameBuild(p, q) {
				continue
			}
		}
		if f := ip.inputFile[s.Input()]; f >= 0 {
			v.Files = append(v.Files, f)
		}
	}
	if installed && ip.status >= 0 {
		v.Files = append(v.Files, ip.status)
	}
	return v
}

// Priority returns p's priority (resolver.Policy).
func (ip *IndexPolicy) Priority(p *deb.Package, installed bool) int {
	if ip.trivial {
		return DefaultPriority
	}
	return ip.Policy.Priority(ip.Of(p, installed))
}

// Candidate returns the index of apt's candidate among vs, the versions
// of one name and architecture newest first (resolver.Policy).
func (ip *IndexPolicy) Candidate(vs []*deb.Package, installed int) int {
	if ip.trivial {
		// Every priority is the default: the newest, which is never
		// older than the installed version.
		if len(vs) == 0 {
			return -1
		}
		return 0
	}
	out := make([]Version, len(vs))
	for i, p := range vs {
		out[i] = ip.Of(p, i == installed)
	}
	return ip.Policy.Candidate(out)
}

// InRelease reports whether p is available from a release whose suite or
// codename matches rel, or is installed when rel is "now"
// (resolver.Policy).
func (ip *IndexPolicy) InRelease(p *deb.Package, rel string) bool {
	v := ip.Of(p, p.Origin == "installed")
	for _, f := range v.Files {
		if InRelease(&ip.files[f], rel) {
			return true
		}
	}
	return false
}

// InputFiles describes the Packages files of a root's index inputs (as
// lists.IndexInputs returns them, in the index's order) for New: file i is
// input i.
func InputFiles(ins []lists.IndexInput) []File {
	out := make([]File, len(ins))
	for i, in := range ins {
		site := ""
		if u, err := url.Parse(in.URI); err == nil && u.Scheme != "file" && u.Scheme != "copy" && u.Scheme != "cdrom" {
			site = u.Hostname()
		}
		r := in.Release
		out[i] = File{
			Archive: r.Suite, Codename: r.Codename, Version: r.Version, Origin: r.Origin, Label: r.Label,
			Component: in.Component, Architecture: in.Arch, Site: site,
			NotAutomatic: r.NotAutomatic, ButAutomaticUpgrades: r.ButAutomaticUpgrades,
			Describe: in.Label,
		}
	}
	return out
}

// StatusFile is dpkg's status file as a File: the installed versions.
func StatusFile() File {
	return File{Status: true, Archive: "now", Component: "now", Describe: "/var/lib/dpkg/status"}
}

// RelStr is the release line apt-cache policy prints under a file:
// "v=12,o=Debian,a=stable,n=bookworm,l=Debian,c=main,b=amd64", with only
// the fields the Release gives.
func (f *File) RelStr() string {
	if f.Status {
		return "a=now"
	}
	var parts []string
	for _, kv := range [][2]string{{"v", f.Version}, {"o", f.Origin}, {"a", f.Archive}, {"n", f.Codename}, {"l", f.Label}, {"c", f.Component}, {"b", f.Architecture}} {
		if kv[1] != "" {
			parts = append(parts, kv[0]+"="+kv[1])
		}
	}
	return strings.Join(parts, ",")
}

// Where names the releases p is available from as the user names them in
// NAME/RELEASE: "bookworm-security/main", several joined by ", "
// (resolver.Policy).
func (ip *IndexPolicy) Where(p *deb.Package) string {
	v := ip.Of(p, p.Origin == "installed")
	var out []string
	for _, f := range v.Files {
		out = append(out, ip.files[f].Where())
	}
	return strings.Join(out, ", ")
}

// Where is the release of the file as a user names it: its codename (its
// suite when it has none) and component, "bookworm-security/main";
// "installed" for dpkg's status file.
func (f *File) Where() string {
	if f.Status {
		return "installed"
	}
	rel := f.Codename
	if rel == "" {
		rel = f.Archive
	}
	if f.Component != "" {
		rel += "/" + f.Component
	}
	return rel
}
