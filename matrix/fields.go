package matrix

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/torchimg/torchimg/internal/redact"
	"github.com/torchimg/torchimg/matrix/compat"
)

// Every value that reaches a Dockerfile, a label or a tag is checked against one of
// these patterns first: a version is a version, never a newline and a RUN.
var (
	reTorch       = regexp.MustCompile(`^[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}((a|b|rc)[0-9]{1,3})?$`)
	reCUDA        = regexp.MustCompile(`^[0-9]{1,2}\.[0-9]{1,2}$`)
	reOS          = regexp.MustCompile(`^[a-z][a-z0-9]{0,30}[0-9](\.[0-9]{1,3})?$`)
	rePython      = regexp.MustCompile(`^3\.[0-9]{1,2}t?$`)
	reArgName     = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,127}$`)
	reLabelKey    = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9._/-]{0,254}[A-Za-z0-9])?$`)
	rePrefix      = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$`)
	reURL         = regexp.MustCompile(`^https?://[A-Za-z0-9._~:/?#@!&()*+,;=%\[\]-]+$`)
	rePipReq      = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9._-]{0,100}[A-Za-z0-9])?(\[[A-Za-z0-9._-]+(,[A-Za-z0-9._-]+)*\])?((===|==|!=|~=|<=|>=|<|>)[A-Za-z0-9.*+!_-]{1,64}(,(===|==|!=|~=|<=|>=|<|>)[A-Za-z0-9.*+!_-]{1,64})*)?$`)
	reTemplateDir = regexp.MustCompile(`^[A-Za-z0-9._/-]{1,255}$`)
	reOCITag      = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$`)
	reImageRef    = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._/:@-]{0,511}$`)
	reDigest      = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)
	// reLocalTorch is a torch version as pip prints it, with a local suffix: 2.9.1+cu128.
	reLocalTorch = regexp.MustCompile(`^([^+]+)\+([A-Za-z0-9.]+)$`)
	reCUDASuffix = regexp.MustCompile(`^cu([0-9]{2,4})$`)
	rePipNameSep = regexp.MustCompile(`[-_.]+`)
)

// imageFlavors are the image flavors torchimg renders (compat's baseFlavors are the nvidia/cuda
// images they build on).
var imageFlavors = []string{"runtime", "devel"}

// printable reports whether s has no control characters (newlines included).
func printable(s string) bool {
	for _, r := range s {
		if r < 0x20 || r == 0x7f || r == '\u2028' || r == '\u2029' {
			return false
		}
	}
	return true
}

// secretsHint says where credentials for a private index go instead of the matrix.
const secretsHint = "keep them out of the matrix and give pip a netrc at build time: torchimg build --secret id=netrc,src=FILE (README, \"Private package indexes\")"

func checkURL(ds *Diagnostics, s Str, what string) {
	if !s.Set {
		return
	}
	if !reURL.MatchString(s.Value) {
		ds.errorf(s.Pos, "%s %q: want an http(s) URL without spaces, quotes, $ or backslashes, like https://download.pytorch.org/whl/cu128", what, clip(redact.URL(s.Value)))
		return
	}
	u, err := url.Parse(s.Value)
	if err != nil || u.Host == "" {
		ds.errorf(s.Pos, "%s %q: not a valid URL with a host", what, clip(redact.URL(s.Value)))
		return
	}
	if red, cred, ok := redact.Credentials(s.Value); ok {
		ds.errorf(s.Pos, "%s %s: credentials in the URL (%s) would end up in the image's build args, history and labels; %s", what, clip(red), cred, secretsHint)
	}
}

func checkImageRef(ds *Diagnostics, s Str, what string) {
	if !s.Set {
		return
	}
	if !reImageRef.MatchString(s.Value) {
		ds.errorf(s.Pos, "%s %q: want an image reference like nvidia/cuda:12.8.1-base-ubuntu24.04", what, clip(s.Value))
		return
	}
	if _, digest, ok := strings.Cut(s.Value, "@"); ok && !reDigest.MatchString(digest) {
		ds.errorf(s.Pos, "%s %q: the digest %q is malformed; a digest is sha256: followed by 64 lowercase hex characters, as in nvidia/cuda:12.8.1-base-ubuntu24.04@sha256:<64 hex>", what, clip(s.Value), clip(digest))
		return
	}
	if _, err := name.ParseReference(s.Value); err != nil {
		ds.errorf(s.Pos, "%s %q: not a valid image reference: %v", what, clip(s.Value), err)
	}
}

func checkRepository(ds *Diagnostics, s Str) {
	if !s.Set {
		ds.errorf(Pos{File: s.Pos.File, Line: 1, Col: 1}, "missing `repository` (the release repository, e.g. ghcr.io/example/pytorch-cuda)")
		return
	}
	if !reImageRef.MatchString(s.Value) {
		ds.errorf(s.Pos, "repository %q: want a repository like ghcr.io/example/pytorch-cuda", clip(s.Value))
		return
	}
	if _, err := name.NewRepository(s.Value, name.StrictValidation); err != nil || strings.Contains(s.Value, "@") {
		ds.errorf(s.Pos, "repository %q: want a repository without tag or digest, like ghcr.io/example/pytorch-cuda (lower-case letters, digits, . _ - and /)", clip(s.Value))
	}
}

func checkText(ds *Diagnostics, s Str, what string, max int) {
	if !s.Set {
		return
	}
	if !printable(s.Value) {
		ds.errorf(s.Pos, "%s: control characters (newlines, tabs) are not allowed", what)
	}
	if red, cred, ok := redact.Credentials(s.Value); ok {
		ds.errorf(s.Pos, "%s: the URL %s carries credentials (%s), and the value is readable in the image's config and history; %s", what, clip(red), cred, secretsHint)
	}
	if len(s.Value) > max {
		ds.errorf(s.Pos, "%s: %d characters, at most %d", what, len(s.Value), max)
	}
}

func clip(s string) string {
	if len(s) > 60 {
		s = s[:57] + "..."
	}
	return s
}

// localTorchHint explains a torch value written with a local version suffix, as pip prints
// it (2.9.1+cu128): the suffix is the CUDA variant, which the matrix writes in cuda as
// major.minor. It is "" for other values.
func localTorchHint(torch string) string {
	m := reLocalTorch.FindStringSubmatch(torch)
	if m == nil {
		return ""
	}
	release := clip(m[1])
	if m[2] == compat.CPU {
		return fmt.Sprintf("; the +%s part goes into cuda: write torch: %q with cuda: %s", m[2], release, compat.CPU)
	}
	if c := reCUDASuffix.FindStringSubmatch(m[2]); c != nil {
		// cu92 → 9.2, cu128 → 12.8, cu1210 → 12.10: the inverse of cudaVariantName.
		digits := c[1]
		major := min(2, len(digits)-1)
		return fmt.Sprintf("; the +%s part goes into cuda: write torch: %q with cuda: %q", m[2], release, digits[:major]+"."+digits[major:])
	}
	return fmt.Sprintf("; +%s is a local version suffix: write torch: %q and choose the CUDA variant with cuda, e.g. cuda: %q", clip(m[2]), release, "12.8")
}

// pipName is the project name of a pip requirement (one that matched rePipReq), normalised
// as PEP 503 does: Torch_Vision[extra]>=1 → torch-vision.
func pipName(req string) string {
	end := strings.IndexAny(req, "[=!~<>")
	if end < 0 {
		end = len(req)
	}
	return strings.ToLower(rePipNameSep.ReplaceAllString(req[:end], "-"))
}
