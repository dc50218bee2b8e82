// Package deploy renders pace clusters as deployment manifests (`pace
// render`): a coordinator and the workers of a deployment mode, for
// Kubernetes or docker compose, on S3 or on a bundled demo MinIO.
package deploy

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/pace-tracing/pace/coordinator"
)

// Deployment modes (DESIGN.md section 5).
const (
	Monolithic               = coordinator.ModeMonolithic
	MinimalMicroservices     = coordinator.ModeMinimal
	RecommendedMicroservices = coordinator.ModeRecommended
)

// Output formats.
const (
	Kubernetes = "kubernetes"
	Compose    = "compose"
)

// Modes lists the deployment modes, the default first.
func Modes() []string { return coordinator.Modes() }

// Formats lists the output formats, the default first.
func Formats() []string { return []string{Kubernetes, Compose} }

// Group is a set of identical workers: one role set and how many run it.
type Group = coordinator.WorkerGroup

// Groups returns the worker groups of a mode.
func Groups(mode string) ([]Group, error) {
	g, err := coordinator.ModeGroups(mode)
	if err != nil {
		return nil, fmt.Errorf("--mode: %w", err)
	}
	return g, nil
}

// S3 is an existing S3-compatible object store.
type S3 struct {
	Endpoint  string // host:port, no scheme
	Bucket    string
	Region    string
	AccessKey string // both keys, or neither (the pods' own credentials, e.g. an IAM role)
	SecretKey string
	Insecure  bool // plain http
}

// Options say what to render.
type Options struct {
	Mode      string
	Format    string
	Namespace string // Kubernetes only
	Version   string // pace version: image tag and version label
	Image     string // default pace-tracing/pace:<Version>
	// Exactly one of S3 and MinIO.
	S3    *S3
	MinIO bool
	// MinIOImage and MCImage are the demo MinIO's images.
	MinIOImage, MCImage string
	// VolumeSize is each ingester's WAL volume (Kubernetes).
	VolumeSize string
	// CoordinatorReplicas (Kubernetes; compose runs one).
	CoordinatorReplicas int
	TLS                 bool
}

// Defaults of the options left empty.
const (
	DefaultNamespace   = "pace"
	DefaultVolumeSize  = "10Gi"
	DefaultMinIOImage  = "minio/minio"
	DefaultMCImage     = "minio/mc"
	DefaultImageRepo   = "pace-tracing/pace"
	DefaultCoordinator = 2
	// MinIOBucket is the bucket the demo MinIO's init job creates.
	MinIOBucket = "traces"
	// Demo credentials of the bundled MinIO: fixed and public.
	minioUser     = "pace-demo"
	minioPassword = "pace-demo-password"
)

var (
	dnsLabel = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
	// A version is an image tag and a label value.
	versionRE = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9_.-]{0,61}[A-Za-z0-9])?$`)
	// quantityRE is the usual subset of Kubernetes quantities.
	quantityRE = regexp.MustCompile(`^[1-9][0-9]*(\.[0-9]+)?(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?$`)
)

// Validate checks the options and fills the defaults.
func (o *Options) Validate() error {
	if o.TLS {
		return errors.New("--tls: TLS is not implemented in pace yet (issue 8); render without --tls")
	}
	if o.Mode == "" {
		o.Mode = Monolithic
	}
	if _, err := Groups(o.Mode); err != nil {
		return err
	}
	if o.Format == "" {
		o.Format = Kubernetes
	}
	if !slices.Contains(Formats(), o.Format) {
		return fmt.Errorf("--format %q: unknown format; valid formats: %s", o.Format, strings.Join(Formats(), ", "))
	}
	switch {
	case o.S3 == nil && !o.MinIO:
		return errors.New("no object store: give --s3-endpoint and --s3-bucket (and --s3-access-key, --s3-secret-key) for an S3 store, or --minio for a bundled demo MinIO")
	case o.S3 != nil && o.MinIO:
		return errors.New("--minio and --s3-* exclude each other: choose one object store")
	case o.S3 != nil:
		s := o.S3
		switch {
		case s.Endpoint == "":
			return errors.New("--s3-endpoint: missing (host:port of the S3 store)")
		case strings.Contains(s.Endpoint, "://"):
			return fmt.Errorf("--s3-endpoint %q: give host:port without a scheme (--s3-insecure for plain http)", s.Endpoint)
		case s.Bucket == "":
			return errors.New("--s3-bucket: missing (the bucket must exist; pace does not create it)")
		case (s.AccessKey == "") != (s.SecretKey == ""):
			return errors.New("--s3-access-key and --s3-secret-key: give both, or neither to use the pods' own credentials")
		}
		// The keys are expanded into coordinator.yaml inside single quotes;
		// the file is expanded as a whole, so no $ in the other values.
		const quote, dollar = "'\n", "$\n"
		for _, f := range []struct{ flag, v, bad string }{
			{"--s3-access-key", s.AccessKey, quote}, {"--s3-secret-key", s.SecretKey, quote},
			{"--s3-endpoint", s.Endpoint, dollar}, {"--s3-bucket", s.Bucket, dollar}, {"--s3-region", s.Region, dollar},
		} {
			if strings.ContainsAny(f.v, f.bad) {
				return fmt.Errorf("%s: cannot hold %q or a line break", f.flag, f.bad[:1])
			}
		}
	}
	if o.Namespace == "" {
		o.Namespace = DefaultNamespace
	} else if o.Format != Kubernetes {
		return fmt.Errorf("--namespace: only for --format %s", Kubernetes)
	}
	if len(o.Namespace) > 63 || !dnsLabel.MatchString(o.Namespace) {
		return fmt.Errorf("--namespace %q: not a valid namespace name (lower-case letters, digits and '-', at most 63)", o.Namespace)
	}
	if !versionRE.MatchString(o.Version) {
		return fmt.Errorf("--version %q: not a valid image tag and label value (letters, digits, '.', '_', '-', at most 63)", o.Version)
	}
	if o.Image == "" {
		o.Image = DefaultImageRepo + ":" + o.Version
	}
	if o.MinIOImage == "" {
		o.MinIOImage = DefaultMinIOImage
	}
	if o.MCImage == "" {
		o.MCImage = DefaultMCImage
	}
	if o.VolumeSize == "" {
		o.VolumeSize = DefaultVolumeSize
	}
	if !quantityRE.MatchString(o.VolumeSize) {
		return fmt.Errorf("--volume-size %q: not a positive quantity (e.g. 10Gi)", o.VolumeSize)
	}
	if o.CoordinatorReplicas == 0 {
		o.CoordinatorReplicas = DefaultCoordinator
	}
	if o.CoordinatorReplicas < 1 {
		return fmt.Errorf("--coordinator-replicas %d: at least 1", o.CoordinatorReplicas)
	}
	return nil
}

// File is one rendered file.
type File struct {
	Name string
	Data []byte
}

// Render validates o and renders its files, in the order they apply.
func Render(o Options) ([]File, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	groups, _ := Groups(o.Mode)
	if o.Format == Compose {
		return renderCompose(o, groups), nil
	}
	return renderKubernetes(o, groups), nil
}

// Join is what `pace render` prints without --out: the Kubernetes files as
// one multi-document stream, or the compose file.
func Join(files []File) []byte {
	var b []byte
	for i, f := range files {
		if i > 0 {
			b = append(b, "---\n"...)
		}
		b = append(b, f.Data...)
	}
	return b
}

// storage is the coordinator's object store as rendered in its file.
func (o Options) storage() S3 {
	if o.MinIO {
		return S3{Endpoint: "pace-minio:9000", Bucket: MinIOBucket, AccessKey: minioUser, SecretKey: minioPassword, Insecure: true}
	}
	return *o.S3
}

// hasKeys reports whether the coordinator gets S3 keys from the environment.
func (o Options) hasKeys() bool { s := o.storage(); return s.AccessKey != "" }

// coordinatorConfig is coordinator.yaml (examples/coordinator.yaml's keys);
// the S3 keys are ${S3_ACCESS_KEY} and ${S3_SECRET_KEY}, expanded from the
// environment (-config.expand-env).
func coordinatorConfig(o Options, endpoint, publicAddress string) string {
	s := o.storage()
	access, secret := squoted(""), squoted("")
	keysComment := "no keys: the pods' own credentials (e.g. an IAM role)"
	if o.hasKeys() {
		access, secret = "${S3_ACCESS_KEY}", "${S3_SECRET_KEY}"
		keysComment = "from the environment (-config.expand-env)"
	}
	return string(marshal("pace coordinator -config.file coordinator.yaml -config.expand-env\nRendered by pace render; see examples/coordinator.yaml for every key.", m{
		{k: "bind_address", v: "0.0.0.0"},
		{k: "public_address", v: publicAddress, c: "host in the receiver URLs handed to clients"},
		{k: "storage", v: m{
			{k: "backend", v: "s3"},
			{k: "s3", v: m{
				{k: "endpoint", v: endpoint},
				{k: "bucket", v: s.Bucket},
				{k: "region", v: s.Region},
				{k: "access_key", v: access, c: keysComment},
				{k: "secret_key", v: secret},
				{k: "insecure", v: s.Insecure},
				{k: "forcepathstyle", v: true},
			}},
		}},
		{k: "receivers", v: flow(coordinator.Protocols()), c: "every protocol the access point's ports serve"},
	}))
}

// receiverPorts are the receiver ports of the access point and of every
// distributor, with their protocols.
var receiverPorts = []port{
	{"otlp-grpc", 4317, "TCP"},
	{"otlp-http", 4318, "TCP"},
	{"zipkin", 9411, "TCP"},
	{"jaeger-http", 14268, "TCP"},
	{"jaeger-grpc", 14250, "TCP"},
	{"jaeger-compact", 6831, "UDP"},
	{"jaeger-binary", 6832, "UDP"},
}

// coordinatorPorts are the access point's ports.
var coordinatorPorts = append([]port{{"http", 3200, "TCP"}, {"grpc", 9096, "TCP"}}, receiverPorts...)

type port struct {
	name     string
	number   int
	protocol string
}
