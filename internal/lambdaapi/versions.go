package lambdaapi

import (
	"fmt"
	"net/http"
	"strconv"

	"github.com/aloft-dev/aloft/internal/awsproto"
	"github.com/aloft-dev/aloft/internal/function"
	"github.com/aloft-dev/aloft/internal/gateway/catalog"
	"github.com/aloft-dev/aloft/internal/registry"
)

// This file serves versions and aliases: PublishVersion,
// ListVersionsByFunction, the alias operations, and the resolution of a
// qualified function reference that Invoke and the reads of a
// configuration share.

// target resolves the {fn} path value and the Qualifier query parameter
// to what they name: $LATEST, a version, or an alias (routed by its
// weights when route is set, else its primary version).
func (s *Server) target(r *http.Request, req *request, route bool) (*registry.Target, error) {
	name, qual, err := s.reference(r, req)
	if err != nil {
		return nil, err
	}
	rec, found := s.d.Registry.Get(name)
	if !found {
		return nil, function.NotFound(function.ARN(req.region, name, qual))
	}
	if route {
		return rec.Resolve(qual)
	}
	return rec.Describe(qual)
}

// reference parses the {fn} path value and the Qualifier query parameter.
func (s *Server) reference(r *http.Request, req *request) (name, qual string, err error) {
	ref := req.fn
	name, qual, ok := function.ParseRef(ref)
	if !ok {
		return "", "", function.Validation(ref, "functionName",
			"Member must satisfy regular expression pattern: (arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{2}(-gov)?-[a-z]+-\\d{1}:)?(\\d{12}:)?(function:)?([a-zA-Z0-9-_]+)(:(\\$LATEST|[a-zA-Z0-9-_]+))?")
	}
	if r.URL.RawQuery == "" { // the common case: no query to parse
		return name, qual, nil
	}
	if q := r.URL.Query().Get("Qualifier"); q != "" {
		if qual != "" && qual != q {
			return "", "", function.InvalidParameter("The derived qualifier from the function name does not match the specified qualifier.")
		}
		qual = q
	}
	return name, qual, nil
}

// configOf is the configuration a read of t answers: a version's, or
// $LATEST's; through an alias, with the alias's ARN.
func configOf(t *registry.Target) *function.Config {
	if t.Qualifier == "" || t.Qualifier == t.Config.Version {
		return t.Config
	}
	c := *t.Config
	c.FunctionArn = t.ARN
	return &c
}

type publishInput struct {
	CodeSha256  string `json:"CodeSha256"`
	Description string `json:"Description"`
	RevisionID  string `json:"RevisionId"`
}

func (s *Server) publishVersion(w http.ResponseWriter, r *http.Request, req *request) error {
	rec, err := s.lookup(r, req)
	if err != nil {
		return err
	}
	var in publishInput
	if len(req.body) > 0 {
		if err := decode(req.body, &in); err != nil {
			return err
		}
	}
	if len(in.Description) > 256 {
		return function.Validation(in.Description, "description", "Member must have length less than or equal to 256")
	}
	cfg, err := s.d.Registry.Publish(r.Context(), rec.Config.FunctionName, in.CodeSha256, in.RevisionID, in.Description)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, cfg)
	return nil
}

// pageParams reads Marker and MaxItems (1 to 10,000, at most max per
// page).
func pageParams(r *http.Request, max int) (marker string, n int, err error) {
	q := r.URL.Query()
	n = max
	if v := q.Get("MaxItems"); v != "" {
		k, perr := strconv.Atoi(v)
		if perr != nil || k < 1 || k > 10000 {
			return "", 0, function.Validation(v, "maxItems", "Member must have value between 1 and 10000")
		}
		n = min(k, max)
	}
	return q.Get("Marker"), n, nil
}

func (s *Server) listVersions(w http.ResponseWriter, r *http.Request, req *request) error {
	rec, err := s.lookup(r, req)
	if err != nil {
		return err
	}
	marker, n, err := pageParams(r, 50)
	if err != nil {
		return err
	}
	all, err := s.d.Registry.Versions(rec.Config.FunctionName)
	if err != nil {
		return err
	}
	ptrs := make([]*function.Config, len(all))
	for i := range all {
		ptrs[i] = &all[i]
	}
	// Keyed so that $LATEST comes first and numbers sort as numbers.
	key := func(c *function.Config) string {
		n, _ := strconv.Atoi(c.Version) // $LATEST is 0
		return fmt.Sprintf("%010d", n)
	}
	page, next, ok := awsproto.Page(ptrs, key, marker, n)
	if !ok {
		return function.InvalidParameter("Invalid marker: %s", marker)
	}
	writeJSON(w, http.StatusOK, struct {
		Versions   []*function.Config `json:"Versions"`
		NextMarker string             `json:"NextMarker,omitempty"`
	}{append([]*function.Config{}, page...), next})
	return nil
}

type aliasInput struct {
	Name            string                  `json:"Name"`
	FunctionVersion *string                 `json:"FunctionVersion"`
	Description     *string                 `json:"Description"`
	RoutingConfig   *registry.RoutingConfig `json:"RoutingConfig"`
	RevisionID      string                  `json:"RevisionId"`
}

func (s *Server) createAlias(w http.ResponseWriter, r *http.Request, req *request) error {
	rec, err := s.lookup(r, req)
	if err != nil {
		return err
	}
	var in aliasInput
	if err := decode(req.body, &in); err != nil {
		return err
	}
	if in.FunctionVersion == nil || *in.FunctionVersion == "" {
		return function.Validation("null", "functionVersion", "Member must not be null")
	}
	if in.Description != nil && len(*in.Description) > 256 {
		return function.Validation(*in.Description, "description", "Member must have length less than or equal to 256")
	}
	a, err := s.d.Registry.PutAlias(r.Context(), rec.Config.FunctionName, in.Name, true,
		registry.AliasChange{FunctionVersion: in.FunctionVersion, Description: in.Description, RoutingConfig: in.RoutingConfig})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, a)
	return nil
}

func (s *Server) updateAlias(w http.ResponseWriter, r *http.Request, req *request) error {
	rec, err := s.lookup(r, req)
	if err != nil {
		return err
	}
	var in aliasInput
	if err := decode(req.body, &in); err != nil {
		return err
	}
	if in.FunctionVersion != nil && *in.FunctionVersion == "" {
		return function.Validation("", "functionVersion", "Member must have length greater than or equal to 1")
	}
	before := ""
	if old := rec.Aliases[r.PathValue("alias")]; old != nil {
		before = old.FunctionVersion
	}
	a, err := s.d.Registry.PutAlias(r.Context(), rec.Config.FunctionName, r.PathValue("alias"), false,
		registry.AliasChange{FunctionVersion: in.FunctionVersion, Description: in.Description, RoutingConfig: in.RoutingConfig, RevisionID: in.RevisionID})
	if err != nil {
		return err
	}
	if err := s.followAlias(rec.Config.FunctionName, a.Name, before, a.FunctionVersion); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, a)
	return nil
}

// followAlias moves the provisioned instances of an alias that moved
// from one version to another.
func (s *Server) followAlias(name, alias, from, to string) error {
	rec, ok := s.d.Registry.Get(name)
	if !ok || from == to || rec.ProvisionedAt(alias).N == 0 && from == "" {
		return nil
	}
	if err := s.reprovision(rec, to); err != nil {
		return err
	}
	return s.reprovision(rec, from)
}

func (s *Server) getAlias(w http.ResponseWriter, r *http.Request, req *request) error {
	rec, err := s.lookup(r, req)
	if err != nil {
		return err
	}
	a, err := s.d.Registry.Alias(rec.Config.FunctionName, r.PathValue("alias"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, a)
	return nil
}

func (s *Server) deleteAlias(w http.ResponseWriter, r *http.Request, req *request) error {
	rec, err := s.lookup(r, req)
	if err != nil {
		return err
	}
	alias := r.PathValue("alias")
	if rec.ProvisionedAt(alias).N > 0 {
		// Its provisioned concurrency goes with it.
		if _, err := s.d.Registry.Amend(r.Context(), rec.Config.FunctionName, func(rec *registry.Record) error {
			rec.SetProvisioned(alias, registry.Provisioning{})
			return nil
		}); err != nil {
			return err
		}
	}
	if err := s.d.Registry.DeleteAlias(r.Context(), rec.Config.FunctionName, alias); err != nil {
		return err
	}
	if s.d.URLs != nil { // its function URL goes with it
		if _, ok := s.d.URLs.URL(catalog.URLKey(rec.Config.FunctionName, alias)); ok {
			if err := s.d.URLs.DeleteURL(r.Context(), catalog.URLKey(rec.Config.FunctionName, alias)); err != nil {
				return err
			}
		}
	}
	if a := rec.Aliases[alias]; a != nil && rec.ProvisionedAt(alias).N > 0 {
		if now, ok := s.d.Registry.Get(rec.Config.FunctionName); ok {
			if err := s.reprovision(now, a.FunctionVersion); err != nil {
				return err
			}
		}
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) listAliases(w http.ResponseWriter, r *http.Request, req *request) error {
	rec, err := s.lookup(r, req)
	if err != nil {
		return err
	}
	marker, n, err := pageParams(r, 50)
	if err != nil {
		return err
	}
	all, err := s.d.Registry.Aliases(rec.Config.FunctionName)
	if err != nil {
		return err
	}
	if v := r.URL.Query().Get("FunctionVersion"); v != "" {
		kept := all[:0]
		for _, a := range all {
			if a.FunctionVersion == v {
				kept = append(kept, a)
			}
		}
		all = kept
	}
	page, next, ok := awsproto.Page(all, func(a *registry.Alias) string { return a.Name }, marker, n)
	if !ok {
		return function.InvalidParameter("Invalid marker: %s", marker)
	}
	writeJSON(w, http.StatusOK, struct {
		Aliases    []*registry.Alias `json:"Aliases"`
		NextMarker string            `json:"NextMarker,omitempty"`
	}{append([]*registry.Alias{}, page...), next})
	return nil
}
