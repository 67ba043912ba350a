package s3api

import (
	"bytes"
	"encoding/xml"
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/aloft-dev/aloft/internal/objstore"
	"github.com/aloft-dev/aloft/internal/policy"
	"github.com/aloft-dev/aloft/internal/sigv4"
)

// This file holds S3's Block Public Access at bucket level: the
// PublicAccessBlock configuration's operations, GetBucketPolicyStatus,
// and what a request needs to know of them on its way (bucketAccess).
//
// Of the four settings, two act here. BlockPublicPolicy refuses a public
// bucket policy (putPolicy). RestrictPublicBuckets, while the bucket's
// policy is public, limits access through it to the account's own
// principals: an anonymous request, to the API or to a website endpoint
// (bucketPolicy), is refused whatever the policy says, and a signed one,
// which is always the account's (this server has one account), is
// decided as before. BlockPublicAcls and IgnorePublicAcls are kept and
// returned but change nothing, because ACLs are disabled on every bucket
// (ObjectOwnership BucketOwnerEnforced): a public canned ACL or any grant
// is already refused with AccessControlListNotSupported (support.go), and
// no ACL grants anything. The account-level
// configuration (the S3 Control API) is not served.

// maxPublicAccessDoc bounds a PublicAccessBlockConfiguration document.
const maxPublicAccessDoc = 4 << 10

// accessFresh is how long a bucket's access, once read, is taken as
// current without looking at the store: a change made through another
// node sharing the object store takes effect within it. A change made
// through this handler drops the cached copy at once.
const accessFresh = time.Second

// bucketAccess is what decides a request to a bucket besides the
// signer's own policies: the bucket's policy and its public access
// block. Handler.policies caches it by bucket name, so that a request
// reads neither each time.
type bucketAccess struct {
	policy *policy.Policy // nil: none
	public bool           // policy is public (policy.Policy.IsPublic)
	block  objstore.PublicAccessBlock
	doc    []byte // the policy document policy was parsed from

	checked atomic.Int64 // when last found current, in Unix nanoseconds
}

// noAccess is the bucketAccess of no bucket at all, or of one that does
// not exist: no policy, no block. It is never cached.
var noAccess = &bucketAccess{}

// restrictedPolicy stands for a public policy that RestrictPublicBuckets
// keeps from deciding an anonymous request: it allows nothing.
var restrictedPolicy = &policy.Policy{}

// accessGeneration counts changes to buckets' policies and public access
// blocks. A loader stores what it read only if no change was made since
// it began, so that a read racing a change never caches the old
// configuration after the change dropped it.
var accessGeneration atomic.Uint64

// restricts reports whether RestrictPublicBuckets refuses a request by
// signer (nil: anonymous) through the bucket's policy.
func (a *bucketAccess) restricts(signer *sigv4.Identity) bool {
	return signer == nil && a.public && a.block.RestrictPublicBuckets
}

// access returns what decides requests to bucket: noAccess when the
// bucket does not exist (the operation says so itself). A cached copy
// is used for accessFresh, then checked against the store, and parsed
// again only if the policy changed.
func (h *Handler) access(r *http.Request, bucket string) (*bucketAccess, error) {
	if bucket == "" {
		return noAccess, nil
	}
	now := time.Now().UnixNano()
	var prev *bucketAccess
	if x, ok := h.policies.Load(bucket); ok {
		prev = x.(*bucketAccess)
		if now-prev.checked.Load() < int64(accessFresh) {
			return prev, nil
		}
	}
	gen := accessGeneration.Load()
	ctx := r.Context()
	doc, err := h.d.Store.Policy(ctx, bucket)
	var block *objstore.PublicAccessBlock
	if err == nil {
		block, err = h.d.Store.PublicAccessBlock(ctx, bucket)
	}
	if missingBucket(err) {
		h.policies.CompareAndDelete(bucket, prev)
		return noAccess, nil
	}
	if err != nil {
		return nil, err
	}
	if block == nil {
		block = &objstore.PublicAccessBlock{}
	}
	if prev != nil && *block == prev.block && bytes.Equal(doc, prev.doc) {
		prev.checked.Store(now)
		return prev, nil
	}
	a := &bucketAccess{block: *block, doc: doc}
	if doc != nil {
		if a.policy, err = policy.ParseResource(doc); err != nil {
			h.d.Logger.Error("a stored bucket policy cannot be evaluated; it allows nothing", "bucket", bucket, "err", err)
			a.policy = &policy.Policy{}
		}
		a.public = a.policy.IsPublic()
	}
	a.checked.Store(now)
	if accessGeneration.Load() == gen {
		h.policies.Store(bucket, a)
	}
	return a, nil
}

// forgetAccess drops bucket's cached access after a change to its policy
// or public access block has been stored.
func (h *Handler) forgetAccess(bucket string) {
	accessGeneration.Add(1)
	h.policies.Delete(bucket)
}

func missingBucket(err error) bool {
	return errors.Is(err, objstore.ErrNoSuchBucket) || errors.Is(err, objstore.ErrInvalidBucket)
}

// publicAccessBlockDoc is the PublicAccessBlockConfiguration document.
// Each setting is a list, so that one given twice is told apart.
type publicAccessBlockDoc struct {
	XMLName               xml.Name     `xml:"PublicAccessBlockConfiguration"`
	BlockPublicAcls       []string     `xml:"BlockPublicAcls"`
	IgnorePublicAcls      []string     `xml:"IgnorePublicAcls"`
	BlockPublicPolicy     []string     `xml:"BlockPublicPolicy"`
	RestrictPublicBuckets []string     `xml:"RestrictPublicBuckets"`
	Unknown               []anyElement `xml:",any"`
}

// publicAccessBlockAnswer is GetPublicAccessBlock's document.
type publicAccessBlockAnswer struct {
	XMLName               xml.Name `xml:"PublicAccessBlockConfiguration"`
	Xmlns                 string   `xml:"xmlns,attr"`
	BlockPublicAcls       bool
	IgnorePublicAcls      bool
	BlockPublicPolicy     bool
	RestrictPublicBuckets bool
}

// policyStatus is GetBucketPolicyStatus's document.
type policyStatus struct {
	XMLName  xml.Name `xml:"PolicyStatus"`
	Xmlns    string   `xml:"xmlns,attr"`
	IsPublic bool
}

// parsePublicAccessBlock reads and checks a
// PublicAccessBlockConfiguration document. A setting left out is false.
func parsePublicAccessBlock(b []byte) (*objstore.PublicAccessBlock, error) {
	var doc publicAccessBlockDoc
	if err := decodeXML(b, &doc); err != nil {
		return nil, err
	}
	if len(doc.Unknown) > 0 {
		return nil, s3err("MalformedXML", "")
	}
	cfg := &objstore.PublicAccessBlock{}
	for _, s := range []struct {
		vals []string
		to   *bool
	}{
		{doc.BlockPublicAcls, &cfg.BlockPublicAcls},
		{doc.IgnorePublicAcls, &cfg.IgnorePublicAcls},
		{doc.BlockPublicPolicy, &cfg.BlockPublicPolicy},
		{doc.RestrictPublicBuckets, &cfg.RestrictPublicBuckets},
	} {
		switch {
		case len(s.vals) == 0:
		case len(s.vals) > 1:
			return nil, s3err("MalformedXML", "")
		default:
			switch strings.TrimSpace(s.vals[0]) {
			case "true":
				*s.to = true
			case "false":
			default:
				return nil, s3err("MalformedXML", "")
			}
		}
	}
	return cfg, nil
}

func putPublicAccessBlock(h *Handler, w http.ResponseWriter, r *http.Request, rq *request) error {
	if !corsDigestDeclared(r) { // the same rule as PutBucketCors's
		return s3err("InvalidRequest", "Missing required header for this request: Content-MD5")
	}
	body, err := h.readSmall(r, rq, maxPublicAccessDoc)
	if err != nil {
		return err
	}
	cfg, err := parsePublicAccessBlock(body)
	if err != nil {
		return err
	}
	if err := h.d.Store.PutPublicAccessBlock(r.Context(), rq.bucket, cfg); err != nil {
		return err
	}
	h.forgetAccess(rq.bucket)
	w.WriteHeader(http.StatusOK)
	return nil
}

func getPublicAccessBlock(h *Handler, w http.ResponseWriter, r *http.Request, rq *request) error {
	cfg, err := h.d.Store.PublicAccessBlock(r.Context(), rq.bucket)
	if err != nil {
		return err
	}
	if cfg == nil {
		e := s3err("NoSuchPublicAccessBlockConfiguration", "")
		e.Bucket = rq.bucket
		return e
	}
	writeXML(w, http.StatusOK, publicAccessBlockAnswer{Xmlns: xmlns, BlockPublicAcls: cfg.BlockPublicAcls,
		IgnorePublicAcls: cfg.IgnorePublicAcls, BlockPublicPolicy: cfg.BlockPublicPolicy,
		RestrictPublicBuckets: cfg.RestrictPublicBuckets})
	return nil
}

func deletePublicAccessBlock(h *Handler, w http.ResponseWriter, r *http.Request, rq *request) error {
	if err := h.d.Store.PutPublicAccessBlock(r.Context(), rq.bucket, nil); err != nil {
		return err
	}
	h.forgetAccess(rq.bucket)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// getPolicyStatus answers whether the bucket's policy is public, from the
// stored document rather than the cache, as GetBucketPolicy does.
func getPolicyStatus(h *Handler, w http.ResponseWriter, r *http.Request, rq *request) error {
	doc, err := h.d.Store.Policy(r.Context(), rq.bucket)
	if err != nil {
		return err
	}
	if doc == nil {
		e := s3err("NoSuchBucketPolicy", "")
		e.Bucket = rq.bucket
		return e
	}
	public := false
	if p, err := policy.ParseResource(doc); err == nil {
		public = p.IsPublic()
	}
	writeXML(w, http.StatusOK, policyStatus{Xmlns: xmlns, IsPublic: public})
	return nil
}

// refusePublicPolicy refuses p, a bucket policy about to be stored, when
// it is public and the bucket's BlockPublicPolicy is set, as S3 does:
// AccessDenied.
func (h *Handler) refusePublicPolicy(r *http.Request, bucket string, p *policy.Policy) error {
	block, err := h.d.Store.PublicAccessBlock(r.Context(), bucket)
	if err != nil || block == nil || !block.BlockPublicPolicy || !p.IsPublic() {
		return err
	}
	return s3err("AccessDenied", "Access Denied: the policy is public and the bucket's BlockPublicPolicy setting blocks public policies")
}
