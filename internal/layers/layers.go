// Package layers keeps Lambda layer versions on the backbone, as package
// registry keeps functions: each version's metadata in a JetStream
// key-value bucket, its zip in an object store under the zip's SHA-256
// (so identical content is stored once), and the unpacked content in a
// local cache directory keyed by that hash. Reads come from an in-memory
// copy that a watch on the bucket keeps current, on every node sharing
// the backbone.
//
// Version numbers count from 1 per layer and are never reused: a deleted
// version stays behind as a tombstone, hidden from the API but still
// resolvable by the functions that use it (on Lambda they keep their
// copy of the content).
package layers

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/aloft-dev/aloft/internal/bundle"
	"github.com/aloft-dev/aloft/internal/fault"
	"github.com/aloft-dev/aloft/internal/follow"
	"github.com/aloft-dev/aloft/internal/function"
	"github.com/aloft-dev/aloft/internal/ids"
)

const (
	metaBucket = "aloft_layers"
	codeBucket = "aloft_layer_code"
)

// Version is one layer version as stored.
type Version struct {
	Name                    string      `json:"name"`
	Region                  string      `json:"region"`
	Version                 int64       `json:"version"`
	Description             string      `json:"description,omitempty"`
	CompatibleRuntimes      []string    `json:"compatibleRuntimes,omitempty"`
	CompatibleArchitectures []string    `json:"compatibleArchitectures,omitempty"`
	LicenseInfo             string      `json:"licenseInfo,omitempty"`
	CreatedDate             string      `json:"createdDate"`
	CodeSha256              string      `json:"codeSha256"`
	CodeSize                int64       `json:"codeSize"`
	CodeHex                 string      `json:"codeHex"`  // hex SHA-256 of the zip: object and cache key
	Unzipped                int64       `json:"unzipped"` // bytes the zip's entries declare
	Deleted                 bool        `json:"deleted,omitempty"`
	Statements              []Statement `json:"statements,omitempty"`
	PolicyRevision          string      `json:"policyRevision,omitempty"`
}

// Statement is one statement of a layer version's resource policy, as
// AddLayerVersionPermission takes it.
type Statement struct {
	Sid            string `json:"sid"`
	Action         string `json:"action"`
	Principal      string `json:"principal"`
	OrganizationID string `json:"organizationId,omitempty"`
}

// ARN is the version's LayerVersionArn.
func (v *Version) ARN() string { return function.LayerARN(v.Region, v.Name, v.Version) }

// LayerARN is the ARN of the version's layer.
func (v *Version) LayerARN() string { return function.LayerARN(v.Region, v.Name, 0) }

// Store is the layer store. It is safe for concurrent use.
type Store struct {
	kv  jetstream.KeyValue
	obj jetstream.ObjectStore
	dir string
	log *slog.Logger

	mu       sync.RWMutex
	versions map[string]map[int64]*Version // guarded by mu: by layer name, then version

	extractMu sync.Mutex // serialises cache fills
	follow    *follow.Follower
}

// Open creates or opens the store's buckets, loads every version and
// starts watching for changes made by other nodes. dir holds the
// unpacked and merged content.
func Open(ctx context.Context, js jetstream.JetStream, dir string, log *slog.Logger) (*Store, error) {
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: metaBucket, History: 1, Storage: jetstream.FileStorage})
	if err != nil {
		return nil, fmt.Errorf("layers: open bucket: %w", err)
	}
	obj, err := js.CreateOrUpdateObjectStore(ctx, jetstream.ObjectStoreConfig{Bucket: codeBucket, Storage: jetstream.FileStorage})
	if err != nil {
		return nil, fmt.Errorf("layers: open code store: %w", err)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Store{kv: kv, obj: obj, dir: dir, log: log, versions: map[string]map[int64]*Version{}}
	if s.follow, err = follow.KV(ctx, kv, s.apply, nil); err != nil {
		return nil, fmt.Errorf("layers: %w", err)
	}
	return s, nil
}

// Close stops the watch.
func (s *Store) Close() { s.follow.Stop() }

// Keys: "v.NAME.N" holds version N of NAME, "n.NAME" the last number
// given out for NAME.
func versionKey(name string, v int64) string { return "v." + name + "." + strconv.FormatInt(v, 10) }
func counterKey(name string) string          { return "n." + name }

func (s *Store) apply(e jetstream.KeyValueEntry) {
	if !strings.HasPrefix(e.Key(), "v.") || follow.Deleted(e) {
		return
	}
	var v Version
	if err := json.Unmarshal(e.Value(), &v); err != nil {
		s.log.Error("layers: unreadable record", "key", e.Key(), "err", err)
		return
	}
	s.put(&v)
}

func (s *Store) put(v *Version) {
	s.mu.Lock()
	m := s.versions[v.Name]
	if m == nil {
		m = map[int64]*Version{}
		s.versions[v.Name] = m
	}
	m[v.Version] = v
	s.mu.Unlock()
}

// Input is what PublishLayerVersion stores besides the zip.
type Input struct {
	Name                    string
	Region                  string
	Description             string
	CompatibleRuntimes      []string
	CompatibleArchitectures []string
	LicenseInfo             string
}

// Publish stores a new version of a layer with the given (checked) zip
// content and returns it.
func (s *Store) Publish(ctx context.Context, in Input, zip []byte, info bundle.Info) (*Version, error) {
	if err := s.putCode(ctx, zip, info); err != nil {
		return nil, err
	}
	n, err := s.nextNumber(ctx, in.Name)
	if err != nil {
		return nil, err
	}
	v := &Version{
		Name: in.Name, Region: in.Region, Version: n, Description: in.Description,
		CompatibleRuntimes: in.CompatibleRuntimes, CompatibleArchitectures: in.CompatibleArchitectures,
		LicenseInfo: in.LicenseInfo, CreatedDate: time.Now().UTC().Format("2006-01-02T15:04:05.000-0700"),
		CodeSha256: info.Sha256, CodeSize: info.Size, CodeHex: info.Hex, Unzipped: info.Unzipped,
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("layers: encode: %w", err)
	}
	if _, err := s.kv.Create(ctx, versionKey(in.Name, n), b); err != nil {
		return nil, fmt.Errorf("layers: store %s:%d: %w", in.Name, n, err)
	}
	s.put(v)
	return v, nil
}

// nextNumber takes the next version number of a layer, guarded by the
// counter's revision so two publishers never get the same one.
func (s *Store) nextNumber(ctx context.Context, name string) (int64, error) {
	key := counterKey(name)
	for attempt := 0; attempt < 20; attempt++ {
		e, err := s.kv.Get(ctx, key)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			if _, err := s.kv.Create(ctx, key, []byte("1")); err == nil {
				return 1, nil
			} else if !errors.Is(err, jetstream.ErrKeyExists) {
				return 0, fmt.Errorf("layers: number %s: %w", name, err)
			}
			continue
		}
		if err != nil {
			return 0, fmt.Errorf("layers: number %s: %w", name, err)
		}
		cur, err := strconv.ParseInt(string(e.Value()), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("layers: number %s: %w", name, err)
		}
		if _, err := s.kv.Update(ctx, key, []byte(strconv.FormatInt(cur+1, 10)), e.Revision()); err == nil {
			return cur + 1, nil
		} else if !wrongRevision(err) {
			return 0, fmt.Errorf("layers: number %s: %w", name, err)
		}
	}
	return 0, function.Errorf(fault.Conflict, "ResourceConflictException", "Too many concurrent publications of layer %s; try again.", name)
}

func wrongRevision(err error) bool {
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) && apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence
}

// Get returns version n of the layer called name, deleted or not.
func (s *Store) Get(name string, n int64) (*Version, bool) {
	s.mu.RLock()
	v, ok := s.versions[name][n]
	s.mu.RUnlock()
	return v, ok
}

// Live returns version n of the layer called name unless it was deleted.
func (s *Store) Live(name string, n int64) (*Version, bool) {
	v, ok := s.Get(name, n)
	if !ok || v.Deleted {
		return nil, false
	}
	return v, true
}

// Versions returns the live versions of the layer called name, newest
// first.
func (s *Store) Versions(name string) []*Version {
	s.mu.RLock()
	out := make([]*Version, 0, len(s.versions[name]))
	for _, v := range s.versions[name] {
		if !v.Deleted {
			out = append(out, v)
		}
	}
	s.mu.RUnlock()
	slices.SortFunc(out, func(a, b *Version) int { return int(b.Version - a.Version) })
	return out
}

// Names returns the names of the layers with a live version, sorted.
func (s *Store) Names() []string {
	s.mu.RLock()
	var out []string
	for name, m := range s.versions {
		for _, v := range m {
			if !v.Deleted {
				out = append(out, name)
				break
			}
		}
	}
	s.mu.RUnlock()
	slices.Sort(out)
	return out
}

// Delete hides version n of the layer called name. Its record stays as a
// tombstone, and its content with it, for the functions that use it.
// Deleting a version that does not exist is no error, as on Lambda.
func (s *Store) Delete(ctx context.Context, name string, n int64) error {
	_, err := s.modify(ctx, name, n, func(v *Version) error {
		v.Deleted = true
		v.Statements, v.PolicyRevision = nil, ""
		return nil
	})
	if fault.KindOf(err) == fault.NotFound {
		return nil
	}
	return err
}

// errNoVersion is what modify returns for a version that is not there
// (or deleted); callers give Lambda's message.
var errNoVersion = function.Errorf(fault.NotFound, "ResourceNotFoundException", "Layer version not found.")

// modify applies change to a live version and writes it back guarded by
// the revision it read.
func (s *Store) modify(ctx context.Context, name string, n int64, change func(*Version) error) (*Version, error) {
	key := versionKey(name, n)
	for attempt := 0; ; attempt++ {
		e, err := s.kv.Get(ctx, key)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			return nil, errNoVersion
		}
		if err != nil {
			return nil, fmt.Errorf("layers: read %s: %w", key, err)
		}
		var v Version
		if err := json.Unmarshal(e.Value(), &v); err != nil {
			return nil, fmt.Errorf("layers: decode %s: %w", key, err)
		}
		if v.Deleted {
			return nil, errNoVersion
		}
		if err := change(&v); err != nil {
			return nil, err
		}
		b, err := json.Marshal(&v)
		if err != nil {
			return nil, fmt.Errorf("layers: encode: %w", err)
		}
		if _, err := s.kv.Update(ctx, key, b, e.Revision()); err != nil {
			if attempt < 5 && wrongRevision(err) {
				continue
			}
			return nil, fmt.Errorf("layers: update %s: %w", key, err)
		}
		s.put(&v)
		return &v, nil
	}
}

// AddStatement adds a statement to a version's policy, guarded by the
// policy's revision when revisionID is set, and returns the version.
func (s *Store) AddStatement(ctx context.Context, name string, n int64, st Statement, revisionID string) (*Version, error) {
	return s.modify(ctx, name, n, func(v *Version) error {
		if revisionID != "" && revisionID != v.PolicyRevision {
			return errPolicyRevision
		}
		for _, o := range v.Statements {
			if o.Sid == st.Sid {
				return function.Errorf(fault.Conflict, "ResourceConflictException",
					"The statement id (%s) provided already exists. Please provide a new statement id, or remove the existing statement.", st.Sid)
			}
		}
		v.Statements = append(v.Statements, st)
		v.PolicyRevision = ids.New()
		return nil
	})
}

// RemoveStatement removes the statement sid from a version's policy,
// guarded like AddStatement.
func (s *Store) RemoveStatement(ctx context.Context, name string, n int64, sid, revisionID string) error {
	_, err := s.modify(ctx, name, n, func(v *Version) error {
		if revisionID != "" && revisionID != v.PolicyRevision {
			return errPolicyRevision
		}
		i := slices.IndexFunc(v.Statements, func(o Statement) bool { return o.Sid == sid })
		if i < 0 {
			return function.Errorf(fault.NotFound, "ResourceNotFoundException", "Statement %s is not found in resource policy.", sid)
		}
		v.Statements = slices.Delete(v.Statements, i, i+1)
		v.PolicyRevision = ids.New()
		if len(v.Statements) == 0 {
			v.Statements = nil
		}
		return nil
	})
	return err
}

var errPolicyRevision = function.Errorf(fault.PreconditionFailed, "PreconditionFailedException",
	"The Revision Id provided does not match the latest Revision Id. Call the GetLayerVersionPolicy API to retrieve the latest Revision Id")

// putCode stores a checked zip unless an identical one is there, and
// unpacks it into the local cache.
func (s *Store) putCode(ctx context.Context, zip []byte, info bundle.Info) error {
	if _, err := s.obj.GetInfo(ctx, info.Hex); errors.Is(err, jetstream.ErrObjectNotFound) {
		if _, err := s.obj.PutBytes(ctx, info.Hex, zip); err != nil {
			return fmt.Errorf("layers: store content: %w", err)
		}
	} else if err != nil {
		return fmt.Errorf("layers: look up content: %w", err)
	}
	dir := s.unpackedDir(info.Hex)
	if _, err := os.Stat(dir); err == nil {
		return nil
	}
	return bundle.Extract(zip, dir)
}

// Zip returns the zip stored under the hex digest key. An error of kind
// fault.NotFound means there is none.
func (s *Store) Zip(ctx context.Context, key string) ([]byte, error) {
	b, err := s.obj.GetBytes(ctx, key)
	if errors.Is(err, jetstream.ErrObjectNotFound) {
		return nil, function.Errorf(fault.NotFound, "ResourceNotFoundException", "no layer content %s", key)
	}
	if err != nil {
		return nil, fmt.Errorf("layers: fetch content %s: %w", key, err)
	}
	return b, nil
}

func (s *Store) unpackedDir(key string) string { return filepath.Join(s.dir, "content", key) }

// Unpacked returns the directory holding the unpacked content stored
// under key, filling the local cache from the object store if this node
// has not seen it yet.
func (s *Store) Unpacked(ctx context.Context, key string) (string, error) {
	dir := s.unpackedDir(key)
	if err := bundle.ExtractOnce(dir, &s.extractMu, func() ([]byte, error) { return s.Zip(ctx, key) }); err != nil {
		return "", fmt.Errorf("layers: unpack %s: %w", key, err)
	}
	return dir, nil
}

// Resolve returns the versions that layer version ARNs name, deleted
// ones included (a function keeps running with the layers it was given).
func (s *Store) Resolve(arns []string) ([]*Version, error) {
	out := make([]*Version, 0, len(arns))
	for _, arn := range arns {
		_, name, n, ok := function.ParseLayerVersionARN(arn)
		if !ok {
			return nil, fmt.Errorf("layers: malformed layer version ARN %q", arn)
		}
		v, ok := s.Get(name, n)
		if !ok {
			return nil, fmt.Errorf("layers: no layer version %s", arn)
		}
		out = append(out, v)
	}
	return out, nil
}

// Merged returns a read-only directory holding the content of the layer
// versions that arns name, merged in order (a later layer's file wins
// over an earlier one's at the same path), or "" for none. Merged
// directories are cached on local disk under a key made of the
// versions' content hashes.
func (s *Store) Merged(ctx context.Context, arns []string) (string, error) {
	if len(arns) == 0 {
		return "", nil
	}
	vs, err := s.Resolve(arns)
	if err != nil {
		return "", err
	}
	keys := make([]string, len(vs))
	for i, v := range vs {
		keys[i] = v.CodeHex
	}
	if len(keys) == 1 {
		return s.Unpacked(ctx, keys[0])
	}
	sum := sha256.Sum256([]byte(strings.Join(keys, "\n")))
	dst := filepath.Join(s.dir, "merged", hex.EncodeToString(sum[:]))
	if _, err := os.Stat(dst); err == nil {
		return dst, nil
	}
	srcs := make([]string, len(keys))
	for i, k := range keys {
		if srcs[i], err = s.Unpacked(ctx, k); err != nil {
			return "", err
		}
	}
	s.extractMu.Lock()
	defer s.extractMu.Unlock()
	if _, err := os.Stat(dst); err == nil {
		return dst, nil
	}
	if err := Merge(dst, srcs); err != nil {
		return "", fmt.Errorf("layers: merge %v: %w", arns, err)
	}
	return dst, nil
}

// Sweep removes cached content and merged directories that no version
// known here uses. Call it before any instance runs.
func (s *Store) Sweep() error {
	used := map[string]bool{}
	s.mu.RLock()
	for _, m := range s.versions {
		for _, v := range m {
			used[v.CodeHex] = true
		}
	}
	s.mu.RUnlock()
	entries, err := os.ReadDir(filepath.Join(s.dir, "content"))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("layers: sweep: %w", err)
	}
	for _, e := range entries {
		if !used[e.Name()] {
			os.RemoveAll(filepath.Join(s.dir, "content", e.Name()))
		}
	}
	return os.RemoveAll(filepath.Join(s.dir, "merged")) // rebuilt on demand
}
