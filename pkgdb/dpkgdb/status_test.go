package dpkgdb

import (
	"bytes"
	"strings"
	"testing"
)

const sampleStatus = `Package: base-files
Essential: yes
Status: install ok installed
Priority: required
Architecture: amd64
Version: 12.4+deb12u5
Conffiles:
 /etc/debian_version 1bd7c2b4dd7bb1bd2b4f5a8c0ee6cb6e
 /etc/host.conf 4eb63731c9f5e30903ac4fc07a7fe3d6 obsolete
Description: Debian base system miscellaneous files

Package: hello
Status: hold ok installed
Architecture: amd64
Version: 2.10-3
Description: example package based on GNU hello

Package: libc6
Status: install ok installed
Architecture: amd64
Multi-Arch: same
Version: 2.36-9
Description: GNU C Library: Shared libraries

Package: libc6
Status: install ok unpacked
Architecture: i386
Multi-Arch: same
Version: 2.36-9
Description: GNU C Library: Shared libraries

Package: nano
Status: deinstall ok config-files
Architecture: amd64
Version: 7.2-1
Conffiles:
 /etc/nanorc 8ee6e4e0b9b1e3f7c0e2d0a1c3e5f7a9
Description: small editor

`

func TestParseStatus(t *testing.T) {
	es, err := ParseStatus("status", []byte(sampleStatus))
	if err != nil {
		t.Fatal(err)
	}
	want := []struct{ key, info, state, want string }{
		{"base-files:amd64", "base-files", "installed", "install"},
		{"hello:amd64", "hello", "installed", "hold"},
		{"libc6:amd64", "libc6:amd64", "installed", "install"},
		{"libc6:i386", "libc6:i386", "unpacked", "install"},
		{"nano:amd64", "nano", "config-files", "deinstall"},
	}
	if len(es) != len(want) {
		t.Fatalf("got %d entries, want %d", len(es), len(want))
	}
	var joined []byte
	for i, w := range want {
		e := es[i]
		if e.Key() != w.key || e.InfoName() != w.info || e.State() != w.state || e.Want() != w.want {
			t.Errorf("entry %d: %s %s %s %s, want %+v", i, e.Key(), e.InfoName(), e.State(), e.Want(), w)
		}
		joined = append(append(joined, e.Raw...), '\n')
	}
	if string(joined) != sampleStatus {
		t.Errorf("raw stanzas do not add up to the file:\n%s", joined)
	}
	confs, err := ParseConffiles(es[0].Fields.Get("Conffiles"))
	if err != nil || len(confs) != 2 || !confs[1].Obsolete || confs[0].Path != "/etc/debian_version" {
		t.Errorf("conffiles: %+v %v", confs, err)
	}
}

func TestParseStatusErrors(t *testing.T) {
	for name, in := range map[string]string{
		"no package":  "Status: install ok installed\nVersion: 1\n",
		"bad status":  "Package: a\nStatus: install ok\n",
		"bad state":   "Package: a\nStatus: install ok exploded\n",
		"bad syntax":  "Package: a\n continuation first\nbad line\n",
		"bad want":    "Package: a\nStatus: maybe ok installed\n",
		"empty value": "Package:\nStatus: install ok installed\n",
	} {
		if _, err := ParseStatus("status", []byte(in)); err == nil || !strings.Contains(err.Error(), "status") {
			t.Errorf("%s: error %v, want one naming the file", name, err)
		}
	}
}

func TestEditKeepsOtherStanzas(t *testing.T) {
	data := []byte(sampleStatus)
	tests := []struct {
		name string
		edit Edit
		want []string // Package:Arch of the stanzas after, in order
		same []string // keys whose stanzas must be byte-identical
	}{
		{"nothing", Edit{}, []string{"base-files:amd64", "hello:amd64", "libc6:amd64", "libc6:i386", "nano:amd64"},
			[]string{"base-files:amd64", "hello:amd64", "libc6:amd64", "libc6:i386", "nano:amd64"}},
		{"insert sorted", Edit{Put: map[string][]byte{
			"coreutils:amd64": []byte("Package: coreutils\nStatus: install ok installed\nArchitecture: amd64\nVersion: 9.1-1\n"),
			"zlib1g:amd64":    []byte("Package: zlib1g\nStatus: install ok installed\nArchitecture: amd64\nVersion: 1\n")}},
			[]string{"base-files:amd64", "coreutils:amd64", "hello:amd64", "libc6:amd64", "libc6:i386", "nano:amd64", "zlib1g:amd64"},
			[]string{"base-files:amd64", "hello:amd64", "libc6:amd64", "libc6:i386", "nano:amd64"}},
		{"replace and drop", Edit{Put: map[string][]byte{
			"hello:amd64": []byte("Package: hello\nStatus: install ok installed\nArchitecture: amd64\nVersion: 2.10-4\n")},
			Drop: map[string]bool{"libc6:i386": true}},
			[]string{"base-files:amd64", "hello:amd64", "libc6:amd64", "nano:amd64"},
			[]string{"base-files:amd64", "libc6:amd64", "nano:amd64"}},
	}
	before, _ := ParseStatus("status", data)
	raw := map[string][]byte{}
	for _, e := range before {
		raw[e.Key()] = e.Raw
	}
	for _, tc := range tests {
		out, err := tc.edit.Apply("status", data)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		after, err := ParseStatus("out", out)
		if err != nil {
			t.Fatalf("%s: output does not parse: %v", tc.name, err)
		}
		var keys []string
		got := map[string][]byte{}
		for _, e := range after {
			keys = append(keys, e.Key())
			got[e.Key()] = e.Raw
		}
		if strings.Join(keys, " ") != strings.Join(tc.want, " ") {
			t.Errorf("%s: stanzas %v, want %v", tc.name, keys, tc.want)
		}
		for _, k := range tc.same {
			if !bytes.Equal(got[k], raw[k]) {
				t.Errorf("%s: stanza %s changed:\n%s", tc.name, k, got[k])
			}
		}
		if tc.name == "nothing" && !bytes.Equal(out, data) {
			t.Errorf("an empty edit changed the file")
		}
	}
}

func TestExtendedStates(t *testing.T) {
	in := "Package: libfoo\nArchitecture: amd64\nAuto-Installed: 1\n\nPackage: bar\nArchitecture: amd64\nAuto-Installed: 0\n\n"
	es, err := ParseExtendedStates("extended_states", []byte(in))
	if err != nil {
		t.Fatal(err)
	}
	if !es.Auto["libfoo:amd64"] || es.Auto["bar:amd64"] {
		t.Fatalf("marks %v", es.Auto)
	}
	if string(es.Bytes()) != in {
		t.Errorf("unchanged file rendered differently:\n%s", es.Bytes())
	}
	es.Set("libfoo:amd64", true) // already: byte-identical
	es.Set("baz:amd64", true)
	es.Set("libfoo:amd64", false)
	want := "Package: bar\nArchitecture: amd64\nAuto-Installed: 0\n\nPackage: baz\nArchitecture: amd64\nAuto-Installed: 1\n\n"
	if string(es.Bytes()) != want {
		t.Errorf("got\n%s\nwant\n%s", es.Bytes(), want)
	}
}

func TestParseMD5SumsAndList(t *testing.T) {
	m, err := ParseMD5Sums("x.md5sums", []byte("0123456789abcdef0123456789abcdef  usr/bin/hello\n0123456789abcdef0123456789abcdee  usr/share/doc/a b\n"))
	if err != nil || m["/usr/bin/hello"] == "" || m["/usr/share/doc/a b"] == "" {
		t.Errorf("md5sums: %v %v", m, err)
	}
	if _, err := ParseMD5Sums("x.md5sums", []byte("short  usr/bin/x\n")); err == nil {
		t.Error("bad md5sums line accepted")
	}
	l := ParseList([]byte("/.\n/usr\n/usr/bin\n/usr/bin/hello\n"))
	if strings.Join(l, ",") != "/usr,/usr/bin,/usr/bin/hello" {
		t.Errorf("list %v", l)
	}
}

func FuzzParseStatus(f *testing.F) {
	f.Add([]byte(sampleStatus))
	f.Add([]byte("Package: a\nStatus: install ok installed\n\n\n\nPackage: b\nStatus: purge ok not-installed"))
	f.Fuzz(func(t *testing.T, data []byte) {
		es, err := ParseStatus("status", data)
		if err != nil {
			return
		}
		// An empty edit writes every stanza back unchanged.
		out, err := Edit{}.Apply("status", data)
		if err != nil {
			t.Fatalf("parsed, but Apply failed: %v", err)
		}
		again, err := ParseStatus("out", out)
		if err != nil || len(again) != len(es) {
			t.Fatalf("round trip: %d entries, then %d (%v)", len(es), len(again), err)
		}
		for i := range es {
			if !bytes.Equal(es[i].Raw, again[i].Raw) {
				t.Fatalf("stanza %d changed", i)
			}
		}
	})
}

func FuzzParseExtendedStates(f *testing.F) {
	f.Add([]byte("Package: libfoo\nArchitecture: amd64\nAuto-Installed: 1\n\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		es, err := ParseExtendedStates("x", data)
		if err != nil {
			return
		}
		again, err := ParseExtendedStates("x", es.Bytes())
		if err != nil {
			t.Fatalf("rendered file does not parse: %v", err)
		}
		if len(again.Auto) != len(es.Auto) {
			t.Fatalf("marks %v, then %v", es.Auto, again.Auto)
		}
	})
}

func FuzzParseMD5Sums(f *testing.F) {
	f.Add([]byte("0123456789abcdef0123456789abcdef  usr/bin/hello\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		_, _ = ParseMD5Sums("x", data)
		_ = ParseList(data)
		_, _ = ParseConffiles(string(data))
	})
}
