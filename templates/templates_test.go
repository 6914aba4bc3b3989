package templates

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/torchimg/torchimg/matrix"
	"github.com/torchimg/torchimg/matrix/compat"
)

var update = flag.Bool("update", false, "rewrite the golden files")

func plan(t *testing.T) *matrix.Plan {
	t.Helper()
	db, err := compat.Default()
	if err != nil {
		t.Fatal(err)
	}
	p, _, err := matrix.Load("testdata/matrix.yaml", db, matrix.Options{TemplateExists: matrix.TemplateDirExists})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestGoldenDockerfiles(t *testing.T) {
	p := plan(t)
	if len(p.Variants) != 5 {
		t.Fatalf("%d variants", len(p.Variants))
	}
	for _, v := range p.Variants {
		t.Run(v.ID, func(t *testing.T) {
			c, err := Render(p, v)
			if err != nil {
				t.Fatal(err)
			}
			golden := filepath.Join("testdata", "golden", v.ID+".Dockerfile")
			if *update {
				if err := os.WriteFile(golden, c.Dockerfile(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test ./templates -update)", err)
			}
			if !bytes.Equal(c.Dockerfile(), want) {
				t.Errorf("%s differs from the rendering; review and run go test ./templates -update\n--- got:\n%s", golden, c.Dockerfile())
			}
		})
	}
}

func TestContextFiles(t *testing.T) {
	p := plan(t)
	v, _ := p.Variant("2.9.1-cu128-py3.12-runtime-ubuntu24.04")
	c, err := Render(p, v)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"Dockerfile", "install-python.sh", "constraints.txt", "torchimg-entrypoint.sh", "selfcheck.sh", "image.env"} {
		if len(c.Files[f]) == 0 {
			t.Errorf("context lacks %s", f)
		}
	}
	if _, ok := c.Files["Dockerfile.tmpl"]; ok {
		t.Error("the template itself must not be in the context")
	}
	env := string(c.Files["image.env"])
	for _, want := range []string{"TORCHIMG_DRIVER_MIN='570.124.06'", "TORCHIMG_DRIVER_MIN_COMPAT='525'", "TORCHIMG_ALTERNATIVES='12.6=560.35.05 13.0=580.95.05'"} {
		if !strings.Contains(env, want) {
			t.Errorf("image.env lacks %s:\n%s", want, env)
		}
	}
	// Extras are installed under a constraint that keeps the variant's torch.
	if !strings.Contains(string(c.Files["constraints.txt"]), "\ntorch==2.9.1+cu128\n") {
		t.Errorf("constraints.txt does not pin torch:\n%s", c.Files["constraints.txt"])
	}
	// A $ in a label reaches the image literally, not as a build-time variable.
	if !strings.Contains(string(c.Dockerfile()), `org.example.cost-center="ml-\$infra"`) {
		t.Error("label value with $ not escaped")
	}
	dir := t.TempDir()
	if err := c.WriteDir(dir); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(filepath.Join(dir, "selfcheck.sh")); err != nil || st.Mode()&0o100 == 0 {
		t.Errorf("selfcheck.sh not executable: %v", err)
	}
}

// A CPU variant: torch's CPU wheels (+cpu, from the CPU index) on the plain OS image, no NVIDIA_*
// environment, no CUDA labels, no GPU self-check, and image.env without CUDA facts.
func TestCPUContext(t *testing.T) {
	p := plan(t)
	v, ok := p.Variant("2.9.1-cpu-py3.12-runtime-ubuntu24.04")
	if !ok {
		t.Fatal("no CPU variant in testdata/matrix.yaml")
	}
	c, err := Render(p, v)
	if err != nil {
		t.Fatal(err)
	}
	df := string(c.Dockerfile())
	for _, want := range []string{
		`ARG BASE_IMAGE="ubuntu:24.04"`,
		"ARG TORCH_VERSION=2.9.1+cpu\n",
		`ARG TORCH_INDEX_URL="https://download.pytorch.org/whl/cpu"`,
		"COPY --chmod=0755 torchimg-entrypoint.sh /usr/local/lib/torchimg/\n",
		`io.torchimg.torch.cuda-variant="cpu"`,
	} {
		if !strings.Contains(df, want) {
			t.Errorf("CPU Dockerfile lacks %q:\n%s", want, df)
		}
	}
	for _, not := range []string{"NVIDIA_", "\nENV NVIDIA", "CUDA_HOME", "selfcheck.sh", "io.torchimg.torch.cuda=", "cuda.version", "driver.minimum", "cuda.archs"} {
		if strings.Contains(df, not) {
			t.Errorf("CPU Dockerfile has %q:\n%s", not, df)
		}
	}
	if !strings.Contains(string(c.Files["constraints.txt"]), "\ntorch==2.9.1+cpu\n") {
		t.Errorf("constraints.txt does not pin the CPU torch:\n%s", c.Files["constraints.txt"])
	}
	env := string(c.Files["image.env"])
	for _, want := range []string{"TORCHIMG_CUDA=''", "TORCHIMG_DRIVER_MIN=''", "TORCHIMG_ALTERNATIVES=''", "TORCHIMG_VARIANT='2.9.1-cpu-py3.12-runtime-ubuntu24.04'"} {
		if !strings.Contains(env, want) {
			t.Errorf("image.env lacks %s:\n%s", want, env)
		}
	}
	// devel: ninja and the compiler for C++ extensions, but no CUDA_HOME.
	d := *v
	d.Flavor = "devel"
	c, err = Render(p, &d)
	if err != nil {
		t.Fatal(err)
	}
	if df := string(c.Dockerfile()); strings.Contains(df, "CUDA_HOME") || !strings.Contains(df, `TORCHIMG_EXTRA_PACKAGES="ninja numpy`) {
		t.Errorf("CPU devel Dockerfile:\n%s", df)
	}
}

func TestUserTemplateDir(t *testing.T) {
	p := plan(t)
	v, _ := p.Variant("2.9.1-cu126-py3.12-runtime-ubuntu24.04")
	c, err := Render(p, v)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(c.Dockerfile()), "# A user template") || string(c.Files["extra.txt"]) != "copied verbatim\n" {
		t.Errorf("user template not used:\n%s", c.Dockerfile())
	}
	if len(c.Files["selfcheck.sh"]) == 0 {
		t.Error("default files must stay available to user templates")
	}
}

func TestQuote(t *testing.T) {
	for in, want := range map[string]string{`a`: `"a"`, `a"b`: `"a\"b"`, `$HOME`: `"\$HOME"`, `a\b`: `"a\\b"`} {
		if got := Quote(in); got != want {
			t.Errorf("Quote(%q) = %s, want %s", in, got, want)
		}
	}
}

// compiler: false leaves gcc, g++ and Python's headers out, and the Dockerfile says what that costs.
func TestNoCompiler(t *testing.T) {
	p := plan(t)
	v, _ := p.Variant("2.9.1-cu128-py3.12-runtime-ubuntu24.04")
	nc := *v
	nc.Compiler = false
	c, err := Render(p, &nc)
	if err != nil {
		t.Fatal(err)
	}
	df := string(c.Dockerfile())
	if !strings.Contains(df, `install-python.sh "${PYTHON_VERSION}" no-compiler`) || !strings.Contains(df, `torch.compile fails with "Failed to find C compiler"`) {
		t.Errorf("compiler: false not rendered:\n%s", df)
	}
}
