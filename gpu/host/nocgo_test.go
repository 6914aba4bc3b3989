//go:build !cgo

package host

import (
	"context"
	"testing"
)

func TestNVMLWithoutCgo(t *testing.T) {
	f, err := NVML().Facts(context.Background())
	if err != nil || f.DriverFound || f.Reason != "built without cgo: NVML unavailable" {
		t.Fatalf("Facts = %+v, %v", f, err)
	}
}
