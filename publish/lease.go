package publish

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"os/user"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/torchimg/torchimg/internal/registry"
)

// LeaseTag is the tag of the release repository that holds the publish lease: an empty image
// whose manifest annotation LeaseLabel says who publishes, which release, and until when.
const LeaseTag = "torchimg-lease"

// LeaseLabel is the manifest annotation of the lease image.
const LeaseLabel = "io.torchimg.lease"

// Lease defaults: a lease lasts LeaseTTL and is renewed while its publish runs; a second
// publisher waits up to DefaultLeaseWait for it.
const (
	LeaseTTL         = 2 * time.Minute
	DefaultLeaseWait = 5 * time.Minute
)

// Lease is the content of the lease tag.
type Lease struct {
	Owner    string    `json:"owner"`   // "user@host (pid N)"
	Release  string    `json:"release"` // what is being published
	Token    string    `json:"token"`   // unique to one publish
	Acquired time.Time `json:"acquired"`
	Expires  time.Time `json:"expires"`
	Released bool      `json:"released,omitempty"`
}

func (l *Lease) String() string {
	return fmt.Sprintf("%s (release %s, since %s, expires %s)", l.Owner, l.Release, l.Acquired.UTC().Format(time.RFC3339), l.Expires.UTC().Format(time.RFC3339))
}

// LeaseError is returned when another publisher holds the lease for longer than the wait.
type LeaseError struct {
	Repo   string
	Holder *Lease
	Waited time.Duration
}

func (e *LeaseError) Error() string {
	return fmt.Sprintf("the release repository %s is leased to %s: another publish is running. Waited %s; serialise releases (one CI concurrency group per release repository) or run again later; a lease left by a killed publish expires by itself", e.Repo, e.Holder, e.Waited.Round(time.Second))
}

// Leaser takes the advisory lease of a release repository for the tagging phase. A registry
// has no compare-and-swap, so the lease is written, left to settle, and read back: of two
// publishers that write at once, the one whose lease is read back holds it; the other waits.
// An expired lease (its holder was killed) is broken.
type Leaser struct {
	Client *registry.Client
	Repo   name.Repository
	// Release names what is published (the matrix revision or the release revision).
	Release string
	LeaseOptions
	Log *slog.Logger
}

// LeaseOptions tune a lease; zero values are the defaults.
type LeaseOptions struct {
	// Wait is how long to wait for another holder (0: DefaultLeaseWait; negative: not at all).
	Wait time.Duration
	// TTL is how long a lease lasts without renewal (0: LeaseTTL).
	TTL time.Duration
	// Settle is how long a written lease is left before it is read back (0: 2 s). It must be
	// longer than a publisher takes from reading the lease to writing its own.
	Settle time.Duration
	// Poll is how often a waiting publisher reads the lease (0: 2 s).
	Poll time.Duration
}

// Held is a lease this publish holds; Release gives it back.
type Held struct {
	l     *Leaser
	lease Lease
	stop  context.CancelFunc
	done  chan struct{}
	mu    sync.Mutex
	lost  error
}

func (l *Leaser) ttl() time.Duration    { return orDur(l.TTL, LeaseTTL) }
func (l *Leaser) settle() time.Duration { return orDur(l.Settle, 2*time.Second) }
func (l *Leaser) poll() time.Duration   { return orDur(l.Poll, 2*time.Second) }

func orDur(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

// Acquire takes the lease, waiting for another holder up to Wait.
func (l *Leaser) Acquire(ctx context.Context) (*Held, error) {
	log := l.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	wait := l.Wait
	if wait == 0 {
		wait = DefaultLeaseWait
	}
	start := time.Now()
	mine := Lease{Owner: owner(), Release: l.Release, Token: token()}
	logged := ""
	for {
		cur, err := l.read(ctx)
		if err != nil {
			return nil, err
		}
		now := time.Now()
		if cur == nil || cur.Released || now.After(cur.Expires) {
			if cur != nil && !cur.Released {
				log.Warn("breaking a stale publish lease", "holder", cur.String())
			}
			mine.Acquired, mine.Expires = now, now.Add(l.ttl())
			if err := l.write(ctx, mine); err != nil {
				return nil, fmt.Errorf("take the publish lease %s:%s: %w", l.Repo, LeaseTag, err)
			}
			if err := sleep(ctx, l.settle()); err != nil {
				return nil, err
			}
			back, err := l.read(ctx)
			if err != nil {
				return nil, err
			}
			if back != nil && back.Token == mine.Token {
				return l.hold(ctx, mine), nil
			}
			cur = back // another publisher wrote after us: it holds the lease
		}
		if cur != nil && cur.Token != logged {
			log.Info("waiting for the publish lease", "holder", cur.String())
			logged = cur.Token
		}
		if wait < 0 || time.Since(start) >= wait {
			return nil, &LeaseError{Repo: l.Repo.String(), Holder: cur, Waited: time.Since(start)}
		}
		if err := sleep(ctx, l.poll()); err != nil {
			return nil, err
		}
	}
}

// hold renews the lease until Release.
func (l *Leaser) hold(ctx context.Context, mine Lease) *Held {
	rctx, stop := context.WithCancel(context.WithoutCancel(ctx))
	h := &Held{l: l, lease: mine, stop: stop, done: make(chan struct{})}
	go func() {
		defer close(h.done)
		t := time.NewTicker(l.ttl() / 3)
		defer t.Stop()
		for {
			select {
			case <-rctx.Done():
				return
			case <-t.C:
				if err := h.renew(rctx); err != nil {
					h.mu.Lock()
					h.lost = err
					h.mu.Unlock()
					return
				}
			}
		}
	}()
	return h
}

func (h *Held) renew(ctx context.Context) error {
	cur, err := h.l.read(ctx)
	if err != nil {
		return err
	}
	if cur == nil || cur.Token != h.lease.Token {
		return fmt.Errorf("the publish lease was taken over by %s", describe(cur))
	}
	next := h.lease
	next.Expires = time.Now().Add(h.l.ttl())
	if err := h.l.write(ctx, next); err != nil {
		return err
	}
	h.mu.Lock()
	h.lease = next
	h.mu.Unlock()
	return nil
}

// Check says whether the lease is still this publish's: nil, or why not.
func (h *Held) Check(ctx context.Context) error {
	h.mu.Lock()
	lost := h.lost
	h.mu.Unlock()
	if lost != nil {
		return lost
	}
	cur, err := h.l.read(ctx)
	if err != nil {
		return fmt.Errorf("read the publish lease: %w", err)
	}
	if cur == nil || cur.Token != h.lease.Token {
		return fmt.Errorf("the publish lease of %s was taken over by %s", h.l.Repo, describe(cur))
	}
	return nil
}

// Release gives the lease back (marks it released), if it is still this publish's.
func (h *Held) Release(ctx context.Context) error {
	h.stop()
	<-h.done
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	cur, err := h.l.read(ctx)
	if err != nil || cur == nil || cur.Token != h.lease.Token {
		return err
	}
	rel := h.lease
	rel.Released, rel.Expires = true, time.Now()
	if err := h.l.write(ctx, rel); err != nil {
		return fmt.Errorf("give back the publish lease %s:%s (it expires by itself at %s): %w", h.l.Repo, LeaseTag, h.lease.Expires.UTC().Format(time.RFC3339), err)
	}
	return nil
}

func describe(l *Lease) string {
	if l == nil {
		return "nobody (the lease tag is gone)"
	}
	return l.String()
}

// read returns the current lease, nil when there is none.
func (l *Leaser) read(ctx context.Context) (*Lease, error) {
	var out *Lease
	err := l.Client.Read(ctx, l.Repo.Tag(LeaseTag), func(d *remote.Descriptor) error {
		var m v1.Manifest
		if err := json.Unmarshal(d.Manifest, &m); err != nil {
			return fmt.Errorf("%s:%s: %w", l.Repo, LeaseTag, err)
		}
		raw, ok := m.Annotations[LeaseLabel]
		if !ok {
			return fmt.Errorf("%s:%s is not a torchimg lease (no %s annotation): remove that tag", l.Repo, LeaseTag, LeaseLabel)
		}
		var ls Lease
		if err := json.Unmarshal([]byte(raw), &ls); err != nil {
			return fmt.Errorf("%s:%s: bad lease annotation: %w", l.Repo, LeaseTag, err)
		}
		out = &ls
		return nil
	})
	if registry.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read the publish lease %s:%s: %w", l.Repo, LeaseTag, err)
	}
	return out, nil
}

func (l *Leaser) write(ctx context.Context, ls Lease) error {
	raw, err := json.Marshal(ls)
	if err != nil {
		return err
	}
	// The lease is a manifest annotation over the empty image: after the first lease only the
	// manifest is written (its config and layers are already there).
	img := mutate.Annotations(empty.Image, map[string]string{LeaseLabel: string(raw)}).(v1.Image)
	return l.Client.Write(ctx, l.Repo.Tag(LeaseTag), img)
}

func owner() string {
	u := "unknown"
	if cu, err := user.Current(); err == nil {
		u = cu.Username
	}
	h, _ := os.Hostname()
	s := fmt.Sprintf("%s@%s (pid %d)", u, h, os.Getpid())
	if run := os.Getenv("GITHUB_RUN_ID"); run != "" {
		s += " CI run " + run
	}
	return s
}

func token() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
