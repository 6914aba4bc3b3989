package require

import (
	"errors"
	"strings"
	"testing"
)

// FuzzParse checks that parsing and evaluating never panic, that Parse
// accepts exactly what never makes libnvidia-container report "invalid
// expression" on a well-formed host, and that the canonical form round-trips.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		req1281, req1180, req1291,
		"cuda>=12.8", "arch>=7.5", "brand=tesla,driver>=565,driver<566", "driver!550",
		"", " ", ",", "cuda>=12.8 ,", "cuda==12.8", "cuda=>1", ">=1", "cuda", "cuda>=", "brand>=x",
		"cuda>=12.8\tbrand=tesla", "driver>=.5", "driver>=18446744073709551615", "x\x00y",
	} {
		f.Add(s)
	}
	hosts := []Values{
		{},
		{CUDA: "12.4", Driver: "550.54.15"},
		{CUDA: "12.7", Driver: "565.57.01", Arch: "8.9", Brand: "geforce"},
		{CUDA: "12.8", Driver: "570.124.06", Arch: "9.0", Brand: "unknown"},
		{CUDA: "11.4", Driver: "470.256.02", Arch: "7.0", Brand: "tesla"},
	}
	f.Fuzz(func(t *testing.T, s string) {
		e, err := Parse(s)
		lenient := scan(s)
		for _, v := range hosts {
			okL, _, errL := lenient.run(v)
			if err == nil {
				if errL != nil {
					t.Fatalf("Parse accepted %q but evaluation on %+v says %v", s, v, errL)
				}
				if got := holds(e, v); got != okL {
					t.Fatalf("holds(%q) on %+v = %v, lenient %v", s, v, got, okL)
				}
			} else if errL != nil && !errors.Is(errL, errInvalid) {
				t.Fatalf("unexpected error kind %v", errL)
			}
		}
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("Parse(%q) error %T", s, err)
			}
			return
		}
		canon := e.String()
		e2, err := Parse(canon)
		if err != nil {
			t.Fatalf("canonical form %q of %q does not parse: %v", canon, s, err)
		}
		if e2.String() != canon {
			t.Fatalf("canonical form not stable: %q -> %q", canon, e2.String())
		}
		for _, v := range hosts {
			if holds(e, v) != holds(e2, v) {
				t.Fatalf("canonical form %q of %q evaluates differently on %+v", canon, s, v)
			}
		}
		_ = Evaluate([]string{s}, Host{CUDA: "12.4", Driver: "550.54.15", Devices: []Device{{Brand: "nvidia", Arch: "9.0"}}})
		_ = Explain(s, Host{CUDA: "12.4", Driver: "550.54.15"}, "570.124.06")
		_ = strings.TrimSpace(canon)
	})
}
