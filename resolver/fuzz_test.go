package resolver

import (
	"testing"
)

// FuzzParseJob checks that ParseJob never panics, and that what it accepts
// prints back to a job that parses to the same value.
func FuzzParseJob(f *testing.F) {
	for _, s := range []string{"hello", "hello=2.10-3", "libc6:i386", "hello/bookworm-security", "zlib1g:amd64=1:1.2.13.dfsg-1",
		"a/b:c=1", "=1", "x:", "x/", "busybox=1:1.35.0-4+deb12u1+b1", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		j, err := ParseJob(s)
		if err != nil {
			return
		}
		if j.Name == "" {
			t.Fatalf("ParseJob(%q) accepted an empty name", s)
		}
		again, err := ParseJob(j.String())
		if err != nil {
			t.Fatalf("ParseJob(%q).String() = %q does not parse: %v", s, j.String(), err)
		}
		if again != j {
			t.Fatalf("round trip of %q: %+v then %+v", s, j, again)
		}
	})
}

func TestParseJob(t *testing.T) {
	tests := []struct {
		in   string
		want Job
		err  bool
	}{
		{"hello", Job{Name: "hello"}, false},
		{"hello=2.10-3", Job{Name: "hello", Version: "2.10-3"}, false},
		{"libc6:i386", Job{Name: "libc6", Arch: "i386"}, false},
		{"hello/bookworm-security", Job{Name: "hello", Origin: "bookworm-security"}, false},
		{"zlib1g:amd64=1:1.2.13.dfsg-1", Job{Name: "zlib1g", Arch: "amd64", Version: "1:1.2.13.dfsg-1"}, false},
		{"=1", Job{}, true},
		{"x:", Job{}, true},
		{"x/", Job{}, true},
		{"x=", Job{}, true},
	}
	for _, tt := range tests {
		got, err := ParseJob(tt.in)
		if (err != nil) != tt.err || got != tt.want {
			t.Errorf("ParseJob(%q) = %+v, %v; want %+v, error %v", tt.in, got, err, tt.want, tt.err)
		}
	}
}
