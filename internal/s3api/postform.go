package s3api

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"encoding/xml"
	"errors"
	"hash"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/aloft-dev/aloft/internal/objstore"
	"github.com/aloft-dev/aloft/internal/sigv4"
)

// This file answers S3's POST Object: a browser's HTML form upload to a
// bucket (POST /bucket, or POST / on a bucket's virtual host) with a
// multipart/form-data body. The parameters a PutObject carries in headers
// come as form fields before the last one, file, whose content is the
// object. The form signs itself: a base64 JSON policy (its expiration
// and conditions on the other fields) and the policy's signature, by
// Signature Version 4 (x-amz-algorithm, x-amz-credential, x-amz-date,
// x-amz-signature) or 2 (AWSAccessKeyId, signature). A form with neither
// is anonymous. The signer, or no one, is then authorized for
// s3:PutObject on the key as any PutObject is. The fields are read into
// memory, at most maxFormFields bytes of them; the file streams into the
// store, and nothing is stored unless every check passes.

// maxFormFields bounds the form's fields before the file, names and
// values, as S3 does.
const maxFormFields = 20 << 10

// maxPreFile bounds the raw bytes read before the file: the fields, and
// their part headers and boundaries, which S3's limit leaves aside but
// which must be bounded too, with room for the multipart reader's
// read-ahead into the file.
const maxPreFile = maxFormFields + 16<<10 + 4<<10

// errPreFileTooLarge stops a form whose part headers run past maxPreFile.
var errPreFileTooLarge = errors.New("s3: a POST form's parts before its file are too large")

// preFileLimit fails reads past its budget until the file is reached.
type preFileLimit struct {
	r    io.Reader
	left int64
	done bool // the file was reached: no more limit
}

func (l *preFileLimit) Read(b []byte) (int, error) {
	if l.done {
		return l.r.Read(b)
	}
	if l.left <= 0 {
		return 0, errPreFileTooLarge
	}
	if int64(len(b)) > l.left {
		b = b[:l.left]
	}
	n, err := l.r.Read(b)
	l.left -= int64(n)
	return n, err
}

// tooLargeForm is S3's answer to fields before the file over its limit.
func tooLargeForm() *Error {
	return s3err("MaxPostPreDataLengthExceeded", "Your POST request fields preceding the upload file were too large.")
}

// formField is one field of a POST form.
type formField struct {
	name  string // in lower case: S3 matches field names in any case
	value string
}

// postForm is a POST form read up to its file.
type postForm struct {
	fields   []formField
	file     *multipart.Part // nil: the form has no file
	filename string          // the file part's, for ${filename}
}

// get returns the value of the field named name (lower case).
func (f *postForm) get(name string) (string, bool) {
	for _, fl := range f.fields {
		if fl.name == name {
			return fl.value, true
		}
	}
	return "", false
}

// malformedPost is S3's answer to a body that is not well-formed
// multipart/form-data.
func malformedPost(err error) *Error {
	e := s3err("MalformedPOSTRequest", "The body of your POST request is not well-formed multipart/form-data.")
	e.Err = err
	return e
}

// missingField is S3's answer to a form without a field it needs.
func missingField(name string) *Error {
	return s3err("InvalidArgument", "Bucket POST must contain a field named '"+name+"'.  If it is specified, please check the order of the fields.")
}

// policyError is S3's refusal of a form its policy does not allow.
func policyError(msg string) *Error {
	return s3err("AccessDenied", "Invalid according to Policy: "+msg)
}

// readPostForm reads the fields of a POST form up to its file part,
// which it leaves unread. Fields after the file are never read: S3
// ignores them.
func readPostForm(body io.Reader, boundary string) (*postForm, error) {
	limit := &preFileLimit{r: body, left: maxPreFile}
	mr := multipart.NewReader(limit, boundary)
	f := &postForm{}
	budget := int64(maxFormFields)
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			return f, nil
		}
		if errors.Is(err, errPreFileTooLarge) {
			return nil, tooLargeForm()
		}
		if err != nil {
			return nil, malformedPost(err)
		}
		name := strings.ToLower(p.FormName())
		if name == "" {
			return nil, malformedPost(errors.New("a form part without a field name"))
		}
		if name == "file" {
			limit.done = true
			f.file, f.filename = p, p.FileName()
			return f, nil
		}
		budget -= int64(len(name))
		if budget < 0 {
			return nil, tooLargeForm()
		}
		v, err := io.ReadAll(io.LimitReader(p, budget+1))
		if errors.Is(err, errPreFileTooLarge) {
			return nil, tooLargeForm()
		}
		if err != nil {
			return nil, malformedPost(err)
		}
		if budget -= int64(len(v)); budget < 0 {
			return nil, tooLargeForm()
		}
		if _, dup := f.get(name); dup {
			return nil, s3err("InvalidArgument", "POST form fields must be unique; '"+name+"' is given more than once.")
		}
		f.fields = append(f.fields, formField{name: name, value: string(v)})
	}
}

// postObject answers POST Object. serve routes every POST to a bucket
// without a key or query here and authorizes nothing first: the form
// carries its own signature (or none: an anonymous upload), checked here
// before the signer, or no one, is authorized for s3:PutObject on the
// key the form names.
func (h *Handler) postObject(w http.ResponseWriter, r *http.Request, rq *request) error {
	rq.action = "s3:PutObject"
	if rq.signer != nil {
		return s3err("InvalidRequest", "A POST form upload is authenticated by its own policy and signature fields; send it without an Authorization header or presigned query.")
	}
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/form-data" || params["boundary"] == "" {
		return s3err("PreconditionFailed", "Bucket POST must be of the enclosure-type multipart/form-data")
	}
	if _, err := h.d.Store.Bucket(r.Context(), rq.bucket); err != nil {
		return err
	}
	form, err := readPostForm(r.Body, params["boundary"])
	if err != nil {
		return err
	}
	if form.file == nil {
		return s3err("InvalidArgument", "POST requires exactly one file upload per request.")
	}
	key, ok := form.get("key")
	if !ok {
		return missingField("key")
	}
	key = strings.ReplaceAll(key, "${filename}", form.filename)
	switch {
	case key == "":
		return s3err("InvalidArgument", "User key must have a length greater than 0.")
	case len(key) > objstore.MaxKeyLen:
		return s3err("KeyTooLongError", "")
	case !utf8.ValidString(key):
		return s3err("InvalidArgument", "The key must be valid UTF-8.")
	}
	signer, pol, err := h.postSigner(form)
	if err != nil {
		return err
	}
	limits := sizeRange{max: objstore.MaxObjectSize}
	if pol != nil {
		now := time.Now
		if h.d.Verifier.Now != nil {
			now = h.d.Verifier.Now
		}
		if limits, err = pol.check(now(), form, rq.bucket, key); err != nil {
			return err
		}
	}
	rq.key, rq.hasKey = key, true
	if signer != nil {
		rq.auth = *signer
		rq.signer = &rq.auth
	} else if h.d.Authorize == nil {
		return s3err("AccessDenied", "") // anonymous uploads need a bucket policy
	}
	if err := h.authorize(r, rq.signer, "s3:PutObject", resource(rq), nil, rq.bucket); err != nil {
		return err
	}
	opts, file, err := postOptions(form, rq.bucket, limits)
	if err != nil {
		return err
	}
	info, err := h.d.Store.PutObject(r.Context(), rq.bucket, key, file, opts)
	if err != nil {
		return err
	}
	if err := h.changed(r, rq, "ObjectCreated:Post", info); err != nil {
		return err
	}
	return h.postAnswer(w, r, rq, form, info)
}

// postSigner checks the form's signature and returns its signer and
// policy, or nil and nil for an anonymous form.
func (h *Handler) postSigner(form *postForm) (*sigv4.Identity, *postPolicy, error) {
	has := func(n string) bool { _, ok := form.get(n); return ok }
	var id sigv4.Identity
	policyText, hasPolicy := form.get("policy")
	switch {
	case has("x-amz-signature") || has("x-amz-credential") || has("x-amz-algorithm"):
		for _, n := range []string{"x-amz-algorithm", "x-amz-credential", "x-amz-date", "x-amz-signature", "policy"} {
			if !has(n) {
				return nil, nil, missingField(n)
			}
		}
		if alg, _ := form.get("x-amz-algorithm"); alg != "AWS4-HMAC-SHA256" {
			return nil, nil, s3err("InvalidArgument", "POST form uploads are signed with the algorithm AWS4-HMAC-SHA256, not '"+alg+"'.")
		}
		cred, _ := form.get("x-amz-credential")
		date, _ := form.get("x-amz-date")
		sig, _ := form.get("x-amz-signature")
		got, err := h.d.Verifier.VerifyPolicy(cred, date, policyText, sig)
		if err != nil {
			var se *sigv4.Error
			if errors.As(err, &se) && se.Kind == sigv4.Malformed {
				e := s3err("InvalidArgument", se.Message)
				e.Err = err
				return nil, nil, e
			}
			return nil, nil, toError(err, "", "")
		}
		if got.Service != "s3" {
			return nil, nil, s3err("InvalidArgument", "The form's credential is scoped to the service \""+got.Service+"\"; a POST to S3 must be signed for \"s3\".")
		}
		id = got
	case has("awsaccesskeyid") || has("signature"):
		for _, n := range []string{"awsaccesskeyid", "signature", "policy"} {
			if !has(n) {
				return nil, nil, missingField(n)
			}
		}
		if h.d.VerifierV2 == nil || h.d.VerifierV2.Lookup == nil {
			return nil, nil, s3err("InvalidRequest", "Signature Version 2 is not accepted by this server; sign with Signature Version 4.")
		}
		akid, _ := form.get("awsaccesskeyid")
		sig, _ := form.get("signature")
		secret, ok := h.d.VerifierV2.Lookup(akid)
		if !ok {
			return nil, nil, s3err("InvalidAccessKeyId", "")
		}
		m := hmac.New(sha1.New, []byte(secret))
		m.Write([]byte(policyText))
		want, err := base64.StdEncoding.DecodeString(sig)
		if err != nil || subtle.ConstantTimeCompare(m.Sum(nil), want) != 1 {
			return nil, nil, s3err("SignatureDoesNotMatch", "")
		}
		id = sigv4.Identity{AccessKeyID: akid, Service: "s3", Region: objstore.DefaultRegion}
	case hasPolicy:
		return nil, nil, missingField("x-amz-signature")
	default:
		return nil, nil, nil // anonymous
	}
	pol, err := parsePostPolicy(policyText)
	if err != nil {
		return nil, nil, err
	}
	id.SessionToken, _ = form.get("x-amz-security-token")
	id.PayloadHash = "UNSIGNED-PAYLOAD"
	return &id, pol, nil
}

// sizeRange is the size a form's file may have: content-length-range.
type sizeRange struct{ min, max int64 }

// postCondition is one exact-match or starts-with condition of a POST
// policy.
type postCondition struct {
	op    string // "eq" or "starts-with"
	field string // the field's name in lower case, without "$"
	as    string // the field's name as the policy writes it
	value string
}

// String returns the condition as S3 quotes a failed one.
func (c postCondition) String() string {
	q := func(s string) string {
		var b bytes.Buffer
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false)
		enc.Encode(s) // a string always encodes
		return strings.TrimSuffix(b.String(), "\n")
	}
	return "[" + q(c.op) + ", " + q("$"+c.as) + ", " + q(c.value) + "]"
}

// postPolicy is a parsed POST policy document.
type postPolicy struct {
	expiration time.Time
	conditions []postCondition
	size       *sizeRange // content-length-range, nil if none
}

// invalidPolicy is S3's refusal of a policy document it cannot read.
func invalidPolicy(msg string) *Error {
	return s3err("InvalidPolicyDocument", "Invalid Policy: "+msg)
}

// parsePostPolicy decodes a form's base64 policy field: a JSON object
// with expiration (ISO 8601) and conditions, each an object of exact
// matches ({"field": "value"}) or a list: ["eq", "$field", "value"],
// ["starts-with", "$field", "prefix"] or ["content-length-range", min, max].
func parsePostPolicy(b64 string) (*postPolicy, error) {
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(b64))
	if err != nil {
		return nil, invalidPolicy("Invalid 'base64' encoding.")
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var doc map[string]json.RawMessage
	if err := dec.Decode(&doc); err != nil || dec.More() {
		return nil, invalidPolicy("Invalid JSON.")
	}
	p := &postPolicy{}
	for k := range doc {
		if k != "expiration" && k != "conditions" {
			return nil, invalidPolicy("Unexpected field '" + k + "'.")
		}
	}
	exp, ok := doc["expiration"]
	if !ok {
		return nil, invalidPolicy("Policy missing expiration.")
	}
	var expText string
	if json.Unmarshal(exp, &expText) != nil {
		return nil, invalidPolicy("Invalid 'expiration' value: must be a string.")
	}
	if p.expiration, err = time.Parse(time.RFC3339Nano, expText); err != nil {
		return nil, invalidPolicy("Invalid 'expiration' value: '" + expText + "'")
	}
	conds, ok := doc["conditions"]
	if !ok {
		return nil, invalidPolicy("Policy missing conditions.")
	}
	var list []json.RawMessage
	if json.Unmarshal(conds, &list) != nil {
		return nil, invalidPolicy("Invalid 'conditions' value: must be a List.")
	}
	for _, c := range list {
		if err := p.addCondition(c); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// addCondition parses one entry of a policy's conditions.
func (p *postPolicy) addCondition(raw json.RawMessage) error {
	raw = bytes.TrimSpace(raw)
	if len(raw) > 0 && raw[0] == '{' {
		var m map[string]json.RawMessage
		if json.Unmarshal(raw, &m) != nil || len(m) == 0 {
			return invalidPolicy("Invalid Simple-Condition: " + string(raw))
		}
		for name, v := range m {
			var s string
			if json.Unmarshal(v, &s) != nil {
				return invalidPolicy("Invalid Simple-Condition: value must be a string.")
			}
			p.conditions = append(p.conditions, postCondition{op: "eq", field: strings.ToLower(name), as: name, value: s})
		}
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var elems []any
	if dec.Decode(&elems) != nil || len(elems) != 3 {
		return invalidPolicy("Invalid Condition: " + string(raw))
	}
	op, _ := elems[0].(string)
	switch strings.ToLower(op) {
	case "content-length-range":
		lo, ok1 := policyInt(elems[1])
		hi, ok2 := policyInt(elems[2])
		if !ok1 || !ok2 || lo < 0 || hi < lo {
			return invalidPolicy("Invalid content-length-range: " + string(raw))
		}
		if p.size == nil {
			p.size = &sizeRange{min: lo, max: hi}
		} else {
			p.size.min, p.size.max = max(p.size.min, lo), min(p.size.max, hi)
		}
		return nil
	case "eq", "starts-with":
		name, ok1 := elems[1].(string)
		v, ok2 := elems[2].(string)
		if !ok1 || !ok2 || !strings.HasPrefix(name, "$") || len(name) == 1 {
			return invalidPolicy("Invalid Condition: " + string(raw))
		}
		p.conditions = append(p.conditions, postCondition{op: strings.ToLower(op), field: strings.ToLower(name[1:]), as: name[1:], value: v})
		return nil
	}
	return invalidPolicy("Invalid Condition: unknown operation '" + op + "'.")
}

// policyInt reads a content-length-range bound: a JSON integer, or a
// string of one.
func policyInt(v any) (int64, bool) {
	var s string
	switch t := v.(type) {
	case json.Number:
		s = t.String()
	case string:
		s = t
	default:
		return 0, false
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil
}

// notCovered are the fields a policy need not name.
var notCovered = map[string]bool{"x-amz-signature": true, "file": true, "policy": true, "signature": true, "awsaccesskeyid": true}

// check applies the policy to the form as of now: its expiration, its
// conditions (on key after ${filename} is replaced, and on bucket), and
// S3's rule that every field but the signature, the policy and the
// x-ignore-* ones is named by a condition. It returns the size the file
// may have.
func (p *postPolicy) check(now time.Time, form *postForm, bucket, key string) (sizeRange, error) {
	if !now.Before(p.expiration) {
		return sizeRange{}, policyError("Policy expired.")
	}
	value := func(name string) string {
		switch name {
		case "key":
			return key
		case "bucket":
			return bucket
		}
		v, _ := form.get(name)
		return v
	}
	covered := make(map[string]bool, len(p.conditions))
	for _, c := range p.conditions {
		covered[c.field] = true
		if !c.holds(value(c.field)) {
			return sizeRange{}, policyError("Policy Condition failed: " + c.String())
		}
	}
	var extra []string
	for _, f := range form.fields {
		if !covered[f.name] && !notCovered[f.name] && !strings.HasPrefix(f.name, "x-ignore-") {
			extra = append(extra, f.name)
		}
	}
	if len(extra) > 0 {
		return sizeRange{}, policyError("Extra input fields: " + strings.Join(extra, ", "))
	}
	limits := sizeRange{max: objstore.MaxObjectSize}
	if p.size != nil {
		limits.min, limits.max = p.size.min, min(p.size.max, objstore.MaxObjectSize)
	}
	return limits, nil
}

// holds reports whether the field's value v meets the condition. A
// starts-with on Content-Type applies to each of a comma-separated list.
func (c postCondition) holds(v string) bool {
	if c.op == "eq" {
		return v == c.value
	}
	if c.field == "content-type" && strings.Contains(v, ",") {
		for _, t := range strings.Split(v, ",") {
			if !strings.HasPrefix(strings.TrimSpace(t), c.value) {
				return false
			}
		}
		return true
	}
	return strings.HasPrefix(v, c.value)
}

// formHandled are the fields read elsewhere than the object's options.
var formHandled = map[string]bool{
	"key": true, "policy": true, "x-amz-algorithm": true, "x-amz-credential": true, "x-amz-date": true,
	"x-amz-signature": true, "x-amz-security-token": true, "awsaccesskeyid": true, "signature": true,
	"success_action_status": true, "success_action_redirect": true, "redirect": true,
}

// postOptions turns the form's fields into the object's options, as
// putOptions does headers, and returns the file checked as it streams:
// its size against limits, and its checksum if the form gives one.
func postOptions(form *postForm, bucket string, limits sizeRange) (objstore.PutOptions, io.Reader, error) {
	var o objstore.PutOptions
	file := &formFile{r: form.file, limits: limits}
	metaSize := 0
	var checksumAlg string
	for _, f := range form.fields {
		name, v := f.name, f.value
		switch {
		case formHandled[name] || strings.HasPrefix(name, "x-ignore-"):
		case name == "content-type":
			o.ContentType = v
		case name == "content-md5":
			sum, err := base64.StdEncoding.DecodeString(v)
			if err != nil || len(sum) != 16 {
				return o, nil, s3err("InvalidDigest", "")
			}
			o.ContentMD5 = sum
		case name == "bucket":
			if v != bucket {
				return o, nil, s3err("InvalidArgument", "The form's bucket field names '"+v+"', not the bucket it is posted to.")
			}
		case name == "acl":
			if err := cannedACL(nil, nil, v); err != nil {
				return o, nil, err
			}
		case name == "x-amz-storage-class":
			if err := storageClass(nil, nil, v); err != nil {
				return o, nil, err
			}
		case name == "tagging" || name == "x-amz-tagging":
			tags, err := formTags(v)
			if err != nil {
				return o, nil, err
			}
			o.Tags = tags
		case strings.HasPrefix(name, "x-amz-meta-"):
			m := name[len("x-amz-meta-"):]
			if m == "" {
				continue
			}
			metaSize += len(m) + len(v)
			if o.Metadata == nil {
				o.Metadata = make(map[string]string)
			}
			o.Metadata[m] = v
		case name == "x-amz-checksum-algorithm":
			checksumAlg = v
		case strings.HasPrefix(name, "x-amz-checksum-"):
			if file.sum != nil {
				return o, nil, s3err("InvalidRequest", "Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.")
			}
			sum, alg, ok := sigv4.NewChecksum(name[len("x-amz-checksum-"):])
			if !ok {
				return o, nil, s3err("InvalidRequest", "The algorithm of the "+name+" field is not supported.")
			}
			if want, err := base64.StdEncoding.DecodeString(v); err != nil || len(want) != sum.Size() {
				return o, nil, s3err("InvalidRequest", "Value for "+name+" header is invalid.")
			}
			file.sum, file.alg, file.want = sum, alg, v
		case strings.HasPrefix(name, "x-amz-"):
			e := s3err("NotImplemented", "A form field you provided implies functionality that is not implemented")
			e.Header = name
			return o, nil, e
		default:
			if h := storedHeader(name); h != "" {
				if h == "Content-Encoding" {
					v = stripAWSChunked(v)
				}
				if v != "" {
					if o.Headers == nil {
						o.Headers = make(map[string]string)
					}
					o.Headers[h] = v
				}
			}
			// Any other field has no meaning to S3 (a submit button, say);
			// the policy has allowed it.
		}
	}
	if metaSize > maxMetadata {
		return o, nil, s3err("MetadataTooLarge", "")
	}
	if checksumAlg != "" {
		sum, alg, ok := sigv4.NewChecksum(checksumAlg)
		switch {
		case !ok:
			return o, nil, s3err("InvalidRequest", "Checksum algorithm provided is unsupported. Please try again with any of the valid types: [CRC32, CRC32C, CRC64NVME, SHA1, SHA256]")
		case file.sum == nil:
			file.sum, file.alg = sum, alg // computed and kept
		case file.alg != alg:
			return o, nil, s3err("InvalidRequest", "Value for x-amz-checksum-algorithm does not match the checksum field given.")
		}
	}
	return o, file, nil
}

// storedHeader returns the canonical name of a stored header that a
// form field (lower case) names, or "".
func storedHeader(field string) string {
	for _, h := range storedHeaders {
		if strings.EqualFold(h, field) {
			return h
		}
	}
	return ""
}

// formTags reads a form's tagging field: a Tagging XML document.
func formTags(v string) (map[string]string, error) {
	var doc taggingDoc
	if err := xml.Unmarshal([]byte(v), &doc); err != nil {
		e := s3err("MalformedXML", "")
		e.Err = err
		return nil, e
	}
	tags := make(map[string]string, len(doc.TagSet.Tags))
	for _, t := range doc.TagSet.Tags {
		if err := addTag(tags, t.Key, t.Value, maxObjectTags); err != nil {
			return nil, err
		}
	}
	return tags, nil
}

// formFile is a form's file as it streams into the store: it fails the
// read that takes it past its largest size, its last read if it is
// smaller than the least or its checksum does not match, so that the
// store keeps nothing.
type formFile struct {
	r      io.Reader
	n      int64
	limits sizeRange
	sum    hash.Hash // nil: no checksum
	alg    string    // the checksum's algorithm, as S3 names it
	want   string    // the checksum the form gives; "" to compute one
	got    string    // the checksum computed, once read to its end
}

func (f *formFile) Read(b []byte) (int, error) {
	n, err := f.r.Read(b)
	f.n += int64(n)
	if f.sum != nil {
		f.sum.Write(b[:n])
	}
	if f.n > f.limits.max {
		return n, s3err("EntityTooLarge", "")
	}
	switch {
	case err == io.EOF:
		if f.n < f.limits.min {
			return n, s3err("EntityTooSmall", "Your proposed upload is smaller than the minimum allowed size")
		}
		if f.sum != nil {
			f.got = base64.StdEncoding.EncodeToString(f.sum.Sum(nil))
			if f.want != "" && f.got != f.want {
				return n, s3err("BadDigest", "The "+f.alg+" you specified did not match the calculated checksum.")
			}
		}
	case errors.Is(err, io.ErrUnexpectedEOF):
		e := s3err("IncompleteBody", "The request body terminated unexpectedly")
		e.Err = err
		return n, e
	case err != nil:
		var se *Error
		if !errors.As(err, &se) {
			return n, malformedPost(err)
		}
	}
	return n, err
}

// Checksums returns the checksum the file was checked against (or,
// asked for by algorithm alone, computed), for the store to keep.
func (f *formFile) Checksums() map[string]string {
	if f.got == "" {
		return nil
	}
	return map[string]string{f.alg: f.got}
}

// postResponse is the document of a POST answered with status 201.
type postResponse struct {
	XMLName  xml.Name `xml:"PostResponse"`
	Location string
	Bucket   string
	Key      string
	ETag     string
}

// postAnswer answers a stored POST: a 303 to success_action_redirect
// (or redirect) with bucket, key and etag added to its query, else the
// success_action_status asked for: 200 or 201 (with a PostResponse
// document), 204 otherwise.
func (h *Handler) postAnswer(w http.ResponseWriter, r *http.Request, rq *request, form *postForm, info objstore.ObjectInfo) error {
	etag := quote(info.ETag)
	location := h.objectURL(r, rq)
	hdr := w.Header()
	hdr.Set("ETag", etag)
	hdr.Set("Location", location)
	setChecksumHeaders(hdr, info.Checksums)
	h.versionHeader(r, hdr, rq.bucket, info.VersionID)
	target, ok := form.get("success_action_redirect")
	if !ok {
		target, ok = form.get("redirect")
	}
	if u, err := url.Parse(target); ok && err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" {
		q := u.Query()
		q.Set("bucket", rq.bucket)
		q.Set("key", rq.key)
		q.Set("etag", etag)
		u.RawQuery = q.Encode()
		hdr.Set("Location", u.String())
		w.WriteHeader(http.StatusSeeOther)
		return nil
	}
	switch status, _ := form.get("success_action_status"); status {
	case "200":
		w.WriteHeader(http.StatusOK)
	case "201":
		writeXML(w, http.StatusCreated, postResponse{Location: location, Bucket: rq.bucket, Key: rq.key, ETag: etag})
	default:
		w.WriteHeader(http.StatusNoContent)
	}
	return nil
}

// objectURL is the URL of the object rq names, as the client addressed
// the bucket: virtual-host style on a bucket's host, else path style.
func (h *Handler) objectURL(r *http.Request, rq *request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	path := "/" + rq.bucket + "/" + (&url.URL{Path: rq.key}).EscapedPath()
	if h.IsVirtualHost(r.Host) {
		path = "/" + (&url.URL{Path: rq.key}).EscapedPath()
	}
	return scheme + "://" + r.Host + path
}

// isPostForm reports whether r is addressed as a POST Object: a POST to
// a bucket, without a key or query. Such a request is unsigned by its
// headers even where anonymous requests are refused: the form signs
// itself.
func isPostForm(r *http.Request, rq *request) bool {
	return r.Method == http.MethodPost && rq.bucket != "" && !rq.hasKey && r.URL.RawQuery == ""
}
