package catalog

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"fmt"
	"strings"
	"time"

	"github.com/aloft-dev/aloft/internal/fault"
	"github.com/aloft-dev/aloft/internal/function"
	"github.com/aloft-dev/aloft/internal/gateway/cors"
	"github.com/aloft-dev/aloft/internal/gateway/payload"
	"github.com/aloft-dev/aloft/internal/gateway/route"
)

// API is an HTTP API with its routes, integrations and stages, stored as
// one document so that every change to it is atomic. The JSON names are
// API Gateway v2's.
type API struct {
	ID                        string            `json:"apiId"`
	Name                      string            `json:"name"`
	Description               string            `json:"description,omitempty"`
	ProtocolType              string            `json:"protocolType"`
	Version                   string            `json:"version,omitempty"`
	Cors                      *cors.Config      `json:"corsConfiguration,omitempty"`
	Tags                      map[string]string `json:"tags,omitempty"`
	DisableExecuteAPIEndpoint bool              `json:"disableExecuteApiEndpoint,omitempty"`
	CreatedDate               time.Time         `json:"createdDate"`
	Routes                    []*Route          `json:"routes,omitempty"`
	Integrations              []*Integration    `json:"integrations,omitempty"`
	Stages                    []*Stage          `json:"stages,omitempty"`
	Authorizers               []*Authorizer     `json:"authorizers,omitempty"`
}

// Authorizer is a Lambda REQUEST authorizer: a function that decides,
// from the values of its identity sources, whether a request may reach
// a route whose AuthorizationType is CUSTOM.
type Authorizer struct {
	ID                           string   `json:"authorizerId"`
	Name                         string   `json:"name"`
	Type                         string   `json:"authorizerType"` // REQUEST
	URI                          string   `json:"authorizerUri"`  // the function
	IdentitySource               []string `json:"identitySource,omitempty"`
	ResultTTLInSeconds           int      `json:"authorizerResultTtlInSeconds"`
	PayloadFormatVersion         string   `json:"authorizerPayloadFormatVersion"` // 2.0
	EnableSimpleResponses        bool     `json:"enableSimpleResponses"`
	AuthorizerCredentialsArn     string   `json:"authorizerCredentialsArn,omitempty"`
	IdentityValidationExpression string   `json:"identityValidationExpression,omitempty"`
}

// Route sends requests that match its key to its target integration.
type Route struct {
	ID                string `json:"routeId"`
	Key               string `json:"routeKey"`
	Target            string `json:"target,omitempty"` // "integrations/<id>"
	AuthorizationType string `json:"authorizationType,omitempty"`
	APIKeyRequired    bool   `json:"apiKeyRequired,omitempty"`
	OperationName     string `json:"operationName,omitempty"`
	AuthorizerID      string `json:"authorizerId,omitempty"` // with AuthorizationType CUSTOM
	// CacheTTLInSeconds and CacheKeyHeaders are Aloft's response cache
	// (see ResponseCache); 0 keeps nothing.
	CacheTTLInSeconds int      `json:"aloftCacheTtlInSeconds,omitempty"`
	CacheKeyHeaders   []string `json:"aloftCacheKeyHeaders,omitempty"`
	Managed           bool     `json:"apiGatewayManaged,omitempty"` // made by a quick create
}

// RouteSettings are a stage's settings for a route, or for every route
// without settings of its own. A throttle with neither limit set does not
// apply; a rate of 0 refuses every request.
type RouteSettings struct {
	ThrottlingBurstLimit   *int     `json:"throttlingBurstLimit,omitempty"`
	ThrottlingRateLimit    *float64 `json:"throttlingRateLimit,omitempty"`
	DetailedMetricsEnabled bool     `json:"detailedMetricsEnabled,omitempty"`
	DataTraceEnabled       bool     `json:"dataTraceEnabled,omitempty"`
	LoggingLevel           string   `json:"loggingLevel,omitempty"`
}

// throttled reports whether s sets a throttle, and its limits: an unset
// rate or burst is unlimited.
func (s *RouteSettings) throttled() (rate float64, burst int, ok bool) {
	if s == nil || (s.ThrottlingBurstLimit == nil && s.ThrottlingRateLimit == nil) {
		return 0, 0, false
	}
	rate, burst = 1e9, 1<<30
	if s.ThrottlingRateLimit != nil {
		rate = *s.ThrottlingRateLimit
	}
	if s.ThrottlingBurstLimit != nil {
		burst = *s.ThrottlingBurstLimit
	}
	return rate, burst, true
}

// Integration is a Lambda proxy integration: the function that serves a
// route and the payload format it speaks.
type Integration struct {
	ID                   string `json:"integrationId"`
	Type                 string `json:"integrationType"`
	URI                  string `json:"integrationUri"`
	Method               string `json:"integrationMethod,omitempty"`
	PayloadFormatVersion string `json:"payloadFormatVersion"`
	TimeoutInMillis      int    `json:"timeoutInMillis"`
	Description          string `json:"description,omitempty"`
	ConnectionType       string `json:"connectionType,omitempty"`
	Managed              bool   `json:"apiGatewayManaged,omitempty"`
	// Static sites (integration type ALOFT_S3, URI arn:aws:s3:::bucket or
	// arn:aws:s3:::bucket/prefix): Aloft's own fields.
	IndexDocument string `json:"aloftIndexDocument,omitempty"` // served for paths ending in /; default index.html
	ErrorDocument string `json:"aloftErrorDocument,omitempty"` // key of the 404 page, if any
	CacheControl  string `json:"aloftCacheControl,omitempty"`  // for objects without their own; default "public, max-age=60"
}

// Stage is a deployment of the API. Every stage serves the API's current
// routes (all stages deploy automatically); $default serves at the root of
// the API's address, any other stage under /<stage name>.
type Stage struct {
	Name           string            `json:"stageName"`
	Description    string            `json:"description,omitempty"`
	AutoDeploy     bool              `json:"autoDeploy"`
	StageVariables map[string]string `json:"stageVariables,omitempty"`
	// DefaultRouteSettings apply to the routes that RouteSettings (by
	// route key) does not name.
	DefaultRouteSettings *RouteSettings            `json:"defaultRouteSettings,omitempty"`
	RouteSettings        map[string]*RouteSettings `json:"routeSettings,omitempty"`
	CreatedDate          time.Time                 `json:"createdDate"`
	LastUpdatedDate      time.Time                 `json:"lastUpdatedDate"`
	Managed              bool                      `json:"apiGatewayManaged,omitempty"`
}

// URLConfig is a function URL: a dedicated address that invokes one
// function.
type URLConfig struct {
	Function string `json:"function"` // the function's name
	// Qualifier is the alias the URL invokes, "" for $LATEST.
	Qualifier        string       `json:"qualifier,omitempty"`
	FunctionArn      string       `json:"functionArn"`
	Region           string       `json:"region"`
	URLID            string       `json:"urlId"`
	AuthType         string       `json:"authType"`   // NONE or AWS_IAM
	InvokeMode       string       `json:"invokeMode"` // BUFFERED or RESPONSE_STREAM
	Cors             *cors.Config `json:"cors,omitempty"`
	CreationTime     string       `json:"creationTime"`
	LastModifiedTime string       `json:"lastModifiedTime"`
}

// Values the model accepts.
const (
	ProtocolHTTP       = "HTTP"
	IntegrationProxy   = "AWS_PROXY"
	IntegrationS3      = "ALOFT_S3"
	DefaultIndex       = "index.html"
	DefaultCacheCtl    = "public, max-age=60"
	DefaultStage       = "$default"
	AuthNone           = "NONE"
	AuthIAM            = "AWS_IAM"
	AuthCustom         = "CUSTOM"
	InvokeBuffered     = "BUFFERED"
	InvokeStream       = "RESPONSE_STREAM"
	DefaultTimeout     = 30000 // integration timeout, milliseconds
	MinTimeout         = 50
	MaxTimeout         = 30000
	DefaultPayload     = "2.0"
	targetPrefix       = "integrations/"
	maxNameLength      = 128
	maxRoutes          = 300
	maxIntegrationsAPI = 300
)

// RouteTarget returns the route target naming an integration.
func RouteTarget(integrationID string) string { return targetPrefix + integrationID }

// Route returns the API's route with the given id.
func (a *API) Route(id string) *Route {
	for _, r := range a.Routes {
		if r.ID == id {
			return r
		}
	}
	return nil
}

// Integration returns the API's integration with the given id.
func (a *API) Integration(id string) *Integration {
	for _, in := range a.Integrations {
		if in.ID == id {
			return in
		}
	}
	return nil
}

// Authorizer returns the API's authorizer with the given id.
func (a *API) Authorizer(id string) *Authorizer {
	for _, z := range a.Authorizers {
		if z.ID == id {
			return z
		}
	}
	return nil
}

// Authorizer limits.
const MaxAuthorizerTTL = 3600

// checkAuthorizer validates z and fills its defaults.
func checkAuthorizer(z *Authorizer) error {
	if z.Name == "" || len(z.Name) > maxNameLength {
		return invalidf("Authorizer name must be 1 to %d characters", maxNameLength)
	}
	if z.Type != "REQUEST" {
		return invalidf("Unsupported authorizer type %s: this server runs REQUEST (Lambda) authorizers", z.Type)
	}
	if _, _, err := ParseFunctionURI(z.URI); err != nil {
		return invalidf("Invalid authorizer URI specified: %s", z.URI)
	}
	if z.PayloadFormatVersion == "" {
		z.PayloadFormatVersion = DefaultPayload
	}
	if z.PayloadFormatVersion != DefaultPayload {
		return invalidf("AuthorizerPayloadFormatVersion must be 2.0 on this server")
	}
	if z.ResultTTLInSeconds < 0 || z.ResultTTLInSeconds > MaxAuthorizerTTL {
		return invalidf("AuthorizerResultTtlInSeconds must be between 0 and %d", MaxAuthorizerTTL)
	}
	if z.ResultTTLInSeconds > 0 && len(z.IdentitySource) == 0 {
		return invalidf("IdentitySource is required when caching is enabled")
	}
	for _, src := range z.IdentitySource {
		if _, err := parseIdentitySource(src); err != nil {
			return err
		}
	}
	return nil
}

// Stage returns the API's stage with the given name.
func (a *API) Stage(name string) *Stage {
	for _, s := range a.Stages {
		if s.Name == name {
			return s
		}
	}
	return nil
}

// ParseFunctionURI returns the function an integration URI names: a
// Lambda function ARN (with an optional qualifier), API Gateway's
// invocation form arn:aws:apigateway:<region>:lambda:path/2015-03-31/
// functions/<function ARN>/invocations, or a bare function name.
func ParseFunctionURI(uri string) (name, qualifier string, err error) {
	ref := uri
	if strings.HasPrefix(uri, "arn:aws:apigateway:") {
		_, rest, ok := strings.Cut(uri, ":lambda:path/2015-03-31/functions/")
		if !ok || !strings.HasSuffix(rest, "/invocations") {
			return "", "", invalidf("Invalid integration URI specified: %s", uri)
		}
		ref = strings.TrimSuffix(rest, "/invocations")
	}
	name, qualifier, ok := function.ParseRef(ref)
	if !ok {
		return "", "", invalidf("Invalid integration URI specified: %s", uri)
	}
	return name, qualifier, nil
}

// ParseBucketURI returns the bucket and key prefix an ALOFT_S3
// integration URI names.
func ParseBucketURI(uri string) (bucket, prefix string, ok bool) {
	rest, ok := strings.CutPrefix(uri, "arn:aws:s3:::")
	if !ok {
		return "", "", false
	}
	bucket, prefix, _ = strings.Cut(rest, "/")
	if len(bucket) < 3 || len(bucket) > 63 {
		return "", "", false
	}
	if prefix != "" && !strings.HasSuffix(prefix, "/") {
		prefix += "/"
	}
	return bucket, prefix, true
}

// checkIntegration validates in and fills its defaults.
func checkIntegration(in *Integration) error {
	if in.Type == "" {
		return invalidf("IntegrationType is required")
	}
	if in.Type == IntegrationS3 {
		if _, _, ok := ParseBucketURI(in.URI); !ok {
			return invalidf("Invalid integration URI specified: %s: want arn:aws:s3:::<bucket>[/<prefix>]", in.URI)
		}
		if in.IndexDocument == "" {
			in.IndexDocument = DefaultIndex
		}
		if in.CacheControl == "" {
			in.CacheControl = DefaultCacheCtl
		}
		return nil
	}
	if in.Type != IntegrationProxy {
		return invalidf("Unsupported integration type %s: this server serves AWS_PROXY (Lambda) and ALOFT_S3 (static site) integrations", in.Type)
	}
	if _, _, err := ParseFunctionURI(in.URI); err != nil {
		return err
	}
	if in.PayloadFormatVersion == "" {
		in.PayloadFormatVersion = DefaultPayload
	}
	if _, ok := payload.ParseFormat(in.PayloadFormatVersion); !ok {
		return invalidf("PayloadFormatVersion must be 1.0 or 2.0, not %s", in.PayloadFormatVersion)
	}
	if in.TimeoutInMillis == 0 {
		in.TimeoutInMillis = DefaultTimeout
	}
	if in.TimeoutInMillis < MinTimeout || in.TimeoutInMillis > MaxTimeout {
		return invalidf("TimeoutInMillis must be between %d and %d", MinTimeout, MaxTimeout)
	}
	if in.Method == "" {
		in.Method = "POST"
	}
	if in.ConnectionType == "" {
		in.ConnectionType = "INTERNET"
	}
	return nil
}

// checkRoute validates r against the API it is in.
func checkRoute(a *API, r *Route) error {
	if _, err := route.ParseKey(r.Key); err != nil {
		return invalidf("Invalid route key %q: %v", r.Key, strings.TrimPrefix(err.Error(), route.ErrInvalidKey.Error()+": "))
	}
	if r.AuthorizationType == "" {
		r.AuthorizationType = AuthNone
	}
	switch r.AuthorizationType {
	case AuthNone:
		if r.AuthorizerID != "" {
			return invalidf("AuthorizerId can only be set with AuthorizationType CUSTOM")
		}
	case AuthCustom:
		if r.AuthorizerID == "" || a.Authorizer(r.AuthorizerID) == nil {
			return invalidf("Invalid authorizer id %q: a CUSTOM route needs an authorizer of this API", r.AuthorizerID)
		}
	default:
		return invalidf("Unsupported authorization type %s: routes on this server use NONE or CUSTOM", r.AuthorizationType)
	}
	if err := checkCache(r); err != nil {
		return err
	}
	if r.Target != "" {
		id, ok := strings.CutPrefix(r.Target, targetPrefix)
		if !ok || a.Integration(id) == nil {
			return invalidf("Invalid target %s: want integrations/<integration id> of this API", r.Target)
		}
	}
	return nil
}

// checkStage validates a stage's name and route settings.
func checkStage(a *API, s *Stage) error {
	if err := checkStageName(s.Name); err != nil {
		return err
	}
	for key, rs := range s.RouteSettings {
		found := false
		for _, r := range a.Routes {
			found = found || r.Key == key
		}
		if !found {
			return invalidf("Unable to find Route by key %s within the provided RouteSettings", key)
		}
		if err := checkRouteSettings(rs); err != nil {
			return err
		}
	}
	return checkRouteSettings(s.DefaultRouteSettings)
}

func checkRouteSettings(rs *RouteSettings) error {
	if rs == nil {
		return nil
	}
	if rs.ThrottlingBurstLimit != nil && *rs.ThrottlingBurstLimit < 0 || rs.ThrottlingRateLimit != nil && *rs.ThrottlingRateLimit < 0 {
		return invalidf("Throttling limits must not be negative")
	}
	return nil
}

// checkStageName validates a stage name.
func checkStageName(name string) error {
	if name == DefaultStage {
		return nil
	}
	if name == "" || len(name) > 128 {
		return invalidf("Stage name must be $default or 1 to 128 letters, digits, '-' and '_'")
	}
	for _, c := range name {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return invalidf("Stage name must be $default or 1 to 128 letters, digits, '-' and '_'")
		}
	}
	return nil
}

// checkAPI validates the API's own fields.
func checkAPI(a *API) error {
	if a.Name == "" || len(a.Name) > maxNameLength {
		return invalidf("Name must be 1 to %d characters", maxNameLength)
	}
	if a.ProtocolType != ProtocolHTTP {
		return invalidf("ProtocolType must be HTTP: this server serves HTTP APIs")
	}
	if _, err := cors.Compile(a.Cors); err != nil {
		return invalidf("Invalid CORS configuration: %v", strings.TrimPrefix(err.Error(), "cors: "))
	}
	if len(a.Routes) > maxRoutes || len(a.Integrations) > maxIntegrationsAPI {
		return invalidf("An API holds at most %d routes and %d integrations", maxRoutes, maxIntegrationsAPI)
	}
	return nil
}

const idAlphabet = "abcdefghijklmnopqrstuvwxyz0123456789"

// NewID returns n random lower-case letters and digits, as API Gateway's
// ids are.
func NewID(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	for i := range b {
		b[i] = idAlphabet[int(b[i])%len(idAlphabet)]
	}
	return string(b)
}

var urlIDEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// URLID returns the id of a function's URL: 32 lower-case letters and
// digits derived from the function's ARN, so that a function keeps its
// address when its URL is deleted and created again.
func URLID(functionArn string) string {
	sum := sha256.Sum256([]byte("aloft function url\x00" + functionArn))
	return urlIDEncoding.EncodeToString(sum[:20])
}

// timestamp formats t as Lambda's URL configurations do.
func timestamp(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05.000-0700")
}

// CheckURL validates a function URL's settings and fills their defaults.
func CheckURL(u *URLConfig) error {
	switch u.AuthType {
	case AuthNone, AuthIAM:
	default:
		return invalidf("1 validation error detected: Value '%s' at 'authType' failed to satisfy constraint: Member must satisfy enum value set: [NONE, AWS_IAM]", u.AuthType)
	}
	if u.InvokeMode == "" {
		u.InvokeMode = InvokeBuffered
	}
	if u.InvokeMode != InvokeBuffered && u.InvokeMode != InvokeStream {
		return invalidf("1 validation error detected: Value '%s' at 'invokeMode' failed to satisfy constraint: Member must satisfy enum value set: [RESPONSE_STREAM, BUFFERED]", u.InvokeMode)
	}
	if u.Cors != nil {
		if u.Cors.MaxAge != nil && *u.Cors.MaxAge < 0 {
			return invalidf("1 validation error detected: Value '%d' at 'cors.maxAge' failed to satisfy constraint: Member must have value greater than or equal to 0", *u.Cors.MaxAge)
		}
		if _, err := cors.Compile(u.Cors); err != nil {
			return invalidf("Invalid CORS configuration: %v", strings.TrimPrefix(err.Error(), "cors: "))
		}
	}
	return nil
}

func invalidf(format string, args ...any) error {
	return &fault.Error{Kind: fault.Invalid, Message: fmt.Sprintf(format, args...)}
}
