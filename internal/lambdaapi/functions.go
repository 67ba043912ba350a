package lambdaapi

import (
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/aloft-dev/aloft/internal/awsproto"
	"github.com/aloft-dev/aloft/internal/edge"
	"github.com/aloft-dev/aloft/internal/fault"
	"github.com/aloft-dev/aloft/internal/function"
	"github.com/aloft-dev/aloft/internal/invoke"
	"github.com/aloft-dev/aloft/internal/registry"
)

// codeInput is the Code member of CreateFunction and the body of
// UpdateFunctionCode.
type codeInput struct {
	ZipFile         []byte `json:"ZipFile"`
	S3Bucket        string `json:"S3Bucket"`
	S3Key           string `json:"S3Key"`
	S3ObjectVersion string `json:"S3ObjectVersion"`
	ImageURI        string `json:"ImageUri"`
}

type createInput struct {
	FunctionName     string                     `json:"FunctionName"`
	Runtime          string                     `json:"Runtime"`
	Role             string                     `json:"Role"`
	Handler          string                     `json:"Handler"`
	Description      string                     `json:"Description"`
	Timeout          int                        `json:"Timeout"`
	MemorySize       int                        `json:"MemorySize"`
	PackageType      string                     `json:"PackageType"`
	Environment      *function.Environment      `json:"Environment"`
	EphemeralStorage *function.EphemeralStorage `json:"EphemeralStorage"`
	Architectures    []string                   `json:"Architectures"`
	DeadLetterConfig *function.DeadLetterConfig `json:"DeadLetterConfig"`
	TracingConfig    *tracingInput              `json:"TracingConfig"`
	Tags             map[string]string          `json:"Tags"`
	Code             codeInput                  `json:"Code"`
	Layers           []string                   `json:"Layers"`
	Publish          bool                       `json:"Publish"`
}

// tracingInput is a request's TracingConfig: a Mode left out changes
// nothing (a new function's is PassThrough); one given, even empty, is
// validated with the rest of the configuration.
type tracingInput struct {
	Mode *string `json:"Mode"`
}

// apply sets c from t, when t gives a mode, refusing one Lambda does not
// have (an empty one too).
func (t *tracingInput) apply(c *function.TracingConfig) error {
	if t == nil || t.Mode == nil {
		return nil
	}
	if err := function.ValidateTracingMode(*t.Mode); err != nil {
		return err
	}
	c.Mode = *t.Mode
	return nil
}

func decode(body []byte, v any) error {
	if err := json.Unmarshal(body, v); err != nil {
		return function.Errorf(fault.Invalid, "InvalidRequestContentException", "Could not parse request body into json: %v", err)
	}
	return nil
}

func (s *Server) createFunction(w http.ResponseWriter, r *http.Request, req *request) error {
	var in createInput
	if err := decode(req.body, &in); err != nil {
		return err
	}
	if in.PackageType == "Image" {
		return function.InvalidParameter("Container image functions are not supported by this server; upload a .zip file archive.")
	}
	cfg := function.Config{
		FunctionName:  in.FunctionName,
		Runtime:       in.Runtime,
		Role:          in.Role,
		Handler:       in.Handler,
		Description:   in.Description,
		Timeout:       in.Timeout,
		MemorySize:    in.MemorySize,
		Architectures: in.Architectures,
		Environment:   in.Environment,
	}
	if in.DeadLetterConfig != nil && in.DeadLetterConfig.TargetArn != "" {
		cfg.DeadLetterConfig = in.DeadLetterConfig
	}
	if in.EphemeralStorage != nil {
		cfg.EphemeralStorage = *in.EphemeralStorage
	}
	if err := in.TracingConfig.apply(&cfg.TracingConfig); err != nil {
		return err
	}
	if cfg.Role == "" {
		cfg.Role = function.DefaultRole
	}
	cfg.ApplyDefaults()
	if err := cfg.Validate(); err != nil {
		return err
	}
	if err := s.checkRole(r, cfg.Role); err != nil {
		return err
	}
	if d := cfg.DeadLetterConfig; d != nil {
		if err := s.checkTargets(cfg.Role, d.TargetArn); err != nil {
			return err
		}
	}
	if err := function.ValidateTags(in.Tags); err != nil {
		return err
	}
	if err := s.checkRuntime(cfg.Runtime); err != nil {
		return err
	}
	zip, info, err := s.codeZip(r, &in.Code)
	if err != nil {
		return err
	}
	if cfg.Layers, err = s.functionLayers(r.Context(), in.Layers, cfg.Runtime, zipUnzipped(info)); err != nil {
		return err
	}
	rec, err := s.d.Registry.Create(r.Context(), cfg, req.region, in.Tags, zip)
	if err != nil {
		return err
	}
	if in.Publish {
		// The answer describes the version published.
		v, err := s.d.Registry.Publish(r.Context(), rec.Config.FunctionName, "", "", "")
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusCreated, v)
		return nil
	}
	writeJSON(w, http.StatusCreated, &rec.Config)
	return nil
}

// checkRole refuses an execution role Lambda may not assume, and one the
// caller may not pass to a function (iam:PassRole, as on AWS: otherwise
// anyone allowed to create a function could run code with any role's
// permissions). The default role, which may write logs only, needs no
// PassRole.
func (s *Server) checkRole(r *http.Request, role string) error {
	if p := edge.Principal(r.Context()); p != nil && role != function.DefaultRole {
		if err := p.Authorize("iam:PassRole", role); err != nil {
			return function.Errorf(fault.Denied, "AccessDeniedException", "%s", err.Error())
		}
	}
	if s.d.CheckRole == nil {
		return nil
	}
	if err := s.d.CheckRole(role); err != nil {
		return function.InvalidParameter("The role defined for the function cannot be assumed by Lambda.")
	}
	return nil
}

func (s *Server) checkRuntime(runtime string) error {
	if s.d.CheckRuntime == nil {
		return nil
	}
	if err := s.d.CheckRuntime(runtime); err != nil {
		return function.InvalidParameter("The runtime %s cannot run on this server: %v", runtime, err)
	}
	return nil
}

// lookup resolves the {fn} path value and the Qualifier query parameter to
// a stored function, for the operations that act on the function as a
// whole or on $LATEST: a version or alias qualifier is not found.
func (s *Server) lookup(r *http.Request, req *request) (*registry.Record, error) {
	name, qual, err := s.reference(r, req)
	if err != nil {
		return nil, err
	}
	rec, found := s.d.Registry.Get(name)
	if !found {
		return nil, function.NotFound(function.ARN(req.region, name, qual))
	}
	if qual != "" && qual != function.LatestVersion {
		return nil, function.NotFound(function.ARN(req.region, name, qual))
	}
	return rec, nil
}

func (s *Server) getFunction(w http.ResponseWriter, r *http.Request, req *request) error {
	t, err := s.target(r, req, false)
	if err != nil {
		return err
	}
	rec := t.Record
	out := map[string]any{
		"Configuration": configOf(t),
		"Code":          map[string]string{"RepositoryType": "S3", "Location": s.codeURLOf(req, t.CodeKey)},
		"Tags":          tagsOf(rec),
	}
	if rec.Reserved != nil {
		out["Concurrency"] = map[string]int{"ReservedConcurrentExecutions": *rec.Reserved}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) codeURL(req *request, rec *registry.Record) string {
	return s.codeURLOf(req, rec.CodeHex)
}

func (s *Server) codeURLOf(req *request, key string) string {
	if s.d.CodeURL == nil {
		return ""
	}
	return s.d.CodeURL(req.region, key)
}

func (s *Server) getConfiguration(w http.ResponseWriter, r *http.Request, req *request) error {
	t, err := s.target(r, req, false)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, configOf(t))
	return nil
}

func (s *Server) listFunctions(w http.ResponseWriter, r *http.Request, req *request) error {
	q := r.URL.Query()
	maxItems := 50
	if v := q.Get("MaxItems"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 10000 {
			return function.Validation(v, "maxItems", "Member must have value between 1 and 10000")
		}
		maxItems = min(n, 50)
	}
	m := q.Get("Marker")
	page, next, ok := awsproto.Page(s.d.Registry.List(), func(rec *registry.Record) string { return rec.Config.FunctionName }, m, maxItems)
	if !ok {
		return function.InvalidParameter("Invalid marker: %s", m)
	}
	out := struct {
		Functions  []*function.Config `json:"Functions"`
		NextMarker string             `json:"NextMarker,omitempty"`
	}{Functions: make([]*function.Config, 0, len(page)), NextMarker: next}
	for _, rec := range page {
		out.Functions = append(out.Functions, &rec.Config)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

type updateCodeInput struct {
	codeInput
	Publish    bool   `json:"Publish"`
	DryRun     bool   `json:"DryRun"`
	RevisionID string `json:"RevisionId"`
}

func (s *Server) updateCode(w http.ResponseWriter, r *http.Request, req *request) error {
	rec, err := s.lookup(r, req)
	if err != nil {
		return err
	}
	var in updateCodeInput
	if err := decode(req.body, &in); err != nil {
		return err
	}
	zip, info, err := s.codeZip(r, &in.codeInput)
	if err != nil {
		return err
	}
	if err := s.checkCombined(rec.Config.Layers, info); err != nil {
		return err
	}
	if in.DryRun {
		writeJSON(w, http.StatusOK, &rec.Config)
		return nil
	}
	rec, err = s.d.Registry.Update(r.Context(), rec.Config.FunctionName, in.RevisionID, zip, nil)
	if err != nil {
		return err
	}
	if in.Publish {
		cfg, err := s.d.Registry.Publish(r.Context(), rec.Config.FunctionName, "", "", "")
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, cfg)
		return nil
	}
	writeJSON(w, http.StatusOK, &rec.Config)
	return nil
}

type updateConfigInput struct {
	Runtime          *string                    `json:"Runtime"`
	Role             *string                    `json:"Role"`
	Handler          *string                    `json:"Handler"`
	Description      *string                    `json:"Description"`
	Timeout          *int                       `json:"Timeout"`
	MemorySize       *int                       `json:"MemorySize"`
	Environment      *function.Environment      `json:"Environment"`
	EphemeralStorage *function.EphemeralStorage `json:"EphemeralStorage"`
	DeadLetterConfig *function.DeadLetterConfig `json:"DeadLetterConfig"`
	TracingConfig    *tracingInput              `json:"TracingConfig"`
	Layers           *[]string                  `json:"Layers"`
	RevisionID       string                     `json:"RevisionId"`
}

func (s *Server) updateConfiguration(w http.ResponseWriter, r *http.Request, req *request) error {
	rec, err := s.lookup(r, req)
	if err != nil {
		return err
	}
	var in updateConfigInput
	if err := decode(req.body, &in); err != nil {
		return err
	}
	if in.Runtime != nil {
		if err := s.checkRuntime(*in.Runtime); err != nil && function.RuntimeFamily(*in.Runtime) != "" {
			return err
		}
	}
	if in.Role != nil {
		if err := s.checkRole(r, *in.Role); err != nil {
			return err
		}
	}
	rec, err = s.d.Registry.Update(r.Context(), rec.Config.FunctionName, in.RevisionID, nil, func(c *function.Config) error {
		set(&c.Runtime, in.Runtime)
		set(&c.Role, in.Role)
		set(&c.Handler, in.Handler)
		set(&c.Description, in.Description)
		set(&c.Timeout, in.Timeout)
		set(&c.MemorySize, in.MemorySize)
		if in.Environment != nil {
			c.Environment = in.Environment // replaces the whole map, as Lambda does
			if len(c.Environment.Variables) == 0 {
				c.Environment = nil
			}
		}
		if in.EphemeralStorage != nil {
			c.EphemeralStorage = *in.EphemeralStorage
		}
		if err := in.TracingConfig.apply(&c.TracingConfig); err != nil {
			return err
		}
		if in.DeadLetterConfig != nil {
			c.DeadLetterConfig = in.DeadLetterConfig // an empty TargetArn removes it
			if c.DeadLetterConfig.TargetArn == "" {
				c.DeadLetterConfig = nil
			}
		}
		if err := c.Validate(); err != nil {
			return err
		}
		if in.Layers != nil {
			var err error
			if c.Layers, err = s.functionLayers(r.Context(), *in.Layers, c.Runtime, s.storedCodeUnzipped(r.Context(), rec.CodeHex)); err != nil {
				return err
			}
		} else if in.Runtime != nil {
			if err := s.layerRuntimes(c.Layers, c.Runtime); err != nil {
				return err
			}
		}
		if (in.DeadLetterConfig != nil || in.Role != nil) && c.DeadLetterConfig != nil {
			return s.checkTargets(c.Role, c.DeadLetterConfig.TargetArn)
		}
		return nil
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, &rec.Config)
	return nil
}

// checkTargets refuses queue and topic destinations and dead-letter
// targets that the execution role may not send to, as Lambda does: it
// sends with the role's permissions.
func (s *Server) checkTargets(role string, arns ...string) error {
	if s.d.CheckSourceAccess == nil {
		return nil
	}
	for _, arn := range arns {
		action := ""
		switch {
		case strings.HasPrefix(arn, "arn:aws:sqs:"):
			action = "sqs:SendMessage"
		case strings.HasPrefix(arn, "arn:aws:sns:"):
			action = "sns:Publish"
		default:
			continue
		}
		if err := s.d.CheckSourceAccess(role, action, arn); err != nil {
			return function.InvalidParameter("The function's execution role does not have permissions to call %s on %s", action[strings.IndexByte(action, ':')+1:], arn)
		}
	}
	return nil
}

func set[T any](dst *T, v *T) {
	if v != nil {
		*dst = *v
	}
}

func (s *Server) deleteFunction(w http.ResponseWriter, r *http.Request, req *request) error {
	name, qual, err := s.reference(r, req)
	if err != nil {
		return err
	}
	rec, found := s.d.Registry.Get(name)
	if !found {
		return function.NotFound(function.ARN(req.region, name, qual))
	}
	switch {
	case qual == function.LatestVersion:
		return function.InvalidParameter("$LATEST version cannot be deleted without deleting the function.")
	case qual != "":
		// A version; an alias is deleted by DeleteAlias.
		if _, alias := rec.Aliases[qual]; alias {
			return function.InvalidParameter("Deletion of aliases is not supported by DeleteFunction. Please use the DeleteAlias API.")
		}
		if err := s.d.Registry.DeleteVersion(r.Context(), name, qual); err != nil {
			return err
		}
		// Its provisioned instances go with it.
		if t, err := rec.Describe(qual); err == nil && rec.ProvisionedByVersion()[qual] > 0 {
			s.d.Invoker.Provision(invoke.For(t, 0, nil), 0)
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
	if err := s.d.Registry.Delete(r.Context(), rec.Config.FunctionName); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) accountSettings(w http.ResponseWriter, r *http.Request, req *request) error {
	writeJSON(w, http.StatusOK, map[string]any{
		"AccountLimit": map[string]int64{
			"TotalCodeSize":                  80530636800,
			"CodeSizeUnzipped":               function.MaxUnzippedSize,
			"CodeSizeZipped":                 function.MaxZippedSize,
			"ConcurrentExecutions":           int64(s.d.ConcurrencyLimit),
			"UnreservedConcurrentExecutions": int64(s.d.ConcurrencyLimit - s.d.Registry.ReservedTotal()),
		},
		"AccountUsage": map[string]int64{
			"TotalCodeSize": s.d.Registry.TotalCodeSize(),
			"FunctionCount": int64(len(s.d.Registry.List())),
		},
	})
	return nil
}

// RuntimeInfo is one runtime this host runs.
type RuntimeInfo struct {
	Runtime     string `json:"Runtime"`
	Interpreter string `json:"Interpreter,omitempty"`
}

func (s *Server) listRuntimes(w http.ResponseWriter, r *http.Request, req *request) error {
	out := struct {
		Runtimes []RuntimeInfo `json:"Runtimes"`
	}{Runtimes: []RuntimeInfo{}}
	if s.d.Runtimes != nil {
		for rt, exe := range s.d.Runtimes() {
			out.Runtimes = append(out.Runtimes, RuntimeInfo{rt, exe})
		}
	}
	slices.SortFunc(out.Runtimes, func(a, b RuntimeInfo) int { return strings.Compare(a.Runtime, b.Runtime) })
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) usage(w http.ResponseWriter, r *http.Request, req *request) error {
	if s.d.Usage == nil {
		return function.Errorf(fault.NotFound, "ResourceNotFoundException", "usage is not metered on this server")
	}
	writeJSON(w, http.StatusOK, s.d.Usage())
	return nil
}
