// Package registry is torchimg's one way to talk to OCI registries (go-containerregistry):
// credentials from the docker config and credential helpers, one user agent, plain HTTP where
// allowed, one retry layer that honours --retries and Retry-After, one puller and one pusher
// shared by every request of a run (remote.Reuse), and the few operations the stages need:
// resolve, read, copy by digest, tag, list-and-resolve. Every command builds its Client here.
package registry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"golang.org/x/sync/errgroup"
)

// UserAgent is what torchimg calls itself in registry requests.
const UserAgent = "torchimg"

// DefaultRetries is how often a request is retried when Options.Retries is 0.
const DefaultRetries = 6

// MaxTags is how many tags of a repository ListResolved reads by default (the last ones in
// lexical order, where newer versions usually sort).
const MaxTags = 1000

// MaxConfigSize caps the image config blob torchimg reads (ConfigFile; inspect's OCI layouts).
// Real configs are a few KiB; a bigger one is refused before any of it is read.
const MaxConfigSize = 8 << 20

// MaxManifestSize caps a manifest or index read from a registry (or an OCI layout's index.json and
// manifest blobs). Registries refuse to store manifests over 4 MiB; real ones are a few KiB.
const MaxManifestSize = 4 << 20

// ConfigFile reads an image's config, refusing one whose descriptor (in the manifest) states a
// size over MaxConfigSize, or an invalid one, before reading any of it. From a registry,
// go-containerregistry reads a blob no further than the size its descriptor states; from an OCI
// layout it reads the file whole whatever the descriptor says (inspect reads layouts itself).
func ConfigFile(img v1.Image) (*v1.ConfigFile, error) {
	m, err := img.Manifest()
	if err != nil {
		return nil, fmt.Errorf("read image manifest: %w", err)
	}
	switch d := m.Config; {
	case d.Size < 0:
		return nil, fmt.Errorf("image config %s: invalid size %d", d.Digest, d.Size)
	case d.Size > MaxConfigSize:
		return nil, fmt.Errorf("image config %s is %d bytes, over the %d-byte limit (%d MiB)", d.Digest, d.Size, MaxConfigSize, MaxConfigSize>>20)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("read image config %s: %w", m.Config.Digest, err)
	}
	return cf, nil
}

// Options configure a Client.
type Options struct {
	// Keychain resolves credentials (default: docker config, credential helpers, podman auth).
	Keychain authn.Keychain
	// Transport is the HTTP transport (tests wrap it); default http.DefaultTransport.
	Transport http.RoundTripper
	// Retries is how many times an operation is retried on 408/429/5xx and dropped connections
	// (0 = DefaultRetries, negative = never).
	Retries int
	// RetryBase is the first backoff; it doubles each try (default 1s). A Retry-After header
	// longer than the backoff is waited for instead (at most a minute).
	RetryBase time.Duration
	// Jobs is how many blobs move at once (default 4).
	Jobs int
	// Insecure allows plain HTTP to every registry (loopback and private addresses always are).
	Insecure bool
	// MaxTags caps ListResolved (default MaxTags).
	MaxTags int
}

// Client talks to registries. It is safe for concurrent use.
type Client struct {
	opts       Options
	remoteOpts []remote.Option
	puller     *remote.Puller
	pusher     *remote.Pusher
	retryAfter atomic.Int64 // nanoseconds the registry last asked to wait (Retry-After)
}

// New builds a client.
func New(o Options) (*Client, error) {
	if o.Keychain == nil {
		o.Keychain = authn.DefaultKeychain
	}
	if o.Transport == nil {
		o.Transport = http.DefaultTransport
	}
	if o.Retries == 0 {
		o.Retries = DefaultRetries
	}
	if o.RetryBase <= 0 {
		o.RetryBase = time.Second
	}
	if o.Jobs <= 0 {
		o.Jobs = 4
	}
	if o.MaxTags <= 0 {
		o.MaxTags = MaxTags
	}
	c := &Client{opts: o}
	c.remoteOpts = []remote.Option{
		remote.WithAuthFromKeychain(o.Keychain),
		remote.WithTransport(&retryAfterTransport{inner: o.Transport, c: c}),
		remote.WithUserAgent(UserAgent),
		remote.WithJobs(o.Jobs),
		// One retry layer: Client.retry, around whole operations (a body cut off mid-read is
		// retried too). go-containerregistry's own per-request retries are switched off.
		remote.WithRetryBackoff(remote.Backoff{Duration: time.Millisecond, Steps: 1}),
		remote.WithRetryStatusCodes(),
	}
	var err error
	if c.puller, err = remote.NewPuller(c.remoteOpts...); err != nil {
		return nil, fmt.Errorf("registry client: %w", err)
	}
	if c.pusher, err = remote.NewPusher(c.remoteOpts...); err != nil {
		return nil, fmt.Errorf("registry client: %w", err)
	}
	return c, nil
}

func (c *Client) nameOpts() []name.Option {
	if c.opts.Insecure {
		return []name.Option{name.WeakValidation, name.Insecure}
	}
	return []name.Option{name.WeakValidation}
}

// Ref parses an image reference ("ghcr.io/acme/img:tag", "REPO@sha256:...").
func (c *Client) Ref(s string) (name.Reference, error) {
	r, err := name.ParseReference(s, c.nameOpts()...)
	if err != nil {
		return nil, fmt.Errorf("image reference %q: %w", s, err)
	}
	return r, nil
}

// Repo parses a repository ("ghcr.io/acme/img").
func (c *Client) Repo(s string) (name.Repository, error) {
	r, err := name.NewRepository(s, c.nameOpts()...)
	if err != nil {
		return name.Repository{}, fmt.Errorf("repository %q: %w", s, err)
	}
	return r, nil
}

// Remote returns remote options that reuse the client's puller and pusher, for callers that
// hand images to go-containerregistry themselves (a v1.Image from Get reads through them).
func (c *Client) Remote(ctx context.Context) []remote.Option {
	return []remote.Option{remote.WithContext(ctx), remote.Reuse(c.puller), remote.Reuse(c.pusher)}
}

// Head resolves a reference to its digest (one HEAD request).
func (c *Client) Head(ctx context.Context, ref name.Reference) (string, error) {
	var d string
	err := c.Retry(ctx, func() error {
		desc, err := c.puller.Head(ctx, ref)
		if err == nil {
			d = desc.Digest.String()
		}
		return err
	})
	return d, err
}

// Get reads a manifest (or index) and its descriptor.
func (c *Client) Get(ctx context.Context, ref name.Reference) (*remote.Descriptor, error) {
	var desc *remote.Descriptor
	err := c.Read(ctx, ref, func(d *remote.Descriptor) error { desc = d; return nil })
	return desc, err
}

// Read reads a manifest (or index) and hands it to fn, which reads on through it (an index's
// images, a config blob): the whole read is retried as one operation, so a body cut off
// anywhere is read again, and no read is retried inside another retry.
func (c *Client) Read(ctx context.Context, ref name.Reference, fn func(*remote.Descriptor) error) error {
	return c.Retry(ctx, func() error {
		desc, err := c.puller.Get(ctx, ref)
		if err != nil {
			return err
		}
		return fn(desc)
	})
}

// Tag points tag at an image already in the tag's repository: one manifest PUT, no blob.
func (c *Client) Tag(ctx context.Context, tag name.Tag, at name.Digest) error {
	return c.Retry(ctx, func() error {
		desc, err := c.puller.Get(ctx, at)
		if err != nil {
			return err
		}
		return c.pusher.Push(ctx, tag, desc)
	})
}

// Write pushes img (its blobs and manifest) under tag.
func (c *Client) Write(ctx context.Context, tag name.Tag, img v1.Image) error {
	return c.Retry(ctx, func() error { return remote.Write(tag, img, c.Remote(ctx)...) })
}

// Copy puts the image or index src into dst (a digest reference in the target repository).
// Blobs already there are skipped and the others are mounted from src's repository when the
// registry allows it. The digest of src must be want.
func (c *Client) Copy(ctx context.Context, src name.Reference, dst name.Digest, want string) error {
	return c.Retry(ctx, func() error {
		desc, err := c.puller.Get(ctx, src)
		if err != nil {
			return err
		}
		if desc.Digest.String() != want {
			return fmt.Errorf("%s is %s, not %s", src, desc.Digest, want)
		}
		if desc.MediaType.IsIndex() {
			idx, err := desc.ImageIndex()
			if err != nil {
				return err
			}
			return remote.WriteIndex(dst, idx, c.Remote(ctx)...)
		}
		img, err := desc.Image()
		if err != nil {
			return err
		}
		return remote.Write(dst, img, c.Remote(ctx)...)
	})
}

// Tags lists a repository's tags; a repository that does not exist has none.
func (c *Client) Tags(ctx context.Context, repo name.Repository) ([]string, error) {
	var tags []string
	err := c.Retry(ctx, func() error {
		var err error
		tags, err = c.puller.List(ctx, repo)
		return err
	})
	if IsNotFound(err) {
		return nil, nil
	}
	return tags, err
}

// ListResolved lists the tags of repo (at most Options.MaxTags, the last ones in lexical order) and
// resolves each to its digest, 8 at a time: digest → tags, sorted. Tags that cannot be
// resolved (deleted meanwhile) are left out; the error is for a repository that cannot be listed.
func (c *Client) ListResolved(ctx context.Context, repo name.Repository) (map[string][]string, error) {
	tags, err := c.Tags(ctx, repo)
	if err != nil {
		return nil, fmt.Errorf("list tags of %s: %w", repo, err)
	}
	sort.Strings(tags)
	if len(tags) > c.opts.MaxTags {
		tags = tags[len(tags)-c.opts.MaxTags:]
	}
	var mu sync.Mutex
	out := map[string][]string{}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(8)
	for _, t := range tags {
		g.Go(func() error {
			d, err := c.Head(gctx, repo.Tag(t))
			if err != nil {
				return nil
			}
			mu.Lock()
			out[d] = append(out[d], t)
			mu.Unlock()
			return nil
		})
	}
	_ = g.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	for _, ts := range out {
		sort.Strings(ts)
	}
	return out, nil
}

// IsAttestation reports whether an index entry is an attestation manifest (BuildKit's
// provenance), not an image.
func IsAttestation(d v1.Descriptor) bool {
	return d.Annotations["vnd.docker.reference.type"] == "attestation-manifest"
}

// Images returns the image entries of an index manifest: attestations and non-images left out.
func Images(im *v1.IndexManifest) []v1.Descriptor {
	var out []v1.Descriptor
	for _, m := range im.Manifests {
		if !IsAttestation(m) && m.MediaType.IsImage() {
			out = append(out, m)
		}
	}
	return out
}

// PlatformDigests returns the digests of the images ref holds: itself for an image, its image
// entries (sorted) for an index. Two references with the same platform digests hold the same
// images, whatever their attestations.
func (c *Client) PlatformDigests(ctx context.Context, ref name.Reference) ([]string, error) {
	var out []string
	err := c.Read(ctx, ref, func(desc *remote.Descriptor) error {
		if !desc.MediaType.IsIndex() {
			out = []string{desc.Digest.String()}
			return nil
		}
		idx, err := desc.ImageIndex()
		if err != nil {
			return err
		}
		im, err := idx.IndexManifest()
		if err != nil {
			return err
		}
		out = nil
		for _, m := range Images(im) {
			out = append(out, m.Digest.String())
		}
		sort.Strings(out)
		return nil
	})
	return out, err
}

// SameImages reports whether two references hold the same images (attestations ignored).
func (c *Client) SameImages(ctx context.Context, a, b name.Reference) (bool, error) {
	da, err := c.PlatformDigests(ctx, a)
	if err != nil {
		return false, err
	}
	db, err := c.PlatformDigests(ctx, b)
	if err != nil {
		return false, err
	}
	return slices.Equal(da, db), nil
}

// IsNotFound reports a 404, MANIFEST_UNKNOWN or NAME_UNKNOWN from the registry.
func IsNotFound(err error) bool {
	var terr *transport.Error
	if errors.As(err, &terr) {
		if terr.StatusCode == http.StatusNotFound {
			return true
		}
		for _, d := range terr.Errors {
			if d.Code == transport.ManifestUnknownErrorCode || d.Code == transport.NameUnknownErrorCode {
				return true
			}
		}
	}
	return false
}

// Transient reports whether an operation that failed with err may succeed when retried:
// 408, 429 and 5xx answers, and connections that dropped or were cut off mid-body.
func Transient(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var terr *transport.Error
	if errors.As(err, &terr) {
		switch terr.StatusCode {
		case http.StatusRequestTimeout, http.StatusTooManyRequests, http.StatusInternalServerError,
			http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
			return true
		}
		return false
	}
	var dns *net.DNSError
	if errors.As(err, &dns) && !dns.IsTemporary && !dns.IsTimeout {
		return false // no such host: retrying does not make one
	}
	if errors.Is(err, syscall.ENETUNREACH) || errors.Is(err, syscall.EHOSTUNREACH) {
		return false
	}
	var nerr net.Error
	return errors.As(err, &nerr) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) || errors.Is(err, syscall.ECONNREFUSED) ||
		errors.Is(err, net.ErrClosed)
}

// Retry runs fn until it succeeds, fails for good, or Options.Retries retries are spent,
// backing off exponentially (with jitter) or as long as a Retry-After header asked.
func (c *Client) Retry(ctx context.Context, fn func() error) error {
	delay := c.opts.RetryBase
	tries := max(c.opts.Retries, 0) + 1
	var err error
	for i := 0; i < tries; i++ {
		if err = fn(); err == nil || !Transient(err) || i == tries-1 {
			return err
		}
		wait := delay + time.Duration(rand.Int64N(int64(delay)/10+1))
		if ra := time.Duration(c.retryAfter.Swap(0)); ra > wait {
			wait = min(ra, time.Minute)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
		delay *= 2
	}
	return err
}

// retryAfterTransport remembers the Retry-After of 429 and 503 answers for Client.Retry, and
// caps manifest bodies at MaxManifestSize.
type retryAfterTransport struct {
	inner http.RoundTripper
	c     *Client
}

func (t *retryAfterTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := t.inner.RoundTrip(r)
	if err != nil {
		return resp, err
	}
	if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable {
		if s, perr := strconv.Atoi(resp.Header.Get("Retry-After")); perr == nil && s > 0 {
			t.c.retryAfter.Store(int64(time.Duration(s) * time.Second))
		}
	}
	if r.Method == http.MethodGet && resp.StatusCode == http.StatusOK && strings.Contains(r.URL.Path, "/manifests/") {
		resp.Body = &cappedBody{rc: resp.Body, size: resp.ContentLength, url: r.URL.Redacted()}
	}
	return resp, err
}

// cappedBody fails a manifest body that is (or says it is) over MaxManifestSize. The error is
// returned from Read, not RoundTrip, so that it is not taken for a network error and retried.
type cappedBody struct {
	rc   io.ReadCloser
	read int64
	size int64 // Content-Length, -1 when not stated
	url  string
}

func (b *cappedBody) Read(p []byte) (int, error) {
	if b.size > MaxManifestSize {
		return 0, fmt.Errorf("GET %s: the manifest is %d bytes, over the %d-byte limit (%d MiB)", b.url, b.size, MaxManifestSize, MaxManifestSize>>20)
	}
	n, err := b.rc.Read(p)
	if b.read += int64(n); b.read > MaxManifestSize {
		return 0, fmt.Errorf("GET %s: the manifest is over the %d-byte limit (%d MiB)", b.url, MaxManifestSize, MaxManifestSize>>20)
	}
	return n, err
}

func (b *cappedBody) Close() error { return b.rc.Close() }
