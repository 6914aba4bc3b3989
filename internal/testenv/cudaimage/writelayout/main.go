// Command writelayout writes a stand-in of nvidia/cuda:<toolkit>-base-<os> (its environment
// only) to an OCI layout, for the demo: writelayout DIR TOOLKIT OS.
package main

import (
	"fmt"
	"os"

	"github.com/torchimg/torchimg/internal/testenv/cudaimage"
	"github.com/torchimg/torchimg/matrix/compat"
)

func main() {
	if len(os.Args) != 4 {
		fmt.Fprintln(os.Stderr, "usage: writelayout DIR TOOLKIT OS   (e.g. dist/oci/cuda-12.8.1 12.8.1 ubuntu24.04)")
		os.Exit(2)
	}
	db, err := compat.Default()
	if err == nil {
		err = cudaimage.WriteLayout(os.Args[1], db, os.Args[2], os.Args[3])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "writelayout:", err)
		os.Exit(1)
	}
}
