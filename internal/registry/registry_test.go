package registry

import (
	"context"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	ggcr "github.com/google/go-containerregistry/pkg/registry"
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
