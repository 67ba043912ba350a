// Package client connects to an Aloft server. It builds AWS SDK clients for
// the Lambda and CloudWatch Logs APIs Aloft serves, calls Aloft's own usage
// endpoint, and prepares code archives and invocation payloads. The CLI uses
// it, and so can any Go program that talks to Aloft.
package client

import (
	"context"
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
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/feature/ec2/imds"
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

// ProfileName is the AWS shared-config profile `aloft configure` writes.
const ProfileName = "aloft"

// ErrNoCredentials is returned by FromEnv when neither the environment, an
// AWS profile nor a credentials file provides keys.
var ErrNoCredentials = errors.New("no credentials: set " + EnvAccessKey + " and " + EnvSecretKey +
	" (or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE), or start `aloft server` on this machine")

// Options configure New. Endpoint, AccessKeyID and SecretAccessKey are
// required.
type Options struct {
	Endpoint        string // base URL of the server, e.g. http://127.0.0.1:9000
	Region          string // signing region; any region is accepted ("" = us-east-1)
	AccessKeyID     string
	SecretAccessKey string
	SessionToken    string // for temporary credentials
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
		httpClient = &http.Client{Transport: SequentialBodies(http.DefaultTransport.(*http.Transport).Clone())}
	}
	creds := aws.NewCredentialsCache(credentials.NewStaticCredentialsProvider(o.AccessKeyID, o.SecretAccessKey, o.SessionToken))
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

// Lookup says where FromEnv finds a server and its keys; the zero value
// means the process's environment and files.
type Lookup struct {
	Endpoint string // a --endpoint flag; empty: from the sources below
	Profile  string // a --profile flag; empty: AWS_PROFILE
	Getenv   func(string) string
}

// FromEnv builds a Client from the environment, as FromLookup does with
// the zero Lookup.
func FromEnv() (*Client, error) { return FromLookup(Lookup{}) }

// FromLookup builds a Client, finding the keys in the first of:
//
//  1. ALOFT_ACCESS_KEY_ID and ALOFT_SECRET_ACCESS_KEY;
//  2. AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN);
//  3. the AWS shared-config profile named by the flag or AWS_PROFILE;
//  4. the credentials file of the server's data directory: ALOFT_DATA_DIR,
//     ./.aloft, or the directory of the server last started on this
//     machine by this user (which it records, with its address);
//  5. the profile "aloft" that `aloft configure` writes.
//
// The endpoint is the flag, ALOFT_ENDPOINT, AWS_ENDPOINT_URL, the
// profile's endpoint_url, the recorded server's address, or
// http://127.0.0.1:9000; the region AWS_REGION, AWS_DEFAULT_REGION, the
// profile's, or us-east-1.
func FromLookup(l Lookup) (*Client, error) {
	getenv := l.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	o := Options{Endpoint: firstOf(l.Endpoint, getenv(EnvEndpoint), getenv("AWS_ENDPOINT_URL")),
		Region: firstOf(getenv(EnvRegion), getenv("AWS_DEFAULT_REGION"))}
	rec, _ := ReadServerRecord()
	fromProfile := func(name string) (bool, error) {
		c, err := profile(name)
		if err != nil || c == nil {
			return false, err
		}
		o.AccessKeyID, o.SecretAccessKey, o.SessionToken = c.creds.AccessKeyID, c.creds.SecretAccessKey, c.creds.SessionToken
		o.Endpoint = firstOf(o.Endpoint, c.endpoint)
		o.Region = firstOf(o.Region, c.region)
		o.CredentialSource = "the AWS profile " + name
		return true, nil
	}
	id, secret := getenv(EnvAccessKey), getenv(EnvSecretKey)
	awsID, awsSecret := getenv("AWS_ACCESS_KEY_ID"), getenv("AWS_SECRET_ACCESS_KEY")
	prof := firstOf(l.Profile, getenv("AWS_PROFILE"))
	switch {
	case id != "" || secret != "":
		if id == "" || secret == "" {
			missing := EnvSecretKey
			if id == "" {
				missing = EnvAccessKey
			}
			return nil, fmt.Errorf("incomplete credentials: %s is not set", missing)
		}
		o.AccessKeyID, o.SecretAccessKey, o.CredentialSource = id, secret, "environment"
	case l.Profile == "" && awsID != "" && awsSecret != "":
		o.AccessKeyID, o.SecretAccessKey, o.SessionToken = awsID, awsSecret, getenv("AWS_SESSION_TOKEN")
		o.CredentialSource = "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
	case prof != "":
		ok, err := fromProfile(prof)
		if err != nil {
			return nil, fmt.Errorf("the AWS profile %s: %w", prof, err)
		}
		if !ok {
			return nil, fmt.Errorf("the AWS profile %s has no keys", prof)
		}
	default:
		dir := getenv(EnvDataDir)
		if dir == "" {
			dir = DefaultDataDir
			if _, err := os.Stat(filepath.Join(dir, CredentialsFile)); err != nil && rec != nil {
				dir = rec.DataDir
			}
		}
		path := filepath.Join(dir, CredentialsFile)
		var err error
		o.AccessKeyID, o.SecretAccessKey, err = ReadCredentials(path)
		switch {
		case err == nil:
			o.CredentialSource = path
		case errors.Is(err, ErrNoCredentials):
			if ok, perr := fromProfile(ProfileName); perr != nil || !ok {
				return nil, err
			}
		default:
			return nil, err
		}
	}
	if o.Endpoint == "" && rec != nil {
		o.Endpoint = rec.Endpoint
	}
	if o.Endpoint == "" {
		o.Endpoint = DefaultEndpoint
	}
	return New(o)
}

func firstOf(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

// profiled is what an AWS profile gives.
type profiled struct {
	creds            aws.Credentials
	endpoint, region string
}

// profile reads the AWS shared-config profile name, nil when it does not
// exist.
func profile(name string) (*profiled, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	// No instance metadata service: a profile without keys has none here.
	cfg, err := config.LoadDefaultConfig(ctx, config.WithSharedConfigProfile(name),
		config.WithEC2IMDSClientEnableState(imds.ClientDisabled))
	var missing config.SharedConfigProfileNotExistError
	if errors.As(err, &missing) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	creds, err := cfg.Credentials.Retrieve(ctx)
	if err != nil {
		return nil, err
	}
	out := &profiled{creds: creds, region: cfg.Region}
	if cfg.BaseEndpoint != nil {
		out.endpoint = *cfg.BaseEndpoint
	}
	return out, nil
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

// Credentials returns the keys the client signs with.
func (c *Client) Credentials(ctx context.Context) (aws.Credentials, error) {
	return c.cfg.Credentials.Retrieve(ctx)
}
