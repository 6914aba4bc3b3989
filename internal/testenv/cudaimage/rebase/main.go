// Command rebase pushes a rebuilt image under an existing tag, as an upstream does when it
// rebuilds a base image (the demo shows the lock's drift with it): rebase REF adds a label to
// the image's config and pushes the result under the same tag.
package main

import (
	"fmt"
	"os"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: rebase REF   (e.g. 127.0.0.1:5055/torchimg-test/debian-python:bookworm)")
		os.Exit(2)
	}
	if err := rebase(os.Args[1]); err != nil {
		fmt.Fprintln(os.Stderr, "rebase:", err)
		os.Exit(1)
	}
}

func rebase(s string) error {
	ref, err := name.ParseReference(s, name.Insecure)
	if err != nil {
		return err
	}
	img, err := remote.Image(ref)
	if err != nil {
		return err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return err
	}
	cfg := cf.Config
	labels := map[string]string{}
	for k, v := range cfg.Labels {
		labels[k] = v
	}
	labels["rebuilt"] = time.Now().UTC().Format(time.RFC3339)
	cfg.Labels = labels
	img, err = mutate.Config(img, cfg)
	if err != nil {
		return err
	}
	d, err := img.Digest()
	if err != nil {
		return err
	}
	if err := remote.Write(ref, img); err != nil {
		return err
	}
	fmt.Printf("%s now names %s\n", s, d)
	return nil
}
