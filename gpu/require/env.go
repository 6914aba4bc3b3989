// Package require evaluates NVIDIA_REQUIRE_* container requirements the way
// the NVIDIA container stack does before it starts a GPU container:
// nvidia-container-toolkit collects the requirements from the image
// environment (internal/config/image/cuda_image.go) and libnvidia-container
// evaluates each one against the driver and every visible GPU
// (src/cli/dsl.c, src/cli/configure.c, src/driver.c).
//
// The grammar: a requirement is a list of alternatives separated by single
// space characters (OR); an alternative is a list of conditions separated by
// commas (AND); a condition is key, operator, value with no spaces, e.g.
// "cuda>=12.8 brand=tesla,driver>=565,driver<566".
//
// Quirks of libnvidia-container that this package reproduces on purpose are
// marked "dsl.c:" in the code.
package require

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/Masterminds/semver/v3"
)

// Environment variable names read by nvidia-container-toolkit.
const (
	EnvRequirePrefix  = "NVIDIA_REQUIRE_"
	EnvRequireCUDA    = "NVIDIA_REQUIRE_CUDA"
	EnvRequireJetpack = "NVIDIA_REQUIRE_JETPACK"
	EnvDisableRequire = "NVIDIA_DISABLE_REQUIRE"
	EnvCUDAVersion    = "CUDA_VERSION"
)

// EnvMap turns an image's "K=V" environment list into a map. As in
// nvidia-container-toolkit, a later entry wins and the value is everything
// after the first "=". Entries without "=" are skipped (the toolkit rejects
// the whole environment for them; an OCI image config never contains one).
func EnvMap(env []string) map[string]string {
	m := make(map[string]string, len(env))
	for _, kv := range env {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			continue
		}
		m[k] = v
	}
	return m
}

// Requirements returns the requirements nvidia-container-toolkit passes to
// nvidia-container-cli for an image with this environment: the values of all
// NVIDIA_REQUIRE_* variables except NVIDIA_REQUIRE_JETPACK*, sorted by variable
// name, plus a synthesized "cuda>=MAJOR.MINOR" for a legacy image (one with
// CUDA_VERSION but no or an empty NVIDIA_REQUIRE_CUDA). disabled is true, and
// reqs empty, when NVIDIA_DISABLE_REQUIRE parses as true (strconv.ParseBool).
//
// A legacy image whose CUDA_VERSION is not a version makes the toolkit refuse
// to start the container; Requirements then leaves the synthesized
// requirement out. Use ImageRequirements to see that error.
func Requirements(env map[string]string) (reqs []string, disabled bool) {
	reqs, disabled, _ = ImageRequirements(env)
	return reqs, disabled
}

// ImageRequirements is Requirements with the error the toolkit reports for a
// legacy image whose CUDA_VERSION it cannot parse. The requirements that could
// be collected are returned with the error.
func ImageRequirements(env map[string]string) (reqs []string, disabled bool, err error) {
	if v, ok := env[EnvDisableRequire]; ok {
		if d, _ := strconv.ParseBool(v); d {
			return nil, true, nil
		}
	}
	names := make([]string, 0, 2)
	for name := range env {
		// The toolkit skips every name that starts with NVIDIA_REQUIRE_JETPACK.
		if strings.HasPrefix(name, EnvRequirePrefix) && !strings.HasPrefix(name, EnvRequireJetpack) {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	for _, name := range names {
		reqs = append(reqs, env[name])
	}
	if cv := env[EnvCUDAVersion]; cv != "" && env[EnvRequireCUDA] == "" {
		mm, err := legacyMajorMinor(cv)
		if err != nil {
			return reqs, false, fmt.Errorf("%s=%q (legacy image without %s): %w; nvidia-container-toolkit refuses to start such a container", EnvCUDAVersion, cv, EnvRequireCUDA, err)
		}
		reqs = append(reqs, "cuda>="+mm)
	}
	return reqs, false, nil
}

// legacyMajorMinor mirrors the toolkit's parsing of a legacy image's CUDA_VERSION: it parses
// the value with Masterminds/semver v3, whose NewVersion coerces ("12", "v12.8", "12.08" and
// "12.8.01" are accepted; "12.8.1.2" and "twelve" are not), and the requirement is
// "cuda>=MAJOR.MINOR".
func legacyMajorMinor(v string) (string, error) {
	sv, err := semver.NewVersion(v)
	if err != nil {
		return "", fmt.Errorf("invalid CUDA version: %w", err)
	}
	return strconv.FormatUint(sv.Major(), 10) + "." + strconv.FormatUint(sv.Minor(), 10), nil
}
