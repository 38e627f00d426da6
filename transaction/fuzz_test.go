package transaction

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzStagePaths installs a package whose data.tar holds arbitrary entries
// ("TYPE PATH [TARGET]" lines: f file, d directory, s symlink, h hard link)
// into an empty root and checks the invariant that matters: whatever the
// entries, nothing appears outside the root, and a failed install leaves
// the root as it was.
func FuzzStagePaths(f *testing.F) {
	seeds := []string{
		"d ./usr/\nd ./usr/bin/\nf ./usr/bin/hello\ns ./usr/bin/hi hello\nh ./usr/bin/hello2 ./usr/bin/hello",
		"f ./../../etc/passwd",
		"f /etc/passwd",
		"s ./lnk /tmp\nf ./lnk/planted",
		"s ./lnk ../..\nf ./lnk/planted",
		"s ./a b\ns ./b a\nf ./a/x",
		"d ./etc/\nf ./etc/protocols\nf ./etc/protocols",
		"h ./x ./missing",
		"s ./usr/lib/x86_64-linux-gnu/libz.so.1 libz.so.1.2.13\nf ./usr/lib/x86_64-linux-gnu/libz.so.1.2.13",
	}
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, spec string) {
		var files []tentry
		for _, line := range strings.Split(spec, "\n") {
			parts := strings.Fields(line)
			if len(parts) < 2 || len(parts[0]) != 1 || len(files) > 20 {
				continue
			}
			e := tentry{typ: parts[0][0], name: parts[1], body: "x"}
			if len(parts) > 2 {
				e.link = parts[2]
			}
			switch e.typ {
			case 'f', 's', 'h':
				if strings.HasSuffix(e.name, "/") {
					continue // archive/tar cannot write it
				}
			case 'd':
			default:
				continue
			}
			files = append(files, e)
		}
		outer := t.TempDir()
		root := filepath.Join(outer, "root")
		canary := filepath.Join(outer, "canary")
		for _, d := range []string{root, canary} {
			if err := os.Mkdir(d, 0o755); err != nil {
				t.Fatal(err)
			}
		}
		deb, err := tpkg{name: "fuzz", version: "1", files: files}.tryBuild(outer)
		if err != nil {
			t.Skip(err) // not an archive/tar can write: not this target's subject
		}
		r := openRoot(t, root)
		before := treeHash(t, root)
		_, err = Apply(context.Background(), r.DB, Plan{Install: []Install{{Path: deb}}}, Options{Root: root})
		ents, _ := os.ReadDir(outer)
		for _, e := range ents {
			if n := e.Name(); n != "root" && n != "canary" && !strings.HasSuffix(n, ".deb") {
				t.Fatalf("%q appeared beside the root", n)
			}
		}
		if c, _ := os.ReadDir(canary); len(c) != 0 {
			t.Fatalf("something was written outside the root: %v", c)
		}
		if err != nil && treeHash(t, root) != before {
			t.Fatalf("failed install (%v) changed the root", err)
		}
	})
}
