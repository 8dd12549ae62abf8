package sentinel

import "testing"

func TestGlobMatch(t *testing.T) {
	tests := []struct {
		pattern, s string
		want       bool
	}{
		{"*", "+switch-master", true},
		{"*", "", true},
		{"+*", "+sdown", true},
		{"+*", "-sdown", false},
		{"?sdown", "-sdown", true},
		{"[+-]odown", "-odown", true},
		{"[^+]odown", "+odown", false},
		{"[a-c]x", "bx", true},
		{"\\*x", "*x", true},
		{"\\*x", "ax", false},
		{"*master", "+switch-master", true},
		{"a*b*c", "a/b/c", true},
		{"[", "a", false},
		{"abc", "ab", false},
	}
	for _, tc := range tests {
		if got := globMatch(tc.pattern, tc.s); got != tc.want {
			t.Errorf("globMatch(%q, %q) = %v, want %v", tc.pattern, tc.s, got, tc.want)
		}
	}
}

func TestGlobMatchIsNotExponential(t *testing.T) {
	pattern := "*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b"
	s := "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaac"
	if globMatch(pattern, s) {
		t.Fatal("unexpected match")
	}
}
