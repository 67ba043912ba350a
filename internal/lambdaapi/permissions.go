package lambdaapi

import (
	"encoding/json"
	"net/http"
	"regexp"
	"strings"

	"github.com/aloft-dev/aloft/internal/fault"
	"github.com/aloft-dev/aloft/internal/function"
	"github.com/aloft-dev/aloft/internal/policy"
	"github.com/aloft-dev/aloft/internal/registry"
)

// A function's resource-based policy is a policy document kept on its
// record; AddPermission adds a statement, RemovePermission takes one
// away, GetPolicy shows it. It takes part in authorization beside the
// caller's own policies (ResourcePolicy).

type policyDoc struct {
	Version   string            `json:"Version"`
	ID        string            `json:"Id"`
	Statement []json.RawMessage `json:"Statement"`
}

type addPermissionInput struct {
	StatementID         string `json:"StatementId"`
	Action              string `json:"Action"`
	Principal           string `json:"Principal"`
	SourceArn           string `json:"SourceArn"`
	SourceAccount       string `json:"SourceAccount"`
	FunctionURLAuthType string `json:"FunctionUrlAuthType"`
	RevisionID          string `json:"RevisionId"`
	EventSourceToken    string `json:"EventSourceToken"`
	PrincipalOrgID      string `json:"PrincipalOrgID"`
}

var statementID = regexp.MustCompile(`^[a-zA-Z0-9-_.]{1,100}$`)

// policyTarget resolves the function of a resource-policy request and
// its Qualifier (a version or an alias, which must exist): statements
// for a qualifier name its ARN as their Resource, and the qualified
// GetPolicy and RemovePermission see only those.
func (s *Server) policyTarget(r *http.Request, req *request) (*registry.Record, string, error) {
	t, err := s.target(r, req, false)
	if err != nil {
		return nil, "", err
	}
	return t.Record, function.ARN(t.Record.Region, t.Record.Config.FunctionName, r.URL.Query().Get("Qualifier")), nil
}

// statementResource returns a statement's Resource.
func statementResource(st json.RawMessage) string {
	var v struct{ Resource string }
	json.Unmarshal(st, &v)
	return v.Resource
}

func (s *Server) addPermission(w http.ResponseWriter, r *http.Request, req *request) error {
	rec, resource, err := s.policyTarget(r, req)
	if err != nil {
		return err
	}
	var in addPermissionInput
	if err := decode(req.body, &in); err != nil {
		return err
	}
	switch {
	case !statementID.MatchString(in.StatementID):
		return function.Validation(in.StatementID, "statementId", "Member must satisfy regular expression pattern: ([a-zA-Z0-9-_.]+)")
	case !strings.HasPrefix(in.Action, "lambda:"):
		return function.InvalidParameter("The action %q is not a Lambda action.", in.Action)
	case in.Principal == "":
		return function.Validation(nil, "principal", "Member must not be null")
	case in.EventSourceToken != "" || in.PrincipalOrgID != "":
		return function.InvalidParameter("EventSourceToken and PrincipalOrgID are not supported by this server.")
	}
	stmt := map[string]any{"Sid": in.StatementID, "Effect": "Allow", "Action": in.Action, "Resource": resource}
	switch p := in.Principal; {
	case p == "*":
		stmt["Principal"] = "*"
	case strings.HasSuffix(p, ".amazonaws.com"):
		stmt["Principal"] = map[string]string{"Service": p}
	case len(p) == 12 && strings.Trim(p, "0123456789") == "":
		stmt["Principal"] = map[string]string{"AWS": "arn:aws:iam::" + p + ":root"}
	case strings.HasPrefix(p, "arn:aws:iam::"), strings.HasPrefix(p, "arn:aws:sts::"):
		stmt["Principal"] = map[string]string{"AWS": p}
	default:
		return function.InvalidParameter("The principal %q is not a service, an account id or an IAM ARN.", p)
	}
	cond := map[string]map[string]string{}
	if in.SourceArn != "" {
		cond["ArnLike"] = map[string]string{"AWS:SourceArn": in.SourceArn}
	}
	if in.SourceAccount != "" {
		cond["StringEquals"] = map[string]string{"AWS:SourceAccount": in.SourceAccount}
	}
	if in.FunctionURLAuthType != "" {
		if in.FunctionURLAuthType != "NONE" && in.FunctionURLAuthType != "AWS_IAM" {
			return function.Validation(in.FunctionURLAuthType, "functionUrlAuthType", "Member must satisfy enum value set: [NONE, AWS_IAM]")
		}
		if cond["StringEquals"] == nil {
			cond["StringEquals"] = map[string]string{}
		}
		cond["StringEquals"]["lambda:FunctionUrlAuthType"] = in.FunctionURLAuthType
	}
	if len(cond) > 0 {
		stmt["Condition"] = cond
	}
	raw, _ := json.Marshal(stmt) // maps of strings always encode
	if _, err := policy.ParseResource([]byte(`{"Statement":` + string(raw) + `}`)); err != nil {
		return function.InvalidParameter("The permission cannot be evaluated: %v", err)
	}
	_, err = s.d.Registry.Amend(r.Context(), rec.Config.FunctionName, func(rec *registry.Record) error {
		if in.RevisionID != "" && in.RevisionID != rec.Config.RevisionID {
			return function.Errorf(fault.PreconditionFailed, "PreconditionFailedException",
				"The Revision Id provided does not match the latest Revision Id. Call the GetPolicy API to retrieve the latest Revision Id")
		}
		doc := policyDoc{Version: "2012-10-17", ID: "default"}
		if rec.Policy != "" {
			if err := json.Unmarshal([]byte(rec.Policy), &doc); err != nil {
				return err
			}
		}
		for _, st := range doc.Statement {
			var sid struct{ Sid string }
			if json.Unmarshal(st, &sid) == nil && sid.Sid == in.StatementID {
				return function.Errorf(fault.Conflict, "ResourceConflictException",
					"The statement id (%s) provided already exists. Please provide a new statement id, or remove the existing statement.", in.StatementID)
			}
		}
		doc.Statement = append(doc.Statement, raw)
		b, err := json.Marshal(doc)
		if err != nil {
			return err
		}
		rec.Policy = string(b)
		return nil
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, map[string]string{"Statement": string(raw)})
	return nil
}

func (s *Server) getPolicy(w http.ResponseWriter, r *http.Request, req *request) error {
	rec, resource, err := s.policyTarget(r, req)
	if err != nil {
		return err
	}
	out := rec.Policy
	if q := r.URL.Query().Get("Qualifier"); q != "" && out != "" {
		// A version's or alias's policy: its own statements.
		var doc policyDoc
		if err := json.Unmarshal([]byte(out), &doc); err != nil {
			return err
		}
		kept := doc.Statement[:0]
		for _, st := range doc.Statement {
			if statementResource(st) == resource {
				kept = append(kept, st)
			}
		}
		out = ""
		if len(kept) > 0 {
			doc.Statement = kept
			b, err := json.Marshal(doc)
			if err != nil {
				return err
			}
			out = string(b)
		}
	}
	if out == "" {
		return function.Errorf(fault.NotFound, "ResourceNotFoundException", "The resource you requested does not exist.")
	}
	writeJSON(w, http.StatusOK, map[string]string{"Policy": out, "RevisionId": rec.Config.RevisionID})
	return nil
}

func (s *Server) removePermission(w http.ResponseWriter, r *http.Request, req *request) error {
	rec, resource, err := s.policyTarget(r, req)
	if err != nil {
		return err
	}
	qualified := r.URL.Query().Get("Qualifier") != ""
	sid := r.PathValue("sid")
	rev := r.URL.Query().Get("RevisionId")
	_, err = s.d.Registry.Amend(r.Context(), rec.Config.FunctionName, func(rec *registry.Record) error {
		if rev != "" && rev != rec.Config.RevisionID {
			return function.Errorf(fault.PreconditionFailed, "PreconditionFailedException",
				"The Revision Id provided does not match the latest Revision Id. Call the GetPolicy API to retrieve the latest Revision Id")
		}
		var doc policyDoc
		if rec.Policy != "" {
			if err := json.Unmarshal([]byte(rec.Policy), &doc); err != nil {
				return err
			}
		}
		kept := doc.Statement[:0]
		for _, st := range doc.Statement {
			var id struct{ Sid string }
			if json.Unmarshal(st, &id) == nil && id.Sid == sid && (!qualified || statementResource(st) == resource) {
				continue
			}
			kept = append(kept, st)
		}
		if len(kept) == len(doc.Statement) {
			return function.Errorf(fault.NotFound, "ResourceNotFoundException", "Statement %s is not found in resource policy.", sid)
		}
		if len(kept) == 0 {
			rec.Policy = ""
			return nil
		}
		doc.Statement = kept
		b, err := json.Marshal(doc)
		if err != nil {
			return err
		}
		rec.Policy = string(b)
		return nil
	})
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// ResourcePolicy returns the resource-based policy of the function the
// resource ARN names, or nil: the front door evaluates it beside the
// caller's own policies.
func (s *Server) ResourcePolicy(resource string) *policy.Policy {
	name, _, ok := function.ParseRef(resource)
	if !ok {
		return nil
	}
	rec, ok := s.d.Registry.Get(name)
	if !ok {
		return nil
	}
	return s.policies.Get(name, rec.Policy)
}
