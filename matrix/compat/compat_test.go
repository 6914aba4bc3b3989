package compat

import (
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/torchimg/torchimg/internal/testfile"
)

func mustDefault(t *testing.T) *DB {
	t.Helper()
	db, err := Default()
	if err != nil {
		t.Fatalf("embedded compat.yaml: %v", err)
	}
	return db
}

func TestTorchReleases(t *testing.T) {
	db := mustDefault(t)
	for _, tc := range []struct {
		version, def string
		variants     []string
		python       []string // nil: not checked
	}{
		{"2.0.0", "cu117", []string{"cu117", "cu118"}, []string{"3.8", "3.9", "3.10", "3.11"}},
		{"2.0.1", "cu117", []string{"cu117", "cu118"}, nil},
		{"2.1.2", "cu121", []string{"cu118", "cu121"}, nil},
		{"2.5.1", "cu124", []string{"cu118", "cu121", "cu124"}, []string{"3.9", "3.10", "3.11", "3.12"}},
		{"2.6.0", "cu124", []string{"cu118", "cu124", "cu126"}, nil},
		{"2.7.1", "cu126", []string{"cu118", "cu126", "cu128"}, []string{"3.9", "3.10", "3.11", "3.12", "3.13", "3.13t"}},
		{"2.8.0", "cu128", []string{"cu126", "cu128", "cu129"}, nil},
		{"2.9.0", "cu128", []string{"cu126", "cu128", "cu130"}, nil},
		{"2.9.1", "cu128", []string{"cu126", "cu128", "cu130"}, []string{"3.10", "3.11", "3.12", "3.13", "3.14", "3.14t"}},
		{"2.10.0", "cu128", []string{"cu126", "cu128", "cu130"}, []string{"3.10", "3.11", "3.12", "3.13", "3.14", "3.13t", "3.14t"}},
		{"2.11.0", "cu130", []string{"cu126", "cu128", "cu130"}, nil},
		{"2.12.0", "cu130", []string{"cu126", "cu130", "cu132"}, nil},
		{"2.12.1", "cu130", []string{"cu126", "cu130", "cu132"}, []string{"3.10", "3.11", "3.12", "3.13", "3.14", "3.14t"}},
		{"2.13.0", "cu130", []string{"cu126", "cu130", "cu132"}, nil},
	} {
		r, ok := db.Torch(tc.version)
		if !ok {
			t.Errorf("Torch(%s) missing", tc.version)
			continue
		}
		if r.Default != tc.def {
			t.Errorf("%s default = %s, want %s", tc.version, r.Default, tc.def)
		}
		if got := r.VariantNames(); !slices.Equal(got, tc.variants) {
			t.Errorf("%s variants = %v, want %v", tc.version, got, tc.variants)
		}
		if tc.python != nil && !slices.Equal(r.Python, tc.python) {
			t.Errorf("%s python = %v, want %v", tc.version, r.Python, tc.python)
		}
		if _, ok := r.Variant(r.Default); !ok {
			t.Errorf("%s: default variant %s not found", tc.version, r.Default)
		}
	}
	for _, missing := range []string{"1.13.1", "2.7.2", "2.14.0", "2.9"} {
		if _, ok := db.Torch(missing); ok {
			t.Errorf("Torch(%s) found, want missing", missing)
		}
	}
	// The 2.8 cu118 discrepancy (third-party table) must not be carried in.
	r, _ := db.Torch("2.8.0")
	if _, ok := r.Variant("11.8"); ok {
		t.Error("2.8.0 has a cu118 variant")
	}
	vs := db.TorchVersions()
	if len(vs) != 25 || vs[0] != "2.0.0" || vs[len(vs)-1] != "2.13.0" || slices.Index(vs, "2.10.0") < slices.Index(vs, "2.9.1") {
		t.Errorf("TorchVersions = %v", vs)
	}
}

func TestTorchVariantFacts(t *testing.T) {
	db := mustDefault(t)
	type want struct{ cudnn, nccl, archs, toolkit string } // "" = unknown
	for _, tc := range []struct {
		torch, cuda string
		want        want
	}{
		{"2.0.1", "11.7", want{"8.5.0.96", "", "3.7;5.0;6.0;7.0;7.5;8.0;8.6", ""}},
		{"2.3.0", "11.8", want{"8.7.0.84", "", "5.0;6.0;7.0;7.5;8.0;8.6;3.7;9.0", ""}},
		{"2.5.0", "12.4", want{"9.1.0.70", "", "", ""}}, // 2.5 arch list NOT VERIFIED
		{"2.6.0", "12.6", want{"9.5.1.17", "2.21.5", "", ""}},
		{"2.7.0", "12.8", want{"9.7.1.26", "", "7.5;8.0;8.6;9.0;10.0;12.0+PTX", ""}},
		{"2.7.1", "11.8", want{"9.1.0.70", "", "", ""}},
		{"2.8.0", "12.9", want{"9.10.2.21", "", "7.0;7.5;8.0;8.6;9.0;10.0;12.0+PTX", ""}},
		{"2.9.1", "13.0", want{"9.13.0.50", "2.27.7", "7.5;8.0;8.6;9.0;10.0;12.0+PTX", ""}},
		{"2.9.1", "12.8", want{"9.10.2.21", "2.27.5", "7.0;7.5;8.0;8.6;9.0;10.0;12.0", ""}},
		{"2.11.0", "12.8", want{"9.17.1.4", "2.28.9", "7.5;8.0;8.6;9.0;10.0;12.0", ""}},
		{"2.12.1", "12.6", want{"9.10.2.21", "2.29.3", "5.0;6.0;7.0;7.5;8.0;8.6;9.0", "12.6.3"}},
		{"2.12.1", "13.0", want{"9.20.0.48", "2.29.7", "7.5;8.0;8.6;9.0;10.0;12.0+PTX", "13.0.2"}},
		{"2.12.1", "13.2", want{"9.20.0.48", "2.29.7", "7.5;8.0;8.6;9.0;10.0;12.0+PTX", "13.2.1"}},
		{"2.13.0", "13.2", want{"9.20.0.48", "2.29.7", "7.5;8.0;8.6;9.0;10.0;12.0+PTX", "13.2.1"}},
	} {
		r, _ := db.Torch(tc.torch)
		v, ok := r.Variant(tc.cuda)
		if !ok {
			t.Errorf("%s: no variant for CUDA %s", tc.torch, tc.cuda)
			continue
		}
		for _, f := range []struct {
			name string
			got  Fact
			want string
		}{{"cudnn", v.CUDNN, tc.want.cudnn}, {"nccl", v.NCCL, tc.want.nccl}, {"archs", v.Archs, tc.want.archs}, {"toolkit", v.Toolkit, tc.want.toolkit}} {
			if f.want == "" {
				if f.got.Known() {
					t.Errorf("%s %s %s = %q, want unknown", tc.torch, v.Name, f.name, f.got.Value)
				}
				if f.got.Note == "" {
					t.Errorf("%s %s %s: unknown without a note", tc.torch, v.Name, f.name)
				}
			} else if !f.got.Known() || f.got.Value != f.want {
				t.Errorf("%s %s %s = %q (verified %v), want %q", tc.torch, v.Name, f.name, f.got.Value, f.got.Verified, f.want)
			}
		}
	}
	r, _ := db.Torch("2.9.1")
	for _, alias := range []string{"cu128", "12.8", "12.8.1"} {
		if v, ok := r.Variant(alias); !ok || v.Name != "cu128" {
			t.Errorf("Variant(%s) = %v %v", alias, v.Name, ok)
		}
	}
}

func TestCUDA(t *testing.T) {
	db := mustDefault(t)
	wantMinors := []string{"11.0", "11.1", "11.2", "11.3", "11.4", "11.5", "11.6", "11.7", "11.8", "12.0", "12.1", "12.2", "12.3", "12.4", "12.5", "12.6", "12.8", "12.9", "13.0", "13.1", "13.2", "13.3", "13.4"}
	if got := db.CUDAVersions(); !slices.Equal(got, wantMinors) {
		t.Errorf("CUDAVersions = %v", got)
	}
	if _, ok := db.CUDA("12.7"); ok {
		t.Error("CUDA 12.7 exists; it was never released")
	}
	for _, tc := range []struct{ minor, image, floor string }{
		{"11.7", "11.7.1", "450.80.02"}, {"11.8", "11.8.0", "450.80.02"}, {"12.0", "12.0.1", "525"},
		{"12.3", "12.3.2", "525"}, {"12.6", "12.6.3", "525"}, {"12.8", "12.8.1", "525"}, {"12.9", "12.9.1", "525"},
		{"13.0", "13.0.2", "580"}, {"13.1", "", "580"}, {"13.2", "13.2.1", "580"},
	} {
		c, ok := db.CUDA(tc.minor)
		if !ok {
			t.Errorf("CUDA(%s) missing", tc.minor)
			continue
		}
		if c.Image != tc.image {
			t.Errorf("CUDA %s image = %q, want %q", tc.minor, c.Image, tc.image)
		}
		if !c.CompatFloor.Known() || c.CompatFloor.Value != tc.floor {
			t.Errorf("CUDA %s compat floor = %v, want %s", tc.minor, c.CompatFloor, tc.floor)
		}
	}
	for _, tc := range []struct{ toolkit, want string }{
		{"12.8.1", "570.124.06"}, {"12.8.0", "570.26"}, {"12.8", "570.26"}, {"11.8.0", "520.61.05"}, {"12.6.3", "560.35.05"},
		{"12.3.2", ""}, {"13.0.2", "580.95.05"}, {"13.2.1", "595.58.03"}, {"12.7.0", ""}, {"nope", ""},
		{"11.0.2", "450.51.05"}, {"11.6.2", "510.47.03"}, {"11.7.0", "515.43.04"}, {"11.7.1", "515.48.07"},
		{"13.2.2", "595.71.05"}, {"13.3.1", "610.43.02"}, {"13.4.1", ""}, {"13.5.0", ""},
	} {
		f := db.MinDriver(tc.toolkit)
		if tc.want == "" {
			if f.Known() {
				t.Errorf("MinDriver(%s) = %q, want unknown", tc.toolkit, f.Value)
			}
		} else if !f.Known() || f.Value != tc.want {
			t.Errorf("MinDriver(%s) = %v, want %s", tc.toolkit, f, tc.want)
		}
	}
	if f := db.MinDriver("13.4.1"); !strings.Contains(f.Note, "R615") || f.Source == "" {
		t.Errorf("MinDriver(13.4.1) should say why it is unknown, with a source: %+v", f)
	}
	if f := db.MinDriver("13.3.0"); !strings.Contains(f.Source, "[C]") {
		t.Errorf("MinDriver(13.3.0) is third-party and must say so: %+v", f)
	}
}

func TestArchSupported(t *testing.T) {
	db := mustDefault(t)
	for _, tc := range []struct{ toolkit, cc, want string }{
		{"12.8.1", "12.0", "true"}, {"12.8", "sm_120", "true"}, {"12.6", "12.0", "false"}, {"12.6.3", "5.0", "true"},
		{"12.0", "3.7", "false"}, {"11.8", "3.7", "true"}, {"11.8", "9.0", "true"}, {"11.7", "9.0", "false"},
		{"12.9", "10.3", "true"}, {"13.0", "7.0", "false"}, {"13.0", "75", "true"}, {"13.0.2", "11.0", "true"},
		{"13.0", "10.1", "false"}, {"13.1", "7.5", ""}, {"13.2.1", "12.0", ""}, {"12.7", "8.0", ""},
	} {
		f := db.ArchSupported(tc.toolkit, tc.cc)
		if tc.want == "" {
			if f.Known() {
				t.Errorf("ArchSupported(%s, %s) = %s, want unknown", tc.toolkit, tc.cc, f.Value)
			}
		} else if !f.Known() || f.Value != tc.want {
			t.Errorf("ArchSupported(%s, %s) = %v, want %s", tc.toolkit, tc.cc, f, tc.want)
		}
	}
}

func TestOS(t *testing.T) {
	db := mustDefault(t)
	for _, tc := range []struct{ name, family, python string }{
		{"ubuntu20.04", "ubuntu", "3.8"}, {"ubuntu22.04", "ubuntu", "3.10"}, {"ubuntu24.04", "ubuntu", "3.12"}, {"debian12", "debian", "3.11"},
	} {
		o, ok := db.OS(tc.name)
		if !ok || o.Family != tc.family || o.Python != tc.python || o.Source == "" {
			t.Errorf("OS(%s) = %+v %v", tc.name, o, ok)
		}
	}
	if _, ok := db.OS("ubuntu26.04"); ok {
		t.Error("OS(ubuntu26.04) found")
	}
	for name, want := range map[string]string{"ubuntu20.04": "ubuntu:20.04", "ubuntu22.04": "ubuntu:22.04", "ubuntu24.04": "ubuntu:24.04", "debian12": "debian:12"} {
		if o, _ := db.OS(name); o.PlainImage() != want {
			t.Errorf("OS(%s).PlainImage() = %q, want %q", name, o.PlainImage(), want)
		}
	}
	if got := (OSRelease{Name: "rockylinux9", Family: "rhel"}).PlainImage(); got != "" {
		t.Errorf("a name that does not start with its family: %q", got)
	}
	if n := db.OSNames(); len(n) != 4 {
		t.Errorf("OSNames = %v", n)
	}
}

func TestBaseImage(t *testing.T) {
	db := mustDefault(t)
	for _, tc := range []struct {
		toolkit, os, flavor string
		ref                 string
		want                Existence
		note                string // substring of Note, if set
	}{
		{"12.8.1", "ubuntu24.04", "devel", "nvidia/cuda:12.8.1-devel-ubuntu24.04", Exists, ""},
		{"12.8.1", "ubuntu24.04", "cudnn-runtime", "nvidia/cuda:12.8.1-cudnn-runtime-ubuntu24.04", Exists, ""},
		{"13.0.0", "ubuntu20.04", "devel", "nvidia/cuda:13.0.0-devel-ubuntu20.04", Absent, "ubuntu22.04, ubuntu24.04"},
		{"12.8.0", "ubuntu22.04", "runtime", "nvidia/cuda:12.8.0-runtime-ubuntu22.04", Deleted, "use 12.8.1"},
		{"12.9.0", "ubuntu24.04", "cudnn-devel", "nvidia/cuda:12.9.0-cudnn-devel-ubuntu24.04", Deleted, "use 12.9.1"},
		{"13.2.1", "ubuntu22.04", "devel", "nvidia/cuda:13.2.1-devel-ubuntu22.04", Unknown, ""},
		{"13.2.1", "ubuntu22.04", "base", "nvidia/cuda:13.2.1-base-ubuntu22.04", Exists, "implied"},
		{"13.2.1", "ubuntu24.04", "cudnn-devel", "nvidia/cuda:13.2.1-cudnn-devel-ubuntu24.04", Exists, ""},
		{"13.0.2", "ubuntu24.04", "runtime", "nvidia/cuda:13.0.2-runtime-ubuntu24.04", Exists, "implied"},
		{"13.0.2", "ubuntu20.04", "base", "nvidia/cuda:13.0.2-base-ubuntu20.04", Absent, "no CUDA 13.x images for ubuntu20.04"},
		{"13.9.9", "ubuntu20.04", "base", "nvidia/cuda:13.9.9-base-ubuntu20.04", Absent, "dropped"},
		{"12.8.1", "ubuntu20.04", "base", "nvidia/cuda:12.8.1-base-ubuntu20.04", Exists, ""},
		{"11.8.0", "ubuntu22.04", "cudnn-runtime", "nvidia/cuda:11.8.0-cudnn8-runtime-ubuntu22.04", Exists, ""},
		{"11.8.0", "ubuntu22.04", "cudnn8-devel", "nvidia/cuda:11.8.0-cudnn8-devel-ubuntu22.04", Exists, ""},
		{"11.8.0", "ubuntu24.04", "base", "nvidia/cuda:11.8.0-base-ubuntu24.04", Absent, ""},
		{"12.3.2", "ubuntu22.04", "cudnn-devel", "nvidia/cuda:12.3.2-cudnn9-devel-ubuntu22.04", Exists, ""},
		{"12.5.1", "ubuntu24.04", "cudnn-runtime", "nvidia/cuda:12.5.1-cudnn-runtime-ubuntu24.04", Absent, ""},
		{"12.5.1", "ubuntu24.04", "runtime", "nvidia/cuda:12.5.1-runtime-ubuntu24.04", Exists, ""},
		{"12.6.3", "debian12", "base", "nvidia/cuda:12.6.3-base-debian12", Absent, ""},
		{"12.6.3", "rockylinux9", "base", "nvidia/cuda:12.6.3-base-rockylinux9", Unknown, "not in the compatibility database"},
		{"12.2.1", "ubuntu22.04", "devel", "nvidia/cuda:12.2.1-devel-ubuntu22.04", Unknown, "12.2.2"},
		{"12.8.1", "ubuntu24.04", "tiny", "", Unknown, "unknown flavor"},
	} {
		got := db.BaseImage(tc.toolkit, tc.os, tc.flavor)
		if got.Ref != tc.ref || got.Exists != tc.want {
			t.Errorf("BaseImage(%s, %s, %s) = %s %s, want %s %s", tc.toolkit, tc.os, tc.flavor, got.Ref, got.Exists, tc.ref, tc.want)
		}
		if tc.note != "" && !strings.Contains(got.Note, tc.note) {
			t.Errorf("BaseImage(%s, %s, %s) note %q lacks %q", tc.toolkit, tc.os, tc.flavor, got.Note, tc.note)
		}
		if got.Exists != Unknown && got.Source == "" {
			t.Errorf("BaseImage(%s, %s, %s): %s without a source", tc.toolkit, tc.os, tc.flavor, got.Exists)
		}
	}
	for _, tc := range []struct {
		toolkit, flavor string
		want            []string
	}{
		{"13.0.0", "devel", []string{"ubuntu22.04", "ubuntu24.04"}},
		{"12.5.1", "cudnn-runtime", []string{"ubuntu20.04", "ubuntu22.04"}},
		{"12.8.1", "base", []string{"ubuntu20.04", "ubuntu22.04", "ubuntu24.04"}},
		{"13.2.1", "devel", []string{"ubuntu24.04"}},
		{"12.8.0", "devel", nil}, // deleted tags are not offered
	} {
		if got := db.BaseOSes(tc.toolkit, tc.flavor); !slices.Equal(got, tc.want) {
			t.Errorf("BaseOSes(%s, %s) = %v, want %v", tc.toolkit, tc.flavor, got, tc.want)
		}
	}
	if Existence(99).String() != "unknown" || Deleted.String() != "deleted" || Absent.String() != "absent" || Exists.String() != "exists" {
		t.Error("Existence.String")
	}
}

func TestRequireCUDA(t *testing.T) {
	db := mustDefault(t)
	for _, tc := range []struct {
		toolkit  string
		prefix   string
		contains []string
		absent   []string
		clauses  int // brand clauses; -1 = unknown (bare value)
	}{
		{"12.8.1", "cuda>=12.8 ", []string{"brand=tesla,driver>=565,driver<566", "brand=cloudgaming,driver>=470,driver<471"}, []string{"geforce", "570"}, 60},
		{"11.8.0", "cuda>=11.8 brand=tesla,driver>=470,driver<471 brand=unknown,driver>=470,driver<471", []string{"brand=titanrtx,driver>=470,driver<471"}, []string{"grid", "525"}, 10},
		{"12.2.2", "cuda>=12.2 ", []string{"brand=geforce,driver>=525,driver<526"}, nil, 20},
		{"12.9.1", "cuda>=12.9 brand=unknown,driver>=535,driver<536", []string{"brand=vws,driver>=570,driver<571"}, []string{"470"}, 60},
		{"13.0.2", "cuda>=13.0 ", []string{"brand=unknown,driver>=575,driver<576"}, []string{"560"}, 60},
		{"13.2.1", "cuda>=13.2", nil, []string{"brand"}, -1},
		{"11.7.1", "cuda>=11.7", nil, []string{"brand"}, -1},
	} {
		f := db.RequireCUDA(tc.toolkit)
		if !strings.HasPrefix(f.Value, tc.prefix) {
			t.Errorf("RequireCUDA(%s) = %q, want prefix %q", tc.toolkit, f.Value, tc.prefix)
		}
		for _, s := range tc.contains {
			if !strings.Contains(f.Value, s) {
				t.Errorf("RequireCUDA(%s) lacks %q", tc.toolkit, s)
			}
		}
		for _, s := range tc.absent {
			if strings.Contains(f.Value, s) {
				t.Errorf("RequireCUDA(%s) contains %q", tc.toolkit, s)
			}
		}
		if n := strings.Count(f.Value, " brand="); tc.clauses >= 0 && n != tc.clauses {
			t.Errorf("RequireCUDA(%s) has %d brand clauses, want %d", tc.toolkit, n, tc.clauses)
		}
		if unknown := tc.clauses < 0; unknown != !f.Verified || f.Source == "" {
			t.Errorf("RequireCUDA(%s) verified=%v source=%q", tc.toolkit, f.Verified, f.Source)
		}
	}
}

// TestEverythingHasASource walks every torch variant, CUDA update and tag row of the embedded data.
func TestEverythingHasASource(t *testing.T) {
	db := mustDefault(t)
	checkFact := func(where string, f Fact) {
		if f.Source == "" {
			t.Errorf("%s: fact without a source", where)
		}
		if !f.Known() && f.Note == "" {
			t.Errorf("%s: unknown fact without a note", where)
		}
	}
	for _, v := range db.TorchVersions() {
		r, _ := db.Torch(v)
		if r.Source == "" {
			t.Errorf("torch %s: no source", v)
		}
		for _, tv := range r.Variants {
			where := "torch " + v + " " + tv.Name
			if tv.Source == "" {
				t.Errorf("%s: no source", where)
			}
			if _, ok := db.CUDA(tv.CUDA); !ok {
				t.Errorf("%s: CUDA %s missing", where, tv.CUDA)
			}
			checkFact(where+" cudnn", tv.CUDNN)
			checkFact(where+" nccl", tv.NCCL)
			checkFact(where+" archs", tv.Archs)
			checkFact(where+" toolkit", tv.Toolkit)
		}
	}
	for _, m := range db.CUDAVersions() {
		c, _ := db.CUDA(m)
		if c.Source == "" {
			t.Errorf("cuda %s: no source", m)
		}
		checkFact("cuda "+m+" compat floor", c.CompatFloor)
		checkFact("cuda "+m+" archs", c.Archs)
		for _, u := range c.Updates {
			checkFact("cuda "+u.Version+" min driver", u.MinDriver)
		}
	}
	rows := 0
	for tk, im := range db.images {
		if im.source == "" {
			t.Errorf("images %s: no source", tk)
		}
		if im.require != nil && im.require.Source == "" {
			t.Errorf("images %s require_cuda: no source", tk)
		}
		for k, row := range im.tags {
			rows++
			if row.source == "" {
				t.Errorf("tag %s-%s-%s: no source", tk, k.flavor, k.os)
			}
		}
	}
	if rows < 200 {
		t.Errorf("only %d tag rows walked", rows)
	}
	for _, o := range db.OSNames() {
		if r, _ := db.OS(o); r.Source == "" {
			t.Errorf("os %s: no source", o)
		}
	}
}

func TestLoadRejectsBadData(t *testing.T) {
	good, err := os.ReadFile("testdata/minimal.yaml")
	if err != nil {
		t.Fatal(err)
	}
	db, err := Load(good, "testdata/minimal.yaml")
	if err != nil {
		t.Fatalf("minimal.yaml: %v", err)
	}
	if r, ok := db.Torch("2.9.1"); !ok || r.Default != "cu128" {
		t.Fatalf("minimal.yaml: torch 2.9.1 = %+v", r)
	}
	for _, tc := range []struct{ file, want string }{
		{"bad_unknown_field.yaml", `testdata/bad_unknown_field.yaml:35:37: unknown field "sorce"`},
		{"bad_missing_cuda.yaml", `testdata/bad_missing_cuda.yaml:33:15: torch 2.9 cu128: cuda "12.9" is not in the cuda section`},
		{"bad_missing_source.yaml", `testdata/bad_missing_source.yaml:16:21: cuda 12.8.1 min_driver: missing source`},
		{"bad_version.yaml", `testdata/bad_version.yaml:27:16: torch 2.9: release "2.9.x"`},
		{"bad_tag_row.yaml", `testdata/bad_tag_row.yaml:24:9: tag row 12.8.1 ubuntu24.04: missing source`},
	} {
		data, err := os.ReadFile("testdata/" + tc.file)
		if err != nil {
			t.Fatal(err)
		}
		_, err = Load(data, "testdata/"+tc.file)
		if err == nil {
			t.Errorf("%s: loaded without error", tc.file)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error\n%v\nwant it to contain\n%s", tc.file, err, tc.want)
		}
	}
}

func TestLoadInline(t *testing.T) {
	good := testfile.Read(t, "testdata/minimal.yaml")
	for _, tc := range []struct{ name, old, new, want string }{
		{"syntax", "brands:\n", "brands: [\n", "x.yaml:"},
		{"default not a variant", "default: cu128", "default: cu126", `default "cu126" is not one of its variants`},
		{"image not an update", `image: "12.8.1"`, `image: "12.8.2"`, `image "12.8.2" is not one of its updates`},
		{"tag os unknown", "{os: ubuntu24.04, status: exists", "{os: ubuntu26.04, status: exists", `os "ubuntu26.04" is not in the os section`},
		{"bad flavor", "flavors: [base, runtime]", "flavors: [base, rt]", `flavor "rt"`},
		{"bad status", "status: exists", "status: maybe", `status "maybe"`},
		{"unknown without note", `note: "not known"`, `note: ""`, "unknown value needs a note"},
		{"verified empty", `nccl: {value: "", verified: false`, `nccl: {value: "", verified: true`, "verified: true with an empty value"},
		{"bad arch", `"7.5;12.0+PTX"`, `"7.5;sm_120"`, `entry "sm_120"`},
		{"bad python", `python: ["3.12"]`, `python: ["py3.12"]`, `python "py3.12"`},
		{"toolkit other minor", `toolkit: {value: "12.8.1"`, `toolkit: {value: "12.6.3"`, `toolkit "12.6.3" is not an update release of cuda 12.8`},
		{"brand set", "brands: new,", "brands: newer,", `unknown brand set "newer"`},
		{"name mismatch", "name: cu128", "name: cu129", "want cu128"},
		{"type error", "branches: [565]", "branches: [abc]", "x.yaml:22:"},
		{"cpu without source", `    source: "test"
    variants:`, `    source: "test"
    cpu: {note: "x"}
    variants:`, "torch 2.9 cpu: missing source"},
		{"cpu as a CUDA variant", "name: cu128", "name: cpu", "the CPU wheels are no CUDA variant; record them on the series as `cpu: {source: ...}`"},
		{"cpu unknown field", `    source: "test"
    variants:`, `    source: "test"
    cpu: {source: "x", python: ["3.12"]}
    variants:`, `unknown field "python"`},
	} {
		s := strings.Replace(string(good), tc.old, tc.new, 1)
		if s == string(good) {
			t.Fatalf("%s: replacement did not apply", tc.name)
		}
		_, err := Load([]byte(s), "x.yaml")
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want it to contain %q", tc.name, err, tc.want)
		}
		if err != nil && !strings.HasPrefix(err.Error(), "x.yaml:") {
			t.Errorf("%s: error does not start with the file name: %v", tc.name, err)
		}
	}
}

func TestDriverCUDA(t *testing.T) {
	db := mustDefault(t)
	for _, tc := range []struct {
		driver, want string
		atLeast      bool
	}{
		{"450.51.06", "11.0", false}, {"470.256.02", "11.4", false}, {"515.65.01", "11.7", false},
		{"510.47.03", "11.6", false}, {"565.57.01", "12.7", false}, {"570.86.10", "12.8", false},
		{"570.26", "12.8", false}, {"580.95.05", "13.0", false}, {"610.43.02", "13.3", false},
		{"615.71.09", "13.4", false}, {"640.10", "13.4", true},
		{"440.33", "", false}, {"600.10", "", false}, {"garbage", "", false},
	} {
		f, atLeast := db.DriverCUDA(tc.driver)
		got := ""
		if f.Known() {
			got = f.Value
		}
		if got != tc.want || atLeast != tc.atLeast {
			t.Errorf("DriverCUDA(%s) = %q (at least: %v; %s), want %q (%v)", tc.driver, got, atLeast, f.Note, tc.want, tc.atLeast)
		}
		if got == "" && f.Note == "" {
			t.Errorf("DriverCUDA(%s): unknown without a note", tc.driver)
		}
	}
}

func TestForwardCompat(t *testing.T) {
	db := mustDefault(t)
	for brand, want := range map[string]FCSupport{
		"tesla": FCSupported, "nvidia": FCSupported, "geforce": FCUnsupported, "geforcertx": FCUnsupported,
		"TITAN": FCUnsupported, "titanrtx": FCUnsupported, "quadro": FCUnknown, "nvidiartx": FCUnknown, "": FCUnknown,
	} {
		if got, src, _ := db.ForwardCompat(brand); got != want || src == "" {
			t.Errorf("ForwardCompat(%q) = %v (source %q), want %v", brand, got, src, want)
		}
	}
	if u, ok := db.Upcoming("2.14"); !ok || !slices.Equal(u.Variants, []string{"cu126", "cu130", "cu132"}) {
		t.Errorf("Upcoming(2.14) = %+v, %v", u, ok)
	}
	if _, ok := db.Torch("2.14.0"); ok {
		t.Error("torch 2.14.0 is not released")
	}
}
