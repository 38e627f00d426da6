package image

import (
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/greypm/grey/internal/atomicfile"
)

// OCI media types and annotations (OCI image spec v1.1).
const (
	mediaIndex    = "application/vnd.oci.image.index.v1+json"
	mediaManifest = "application/vnd.oci.image.manifest.v1+json"
	mediaConfig   = "application/vnd.oci.image.config.v1+json"
	mediaLayerGz  = "application/vnd.oci.image.layer.v1.tar+gzip"
	annRefName    = "org.opencontainers.image.ref.name"
	annCreated    = "org.opencontainers.image.created"
)

type ociDescriptor struct {
	MediaType   string            `json:"mediaType"`
	Digest      string            `json:"digest"`
	Size        int64             `json:"size"`
	Annotations map[string]string `json:"annotations,omitempty"`
	Platform    *ociPlatform      `json:"platform,omitempty"`
}

type ociPlatform struct {
	Architecture string `json:"architecture"`
	OS           string `json:"os"`
	Variant      string `json:"variant,omitempty"`
}

type ociIndex struct {
	SchemaVersion int             `json:"schemaVersion"`
	MediaType     string          `json:"mediaType"`
	Manifests     []ociDescriptor `json:"manifests"`
}

type ociManifest struct {
	SchemaVersion int               `json:"schemaVersion"`
	MediaType     string            `json:"mediaType"`
	Config        ociDescriptor     `json:"config"`
	Layers        []ociDescriptor   `json:"layers"`
	Annotations   map[string]string `json:"annotations,omitempty"`
}

type ociConfig struct {
	Created      string       `json:"created"`
	Architecture string       `json:"architecture"`
	Variant      string       `json:"variant,omitempty"`
	OS           string       `json:"os"`
	Config       ociRunConfig `json:"config"`
	RootFS       ociRootFS    `json:"rootfs"`
	History      []ociHistory `json:"history"`
}

type ociRunConfig struct {
	Env []string `json:"Env"`
}

type ociRootFS struct {
	Type    string   `json:"type"`
	DiffIDs []string `json:"diff_ids"`
}

type ociHistory struct {
	Created   string `json:"created"`
	CreatedBy string `json:"created_by"`
}

// ociArch maps a Debian architecture to the OCI (Go) architecture and
// variant.
func ociArch(debArch string) (arch, variant string) {
	switch debArch {
	case "amd64", "arm64", "riscv64", "s390x", "ppc64le", "mips64le":
		return debArch, ""
	case "i386":
		return "386", ""
	case "armhf":
		return "arm", "v7"
	case "armel":
		return "arm", "v5"
	case "ppc64el":
		return "ppc64le", ""
	case "mips64el":
		return "mips64le", ""
	case "mipsel":
		return "mipsle", ""
	}
	return debArch, ""
}

// WriteOCI writes the tree at dir as an OCI image layout in out (which must
// not exist or be empty): one gzip-compressed layer, a config and a
// manifest, tagged "latest" in index.json. The layout is written by hand,
// not through a registry library, so that every byte is under control: JSON
// with fixed field order, the creation time from epoch, a gzip stream with
// no name or time. arch is the Debian architecture of the image.
func WriteOCI(ctx context.Context, dir, out, arch string, epoch int64) error {
	if err := emptyDir(out); err != nil {
		return err
	}
	blobs := filepath.Join(out, "blobs", "sha256")
	if err := mkdirParents(out, blobs); err != nil {
		return err
	}
	// The layer is written once to a temporary file while both digests
	// (compressed: the blob's name; uncompressed: the diff id) are taken.
	tmp, err := os.CreateTemp(blobs, ".layer-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	gzSum, tarSum := sha256.New(), sha256.New()
	cnt := &countWriter{w: io.MultiWriter(tmp, gzSum)}
	gz, err := gzip.NewWriterLevel(cnt, gzip.BestCompression)
	if err != nil {
		return err
	}
	err = WriteTar(ctx, dir, io.MultiWriter(gz, tarSum), epoch)
	if cerr := gz.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = tmp.Chmod(0o644)
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("oci layer: %w", err)
	}
	layer := ociDescriptor{MediaType: mediaLayerGz, Digest: digest(gzSum), Size: cnt.n}
	if err := os.Rename(tmp.Name(), filepath.Join(blobs, layer.Digest[len("sha256:"):])); err != nil {
		return err
	}

	created := time.Unix(epoch, 0).UTC().Format(time.RFC3339)
	oarch, variant := ociArch(arch)
	cfg := ociConfig{
		Created: created, Architecture: oarch, Variant: variant, OS: "linux",
		Config:  ociRunConfig{Env: []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}},
		RootFS:  ociRootFS{Type: "layers", DiffIDs: []string{digest(tarSum)}},
		History: []ociHistory{{Created: created, CreatedBy: "grey image build"}},
	}
	cfgDesc, err := writeBlob(blobs, mediaConfig, cfg)
	if err != nil {
		return err
	}
	man := ociManifest{
		SchemaVersion: 2, MediaType: mediaManifest, Config: cfgDesc, Layers: []ociDescriptor{layer},
		Annotations: map[string]string{annCreated: created},
	}
	manDesc, err := writeBlob(blobs, mediaManifest, man)
	if err != nil {
		return err
	}
	manDesc.Annotations = map[string]string{annRefName: "latest"}
	manDesc.Platform = &ociPlatform{Architecture: oarch, OS: "linux", Variant: variant}
	idx, err := json.Marshal(ociIndex{SchemaVersion: 2, MediaType: mediaIndex, Manifests: []ociDescriptor{manDesc}})
	if err != nil {
		return err
	}
	if err := atomicfile.Write(filepath.Join(out, "index.json"), idx, 0o644); err != nil {
		return err
	}
	return atomicfile.Write(filepath.Join(out, "oci-layout"), []byte(`{"imageLayoutVersion":"1.0.0"}`), 0o644)
}

// writeBlob stores v as JSON under its digest.
func writeBlob(blobs, mediaType string, v any) (ociDescriptor, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return ociDescriptor{}, err
	}
	sum := sha256.Sum256(data)
	h := hex.EncodeToString(sum[:])
	if err := atomicfile.Write(filepath.Join(blobs, h), data, 0o644); err != nil {
		return ociDescriptor{}, err
	}
	return ociDescriptor{MediaType: mediaType, Digest: "sha256:" + h, Size: int64(len(data))}, nil
}

func digest(h hash.Hash) string { return "sha256:" + hex.EncodeToString(h.Sum(nil)) }

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
