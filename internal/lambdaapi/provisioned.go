package lambdaapi

import (
	"net/http"
	"sort"
	"time"

	"github.com/aloft-dev/aloft/internal/fault"
	"github.com/aloft-dev/aloft/internal/function"
	"github.com/aloft-dev/aloft/internal/invoke"
	"github.com/aloft-dev/aloft/internal/registry"
)

// Provisioned concurrency is set per qualifier: a published version, an
// alias (whose primary version's instances it keeps ready, following the
// alias when it moves), or, as Aloft also allows, $LATEST.

// provisionedTarget resolves the request's function and its Qualifier,
// which provisioned-concurrency operations require.
func (s *Server) provisionedTarget(r *http.Request, req *request) (*registry.Target, error) {
	if q := r.URL.Query().Get("Qualifier"); q == "" {
		return nil, function.Validation("null", "qualifier", "Member must not be null")
	}
	t, err := s.target(r, req, false)
	if err != nil {
		return nil, err
	}
	if t.Qualifier == "" {
		t.Qualifier = function.LatestVersion
	}
	return t, nil
}

// provisionedConfig renders the provisioned-concurrency status of a
// function at a qualifier.
func (s *Server) provisionedConfig(t *registry.Target) map[string]any {
	p := t.Record.ProvisionedAt(t.Qualifier)
	requested, ready := s.d.Invoker.Provisioned(invoke.PoolKey(t.Config))
	if requested < p.N {
		ready = 0 // the instances are still being started
	}
	ready = min(ready, p.N)
	status := "IN_PROGRESS"
	if ready >= p.N {
		status = "READY"
	}
	return map[string]any{
		"FunctionArn": function.ARN(t.Record.Region, t.Record.Config.FunctionName, t.Qualifier),
		"RequestedProvisionedConcurrentExecutions": p.N,
		"AllocatedProvisionedConcurrentExecutions": ready,
		"AvailableProvisionedConcurrentExecutions": ready,
		"Status":       status,
		"LastModified": p.Modified,
	}
}

func (s *Server) putProvisioned(w http.ResponseWriter, r *http.Request, req *request) error {
	t, err := s.provisionedTarget(r, req)
	if err != nil {
		return err
	}
	var in struct {
		ProvisionedConcurrentExecutions *int `json:"ProvisionedConcurrentExecutions"`
	}
	if err := decode(req.body, &in); err != nil {
		return err
	}
	n := in.ProvisionedConcurrentExecutions
	if n == nil || *n < 1 {
		v := any("null")
		if n != nil {
			v = *n
		}
		return function.Validation(v, "provisionedConcurrentExecutions", "Member must have value greater than or equal to 1")
	}
	rec, err := s.d.Registry.Amend(r.Context(), t.Record.Config.FunctionName, func(rec *registry.Record) error {
		total := *n
		for q, p := range rec.ProvisionedAll() {
			if q != t.Qualifier {
				total += p.N
			}
		}
		if rec.Reserved != nil && total > *rec.Reserved {
			return function.InvalidParameter("Requested Provisioned Concurrency should not be greater than the reservedConcurrentExecution for function")
		}
		rec.SetProvisioned(t.Qualifier, registry.Provisioning{N: *n, Modified: time.Now().UTC().Format("2006-01-02T15:04:05.000+0000")})
		return nil
	})
	if err != nil {
		return err
	}
	if err := s.reprovision(rec, t.Config.Version); err != nil {
		return err
	}
	t.Record = rec
	writeJSON(w, http.StatusAccepted, s.provisionedConfig(t))
	return nil
}

// reprovision asks the invoker to keep ready, for a version (or
// $LATEST), the instances every qualifier of rec that resolves to it
// provisions, together.
func (s *Server) reprovision(rec *registry.Record, version string) error {
	t, err := rec.Describe(version)
	if err != nil {
		return nil // the version is gone
	}
	return s.d.Invoker.Provision(invoke.For(t, 0, nil), rec.ProvisionedByVersion()[version])
}

func (s *Server) getProvisioned(w http.ResponseWriter, r *http.Request, req *request) error {
	if r.URL.Query().Get("List") == "ALL" {
		rec, err := s.lookup(r, req)
		if err != nil {
			return err
		}
		list := []map[string]any{}
		all := rec.ProvisionedAll()
		qs := make([]string, 0, len(all))
		for q := range all {
			qs = append(qs, q)
		}
		sort.Strings(qs)
		for _, q := range qs {
			if t, err := rec.Describe(q); err == nil {
				t.Qualifier = q
				list = append(list, s.provisionedConfig(t))
			}
		}
		writeJSON(w, http.StatusOK, map[string]any{"ProvisionedConcurrencyConfigs": list})
		return nil
	}
	t, err := s.provisionedTarget(r, req)
	if err != nil {
		return err
	}
	if t.Record.ProvisionedAt(t.Qualifier).N == 0 {
		return function.Errorf(fault.NotFound, "ProvisionedConcurrencyConfigNotFoundException", "No Provisioned Concurrency Config found for this function")
	}
	writeJSON(w, http.StatusOK, s.provisionedConfig(t))
	return nil
}

func (s *Server) deleteProvisioned(w http.ResponseWriter, r *http.Request, req *request) error {
	t, err := s.provisionedTarget(r, req)
	if err != nil {
		return err
	}
	rec, err := s.d.Registry.Amend(r.Context(), t.Record.Config.FunctionName, func(rec *registry.Record) error {
		rec.SetProvisioned(t.Qualifier, registry.Provisioning{})
		return nil
	})
	if err != nil {
		return err
	}
	if err := s.reprovision(rec, t.Config.Version); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
