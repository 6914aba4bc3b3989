// Package imageenv writes and reads image.env, the facts file every torchimg image carries at
// Path for its self-check (a POSIX shell sources it) and for `torchimg check` and the smoke host
// runner inside the image. The writer and the reader are each other's inverse.
package imageenv

import (
	"bufio"
	"bytes"
	"fmt"
	"strings"
)

// Path is where the file is in an image.
const Path = "/etc/torchimg/image.env"

// Alternative is another CUDA variant of the same torch release, for the self-check's advice.
type Alternative struct {
	CUDA, DriverMin string
}

// Facts are the image's facts, as the self-check needs them. A CPU image (torch's CPU wheels)
// has no CUDA facts: CUDA and everything about drivers and GPUs are empty.
type Facts struct {
	Variant, Repository, Torch, CUDA, CUDAToolkit string
	DriverMin, DriverMinCompat                    string
	// ForwardCompat are the driver branches whose datacenter GPUs run the image through its
	// forward-compatibility libraries (from its NVIDIA_REQUIRE_CUDA).
	ForwardCompat []string
	CUDAArchs     string
	// GPUNative, GPUPTX and GPUNone are the compute capabilities the image's torch runs
	// natively, only through PTX JIT, and not at all (gpu/arch applied to CUDAArchs).
	GPUNative, GPUPTX, GPUNone []string
	Alternatives               []Alternative
}

type field struct {
	key string
	get func(*Facts) *string
}

type listField struct {
	key string
	get func(*Facts) *[]string
}

var fields = []field{
	{"TORCHIMG_VARIANT", func(f *Facts) *string { return &f.Variant }},
	{"TORCHIMG_REPOSITORY", func(f *Facts) *string { return &f.Repository }},
	{"TORCHIMG_TORCH", func(f *Facts) *string { return &f.Torch }},
	{"TORCHIMG_CUDA", func(f *Facts) *string { return &f.CUDA }},
	{"TORCHIMG_CUDA_TOOLKIT", func(f *Facts) *string { return &f.CUDAToolkit }},
	{"TORCHIMG_DRIVER_MIN", func(f *Facts) *string { return &f.DriverMin }},
	{"TORCHIMG_DRIVER_MIN_COMPAT", func(f *Facts) *string { return &f.DriverMinCompat }},
	{"TORCHIMG_CUDA_ARCHS", func(f *Facts) *string { return &f.CUDAArchs }},
}

var listFields = []listField{
	{"TORCHIMG_FORWARD_COMPAT", func(f *Facts) *[]string { return &f.ForwardCompat }},
	{"TORCHIMG_GPU_NATIVE", func(f *Facts) *[]string { return &f.GPUNative }},
	{"TORCHIMG_GPU_PTX", func(f *Facts) *[]string { return &f.GPUPTX }},
	{"TORCHIMG_GPU_NONE", func(f *Facts) *[]string { return &f.GPUNone }},
}

const alternativesKey = "TORCHIMG_ALTERNATIVES"

// Marshal renders the facts as shell assignments (single-quoted; lists space-separated).
func (f Facts) Marshal() []byte {
	var b bytes.Buffer
	b.WriteString("# Facts about this image for the torchimg self-check (generated; see the image labels).\n")
	for _, fd := range fields {
		fmt.Fprintf(&b, "%s=%s\n", fd.key, quote(*fd.get(&f)))
	}
	for _, fd := range listFields {
		fmt.Fprintf(&b, "%s=%s\n", fd.key, quote(strings.Join(*fd.get(&f), " ")))
	}
	alts := make([]string, len(f.Alternatives))
	for i, a := range f.Alternatives {
		alts[i] = a.CUDA + "=" + a.DriverMin
	}
	fmt.Fprintf(&b, "%s=%s\n", alternativesKey, quote(strings.Join(alts, " ")))
	return b.Bytes()
}

// Parse reads the file: KEY='value' lines (single quotes with '\” escapes, as Marshal writes,
// double quotes or bare words are read too); comments, blank lines and unknown keys are skipped.
func Parse(data []byte) (Facts, error) {
	var f Facts
	kv := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(strings.TrimPrefix(line, "export "), "=")
		if !ok || k == "" {
			return f, fmt.Errorf("%s line %d: want KEY=value, got %q", Path, n, line)
		}
		kv[k] = unquote(v)
	}
	if err := sc.Err(); err != nil {
		return f, fmt.Errorf("%s: %w", Path, err)
	}
	for _, fd := range fields {
		*fd.get(&f) = kv[fd.key]
	}
	for _, fd := range listFields {
		if v := strings.Fields(kv[fd.key]); len(v) > 0 {
			*fd.get(&f) = v
		}
	}
	for _, alt := range strings.Fields(kv[alternativesKey]) {
		if c, d, ok := strings.Cut(alt, "="); ok {
			f.Alternatives = append(f.Alternatives, Alternative{CUDA: c, DriverMin: d})
		}
	}
	return f, nil
}

func quote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

func unquote(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\'':
			j := strings.IndexByte(s[i+1:], '\'')
			if j < 0 {
				b.WriteString(s[i+1:])
				return b.String()
			}
			b.WriteString(s[i+1 : i+1+j])
			i += j + 1
		case '"':
			i++
			for ; i < len(s) && s[i] != '"'; i++ {
				if s[i] == '\\' && i+1 < len(s) && strings.IndexByte("\"\\$`", s[i+1]) >= 0 {
					i++
				}
				b.WriteByte(s[i])
			}
		case '\\':
			if i+1 < len(s) {
				i++
				b.WriteByte(s[i])
			}
		case ' ', '\t':
			return b.String() // the end of the word (a trailing comment)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}
