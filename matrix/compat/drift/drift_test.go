package drift

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/torchimg/torchimg/matrix/compat"
	"github.com/torchimg/torchimg/pyindex/pyindextest"
)

func testDB(t *testing.T) *compat.DB {
	t.Helper()
	b, err := os.ReadFile("testdata/compat.yaml")
	if err != nil {
		t.Fatal(err)
	}
	db, err := compat.Load(b, "testdata/compat.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return db
}

// build is a fixture torch build: one wheel per Python, with these pins in its METADATA.
type build struct {
	version        string // "2.9.1+cu128"
	pythons        []string
	cudnn, nccl    string // "" : not required
	noMetadataFile bool
}

// pyTags spells a Python as wheel tags: "3.13t" is cp313-cp313t.
func pyTags(py string) string {
	t := "cp" + strings.ReplaceAll(strings.TrimSuffix(py, "t"), ".", "")
	if strings.HasSuffix(py, "t") {
		return t + "-" + t + "t"
	}
	return t + "-" + t
}

func metadataOf(ver, cudnn, nccl string) string {
	cu := "cu12"
	if strings.Contains(ver, "+cu13") {
		cu = "cu13"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Metadata-Version: 2.4\nName: torch\nVersion: %s\nRequires-Python: >=3.10\nRequires-Dist: filelock\n", ver)
	if cudnn != "" {
		fmt.Fprintf(&b, "Requires-Dist: nvidia-cudnn-%s==%s; platform_system == \"Linux\" and platform_machine == \"x86_64\"\n", cu, cudnn)
	}
	if nccl != "" {
		fmt.Fprintf(&b, "Requires-Dist: nvidia-nccl-%s==%s; platform_system == \"Linux\"\n", cu, nccl)
	}
	b.WriteString("Requires-Dist: optree>=0.13.0; extra == \"optree\"\nProvides-Extra: optree\n\nTensors and Dynamic neural networks\n")
	return b.String()
}

func (b build) wheels() []pyindextest.Wheel {
	var out []pyindextest.Wheel
	for _, py := range b.pythons {
		out = append(out, pyindextest.Wheel{
			Filename:       fmt.Sprintf("torch-%s-%s-manylinux_2_28_x86_64.whl", b.version, pyTags(py)),
			Metadata:       metadataOf(b.version, b.cudnn, b.nccl),
			NoMetadataFile: b.noMetadataFile,
		})
	}
	return out
}

var py29 = []string{"3.12", "3.13", "3.13t"}

// fixtureBuilds match testdata/compat.yaml except for a torch the data lacks (2.14.0+cu130)
// and a changed cuDNN pin (2.9.1+cu128 requires nvidia-cudnn-cu12==9.99.0.0). 2.8 is older than
// the series compared and pins an NCCL the data does not know.
func fixtureBuilds() []build {
	return []build{
		{version: "2.8.0+cu126", pythons: []string{"3.12", "3.13"}, cudnn: "9.10.2.21", nccl: "2.27.3"},
		{version: "2.8.0+cu128", pythons: []string{"3.12", "3.13"}, cudnn: "9.10.2.21", nccl: "2.27.3"},
		{version: "2.9.0+cu126", pythons: py29, cudnn: "9.10.2.21", nccl: "2.27.5"},
		{version: "2.9.0+cu128", pythons: py29, cudnn: "9.10.2.21", nccl: "2.27.5"},
		{version: "2.9.1+cu126", pythons: py29, cudnn: "9.10.2.21", nccl: "2.27.5"},
		{version: "2.9.1+cu128", pythons: py29, cudnn: "9.99.0.0", nccl: "2.27.5"},
		{version: "2.14.0+cu130", pythons: []string{"3.12", "3.13"}, cudnn: "9.13.0.50", nccl: "2.27.7"},
	}
}

// noise is listed on the combined page only: files that are not compared.
var noise = []pyindextest.Wheel{
	{Filename: "torch-2.9.1+cu128-cp312-cp312-manylinux_2_28_aarch64.whl"},
	{Filename: "torch-2.9.1+cu128-cp312-cp312-win_amd64.whl"},
	{Filename: "torch-2.9.1+cpu-cp312-cp312-manylinux_2_28_x86_64.whl"},
	{Filename: "torch-2.9.1+rocm6.4-cp312-cp312-manylinux_2_28_x86_64.whl"},
	{Filename: "torch-2.10.0.dev20250101+cu128-cp312-cp312-manylinux_2_28_x86_64.whl"},
	{Filename: "torch-2.9.1-cp312-cp312-manylinux_2_28_x86_64.whl"},
	{Filename: "torch-2.9.1.tar.gz"},
	{Filename: "torch-latest.whl"},
}

// serve lists the builds on <base>/torch/ (with the noise) and on <base>/<variant>/torch/,
// except the variants in skip.
func serve(srv *pyindextest.Server, base string, builds []build, skip ...string) {
	for _, b := range builds {
		ws := b.wheels()
		srv.Add(base+"/torch/", ws...)
		if v := b.version[strings.Index(b.version, "+")+1:]; !contains(skip, v) {
			srv.Add(base+"/"+v+"/torch/", ws...)
		}
	}
	srv.Add(base+"/torch/", noise...)
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

func metadataURL(srv *pyindextest.Server, filename string) string {
	return srv.URL + "/files/" + strings.ReplaceAll(url.PathEscape(filename), "+", "%2B") + ".metadata"
}

func TestDiffBaseIndex(t *testing.T) {
	db := testDB(t)
	for _, form := range []string{"html", "json"} {
		t.Run(form, func(t *testing.T) {
			srv := pyindextest.New(t)
			srv.JSON = form == "json"
			serve(srv, "/whl", fixtureBuilds(), "cu130")
			r, err := Diff(context.Background(), db, []string{srv.URL + "/whl"}, Options{Since: "2.9"})
			if err != nil {
				t.Fatal(err)
			}
			want := []Item{
				{Kind: ChangePin, Series: "2.9", Releases: []string{"2.9.1"},
					Variants: []VariantRow{{Name: "cu128", CUDA: "12.8"}}, Field: "cudnn", Data: "9.10.2.21", Index: "9.99.0.0",
					Builds: []string{"2.9.1+cu128"}, Unchanged: []string{"2.9.0+cu128"},
					Evidence: "nvidia-cudnn-cu12==9.99.0.0 in " + metadataURL(srv, "torch-2.9.1+cu128-cp312-cp312-manylinux_2_28_x86_64.whl"),
					Message:  `change torch series 2.9 variant cu128 cudnn: "9.10.2.21" -> "9.99.0.0" (2.9.1+cu128 requires nvidia-cudnn-cu12==9.99.0.0; 2.9.0+cu128 pins the data's value)`},
				{Kind: AddSeries, Series: "2.14", Releases: []string{"2.14.0"},
					Variants: []VariantRow{{Name: "cu130", CUDA: "13.0", CUDNN: "9.13.0.50", NCCL: "2.27.7"}},
					Python:   []string{"3.12", "3.13"}, Builds: []string{"2.14.0+cu130"},
					Message: `add torch series 2.14: releases ["2.14.0"], python ["3.12", "3.13"], ` +
						`variants [{name: cu130, cuda: "13.0", cudnn: "9.13.0.50", nccl: "2.27.7"}] (default and the sources are not on the index); ` +
						`torch_upcoming expects 2.14 with cu126, cu130: move it into torch:; ` +
						`CUDA 13.0 is not in the data's cuda: section: add it first (see the header of compat.yaml)`},
			}
			if !reflect.DeepEqual(r.Drift, want) {
				t.Errorf("drift:\n%s\nwant:\n%s", js(r.Drift), js(want))
			}
			if r.InSync || r.Since != "2.9" || r.Covered != nil || r.DataDate != "2026-01-02" {
				t.Errorf("in_sync %v since %s covered %v date %s", r.InSync, r.Since, r.Covered, r.DataDate)
			}
			if c := strings.Join(r.Compared, " "); c != "2.9.0+cu126 2.9.0+cu128 2.9.1+cu126 2.9.1+cu128 2.14.0+cu130" {
				t.Errorf("compared %s", c)
			}
			wantNotes := []string{
				srv.URL + "/whl/cu130/torch/: not found (404): no separate index for that variant; the variant is judged by the other pages",
				"skipped 1 file(s) whose names are not PEP 427 wheel names: torch-latest.whl",
				"skipped 1 file(s) that are not wheels (sdists, other files)",
				"skipped 2 wheel(s) for other platforms than Linux x86_64 (aarch64, Windows, macOS, ...)",
				"skipped 1 pre-, post- or dev-release wheel(s)",
				"skipped 1 wheel(s) without a local version label (+cuXYZ): their CUDA variant is not in the name",
				"skipped wheels of variants that are not CUDA ones (the data has only CUDA variants): cpu (1), rocm6.4 (1)",
				"not compared: 1 release(s) older than series 2.9 (2.8.0)",
			}
			if !reflect.DeepEqual(r.Notes, wantNotes) {
				t.Errorf("notes:\n%s\nwant:\n%s", strings.Join(r.Notes, "\n"), strings.Join(wantNotes, "\n"))
			}
			// Pages: the combined one, then each variant's (cu130 is not served).
			var pages []string
			for _, p := range r.Indexes[0].Pages {
				pages = append(pages, strings.TrimPrefix(p.URL, srv.URL)+" "+p.Status+" "+p.Format)
			}
			wantPages := []string{"/whl/torch/ read " + form, "/whl/cu126/torch/ read " + form, "/whl/cu128/torch/ read " + form, "/whl/cu130/torch/ not found "}
			if !reflect.DeepEqual(pages, wantPages) {
				t.Errorf("pages %q, want %q", pages, wantPages)
			}
			// One metadata file per build in scope; none of the older series.
			if n := srv.Count("/files/torch-2.9.1+cu128-cp312-cp312-manylinux_2_28_x86_64.whl.metadata"); n != 1 {
				t.Errorf("2.9.1+cu128 metadata read %d times", n)
			}
			if n := srv.Count("/files/torch-2.8.0+cu128-cp312-cp312-manylinux_2_28_x86_64.whl.metadata"); n != 0 {
				t.Errorf("2.8.0+cu128 metadata read %d times", n)
			}
			// Text names the rows; JSON carries the same items.
			var text, jb bytes.Buffer
			if err := WriteText(&text, r); err != nil {
				t.Fatal(err)
			}
			for _, s := range []string{"drift: 2 change(s) to the torch: section of the data\n  - " + want[0].Message + "\n  - " + want[1].Message + "\n",
				"compared: 5 build(s) of torch series 2.9 and newer (Linux x86_64 wheels, all variants)",
				srv.URL + "/whl (base)", "    read " + srv.URL + "/whl/torch/ (" + form + ", ", "    not found: " + srv.URL + "/whl/cu130/torch/",
				"notes:\n  - " + wantNotes[0]} {
				if !strings.Contains(text.String(), s) {
					t.Errorf("text lacks %q:\n%s", s, text.String())
				}
			}
			if err := WriteJSON(&jb, r); err != nil {
				t.Fatal(err)
			}
			var back Report
			if err := json.Unmarshal(jb.Bytes(), &back); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(back.Drift, want) || back.InSync || !strings.Contains(jb.String(), `"kind": "change-pin"`) {
				t.Errorf("json:\n%s", jb.String())
			}
		})
	}
}

func js(v any) string {
	b, _ := json.MarshalIndent(v, "", "  ")
	return string(b)
}

// The data matches an index with the same releases: no drift. The older series is compared
// too when --since is not given, and its unknown NCCL facts are to be set.
func TestDiffInSyncAndSince(t *testing.T) {
	db := testDB(t)
	builds := fixtureBuilds()
	builds[5].cudnn = "9.10.2.21"
	builds = builds[:6]
	srv := pyindextest.New(t)
	serve(srv, "/whl", builds)
	r, err := Diff(context.Background(), db, []string{srv.URL + "/whl/"}, Options{Since: "2.9"})
	if err != nil {
		t.Fatal(err)
	}
	if !r.InSync || len(r.Drift) != 0 {
		t.Fatalf("drift: %s", js(r.Drift))
	}
	var text bytes.Buffer
	WriteText(&text, r)
	if !strings.Contains(text.String(), "no drift: the data matches the index") {
		t.Error(text.String())
	}

	r, err = Diff(context.Background(), db, []string{srv.URL + "/whl"}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, it := range r.Drift {
		kinds = append(kinds, it.Kind+" "+it.Series+" "+it.Variants[0].Name+" "+it.Field+" "+it.Index)
	}
	want := []string{"fill-pin 2.8 cu126 nccl 2.27.3", "fill-pin 2.8 cu128 nccl 2.27.3"}
	if !reflect.DeepEqual(kinds, want) || r.Since != "2.8" {
		t.Errorf("since %s: %q, want %q", r.Since, kinds, want)
	}
	if m := r.Drift[0].Message; m != `set torch series 2.8 variant cu126 nccl: unknown -> "2.27.3" (2.8.0+cu126 requires nvidia-nccl-cu12==2.27.3)` {
		t.Error(m)
	}
}

// One variant's index judges only that variant: 2.14.0 (cu130 only) is not seen, and the
// cu126 rows of the data are not missing.
func TestDiffVariantIndex(t *testing.T) {
	db := testDB(t)
	srv := pyindextest.New(t)
	serve(srv, "/whl", fixtureBuilds())
	for _, u := range []string{srv.URL + "/whl/cu128", srv.URL + "/whl/cu128/torch/", srv.URL + "/whl/cu128/torch"} {
		r, err := Diff(context.Background(), db, []string{u}, Options{Since: "2.9"})
		if err != nil {
			t.Fatal(err)
		}
		if len(r.Drift) != 1 || r.Drift[0].Kind != ChangePin || !reflect.DeepEqual(r.Covered, []string{"cu128"}) {
			t.Errorf("%s: covered %v drift %s", u, r.Covered, js(r.Drift))
		}
		if len(r.Indexes[0].Pages) != 1 || r.Indexes[0].Pages[0].URL != srv.URL+"/whl/cu128/torch/" {
			t.Errorf("%s: pages %+v", u, r.Indexes[0].Pages)
		}
	}
}

// Where the index serves no metadata file, pins are not checked (and the notes say so) unless
// whole wheels may be downloaded.
func TestDiffMetadataNotServed(t *testing.T) {
	db := testDB(t)
	builds := fixtureBuilds()[2:6]
	for i := range builds {
		builds[i].noMetadataFile = true
	}
	srv := pyindextest.New(t)
	serve(srv, "/whl", builds)
	r, err := Diff(context.Background(), db, []string{srv.URL + "/whl"}, Options{Since: "2.9"})
	if err != nil {
		t.Fatal(err)
	}
	if !r.InSync {
		t.Errorf("drift without pins: %s", js(r.Drift))
	}
	note := "metadata not served; pins not checked for 4 build(s): 2.9.0+cu126, 2.9.0+cu128, 2.9.1+cu126, 2.9.1+cu128 (--download-wheels reads METADATA from the wheels themselves)"
	if !contains(r.Notes, note) {
		t.Errorf("notes lack %q:\n%s", note, strings.Join(r.Notes, "\n"))
	}
	r, err = Diff(context.Background(), db, []string{srv.URL + "/whl"}, Options{Since: "2.9", DownloadWheels: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Drift) != 1 || r.Drift[0].Kind != ChangePin || r.Drift[0].Index != "9.99.0.0" ||
		!strings.HasSuffix(r.Drift[0].Evidence, "/files/torch-2.9.1%2Bcu128-cp312-cp312-manylinux_2_28_x86_64.whl") {
		t.Errorf("with --download-wheels: %s", js(r.Drift))
	}
}

// Compare names every kind of change.
func TestCompareKinds(t *testing.T) {
	db := testDB(t)
	pins := func(cudnn, nccl string) (*Pin, *Pin) {
		return &Pin{Version: cudnn, Requirement: "nvidia-cudnn-cu12==" + cudnn}, &Pin{Version: nccl, Requirement: "nvidia-nccl-cu12==" + nccl}
	}
	b := func(rel, v string, pys ...string) Build {
		cd, nc := pins("9.10.2.21", "2.27.5")
		return Build{Release: rel, Variant: v, CUDA: CUDAOf(v), Pythons: pys, PinsFrom: "m", CUDNN: cd, NCCL: nc}
	}
	obs := &Observation{Since: "2.8", Builds: []Build{
		// 2.8.0 missing entirely.
		b("2.9.0", "cu126", "3.12", "3.13", "3.13t", "3.14"), // 3.14 extra
		b("2.9.0", "cu128", "3.12", "3.13"),                  // 3.13t missing
		b("2.9.0", "cu129", "3.12", "3.13", "3.13t"),         // a variant the data lacks (and its CUDA)
		b("2.9.2", "cu128", "3.12", "3.13", "3.13t"),         // a release the data lacks; no cu126
		// 2.9.1 missing entirely
	}}
	r := Compare(db, obs)
	var got []string
	for _, it := range r.Drift {
		got = append(got, it.Kind+": "+it.Message)
	}
	want := []string{
		`release-not-on-index: torch series 2.8: releases ["2.8.0"] are in the data but the index has no Linux x86_64 CUDA wheel of them (remove them, or check the index)`,
		`add-releases: add to torch series 2.9: releases ["2.9.2"] (the data lists ["2.9.0", "2.9.1"])`,
		`release-not-on-index: torch series 2.9: releases ["2.9.1"] are in the data but the index has no Linux x86_64 CUDA wheel of them (remove them, or check the index)`,
		`add-variant: add to torch series 2.9: variant {name: cu129, cuda: "12.9", cudnn: "9.10.2.21", nccl: "2.27.5"} (the index has 2.9.0+cu129); CUDA 12.9 is not in the data's cuda: section: add it first (see the header of compat.yaml)`,
		`variant-not-on-index: torch series 2.9 variant cu126: the index has no Linux x86_64 wheel of 2.9.2+cu126 (remove the variant, or check the index)`,
		`python-not-in-data: add to torch series 2.9 python: "3.14" (the index has 3.14 wheels of 2.9.0+cu126; the data lists ["3.12", "3.13", "3.13t"])`,
		`python-not-on-index: torch series 2.9 python "3.13t": the index has no 3.13t wheel of 2.9.0+cu128 (remove it from the python list, or check the index)`,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	// A single-variant index does not judge the other variants, nor whole releases.
	obs.Covered = []string{"cu128"}
	r = Compare(db, obs)
	got = nil
	for _, it := range r.Drift {
		got = append(got, it.Kind+" "+it.Series+" "+strings.Join(it.Builds, ","))
	}
	want = []string{"variant-not-on-index 2.8 2.8.0+cu128", "add-releases 2.9 ", "add-variant 2.9 2.9.0+cu129",
		"variant-not-on-index 2.9 2.9.1+cu128", "python-not-in-data 2.9 2.9.0+cu126", "python-not-on-index 2.9 2.9.0+cu128"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("covered cu128:\n got %q\nwant %q", got, want)
	}
}

func TestParseTarget(t *testing.T) {
	for in, want := range map[string]Target{
		"https://download.pytorch.org/whl":               {URL: "https://download.pytorch.org/whl", Layout: Base},
		"https://download.pytorch.org/whl/":              {URL: "https://download.pytorch.org/whl", Layout: Base},
		"https://download.pytorch.org/whl/cu128":         {URL: "https://download.pytorch.org/whl/cu128", Layout: Variant, Variant: "cu128"},
		"https://download.pytorch.org/whl/nightly/cu130": {URL: "https://download.pytorch.org/whl/nightly/cu130", Layout: Variant, Variant: "cu130"},
		"https://download.pytorch.org/whl/rocm6.4":       {URL: "https://download.pytorch.org/whl/rocm6.4", Layout: Variant, Variant: "rocm6.4"},
		"https://download.pytorch.org/whl/cu128/torch/":  {URL: "https://download.pytorch.org/whl/cu128/torch", Layout: ProjectPage, Variant: "cu128"},
		"https://download.pytorch.org/whl/torch":         {URL: "https://download.pytorch.org/whl/torch", Layout: ProjectPage},
		"https://pypi.org/simple/":                       {URL: "https://pypi.org/simple", Layout: Base},
		"http://127.0.0.1:8080":                          {URL: "http://127.0.0.1:8080", Layout: Base},
	} {
		got, err := ParseTarget(in)
		if err != nil || got != want {
			t.Errorf("%s: %+v %v, want %+v", in, got, err, want)
		}
	}
	for _, bad := range []string{"download.pytorch.org/whl", "ftp://x/whl", "https:///whl", "https://x/whl?page=2", "::"} {
		if _, err := ParseTarget(bad); err == nil || !strings.Contains(err.Error(), "--index") {
			t.Errorf("%s: %v", bad, err)
		}
	}
	for v, want := range map[string]string{"cu128": "12.8", "cu118": "11.8", "cu92": "9.2", "cu130": "13.0", "cpu": "", "cu": "", "rocm6.4": ""} {
		if got := CUDAOf(v); got != want {
			t.Errorf("CUDAOf(%s) = %q, want %q", v, got, want)
		}
	}
}

// An index that cannot be read is an error naming the URL and why; never a silent pass.
func TestDiffUnreadable(t *testing.T) {
	db := testDB(t)
	srv := pyindextest.New(t)
	serve(srv, "/whl", fixtureBuilds())
	srv.Raw("/nolinks/torch/", http.StatusOK, "text/html", "<!DOCTYPE html><html><body><h1>PyTorch</h1><p>Welcome</p></body></html>")
	srv.Raw("/broken/torch/", http.StatusOK, "text/html", `<a href="/files/x.whl#sha256=00">x</a>`)
	srv.Raw("/broken/cu128/torch/", http.StatusBadGateway, "text/plain", "")
	// A metadata file the page advertises but does not serve.
	srv.Raw("/files/torch-2.9.0+cu126-cp312-cp312-manylinux_2_28_x86_64.whl.metadata", http.StatusNotFound, "text/plain", "")
	closed := pyindextest.New(t)
	closed.Close()
	for name, tc := range map[string]struct{ url, want string }{
		"no anchors":    {srv.URL + "/nolinks", "read index page " + srv.URL + "/nolinks/torch/: the page lists no files (no <a href> links): not a PEP 503 project page"},
		"404":           {srv.URL + "/nothing", "read index page " + srv.URL + "/nothing/torch/: HTTP 404 Not Found"},
		"variant 502":   {srv.URL + "/broken", "read index page " + srv.URL + "/broken/cu128/torch/: HTTP 502 Bad Gateway"},
		"refused":       {closed.URL + "/whl", "read index page " + closed.URL + "/whl/torch/: "},
		"metadata 404":  {srv.URL + "/whl/cu126", "read metadata of torch-2.9.0+cu126-cp312-cp312-manylinux_2_28_x86_64.whl: " + metadataURL(srv, "torch-2.9.0+cu126-cp312-cp312-manylinux_2_28_x86_64.whl") + ": HTTP 404 Not Found"},
		"variant empty": {srv.URL + "/whl/cu129", "read index page " + srv.URL + "/whl/cu129/torch/: HTTP 404 Not Found"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Diff(context.Background(), db, []string{tc.url}, Options{Since: "2.9"})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v\nwant %s", err, tc.want)
			}
		})
	}
	if _, err := Diff(context.Background(), db, []string{srv.URL + "/whl"}, Options{Since: "2"}); err == nil || !strings.Contains(err.Error(), `--since "2": want a torch series such as 2.9`) {
		t.Errorf("since: %v", err)
	}
}
