// Package registry keeps the functions Aloft knows about and their code on
// the backbone: configurations in a JetStream key-value bucket, zips in an
// object store, and unpacked code in a local cache directory keyed by the
// zip's hash. Reads come from an in-memory copy that a watch on the bucket
// keeps current, so the invoke path never waits on the backbone.
package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sort"
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
	bucket      = "aloft_functions"
	codeBucket  = "aloft_code"
	eventBucket = "aloft_event_config"
)

// Record is one function as stored.
type Record struct {
	Config  function.Config `json:"config"`
	Region  string          `json:"region"`
	CodeHex string          `json:"codeHex"` // hex SHA-256 of the zip; the object and cache key
	// Reserved is the function's reserved concurrency, or nil when it
	// shares the account's unreserved concurrency.
	Reserved *int `json:"reserved,omitempty"`
	// Provisioned is how many instances are kept initialised, and when
	// that was last set (RFC 3339).
	// That is $LATEST's; ProvisionedFor holds those of versions and
	// aliases (versions.go).
	Provisioned         int                      `json:"provisioned,omitempty"`
	ProvisionedModified string                   `json:"provisionedModified,omitempty"`
	ProvisionedFor      map[string]*Provisioning `json:"provisionedFor,omitempty"`
	// Tags are the function's tags; Aloft's own (function.NetworkTag)
	// shape its instances.
	Tags map[string]string `json:"tags,omitempty"`
	// Policy is the function's resource-based policy document (what
	// AddPermission granted), or empty.
	Policy string `json:"policy,omitempty"`
	// Versions are the published versions in ascending order, LastVersion
	// the number of the last one ever published (numbers are never used
	// again), and Aliases the aliases by name (versions.go).
	Versions    []Version         `json:"versions,omitempty"`
	LastVersion int               `json:"lastVersion,omitempty"`
	Aliases     map[string]*Alias `json:"aliases,omitempty"`

	rev uint64 // key-value revision this record was read at
}

// Revision orders the records of one function: a later change has a higher
// revision.
func (rec *Record) Revision() uint64 { return rec.rev }

// derive sets the parts of the configuration that come from elsewhere in
// the record.
func (rec *Record) derive() {
	rec.Config.Network = function.NetworkOf(rec.Tags)
	rec.Config.AllowNet = function.AllowNetOf(rec.Tags)
	rec.Config.PoolKey = rec.Config.FunctionName
	// Tags are the function's, so its versions get the same network.
	for i := range rec.Versions {
		c := &rec.Versions[i].Config
		c.Network, c.AllowNet = rec.Config.Network, rec.Config.AllowNet
		c.PoolKey = c.FunctionName + ":" + c.Version
	}
}

// sameNetwork reports whether instances made for a and b get the same
// network.
func sameNetwork(a, b *function.Config) bool {
	return a.Network == b.Network && slices.Equal(a.AllowNet, b.AllowNet)
}

// Registry is the function registry. Its methods are safe for concurrent use.
type Registry struct {
	kv      jetstream.KeyValue
	events  jetstream.KeyValue // event-invoke configurations, by function name
	obj     jetstream.ObjectStore
	codeDir string
	log     *slog.Logger

	mu          sync.RWMutex
	records     map[string]*Record  // guarded by mu
	gone        map[string]uint64   // guarded by mu: revision a deleted name had
	hooks       []func(name string) // guarded by mu
	reservedSum int                 // guarded by mu: sum of Reserved over records

	extractMu sync.Mutex // serialises code cache fills

	follow *follow.Follower
}

// Open creates or opens the registry's buckets, loads every function and
// starts watching for changes made by other nodes.
func Open(ctx context.Context, js jetstream.JetStream, codeDir string, log *slog.Logger) (*Registry, error) {
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: bucket, History: 1, Storage: jetstream.FileStorage})
	if err != nil {
		return nil, fmt.Errorf("registry: open bucket: %w", err)
	}
	obj, err := js.CreateOrUpdateObjectStore(ctx, jetstream.ObjectStoreConfig{Bucket: codeBucket, Storage: jetstream.FileStorage})
	if err != nil {
		return nil, fmt.Errorf("registry: open code store: %w", err)
	}
	events, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: eventBucket, History: 1, Storage: jetstream.FileStorage})
	if err != nil {
		return nil, fmt.Errorf("registry: open event config bucket: %w", err)
	}
	r := &Registry{kv: kv, events: events, obj: obj, codeDir: codeDir, log: log, records: map[string]*Record{}, gone: map[string]uint64{}}
	if r.follow, err = follow.KV(ctx, kv, r.apply, nil); err != nil {
		return nil, fmt.Errorf("registry: %w", err)
	}
	return r, nil
}

// Close stops the watch.
func (r *Registry) Close() { r.follow.Stop() }

// OnChange registers fn to be called with a function's name whenever its
// record changes or is deleted, on this node or another.
func (r *Registry) OnChange(fn func(name string)) {
	r.mu.Lock()
	r.hooks = append(r.hooks, fn)
	r.mu.Unlock()
}

// apply folds a watched entry into the cache, ignoring stale revisions.
func (r *Registry) apply(e jetstream.KeyValueEntry) {
	name := e.Key()
	r.mu.Lock()
	cur := r.records[name]
	if (cur != nil && cur.rev >= e.Revision()) || r.gone[name] >= e.Revision() {
		r.mu.Unlock()
		return
	}
	changed := cur != nil
	switch e.Operation() {
	case jetstream.KeyValueDelete, jetstream.KeyValuePurge:
		delete(r.records, name)
		r.gone[name] = e.Revision()
	default:
		var rec Record
		if err := json.Unmarshal(e.Value(), &rec); err != nil {
			r.mu.Unlock()
			r.log.Error("registry: unreadable record", "function", name, "err", err)
			return
		}
		rec.rev = e.Revision()
		rec.derive()
		r.records[name] = &rec
		changed = cur != nil && (cur.Config.RevisionID != rec.Config.RevisionID || !sameNetwork(&cur.Config, &rec.Config))
	}
	r.recountLocked()
	hooks := r.hooks
	r.mu.Unlock()
	if changed {
		for _, h := range hooks {
			h(name)
		}
	}
}

// store records rec at revision rev in the cache and, when changed is set
// and the watch has not done so already, tells the hooks.
func (r *Registry) store(name string, rec *Record, rev uint64, changed bool) {
	r.mu.Lock()
	cur := r.records[name]
	fresh := (cur == nil || cur.rev < rev) && r.gone[name] < rev
	if fresh {
		rec.rev = rev
		r.records[name] = rec
		r.recountLocked()
	}
	hooks := r.hooks
	r.mu.Unlock()
	if changed && fresh { // otherwise the watch got there first and told the hooks
		for _, h := range hooks {
			h(name)
		}
	}
}

// recountLocked recomputes reservedSum; the caller holds r.mu.
func (r *Registry) recountLocked() {
	n := 0
	for _, rec := range r.records {
		if rec.Reserved != nil {
			n += *rec.Reserved
		}
	}
	r.reservedSum = n
}

// ReservedTotal returns the concurrency reserved by all functions.
func (r *Registry) ReservedTotal() int {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.reservedSum
}

// SetReserved sets (or, with nil, removes) a function's reserved
// concurrency. check sees the total reserved by the other functions.
func (r *Registry) SetReserved(ctx context.Context, name string, n *int, check func(others int) error) (*Record, error) {
	return r.Amend(ctx, name, func(rec *Record) error {
		if check != nil {
			others := r.ReservedTotal()
			if rec.Reserved != nil {
				others -= *rec.Reserved
			}
			if err := check(others); err != nil {
				return err
			}
		}
		rec.Reserved = n
		return nil
	})
}

// Amend changes a function's settings that are not part of its
// configuration (concurrency or tags, say): the revision id stays, and so
// do the function's instances unless their network changes.
func (r *Registry) Amend(ctx context.Context, name string, change func(rec *Record) error) (*Record, error) {
	var before function.Config
	rec, rev, err := r.modify(ctx, name, func(rec *Record) error {
		id := rec.Config.RevisionID
		before = rec.Config
		err := change(rec)
		rec.Config.RevisionID = id
		return err
	})
	if err != nil {
		return nil, err
	}
	r.store(name, rec, rev, !sameNetwork(&before, &rec.Config))
	return rec, nil
}

// Get returns the function called name.
func (r *Registry) Get(name string) (*Record, bool) {
	r.mu.RLock()
	rec, ok := r.records[name]
	r.mu.RUnlock()
	return rec, ok
}

// List returns every function, sorted by name.
func (r *Registry) List() []*Record {
	r.mu.RLock()
	out := make([]*Record, 0, len(r.records))
	for _, rec := range r.records {
		out = append(out, rec)
	}
	r.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Config.FunctionName < out[j].Config.FunctionName })
	return out
}

// Create stores a new function with its code. cfg must be validated; Create
// fills the code fields, revision and timestamps.
func (r *Registry) Create(ctx context.Context, cfg function.Config, region string, tags map[string]string, zip []byte) (*Record, error) {
	if _, ok := r.Get(cfg.FunctionName); ok {
		return nil, function.Errorf(fault.Conflict, "ResourceConflictException", "Function already exist: %s", cfg.FunctionName)
	}
	info, err := r.putCode(ctx, zip)
	if err != nil {
		return nil, err
	}
	rec := &Record{Config: cfg, Region: region, CodeHex: info.Hex, Tags: tags}
	rec.derive()
	rec.Config.FunctionArn = function.ARN(region, cfg.FunctionName, "")
	rec.Config.CodeSha256, rec.Config.CodeSize = info.Sha256, info.Size
	stamp(&rec.Config)
	b, err := json.Marshal(rec)
	if err != nil {
		return nil, fmt.Errorf("registry: encode: %w", err)
	}
	rev, err := r.kv.Create(ctx, cfg.FunctionName, b)
	if errors.Is(err, jetstream.ErrKeyExists) {
		return nil, function.Errorf(fault.Conflict, "ResourceConflictException", "Function already exist: %s", cfg.FunctionName)
	}
	if err != nil {
		return nil, fmt.Errorf("registry: create %s: %w", cfg.FunctionName, err)
	}
	r.store(cfg.FunctionName, rec, rev, false)
	return rec, nil
}

// Update applies change to the function called name, guarded by the
// caller's expected RevisionId when one is given, and stores the result with
// a new revision. A non-nil zip replaces the code.
func (r *Registry) Update(ctx context.Context, name, revisionID string, zip []byte, change func(*function.Config) error) (*Record, error) {
	if cur, ok := r.Get(name); !ok {
		return nil, function.NotFound(function.ARN(function.DefaultRegion, name, ""))
	} else if revisionID != "" && revisionID != cur.Config.RevisionID {
		return nil, errRevision
	}
	var info bundle.Info
	if zip != nil {
		var err error
		if info, err = r.putCode(ctx, zip); err != nil {
			return nil, err
		}
	}
	var oldCode string
	rec, rev, err := r.modify(ctx, name, func(rec *Record) error {
		if revisionID != "" && revisionID != rec.Config.RevisionID {
			return errRevision
		}
		if change != nil {
			if err := change(&rec.Config); err != nil {
				return err
			}
		}
		oldCode = rec.CodeHex
		if zip != nil {
			rec.CodeHex = info.Hex
			rec.Config.CodeSha256, rec.Config.CodeSize = info.Sha256, info.Size
		}
		stamp(&rec.Config)
		return nil
	})
	if err != nil {
		return nil, err
	}
	r.store(name, rec, rev, true)
	if oldCode != rec.CodeHex {
		r.dropCode(ctx, oldCode)
	}
	return rec, nil
}

// modify reads the function called name, applies change and writes it
// back guarded by the revision it read, trying again when another writer
// got there first.
func (r *Registry) modify(ctx context.Context, name string, change func(*Record) error) (*Record, uint64, error) {
	for attempt := 0; ; attempt++ {
		e, err := r.kv.Get(ctx, name)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			return nil, 0, function.NotFound(function.ARN(function.DefaultRegion, name, ""))
		}
		if err != nil {
			return nil, 0, fmt.Errorf("registry: read %s: %w", name, err)
		}
		var rec Record
		if err := json.Unmarshal(e.Value(), &rec); err != nil {
			return nil, 0, fmt.Errorf("registry: decode %s: %w", name, err)
		}
		rec.derive()
		if err := change(&rec); err != nil {
			return nil, 0, err
		}
		rec.derive()
		b, err := json.Marshal(&rec)
		if err != nil {
			return nil, 0, fmt.Errorf("registry: encode: %w", err)
		}
		rev, err := r.kv.Update(ctx, name, b, e.Revision())
		if err != nil && attempt < 5 && isWrongRevision(err) {
			continue
		}
		if err != nil {
			return nil, 0, fmt.Errorf("registry: update %s: %w", name, err)
		}
		return &rec, rev, nil
	}
}

var errRevision = function.Errorf(fault.PreconditionFailed, "PreconditionFailedException",
	"The Revision Id provided does not match the latest Revision Id. Call the GetFunction/GetAlias API to retrieve the latest Revision Id")

func isWrongRevision(err error) bool {
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) && apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence
}

// Delete removes the function called name. Its code object is removed when
// no other function shares it.
func (r *Registry) Delete(ctx context.Context, name string) error {
	rec, ok := r.Get(name)
	if !ok {
		return function.NotFound(function.ARN(function.DefaultRegion, name, ""))
	}
	if err := r.kv.Delete(ctx, name, jetstream.LastRevision(rec.rev)); err != nil {
		if isWrongRevision(err) {
			return function.Errorf(fault.Conflict, "ResourceConflictException",
				"The operation cannot be performed at this time. An update is in progress for resource: %s", rec.Config.FunctionArn)
		}
		return fmt.Errorf("registry: delete %s: %w", name, err)
	}
	r.mu.Lock()
	delete(r.records, name)
	r.gone[name] = max(r.gone[name], rec.rev)
	r.recountLocked()
	hooks := r.hooks
	r.mu.Unlock()
	for _, h := range hooks {
		h(name)
	}
	r.dropCode(ctx, rec.CodeHex)
	for _, v := range rec.Versions {
		r.dropCode(ctx, v.CodeHex)
	}
	if err := r.events.Delete(ctx, name); err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
		r.log.Warn("registry: could not delete event invoke config", "function", name, "err", err)
	}
	if keys, err := r.qualifiedEventKeys(ctx, name); err == nil {
		for _, k := range keys {
			r.events.Delete(ctx, k)
		}
	}
	return nil
}

// EventKey is the key of the event-invoke configuration of a function
// at a qualifier: its name for $LATEST, name.qualifier for a version or
// an alias (a key-value key takes no colon).
func EventKey(name, qualifier string) string {
	if qualifier == "" || qualifier == function.LatestVersion {
		return name
	}
	return name + "." + qualifier
}

// qualifiedEventKeys lists the keys of a function's event-invoke
// configurations for versions and aliases.
func (r *Registry) qualifiedEventKeys(ctx context.Context, name string) ([]string, error) {
	l, err := r.events.ListKeysFiltered(ctx, name+".*")
	if err != nil {
		return nil, err
	}
	var keys []string
	for k := range l.Keys() {
		keys = append(keys, k)
	}
	return keys, nil
}

// EventConfigs returns every event-invoke configuration of a function:
// $LATEST's and those of its versions and aliases.
func (r *Registry) EventConfigs(ctx context.Context, name string) ([]*function.EventInvokeConfig, error) {
	keys, err := r.qualifiedEventKeys(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("registry: list event configs of %s: %w", name, err)
	}
	var out []*function.EventInvokeConfig
	for _, k := range append([]string{name}, keys...) {
		c, err := r.EventConfig(ctx, k)
		if err != nil {
			return nil, err
		}
		if c != nil {
			out = append(out, c)
		}
	}
	return out, nil
}

// EventConfig returns the function's event-invoke configuration under
// key (see EventKey), or nil when it has none.
func (r *Registry) EventConfig(ctx context.Context, name string) (*function.EventInvokeConfig, error) {
	e, err := r.events.Get(ctx, name)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("registry: read event config of %s: %w", name, err)
	}
	var c function.EventInvokeConfig
	if err := json.Unmarshal(e.Value(), &c); err != nil {
		return nil, fmt.Errorf("registry: decode event config of %s: %w", name, err)
	}
	return &c, nil
}

// PutEventConfig stores the function's event-invoke configuration.
func (r *Registry) PutEventConfig(ctx context.Context, name string, c *function.EventInvokeConfig) error {
	b, err := json.Marshal(c)
	if err != nil {
		return fmt.Errorf("registry: encode event config: %w", err)
	}
	if _, err := r.events.Put(ctx, name, b); err != nil {
		return fmt.Errorf("registry: save event config of %s: %w", name, err)
	}
	return nil
}

// DeleteEventConfig removes the function's event-invoke configuration.
func (r *Registry) DeleteEventConfig(ctx context.Context, name string) error {
	if err := r.events.Delete(ctx, name); err != nil {
		return fmt.Errorf("registry: delete event config of %s: %w", name, err)
	}
	return nil
}

// dropCode deletes the stored zip under key when no function on this node
// uses it any more. Unpacked copies stay until the next start, because
// instances that are finishing may still read them.
func (r *Registry) dropCode(ctx context.Context, key string) {
	if key == "" {
		return
	}
	r.mu.RLock()
	for _, other := range r.records {
		if other.usesCode(key) {
			r.mu.RUnlock()
			return
		}
	}
	r.mu.RUnlock()
	if err := r.obj.Delete(ctx, key); err != nil && !errors.Is(err, jetstream.ErrObjectNotFound) {
		r.log.Warn("registry: could not delete code object", "code", key, "err", err)
	}
}

// SweepCode removes unpacked code that no function uses. Call it before any
// instance runs.
func (r *Registry) SweepCode() error {
	entries, err := os.ReadDir(r.codeDir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("registry: sweep code: %w", err)
	}
	used := map[string]bool{}
	r.mu.RLock()
	for _, rec := range r.records {
		used[rec.CodeHex] = true
		for _, v := range rec.Versions {
			used[v.CodeHex] = true
		}
	}
	r.mu.RUnlock()
	for _, e := range entries {
		if !used[e.Name()] {
			os.RemoveAll(filepath.Join(r.codeDir, e.Name()))
		}
	}
	return nil
}

// stamp gives c a new revision and modification time.
func stamp(c *function.Config) {
	c.RevisionID = ids.New()
	c.LastModified = time.Now().UTC().Format("2006-01-02T15:04:05.000-0700")
}

// putCode checks a zip, stores it in the object store unless an identical one
// is there, and unpacks it into the local cache. The limit on zips uploaded
// in a request is the API's to apply: code read from S3 is bounded by its
// unzipped size only.
func (r *Registry) putCode(ctx context.Context, zip []byte) (bundle.Info, error) {
	info, err := bundle.InspectAny(zip)
	if err != nil {
		return info, err
	}
	if _, err := r.obj.GetInfo(ctx, info.Hex); errors.Is(err, jetstream.ErrObjectNotFound) {
		if _, err := r.obj.PutBytes(ctx, info.Hex, zip); err != nil {
			return info, fmt.Errorf("registry: store code: %w", err)
		}
	} else if err != nil {
		return info, fmt.Errorf("registry: look up code: %w", err)
	}
	dir := filepath.Join(r.codeDir, info.Hex)
	if _, err := os.Stat(dir); err == nil {
		return info, nil
	}
	return info, bundle.Extract(zip, dir)
}

// Unpacked returns the directory holding the unpacked code stored under
// key, filling the local cache from the object store if this node has not
// seen it yet.
func (r *Registry) Unpacked(ctx context.Context, key string) (string, error) {
	dir := filepath.Join(r.codeDir, key)
	if err := bundle.ExtractOnce(dir, &r.extractMu, func() ([]byte, error) { return r.Zip(ctx, key) }); err != nil {
		return "", fmt.Errorf("registry: unpack code %s: %w", key, err)
	}
	return dir, nil
}

// Zip returns the zip stored under key.
func (r *Registry) Zip(ctx context.Context, key string) ([]byte, error) {
	b, err := r.obj.GetBytes(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("registry: fetch code %s: %w", key, err)
	}
	return b, nil
}

// TotalCodeSize returns the bytes of code stored for all functions.
func (r *Registry) TotalCodeSize() int64 {
	r.mu.RLock()
	defer r.mu.RUnlock()
	var n int64
	for _, rec := range r.records {
		n += rec.Config.CodeSize
	}
	return n
}
