package report

import "time"

// Info is what an image says about itself: config labels and environment, annotations, digests.
// It is read from a registry or an OCI layout without pulling any layer.
type Info struct {
	Ref              string            `json:"ref"`
	Digest           string            `json:"digest"`
	ImageDigest      string            `json:"image_digest"`
	Platform         string            `json:"platform"`
	Created          *time.Time        `json:"created,omitempty"`
	Labels           map[string]string `json:"labels"`
	Env              map[string]string `json:"env"`
	Annotations      map[string]string `json:"annotations,omitempty"`
	IndexAnnotations map[string]string `json:"index_annotations,omitempty"`
	// Prefix is the torchimg label namespace found on the image ("" = not built by torchimg).
	Prefix string `json:"labels_prefix,omitempty"`
	// Tags are the repository's tags that point to Digest.
	Tags []string `json:"tags,omitempty"`
	Size int64    `json:"size"`
}

// Torchimg reports whether torchimg built the image (its labels carry the schema).
func (i *Info) Torchimg() bool { return i.Prefix != "" }

// Label returns one of the torchimg labels ("torch.version").
func (i *Info) Label(short string) string { return i.Labels[i.Prefix+"."+short] }
