package matrix

import (
	"fmt"
	"path"
	"strings"

	"github.com/torchimg/torchimg/matrix/compat"
)

// variantSource remembers where each value of a variant was written.
type variantSource struct {
	torch, cuda, os, python, flavor Str
	origin                          Pos
	originName                      string     // "axes", "include[2]"
	own                             []Settings // settings of include entries naming this variant
	settings                        resolvedSettings
}

type resolvedSettings struct {
	base, indexURL, pipIndexURL, templateDir Str
	extraPackages                            []Str
	buildArgs                                []KV
	labels                                   []KV
	allowUnofficial, compiler                Bool
}

func (r *resolvedSettings) apply(s Settings) {
	if s.Base.Set {
		r.base = s.Base
	}
	if s.IndexURL.Set {
		r.indexURL = s.IndexURL
	}
	if s.PipIndexURL.Set {
		r.pipIndexURL = s.PipIndexURL
	}
	if s.TemplateDir.Set {
		r.templateDir = s.TemplateDir
	}
	if s.AllowUnofficial.Set {
		r.allowUnofficial = s.AllowUnofficial
	}
	if s.Compiler.Set {
		r.compiler = s.Compiler
	}
	for _, p := range s.ExtraPackages {
		dup := false
		for _, q := range r.extraPackages {
			if q.Value == p.Value {
				dup = true
			}
		}
		if !dup {
			r.extraPackages = append(r.extraPackages, p)
		}
	}
	r.buildArgs = mergeKV(r.buildArgs, s.BuildArgs)
	r.labels = mergeKV(r.labels, s.Labels)
}

func mergeKV(base, over []KV) []KV {
	out := append([]KV(nil), base...)
	for _, kv := range over {
		replaced := false
		for i := range out {
			if out[i].Key.Value == kv.Key.Value {
				out[i] = kv
				replaced = true
			}
		}
		if !replaced {
			out = append(out, kv)
		}
	}
	return out
}

// fieldValue returns a variant field by selector name.
func (s *variantSource) fieldValue(field string) string {
	switch field {
	case "torch":
		return s.torch.Value
	case "cuda":
		return s.cuda.Value
	case "os":
		return s.os.Value
	case "python":
		return s.python.Value
	case "flavor":
		return s.flavor.Value
	}
	return ""
}

func (s *variantSource) key() string {
	return strings.Join([]string{s.torch.Value, s.cuda.Value, s.os.Value, s.python.Value, s.flavor.Value}, "|")
}

// matches reports whether a selector matches the variant. pypiDefault tells whether the
// variant's CUDA is its torch release's PyPI default.
func (sel *Selector) matches(s *variantSource, pypiDefault bool) bool {
	for _, t := range sel.Terms {
		if t.Field == "pypi_default" {
			if t.Bool.Value != pypiDefault {
				return false
			}
			continue
		}
		v := s.fieldValue(t.Field)
		ok := false
		for _, p := range t.Patterns {
			if m, err := path.Match(p.Value, v); err == nil && m {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

func checkSelectorPatterns(ds *Diagnostics, sel *Selector, what string) {
	if sel == nil {
		return
	}
	for _, t := range sel.Terms {
		for _, p := range t.Patterns {
			if _, err := path.Match(p.Value, ""); err != nil {
				ds.errorf(p.Pos, "%s.%s: bad pattern %q (use * and ? as in shell globs): %v", what, t.Field, p.Value, err)
			}
			if strings.ContainsAny(p.Value, "\n\r\x00") {
				ds.errorf(p.Pos, "%s.%s: control characters are not allowed", what, t.Field)
			}
			if t.Field == "cuda" && p.Value == Official {
				ds.errorf(p.Pos, "%s.cuda: selectors match the variants' CUDA after expansion; %s is only a value of the cuda axis: write the CUDA minors (%q, \"13.*\") or %s", what, Official, "12.8", compat.CPU)
			}
			if t.Field != "torch" {
				continue
			}
			if h := localTorchHint(p.Value); h != "" {
				ds.errorf(p.Pos, "%s.torch %q: want a release version or pattern like 2.9.1 or 2.9.*%s", what, clip(p.Value), h)
			}
		}
	}
}

// MaxVariants bounds the expansion of one matrix.
const MaxVariants = 100000

// Official is the cuda axis value that stands for each torch release's own CUDA variants in the
// compatibility data (compat.TorchRelease.Variants): `cuda: [official]` builds, per torch of the
// torch axis, exactly the CUDA variants PyTorch ships for it. It mixes with explicit values
// (`cuda: [official, cpu]`); exclude, overrides and tag selectors see the expanded values.
const Official = "official"

// Expansion is what one `official` of the cuda axis stood for, for one torch release: shown by
// plan, so a maintainer sees which variants it made.
type Expansion struct {
	At    string   `json:"at"` // file:line:col of the `official` value
	Torch string   `json:"torch"`
	CUDA  []string `json:"cuda"`
}

// officialFunc returns a torch release's official CUDA minors, or why there are none.
type officialFunc func(torch string) (cuda []string, why string)

// axisCUDA is the cuda axis for one torch release: `official` replaced by the release's CUDA
// variants (at the position of `official`), explicit values kept, each value once.
func axisCUDA(ds *Diagnostics, cudas []Str, torch Str, official officialFunc, record func(Expansion)) (out []Str, fromOfficial map[string]bool) {
	seen := map[string]bool{}
	add := func(c Str) bool {
		if seen[c.Value] {
			return false
		}
		seen[c.Value] = true
		out = append(out, c)
		return true
	}
	for _, c := range cudas {
		if c.Value != Official {
			add(c)
			continue
		}
		list, why := official(torch.Value)
		if why != "" {
			ds.errorf(c.Pos, "axes.cuda: %s stands for each torch release's own CUDA variants, but %s; list the CUDA minors of torch %s instead, e.g. cuda: [%q]", Official, why, clip(torch.Value), "12.8")
			continue
		}
		for _, minor := range list {
			if add(Str{Value: minor, Pos: c.Pos, Set: true}) {
				if fromOfficial == nil {
					fromOfficial = map[string]bool{}
				}
				fromOfficial[minor] = true
			}
		}
		if record != nil {
			record(Expansion{At: c.Pos.String(), Torch: torch.Value, CUDA: list})
		}
	}
	return out, fromOfficial
}

// expand builds the variant list from axes, exclude and include, in a stable order.
// Python left unset is filled later (it depends on the OS). official resolves the cuda axis
// value `official`; record (may be nil) is told what each one stood for.
func expand(f *File, ds *Diagnostics, osPython func(string) string, official officialFunc, record func(Expansion)) []*variantSource {
	defFlavor := Str{Value: "runtime", Pos: Pos{File: f.Path}, Set: true}
	if f.Defaults.Flavor.Set {
		defFlavor = f.Defaults.Flavor
	}
	pyFor := func(explicit Str, os Str) Str {
		if explicit.Set {
			return explicit
		}
		if f.Defaults.Python.Set {
			return f.Defaults.Python
		}
		if p := osPython(os.Value); p != "" {
			return Str{Value: p, Pos: os.Pos, Set: true}
		}
		return Str{Pos: os.Pos}
	}

	var out []*variantSource
	seen := map[string]*variantSource{}
	a := f.Axes
	if a.Set {
		missing := []string{}
		if len(a.Torch) == 0 {
			missing = append(missing, "torch")
		}
		if len(a.CUDA) == 0 {
			missing = append(missing, "cuda")
		}
		if len(a.OS) == 0 {
			missing = append(missing, "os")
		}
		if len(missing) > 0 {
			ds.errorf(a.Pos, "axes: missing or empty %s; axes needs torch, cuda and os lists (python and flavor are optional)", strings.Join(missing, ", "))
		} else {
			pythons := a.Python
			if len(pythons) == 0 {
				pythons = []Str{{}}
			}
			flavors := a.Flavor
			if len(flavors) == 0 {
				flavors = []Str{defFlavor}
			}
			// The cuda axis per torch release (official differs per release), then the product.
			cudaOf := make([][]Str, len(a.Torch))
			officialOf := make([]map[string]bool, len(a.Torch))
			n, cudaCount := 0, 0
			for i, t := range a.Torch {
				cudaOf[i], officialOf[i] = axisCUDA(ds, a.CUDA, t, official, record)
				cudaCount = max(cudaCount, len(cudaOf[i]))
				m := len(cudaOf[i])
				for _, l := range []int{len(a.OS), len(pythons), len(flavors)} {
					m *= l
					if m > MaxVariants {
						break
					}
				}
				if n += m; n > MaxVariants {
					break
				}
			}
			if n > MaxVariants {
				ds.errorf(a.Pos, "axes: %d × %d × %d × %d × %d combinations is more than %d", len(a.Torch), cudaCount, len(a.OS), len(pythons), len(flavors), MaxVariants)
				return nil
			}
			for i, t := range a.Torch {
				for _, c := range cudaOf[i] {
					name := "axes"
					if officialOf[i][c.Value] {
						name = "axes, cuda " + Official
					}
					for _, o := range a.OS {
						for _, p := range pythons {
							for _, fl := range flavors {
								vs := &variantSource{torch: t, cuda: c, os: o, python: pyFor(p, o), flavor: fl, origin: a.Pos, originName: name}
								if _, dup := seen[vs.key()]; dup {
									continue // duplicate axis values are reported in validation
								}
								seen[vs.key()] = vs
								out = append(out, vs)
							}
						}
					}
				}
			}
		}
	}

	for i, ex := range f.Exclude {
		checkSelectorPatterns(ds, &ex, fmt.Sprintf("exclude[%d]", i))
	}
	if len(f.Exclude) > 0 {
		used := make([]bool, len(f.Exclude))
		kept := out[:0]
		for _, vs := range out {
			drop := false
			for i := range f.Exclude {
				if f.Exclude[i].matches(vs, false) && !excludeUsesPyPIDefault(&f.Exclude[i]) {
					drop, used[i] = true, true
				}
			}
			if !drop {
				kept = append(kept, vs)
			} else {
				delete(seen, vs.key())
			}
		}
		out = kept
		for i, u := range used {
			if !u {
				ds.warnf(f.Exclude[i].Pos, "exclude[%d] matches no variant of the axes; check its values", i)
			}
		}
		for i := range f.Exclude {
			if excludeUsesPyPIDefault(&f.Exclude[i]) {
				ds.errorf(f.Exclude[i].Pos, "exclude[%d]: pypi_default is only for tag rules (only/prefer); exclude by torch, cuda, os, python, flavor", i)
			}
		}
	}

	for i, inc := range f.Include {
		what := fmt.Sprintf("include[%d]", i)
		var missing []string
		if !inc.Torch.Set {
			missing = append(missing, "torch")
		}
		if !inc.CUDA.Set {
			missing = append(missing, "cuda")
		}
		if !inc.OS.Set {
			missing = append(missing, "os")
		}
		if len(missing) > 0 {
			ds.errorf(inc.Pos, "%s: missing %s; an include entry names torch, cuda and os (python and flavor default like the axes)", what, strings.Join(missing, ", "))
			continue
		}
		if inc.CUDA.Value == Official {
			ds.errorf(inc.CUDA.Pos, "%s.cuda: %s is a value of the cuda axis (each torch release's own CUDA variants); an include entry names one variant: a CUDA minor like %q, or %s", what, Official, "12.8", compat.CPU)
			continue
		}
		fl := inc.Flavor
		if !fl.Set {
			fl = defFlavor
		}
		vs := &variantSource{torch: inc.Torch, cuda: inc.CUDA, os: inc.OS, python: pyFor(inc.Python, inc.OS), flavor: fl, origin: inc.Pos, originName: what}
		if prev, dup := seen[vs.key()]; dup {
			// Same combination as an existing variant: the entry's settings apply to it.
			prev.own = append(prev.own, inc.Settings)
			continue
		}
		vs.own = append(vs.own, inc.Settings)
		seen[vs.key()] = vs
		out = append(out, vs)
	}
	return out
}

func excludeUsesPyPIDefault(s *Selector) bool {
	for _, t := range s.Terms {
		if t.Field == "pypi_default" {
			return true
		}
	}
	return false
}
