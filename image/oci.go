package image

import (
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	digest "github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/greypm/grey/internal/atomicfile"
)

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
// manifest, tagged "latest" in index.json, as the types of
// github.com/opencontainers/image-spec. The layout is written directly, not
// through a registry library, so that every byte is under control: JSON of
// those types (fixed field order), the creation time from epoch, a gzip
// stream with no name or time. arch is the Debian architecture of the image;
// cmd, when not "", is its command (the config's Cmd, a spec's command:).
func WriteOCI(ctx context.Context, dir, out, arch string, epoch int64, cmd string) error {
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
	layer := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageLayerGzip, Digest: digest.NewDigest(digest.SHA256, gzSum), Size: cnt.n}
	if err := os.Rename(tmp.Name(), filepath.Join(blobs, layer.Digest.Encoded())); err != nil {
		return err
	}

	created := time.Unix(epoch, 0).UTC()
	createdText := created.Format(time.RFC3339)
	oarch, variant := ociArch(arch)
	platform := ocispec.Platform{Architecture: oarch, OS: "linux", Variant: variant}
	config := ocispec.ImageConfig{Env: []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}}
	if cmd != "" {
		config.Cmd = []string{cmd}
	}
	cfg := ocispec.Image{
		Created: &created, Platform: platform,
		Config:  config,
		RootFS:  ocispec.RootFS{Type: "layers", DiffIDs: []digest.Digest{digest.NewDigest(digest.SHA256, tarSum)}},
		History: []ocispec.History{{Created: &created, CreatedBy: "grey image build"}},
	}
	cfgDesc, err := writeBlob(blobs, ocispec.MediaTypeImageConfig, cfg)
	if err != nil {
		return err
	}
	man := ocispec.Manifest{
		Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageManifest,
		Config: cfgDesc, Layers: []ocispec.Descriptor{layer},
		Annotations: map[string]string{ocispec.AnnotationCreated: createdText},
	}
	manDesc, err := writeBlob(blobs, ocispec.MediaTypeImageManifest, man)
	if err != nil {
		return err
	}
	manDesc.Annotations = map[string]string{ocispec.AnnotationRefName: "latest"}
	manDesc.Platform = &platform
	idx, err := json.Marshal(ocispec.Index{
		Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageIndex,
		Manifests: []ocispec.Descriptor{manDesc},
	})
	if err != nil {
		return err
	}
	if err := atomicfile.Write(filepath.Join(out, "index.json"), idx, 0o644); err != nil {
		return err
	}
	return atomicfile.Write(filepath.Join(out, "oci-layout"), []byte(`{"imageLayoutVersion":"1.0.0"}`), 0o644)
}

// writeBlob stores v as JSON under its digest.
func writeBlob(blobs, mediaType string, v any) (ocispec.Descriptor, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	d := digest.FromBytes(data)
	if err := atomicfile.Write(filepath.Join(blobs, d.Encoded()), data, 0o644); err != nil {
		return ocispec.Descriptor{}, err
	}
	return ocispec.Descriptor{MediaType: mediaType, Digest: d, Size: int64(len(data))}, nil
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
