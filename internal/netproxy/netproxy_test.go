package netproxy

import "testing"

func TestProxyTargetMustBeLoopback(t *testing.T) {
	for _, tc := range []struct {
		target string
		ok     bool
	}{
		{"127.0.0.1:6379", true},
		{"127.9.9.9:6379", true},
		{"[::1]:6379", true},
		{"localhost:6379", true},
		{"10.0.0.1:6379", false},
		{"192.168.1.1:6379", false},
		{"example.com:6379", false},
		{"0.0.0.0:6379", false},
		{"127.0.0.1", false},
		{"", false},
	} {
		p, err := Listen(tc.target)
		if (err == nil) != tc.ok {
			t.Errorf("Listen(%q) error = %v, want ok=%v", tc.target, err, tc.ok)
		}
		if p != nil {
			_ = p.Close()
		}
	}
}
