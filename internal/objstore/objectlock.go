package objstore

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"time"
)

// Object Lock keeps versions from being removed: until a retention date
// (mode GOVERNANCE, which a caller allowed to may bypass, or COMPLIANCE,
// which nobody may), or while a legal hold is on. It needs versioning:
// a delete without a version id still makes a delete marker, and only
// removing a version is refused. The retention and legal hold of a
// version are in its metadata; a bucket's configuration (enabled, and a
// default retention for new versions) is buckets/<b>/object-lock.json.

// Retention modes.
const (
	LockGovernance = "GOVERNANCE"
	LockCompliance = "COMPLIANCE"
)

// Errors of Object Lock.
var (
	// ErrNoObjectLock is an Object Lock setting for a bucket without it.
	ErrNoObjectLock = errors.New("objstore: bucket has no object lock configuration")
	// ErrLocked is removing, or shortening the retention of, a version
	// Object Lock protects.
	ErrLocked = errors.New("objstore: the version is protected by object lock")
	// ErrNeedsVersioning is enabling Object Lock on a bucket whose
	// versioning is not enabled, or suspending versioning once it is.
	ErrNeedsVersioning = errors.New("objstore: object lock needs versioning enabled")
	// ErrNoRetention and ErrNoLegalHold are reading what a version does
	// not have.
	ErrNoRetention = errors.New("objstore: the version has no retention")
	ErrNoLegalHold = errors.New("objstore: the version has no legal hold")
)

// ObjectLockConfig is a bucket's Object Lock configuration: enabled, and
// the retention new versions get unless their writer names one (Mode ""
// for none; Days or Years).
type ObjectLockConfig struct {
	Mode  string `json:"mode,omitempty"`
	Days  int    `json:"days,omitempty"`
	Years int    `json:"years,omitempty"`
}

// Retention is a version's retention: a mode and a date before which it
// cannot be removed. The zero Retention is none.
type Retention struct {
	Mode  string
	Until time.Time
}

// LockStore keeps Object Lock configurations and the retention and legal
// holds of versions. Its versionID arguments are as in VersionStore.
type LockStore interface {
	// PutObjectLock enables Object Lock on a bucket (whose versioning
	// must be enabled) with a default retention, replacing the one it
	// had.
	PutObjectLock(ctx context.Context, bucket string, cfg ObjectLockConfig) error
	// ObjectLock returns a bucket's configuration; ErrNoObjectLock if
	// Object Lock is not enabled.
	ObjectLock(ctx context.Context, bucket string) (ObjectLockConfig, error)
	// PutRetention sets a version's retention. Shortening or removing a
	// retention in force is ErrLocked, unless it is GOVERNANCE and
	// bypass is set; COMPLIANCE can only be extended.
	PutRetention(ctx context.Context, bucket, key, versionID string, r Retention, bypass bool) (ObjectInfo, error)
	// PutLegalHold turns a version's legal hold on or off.
	PutLegalHold(ctx context.Context, bucket, key, versionID string, on bool) (ObjectInfo, error)
}

// WithBypassGovernance returns ctx allowing DeleteVersion to remove a
// version under GOVERNANCE retention (x-amz-bypass-governance-retention,
// for a caller allowed s3:BypassGovernanceRetention).
func WithBypassGovernance(ctx context.Context) context.Context {
	return context.WithValue(ctx, bypassKey{}, true)
}

type bypassKey struct{}

func bypassGovernance(ctx context.Context) bool {
	b, _ := ctx.Value(bypassKey{}).(bool)
	return b
}

// protected reports whether a version may not be removed at now: a
// legal hold, a COMPLIANCE retention in force, or a GOVERNANCE one in
// force without bypass.
func protected(hold bool, r Retention, now time.Time, bypass bool) bool {
	if hold {
		return true
	}
	if r.Mode == "" || !now.Before(r.Until) {
		return false
	}
	return r.Mode == LockCompliance || !bypass
}

func (d *Disk) objectLockPath(bucket string) string {
	return filepath.Join(d.bucketDir(bucket), "object-lock.json")
}

// PutObjectLock enables Object Lock on a bucket with versioning enabled.
func (d *Disk) PutObjectLock(ctx context.Context, bucket string, cfg ObjectLockConfig) error {
	d.mu.RLock()
	defer d.mu.RUnlock()
	if err := d.checkBucket(bucket); err != nil {
		return err
	}
	if v, err := d.versioning(bucket); err != nil || v != VersioningEnabled {
		if err != nil {
			return err
		}
		return ErrNeedsVersioning
	}
	return writeJSONFile(d.tmp, d.objectLockPath(bucket), cfg)
}

// ObjectLock returns a bucket's Object Lock configuration.
func (d *Disk) ObjectLock(ctx context.Context, bucket string) (ObjectLockConfig, error) {
	if err := d.checkBucket(bucket); err != nil {
		return ObjectLockConfig{}, err
	}
	cfg, ok, err := d.objectLock(bucket)
	if err == nil && !ok {
		err = ErrNoObjectLock
	}
	return cfg, err
}

// objectLock reads a bucket's configuration; ok is false without one.
func (d *Disk) objectLock(bucket string) (cfg ObjectLockConfig, ok bool, err error) {
	if err := readJSONFile(d.objectLockPath(bucket), &cfg); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return cfg, false, nil
		}
		return cfg, false, fmt.Errorf("objstore: object lock of %s: %w", bucket, err)
	}
	return cfg, true, nil
}

// stamp sets what a new version written to bucket carries besides its
// content: its version id, and under Object Lock the bucket's default
// retention unless the writer named one. A retention or legal hold
// named for a bucket without Object Lock is ErrNoObjectLock.
func (d *Disk) stamp(bucket string, m *fileMeta) error {
	id, err := d.newVersion(bucket)
	if err != nil {
		return err
	}
	m.VersionID = id
	locked := m.LockMode != "" || m.LegalHold
	cfg, ok, err := d.objectLock(bucket)
	switch {
	case err != nil:
		return err
	case !ok && locked:
		return ErrNoObjectLock
	case ok && m.LockMode == "" && cfg.Mode != "":
		m.LockMode = cfg.Mode
		m.LockUntil = m.Modified.AddDate(cfg.Years, 0, cfg.Days).UTC()
	}
	return nil
}

// PutRetention sets a version's retention.
func (d *Disk) PutRetention(ctx context.Context, bucket, key, versionID string, r Retention, bypass bool) (ObjectInfo, error) {
	var out ObjectInfo
	err := d.changeVersion(bucket, key, versionID, func(m *fileMeta) error {
		now := d.now()
		cur := Retention{Mode: m.LockMode, Until: m.LockUntil}
		inForce := cur.Mode != "" && now.Before(cur.Until)
		weaker := r.Mode == "" || r.Until.Before(cur.Until) || cur.Mode == LockCompliance && r.Mode != LockCompliance
		if inForce && weaker && (cur.Mode == LockCompliance || !bypass) {
			return ErrLocked
		}
		m.LockMode, m.LockUntil = r.Mode, r.Until.UTC()
		if r.Mode == "" {
			m.LockUntil = time.Time{}
		}
		return nil
	}, &out)
	return out, err
}

// PutLegalHold turns a version's legal hold on or off.
func (d *Disk) PutLegalHold(ctx context.Context, bucket, key, versionID string, on bool) (ObjectInfo, error) {
	var out ObjectInfo
	err := d.changeVersion(bucket, key, versionID, func(m *fileMeta) error {
		m.LegalHold = on
		return nil
	}, &out)
	return out, err
}

// changeVersion rewrites the metadata of one version of a key in a
// bucket with Object Lock, under the key's lock, and describes the
// result in out.
func (d *Disk) changeVersion(bucket, key, versionID string, change func(*fileMeta) error, out *ObjectInfo) error {
	if versionID != "" && !ValidVersionID(versionID) {
		return ErrInvalidVersion
	}
	if err := checkKey(key); err != nil {
		if err := d.checkBucket(bucket); err != nil {
			return err
		}
		return ErrNoSuchKey
	}
	unlock := d.keys.lock(bucket + "/" + key)
	defer unlock()
	if _, ok, err := d.objectLock(bucket); err != nil || !ok {
		if err == nil {
			if err = d.checkBucket(bucket); err == nil {
				err = ErrNoObjectLock
			}
		}
		return err
	}
	path := d.objectPath(bucket, key)
	f, m, err := d.openObject(bucket, key)
	if versionID != "" {
		if err == nil {
			f.Close()
		}
		f, m, path, err = d.findVersion(bucket, key, storedID(versionID))
		if err == nil && m.DeleteMarker {
			f.Close()
			return &MarkerError{VersionID: m.VersionID, LastModified: m.Modified}
		}
	}
	if err != nil {
		return err
	}
	defer f.Close()
	if err := change(m); err != nil {
		return err
	}
	if err := d.rewriteLocked(bucket, key, path, f, m, func(*fileMeta) {}); err != nil {
		return err
	}
	*out = m.info(bucket)
	return nil
}
