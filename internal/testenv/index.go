package testenv

import (
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/torchimg/torchimg/internal/version"
)

// TorchWheel is the set of facts a fixture torch wheel reports (see testdata/fixture-torch/README.md).
type TorchWheel struct {
	Version string `yaml:"version"` // "2.9.1+cu128" (torch.__version__)
	CUDA    string `yaml:"cuda"`    // "12.8" as torch.version.cuda reports it; "" for a CPU wheel
	CUDNN   string `yaml:"cudnn"`   // "9.10.2.21", or "" for none
	NCCL    string `yaml:"nccl"`    // "2.27.5", or "" for none
	Archs   string `yaml:"archs"`   // TORCH_CUDA_ARCH_LIST form "7.0;7.5;8.0;8.6;9.0;10.0;12.0+PTX", or ""
	// Requires are the wheel's dependencies (Requires-Dist), e.g. "torchimg-fixture-dep==1.0";
	// the index must serve them too (AddPackage).
	Requires []string `yaml:"requires"`
}

// Index is a PEP 503 "simple" package index on 127.0.0.1 that serves fixture wheels.
//
// Everything is listed under /simple/<project>/ (the Env's IndexURL). Each torch wheel with a local
// version label (2.9.1+cu128) is also listed under /<label>/simple/torch/ (VariantURL), which is how
// download.pytorch.org separates CUDA variants: in one index pip picks the highest local label for
// torch==2.9.1. Wheels are served from /files/<filename> with the caching headers of
// files.pythonhosted.org (an ETag and a year's max-age, immutable); Requests counts those
// downloads, Downloads those of one file.
type Index struct {
	base      string // "http://127.0.0.1:PORT"
	mu        sync.Mutex
	projects  map[string]map[string]*wheel // normalized project -> filename -> wheel
	downloads map[string]int               // filename -> GET requests
	auth      string                       // "user:password" that every request must carry (RequireBasicAuth), or ""
	refused   int                          // requests refused for want of it
	requests  atomic.Int64
	fixture   string // testdata/fixture-torch, found lazily
}

type wheel struct {
	filename string
	label    string // local version label of a torch wheel ("cu128"), else ""
	data     []byte
	sha256   string
}

func newIndex(base string) *Index {
	return &Index{base: base, projects: map[string]map[string]*wheel{}, downloads: map[string]int{}}
}

// URL is the index root for pip's --index-url ("http://127.0.0.1:PORT/simple").
func (ix *Index) URL() string { return ix.base + "/simple" }

// VariantURL is an index that lists only the torch wheels whose local version label is label
// ("cu128"), plus every AddPackage package, like https://download.pytorch.org/whl/cu128.
func (ix *Index) VariantURL(label string) string { return ix.base + "/" + label + "/simple" }

// Requests reports how many wheel downloads the index has served.
func (ix *Index) Requests() int { return int(ix.requests.Load()) }

// Downloads reports how many times the wheel filename (torch-2.9.1+cu128-py3-none-any.whl) was
// downloaded.
func (ix *Index) Downloads(filename string) int {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	return ix.downloads[filename]
}

// RequireBasicAuth makes every request need HTTP basic auth with user and password (401
// otherwise), like a private index; Refused counts the requests turned away.
func (ix *Index) RequireBasicAuth(user, password string) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	ix.auth = user + ":" + password
}

// Refused reports how many requests RequireBasicAuth turned away.
func (ix *Index) Refused() int {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	return ix.refused
}

var (
	torchVersionRE = regexp.MustCompile(`^[0-9]+(\.[0-9]+){1,3}((a|b|rc)[0-9]+)?(\.post[0-9]+)?(\.dev[0-9]+)?(\+[a-z0-9]+(\.[a-z0-9]+)*)?$`)
	archListRE     = regexp.MustCompile(`^[0-9]+\.[0-9]+[af]?(\+PTX)?([; ][0-9]+\.[0-9]+[af]?(\+PTX)?)*$`)
	projectRE      = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?$`)
	normalizeRE    = regexp.MustCompile(`[-_.]+`)
)

// AddTorch builds a wheel from testdata/fixture-torch that reports the facts in w and lists it
// under /simple/torch/ (and /<local label>/simple/torch/). Adding the same version again replaces it.
func (ix *Index) AddTorch(w TorchWheel) error {
	if !torchVersionRE.MatchString(w.Version) {
		return fmt.Errorf("fixture torch: version %q: want a PEP 440 version like 2.9.1+cu128", w.Version)
	}
	for field, v := range map[string]string{"CUDA": w.CUDA, "CUDNN": w.CUDNN, "NCCL": w.NCCL} {
		if v != "" && !version.Valid(v) {
			return fmt.Errorf("fixture torch %s: %s %q: want a dotted version like 12.8", w.Version, field, v)
		}
	}
	if w.Archs != "" && !archListRE.MatchString(w.Archs) {
		return fmt.Errorf("fixture torch %s: archs %q: want TORCH_CUDA_ARCH_LIST form like 8.0;9.0;12.0+PTX", w.Version, w.Archs)
	}
	if w.CUDA == "" && w.Archs != "" {
		return fmt.Errorf("fixture torch %s: archs %q need a CUDA version", w.Version, w.Archs)
	}
	dir, err := ix.fixtureDir()
	if err != nil {
		return err
	}
	facts, err := json.MarshalIndent(map[string]string{
		"version": w.Version, "cuda": w.CUDA, "cudnn": w.CUDNN, "nccl": w.NCCL, "archs": w.Archs,
	}, "", "  ")
	if err != nil {
		return err
	}
	files := map[string][]byte{"torch/_fixture.json": append(facts, '\n')}
	root := filepath.Join(dir, "torch")
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if d.Name() == "__pycache__" {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(p, ".py") {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		files[filepath.ToSlash(rel)] = b
		return nil
	})
	if err != nil {
		return fmt.Errorf("fixture torch: %w", err)
	}
	if _, ok := files["torch/__init__.py"]; !ok {
		return fmt.Errorf("fixture torch: %s has no torch/__init__.py", dir)
	}
	wh, err := buildWheel("torch", w.Version, "fixture torch (test fixture, NOT PyTorch)", files, w.Requires...)
	if err != nil {
		return err
	}
	if _, label, ok := strings.Cut(w.Version, "+"); ok {
		wh.label = label
	}
	ix.add("torch", wh)
	return nil
}

// AddPackage builds a tiny pure-Python wheel for name==version (importable as name with '-' and
// '.' turned into '_', lower case; it has __version__) and lists it under /simple/<normalized name>/.
func (ix *Index) AddPackage(name, ver string) error {
	if !projectRE.MatchString(name) {
		return fmt.Errorf("fixture package %q: want a project name like my-pkg", name)
	}
	if !torchVersionRE.MatchString(ver) {
		return fmt.Errorf("fixture package %s: version %q: want a PEP 440 version like 1.0.2", name, ver)
	}
	if normalize(name) == "torch" {
		return errors.New("fixture package: use AddTorch for torch")
	}
	mod := strings.ReplaceAll(normalize(name), "-", "_")
	src := fmt.Sprintf("\"\"\"Fixture package %s %s (torchimg testenv).\"\"\"\n__version__ = %q\n", name, ver, ver)
	wh, err := buildWheel(name, ver, "torchimg test fixture", map[string][]byte{mod + "/__init__.py": []byte(src)})
	if err != nil {
		return err
	}
	ix.add(normalize(name), wh)
	return nil
}

// Replace serves other bytes under a listed file name (a wheel replaced on its index: the page
// then lists the new sha256). It fails when no project lists the file.
func (ix *Index) Replace(filename string, data []byte) error {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	for _, ws := range ix.projects {
		for _, w := range ws {
			if w.filename == filename {
				sum := sha256.Sum256(data)
				w.data, w.sha256 = data, hex.EncodeToString(sum[:])
				return nil
			}
		}
	}
	return fmt.Errorf("fixture index: no file %s", filename)
}

func (ix *Index) add(project string, w *wheel) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if ix.projects[project] == nil {
		ix.projects[project] = map[string]*wheel{}
	}
	ix.projects[project][w.filename] = w
}

// normalize is the PEP 503 project name normalization.
func normalize(name string) string { return strings.ToLower(normalizeRE.ReplaceAllString(name, "-")) }

// buildWheel writes a py3-none-any wheel (a zip with a .dist-info) with fixed timestamps, so the
// same inputs give the same bytes and sha256.
func buildWheel(project, ver, summary string, files map[string][]byte, requires ...string) (*wheel, error) {
	dist := strings.ReplaceAll(normalize(project), "-", "_")
	filename := fmt.Sprintf("%s-%s-py3-none-any.whl", dist, ver)
	info := fmt.Sprintf("%s-%s.dist-info/", dist, ver)
	meta := fmt.Sprintf("Metadata-Version: 2.1\nName: %s\nVersion: %s\nSummary: %s\n", project, ver, summary)
	for _, r := range requires {
		meta += "Requires-Dist: " + r + "\n"
	}
	files[info+"METADATA"] = []byte(meta)
	files[info+"WHEEL"] = []byte("Wheel-Version: 1.0\nGenerator: torchimg-testenv\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
	names := make([]string, 0, len(files)+1)
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	var record strings.Builder
	for _, n := range names {
		sum := sha256.Sum256(files[n])
		fmt.Fprintf(&record, "%s,sha256=%s,%d\n", n, base64.RawURLEncoding.EncodeToString(sum[:]), len(files[n]))
	}
	fmt.Fprintf(&record, "%sRECORD,,\n", info)
	files[info+"RECORD"] = []byte(record.String())
	names = append(names, info+"RECORD")

	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	mtime := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, n := range names {
		h := &zip.FileHeader{Name: n, Method: zip.Deflate, Modified: mtime}
		h.SetMode(0o644)
		f, err := zw.CreateHeader(h)
		if err != nil {
			return nil, err
		}
		if _, err := f.Write(files[n]); err != nil {
			return nil, err
		}
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	sum := sha256.Sum256(buf.Bytes())
	return &wheel{filename: filename, data: buf.Bytes(), sha256: hex.EncodeToString(sum[:])}, nil
}

// ServeHTTP serves the index: /simple/, /simple/<project>/, /<label>/simple/..., /files/<wheel>.
func (ix *Index) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	ix.mu.Lock()
	auth := ix.auth
	if user, pass, _ := r.BasicAuth(); auth != "" && user+":"+pass != auth {
		ix.refused++
		ix.mu.Unlock()
		w.Header().Set("WWW-Authenticate", `Basic realm="torchimg test index"`)
		http.Error(w, "authentication required", http.StatusUnauthorized)
		return
	}
	ix.mu.Unlock()
	p := r.URL.Path
	if name, ok := strings.CutPrefix(p, "/files/"); ok {
		ix.serveFile(w, r, name)
		return
	}
	label := ""
	if i := strings.Index(p, "/simple"); i > 0 {
		label, p = strings.Trim(p[:i], "/"), p[i:]
		if label == "" || strings.Contains(label, "/") {
			http.NotFound(w, r)
			return
		}
	}
	rest, ok := strings.CutPrefix(p, "/simple")
	if !ok {
		http.NotFound(w, r)
		return
	}
	switch rest = strings.Trim(rest, "/"); {
	case rest == "":
		ix.serveRoot(w, label)
	case !strings.Contains(rest, "/"):
		if !strings.HasSuffix(r.URL.Path, "/") {
			http.Redirect(w, r, r.URL.Path+"/", http.StatusMovedPermanently)
			return
		}
		ix.serveProject(w, r, normalize(rest), label)
	default:
		http.NotFound(w, r)
	}
}

func (ix *Index) serveRoot(w http.ResponseWriter, label string) {
	ix.mu.Lock()
	names := make([]string, 0, len(ix.projects))
	for n := range ix.projects {
		names = append(names, n)
	}
	ix.mu.Unlock()
	sort.Strings(names)
	var b strings.Builder
	b.WriteString("<!DOCTYPE html>\n<html><head><meta name=\"pypi:repository-version\" content=\"1.0\"><title>Simple index</title></head><body>\n")
	for _, n := range names {
		fmt.Fprintf(&b, "<a href=\"%s/\">%s</a><br/>\n", url.PathEscape(n), html.EscapeString(n))
	}
	b.WriteString("</body></html>\n")
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_, _ = w.Write([]byte(b.String()))
}

func (ix *Index) serveProject(w http.ResponseWriter, r *http.Request, project, label string) {
	ix.mu.Lock()
	var wheels []*wheel
	for _, wh := range ix.projects[project] {
		if label != "" && project == "torch" && wh.label != label {
			continue
		}
		wheels = append(wheels, wh)
	}
	ix.mu.Unlock()
	if len(wheels) == 0 {
		http.NotFound(w, r)
		return
	}
	sort.Slice(wheels, func(i, j int) bool { return wheels[i].filename < wheels[j].filename })
	var b strings.Builder
	fmt.Fprintf(&b, "<!DOCTYPE html>\n<html><head><meta name=\"pypi:repository-version\" content=\"1.0\"><title>Links for %s</title></head><body>\n<h1>Links for %s</h1>\n", project, project)
	for _, wh := range wheels {
		// '+' escaped as download.pytorch.org does (torch-2.9.1%2Bcu128-...whl)
		href := strings.ReplaceAll(url.PathEscape(wh.filename), "+", "%2B")
		fmt.Fprintf(&b, "<a href=\"/files/%s#sha256=%s\">%s</a><br/>\n", href, wh.sha256, html.EscapeString(wh.filename))
	}
	b.WriteString("</body></html>\n")
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_, _ = w.Write([]byte(b.String()))
}

func (ix *Index) serveFile(w http.ResponseWriter, r *http.Request, name string) {
	ix.mu.Lock()
	var found *wheel
	for _, ws := range ix.projects {
		if wh, ok := ws[name]; ok {
			found = wh
		}
	}
	ix.mu.Unlock()
	if found == nil {
		http.NotFound(w, r)
		return
	}
	if r.Method == http.MethodGet {
		ix.requests.Add(1)
		ix.mu.Lock()
		ix.downloads[name]++
		ix.mu.Unlock()
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("ETag", `"`+found.sha256+`"`)
	w.Header().Set("Cache-Control", "max-age=365000000, immutable, public")
	http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(found.data))
}

// fixtureDir finds testdata/fixture-torch: $TORCHIMG_FIXTURE_TORCH, else in the module root.
func (ix *Index) fixtureDir() (string, error) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if ix.fixture != "" {
		return ix.fixture, nil
	}
	var tried []string
	try := func(dir string) bool {
		if dir == "" {
			return false
		}
		tried = append(tried, dir)
		if st, err := os.Stat(filepath.Join(dir, "torch", "__init__.py")); err == nil && !st.IsDir() {
			ix.fixture = dir
			return true
		}
		return false
	}
	if try(os.Getenv("TORCHIMG_FIXTURE_TORCH")) {
		return ix.fixture, nil
	}
	if root, err := repoRoot(); err == nil && try(filepath.Join(root, "testdata", "fixture-torch")) {
		return ix.fixture, nil
	}
	return "", fmt.Errorf("fixture torch sources not found (tried %s); set TORCHIMG_FIXTURE_TORCH to testdata/fixture-torch",
		strings.Join(tried, ", "))
}

var _ http.Handler = (*Index)(nil)

// Torch291 is the fixture torch 2.9.1 of a CUDA variant, "12.6" or "12.8", with the facts of
// PyTorch's own wheels (cuDNN, NCCL, TORCH_CUDA_ARCH_LIST): the one place the e2e tests take
// them from. Any other CUDA is a programming error of the test.
func Torch291(cuda string) TorchWheel {
	w := TorchWheel{CUDA: cuda, CUDNN: "9.10.2.21", NCCL: "2.27.5"}
	switch cuda {
	case "12.6":
		w.Version, w.Archs = "2.9.1+cu126", "5.0;6.0;7.0;7.5;8.0;8.6;9.0"
	case "12.8":
		w.Version, w.Archs = "2.9.1+cu128", "7.0;7.5;8.0;8.6;9.0;10.0;12.0"
	default:
		panic("testenv.Torch291: no fixture for CUDA " + cuda + " (have 12.6, 12.8)")
	}
	return w
}
