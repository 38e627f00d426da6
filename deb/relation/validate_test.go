package relation

import (
	"testing"
)

// validateCases are inputs of every shape the grammar has, valid and not;
// TestValidateAgrees and FuzzValidate (as seeds) check Validate against
// Parse on them.
var validateCases = []string{
	"", "   ", "\n", "a", "libc6 (>= 2.34)", "libc6(>=2.34)", "a | b | c", "a|b,c", "foo:any",
	"foo:native (<< 1:2.0-1)", "foo [amd64 !i386]", "foo [ amd64  i386 ]", "foo <!nocheck>",
	"foo <!nocheck> <stage1 cross>", "foo (>= 1.0) [linux-any] <!nodoc>", "foo (< 1.0)",
	"foo (> 1.0)", "  a ,\n b (>> 2)\n | c ", "python3-pkg-resources, python3:any (>= 3.9~)",
	// Errors, each kind once at least.
	"a,", ",a", "a,,b", "a |", "| a", "a (>= )", "a (>= 1.0", "a (~ 1.0)", "a (>=< 1.0)",
	"a (>= 1.0 2)", "a [amd64", "a []", "a <>", "a <!nocheck", "a:", "-a", "a b", "a (>= a1)",
	"a (1.0)", "a [!]", "a <!>", "a [amd64 -x]", "a <stage1 .x>", "a (", "a (>=", "a (= 1:)",
	"a (= -1:1)", "a (= 1.0) b", "a:any:any", "a [amd64] [i386]", "a <x> [amd64]", "a (>= 1) (<< 2)",
	"a, b (>= 1.0)) ", "é", "a | | b", "a [amd64]<x>,b<!y z>|c:native",
	"averyveryveryveryveryveryveryveryveryveryveryveryveryveryverylongname (>= 1.0), and then more text that is garbage (",
}

// TestValidateAgrees: Validate accepts exactly what Parse accepts, with the
// same error text when it does not.
func TestValidateAgrees(t *testing.T) {
	for _, in := range validateCases {
		checkValidate(t, in)
	}
}

func checkValidate(t *testing.T, in string) {
	t.Helper()
	_, perr := Parse(in)
	verr := Validate(in)
	switch {
	case perr == nil && verr == nil:
	case perr == nil || verr == nil:
		t.Errorf("%q: Parse error %v, Validate error %v", in, perr, verr)
	case perr.Error() != verr.Error():
		t.Errorf("%q: Parse error %q, Validate error %q", in, perr, verr)
	default:
		pe, ve := perr.(*SyntaxError), verr.(*SyntaxError)
		if pe == nil || ve == nil || *pe != *ve {
			t.Errorf("%q: Parse error %#v, Validate error %#v", in, perr, verr)
		}
	}
}

// TestValidateAllocs: the point of Validate is that a valid field costs no
// allocation.
func TestValidateAllocs(t *testing.T) {
	const s = "libc6 (>= 2.34), foo:any [amd64 !i386] <!nocheck> <stage1 cross> | bar (<< 1:2-3), baz"
	if n := testing.AllocsPerRun(100, func() {
		if err := Validate(s); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("Validate allocates %v times per call, want 0", n)
	}
}

func FuzzValidate(f *testing.F) {
	for _, s := range validateCases {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		checkValidate(t, s)
	})
}

func BenchmarkValidate(b *testing.B) {
	const s = "libc6 (>= 2.34), libgcc-s1 (>= 3.0), libstdc++6 (>= 12), default-mta | mail-transport-agent, python3:any (>= 3.9~)"
	b.SetBytes(int64(len(s)))
	b.ReportAllocs()
	for b.Loop() {
		if err := Validate(s); err != nil {
			b.Fatal(err)
		}
	}
}
