package matrix

import (
	"bytes"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"text/template"

	"github.com/torchimg/torchimg/internal/version"
	"github.com/torchimg/torchimg/matrix/compat"
	"github.com/torchimg/torchimg/report"
)

// TagData is what a tag template sees: {{.Torch.MajorMinor}}-cu{{.CUDA.Short}}.
type TagData struct {
	Torch   TorchVersion
	CUDA    CUDAVersion
	Python  PythonVersion
	OS      string
	Flavor  string
	Variant string
	// Inputs is the variant's input fingerprint, 12 hex digits: an immutable tag with it names
	// one content, and changed inputs (a new base digest, a new template) get a new tag.
	Inputs InputsID
	cudnn  string
	cpu    bool
}

// InputsMarker stands for the input fingerprint in a tag until the fingerprint is known (it
// needs the base image's digest): plan and validate show it, build and plan --diff resolve it
// (Plan.SetInputs).
const InputsMarker = "{inputs}"

// InputsID renders as the first 12 hex digits of the variant's input fingerprint.
type InputsID struct{ short string }

func (i InputsID) String() string {
	if i.short == "" {
		return InputsMarker
	}
	return i.short
}

// CUDNN is the bundled cuDNN ("9.10.2.21"; .Major "9"). Using it when the compatibility data
// does not know it is an error, never a guess.
func (d TagData) CUDNN() (CUDNNVersion, error) {
	if d.cpu {
		return CUDNNVersion{}, fmt.Errorf("a CPU variant (cuda: %s) has no cuDNN; keep this rule to the CUDA variants (only: {cuda: \"[0-9]*\"}) and give the CPU variants a rule without {{.CUDNN}} (only: {cuda: %s})", compat.CPU, compat.CPU)
	}
	if d.cudnn == "" {
		return CUDNNVersion{}, fmt.Errorf("the cuDNN version of this torch variant is not known")
	}
	return CUDNNVersion{d.cudnn}, nil
}

// TorchVersion renders as "2.9.1".
type TorchVersion struct{ v string }

func (t TorchVersion) String() string     { return t.v }
func (t TorchVersion) MajorMinor() string { return version.MajorMinor(t.v) }
func (t TorchVersion) Major() string      { return part(t.v, 0) }
func (t TorchVersion) Minor() string      { return part(t.v, 1) }
func (t TorchVersion) Patch() string      { return part(t.v, 2) }

// CUDAVersion renders as the torch CUDA variant's minor, "12.8". Its fields are unexported, so
// a template reaches the toolkit only through Full, which fails when it is not known.
//
// A CPU variant (cuda: cpu) renders as compat.CPU ("cpu") in String, Short, Variant and Full, and a
// tag template's literal "cu" or "cuda" right before {{.CUDA}}, {{.CUDA.Short}} or {{.CUDA.Full}}
// is left out for it (see cpuTagText): `{{.Torch.MajorMinor}}-cu{{.CUDA.Short}}` gives 2.9-cpu,
// never 2.9-cucpu. Major and Minor are errors there: it has no CUDA version.
type CUDAVersion struct {
	minor, full string
	cpu         bool
}

func (c CUDAVersion) String() string { return c.minor }
func (c CUDAVersion) Short() string {
	if c.cpu {
		return compat.CPU
	}
	return strings.ReplaceAll(c.minor, ".", "")
}

// Variant is the torch variant's name: cu128, or cpu.
func (c CUDAVersion) Variant() string {
	if c.cpu {
		return compat.CPU
	}
	return "cu" + c.Short()
}
func (c CUDAVersion) Major() (string, error) { return c.part(0) }
func (c CUDAVersion) Minor() (string, error) { return c.part(1) }

func (c CUDAVersion) part(i int) (string, error) {
	if c.cpu {
		return "", errCPUNoCUDA
	}
	return part(c.minor, i), nil
}

var errCPUNoCUDA = fmt.Errorf("a CPU variant (cuda: %s) has no CUDA version; use {{.CUDA.Variant}} (cu128, or %s)", compat.CPU, compat.CPU)

// Full is the toolkit of the base image, "12.8.1" (cpu for a CPU variant).
func (c CUDAVersion) Full() (string, error) {
	if c.cpu {
		return compat.CPU, nil
	}
	if c.full == "" {
		return "", fmt.Errorf("the full CUDA toolkit version of CUDA %s is not known", c.minor)
	}
	return c.full, nil
}

// reCUDAPrefix is a literal "cu" or "cuda" right before {{.CUDA}}, {{.CUDA.Short}} or
// {{.CUDA.Full}} in a tag template (with optional trim markers and spaces in the action).
var reCUDAPrefix = regexp.MustCompile(`cu(?:da)?(\{\{-?\s*\.CUDA(?:\.Short|\.Full)?\s*-?\}\})`)

// cpuTagText is a tag template as a CPU variant renders it: without the "cu"/"cuda" that
// prefixes its CUDA fields, so the variant's name (cpu) stands alone.
func cpuTagText(text string) string { return reCUDAPrefix.ReplaceAllString(text, "$1") }

// tagTemplate is one tag rule's template, parsed as CUDA variants render it and as CPU
// variants do (cpuTagText).
type tagTemplate struct{ cuda, cpu *template.Template }

func parseTagTemplate(text string) (*tagTemplate, error) {
	t, err := template.New("tag").Option("missingkey=error").Parse(text)
	if err != nil {
		return nil, err
	}
	c, err := template.New("tag").Option("missingkey=error").Parse(cpuTagText(text))
	if err != nil {
		return nil, err
	}
	return &tagTemplate{cuda: t, cpu: c}, nil
}

// PythonVersion renders as "3.12".
type PythonVersion struct{ v string }

func (p PythonVersion) String() string { return p.v }
func (p PythonVersion) Short() string  { return strings.ReplaceAll(p.v, ".", "") }

// CUDNNVersion renders as "9.10.2.21".
type CUDNNVersion struct{ v string }

func (c CUDNNVersion) String() string { return c.v }
func (c CUDNNVersion) Major() string  { return part(c.v, 0) }

func part(v string, i int) string {
	ps := strings.Split(v, ".")
	if i < len(ps) {
		return ps[i]
	}
	return ""
}

func tagData(v *Variant) TagData {
	return TagData{
		Torch: TorchVersion{v.Torch}, CUDA: CUDAVersion{v.CUDA, v.CUDAToolkit, v.CPU()}, Python: PythonVersion{v.Python},
		cudnn: v.CUDNN, cpu: v.CPU(), OS: v.OS, Flavor: v.Flavor, Variant: v.ID, Inputs: InputsID{shortInputs(v.Inputs)},
	}
}

// shortInputs is the tag form of a fingerprint ("sha256:0123456789ab..." → "0123456789ab").
func shortInputs(fp string) string {
	if len(fp) < len("sha256:")+12 {
		return ""
	}
	return fp[len("sha256:") : len("sha256:")+12]
}

func renderTag(tt *tagTemplate, v *Variant) (string, error) {
	t := tt.cuda
	if v.CPU() {
		t = tt.cpu
	}
	var b bytes.Buffer
	if err := t.Execute(&b, tagData(v)); err != nil {
		return "", err
	}
	return b.String(), nil
}

func cleanTemplateErr(err error) string {
	s := err.Error()
	s = strings.TrimPrefix(s, "template: tag:")
	if i := strings.Index(s, "error calling "); i >= 0 {
		if j := strings.Index(s[i:], ": "); j >= 0 {
			return s[i+j+2:]
		}
	}
	return strings.TrimSpace(s)
}

type claim struct {
	v    *Variant
	rule int
}

// assignTags renders every tag rule, checks immutability and resolves floating tags.
func assignTags(ds *Diagnostics, f *File, db *compat.DB, p *Plan, variants []*Variant) {
	immutable := map[string]*Variant{}
	immutableRule := map[string]int{}
	floating := map[string][]claim{}
	floatingRule := map[string]int{}
	var floatingOrder []string
	hasImmutable := false
	ruleErrors := false
	immutableTried := map[*Variant]bool{}

	for ri, rule := range f.Tags {
		what := fmt.Sprintf("tags[%d]", ri)
		kind := report.TagKind(rule.Kind.Value)
		if !rule.Kind.Set {
			ds.errorf(rule.Pos, "%s: missing `kind` (immutable or floating)", what)
			ruleErrors = true
			continue
		}
		if kind == report.Immutable {
			hasImmutable = true
		}
		if kind != report.Immutable && kind != report.Floating {
			ruleErrors = true
			ds.errorf(rule.Kind.Pos, "%s.kind %q: valid kinds are immutable, floating%s", what, clip(string(kind)), didYouMean(string(kind), []string{string(report.Immutable), string(report.Floating)}))
			continue
		}
		if !printable(rule.Template.Value) {
			ds.errorf(rule.Template.Pos, "%s.template: control characters are not allowed", what)
			ruleErrors = true
			continue
		}
		tmpl, err := parseTagTemplate(rule.Template.Value)
		if err != nil {
			ds.errorf(rule.Template.Pos, "%s.template: %s", what, cleanTemplateErr(err))
			ruleErrors = true
			continue
		}
		checkSelectorPatterns(ds, rule.Only, what+".only")
		if kind == report.Immutable {
			if len(rule.Prefer) > 0 {
				ds.errorf(rule.Prefer[0].Pos, "%s: `prefer` is for floating tags; an immutable tag belongs to exactly one variant", what)
			}
		}
		for _, pr := range rule.Prefer {
			if pr.Selector != nil {
				checkSelectorPatterns(ds, pr.Selector, what+".prefer")
			}
			if pr.Highest.Set && !slices.Contains([]string{"torch", "cuda", "python"}, pr.Highest.Value) {
				ds.errorf(pr.Highest.Pos, "%s.prefer.highest %q: valid fields are torch, cuda, python", what, clip(pr.Highest.Value))
			}
		}
		matched := 0
		for _, v := range variants {
			if rule.Only != nil && !rule.Only.matches(&v.src, v.PyPIDefault) {
				continue
			}
			matched++
			if kind == report.Immutable {
				immutableTried[v] = true
			}
			tag, err := renderTag(tmpl, v)
			if err != nil {
				ds.errorf(rule.Template.Pos, "%s.template for variant %s: %s", what, v.ID, cleanTemplateErr(err))
				continue
			}
			pending := strings.Contains(tag, InputsMarker)
			if pending && kind == report.Floating {
				ds.errorf(rule.Template.Pos, "%s: a floating tag follows the newest image of its variants; .Inputs names one build, so it belongs in an immutable tag", what)
				continue
			}
			if !reOCITag.MatchString(strings.ReplaceAll(tag, InputsMarker, "0123456789ab")) {
				reason := "only letters, digits, _ . - are allowed and it must not start with . or -"
				if len(tag) > 128 {
					reason = fmt.Sprintf("%d characters, at most 128", len(tag))
				} else if tag == "" {
					reason = "it is empty"
				}
				ds.errorf(rule.Template.Pos, "%s: tag %q for variant %s is not a valid OCI tag: %s", what, clip(tag), v.ID, reason)
				continue
			}
			if kind == report.Immutable {
				// A tag with the fingerprint is unique: every variant's inputs differ (its build
				// context names it).
				if prev, dup := immutable[tag]; dup && prev != v && !pending {
					ds.errorf(rule.Template.Pos, "%s: immutable tag %q is rendered by two variants: %s (%s) and %s (%s); add a field that differs between them to the template", what, tag, prev.ID, prev.Origin, v.ID, v.Origin)
					continue
				}
				if fr, clash := floatingRule[tag]; clash {
					ds.errorf(rule.Template.Pos, "%s: tag %q is immutable here and floating in tags[%d]", what, tag, fr)
					continue
				}
				immutable[tag] = v
				immutableRule[tag] = ri
				if !slices.Contains(v.ImmutableTags, tag) {
					v.ImmutableTags = append(v.ImmutableTags, tag)
				}
				continue
			}
			if ir, clash := immutableRule[tag]; clash {
				ds.errorf(rule.Template.Pos, "%s: tag %q is floating here and immutable in tags[%d]", what, tag, ir)
				continue
			}
			if fr, seen := floatingRule[tag]; seen && fr != ri {
				ds.errorf(rule.Template.Pos, "%s: floating tag %q is also produced by tags[%d]; one rule per tag", what, tag, fr)
				continue
			}
			if _, seen := floatingRule[tag]; !seen {
				floatingOrder = append(floatingOrder, tag)
			}
			floatingRule[tag] = ri
			floating[tag] = append(floating[tag], claim{v: v, rule: ri})
		}
		if matched == 0 && len(variants) > 0 {
			ds.warnf(rule.Pos, "%s (%s) applies to no variant", what, clip(rule.Template.Value))
		}
	}
	if !hasImmutable && len(f.Tags) > 0 && !ruleErrors {
		ds.errorf(f.Tags[0].Pos, "tags: no immutable tag rule; every variant needs one tag that names exactly one build, e.g. {template: \"{{.Torch}}-cuda{{.CUDA.Full}}-py{{.Python}}-{{.Flavor}}-{{.OS}}\", kind: immutable}")
	}
	for _, v := range variants {
		if len(v.ImmutableTags) == 0 && hasImmutable && !immutableTried[v] && !ruleErrors {
			ds.errorf(v.src.origin, "variant %s gets no immutable tag (every immutable rule's `only` excludes it)", v.ID)
		}
	}

	for _, tag := range floatingOrder {
		claims := floating[tag]
		ri := floatingRule[tag]
		rule := f.Tags[ri]
		winner := preferWinner(ds, rule, ri, tag, claims)
		if winner != nil {
			winner.FloatingTags = append(winner.FloatingTags, tag)
		}
	}
}

func preferWinner(ds *Diagnostics, rule TagRule, ri int, tag string, claims []claim) *Variant {
	if len(claims) == 1 {
		return claims[0].v
	}
	left := make([]*Variant, len(claims))
	for i, c := range claims {
		left[i] = c.v
	}
	if len(rule.Prefer) == 0 {
		ds.errorf(rule.Template.Pos, "tags[%d]: floating tag %q is claimed by %d variants (%s) and the rule has no `prefer`; add one, e.g. prefer: {%s}", ri, tag, len(left), ids(left, 4), differingHint(left))
		return nil
	}
	for _, pr := range rule.Prefer {
		var next []*Variant
		switch {
		case pr.Highest.Set:
			next = highest(left, pr.Highest.Value)
		case pr.Selector != nil:
			for _, v := range left {
				if pr.Selector.matches(&v.src, v.PyPIDefault) {
					next = append(next, v)
				}
			}
		}
		if len(next) > 0 {
			left = next
		}
		if len(left) == 1 {
			return left[0]
		}
	}
	ds.errorf(rule.Template.Pos, "tags[%d]: floating tag %q: the prefer rules leave %d variants (%s); add a rule that separates them, e.g. {%s}", ri, tag, len(left), ids(left, 4), differingHint(left))
	return nil
}

func highest(vs []*Variant, field string) []*Variant {
	get := func(v *Variant) string {
		switch field {
		case "torch":
			return v.Torch
		case "cuda":
			return v.CUDA
		}
		return strings.TrimSuffix(v.Python, "t")
	}
	best := ""
	for _, v := range vs {
		if best == "" || version.Compare(get(v), best) > 0 {
			best = get(v)
		}
	}
	var out []*Variant
	for _, v := range vs {
		if version.Compare(get(v), best) == 0 {
			out = append(out, v)
		}
	}
	return out
}

func ids(vs []*Variant, max int) string {
	var s []string
	for i, v := range vs {
		if i == max {
			s = append(s, fmt.Sprintf("and %d more", len(vs)-max))
			break
		}
		s = append(s, v.ID)
	}
	return strings.Join(s, ", ")
}

// differingHint suggests a preference on the first field where the claimants differ.
func differingHint(vs []*Variant) string {
	fields := []struct {
		name string
		get  func(*Variant) string
	}{
		{"flavor", func(v *Variant) string { return v.Flavor }},
		{"os", func(v *Variant) string { return v.OS }},
		{"python", func(v *Variant) string { return v.Python }},
		{"cuda", func(v *Variant) string { return v.CUDA }},
		{"torch", func(v *Variant) string { return v.Torch }},
	}
	for _, fl := range fields {
		vals := map[string]bool{}
		for _, v := range vs {
			vals[fl.get(v)] = true
		}
		if len(vals) > 1 {
			keys := make([]string, 0, len(vals))
			for k := range vals {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			return fmt.Sprintf("%s: %s", fl.name, keys[len(keys)-1])
		}
	}
	return "os: ubuntu24.04"
}

// SetInputs fills in the input fingerprint of the variants it names (id → "sha256:..."), and
// with it every tag that names it (.Inputs).
func (p *Plan) SetInputs(inputs map[string]string) error {
	for _, v := range p.Variants {
		fp, ok := inputs[v.ID]
		if !ok {
			continue
		}
		if shortInputs(fp) == "" {
			return fmt.Errorf("variant %s: %q is not an input fingerprint (sha256:<64 hex>)", v.ID, fp)
		}
		v.Inputs = fp
		for i, t := range v.ImmutableTags {
			v.ImmutableTags[i] = strings.ReplaceAll(t, InputsMarker, shortInputs(fp))
		}
		for i, t := range v.Tags {
			v.Tags[i] = strings.ReplaceAll(t, InputsMarker, shortInputs(fp))
		}
	}
	return nil
}

// WithInputs writes a variant's input fingerprint ("sha256:...") into a tag in place of the
// {inputs} marker, as SetInputs does.
func WithInputs(tag, fingerprint string) string {
	if strings.Contains(tag, InputsMarker) && shortInputs(fingerprint) != "" {
		return strings.ReplaceAll(tag, InputsMarker, shortInputs(fingerprint))
	}
	return tag
}

// ValidTag says why tag is not a valid OCI tag, or nil.
func ValidTag(tag string) error {
	if !reOCITag.MatchString(tag) {
		if len(tag) > 128 {
			return fmt.Errorf("tag %q: %d characters, at most 128", clip(tag), len(tag))
		}
		return fmt.Errorf("tag %q is not a valid OCI tag: only letters, digits, _ . - are allowed, at most 128, and it must not start with . or -", clip(tag))
	}
	return nil
}

// PlanTags are the plan's tags in report form (the {inputs} marker kept).
func (p *Plan) PlanTags() *report.PlanTags {
	vs := make([]report.VariantTags, 0, len(p.Variants))
	for _, v := range p.Variants {
		vs = append(vs, report.VariantTags{ID: v.ID, Immutable: slices.Clone(v.ImmutableTags), Floating: slices.Clone(v.FloatingTags)})
	}
	return report.NewPlanTags(vs)
}

// TagsPending reports whether some tag of the variant waits for its input fingerprint.
func (v *Variant) TagsPending() bool {
	for _, t := range v.ImmutableTags {
		if strings.Contains(t, InputsMarker) {
			return true
		}
	}
	return false
}
