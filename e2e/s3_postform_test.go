package e2e

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"html"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
	"github.com/chromedp/chromedp"

	"github.com/aloft-dev/aloft/internal/alofttest"
)

// postField is one field of a browser upload form, in order.
type postField struct{ name, value string }

// postAnswer is the server's answer to a form upload.
type postAnswer struct {
	status int
	hdr    http.Header
	body   string
}

// postForm sends a multipart/form-data POST to path (with host as the
// Host header unless empty) as a browser does: unsigned, the fields in
// order and then the file, unless content is nil.
func postForm(t *testing.T, srv *alofttest.Server, path, host string, fields []postField, filename string, content []byte, hdr map[string]string) postAnswer {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for _, f := range fields {
		if err := mw.WriteField(f.name, f.value); err != nil {
			t.Fatal(err)
		}
	}
	if content != nil {
		fw, err := mw.CreateFormFile("file", filename)
		if err != nil {
			t.Fatal(err)
		}
		fw.Write(content)
	}
	mw.Close()
	req, err := http.NewRequest("POST", srv.URL+path, &buf)
	if err != nil {
		t.Fatal(err)
	}
	if host != "" {
		req.Host = host
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return postAnswer{resp.StatusCode, resp.Header, string(b)}
}

// postSigningKey derives the SigV4 signing key of a secret for a day in
// us-east-1's s3.
func postSigningKey(secret, day string) []byte {
	key := []byte("AWS4" + secret)
	for _, p := range []string{day, "us-east-1", "s3", "aws4_request"} {
		m := hmac.New(sha256.New, key)
		m.Write([]byte(p))
		key = m.Sum(nil)
	}
	return key
}

// signedForm returns fields followed by the SigV4 fields of a policy with
// conds (plus the conditions on the signature fields themselves) that
// expires at exp, signed by the key pair.
func signedForm(keyID, secret, bucket string, exp time.Time, conds []any, fields ...postField) []postField {
	now := time.Now().UTC()
	day := now.Format("20060102")
	cred := keyID + "/" + day + "/us-east-1/s3/aws4_request"
	amzDate := now.Format("20060102T150405Z")
	all := append([]any{map[string]string{"bucket": bucket}, map[string]string{"x-amz-algorithm": "AWS4-HMAC-SHA256"},
		map[string]string{"x-amz-credential": cred}, map[string]string{"x-amz-date": amzDate}}, conds...)
	doc, _ := json.Marshal(map[string]any{"expiration": exp.UTC().Format("2006-01-02T15:04:05.000Z"), "conditions": all})
	policy := base64.StdEncoding.EncodeToString(doc)
	m := hmac.New(sha256.New, postSigningKey(secret, day))
	m.Write([]byte(policy))
	return append(fields, postField{"X-Amz-Algorithm", "AWS4-HMAC-SHA256"}, postField{"X-Amz-Credential", cred},
		postField{"X-Amz-Date", amzDate}, postField{"Policy", policy}, postField{"X-Amz-Signature", hex.EncodeToString(m.Sum(nil))})
}

// rootForm is signedForm by the server's root keys.
func rootForm(bucket string, exp time.Time, conds []any, fields ...postField) []postField {
	return signedForm(alofttest.AccessKeyID, alofttest.SecretAccessKey, bucket, exp, conds, fields...)
}

// wantPostError checks a refused upload: status, code and the start of
// the message.
func wantPostError(t *testing.T, what string, a postAnswer, status int, code, msgPrefix string) {
	t.Helper()
	var e struct{ Code, Message string }
	if a.status != status || xml.Unmarshal([]byte(a.body), &e) != nil || e.Code != code || !strings.HasPrefix(e.Message, msgPrefix) {
		t.Errorf("%s: got %d %s, want %d %s %q", what, a.status, a.body, status, code, msgPrefix)
	}
}

// wantAbsent checks that a refused upload stored nothing.
func wantAbsent(t *testing.T, c *s3.Client, bucket, key string) {
	t.Helper()
	_, err := c.HeadObject(ctxT(t), &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "NotFound" {
		t.Errorf("%s/%s after a refused upload: %v", bucket, key, err)
	}
}

func TestS3PostForm(t *testing.T) {
	e := newS3Env(t)
	ctx := ctxT(t)
	e.bucket(t, "forms")
	hour := time.Now().Add(time.Hour)
	base := []any{[]any{"starts-with", "$key", "uploads/"}, []any{"content-length-range", 1, 64}}

	t.Run("default 204", func(t *testing.T) {
		tagging := `<Tagging><TagSet><Tag><Key>team</Key><Value>web</Value></Tag></TagSet></Tagging>`
		conds := append(base, []any{"starts-with", "$Content-Type", "text/"}, map[string]string{"x-amz-meta-owner": "ana"},
			map[string]string{"tagging": tagging}, []any{"eq", "$Cache-Control", "max-age=60"}, []any{"starts-with", "$submit", ""})
		fields := rootForm("forms", hour, conds, postField{"key", "uploads/${filename}"}, postField{"Content-Type", "text/plain"},
			postField{"x-amz-meta-owner", "ana"}, postField{"tagging", tagging}, postField{"Cache-Control", "max-age=60"},
			postField{"submit", "Upload"}, postField{"x-ignore-note", "not in the policy"})
		a := postForm(t, e.srv, "/forms", "", fields, "notes.txt", []byte("hello, form"), nil)
		if a.status != http.StatusNoContent || a.body != "" {
			t.Fatalf("post: %d %s", a.status, a.body)
		}
		b, out := e.get(t, "forms", "uploads/notes.txt")
		if string(b) != "hello, form" || aws.ToString(out.ContentType) != "text/plain" || out.Metadata["owner"] != "ana" ||
			aws.ToString(out.CacheControl) != "max-age=60" || aws.ToString(out.ETag) != a.hdr.Get("ETag") {
			t.Fatalf("stored %q %+v (answer's ETag %s)", b, out, a.hdr.Get("ETag"))
		}
		tags, err := e.c.GetObjectTagging(ctx, &s3.GetObjectTaggingInput{Bucket: aws.String("forms"), Key: aws.String("uploads/notes.txt")})
		if err != nil || len(tags.TagSet) != 1 || aws.ToString(tags.TagSet[0].Key) != "team" || aws.ToString(tags.TagSet[0].Value) != "web" {
			t.Fatalf("tags: %+v %v", tags, err)
		}
	})

	t.Run("201 document", func(t *testing.T) {
		conds := append(base, map[string]string{"success_action_status": "201"})
		a := postForm(t, e.srv, "/forms", "", rootForm("forms", hour, conds, postField{"key", "uploads/a b.bin"}, postField{"success_action_status", "201"}), "x", []byte("201"), nil)
		var doc struct {
			XMLName                     xml.Name `xml:"PostResponse"`
			Location, Bucket, Key, ETag string
		}
		if a.status != http.StatusCreated || xml.Unmarshal([]byte(a.body), &doc) != nil || doc.Bucket != "forms" || doc.Key != "uploads/a b.bin" ||
			doc.ETag != a.hdr.Get("ETag") || !strings.HasSuffix(doc.Location, "/forms/uploads/a%20b.bin") {
			t.Fatalf("post: %d %s", a.status, a.body)
		}
		b, _ := e.get(t, "forms", "uploads/a b.bin")
		if string(b) != "201" {
			t.Fatalf("stored %q", b)
		}
	})

	t.Run("redirect 303", func(t *testing.T) {
		conds := append(base, []any{"starts-with", "$success_action_redirect", "https://app.example.com/"})
		a := postForm(t, e.srv, "/forms", "", rootForm("forms", hour, conds, postField{"key", "uploads/r.txt"},
			postField{"success_action_redirect", "https://app.example.com/done?from=form"}), "r.txt", []byte("redirected"), nil)
		u, err := url.Parse(a.hdr.Get("Location"))
		if a.status != http.StatusSeeOther || err != nil || u.Host != "app.example.com" || u.Path != "/done" {
			t.Fatalf("post: %d %v %s", a.status, a.hdr, a.body)
		}
		q := u.Query()
		if q.Get("from") != "form" || q.Get("bucket") != "forms" || q.Get("key") != "uploads/r.txt" || q.Get("etag") == "" {
			t.Fatalf("redirect query: %v", q)
		}
		if b, _ := e.get(t, "forms", "uploads/r.txt"); string(b) != "redirected" {
			t.Fatalf("stored %q", b)
		}
	})

	t.Run("virtual host", func(t *testing.T) {
		a := postForm(t, e.srv, "/", "forms.localhost", rootForm("forms", hour, base, postField{"key", "uploads/vh.txt"}), "vh.txt", []byte("vhost"), nil)
		if a.status != http.StatusNoContent {
			t.Fatalf("post: %d %s", a.status, a.body)
		}
		if b, _ := e.get(t, "forms", "uploads/vh.txt"); string(b) != "vhost" {
			t.Fatalf("stored %q", b)
		}
	})

	t.Run("SigV2", func(t *testing.T) {
		doc, _ := json.Marshal(map[string]any{"expiration": hour.UTC().Format(time.RFC3339), "conditions": append(base, map[string]string{"bucket": "forms"})})
		fields := v2Form(string(doc), postField{"key", "uploads/v2.txt"})
		if a := postForm(t, e.srv, "/forms", "", fields, "v2.txt", []byte("version 2"), nil); a.status != http.StatusNoContent {
			t.Fatalf("post: %d %s", a.status, a.body)
		}
		if b, _ := e.get(t, "forms", "uploads/v2.txt"); string(b) != "version 2" {
			t.Fatalf("stored %q", b)
		}
		fields[3].value = base64.StdEncoding.EncodeToString(make([]byte, 20))
		wantPostError(t, "v2 bad signature", postForm(t, e.srv, "/forms", "", fields, "f", []byte("x"), nil), 403, "SignatureDoesNotMatch", "")
	})

	t.Run("refusals store nothing", func(t *testing.T) {
		tampered := rootForm("forms", hour, base, postField{"key", "uploads/tampered-sig"})
		tampered[len(tampered)-1].value = strings.Repeat("0", 64)
		// A policy changed after it was signed: its conditions widened.
		widened := rootForm("forms", hour, base, postField{"key", "uploads/tampered-policy"})
		for i, f := range widened {
			if f.name == "Policy" {
				raw, _ := base64.StdEncoding.DecodeString(f.value)
				widened[i].value = base64.StdEncoding.EncodeToString(bytes.Replace(raw, []byte(`64]`), []byte(`99999]`), 1))
			}
		}
		other := signedForm(alofttest.AccessKeyID, "not-the-secret", "forms", hour, base, postField{"key", "uploads/other-signer"})
		cases := []struct {
			what    string
			key     string
			fields  []postField
			content []byte
			status  int
			code    string
			msg     string
		}{
			{"outside the prefix", "elsewhere/x", rootForm("forms", hour, base, postField{"key", "elsewhere/x"}), []byte("x"), 403, "AccessDenied",
				`Invalid according to Policy: Policy Condition failed: ["starts-with", "$key", "uploads/"]`},
			{"too large", "uploads/big", rootForm("forms", hour, base, postField{"key", "uploads/big"}), bytes.Repeat([]byte("b"), 65), 400, "EntityTooLarge", ""},
			{"too small", "uploads/empty", rootForm("forms", hour, base, postField{"key", "uploads/empty"}), []byte{}, 400, "EntityTooSmall", ""},
			{"expired", "uploads/late", rootForm("forms", time.Now().Add(-time.Second), base, postField{"key", "uploads/late"}), []byte("x"), 403, "AccessDenied",
				"Invalid according to Policy: Policy expired."},
			{"tampered signature", "uploads/tampered-sig", tampered, []byte("x"), 403, "SignatureDoesNotMatch", ""},
			{"tampered policy", "uploads/tampered-policy", widened, []byte("x"), 403, "SignatureDoesNotMatch", ""},
			{"wrong secret", "uploads/other-signer", other, []byte("x"), 403, "SignatureDoesNotMatch", ""},
			{"extra field", "uploads/extra", rootForm("forms", hour, base, postField{"key", "uploads/extra"}, postField{"x-amz-meta-sneaky", "1"}), []byte("x"), 403, "AccessDenied",
				"Invalid according to Policy: Extra input fields: x-amz-meta-sneaky"},
			{"no key", "uploads/", rootForm("forms", hour, base), []byte("x"), 400, "InvalidArgument", "Bucket POST must contain a field named 'key'."},
			{"key after the file", "uploads/late-key", nil, []byte("x"), 400, "InvalidArgument", "Bucket POST must contain a field named 'key'."},
			{"no file", "uploads/nofile", rootForm("forms", hour, base, postField{"key", "uploads/nofile"}), nil, 400, "InvalidArgument", "POST requires exactly one file upload per request."},
			{"policy without expiration", "uploads/badpolicy", v2Form(`{"conditions":[]}`, postField{"key", "uploads/badpolicy"}), []byte("x"), 400, "InvalidPolicyDocument",
				"Invalid Policy: Policy missing expiration."},
			{"policy not JSON", "uploads/badjson", v2Form(`{"expiration":`, postField{"key", "uploads/badjson"}), []byte("x"), 400, "InvalidPolicyDocument", "Invalid Policy: Invalid JSON."},
			{"public ACL", "uploads/public", rootForm("forms", hour, append(base, map[string]string{"acl": "public-read"}), postField{"key", "uploads/public"}, postField{"acl", "public-read"}),
				[]byte("x"), 400, "AccessControlListNotSupported", ""},
			{"anonymous without a bucket policy", "uploads/anon", []postField{{"key", "uploads/anon"}}, []byte("x"), 403, "AccessDenied", "Access Denied"},
		}
		for _, c := range cases {
			a := postForm(t, e.srv, "/forms", "", c.fields, "f", c.content, nil)
			if c.what == "key after the file" {
				// Fields after the file are not read: its key is not seen.
				a = postFormKeyAfterFile(t, e.srv, c.key)
			}
			wantPostError(t, c.what, a, c.status, c.code, c.msg)
			wantAbsent(t, e.c, "forms", c.key)
		}
		a := postForm(t, e.srv, "/forms", "", nil, "", nil, map[string]string{"Content-Type": "application/x-www-form-urlencoded"})
		wantPostError(t, "not multipart", a, 412, "PreconditionFailed", "Bucket POST must be of the enclosure-type multipart/form-data")
		a = postForm(t, e.srv, "/nosuchbucket", "", []postField{{"key", "k"}}, "f", []byte("x"), nil)
		wantPostError(t, "no such bucket", a, 404, "NoSuchBucket", "")
	})

	t.Run("anonymous under a bucket policy", func(t *testing.T) {
		e.bucket(t, "dropbox")
		fields := []postField{{"key", "in/${filename}"}, {"Content-Type", "image/png"}}
		wantPostError(t, "before the policy", postForm(t, e.srv, "/dropbox", "", fields, "a.png", []byte("png"), nil), 403, "AccessDenied", "")
		wantAbsent(t, e.c, "dropbox", "in/a.png")
		pol := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:PutObject","Resource":"arn:aws:s3:::dropbox/in/*"}]}`
		if _, err := e.c.PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: aws.String("dropbox"), Policy: aws.String(pol)}); err != nil {
			t.Fatal(err)
		}
		if a := postForm(t, e.srv, "/dropbox", "", fields, "a.png", []byte("png"), nil); a.status != http.StatusNoContent {
			t.Fatalf("post: %d %s", a.status, a.body)
		}
		b, out := e.get(t, "dropbox", "in/a.png")
		if string(b) != "png" || aws.ToString(out.ContentType) != "image/png" {
			t.Fatalf("stored %q %+v", b, out)
		}
		// The policy allows in/ only.
		wantPostError(t, "outside the policy", postForm(t, e.srv, "/dropbox", "", []postField{{"key", "out/a"}}, "a", []byte("x"), nil), 403, "AccessDenied", "")
		wantAbsent(t, e.c, "dropbox", "out/a")
	})

	t.Run("IAM user", func(t *testing.T) {
		ic := clientsFor(e.srv, e.srv.Config().Credentials).iam
		if _, err := ic.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("uploader")}); err != nil {
			t.Fatal(err)
		}
		key, err := ic.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("uploader")})
		if err != nil {
			t.Fatal(err)
		}
		kid, secret := aws.ToString(key.AccessKey.AccessKeyId), aws.ToString(key.AccessKey.SecretAccessKey)
		form := func(k string) []postField { return signedForm(kid, secret, "forms", hour, base, postField{"key", k}) }
		if _, err := ic.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String("uploader"), PolicyName: aws.String("read"),
			PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}}`)}); err != nil {
			t.Fatal(err)
		}
		var a postAnswer
		waitFor(t, "the user's key", func() error {
			a = postForm(t, e.srv, "/forms", "", form("uploads/user.txt"), "f", []byte("x"), nil)
			if strings.Contains(a.body, "InvalidAccessKeyId") {
				return errors.New(a.body)
			}
			return nil
		})
		wantPostError(t, "without s3:PutObject", a, 403, "AccessDenied", "")
		wantAbsent(t, e.c, "forms", "uploads/user.txt")
		if _, err := ic.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String("uploader"), PolicyName: aws.String("write"),
			PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:PutObject","Resource":"arn:aws:s3:::forms/uploads/*"}}`)}); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "s3:PutObject", func() error {
			if a := postForm(t, e.srv, "/forms", "", form("uploads/user.txt"), "f", []byte("by user"), nil); a.status != http.StatusNoContent {
				return errors.New(a.body)
			}
			return nil
		})
		uc := s3.NewFromConfig(e.srv.Config(), func(o *s3.Options) {
			o.BaseEndpoint, o.UsePathStyle = aws.String(e.srv.URL), true
			o.Credentials = credentials.NewStaticCredentialsProvider(kid, secret, "")
		})
		out, err := uc.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("forms"), Key: aws.String("uploads/user.txt")})
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(out.Body)
		out.Body.Close()
		if string(b) != "by user" {
			t.Fatalf("stored %q", b)
		}

		// Temporary credentials sign with their session token a field
		// of the form, which the policy names like any other.
		tmp, err := clientsFor(e.srv, credentials.NewStaticCredentialsProvider(kid, secret, "")).sts.GetSessionToken(ctx, &sts.GetSessionTokenInput{})
		if err != nil {
			t.Fatal(err)
		}
		tid, tsecret, token := aws.ToString(tmp.Credentials.AccessKeyId), aws.ToString(tmp.Credentials.SecretAccessKey), aws.ToString(tmp.Credentials.SessionToken)
		withToken := signedForm(tid, tsecret, "forms", hour, append(base, map[string]string{"x-amz-security-token": token}),
			postField{"key", "uploads/session.txt"}, postField{"x-amz-security-token", token})
		if a := postForm(t, e.srv, "/forms", "", withToken, "f", []byte("by session"), nil); a.status != http.StatusNoContent {
			t.Fatalf("post with a session token: %d %s", a.status, a.body)
		}
		if b, _ := e.get(t, "forms", "uploads/session.txt"); string(b) != "by session" {
			t.Fatalf("stored %q", b)
		}
		a = postForm(t, e.srv, "/forms", "", signedForm(tid, tsecret, "forms", hour, base, postField{"key", "uploads/no-token.txt"}), "f", []byte("x"), nil)
		wantPostError(t, "temporary keys without their token", a, 403, "InvalidAccessKeyId", "")
		wantAbsent(t, e.c, "forms", "uploads/no-token.txt")
	})

	t.Run("notification and CORS", func(t *testing.T) {
		e.bucket(t, "notified")
		q := e.srv.SQS()
		qu, err := q.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("form-events")})
		if err != nil {
			t.Fatal(err)
		}
		attrs, err := q.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: qu.QueueUrl, AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.c.PutBucketNotificationConfiguration(ctx, &s3.PutBucketNotificationConfigurationInput{Bucket: aws.String("notified"),
			NotificationConfiguration: &types.NotificationConfiguration{QueueConfigurations: []types.QueueConfiguration{{
				QueueArn: aws.String(attrs.Attributes["QueueArn"]), Events: []types.Event{"s3:ObjectCreated:Post"}}}}}); err != nil {
			t.Fatal(err)
		}
		if _, err := e.c.PutBucketCors(ctx, &s3.PutBucketCorsInput{Bucket: aws.String("notified"), CORSConfiguration: &types.CORSConfiguration{
			CORSRules: []types.CORSRule{{AllowedOrigins: []string{"https://app.example.com"}, AllowedMethods: []string{"POST"}, ExposeHeaders: []string{"ETag"}}}}}); err != nil {
			t.Fatal(err)
		}
		a := postForm(t, e.srv, "/notified", "", rootForm("notified", hour, base, postField{"key", "uploads/event.txt"}), "f", []byte("event"),
			map[string]string{"Origin": "https://app.example.com"})
		if a.status != http.StatusNoContent || a.hdr.Get("Access-Control-Allow-Origin") != "https://app.example.com" {
			t.Fatalf("post: %d %v %s", a.status, a.hdr, a.body)
		}
		deadline := time.Now().Add(30 * time.Second)
		for time.Now().Before(deadline) {
			got, err := q.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: qu.QueueUrl, WaitTimeSeconds: 2, MaxNumberOfMessages: 10})
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range got.Messages {
				body := aws.ToString(m.Body)
				if strings.Contains(body, `"eventName":"ObjectCreated:Post"`) && strings.Contains(body, `event.txt"`) {
					return
				}
			}
		}
		t.Fatal("no ObjectCreated:Post event arrived")
	})

	t.Run("browser", func(t *testing.T) { postFormBrowser(t, e) })
}

// postFormBrowser has headless Chromium upload a file from a page on
// another origin twice: by submitting an HTML form, which S3 answers with
// a redirect back to the page, and by fetch() with the form's FormData,
// which reads the 201 document through the bucket's CORS rule.
func postFormBrowser(t *testing.T, e *s3Env) {
	ctx := ctxT(t)
	e.bucket(t, "browser")
	done := make(chan url.Values, 1)
	var pageHTML string
	page := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		if r.URL.Path == "/done" {
			select {
			case done <- r.URL.Query():
			default:
			}
			io.WriteString(w, `<!doctype html><title>done</title><p id="done">uploaded</p>`)
			return
		}
		io.WriteString(w, pageHTML)
	}))
	defer page.Close()
	if _, err := e.c.PutBucketCors(ctx, &s3.PutBucketCorsInput{Bucket: aws.String("browser"), CORSConfiguration: &types.CORSConfiguration{
		CORSRules: []types.CORSRule{{AllowedOrigins: []string{page.URL}, AllowedMethods: []string{"POST"}, ExposeHeaders: []string{"ETag"}}}}}); err != nil {
		t.Fatal(err)
	}
	exp := time.Now().Add(time.Hour)
	conds := []any{[]any{"starts-with", "$key", "browser/"}, []any{"content-length-range", 1, 1 << 20}, []any{"starts-with", "$Content-Type", "text/"}}
	redirect := rootForm("browser", exp, append(conds, map[string]string{"success_action_redirect": page.URL + "/done"}),
		postField{"key", "browser/${filename}"}, postField{"Content-Type", "text/plain"}, postField{"success_action_redirect", page.URL + "/done"})
	created := rootForm("browser", exp, append(conds, map[string]string{"success_action_status": "201"}),
		postField{"key", "browser/fetched-${filename}"}, postField{"Content-Type", "text/plain"}, postField{"success_action_status", "201"})
	form := func(id string, fields []postField) string {
		var b strings.Builder
		fmt.Fprintf(&b, `<form id=%q method="post" enctype="multipart/form-data" action="%s">`, id, html.EscapeString(e.srv.URL+"/browser"))
		for _, f := range fields {
			fmt.Fprintf(&b, `<input type="hidden" name="%s" value="%s">`, html.EscapeString(f.name), html.EscapeString(f.value))
		}
		b.WriteString(`<input type="file" name="file"></form>`)
		return b.String()
	}
	pageHTML = "<!doctype html><title>upload</title>" + form("created", created) + form("redirect", redirect)
	file := filepath.Join(t.TempDir(), "hello.txt")
	if err := os.WriteFile(file, []byte("from the browser"), 0o644); err != nil {
		t.Fatal(err)
	}

	bctx := browser(t)
	run(t, bctx, "open the upload page", 20*time.Second, chromedp.Navigate(page.URL+"/"),
		chromedp.SetUploadFiles(chromedp.CSS("#created input[type=file]"), []string{file}),
		chromedp.SetUploadFiles(chromedp.CSS("#redirect input[type=file]"), []string{file}))
	// fetch() with the form's data: a CORS request whose answer the page
	// may read only with the bucket's headers.
	eval[int](t, bctx, "start fetch", `window.got = null; fetch(document.getElementById("created").action, {method: "POST", body: new FormData(document.getElementById("created"))}).then(r => r.text().then(b => window.got = r.status + " " + r.headers.get("ETag") + " " + b), err => window.got = "error " + err); 0`)
	var got string
	for deadline := time.Now().Add(10 * time.Second); got == "" && time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		got = eval[string](t, bctx, "read fetch", `window.got || ""`)
	}
	if !strings.HasPrefix(got, `201 "`) || !strings.Contains(got, "<Key>browser/fetched-hello.txt</Key>") {
		t.Fatalf("fetch: %q", got)
	}
	if b, _ := e.get(t, "browser", "browser/fetched-hello.txt"); string(b) != "from the browser" {
		t.Fatalf("fetched upload stored %q", b)
	}
	// The form itself, submitted: S3 sends the browser back to the page.
	run(t, bctx, "submit the form", 20*time.Second, chromedp.Submit(chromedp.CSS("#redirect")), chromedp.WaitVisible(chromedp.CSS("#done")))
	var q url.Values
	select {
	case q = <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the browser did not come back to the page")
	}
	b, out := e.get(t, "browser", "browser/hello.txt")
	if q.Get("bucket") != "browser" || q.Get("key") != "browser/hello.txt" || q.Get("etag") != aws.ToString(out.ETag) ||
		string(b) != "from the browser" || aws.ToString(out.ContentType) != "text/plain" {
		t.Fatalf("redirect %v; stored %q %s", q, b, aws.ToString(out.ContentType))
	}
}

// postFormKeyAfterFile posts a form whose key field follows its file.
func postFormKeyAfterFile(t *testing.T, srv *alofttest.Server, key string) postAnswer {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	fw, _ := mw.CreateFormFile("file", "f")
	fw.Write([]byte("x"))
	mw.WriteField("key", key)
	mw.Close()
	resp, err := http.Post(srv.URL+"/forms", mw.FormDataContentType(), &buf)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return postAnswer{resp.StatusCode, resp.Header, string(b)}
}

// v2Form returns fields followed by the Signature Version 2 fields of the
// policy document doc, signed by the root keys.
func v2Form(doc string, fields ...postField) []postField {
	policy := base64.StdEncoding.EncodeToString([]byte(doc))
	m := hmac.New(sha1.New, []byte(alofttest.SecretAccessKey))
	m.Write([]byte(policy))
	return append(fields, postField{"AWSAccessKeyId", alofttest.AccessKeyID}, postField{"policy", policy},
		postField{"signature", base64.StdEncoding.EncodeToString(m.Sum(nil))})
}
