package app

import (
	"log/slog"
	"net/http"

	"github.com/aloft-dev/aloft/internal/awsproto"
	"github.com/aloft-dev/aloft/internal/cloudwatchapi"
	"github.com/aloft-dev/aloft/internal/dynamoapi"
	"github.com/aloft-dev/aloft/internal/edge"
	"github.com/aloft-dev/aloft/internal/fault"
	"github.com/aloft-dev/aloft/internal/function"
	"github.com/aloft-dev/aloft/internal/gatewayapi"
	"github.com/aloft-dev/aloft/internal/iam"
	"github.com/aloft-dev/aloft/internal/iamapi"
	"github.com/aloft-dev/aloft/internal/lambdaapi"
	"github.com/aloft-dev/aloft/internal/logsapi"
	"github.com/aloft-dev/aloft/internal/schedulerapi"
	"github.com/aloft-dev/aloft/internal/sigv4"
	"github.com/aloft-dev/aloft/internal/snsapi"
	"github.com/aloft-dev/aloft/internal/sqsapi"
	"github.com/aloft-dev/aloft/internal/xrayapi"
)

// services is the front door's table (see package edge), in the order
// unsigned requests are recognised: S3's virtual hosts first, whose paths
// are the objects'.
func (s *Server) services(lambda *lambdaapi.Server, log *slog.Logger) []*edge.Service {
	sqsAPI := sqsapi.New(s.queues, log.With("component", "sqsapi"))
	return []*edge.Service{
		{Name: "s3", Protocol: awsproto.RESTXML, Streams: true, Handler: s.s3,
			Recognize: func(r *http.Request) bool { return s.s3.IsVirtualHost(r.Host) }},
		{Name: "lambda", Protocol: awsproto.Lambda, MaxBody: function.MaxCreateBody, TooLarge: lambdaapi.TooLarge,
			Recognize: lambdaapi.Recognize, Operation: lambda.Operation, ResourcePolicy: lambda.ResourcePolicy, Handler: lambda},
		{Name: "logs", Protocol: awsproto.JSON11, MaxBody: logsapi.MaxBody,
			Recognize: edge.Target("Logs_20140328"), Operation: logsapi.Operation,
			Handler: logsapi.New(s.logStore, log.With("component", "logsapi"))},
		{Name: "scheduler", Protocol: awsproto.RESTJSON, MaxBody: 1 << 20,
			Recognize: edge.PathUnder("/schedules", "/schedule-groups"), Operation: schedulerapi.Operation, Handler: schedulerapi.New(s.sched, log.With("component", "schedulerapi"))},
		{Name: "apigateway", Protocol: awsproto.RESTJSON, MaxBody: 10 << 20,
			Recognize: edge.PathUnder("/v2/apis", "/v2/domainnames", "/v2/vpclinks", "/v2/tags"), Operation: gatewayapi.Operation,
			Handler: s.gatewayAPI(log.With("component", "gatewayapi"))},
		{Name: "sqs", Protocol: awsproto.JSON10Query, ProtocolOf: sqsapi.Protocol, MaxBody: sqsapi.MaxBody,
			Recognize: sqsapi.Recognize, Operation: sqsAPI.Operation, ResourcePolicy: sqsAPI.ResourcePolicy, Handler: sqsAPI},
		{Name: "dynamodb", Protocol: awsproto.JSON10, MaxBody: dynamoapi.MaxBody,
			Recognize: edge.Target(dynamoapi.Prefix), Operation: dynamoapi.Operation, Handler: dynamoapi.New(s.tables, log.With("component", "dynamoapi"))},
		{Name: "sns", Protocol: awsproto.QueryXML, MaxBody: snsapi.MaxBody,
			Recognize: edge.Action(snsapi.Actions...), Operation: snsapi.Operation, ResourcePolicy: s.snsAPI().ResourcePolicy, Handler: s.snsAPI()},
		{Name: "iam", Protocol: awsproto.QueryXML, MaxBody: 1 << 20, Operation: iamapi.Operation,
			Recognize: edge.Action(iamActions...), Handler: iamapi.NewIAM(s.iam, log.With("component", "iamapi"))},
		{Name: "sts", Protocol: awsproto.QueryXML, MaxBody: 1 << 20, Operation: iamapi.Operation,
			Recognize: edge.Action("GetCallerIdentity", "AssumeRole", "GetSessionToken"), Handler: iamapi.NewSTS(s.iam, log.With("component", "stsapi"))},
		{Name: "monitoring", Protocol: awsproto.JSON10Query, ProtocolOf: cloudwatchapi.Protocol, MaxBody: cloudwatchapi.MaxBody,
			Recognize: cloudwatchapi.Recognize, Operation: s.cloudwatchAPI().Operation, Handler: s.cloudwatchAPI()},
		{Name: "xray", Protocol: awsproto.RESTJSON, MaxBody: xrayapi.MaxBody,
			Recognize: edge.PathUnder("/TraceSummaries", "/Traces", "/TraceSegments"), Operation: xrayapi.Operation, Handler: xrayapi.New(s.tr.store, log.With("component", "xrayapi"))},
	}
}

// snsAPI returns the SNS API, made once.
func (s *Server) snsAPI() *snsapi.Server {
	if s.sns == nil {
		s.sns = snsapi.New(s.topics, s.log.With("component", "snsapi"))
	}
	return s.sns
}

// iamActions recognise IAM's unsigned requests.
var iamActions = []string{"CreateUser", "GetUser", "ListUsers", "DeleteUser", "CreateAccessKey", "ListAccessKeys",
	"CreateRole", "GetRole", "ListRoles", "DeleteRole", "CreatePolicy", "GetPolicy", "ListPolicies", "DeletePolicy"}

// resolve tells who signed a request: the root keys are the account's
// root; every other key is IAM's (a user's, or a session's: a role
// assumed with STS, or a function's execution role).
func (s *Server) resolve(id sigv4.Identity) (*iam.Principal, error) {
	if id.AccessKeyID == s.keys.AccessKeyID {
		if id.SessionToken != "" {
			return nil, &iam.Error{Kind: fault.Denied, Reason: iam.InvalidToken, Message: "The security token included in the request is invalid."}
		}
		return iam.Root, nil
	}
	return s.iam.Resolve(id.AccessKeyID, id.SessionToken)
}

// lookup returns the secret of any access key id the server knows.
func (s *Server) lookup(id string) (string, bool) {
	if secret, ok := s.keys.lookup(id); ok {
		return secret, true
	}
	return s.iam.Lookup(id)
}

// serviceNamed returns the service of the table with signing name name.
func serviceNamed(table []*edge.Service, name string) *edge.Service {
	for _, svc := range table {
		if svc.Name == name {
			return svc
		}
	}
	panic("app: no service " + name + " in the front door's table")
}
