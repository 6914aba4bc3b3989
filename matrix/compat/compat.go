// Package compat is torchimg's embedded compatibility database: which CUDA wheel variants each torch
// release ships (with their Python, cuDNN, NCCL and arch lists), what each CUDA toolkit needs from the
// driver and can compile for, which nvidia/cuda base-image tags exist, and the NVIDIA_REQUIRE_CUDA value
// of each base image. The data lives in compat.yaml beside this file; every row there names its source.
//
// A value that could not be established is an unknown Fact (empty Value or Verified=false), never a guess.
package compat

import (
	_ "embed"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/torchimg/torchimg/gpu/arch"
	"github.com/torchimg/torchimg/internal/version"
)

//go:embed compat.yaml
var embedded []byte

// EmbeddedFile is the name errors use for the embedded data.
const EmbeddedFile = "matrix/compat/compat.yaml"

var defaultDB = sync.OnceValues(func() (*DB, error) { return Load(embedded, EmbeddedFile) })

// Default returns the embedded database (parsed once).
func Default() (*DB, error) { return defaultDB() }

// DataDate is the day the data was sourced (the newest upstream state read), YYYY-MM-DD;
// "" when the data does not say.
func (db *DB) DataDate() string { return db.dataDate }

// Fact is one sourced value. Verified=false or Value=="" means unknown; Note says why
// (for RequireCUDA an unverified Fact may still carry a conservative Value).
type Fact struct {
	Value, Source, Note string
	Verified            bool
}

// Known reports whether the value was established.
func (f Fact) Known() bool { return f.Verified && f.Value != "" }

func (f Fact) String() string {
	if f.Known() {
		return f.Value
	}
	if f.Value != "" {
		return f.Value + " (unverified)"
	}
	return "unknown"
}

// DB is a loaded, validated compatibility database. It is read-only and safe for concurrent use.
type DB struct {
	torch         map[string]*TorchRelease
	torchVersions []string
	cuda          map[string]*CUDARelease
	cudaVersions  []string
	os            map[string]OSRelease
	osNames       []string
	images        map[string]*image
	brands        map[string][]string
	brandsSource  string
	dataDate      string // YYYY-MM-DD, "" when the data does not say
	gpuArchs      []string
	driverCUDA    map[int]Fact // driver branch -> the CUDA version it reports
	branches      []int        // ascending
	fc            map[string]FCSupport
	fcSource      string
	fcNote        string
	upcoming      []Upcoming
}

type tagKey struct{ os, flavor string }

type tagRow struct {
	status       Existence
	source, note string
}

type image struct {
	toolkit, cudnn, replacedBy, source string
	complete                           bool
	require                            *fileRequire
	tags                               map[tagKey]tagRow
}

// ---- torch -----------------------------------------------------------------------------------

// CPU is the name of torch's CPU wheel variant, in every place it is spelled: the local version of
// the wheels (2.9.1+cpu), their index (download.pytorch.org/whl/cpu), the matrix's cuda value and
// the torch.cuda-variant label.
const CPU = "cpu"

// TorchRelease is one torch release (e.g. 2.9.1). Series data applies to every patch release of it.
type TorchRelease struct {
	Version, Series string
	Default         string   // the variant a plain `pip install torch` gets on Linux x86_64, e.g. "cu128"
	Python          []string // release validation list, e.g. "3.10" … "3.14", "3.14t"; the CPU wheels' too
	// Variants are the release's CUDA variants, ascending by CUDA: its official CUDA variants.
	Variants []TorchVariant
	// CPU is the release's CPU wheel variant (Name CPU, no CUDA, no cuDNN, NCCL or architectures);
	// the zero TorchVariant when the data records no CPU wheels.
	CPU    TorchVariant
	Source string
}

// TorchVariant is one CUDA wheel variant of a release.
type TorchVariant struct {
	Name, CUDA                  string // "cu128", "12.8"
	CUDNN, NCCL, Archs, Toolkit Fact   // Archs: TORCH_CUDA_ARCH_LIST; Toolkit: full CUDA the wheel was built with
	Source                      string
}

// Torch returns the release with this exact version ("2.9.1"; "2.9" is not a release).
func (db *DB) Torch(v string) (TorchRelease, bool) {
	if r, ok := db.torch[v]; ok {
		return r.clone(), true
	}
	return TorchRelease{}, false
}

// TorchVersions lists every release, ascending.
func (db *DB) TorchVersions() []string { return slices.Clone(db.torchVersions) }

func (r *TorchRelease) clone() TorchRelease {
	c := *r
	c.Python = slices.Clone(r.Python)
	c.Variants = slices.Clone(r.Variants)
	return c
}

// HasCPU reports whether the data records CPU wheels for the release.
func (r TorchRelease) HasCPU() bool { return r.CPU.Name == CPU }

// Variant returns the variant for a CUDA minor ("12.8"); "12.8.1" and "cu128" are accepted too,
// and CPU names the CPU variant.
func (r TorchRelease) Variant(cuda string) (TorchVariant, bool) {
	if cuda == CPU {
		return r.CPU, r.HasCPU()
	}
	for _, v := range r.Variants {
		if v.Name == cuda || v.CUDA == cuda || (version.Valid(cuda) && v.CUDA == version.MajorMinor(cuda)) {
			return v, true
		}
	}
	return TorchVariant{}, false
}

// VariantNames lists the CUDA variant names ascending by CUDA ("cu126", "cu128", "cu130").
func (r TorchRelease) VariantNames() []string {
	out := make([]string, len(r.Variants))
	for i, v := range r.Variants {
		out[i] = v.Name
	}
	return out
}

// ---- CUDA ------------------------------------------------------------------------------------

// CUDARelease is one CUDA minor.
type CUDARelease struct {
	Version     string // "12.8"
	Image       string // the update release whose nvidia/cuda images torchimg builds on ("12.8.1"); "" if none
	Updates     []CUDAUpdate
	CompatFloor Fact // minimum driver for minor-version compatibility within the family
	Archs       Fact // "5.0;5.2;...;12.0": the SMs the toolkit can target
	Source      string
}

// CUDAUpdate is one update release (GA = .0).
type CUDAUpdate struct {
	Version   string
	MinDriver Fact // minimum Linux x86_64 driver ("Toolkit Driver Version")
}

// CUDA returns a CUDA minor ("12.8"; "12.8.1" is accepted and means its minor).
func (db *DB) CUDA(minor string) (CUDARelease, bool) {
	c, ok := db.cuda[minor]
	if !ok && version.Valid(minor) {
		c, ok = db.cuda[version.MajorMinor(minor)]
	}
	if !ok {
		return CUDARelease{}, false
	}
	out := *c
	out.Updates = slices.Clone(c.Updates)
	return out, true
}

// CUDAVersions lists the CUDA minors, ascending.
func (db *DB) CUDAVersions() []string { return slices.Clone(db.cudaVersions) }

// MinDriver is the minimum Linux driver of a toolkit update release ("12.8.1" → 570.124.06).
// "12.8" means 12.8.0 (GA).
func (db *DB) MinDriver(toolkit string) Fact {
	if !version.Valid(toolkit) {
		return Fact{Note: fmt.Sprintf("%q is not a CUDA version", toolkit)}
	}
	if c, ok := db.cuda[version.MajorMinor(toolkit)]; ok {
		for _, u := range c.Updates {
			if version.Compare(u.Version, toolkit) == 0 {
				return u.MinDriver
			}
		}
	}
	return Fact{Note: fmt.Sprintf("no driver data for CUDA %s", toolkit)}
}

// ---- OS --------------------------------------------------------------------------------------

// OSRelease is a base OS as spelled in nvidia/cuda tags ("ubuntu24.04").
type OSRelease struct {
	Name, Family, Python, Source string // Python: the distribution's default python3 ("3.12")
	// CUDAUntil is the last CUDA major NVIDIA publishes images of for this OS ("12" for
	// ubuntu20.04); unknown when no such limit is recorded.
	CUDAUntil Fact
}

// PlainImage is the OS's own image on Docker Hub, the base of images without CUDA: the official
// image named by the family, tagged with the rest of the name (ubuntu24.04 → ubuntu:24.04,
// debian12 → debian:12). "" when the name does not start with its family.
func (o OSRelease) PlainImage() string {
	rest, ok := strings.CutPrefix(o.Name, o.Family)
	if !ok || rest == "" || o.Family == "" {
		return ""
	}
	return o.Family + ":" + rest
}

// OS returns a base OS by name.
func (db *DB) OS(name string) (OSRelease, bool) {
	o, ok := db.os[name]
	return o, ok
}

// OSNames lists the OSes in file order.
func (db *DB) OSNames() []string { return slices.Clone(db.osNames) }

// ---- base images -----------------------------------------------------------------------------

// Existence says what is known about an image tag.
type Existence int

const (
	Unknown Existence = iota // no record either way
	Exists                   // listed by NVIDIA or seen in use
	Absent                   // the toolkit's list is complete and the tag is not in it
	Deleted                  // existed, deleted (unsupported) under NVIDIA's support policy
)

func (e Existence) String() string {
	switch e {
	case Exists:
		return "exists"
	case Absent:
		return "absent"
	case Deleted:
		return "deleted"
	default:
		return "unknown"
	}
}

// BaseImage describes one nvidia/cuda tag.
type BaseImage struct {
	Ref    string // "nvidia/cuda:12.8.1-devel-ubuntu24.04"
	Exists Existence
	Source string
	Note   string
	// Rule is set when a rule of the data says the tag is absent (an OS without images of that
	// CUDA major): the reason, without the list of OSes that have it.
	Rule string
}

var spelledCUDNN = regexp.MustCompile(`^cudnn[0-9]*-(runtime|devel)$`)

// canonicalFlavor maps "cudnn8-runtime" to "cudnn-runtime" and checks the name.
func canonicalFlavor(flavor string) (string, bool) {
	if m := spelledCUDNN.FindStringSubmatch(flavor); m != nil {
		flavor = "cudnn-" + m[1]
	}
	return flavor, slices.Contains(baseFlavors, flavor) || slices.Contains(extraFlavors, flavor)
}

// cudnnSpelling is how the toolkit's tags spell the cuDNN part.
func (db *DB) cudnnSpelling(toolkit string) string {
	if im := db.images[toolkit]; im != nil {
		return im.cudnn
	}
	if c := db.cuda[version.MajorMinor(toolkit)]; c != nil && c.Image != "" {
		if im := db.images[c.Image]; im != nil {
			return im.cudnn
		}
	}
	return "cudnn"
}

// Tag spells the nvidia/cuda tag for a toolkit, flavor and OS ("11.8.0", "cudnn-runtime", "ubuntu22.04" →
// "11.8.0-cudnn8-runtime-ubuntu22.04").
func (db *DB) Tag(toolkit, os, flavor string) string {
	fl, _ := canonicalFlavor(flavor)
	if strings.HasPrefix(fl, "cudnn-") {
		fl = db.cudnnSpelling(toolkit) + strings.TrimPrefix(fl, "cudnn")
	}
	return toolkit + "-" + fl + "-" + os
}

// BaseImage says whether nvidia/cuda:<toolkit>-<flavor>-<os> exists. flavor is base, runtime, devel,
// cudnn-runtime or cudnn-devel (the cuDNN spelling of the tag is chosen from the data).
func (db *DB) BaseImage(toolkit, os, flavor string) BaseImage {
	fl, ok := canonicalFlavor(flavor)
	if !ok {
		return BaseImage{Note: fmt.Sprintf("unknown flavor %q (valid are %s)", flavor, strings.Join(baseFlavors, ", "))}
	}
	if !version.Valid(toolkit) || parts(toolkit) != 3 {
		return BaseImage{Note: fmt.Sprintf("toolkit %q: want an update release like 12.8.1", toolkit)}
	}
	bi := BaseImage{Ref: "nvidia/cuda:" + db.Tag(toolkit, os, fl)}
	if _, ok := db.os[os]; !ok {
		bi.Note = fmt.Sprintf("OS %q is not in the compatibility database (known: %s)", os, strings.Join(db.osNames, ", "))
		return bi
	}
	if o := db.os[os]; o.CUDAUntil.Known() {
		if mj, _, _ := strings.Cut(toolkit, "."); version.Compare(mj, o.CUDAUntil.Value) > 0 {
			bi.Exists, bi.Source = Absent, o.CUDAUntil.Source
			bi.Rule = fmt.Sprintf("NVIDIA publishes no CUDA %s.x images for %s (the last is CUDA %s.x: %s)", mj, os, o.CUDAUntil.Value, o.CUDAUntil.Note)
			bi.Note = bi.Rule
			if oses := db.BaseOSes(db.imageOf(toolkit), fl); len(oses) > 0 {
				bi.Note += "; available for " + strings.Join(oses, ", ")
			}
			return bi
		}
	}
	im := db.images[toolkit]
	if im == nil {
		bi.Note = fmt.Sprintf("no record of nvidia/cuda tags for %s", toolkit)
		if c := db.cuda[version.MajorMinor(toolkit)]; c != nil && c.Image != "" && c.Image != toolkit {
			bi.Note += fmt.Sprintf("; torchimg builds CUDA %s on %s", c.Version, c.Image)
		}
		return bi
	}
	deleted := ""
	if im.replacedBy != "" {
		deleted = fmt.Sprintf("deleted by NVIDIA's support policy; use %s", im.replacedBy)
	}
	if row, ok := im.tags[tagKey{os, fl}]; ok {
		bi.Exists, bi.Source, bi.Note = row.status, row.source, row.note
		if row.status == Deleted {
			bi.Note = joinNotes(row.note, deleted)
		}
		return bi
	}
	switch {
	case im.complete:
		bi.Exists, bi.Source = Absent, im.source
		bi.Note = fmt.Sprintf("not in NVIDIA's supported-tags list, which lists every OS for %s", toolkit)
		if oses := db.BaseOSes(toolkit, fl); len(oses) > 0 {
			bi.Note += "; available for " + strings.Join(oses, ", ")
		}
	case deleted != "":
		bi.Source = im.source
		bi.Note = "not listed; " + deleted
	default:
		bi.Source = im.source
		bi.Note = fmt.Sprintf("no record of this tag: the OS list for %s is not verified", toolkit)
	}
	return bi
}

func joinNotes(a, b string) string {
	switch {
	case a == "":
		return b
	case b == "":
		return a
	}
	return a + "; " + b
}

// imageOf is the toolkit with image records nearest to toolkit: itself, or the image of its minor.
func (db *DB) imageOf(toolkit string) string {
	if db.images[toolkit] != nil {
		return toolkit
	}
	if c := db.cuda[version.MajorMinor(toolkit)]; c != nil {
		return c.Image
	}
	return toolkit
}

// BaseOSes lists the OSes (in OSNames order) where the tag is known to exist.
func (db *DB) BaseOSes(toolkit, flavor string) []string {
	fl, _ := canonicalFlavor(flavor)
	im := db.images[toolkit]
	if im == nil {
		return nil
	}
	var out []string
	for _, o := range db.osNames {
		if row, ok := im.tags[tagKey{o, fl}]; ok && row.status == Exists {
			out = append(out, o)
		}
	}
	return out
}

// ---- NVIDIA_REQUIRE_CUDA ---------------------------------------------------------------------

// RequireCUDA is the NVIDIA_REQUIRE_CUDA value (amd64) of the toolkit's nvidia/cuda base images:
// "cuda>=X.Y" then "brand=B,driver>=R,driver<R+1" for each recorded driver branch R and brand B.
// When the branches are not known it is the conservative "cuda>=X.Y" with Verified=false.
func (db *DB) RequireCUDA(toolkit string) Fact {
	if !version.Valid(toolkit) {
		return Fact{Note: fmt.Sprintf("%q is not a CUDA version", toolkit)}
	}
	head := "cuda>=" + version.MajorMinor(toolkit)
	im := db.images[toolkit]
	if im == nil || im.require == nil {
		return Fact{
			Value:  head,
			Source: "compat-facts §3d (no NVIDIA_REQUIRE_CUDA recorded for " + toolkit + ")",
			Note:   "driver branches not known; conservative value without forward-compat brand clauses",
		}
	}
	var b strings.Builder
	b.WriteString(head)
	for _, r := range im.require.Branches {
		for _, brand := range db.brands[im.require.Brands] {
			b.WriteString(" brand=" + brand + ",driver>=" + strconv.Itoa(r) + ",driver<" + strconv.Itoa(r+1))
		}
	}
	return Fact{Value: b.String(), Source: im.require.Source, Note: im.require.Note, Verified: true}
}

// ---- architectures ---------------------------------------------------------------------------

// ArchSupported says whether the toolkit (a minor or update release) can target compute capability cc
// ("7.0"; "70" and "sm_70" are accepted). Value is "true" or "false"; unknown when the toolkit's list is.
func (db *DB) ArchSupported(toolkit, cc string) Fact {
	mj, mn, err := arch.ParseCC(cc)
	if err != nil || !version.Valid(toolkit) {
		return Fact{Note: fmt.Sprintf("bad toolkit %q or compute capability %q", toolkit, cc)}
	}
	c, ok := db.cuda[version.MajorMinor(toolkit)]
	if !ok {
		return Fact{Note: fmt.Sprintf("no data for CUDA %s", toolkit)}
	}
	if !c.Archs.Known() {
		return Fact{Source: c.Archs.Source, Note: c.Archs.Note}
	}
	supported := slices.ContainsFunc(arch.ParseList(c.Archs.Value).Entries, func(a arch.Arch) bool {
		return a.Major == mj && a.Minor == mn
	})
	return Fact{Value: strconv.FormatBool(supported), Source: c.Archs.Source, Note: c.Archs.Note, Verified: true}
}

// GPUArchitectures lists every compute capability some CUDA toolkit of the data can target
// (the union of the toolkits' architecture lists), ascending: the GPUs there are.
func (db *DB) GPUArchitectures() []string { return slices.Clone(db.gpuArchs) }

func gpuArchitectures(db *DB) []string {
	seen := map[string]bool{}
	var out []string
	for _, minor := range db.cudaVersions {
		c := db.cuda[minor]
		if !c.Archs.Known() {
			continue
		}
		for _, a := range arch.ParseList(c.Archs.Value).Entries {
			cc := fmt.Sprintf("%d.%d", a.Major, a.Minor)
			if !seen[cc] {
				seen[cc] = true
				out = append(out, cc)
			}
		}
	}
	slices.SortFunc(out, version.Compare)
	return out
}

// ---- drivers ---------------------------------------------------------------------------------

// DriverCUDA is the CUDA version a Linux driver reports (nvidia-smi's "CUDA Version",
// nvmlSystemGetCudaDriverVersion): the row of its branch (570.86.10 -> branch 570 -> 12.8).
// For a driver newer than every branch in the data, the newest branch's CUDA is returned with
// atLeast set: the driver supports that CUDA or a newer one. A driver older than the data, or
// of a branch the data does not list, gives an unknown Fact.
func (db *DB) DriverCUDA(driver string) (f Fact, atLeast bool) {
	if !version.Valid(driver) {
		return Fact{Note: fmt.Sprintf("%q is not a driver version", driver)}, false
	}
	mj, _, _ := strings.Cut(driver, ".")
	branch, err := strconv.Atoi(mj)
	if err != nil {
		return Fact{Note: fmt.Sprintf("%q is not a driver version", driver)}, false
	}
	if c, ok := db.driverCUDA[branch]; ok {
		return c, false
	}
	if n := len(db.branches); n > 0 && branch > db.branches[n-1] {
		newest := db.branches[n-1]
		c := db.driverCUDA[newest]
		c.Note = joinNotes(fmt.Sprintf("branch %d is newer than torchimg's data, whose newest branch %d reports CUDA %s", branch, newest, c.Value), c.Note)
		return c, true
	}
	if len(db.branches) > 0 && branch < db.branches[0] {
		return Fact{Note: fmt.Sprintf("driver branch %d is older than torchimg's data (which starts at branch %d)", branch, db.branches[0])}, false
	}
	return Fact{Note: fmt.Sprintf("driver branch %d is not in torchimg's data", branch)}, false
}

// FCSupport says whether a GPU brand runs CUDA forward-compatibility libraries.
type FCSupport int

// Forward-compatibility support of a brand.
const (
	FCUnknown     FCSupport = iota // only select SKUs, or the brand is not known
	FCSupported                    // datacenter GPUs
	FCUnsupported                  // consumer GPUs: CUDA fails with error 804
)

// ForwardCompat says whether GPUs of a brand (gpu/host's lower-case NVML brand) run the
// forward-compatibility (cuda-compat) libraries, with the source of the rule.
func (db *DB) ForwardCompat(brand string) (s FCSupport, source, note string) {
	return db.fc[strings.ToLower(brand)], db.fcSource, db.fcNote
}

// Upcoming is a torch series that is expected but not released.
type Upcoming struct {
	Series   string
	Variants []string
	Source   string
	Note     string
}

// Upcoming returns the expected, unreleased torch series ("2.14").
func (db *DB) Upcoming(series string) (Upcoming, bool) {
	for _, u := range db.upcoming {
		if u.Series == series {
			u.Variants = slices.Clone(u.Variants)
			return u, true
		}
	}
	return Upcoming{}, false
}
