package version

import "testing"

func TestCompare(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want int
	}{
		{"12.8", "12.8", 0},
		{"12.10", "12.9", 1},
		{"12.10", "12.1", 1},
		{"570.124.06", "570.86.10", 1},
		{"525", "525.60.13", -1},
		{"12.8.0", "12.8", 0},
		{"9.10.2.21", "9.9.0.52", 1},
	} {
		if got := Compare(tc.a, tc.b); got != tc.want {
			t.Errorf("Compare(%q, %q) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
	}
}

func TestValidAndPrefix(t *testing.T) {
	for _, bad := range []string{"", "12.", ".8", "12.8\nRUN x", "v12", "1.2.3.4.5.6.7"} {
		if Valid(bad) {
			t.Errorf("Valid(%q) = true", bad)
		}
	}
	if !HasPrefix("9.10.2.21", "9.10.2") || HasPrefix("12.10", "12.1") || HasPrefix("9.1", "9.1.0.70") {
		t.Error("HasPrefix wrong")
	}
	if MajorMinor("12.8.1") != "12.8" || MajorMinor("13") != "13" {
		t.Error("MajorMinor wrong")
	}
}
