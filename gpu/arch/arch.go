// Package arch is torchimg's one rule for "does code built for these GPU architectures run on
// this GPU?": it parses a TORCH_CUDA_ARCH_LIST (the cuda.archs label) and applies CUDA's binary
// compatibility. check, the smoke preflight, the probe's label comparison and the in-image
// self-check's rendered facts all use it.
//
// The rule: a cubin sm_XY runs on a GPU X.Z with Z >= Y; an arch-specific cubin (sm_XYa) only on
// X.Y; otherwise PTX (+PTX, compute_XY) is JIT-compiled for any GPU of capability >= X.Y, except
// arch- and family-specific PTX (compute_XYa, compute_XYf), which stays on its own architecture.
package arch

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// Arch is one entry of a TORCH_CUDA_ARCH_LIST: code compiled for compute
// capability Major.Minor, as a cubin (sm_XY) and, with PTX, also as PTX
// (compute_XY) that the driver can JIT-compile for newer GPUs.
type Arch struct {
	Major, Minor int
	// Suffix is "a" (arch-specific: runs only on exactly Major.Minor) or "f"
	// (family-specific, CUDA 12.9+), or "".
	Suffix string
	PTX    bool
	// PTXOnly is a "compute_XY" entry: PTX without a cubin.
	PTXOnly bool
}

func (a Arch) String() string {
	if a.PTXOnly {
		return a.Compute()
	}
	s := fmt.Sprintf("%d.%d%s", a.Major, a.Minor, a.Suffix)
	if a.PTX {
		s += "+PTX"
	}
	return s
}

// SM is the cubin name, "sm_90a".
func (a Arch) SM() string { return fmt.Sprintf("sm_%d%d%s", a.Major, a.Minor, a.Suffix) }

// Compute is the PTX name, "compute_120".
func (a Arch) Compute() string { return fmt.Sprintf("compute_%d%d%s", a.Major, a.Minor, a.Suffix) }

// List is a parsed TORCH_CUDA_ARCH_LIST ("7.5;8.0;8.6;9.0;10.0;12.0+PTX").
type List struct {
	Source   string
	Entries  []Arch
	Unparsed []string // entries that are not a capability or a known name
}

// namedArchs are the names torch.utils.cpp_extension accepts in TORCH_CUDA_ARCH_LIST.
var namedArchs = map[string]string{
	"kepler+tesla":  "3.7",
	"kepler":        "3.5+PTX",
	"maxwell+tegra": "5.3",
	"maxwell":       "5.0;5.2+PTX",
	"pascal":        "6.0;6.1+PTX",
	"volta+tegra":   "7.2",
	"volta":         "7.0+PTX",
	"turing":        "7.5+PTX",
	"ampere+tegra":  "8.7",
	"ampere":        "8.0;8.6+PTX",
	"ada":           "8.9+PTX",
	"hopper":        "9.0+PTX",
}

// ParseList parses a TORCH_CUDA_ARCH_LIST. Entries are separated by ";",
// spaces or commas; each is "X.Y", "X.Y+PTX", "X.Ya", "X.Yf", "sm_XY",
// "compute_XY" (PTX only is read as +PTX) or one of torch's arch names
// ("Ampere", "Hopper"...).
func ParseList(s string) List {
	l := List{Source: s}
	fields := strings.FieldsFunc(s, func(r rune) bool { return r == ';' || r == ' ' || r == ',' || r == '\t' })
	for _, f := range fields {
		if exp, ok := namedArchs[strings.ToLower(f)]; ok {
			l.Entries = append(l.Entries, ParseList(exp).Entries...)
			continue
		}
		a, ok := parseArch(f)
		if !ok {
			l.Unparsed = append(l.Unparsed, f)
			continue
		}
		l.Entries = append(l.Entries, a)
	}
	return l
}

func parseArch(f string) (Arch, bool) {
	var a Arch
	s := f
	if base, ok := cutSuffixFold(s, "+PTX"); ok {
		a.PTX, s = true, base
	}
	smForm := false
	if rest, ok := cutPrefixFold(s, "sm_"); ok {
		s, smForm = rest, true
	} else if rest, ok := cutPrefixFold(s, "compute_"); ok {
		s, smForm, a.PTX, a.PTXOnly = rest, true, true, true
	}
	if n := len(s); n > 0 && (s[n-1] == 'a' || s[n-1] == 'f') {
		a.Suffix, s = s[n-1:], s[:n-1]
	}
	if smForm {
		// "90" -> 9.0, "120" -> 12.0, "100" -> 10.0
		if len(s) < 2 || strings.Contains(s, ".") {
			return a, false
		}
		mj, err1 := strconv.Atoi(s[:len(s)-1])
		mn, err2 := strconv.Atoi(s[len(s)-1:])
		if err1 != nil || err2 != nil {
			return a, false
		}
		a.Major, a.Minor = mj, mn
		return a, true
	}
	mjs, mns, ok := strings.Cut(s, ".")
	if !ok {
		return a, false
	}
	mj, err1 := strconv.Atoi(mjs)
	mn, err2 := strconv.Atoi(mns)
	if err1 != nil || err2 != nil || mj < 0 || mn < 0 || mn > 9 {
		return a, false
	}
	a.Major, a.Minor = mj, mn
	return a, true
}

func cutSuffixFold(s, suf string) (string, bool) {
	if len(s) >= len(suf) && strings.EqualFold(s[len(s)-len(suf):], suf) {
		return s[:len(s)-len(suf)], true
	}
	return s, false
}

func cutPrefixFold(s, pre string) (string, bool) {
	if len(s) >= len(pre) && strings.EqualFold(s[:len(pre)], pre) {
		return s[len(pre):], true
	}
	return s, false
}

// ParseCC parses a compute capability: "9.0", "90", "sm_90".
func ParseCC(s string) (major, minor int, err error) {
	a, ok := parseArch(strings.TrimSpace(s))
	if !ok || a.PTX || a.Suffix != "" {
		if mj, err := strconv.Atoi(s); err == nil && mj >= 10 && mj < 1000 {
			return mj / 10, mj % 10, nil
		}
		return 0, 0, fmt.Errorf("compute capability %q: want MAJOR.MINOR such as 7.0, 8.6, 9.0 or 12.0", s)
	}
	return a.Major, a.Minor, nil
}

// Support says how an image's code runs on a GPU.
type Support int

const (
	Unknown Support = iota // the list is empty or has entries this rule does not understand
	Native                 // a cubin for the GPU's architecture
	PTX                    // only by JIT-compiling PTX
	None                   // no code the GPU can run
)

// Runs says how code built for the list runs on a GPU of compute capability
// major.minor, following CUDA binary compatibility: a cubin sm_XY runs on a
// GPU X.Z with Z >= Y (an arch-specific sm_XYa only on X.Y); PTX compute_XY
// is JIT-compiled for any GPU of capability >= X.Y. It returns the entry that
// serves the GPU (the newest matching cubin, else the newest usable PTX).
func (l List) Runs(major, minor int) (Support, Arch) {
	var best Arch
	found := false
	for _, a := range l.Entries {
		if a.PTXOnly || a.Major != major || a.Minor > minor || (a.Suffix == "a" && a.Minor != minor) {
			continue
		}
		if !found || a.Minor > best.Minor {
			best, found = a, true
		}
	}
	if found {
		return Native, best
	}
	for _, a := range l.Entries {
		if !a.PTX {
			continue
		}
		if a.Suffix != "" && (a.Major != major || a.Minor != minor) {
			continue // arch- or family-specific PTX is not portable to other architectures
		}
		if a.Major > major || (a.Major == major && a.Minor > minor) {
			continue
		}
		if !found || a.Major > best.Major || (a.Major == best.Major && a.Minor > best.Minor) {
			best, found = a, true
		}
	}
	if found {
		return PTX, best
	}
	if len(l.Unparsed) > 0 || len(l.Entries) == 0 {
		return Unknown, Arch{}
	}
	return None, Arch{}
}

// String lists the entries in canonical form.
func (l List) String() string {
	parts := make([]string, 0, len(l.Entries)+len(l.Unparsed))
	for _, a := range l.Entries {
		parts = append(parts, a.String())
	}
	parts = append(parts, l.Unparsed...)
	return strings.Join(parts, ";")
}

// RunsOn is Runs for a compute capability written as text ("8.6"); an unreadable capability is
// Unknown.
func (l List) RunsOn(cc string) (Support, Arch) {
	mj, mn, err := ParseCC(cc)
	if err != nil {
		return Unknown, Arch{}
	}
	return l.Runs(mj, mn)
}

// Flags are the architecture flags torch reports for a build with this list
// (torch._C._cuda_getArchFlags(): "sm_70 sm_80 sm_90 compute_90"), sorted.
func (l List) Flags() []string {
	var out []string
	for _, a := range l.Entries {
		if !a.PTXOnly {
			out = append(out, a.SM())
		}
		if a.PTX {
			out = append(out, a.Compute())
		}
	}
	sort.Strings(out)
	return slices.Compact(out)
}

// SameFlags reports whether torch's reported flags are those of the list.
func (l List) SameFlags(flags string) bool {
	got := strings.Fields(flags)
	sort.Strings(got)
	return slices.Equal(l.Flags(), slices.Compact(got))
}

// Runnable splits compute capabilities into those the list runs natively, those it runs only
// through PTX JIT, and those it does not run on (the in-image self-check looks a GPU up in them).
func (l List) Runnable(ccs []string) (native, ptx, none []string) {
	for _, cc := range ccs {
		switch s, _ := l.RunsOn(cc); s {
		case Native:
			native = append(native, cc)
		case PTX:
			ptx = append(ptx, cc)
		case None:
			none = append(none, cc)
		}
	}
	return native, ptx, none
}
