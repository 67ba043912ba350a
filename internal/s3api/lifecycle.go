package s3api

import (
	"crypto/rand"
	"encoding/base32"
	"encoding/xml"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/aloft-dev/aloft/internal/objstore"
)

// This file serves PutBucketLifecycleConfiguration,
// GetBucketLifecycleConfiguration and DeleteBucketLifecycle. The rules
// are checked as S3 checks them and stored with the bucket; the object
// store's lifecycle job applies them.

const (
	maxLifecycleRules  = 1000
	maxLifecycleRuleID = 255
	// minSizeHeader names the rule for the smallest object a transition
	// moves; its values are S3's, and its default the one S3 answers.
	minSizeHeader  = "X-Amz-Transition-Default-Minimum-Object-Size"
	minSizeDefault = "all_storage_classes_128K"
	lifecycleDate  = "2006-01-02T15:04:05.000Z"
)

// unknownElement is an element S3 does not define at its place.
type unknownElement struct{ XMLName xml.Name }

// lifecycleConfiguration is the XML of the lifecycle operations.
type lifecycleConfiguration struct {
	XMLName xml.Name         `xml:"LifecycleConfiguration"`
	Xmlns   string           `xml:"xmlns,attr,omitempty"`
	Rules   []lifecycleRule  `xml:"Rule"`
	Unknown []unknownElement `xml:",any"`
}

type lifecycleRule struct {
	Expiration                     *lifecycleExpiration  `xml:"Expiration,omitempty"`
	ID                             string                `xml:"ID,omitempty"`
	Prefix                         *string               `xml:"Prefix,omitempty"` // the legacy rule-level filter
	Filter                         *lifecycleFilter      `xml:"Filter,omitempty"`
	Status                         string                `xml:"Status"`
	NoncurrentVersionExpiration    *noncurrentExpiration `xml:"NoncurrentVersionExpiration,omitempty"`
	AbortIncompleteMultipartUpload *abortIncomplete      `xml:"AbortIncompleteMultipartUpload,omitempty"`
	Transitions                    []unknownElement      `xml:"Transition,omitempty"`
	NoncurrentVersionTransitions   []unknownElement      `xml:"NoncurrentVersionTransition,omitempty"`
	Unknown                        []unknownElement      `xml:",any"`
}

type lifecycleFilter struct {
	Prefix                *string          `xml:"Prefix,omitempty"`
	Tag                   *tagEntry        `xml:"Tag,omitempty"`
	ObjectSizeGreaterThan *int64           `xml:"ObjectSizeGreaterThan,omitempty"`
	ObjectSizeLessThan    *int64           `xml:"ObjectSizeLessThan,omitempty"`
	And                   *lifecycleAnd    `xml:"And,omitempty"`
	Unknown               []unknownElement `xml:",any"`
}

type lifecycleAnd struct {
	Prefix                *string          `xml:"Prefix,omitempty"`
	Tags                  []tagEntry       `xml:"Tag"`
	ObjectSizeGreaterThan *int64           `xml:"ObjectSizeGreaterThan,omitempty"`
	ObjectSizeLessThan    *int64           `xml:"ObjectSizeLessThan,omitempty"`
	Unknown               []unknownElement `xml:",any"`
}

type lifecycleExpiration struct {
	Date                      string           `xml:"Date,omitempty"`
	Days                      *int             `xml:"Days,omitempty"`
	ExpiredObjectDeleteMarker *bool            `xml:"ExpiredObjectDeleteMarker,omitempty"`
	Unknown                   []unknownElement `xml:",any"`
}

type noncurrentExpiration struct {
	NoncurrentDays          *int             `xml:"NoncurrentDays,omitempty"`
	NewerNoncurrentVersions *int             `xml:"NewerNoncurrentVersions,omitempty"`
	Unknown                 []unknownElement `xml:",any"`
}

type abortIncomplete struct {
	DaysAfterInitiation *int             `xml:"DaysAfterInitiation,omitempty"`
	Unknown             []unknownElement `xml:",any"`
}

// integrityDeclared reports whether a request declares its body's
// integrity, by Content-MD5 or an x-amz-checksum-* header or trailer, as
// S3 wants of the configuration writes that carry it.
func integrityDeclared(r *http.Request) bool {
	if r.Header.Get("Content-Md5") != "" || r.Header.Get("X-Amz-Trailer") != "" {
		return true
	}
	for name := range r.Header {
		if strings.HasPrefix(name, "X-Amz-Checksum-") {
			return true
		}
	}
	return false
}

func putBucketLifecycle(h *Handler, w http.ResponseWriter, r *http.Request, rq *request) error {
	if !integrityDeclared(r) {
		return s3err("InvalidRequest", "Missing required header for this request: Content-MD5")
	}
	minSize := r.Header.Get(minSizeHeader)
	if minSize != "" && minSize != minSizeDefault && minSize != "varies_by_storage_class" {
		return invalidArgument("Invalid value for " + strings.ToLower(minSizeHeader) + ": " + minSize)
	}
	body, err := h.readSmall(r, rq, 2<<20)
	if err != nil {
		return err
	}
	var doc lifecycleConfiguration
	if err := decodeXML(body, &doc); err != nil {
		return err
	}
	cfg, err := parseLifecycle(&doc)
	if err != nil {
		return err
	}
	cfg.TransitionDefaultMinimumObjectSize = minSize
	if err := h.d.Store.PutLifecycle(r.Context(), rq.bucket, cfg); err != nil {
		return err
	}
	w.Header().Set(minSizeHeader, minSizeOf(cfg))
	w.WriteHeader(http.StatusOK)
	return nil
}

func getBucketLifecycle(h *Handler, w http.ResponseWriter, r *http.Request, rq *request) error {
	cfg, err := h.d.Store.Lifecycle(r.Context(), rq.bucket)
	if err != nil {
		return err
	}
	if cfg == nil {
		e := s3err("NoSuchLifecycleConfiguration", "")
		e.Bucket = rq.bucket
		return e
	}
	w.Header().Set(minSizeHeader, minSizeOf(cfg))
	writeXML(w, http.StatusOK, lifecycleDocument(cfg))
	return nil
}

func deleteBucketLifecycle(h *Handler, w http.ResponseWriter, r *http.Request, rq *request) error {
	if err := h.d.Store.PutLifecycle(r.Context(), rq.bucket, nil); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func minSizeOf(cfg *objstore.LifecycleConfig) string {
	if cfg.TransitionDefaultMinimumObjectSize == "" {
		return minSizeDefault
	}
	return cfg.TransitionDefaultMinimumObjectSize
}

func malformed(msg string) error { return s3err("MalformedXML", msg) }

// positive reads a count that S3 wants positive: anything not above
// zero is InvalidArgument with S3's wording.
func positive(v *int, field, action string) (int, error) {
	if *v <= 0 {
		return 0, invalidArgument("'" + field + "' for " + action + " action must be a positive integer")
	}
	return *v, nil
}

// parseLifecycle checks a configuration as S3 does and converts it.
func parseLifecycle(doc *lifecycleConfiguration) (*objstore.LifecycleConfig, error) {
	if len(doc.Unknown) > 0 || len(doc.Rules) == 0 {
		return nil, malformed("")
	}
	if len(doc.Rules) > maxLifecycleRules {
		return nil, invalidArgument("Configuration has more than " + strconv.Itoa(maxLifecycleRules) + " rules")
	}
	cfg := &objstore.LifecycleConfig{Rules: make([]objstore.LifecycleRule, 0, len(doc.Rules))}
	ids := make(map[string]bool, len(doc.Rules))
	for i := range doc.Rules {
		rule, err := parseRule(&doc.Rules[i])
		if err != nil {
			return nil, err
		}
		if ids[rule.ID] {
			return nil, invalidArgument("Rule ID must be unique. Found same ID for more than one rule")
		}
		ids[rule.ID] = true
		cfg.Rules = append(cfg.Rules, rule)
	}
	return cfg, nil
}

// parseRule checks and converts one rule.
func parseRule(x *lifecycleRule) (objstore.LifecycleRule, error) {
	var rule objstore.LifecycleRule
	if len(x.Unknown) > 0 {
		return rule, malformed("")
	}
	if len(x.Transitions) > 0 || len(x.NoncurrentVersionTransitions) > 0 {
		e := s3err("NotImplemented", "Transitions between storage classes are not implemented: every object is STANDARD")
		return rule, e
	}
	switch x.Status {
	case "Enabled":
		rule.Enabled = true
	case "Disabled":
	default:
		return rule, malformed("")
	}
	rule.ID = x.ID
	if len(rule.ID) > maxLifecycleRuleID {
		return rule, invalidArgument("ID length should not exceed allowed limit of " + strconv.Itoa(maxLifecycleRuleID))
	}
	if rule.ID == "" {
		rule.ID = newRuleID()
	}
	switch {
	case x.Prefix != nil && x.Filter != nil, x.Prefix == nil && x.Filter == nil:
		return rule, malformed("")
	case x.Prefix != nil:
		rule.Filter = objstore.LifecycleFilter{Form: "legacy", Prefix: *x.Prefix}
	default:
		f, err := parseFilter(x.Filter)
		if err != nil {
			return rule, err
		}
		rule.Filter = f
	}
	tagged := len(rule.Filter.Tags) > 0
	sized := rule.Filter.SizeGreaterThan > 0 || rule.Filter.SizeLessThan > 0
	if e := x.Expiration; e != nil {
		if len(e.Unknown) > 0 {
			return rule, malformed("")
		}
		n := 0
		exp := &objstore.LifecycleExpiration{}
		if e.Days != nil {
			n++
			days, err := positive(e.Days, "Days", "Expiration")
			if err != nil {
				return rule, err
			}
			exp.Days = days
		}
		if e.Date != "" {
			n++
			t, err := time.Parse(time.RFC3339Nano, e.Date)
			if err != nil {
				return rule, invalidArgument("Invalid date: " + e.Date)
			}
			t = t.UTC()
			if !t.Equal(t.Truncate(24 * time.Hour)) {
				return rule, invalidArgument("'Date' must be at midnight GMT")
			}
			exp.Date = t
		}
		if e.ExpiredObjectDeleteMarker != nil {
			n++
			if tagged {
				return rule, s3err("InvalidRequest", "ExpiredObjectDeleteMarker cannot be specified with object tags")
			}
			exp.ExpiredObjectDeleteMarker = *e.ExpiredObjectDeleteMarker
		}
		if n != 1 {
			return rule, malformed("")
		}
		rule.Expiration = exp
	}
	if a := x.AbortIncompleteMultipartUpload; a != nil {
		if len(a.Unknown) > 0 || a.DaysAfterInitiation == nil {
			return rule, malformed("")
		}
		if tagged {
			return rule, s3err("InvalidRequest", "AbortIncompleteMultipartUpload cannot be specified with Tags.")
		}
		if sized {
			return rule, s3err("InvalidRequest", "AbortIncompleteMultipartUpload cannot be specified with an object size filter.")
		}
		days, err := positive(a.DaysAfterInitiation, "DaysAfterInitiation", "AbortIncompleteMultipartUpload")
		if err != nil {
			return rule, err
		}
		rule.AbortDays = days
	}
	if nc := x.NoncurrentVersionExpiration; nc != nil {
		if len(nc.Unknown) > 0 || nc.NoncurrentDays == nil {
			return rule, malformed("")
		}
		days, err := positive(nc.NoncurrentDays, "NoncurrentDays", "NoncurrentVersionExpiration")
		if err != nil {
			return rule, err
		}
		rule.Noncurrent = &objstore.NoncurrentExpiration{NoncurrentDays: days}
		if v := nc.NewerNoncurrentVersions; v != nil {
			if *v < 1 || *v > 100 {
				return rule, invalidArgument("'NewerNoncurrentVersions' for NoncurrentVersionExpiration action must be a positive integer up to 100")
			}
			rule.Noncurrent.NewerNoncurrentVersions = *v
		}
	}
	if rule.Expiration == nil && rule.AbortDays == 0 && rule.Noncurrent == nil {
		return rule, s3err("InvalidRequest", "At least one action needs to be specified in a rule")
	}
	return rule, nil
}

// parseFilter checks and converts a rule's Filter: at most one of its
// conditions, or And with several.
func parseFilter(x *lifecycleFilter) (objstore.LifecycleFilter, error) {
	var f objstore.LifecycleFilter
	if len(x.Unknown) > 0 {
		return f, malformed("")
	}
	n := 0
	for _, set := range []bool{x.Prefix != nil, x.Tag != nil, x.ObjectSizeGreaterThan != nil, x.ObjectSizeLessThan != nil, x.And != nil} {
		if set {
			n++
		}
	}
	if n > 1 {
		return f, malformed("")
	}
	prefix, tags, gt, lt := x.Prefix, []tagEntry(nil), x.ObjectSizeGreaterThan, x.ObjectSizeLessThan
	if x.Tag != nil {
		tags = []tagEntry{*x.Tag}
	}
	if a := x.And; a != nil {
		if len(a.Unknown) > 0 {
			return f, malformed("")
		}
		f.Form = "and"
		prefix, tags, gt, lt = a.Prefix, a.Tags, a.ObjectSizeGreaterThan, a.ObjectSizeLessThan
	}
	if prefix != nil {
		f.Prefix = *prefix
	}
	seen := make(map[string]string, len(tags))
	for _, t := range tags {
		if err := addTag(seen, t.Key, t.Value, maxObjectTags); err != nil {
			return f, err
		}
		f.Tags = append(f.Tags, objstore.LifecycleTag{Key: t.Key, Value: t.Value})
	}
	if gt != nil {
		if *gt < 0 {
			return f, invalidArgument("'ObjectSizeGreaterThan' must not be negative")
		}
		f.SizeGreaterThan = *gt
	}
	if lt != nil {
		if *lt <= 0 {
			return f, invalidArgument("'ObjectSizeLessThan' must be a positive integer")
		}
		f.SizeLessThan = *lt
	}
	if gt != nil && lt != nil && *gt >= *lt {
		return f, invalidArgument("ObjectSizeGreaterThan must be less than ObjectSizeLessThan")
	}
	return f, nil
}

// newRuleID is the ID S3 gives a rule put without one.
func newRuleID() string {
	var b [30]byte
	rand.Read(b[:])
	return base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b[:])
}

// lifecycleDocument is the XML a stored configuration reads back as.
func lifecycleDocument(cfg *objstore.LifecycleConfig) lifecycleConfiguration {
	doc := lifecycleConfiguration{Xmlns: xmlns, Rules: make([]lifecycleRule, 0, len(cfg.Rules))}
	for _, r := range cfg.Rules {
		x := lifecycleRule{ID: r.ID, Status: "Disabled"}
		if r.Enabled {
			x.Status = "Enabled"
		}
		f := r.Filter
		switch f.Form {
		case "legacy":
			x.Prefix = &f.Prefix
		case "and":
			a := &lifecycleAnd{ObjectSizeGreaterThan: nonZero(f.SizeGreaterThan), ObjectSizeLessThan: nonZero(f.SizeLessThan)}
			if f.Prefix != "" {
				a.Prefix = &f.Prefix
			}
			for _, t := range f.Tags {
				a.Tags = append(a.Tags, tagEntry{Key: t.Key, Value: t.Value})
			}
			x.Filter = &lifecycleFilter{And: a}
		default:
			x.Filter = &lifecycleFilter{ObjectSizeGreaterThan: nonZero(f.SizeGreaterThan), ObjectSizeLessThan: nonZero(f.SizeLessThan)}
			if f.Prefix != "" {
				x.Filter.Prefix = &f.Prefix
			}
			if len(f.Tags) > 0 {
				x.Filter.Tag = &tagEntry{Key: f.Tags[0].Key, Value: f.Tags[0].Value}
			}
		}
		if e := r.Expiration; e != nil {
			xe := &lifecycleExpiration{}
			switch {
			case e.Days > 0:
				xe.Days = &e.Days
			case !e.Date.IsZero():
				xe.Date = e.Date.UTC().Format(lifecycleDate)
			default:
				xe.ExpiredObjectDeleteMarker = &e.ExpiredObjectDeleteMarker
			}
			x.Expiration = xe
		}
		if r.AbortDays > 0 {
			x.AbortIncompleteMultipartUpload = &abortIncomplete{DaysAfterInitiation: &r.AbortDays}
		}
		if nc := r.Noncurrent; nc != nil {
			x.NoncurrentVersionExpiration = &noncurrentExpiration{NoncurrentDays: &nc.NoncurrentDays}
			if nc.NewerNoncurrentVersions > 0 {
				x.NoncurrentVersionExpiration.NewerNoncurrentVersions = &nc.NewerNoncurrentVersions
			}
		}
		doc.Rules = append(doc.Rules, x)
	}
	return doc
}

func nonZero(v int64) *int64 {
	if v == 0 {
		return nil
	}
	return &v
}
