// Package publish promotes staged images to the release repository with go-containerregistry:
// copy by digest (blobs mounted across repositories, nothing uploaded twice), immutable tags
// first, floating tags last and only when the whole release passed; reads labels back; inspects
// images without pulling layers.
package publish

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// Options configure registry access.
type Options struct {
	// Keychain resolves credentials (default: docker config, credential helpers, podman auth).
	Keychain authn.Keychain
	// Transport is the HTTP transport (tests wrap it); default http.DefaultTransport.
	Transport http.RoundTripper
	// Retries is how many times a request is retried on 408/429/5xx and dropped connections.
	Retries int
	// RetryBase is the first backoff; it doubles each try (default 1s).
	RetryBase time.Duration
	// Jobs is how many blobs move at once.
	Jobs int
}

func (o Options) remote(ctx context.Context) []remote.Option {
	kc := o.Keychain
	if kc == nil {
		kc = authn.DefaultKeychain
	}
	retries := o.Retries
	if retries <= 0 {
		retries = 6
	}
	base := o.RetryBase
	if base <= 0 {
		base = time.Second
	}
	jobs := o.Jobs
	if jobs <= 0 {
		jobs = 4
	}
	opts := []remote.Option{
		remote.WithContext(ctx),
		remote.WithAuthFromKeychain(kc),
		remote.WithRetryBackoff(remote.Backoff{Duration: base, Factor: 2, Jitter: 0.1, Steps: retries}),
		remote.WithRetryStatusCodes(http.StatusRequestTimeout, http.StatusTooManyRequests, http.StatusInternalServerError,
			http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout),
		remote.WithJobs(jobs),
		remote.WithUserAgent("torchimg"),
	}
	if o.Transport != nil {
		opts = append(opts, remote.WithTransport(o.Transport))
	}
	return opts
}

// isNotFound reports a 404 / MANIFEST_UNKNOWN from the registry.
func isNotFound(err error) bool {
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

// retryLoop repeats fn (a HEAD or GET) when the registry keeps failing transiently, on top
// of the transport's own retries, until ctx ends.
func retryLoop(ctx context.Context, tries int, fn func() error) error {
	var err error
	delay := 200 * time.Millisecond
	for i := 0; i < tries; i++ {
		if err = fn(); err == nil || isNotFound(err) || !transient(err) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(delay):
		}
		delay *= 2
	}
	return err
}

func transient(err error) bool {
	var terr *transport.Error
	if errors.As(err, &terr) {
		switch terr.StatusCode {
		case http.StatusRequestTimeout, http.StatusTooManyRequests, http.StatusInternalServerError,
			http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
			return true
		}
		return false
	}
	return !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded)
}

func parseRef(s string) (name.Reference, error) {
	return name.ParseReference(s, name.WeakValidation)
}
