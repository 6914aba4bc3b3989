package pyindex

import (
	"archive/zip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"
)

// Client reads project pages and metadata files. The zero value is ready to use.
type Client struct {
	HTTP      *http.Client  // nil: http.DefaultClient
	UserAgent string        // "" : Go's default
	Timeout   time.Duration // for each page or metadata request; 0: none (wheel downloads have none)
	// MaxPage caps the size of a page or metadata file (default 256 MiB).
	MaxPage int64
}

// StatusError is a response with a status other than 200.
type StatusError struct {
	URL        string
	StatusCode int
	Status     string // "404 Not Found"
}

func (e *StatusError) Error() string { return e.URL + ": HTTP " + e.Status }

// IsNotFound reports whether err is a 404 or 410 answer.
func IsNotFound(err error) bool {
	var se *StatusError
	return errors.As(err, &se) && (se.StatusCode == http.StatusNotFound || se.StatusCode == http.StatusGone)
}

// ProjectURL is the project page of an index root: <root>/<normalized project>/.
func ProjectURL(root, project string) string {
	return strings.TrimRight(root, "/") + "/" + NormalizeName(project) + "/"
}

// Page reads a project page (the URL should end in "/", as PEP 503 wants), asking for the
// JSON form first (PEP 691). Errors name the URL and say why.
func (c *Client) Page(ctx context.Context, pageURL string) (*Page, error) {
	u, err := url.Parse(pageURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%s: not an http(s) URL", pageURL)
	}
	body, resp, err := c.get(ctx, pageURL, Accept)
	if err != nil {
		return nil, err
	}
	p, err := ParsePage(body, resp.Header.Get("Content-Type"), resp.Request.URL)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", pageURL, err)
	}
	p.URL = pageURL
	return p, nil
}

// Metadata reads a file's core metadata served on its own (PEP 658) and checks it against the
// hash the index gave for it.
func (c *Client) Metadata(ctx context.Context, f File) ([]byte, error) {
	if f.Metadata == nil {
		return nil, fmt.Errorf("%s: the index serves no metadata file for it", f.Filename)
	}
	body, _, err := c.get(ctx, f.Metadata.URL, "*/*")
	if err != nil {
		return nil, err
	}
	if err := checkHashes(f.Metadata.URL, f.Metadata.Hashes, func(h hash.Hash) { h.Write(body) }); err != nil {
		return nil, err
	}
	return body, nil
}

// WheelMetadata downloads a whole wheel (into a temporary file, removed afterwards), checks
// its hash and returns its .dist-info/METADATA. Wheels may be gigabytes; use it only when asked.
func (c *Client) WheelMetadata(ctx context.Context, f File) ([]byte, error) {
	w, err := ParseWheelName(f.Filename)
	if err != nil {
		return nil, err
	}
	resp, err := c.do(ctx, f.URL, "*/*")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	tmp, err := os.CreateTemp("", "pyindex-*.whl")
	if err != nil {
		return nil, err
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	sum := sha256.New()
	n, err := io.Copy(io.MultiWriter(tmp, sum), resp.Body)
	if err != nil {
		return nil, fmt.Errorf("%s: download: %w", f.URL, err)
	}
	if want := f.Hashes["sha256"]; want != "" && !strings.EqualFold(want, hex.EncodeToString(sum.Sum(nil))) {
		return nil, fmt.Errorf("%s: sha256 %s, the index says %s", f.URL, hex.EncodeToString(sum.Sum(nil)), want)
	}
	zr, err := zip.NewReader(tmp, n)
	if err != nil {
		return nil, fmt.Errorf("%s: not a zip file: %w", f.URL, err)
	}
	for _, zf := range zr.File {
		dir, name, ok := strings.Cut(zf.Name, "/")
		if !ok || name != "METADATA" || !strings.HasSuffix(dir, ".dist-info") ||
			NormalizeName(strings.SplitN(strings.TrimSuffix(dir, ".dist-info"), "-", 2)[0]) != w.Name {
			continue
		}
		rc, err := zf.Open()
		if err != nil {
			return nil, fmt.Errorf("%s: %s: %w", f.URL, zf.Name, err)
		}
		defer rc.Close()
		return io.ReadAll(io.LimitReader(rc, c.maxPage()))
	}
	return nil, fmt.Errorf("%s: the wheel has no %s-*.dist-info/METADATA", f.URL, w.Name)
}

func (c *Client) maxPage() int64 {
	if c.MaxPage > 0 {
		return c.MaxPage
	}
	return 256 << 20
}

func (c *Client) do(ctx context.Context, u, accept string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", u, err)
	}
	req.Header.Set("Accept", accept)
	if c.UserAgent != "" {
		req.Header.Set("User-Agent", c.UserAgent)
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("%s: %w", u, err)
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		return nil, &StatusError{URL: u, StatusCode: resp.StatusCode, Status: resp.Status}
	}
	return resp, nil
}

func (c *Client) get(ctx context.Context, u, accept string) ([]byte, *http.Response, error) {
	if c.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.Timeout)
		defer cancel()
	}
	resp, err := c.do(ctx, u, accept)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	max := c.maxPage()
	body, err := io.ReadAll(io.LimitReader(resp.Body, max+1))
	if err != nil {
		return nil, nil, fmt.Errorf("%s: read: %w", u, err)
	}
	if int64(len(body)) > max {
		return nil, nil, fmt.Errorf("%s: larger than %d bytes", u, max)
	}
	return body, resp, nil
}

// checkHashes checks the hashes the index gave that this package can compute (sha256); a
// file with only other hashes is not checked.
func checkHashes(u string, want map[string]string, write func(hash.Hash)) error {
	for name, w := range want {
		if strings.ToLower(name) != "sha256" {
			continue
		}
		h := sha256.New()
		write(h)
		if got := hex.EncodeToString(h.Sum(nil)); !strings.EqualFold(got, w) {
			return fmt.Errorf("%s: sha256 %s, the index says %s", u, got, w)
		}
	}
	return nil
}
