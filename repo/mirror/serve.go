package mirror

import (
	"net/http"
	"strings"
)

// Handler serves the mirror's tree as a static web server would, without
// its private files (.git, .grey-mirror).
func Handler(m *Mirror) http.Handler {
	files := http.FileServer(http.Dir(m.Dir))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for _, part := range strings.Split(r.URL.Path, "/") {
			if strings.HasPrefix(part, ".") {
				http.NotFound(w, r)
				return
			}
		}
		files.ServeHTTP(w, r)
	})
}
