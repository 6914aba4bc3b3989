package pyindex

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// Wheel is a wheel file name split as PEP 427 says, with the compressed tag sets of PEP 425:
//
//	{name}-{version}(-{build})?-{python}-{abi}-{platform}.whl
//
// e.g. torch-2.9.1+cu128-cp312-cp312-manylinux_2_28_x86_64.whl.
type Wheel struct {
	Filename string
	Name     string   // the project name, normalized as PEP 503 says ("torch")
	Version  string   // "2.9.1+cu128"
	Build    string   // the optional build tag, "" when there is none
	Python   []string // python tags, e.g. ["cp312"]
	ABI      []string // abi tags, e.g. ["cp312"] or ["cp313t"] (free-threaded)
	Platform []string // platform tags, e.g. ["manylinux_2_17_x86_64", "manylinux2014_x86_64"]
}

var (
	wheelNamePart = regexp.MustCompile(`^[A-Za-z0-9](?:[A-Za-z0-9._]*[A-Za-z0-9])?$`)
	// A PEP 440 version (any spelling pip accepts), with an optional local label.
	wheelVersionPart = regexp.MustCompile(`(?i)^v?(?:[0-9]+!)?[0-9]+(?:\.[0-9]+)*` +
		`(?:[._]?(?:a|b|c|rc|alpha|beta|pre|preview)[._]?[0-9]*)?` +
		`(?:[._]?(?:post|rev|r)[._]?[0-9]*)?` +
		`(?:[._]?dev[._]?[0-9]*)?` +
		`(?:\+[a-z0-9]+(?:[._][a-z0-9]+)*)?$`)
	wheelBuildPart = regexp.MustCompile(`^[0-9][A-Za-z0-9_.]*$`)
	wheelTag       = regexp.MustCompile(`^[A-Za-z0-9_]+$`)
	finalRelease   = regexp.MustCompile(`^[0-9]+(?:\.[0-9]+)*$`)
	cpythonTag     = regexp.MustCompile(`^cp([0-9])([0-9]{1,2})(t?)$`)
	linuxX86_64    = regexp.MustCompile(`^(?:manylinux1|manylinux2010|manylinux2014|manylinux_[0-9]+_[0-9]+|linux)_x86_64$`)
)

// ParseWheelName splits a wheel file name (PEP 427). It is the one place that reads wheel names;
// anything that is not a well-formed wheel name is an error saying why.
func ParseWheelName(filename string) (Wheel, error) {
	bad := func(why string) (Wheel, error) {
		return Wheel{}, fmt.Errorf("%q is not a PEP 427 wheel name (name-version(-build)?-python-abi-platform.whl): %s", filename, why)
	}
	stem, ok := strings.CutSuffix(filename, ".whl")
	if !ok {
		return bad("it does not end in .whl")
	}
	parts := strings.Split(stem, "-")
	if len(parts) != 5 && len(parts) != 6 {
		return bad(fmt.Sprintf("it has %d dash-separated parts, want 5 or 6", len(parts)))
	}
	w := Wheel{Filename: filename, Name: NormalizeName(parts[0]), Version: parts[1]}
	if !wheelNamePart.MatchString(parts[0]) {
		return bad(fmt.Sprintf("bad project name %q", parts[0]))
	}
	if !wheelVersionPart.MatchString(parts[1]) {
		return bad(fmt.Sprintf("bad version %q", parts[1]))
	}
	tags := parts[2:]
	if len(parts) == 6 {
		w.Build, tags = parts[2], parts[3:]
		if !wheelBuildPart.MatchString(w.Build) {
			return bad(fmt.Sprintf("bad build tag %q (it must start with a digit)", w.Build))
		}
	}
	sets := make([][]string, 3)
	for i, t := range tags {
		for _, one := range strings.Split(t, ".") {
			if !wheelTag.MatchString(one) {
				return bad(fmt.Sprintf("bad tag %q", t))
			}
			sets[i] = append(sets[i], one)
		}
	}
	w.Python, w.ABI, w.Platform = sets[0], sets[1], sets[2]
	return w, nil
}

// PublicVersion is the version without its local label ("2.9.1" of "2.9.1+cu128").
func (w Wheel) PublicVersion() string {
	p, _, _ := strings.Cut(w.Version, "+")
	return p
}

// Local is the local version label ("cu128" of "2.9.1+cu128"), "" when there is none.
func (w Wheel) Local() string {
	_, l, _ := strings.Cut(w.Version, "+")
	return l
}

// FinalRelease reports whether the public version is a final release (numbers and dots only:
// no pre-, post- or dev-release part and no epoch).
func (w Wheel) FinalRelease() bool { return finalRelease.MatchString(w.PublicVersion()) }

// Pythons lists the CPython versions the wheel is for: "3.12" for cp312, "3.13t" for the
// free-threaded build (abi tag cp313t). Tags of other interpreters (py3, pp310) give nothing.
func (w Wheel) Pythons() []string {
	var out []string
	for _, t := range w.Python {
		m := cpythonTag.FindStringSubmatch(t)
		if m == nil {
			continue
		}
		py := m[1] + "." + m[2]
		if m[3] == "t" {
			out = appendNew(out, py+"t")
			continue
		}
		free := "cp" + m[1] + m[2] + "t"
		if slices.Contains(w.ABI, free) {
			out = appendNew(out, py+"t")
		}
		if slices.ContainsFunc(w.ABI, func(a string) bool { return a != free }) {
			out = appendNew(out, py)
		}
	}
	return out
}

func appendNew(list []string, s string) []string {
	if slices.Contains(list, s) {
		return list
	}
	return append(list, s)
}

// LinuxX86_64 reports whether the wheel installs on glibc Linux x86_64: a manylinux*_x86_64
// platform tag, or linux_x86_64 (the tag of PyTorch's own index for its older wheels).
func (w Wheel) LinuxX86_64() bool {
	return slices.ContainsFunc(w.Platform, linuxX86_64.MatchString)
}

// NormalizeName normalizes a project name as PEP 503 says: lower case, runs of -, _ and . as one -.
func NormalizeName(name string) string {
	var b strings.Builder
	sep := false
	for _, r := range strings.ToLower(name) {
		if r == '-' || r == '_' || r == '.' {
			sep = true
			continue
		}
		if sep && b.Len() > 0 {
			b.WriteByte('-')
		}
		sep = false
		b.WriteRune(r)
	}
	return b.String()
}
