package pyindex_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/torchimg/torchimg/pyindex"
	"github.com/torchimg/torchimg/pyindex/pyindextest"
)

const md = "Metadata-Version: 2.1\nName: torch\nVersion: 2.9.1+cu128\nRequires-Dist: nvidia-cudnn-cu12==9.10.2.21\n"

func TestParseHTML(t *testing.T) {
	base, _ := url.Parse("https://download.pytorch.org/whl/cu128/torch/")
	page := `<!DOCTYPE html>
<html><body><h1>Links for torch</h1>
<a href="/whl/cu128/torch-2.9.1%2Bcu128-cp312-cp312-manylinux_2_28_x86_64.whl#sha256=ABCDEF" data-requires-python="&gt;=3.10" data-dist-info-metadata="sha256=0123">torch-2.9.1+cu128-cp312-cp312-manylinux_2_28_x86_64.whl</a><br>
<a href="torch-2.9.0%2Bcu128-cp312-cp312-win_amd64.whl" data-core-metadata="true" data-yanked="broken">torch-2.9.0+cu128-cp312-cp312-win_amd64.whl</a><br/>
<a name="no-href">x</a>
</body></html>`
	files, err := pyindex.ParseHTML(strings.NewReader(page), base)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 2 {
		t.Fatalf("%d files: %+v", len(files), files)
	}
	f := files[0]
	if f.Filename != "torch-2.9.1+cu128-cp312-cp312-manylinux_2_28_x86_64.whl" ||
		f.URL != "https://download.pytorch.org/whl/cu128/torch-2.9.1%2Bcu128-cp312-cp312-manylinux_2_28_x86_64.whl" ||
		f.Hashes["sha256"] != "abcdef" || f.RequiresPython != ">=3.10" || f.Metadata == nil ||
		f.Metadata.URL != f.URL+".metadata" || f.Metadata.Hashes["sha256"] != "0123" || f.Yanked {
		t.Errorf("%+v %+v", f, f.Metadata)
	}
	g := files[1]
	if g.URL != "https://download.pytorch.org/whl/cu128/torch/torch-2.9.0%2Bcu128-cp312-cp312-win_amd64.whl" ||
		g.Metadata == nil || len(g.Metadata.Hashes) != 0 || !g.Yanked || g.YankedReason != "broken" || g.Hashes != nil {
		t.Errorf("%+v", g)
	}
}

func TestClientPageForms(t *testing.T) {
	srv := pyindextest.New(t)
	srv.Add("/simple/torch/",
		pyindextest.Wheel{Filename: "torch-2.9.1+cu128-cp312-cp312-manylinux_2_28_x86_64.whl", Metadata: md},
		pyindextest.Wheel{Filename: "torch-2.9.1+cu128-cp313-cp313-manylinux_2_28_x86_64.whl", Metadata: md, NoMetadataFile: true})
	c := &pyindex.Client{}
	ctx := context.Background()
	for _, jsonForm := range []bool{true, false} {
		srv.JSON = jsonForm
		p, err := c.Page(ctx, srv.URL+"/simple/torch/")
		if err != nil {
			t.Fatal(err)
		}
		want := map[bool]string{true: "json", false: "html"}[jsonForm]
		if p.Format != want || len(p.Files) != 2 {
			t.Fatalf("format %s, %d files; want %s", p.Format, len(p.Files), want)
		}
		f := p.Files[0]
		if f.URL != srv.WheelURL(f.Filename) || len(f.Hashes["sha256"]) != 64 || f.Metadata == nil || p.Files[1].Metadata != nil {
			t.Errorf("%s: %+v", want, p.Files)
		}
		got, err := c.Metadata(ctx, f)
		if err != nil || string(got) != md {
			t.Errorf("%s: metadata %q %v", want, got, err)
		}
		whl, err := c.WheelMetadata(ctx, p.Files[1])
		if err != nil || string(whl) != md {
			t.Errorf("%s: wheel metadata %q %v", want, whl, err)
		}
	}
}

func TestClientErrors(t *testing.T) {
	srv := pyindextest.New(t)
	srv.Raw("/empty/torch/", http.StatusOK, "text/html", "<html><body><h1>Welcome</h1><p>no links here</p></body></html>")
	srv.Raw("/emptyjson/torch/", http.StatusOK, pyindex.JSONMediaType, `{"meta": {"api-version": "1.0"}, "name": "torch", "files": []}`)
	srv.Raw("/badjson/torch/", http.StatusOK, pyindex.JSONMediaType, `{"meta": {"api-version": "2.0"}, "files": []}`)
	srv.Raw("/broken/torch/", http.StatusInternalServerError, "text/plain", "oops")
	c := &pyindex.Client{}
	ctx := context.Background()
	for path, want := range map[string]string{
		"/empty/torch/":     srv.URL + "/empty/torch/: the page lists no files (no <a href> links): not a PEP 503 project page",
		"/emptyjson/torch/": `lists no files (its "files" is empty)`,
		"/badjson/torch/":   `meta.api-version "2.0", want 1.x`,
		"/broken/torch/":    srv.URL + "/broken/torch/: HTTP 500 Internal Server Error",
		"/missing/torch/":   srv.URL + "/missing/torch/: HTTP 404 Not Found",
	} {
		_, err := c.Page(ctx, srv.URL+path)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want %q", path, err, want)
		}
		if path == "/missing/torch/" && !pyindex.IsNotFound(err) {
			t.Errorf("%s: IsNotFound false", path)
		}
	}
	if _, err := c.Page(ctx, "ftp://example.invalid/torch/"); err == nil || !strings.Contains(err.Error(), "not an http(s) URL") {
		t.Errorf("ftp: %v", err)
	}
	// A metadata file whose hash is not the one the page gives is refused.
	bad := pyindex.File{Filename: "x.whl", Metadata: &pyindex.MetadataFile{URL: srv.URL + "/empty/torch/", Hashes: map[string]string{"sha256": "00"}}}
	if _, err := c.Metadata(ctx, bad); err == nil || !strings.Contains(err.Error(), "the index says 00") {
		t.Errorf("hash mismatch: %v", err)
	}
}

func TestParseJSON(t *testing.T) {
	base, _ := url.Parse("https://example.test/simple/torch/")
	page := `{"meta": {"api-version": "1.1"}, "name": "torch", "files": [
	  {"filename": "torch-2.9.1+cu128-cp312-cp312-manylinux_2_28_x86_64.whl", "url": "../../f/torch-2.9.1%2Bcu128-cp312-cp312-manylinux_2_28_x86_64.whl",
	   "hashes": {"sha256": "AB"}, "requires-python": ">=3.10", "dist-info-metadata": true, "yanked": "bad build"},
	  {"filename": "torch-2.9.0+cu128-cp312-cp312-manylinux_2_28_x86_64.whl", "url": "https://cdn.test/a.whl",
	   "hashes": {}, "data-dist-info-metadata": {"sha256": "cd"}, "yanked": false},
	  {"filename": "torch-2.8.0+cu128-cp312-cp312-manylinux_2_28_x86_64.whl", "url": "https://cdn.test/b.whl", "hashes": {}, "core-metadata": false}]}`
	files, err := pyindex.ParseJSON([]byte(page), base)
	if err != nil {
		t.Fatal(err)
	}
	a, b, c := files[0], files[1], files[2]
	if a.URL != "https://example.test/f/torch-2.9.1%2Bcu128-cp312-cp312-manylinux_2_28_x86_64.whl" || a.Hashes["sha256"] != "ab" ||
		a.Metadata == nil || a.Metadata.URL != a.URL+".metadata" || !a.Yanked || a.YankedReason != "bad build" || a.RequiresPython != ">=3.10" {
		t.Errorf("%+v", a)
	}
	if b.Metadata == nil || b.Metadata.Hashes["sha256"] != "cd" || b.Yanked || c.Metadata != nil {
		t.Errorf("%+v %+v", b, c)
	}
	if _, err := pyindex.ParseJSON([]byte(`{"meta": {"api-version": "1.0"}, "files": [{"filename": "x.whl", "url": "u", "core-metadata": 3}]}`), base); err == nil ||
		!strings.Contains(err.Error(), "want true, false or a hash object") {
		t.Errorf("bad core-metadata: %v", err)
	}
}
