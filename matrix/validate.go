package matrix

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/torchimg/torchimg/gpu/arch"
	"github.com/torchimg/torchimg/internal/version"
	"github.com/torchimg/torchimg/matrix/compat"
)

// DefaultLabelsPrefix is the namespace of torchimg's own labels.
const DefaultLabelsPrefix = "io.torchimg"

// DefaultIndexURL is the PyTorch wheel index of a torch variant; %s is its name: "cu128", or
// compat.CPU for the CPU wheels (https://download.pytorch.org/whl/cpu).
const DefaultIndexURL = "https://download.pytorch.org/whl/%s"

// Options tune planning.
type Options struct {
	// BaseDir resolves relative template_dir paths (the matrix file's directory).
	BaseDir string
	// TemplateExists checks a template directory; nil skips the check.
	TemplateExists func(dir string) error

	labelsPrefix string
}

// reservedLabels are set by torchimg itself; the matrix sets some of them with top-level fields.
var reservedLabels = map[string]string{
	OCITitle: "the top-level `title`", OCIDescription: "the top-level `description`", OCISource: "the top-level `source`",
	OCILicenses: "the top-level `licenses`", OCIVersion: "", OCIRevision: "", OCICreated: "", OCIBaseName: "", OCIBaseDigest: "",
}

// Load reads, expands and validates a matrix file into a plan. The diagnostics hold
// every warning (and, with the returned *InvalidError, every error).
func Load(path string, db *compat.DB, opts Options) (*Plan, Diagnostics, error) {
	f, err := LoadFile(path)
	if err != nil {
		if ie, ok := err.(*InvalidError); ok {
			return nil, ie.Diagnostics, err
		}
		return nil, nil, err
	}
	if opts.BaseDir == "" {
		opts.BaseDir = filepath.Dir(path)
	}
	return NewPlan(f, db, opts)
}

// NewPlan expands and validates a decoded matrix.
func NewPlan(f *File, db *compat.DB, opts Options) (*Plan, Diagnostics, error) {
	var ds Diagnostics
	p := &Plan{Repository: f.Repository.Value, LabelsPrefix: DefaultLabelsPrefix}
	sum := sha256.Sum256(f.Raw)
	p.MatrixRevision = hex.EncodeToString(sum[:])[:12]

	if !f.Repository.Set {
		f.Repository.Pos = Pos{File: f.Path, Line: 1, Col: 1}
	}
	checkRepository(&ds, f.Repository)
	if f.LabelsPrefix.Set {
		if !rePrefix.MatchString(f.LabelsPrefix.Value) {
			ds.errorf(f.LabelsPrefix.Pos, "labels_prefix %q: want a lower-case reverse-DNS name like io.torchimg or com.example.images", clip(f.LabelsPrefix.Value))
		} else {
			p.LabelsPrefix = f.LabelsPrefix.Value
		}
	}
	checkText(&ds, f.Title, "title", 256)
	checkText(&ds, f.Description, "description", 1024)
	checkText(&ds, f.Licenses, "licenses", 256)
	if f.Source.Set {
		checkURL(&ds, f.Source, "source")
	}
	opts.labelsPrefix = p.LabelsPrefix
	checkSettings(&ds, f.Defaults, "defaults", opts)
	if f.Defaults.Flavor.Set && !slices.Contains(imageFlavors, f.Defaults.Flavor.Value) {
		ds.errorf(f.Defaults.Flavor.Pos, "defaults.flavor %q: valid flavors are %s", clip(f.Defaults.Flavor.Value), strings.Join(imageFlavors, ", "))
	}
	for i, o := range f.Overrides {
		what := fmt.Sprintf("overrides[%d]", i)
		checkSelectorPatterns(&ds, &o.Match, what+".match")
		checkSettings(&ds, o.Settings, what, opts)
	}
	for i, inc := range f.Include {
		checkSettings(&ds, inc.Settings, fmt.Sprintf("include[%d]", i), opts)
	}
	checkAxisDuplicates(&ds, f.Axes)
	if !f.Axes.Set && len(f.Include) == 0 {
		ds.errorf(Pos{File: f.Path, Line: 1, Col: 1}, "the matrix defines no variants: add `axes:` (torch, cuda, os lists) or `include:` entries")
	}
	if len(f.Tags) == 0 {
		ds.errorf(Pos{File: f.Path, Line: 1, Col: 1}, "no `tags:`; every variant needs at least one immutable tag, e.g. {template: \"{{.Torch}}-cuda{{.CUDA.Full}}-py{{.Python}}-{{.Flavor}}-{{.OS}}\", kind: immutable}")
	}

	osPython := func(name string) string {
		if o, ok := db.OS(name); ok {
			return o.Python
		}
		return ""
	}
	official := func(torch string) ([]string, string) {
		rel, ok := db.Torch(torch)
		if !ok {
			return nil, fmt.Sprintf("torch %s is not in the compatibility data (%s)", clip(torch), knownTorch(db, torch))
		}
		out := make([]string, len(rel.Variants))
		for i, tv := range rel.Variants {
			out[i] = tv.CUDA
		}
		return out, ""
	}
	sources := expand(f, &ds, osPython, official, func(e Expansion) { p.Expansions = append(p.Expansions, e) })

	// Resolve settings: defaults, then overrides in order, then the include entry's own.
	overrideUsed := make([]bool, len(f.Overrides))
	for _, vs := range sources {
		vs.settings = resolvedSettings{}
		vs.settings.apply(f.Defaults)
		pd := isPyPIDefault(db, vs)
		for i := range f.Overrides {
			if f.Overrides[i].Match.matches(vs, pd) {
				vs.settings.apply(f.Overrides[i].Settings)
				overrideUsed[i] = true
			}
		}
		for _, s := range vs.own {
			vs.settings.apply(s)
		}
	}
	for i, used := range overrideUsed {
		if !used {
			ds.warnf(f.Overrides[i].Pos, "overrides[%d] matches no variant; check its match values", i)
		}
	}

	var variants []*Variant
	ids := map[string]*variantSource{}
	for _, vs := range sources {
		v, ok := buildVariant(&ds, db, p, f, vs)
		if !ok {
			continue
		}
		if prev, dup := ids[v.ID]; dup {
			ds.errorf(vs.origin, "variant %s is defined twice: by %s (%s) and %s (%s)", v.ID, prev.originName, prev.origin, vs.originName, vs.origin)
			continue
		}
		ids[v.ID] = vs
		variants = append(variants, v)
	}
	if len(sources) == 0 && len(f.Exclude) > 0 && f.Axes.Set && len(f.Axes.Torch) > 0 && len(f.Axes.CUDA) > 0 && len(f.Axes.OS) > 0 {
		ds.errorf(f.Exclude[0].Pos, "the matrix expands to no variants: exclude removes every combination of the axes and there are no include entries")
	}

	if !ds.HasErrors() {
		assignTags(&ds, f, db, p, variants)
	}
	if !ds.HasErrors() {
		finishVariants(variants)
	}
	p.Variants = variants
	ds = ds.Sort()
	if ds.HasErrors() {
		return nil, ds, &InvalidError{Diagnostics: ds}
	}
	return p, ds, nil
}

func isPyPIDefault(db *compat.DB, vs *variantSource) bool {
	r, ok := db.Torch(vs.torch.Value)
	return ok && r.Default == cudaVariantName(vs.cuda.Value)
}

// cudaVariantName turns "12.8" into "cu128"; the CPU variant's name is its own.
func cudaVariantName(minor string) string {
	if minor == compat.CPU {
		return compat.CPU
	}
	return "cu" + strings.ReplaceAll(minor, ".", "")
}

func checkAxisDuplicates(ds *Diagnostics, a Axes) {
	for name, list := range map[string][]Str{"torch": a.Torch, "cuda": a.CUDA, "os": a.OS, "python": a.Python, "flavor": a.Flavor} {
		seen := map[string]Pos{}
		for _, s := range list {
			if p, dup := seen[s.Value]; dup {
				ds.errorf(s.Pos, "axes.%s: %q is listed twice (first at line %d)", name, s.Value, p.Line)
			}
			seen[s.Value] = s.Pos
		}
	}
}

func checkSettings(ds *Diagnostics, s Settings, what string, opts Options) {
	checkImageRef(ds, s.Base, what+".base")
	checkURL(ds, s.IndexURL, what+".index_url")
	checkURL(ds, s.PipIndexURL, what+".pip_index_url")
	for _, p := range s.ExtraPackages {
		if !rePipReq.MatchString(p.Value) {
			ds.errorf(p.Pos, "%s.extra_packages: %q is not a pip requirement like numpy or numpy==2.1.0 or triton>=3,<4", what, clip(p.Value))
		} else if pipName(p.Value) == "torch" {
			ds.errorf(p.Pos, "%s.extra_packages: %q names torch; extras may not replace torch, which the matrix's torch axis pins (set the release with torch and the CUDA variant with cuda)", what, clip(p.Value))
		}
	}
	for _, kv := range s.BuildArgs {
		if !reArgName.MatchString(kv.Key.Value) {
			ds.errorf(kv.Key.Pos, "%s.build_args: %q is not a build-arg name (letters, digits and _; not starting with a digit)", what, clip(kv.Key.Value))
		}
		checkText(ds, kv.Value, what+".build_args."+kv.Key.Value, 4096)
	}
	for _, kv := range s.Labels {
		if !reLabelKey.MatchString(kv.Key.Value) {
			ds.errorf(kv.Key.Pos, "%s.labels: %q is not a label name like org.example.team", what, clip(kv.Key.Value))
		}
		if via, ok := reservedLabels[kv.Key.Value]; ok {
			hint := "torchimg sets it from the build"
			if via != "" {
				hint = "set it with " + via
			}
			ds.errorf(kv.Key.Pos, "%s.labels: %q is set by torchimg (%s)", what, kv.Key.Value, hint)
		}
		if opts.labelsPrefix != "" && strings.HasPrefix(kv.Key.Value, opts.labelsPrefix+".") {
			ds.errorf(kv.Key.Pos, "%s.labels: %q is in torchimg's own namespace %s.*, whose labels are facts checked against the image; use another prefix, e.g. org.example.", what, kv.Key.Value, opts.labelsPrefix)
		}
		checkText(ds, kv.Value, what+".labels."+kv.Key.Value, 4096)
	}
	if s.TemplateDir.Set {
		if !reTemplateDir.MatchString(s.TemplateDir.Value) {
			ds.errorf(s.TemplateDir.Pos, "%s.template_dir %q: want a relative path of letters, digits, . _ - /", what, clip(s.TemplateDir.Value))
		} else if opts.TemplateExists != nil {
			dir := s.TemplateDir.Value
			if !filepath.IsAbs(dir) {
				dir = filepath.Join(opts.BaseDir, dir)
			}
			if err := opts.TemplateExists(dir); err != nil {
				ds.errorf(s.TemplateDir.Pos, "%s.template_dir: %v", what, err)
			}
		}
	}
	if s.Python.Set && !rePython.MatchString(s.Python.Value) {
		ds.errorf(s.Python.Pos, "%s.python %q: want a Python version like 3.12 (or 3.14t)", what, clip(s.Python.Value))
	}
}

// buildVariant checks one combination against the patterns and the compatibility data.
func buildVariant(ds *Diagnostics, db *compat.DB, p *Plan, f *File, vs *variantSource) (*Variant, bool) {
	bad := false
	errf := func(pos Pos, format string, args ...any) { ds.errorf(pos, format, args...); bad = true }
	unofficial := vs.settings.allowUnofficial.Value

	// Shape first: strict patterns.
	if !reTorch.MatchString(vs.torch.Value) {
		errf(vs.torch.Pos, "torch %q: want a release version like 2.9.1%s", clip(vs.torch.Value), torchHint(vs.torch.Value))
	}
	cpu := vs.cuda.Value == compat.CPU
	if !cpu && !reCUDA.MatchString(vs.cuda.Value) {
		hint := ""
		switch {
		case strings.EqualFold(vs.cuda.Value, compat.CPU):
			hint = fmt.Sprintf(" (the CPU wheels are cuda: %s, in lower case)", compat.CPU)
		case strings.HasPrefix(vs.cuda.Value, "cu"):
			hint = fmt.Sprintf(" (write the CUDA minor, e.g. %q for cu128)", "12.8")
		}
		errf(vs.cuda.Pos, "cuda %q: want the torch CUDA variant as major.minor like 12.8%s", clip(vs.cuda.Value), hint)
	}
	if !reOS.MatchString(vs.os.Value) {
		errf(vs.os.Pos, "os %q: want an OS name like ubuntu24.04; known: %s", clip(vs.os.Value), strings.Join(db.OSNames(), ", "))
	}
	if _, known := db.OS(vs.os.Value); !known && reOS.MatchString(vs.os.Value) {
		if !vs.settings.base.Set || !vs.python.Set {
			errf(vs.os.Pos, "os %q is not in the compatibility data; known: %s%s (another OS needs its own `base:` image and `python:`)", vs.os.Value, strings.Join(db.OSNames(), ", "), didYouMean(vs.os.Value, db.OSNames()))
			return nil, false
		}
		ds.warnf(vs.os.Pos, "os %q is not in the compatibility data; building on base %s as given (the default template installs Python with apt-get)", vs.os.Value, vs.settings.base.Value)
	}
	if !vs.python.Set {
		errf(vs.os.Pos, "python: os %q has no default Python in the compatibility data; set python in the axes, defaults or include entry", clip(vs.os.Value))
	} else if !rePython.MatchString(vs.python.Value) {
		errf(vs.python.Pos, "python %q: want a Python version like 3.12 (or 3.14t)", clip(vs.python.Value))
	}
	if !slices.Contains(imageFlavors, vs.flavor.Value) {
		errf(vs.flavor.Pos, "flavor %q: valid flavors are %s%s", clip(vs.flavor.Value), strings.Join(imageFlavors, ", "), didYouMean(vs.flavor.Value, imageFlavors))
	}
	if bad {
		return nil, false
	}

	// Then the compatibility data.
	sev := func(pos Pos, format string, args ...any) {
		if unofficial {
			ds.warnf(pos, format+" (allowed by allow_unofficial)", args...)
		} else {
			errf(pos, format+"; set allow_unofficial: true on the variant to build it anyway", args...)
		}
	}
	rel, torchKnown := db.Torch(vs.torch.Value)
	if torchKnown && len(rel.Python) > 0 && !slices.Contains(rel.Python, vs.python.Value) {
		sev(vs.python.Pos, "torch %s supports Python %s; not %s", vs.torch.Value, strings.Join(rel.Python, ", "), vs.python.Value)
	}
	var v *Variant
	if cpu {
		v = cpuVariant(errf, sev, db, vs, rel, torchKnown)
	} else {
		v = cudaVariant(ds, errf, sev, &bad, db, vs, rel, torchKnown)
	}
	if v == nil || bad {
		return nil, false
	}
	v.Origin = fmt.Sprintf("%s (%s)", vs.origin, vs.originName)
	v.src = *vs
	v.ID = fmt.Sprintf("%s-%s-py%s-%s-%s", v.Torch, v.TorchVariant, v.Python, v.Flavor, v.OS)
	v.IndexURL = vs.settings.indexURL.Value
	if v.IndexURL == "" {
		v.IndexURL = fmt.Sprintf(DefaultIndexURL, v.TorchVariant)
	}
	v.PipIndexURL = vs.settings.pipIndexURL.Value
	for _, e := range vs.settings.extraPackages {
		v.ExtraPackages = append(v.ExtraPackages, e.Value)
	}
	v.Compiler = !vs.settings.compiler.Set || vs.settings.compiler.Value
	v.TemplateDir = vs.settings.templateDir.Value
	if v.TemplateDir != "" && !filepath.IsAbs(v.TemplateDir) && f.Path != "" {
		v.TemplateDir = filepath.Join(filepath.Dir(f.Path), v.TemplateDir)
	}
	v.BuildArgs = map[string]string{}
	for _, kv := range vs.settings.buildArgs {
		v.BuildArgs[kv.Key.Value] = kv.Value.Value
	}
	v.Labels = variantLabels(p, f, v, vs.settings.labels)
	return v, true
}

// variantFail reports a problem with a variant (an error, or a warning under allow_unofficial
// for sev) and marks the variant bad.
type variantFail func(pos Pos, format string, args ...any)

// cpuVariant is the data part of a CPU variant (cuda: cpu): torch's CPU wheels on the OS's own
// image (or an explicit base without CUDA). It has no CUDA facts: no toolkit, driver, cuDNN,
// NCCL or architectures, and no NVIDIA_* environment, so the NVIDIA runtime requires nothing.
func cpuVariant(errf, sev variantFail, db *compat.DB, vs *variantSource, rel compat.TorchRelease, torchKnown bool) *Variant {
	tv := compat.TorchVariant{}
	switch {
	case !torchKnown:
		sev(vs.torch.Pos, "torch %s is not in the compatibility data; %s", vs.torch.Value, knownTorch(db, vs.torch.Value))
	case !rel.HasCPU():
		sev(vs.cuda.Pos, "torch %s has no CPU wheels in the compatibility data; it has %s", vs.torch.Value, strings.Join(rel.VariantNames(), ", "))
	default:
		tv = rel.CPU
	}
	base := vs.settings.base.Value
	if base == "" {
		o, _ := db.OS(vs.os.Value)
		if base = o.PlainImage(); base == "" {
			errf(vs.os.Pos, "os %q has no plain image torchimg knows for a CPU variant; set `base:` (an image of that OS with apt-get, like ubuntu:24.04)", clip(vs.os.Value))
			return nil
		}
	} else if nb, ok := parseNvidiaBase(base); ok {
		errf(vs.settings.base.Pos, "base %s is an nvidia/cuda image (CUDA %s): a CPU variant would inherit its NVIDIA_REQUIRE_CUDA and CUDA libraries; use a plain OS image like %s", base, nb.Toolkit, plainImageHint(db, vs.os.Value))
		return nil
	}
	return &Variant{
		Torch: vs.torch.Value, CUDA: compat.CPU, OS: vs.os.Value, Python: vs.python.Value, Flavor: vs.flavor.Value,
		Base: base, TorchVariant: compat.CPU, Unofficial: !torchKnown || tv.Name == "",
		Env: map[string]string{},
	}
}

func plainImageHint(db *compat.DB, os string) string {
	if o, ok := db.OS(os); ok && o.PlainImage() != "" {
		return o.PlainImage()
	}
	return "ubuntu:24.04"
}

// cudaVariant is the data part of a CUDA variant: the torch release's wheels of that CUDA, the
// base image and what it brings, the drivers it needs, NVIDIA_REQUIRE_CUDA.
// bad is set by errf and by sev when it reports an error.
func cudaVariant(ds *Diagnostics, errf, sev variantFail, bad *bool, db *compat.DB, vs *variantSource, rel compat.TorchRelease, torchKnown bool) *Variant {
	cudaRel, cudaKnown := db.CUDA(vs.cuda.Value)

	tv := compat.TorchVariant{}
	if !torchKnown {
		sev(vs.torch.Pos, "torch %s is not in the compatibility data; %s", vs.torch.Value, knownTorch(db, vs.torch.Value))
	} else if t, ok := rel.Variant(vs.cuda.Value); ok {
		tv = t
	} else if cudaKnown {
		sev(vs.cuda.Pos, "torch %s has no %s wheels; it has %s", vs.torch.Value, cudaVariantName(vs.cuda.Value), strings.Join(rel.VariantNames(), ", "))
	}
	if !cudaKnown {
		errf(vs.cuda.Pos, "CUDA %s is not in the compatibility data; known: %s", vs.cuda.Value, strings.Join(db.CUDAVersions(), ", "))
	}
	if *bad {
		return nil
	}

	toolkit := cudaRel.Image
	base := vs.settings.base.Value
	// What the base brings: an nvidia/cuda base its toolkit, forward-compatibility libraries and
	// NVIDIA_REQUIRE_CUDA; any other base (plain Ubuntu, Debian) no CUDA at all: the torch wheels
	// bring the CUDA runtime, and the driver needs only to support its CUDA.
	nvidia := base == ""
	if base != "" {
		nb, ok := parseNvidiaBase(base)
		nvidia = ok
		switch {
		case !ok:
			toolkit = ""
		default:
			toolkit = nb.Toolkit
			bi := db.BaseImage(nb.Toolkit, nb.OS, nb.Flavor)
			switch bi.Exists {
			case compat.Exists:
			case compat.Unknown:
				ds.warnf(vs.settings.base.Pos, "base %s is not in the verified tag data (%s); the build will tell whether it exists", base, noteOr(bi.Note, "not verified"))
			default:
				valid := "no OS"
				if oses := db.BaseOSes(nb.Toolkit, nb.Flavor); len(oses) > 0 {
					valid = strings.Join(oses, ", ")
				}
				errf(vs.settings.base.Pos, "base %s %s; CUDA %s %s images exist for: %s", base, existenceText(bi), nb.Toolkit, nb.Flavor, valid)
				return nil
			}
			if nb.OS != vs.os.Value {
				errf(vs.settings.base.Pos, "base %s is an %s image, but the variant's os is %s: set os: %s, or use the %s tag", base, nb.OS, vs.os.Value, nb.OS, vs.os.Value)
				return nil
			}
			if mm := version.MajorMinor(nb.Toolkit); mm != vs.cuda.Value {
				ds.warnf(vs.settings.base.Pos, "base %s has CUDA %s, the torch wheels CUDA %s: the image's labels and NVIDIA_REQUIRE_CUDA follow the base (CUDA %s)", base, nb.Toolkit, vs.cuda.Value, mm)
			}
		}
	}
	if base == "" {
		if toolkit == "" {
			errf(vs.cuda.Pos, "CUDA %s has no nvidia/cuda image in the compatibility data; set `base:` for these variants", vs.cuda.Value)
			return nil
		}
		bi := db.BaseImage(toolkit, vs.os.Value, nvidiaFlavor(vs.flavor.Value))
		switch bi.Exists {
		case compat.Exists:
		case compat.Unknown:
			ds.warnf(vs.os.Pos, "base image %s is not in the verified tag data (%s); the build will tell whether it exists", bi.Ref, noteOr(bi.Note, "not verified"))
		default:
			oses := db.BaseOSes(toolkit, nvidiaFlavor(vs.flavor.Value))
			valid := "no OS"
			if len(oses) > 0 {
				valid = strings.Join(oses, ", ")
			}
			errf(vs.os.Pos, "base image %s %s; CUDA %s %s images exist for: %s", bi.Ref, existenceText(bi), toolkit, nvidiaFlavor(vs.flavor.Value), valid)
			return nil
		}
		base = bi.Ref
	}

	v := &Variant{
		Torch: vs.torch.Value, CUDA: vs.cuda.Value, OS: vs.os.Value, Python: vs.python.Value, Flavor: vs.flavor.Value,
		Base: base, TorchVariant: cudaVariantName(vs.cuda.Value), CUDAToolkit: toolkit,
		PyPIDefault: torchKnown && rel.Default == cudaVariantName(vs.cuda.Value),
		Unofficial:  !torchKnown || tv.Name == "",
	}
	if tv.CUDNN.Known() {
		v.CUDNN = tv.CUDNN.Value
	}
	if tv.NCCL.Known() {
		v.NCCL = tv.NCCL.Value
	}
	if tv.Archs.Known() {
		v.CUDAArchs = tv.Archs.Value
		native, ptx, none := arch.ParseList(v.CUDAArchs).Runnable(db.GPUArchitectures())
		v.RunsOn = &RunsOn{Native: native, PTX: ptx, None: none}
	}
	// The driver minimum: of the base's toolkit, or, on a base without CUDA, of the toolkit the
	// wheels were built with (torchimg's own update release of that CUDA when not known).
	need := toolkit
	if !nvidia {
		need = cudaRel.Image
		if tv.Toolkit.Known() {
			need = tv.Toolkit.Value
		}
		v.CUDAToolkit = need // names the CUDA of the wheels in tags ({{.CUDA.Full}}); no label claims it
		v.BaseCUDA = false
	} else {
		v.BaseCUDA = true
	}
	if md := db.MinDriver(need); need != "" && md.Known() {
		v.DriverMin = md.Value
	}
	floorOf := cudaRel
	if toolkit != "" {
		if r, ok := db.CUDA(version.MajorMinor(toolkit)); ok {
			floorOf = r
		}
	}
	if floorOf.CompatFloor.Known() {
		v.DriverMinCompat = floorOf.CompatFloor.Value
	}
	v.Env = map[string]string{
		"NVIDIA_VISIBLE_DEVICES":     "all",
		"NVIDIA_DRIVER_CAPABILITIES": "compute,utility",
	}
	switch {
	case !nvidia:
		// No CUDA in the base: no forward-compatibility libraries, so no brand clauses.
		v.Env["NVIDIA_REQUIRE_CUDA"] = "cuda>=" + vs.cuda.Value
	case toolkit != "":
		if rq := db.RequireCUDA(toolkit); rq.Known() {
			v.Env["NVIDIA_REQUIRE_CUDA"] = rq.Value
		}
		// Otherwise the base's own NVIDIA_REQUIRE_CUDA stays: torchimg does not know a better one.
	}
	// The torch release's other CUDA variants (from the data, not from the matrix: an image
	// depends on its own inputs only, and adding a variant must not change the others).
	for _, o := range rel.Variants {
		if o.CUDA == v.CUDA {
			continue
		}
		a := Alternative{CUDA: o.CUDA, Variant: o.Name}
		if c, ok := db.CUDA(o.CUDA); ok && c.Image != "" {
			if md := db.MinDriver(c.Image); md.Known() {
				a.DriverMin = md.Value
			}
		}
		v.Alternatives = append(v.Alternatives, a)
	}
	return v
}

func torchHint(s string) string {
	if h := localTorchHint(s); h != "" {
		return h
	}
	if strings.Count(s, ".") == 1 {
		return " (three numbers: major.minor.patch)"
	}
	return ""
}

func knownTorch(db *compat.DB, v string) string {
	all := db.TorchVersions()
	mm := version.MajorMinor(v)
	var same []string
	for _, t := range all {
		if version.MajorMinor(t) == mm {
			same = append(same, t)
		}
	}
	if len(same) > 0 {
		return fmt.Sprintf("known %s releases: %s", mm, strings.Join(same, ", "))
	}
	if u, ok := db.Upcoming(mm); ok {
		return fmt.Sprintf("torch %s is not released yet (expected variants %s; %s); the newest release is %s", mm, strings.Join(u.Variants, ", "), u.Note, all[len(all)-1])
	}
	return fmt.Sprintf("known releases: %s", strings.Join(all, ", "))
}

func noteOr(n, d string) string {
	if n != "" {
		return n
	}
	return d
}

func existenceText(bi compat.BaseImage) string {
	if bi.Exists == compat.Deleted {
		return "was deleted under NVIDIA's support policy (" + noteOr(bi.Note, "a newer update release exists") + ")"
	}
	if bi.Rule != "" {
		return "does not exist (" + bi.Rule + ")"
	}
	return "does not exist"
}

// nvidiaFlavor maps a torchimg flavor to the nvidia/cuda image flavor it builds on.
// runtime builds on `base` (cudart, the forward-compatibility libraries and
// NVIDIA_REQUIRE_CUDA): the torch wheels bring their own cuBLAS, cuDNN and NCCL, so the
// nvidia runtime layer would only duplicate them. devel builds on `devel` (nvcc, headers)
// so that CUDA extensions compile against the same toolkit.
func nvidiaFlavor(f string) string {
	if f == "devel" {
		return "devel"
	}
	return "base"
}

// finishVariants sorts the variants and fills their tag lists.
func finishVariants(vs []*Variant) {
	sort.SliceStable(vs, func(i, j int) bool { return lessVariant(vs[i], vs[j]) })
	for _, v := range vs {
		v.Tags = append(append([]string(nil), v.ImmutableTags...), v.FloatingTags...)
		if v.ImmutableTags == nil {
			v.ImmutableTags = []string{}
		}
		if v.FloatingTags == nil {
			v.FloatingTags = []string{}
		}
	}
}

func lessVariant(a, b *Variant) bool {
	if c := version.Compare(a.Torch, b.Torch); c != 0 {
		return c < 0
	}
	if c := version.Compare(a.CUDA, b.CUDA); c != 0 {
		return c < 0
	}
	if a.OS != b.OS {
		return a.OS < b.OS
	}
	if c := version.Compare(strings.TrimSuffix(a.Python, "t"), strings.TrimSuffix(b.Python, "t")); c != 0 {
		return c < 0
	}
	if a.Python != b.Python {
		return a.Python < b.Python
	}
	return a.Flavor > b.Flavor // runtime before devel
}

// TemplateDirExists is the default check for template_dir.
func TemplateDirExists(dir string) error {
	st, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("template directory %s: %w", dir, err)
	}
	if !st.IsDir() {
		return fmt.Errorf("template directory %s is not a directory", dir)
	}
	if _, err := os.Stat(filepath.Join(dir, "Dockerfile.tmpl")); err != nil {
		return fmt.Errorf("template directory %s has no Dockerfile.tmpl", dir)
	}
	return nil
}
