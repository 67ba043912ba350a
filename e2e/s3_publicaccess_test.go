package e2e

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/aloft-dev/aloft/internal/alofttest"
)

// TestS3PublicAccessBlock sets a bucket's public access block with S3's
// own API and checks what each setting does on a real server: the
// configuration's round trip; BlockPublicPolicy refusing a public bucket
// policy and taking a restricted one; GetBucketPolicyStatus telling them
// apart; RestrictPublicBuckets turning away anonymous reads a public
// policy allows, on the API and on the bucket's website endpoint, while
// the account's own principals keep reading; public
// ACLs refused whatever the settings; and deleting the block giving
// anonymous readers their access back.
func TestS3PublicAccessBlock(t *testing.T) {
	srv := alofttest.Start(t)
	ctx := ctxT(t)
	root := clientsFor(srv, srv.Config().Credentials)
	b := aws.String("shared")
	if _, err := root.s3.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: b}); err != nil {
		t.Fatal(err)
	}
	if _, err := root.s3.PutObject(ctx, &s3.PutObjectInput{Bucket: b, Key: aws.String("index.html"), Body: strings.NewReader("<h1>hi</h1>")}); err != nil {
		t.Fatal(err)
	}
	anon := func() int {
		t.Helper()
		resp, err := http.Get(srv.URL + "/shared/index.html")
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	putBlock := func(c types.PublicAccessBlockConfiguration) {
		t.Helper()
		if _, err := root.s3.PutPublicAccessBlock(ctx, &s3.PutPublicAccessBlockInput{Bucket: b, PublicAccessBlockConfiguration: &c}); err != nil {
			t.Fatalf("PutPublicAccessBlock: %v", err)
		}
	}
	status := func() bool {
		t.Helper()
		st, err := root.s3.GetBucketPolicyStatus(ctx, &s3.GetBucketPolicyStatusInput{Bucket: b})
		if err != nil {
			t.Fatalf("GetBucketPolicyStatus: %v", err)
		}
		return aws.ToBool(st.PolicyStatus.IsPublic)
	}
	putPolicy := func(doc string) error {
		_, err := root.s3.PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: b, Policy: aws.String(doc)})
		return err
	}
	const (
		public     = `{"Version":"2012-10-17","Statement":[{"Sid":"PublicRead","Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::shared/*"}]}`
		bySource   = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::shared/*","Condition":{"StringEquals":{"aws:SourceAccount":"000000000000"}}}]}`
		toAccount  = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::000000000000:root"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::shared/*"}]}`
		fromAnyIP  = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::shared/*","Condition":{"IpAddress":{"aws:SourceIp":"0.0.0.0/0"}}}]}`
		fromALocal = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::shared/*","Condition":{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}}]}`
	)

	// No configuration yet; no policy to judge.
	_, err := root.s3.GetPublicAccessBlock(ctx, &s3.GetPublicAccessBlockInput{Bucket: b})
	apiErr(t, err, "NoSuchPublicAccessBlockConfiguration", 404)
	_, err = root.s3.GetBucketPolicyStatus(ctx, &s3.GetBucketPolicyStatusInput{Bucket: b})
	apiErr(t, err, "NoSuchBucketPolicy", 404)
	_, err = root.s3.PutPublicAccessBlock(ctx, &s3.PutPublicAccessBlockInput{Bucket: aws.String("missing"),
		PublicAccessBlockConfiguration: &types.PublicAccessBlockConfiguration{BlockPublicPolicy: aws.Bool(true)}})
	apiErr(t, err, "NoSuchBucket", 404)

	// Round trip of every setting.
	putBlock(types.PublicAccessBlockConfiguration{BlockPublicAcls: aws.Bool(true), IgnorePublicAcls: aws.Bool(true),
		BlockPublicPolicy: aws.Bool(true), RestrictPublicBuckets: aws.Bool(false)})
	got, err := root.s3.GetPublicAccessBlock(ctx, &s3.GetPublicAccessBlockInput{Bucket: b})
	if err != nil {
		t.Fatal(err)
	}
	if c := got.PublicAccessBlockConfiguration; !aws.ToBool(c.BlockPublicAcls) || !aws.ToBool(c.IgnorePublicAcls) ||
		!aws.ToBool(c.BlockPublicPolicy) || aws.ToBool(c.RestrictPublicBuckets) {
		t.Fatalf("GetPublicAccessBlock: %+v", c)
	}

	// BlockPublicPolicy: public policies are refused, restricted ones taken.
	for _, doc := range []string{public, fromAnyIP} {
		apiErr(t, putPolicy(doc), "AccessDenied", 403)
	}
	_, err = root.s3.GetBucketPolicy(ctx, &s3.GetBucketPolicyInput{Bucket: b})
	apiErr(t, err, "NoSuchBucketPolicy", 404)
	for _, doc := range []string{bySource, toAccount, fromALocal} {
		if err := putPolicy(doc); err != nil {
			t.Fatalf("a non-public policy under BlockPublicPolicy: %v\n%s", err, doc)
		}
		if status() {
			t.Fatalf("GetBucketPolicyStatus says public: %s", doc)
		}
	}
	if got := anon(); got != 403 {
		t.Fatalf("an anonymous read under a policy for the account alone: %d", got)
	}

	// ACLs stay disabled, whatever the settings: a public ACL is refused.
	_, err = root.s3.PutObject(ctx, &s3.PutObjectInput{Bucket: b, Key: aws.String("acl.txt"), Body: strings.NewReader("x"), ACL: types.ObjectCannedACLPublicRead})
	apiErr(t, err, "AccessControlListNotSupported", 400)
	_, err = root.s3.PutBucketAcl(ctx, &s3.PutBucketAclInput{Bucket: b, ACL: types.BucketCannedACLPublicRead})
	apiErr(t, err, "AccessControlListNotSupported", 400)

	// Without the block, the public policy goes in and anyone may read.
	if _, err := root.s3.DeletePublicAccessBlock(ctx, &s3.DeletePublicAccessBlockInput{Bucket: b}); err != nil {
		t.Fatal(err)
	}
	_, err = root.s3.GetPublicAccessBlock(ctx, &s3.GetPublicAccessBlockInput{Bucket: b})
	apiErr(t, err, "NoSuchPublicAccessBlockConfiguration", 404)
	if err := putPolicy(public); err != nil {
		t.Fatal(err)
	}
	if !status() {
		t.Fatal("GetBucketPolicyStatus of a policy naming everyone: not public")
	}
	if got := anon(); got != 200 {
		t.Fatalf("an anonymous read through a public policy: %d", got)
	}
	// The bucket's website endpoint serves what the policy lets anyone read.
	if _, err := root.s3.PutBucketWebsite(ctx, &s3.PutBucketWebsiteInput{Bucket: b, WebsiteConfiguration: &types.WebsiteConfiguration{
		IndexDocument: &types.IndexDocument{Suffix: aws.String("index.html")}}}); err != nil {
		t.Fatal(err)
	}
	site := &s3Env{srv: srv, c: root.s3}
	host := "shared.s3-website.localhost" + srv.URL[strings.LastIndexByte(srv.URL, ':'):]
	if a := site.visit(t, "GET", host, "/", nil); a.status != 200 || a.body != "<h1>hi</h1>" {
		t.Fatalf("the website of a public bucket: %d %q", a.status, a.body)
	}

	// A user of the account without policies of its own reads through the
	// same policy.
	if _, err := root.iam.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("reader")}); err != nil {
		t.Fatal(err)
	}
	key, err := root.iam.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("reader")})
	if err != nil {
		t.Fatal(err)
	}
	reader := clientsFor(srv, credentials.NewStaticCredentialsProvider(aws.ToString(key.AccessKey.AccessKeyId), aws.ToString(key.AccessKey.SecretAccessKey), ""))
	read := func(c clients) error {
		out, err := c.s3.GetObject(ctx, &s3.GetObjectInput{Bucket: b, Key: aws.String("index.html")})
		if err == nil {
			io.Copy(io.Discard, out.Body)
			out.Body.Close()
		}
		return err
	}
	waitFor(t, "the reader's read through the public policy", func() error { return read(reader) })

	// RestrictPublicBuckets: anonymous requests are refused at once, even
	// though the policy still allows them; the account's principals still
	// read through it.
	putBlock(types.PublicAccessBlockConfiguration{RestrictPublicBuckets: aws.Bool(true)})
	if got := anon(); got != 403 {
		t.Fatalf("an anonymous read under RestrictPublicBuckets: %d", got)
	}
	wantPage(t, "the website under RestrictPublicBuckets", site.visit(t, "GET", host, "/", nil), 403, "AccessDenied")
	resp, err := http.Get(srv.URL + "/shared?list-type=2")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 403 {
		t.Fatalf("an anonymous listing under RestrictPublicBuckets: %d", resp.StatusCode)
	}
	if err := read(root); err != nil {
		t.Fatalf("the account's read under RestrictPublicBuckets: %v", err)
	}
	if err := read(reader); err != nil {
		t.Fatalf("the account's user's read under RestrictPublicBuckets: %v", err)
	}
	if !status() {
		t.Fatal("GetBucketPolicyStatus under RestrictPublicBuckets: the policy is still public")
	}
	if _, err := root.s3.GetBucketPolicy(ctx, &s3.GetBucketPolicyInput{Bucket: b}); err != nil {
		t.Fatalf("the restricted policy is still kept: %v", err)
	}
	// A non-public policy is not restricted: nothing anonymous to refuse,
	// and a public one set again is restricted again.
	if err := putPolicy(toAccount); err != nil {
		t.Fatal(err)
	}
	if err := read(root); err != nil {
		t.Fatal(err)
	}
	if err := putPolicy(public); err != nil {
		t.Fatal(err)
	}
	if got := anon(); got != 403 {
		t.Fatalf("an anonymous read under RestrictPublicBuckets, the public policy set again: %d", got)
	}

	// Deleting the block restores anonymous access.
	if _, err := root.s3.DeletePublicAccessBlock(ctx, &s3.DeletePublicAccessBlockInput{Bucket: b}); err != nil {
		t.Fatal(err)
	}
	if got := anon(); got != 200 {
		t.Fatalf("an anonymous read once the block went: %d", got)
	}
	if a := site.visit(t, "GET", host, "/", nil); a.status != 200 {
		t.Fatalf("the website once the block went: %d %q", a.status, a.body)
	}
}

// TestS3PublicAccessBlockRefusals checks that malformed configurations
// are refused with S3's errors and change nothing.
func TestS3PublicAccessBlockRefusals(t *testing.T) {
	e := newS3Env(t)
	e.bucket(t, "strict")
	ctx := ctxT(t)
	if _, err := e.c.PutPublicAccessBlock(ctx, &s3.PutPublicAccessBlockInput{Bucket: aws.String("strict"),
		PublicAccessBlockConfiguration: &types.PublicAccessBlockConfiguration{BlockPublicPolicy: aws.Bool(true)}}); err != nil {
		t.Fatal(err)
	}
	for _, doc := range []string{
		`not xml`,
		`<PublicAccessBlockConfiguration><BlockPublicPolicy>sure</BlockPublicPolicy></PublicAccessBlockConfiguration>`,
		`<PublicAccessBlockConfiguration><BlockPublicPolicy>false</BlockPublicPolicy><BlockPublicPolicy>false</BlockPublicPolicy></PublicAccessBlockConfiguration>`,
		`<PublicAccessBlockConfiguration><BlockAll>true</BlockAll></PublicAccessBlockConfiguration>`,
	} {
		status, _, body := e.raw(t, "PUT", "/strict?publicAccessBlock", []byte(doc), map[string]string{"Content-Md5": corsMD5([]byte(doc))})
		if status != 400 || !strings.Contains(body, "<Code>MalformedXML</Code>") {
			t.Errorf("%s: %d %s", doc, status, body)
		}
	}
	doc := []byte(`<PublicAccessBlockConfiguration/>`)
	if status, _, body := e.raw(t, "PUT", "/strict?publicAccessBlock", doc, nil); status != 400 || !strings.Contains(body, "<Code>InvalidRequest</Code>") {
		t.Errorf("without Content-MD5: %d %s", status, body)
	}
	got, err := e.c.GetPublicAccessBlock(ctx, &s3.GetPublicAccessBlockInput{Bucket: aws.String("strict")})
	if err != nil || !aws.ToBool(got.PublicAccessBlockConfiguration.BlockPublicPolicy) {
		t.Fatalf("the configuration after refusals: %+v, %v", got, err)
	}
}
