package catalog

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/aloft-dev/aloft/internal/fault"
	"github.com/aloft-dev/aloft/internal/gateway/throttle"
)

// API keys and usage plans are Aloft's addition to HTTP APIs (API
// Gateway has them for REST APIs only). They are stored in the shapes of
// API Gateway's REST API management (apikeys, usageplans), each as its
// own document: apikey.<id> and plan.<id>.
const (
	keyPrefix  = "apikey."
	planPrefix = "plan."
)

// APIKey is an API key. Its value is given to the caller when the key is
// made and kept only as a SHA-256 digest.
type APIKey struct {
	ID              string            `json:"id"`
	Name            string            `json:"name"`
	Description     string            `json:"description,omitempty"`
	Enabled         bool              `json:"enabled"`
	CustomerID      string            `json:"customerId,omitempty"`
	CreatedDate     time.Time         `json:"createdDate"`
	LastUpdatedDate time.Time         `json:"lastUpdatedDate"`
	Tags            map[string]string `json:"tags,omitempty"`
	ValueDigest     string            `json:"valueSha256"` // hex
}

// UsagePlan throttles and counts the requests of its keys to the API
// stages it names.
type UsagePlan struct {
	ID          string            `json:"id"`
	Name        string            `json:"name"`
	Description string            `json:"description,omitempty"`
	APIStages   []APIStage        `json:"apiStages,omitempty"`
	Throttle    *ThrottleSettings `json:"throttle,omitempty"`
	Quota       *QuotaSettings    `json:"quota,omitempty"`
	Tags        map[string]string `json:"tags,omitempty"`
	KeyIDs      []string          `json:"keyIds,omitempty"`
}

// APIStage names a stage of an API.
type APIStage struct {
	APIID string `json:"apiId"`
	Stage string `json:"stage"`
}

// ThrottleSettings are a usage plan's steady rate (requests a second)
// and burst for each key.
type ThrottleSettings struct {
	BurstLimit int     `json:"burstLimit"`
	RateLimit  float64 `json:"rateLimit"`
}

// QuotaSettings are how many requests each key may make a period: DAY,
// WEEK or MONTH (UTC).
type QuotaSettings struct {
	Limit  int64  `json:"limit"`
	Offset int64  `json:"offset,omitempty"`
	Period string `json:"period"`
}

// Key is an API key compiled for serving.
type Key struct {
	ID      string
	Enabled bool
	Plans   []*KeyPlan
}

// KeyPlan is a usage plan as one of its keys meets it.
type KeyPlan struct {
	Plan  *UsagePlan
	KeyID string
	// Meter names the key's counters under the plan: "<plan id>/<key id>".
	Meter  string
	Period throttle.Period
}

// Covers reports whether the plan applies to the stage of the API.
func (p *KeyPlan) Covers(apiID, stage string) bool {
	for _, s := range p.Plan.APIStages {
		if s.APIID == apiID && s.Stage == stage {
			return true
		}
	}
	return false
}

// Key returns the API key whose value is v, or nil.
func (s *Snapshot) Key(v string) *Key {
	if len(s.keys) == 0 {
		return nil
	}
	return s.keys[sha256.Sum256([]byte(v))]
}

// digest returns the hex SHA-256 of an API key's value.
func digest(v string) string {
	sum := sha256.Sum256([]byte(v))
	return hex.EncodeToString(sum[:])
}

// compileKeys builds the keys of a snapshot from the keys and plans held.
func compileKeys(keys map[string]*APIKey, plans map[string]*UsagePlan) map[[32]byte]*Key {
	out := make(map[[32]byte]*Key, len(keys))
	byID := make(map[string]*Key, len(keys))
	for _, k := range keys {
		var d [32]byte
		if b, err := hex.DecodeString(k.ValueDigest); err != nil || len(b) != 32 {
			continue
		} else {
			copy(d[:], b)
		}
		ck := &Key{ID: k.ID, Enabled: k.Enabled}
		out[d], byID[k.ID] = ck, ck
	}
	ids := slices.Sorted(maps.Keys(plans))
	for _, id := range ids {
		p := plans[id]
		period := throttle.Day
		if p.Quota != nil {
			period, _ = throttle.ParsePeriod(p.Quota.Period)
		}
		for _, kid := range p.KeyIDs {
			if ck := byID[kid]; ck != nil {
				ck.Plans = append(ck.Plans, &KeyPlan{Plan: p, KeyID: kid, Meter: p.ID + "/" + kid, Period: period})
			}
		}
	}
	return out
}

// newKeyValue returns a new API key's value: 40 URL-safe characters.
func newKeyValue() string {
	b := make([]byte, 30)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// CreateAPIKey stores a new key and returns it with its value, which is
// not kept. A value given by the caller (at least 20 characters) is used
// as it is.
func (c *Catalog) CreateAPIKey(ctx context.Context, k *APIKey, value string) (*APIKey, string, error) {
	if value == "" {
		value = newKeyValue()
	}
	if len(value) < 20 || len(value) > 128 {
		return nil, "", invalidf("API Key value should be at least 20 characters")
	}
	if k.Name == "" {
		k.Name = NewID(10)
	}
	for _, other := range c.APIKeys() {
		if other.ValueDigest == digest(value) {
			return nil, "", &fault.Error{Kind: fault.Conflict, Message: "API Key already exists"}
		}
	}
	k.ID = NewID(10)
	k.CreatedDate = c.now().UTC().Truncate(time.Second)
	k.LastUpdatedDate = k.CreatedDate
	k.ValueDigest = digest(value)
	if err := c.create(ctx, keyPrefix+k.ID, k); err != nil {
		return nil, "", err
	}
	return k, value, nil
}

// APIKeys returns every API key, sorted by id.
func (c *Catalog) APIKeys() []*APIKey {
	c.mu.Lock()
	out := slices.Collect(maps.Values(c.keys))
	c.mu.Unlock()
	slices.SortFunc(out, func(a, b *APIKey) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// APIKey returns the key with the given id.
func (c *Catalog) APIKey(id string) (*APIKey, error) {
	c.mu.Lock()
	k := c.keys[id]
	c.mu.Unlock()
	if k == nil {
		return nil, notFound("Invalid API Key identifier specified")
	}
	return k, nil
}

// UpdateAPIKey applies change to a copy of the key and stores it.
func (c *Catalog) UpdateAPIKey(ctx context.Context, id string, change func(k *APIKey) error) (*APIKey, error) {
	return update(ctx, c, keyPrefix+id, notFound("Invalid API Key identifier specified"), func(k *APIKey) error {
		if err := change(k); err != nil {
			return err
		}
		k.ID = id
		k.LastUpdatedDate = c.now().UTC().Truncate(time.Second)
		return nil
	})
}

// DeleteAPIKey removes a key; the usage plans that hold it drop it.
func (c *Catalog) DeleteAPIKey(ctx context.Context, id string) error {
	if _, err := c.APIKey(id); err != nil {
		return err
	}
	for _, p := range c.UsagePlans() {
		if slices.Contains(p.KeyIDs, id) {
			_, err := c.UpdateUsagePlan(ctx, p.ID, func(p *UsagePlan) error {
				p.KeyIDs = slices.DeleteFunc(p.KeyIDs, func(k string) bool { return k == id })
				return nil
			})
			if err != nil {
				return err
			}
		}
	}
	return c.delete(ctx, keyPrefix+id)
}

// checkPlan validates a usage plan.
func checkPlan(p *UsagePlan) error {
	if p.Name == "" {
		return invalidf("Usage plan name is required")
	}
	if t := p.Throttle; t != nil && (t.BurstLimit < 0 || t.RateLimit < 0) {
		return invalidf("Throttle limits must not be negative")
	}
	if q := p.Quota; q != nil {
		if _, ok := throttle.ParsePeriod(q.Period); !ok {
			return invalidf("Quota period must be DAY, WEEK or MONTH")
		}
		if q.Limit < 0 || q.Offset != 0 {
			return invalidf("Quota limit must not be negative, and offset must be 0")
		}
	}
	for _, s := range p.APIStages {
		if s.APIID == "" || s.Stage == "" {
			return invalidf("An API stage needs apiId and stage")
		}
	}
	return nil
}

// CreateUsagePlan stores a new usage plan.
func (c *Catalog) CreateUsagePlan(ctx context.Context, p *UsagePlan) (*UsagePlan, error) {
	if err := checkPlan(p); err != nil {
		return nil, err
	}
	for _, s := range p.APIStages {
		if err := c.checkAPIStage(s); err != nil {
			return nil, err
		}
	}
	p.ID = NewID(6)
	if err := c.create(ctx, planPrefix+p.ID, p); err != nil {
		return nil, err
	}
	return p, nil
}

func (c *Catalog) checkAPIStage(s APIStage) error {
	a, err := c.API(s.APIID)
	if err != nil {
		return invalidf("Invalid API identifier specified %s", s.APIID)
	}
	if a.Stage(s.Stage) == nil {
		return invalidf("Invalid stage identifier specified %s", s.Stage)
	}
	return nil
}

// UsagePlans returns every usage plan, sorted by id.
func (c *Catalog) UsagePlans() []*UsagePlan {
	c.mu.Lock()
	out := slices.Collect(maps.Values(c.plans))
	c.mu.Unlock()
	slices.SortFunc(out, func(a, b *UsagePlan) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// UsagePlan returns the usage plan with the given id.
func (c *Catalog) UsagePlan(id string) (*UsagePlan, error) {
	c.mu.Lock()
	p := c.plans[id]
	c.mu.Unlock()
	if p == nil {
		return nil, notFound("Invalid Usage Plan ID specified")
	}
	return p, nil
}

// UpdateUsagePlan applies change to a copy of the plan and stores it if
// it is valid; the keys it names must exist.
func (c *Catalog) UpdateUsagePlan(ctx context.Context, id string, change func(p *UsagePlan) error) (*UsagePlan, error) {
	return update(ctx, c, planPrefix+id, notFound("Invalid Usage Plan ID specified"), func(p *UsagePlan) error {
		if err := change(p); err != nil {
			return err
		}
		p.ID = id
		if err := checkPlan(p); err != nil {
			return err
		}
		for _, kid := range p.KeyIDs {
			if _, err := c.APIKey(kid); err != nil {
				return err
			}
		}
		return nil
	})
}

// DeleteUsagePlan removes a usage plan.
func (c *Catalog) DeleteUsagePlan(ctx context.Context, id string) error {
	if _, err := c.UsagePlan(id); err != nil {
		return err
	}
	return c.delete(ctx, planPrefix+id)
}

// create stores a new document under key.
func (c *Catalog) create(ctx context.Context, key string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("catalog: encode %s: %w", key, err)
	}
	rev, err := c.kv.Create(ctx, key, b)
	if err != nil {
		return fmt.Errorf("catalog: create %s: %w", key, err)
	}
	c.stored(key, b, rev, false)
	return nil
}

// update applies change to a fresh copy of the document under key and
// stores it, guarded by the revision it read.
func update[T any](ctx context.Context, c *Catalog, key string, missing error, change func(*T) error) (*T, error) {
	for attempt := 0; ; attempt++ {
		e, err := c.kv.Get(ctx, key)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			return nil, missing
		}
		if err != nil {
			return nil, fmt.Errorf("catalog: read %s: %w", key, err)
		}
		v := new(T)
		if err := json.Unmarshal(e.Value(), v); err != nil {
			return nil, fmt.Errorf("catalog: decode %s: %w", key, err)
		}
		if err := change(v); err != nil {
			return nil, err
		}
		b, err := json.Marshal(v)
		if err != nil {
			return nil, fmt.Errorf("catalog: encode %s: %w", key, err)
		}
		rev, err := c.kv.Update(ctx, key, b, e.Revision())
		if err != nil && attempt < 5 && isWrongRevision(err) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("catalog: update %s: %w", key, err)
		}
		c.stored(key, b, rev, false)
		return v, nil
	}
}
