// Package catalog keeps the gateway's configuration on the backbone: HTTP
// APIs (each with its routes, integrations and stages, as one document)
// and function URL configurations, in the JetStream key-value bucket
// aloft_gateway, and the API keys and usage plans that guard routes. A watch on the bucket keeps an in-memory copy current on
// every node, and each change publishes a new compiled Snapshot, so the
// request path reads one atomic pointer and never waits on the backbone or
// on a lock.
package catalog

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/aloft-dev/aloft/internal/awsproto"
	"github.com/aloft-dev/aloft/internal/fault"
	"github.com/aloft-dev/aloft/internal/follow"
)

const (
	bucket    = "aloft_gateway"
	apiPrefix = "api."
	urlPrefix = "url."
)

// Catalog is the gateway's configuration. Its methods are safe for
// concurrent use.
type Catalog struct {
	kv  jetstream.KeyValue
	log *slog.Logger
	now func() time.Time

	mu    sync.Mutex            // guards the fields below and the order of published snapshots
	apis  map[string]*API       // by id; documents are never modified once stored here
	urls  map[string]*URLConfig // by function name; likewise
	revs  map[string]uint64     // key-value revision of each key held or deleted
	eps   map[string]*Endpoint  // compiled apis, by id
	keys  map[string]*APIKey    // by id
	plans map[string]*UsagePlan // by id

	snap atomic.Pointer[Snapshot]

	live   bool // guarded by mu: the replay is over; each change publishes
	follow *follow.Follower
}

// Open creates or opens the bucket, loads everything in it and starts
// watching for changes made by other nodes.
func Open(ctx context.Context, js jetstream.JetStream, log *slog.Logger) (*Catalog, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: bucket, History: 1, Storage: jetstream.FileStorage})
	if err != nil {
		return nil, fmt.Errorf("catalog: open bucket: %w", err)
	}
	c := &Catalog{kv: kv, log: log, now: time.Now, apis: map[string]*API{}, urls: map[string]*URLConfig{},
		revs: map[string]uint64{}, eps: map[string]*Endpoint{}, keys: map[string]*APIKey{}, plans: map[string]*UsagePlan{}}
	c.follow, err = follow.KV(ctx, kv, func(e jetstream.KeyValueEntry) {
		c.mu.Lock()
		if c.apply(e.Key(), e.Value(), e.Revision(), follow.Deleted(e)) && c.live {
			c.publish()
		}
		c.mu.Unlock()
	}, func() {
		c.mu.Lock()
		c.publish()
		c.live = true
		c.mu.Unlock()
	})
	if err != nil {
		return nil, fmt.Errorf("catalog: %w", err)
	}
	return c, nil
}

// Close stops the watch.
func (c *Catalog) Close() { c.follow.Stop() }

// Snapshot returns the current compiled catalog.
func (c *Catalog) Snapshot() *Snapshot { return c.snap.Load() }

// update folds one stored value (or deletion) into memory and publishes
// a new snapshot if anything changed. Applying and publishing happen under
// one lock, so that whoever sees the value applied also sees it published.
func (c *Catalog) update(key string, value []byte, rev uint64, deleted bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.apply(key, value, rev, deleted) {
		c.publish()
	}
}

// apply folds one stored value (or deletion) at revision rev into memory,
// ignoring anything older than what is held. It reports whether anything
// changed. c.mu is held.
func (c *Catalog) apply(key string, value []byte, rev uint64, deleted bool) bool {
	if c.revs[key] >= rev {
		return false
	}
	c.revs[key] = rev
	switch {
	case strings.HasPrefix(key, apiPrefix):
		id := key[len(apiPrefix):]
		if deleted {
			delete(c.apis, id)
			delete(c.eps, id)
			return true
		}
		var a API
		if err := json.Unmarshal(value, &a); err != nil {
			c.log.Error("catalog: unreadable API", "api", id, "err", err)
			return false
		}
		ep, err := compile(&a)
		if err != nil {
			c.log.Error("catalog: API cannot be served", "api", id, "err", err)
			return false
		}
		c.apis[id], c.eps[id] = &a, ep
	case strings.HasPrefix(key, urlPrefix):
		fn := key[len(urlPrefix):]
		if deleted {
			delete(c.urls, fn)
			return true
		}
		var u URLConfig
		if err := json.Unmarshal(value, &u); err != nil {
			c.log.Error("catalog: unreadable function URL", "function", fn, "err", err)
			return false
		}
		c.urls[fn] = &u
	case strings.HasPrefix(key, keyPrefix):
		return applyDoc(c, c.keys, key[len(keyPrefix):], value, deleted)
	case strings.HasPrefix(key, planPrefix):
		return applyDoc(c, c.plans, key[len(planPrefix):], value, deleted)
	default:
		return false
	}
	return true
}

// applyDoc folds a stored document into m; c.mu is held.
func applyDoc[T any](c *Catalog, m map[string]*T, id string, value []byte, deleted bool) bool {
	if deleted {
		delete(m, id)
		return true
	}
	v := new(T)
	if err := json.Unmarshal(value, v); err != nil {
		c.log.Error("catalog: unreadable document", "id", id, "err", err)
		return false
	}
	m[id] = v
	return true
}

// publish compiles the current state into a new snapshot. c.mu is held.
func (c *Catalog) publish() {
	s := &Snapshot{apis: maps.Clone(c.eps), urls: make(map[string]*URLEndpoint, len(c.urls))}
	if len(s.apis) == 1 {
		for _, ep := range s.apis {
			s.only = ep
		}
	}
	for _, u := range c.urls {
		s.urls[u.URLID] = compileURL(u)
	}
	s.keys = compileKeys(c.keys, c.plans)
	c.snap.Store(s)
}

// APIs returns every API, sorted by id. The documents must not be
// modified.
func (c *Catalog) APIs() []*API {
	c.mu.Lock()
	out := slices.Collect(maps.Values(c.apis))
	c.mu.Unlock()
	slices.SortFunc(out, func(a, b *API) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// API returns the API with the given id. The document must not be
// modified.
func (c *Catalog) API(id string) (*API, error) {
	c.mu.Lock()
	a := c.apis[id]
	c.mu.Unlock()
	if a == nil {
		return nil, notFound("Invalid API identifier specified %s:%s", awsproto.AccountID, id)
	}
	return a, nil
}

// CreateAPI validates a new API, gives it an id and a creation date and
// stores it. The integrations, routes and stages it holds are checked as
// UpdateAPI checks them.
func (c *Catalog) CreateAPI(ctx context.Context, a *API) (*API, error) {
	a.ID = NewID(10)
	a.CreatedDate = c.now().UTC().Truncate(time.Second)
	if err := validate(a); err != nil {
		return nil, err
	}
	b, err := json.Marshal(a)
	if err != nil {
		return nil, fmt.Errorf("catalog: encode API: %w", err)
	}
	rev, err := c.kv.Create(ctx, apiPrefix+a.ID, b)
	if err != nil {
		return nil, fmt.Errorf("catalog: create API %s: %w", a.ID, err)
	}
	c.stored(apiPrefix+a.ID, b, rev, false)
	return a, nil
}

// UpdateAPI applies change to a fresh copy of the API and stores the
// result if it is valid, guarded by the revision it read (another writer
// in between makes it try again).
func (c *Catalog) UpdateAPI(ctx context.Context, id string, change func(a *API) error) (*API, error) {
	key := apiPrefix + id
	for attempt := 0; ; attempt++ {
		e, err := c.kv.Get(ctx, key)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			return nil, notFound("Invalid API identifier specified %s:%s", awsproto.AccountID, id)
		}
		if err != nil {
			return nil, fmt.Errorf("catalog: read API %s: %w", id, err)
		}
		var a API
		if err := json.Unmarshal(e.Value(), &a); err != nil {
			return nil, fmt.Errorf("catalog: decode API %s: %w", id, err)
		}
		if err := change(&a); err != nil {
			return nil, err
		}
		a.ID = id
		if err := validate(&a); err != nil {
			return nil, err
		}
		b, err := json.Marshal(&a)
		if err != nil {
			return nil, fmt.Errorf("catalog: encode API: %w", err)
		}
		rev, err := c.kv.Update(ctx, key, b, e.Revision())
		if err != nil && attempt < 5 && isWrongRevision(err) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("catalog: update API %s: %w", id, err)
		}
		c.stored(key, b, rev, false)
		return &a, nil
	}
}

// DeleteAPI removes an API with everything in it.
func (c *Catalog) DeleteAPI(ctx context.Context, id string) error {
	if _, err := c.API(id); err != nil {
		return err
	}
	return c.delete(ctx, apiPrefix+id)
}

func (c *Catalog) delete(ctx context.Context, key string) error {
	if err := c.kv.Delete(ctx, key); err != nil {
		return fmt.Errorf("catalog: delete %s: %w", key, err)
	}
	// The deletion's revision is not returned; the watch brings it, and
	// until then the key is dropped from memory here.
	c.mu.Lock()
	switch {
	case strings.HasPrefix(key, apiPrefix):
		delete(c.apis, key[len(apiPrefix):])
		delete(c.eps, key[len(apiPrefix):])
	case strings.HasPrefix(key, urlPrefix):
		delete(c.urls, key[len(urlPrefix):])
	case strings.HasPrefix(key, keyPrefix):
		delete(c.keys, key[len(keyPrefix):])
	case strings.HasPrefix(key, planPrefix):
		delete(c.plans, key[len(planPrefix):])
	}
	c.publish()
	c.mu.Unlock()
	return nil
}

// stored applies a value this node wrote, so that it reads its own writes
// before the watch brings them.
func (c *Catalog) stored(key string, value []byte, rev uint64, deleted bool) {
	c.update(key, value, rev, deleted)
}

// validate checks a whole API document.
func validate(a *API) error {
	if err := checkAPI(a); err != nil {
		return err
	}
	for _, in := range a.Integrations {
		if err := checkIntegration(in); err != nil {
			return err
		}
	}
	for _, z := range a.Authorizers {
		if err := checkAuthorizer(z); err != nil {
			return err
		}
	}
	for _, r := range a.Routes {
		if err := checkRoute(a, r); err != nil {
			return err
		}
	}
	for _, s := range a.Stages {
		if err := checkStage(a, s); err != nil {
			return err
		}
	}
	_, err := compile(a)
	return err
}

func isWrongRevision(err error) bool {
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) && apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence
}

// URLs returns every function URL configuration, sorted by function.
func (c *Catalog) URLs() []*URLConfig {
	c.mu.Lock()
	out := slices.Collect(maps.Values(c.urls))
	c.mu.Unlock()
	slices.SortFunc(out, func(a, b *URLConfig) int { return strings.Compare(a.Function, b.Function) })
	return out
}

// URL returns the URL configuration of the named function.
func (c *Catalog) URL(fn string) (*URLConfig, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	u, ok := c.urls[fn]
	return u, ok
}

// CreateURL stores a new function URL configuration; u.Function,
// FunctionArn, Region and AuthType must be set. It fills the id and times.
func (c *Catalog) CreateURL(ctx context.Context, u *URLConfig) (*URLConfig, error) {
	if err := CheckURL(u); err != nil {
		return nil, err
	}
	u.URLID = URLID(u.FunctionArn)
	u.CreationTime = timestamp(c.now())
	u.LastModifiedTime = u.CreationTime
	b, err := json.Marshal(u)
	if err != nil {
		return nil, fmt.Errorf("catalog: encode URL: %w", err)
	}
	rev, err := c.kv.Create(ctx, urlPrefix+URLKey(u.Function, u.Qualifier), b)
	if errors.Is(err, jetstream.ErrKeyExists) {
		return nil, &fault.Error{Kind: fault.Conflict, Message: "FunctionUrlConfig exists for this Lambda function"}
	}
	if err != nil {
		return nil, fmt.Errorf("catalog: create URL of %s: %w", u.Function, err)
	}
	c.stored(urlPrefix+URLKey(u.Function, u.Qualifier), b, rev, false)
	return u, nil
}

// URLKey names the URL configuration of a function at a qualifier (an
// alias, or "" for $LATEST) in the methods that take fn: the name, or
// name.alias (a key-value key takes no colon).
func URLKey(name, qualifier string) string {
	if qualifier == "" {
		return name
	}
	return name + "." + qualifier
}

// UpdateURL applies change to a copy of the function's URL configuration
// and stores it.
func (c *Catalog) UpdateURL(ctx context.Context, fn string, change func(u *URLConfig) error) (*URLConfig, error) {
	key := urlPrefix + fn
	for attempt := 0; ; attempt++ {
		e, err := c.kv.Get(ctx, key)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			return nil, notFound("The resource you requested does not exist.")
		}
		if err != nil {
			return nil, fmt.Errorf("catalog: read URL of %s: %w", fn, err)
		}
		var u URLConfig
		if err := json.Unmarshal(e.Value(), &u); err != nil {
			return nil, fmt.Errorf("catalog: decode URL of %s: %w", fn, err)
		}
		if err := change(&u); err != nil {
			return nil, err
		}
		if err := CheckURL(&u); err != nil {
			return nil, err
		}
		u.LastModifiedTime = timestamp(c.now())
		b, err := json.Marshal(&u)
		if err != nil {
			return nil, fmt.Errorf("catalog: encode URL: %w", err)
		}
		rev, err := c.kv.Update(ctx, key, b, e.Revision())
		if err != nil && attempt < 5 && isWrongRevision(err) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("catalog: update URL of %s: %w", fn, err)
		}
		c.stored(key, b, rev, false)
		return &u, nil
	}
}

// DeleteURL removes the function's URL configuration.
func (c *Catalog) DeleteURL(ctx context.Context, fn string) error {
	if _, ok := c.URL(fn); !ok {
		return notFound("The resource you requested does not exist.")
	}
	return c.delete(ctx, urlPrefix+fn)
}

// PruneURLs removes the URL configurations of functions for which exists
// is false (deleted while this node was down, say).
func (c *Catalog) PruneURLs(ctx context.Context, exists func(fn string) bool) error {
	var errs []error
	for _, u := range c.URLs() {
		if !exists(u.Function) {
			if err := c.DeleteURL(ctx, URLKey(u.Function, u.Qualifier)); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}
