package build

import (
	"context"
	"sort"
	"sync"

	"github.com/torchimg/torchimg/matrix"
	"github.com/torchimg/torchimg/report"
)

// Limiter bounds how many builds run at once.
type Limiter struct {
	Inner Interface
	sem   chan struct{}
}

var _ Interface = (*Limiter)(nil)

// NewLimiter lets at most n builds through at a time.
func NewLimiter(inner Interface, n int) *Limiter {
	if n < 1 {
		n = 1
	}
	return &Limiter{Inner: inner, sem: make(chan struct{}, n)}
}

// Build waits for a slot (or cancellation), then builds.
func (l *Limiter) Build(ctx context.Context, req Request) (*report.BuildEntry, error) {
	select {
	case l.sem <- struct{}{}:
	case <-ctx.Done():
		if req.Status != nil {
			close(req.Status)
		}
		return finish(newResult(req), report.Cancelled, report.StageQueue, ctx.Err())
	}
	defer func() { <-l.sem }()
	return l.Inner.Build(ctx, req)
}

// Pool spreads variants over several builders. Variants with the same base image go to the
// same builder, so each base is pulled once and its cache is shared.
type Pool struct {
	builders []Interface
	assign   map[string]int
}

var _ Interface = (*Pool)(nil)

// NewPool assigns base images to builders: largest group first, to the least loaded builder.
func NewPool(builders []Interface, variants []*matrix.Variant) *Pool {
	groups := map[string]int{}
	for _, v := range variants {
		groups[v.Base]++
	}
	bases := make([]string, 0, len(groups))
	for b := range groups {
		bases = append(bases, b)
	}
	sort.Slice(bases, func(i, j int) bool {
		if groups[bases[i]] != groups[bases[j]] {
			return groups[bases[i]] > groups[bases[j]]
		}
		return bases[i] < bases[j]
	})
	load := make([]int, len(builders))
	assign := map[string]int{}
	for _, b := range bases {
		best := 0
		for i := range load {
			if load[i] < load[best] {
				best = i
			}
		}
		assign[b] = best
		load[best] += groups[b]
	}
	return &Pool{builders: builders, assign: assign}
}

// Build sends the variant to the builder of its base image.
func (p *Pool) Build(ctx context.Context, req Request) (*report.BuildEntry, error) {
	return p.builders[p.assign[req.Variant.Base]].Build(ctx, req)
}

// All builds every request concurrently through b (put a Limiter in b to bound it). One
// failure never stops the others. Results come back in request order.
func All(ctx context.Context, b Interface, reqs []Request) []*report.BuildEntry {
	out := make([]*report.BuildEntry, len(reqs))
	var wg sync.WaitGroup
	for i := range reqs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i], _ = b.Build(ctx, reqs[i])
		}()
	}
	wg.Wait()
	return out
}
