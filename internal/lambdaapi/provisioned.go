package lambdaapi

import (
	"net/http"
	"time"

	"github.com/aloft-dev/aloft/internal/fault"
	"github.com/aloft-dev/aloft/internal/function"
	"github.com/aloft-dev/aloft/internal/invoke"
	"github.com/aloft-dev/aloft/internal/registry"
)

// provisionedQualifier checks the Qualifier that provisioned-concurrency
// operations require. Only $LATEST exists until versions are published.
func provisionedQualifier(r *http.Request) error {
	if q := r.URL.Query().Get("Qualifier"); q == "" {
		return function.Validation("null", "qualifier", "Member must not be null")
	}
	return nil
}

// provisionedConfig renders a function's provisioned-concurrency status.
func (s *Server) provisionedConfig(rec *registry.Record) map[string]any {
	requested, ready := s.d.Invoker.Provisioned(rec.Config.FunctionName)
	if requested != rec.Provisioned {
		ready = 0 // the instances are still being started
	}
	status := "IN_PROGRESS"
	if ready >= rec.Provisioned {
		status = "READY"
	}
	return map[string]any{
		"FunctionArn": rec.Config.FunctionArn + ":" + function.LatestVersion,
		"RequestedProvisionedConcurrentExecutions": rec.Provisioned,
		"AllocatedProvisionedConcurrentExecutions": ready,
		"AvailableProvisionedConcurrentExecutions": ready,
		"Status":       status,
		"LastModified": rec.ProvisionedModified,
	}
}

func (s *Server) putProvisioned(w http.ResponseWriter, r *http.Request, req *request) error {
	if err := provisionedQualifier(r); err != nil {
		return err
	}
	rec, err := s.lookup(r, req)
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
	rec, err = s.d.Registry.Amend(r.Context(), rec.Config.FunctionName, func(rec *registry.Record) error {
		if rec.Reserved != nil && *n > *rec.Reserved {
			return function.InvalidParameter("Requested Provisioned Concurrency should not be greater than the reservedConcurrentExecution for function")
		}
		rec.Provisioned = *n
		rec.ProvisionedModified = time.Now().UTC().Format("2006-01-02T15:04:05.000+0000")
		return nil
	})
	if err != nil {
		return err
	}
	if err := s.d.Invoker.Provision(s.provisionRequest(rec), *n); err != nil {
		return err
	}
	writeJSON(w, http.StatusAccepted, s.provisionedConfig(rec))
	return nil
}

// provisionRequest describes rec to the invoker for provisioning.
func (s *Server) provisionRequest(rec *registry.Record) *invoke.Invocation {
	return &invoke.Invocation{Config: &rec.Config, Revision: rec.Revision(), Region: rec.Region, CodeKey: rec.CodeHex, InvokedARN: rec.Config.FunctionArn}
}

func (s *Server) getProvisioned(w http.ResponseWriter, r *http.Request, req *request) error {
	rec, err := s.lookup(r, req)
	if err != nil {
		return err
	}
	if r.URL.Query().Get("List") == "ALL" {
		list := []map[string]any{}
		if rec.Provisioned > 0 {
			list = append(list, s.provisionedConfig(rec))
		}
		writeJSON(w, http.StatusOK, map[string]any{"ProvisionedConcurrencyConfigs": list})
		return nil
	}
	if err := provisionedQualifier(r); err != nil {
		return err
	}
	if rec.Provisioned == 0 {
		return function.Errorf(fault.NotFound, "ProvisionedConcurrencyConfigNotFoundException", "No Provisioned Concurrency Config found for this function")
	}
	writeJSON(w, http.StatusOK, s.provisionedConfig(rec))
	return nil
}

func (s *Server) deleteProvisioned(w http.ResponseWriter, r *http.Request, req *request) error {
	if err := provisionedQualifier(r); err != nil {
		return err
	}
	rec, err := s.lookup(r, req)
	if err != nil {
		return err
	}
	rec, err = s.d.Registry.Amend(r.Context(), rec.Config.FunctionName, func(rec *registry.Record) error {
		rec.Provisioned, rec.ProvisionedModified = 0, ""
		return nil
	})
	if err != nil {
		return err
	}
	if err := s.d.Invoker.Provision(s.provisionRequest(rec), 0); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
