package fetch

import (
	"context"
	"encoding/pem"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// proxyServer is a loopback HTTP proxy: it answers plain requests for
// absolute URLs itself, with a body naming it, and tunnels CONNECT to the
// address tunnel gives. It records what it was asked.
type proxyServer struct {
	*httptest.Server
	name   string
	mu     sync.Mutex
	asked  []string
	tunnel func(hostport string) string
}

func newProxy(t *testing.T, name string, tunnel func(string) string) *proxyServer {
	p := &proxyServer{name: name, tunnel: tunnel}
	p.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		p.asked = append(p.asked, r.Method+" "+r.RequestURI)
		p.mu.Unlock()
		if r.Method != http.MethodConnect {
			io.WriteString(w, "via "+name)
			return
		}
		up, err := net.Dial("tcp", p.tunnel(r.Host))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		conn, buf, err := w.(http.Hijacker).Hijack()
		if err != nil {
			up.Close()
			return
		}
		io.WriteString(conn, "HTTP/1.1 200 Connection established\r\n\r\n")
		go func() { io.Copy(up, buf); up.Close() }()
		io.Copy(conn, up)
		conn.Close()
	}))
	t.Cleanup(p.Close)
	return p
}

func (p *proxyServer) requests() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.asked...)
}

// redirectDial makes the client's direct connections to example.com go to
// the loopback origin servers (the name never reaches a resolver).
func redirectDial(hc *http.Client, origins map[string]string) {
	tr := hc.Transport.(*http.Transport)
	dial := tr.DialContext
	tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		if o, ok := origins[addr]; ok {
			addr = o
		}
		return dial(ctx, network, addr)
	}
}

func envOf(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

// TestProxySettings checks which proxy a download goes through, from the
// environment (http_proxy, no_proxy) and from the settings, which win.
func TestProxySettings(t *testing.T) {
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "direct")
	}))
	defer origin.Close()
	envProxy := newProxy(t, "env", nil)
	confProxy := newProxy(t, "conf", nil)
	hostProxy := newProxy(t, "host", nil)
	env := map[string]string{"http_proxy": envProxy.URL}

	cases := []struct {
		name string
		n    Network
		want string
	}{
		{"no proxy anywhere", Network{Getenv: envOf(nil)}, "direct"},
		{"http_proxy", Network{Getenv: envOf(env)}, "via env"},
		{"HTTP_PROXY", Network{Getenv: envOf(map[string]string{"HTTP_PROXY": envProxy.URL})}, "via env"},
		{"configured proxy beats http_proxy", Network{HTTPProxy: confProxy.URL, Getenv: envOf(env)}, "via conf"},
		{"proxy without a scheme", Network{HTTPProxy: strings.TrimPrefix(confProxy.URL, "http://"), Getenv: envOf(nil)}, "via conf"},
		{"DIRECT beats http_proxy", Network{HTTPProxy: Direct, Getenv: envOf(env)}, "direct"},
		{"no_proxy", Network{Getenv: envOf(map[string]string{"http_proxy": envProxy.URL, "no_proxy": "other.org,example.com"})}, "direct"},
		{"no_proxy suffix", Network{Getenv: envOf(map[string]string{"http_proxy": envProxy.URL, "NO_PROXY": ".com"})}, "direct"},
		{"no_proxy for another host", Network{Getenv: envOf(map[string]string{"http_proxy": envProxy.URL, "no_proxy": "example.org"})}, "via env"},
		{"configured no-proxy", Network{NoProxy: "example.com", Getenv: envOf(env)}, "direct"},
		{"host DIRECT", Network{HostProxy: map[string]string{"example.com": Direct}, Getenv: envOf(env)}, "direct"},
		{"host proxy", Network{HTTPProxy: Direct, HostProxy: map[string]string{"EXAMPLE.com": hostProxy.URL}, Getenv: envOf(env)}, "via host"},
		{"https_proxy is not for http", Network{Getenv: envOf(map[string]string{"https_proxy": envProxy.URL})}, "direct"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			hc, err := NewHTTPClient(c.n)
			if err != nil {
				t.Fatal(err)
			}
			redirectDial(hc, map[string]string{"example.com:80": origin.Listener.Addr().String()})
			cl := New(WithHTTPClient(hc), WithRetries(1, 0))
			got, err := cl.ReadSmall(context.Background(), "http://example.com/debian/dists/stable/InRelease", 1<<10)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != c.want {
				t.Fatalf("went %q, want %q", got, c.want)
			}
		})
	}
	if r := envProxy.requests(); len(r) == 0 || r[0] != "GET http://example.com/debian/dists/stable/InRelease" {
		t.Fatalf("the proxy was asked %q", r)
	}
}

// TestHTTPSProxyAndCAFile fetches over https from a server whose
// certificate only the CA file trusts, directly and through a CONNECT
// proxy from https_proxy.
func TestHTTPSProxyAndCAFile(t *testing.T) {
	origin := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "secret")
	}))
	origin.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshakes
	origin.StartTLS()
	defer origin.Close()
	dir := t.TempDir()
	ca := filepath.Join(dir, "ca.pem")
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: origin.Certificate().Raw}), 0o644))
	proxy := newProxy(t, "tls", func(string) string { return origin.Listener.Addr().String() })
	// The test certificate names example.com.
	const u = "https://example.com/debian/dists/stable/InRelease"
	get := func(n Network) (string, error) {
		hc, err := NewHTTPClient(n)
		if err != nil {
			return "", err
		}
		redirectDial(hc, map[string]string{"example.com:443": origin.Listener.Addr().String()})
		b, err := New(WithHTTPClient(hc), WithRetries(1, 0)).ReadSmall(context.Background(), u, 1<<10)
		return string(b), err
	}
	viaProxy := envOf(map[string]string{"https_proxy": proxy.URL, "http_proxy": "http://127.0.0.1:1"})

	if _, err := get(Network{Getenv: envOf(nil)}); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("an unknown CA was trusted: %v", err)
	}
	if got, err := get(Network{CAFile: ca, Getenv: envOf(nil)}); err != nil || got != "secret" {
		t.Fatalf("direct with the CA file: %q %v", got, err)
	}
	if got, err := get(Network{CAFile: ca, Getenv: viaProxy}); err != nil || got != "secret" {
		t.Fatalf("through the proxy with the CA file: %q %v", got, err)
	}
	if r := proxy.requests(); len(r) != 1 || r[0] != "CONNECT example.com:443" {
		t.Fatalf("the proxy was asked %q", r)
	}
	if _, err := get(Network{Getenv: viaProxy}); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("an unknown CA was trusted through the proxy: %v", err)
	}
}

func TestNetworkErrors(t *testing.T) {
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(notPEM, []byte("not a certificate\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		n    Network
		want string
	}{
		{"missing CA file", Network{CAFile: filepath.Join(dir, "none.pem")}, "none.pem"},
		{"CA file without certificates", Network{CAFile: notPEM}, "no PEM certificate"},
		{"proxy scheme", Network{HTTPProxy: "ftp://proxy:21"}, `unsupported proxy scheme "ftp"`},
		{"bad proxy in the environment", Network{Getenv: envOf(map[string]string{"https_proxy": "http://proxy:port"})}, "https proxy"},
		{"bad host proxy", Network{HostProxy: map[string]string{"example.com": "gopher://x"}}, "proxy for example.com"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if c.n.Getenv == nil {
				c.n.Getenv = envOf(nil)
			}
			_, err := NewHTTPClient(c.n)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err %v, want %q", err, c.want)
			}
		})
	}
	// The default client reports a bad proxy variable on every request.
	t.Setenv("http_proxy", "gopher://proxy")
	_, err := New(WithRetries(1, 0)).ReadSmall(context.Background(), "http://example.com/x", 10)
	if err == nil || !strings.Contains(err.Error(), "gopher") {
		t.Fatalf("bad http_proxy: %v", err)
	}
	var nf *NotFoundError
	if errors.As(err, &nf) {
		t.Fatal("reported as not found")
	}
}
