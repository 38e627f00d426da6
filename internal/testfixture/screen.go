package testfixture

import "strings"

// Screen plays terminal output back the way a terminal shows it (\r to
// the line's start, ESC[K erases to its end, other escapes are dropped)
// and returns the lines, for tests of what a user sees.
func Screen(out string) []string {
	lines := []string{""}
	col := 0
	for i := 0; i < len(out); i++ {
		cur := &lines[len(lines)-1]
		switch {
		case out[i] == '\n':
			lines = append(lines, "")
			col = 0
		case out[i] == '\r':
			col = 0
		case strings.HasPrefix(out[i:], "\x1b[K"):
			*cur = (*cur)[:col]
			i += 2
		case out[i] == '\x1b': // another CSI sequence: up to its final letter
			for i++; i < len(out) && !(out[i] >= '@' && out[i] <= '~' && out[i] != '['); i++ {
			}
		default:
			if col < len(*cur) {
				*cur = (*cur)[:col] + string(out[i]) + (*cur)[col+1:]
			} else {
				*cur += string(out[i])
			}
			col++
		}
	}
	return lines
}
