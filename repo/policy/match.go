package policy

import (
	"regexp"
	"strings"
)

// expr is one of apt's match expressions: a /regex/ (extended, case
// insensitive) or a glob matched as fnmatch(3) with FNM_CASEFOLD (no
// special meaning for '/'). A pattern that does not compile matches
// nothing, as apt warns and goes on.
type expr struct {
	re *regexp.Regexp
}

func compile(pattern string) expr {
	if len(pattern) >= 2 && pattern[0] == '/' && pattern[len(pattern)-1] == '/' {
		re, err := regexp.Compile("(?i)" + pattern[1:len(pattern)-1])
		if err != nil {
			return expr{}
		}
		return expr{re}
	}
	re, err := regexp.Compile("(?is)^" + globRegexp(pattern) + "$")
	if err != nil {
		return expr{}
	}
	return expr{re}
}

func (e expr) match(s string) bool { return e.re != nil && e.re.MatchString(s) }

// isPattern reports whether a pin's package name is a glob or a regex
// (apt's test: a /regex/, or any of "*[?").
func isPattern(name string) bool {
	return len(name) >= 2 && name[0] == '/' && name[len(name)-1] == '/' || strings.ContainsAny(name, "*[?")
}

// globRegexp translates an fnmatch(3) pattern into a regular expression:
// '*' and '?' match any characters, "[...]" a class ("[!...]" or "[^...]"
// its complement), a backslash quotes the next character.
func globRegexp(p string) string {
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		switch c := p[i]; c {
		case '*':
			b.WriteString(".*")
		case '?':
			b.WriteString(".")
		case '\\':
			if i+1 < len(p) {
				i++
				b.WriteString(regexp.QuoteMeta(p[i : i+1]))
			} else {
				b.WriteString(`\\`)
			}
		case '[':
			end := classEnd(p, i)
			if end < 0 {
				b.WriteString(`\[`)
				continue
			}
			body := p[i+1 : end]
			b.WriteByte('[')
			if body[0] == '!' || body[0] == '^' {
				b.WriteByte('^')
				body = body[1:]
			}
			for j := 0; j < len(body); j++ {
				switch ch := body[j]; ch {
				case '\\', '[', ']', '^':
					b.WriteByte('\\')
					b.WriteByte(ch)
				default:
					b.WriteByte(ch)
				}
			}
			b.WriteByte(']')
			i = end
		default:
			b.WriteString(regexp.QuoteMeta(p[i : i+1]))
		}
	}
	return b.String()
}

// classEnd returns the index of the ']' closing the class that opens at
// p[i], or -1 when it is not closed (fnmatch then takes '[' literally).
// A ']' right after "[" or "[!" belongs to the class.
func classEnd(p string, i int) int {
	j := i + 1
	if j < len(p) && (p[j] == '!' || p[j] == '^') {
		j++
	}
	if j < len(p) && p[j] == ']' {
		j++
	}
	for ; j < len(p); j++ {
		if p[j] == ']' {
			return j
		}
	}
	return -1
}
