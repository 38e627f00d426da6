package control_test

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/greypm/grey/deb/control"
)

func ExampleReader() {
	index := "Package: hello\nVersion: 2.10-3\nDescription: greeting\n friendly\n\nPackage: dash\nVersion: 0.5.12-2\n"
	r := control.NewReaderName(strings.NewReader(index), "Packages")
	for {
		st, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Printf("%s %s (line %d) %q\n", st.Get("package"), st.Get("Version"), st.Line, st.Get("Description"))
	}
	// Output:
	// hello 2.10-3 (line 1) "greeting\n friendly"
	// dash 0.5.12-2 (line 6) ""
}

func ExampleWriter() {
	st, err := control.ParseOne([]byte("Package: hello\nVersion: 2.10-3\n"))
	if err != nil {
		fmt.Println(err)
		return
	}
	st.Set("Version", "2.10-4")
	st.Set("Conffiles", "\n /etc/hello.conf 0123")
	w := control.NewWriter(os.Stdout)
	if err := w.Write(st); err != nil {
		fmt.Println(err)
	}
	// Output:
	// Package: hello
	// Version: 2.10-4
	// Conffiles:
	//  /etc/hello.conf 0123
}
