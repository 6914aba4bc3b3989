// Package templates renders a variant's build context: the Dockerfile from a template,
// the Python installer, pip's torch constraint, the in-image self-check and the facts file it
// reads.
package templates

import (
	"bytes"
	"embed"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"text/template"

	"github.com/torchimg/torchimg/gpu/require"
	"github.com/torchimg/torchimg/matrix"
	"github.com/torchimg/torchimg/templates/imageenv"
)

//go:embed default
var embedded embed.FS

// DockerfileTemplate is the name of the Dockerfile template in a template directory.
const DockerfileTemplate = "Dockerfile.tmpl"

// PythonStage names the default template's first stage: the base image with Python and the
// virtual environment /opt/venv, before torch (torchimg lock runs pip's resolver on it).
const PythonStage = "python"

// PipCache is the id of the cache mount that holds pip's cache in the default template's pip
// steps (one download per wheel per daemon; the cache is never part of an image).
const PipCache = "torchimg-pip"

// PipCacheID is that cache as LLB names it: the Dockerfile frontend puts its cache namespace (none)
// and a / before the Dockerfile's id. Raw LLB that mounts PipCacheID shares pip's cache with builds.
const PipCacheID = "/" + PipCache

// SecretNetrc is the BuildKit secret the default template mounts at /root/.netrc in every pip
// step, so that pip authenticates to private indexes with no credentials in the matrix, an ARG,
// an ENV or a layer (torchimg build --secret id=netrc,src=FILE).
const SecretNetrc = "netrc"

// ExtraInstalls are the requirements pip installs after torch, in one step constrained to the
// variant's torch: ninja in devel images (torch.utils.cpp_extension builds in parallel with it),
// then the matrix's extra_packages.
func ExtraInstalls(v *matrix.Variant) []string {
	var out []string
	if v.Flavor == "devel" {
		out = append(out, "ninja")
	}
	return append(out, v.ExtraPackages...)
}

// Context is a rendered build context: file name → content (all at the top level).
type Context struct {
	Files map[string][]byte
}

// Dockerfile returns the rendered Dockerfile.
func (c *Context) Dockerfile() []byte { return c.Files["Dockerfile"] }

// WriteDir writes the context into dir (created if needed).
func (c *Context) WriteDir(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("write context %s: %w", dir, err)
	}
	names := make([]string, 0, len(c.Files))
	for n := range c.Files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		mode := os.FileMode(0o644)
		if strings.HasSuffix(n, ".sh") {
			mode = 0o755
		}
		if err := os.WriteFile(filepath.Join(dir, n), c.Files[n], mode); err != nil {
			return fmt.Errorf("write context %s: %w", dir, err)
		}
	}
	return nil
}

// KV is a sorted name/value pair for templates.
type KV struct{ Key, Value string }

// Data is what a Dockerfile template sees.
type Data struct {
	V            *matrix.Variant
	Plan         *matrix.Plan
	Env          []KV // sorted
	Labels       []KV // sorted
	TemplateName string
	// PythonStage, PipCache and SecretNetrc are the constants of the same names.
	PythonStage, PipCache, SecretNetrc string
	// ExtraInstalls is ExtraInstalls(V).
	ExtraInstalls []string
	// TorchVersion is torch as pip installs it, with its local version (2.9.1+cu128): the
	// Dockerfile's TORCH_VERSION and the torch pin of constraints.txt.
	TorchVersion string
	// ImageEnv is where the facts file goes in the image (imageenv.Path).
	ImageEnv string
	// TorchLock and ExtrasLock name the requirement files of a locked variant (V.Pins).
	TorchLock, ExtrasLock string
}

func sortedKV(m map[string]string) []KV {
	out := make([]KV, 0, len(m))
	for k, v := range m {
		out = append(out, KV{k, v})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}

// Quote renders s as a double-quoted Dockerfile word: \, " and $ are escaped so the
// value reaches the image literally (no variable expansion).
func Quote(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, `$`, `\$`)
	return `"` + r.Replace(s) + `"`
}

var funcs = template.FuncMap{
	"quote": Quote,
	"join":  strings.Join,
}

// source returns the template files: the embedded defaults, overlaid by the variant's
// template directory when it has one (its files win).
func source(v *matrix.Variant) (map[string][]byte, string, error) {
	files := map[string][]byte{}
	err := fs.WalkDir(embedded, "default", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := embedded.ReadFile(p)
		files[strings.TrimPrefix(p, "default/")] = b
		return err
	})
	if err != nil {
		return nil, "", err
	}
	name := "embedded default template"
	if v.TemplateDir != "" {
		name = v.TemplateDir
		entries, err := os.ReadDir(v.TemplateDir)
		if err != nil {
			return nil, "", fmt.Errorf("template directory of %s: %w", v.ID, err)
		}
		for _, e := range entries {
			if e.IsDir() {
				continue
			}
			b, err := os.ReadFile(filepath.Join(v.TemplateDir, e.Name()))
			if err != nil {
				return nil, "", fmt.Errorf("template directory of %s: %w", v.ID, err)
			}
			files[e.Name()] = b
		}
	}
	return files, name, nil
}

// Render renders the build context of one variant.
func Render(p *matrix.Plan, v *matrix.Variant) (*Context, error) {
	src, name, err := source(v)
	if err != nil {
		return nil, err
	}
	data := Data{V: v, Plan: p, Env: sortedKV(v.Env), Labels: sortedKV(v.Labels), TemplateName: name,
		PythonStage: PythonStage, PipCache: PipCache, SecretNetrc: SecretNetrc, ExtraInstalls: ExtraInstalls(v),
		TorchVersion: v.Torch + "+" + v.TorchVariant, ImageEnv: imageenv.Path, TorchLock: TorchLockFile, ExtrasLock: ExtrasLockFile}
	ctx := &Context{Files: map[string][]byte{}}
	for fname, b := range src {
		if !strings.HasSuffix(fname, ".tmpl") {
			ctx.Files[fname] = b
			continue
		}
		t, err := template.New(fname).Funcs(funcs).Option("missingkey=error").Parse(string(b))
		if err != nil {
			return nil, fmt.Errorf("template %s (%s): %w", fname, name, err)
		}
		var out bytes.Buffer
		if err := t.Execute(&out, data); err != nil {
			return nil, fmt.Errorf("render %s for %s: %w", fname, v.ID, err)
		}
		ctx.Files[strings.TrimSuffix(fname, ".tmpl")] = out.Bytes()
	}
	if _, ok := ctx.Files["Dockerfile"]; !ok {
		return nil, fmt.Errorf("template %s has no %s", name, DockerfileTemplate)
	}
	ctx.Files[path.Base(imageenv.Path)] = imageEnv(p, v)
	if v.Pins != nil {
		ctx.Files[TorchLockFile] = pinFile(v, "torch", v.Pins.Torch)
		if len(v.Pins.Extras) > 0 {
			ctx.Files[ExtrasLockFile] = pinFile(v, "extras", v.Pins.Extras)
		}
	}
	return ctx, nil
}

// The requirement files of a locked variant in its build context.
const (
	TorchLockFile  = "torch.lock.txt"
	ExtrasLockFile = "extras.lock.txt"
)

// pinFile is a pip requirements file of exact files: "name @ URL --hash=sha256:...".
func pinFile(v *matrix.Variant, step string, pins []matrix.Pin) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "# The %s step of %s, from its lock file: pip install --require-hashes --no-deps -r this.\n", step, v.ID)
	for _, p := range pins {
		fmt.Fprintf(&b, "%s @ %s --hash=sha256:%s\n", p.Name, p.URL, p.SHA256)
	}
	return b.Bytes()
}

// imageEnv is the facts file the in-image self-check reads.
func imageEnv(p *matrix.Plan, v *matrix.Variant) []byte {
	f := imageenv.Facts{
		Variant: v.ID, Repository: p.Repository, Torch: v.Torch, CUDA: v.CUDA, CUDAToolkit: v.CUDAToolkit,
		DriverMin: v.DriverMin, DriverMinCompat: v.DriverMinCompat, CUDAArchs: v.CUDAArchs,
	}
	if v.CPU() {
		// No CUDA facts: torchimg check inside the image reads an empty TORCHIMG_CUDA as a CPU image.
		f.CUDA = ""
	}
	f.ForwardCompat, _ = require.ForwardCompat([]string{v.Env[require.EnvRequireCUDA]})
	if v.RunsOn != nil {
		f.GPUNative, f.GPUPTX, f.GPUNone = v.RunsOn.Native, v.RunsOn.PTX, v.RunsOn.None
	}
	for _, a := range v.Alternatives {
		f.Alternatives = append(f.Alternatives, imageenv.Alternative{CUDA: a.CUDA, DriverMin: a.DriverMin})
	}
	return f.Marshal()
}
