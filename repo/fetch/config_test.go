package fetch

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/greypm/grey/internal/config"
)

func TestFromConfig(t *testing.T) {
	cases := []struct {
		name string
		conf string
		net  Network
		// the client's settings after New
		read, window, deadline time.Duration
		limit                  int64
		attempts               int
	}{
		{"empty", "", Network{}, DefaultReadTimeout, DefaultLowSpeedTime, DefaultDeadline, DefaultLowSpeedLimit, 5},
		{"everything", `
Acquire::http::Proxy "http://proxy:3128";
Acquire::http::Proxy::deb.example.org "DIRECT";
Acquire::https::Proxy "http://sproxy:3128";
Acquire::https::Proxy::secure.example.org "http://other:8080";
Acquire::No-Proxy "localhost,.corp.example";
Acquire::https::CaInfo "/etc/ssl/ca.pem";
Acquire::http { Timeout "20"; Low-Speed-Limit "100"; Low-Speed-Time "30"; Max-Time "600"; };
Acquire::Retries "2";
`, Network{HTTPProxy: "http://proxy:3128", HTTPSProxy: "http://sproxy:3128", NoProxy: "localhost,.corp.example", CAFile: "/etc/ssl/ca.pem",
			HostProxy: map[string]string{"deb.example.org": "DIRECT"}, HTTPSHostProxy: map[string]string{"secure.example.org": "http://other:8080"}, Timeout: 20 * time.Second},
			20 * time.Second, 30 * time.Second, 10 * time.Minute, 100, 3},
		{"https timeout", `Acquire::https::Timeout "90";`, Network{Timeout: 90 * time.Second}, 90 * time.Second, DefaultLowSpeedTime, DefaultDeadline, DefaultLowSpeedLimit, 5},
		{"low speed off, no deadline, no retries", `Acquire::http::Low-Speed-Limit "0"; Acquire::http::Max-Time "0"; Acquire::Retries "0";`, Network{},
			DefaultReadTimeout, DefaultLowSpeedTime, 0, 0, 1},
		{"window only", `Acquire::http::Low-Speed-Time "5";`, Network{}, DefaultReadTimeout, 5 * time.Second, DefaultDeadline, DefaultLowSpeedLimit, 5},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cf, err := config.Parse([]byte(c.conf), "grey.conf")
			if err != nil {
				t.Fatal(err)
			}
			n, opts, err := FromConfig(cf)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(n, c.net) {
				t.Errorf("network %+v\nwant %+v", n, c.net)
			}
			cl := New(opts...)
			if cl.readTimeout != c.read || cl.lowWindow != c.window || cl.deadline != c.deadline || cl.lowSpeed != c.limit || cl.attempts != c.attempts {
				t.Errorf("client: read %v window %v deadline %v limit %d attempts %d", cl.readTimeout, cl.lowWindow, cl.deadline, cl.lowSpeed, cl.attempts)
			}
			if _, err := NewFromConfig(cf); err != nil && n.CAFile == "" {
				t.Errorf("NewFromConfig: %v", err)
			}
		})
	}
}

func TestFromConfigErrors(t *testing.T) {
	for _, c := range []struct{ conf, want string }{
		{`Acquire::http::Timeout "1m";`, `grey.conf:1: Acquire::http::Timeout "1m": not a whole number of seconds`},
		{`Acquire::http::Low-Speed-Limit "fast";`, "Low-Speed-Limit"},
		{`Acquire::http::Max-Time "-1";`, "Max-Time"},
		{`Acquire::Retries "1000";`, "at most 100 retries"},
		{`Acquire::http::Proxy "ftp://proxy";`, `network settings (grey.conf or the environment): http proxy "ftp://proxy": unsupported proxy scheme "ftp"`},
		{`Acquire::https::CaInfo "/nonexistent/ca.pem";`, "/nonexistent/ca.pem"},
	} {
		cf, err := config.Parse([]byte(c.conf), "grey.conf")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := NewFromConfig(cf); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.conf, err, c.want)
		}
	}
}
