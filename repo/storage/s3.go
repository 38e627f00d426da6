package storage

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// S3Config says which bucket and how to reach it. Credentials come from
// the usual places the AWS SDK reads: AWS_ACCESS_KEY_ID and
// AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN), AWS_PROFILE with
// ~/.aws/credentials and ~/.aws/config, web identity, the instance role.
type S3Config struct {
	Bucket string
	// Prefix is the tree's root inside the bucket ("debian/"), or empty.
	Prefix string
	// Endpoint is an S3-compatible server's URL (http://127.0.0.1:8333);
	// empty: AWS_ENDPOINT_URL(_S3), the config file's endpoint_url, else
	// AWS itself.
	Endpoint string
	// Region; empty: AWS_REGION or the config file, else us-east-1.
	Region string
	// PathStyle addresses the bucket as ENDPOINT/BUCKET/KEY rather than
	// BUCKET.ENDPOINT/KEY, which most servers other than AWS need.
	PathStyle bool
	// Profile names a profile of the AWS config files; empty:
	// AWS_PROFILE, else default.
	Profile string
	// HTTPClient, when set, carries every request (tests count them).
	HTTPClient *http.Client
}

// ParseS3URL reads s3://BUCKET/PREFIX?endpoint=URL&region=R&path-style=true&profile=P.
// With an endpoint, path-style is the default (S3-compatible servers
// rarely have wildcard DNS names for buckets); path-style=false turns it
// off.
func ParseS3URL(raw string) (S3Config, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return S3Config{}, fmt.Errorf("parse %s: %w", raw, err)
	}
	if u.Scheme != "s3" || u.Host == "" {
		return S3Config{}, fmt.Errorf("parse %s: want s3://BUCKET/PREFIX", raw)
	}
	if u.User != nil {
		return S3Config{}, fmt.Errorf("parse %s: credentials do not go in the URL: use AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY or the AWS config files", redact(u))
	}
	c := S3Config{Bucket: u.Host, Prefix: strings.Trim(u.Path, "/")}
	if c.Prefix != "" {
		if err := checkName(c.Prefix); err != nil {
			return S3Config{}, fmt.Errorf("parse %s: prefix: %w", raw, err)
		}
	}
	q := u.Query()
	for k := range q {
		switch k {
		case "endpoint", "region", "path-style", "profile":
		default:
			return S3Config{}, fmt.Errorf("parse %s: unknown option %q (endpoint, region, path-style, profile)", raw, k)
		}
	}
	c.Endpoint = q.Get("endpoint")
	if c.Endpoint != "" {
		e, err := url.Parse(c.Endpoint)
		if err != nil || (e.Scheme != "http" && e.Scheme != "https") || e.Host == "" {
			return S3Config{}, fmt.Errorf("parse %s: endpoint %q is not an http(s) URL", raw, c.Endpoint)
		}
		c.PathStyle = true
	}
	c.Region = q.Get("region")
	c.Profile = q.Get("profile")
	if ps := q.Get("path-style"); ps != "" {
		b, err := strconv.ParseBool(ps)
		if err != nil {
			return S3Config{}, fmt.Errorf("parse %s: path-style=%q: want true or false", raw, ps)
		}
		c.PathStyle = b
	}
	return c, nil
}

func redact(u *url.URL) string {
	v := *u
	v.User = nil
	return v.String()
}

// S3 is a Storage in an S3-compatible bucket. Every PUT of an object is
// atomic (S3 never shows a partial object) and durable when it returns;
// there is no rename, so writers rely on their write order. Each object
// carries its SHA256 as user metadata (x-amz-meta-sha256) so that Exists
// costs one HEAD request and no download.
type S3 struct {
	cfg    S3Config
	client *s3.Client
	prefix string // cfg.Prefix + "/", or ""
	// host and pid identify this process in the lock object.
	host string
	pid  int
}

var (
	_ Storage   = (*S3)(nil)
	_ Copier    = (*S3)(nil)
	_ Inventory = (*S3)(nil)
)

// NewS3 connects to the bucket cfg names (nothing is sent until the first
// call).
func NewS3(ctx context.Context, cfg S3Config) (*S3, error) {
	var opts []func(*config.LoadOptions) error
	if cfg.Region != "" {
		opts = append(opts, config.WithRegion(cfg.Region))
	}
	if cfg.Profile != "" {
		opts = append(opts, config.WithSharedConfigProfile(cfg.Profile))
	}
	// Servers other than AWS do not all take the SDK's default CRC
	// trailers; the SHA256 is checked through the metadata instead.
	opts = append(opts,
		config.WithRequestChecksumCalculation(aws.RequestChecksumCalculationWhenRequired),
		config.WithResponseChecksumValidation(aws.ResponseChecksumValidationWhenRequired))
	ac, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("s3://%s: load AWS configuration: %w", cfg.Bucket, err)
	}
	if ac.Region == "" {
		ac.Region = "us-east-1"
	}
	client := s3.NewFromConfig(ac, func(o *s3.Options) {
		if cfg.Endpoint != "" {
			o.BaseEndpoint = aws.String(cfg.Endpoint)
		}
		o.UsePathStyle = cfg.PathStyle
		if cfg.HTTPClient != nil {
			o.HTTPClient = cfg.HTTPClient
		}
	})
	host, _ := os.Hostname()
	st := &S3{cfg: cfg, client: client, host: host, pid: os.Getpid()}
	if cfg.Prefix != "" {
		st.prefix = cfg.Prefix + "/"
	}
	return st, nil
}

// Client is the SDK client, for tests that create the bucket.
func (s *S3) Client() *s3.Client { return s.client }

func (s *S3) String() string {
	return "s3://" + s.cfg.Bucket + "/" + s.cfg.Prefix
}

// WebURL is the tree's URL for readers over plain HTTP(S) (apt, grey
// update), which the bucket serves when it allows anonymous reads:
// ENDPOINT/BUCKET/PREFIX with path-style addressing, SCHEME://BUCKET.HOST/PREFIX
// without, and AWS's https://BUCKET.s3.REGION.amazonaws.com/PREFIX when
// no endpoint is set.
func (s *S3) WebURL() string {
	var base string
	switch e, err := url.Parse(s.cfg.Endpoint); {
	case s.cfg.Endpoint == "" || err != nil:
		base = "https://" + s.cfg.Bucket + ".s3." + s.client.Options().Region + ".amazonaws.com"
	case s.cfg.PathStyle:
		base = strings.TrimSuffix(s.cfg.Endpoint, "/") + "/" + s.cfg.Bucket
	default:
		base = e.Scheme + "://" + s.cfg.Bucket + "." + e.Host
	}
	if s.cfg.Prefix != "" {
		base += "/" + s.cfg.Prefix
	}
	return base
}

func (s *S3) key(name string) (string, error) {
	if err := checkName(name); err != nil {
		return "", err
	}
	return s.prefix + name, nil
}

func (s *S3) errf(op, name string, err error) error {
	return fmt.Errorf("%s %s%s: %w", op, s.String(), strings.TrimPrefix(name, "/"), err)
}

func statusOf(err error) int {
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}

// metaSHA256 is the user metadata key holding an object's SHA256.
const metaSHA256 = "sha256"

// Put uploads r as name. A reader that cannot seek is spooled to a
// temporary file first: a signed request over plain HTTP needs the
// length and the payload's hash up front.
func (s *S3) Put(ctx context.Context, name string, r io.Reader, sum Sum) error {
	key, err := s.key(name)
	if err != nil {
		return err
	}
	rs, ok := r.(io.ReadSeeker)
	if !ok {
		tmp, err := os.CreateTemp("", "grey-s3-*")
		if err != nil {
			return s.errf("put", name, err)
		}
		defer os.Remove(tmp.Name())
		defer tmp.Close()
		if _, err := io.Copy(tmp, r); err != nil {
			return s.errf("put", name, err)
		}
		rs = tmp
	}
	start, err := rs.Seek(0, io.SeekCurrent)
	if err != nil {
		return s.errf("put", name, err)
	}
	if sum.IsZero() {
		if sum, err = SumReader(rs); err != nil {
			return s.errf("put", name, err)
		}
		if _, err := rs.Seek(start, io.SeekStart); err != nil {
			return s.errf("put", name, err)
		}
	}
	_, err = s.client.PutObject(ctx, &s3.PutObjectInput{
		Bucket:        aws.String(s.cfg.Bucket),
		Key:           aws.String(key),
		Body:          rs,
		ContentLength: aws.Int64(sum.Size),
		Metadata:      map[string]string{metaSHA256: sum.SHA256},
		ContentType:   aws.String(contentType(name)),
	})
	if err != nil {
		return s.errf("put", name, err)
	}
	return nil
}

func contentType(name string) string {
	switch {
	case strings.HasSuffix(name, ".deb"), strings.HasSuffix(name, ".udeb"):
		return "application/vnd.debian.binary-package"
	case strings.HasSuffix(name, ".gz"):
		return "application/gzip"
	case strings.HasSuffix(name, ".xz"):
		return "application/x-xz"
	case strings.HasSuffix(name, ".gpg"):
		return "application/pgp-signature"
	}
	return "application/octet-stream"
}

// Open downloads name.
func (s *S3) Open(ctx context.Context, name string) (io.ReadCloser, error) {
	key, err := s.key(name)
	if err != nil {
		return nil, err
	}
	out, err := s.client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(s.cfg.Bucket), Key: aws.String(key)})
	if err != nil {
		if statusOf(err) == http.StatusNotFound {
			return nil, s.errf("open", name, fs.ErrNotExist)
		}
		return nil, s.errf("open", name, err)
	}
	return out.Body, nil
}

// Exists compares the object's length and recorded SHA256 (one HEAD); an
// object without the record (put there by another tool) is downloaded
// and hashed.
func (s *S3) Exists(ctx context.Context, name string, sum Sum) (bool, error) {
	key, err := s.key(name)
	if err != nil {
		return false, err
	}
	out, err := s.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(s.cfg.Bucket), Key: aws.String(key)})
	if err != nil {
		if statusOf(err) == http.StatusNotFound {
			return false, nil
		}
		return false, s.errf("stat", name, err)
	}
	if aws.ToInt64(out.ContentLength) != sum.Size {
		return false, nil
	}
	if got, ok := out.Metadata[metaSHA256]; ok {
		return got == sum.SHA256, nil
	}
	r, err := s.Open(ctx, name)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	defer r.Close()
	got, err := SumReader(r)
	if err != nil {
		return false, s.errf("read", name, err)
	}
	return got == sum, nil
}

// List pages through the keys under prefix (Inventory's keys, sorted).
func (s *S3) List(ctx context.Context, prefix string) ([]string, error) {
	inv, err := s.Inventory(ctx, prefix)
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(inv))
	for k := range inv {
		out = append(out, k)
	}
	sort.Strings(out)
	return out, nil
}

// Inventory pages through the objects under prefix with their sizes;
// an ETag of 32 hex digits (an object uploaded in one PUT, not in parts
// nor encrypted with a customer's key) is its MD5.
func (s *S3) Inventory(ctx context.Context, prefix string) (map[string]ObjectInfo, error) {
	out := map[string]ObjectInfo{}
	pg := s3.NewListObjectsV2Paginator(s.client, &s3.ListObjectsV2Input{Bucket: aws.String(s.cfg.Bucket), Prefix: aws.String(s.prefix + prefix)})
	for pg.HasMorePages() {
		page, err := pg.NextPage(ctx)
		if err != nil {
			return nil, s.errf("list", prefix, err)
		}
		for _, o := range page.Contents {
			k := strings.TrimPrefix(aws.ToString(o.Key), s.prefix)
			if strings.HasSuffix(k, "/") {
				continue // a folder marker some tools create
			}
			info := ObjectInfo{Size: aws.ToInt64(o.Size)}
			if etag := strings.ToLower(strings.Trim(aws.ToString(o.ETag), `"`)); isMD5Hex(etag) {
				info.MD5 = etag
			}
			out[k] = info
		}
	}
	return out, nil
}

func isMD5Hex(s string) bool {
	if len(s) != 32 {
		return false
	}
	for _, c := range s {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// Delete removes name (S3 answers a missing key with success too).
func (s *S3) Delete(ctx context.Context, name string) error {
	key, err := s.key(name)
	if err != nil {
		return err
	}
	_, err = s.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(s.cfg.Bucket), Key: aws.String(key)})
	if err != nil && statusOf(err) != http.StatusNotFound {
		return s.errf("delete", name, err)
	}
	return nil
}

// Sync does nothing: a PUT that returned is durable.
func (s *S3) Sync(context.Context) error { return nil }

// Copy copies src to dst inside the bucket.
func (s *S3) Copy(ctx context.Context, dst, src string, sum Sum) error {
	dk, err := s.key(dst)
	if err != nil {
		return err
	}
	sk, err := s.key(src)
	if err != nil {
		return err
	}
	_, err = s.client.CopyObject(ctx, &s3.CopyObjectInput{
		Bucket:     aws.String(s.cfg.Bucket),
		Key:        aws.String(dk),
		CopySource: aws.String(url.PathEscape(s.cfg.Bucket) + "/" + (&url.URL{Path: sk}).EscapedPath()),
	})
	if err != nil {
		return s.errf("copy "+src+" to", dst, err)
	}
	return nil
}

// Lock creates the lock object with a conditional PUT (If-None-Match: *),
// which fails when it exists. A lock left by a process of this host that
// no longer runs (a killed publish) is taken over; one held by another
// host is reported with its holder and age, and stays until it is deleted
// by hand.
func (s *S3) Lock(ctx context.Context) (func() error, error) {
	key := s.prefix + LockName
	body := fmt.Sprintf("host=%s\npid=%d\ntime=%s\n", s.host, s.pid, time.Now().UTC().Format(time.RFC3339))
	for try := 0; ; try++ {
		_, err := s.client.PutObject(ctx, &s3.PutObjectInput{
			Bucket:      aws.String(s.cfg.Bucket),
			Key:         aws.String(key),
			Body:        strings.NewReader(body),
			IfNoneMatch: aws.String("*"),
		})
		if err == nil {
			return func() error { return s.Delete(context.Background(), LockName) }, nil
		}
		if code := statusOf(err); code != http.StatusPreconditionFailed && code != http.StatusConflict {
			return nil, s.errf("lock", LockName, err)
		}
		holder := s.lockHolder(ctx)
		if try == 0 && holder.host == s.host && holder.pid > 0 && !processAlive(holder.pid) {
			if err := s.Delete(ctx, LockName); err != nil {
				return nil, err
			}
			continue
		}
		return nil, fmt.Errorf("lock %s%s (held by %s pid %d since %s; delete that object if no publish runs): %w",
			s.String(), LockName, holder.host, holder.pid, holder.time, ErrLocked)
	}
}

type lockInfo struct {
	host, time string
	pid        int
}

func (s *S3) lockHolder(ctx context.Context) lockInfo {
	var li lockInfo
	r, err := s.Open(ctx, LockName)
	if err != nil {
		return li
	}
	defer r.Close()
	data, _ := io.ReadAll(io.LimitReader(r, 4096))
	for _, line := range bytes.Split(data, []byte("\n")) {
		k, v, _ := strings.Cut(string(line), "=")
		switch k {
		case "host":
			li.host = v
		case "pid":
			li.pid, _ = strconv.Atoi(v)
		case "time":
			li.time = v
		}
	}
	return li
}

func processAlive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// CreateBucket creates the bucket (for setting a store up, and tests); a
// bucket this account already owns is not an error.
func (s *S3) CreateBucket(ctx context.Context) error {
	_, err := s.client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(s.cfg.Bucket)})
	if err != nil && statusOf(err) != http.StatusConflict {
		return fmt.Errorf("create bucket %s: %w", s.cfg.Bucket, err)
	}
	return nil
}
