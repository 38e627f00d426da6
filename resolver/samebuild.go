package resolver

import (
	"strings"

	"github.com/greypm/grey/deb"
)

// AutoremoveRoot reports whether installed package p is a root of apt's
// autoremove besides the manually installed packages (pkgDepCache::
// MarkRequired): Essential, Important or Protected (`Important: yes`,
// `Protected: yes`), or of Priority required. Autoremove never removes
// such a package, automatic or not, nor anything it needs.
func AutoremoveRoot(p *deb.Package) bool {
	if p.Essential || p.Priority == "required" {
		return true
	}
	if p.Stanza != nil {
		for _, f := range [2]string{"Protected", "Important"} {
			if strings.EqualFold(p.Stanza.Get(f), "yes") {
				return true
			}
		}
	}
	return false
}
