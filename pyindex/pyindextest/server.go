// Package pyindextest serves a fixture "simple" package index on 127.0.0.1 for tests: project
// pages in the HTML form (PEP 503, links with #sha256= fragments) or, when the client asks for
// it, the JSON form (PEP 691), wheel files (small zips holding a .dist-info/METADATA) and their
// metadata files (PEP 658) where enabled.
package pyindextest

import (
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strings"
	"sync"
	"testing"
)

// Wheel is a fixture wheel.
type Wheel struct {
	Filename string
	// Metadata is the METADATA text inside the wheel (and in its .metadata file).
	Metadata string
	// NoMetadataFile: the index does not serve the .metadata file (nor advertise it).
	NoMetadataFile bool
}

// Server is a fixture index. Pages are registered by path ("/whl/cu128/torch/").
type Server struct {
	*httptest.Server
	mu       sync.Mutex
	files    map[string][]byte // filename -> wheel bytes
	metadata map[string][]byte // filename -> metadata (only where served)
	pages    map[string][]string
	raw      map[string]rawPage
	// JSON: serve the PEP 691 form to clients that ask for it (default true).
	JSON     bool
	requests map[string]int // GETs by path
}

type rawPage struct {
	status      int
	contentType string
	body        string
}

// New starts a fixture index; it is closed when the test ends.
func New(t testing.TB) *Server {
	s := &Server{files: map[string][]byte{}, metadata: map[string][]byte{}, pages: map[string][]string{},
		raw: map[string]rawPage{}, JSON: true, requests: map[string]int{}}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

// Add registers wheels (built once per file name) and lists them on the page at path.
func (s *Server) Add(path string, wheels ...Wheel) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, w := range wheels {
		if _, ok := s.files[w.Filename]; !ok {
			s.files[w.Filename] = buildWheel(w)
			if !w.NoMetadataFile {
				s.metadata[w.Filename] = []byte(w.Metadata)
			}
		}
		s.pages[path] = append(s.pages[path], w.Filename)
	}
}

// Raw serves a fixed answer at path (for broken pages).
func (s *Server) Raw(path string, status int, contentType, body string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.raw[path] = rawPage{status, contentType, body}
}

// Count is the number of GETs of path.
func (s *Server) Count(path string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests[path]
}

// WheelURL is where a wheel is served.
func (s *Server) WheelURL(filename string) string { return s.URL + filePath(filename) }

// filePath is the path a file is served at, with "+" escaped as download.pytorch.org does.
func filePath(filename string) string {
	return "/files/" + strings.ReplaceAll(url.PathEscape(filename), "+", "%2B")
}

func buildWheel(w Wheel) []byte {
	name, rest, _ := strings.Cut(w.Filename, "-")
	ver, _, _ := strings.Cut(rest, "-")
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	f, _ := zw.Create(name + "-" + ver + ".dist-info/METADATA")
	f.Write([]byte(w.Metadata))
	g, _ := zw.Create(name + "/__init__.py")
	g.Write([]byte("# fixture\n"))
	zw.Close()
	return b.Bytes()
}

func sum(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests[r.URL.Path]++
	if rp, ok := s.raw[r.URL.Path]; ok {
		if rp.contentType != "" {
			w.Header().Set("Content-Type", rp.contentType)
		}
		w.WriteHeader(rp.status)
		fmt.Fprint(w, rp.body)
		return
	}
	if name, ok := strings.CutPrefix(r.URL.Path, "/files/"); ok {
		if fn, ok := strings.CutSuffix(name, ".metadata"); ok {
			if md, ok := s.metadata[fn]; ok {
				w.Write(md)
				return
			}
		} else if data, ok := s.files[name]; ok {
			w.Header().Set("Content-Type", "application/octet-stream")
			w.Write(data)
			return
		}
		http.NotFound(w, r)
		return
	}
	files, ok := s.pages[r.URL.Path]
	if !ok {
		http.NotFound(w, r)
		return
	}
	files = append([]string(nil), files...)
	sort.Strings(files)
	if s.JSON && strings.Contains(r.Header.Get("Accept"), "application/vnd.pypi.simple.v1+json") {
		s.serveJSON(w, files)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	var b strings.Builder
	b.WriteString("<!DOCTYPE html>\n<html>\n<head><meta name=\"pypi:repository-version\" content=\"1.0\"><title>Links for torch</title></head>\n<body>\n<h1>Links for torch</h1>\n")
	for _, fn := range files {
		// Relative links from the server root, as download.pytorch.org writes them, with + escaped.
		fmt.Fprintf(&b, `<a href="%s#sha256=%s" data-requires-python="%s"`, filePath(fn), sum(s.files[fn]), html.EscapeString(">=3.10"))
		if md, ok := s.metadata[fn]; ok {
			fmt.Fprintf(&b, ` data-dist-info-metadata="sha256=%s" data-core-metadata="sha256=%s"`, sum(md), sum(md))
		}
		fmt.Fprintf(&b, ">%s</a><br/>\n", html.EscapeString(fn))
	}
	b.WriteString("</body>\n</html>\n")
	fmt.Fprint(w, b.String())
}

func (s *Server) serveJSON(w http.ResponseWriter, files []string) {
	type file struct {
		Filename     string            `json:"filename"`
		URL          string            `json:"url"`
		Hashes       map[string]string `json:"hashes"`
		RequiresPy   string            `json:"requires-python,omitempty"`
		CoreMetadata any               `json:"core-metadata"`
		Yanked       bool              `json:"yanked"`
	}
	page := struct {
		Meta  map[string]string `json:"meta"`
		Name  string            `json:"name"`
		Files []file            `json:"files"`
	}{Meta: map[string]string{"api-version": "1.1"}, Name: "torch"}
	for _, fn := range files {
		f := file{Filename: fn, URL: filePath(fn), Hashes: map[string]string{"sha256": sum(s.files[fn])}, RequiresPy: ">=3.10", CoreMetadata: false}
		if md, ok := s.metadata[fn]; ok {
			f.CoreMetadata = map[string]string{"sha256": sum(md)}
		}
		page.Files = append(page.Files, f)
	}
	w.Header().Set("Content-Type", "application/vnd.pypi.simple.v1+json")
	json.NewEncoder(w).Encode(page)
}
