package registry

import (
	"context"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/aloft-dev/aloft/internal/fault"
	"github.com/aloft-dev/aloft/internal/function"
	"github.com/aloft-dev/aloft/internal/ids"
)

// Versions and aliases live in their function's record, so that a
// publish, an alias change and the function's own changes are each one
// guarded write of one key, seen by every node through the same watch.

// MaxVersions bounds the published versions one function keeps, so that
// its record stays one key-value entry.
const MaxVersions = 500

// Version is a published version: a snapshot of the function's
// configuration and code that never changes.
type Version struct {
	Config  function.Config `json:"config"`
	CodeHex string          `json:"codeHex"`
	// From is the $LATEST revision it was published from: publishing it
	// again without a change returns this version.
	From string `json:"from"`
}

// Alias names a version of a function, and optionally a second version
// that takes a share of the invocations.
type Alias struct {
	AliasArn        string         `json:"AliasArn"`
	Name            string         `json:"Name"`
	FunctionVersion string         `json:"FunctionVersion"`
	Description     string         `json:"Description"`
	RoutingConfig   *RoutingConfig `json:"RoutingConfig,omitempty"`
	RevisionID      string         `json:"RevisionId"`
}

// RoutingConfig is an alias's weighted routing: at most one more version
// and the share (0 to 1) of invocations it gets.
type RoutingConfig struct {
	AdditionalVersionWeights map[string]float64 `json:"AdditionalVersionWeights"`
}

// Target is what an invocation of a function at a qualifier runs: a
// configuration and its code.
type Target struct {
	Record *Record
	// Config is $LATEST's configuration or a version's.
	Config  *function.Config
	CodeKey string
	// Qualifier is as invoked ("" for none), and ARN the ARN invoked
	// with it.
	Qualifier string
	ARN       string
}

// Resolve finds what invoking name at qualifier runs: "" and $LATEST the
// current configuration, a number that version, an alias one of its
// versions (drawn by its weights). It reports a missing function,
// version or alias as Lambda's ResourceNotFoundException.
func (r *Registry) Resolve(name, qualifier string) (*Target, error) {
	rec, ok := r.Get(name)
	if !ok {
		return nil, function.NotFound(function.ARN(function.DefaultRegion, name, qualifier))
	}
	return rec.Resolve(qualifier)
}

// Resolve is Registry.Resolve on one record.
func (rec *Record) Resolve(qualifier string) (*Target, error) { return rec.target(qualifier, true) }

// Describe is Resolve for reading a configuration: an alias gives its
// primary version, whatever its weights.
func (rec *Record) Describe(qualifier string) (*Target, error) { return rec.target(qualifier, false) }

func (rec *Record) target(qualifier string, route bool) (*Target, error) {
	t := &Target{Record: rec, Qualifier: qualifier, ARN: rec.Config.FunctionArn}
	if qualifier != "" { // the unqualified ARN is the record's: no string built per invocation
		t.ARN = function.ARN(rec.Region, rec.Config.FunctionName, qualifier)
	}
	version := qualifier
	if a := rec.Aliases[qualifier]; a != nil {
		version = a.FunctionVersion
		if rc := a.RoutingConfig; rc != nil && route {
			for v, w := range rc.AdditionalVersionWeights {
				if rand.Float64() < w {
					version = v
				}
			}
		}
	}
	if version == "" || version == function.LatestVersion {
		t.Config, t.CodeKey = &rec.Config, rec.CodeHex
		return t, nil
	}
	v := rec.version(version)
	if v == nil {
		return nil, function.NotFound(t.ARN)
	}
	t.Config, t.CodeKey = &v.Config, v.CodeHex
	return t, nil
}

// version returns the published version called v, or nil.
func (rec *Record) version(v string) *Version {
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		return nil
	}
	// Versions are in ascending order.
	lo, hi := 0, len(rec.Versions)
	for lo < hi {
		m := (lo + hi) / 2
		k, _ := strconv.Atoi(rec.Versions[m].Config.Version)
		switch {
		case k == n:
			return &rec.Versions[m]
		case k < n:
			lo = m + 1
		default:
			hi = m
		}
	}
	return nil
}

// Version returns the configuration of version v of function name
// ($LATEST included).
func (r *Registry) Version(name, v string) (*function.Config, error) {
	t, err := r.Resolve(name, v)
	if err != nil {
		return nil, err
	}
	if _, alias := t.Record.Aliases[v]; alias {
		return nil, function.NotFound(t.ARN)
	}
	return t.Config, nil
}

// Publish publishes $LATEST as a new version, unless nothing changed
// since the last one, which is then returned (as Lambda does). codeSha256
// and revisionID, when given, must match $LATEST's.
func (r *Registry) Publish(ctx context.Context, name, codeSha256, revisionID, description string) (*function.Config, error) {
	var out function.Config
	rec, rev, err := r.modify(ctx, name, func(rec *Record) error {
		if revisionID != "" && revisionID != rec.Config.RevisionID {
			return errRevision
		}
		if codeSha256 != "" && codeSha256 != rec.Config.CodeSha256 {
			return function.InvalidParameter("CodeSHA256 (%s) is different from current CodeSHA256 in $LATEST (%s). Please try again with the CodeSHA256 in $LATEST.", codeSha256, rec.Config.CodeSha256)
		}
		if n := len(rec.Versions); n > 0 && rec.Versions[n-1].From == rec.Config.RevisionID {
			out = rec.Versions[n-1].Config
			return errUnchanged
		}
		if len(rec.Versions) >= MaxVersions {
			return function.Errorf(fault.Invalid, "CodeStorageExceededException",
				"Code storage limit exceeded: a function keeps at most %d versions; delete old versions first.", MaxVersions)
		}
		rec.LastVersion++
		v := Version{Config: rec.Config, CodeHex: rec.CodeHex, From: rec.Config.RevisionID}
		v.Config.Version = strconv.Itoa(rec.LastVersion)
		v.Config.FunctionArn = function.ARN(rec.Region, rec.Config.FunctionName, v.Config.Version)
		if description != "" {
			v.Config.Description = description
		}
		v.Config.RevisionID = ids.New()
		v.Config.LastModified = time.Now().UTC().Format("2006-01-02T15:04:05.000-0700")
		v.Config.State, v.Config.LastUpdateStatus = "Active", "Successful"
		rec.Versions = append(rec.Versions, v)
		out = v.Config
		return nil
	})
	if err == errUnchanged {
		return &out, nil
	}
	if err != nil {
		return nil, err
	}
	r.store(name, rec, rev, false)
	return &out, nil
}

// errUnchanged ends a publish that has nothing new to publish.
var errUnchanged = function.Errorf(fault.Conflict, "Unchanged", "unchanged")

// Versions returns $LATEST and the published versions of a function, in
// that order.
func (r *Registry) Versions(name string) ([]function.Config, error) {
	rec, ok := r.Get(name)
	if !ok {
		return nil, function.NotFound(function.ARN(function.DefaultRegion, name, ""))
	}
	out := make([]function.Config, 0, 1+len(rec.Versions))
	out = append(out, rec.Config)
	for _, v := range rec.Versions {
		out = append(out, v.Config)
	}
	return out, nil
}

// DeleteVersion removes a published version, unless an alias routes to
// it.
func (r *Registry) DeleteVersion(ctx context.Context, name, v string) error {
	var code string
	rec, rev, err := r.modify(ctx, name, func(rec *Record) error {
		var users []string
		for _, a := range rec.Aliases {
			if a.FunctionVersion == v {
				users = append(users, a.Name)
				continue
			}
			if a.RoutingConfig != nil {
				if _, ok := a.RoutingConfig.AdditionalVersionWeights[v]; ok {
					users = append(users, a.Name)
				}
			}
		}
		if len(users) > 0 {
			return function.Errorf(fault.Conflict, "ResourceConflictException",
				"Unable to delete version because the following aliases reference it: [%s]", strings.Join(users, ", "))
		}
		for i := range rec.Versions {
			if rec.Versions[i].Config.Version == v {
				code = rec.Versions[i].CodeHex
				rec.Versions = append(rec.Versions[:i], rec.Versions[i+1:]...)
				delete(rec.ProvisionedFor, v)
				return nil
			}
		}
		return function.NotFound(function.ARN(rec.Region, name, v))
	})
	if err != nil {
		return err
	}
	r.store(name, rec, rev, false)
	r.dropCode(ctx, code)
	return nil
}

// usesCode reports whether the record, a version of it included, uses
// the code stored under key.
func (rec *Record) usesCode(key string) bool {
	if rec.CodeHex == key {
		return true
	}
	for i := range rec.Versions {
		if rec.Versions[i].CodeHex == key {
			return true
		}
	}
	return false
}

// Alias returns an alias of a function.
func (r *Registry) Alias(name, alias string) (*Alias, error) {
	rec, ok := r.Get(name)
	if !ok {
		return nil, function.NotFound(function.ARN(function.DefaultRegion, name, alias))
	}
	a := rec.Aliases[alias]
	if a == nil {
		return nil, aliasNotFound(rec, alias)
	}
	return a, nil
}

func aliasNotFound(rec *Record, alias string) error {
	return function.Errorf(fault.NotFound, "ResourceNotFoundException", "Alias not found: %s", function.ARN(rec.Region, rec.Config.FunctionName, alias))
}

// Aliases returns a function's aliases in name order.
func (r *Registry) Aliases(name string) ([]*Alias, error) {
	rec, ok := r.Get(name)
	if !ok {
		return nil, function.NotFound(function.ARN(function.DefaultRegion, name, ""))
	}
	out := make([]*Alias, 0, len(rec.Aliases))
	for _, a := range rec.Aliases {
		out = append(out, a)
	}
	sortAliases(out)
	return out, nil
}

func sortAliases(as []*Alias) {
	for i := 1; i < len(as); i++ {
		for j := i; j > 0 && as[j].Name < as[j-1].Name; j-- {
			as[j], as[j-1] = as[j-1], as[j]
		}
	}
}

// AliasChange is what CreateAlias and UpdateAlias ask for; nil fields of
// an update stay as they are.
type AliasChange struct {
	FunctionVersion *string
	Description     *string
	RoutingConfig   *RoutingConfig // an empty map removes the routing
	RevisionID      string         // the alias's, for an update
}

// PutAlias creates (create set) or updates an alias.
func (r *Registry) PutAlias(ctx context.Context, name, alias string, create bool, c AliasChange) (*Alias, error) {
	if !ValidAliasName(alias) {
		return nil, function.Validation(alias, "name", "Member must satisfy regular expression pattern: (?!^[0-9]+$)([a-zA-Z0-9-_]+)")
	}
	var out *Alias
	rec, rev, err := r.modify(ctx, name, func(rec *Record) error {
		cur := rec.Aliases[alias]
		switch {
		case create && cur != nil:
			return function.Errorf(fault.Conflict, "ResourceConflictException", "Alias already exists: %s", cur.AliasArn)
		case !create && cur == nil:
			return aliasNotFound(rec, alias)
		case !create && c.RevisionID != "" && c.RevisionID != cur.RevisionID:
			return errRevision
		}
		a := &Alias{Name: alias, AliasArn: function.ARN(rec.Region, rec.Config.FunctionName, alias)}
		if cur != nil {
			*a = *cur
		}
		if c.FunctionVersion != nil {
			a.FunctionVersion = *c.FunctionVersion
		}
		if c.Description != nil {
			a.Description = *c.Description
		}
		if c.RoutingConfig != nil {
			a.RoutingConfig = c.RoutingConfig
			if len(c.RoutingConfig.AdditionalVersionWeights) == 0 {
				a.RoutingConfig = nil
			}
		}
		if err := rec.checkAlias(a); err != nil {
			return err
		}
		a.RevisionID = ids.New()
		if rec.Aliases == nil {
			rec.Aliases = map[string]*Alias{}
		}
		rec.Aliases[alias] = a
		out = a
		return nil
	})
	if err != nil {
		return nil, err
	}
	r.store(name, rec, rev, false)
	return out, nil
}

// checkAlias checks an alias's versions against the function's.
func (rec *Record) checkAlias(a *Alias) error {
	if a.FunctionVersion != function.LatestVersion && rec.version(a.FunctionVersion) == nil {
		return function.NotFound(function.ARN(rec.Region, rec.Config.FunctionName, a.FunctionVersion))
	}
	rc := a.RoutingConfig
	if rc == nil {
		return nil
	}
	if len(rc.AdditionalVersionWeights) > 1 {
		return function.InvalidParameter("Number of items in AdditionalVersionWeights cannot be greater than 1")
	}
	for v, w := range rc.AdditionalVersionWeights {
		switch {
		case a.FunctionVersion == function.LatestVersion:
			return function.InvalidParameter("$LATEST is not supported for an alias pointing to more than 1 version")
		case v == function.LatestVersion:
			return function.InvalidParameter("$LATEST is not supported for an alias pointing to more than 1 version")
		case v == a.FunctionVersion:
			return function.InvalidParameter("Alias's primary version cannot be the same as the additional version %s", v)
		case !(w >= 0 && w <= 1):
			return function.Validation(strconv.FormatFloat(w, 'f', -1, 64), "routingConfig.additionalVersionWeights",
				"Member must have value less than or equal to 1.0 and greater than or equal to 0.0")
		case rec.version(v) == nil:
			return function.NotFound(function.ARN(rec.Region, rec.Config.FunctionName, v))
		}
	}
	return nil
}

// DeleteAlias removes an alias; removing one that does not exist is no
// error, as on Lambda.
func (r *Registry) DeleteAlias(ctx context.Context, name, alias string) error {
	rec, rev, err := r.modify(ctx, name, func(rec *Record) error {
		if rec.Aliases[alias] == nil {
			return errUnchanged
		}
		delete(rec.Aliases, alias)
		return nil
	})
	if err == errUnchanged {
		return nil
	}
	if err != nil {
		return err
	}
	r.store(name, rec, rev, false)
	return nil
}

// ValidAliasName reports whether s can name an alias: a word that is not
// a number.
func ValidAliasName(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	digits := true
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case '0' <= c && c <= '9':
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', c == '_', c == '-':
			digits = false
		default:
			return false
		}
	}
	return !digits
}

// Provisioning is a provisioned-concurrency setting: instances kept
// initialised, and when it was set (RFC 3339).
type Provisioning struct {
	N        int    `json:"n"`
	Modified string `json:"modified,omitempty"`
}

// ProvisionedAt returns the provisioned concurrency set at a qualifier
// ($LATEST, a version or an alias).
func (rec *Record) ProvisionedAt(qualifier string) Provisioning {
	if qualifier == "" || qualifier == function.LatestVersion {
		return Provisioning{N: rec.Provisioned, Modified: rec.ProvisionedModified}
	}
	if p := rec.ProvisionedFor[qualifier]; p != nil {
		return *p
	}
	return Provisioning{}
}

// SetProvisioned sets (N 0: removes) the provisioned concurrency at a
// qualifier.
func (rec *Record) SetProvisioned(qualifier string, p Provisioning) {
	if qualifier == "" || qualifier == function.LatestVersion {
		rec.Provisioned, rec.ProvisionedModified = p.N, p.Modified
		return
	}
	if p.N == 0 {
		delete(rec.ProvisionedFor, qualifier)
		return
	}
	if rec.ProvisionedFor == nil {
		rec.ProvisionedFor = map[string]*Provisioning{}
	}
	rec.ProvisionedFor[qualifier] = &p
}

// ProvisionedAll returns every provisioned-concurrency setting of the
// function, by qualifier.
func (rec *Record) ProvisionedAll() map[string]Provisioning {
	out := make(map[string]Provisioning, 1+len(rec.ProvisionedFor))
	if rec.Provisioned > 0 {
		out[function.LatestVersion] = rec.ProvisionedAt(function.LatestVersion)
	}
	for q, p := range rec.ProvisionedFor {
		out[q] = *p
	}
	return out
}

// ProvisionedByVersion sums the settings by the version they keep ready
// (an alias's primary version; $LATEST as itself).
func (rec *Record) ProvisionedByVersion() map[string]int {
	out := map[string]int{}
	for q, p := range rec.ProvisionedAll() {
		if t, err := rec.Describe(q); err == nil {
			out[t.Config.Version] += p.N
		}
	}
	return out
}
