package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/torchimg/torchimg/internal/version"
	"github.com/torchimg/torchimg/matrix/compat"
	"github.com/torchimg/torchimg/matrix/compat/drift"
	"github.com/torchimg/torchimg/pyindex/pyindextest"
)

// compatIndex serves, under /whl in the layout of download.pytorch.org, one Linux x86_64 wheel
// per release, variant and Python of the embedded data, each with the data's cuDNN and NCCL pins
// in its metadata (PEP 658). With drifted, it also has a torch of the series after the data's
// newest (X.Y.0+cu130) and 2.9.1+cu128 pins nvidia-cudnn-cu12==9.99.0.0.
func compatIndex(t *testing.T, drifted bool) (srv *pyindextest.Server, newRelease, oldCUDNN string) {
	t.Helper()
	db, err := compat.Default()
	if err != nil {
		t.Fatal(err)
	}
	srv = pyindextest.New(t)
	add := func(release, variant string, pythons []string, cudnn, nccl string) {
		mj, _, _ := strings.Cut(drift.CUDAOf(variant), ".")
		md := fmt.Sprintf("Metadata-Version: 2.4\nName: torch\nVersion: %s+%s\nRequires-Dist: filelock\n", release, variant)
		if cudnn != "" {
			md += fmt.Sprintf("Requires-Dist: nvidia-cudnn-cu%s==%s; platform_system == \"Linux\" and platform_machine == \"x86_64\"\n", mj, cudnn)
		}
		if nccl != "" {
			md += fmt.Sprintf("Requires-Dist: nvidia-nccl-cu%s==%s; platform_system == \"Linux\"\n", mj, nccl)
		}
		for _, py := range pythons {
			tag := "cp" + strings.ReplaceAll(strings.TrimSuffix(py, "t"), ".", "")
			abi := tag
			if strings.HasSuffix(py, "t") {
				abi += "t"
			}
			w := pyindextest.Wheel{Filename: fmt.Sprintf("torch-%s+%s-%s-%s-manylinux_2_28_x86_64.whl", release, variant, tag, abi), Metadata: md}
			srv.Add("/whl/torch/", w)
			srv.Add("/whl/"+variant+"/torch/", w)
		}
	}
	versions := db.TorchVersions()
	for _, v := range versions {
		tr, _ := db.Torch(v)
		for _, tv := range tr.Variants {
			cudnn := tv.CUDNN.Value
			if drifted && v == "2.9.1" && tv.Name == "cu128" {
				oldCUDNN, cudnn = cudnn, "9.99.0.0"
			}
			add(v, tv.Name, tr.Python, cudnn, tv.NCCL.Value)
		}
	}
	if drifted {
		if oldCUDNN == "" {
			t.Fatal("the data has no known cuDNN for 2.9.1+cu128; the fixture needs one")
		}
		p, _ := version.Parse(version.MajorMinor(versions[len(versions)-1]))
		newRelease = fmt.Sprintf("%d.%d.0", p[0], p[1]+1)
		add(newRelease, "cu130", []string{"3.12", "3.13"}, "9.13.0.50", "2.27.7")
	}
	return srv, newRelease, oldCUDNN
}

func TestCompatDiffDrift(t *testing.T) {
	srv, rel, old := compatIndex(t, true)
	series := version.MajorMinor(rel)

	code, out, errs := runCmd(t, "compat", "diff", "--index", srv.URL+"/whl", "-o", "json")
	if code != 1 || errs != "" {
		t.Fatalf("exit %d (want 1)\nstderr: %s", code, errs)
	}
	var r drift.Report
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if r.InSync || len(r.Drift) != 2 {
		t.Fatalf("want 2 drift items:\n%s", out)
	}
	change := `change torch series 2.9 variant cu128 cudnn: "` + old + `" -> "9.99.0.0" (2.9.1+cu128 requires nvidia-cudnn-cu12==9.99.0.0; 2.9.0+cu128 pins the data's value)`
	add := `add torch series ` + series + `: releases ["` + rel + `"], python ["3.12", "3.13"], variants [{name: cu130, cuda: "13.0", cudnn: "9.13.0.50", nccl: "2.27.7"}] (default and the sources are not on the index)`
	c, a := r.Drift[0], r.Drift[1]
	if c.Kind != drift.ChangePin || c.Series != "2.9" || c.Field != "cudnn" || c.Data != old || c.Index != "9.99.0.0" ||
		!reflect.DeepEqual(c.Releases, []string{"2.9.1"}) || !reflect.DeepEqual(c.Builds, []string{"2.9.1+cu128"}) ||
		!reflect.DeepEqual(c.Unchanged, []string{"2.9.0+cu128"}) || !reflect.DeepEqual(c.Variants, []drift.VariantRow{{Name: "cu128", CUDA: "12.8"}}) ||
		c.Evidence != "nvidia-cudnn-cu12==9.99.0.0 in "+srv.URL+"/files/torch-2.9.1%2Bcu128-cp310-cp310-manylinux_2_28_x86_64.whl.metadata" ||
		c.Message != change {
		t.Errorf("change item:\n%+v\nwant message %s", c, change)
	}
	if a.Kind != drift.AddSeries || a.Series != series || !reflect.DeepEqual(a.Releases, []string{rel}) ||
		!reflect.DeepEqual(a.Python, []string{"3.12", "3.13"}) || !reflect.DeepEqual(a.Builds, []string{rel + "+cu130"}) ||
		!reflect.DeepEqual(a.Variants, []drift.VariantRow{{Name: "cu130", CUDA: "13.0", CUDNN: "9.13.0.50", NCCL: "2.27.7"}}) ||
		!strings.HasPrefix(a.Message, add) {
		t.Errorf("add item:\n%+v\nwant message %s...", a, add)
	}
	if r.Covered != nil || r.Since != "2.0" || len(r.Indexes) != 1 || r.Indexes[0].Layout != drift.Base {
		t.Errorf("covered %v since %s indexes %+v", r.Covered, r.Since, r.Indexes)
	}

	code, out, errs = runCmd(t, "compat", "diff", "--index", srv.URL+"/whl")
	if code != 1 || errs != "" || !strings.Contains(out, "\n  - "+change+"\n  - "+add) || !strings.Contains(out, "drift: 2 change(s)") {
		t.Errorf("text: exit %d\nstdout: %s\nstderr: %s", code, out, errs)
	}
}

func TestCompatDiffInSync(t *testing.T) {
	srv, _, _ := compatIndex(t, false)
	code, out, errs := runCmd(t, "compat", "diff", "--index", srv.URL+"/whl")
	if code != 0 || !strings.Contains(out, "no drift: the data matches the index") {
		t.Errorf("exit %d (want 0)\nstdout: %s\nstderr: %s", code, out, errs)
	}
	// Two variant indexes, given twice: only their variants are judged.
	code, out, errs = runCmd(t, "compat", "diff", "--index", srv.URL+"/whl/cu128", "--index", srv.URL+"/whl/cu130/torch/", "-o", "json", "--since", "2.9")
	var r drift.Report
	if err := json.Unmarshal([]byte(out), &r); err != nil || code != 0 || !r.InSync ||
		!reflect.DeepEqual(r.Covered, []string{"cu128", "cu130"}) || r.Since != "2.9" {
		t.Errorf("exit %d, %v\nstdout: %s\nstderr: %s", code, err, out, errs)
	}
}

func TestCompatDiffErrors(t *testing.T) {
	srv := pyindextest.New(t)
	srv.Raw("/home/torch/", http.StatusOK, "text/html", "<!DOCTYPE html><html><body><h1>Welcome</h1></body></html>")
	for _, tc := range []struct {
		name string
		args []string
		code int
		in   string
	}{
		{"no index", []string{"compat", "diff"}, 2, "compat diff needs --index URL"},
		{"bad output", []string{"compat", "diff", "--index", srv.URL, "-o", "xml"}, 2, "valid formats are text, json"},
		{"bad url", []string{"compat", "diff", "--index", "download.pytorch.org/whl"}, 2, `--index "download.pytorch.org/whl": want an http(s) URL`},
		{"bad since", []string{"compat", "diff", "--index", srv.URL, "--since", "two"}, 2, `--since "two": want a torch series such as 2.9`},
		{"no subcommand", []string{"compat"}, 2, "compat needs a subcommand: diff"},
		{"unknown subcommand", []string{"compat", "frob"}, 2, `unknown command "frob"`},
		{"not found", []string{"compat", "diff", "--index", srv.URL + "/whl"}, 1, "torchimg: read index page " + srv.URL + "/whl/torch/: HTTP 404 Not Found"},
		{"no anchors", []string{"compat", "diff", "--index", srv.URL + "/home"}, 1, "torchimg: read index page " + srv.URL + "/home/torch/: the page lists no files (no <a href> links)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errs := runCmd(t, tc.args...)
			if code != tc.code || !strings.Contains(out+errs, tc.in) {
				t.Errorf("exit %d (want %d)\nstdout: %s\nstderr: %s\nwant: %s", code, tc.code, out, errs, tc.in)
			}
		})
	}
}
