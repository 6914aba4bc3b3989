package testenv

import (
	"bytes"
	"fmt"
	"os"

	"go.yaml.in/yaml/v3"
)

// WheelsFile lists the fixture wheels an index serves (examples/offline/wheels.yaml):
//
//	torch:    [{version: 2.9.1+cu128, cuda: "12.8", cudnn: 9.10.2.21, nccl: 2.27.5, archs: "7.0;...;12.0"}]
//	packages: [{name: torchimg-demo-extra, version: 1.0.0}]
//
// A bare list is read as the torch list.
type WheelsFile struct {
	Torch    []TorchWheel `yaml:"torch"`
	Packages []Package    `yaml:"packages"`
}

// Package is a tiny pure-Python fixture package.
type Package struct {
	Name    string `yaml:"name"`
	Version string `yaml:"version"`
}

// ReadWheelsFile reads a wheels file; unknown fields are errors.
func ReadWheelsFile(path string) (*WheelsFile, error) {
	w := &WheelsFile{}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(root.Content) == 0 {
		return w, nil
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if root.Content[0].Kind == yaml.SequenceNode {
		err = dec.Decode(&w.Torch)
	} else {
		err = dec.Decode(w)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return w, nil
}

// AddAll serves every wheel and package of a wheels file.
func (ix *Index) AddAll(w *WheelsFile) error {
	for _, t := range w.Torch {
		if err := ix.AddTorch(t); err != nil {
			return err
		}
	}
	for _, p := range w.Packages {
		if err := ix.AddPackage(p.Name, p.Version); err != nil {
			return err
		}
	}
	return nil
}
