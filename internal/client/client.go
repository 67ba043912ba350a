// Package client connects to an Aloft server. It builds AWS SDK clients for
// the Lambda and CloudWatch Logs APIs Aloft serves, calls Aloft's own usage
// endpoint, and prepares code archives and invocation payloads. The CLI uses
// it, and so can any Go program that talks to Aloft.
package client

import (
	"encoding/json"
	"errors"
	"fmt"
	"github.com/aloft-dev/aloft/internal/awsproto"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/scheduler"
)

// Defaults used when the environment says nothing.
const (
	DefaultEndpoint    = "http://127.0.0.1:9000"
	DefaultRegion      = awsproto.DefaultRegion
	DefaultDataDir     = ".aloft"
	CredentialsFile    = "credentials" // name of the key file inside the data dir
	DefaultMaxAttempts = 3
)

// Environment variables FromEnv reads.
const (
	EnvEndpoint  = "ALOFT_ENDPOINT"
	EnvRegion    = "AWS_REGION"
	EnvAccessKey = "ALOFT_ACCESS_KEY_ID"
	EnvSecretKey = "ALOFT_SECRET_ACCESS_KEY"
	EnvDataDir   = "ALOFT_DATA_DIR"
)

// ErrNoCredentials is returned by FromEnv when neither the environment nor a
// credentials file provides keys.
var ErrNoCredentials = errors.New("no credentials: set " + EnvAccessKey + " and " + EnvSecretKey +
	", or run from the directory where `aloft server` keeps its data")

// Options configure New. Endpoint, AccessKeyID and SecretAccessKey are
// required.
type Options struct {
	Endpoint        string // base URL of the server, e.g. http://127.0.0.1:9000
	Region          string // signing region; any region is accepted ("" = us-east-1)
	AccessKeyID     string
	SecretAccessKey string
	// MaxAttempts bounds how often a request is tried when the server cannot
	// be reached or answers with a retryable error (0 = DefaultMaxAttempts).
	MaxAttempts int
	// HTTPClient sends the requests (nil = a client with default settings).
	HTTPClient *http.Client
	// CredentialSource says where the keys came from, for error messages.
	CredentialSource string
}

// Client talks to one Aloft server.
type Client struct {
	Endpoint         string // normalised base URL, without a trailing slash
	Region           string
	CredentialSource string // "environment" or the path of the credentials file

	Lambda    *lambda.Client
	Logs      *cloudwatchlogs.Client
	Scheduler *scheduler.Client

	cfg aws.Config // what every service client of this server is built from
}

// New builds a Client from explicit options.
func New(o Options) (*Client, error) {
	endpoint, err := NormalizeEndpoint(o.Endpoint)
	if err != nil {
		return nil, err
	}
	if o.AccessKeyID == "" || o.SecretAccessKey == "" {
		return nil, ErrNoCredentials
	}
	region := o.Region
	if region == "" {
		region = DefaultRegion
	}
	attempts := o.MaxAttempts
	if attempts <= 0 {
		attempts = DefaultMaxAttempts
	}
	var httpClient aws.HTTPClient = o.HTTPClient
	if o.HTTPClient == nil {
		httpClient = &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
	}
	creds := aws.NewCredentialsCache(credentials.NewStaticCredentialsProvider(o.AccessKeyID, o.SecretAccessKey, ""))
	cfg := aws.Config{
		Region:       region,
		Credentials:  creds,
		HTTPClient:   httpClient,
		BaseEndpoint: aws.String(endpoint),
		Retryer: func() aws.Retryer {
			// A local server is either up or not: retry briefly, then report.
			return retry.NewStandard(func(so *retry.StandardOptions) {
				so.MaxAttempts = attempts
				so.MaxBackoff = time.Second
			})
		},
	}
	return &Client{
		Endpoint:         endpoint,
		Region:           region,
		CredentialSource: o.CredentialSource,
		Lambda:           lambda.NewFromConfig(cfg),
		Logs:             cloudwatchlogs.NewFromConfig(cfg),
		Scheduler:        scheduler.NewFromConfig(cfg),
		cfg:              cfg,
	}, nil
}

// FromEnv builds a Client from the environment: ALOFT_ENDPOINT (default
// http://127.0.0.1:9000), AWS_REGION (default us-east-1) and the keys in
// ALOFT_ACCESS_KEY_ID and ALOFT_SECRET_ACCESS_KEY. Without those variables
// it reads the keys the server saved in the credentials file of its data
// directory (ALOFT_DATA_DIR, default ./.aloft), so nothing needs configuring
// on the machine that runs the server.
func FromEnv() (*Client, error) {
	o := Options{
		Endpoint: os.Getenv(EnvEndpoint),
		Region:   os.Getenv(EnvRegion),
	}
	if o.Endpoint == "" {
		o.Endpoint = DefaultEndpoint
	}
	id, secret := os.Getenv(EnvAccessKey), os.Getenv(EnvSecretKey)
	switch {
	case id != "" && secret != "":
		o.AccessKeyID, o.SecretAccessKey, o.CredentialSource = id, secret, "environment"
	case id != "" || secret != "":
		missing := EnvSecretKey
		if id == "" {
			missing = EnvAccessKey
		}
		return nil, fmt.Errorf("incomplete credentials: %s is not set", missing)
	default:
		dir := os.Getenv(EnvDataDir)
		if dir == "" {
			dir = DefaultDataDir
		}
		path := filepath.Join(dir, CredentialsFile)
		var err error
		o.AccessKeyID, o.SecretAccessKey, err = ReadCredentials(path)
		if err != nil {
			return nil, err
		}
		o.CredentialSource = path
	}
	return New(o)
}

// ReadCredentials reads a key pair from a credentials file as the server
// writes it: {"AccessKeyId":"...","SecretAccessKey":"..."}. A missing file
// yields ErrNoCredentials.
func ReadCredentials(path string) (accessKeyID, secretAccessKey string, err error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return "", "", ErrNoCredentials
	}
	if err != nil {
		return "", "", fmt.Errorf("reading credentials: %w", err)
	}
	var f struct {
		AccessKeyID     string `json:"AccessKeyId"`
		SecretAccessKey string `json:"SecretAccessKey"`
	}
	if err := json.Unmarshal(data, &f); err != nil {
		return "", "", fmt.Errorf("reading credentials from %s: %w", path, err)
	}
	if f.AccessKeyID == "" || f.SecretAccessKey == "" {
		return "", "", fmt.Errorf("reading credentials from %s: AccessKeyId or SecretAccessKey is empty", path)
	}
	return f.AccessKeyID, f.SecretAccessKey, nil
}

// NormalizeEndpoint checks a server URL and returns it without a trailing
// slash. A bare host:port is taken as http.
func NormalizeEndpoint(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", errors.New("no server endpoint given")
	}
	if !strings.Contains(s, "://") {
		s = "http://" + s
	}
	u, err := url.Parse(s)
	if err != nil {
		return "", fmt.Errorf("invalid endpoint %q: %w", s, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return "", fmt.Errorf("invalid endpoint %q: scheme must be http or https", s)
	}
	if u.Host == "" {
		return "", fmt.Errorf("invalid endpoint %q: no host", s)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("invalid endpoint %q: unexpected query or fragment", s)
	}
	return strings.TrimRight(u.String(), "/"), nil
}
