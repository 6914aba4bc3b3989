package buildkit

import (
	"maps"
	"slices"

	"github.com/moby/buildkit/client/llb"
)

// Env is env as LLB run options, in the order of its names: the same map gives the same LLB,
// so the same cache key, on every call.
func Env(env map[string]string) []llb.RunOption {
	opts := make([]llb.RunOption, 0, len(env))
	for _, k := range slices.Sorted(maps.Keys(env)) {
		opts = append(opts, llb.AddEnv(k, env[k]))
	}
	return opts
}
