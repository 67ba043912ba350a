package lambdaapi

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/aloft-dev/aloft/internal/awsproto"
	"github.com/aloft-dev/aloft/internal/bundle"
	"github.com/aloft-dev/aloft/internal/edge"
	"github.com/aloft-dev/aloft/internal/fault"
	"github.com/aloft-dev/aloft/internal/function"
	"github.com/aloft-dev/aloft/internal/layers"
)

// LayersPath is where the layer operations live.
const LayersPath = "/2018-10-31/layers"

// routeLayers registers the layer operations.
func (s *Server) routeLayers() {
	l := LayersPath
	for _, p := range []string{l, l + "/"} {
		s.handle("GET "+p, "lambda:ListLayers", s.listLayers) // and GetLayerVersionByArn, see Operation
	}
	v := l + "/{layer}/versions"
	s.handle("POST "+v, "lambda:PublishLayerVersion", s.publishLayerVersion)
	s.handle("GET "+v, "lambda:ListLayerVersions", s.listLayerVersions)
	s.handle("GET "+v+"/{version}", "lambda:GetLayerVersion", s.getLayerVersion)
	s.handle("DELETE "+v+"/{version}", "lambda:DeleteLayerVersion", s.deleteLayerVersion)
	s.handle("POST "+v+"/{version}/policy", "lambda:AddLayerVersionPermission", s.addLayerPermission)
	s.handle("GET "+v+"/{version}/policy", "lambda:GetLayerVersionPolicy", s.getLayerPolicy)
	s.handle("DELETE "+v+"/{version}/policy/{sid}", "lambda:RemoveLayerVersionPermission", s.removeLayerPermission)
}

// layerOperation is the action and resource of a layer request, for
// Operation: GetLayerVersionByArn shares ListLayers' path, and the
// resources are layer and layer version ARNs.
func layerOperation(r *http.Request, region, action string) (string, string) {
	rest, ok := strings.CutPrefix(r.URL.Path, LayersPath)
	if !ok {
		return action, "*"
	}
	rest = strings.Trim(rest, "/")
	if rest == "" {
		q := r.URL.Query()
		if q.Get("find") == "LayerVersion" {
			return "lambda:GetLayerVersion", q.Get("Arn")
		}
		return action, "*"
	}
	parts := strings.Split(rest, "/")
	ref, err := url.PathUnescape(parts[0])
	if err != nil {
		return action, "*"
	}
	reg, name, ok := function.ParseLayerARN(ref)
	if !ok {
		return action, "*" // the handler refuses the name
	}
	if reg == "" {
		reg = region
	}
	switch {
	case len(parts) >= 3:
		n, _ := strconv.ParseInt(parts[2], 10, 64)
		return action, function.LayerARN(reg, name, max(n, 1))
	case action == "lambda:PublishLayerVersion":
		return action, function.LayerARN(reg, name, 0)
	}
	return action, "*"
}

// layerContent is a version's Content member.
type layerContent struct {
	Location   string `json:"Location,omitempty"`
	CodeSha256 string `json:"CodeSha256"`
	CodeSize   int64  `json:"CodeSize"`
}

// layerVersionOutput is PublishLayerVersion's and GetLayerVersion's answer.
type layerVersionOutput struct {
	Content                 layerContent `json:"Content"`
	LayerArn                string       `json:"LayerArn"`
	LayerVersionArn         string       `json:"LayerVersionArn"`
	Description             string       `json:"Description"`
	CreatedDate             string       `json:"CreatedDate"`
	Version                 int64        `json:"Version"`
	CompatibleRuntimes      []string     `json:"CompatibleRuntimes,omitempty"`
	CompatibleArchitectures []string     `json:"CompatibleArchitectures,omitempty"`
	LicenseInfo             string       `json:"LicenseInfo,omitempty"`
}

// layerVersionItem is one version in ListLayers and ListLayerVersions.
type layerVersionItem struct {
	LayerVersionArn         string   `json:"LayerVersionArn"`
	Version                 int64    `json:"Version"`
	Description             string   `json:"Description"`
	CreatedDate             string   `json:"CreatedDate"`
	CompatibleRuntimes      []string `json:"CompatibleRuntimes,omitempty"`
	CompatibleArchitectures []string `json:"CompatibleArchitectures,omitempty"`
	LicenseInfo             string   `json:"LicenseInfo,omitempty"`
}

func item(v *layers.Version) layerVersionItem {
	return layerVersionItem{
		LayerVersionArn: v.ARN(), Version: v.Version, Description: v.Description, CreatedDate: v.CreatedDate,
		CompatibleRuntimes: v.CompatibleRuntimes, CompatibleArchitectures: v.CompatibleArchitectures, LicenseInfo: v.LicenseInfo,
	}
}

func (s *Server) versionOutput(req *request, v *layers.Version) *layerVersionOutput {
	out := &layerVersionOutput{
		Content:         layerContent{CodeSha256: v.CodeSha256, CodeSize: v.CodeSize},
		LayerArn:        v.LayerARN(),
		LayerVersionArn: v.ARN(),
		Description:     v.Description, CreatedDate: v.CreatedDate, Version: v.Version,
		CompatibleRuntimes: v.CompatibleRuntimes, CompatibleArchitectures: v.CompatibleArchitectures, LicenseInfo: v.LicenseInfo,
	}
	if s.d.CodeURL != nil {
		out.Content.Location = s.d.CodeURL(req.region, v.CodeHex)
	}
	return out
}

// layerStore returns the store, or Lambda's refusal when this server
// keeps no layers.
func (s *Server) layerStore() (*layers.Store, error) {
	if s.d.Layers == nil {
		return nil, function.Errorf(fault.Invalid, "InvalidParameterValueException", "Layers are not enabled on this server.")
	}
	return s.d.Layers, nil
}

// layerName reads the {layer} path value: a name or a layer ARN.
func layerName(r *http.Request) (string, error) {
	ref := r.PathValue("layer")
	_, name, ok := function.ParseLayerARN(ref)
	if !ok {
		return "", function.Validation(ref, "layerName",
			"Member must satisfy regular expression pattern: (arn:[a-zA-Z0-9-]+:lambda:[a-zA-Z0-9-]+:\\d{12}:layer:[a-zA-Z0-9-_]+)|[a-zA-Z0-9-_]+")
	}
	return name, nil
}

// layerVersion reads the {layer} and {version} path values and returns
// the live version they name.
func (s *Server) layerVersion(r *http.Request, req *request) (*layers.Store, *layers.Version, error) {
	st, err := s.layerStore()
	if err != nil {
		return nil, nil, err
	}
	name, err := layerName(r)
	if err != nil {
		return nil, nil, err
	}
	n, err := strconv.ParseInt(r.PathValue("version"), 10, 64)
	if err != nil || n < 1 {
		return nil, nil, function.Validation(r.PathValue("version"), "versionNumber", "Member must have value greater than or equal to 1")
	}
	v, ok := st.Live(name, n)
	if !ok {
		return nil, nil, layerNotFound()
	}
	return st, v, nil
}

func layerNotFound() error {
	return function.Errorf(fault.NotFound, "ResourceNotFoundException", "The resource you requested does not exist.")
}

type publishLayerInput struct {
	Content                 *codeInput `json:"Content"`
	Description             string     `json:"Description"`
	CompatibleRuntimes      []string   `json:"CompatibleRuntimes"`
	CompatibleArchitectures []string   `json:"CompatibleArchitectures"`
	LicenseInfo             string     `json:"LicenseInfo"`
}

func (s *Server) publishLayerVersion(w http.ResponseWriter, r *http.Request, req *request) error {
	st, err := s.layerStore()
	if err != nil {
		return err
	}
	name, err := layerName(r)
	if err != nil {
		return err
	}
	var in publishLayerInput
	if err := decode(req.body, &in); err != nil {
		return err
	}
	if in.Content == nil {
		return function.Validation("null", "content", "Member must not be null")
	}
	if len(in.Description) > function.MaxDescription {
		return function.Validation(in.Description, "description", "Member must have length less than or equal to 256")
	}
	if len(in.LicenseInfo) > 512 {
		return function.Validation(in.LicenseInfo, "licenseInfo", "Member must have length less than or equal to 512")
	}
	if len(in.CompatibleRuntimes) > 15 {
		return function.Validation(in.CompatibleRuntimes, "compatibleRuntimes", "Member must have length less than or equal to 15")
	}
	for _, rt := range in.CompatibleRuntimes {
		if !slices.Contains(function.Runtimes, rt) && function.RuntimeFamily(rt) == "" {
			return function.Validation(rt, "compatibleRuntimes", "Member must satisfy enum value set: "+strings.Join(function.Runtimes, ", "))
		}
	}
	if len(in.CompatibleArchitectures) > 2 {
		return function.Validation(in.CompatibleArchitectures, "compatibleArchitectures", "Member must have length less than or equal to 2")
	}
	for _, a := range in.CompatibleArchitectures {
		if a != "x86_64" && a != "arm64" {
			return function.Validation(in.CompatibleArchitectures, "compatibleArchitectures", "Member must satisfy enum value set: [x86_64, arm64]")
		}
	}
	if in.Content.ImageURI != "" {
		return function.InvalidParameter("Layers take a .zip file archive; container images are not supported.")
	}
	zip, info, err := s.codeZip(r, in.Content)
	if err != nil {
		return err
	}
	v, err := st.Publish(r.Context(), layers.Input{
		Name: name, Region: req.region, Description: in.Description, CompatibleRuntimes: in.CompatibleRuntimes,
		CompatibleArchitectures: in.CompatibleArchitectures, LicenseInfo: in.LicenseInfo,
	}, zip, info)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, s.versionOutput(req, v))
	return nil
}

func (s *Server) getLayerVersion(w http.ResponseWriter, r *http.Request, req *request) error {
	_, v, err := s.layerVersion(r, req)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, s.versionOutput(req, v))
	return nil
}

func (s *Server) deleteLayerVersion(w http.ResponseWriter, r *http.Request, req *request) error {
	st, err := s.layerStore()
	if err != nil {
		return err
	}
	name, err := layerName(r)
	if err != nil {
		return err
	}
	n, err := strconv.ParseInt(r.PathValue("version"), 10, 64)
	if err != nil || n < 1 {
		return function.Validation(r.PathValue("version"), "versionNumber", "Member must have value greater than or equal to 1")
	}
	if err := st.Delete(r.Context(), name, n); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// listFilter reads ListLayers' and ListLayerVersions' filters and paging.
type listFilter struct {
	runtime, arch, marker string
	maxItems              int
}

func readListFilter(r *http.Request) (listFilter, error) {
	q := r.URL.Query()
	f := listFilter{runtime: q.Get("CompatibleRuntime"), arch: q.Get("CompatibleArchitecture"), marker: q.Get("Marker"), maxItems: 50}
	if v := q.Get("MaxItems"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 50 {
			return f, function.Validation(v, "maxItems", "Member must have value between 1 and 50")
		}
		f.maxItems = n
	}
	if f.runtime != "" && !slices.Contains(function.Runtimes, f.runtime) && function.RuntimeFamily(f.runtime) == "" {
		return f, function.Validation(f.runtime, "compatibleRuntime", "Member must satisfy enum value set: "+strings.Join(function.Runtimes, ", "))
	}
	if f.arch != "" && f.arch != "x86_64" && f.arch != "arm64" {
		return f, function.Validation(f.arch, "compatibleArchitecture", "Member must satisfy enum value set: [x86_64, arm64]")
	}
	return f, nil
}

// match reports whether v passes the filters: a version that lists no
// runtimes (or architectures) is not listed under a filter on them.
func (f *listFilter) match(v *layers.Version) bool {
	return (f.runtime == "" || slices.Contains(v.CompatibleRuntimes, f.runtime)) &&
		(f.arch == "" || slices.Contains(v.CompatibleArchitectures, f.arch))
}

func (s *Server) listLayers(w http.ResponseWriter, r *http.Request, req *request) error {
	st, err := s.layerStore()
	if err != nil {
		return err
	}
	if q := r.URL.Query(); q.Has("find") || q.Has("Arn") {
		return s.getLayerVersionByARN(w, r, req, st)
	}
	f, err := readListFilter(r)
	if err != nil {
		return err
	}
	type layerItem struct {
		LayerName             string           `json:"LayerName"`
		LayerArn              string           `json:"LayerArn"`
		LatestMatchingVersion layerVersionItem `json:"LatestMatchingVersion"`
	}
	var all []layerItem
	for _, name := range st.Names() {
		for _, v := range st.Versions(name) { // newest first
			if f.match(v) {
				all = append(all, layerItem{LayerName: name, LayerArn: v.LayerARN(), LatestMatchingVersion: item(v)})
				break
			}
		}
	}
	page, next, ok := awsproto.Page(all, func(l layerItem) string { return l.LayerName }, f.marker, f.maxItems)
	if !ok {
		return function.InvalidParameter("Invalid marker: %s", f.marker)
	}
	out := struct {
		Layers     []layerItem `json:"Layers"`
		NextMarker string      `json:"NextMarker,omitempty"`
	}{Layers: append([]layerItem{}, page...), NextMarker: next}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) getLayerVersionByARN(w http.ResponseWriter, r *http.Request, req *request, st *layers.Store) error {
	q := r.URL.Query()
	if q.Get("find") != "LayerVersion" {
		return function.Validation(q.Get("find"), "find", "Member must satisfy enum value set: [LayerVersion]")
	}
	arn := q.Get("Arn")
	_, name, n, ok := function.ParseLayerVersionARN(arn)
	if !ok {
		return function.Validation(arn, "arn",
			"Member must satisfy regular expression pattern: (arn:(aws[a-zA-Z-]*)?:lambda:[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\\d{1}:\\d{12}:layer:[a-zA-Z0-9-_]+:[0-9]+)|(arn:[a-zA-Z0-9-]+:lambda:::awslayer:[a-zA-Z0-9-_]+)")
	}
	v, found := st.Live(name, n)
	if !found {
		return layerNotFound()
	}
	writeJSON(w, http.StatusOK, s.versionOutput(req, v))
	return nil
}

func (s *Server) listLayerVersions(w http.ResponseWriter, r *http.Request, req *request) error {
	st, err := s.layerStore()
	if err != nil {
		return err
	}
	name, err := layerName(r)
	if err != nil {
		return err
	}
	f, err := readListFilter(r)
	if err != nil {
		return err
	}
	var all []layerVersionItem
	for _, v := range st.Versions(name) {
		if f.match(v) {
			all = append(all, item(v))
		}
	}
	// Markers are version numbers; the list runs newest first.
	start := 0
	if f.marker != "" {
		m, err := strconv.ParseInt(f.marker, 10, 64)
		if err != nil {
			return function.InvalidParameter("Invalid marker: %s", f.marker)
		}
		start = len(all)
		for i, it := range all {
			if it.Version <= m {
				start = i
				break
			}
		}
	}
	end := min(start+f.maxItems, len(all))
	out := struct {
		LayerVersions []layerVersionItem `json:"LayerVersions"`
		NextMarker    string             `json:"NextMarker,omitempty"`
	}{LayerVersions: append([]layerVersionItem{}, all[start:end]...)}
	if end < len(all) {
		out.NextMarker = strconv.FormatInt(all[end].Version, 10)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

type layerPermissionInput struct {
	StatementID    string `json:"StatementId"`
	Action         string `json:"Action"`
	Principal      string `json:"Principal"`
	OrganizationID string `json:"OrganizationId"`
	RevisionID     string `json:"RevisionId"`
}

func (s *Server) addLayerPermission(w http.ResponseWriter, r *http.Request, req *request) error {
	st, v, err := s.layerVersion(r, req)
	if err != nil {
		return err
	}
	var in layerPermissionInput
	if err := decode(req.body, &in); err != nil {
		return err
	}
	switch {
	case !statementID.MatchString(in.StatementID):
		return function.Validation(in.StatementID, "statementId", "Member must satisfy regular expression pattern: ([a-zA-Z0-9-_]+)")
	case in.Action != "lambda:GetLayerVersion" && in.Action != "lambda:ListLayerVersions":
		return function.Validation(in.Action, "action", "Member must satisfy regular expression pattern: lambda:GetLayerVersion")
	case in.Principal != "*" && !accountID(in.Principal) && !strings.HasPrefix(in.Principal, "arn:aws:iam::"):
		return function.Validation(in.Principal, "principal", "Member must satisfy regular expression pattern: \\d{12}|\\*|arn:(aws[a-zA-Z-]*):iam::\\d{12}:root")
	case in.OrganizationID != "" && in.Principal != "*":
		return function.InvalidParameter("OrganizationId can only be specified with the principal *.")
	}
	if q := r.URL.Query().Get("RevisionId"); q != "" { // the SDKs send it in the query
		in.RevisionID = q
	}
	stmt := layers.Statement{Sid: in.StatementID, Action: in.Action, Principal: in.Principal, OrganizationID: in.OrganizationID}
	v, err = st.AddStatement(r.Context(), v.Name, v.Version, stmt, in.RevisionID)
	if err != nil {
		return err
	}
	b, _ := json.Marshal(statementDoc(v, stmt))
	writeJSON(w, http.StatusCreated, map[string]string{"Statement": string(b), "RevisionId": v.PolicyRevision})
	return nil
}

func (s *Server) getLayerPolicy(w http.ResponseWriter, r *http.Request, req *request) error {
	_, v, err := s.layerVersion(r, req)
	if err != nil {
		return err
	}
	if len(v.Statements) == 0 {
		return function.Errorf(fault.NotFound, "ResourceNotFoundException", "No policy is associated with the given resource.")
	}
	doc := map[string]any{"Version": "2012-10-17", "Id": "default"}
	stmts := make([]map[string]any, 0, len(v.Statements))
	for _, st := range v.Statements {
		stmts = append(stmts, statementDoc(v, st))
	}
	doc["Statement"] = stmts
	b, _ := json.Marshal(doc)
	writeJSON(w, http.StatusOK, map[string]string{"Policy": string(b), "RevisionId": v.PolicyRevision})
	return nil
}

func (s *Server) removeLayerPermission(w http.ResponseWriter, r *http.Request, req *request) error {
	st, v, err := s.layerVersion(r, req)
	if err != nil {
		return err
	}
	if err := st.RemoveStatement(r.Context(), v.Name, v.Version, r.PathValue("sid"), r.URL.Query().Get("RevisionId")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// statementDoc renders a statement as Lambda's policy documents hold it.
func statementDoc(v *layers.Version, st layers.Statement) map[string]any {
	doc := map[string]any{"Sid": st.Sid, "Effect": "Allow", "Action": st.Action, "Resource": v.ARN()}
	switch {
	case st.Principal == "*":
		doc["Principal"] = "*"
	case accountID(st.Principal):
		doc["Principal"] = map[string]string{"AWS": "arn:aws:iam::" + st.Principal + ":root"}
	default:
		doc["Principal"] = map[string]string{"AWS": st.Principal}
	}
	if st.OrganizationID != "" {
		doc["Condition"] = map[string]any{"StringEquals": map[string]string{"aws:PrincipalOrgID": st.OrganizationID}}
	}
	return doc
}

func accountID(s string) bool {
	if len(s) != 12 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// functionLayers checks the Layers a function is given (create or
// update) as Lambda does and returns them as its configuration reports
// them: at most five, each an existing version the caller may read, no
// layer twice, compatible with the function's runtime when the version
// lists runtimes, and with the function's code within the unzipped size
// limit. codeUnzipped returns the unzipped size of the function's code,
// asked only when there are layers.
func (s *Server) functionLayers(ctx context.Context, arns []string, runtime string, codeUnzipped func() (int64, error)) ([]function.Layer, error) {
	if len(arns) == 0 {
		return nil, nil
	}
	if len(arns) > function.MaxLayers {
		return nil, function.InvalidParameter("Cannot reference more than %d layers.", function.MaxLayers)
	}
	st, err := s.layerStore()
	if err != nil {
		return nil, err
	}
	out := make([]function.Layer, 0, len(arns))
	seen := map[string]bool{}
	var total int64
	for _, arn := range arns {
		_, name, n, ok := function.ParseLayerVersionARN(arn)
		if !ok {
			return nil, function.Validation("["+strings.Join(arns, ", ")+"]", "layers",
				"Member must satisfy constraint: [Member must have length less than or equal to 140, Member must have length greater than or equal to 1, Member must satisfy regular expression pattern: (arn:[a-zA-Z0-9-]+:lambda:[a-zA-Z0-9-]+:\\d{12}:layer:[a-zA-Z0-9-_]+:[0-9]+)|(arn:[a-zA-Z0-9-]+:lambda:::awslayer:[a-zA-Z0-9-_]+)]")
		}
		if p := edge.Principal(ctx); p != nil {
			if err := p.Authorize("lambda:GetLayerVersion", arn); err != nil {
				return nil, function.Errorf(fault.Denied, "AccessDeniedException", "%s", err.Error())
			}
		}
		v, found := st.Live(name, n)
		if !found || v.ARN() != arn {
			return nil, function.InvalidParameter("Layer version %s does not exist.", arn)
		}
		if seen[name] {
			return nil, function.InvalidParameter("Two different versions of the same layer are not allowed to be referenced in the same function. %s", arn)
		}
		seen[name] = true
		if len(v.CompatibleRuntimes) > 0 && runtime != "" && !slices.Contains(v.CompatibleRuntimes, runtime) {
			return nil, function.InvalidParameter("Layer version %s is not compatible with the runtime %s; it lists [%s].",
				arn, runtime, strings.Join(v.CompatibleRuntimes, ", "))
		}
		total += v.Unzipped
		out = append(out, function.Layer{Arn: arn, CodeSize: v.CodeSize})
	}
	code, err := codeUnzipped()
	if err != nil {
		return nil, err
	}
	if total+code > function.MaxUnzippedSize {
		return nil, function.InvalidParameter("Function code combined with layers exceeds the maximum allowed size of %d bytes. The actual size is %d bytes.",
			function.MaxUnzippedSize, total+code)
	}
	return out, nil
}

// checkCombined refuses new code for a function whose layers and that
// code together would exceed the unzipped size limit. Layers deleted
// since the function took them still count: it keeps its copy.
func (s *Server) checkCombined(ls []function.Layer, info bundle.Info) error {
	if len(ls) == 0 || s.d.Layers == nil {
		return nil
	}
	total := info.Unzipped
	for _, l := range ls {
		if _, name, n, ok := function.ParseLayerVersionARN(l.Arn); ok {
			if v, found := s.d.Layers.Get(name, n); found {
				total += v.Unzipped
			}
		}
	}
	if total > function.MaxUnzippedSize {
		return function.InvalidParameter("Function code combined with layers exceeds the maximum allowed size of %d bytes. The actual size is %d bytes.",
			function.MaxUnzippedSize, total)
	}
	return nil
}

// layerRuntimes refuses a new runtime for a function that one of its
// layers (deleted since or not) is not compatible with.
func (s *Server) layerRuntimes(ls []function.Layer, runtime string) error {
	if s.d.Layers == nil {
		return nil
	}
	for _, l := range ls {
		_, name, n, _ := function.ParseLayerVersionARN(l.Arn)
		if v, found := s.d.Layers.Get(name, n); found && len(v.CompatibleRuntimes) > 0 && !slices.Contains(v.CompatibleRuntimes, runtime) {
			return function.InvalidParameter("Layer version %s is not compatible with the runtime %s; it lists [%s].",
				l.Arn, runtime, strings.Join(v.CompatibleRuntimes, ", "))
		}
	}
	return nil
}

// storedCodeUnzipped returns the unzipped size of a function's stored code.
func (s *Server) storedCodeUnzipped(ctx context.Context, codeHex string) func() (int64, error) {
	return func() (int64, error) {
		if s.d.CodeUnzipped == nil {
			return 0, nil
		}
		return s.d.CodeUnzipped(ctx, codeHex)
	}
}

// zipUnzipped returns the unzipped size of a checked zip.
func zipUnzipped(info bundle.Info) func() (int64, error) {
	return func() (int64, error) { return info.Unzipped, nil }
}
