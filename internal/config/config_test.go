package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

const sample = `// grey.conf
# a comment line
Acquire::http::Proxy "http://proxy.example.org:3128";   // trailing comment
Acquire::https::Proxy "DIRECT"; # another
/* a block
   comment */
Acquire::http {
  Timeout "30";
  Proxy::deb.example.org "DIRECT";
  Low-Speed-Limit 100;
};
acquire::HTTPS::CaInfo "/etc/ssl/private-ca.pem";
Acquire { Retries "2"; Empty ""; Flag; };
`

func TestParse(t *testing.T) {
	c, err := Parse([]byte(sample), "grey.conf")
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{
		"Acquire::http::Proxy":                  "http://proxy.example.org:3128",
		"ACQUIRE::HTTP::PROXY":                  "http://proxy.example.org:3128",
		"Acquire::https::Proxy":                 "DIRECT",
		"Acquire::http::Timeout":                "30",
		"Acquire::http::Proxy::deb.example.org": "DIRECT",
		"Acquire::http::Low-Speed-Limit":        "100",
		"Acquire::https::CAInfo":                "/etc/ssl/private-ca.pem",
		"Acquire::Retries":                      "2",
		"Acquire::Empty":                        "",
		"Acquire::Flag":                         "",
	} {
		if got, ok := c.Get(name); !ok || got != want {
			t.Errorf("%s = %q (set %v), want %q", name, got, ok, want)
		}
	}
	if _, ok := c.Get("Acquire::ftp::Proxy"); ok {
		t.Error("an unset name is set")
	}
	if d, err := c.Seconds("Acquire::http::Timeout"); err != nil || d != 30*time.Second {
		t.Errorf("Seconds: %v %v", d, err)
	}
	if n, err := c.Int("Acquire::http::Low-Speed-Limit"); err != nil || n != 100 {
		t.Errorf("Int: %v %v", n, err)
	}
	if d, err := c.Seconds("Acquire::http::Unset"); err != nil || d != 0 {
		t.Errorf("unset Seconds: %v %v", d, err)
	}
	if got := c.Under("Acquire::http::Proxy"); !reflect.DeepEqual(got, map[string]string{"deb.example.org": "DIRECT"}) {
		t.Errorf("Under: %v", got)
	}
	if len(c.Names()) != 9 {
		t.Errorf("Names: %v", c.Names())
	}
}

func TestParseErrors(t *testing.T) {
	for _, c := range []struct {
		name, text, want string
	}{
		{"no semicolon", "Acquire::http::Timeout \"30\"\nAcquire::Retries \"1\";\n", "grey.conf:2: ';' after the value of Acquire::http::Timeout expected"},
		{"unclosed brace", "Acquire {\n Retries \"1\";\n", "1 unclosed '{'"},
		{"stray brace", "};\n", "grey.conf:1: '}' without '{'"},
		{"unclosed quote", "A \"b;\n", "grey.conf:1: unclosed quote"},
		{"quote over lines", "A \"b\nc\";\n", "runs over the end of the line"},
		{"list", "Acquire { \"a\"; };\n", "lists are not supported"},
		{"include", "#include \"/etc/other.conf\";\n", "grey.conf:1: #include is not supported"},
		{"clear", "\n  #clear Acquire;\n", "grey.conf:2: #clear is not supported"},
		{"unclosed comment", "/* x\n", "unclosed comment"},
		{"empty name part", "Acquire::::http \"x\";\n", "malformed name"},
		{"name ends in ::", "Acquire:: \"x\";\n", "malformed name"},
		{"brace after value", "A \"x\" {\n", "';' after the value of A expected"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse([]byte(c.text), "grey.conf")
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err %v, want %q", err, c.want)
			}
		})
	}
	cf, err := Parse([]byte("Acquire::http::Timeout \"soon\";\nAcquire::Retries \"-1\";\n"), "grey.conf")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cf.Seconds("acquire::http::timeout"); err == nil || err.Error() != `grey.conf:1: Acquire::http::Timeout "soon": not a whole number of seconds` {
		t.Errorf("Seconds: %v", err)
	}
	if _, err := cf.Int("Acquire::Retries"); err == nil || !strings.Contains(err.Error(), "grey.conf:2") {
		t.Errorf("Int: %v", err)
	}
}

func TestLoad(t *testing.T) {
	root := t.TempDir()
	c, err := Load(root)
	if err != nil || len(c.Names()) != 0 {
		t.Fatalf("no file: %v %v", c.Names(), err)
	}
	if err := os.MkdirAll(filepath.Join(root, "etc/grey"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, File), []byte("Acquire::Retries \"3\";\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if c, err = Load(root); err != nil || c.String("Acquire::Retries") != "3" || c.Path != filepath.Join(root, File) {
		t.Fatalf("%v %v", c, err)
	}
	if err := os.WriteFile(filepath.Join(root, File), []byte("Acquire::Retries \"3\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(root); err == nil || !strings.Contains(err.Error(), filepath.Join(root, File)+":2:") {
		t.Fatalf("a bad file: %v", err)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(sample))
	f.Add([]byte("A { B { C \"d\"; }; };"))
	f.Add([]byte("/* */ # x\n#include y"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse(data, "fuzz")
		if err != nil {
			return
		}
		for _, n := range c.Names() {
			if n == "" || strings.HasPrefix(n, "::") {
				t.Fatalf("name %q accepted", n)
			}
			if _, ok := c.Get(n); !ok {
				t.Fatalf("listed name %q not found", n)
			}
		}
	})
}

func TestSetBoolCheck(t *testing.T) {
	c, err := Parse([]byte(`APT::Install-Recommends "false"; APT::Color "maybe";`), "grey.conf")
	if err != nil {
		t.Fatal(err)
	}
	if v, set, err := c.Bool("apt::install-recommends"); v || !set || err != nil {
		t.Errorf("Bool = %v %v %v", v, set, err)
	}
	c.Set("APT::Install-Recommends", "yes")
	if v, set, err := c.Bool(KeyInstallRecommends); !v || !set || err != nil {
		t.Errorf("Bool after Set = %v %v %v", v, set, err)
	}
	if _, _, err := c.Bool(KeyColor); err == nil || !strings.Contains(err.Error(), `grey.conf:1: APT::Color "maybe": not true or false`) {
		t.Errorf("Bool of a bad file value: %v", err)
	}
	c.Set(KeyAssumeYes, "perhaps")
	if _, _, err := c.Bool(KeyAssumeYes); err == nil || err.Error() != "-o APT::Get::Assume-Yes=perhaps: not true or false" {
		t.Errorf("Bool of a bad -o value: %v", err)
	}
	if _, set, err := c.Bool(KeySimulate); set || err != nil {
		t.Errorf("unset Bool: %v %v", set, err)
	}
	for name, ok := range map[string]bool{
		"APT::Install-Recommends":                true,
		"acquire::http::proxy":                   true,
		"Acquire::http::Proxy::deb.example.org":  true,
		"Acquire::http::Proxy::a::b":             false,
		"Acquire::http::Proxy::":                 false,
		"APT::Get::Purge":                        false,
		"Dpkg::Options::":                        false,
		"Grey::Parallel-Downloads":               true,
		"Acquire::https::Proxy::mirror.internal": true,
	} {
		if err := Check(name); (err == nil) != ok {
			t.Errorf("Check(%q) = %v, want ok %v", name, err, ok)
		}
	}
}
