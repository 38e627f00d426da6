// Command hello-grey greets in every language listed in
// /usr/share/greet/words (from the greet-words package), with the greeting
// of /etc/greet.conf (from the greet package) first when that is there. It
// is the program the demo runs inside the image root with chroot: statically
// linked, it needs nothing else from the root.
package main

import (
	"bufio"
	"fmt"
	"os"
	"strings"
)

func main() {
	who := "world"
	if len(os.Args) > 1 {
		who = os.Args[1]
	}
	if g := confGreeting("/etc/greet.conf"); g != "" {
		fmt.Printf("%s, %s! (from /etc/greet.conf)\n", g, who)
	}
	f, err := os.Open("/usr/share/greet/words")
	if err != nil {
		fmt.Fprintf(os.Stderr, "hello-grey: %v (is greet-words installed?)\n", err)
		os.Exit(1)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		lang, word, ok := strings.Cut(sc.Text(), " ")
		if ok {
			fmt.Printf("  [%s] %s, %s!\n", lang, word, who)
		}
	}
	if err := sc.Err(); err != nil {
		fmt.Fprintf(os.Stderr, "hello-grey: %v\n", err)
		os.Exit(1)
	}
}

// confGreeting reads GREETING=... from the shell-style file at path.
func confGreeting(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "GREETING="); ok {
			return strings.Trim(v, `"'`)
		}
	}
	return ""
}
