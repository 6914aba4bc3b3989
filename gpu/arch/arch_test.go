package arch_test

import (
	"strings"
	"testing"

	"github.com/torchimg/torchimg/gpu/arch"
	"github.com/torchimg/torchimg/gpu/arch/archtest"
)

func TestRuns(t *testing.T) {
	for _, tc := range archtest.Cases {
		got, a := arch.ParseList(tc.List).RunsOn(tc.CC)
		if got != tc.Want || (tc.Via != "" && a.String() != tc.Via) {
			t.Errorf("%q on %s: %v via %s, want %v via %s", tc.List, tc.CC, got, a, tc.Want, tc.Via)
		}
	}
	if s, _ := arch.ParseList("7.0").RunsOn("junk"); s != arch.Unknown {
		t.Errorf("an unreadable capability: %v, want unknown", s)
	}
}

func TestParseCC(t *testing.T) {
	for in, want := range map[string]string{"9.0": "9.0", "90": "9.0", "sm_90": "9.0", "120": "12.0", "12.1": "12.1"} {
		mj, mn, err := arch.ParseCC(in)
		if got := (arch.Arch{Major: mj, Minor: mn}).String(); err != nil || got != want {
			t.Errorf("ParseCC(%q) = %d.%d %v, want %s", in, mj, mn, err, want)
		}
	}
	for _, bad := range []string{"", "x", "9.0+PTX", "9.0a", "9"} {
		if _, _, err := arch.ParseCC(bad); err == nil {
			t.Errorf("ParseCC(%q) accepted", bad)
		}
	}
}

func TestFlags(t *testing.T) {
	for list, want := range map[string]string{
		"7.5;8.0;12.0+PTX":       "compute_120 sm_120 sm_75 sm_80",
		"Hopper":                 "compute_90 sm_90",
		"sm_80 compute_90":       "compute_90 sm_80",
		"9.0a;9.0a":              "sm_90a",
		archtest.Archs130:        "compute_120 sm_100 sm_120 sm_75 sm_80 sm_86 sm_90",
		"":                       "",
		"8.0;8.0+PTX;compute_80": "compute_80 sm_80",
	} {
		l := arch.ParseList(list)
		if got := strings.Join(l.Flags(), " "); got != want {
			t.Errorf("Flags(%q) = %q, want %q", list, got, want)
		}
		if !l.SameFlags(want) {
			t.Errorf("SameFlags(%q, %q) = false", list, want)
		}
	}
	if arch.ParseList("7.0;9.0+PTX").SameFlags("sm_70 sm_90") {
		t.Error("a missing compute_90 went unnoticed")
	}
}

func TestRunnable(t *testing.T) {
	native, ptx, none := arch.ParseList("8.0;9.0+PTX").Runnable([]string{"7.5", "8.0", "8.6", "9.0", "10.0", "12.0"})
	if strings.Join(native, " ") != "8.0 8.6 9.0" || strings.Join(ptx, " ") != "10.0 12.0" || strings.Join(none, " ") != "7.5" {
		t.Errorf("native %v, ptx %v, none %v", native, ptx, none)
	}
}
