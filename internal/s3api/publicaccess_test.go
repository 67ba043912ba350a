package s3api

import (
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/aloft-dev/aloft/internal/awsproto"
	"github.com/aloft-dev/aloft/internal/objstore"
	"github.com/aloft-dev/aloft/internal/policy"
	"github.com/aloft-dev/aloft/internal/sigv4"
)

func TestParsePublicAccessBlock(t *testing.T) {
	const ns = `xmlns="http://s3.amazonaws.com/doc/2006-03-01/"`
	tests := []struct {
		name string
		doc  string
		want objstore.PublicAccessBlock
		code string // the error's, "" for none
	}{
		{"all", `<PublicAccessBlockConfiguration ` + ns + `><BlockPublicAcls>true</BlockPublicAcls><IgnorePublicAcls>true</IgnorePublicAcls><BlockPublicPolicy>true</BlockPublicPolicy><RestrictPublicBuckets>true</RestrictPublicBuckets></PublicAccessBlockConfiguration>`,
			objstore.PublicAccessBlock{BlockPublicAcls: true, IgnorePublicAcls: true, BlockPublicPolicy: true, RestrictPublicBuckets: true}, ""},
		{"one, no namespace", `<PublicAccessBlockConfiguration><RestrictPublicBuckets>true</RestrictPublicBuckets></PublicAccessBlockConfiguration>`,
			objstore.PublicAccessBlock{RestrictPublicBuckets: true}, ""},
		{"false and spaces", "<PublicAccessBlockConfiguration>\n <BlockPublicPolicy> false </BlockPublicPolicy>\n <IgnorePublicAcls>true</IgnorePublicAcls>\n</PublicAccessBlockConfiguration>",
			objstore.PublicAccessBlock{IgnorePublicAcls: true}, ""},
		{"none", `<PublicAccessBlockConfiguration/>`, objstore.PublicAccessBlock{}, ""},
		{"not xml", `{"BlockPublicAcls":true}`, objstore.PublicAccessBlock{}, "MalformedXML"},
		{"other root", `<CORSConfiguration><BlockPublicAcls>true</BlockPublicAcls></CORSConfiguration>`, objstore.PublicAccessBlock{}, "MalformedXML"},
		{"not a boolean", `<PublicAccessBlockConfiguration><BlockPublicAcls>yes</BlockPublicAcls></PublicAccessBlockConfiguration>`, objstore.PublicAccessBlock{}, "MalformedXML"},
		{"empty value", `<PublicAccessBlockConfiguration><BlockPublicAcls></BlockPublicAcls></PublicAccessBlockConfiguration>`, objstore.PublicAccessBlock{}, "MalformedXML"},
		{"twice", `<PublicAccessBlockConfiguration><BlockPublicPolicy>true</BlockPublicPolicy><BlockPublicPolicy>false</BlockPublicPolicy></PublicAccessBlockConfiguration>`, objstore.PublicAccessBlock{}, "MalformedXML"},
		{"unknown element", `<PublicAccessBlockConfiguration><BlockPublicAcls>true</BlockPublicAcls><BlockEverything>true</BlockEverything></PublicAccessBlockConfiguration>`, objstore.PublicAccessBlock{}, "MalformedXML"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := parsePublicAccessBlock([]byte(tt.doc))
			if tt.code == "" {
				if err != nil || cfg == nil || *cfg != tt.want {
					t.Fatalf("got %+v, %v; want %+v", cfg, err, tt.want)
				}
				return
			}
			var e *Error
			if !errors.As(err, &e) || e.Code != tt.code {
				t.Fatalf("got %+v, %v; want %s", cfg, err, tt.code)
			}
		})
	}
}

// policyAuthorizer decides as the server does for one account: a signed
// request is the account's and may do anything; an anonymous one only
// what the bucket's policy allows everyone.
func policyAuthorizer(d *Deps) {
	d.Authorize = func(r *http.Request, id *sigv4.Identity, action, resource string, keys map[string][]string, bp *policy.Policy) *awsproto.Error {
		if id != nil || (bp != nil && bp.DecideFor(&policy.Caller{}, action, resource, nil) == policy.Allow) {
			return nil
		}
		return &awsproto.Error{Status: http.StatusForbidden, Code: "AccessDenied", Message: "Access Denied"}
	}
}

func TestPublicAccessBlock(t *testing.T) {
	e := newEnv(t, policyAuthorizer)
	ctx := t.Context()
	b := aws.String("pab")
	if _, err := e.c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: b}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.c.PutObject(ctx, &s3.PutObjectInput{Bucket: b, Key: aws.String("o.txt"), Body: strings.NewReader("hello")}); err != nil {
		t.Fatal(err)
	}
	anon := func() int {
		t.Helper()
		resp, err := http.Get(e.srv.URL + "/pab/o.txt")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	put := func(cfg types.PublicAccessBlockConfiguration) {
		t.Helper()
		if _, err := e.c.PutPublicAccessBlock(ctx, &s3.PutPublicAccessBlockInput{Bucket: b, PublicAccessBlockConfiguration: &cfg}); err != nil {
			t.Fatalf("PutPublicAccessBlock: %v", err)
		}
	}

	_, err := e.c.GetPublicAccessBlock(ctx, &s3.GetPublicAccessBlockInput{Bucket: b})
	wantCode(t, err, "NoSuchPublicAccessBlockConfiguration")
	_, err = e.c.GetPublicAccessBlock(ctx, &s3.GetPublicAccessBlockInput{Bucket: aws.String("nope")})
	wantCode(t, err, "NoSuchBucket")
	_, err = e.c.PutPublicAccessBlock(ctx, &s3.PutPublicAccessBlockInput{Bucket: aws.String("nope"),
		PublicAccessBlockConfiguration: &types.PublicAccessBlockConfiguration{BlockPublicPolicy: aws.Bool(true)}})
	wantCode(t, err, "NoSuchBucket")
	_, err = e.c.GetBucketPolicyStatus(ctx, &s3.GetBucketPolicyStatusInput{Bucket: b})
	wantCode(t, err, "NoSuchBucketPolicy")

	// A malformed document, and one without a digest, are refused.
	resp := e.raw(t, "PUT", "", "/pab?publicAccessBlock", []byte(`<PublicAccessBlockConfiguration><BlockPublicAcls>maybe</BlockPublicAcls></PublicAccessBlockConfiguration>`),
		map[string]string{"Content-MD5": "AAAAAAAAAAAAAAAAAAAAAA=="})
	if resp.StatusCode != 400 {
		t.Fatalf("a malformed configuration: %d", resp.StatusCode)
	}
	if resp := e.raw(t, "PUT", "", "/pab?publicAccessBlock", []byte(`<PublicAccessBlockConfiguration/>`), nil); resp.StatusCode != 400 {
		t.Fatalf("a configuration without Content-MD5: %d", resp.StatusCode)
	}

	// Round trip.
	put(types.PublicAccessBlockConfiguration{BlockPublicAcls: aws.Bool(true), IgnorePublicAcls: aws.Bool(false), RestrictPublicBuckets: aws.Bool(true)})
	got, err := e.c.GetPublicAccessBlock(ctx, &s3.GetPublicAccessBlockInput{Bucket: b})
	if err != nil {
		t.Fatal(err)
	}
	c := got.PublicAccessBlockConfiguration
	if !aws.ToBool(c.BlockPublicAcls) || aws.ToBool(c.IgnorePublicAcls) || aws.ToBool(c.BlockPublicPolicy) || !aws.ToBool(c.RestrictPublicBuckets) {
		t.Fatalf("GetPublicAccessBlock: %+v", c)
	}

	// BlockPublicPolicy refuses a public policy, not a restricted one.
	put(types.PublicAccessBlockConfiguration{BlockPublicPolicy: aws.Bool(true)})
	public := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::pab/*"}]}`
	restricted := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::pab/*","Condition":{"StringEquals":{"aws:SourceAccount":"000000000000"}}}]}`
	_, err = e.c.PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: b, Policy: aws.String(public)})
	wantCode(t, err, "AccessDenied")
	if _, err := e.c.GetBucketPolicy(ctx, &s3.GetBucketPolicyInput{Bucket: b}); err == nil {
		t.Fatal("a refused policy was stored")
	}
	if _, err := e.c.PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: b, Policy: aws.String(restricted)}); err != nil {
		t.Fatalf("a non-public policy under BlockPublicPolicy: %v", err)
	}
	st, err := e.c.GetBucketPolicyStatus(ctx, &s3.GetBucketPolicyStatusInput{Bucket: b})
	if err != nil || aws.ToBool(st.PolicyStatus.IsPublic) {
		t.Fatalf("GetBucketPolicyStatus of a restricted policy: %+v, %v", st, err)
	}

	// Without BlockPublicPolicy the public policy goes in, and an
	// anonymous read succeeds.
	if _, err := e.c.DeletePublicAccessBlock(ctx, &s3.DeletePublicAccessBlockInput{Bucket: b}); err != nil {
		t.Fatal(err)
	}
	_, err = e.c.GetPublicAccessBlock(ctx, &s3.GetPublicAccessBlockInput{Bucket: b})
	wantCode(t, err, "NoSuchPublicAccessBlockConfiguration")
	if _, err := e.c.PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: b, Policy: aws.String(public)}); err != nil {
		t.Fatal(err)
	}
	st, err = e.c.GetBucketPolicyStatus(ctx, &s3.GetBucketPolicyStatusInput{Bucket: b})
	if err != nil || !aws.ToBool(st.PolicyStatus.IsPublic) {
		t.Fatalf("GetBucketPolicyStatus of a public policy: %+v, %v", st, err)
	}
	if got := anon(); got != 200 {
		t.Fatalf("an anonymous read through a public policy: %d", got)
	}
	if p, err := e.h.bucketPolicy(httptestRequest(t), "pab"); err != nil || p == nil || p == restrictedPolicy {
		t.Fatalf("the website endpoint's policy without a block: %v, %v", p, err)
	}

	// RestrictPublicBuckets: anonymous reads stop at once; signed ones go on.
	put(types.PublicAccessBlockConfiguration{RestrictPublicBuckets: aws.Bool(true)})
	if got := anon(); got != 403 {
		t.Fatalf("an anonymous read under RestrictPublicBuckets: %d", got)
	}
	if _, err := e.c.GetObject(ctx, &s3.GetObjectInput{Bucket: b, Key: aws.String("o.txt")}); err != nil {
		t.Fatalf("a signed read under RestrictPublicBuckets: %v", err)
	}
	if p, err := e.h.bucketPolicy(httptestRequest(t), "pab"); err != nil || p != restrictedPolicy {
		t.Fatalf("the website endpoint's policy under RestrictPublicBuckets: %v, %v", p, err)
	}
	// A non-public policy is not restricted.
	if _, err := e.c.PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: b, Policy: aws.String(strings.Replace(restricted, "s3:GetObject", "s3:ListBucket", 1))}); err != nil {
		t.Fatal(err)
	}
	if a, err := e.h.access(httptestRequest(t), "pab"); err != nil || a.public || a.restricts(nil) {
		t.Fatalf("access with a non-public policy: %+v, %v", a, err)
	}
	if _, err := e.c.PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: b, Policy: aws.String(public)}); err != nil {
		t.Fatal(err)
	}
	if got := anon(); got != 403 {
		t.Fatalf("an anonymous read under RestrictPublicBuckets, policy set again: %d", got)
	}

	// Deleting the block restores anonymous access.
	if _, err := e.c.DeletePublicAccessBlock(ctx, &s3.DeletePublicAccessBlockInput{Bucket: b}); err != nil {
		t.Fatal(err)
	}
	if got := anon(); got != 200 {
		t.Fatalf("an anonymous read once the block went: %d", got)
	}
}

// TestPublicAccessCached checks that a request reads the bucket's
// policy and block from the cache, without allocating; that a change
// made through the handler replaces the cached copy at once; and that
// one made behind its back (another node sharing the store) is seen
// once the copy is older than accessFresh, without parsing again what
// did not change.
func TestPublicAccessCached(t *testing.T) {
	e := newEnv(t, policyAuthorizer)
	ctx := t.Context()
	if _, err := e.c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("cached")}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.c.PutPublicAccessBlock(ctx, &s3.PutPublicAccessBlockInput{Bucket: aws.String("cached"),
		PublicAccessBlockConfiguration: &types.PublicAccessBlockConfiguration{RestrictPublicBuckets: aws.Bool(true)}}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.c.PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: aws.String("cached"),
		Policy: aws.String(`{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::cached/*"}]}`)}); err != nil {
		t.Fatal(err)
	}
	r := httptestRequest(t)
	a, err := e.h.access(r, "cached")
	if err != nil || !a.restricts(nil) {
		t.Fatalf("access: %+v, %v", a, err)
	}
	fresh := func(a *bucketAccess) { a.checked.Store(time.Now().Add(time.Hour).UnixNano()) }
	stale := func(a *bucketAccess) { a.checked.Store(time.Now().Add(-2 * accessFresh).UnixNano()) }

	// Fresh: the copy stands, even with the file gone behind its back.
	fresh(a)
	path := filepath.Join(e.store.Root(), "buckets", "cached", "public-access-block.json")
	saved, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if again, _ := e.h.access(r, "cached"); again != a {
		t.Fatal("access read the store again within accessFresh")
	}
	if n := testing.AllocsPerRun(100, func() { e.h.access(r, "cached") }); n != 0 {
		t.Errorf("a cached access allocates %v times", n)
	}
	// Stale: the store is read again and the removal seen.
	stale(a)
	b, err := e.h.access(r, "cached")
	if err != nil || b == a || b.block.RestrictPublicBuckets || b.policy == nil {
		t.Fatalf("a stale copy after a change behind its back: %+v, %v", b, err)
	}
	// Stale and unchanged: the same copy, checked again, nothing parsed.
	stale(b)
	if c, err := e.h.access(r, "cached"); err != nil || c != b || time.Now().UnixNano()-b.checked.Load() > int64(accessFresh) {
		t.Fatalf("a stale, unchanged copy: %p (was %p), %v", c, b, err)
	}
	// A change through the handler is seen at once, fresh copy or not.
	fresh(b)
	if err := os.WriteFile(path, saved, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := e.c.DeleteBucketPolicy(ctx, &s3.DeleteBucketPolicyInput{Bucket: aws.String("cached")}); err != nil {
		t.Fatal(err)
	}
	if c, _ := e.h.access(r, "cached"); c.policy != nil || !c.block.RestrictPublicBuckets {
		t.Fatalf("after DeleteBucketPolicy: %+v", c)
	}
}

// racingStore is a store whose PublicAccessBlock runs during once, after
// reading: a change made while a request loads the bucket's access.
type racingStore struct {
	objstore.Store
	during func()
}

func (s *racingStore) PublicAccessBlock(ctx context.Context, bucket string) (*objstore.PublicAccessBlock, error) {
	cfg, err := s.Store.PublicAccessBlock(ctx, bucket)
	if f := s.during; f != nil {
		s.during = nil
		f()
	}
	return cfg, err
}

// TestPublicAccessLoadRacingAChange checks that a load which read the
// configuration before a change does not cache it after the change.
func TestPublicAccessLoadRacingAChange(t *testing.T) {
	rs := &racingStore{}
	e := newEnv(t, policyAuthorizer, func(d *Deps) { rs.Store = d.Store; d.Store = rs })
	ctx := t.Context()
	if _, err := e.c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("race")}); err != nil {
		t.Fatal(err)
	}
	rs.during = func() {
		if err := e.store.PutPublicAccessBlock(ctx, "race", &objstore.PublicAccessBlock{RestrictPublicBuckets: true}); err != nil {
			t.Error(err)
		}
		e.h.forgetAccess("race")
	}
	r := httptestRequest(t)
	if a, err := e.h.access(r, "race"); err != nil || a.block.RestrictPublicBuckets {
		t.Fatalf("the racing load: %+v, %v; want what it read before the change", a, err)
	}
	if a, err := e.h.access(r, "race"); err != nil || !a.block.RestrictPublicBuckets {
		t.Fatalf("the load after the change: %+v, %v; want the change", a, err)
	}
}

func httptestRequest(t *testing.T) *http.Request {
	r, err := http.NewRequestWithContext(t.Context(), "GET", "/", nil)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// BenchmarkPublicAccessCached measures what a request pays for its
// bucket's policy and public access block once they are cached.
func BenchmarkPublicAccessCached(b *testing.B) {
	store, err := objstore.Open(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	ctx := b.Context()
	if err := store.CreateBucket(ctx, "bench", ""); err != nil {
		b.Fatal(err)
	}
	if err := store.PutPolicy(ctx, "bench", []byte(`{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::bench/*"}]}`)); err != nil {
		b.Fatal(err)
	}
	if err := store.PutPublicAccessBlock(ctx, "bench", &objstore.PublicAccessBlock{RestrictPublicBuckets: true}); err != nil {
		b.Fatal(err)
	}
	h := New(Deps{Store: store})
	r, _ := http.NewRequestWithContext(ctx, "GET", "/", nil)
	b.ReportAllocs()
	for b.Loop() {
		if a, err := h.access(r, "bench"); err != nil || !a.restricts(nil) {
			b.Fatal(a, err)
		}
	}
}
