package s3store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/aloft-dev/aloft/internal/objstore"
)

// The kinds of document kept in Docs for a bucket.
const (
	docNotification = "notification"
	docPolicy       = "policy"
	docPublicAccess = "public-access-block"
	docCORS         = "cors"
	docWebsite      = "website"
	docLifecycle    = "lifecycle"
)

// docKinds are every kind, removed with their bucket.
var docKinds = []string{docNotification, docPolicy, docPublicAccess, docCORS, docWebsite, docLifecycle}

// putDoc stores v (nil removes it) as bucket's document of kind, once the
// bucket is known to exist.
func (s *Store) putDoc(ctx context.Context, bucket, kind string, v any, remove bool) error {
	if err := s.checkBucket(ctx, bucket); err != nil {
		return err
	}
	var doc []byte
	if !remove {
		var err error
		if doc, err = json.Marshal(v); err != nil {
			return fmt.Errorf("s3store: %s of %s: %w", kind, bucket, err)
		}
	}
	if err := s.docs.Put(ctx, bucket, kind, doc); err != nil {
		return fmt.Errorf("s3store: save %s of %s: %w", kind, bucket, err)
	}
	return nil
}

// getDoc reads bucket's document of kind into v, reporting whether there
// was one.
func (s *Store) getDoc(ctx context.Context, bucket, kind string, v any) (bool, error) {
	if err := s.checkBucket(ctx, bucket); err != nil {
		return false, err
	}
	doc, err := s.docs.Get(ctx, bucket, kind)
	if err != nil {
		return false, fmt.Errorf("s3store: read %s of %s: %w", kind, bucket, err)
	}
	if doc == nil {
		return false, nil
	}
	if err := json.Unmarshal(doc, v); err != nil {
		return false, fmt.Errorf("%w: %s of %s: %v", objstore.ErrCorrupt, kind, bucket, err)
	}
	return true, nil
}

// PutNotification replaces a bucket's notification configuration.
func (s *Store) PutNotification(ctx context.Context, bucket string, cfg objstore.NotificationConfig) error {
	return s.putDoc(ctx, bucket, docNotification, cfg, false)
}

// Notification returns a bucket's notification configuration.
func (s *Store) Notification(ctx context.Context, bucket string) (objstore.NotificationConfig, error) {
	var cfg objstore.NotificationConfig
	_, err := s.getDoc(ctx, bucket, docNotification, &cfg)
	return cfg, err
}

// PutPolicy replaces a bucket's policy document; nil removes it.
func (s *Store) PutPolicy(ctx context.Context, bucket string, doc []byte) error {
	return s.putDoc(ctx, bucket, docPolicy, string(doc), doc == nil) // as a string: kept byte for byte
}

// Policy returns a bucket's policy document, nil if it has none.
func (s *Store) Policy(ctx context.Context, bucket string) ([]byte, error) {
	var doc string
	ok, err := s.getDoc(ctx, bucket, docPolicy, &doc)
	if !ok {
		return nil, err
	}
	return []byte(doc), nil
}

// PutPublicAccessBlock replaces a bucket's public access block.
func (s *Store) PutPublicAccessBlock(ctx context.Context, bucket string, cfg *objstore.PublicAccessBlock) error {
	return s.putDoc(ctx, bucket, docPublicAccess, cfg, cfg == nil)
}

// PublicAccessBlock returns a bucket's public access block, nil if none.
func (s *Store) PublicAccessBlock(ctx context.Context, bucket string) (*objstore.PublicAccessBlock, error) {
	cfg := &objstore.PublicAccessBlock{}
	ok, err := s.getDoc(ctx, bucket, docPublicAccess, cfg)
	if !ok {
		return nil, err
	}
	return cfg, nil
}

// PutCORS replaces a bucket's CORS configuration; nil removes it.
func (s *Store) PutCORS(ctx context.Context, bucket string, cfg *objstore.CORSConfig) error {
	return s.putDoc(ctx, bucket, docCORS, cfg, cfg == nil)
}

// CORS returns a bucket's CORS configuration, nil if none. prev is not
// used: the document store is read each time.
func (s *Store) CORS(ctx context.Context, bucket string, prev *objstore.CORSConfig) (*objstore.CORSConfig, error) {
	cfg := &objstore.CORSConfig{}
	ok, err := s.getDoc(ctx, bucket, docCORS, cfg)
	if !ok {
		return nil, err
	}
	return cfg, nil
}

// PutWebsite replaces a bucket's website configuration; nil removes it.
func (s *Store) PutWebsite(ctx context.Context, bucket string, cfg *objstore.WebsiteConfig) error {
	return s.putDoc(ctx, bucket, docWebsite, cfg, cfg == nil)
}

// Website returns a bucket's website configuration, nil if none.
func (s *Store) Website(ctx context.Context, bucket string, prev *objstore.WebsiteConfig) (*objstore.WebsiteConfig, error) {
	cfg := &objstore.WebsiteConfig{}
	ok, err := s.getDoc(ctx, bucket, docWebsite, cfg)
	if !ok {
		return nil, err
	}
	return cfg, nil
}

// PutLifecycle replaces a bucket's lifecycle configuration; nil removes
// it. The rules are Aloft's to apply (objstore.RunLifecycle), as on a
// disk, so that their expirations are notified: the external store is
// given none.
func (s *Store) PutLifecycle(ctx context.Context, bucket string, cfg *objstore.LifecycleConfig) error {
	return s.putDoc(ctx, bucket, docLifecycle, cfg, cfg == nil)
}

// Lifecycle returns a bucket's lifecycle configuration, nil if none.
func (s *Store) Lifecycle(ctx context.Context, bucket string) (*objstore.LifecycleConfig, error) {
	cfg := &objstore.LifecycleConfig{}
	ok, err := s.getDoc(ctx, bucket, docLifecycle, cfg)
	if !ok {
		return nil, err
	}
	return cfg, nil
}

// ExpireObject deletes the current object under key if its ETag is still
// want's, by a conditional delete the external store checks (with
// versioning, a delete marker, as DeleteObject makes).
func (s *Store) ExpireObject(ctx context.Context, bucket, key string, want objstore.ObjectInfo) (objstore.Deleted, error) {
	ctx = objstore.WithWriteCondition(ctx, objstore.WriteCondition{IfMatch: `"` + want.ETag + `"`})
	del, err := s.DeleteObject(ctx, bucket, key)
	if errors.Is(err, objstore.ErrPreconditionFailed) || errors.Is(err, objstore.ErrNoSuchKey) || errors.Is(err, objstore.ErrNoSuchBucket) {
		return objstore.Deleted{}, nil // written since, or gone
	}
	return del, err
}

// PutObjectTags replaces an object's tags.
func (s *Store) PutObjectTags(ctx context.Context, bucket, key string, tags map[string]string) error {
	return s.PutVersionTags(ctx, bucket, key, "", tags)
}

// PutVersionTags replaces one version's tags; none removes them.
func (s *Store) PutVersionTags(ctx context.Context, bucket, key, versionID string, tags map[string]string) error {
	var err error
	if len(tags) == 0 {
		_, err = s.c.DeleteObjectTagging(ctx, &s3.DeleteObjectTaggingInput{Bucket: &bucket, Key: &key, VersionId: version(versionID)})
	} else {
		_, err = s.c.PutObjectTagging(ctx, &s3.PutObjectTaggingInput{Bucket: &bucket, Key: &key, VersionId: version(versionID),
			Tagging: &types.Tagging{TagSet: tagSet(tags)}})
	}
	if err != nil {
		return s.missing(ctx, bucket, versionID, err)
	}
	return nil
}

func tagSet(tags map[string]string) []types.Tag {
	set := make([]types.Tag, 0, len(tags))
	for k, v := range tags {
		set = append(set, types.Tag{Key: aws.String(k), Value: aws.String(v)})
	}
	sort.Slice(set, func(i, j int) bool { return *set[i].Key < *set[j].Key })
	return set
}

// PutBucketTags replaces a bucket's tags; none removes them.
func (s *Store) PutBucketTags(ctx context.Context, bucket string, tags map[string]string) error {
	var err error
	if len(tags) == 0 {
		_, err = s.c.DeleteBucketTagging(ctx, &s3.DeleteBucketTaggingInput{Bucket: &bucket})
	} else {
		_, err = s.c.PutBucketTagging(ctx, &s3.PutBucketTaggingInput{Bucket: &bucket, Tagging: &types.Tagging{TagSet: tagSet(tags)}})
	}
	return fail(err)
}

// BucketTags returns a bucket's tags, nil if it has none.
func (s *Store) BucketTags(ctx context.Context, bucket string) (map[string]string, error) {
	out, err := s.c.GetBucketTagging(ctx, &s3.GetBucketTaggingInput{Bucket: &bucket})
	if err != nil {
		if isCode(err, "NoSuchTagSet") {
			return nil, nil
		}
		return nil, fail(err)
	}
	var tags map[string]string
	for _, t := range out.TagSet {
		if tags == nil {
			tags = make(map[string]string)
		}
		tags[aws.ToString(t.Key)] = aws.ToString(t.Value)
	}
	return tags, nil
}

// isCode reports whether err is the store's error with code.
func isCode(err error, code string) bool {
	var svc *objstore.ServiceError
	return errors.As(fail(err), &svc) && svc.Code == code
}

// PutVersioning sets a bucket's versioning.
func (s *Store) PutVersioning(ctx context.Context, bucket, status string) error {
	if status != string(types.BucketVersioningStatusEnabled) && status != string(types.BucketVersioningStatusSuspended) {
		return objstore.ErrInvalidVersioning
	}
	_, err := s.c.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{Bucket: &bucket,
		VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatus(status)}})
	return fail(err)
}

// Versioning returns a bucket's versioning state, "" if never set.
func (s *Store) Versioning(ctx context.Context, bucket string) (string, error) {
	out, err := s.c.GetBucketVersioning(ctx, &s3.GetBucketVersioningInput{Bucket: &bucket})
	if err != nil {
		return "", fail(err)
	}
	return string(out.Status), nil
}

// ListVersions lists the versions and delete markers of keys.
func (s *Store) ListVersions(ctx context.Context, bucket string, opts objstore.VersionListOptions) (objstore.VersionList, error) {
	in := &s3.ListObjectVersionsInput{Bucket: &bucket, Prefix: optional(opts.Prefix), Delimiter: optional(opts.Delimiter),
		KeyMarker: optional(opts.KeyMarker), VersionIdMarker: optional(opts.VersionIDMarker)}
	if opts.MaxKeys > 0 {
		in.MaxKeys = aws.Int32(int32(opts.MaxKeys))
	}
	out, err := s.c.ListObjectVersions(ctx, in)
	if err != nil {
		return objstore.VersionList{}, fail(err)
	}
	l := objstore.VersionList{IsTruncated: aws.ToBool(out.IsTruncated), NextKeyMarker: aws.ToString(out.NextKeyMarker), NextVersionIDMarker: aws.ToString(out.NextVersionIdMarker)}
	for _, v := range out.Versions {
		l.Versions = append(l.Versions, objstore.ObjectInfo{Bucket: bucket, Key: aws.ToString(v.Key), Size: aws.ToInt64(v.Size),
			ETag: strings.Trim(aws.ToString(v.ETag), `"`), LastModified: aws.ToTime(v.LastModified),
			VersionID: ourVersion(v.VersionId), IsLatest: aws.ToBool(v.IsLatest)})
	}
	for _, m := range out.DeleteMarkers {
		l.Versions = append(l.Versions, objstore.ObjectInfo{Bucket: bucket, Key: aws.ToString(m.Key), LastModified: aws.ToTime(m.LastModified),
			VersionID: ourVersion(m.VersionId), IsLatest: aws.ToBool(m.IsLatest), DeleteMarker: true})
	}
	// The store answers versions and markers apart: merge them back into
	// key order, each key's newest first.
	sort.SliceStable(l.Versions, func(i, j int) bool {
		a, b := l.Versions[i], l.Versions[j]
		if a.Key != b.Key {
			return a.Key < b.Key
		}
		return a.LastModified.After(b.LastModified)
	})
	for _, p := range out.CommonPrefixes {
		l.CommonPrefixes = append(l.CommonPrefixes, aws.ToString(p.Prefix))
	}
	return l, nil
}

// PutObjectLock enables Object Lock on a bucket with a default retention.
func (s *Store) PutObjectLock(ctx context.Context, bucket string, cfg objstore.ObjectLockConfig) error {
	c := &types.ObjectLockConfiguration{ObjectLockEnabled: types.ObjectLockEnabledEnabled}
	if cfg.Mode != "" {
		r := &types.DefaultRetention{Mode: types.ObjectLockRetentionMode(cfg.Mode)}
		if cfg.Days > 0 {
			r.Days = aws.Int32(int32(cfg.Days))
		}
		if cfg.Years > 0 {
			r.Years = aws.Int32(int32(cfg.Years))
		}
		c.Rule = &types.ObjectLockRule{DefaultRetention: r}
	}
	_, err := s.c.PutObjectLockConfiguration(ctx, &s3.PutObjectLockConfigurationInput{Bucket: &bucket, ObjectLockConfiguration: c})
	return fail(err)
}

// ObjectLock returns a bucket's Object Lock configuration.
func (s *Store) ObjectLock(ctx context.Context, bucket string) (objstore.ObjectLockConfig, error) {
	out, err := s.c.GetObjectLockConfiguration(ctx, &s3.GetObjectLockConfigurationInput{Bucket: &bucket})
	if err != nil {
		if isCode(err, "ObjectLockConfigurationNotFoundError") || isCode(err, "InvalidRequest") {
			return objstore.ObjectLockConfig{}, objstore.ErrNoObjectLock
		}
		return objstore.ObjectLockConfig{}, fail(err)
	}
	var cfg objstore.ObjectLockConfig
	if c := out.ObjectLockConfiguration; c != nil && c.Rule != nil && c.Rule.DefaultRetention != nil {
		r := c.Rule.DefaultRetention
		cfg = objstore.ObjectLockConfig{Mode: string(r.Mode), Days: int(aws.ToInt32(r.Days)), Years: int(aws.ToInt32(r.Years))}
	}
	return cfg, nil
}

// PutRetention sets a version's retention.
func (s *Store) PutRetention(ctx context.Context, bucket, key, versionID string, r objstore.Retention, bypass bool) (objstore.ObjectInfo, error) {
	in := &s3.PutObjectRetentionInput{Bucket: &bucket, Key: &key, VersionId: version(versionID), Retention: &types.ObjectLockRetention{}}
	if r.Mode != "" {
		in.Retention.Mode = types.ObjectLockRetentionMode(r.Mode)
		in.Retention.RetainUntilDate = aws.Time(r.Until)
	}
	if bypass {
		in.BypassGovernanceRetention = aws.Bool(true)
	}
	if _, err := s.c.PutObjectRetention(ctx, in); err != nil {
		return objstore.ObjectInfo{}, s.lockFailure(ctx, bucket, versionID, err)
	}
	return s.head(ctx, bucket, key, versionID, nil)
}

// PutLegalHold turns a version's legal hold on or off.
func (s *Store) PutLegalHold(ctx context.Context, bucket, key, versionID string, on bool) (objstore.ObjectInfo, error) {
	status := types.ObjectLockLegalHoldStatusOff
	if on {
		status = types.ObjectLockLegalHoldStatusOn
	}
	if _, err := s.c.PutObjectLegalHold(ctx, &s3.PutObjectLegalHoldInput{Bucket: &bucket, Key: &key, VersionId: version(versionID),
		LegalHold: &types.ObjectLockLegalHold{Status: status}}); err != nil {
		return objstore.ObjectInfo{}, s.lockFailure(ctx, bucket, versionID, err)
	}
	return s.head(ctx, bucket, key, versionID, nil)
}

// lockFailure turns the error of a retention or legal hold change into
// objstore's.
func (s *Store) lockFailure(ctx context.Context, bucket, versionID string, err error) error {
	if isCode(err, "AccessDenied") {
		return objstore.ErrLocked
	}
	if isCode(err, "InvalidRequest") {
		var svc *objstore.ServiceError
		if errors.As(fail(err), &svc) && strings.Contains(svc.Message, "Object Lock") {
			return objstore.ErrNoObjectLock
		}
	}
	return s.missing(ctx, bucket, versionID, err)
}

// PutBucketEncryption replaces a bucket's default encryption.
func (s *Store) PutBucketEncryption(ctx context.Context, bucket string, cfg objstore.EncryptionConfig) error {
	if cfg.Algorithm != objstore.SSES3 {
		return fmt.Errorf("%w: default encryption %q", objstore.ErrSSEInvalid, cfg.Algorithm)
	}
	_, err := s.c.PutBucketEncryption(ctx, &s3.PutBucketEncryptionInput{Bucket: &bucket, ServerSideEncryptionConfiguration: &types.ServerSideEncryptionConfiguration{
		Rules: []types.ServerSideEncryptionRule{{ApplyServerSideEncryptionByDefault: &types.ServerSideEncryptionByDefault{SSEAlgorithm: types.ServerSideEncryptionAes256},
			BucketKeyEnabled: aws.Bool(cfg.BucketKeyEnabled)}}}})
	return fail(err)
}

// BucketEncryption returns a bucket's default encryption.
func (s *Store) BucketEncryption(ctx context.Context, bucket string) (objstore.EncryptionConfig, error) {
	out, err := s.c.GetBucketEncryption(ctx, &s3.GetBucketEncryptionInput{Bucket: &bucket})
	if err != nil {
		if isCode(err, "ServerSideEncryptionConfigurationNotFoundError") {
			return objstore.EncryptionConfig{}, objstore.ErrNoEncryptionConfig
		}
		return objstore.EncryptionConfig{}, fail(err)
	}
	if c := out.ServerSideEncryptionConfiguration; c != nil {
		for _, r := range c.Rules {
			if d := r.ApplyServerSideEncryptionByDefault; d != nil && d.SSEAlgorithm == types.ServerSideEncryptionAes256 {
				return objstore.EncryptionConfig{Algorithm: objstore.SSES3, BucketKeyEnabled: aws.ToBool(r.BucketKeyEnabled)}, nil
			}
		}
	}
	return objstore.EncryptionConfig{}, objstore.ErrNoEncryptionConfig
}

// DeleteBucketEncryption removes a bucket's default encryption.
func (s *Store) DeleteBucketEncryption(ctx context.Context, bucket string) error {
	_, err := s.c.DeleteBucketEncryption(ctx, &s3.DeleteBucketEncryptionInput{Bucket: &bucket})
	return fail(err)
}
