package sources

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestAttackLinksLeadOutOfRoot: symbolic links in a root's apt and grey
// configuration that name host paths (absolute, or climbing with "..")
// are followed inside the root, as in a chroot: the root's own files are
// read, never the host's (issue 12, item 9: os.DirFS followed them out,
// so a root could make grey trust a host keyring or use a host's sources
// file).
func TestAttackLinksLeadOutOfRoot(t *testing.T) {
	for _, c := range []struct {
		name  string
		links map[string]string // in the root -> target ("OUT" is the host directory)
		files map[string]string // in the root ("OUT" at the start: the root's copy of that path)
		want  []string          // URIs of the sources loaded
		keys  []string          // keyrings, relative to the root
	}{
		{
			name:  "sources.list.d -> a host directory",
			links: map[string]string{AptListDir: "OUT"},
			files: map[string]string{"OUT/inside.list": "deb http://inside.example/ bookworm main\n"},
			want:  []string{"http://inside.example/"},
		},
		{
			name:  "sources.list.d -> /",
			links: map[string]string{ListDir: "/"},
			files: map[string]string{ListFile: "deb [signed-by=/k.gpg] http://inside.example/ bookworm main\n"},
			want:  []string{"http://inside.example/"},
		},
		{
			name:  "grey's sources.list.d -> ../../../../.. host directory",
			links: map[string]string{ListDir: "../../../../../../../../../..OUT"},
			files: map[string]string{"OUT/inside.list": "deb [signed-by=/k.gpg] http://inside.example/ bookworm main\n"},
			want:  []string{"http://inside.example/"},
		},
		{
			name:  "trusted.gpg.d -> a host directory",
			links: map[string]string{AptTrustedPartDir: "OUT"},
			files: map[string]string{AptListFile: "deb http://inside.example/ bookworm main\n", "OUT/inside.gpg": "key"},
			want:  []string{"http://inside.example/"},
			keys:  []string{"OUT/inside.gpg"},
		},
		{
			name:  "a signed-by keyring through a link to a host directory",
			links: map[string]string{"usr/share/keyrings": "OUT"},
			files: map[string]string{AptListFile: "deb [signed-by=/usr/share/keyrings/k.gpg] http://inside.example/ bookworm main\n", "OUT/k.gpg": "key"},
			want:  []string{"http://inside.example/"},
			keys:  []string{"OUT/k.gpg"},
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			base := t.TempDir()
			root, out := filepath.Join(base, "root"), filepath.Join(base, "host")
			// The host directory holds what a link out would reach.
			hostFiles := map[string]string{
				"evil.list":  "deb [trusted=yes] http://evil.example/ bookworm main\n",
				"k.gpg":      "host key",
				"evil.gpg":   "host key",
				"inside.gpg": "host key",
			}
			for n, s := range hostFiles {
				write(t, filepath.Join(out, n), s)
			}
			// so does "/" of the host, for the root's sake: nothing there
			// is a .list file, and the root's / has none either.
			subst := func(s string) string { return strings.Replace(s, "OUT", strings.TrimPrefix(out, "/"), 1) }
			for n, s := range c.files {
				write(t, filepath.Join(root, subst(n)), s)
			}
			for l, target := range c.links {
				if target == "OUT" {
					target = out
				} else {
					target = strings.Replace(target, "OUT", out, 1)
				}
				must(t, os.MkdirAll(filepath.Dir(filepath.Join(root, l)), 0o755))
				must(t, os.Symlink(target, filepath.Join(root, l)))
			}
			srcs, err := Load(root)
			if err != nil {
				t.Fatal(err)
			}
			var uris, keys []string
			for _, s := range srcs {
				uris = append(uris, s.URI.String())
				for _, k := range s.SignedBy {
					if strings.HasPrefix(k, root) {
						k = strings.TrimPrefix(k, root+"/")
					} else if c.keys != nil {
						t.Errorf("keyring %s is outside the root", k)
					}
					keys = append(keys, k)
				}
				if s.Trusted == Yes {
					t.Errorf("the host's trusted=yes source was read: %+v", s)
				}
			}
			if !slices.Equal(uris, c.want) {
				t.Errorf("URIs %q, want %q", uris, c.want)
			}
			var wantKeys []string
			for _, k := range c.keys {
				wantKeys = append(wantKeys, subst(k))
			}
			if c.keys != nil && !slices.Equal(keys, wantKeys) {
				t.Errorf("keyrings %q, want %q", keys, wantKeys)
			}
		})
	}
}

func write(t *testing.T, p, s string) {
	t.Helper()
	must(t, os.MkdirAll(filepath.Dir(p), 0o755))
	must(t, os.WriteFile(p, []byte(s), 0o644))
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
