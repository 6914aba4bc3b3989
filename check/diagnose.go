package check

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"regexp"
	"runtime"
	"slices"
	"sort"
	"strings"

	"github.com/torchimg/torchimg/gpu/driver"
	"github.com/torchimg/torchimg/gpu/host"
	"github.com/torchimg/torchimg/gpu/require"
	"github.com/torchimg/torchimg/internal/version"
	"github.com/torchimg/torchimg/matrix"
	"github.com/torchimg/torchimg/matrix/compat"
	"github.com/torchimg/torchimg/report"
	"github.com/torchimg/torchimg/templates/imageenv"
)

// System is what a host diagnosis reads besides NVML: files, the process
// environment and the dynamic loader's cache. Tests inject their own.
type System struct {
	// FS is the root file system; names are slash-separated without the leading "/"
	// ("proc/driver/nvidia/version").
	FS fs.FS
	// Env is the process environment (PATH, LD_LIBRARY_PATH, NVIDIA_REQUIRE_CUDA...).
	Env map[string]string
	// LDCache returns the output of `ldconfig -p`; nil or an error means the cache is not read.
	LDCache func(ctx context.Context) (string, error)
	// GOARCH selects the ld.so cache entries of this architecture ("amd64", "arm64"); "" = runtime.GOARCH.
	GOARCH string
}

// LocalSystem reads this machine: "/", os.Environ and `ldconfig -p`.
func LocalSystem() System {
	return System{FS: os.DirFS("/"), Env: require.EnvMap(os.Environ()), LDCache: runLDConfig}
}

func runLDConfig(ctx context.Context) (string, error) {
	bin, err := exec.LookPath("ldconfig")
	if err != nil {
		for _, p := range []string{"/sbin/ldconfig", "/usr/sbin/ldconfig"} {
			if _, serr := os.Stat(p); serr == nil {
				bin, err = p, nil
				break
			}
		}
	}
	if err != nil {
		return "", err
	}
	out, err := exec.CommandContext(ctx, bin, "-p").Output()
	return string(out), err
}

// Item is one line of a host diagnosis.
type Item struct {
	Check   string `json:"check"`
	Status  Status `json:"status"` // ok, warn or fail
	Message string `json:"message"`
	Advice  string `json:"advice,omitempty"`
}

// Diagnosis is the result of checking a host (or the container it runs in)
// for GPU work, without an image.
type Diagnosis struct {
	Verdict Verdict     `json:"verdict"` // not-compatible when an item fails
	Host    HostSummary `json:"host"`
	Checks  []Item      `json:"checks"`
	// Image is the check of the torchimg image this runs in, when /etc/torchimg/image.env exists.
	Image *Result `json:"image,omitempty"`
}

// Diagnosis check names.
const (
	CheckDriver    = "driver"
	CheckGPUs      = "gpus"
	CheckContainer = "container"
	CheckMounts    = "driver files"
	CheckLibraries = "libraries"
	CheckImage     = "image"
)

// Diagnose runs the usual checklist: driver present and its version (NVML,
// cross-checked with /proc/driver/nvidia/version), GPUs visible (NVML and
// /dev/nvidia[0-9]* nodes), inside a container and the files the NVIDIA
// container toolkit mounts (libcuda.so.1, /dev/nvidiactl, nvidia-smi),
// library path conflicts (LD_LIBRARY_PATH and the ld.so cache), and, inside a
// torchimg image, the image's own requirements against this host.
func Diagnose(ctx context.Context, facts host.Facts, sys System, db *compat.DB) *Diagnosis {
	d := &Diagnosis{}
	add := func(check string, st Status, advice, format string, args ...any) {
		d.Checks = append(d.Checks, Item{Check: check, Status: st, Message: fmt.Sprintf(format, args...), Advice: advice})
	}
	inContainer, containerWhy := detectContainer(sys)
	passGPU := "pass the GPU into the container: docker run --gpus all (NVIDIA Container Toolkit) or --device nvidia.com/gpu=all (CDI)"

	// 1. Driver.
	procVer := kernelDriverVersion(sys)
	derived, nvmlRead := false, true
	switch {
	case facts.DriverFound && procVer != "" && procVer != facts.Driver:
		add(CheckDriver, Warn, "reboot, or reload the nvidia kernel module, after a driver upgrade; inside a container, restart it so the toolkit mounts the current libraries",
			"NVML reports driver %s but the kernel module is %s (/proc/driver/nvidia/version): a driver/library version mismatch", facts.Driver, procVer)
	case facts.DriverFound:
		add(CheckDriver, OK, "", "NVIDIA driver %s, supports CUDA %s", facts.Driver, orDash(facts.CUDA))
	case procVer != "" && strings.Contains(facts.Reason, "without cgo"):
		facts, nvmlRead = host.Facts{DriverFound: true, Driver: procVer}, false
		if c, _, ok := driver.CUDAOf(db, procVer); ok {
			facts.CUDA, derived = c, true
		}
		add(CheckDriver, Warn, "use a torchimg binary built with cgo to read NVML (GPU names and compute capabilities)",
			"kernel module reports NVIDIA driver %s (/proc/driver/nvidia/version); NVML not read: this torchimg was built without cgo", procVer)
	case procVer != "":
		advice := "install the driver's user-space libraries (libnvidia-compute / nvidia-utils) matching the kernel module " + procVer
		if inContainer {
			advice = "the NVIDIA container toolkit did not mount the driver libraries: " + passGPU + ", with NVIDIA_DRIVER_CAPABILITIES=compute,utility"
		}
		add(CheckDriver, Fail, advice, "the kernel module is loaded (driver %s) but NVML is not usable: %s", procVer, orText(facts.Reason, "unknown reason"))
	default:
		advice := "install the NVIDIA driver, then check nvidia-smi"
		if inContainer {
			advice = "install the NVIDIA driver on the host and " + passGPU
		}
		add(CheckDriver, Fail, advice, "%s", orText(facts.Reason, "no NVIDIA driver found"))
	}
	d.Host = Host{Facts: facts, CUDADerived: derived}.Summary()

	// 2. GPUs.
	nodes, _ := fs.Glob(sys.FS, "dev/nvidia[0-9]*")
	for i := range nodes {
		nodes[i] = "/" + nodes[i]
	}
	nodeText := fmt.Sprintf("%d device node%s", len(nodes), plural(len(nodes)))
	if len(nodes) > 0 {
		nodeText += " (" + strings.Join(nodes, " ") + ")"
	}
	switch {
	case facts.DriverFound && len(facts.GPUs) > 0 && len(nodes) == 0:
		add(CheckGPUs, Warn, "create the device nodes (nvidia-modprobe, or nvidia-ctk system create-dev-char-symlinks); inside a container, "+passGPU,
			"NVML sees %d GPU%s but there is no /dev/nvidia[0-9]* device node: CUDA programs cannot open them", len(facts.GPUs), plural(len(facts.GPUs)))
	case facts.DriverFound && len(facts.GPUs) > 0:
		parts := make([]string, len(facts.GPUs))
		for i, g := range facts.GPUs {
			parts[i] = gpuLabel(g, true)
		}
		add(CheckGPUs, OK, "", "%d GPU%s: %s; %s", len(facts.GPUs), plural(len(facts.GPUs)), strings.Join(parts, "; "), nodeText)
	case !nvmlRead && len(nodes) > 0:
		add(CheckGPUs, OK, "", "NVML not read; %s", nodeText)
	case !nvmlRead:
		add(CheckGPUs, Fail, passGPU, "NVML not read, and there is no /dev/nvidia[0-9]* device node")
	case facts.DriverFound:
		add(CheckGPUs, Fail, "check nvidia-smi, NVIDIA_VISIBLE_DEVICES and CUDA_VISIBLE_DEVICES; inside a container, "+passGPU,
			"driver %s is loaded but no GPU is visible (NVML counts 0); %s", facts.Driver, nodeText)
	case len(nodes) > 0:
		add(CheckGPUs, Warn, "", "%s, but NVML could not be read", nodeText)
	default:
		advice := "check that the GPU is installed and the driver loaded (lspci | grep -i nvidia, nvidia-smi)"
		if inContainer {
			advice = passGPU
		}
		add(CheckGPUs, Fail, advice, "no GPU visible: no driver and no /dev/nvidia[0-9]* device node")
	}

	// 3. Container and the toolkit's mounts.
	if inContainer {
		add(CheckContainer, OK, "", "running inside a container (%s)", containerWhy)
	} else {
		add(CheckContainer, OK, "", "not inside a container (no /.dockerenv, /run/.containerenv or container cgroup)")
	}
	cache, cacheErr := readLDCache(ctx, sys)
	libcuda := findLib(sys, cache, "libcuda.so.1")
	ctl := exists(sys, "dev/nvidiactl")
	smi := lookPath(sys, "nvidia-smi")
	var missing []string
	if libcuda == "" {
		missing = append(missing, "libcuda.so.1")
	}
	if !ctl {
		missing = append(missing, "/dev/nvidiactl")
	}
	found := fmt.Sprintf("libcuda.so.1 %s, /dev/nvidiactl %s, nvidia-smi %s", orText(libcuda, "missing"), presentText(ctl), orText(smi, "not on PATH"))
	switch {
	case len(missing) > 0:
		advice := "install the NVIDIA driver (it provides libcuda.so.1 and /dev/nvidiactl)"
		if inContainer {
			advice = "the NVIDIA Container Toolkit is missing or not configured: install it and run 'nvidia-ctk runtime configure' (docker --gpus), or generate a CDI spec with 'nvidia-ctk cdi generate'; then " + passGPU
		}
		add(CheckMounts, Fail, advice, "%s missing: %s", strings.Join(missing, " and "), found)
	case smi == "":
		advice := "install nvidia-utils for nvidia-smi"
		if inContainer {
			advice = "add utility to NVIDIA_DRIVER_CAPABILITIES (e.g. compute,utility) so the toolkit mounts nvidia-smi"
		}
		add(CheckMounts, Warn, advice, "%s", found)
	default:
		add(CheckMounts, OK, "", "%s", found)
	}

	// 4. Library path conflicts.
	d.Checks = append(d.Checks, libraryConflicts(sys, cache, cacheErr))

	// 5. The torchimg image this runs in.
	if data, err := fs.ReadFile(sys.FS, strings.TrimPrefix(imageenv.Path, "/")); err == nil {
		d.Image = imageSelfCheck(data, facts, derived, nvmlRead, sys, db, inContainer)
		for _, rs := range d.Image.Reasons {
			if rs.Part == PartGPU {
				continue // already above
			}
			st := rs.Status
			switch st {
			case NotChecked:
				continue
			case Unknown:
				st = Warn
			}
			d.Checks = append(d.Checks, Item{Check: CheckImage + " " + rs.Part, Status: st, Message: rs.Message})
		}
		if len(d.Image.Advice) > 0 {
			for i := range d.Checks {
				if strings.HasPrefix(d.Checks[i].Check, CheckImage+" ") && d.Checks[i].Status != OK {
					d.Checks[i].Advice = strings.Join(d.Image.Advice, "; ")
					break
				}
			}
		}
	}

	d.Verdict = Compatible
	for _, it := range d.Checks {
		if it.Status == Fail {
			d.Verdict = NotCompatible
		}
	}
	return d
}

func presentText(ok bool) string {
	if ok {
		return "present"
	}
	return "missing"
}

func orText(s, alt string) string {
	if s == "" {
		return alt
	}
	return s
}

func fsName(p string) string {
	p = strings.TrimPrefix(path.Clean("/"+p), "/")
	if p == "" {
		return "."
	}
	return p
}

func exists(sys System, p string) bool {
	_, err := fs.Stat(sys.FS, fsName(p))
	return err == nil
}

var kernelModuleRe = regexp.MustCompile(`Kernel Module[^\n]*?\s([0-9]+\.[0-9]+(?:\.[0-9]+)?)(?:\s|$)`)

// kernelDriverVersion reads the driver version from /proc/driver/nvidia/version.
func kernelDriverVersion(sys System) string {
	data, err := fs.ReadFile(sys.FS, "proc/driver/nvidia/version")
	if err != nil {
		return ""
	}
	if m := kernelModuleRe.FindSubmatch(data); m != nil {
		return string(m[1])
	}
	return ""
}

// detectContainer looks for /.dockerenv, /run/.containerenv and container
// cgroup paths of PID 1.
func detectContainer(sys System) (bool, string) {
	if exists(sys, ".dockerenv") {
		return true, "/.dockerenv"
	}
	if exists(sys, "run/.containerenv") {
		return true, "/run/.containerenv"
	}
	for _, f := range []string{"proc/1/cgroup", "proc/self/cgroup"} {
		data, err := fs.ReadFile(sys.FS, f)
		if err != nil {
			continue
		}
		for _, kw := range []string{"docker", "kubepods", "containerd", "libpod", "lxc", "buildkit"} {
			if strings.Contains(string(data), kw) {
				return true, "/" + f + " mentions " + kw
			}
		}
	}
	if v := sys.Env["container"]; v != "" {
		return true, "container=" + v
	}
	return false, ""
}

// lookPath finds an executable file on the PATH of sys.
func lookPath(sys System, file string) string {
	for _, dir := range strings.Split(sys.Env["PATH"], ":") {
		if dir == "" {
			continue
		}
		p := path.Join(dir, file)
		st, err := fs.Stat(sys.FS, fsName(p))
		if err == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
			return p
		}
	}
	return ""
}

// ldEntry is one library of the ld.so cache.
type ldEntry struct{ name, path string }

func readLDCache(ctx context.Context, sys System) ([]ldEntry, error) {
	if sys.LDCache == nil {
		return nil, errors.New("not read")
	}
	out, err := sys.LDCache(ctx)
	if err != nil {
		return nil, err
	}
	want := map[string]string{"amd64": "x86-64", "arm64": "AArch64", "ppc64le": "64bit"}[orText(sys.GOARCH, runtime.GOARCH)]
	var es []ldEntry
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		left, p, ok := strings.Cut(line, " => ")
		if !ok {
			continue
		}
		nm, flags, _ := strings.Cut(left, " ")
		if want != "" && !strings.Contains(flags, want) {
			continue // another architecture (i386 libraries on x86_64)
		}
		es = append(es, ldEntry{name: nm, path: strings.TrimSpace(p)})
	}
	return es, nil
}

// findLib returns where a library is: LD_LIBRARY_PATH first, then the ld.so
// cache, then the usual driver directories.
func findLib(sys System, cache []ldEntry, lib string) string {
	for _, dir := range strings.Split(sys.Env["LD_LIBRARY_PATH"], ":") {
		if dir != "" && exists(sys, path.Join(dir, lib)) {
			return path.Join(dir, lib)
		}
	}
	for _, e := range cache {
		if e.name == lib {
			return e.path
		}
	}
	for _, dir := range []string{"/usr/lib/x86_64-linux-gnu", "/usr/lib64", "/usr/lib/aarch64-linux-gnu", "/usr/local/nvidia/lib64", "/usr/lib/wsl/lib"} {
		if exists(sys, path.Join(dir, lib)) {
			return path.Join(dir, lib)
		}
	}
	return ""
}

// libFamilies are the libraries of which two copies cause trouble.
var libFamilies = []string{"libcudart.so", "libcuda.so", "libnvidia-ml.so"}

// libraryConflicts finds copies of libcudart, libcuda and libnvidia-ml in more
// than one directory of LD_LIBRARY_PATH and the ld.so cache.
func libraryConflicts(sys System, cache []ldEntry, cacheErr error) Item {
	type where struct {
		files  []string
		source string
	}
	fam := map[string]map[string]*where{} // family -> dir -> files
	var order []string                    // dirs in loader order, for stable output
	note := func(family, dir, file, source string) {
		if fam[family] == nil {
			fam[family] = map[string]*where{}
		}
		w := fam[family][dir]
		if w == nil {
			w = &where{source: source}
			fam[family][dir] = w
			if !slices.Contains(order, dir) {
				order = append(order, dir)
			}
		}
		if !slices.Contains(w.files, file) {
			w.files = append(w.files, file)
		}
	}
	familyOf := func(file string) string {
		for _, f := range libFamilies {
			if file == f || strings.HasPrefix(file, f+".") {
				return f
			}
		}
		return ""
	}
	for _, dir := range strings.Split(sys.Env["LD_LIBRARY_PATH"], ":") {
		if dir == "" {
			continue
		}
		dir = path.Clean(dir)
		ents, err := fs.ReadDir(sys.FS, fsName(dir))
		if err != nil {
			continue
		}
		for _, e := range ents {
			if f := familyOf(e.Name()); f != "" {
				note(f, dir, e.Name(), "LD_LIBRARY_PATH")
			}
		}
	}
	for _, e := range cache {
		if f := familyOf(e.name); f != "" {
			note(f, path.Dir(e.path), e.name, "ld.so cache")
		}
	}
	var problems []string
	var advice []string
	for _, f := range libFamilies {
		dirs := fam[f]
		if len(dirs) < 2 {
			continue
		}
		var parts []string
		for _, dir := range order {
			w, ok := dirs[dir]
			if !ok {
				continue
			}
			sort.Strings(w.files)
			s := fmt.Sprintf("%s (%s, %s)", dir, strings.Join(w.files, ", "), w.source)
			switch {
			case strings.Contains(dir, "stubs"):
				s += " [a stub for linking only]"
				advice = append(advice, "remove "+dir+" from the library path: its stub "+f+" makes every CUDA call fail")
			case strings.Contains(dir, "/compat"):
				s += " [CUDA forward-compatibility libraries]"
			}
			parts = append(parts, s)
		}
		problems = append(problems, fmt.Sprintf("%s in %d directories: %s", f+".*", len(dirs), strings.Join(parts, "; ")))
	}
	if len(problems) == 0 {
		// Say what was found: a library that is missing is the mounts check's finding, not "one copy".
		var seen []string
		for _, f := range libFamilies {
			n := "none"
			for dir := range fam[f] {
				n = "one copy (" + dir + ")"
			}
			seen = append(seen, strings.TrimSuffix(f, ".so")+" "+n)
		}
		msg := "no duplicate CUDA libraries on LD_LIBRARY_PATH and in the ld.so cache: " + strings.Join(seen, ", ")
		if cacheErr != nil {
			msg += fmt.Sprintf(" (ld.so cache not read: %v)", cacheErr)
		}
		return Item{Check: CheckLibraries, Status: OK, Message: msg}
	}
	advice = append(advice, "the loader takes the first copy (LD_LIBRARY_PATH before the ld.so cache): keep one CUDA runtime and the driver's own libcuda/libnvidia-ml on the path, and drop stale directories from LD_LIBRARY_PATH")
	return Item{Check: CheckLibraries, Status: Warn, Message: strings.Join(problems, "; "), Advice: strings.Join(advice, "; ")}
}

// imageSelfCheck checks the torchimg image this process runs in: its facts
// file plus the NVIDIA_REQUIRE_* of the process environment.
func imageSelfCheck(data []byte, facts host.Facts, derived, nvmlRead bool, sys System, db *compat.DB, inContainer bool) *Result {
	kv, err := imageenv.Parse(data)
	if err != nil {
		r := &Result{Image: ImageSummary{Ref: imageenv.Path}, Advice: []string{}, Suggestions: []Suggestion{}}
		r.add(PartImage, Unknown, "%v", err)
		r.Verdict = verdictOf(r.Reasons)
		return r
	}
	const pre = "io.torchimg."
	labels := map[string]string{pre + matrix.LabelSchema: matrix.SchemaVersion}
	set := func(short, v string) {
		if v != "" {
			labels[pre+short] = v
		}
	}
	set(matrix.LabelTorchVersion, orText(kv.Torch, "unknown"))
	set(matrix.LabelTorchCUDA, kv.CUDA)
	set(matrix.LabelCUDAVersion, orText(kv.CUDAToolkit, kv.CUDA))
	set(matrix.LabelDriverMin, kv.DriverMin)
	set(matrix.LabelDriverMinCompat, kv.DriverMinCompat)
	set(matrix.LabelCUDAArchs, kv.CUDAArchs)
	set(matrix.LabelVariant, kv.Variant)
	env := map[string]string{}
	for k, v := range sys.Env {
		if strings.HasPrefix(k, require.EnvRequirePrefix) || k == require.EnvDisableRequire || k == require.EnvCUDAVersion || k == driver.EnvCompatPackage {
			env[k] = v
		}
	}
	info := &report.Info{Ref: "this container (" + imageenv.Path + ")", Labels: labels, Env: env, Prefix: "io.torchimg"}
	mode := driver.AnyMode
	if inContainer {
		mode = driver.Running
	}
	res := Evaluate(info, Host{Facts: facts, CUDADerived: derived, Runtime: mode, RuntimeSource: "running inside the container"}, db)
	// The minimum driver came from the facts file, not from a label.
	src := "label io.torchimg." + matrix.LabelDriverMin
	fromFile := "TORCHIMG_DRIVER_MIN in " + imageenv.Path
	res.Image.DriverMinSrc = strings.ReplaceAll(res.Image.DriverMinSrc, src, fromFile)
	for i := range res.Advice {
		res.Advice[i] = strings.ReplaceAll(res.Advice[i], src, fromFile)
	}
	for i := range res.Reasons {
		res.Reasons[i].Message = strings.ReplaceAll(res.Reasons[i].Message, src, fromFile)
	}
	if !nvmlRead {
		// The GPUs are unknown (no NVML), not absent: judge the driver only.
		var keep []Reason
		for _, rs := range res.Reasons {
			if rs.Part != PartGPU {
				keep = append(keep, rs)
			}
		}
		res.Reasons, res.Verdict = keep, verdictOf(keep)
	}
	// The CUDA variants of the same torch release that this driver runs.
	if res.Verdict == NotCompatible && facts.Driver != "" {
		var works []string
		for _, alt := range kv.Alternatives {
			if version.Valid(alt.DriverMin) && version.Compare(facts.Driver, alt.DriverMin) >= 0 {
				works = append(works, fmt.Sprintf("CUDA %s (driver >= %s)", alt.CUDA, alt.DriverMin))
			}
		}
		if len(works) > 0 {
			res.advise("torch %s is also built for %s, which run on driver %s: look for those tags of %s (torchimg check lists them)", kv.Torch, strings.Join(works, ", "), facts.Driver, orText(kv.Repository, "this repository"))
		}
	}
	return res
}
