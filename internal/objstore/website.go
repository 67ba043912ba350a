package objstore

import (
	"context"
)

// WebsiteStore keeps buckets' website configurations. The caller checks
// a configuration against S3's rules before it stores it.
type WebsiteStore interface {
	// PutWebsite replaces a bucket's website configuration; nil removes
	// it.
	PutWebsite(ctx context.Context, bucket string, cfg *WebsiteConfig) error
	// Website returns a bucket's website configuration, nil if it has
	// none. prev, if not nil, is a configuration an earlier call returned
	// for the same bucket: when the stored configuration is still the one
	// prev was read from, Website returns prev itself without reading it
	// again (one stat), so that a server of websites can keep a cached
	// copy current on every request.
	Website(ctx context.Context, bucket string, prev *WebsiteConfig) (*WebsiteConfig, error)
}

// WebsiteConfig is a bucket's website configuration, kept as
// website.json in the bucket's directory: either RedirectAll alone, or
// an index document with an optional error document and routing rules.
type WebsiteConfig struct {
	IndexSuffix string           `json:"indexSuffix,omitempty"` // IndexDocument/Suffix
	ErrorKey    string           `json:"errorKey,omitempty"`    // ErrorDocument/Key
	RedirectAll *WebsiteRedirect `json:"redirectAll,omitempty"` // RedirectAllRequestsTo: HostName and Protocol
	Rules       []WebsiteRule    `json:"rules,omitempty"`       // RoutingRules, in order

	fileStamp // the file it was read from, if any
}

// WebsiteRule is one routing rule: where its Redirect sends a request
// that meets its Condition (every request when it has none).
type WebsiteRule struct {
	Condition *WebsiteCondition `json:"condition,omitempty"`
	Redirect  WebsiteRedirect   `json:"redirect"`
}

// WebsiteCondition is what a request must meet for its rule to apply:
// every condition given holds.
type WebsiteCondition struct {
	// KeyPrefixEquals, if set, is a prefix of the requested key.
	KeyPrefixEquals *string `json:"keyPrefixEquals,omitempty"`
	// HTTPErrorCode, if not zero, is the status (4XX or 5XX) that
	// serving the key would have answered.
	HTTPErrorCode int `json:"httpErrorCode,omitempty"`
}

// WebsiteRedirect is where a rule, or RedirectAllRequestsTo, sends a
// request. Empty fields keep the request's own host, protocol and key.
type WebsiteRedirect struct {
	HostName string `json:"hostName,omitempty"`
	Protocol string `json:"protocol,omitempty"` // http or https
	// HTTPRedirectCode is the status of the redirect; zero means 301.
	HTTPRedirectCode int `json:"httpRedirectCode,omitempty"`
	// ReplaceKeyPrefixWith replaces the condition's KeyPrefixEquals at
	// the start of the key (an empty value removes it); ReplaceKeyWith
	// replaces the whole key. At most one is set.
	ReplaceKeyPrefixWith *string `json:"replaceKeyPrefixWith,omitempty"`
	ReplaceKeyWith       *string `json:"replaceKeyWith,omitempty"`
}

// PutWebsite replaces a bucket's website configuration; nil removes it.
func (d *Disk) PutWebsite(ctx context.Context, bucket string, cfg *WebsiteConfig) error {
	return d.putBucketConfig(bucket, "website.json", "website configuration", cfg, cfg == nil)
}

// Website returns a bucket's website configuration, nil if it has none;
// prev, a configuration read before, is returned while it is current (see
// bucketconfig.go).
func (d *Disk) Website(ctx context.Context, bucket string, prev *WebsiteConfig) (*WebsiteConfig, error) {
	return readBucketConfig(d, bucket, "website.json", "website configuration", prev)
}
