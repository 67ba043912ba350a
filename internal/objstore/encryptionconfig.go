package objstore

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// EncryptionStore keeps buckets' default encryption: what PutObject,
// CopyObject and CreateUpload apply to a write that names none.
type EncryptionStore interface {
	// PutBucketEncryption replaces a bucket's default encryption.
	PutBucketEncryption(ctx context.Context, bucket string, cfg EncryptionConfig) error
	// BucketEncryption returns a bucket's default encryption, or
	// ErrNoEncryptionConfig if it has none.
	BucketEncryption(ctx context.Context, bucket string) (EncryptionConfig, error)
	// DeleteBucketEncryption removes a bucket's default encryption;
	// removing none is not an error.
	DeleteBucketEncryption(ctx context.Context, bucket string) error
}

var _ EncryptionStore = (*Disk)(nil)

// ErrNoEncryptionConfig reports a bucket without default encryption.
var ErrNoEncryptionConfig = errors.New("objstore: the bucket has no default encryption")

// EncryptionConfig is a bucket's default encryption.
type EncryptionConfig struct {
	// Algorithm is SSES3, the only one the store implements.
	Algorithm string `json:"algorithm"`
	// BucketKeyEnabled is kept and returned as it was set; it changes
	// nothing for SSE-S3.
	BucketKeyEnabled bool `json:"bucketKeyEnabled,omitempty"`
}

func (d *Disk) encryptionPath(bucket string) string {
	return filepath.Join(d.bucketDir(bucket), "encryption.json")
}

// PutBucketEncryption replaces a bucket's default encryption.
func (d *Disk) PutBucketEncryption(ctx context.Context, bucket string, cfg EncryptionConfig) error {
	if cfg.Algorithm != SSES3 {
		return fmt.Errorf("%w: default encryption %q", ErrSSEInvalid, cfg.Algorithm)
	}
	d.mu.RLock()
	defer d.mu.RUnlock()
	if err := d.checkBucket(bucket); err != nil {
		return err
	}
	return writeJSONFile(d.tmp, d.encryptionPath(bucket), cfg)
}

// BucketEncryption returns a bucket's default encryption.
func (d *Disk) BucketEncryption(ctx context.Context, bucket string) (EncryptionConfig, error) {
	if !ValidBucketName(bucket) {
		return EncryptionConfig{}, ErrNoSuchBucket
	}
	var cfg EncryptionConfig
	if err := readJSONFile(d.encryptionPath(bucket), &cfg); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			if err := d.checkBucket(bucket); err != nil {
				return EncryptionConfig{}, err
			}
			return EncryptionConfig{}, ErrNoEncryptionConfig
		}
		return EncryptionConfig{}, fmt.Errorf("objstore: default encryption of %s: %w", bucket, err)
	}
	if cfg.Algorithm != SSES3 {
		return EncryptionConfig{}, fmt.Errorf("%w: default encryption of %s: algorithm %q", ErrCorrupt, bucket, cfg.Algorithm)
	}
	return cfg, nil
}

// DeleteBucketEncryption removes a bucket's default encryption.
func (d *Disk) DeleteBucketEncryption(ctx context.Context, bucket string) error {
	d.mu.RLock()
	defer d.mu.RUnlock()
	if err := d.checkBucket(bucket); err != nil {
		return err
	}
	if err := os.Remove(d.encryptionPath(bucket)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("objstore: remove default encryption of %s: %w", bucket, err)
	}
	return nil
}
