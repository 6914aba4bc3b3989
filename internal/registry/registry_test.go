package registry

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	ggcr "github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

func TestTransient(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{&transport.Error{StatusCode: 503}, true},
		{&transport.Error{StatusCode: 429}, true},
		{&transport.Error{StatusCode: 404}, false},
		{&transport.Error{StatusCode: 401}, false},
		{io.ErrUnexpectedEOF, true},
		{syscall.ECONNRESET, true},
		{&net.DNSError{Err: "no such host", Name: "nowhere.example", IsNotFound: true}, false},
		{&net.OpError{Op: "dial", Err: syscall.ENETUNREACH}, false},
		{context.Canceled, false},
		{errors.New("something else"), false},
	} {
		if got := Transient(tc.err); got != tc.want {
			t.Errorf("Transient(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}

// One retry layer: a request the registry fails twice (503, then 429 with Retry-After) is made
// three times, and a 404 once.
func TestRetry(t *testing.T) {
	reg := ggcr.New(ggcr.Logger(log.New(io.Discard, "", 0)))
	var manifestGets atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/manifests/") {
			switch manifestGets.Add(1) {
			case 1:
				http.Error(w, "busy", http.StatusServiceUnavailable)
				return
			case 2:
				w.Header().Set("Retry-After", "1")
				http.Error(w, "slow down", http.StatusTooManyRequests)
				return
			}
		}
		reg.ServeHTTP(w, r)
	}))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	img, err := random.Image(64, 1)
	if err != nil {
		t.Fatal(err)
	}
	ref, _ := name.ParseReference(host + "/a/b:x")
	if err := remote.Write(ref, img); err != nil {
		t.Fatal(err)
	}
	c, err := New(Options{Retries: 3, RetryBase: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if _, err := c.Get(context.Background(), ref); err != nil {
		t.Fatalf("Get: %v", err)
	}
	if n := manifestGets.Load(); n != 3 {
		t.Errorf("%d manifest GETs, want 3 (one retry layer)", n)
	}
	if d := time.Since(start); d < time.Second {
		t.Errorf("Retry-After: 1 was not honoured (%s)", d)
	}
	manifestGets.Store(10)
	missing, _ := name.ParseReference(host + "/a/b:nope")
	if _, err := c.Get(context.Background(), missing); !IsNotFound(err) || manifestGets.Load() != 11 {
		t.Errorf("a 404 is not retried: %v after %d GETs", err, manifestGets.Load()-10)
	}
}

// sizedImage is an image whose manifest states configSize for its config, and which counts the
// reads of its config.
type sizedImage struct {
	v1.Image
	configSize int64
	reads      *int
}

func (i sizedImage) Manifest() (*v1.Manifest, error) {
	m, err := i.Image.Manifest()
	if err != nil {
		return nil, err
	}
	m = m.DeepCopy()
	m.Config.Size = i.configSize
	return m, nil
}

func (i sizedImage) ConfigFile() (*v1.ConfigFile, error) {
	*i.reads++
	return i.Image.ConfigFile()
}

func TestConfigFile(t *testing.T) {
	img, err := random.Image(64, 1)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		size int64
		want string // error substring, "" for none
	}{
		{1234, ""},
		{MaxConfigSize, ""},
		{MaxConfigSize + 1, "is 8388609 bytes, over the 8388608-byte limit (8 MiB)"},
		{100 << 20, "is 104857600 bytes, over the 8388608-byte limit (8 MiB)"},
		{-1, "invalid size -1"},
	} {
		reads := 0
		_, err := ConfigFile(sizedImage{img, tc.size, &reads})
		if tc.want == "" {
			if err != nil || reads != 1 {
				t.Errorf("size %d: %v after %d reads", tc.size, err, reads)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "image config sha256:") {
			t.Errorf("size %d: error %v, want one that says %q", tc.size, err, tc.want)
		}
		if reads != 0 {
			t.Errorf("size %d: the config was read", tc.size)
		}
	}
}

// A manifest over MaxManifestSize fails, once (it is not retried), whether or not the registry
// states its length.
func TestManifestSize(t *testing.T) {
	for _, tc := range []struct {
		name          string
		size          int
		contentLength bool
		want          string // error substring, "" for none
	}{
		{"small", 2048, true, ""},
		{"at the limit", MaxManifestSize, false, ""},
		{"stated over", MaxManifestSize + 1, true, "the manifest is 4194305 bytes, over the 4194304-byte limit (4 MiB)"},
		{"over, unstated", MaxManifestSize + 1, false, "the manifest is over the 4194304-byte limit (4 MiB)"},
		{"far over, unstated", 64 << 20, false, "the manifest is over the 4194304-byte limit (4 MiB)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// A valid manifest padded with spaces to tc.size bytes.
			body := []byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:` + strings.Repeat("0", 64) + `","size":2},"layers":[]}`)
			body = append(body, bytes.Repeat([]byte(" "), tc.size-len(body))...)
			var gets atomic.Int64
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if !strings.Contains(r.URL.Path, "/manifests/") {
					w.WriteHeader(http.StatusOK) // the /v2/ ping
					return
				}
				w.Header().Set("Content-Type", "application/vnd.oci.image.manifest.v1+json")
				if r.Method == http.MethodHead || tc.contentLength {
					w.Header().Set("Content-Length", strconv.Itoa(len(body)))
				}
				if r.Method == http.MethodHead {
					return
				}
				gets.Add(1)
				w.WriteHeader(http.StatusOK)
				w.(http.Flusher).Flush() // no Content-Length unless set
				w.Write(body)
			}))
			defer srv.Close()
			c, err := New(Options{Retries: 3, RetryBase: time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			ref, _ := name.ParseReference(strings.TrimPrefix(srv.URL, "http://") + "/a/b:x")
			_, err = c.Get(context.Background(), ref)
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "/v2/a/b/manifests/x") {
				t.Errorf("error %v, want one that names the manifest and says %q", err, tc.want)
			}
			if n := gets.Load(); n != 1 {
				t.Errorf("%d GETs, want 1 (not retried)", n)
			}
		})
	}
}
