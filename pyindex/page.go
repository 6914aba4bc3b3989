// Package pyindex reads Python package indexes that speak the "simple" repository API: the HTML
// form of PEP 503 and the JSON form of PEP 691 (chosen by content negotiation), with the wheel
// metadata files of PEP 658/714 (<wheel URL>.metadata). It also parses wheel file names (PEP 427)
// and the Requires-Dist entries of core metadata, with their environment markers (PEP 508).
//
// It never downloads a wheel unless asked to (Client.WheelMetadata).
package pyindex

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/url"
	"path"
	"strings"

	"golang.org/x/net/html"
)

// File is one file a project page lists.
type File struct {
	Filename       string            `json:"filename"`
	URL            string            `json:"url"`              // absolute, without the #hash fragment
	Hashes         map[string]string `json:"hashes,omitempty"` // "sha256" -> lower-case hex
	RequiresPython string            `json:"requires_python,omitempty"`
	// Metadata is where the file's core metadata is served on its own (PEP 658/714);
	// nil when the index does not say it serves it.
	Metadata     *MetadataFile `json:"metadata,omitempty"`
	Yanked       bool          `json:"yanked,omitempty"`
	YankedReason string        `json:"yanked_reason,omitempty"`
}

// MetadataFile is a wheel's METADATA served beside it, at the wheel's URL + ".metadata".
type MetadataFile struct {
	URL    string            `json:"url"`
	Hashes map[string]string `json:"hashes,omitempty"` // empty when the index gives no hash
}

// Page is a project page ("/simple/torch/").
type Page struct {
	URL    string `json:"url"`
	Format string `json:"format"` // "html" (PEP 503) or "json" (PEP 691)
	Files  []File `json:"files"`
}

// Media types of PEP 691.
const (
	JSONMediaType = "application/vnd.pypi.simple.v1+json"
	HTMLMediaType = "application/vnd.pypi.simple.v1+html"
	// Accept asks for the JSON form, then either HTML form.
	Accept = JSONMediaType + ", " + HTMLMediaType + ";q=0.2, text/html;q=0.01"
)

// ParsePage reads a project page in the form its Content-Type names (PEP 691 JSON, else
// HTML; a body that starts with "{" is taken as JSON when the type says neither). Relative
// URLs are resolved against base. A page that lists no file is an error: it is not a project
// page, or the project has no files.
func ParsePage(body []byte, contentType string, base *url.URL) (*Page, error) {
	mt, _, _ := mime.ParseMediaType(contentType)
	isJSON := mt == JSONMediaType || mt == "application/json" ||
		(mt != "text/html" && mt != HTMLMediaType && bytes.HasPrefix(bytes.TrimSpace(body), []byte("{")))
	p := &Page{URL: base.String(), Format: "html"}
	var err error
	if isJSON {
		p.Format = "json"
		p.Files, err = ParseJSON(body, base)
	} else {
		p.Files, err = ParseHTML(bytes.NewReader(body), base)
	}
	if err != nil {
		return nil, err
	}
	if len(p.Files) == 0 {
		if p.Format == "json" {
			return nil, errors.New(`the page lists no files (its "files" is empty)`)
		}
		return nil, errors.New("the page lists no files (no <a href> links): not a PEP 503 project page, or the project has no files")
	}
	return p, nil
}

// ParseHTML reads the anchors of a PEP 503 project page: href (with an optional #<hash>=<hex>
// fragment), data-requires-python, data-core-metadata / data-dist-info-metadata and data-yanked.
// A <base href> in the page changes what relative links resolve against.
func ParseHTML(r io.Reader, base *url.URL) ([]File, error) {
	z := html.NewTokenizer(r)
	var files []File
	for {
		switch z.Next() {
		case html.ErrorToken:
			if err := z.Err(); !errors.Is(err, io.EOF) {
				return nil, fmt.Errorf("read HTML: %w", err)
			}
			return files, nil
		case html.StartTagToken, html.SelfClosingTagToken:
			t := z.Token()
			switch t.Data {
			case "base":
				if h, ok := attr(t, "href"); ok {
					if u, err := base.Parse(h); err == nil {
						base = u
					}
				}
			case "a":
				h, ok := attr(t, "href")
				if !ok || h == "" {
					continue
				}
				f, err := newFile(base, h)
				if err != nil {
					return nil, err
				}
				f.RequiresPython, _ = attr(t, "data-requires-python")
				md, ok := attr(t, "data-core-metadata")
				if !ok {
					md, ok = attr(t, "data-dist-info-metadata")
				}
				if ok && md != "false" {
					f.Metadata = &MetadataFile{URL: f.URL + ".metadata"}
					if name, hex, ok := strings.Cut(md, "="); ok {
						f.Metadata.Hashes = map[string]string{strings.ToLower(name): strings.ToLower(hex)}
					}
				}
				if y, ok := attr(t, "data-yanked"); ok {
					f.Yanked, f.YankedReason = true, y
				}
				files = append(files, f)
			}
		}
	}
}

func attr(t html.Token, key string) (string, bool) {
	for _, a := range t.Attr {
		if a.Key == key {
			return a.Val, true
		}
	}
	return "", false
}

// newFile resolves a link and takes the file name from its last path segment and the hash
// from its fragment.
func newFile(base *url.URL, href string) (File, error) {
	u, err := base.Parse(href)
	if err != nil {
		return File{}, fmt.Errorf("link %q: %v", href, err)
	}
	f := File{}
	if name, hex, ok := strings.Cut(u.Fragment, "="); ok && name != "" && hex != "" {
		f.Hashes = map[string]string{strings.ToLower(name): strings.ToLower(hex)}
	}
	u.Fragment, u.RawFragment = "", ""
	f.URL = u.String()
	f.Filename = path.Base(u.Path) // u.Path is unescaped: %2B is "+"
	return f, nil
}

// jsonPage is the PEP 691 project detail.
type jsonPage struct {
	Meta struct {
		APIVersion string `json:"api-version"`
	} `json:"meta"`
	Name  string `json:"name"`
	Files []struct {
		Filename       string            `json:"filename"`
		URL            string            `json:"url"`
		Hashes         map[string]string `json:"hashes"`
		RequiresPython string            `json:"requires-python"`
		CoreMetadata   json.RawMessage   `json:"core-metadata"`
		DistInfo       json.RawMessage   `json:"dist-info-metadata"`
		DataDistInfo   json.RawMessage   `json:"data-dist-info-metadata"`
		Yanked         json.RawMessage   `json:"yanked"`
	} `json:"files"`
}

// ParseJSON reads a PEP 691 project detail (api-version 1.x). Metadata is taken from
// "core-metadata" (PEP 714), else "dist-info-metadata" / "data-dist-info-metadata" (PEP 658
// as first published): true or a hash object.
func ParseJSON(data []byte, base *url.URL) ([]File, error) {
	var p jsonPage
	if err := json.Unmarshal(data, &p); err != nil {
		return nil, fmt.Errorf("not a PEP 691 JSON page: %v", err)
	}
	if mj, _, _ := strings.Cut(p.Meta.APIVersion, "."); mj != "1" {
		return nil, fmt.Errorf("not a PEP 691 JSON page: meta.api-version %q, want 1.x", p.Meta.APIVersion)
	}
	files := make([]File, 0, len(p.Files))
	for i, jf := range p.Files {
		if jf.URL == "" {
			return nil, fmt.Errorf("files[%d] (%s) has no url", i, jf.Filename)
		}
		f, err := newFile(base, jf.URL)
		if err != nil {
			return nil, err
		}
		if jf.Filename != "" {
			f.Filename = jf.Filename
		}
		if len(jf.Hashes) > 0 {
			f.Hashes = map[string]string{}
			for k, v := range jf.Hashes {
				f.Hashes[strings.ToLower(k)] = strings.ToLower(v)
			}
		}
		f.RequiresPython = jf.RequiresPython
		for _, raw := range []json.RawMessage{jf.CoreMetadata, jf.DistInfo, jf.DataDistInfo} {
			if len(raw) == 0 {
				continue
			}
			var on bool
			var hashes map[string]string
			switch {
			case json.Unmarshal(raw, &on) == nil:
				if !on {
					continue
				}
			case json.Unmarshal(raw, &hashes) == nil:
			default:
				return nil, fmt.Errorf("files[%d] (%s): core-metadata %s: want true, false or a hash object", i, f.Filename, raw)
			}
			f.Metadata = &MetadataFile{URL: f.URL + ".metadata", Hashes: hashes}
			break
		}
		if len(jf.Yanked) > 0 {
			var y bool
			var reason string
			switch {
			case json.Unmarshal(jf.Yanked, &y) == nil:
				f.Yanked = y
			case json.Unmarshal(jf.Yanked, &reason) == nil:
				f.Yanked, f.YankedReason = true, reason
			}
		}
		files = append(files, f)
	}
	return files, nil
}
