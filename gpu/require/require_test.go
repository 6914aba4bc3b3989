package require

import (
	"errors"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// Brand sets and branches of the nvidia/cuda base images (compat-facts.md §3d).
var (
	newBrands = []string{"unknown", "grid", "tesla", "nvidia", "quadro", "quadrortx", "nvidiartx", "vapps", "vpc", "vcs", "vws", "cloudgaming"}
	oldBrands = []string{"tesla", "unknown", "nvidia", "nvidiartx", "geforce", "geforcertx", "quadro", "quadrortx", "titan", "titanrtx"}
)

// requireCUDA builds NVIDIA_REQUIRE_CUDA the way the nvidia/cuda Dockerfiles
// spell it: cuda>=X then, branch by branch, one clause per brand.
func requireCUDA(cuda string, brands []string, branches ...int) string {
	parts := []string{"cuda>=" + cuda}
	for _, br := range branches {
		for _, b := range brands {
			parts = append(parts, "brand="+b+",driver>="+itoa(br)+",driver<"+itoa(br+1))
		}
	}
	return strings.Join(parts, " ")
}

func itoa(i int) string { return strconv.Itoa(i) }

var (
	req1281 = requireCUDA("12.8", newBrands, 470, 535, 550, 560, 565)
	req1180 = requireCUDA("11.8", oldBrands, 470)
	req1291 = requireCUDA("12.9", newBrands, 535, 550, 560, 565, 570)
)

func TestRealStringsAreSpelledLikeTheImages(t *testing.T) {
	// Start of the 12.8.1 value as found in a copy of the image environment.
	const seen = "cuda>=12.8 brand=unknown,driver>=470,driver<471 brand=grid,driver>=470,driver<471 brand=tesla,driver>=470,driver<471 brand=nvidia,driver>=470,driver<471 brand=quadro,driver>=470,driver<471 brand=quadrortx,driver>=470,driver<471 brand=nvidiartx,driver>=470,driver<471 brand=vapps,driver>=470,driver<471 brand=vpc,driver>=470,driver<471 brand=vcs,driver>=470,driver<471 brand=vws,driver>=470,driver<471 brand=cloudgaming,driver>=470,driver<471 brand=unknown,driver>=535,driver<536 brand=grid,driver>=535,driver<536"
	if !strings.HasPrefix(req1281, seen) {
		t.Fatalf("12.8.1 string built wrong:\n%s", req1281)
	}
	for _, r := range []string{req1281, req1180, req1291} {
		e, err := Parse(r)
		if err != nil {
			t.Fatal(err)
		}
		if e.String() != r {
			t.Errorf("String() = %q, want %q", e.String(), r)
		}
	}
	e, _ := Parse(req1281)
	if n := len(e.Alternatives); n != 1+12*5 {
		t.Errorf("12.8.1 has %d alternatives, want 61", n)
	}
}

func gpu(name, brand, arch string) Device { return Device{Name: name, Brand: brand, Arch: arch} }

func TestEvaluateRealImages(t *testing.T) {
	h100 := gpu("NVIDIA H100 80GB HBM3", "nvidia", "9.0")
	t4 := gpu("Tesla T4", "tesla", "7.5")
	rtx4090 := gpu("NVIDIA GeForce RTX 4090", "geforce", "8.9")
	rtx5090 := gpu("NVIDIA GeForce RTX 5090", "geforce", "12.0")
	v100 := gpu("Tesla V100-SXM2-16GB", "tesla", "7.0")
	a6000 := gpu("NVIDIA RTX A6000", "nvidiartx", "8.6")

	for _, tc := range []struct {
		name string
		reqs []string
		host Host
		ok   bool
		want string // substring of the first failure's Reason
	}{
		{"12.8.1 geforce 565 CUDA 12.7 fails", []string{req1281}, Host{"12.7", "565.57.01", []Device{rtx4090}}, false,
			"cuda>=12.8 not satisfied: the driver supports CUDA 12.7 (driver 565.57.01); none of the 60 other alternatives holds either (closest: brand=unknown,driver>=565,driver<566, where brand=unknown fails: GPU 0 (NVIDIA GeForce RTX 4090) has brand geforce)"},
		{"12.8.1 tesla 565 CUDA 12.7 passes via brand clause", []string{req1281}, Host{"12.7", "565.57.01", []Device{t4}}, true, ""},
		{"12.8.1 tesla 550.54.15 CUDA 12.4 passes via 550 branch", []string{req1281}, Host{"12.4", "550.54.15", []Device{t4}}, true, ""},
		{"12.8.1 H100 (NVML brand nvidia = unknown for libnvidia-container) 550", []string{req1281}, Host{"12.4", "550.54.15", []Device{h100}}, true, ""},
		{"12.8.1 RTX A6000 (nvidiartx = unknown) 535", []string{req1281}, Host{"12.2", "535.183.01", []Device{a6000}}, true, ""},
		{"12.8.1 tesla 555 not a listed branch", []string{req1281}, Host{"12.5", "555.42.06", []Device{t4}}, false,
			"cuda>=12.8 not satisfied: the driver supports CUDA 12.5 (driver 555.42.06)"},
		{"12.8.1 geforce 570.124.06 CUDA 12.8", []string{req1281}, Host{"12.8", "570.124.06", []Device{rtx5090}}, true, ""},
		{"12.8.1 tesla 570.124.06 CUDA 12.8", []string{req1281}, Host{"12.8", "570.124.06", []Device{t4}}, true, ""},
		{"12.8.1 unknown brand 570.124.06 CUDA 12.8", []string{req1281}, Host{"12.8", "570.124.06", []Device{gpu("x", "", "")}}, true, ""},
		{"12.8.1 no device 570 CUDA 12.8", []string{req1281}, Host{CUDA: "12.8", Driver: "570.124.06"}, true, ""},
		{"12.8.1 no device 565 CUDA 12.7 passes (brand unknown: clause passes)", []string{req1281}, Host{CUDA: "12.7", Driver: "565.57.01"}, true, ""},
		{"12.8.1 no device 555 fails globally", []string{req1281}, Host{CUDA: "12.5", Driver: "555.42.06"}, false, "the driver supports CUDA 12.5"},
		{"12.9.1 tesla 565 passes", []string{req1291}, Host{"12.7", "565.57.01", []Device{t4}}, true, ""},
		{"11.8.0 geforce 470 passes via old brand set", []string{req1180}, Host{"11.4", "470.256.02", []Device{rtx4090}}, true, ""},
		{"11.8.0 titan 470 passes", []string{req1180}, Host{"11.4", "470.256.02", []Device{gpu("TITAN V", "titan", "7.0")}}, true, ""},
		{"11.8.0 geforce 465 fails", []string{req1180}, Host{"11.3", "465.19.01", []Device{rtx4090}}, false,
			"cuda>=11.8 not satisfied: the driver supports CUDA 11.3 (driver 465.19.01)"},
		{"11.8.0 520.61.05 CUDA 11.8", []string{req1180}, Host{"11.8", "520.61.05", []Device{rtx4090}}, true, ""},
		{"arch>=7.5 on V100", []string{"arch>=7.5"}, Host{"12.4", "550.54.15", []Device{v100}}, false,
			"arch>=7.5 not satisfied: GPU 0 (Tesla V100-SXM2-16GB) has compute capability 7.0"},
		{"arch>=7.5 on T4", []string{"arch>=7.5"}, Host{"12.4", "550.54.15", []Device{t4}}, true, ""},
		{"arch 12.0 >= 9.0 numerically", []string{"arch>=9.0"}, Host{"12.8", "570.124.06", []Device{rtx5090}}, true, ""},
		{"arch without devices passes", []string{"arch>=7.5"}, Host{CUDA: "12.4", Driver: "550.54.15"}, true, ""},
		{"brand is case-insensitive", []string{"brand=TESLA"}, Host{"12.4", "550.54.15", []Device{t4}}, true, ""},
		{"brand=nvidia never matches under libnvidia-container", []string{"brand=nvidia"}, Host{"12.4", "550.54.15", []Device{h100}}, false,
			`brand=nvidia not satisfied: GPU 0 (NVIDIA H100 80GB HBM3) has brand nvidia, which libnvidia-container reports as "unknown"`},
		{"driver range", []string{"driver>=550,driver<551"}, Host{"12.4", "550.54.15", []Device{h100}}, true, ""},
		{"driver 5500 > 551 numerically", []string{"driver<551"}, Host{"12.4", "5500.1", nil}, false, "driver<551 not satisfied: the driver is 5500.1"},
		{"two requirements, second fails", []string{"cuda>=12.0", "driver>=560"}, Host{"12.4", "550.54.15", nil}, false, "driver>=560 not satisfied"},
		{"empty requirement holds", []string{""}, Host{"12.4", "550.54.15", nil}, true, ""},
		{"unknown CUDA passes", []string{"cuda>=13.0"}, Host{Driver: "550.54.15"}, true, ""},
		{"invalid expression fails", []string{"cuda>=12.8,foo=1"}, Host{"12.8", "570.124.06", nil}, false, "invalid expression"},
		{"invalid alternative never reached is not an error", []string{"cuda>=12.8 foo=1"}, Host{"12.8", "570.124.06", nil}, true, ""},
		{"invalid alternative reached is an error", []string{"cuda>=12.8 foo=1"}, Host{"12.4", "550.54.15", nil}, false, "invalid expression"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := Evaluate(tc.reqs, tc.host)
			if res.Satisfied != tc.ok {
				t.Fatalf("Satisfied = %v, want %v; failures: %+v", res.Satisfied, tc.ok, res.Failed)
			}
			if tc.ok {
				if len(res.Failed) != 0 {
					t.Fatalf("failures on success: %+v", res.Failed)
				}
				return
			}
			if len(res.Failed) == 0 {
				t.Fatal("no failures reported")
			}
			if !strings.Contains(res.Failed[0].Reason, tc.want) {
				t.Errorf("Reason = %q\nwant it to contain %q", res.Failed[0].Reason, tc.want)
			}
		})
	}
}

func TestEvaluateMultiGPU(t *testing.T) {
	h := Host{CUDA: "12.7", Driver: "565.57.01", Devices: []Device{
		gpu("Tesla T4", "tesla", "7.5"),
		gpu("NVIDIA GeForce RTX 4090", "geforce", "8.9"),
		gpu("Tesla V100-SXM2-16GB", "tesla", "7.0"),
	}}
	res := Evaluate([]string{req1281, "arch>=7.5"}, h)
	if res.Satisfied {
		t.Fatal("satisfied")
	}
	var got [][2]any
	for _, f := range res.Failed {
		got = append(got, [2]any{f.Device, strings.SplitN(f.Requirement, " ", 2)[0]})
	}
	want := [][2]any{{1, "cuda>=12.8"}, {2, "arch>=7.5"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("failures = %v, want %v", got, want)
	}
	if f := res.Failed[0]; f.Runtime != "requirement error: unsatisfied condition: cuda>=12.8, please update your driver to a newer version, or use an earlier cuda container" {
		t.Errorf("Runtime = %q", f.Runtime)
	}
	if f := res.Failed[1]; f.Runtime != "requirement error: unsatisfied condition: arch>=7.5" {
		t.Errorf("Runtime = %q", f.Runtime)
	}
	if f := res.Failed[0]; f.Device != 1 || !strings.Contains(f.Reason, "GPU 1 (NVIDIA GeForce RTX 4090) has brand geforce") {
		t.Errorf("Reason = %q", f.Reason)
	}
}

func TestEvaluateGlobalFailureDevice(t *testing.T) {
	res := Evaluate([]string{"cuda>=12.8"}, Host{CUDA: "12.4", Driver: "550.54.15"})
	if len(res.Failed) != 1 || res.Failed[0].Device != -1 {
		t.Fatalf("%+v", res.Failed)
	}
	want := "cuda>=12.8 not satisfied: the driver supports CUDA 12.4 (driver 550.54.15)"
	if res.Failed[0].Reason != want {
		t.Errorf("Reason = %q, want %q", res.Failed[0].Reason, want)
	}
}

func TestRequirements(t *testing.T) {
	for _, tc := range []struct {
		name     string
		env      []string
		reqs     []string
		disabled bool
		err      string
	}{
		{"12.8.1 base image", []string{"PATH=/usr/bin", "NVIDIA_REQUIRE_CUDA=" + req1281, "CUDA_VERSION=12.8.1", "NVIDIA_VISIBLE_DEVICES=all"}, []string{req1281}, false, ""},
		{"sorted by name, jetpack skipped", []string{"NVIDIA_REQUIRE_ZZ=driver>=1", "NVIDIA_REQUIRE_CUDA=cuda>=12.4", "NVIDIA_REQUIRE_JETPACK=csv-mounts=all", "NVIDIA_REQUIRE_JETPACK_HOST_MOUNTS=", "NVIDIA_REQUIRE_ARCH=arch>=7.0"},
			[]string{"arch>=7.0", "cuda>=12.4", "driver>=1"}, false, ""},
		{"disabled true", []string{"NVIDIA_REQUIRE_CUDA=cuda>=12.8", "NVIDIA_DISABLE_REQUIRE=true"}, nil, true, ""},
		{"disabled 1", []string{"NVIDIA_REQUIRE_CUDA=cuda>=12.8", "NVIDIA_DISABLE_REQUIRE=1"}, nil, true, ""},
		{"disable false", []string{"NVIDIA_REQUIRE_CUDA=cuda>=12.8", "NVIDIA_DISABLE_REQUIRE=false"}, []string{"cuda>=12.8"}, false, ""},
		{"disable garbage is not true", []string{"NVIDIA_REQUIRE_CUDA=cuda>=12.8", "NVIDIA_DISABLE_REQUIRE=yes"}, []string{"cuda>=12.8"}, false, ""},
		{"legacy", []string{"CUDA_VERSION=12.8.1"}, []string{"cuda>=12.8"}, false, ""},
		{"legacy v-prefixed, major only", []string{"CUDA_VERSION=v12"}, []string{"cuda>=12.0"}, false, ""},
		{"legacy with empty NVIDIA_REQUIRE_CUDA", []string{"CUDA_VERSION=11.8.0", "NVIDIA_REQUIRE_CUDA="}, []string{"", "cuda>=11.8"}, false, ""},
		{"legacy invalid", []string{"CUDA_VERSION=12.8.1.2"}, nil, false, "invalid CUDA version"},
		{"legacy with a leading zero in the minor (coerced)", []string{"CUDA_VERSION=12.08"}, []string{"cuda>=12.8"}, false, ""},
		{"legacy with a leading zero in the patch (coerced)", []string{"CUDA_VERSION=12.8.01"}, []string{"cuda>=12.8"}, false, ""},
		{"legacy two-digit minor", []string{"CUDA_VERSION=12.10.0"}, []string{"cuda>=12.10"}, false, ""},
		{"legacy not a version", []string{"CUDA_VERSION=twelve"}, nil, false, "invalid CUDA version"},
		{"legacy disabled", []string{"CUDA_VERSION=12.8.1", "NVIDIA_DISABLE_REQUIRE=TRUE"}, nil, true, ""},
		{"pytorch runtime image: nothing", []string{"PYTORCH_VERSION=2.9.1", "NVIDIA_VISIBLE_DEVICES=all"}, nil, false, ""},
		{"later entry wins", []string{"NVIDIA_REQUIRE_CUDA=cuda>=11.0", "NVIDIA_REQUIRE_CUDA=cuda>=12.0=x"}, []string{"cuda>=12.0=x"}, false, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := EnvMap(tc.env)
			reqs, disabled, err := ImageRequirements(env)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(reqs, tc.reqs) || disabled != tc.disabled {
				t.Errorf("got %q, %v; want %q, %v", reqs, disabled, tc.reqs, tc.disabled)
			}
			r2, d2 := Requirements(env)
			if !reflect.DeepEqual(r2, reqs) || d2 != disabled {
				t.Errorf("Requirements differs from ImageRequirements")
			}
		})
	}
	// A disabled image is satisfied everywhere: no requirements.
	reqs, _ := Requirements(EnvMap([]string{"NVIDIA_REQUIRE_CUDA=cuda>=99", "NVIDIA_DISABLE_REQUIRE=true"}))
	if !Evaluate(reqs, Host{CUDA: "12.4", Driver: "550.54.15"}).Satisfied {
		t.Error("disabled requirements evaluated")
	}
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct {
		req, cond, msg string
	}{
		{"cuda>=12.8 brand=tesla,drver>=470", "drver>=470", `unknown key "drver"; valid keys: cuda, driver, arch, brand`},
		{"cuda==12.8", "cuda==12.8", `unknown operator "=="`},
		{"cuda=>12.8", "cuda=>12.8", `unknown operator "=>"; valid operators: =, !=, <, <=, >, >=`},
		{"cuda", "cuda", "no operator"},
		{">=12.8", ">=12.8", "missing key"},
		{"cuda>=", "cuda>=", "missing value"},
		{"cuda>=12.x", "cuda>=12.x", `value "12.x" is not a version`},
		{"driver>=.5", "driver>=.5", "must start with a digit"},
		{"driver>=99999999999999999999", "driver>=99999999999999999999", "too large"},
		{"brand>=tesla", "brand>=tesla", "brand can only be compared with = or !="},
		{"cuda>=12.8\tbrand=tesla", "cuda>=12.8\tbrand=tesla", "not tabs or newlines"},
		{"brand=" + strings.Repeat("x", 130), "brand=" + strings.Repeat("x", 130), "too long"},
	} {
		_, err := Parse(tc.req)
		var pe *ParseError
		if !errors.As(err, &pe) {
			t.Errorf("Parse(%q) = %v, want a *ParseError", tc.req, err)
			continue
		}
		if pe.Condition != tc.cond || !strings.Contains(pe.Msg, tc.msg) {
			t.Errorf("Parse(%q): condition %q msg %q; want %q containing %q", tc.req, pe.Condition, pe.Msg, tc.cond, tc.msg)
		}
		if !strings.Contains(err.Error(), strconv.Quote(tc.cond)) {
			t.Errorf("error %q does not name the condition", err)
		}
	}
	_, err := Parse("cuda>=12.8 brand=tesla,drver>=470")
	if pe := err.(*ParseError); pe.Offset != 23 {
		t.Errorf("offset = %d, want 23", pe.Offset)
	}
	if _, err := Parse("cuda>=12.8\x00"); err == nil {
		t.Error("NUL accepted")
	}
}

func TestParseAccepts(t *testing.T) {
	for _, tc := range []struct {
		req   string
		canon string
	}{
		{"CUDA>=12.8", "cuda>=12.8"},
		{"Brand=Tesla", "brand=Tesla"},
		{"driver!550", "driver!=550"}, // dsl.c: a lone "!" is a prefix of "!="
		{"cuda>=12.8  brand=tesla,,driver>=470", "cuda>=12.8 brand=tesla,driver>=470"},
		{"driver>=12..8.", "driver>=12..8."},
		{"", ""},
	} {
		e, err := Parse(tc.req)
		if err != nil {
			t.Errorf("Parse(%q): %v", tc.req, err)
			continue
		}
		if e.String() != tc.canon {
			t.Errorf("Parse(%q).String() = %q, want %q", tc.req, e.String(), tc.canon)
		}
	}
}

func TestCompareVersion(t *testing.T) {
	for _, tc := range []struct {
		have string
		op   Op
		want string
		ok   bool
	}{
		{"12.8", OpGe, "12.8", true},
		{"12.10", OpGe, "12.9", true},
		{"12.8.0", OpEq, "12.8", true},
		{"12.8", OpEq, "12.8.0.0", true},
		{"12.8", OpNe, "12.8.0", false},
		{"12.8", OpLt, "12.8.1", true},
		{"12.8.1", OpLe, "12.8", false},
		{"565.57.01", OpLt, "566", true},
		{"565.57.01", OpGe, "565", true},
		{"565", OpGt, "565.0.0", false},
		{"565", OpLt, "565.00.1", true},
		{"570.124.06", OpGt, "570.86.10", true},
		{"12..8", OpEq, "12.8", true},
		{"9.0", OpGe, "10.0", false},
		{"12.0", OpGe, "9.0", true},
	} {
		got, err := compareVersion(tc.have, tc.op, tc.want)
		if err != nil || got != tc.ok {
			t.Errorf("%s %s %s = %v, %v; want %v", tc.have, tc.op, tc.want, got, err, tc.ok)
		}
	}
	if _, err := compareVersion("12.8", OpGe, "x"); err == nil {
		t.Error("no error for x")
	}
}

func TestEvalQuirks(t *testing.T) {
	v := Values{CUDA: "12.4", Driver: "550.54.15"}
	for _, tc := range []struct {
		req string
		ok  bool
	}{
		{"cuda>=12.8 ,", false}, // dsl.c: "," ends the loop but keeps the failing result
		{", cuda>=12.8", true},  // ... and holds when nothing failed before it
		{"cuda>=12.8 driver>=550", true},
		{"cuda>=12.8,driver>=550 driver<551", true},
		{"brand=tesla", true}, // no device: brand unknown, holds
		{"arch>=99", true},    // no device: arch unknown, holds
		{"arch>=bogus", true}, // never checked without a device
		{"cuda>=12.8 brand=foo,x=1", false},
	} {
		e := scan(tc.req)
		if got := holds(e, v); got != tc.ok {
			t.Errorf("holds(%q) = %v, want %v", tc.req, got, tc.ok)
		}
	}
}

func TestRuntimeBrand(t *testing.T) {
	for in, want := range map[string]string{
		"tesla": "tesla", "Tesla": "tesla", "geforce": "geforce", "titan": "titan", "quadro": "quadro", "nvs": "nvs", "grid": "grid",
		"nvidia": "unknown", "nvidiartx": "unknown", "quadrortx": "unknown", "geforcertx": "unknown", "titanrtx": "unknown",
		"vapps": "unknown", "vpc": "unknown", "vcs": "unknown", "vws": "unknown", "cloudgaming": "unknown", "unknown": "unknown", "": "",
	} {
		if got := RuntimeBrand(in); got != want {
			t.Errorf("RuntimeBrand(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestExplain(t *testing.T) {
	rtx4090 := gpu("NVIDIA GeForce RTX 4090", "geforce", "8.9")
	got := Explain(req1281, Host{"12.7", "565.57.01", []Device{rtx4090}}, "570.124.06")
	for _, want := range []string{
		"needs CUDA 12.8 driver support: driver >= 570.124.06, or a driver of branch 470/535/550/560/565 on a GPU of brand unknown, grid, tesla, nvidia, quadro, quadrortx, nvidiartx, vapps, vpc, vcs, vws, cloudgaming (the image's forward-compatibility clauses, e.g. brand=unknown,driver>=470,driver<471)",
		"this host: driver 565.57.01 supports CUDA 12.7",
		"driver 565.57.01 is in branch 565, but GPU 0 (NVIDIA GeForce RTX 4090) has brand geforce, which no clause for that branch lists",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("Explain =\n%s\nwant it to contain\n%s", got, want)
		}
	}

	got = Explain(req1281, Host{"12.5", "555.42.06", []Device{gpu("Tesla T4", "tesla", "7.5")}}, "")
	for _, want := range []string{"a driver that supports CUDA 12.8 or newer", "driver 555.42.06 is in none of the branches 470/535/550/560/565"} {
		if !strings.Contains(got, want) {
			t.Errorf("Explain =\n%s\nwant it to contain %q", got, want)
		}
	}

	got = Explain(req1281, Host{"12.4", "550.54.15", []Device{gpu("NVIDIA H100 80GB HBM3", "nvidia", "9.0")}}, "570.124.06")
	if !strings.Contains(got, "satisfied by brand=unknown,driver>=550,driver<551 (forward compatibility") {
		t.Errorf("Explain = %s", got)
	}
	got = Explain(req1281, Host{"12.8", "570.124.06", nil}, "570.124.06")
	if !strings.HasSuffix(got, "satisfied by cuda>=12.8") {
		t.Errorf("Explain = %s", got)
	}
	got = Explain("arch>=7.5", Host{"12.4", "550.54.15", []Device{gpu("Tesla V100-SXM2-16GB", "tesla", "7.0")}}, "")
	if !strings.Contains(got, "needs arch>=7.5") || !strings.Contains(got, "compute capability 7.0") {
		t.Errorf("Explain = %s", got)
	}
	if got := Explain(req1281, Host{}, "570.124.06"); strings.Contains(got, "this host") {
		t.Errorf("Explain without host facts = %s", got)
	}
}

func TestForwardCompat(t *testing.T) {
	req := "cuda>=12.8 brand=unknown,driver>=470,driver<471 brand=tesla,driver>=470,driver<471 brand=tesla,driver>=565,driver<566"
	branches, brands := ForwardCompat([]string{req})
	if strings.Join(branches, "/") != "470/565" || strings.Join(brands, ",") != "unknown,tesla" {
		t.Errorf("branches %v brands %v", branches, brands)
	}
	if b, _ := ForwardCompat([]string{"cuda>=13.2"}); len(b) != 0 {
		t.Errorf("a bare cuda floor has no forward-compatibility branches: %v", b)
	}
}

// holds reports whether the requirement holds for these values, as dsl_evaluate computes it; an
// invalid condition counts as failing (libnvidia-container refuses to start the container).
func holds(e Expr, v Values) bool {
	ok, _, err := e.run(v)
	return ok && err == nil
}
