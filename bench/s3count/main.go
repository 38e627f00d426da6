// Command s3count is a reverse proxy in front of an S3 endpoint that logs
// each request it passes on, for bench/s3.sh to count the requests grey
// and aptly make for the same publish.
//
// Usage: s3count -listen 127.0.0.1:PORT -to http://127.0.0.1:8333 -log FILE
//
// Each request is one line of FILE, written when its response has been
// sent: CLASS STATUS PATH, CLASS being GET, HEAD, PUT, COPY (a PUT with
// x-amz-copy-source), DELETE, LIST (a GET of the bucket itself: a listing)
// or POST (multi-object delete, multipart uploads). The Host header is
// passed on unchanged, so SigV4 signatures made for the proxy's address
// still verify.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"log"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"strings"
	"sync"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "address to listen on")
	to := flag.String("to", "", "the S3 endpoint's URL")
	logPath := flag.String("log", "", "file the request lines are appended to")
	flag.Parse()
	target, err := url.Parse(*to)
	if err != nil || target.Host == "" || *logPath == "" {
		log.Fatalf("s3count: want -to URL and -log FILE")
	}
	f, err := os.OpenFile(*logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		log.Fatal(err)
	}
	var mu sync.Mutex
	w := bufio.NewWriter(f)
	proxy := &httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) {
		r.SetURL(target)
		r.Out.Host = r.In.Host
	}}
	h := http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		sw := &statusWriter{ResponseWriter: rw, code: http.StatusOK}
		proxy.ServeHTTP(sw, r)
		mu.Lock()
		fmt.Fprintf(w, "%s %d %s\n", class(r), sw.code, r.URL.Path)
		w.Flush()
		mu.Unlock()
	})
	log.Fatal(http.ListenAndServe(*listen, h))
}

// class names what an S3 request does (path-style addressing: /BUCKET/KEY).
func class(r *http.Request) string {
	switch r.Method {
	case http.MethodPut:
		if r.Header.Get("X-Amz-Copy-Source") != "" {
			return "COPY"
		}
		return "PUT"
	case http.MethodGet:
		q := r.URL.Query()
		bucketLevel := !strings.Contains(strings.Trim(r.URL.Path, "/"), "/")
		if bucketLevel && (len(q) == 0 || q.Has("list-type") || q.Has("prefix") || q.Has("delimiter") || q.Has("marker") || q.Has("continuation-token")) {
			return "LIST"
		}
		return "GET"
	}
	return r.Method
}

type statusWriter struct {
	http.ResponseWriter
	code int
}

func (s *statusWriter) WriteHeader(code int) {
	s.code = code
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Flush() {
	if f, ok := s.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}
