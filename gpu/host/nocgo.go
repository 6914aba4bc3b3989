//go:build !cgo

package host

import "context"

// NVML returns the NVML source. This binary was built without cgo, so it
// always reports that NVML is unavailable.
func NVML() Source { return noCgo{} }

type noCgo struct{}

func (noCgo) Facts(ctx context.Context) (Facts, error) {
	return Facts{Unavailable: true, Reason: "built without cgo: NVML unavailable"}, ctx.Err()
}
